//! Server configuration: limits, timeouts and caps, with their defaults.

use std::time::Duration;

use weir_http::Limits;

/// How the HTTP server behaves. `Default` gives production-sane values
/// close to nginx's.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Parser limits (request line 414, head 431, body 413, ...).
    pub limits: Limits,
    /// Time allowed to receive a whole request head once its first byte
    /// arrived (slowloris). On expiry: 408, then close.
    pub head_timeout: Duration,
    /// Time allowed between body bytes. On expiry: 408, then close.
    pub body_timeout: Duration,
    /// How long an idle keep-alive connection is kept. On expiry: quiet close.
    pub keep_alive_timeout: Duration,
    /// How long a response may sit unsent because the client does not read.
    /// On expiry: close.
    pub write_timeout: Duration,
    /// How long a worker-pool or deferred handler may take. On expiry: 503, close.
    pub handler_timeout: Duration,
    /// Requests served on one connection before it is closed (0: no limit).
    pub max_requests_per_connection: u64,
    /// Pipelined requests parsed ahead while earlier ones are unanswered.
    pub max_pipeline: usize,
    /// Output queued for a client that does not read, past which the server
    /// stops reading that client's requests until the queue drains. Without
    /// it, a client pipelining requests and never reading would grow the
    /// server's memory without bound.
    pub max_queued_output: u64,
    /// Connections one shard holds; more are turned away with 503.
    pub max_connections_per_shard: usize,
    /// Worker threads for `workers(...)` handlers.
    pub worker_threads: usize,
    /// Jobs queued for the worker pool before new ones get 503.
    pub worker_queue: usize,
    /// Async handlers' tasks waiting at once on one shard (see
    /// [`crate::task`]); past it, a new async request is answered 503 at
    /// once. Each waiting task holds its future (the request, copied, and
    /// what the handler keeps across its `.await`s).
    pub max_tasks_per_shard: usize,
    /// Grace period for in-flight work on graceful shutdown.
    pub shutdown_grace: Duration,
    /// Pin shard *i* to CPU *i*.
    pub pin_cores: bool,
    /// TLS listeners: time from accept to the first byte of the first
    /// request, the handshake included (nginx: `ssl_handshake_timeout`).
    /// On expiry: close (and an `abandoned` handshake failure, if it had begun).
    pub tls_handshake_timeout: Duration,
    /// Plaintext listeners answer every request with `308 Permanent
    /// Redirect` to `https://` on this port (443 leaves the port out of the URL).
    pub redirect_https: Option<u16>,
    /// TLS listeners add `Strict-Transport-Security` with this value to
    /// every response that does not set it (e.g. `max-age=31536000`).
    pub hsts: Option<String>,
    /// HTTP/2 (see `docs/http2.md`): `Some` turns it on, with these
    /// settings and bounds. Plaintext listeners then take a connection
    /// that opens with the HTTP/2 preface as h2c (prior knowledge), and
    /// TLS listeners one whose client chose `h2` by ALPN (the acceptor must
    /// offer it: `TlsSettings::alpn = ALPN_H2_HTTP1`). `None`: HTTP/1.1 only.
    pub http2: Option<weir_h2::Config>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: Limits::default(),
            head_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(75),
            write_timeout: Duration::from_secs(60),
            handler_timeout: Duration::from_secs(60),
            max_requests_per_connection: 0,
            max_pipeline: 64,
            max_queued_output: 1024 * 1024,
            max_connections_per_shard: 100_000,
            worker_threads: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
            worker_queue: 1024,
            max_tasks_per_shard: 100_000,
            shutdown_grace: Duration::from_secs(10),
            pin_cores: false,
            tls_handshake_timeout: Duration::from_secs(10),
            redirect_https: None,
            hsts: None,
            http2: None,
        }
    }
}
