//! # weir
//!
//! The facade crate: re-exports the framework ([`weir_server`]) at the top
//! level, and the building blocks as modules.
//!
//! * [`reactor`] — the epoll event loop (any TCP protocol).
//! * [`http`] — sans-IO HTTP/1.1.
//! * [`ws`] — sans-IO WebSocket.
//! * everything else — the HTTP/WebSocket framework and server.

pub use weir_http as http;
pub use weir_reactor as reactor;
pub use weir_server::*;
pub use weir_ws as ws_protocol;
