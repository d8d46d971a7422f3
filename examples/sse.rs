//! Server-sent events produced by a background thread, with backpressure.
//!
//! ```text
//! cargo run --example sse                               # http://127.0.0.1:3005/
//! curl -N 'localhost:3005/events?count=5&interval_ms=500'
//! #   id: 1
//! #   event: tick
//! #   data: {"n":1,"of":5}
//! #   ...
//! # or open http://127.0.0.1:3005/ in a browser (EventSource)
//! ```
//!
//! What it teaches: [`Response::sse`] answers with a `text/event-stream`
//! body of unknown length (sent with chunked framing). Its closure runs on
//! the shard once the head is queued and gets a [`BodySink`], which may go
//! to any thread: here, to one ticker thread that owns every open stream
//! and writes an event to each when it is due. Dropping the sink ends the
//! body.
//!
//! # Backpressure: `SinkError::Full`
//!
//! Chunks reach the connection's shard through its bounded data inbox. When
//! the shard is behind, [`BodySink::send`] does not block and does not
//! queue without limit: it returns `Err(SinkError::Full(chunk))`, handing
//! the chunk back. The ticker keeps it as the stream's pending chunk and
//! offers it again `RETRY_FULL` later, before making any new event, so
//! events are neither lost nor reordered, and the producer never sleeps on
//! one slow stream while the others wait. `SinkError::Closed` means the
//! client has gone (or the server has stopped): the stream is dropped at
//! once, so no work is spent on nobody. Every stream also ends after
//! `count` events: the work one request can cause is bounded.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use weir::{App, BodySink, Request, Response, Server, SinkError};

/// How long a chunk refused with `SinkError::Full` waits before it is
/// offered again: long enough for the shard to drain its inbox (it does so
/// every loop turn), short enough not to stall the stream visibly.
const RETRY_FULL: Duration = Duration::from_millis(20);
/// Events per stream unless `?count=` says otherwise, and the most allowed.
const DEFAULT_COUNT: u32 = 10;
const MAX_COUNT: u32 = 1000;
/// Time between events unless `?interval_ms=` says otherwise, and its bounds.
const DEFAULT_INTERVAL_MS: u64 = 1000;
const INTERVAL_MS: std::ops::RangeInclusive<u64> = 10..=60_000;

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8"><title>weir: server-sent events</title>
<pre id="log"></pre>
<script>
  const log = document.getElementById("log");
  const events = new EventSource("/events?count=20&interval_ms=500");
  events.addEventListener("tick", (e) => { log.textContent += e.data + "\n"; });
  events.addEventListener("error", () => events.close()); // the stream ended
</script>
"#;

/// One client's event stream, owned by the ticker thread.
struct Stream {
    sink: BodySink,
    count: u32,
    every: Duration,
    sent: u32,
    next_at: Instant,
    /// An event the shard refused (`SinkError::Full`), to offer again first.
    pending: Option<Vec<u8>>,
}

impl Stream {
    /// Offers the stream's next event. Returns `false` when the stream is
    /// over (all events sent, or the server stopped).
    fn tick(&mut self, now: Instant) -> bool {
        let n = self.sent + 1;
        let chunk = self.pending.take().unwrap_or_else(|| {
            format!("id: {n}\nevent: tick\ndata: {{\"n\":{n},\"of\":{}}}\n\n", self.count).into_bytes()
        });
        match self.sink.send(chunk) {
            Ok(()) => {
                self.sent = n;
                self.next_at = now + self.every;
                self.sent < self.count
            }
            Err(SinkError::Full(chunk)) => {
                self.pending = Some(chunk);
                self.next_at = now + RETRY_FULL;
                true
            }
            Err(SinkError::Closed) => false,
        }
    }
}

/// The ticker thread: takes new streams from `new`, and writes each
/// stream's events when they are due. Ends when the server (which holds
/// the sending side in its handler) is gone and no stream is left.
fn ticker(new: Receiver<Stream>) {
    let mut streams: Vec<Stream> = Vec::new();
    let mut open = true;
    while open || !streams.is_empty() {
        let due = streams.iter().map(|s| s.next_at).min();
        let wait = due.map(|t| t.saturating_duration_since(Instant::now()));
        if open {
            // With no stream open, wait for one without a timeout.
            match new.recv_timeout(wait.unwrap_or(Duration::MAX)) {
                Ok(stream) => streams.push(stream),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        } else if let Some(wait) = wait {
            std::thread::sleep(wait);
        }
        let now = Instant::now();
        // A stream that is over is removed, which drops its sink: dropping
        // a `BodySink` ends the body (the last, empty chunk is written).
        streams.retain_mut(|s| s.next_at > now || s.tick(now));
    }
}

/// `?name=N` within `range`, `default` when absent.
fn query_num<T: std::str::FromStr + PartialOrd>(
    req: &Request<'_>,
    name: &str,
    default: T,
    range: std::ops::RangeInclusive<T>,
) -> Option<T> {
    match req.query_param(name) {
        None => Some(default),
        Some(v) => v.parse().ok().filter(|n| range.contains(n)),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    weir::block_shutdown_signals()?;
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:3005".into());
    let (to_ticker, new_streams) = mpsc::channel::<Stream>();
    std::thread::Builder::new().name("sse-ticker".into()).spawn(move || ticker(new_streams))?;
    let app = App::new().get("/", |_| Response::html(PAGE)).get("/events", move |req| {
        let count = query_num(req, "count", DEFAULT_COUNT, 1..=MAX_COUNT);
        let every = query_num(req, "interval_ms", DEFAULT_INTERVAL_MS, INTERVAL_MS);
        let (Some(count), Some(every)) = (count, every) else {
            return Response::error(400);
        };
        let to_ticker = to_ticker.clone();
        Response::sse(move |sink| {
            let every = Duration::from_millis(every);
            let first = Stream { sink, count, every, sent: 0, next_at: Instant::now(), pending: None };
            // If the ticker has gone, the stream comes back in the error and
            // is dropped, which ends the body.
            let _ = to_ticker.send(first);
        })
    });
    let server = Server::builder(app).listen(addr.parse()?).start()?;
    println!("listening on http://{}/", server.local_addrs()[0]);
    Ok(server.run_until_signal()?)
}
