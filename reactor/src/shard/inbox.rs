//! The inbox (messages, worker results, stop; see `crate::handle`) and
//! the graceful stop.

use std::time::Duration;

use super::{Shard, INBOX_BATCH};

/// Shard messages handled before the connections they touched are driven.
/// A shard message (a pub/sub publish) may queue output on thousands of
/// connections; driving them after each one would cost every subscriber a
/// `write` per message. After a few dozen, each subscriber's frames leave
/// together in one `writev`, while the output they hold stays bounded (at
/// most this many messages per connection, and the route's send buffer).
const SHARD_MESSAGES_PER_FLUSH: usize = 32;
use crate::conn::with_slot;
use crate::ctx::ShardCtx;
use crate::handle::Envelope;
use crate::protocol::Protocol;
use crate::stats::ShardStats;

impl<P: Protocol> Shard<P> {
    // ----------------------------------------------------------------- inbox

    pub(super) fn drain_inbox(&mut self) {
        // Order matters (see crate::handle): reset the eventfd, *then* clear
        // the flag, *then* empty the channel. Resetting the eventfd after
        // clearing the flag could swallow a wake-up written in between, and
        // with the flag left set no sender would ever write again.
        let _ = self.waker.eventfd.drain();
        self.waker.notified.swap(false, std::sync::atomic::Ordering::AcqRel);
        let mut shard_messages = 0;
        for _ in 0..INBOX_BATCH {
            // Control first: answers and stops are never starved by data.
            let Ok(env) = self.inbox.0.try_recv().or_else(|_| self.inbox.1.try_recv()) else {
                return;
            };
            match env {
                Envelope::ToConn(token, msg) => {
                    let proto = &mut self.proto;
                    let delivered = with_slot(&mut self.slab, &mut self.core, token, true, |state, cx| {
                        proto.on_message(state, cx, msg);
                    });
                    match delivered {
                        Some(()) => self.drive(token),
                        None => ShardStats::add(&self.stats().dropped_messages, 1),
                    }
                }
                Envelope::JobPanicked(token) => {
                    let proto = &mut self.proto;
                    let found = with_slot(&mut self.slab, &mut self.core, token, true, |state, cx| {
                        proto.on_job_panicked(state, cx);
                    });
                    if found.is_some() {
                        self.drive(token);
                    }
                }
                Envelope::ToShard(msg) => {
                    let mut sc = ShardCtx { slab: &mut self.slab, core: &mut self.core };
                    self.proto.on_shard_message(&mut sc, msg);
                    shard_messages += 1;
                    if shard_messages == SHARD_MESSAGES_PER_FLUSH {
                        // (The loop drives the rest at the end of its turn.)
                        self.drain_dirty();
                        shard_messages = 0;
                    }
                }
                Envelope::Stop(grace) => self.begin_stop(grace),
            }
        }
        // More is waiting: make sure we come back after other events.
        self.waker.notified.store(true, std::sync::atomic::Ordering::Release);
        let _ = self.waker.eventfd.notify();
    }

    fn begin_stop(&mut self, grace: Duration) {
        let deadline = self.core.now_ms + crate::protocol::duration_ms(grace);
        self.stop_deadline_ms = Some(self.stop_deadline_ms.map_or(deadline, |d| d.min(deadline)));
        if self.core.stopping {
            return;
        }
        self.core.stopping = true;
        for listener in self.listeners.drain(..) {
            // Explicit delete: a listener shared with other shards is a dup,
            // and closing our copy would not remove it from our epoll set.
            let _ = self.core.poller.deregister(&listener.socket);
        }
        let mut sc = ShardCtx { slab: &mut self.slab, core: &mut self.core };
        self.proto.on_shutdown(&mut sc);
        self.drain_dirty();
    }
}
