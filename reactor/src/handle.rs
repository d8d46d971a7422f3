//! Reaching a shard from other threads: the inbox and its waker.
//!
//! Each shard owns a channel (the inbox) and an eventfd registered in its
//! epoll set. A [`ShardHandle`] pushes an envelope into the channel and, if
//! the shard has not already been told, writes the eventfd to wake it:
//!
//! ```text
//!   any thread                          shard thread
//!   ----------                          ------------
//!   tx.send(env)                        epoll_wait -> waker readable
//!   if !notified.swap(true)             eventfd.read()        (1)
//!       eventfd.write(1)                notified = false      (2)
//!                                       while let Ok(env) = rx.try_recv() ...
//! ```
//!
//! The order on the shard's side is what makes this lossless. Clearing
//! `notified` (2) *before* emptying the channel means a message sent later
//! either is seen by this drain or finds `notified == false` and writes the
//! eventfd again. Resetting the eventfd (1) *before* clearing the flag
//! means such a write can never be swallowed: had the shard read the
//! eventfd after (2), a sender's write landing between the two would be
//! consumed, epoll would have nothing left to report, and with the flag
//! still set no sender would ever write again. A burst of a thousand
//! messages costs one eventfd write and one wake-up.
//!
//! # Two lanes: what must arrive, and what may be refused
//!
//! The inbox is two channels drained by the same wake-up:
//!
//! * **control** ([`ShardHandle::send`], [`ShardHandle::send_to_shard`],
//!   stop, worker results) is unbounded, because losing its messages would
//!   leave a request unanswered. Its producers bound it themselves: an
//!   answer exists only for a request the shard dispatched (connections ×
//!   pipeline depth), a worker result only for a job the bounded pool took.
//! * **data** ([`ShardHandle::try_send`], [`ShardHandle::try_send_to_shard`])
//!   holds at most [`ShardConfig::inbox_capacity`](crate::ShardConfig::inbox_capacity)
//!   envelopes. It carries what a producer can be told to slow down on —
//!   WebSocket sends from other threads, pub/sub publishes, streamed body
//!   chunks — and a full lane refuses at once ([`SendError::Full`], the
//!   message handed back) instead of growing a shard's memory without
//!   bound or blocking the sender.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Sender, TrySendError};

use crate::stats::ShardStats;
use crate::sys::eventfd::EventFd;
use crate::token::Token;

/// What travels through a shard's inbox.
#[derive(Debug)]
pub(crate) enum Envelope<M> {
    /// For one connection: delivered to `Protocol::on_message`, or dropped
    /// if the token is stale.
    ToConn(Token, M),
    /// For the shard's protocol as a whole: `Protocol::on_shard_message`.
    ToShard(M),
    /// A worker job for this connection panicked.
    JobPanicked(Token),
    /// Begin a graceful stop with this much grace.
    Stop(Duration),
}

impl<M> Envelope<M> {
    /// The message of a data-lane envelope (only `ToConn` and `ToShard` go there).
    fn into_message(self) -> M {
        match self {
            Envelope::ToConn(_, m) | Envelope::ToShard(m) => m,
            Envelope::JobPanicked(_) | Envelope::Stop(_) => {
                unreachable!("control envelopes never take the data lane")
            }
        }
    }
}

/// Why [`ShardHandle::try_send`] refused a message (handed back).
#[derive(Debug)]
pub enum SendError<M> {
    /// The shard's data inbox is full: slow down, drop, or retry later.
    Full(M),
    /// The shard has exited.
    Closed(M),
}

pub(crate) struct Waker {
    pub(crate) eventfd: EventFd,
    pub(crate) notified: AtomicBool,
}

impl Waker {
    pub(crate) fn new() -> io::Result<Waker> {
        Ok(Waker { eventfd: EventFd::new()?, notified: AtomicBool::new(false) })
    }

    fn wake(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            // Cannot fail short of a bad descriptor; if it did, the shard
            // would still see the message at its next wake-up.
            let _ = self.eventfd.notify();
        }
    }
}

/// A `Send + Clone` handle to one shard: send messages to its connections or
/// to its protocol, ask it to stop, read its counters.
pub struct ShardHandle<M> {
    pub(crate) id: usize,
    pub(crate) tx: Sender<Envelope<M>>,
    pub(crate) data: Sender<Envelope<M>>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) stats: Arc<ShardStats>,
}

impl<M> Clone for ShardHandle<M> {
    fn clone(&self) -> Self {
        ShardHandle {
            id: self.id,
            tx: self.tx.clone(),
            data: self.data.clone(),
            waker: self.waker.clone(),
            stats: self.stats.clone(),
        }
    }
}

impl<M> std::fmt::Debug for ShardHandle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardHandle").field("id", &self.id).finish_non_exhaustive()
    }
}

impl<M: Send> ShardHandle<M> {
    /// The shard's index (0-based).
    pub fn id(&self) -> usize {
        self.id
    }

    /// Sends `msg` to the connection `token` of this shard. It arrives in
    /// `Protocol::on_message`, or is dropped (and counted) if that
    /// connection has closed meanwhile. Returns `false` if the shard has exited.
    pub fn send(&self, token: Token, msg: M) -> bool {
        self.post(Envelope::ToConn(token, msg))
    }

    /// Sends `msg` to the shard's protocol (`Protocol::on_shard_message`).
    /// Returns `false` if the shard has exited.
    pub fn send_to_shard(&self, msg: M) -> bool {
        self.post(Envelope::ToShard(msg))
    }

    /// Sends `msg` to connection `token` on the bounded data lane (see the
    /// module docs): refused at once when the lane is full.
    ///
    /// # Errors
    ///
    /// [`SendError::Full`] (counted in the shard's `inbox_full`) or
    /// [`SendError::Closed`] (the shard has exited), with the message back.
    pub fn try_send(&self, token: Token, msg: M) -> Result<(), SendError<M>> {
        self.try_post(Envelope::ToConn(token, msg))
    }

    /// Sends `msg` to the shard's protocol on the bounded data lane.
    ///
    /// # Errors
    ///
    /// As [`ShardHandle::try_send`].
    pub fn try_send_to_shard(&self, msg: M) -> Result<(), SendError<M>> {
        self.try_post(Envelope::ToShard(msg))
    }

    fn try_post(&self, env: Envelope<M>) -> Result<(), SendError<M>> {
        match self.data.try_send(env) {
            Ok(()) => {
                self.waker.wake();
                Ok(())
            }
            Err(TrySendError::Full(env)) => {
                ShardStats::add(&self.stats.inbox_full, 1);
                Err(SendError::Full(env.into_message()))
            }
            Err(TrySendError::Disconnected(env)) => Err(SendError::Closed(env.into_message())),
        }
    }

    /// Asks the shard to stop gracefully: it stops accepting, tells its
    /// protocol (`Protocol::on_shutdown`), and exits when its connections
    /// are gone or `grace` has passed, whichever is first.
    pub fn stop(&self, grace: Duration) {
        self.post(Envelope::Stop(grace));
    }

    /// The shard's live counters.
    pub fn stats(&self) -> &ShardStats {
        &self.stats
    }

    pub(crate) fn post(&self, env: Envelope<M>) -> bool {
        if self.tx.send(env).is_err() {
            return false;
        }
        self.waker.wake();
        true
    }
}
