//! The endpoints the `weir` binary serves out of the box, each of which can
//! be turned off: `/healthz`, `/ping`, `/echo`, `/stats`, `/write` + `/read`
//! (a tiny in-memory note store), and the WebSocket echo `/ws/echo`.

use std::sync::{Arc, Mutex};

use crate::app::App;
use crate::response::{Body, Response};
use crate::stats::StatsRegistry;
use crate::ws::{Echo, WsRoute};

/// The most bytes `POST /write` stores.
pub(crate) const NOTE_MAX: usize = 1024;

/// Which built-in endpoints to serve.
#[derive(Debug, Clone, Copy)]
pub struct Builtins {
    /// `GET /healthz` -> `ok`.
    pub healthz: bool,
    /// `GET /ping` -> `pong`.
    pub ping: bool,
    /// `GET|POST /echo`: the request's headers, and the POST body.
    pub echo: bool,
    /// `GET /stats`: JSON counters.
    pub stats: bool,
    /// `POST /write`, `GET /read`: the last note (up to 1 KiB).
    pub notes: bool,
    /// `GET /ws/echo`: WebSocket echo.
    pub ws_echo: bool,
}

impl Default for Builtins {
    fn default() -> Self {
        Builtins { healthz: true, ping: true, echo: true, stats: true, notes: true, ws_echo: true }
    }
}

impl Builtins {
    /// None of them.
    pub fn none() -> Builtins {
        Builtins { healthz: false, ping: false, echo: false, stats: false, notes: false, ws_echo: false }
    }

    /// Adds the enabled endpoints to `app`.
    pub fn install(self, mut app: App, stats: Arc<StatsRegistry>) -> App {
        if self.healthz {
            app = app.get("/healthz", |_| Response::text("ok"));
        }
        if self.ping {
            app = app.get("/ping", |_| Response::text("pong"));
        }
        if self.echo {
            let echo = |req: &crate::Request<'_>| {
                let mut out = Vec::with_capacity(256 + req.body().len());
                out.extend_from_slice(req.method_str().as_bytes());
                out.push(b' ');
                out.extend_from_slice(req.target());
                out.push(b'\n');
                for (n, v) in req.headers() {
                    out.extend_from_slice(n);
                    out.extend_from_slice(b": ");
                    out.extend_from_slice(v);
                    out.push(b'\n');
                }
                if !req.body().is_empty() {
                    out.push(b'\n');
                    out.extend_from_slice(req.body());
                }
                Response::text(out)
            };
            app = app.get("/echo", echo).post("/echo", echo);
        }
        if self.stats {
            app = app.get("/stats", move |_| Response::json(&stats.to_json()));
        }
        if self.notes {
            let note: Arc<Mutex<Vec<u8>>> = Arc::default();
            let w = note.clone();
            app = app
                .post("/write", move |req| {
                    if req.body().len() > NOTE_MAX {
                        return Response::error(413);
                    }
                    *w.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = req.body().to_vec();
                    Response::text("saved\n")
                })
                .get("/read", move |_| {
                    let body = note.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
                    Response::new(200)
                        .with_content_type("application/octet-stream")
                        .with_body(Body::Bytes(body))
                });
        }
        if self.ws_echo {
            app = app.ws("/ws/echo", WsRoute::new(Echo));
        }
        app
    }
}
