//! CPU-bound work on the worker pool, and why it must not run on the shard.
//!
//! ```text
//! cargo run --example worker_pool                  # http://127.0.0.1:3003/
//! curl 'localhost:3003/workers/primes?below=100000'   # {"below":100000,"primes":9592,"thread":"weir-worker-0"}
//! curl 'localhost:3003/inline/primes?below=100000'    # the same count, "thread":"weir-shard-0"
//!
//! # the difference: a slow request, then a quick one on another connection
//! curl 'localhost:3003/inline/primes?below=3000000' & sleep 0.2; time curl localhost:3003/ping
//! #   the ping waits until the count is done: the shard was busy counting
//! curl 'localhost:3003/workers/primes?below=3000000' & sleep 0.2; time curl localhost:3003/ping
//! #   the ping is answered at once, while a worker counts
//! ```
//!
//! # Why not on the shard
//!
//! A shard is one thread running one event loop for every connection it
//! accepted: thousands of them. A handler added with `App::get` runs inline,
//! inside that loop. While it counts primes for one client, the loop stands
//! still: no other connection of the shard is read or written, no timeout
//! fires, and new connections the kernel handed to this shard's listener
//! wait in its accept queue. One slow request becomes everybody's latency.
//! (This example runs a single shard so that the effect shows on any
//! machine; with one shard per core the same thing happens to the
//! connections of whichever shard took the slow request.)
//!
//! [`workers`] moves the handler to the server's worker pool instead:
//!
//! ```text
//!  shard: parse ──> Request::to_owned ──> pool queue ──> (serves other connections)
//!  worker:                                  count primes, build the Response
//!  shard: <── inbox (control lane) <── answer ──> written in request order
//! ```
//!
//! The shard copies the request (the worker cannot borrow the shard's read
//! buffer) and goes back to its loop; the answer comes back through the
//! shard's inbox and leaves in request order. The pool is bounded
//! (`ServerConfig::worker_threads` threads, `ServerConfig::worker_queue`
//! jobs): when it is full, the request is answered `503` with `Retry-After`
//! at once instead of queueing without end, and `handler_timeout` bounds
//! how long a job may take.
//!
//! Rule of thumb: inline for anything that takes microseconds and never
//! blocks; workers for milliseconds of CPU (hashing a password, compressing,
//! rendering) or a blocking library call.

use weir::{workers, App, Request, Response, Server};

/// The largest `below` accepted: a request must not be able to occupy a
/// worker for minutes.
const MAX_BELOW: u64 = 10_000_000;
const DEFAULT_BELOW: u64 = 1_000_000;

/// Deliberately plain trial division: CPU work that takes long enough to see.
fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| !n.is_multiple_of(d))
}

/// `?below=N`: how many primes are below N, and which thread counted them.
fn primes(req: &Request<'_>) -> Response {
    let below = match req.query_param("below").map(|b| b.parse::<u64>()) {
        None => DEFAULT_BELOW,
        Some(Ok(n)) if n <= MAX_BELOW => n,
        Some(_) => return Response::error(400),
    };
    let count = (2..below).filter(|&n| is_prime(n)).count();
    let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
    Response::json(&serde_json::json!({ "below": below, "primes": count, "thread": thread }))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    weir::block_shutdown_signals()?;
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3003".into());
    let app = App::new()
        .get("/ping", |_| Response::text("pong\n"))
        // Wrong on purpose: the count runs on the shard and stalls it.
        .get("/inline/primes", primes)
        // Right: the same handler on the worker pool.
        .route("GET", "/workers/primes", workers(primes));
    let server = Server::builder(app).shards(1).listen(addr.parse()?).start()?;
    println!("listening on http://{}/", server.local_addrs()[0]);
    Ok(server.run_until_signal()?)
}
