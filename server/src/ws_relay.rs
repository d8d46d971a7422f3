//! A pub/sub relay endpoint: every connection subscribes to a topic named
//! by the route, and every message it sends is published to that topic.
//!
//! ```text
//!   app.ws("/ws/pubsub/:topic", WsRoute::new(TopicRelay))
//!
//!   GET /ws/pubsub/prices  ──> on_open:    subscribe("prices")
//!   a message arrives      ──> on_message: publish("prices", msg)
//!                                 │ one envelope per shard (PubSub::publish)
//!                                 v
//!                 each shard encodes the frame once and queues the same
//!                 bytes to each of its subscribers (the sender included)
//! ```
//!
//! This is the server side of `weir bench --subscribers` (one publisher,
//! many subscribers) and the smallest complete use of [`WsCtx::subscribe`]
//! and [`WsCtx::publish`]. Delivery follows the route's send-buffer policy:
//! with the default [`SlowConsumer::Drop`](crate::ws::SlowConsumer::Drop) a
//! subscriber that reads too slowly misses messages instead of growing the
//! server's memory.

use crate::request::Request;
use crate::ws::{WsCtx, WsHandler, WsMessage};

/// Relays every message to every subscriber of the connection's topic: the
/// route parameter `:topic`, or the whole path when the route has none.
#[derive(Debug, Default, Clone, Copy)]
pub struct TopicRelay;

impl WsHandler for TopicRelay {
    /// The connection's topic.
    type State = String;

    fn on_open(&self, ws: &mut WsCtx<'_, '_>, req: &Request<'_>) -> String {
        let topic = req.param("topic").unwrap_or(req.path()).to_owned();
        ws.subscribe(&topic);
        topic
    }

    fn on_message(&self, topic: &mut String, ws: &mut WsCtx<'_, '_>, msg: WsMessage<'_>) {
        // A shard whose inbox is full misses this message (counted in its
        // stats as `inbox_full`); the publisher is never blocked.
        ws.publish(topic, msg);
    }
}
