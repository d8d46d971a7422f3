//! The shard's turn for its async tasks (`Protocol::on_turn`): open the
//! upstream connections futures asked for, abort those whose future was
//! dropped, run the executor, and answer the requests of finished tasks.

use weir_reactor::ShardCtx;

use super::{Conn, HttpShard};

impl HttpShard {
    pub(super) fn run_tasks(&mut self, shard: &mut ShardCtx<'_, Self>) {
        let Some(tasks) = self.tasks.as_mut() else { return };
        let (connects, aborts) = tasks.take_connects();
        for token in aborts {
            shard.with_conn(token, |_, cx| cx.abort());
        }
        let now_ms = shard.now_ms();
        for connect in connects {
            let Some(opts) = connect.options(now_ms) else { continue }; // abandoned already
            let state = Conn::Upstream(Box::new(connect.upstream()));
            connect.opened(shard.connect(connect.addr, opts, state));
        }
        let done = tasks.run(now_ms);
        if done.is_empty() {
            tasks.give_done(done);
            return;
        }
        let mut done = done;
        for (owner, resp) in done.drain(..) {
            // The connection may be gone (its guard then cancelled the task
            // first, so this is rare): the answer is dropped.
            shard.with_conn(owner.token, |conn, cx| match conn {
                Conn::H1(h1) => self.h1_task_done(h1, cx, owner.seq, resp),
                Conn::H2(h2) => self.h2_task_done(h2, cx, owner.seq, resp),
                _ => {}
            });
        }
        if let Some(tasks) = self.tasks.as_mut() {
            tasks.give_done(done);
        }
    }
}
