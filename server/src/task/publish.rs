//! `publish`: pub/sub from an async handler, with backpressure.
//!
//! [`PubSub::publish`](crate::ws::PubSub::publish) never waits: a shard
//! whose bounded inbox lane is full refuses the message and its subscribers
//! miss it. An async handler can afford to wait instead, so [`publish`]
//! offers the message to every shard and, while some refuse, waits and
//! offers it again to those only — 1 ms, then 2, 4, ... up to 64 ms apart,
//! on the shard's timer (no spinning, and the shard serves others
//! meanwhile) — until each took it or `give_up_after` has passed. The
//! inbox has no "space again" signal, so the wait is a backoff, not a
//! wake-up: a shard that drains fast loses at most one backoff step.

use std::sync::Arc;
use std::time::Duration;

use weir_reactor::SendError;

use super::{sleep, with_local};
use crate::msg::{Msg, WsMsg};
use crate::ws::WsMessage as Message;

/// The longest wait between two offers to a full shard.
const MAX_BACKOFF_MS: u64 = 64;

/// Why [`publish`] did not deliver everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishError {
    /// This many shards still refused (full inbox) when time ran out.
    Full {
        /// Shards whose subscribers miss the message.
        shards: usize,
    },
    /// Called outside a shard's async handler.
    NotOnShard,
}

impl std::fmt::Display for PublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PublishError::Full { shards } => write!(f, "{shards} shard(s) still full"),
            PublishError::NotOnShard => f.write_str("publish called outside a shard's async handler"),
        }
    }
}

impl std::error::Error for PublishError {}

/// Sends `msg` to every subscriber of `topic` on every shard (WebSocket
/// pub/sub, see [`crate::ws`]), waiting while a shard's inbox is full, at
/// most `give_up_after`. A shard that has stopped is skipped.
///
/// # Errors
///
/// [`PublishError::Full`] with the shards that still refused after
/// `give_up_after`; [`PublishError::NotOnShard`] outside a shard's async
/// handler.
pub async fn publish(topic: &str, msg: Message<'_>, give_up_after: Duration) -> Result<(), PublishError> {
    let Some(pubsub) = with_local(|l| l.pubsub.clone()).flatten() else {
        return Err(PublishError::NotOnShard);
    };
    let Some(shards) = pubsub.shards.get() else { return Ok(()) };
    let (text, bytes) = match msg {
        Message::Text(t) => (true, t.as_bytes()),
        Message::Binary(b) => (false, b),
    };
    let topic: Arc<str> = topic.into();
    let payload: Arc<[u8]> = bytes.into();
    let mut waiting: Vec<usize> = (0..shards.len()).collect();
    let mut waited_ms = 0;
    let mut backoff_ms = 1;
    loop {
        waiting.retain(|&i| {
            let msg = Msg::Ws(WsMsg::Publish { topic: topic.clone(), text, payload: payload.clone() });
            matches!(shards[i].try_send_to_shard(msg), Err(SendError::Full(_)))
        });
        if waiting.is_empty() {
            return Ok(());
        }
        if waited_ms >= weir_reactor::duration_ms(give_up_after) {
            return Err(PublishError::Full { shards: waiting.len() });
        }
        sleep(Duration::from_millis(backoff_ms)).await;
        waited_ms += backoff_ms;
        backoff_ms = (backoff_ms * 2).min(MAX_BACKOFF_MS);
    }
}
