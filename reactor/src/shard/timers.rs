//! Time on the shard: connections' deadlines as the wheel fires them
//! (lazily re-armed, a lingering close ended, a connect timed out, else
//! `Protocol::on_timer`), the accept retry after `EMFILE`, and the
//! protocol's periodic tick.

use std::fs::File;
use std::io;
use std::mem;

use super::{Shard, ACCEPT_RETRY, TICK};
use crate::conn::{flags, with_slot};
use crate::ctx::ShardCtx;
use crate::protocol::{duration_ms, CloseReason, Protocol};
use crate::token::Token;

impl<P: Protocol> Shard<P> {
    /// The shard's periodic tick: the protocol's `on_tick`, then re-armed.
    fn tick(&mut self) {
        if let Some(tick) = self.core.config.tick {
            let due = self.core.now_ms + duration_ms(tick).max(1);
            self.core.wheel.schedule(Token::reserved(TICK), due);
        }
        let mut sc = ShardCtx { slab: &mut self.slab, core: &mut self.core };
        self.proto.on_tick(&mut sc);
    }

    pub(super) fn expire_timers(&mut self) {
        if !self.core.wheel.is_due(self.core.now_ms) {
            return;
        }
        let mut fired = mem::take(&mut self.fired);
        self.core.wheel.advance(self.core.now_ms, &mut fired);
        for entry in fired.drain(..) {
            let token = entry.token;
            if token.is_reserved() {
                match token.index() - Token::RESERVED_BASE {
                    ACCEPT_RETRY if self.accept_paused => {
                        if self.reserve_fd.is_none() {
                            self.reserve_fd = File::open("/dev/null").ok();
                        }
                        self.accept_paused = false;
                        self.accept_all();
                    }
                    TICK => self.tick(),
                    _ => {}
                }
                continue;
            }
            let Some(slot) = self.slab.get_mut(token) else {
                continue;
            };
            let io = &mut slot.io;
            if io.armed_tick != entry.due_tick {
                continue; // superseded by an earlier entry
            }
            io.armed_tick = 0;
            if io.deadline_ms == 0 {
                continue; // cleared
            }
            if io.deadline_ms > self.core.now_ms {
                // The deadline moved later since this entry was armed: re-arm once.
                io.armed_tick = self.core.wheel.schedule(token, io.deadline_ms);
                continue;
            }
            io.deadline_ms = 0;
            if io.flags & flags::LINGERING != 0 {
                self.close_now(token, CloseReason::Local);
                continue;
            }
            if io.flags & flags::CONNECTING != 0 {
                self.core.connect_error = Some(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"));
                self.close_now(token, CloseReason::Error(io::ErrorKind::TimedOut));
                continue;
            }
            let proto = &mut self.proto;
            with_slot(&mut self.slab, &mut self.core, token, true, |state, cx| proto.on_timer(state, cx));
            self.drive(token);
        }
        self.fired = fired;
    }
}
