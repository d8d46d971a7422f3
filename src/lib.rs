//! # weir
//!
//! The facade crate: re-exports the framework ([`weir_server`]) at the top
//! level, and the building blocks as modules.
//!
//! * [`reactor`] — the epoll event loop (any TCP protocol).
//! * [`http`] — sans-IO HTTP/1.1.
//! * [`h2`] — sans-IO HTTP/2.
//! * [`ws`] — sans-IO WebSocket.
//! * everything else — the HTTP/WebSocket framework and server.
//!
//! The `weir` binary (the command line and `weir bench`) is built from this
//! package too, behind the default feature `cli`; depend on
//! `weir = { default-features = false }` for the library without clap.

pub use weir_h2 as h2;
pub use weir_http as http;
pub use weir_reactor as reactor;
pub use weir_server::*;
pub use weir_ws as ws_protocol;
