//! The TechEmpower plaintext and JSON endpoints, as that benchmark defines them.
//!
//! ```text
//! cargo run --release --example techempower -- --listen 127.0.0.1:8080 --threads 1
//! curl localhost:8080/plaintext   # Hello, World!
//! curl localhost:8080/json        # {"message":"Hello, World!"}
//! ```
//!
//! The benchmarks in `benches/` run this server.

use clap::Parser;
use weir::{App, Body, Response, Server};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
    /// Event-loop threads.
    #[arg(long)]
    threads: Option<usize>,
}

#[derive(serde::Serialize)]
struct Message {
    message: &'static str,
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    weir::block_shutdown_signals()?;
    let app = App::new()
        .get("/plaintext", |_| {
            Response::new(200).with_content_type("text/plain").with_body(Body::Static(b"Hello, World!"))
        })
        .get("/json", |_| Response::json(&Message { message: "Hello, World!" }));
    let mut server = Server::builder(app).listen(args.listen);
    if let Some(n) = args.threads {
        server = server.shards(n);
    }
    let server = server.start()?;
    println!("techempower endpoints on http://{}/plaintext and /json", server.local_addrs()[0]);
    server.run_until_signal()
}
