//! # weir-server
//!
//! The HTTP/1.1 + WebSocket framework and server of weir, built on
//! [`weir_reactor`] (the event loop), [`weir_http`] (the HTTP/1.1 parser,
//! encoder and router) and [`weir_ws`] (the WebSocket protocol). All the
//! glue between them lives here.
//!
//! ```no_run
//! use weir_server::{workers, App, Response, Server};
//!
//! let app = App::new()
//!     .get("/", |_| Response::text("Hello, World!"))
//!     .get("/users/:id", |req| Response::json(&serde_json::json!({ "id": req.param("id") })))
//!     .route("POST", "/hash", workers(|req| Response::text(format!("{} bytes", req.body().len()))));
//! let server = Server::builder(app).listen("127.0.0.1:8080".parse()?).start()?;
//! server.run_until_signal()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it works
//!
//! * [`App`] compiles routes into a [`weir_http::Router`].
//! * Each shard runs one `HttpShard` (a [`weir_reactor::Protocol`]). A
//!   connection is a protocol state on the reactor's transport (module
//!   `conn`): `Conn::H1` — head → body → dispatch → answers in order →
//!   keep-alive or close, its reading and writing sides kept as types — and,
//!   after an upgrade, `Conn::Ws`.
//! * What crosses threads to a shard is a crate-private message (module
//!   `msg`): answers on the inbox's control lane, never refused; streamed
//!   chunks, WebSocket sends and publishes on its bounded data lane, refused
//!   when full ([`SinkError::Full`], [`ws::SendStatus::Dropped`]).
//! * Modules import one way: request, response, head → msg → ws → task →
//!   handler → app → conn → server (checked by `tests/module_graph.rs`).
//! * Handlers answer inline, on the worker pool ([`workers`]), later
//!   ([`deferred`] + [`Responder`]), or as futures ([`async_handler`],
//!   polled by a small executor on each shard, module [`task`]; and
//!   `tokio_handler` with the `tokio` feature); see [`handler`] for when to
//!   use which.
//! * [`ws`]: WebSocket endpoints with backpressure and cross-shard pub/sub;
//!   [`TopicRelay`] is the smallest pub/sub endpoint.
//! * [`StaticFiles`]: safe paths, `sendfile`, validators.
//! * [`site`]: a configuration file's virtual hosts, locations, rewrites,
//!   header rules and rate limits ([`ServerBuilder::site`]); swapped
//!   whole on reload, taken by each shard at its next request.

#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Every type in a public signature can be named from outside.
#![warn(unnameable_types)]

mod app;
mod builtins;
mod config;
mod conn;
pub mod handler;
mod head;
mod header;
mod log;
pub mod metrics;
pub mod middleware;
mod msg;
pub mod notify;
mod request;
mod response;
mod server;
pub mod site;
mod static_files;
mod stats;
pub mod task;
pub mod ws;
mod ws_relay;

pub use app::{App, AppError, Scope};
pub use builtins::Builtins;
pub use config::ServerConfig;
#[cfg(feature = "tokio")]
pub use handler::tokio_handler;
pub use handler::{async_body_handler, async_handler, deferred, inline, workers, Handler, Responder};
pub use header::{HeaderName, HeaderValue};
pub use middleware::Middleware;
pub use request::{OwnedRequest, Params, Request};
pub use response::{Body, BodySink, Part, Response, SinkError, StreamStart, TextBody};
pub use server::{block_shutdown_signals, Server, ServerBuilder};
pub use static_files::{content_type, parse_http_date, StaticFiles};
pub use stats::{HttpStats, StatsRegistry};
pub use weir_http::{Limits, Method, RouteError};
pub use ws_relay::TopicRelay;
