//! The smallest weir application: one route, one answer.
//!
//! ```text
//! cargo run --example hello                  # http://127.0.0.1:3000/
//! cargo run --example hello -- 127.0.0.1:0   # any free port; the URL is printed
//! curl http://127.0.0.1:3000/                # Hello, World!
//! ```
//!
//! What it teaches: an [`App`] is a list of routes; a handler is a closure
//! from a request to a [`Response`]; [`Server`] runs the app on one event
//! loop per core. `block_shutdown_signals` comes first so that Ctrl-C
//! reaches `run_until_signal`, which stops gracefully (answers in flight
//! are finished). The next rung is `examples/json_api.rs`.

use weir::{App, Response, Server};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    weir::block_shutdown_signals()?;
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3000".into());
    let app = App::new().get("/", |_req| Response::text("Hello, World!\n"));
    let server = Server::builder(app).listen(addr.parse()?).start()?;
    println!("listening on http://{}/", server.local_addrs()[0]);
    Ok(server.run_until_signal()?)
}
