//! Async handlers on an HTTP/1 connection: dispatch (poll once, park if
//! waiting), the answer of a finished task, and cancellation.
//!
//! A future that is ready at its first poll is answered like an inline
//! handler. One that waits is parked in the shard's executor
//! (`crate::task`) as the answer to a pipeline entry, which holds its
//! [`TaskGuard`](crate::task::TaskGuard): whatever removes the entry
//! unanswered — the handler timeout's 503, an earlier answer that closes
//! the connection, the connection closing — cancels the task.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use weir_reactor::Ctx;

use super::{Meta, H1};
use crate::app::Route;
use crate::conn::HttpShard;
use crate::handler::AsyncFn;
use crate::middleware::run_after;
use crate::msg::Msg;
use crate::request::Request;
use crate::response::Response;
use crate::task::Owner;

impl HttpShard {
    /// Runs an async handler for `req`.
    pub(super) fn dispatch_async(
        &mut self,
        conn: &mut H1,
        cx: &mut Ctx<'_, Msg>,
        req: &Request<'_>,
        route: &Route,
        f: &Arc<AsyncFn>,
        meta: Meta,
    ) {
        // `before` hooks run now (and may answer); `after` hooks when the answer is there.
        for (i, m) in route.chain.iter().enumerate() {
            if let Some(mut resp) = m.before(req) {
                run_after(&route.chain[..=i], req, &mut resp);
                return self.complete(conn, cx, resp, meta);
            }
        }
        let Some(tasks) = self.tasks.as_mut() else {
            return self.complete(conn, cx, Response::error(500), meta);
        };
        if !tasks.has_room() {
            // The bound of tasks in flight: shed load at once, as a full worker pool does.
            let mut resp = Response::error(503).with_header("Retry-After", "1");
            run_after(&route.chain, req, &mut resp);
            return self.complete(conn, cx, resp, meta);
        }
        // The handler itself (before its future) is user code too: a panic
        // there is its request's 500, like a panic in the future.
        let Ok(fut) = catch_unwind(AssertUnwindSafe(|| f(req.to_owned()))) else {
            return self.complete(conn, cx, Response::error(500), meta);
        };
        match tasks.first_poll(fut, cx.now_ms()) {
            Ok(mut resp) => {
                run_after(&route.chain, req, &mut resp);
                self.complete(conn, cx, resp, meta);
            }
            Err(parked) => {
                let after =
                    (!route.chain.is_empty()).then(|| (Box::new(req.to_owned()), route.chain.clone()));
                let seq = self.push_waiting(conn, meta, after);
                let Some(tasks) = self.tasks.as_mut() else { return };
                let guard = tasks.park(parked, Owner { token: cx.token(), seq });
                if let Some(p) = conn.pipeline.as_mut().and_then(|q| q.back_mut()) {
                    p.task = Some(guard);
                }
            }
        }
    }

    /// The task answering request `seq` finished.
    pub(crate) fn h1_task_done(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>, seq: u32, resp: Response) {
        self.h1.refresh_date(cx.now_ms());
        let entry = conn.pipeline.as_mut().and_then(|q| q.iter_mut().find(|p| p.seq == seq));
        if let Some(guard) = entry.and_then(|p| p.task.as_mut()) {
            guard.disarm(); // it finished: nothing to cancel
        }
        self.resolve(conn, cx, seq, resp);
        self.rearm(conn, cx);
    }

    /// An async answer is still being worked on.
    pub(super) fn async_pending(&self, conn: &H1) -> bool {
        conn.pipeline.as_ref().is_some_and(|q| q.iter().any(|p| p.resp.is_none() && p.task.is_some()))
    }

    /// The client went away with async answers pending: the answers ready
    /// ahead of them are still written, the rest dropped (their tasks are
    /// cancelled by their guards), then the connection closes.
    pub(super) fn abandon_async(&mut self, conn: &mut H1, cx: &mut Ctx<'_, Msg>) {
        if let Some(q) = conn.pipeline.as_mut() {
            if let Some(first_waiting) = q.iter().position(|p| p.resp.is_none()) {
                q.truncate(first_waiting);
            }
        }
        self.pump(conn, cx);
        conn.pipeline = None;
        cx.close();
    }
}
