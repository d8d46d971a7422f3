//! Outbound connections on the shard's side: opening those asked for by
//! `Ctx::connect` once the asking callback has returned, and settling a
//! `connect(2)` in progress from `SO_ERROR` on its first writable edge.

use std::mem;

use super::Shard;
use crate::conn::{flags, open_outbound, with_slot, ConnIo, Core, PendingConnect};
use crate::ctx::ShardCtx;
use crate::protocol::{CloseReason, Protocol};
use crate::stats::ShardStats;

impl<P: Protocol> Shard<P> {
    /// Adds the connections asked for by `Ctx::connect` during callbacks.
    pub(super) fn open_pending_connects(&mut self) {
        for pending in mem::take(&mut self.core.connects) {
            let PendingConnect { stream, connected, opts, state, from } = pending;
            let state = *state.downcast::<P::Conn>().expect("Ctx::connect checked the state's type");
            match open_outbound(&mut self.slab, &mut self.core, stream, connected, opts, state) {
                Ok(token) if opts.link => {
                    ShardCtx::<P> { slab: &mut self.slab, core: &mut self.core }.link(from, token);
                }
                Ok(_) => {}
                Err((error, state)) => {
                    ShardStats::add(&self.stats().connect_failed, 1);
                    self.proto.on_connect_failed(state, error);
                    if opts.link {
                        let proto = &mut self.proto;
                        with_slot(&mut self.slab, &mut self.core, from, true, |s, cx| {
                            proto.on_peer_closed(s, cx);
                        });
                        self.drive(from);
                    }
                }
            }
        }
    }
}

/// An outbound connection's first writable (or error) event: `SO_ERROR`
/// says whether `connect(2)` succeeded.
#[cold]
pub(super) fn settle_connect<M>(io: &mut ConnIo, core: &mut Core<M>) -> Result<(), CloseReason> {
    match io.stream.take_error() {
        Ok(None) => {
            io.flags &= !flags::CONNECTING;
            io.deadline_ms = 0;
            Ok(())
        }
        Ok(Some(e)) | Err(e) => {
            let kind = e.kind();
            core.connect_error = Some(e);
            Err(CloseReason::Error(kind))
        }
    }
}
