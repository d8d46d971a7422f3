//! What other threads send to a connection's shard, and the addresses they
//! send it to.
//!
//! Every handle that reaches a connection from elsewhere — a [`Responder`]
//! (deferred answers), a worker job's result, a [`BodySink`] (streamed
//! bodies), a [`WsSender`] and [`PubSub`] (WebSocket) — posts a [`Msg`] to
//! the shard's inbox with the connection's token. The inbox has two lanes
//! (see `weir_reactor::ShardHandle`), and each producer is on the one its
//! guarantee needs:
//!
//! | producer | lane | when the shard is behind |
//! |---|---|---|
//! | `Responder`, worker results | control (unbounded) | never refused: each is the one answer to a request the shard dispatched, so their number is bounded by connections × pipeline depth and the pool's queue |
//! | `BodySink::send` | data (bounded) | refused with the chunk handed back ([`SinkError::Full`]): retry later |
//! | `WsSender::send` | data (bounded) | refused: [`SendStatus::Dropped`](crate::ws::SendStatus::Dropped) |
//! | `PubSub::publish` | data (bounded) | that shard's subscribers miss the message; `publish` says how many shards refused |
//! | an async task's waker, from another thread | control (unbounded) | never refused: at most one wake per task in flight (see `crate::task`) |
//!
//! [`Responder`]: crate::Responder
//! [`BodySink`]: crate::BodySink
//! [`WsSender`]: crate::ws::WsSender
//! [`PubSub`]: crate::ws::PubSub
//! [`SinkError::Full`]: crate::SinkError::Full

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use weir_reactor::{SendError, ShardHandle, Token};

use crate::response::{Response, SinkError, StreamOut};

/// What other threads send to a connection (or to a shard as a whole).
#[derive(Debug)]
pub(crate) enum Msg {
    /// The answer to the pipelined request with this sequence number.
    Response(u32, Response),
    /// A piece of a streamed body.
    StreamChunk(Vec<u8>),
    /// The streamed body is complete after this many chunks. (Chunks take
    /// the bounded data lane and the end the control lane, which the shard
    /// drains first; the count lets the end wait for chunks behind it.)
    StreamEnd(u64),
    /// A piece of a streamed body of HTTP/2 stream `.0`.
    H2Chunk(u32, Vec<u8>),
    /// HTTP/2 stream `.0`'s streamed body is complete after `.1` chunks.
    H2End(u32, u64),
    /// WebSocket traffic.
    Ws(WsMsg),
    /// For the shard: wake the async task with this id (a waker called on
    /// another thread; see `crate::task`). On the control lane: a task is
    /// in the inbox at most once at a time, so their number is bounded by
    /// the tasks in flight.
    Wake(u64),
}

/// An owned WebSocket message, for sending from other threads.
#[derive(Debug, Clone)]
pub enum OwnedMessage {
    /// Text.
    Text(String),
    /// Binary.
    Binary(Vec<u8>),
}

/// WebSocket traffic between threads.
#[derive(Debug)]
pub(crate) enum WsMsg {
    /// Send to one connection.
    Send(OwnedMessage),
    /// Close one connection.
    Close(u16, String),
    /// Deliver to every subscriber of `topic` on the receiving shard.
    Publish {
        /// The topic.
        topic: Arc<str>,
        /// Text (true) or binary.
        text: bool,
        /// The payload.
        payload: Arc<[u8]>,
    },
}

/// A connection, reachable from any thread: its shard and its token.
#[derive(Debug, Clone)]
pub(crate) struct ConnAddr {
    pub(crate) shard: ShardHandle<Msg>,
    pub(crate) token: Token,
}

impl ConnAddr {
    /// Posts on the control lane (never refused while the shard runs).
    pub(crate) fn send(&self, msg: Msg) -> bool {
        self.shard.send(self.token, msg)
    }

    /// Posts on the bounded data lane.
    pub(crate) fn try_send(&self, msg: Msg) -> Result<(), SendError<Msg>> {
        self.shard.try_send(self.token, msg)
    }
}

/// Where a streamed body goes: the connection, and a flag its shard sets
/// when the connection (or the stream) is over, so the producer hears
/// [`SinkError::Closed`] instead of producing for nobody.
#[derive(Debug)]
pub(crate) struct StreamTarget {
    pub(crate) to: ConnAddr,
    pub(crate) gone: Arc<AtomicBool>,
}

impl StreamOut for StreamTarget {
    fn chunk(&self, chunk: Vec<u8>) -> Result<(), SinkError> {
        if self.gone.load(Ordering::Acquire) {
            return Err(SinkError::Closed);
        }
        match self.to.try_send(Msg::StreamChunk(chunk)) {
            Ok(()) => Ok(()),
            Err(SendError::Full(Msg::StreamChunk(chunk))) => Err(SinkError::Full(chunk)),
            Err(_) => Err(SinkError::Closed),
        }
    }

    fn end(&self, chunks: u64) {
        // The end must not be lost (the client would wait for it): control lane.
        self.to.send(Msg::StreamEnd(chunks));
    }
}

/// Where a streamed body of an HTTP/2 stream goes: as [`StreamTarget`],
/// with the stream's id on every message.
#[derive(Debug)]
pub(crate) struct H2StreamTarget {
    pub(crate) to: ConnAddr,
    pub(crate) stream: u32,
    pub(crate) gone: Arc<AtomicBool>,
}

impl StreamOut for H2StreamTarget {
    fn chunk(&self, chunk: Vec<u8>) -> Result<(), SinkError> {
        if self.gone.load(Ordering::Acquire) {
            return Err(SinkError::Closed);
        }
        match self.to.try_send(Msg::H2Chunk(self.stream, chunk)) {
            Ok(()) => Ok(()),
            Err(SendError::Full(Msg::H2Chunk(_, chunk))) => Err(SinkError::Full(chunk)),
            Err(_) => Err(SinkError::Closed),
        }
    }

    fn end(&self, chunks: u64) {
        self.to.send(Msg::H2End(self.stream, chunks));
    }
}
