//! Async handlers: `.await` inside a handler, on the shard or on tokio.
//!
//! ```text
//! cargo run --example async_api                          # http://127.0.0.1:3006/
//! cargo run --example async_api -- 127.0.0.1:0 2         # any free port, 2 shards
//! curl http://127.0.0.1:3006/sleep?ms=250                # answered a quarter second later
//! curl http://127.0.0.1:3006/relay                       # a request to ourselves, awaited
//! curl -d 'some bytes' http://127.0.0.1:3006/checksum    # work on the worker pool, awaited
//! ```
//!
//! What it teaches: [`async_handler`] turns an `async` block into a
//! handler. The future gets the request owned (it outlives the
//! connection's buffer) and is polled by its shard, on the shard's thread:
//! `task::sleep` is a timer on the shard's clock, `task::client` an HTTP
//! request over the shard's own outbound connections, and
//! `task::spawn_blocking` a job on the worker pool whose result is awaited.
//! While a future waits, the shard serves everyone else. The `/tokio` route
//! (built with the `tokio` feature, which the examples have) runs its
//! future on a tokio runtime instead, for libraries that need tokio.
//!
//! The trivial routes (`/inline`, `/async`, `/async-yield`, `/tokio`) give
//! the same answer through each mode: `benches/async.py` compares their
//! server CPU per request, and holds thousands of `/sleep` requests to
//! measure the memory of a pending one.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use weir::task::{self, client};
use weir::{async_handler, tokio_handler, App, Response, Server, ServerConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    weir::block_shutdown_signals()?;
    let addr: SocketAddr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3006".into()).parse()?;
    let shards: usize = std::env::args().nth(2).map_or(Ok(1), |s| s.parse())?;
    // The server's own address, for `/relay` (known once it listens).
    let me: Arc<OnceLock<SocketAddr>> = Arc::default();
    let relay_to = me.clone();
    let app = App::new()
        .get("/", |_req| Response::text("try /sleep?ms=250, /relay, POST /checksum\n"))
        // The same trivial answer, four ways.
        .get("/inline", |_req| Response::text("Hello, World!"))
        .route("GET", "/async", async_handler(|_req| async { Response::text("Hello, World!") }))
        .route(
            "GET",
            "/async-yield",
            async_handler(|_req| async {
                // Parks the task once: the executor's whole path (park, wake, poll).
                task::yield_now().await;
                Response::text("Hello, World!")
            }),
        )
        .route("GET", "/tokio", tokio_handler(|_req| async { Response::text("Hello, World!") }))
        .route(
            "GET",
            "/sleep",
            async_handler(|req| async move {
                let ms = req.query_param("ms").and_then(|v| v.parse().ok()).unwrap_or(100);
                task::sleep(Duration::from_millis(ms)).await;
                Response::text(format!("slept {ms} ms\n"))
            }),
        )
        .route(
            "GET",
            "/relay",
            async_handler(move |_req| {
                let to = relay_to.get().copied();
                async move {
                    let Some(to) = to else { return Response::error(503) };
                    match client::get(to, "/inline").timeout(Duration::from_secs(2)).send().await {
                        Ok(resp) => Response::text(format!(
                            "upstream said {} {:?}\n",
                            resp.status(),
                            String::from_utf8_lossy(resp.body())
                        )),
                        Err(e) => Response::text(format!("upstream failed: {e}\n")).with_status(502),
                    }
                }
            }),
        )
        .route(
            "POST",
            "/checksum",
            async_handler(|req| async move {
                let body = req.into_body();
                let sum = task::spawn_blocking(move || {
                    body.iter().fold(0u32, |s, &b| s.rotate_left(3) ^ u32::from(b))
                });
                match sum.await {
                    Ok(sum) => Response::text(format!("{sum:08x}\n")),
                    Err(e) => Response::text(format!("{e}\n")).with_status(503),
                }
            }),
        );
    // Room for benches/async.py's 10,000 pending requests (the default
    // pipeline bound is 64 per connection).
    let config = ServerConfig { max_pipeline: 128, ..ServerConfig::default() };
    let server = Server::builder(app).config(config).shards(shards).listen(addr).start()?;
    let bound = server.local_addrs()[0];
    let _ = me.set(bound);
    println!("listening on http://{bound}/");
    Ok(server.run_until_signal()?)
}
