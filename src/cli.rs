//! The `weir` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use weir::middleware::AccessLog;
use weir::ws::WsRoute;
use weir::{App, Builtins, Server, ServerConfig, StatsRegistry, TopicRelay};
use weir_reactor::tls::{CertPair, TicketSecret, TlsAcceptor, TlsSettings};

/// weir: an HTTP/1.1 + WebSocket server on a hand-built epoll reactor.
#[derive(Debug, Parser)]
// The field docs are also clap's --help text, where `[:PORT]` is plain text.
#[allow(rustdoc::broken_intra_doc_links)]
#[command(
    name = "weir",
    version,
    about,
    after_help = "Examples:\n  \
        weir                                   serve ./public on 127.0.0.1:8080\n  \
        weir --root /srv/www --listen 0.0.0.0:80 --listen [::]:80\n  \
        weir --threads 1 --no-builtin stats --no-builtin echo\n  \
        weir --tls 127.0.0.1:8443 --cert site.pem,site.key   HTTPS (reload certificates: kill -HUP)\n  \
        curl http://127.0.0.1:8080/stats\n  \
        weir bench http://127.0.0.1:8080/ping -c 64 -d 10s   load a server (see weir bench --help)",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Address to listen on (repeatable; IPv4 or IPv6, e.g. [::1]:8080).
    #[arg(long = "listen", short = 'l', value_name = "ADDR")]
    pub listen: Vec<SocketAddr>,
    /// Event-loop threads (shards). Default: one per core.
    #[arg(long, short = 't', value_name = "N")]
    pub threads: Option<usize>,
    /// Directory of static files to serve at `/`.
    #[arg(long, short = 'r', value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Log level: error, warn, info, debug. `info` and above log one JSON line per request.
    #[arg(long, value_name = "LEVEL", default_value = "warn")]
    pub log_level: String,
    /// Turn off a built-in endpoint: healthz, ping, echo, stats, notes, ws-echo, ws-pubsub, or all.
    #[arg(long = "no-builtin", value_name = "NAME")]
    pub no_builtin: Vec<String>,
    /// Pin each shard to its own CPU.
    #[arg(long)]
    pub pin: bool,
    /// Address to listen on with TLS (repeatable; needs --cert).
    #[arg(long = "tls", value_name = "ADDR")]
    pub tls: Vec<SocketAddr>,
    /// A certificate chain and its key, as CERT.pem,KEY.pem (repeatable).
    /// Names come from the certificate; the first is the default for
    /// clients without SNI. An ECDSA and an RSA certificate for the same
    /// names are both served, each to the clients that support it.
    #[arg(long = "cert", value_name = "CERT,KEY")]
    pub cert: Vec<String>,
    /// Require client certificates (mTLS) that verify against this CA file.
    #[arg(long = "tls-client-ca", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// Session ticket secret file (at least 32 random bytes, e.g. from
    /// `openssl rand 48`): tickets then survive restarts and work across
    /// machines sharing the file. Default: a random secret per process.
    #[arg(long = "tls-ticket-key", value_name = "FILE")]
    pub tls_ticket_key: Option<PathBuf>,
    /// Plaintext listeners redirect every request to https:// (308), to
    /// the first --tls port.
    #[arg(long)]
    pub redirect_https: bool,
    /// Send Strict-Transport-Security with this max-age (seconds) on TLS
    /// responses, e.g. 31536000.
    #[arg(long, value_name = "SECONDS")]
    pub hsts: Option<u64>,
    /// Serve HTTP/2 too: h2c (prior knowledge) on plaintext listeners, and
    /// `h2` offered by ALPN on TLS listeners (docs/http2.md).
    #[arg(long)]
    pub http2: bool,
    /// A subcommand instead of serving (none: run the server).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands of `weir`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load an HTTP/1.1 or WebSocket server and report rate and latency.
    Bench(crate::bench::BenchArgs),
}

/// Runs the binary: parses arguments, serves until SIGINT/SIGTERM.
///
/// # Errors
///
/// Bad arguments or a failure to start.
pub fn run() -> std::io::Result<()> {
    let cli = Cli::parse();
    if let Some(Command::Bench(args)) = cli.command {
        return crate::bench::run(args);
    }
    weir::block_shutdown_signals()?;
    let _ = weir_reactor::sys::rlimit::raise_nofile_limit();

    let shards = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
        .max(1);
    let mut builtins = Builtins::default();
    let mut ws_pubsub = true;
    for name in &cli.no_builtin {
        match name.as_str() {
            "healthz" => builtins.healthz = false,
            "ping" => builtins.ping = false,
            "echo" => builtins.echo = false,
            "stats" => builtins.stats = false,
            "notes" | "write" | "read" => builtins.notes = false,
            "ws-echo" | "ws" => builtins.ws_echo = false,
            "ws-pubsub" | "pubsub" => ws_pubsub = false,
            "all" => {
                builtins = Builtins::none();
                ws_pubsub = false;
            }
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("unknown built-in endpoint {other:?}"),
                ))
            }
        }
    }
    let stats = Arc::new(StatsRegistry::new(shards));
    let mut app = builtins.install(App::new(), stats.clone());
    if ws_pubsub {
        // Every connection subscribes to :topic and publishes what it sends
        // (the target of `weir bench --subscribers`).
        app = app.ws("/ws/pubsub/:topic", WsRoute::new(TopicRelay));
    }
    if matches!(cli.log_level.as_str(), "info" | "debug" | "trace") {
        app = app.middleware(AccessLog::stdout()?);
    }
    let root = cli.root.clone().or_else(|| {
        let default = PathBuf::from("public");
        default.is_dir().then_some(default)
    });
    if let Some(root) = &root {
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("--root {}: not a directory", root.display()),
            ));
        }
        app = app.static_dir("/", root.clone());
    }
    let listen = if cli.listen.is_empty() && cli.tls.is_empty() {
        vec!["127.0.0.1:8080".parse().expect("valid address")]
    } else {
        cli.listen
    };
    let tls =
        tls_acceptor(&cli.tls, &cli.cert, cli.tls_client_ca.clone(), cli.tls_ticket_key.clone(), cli.http2)?;
    let mut config = ServerConfig { pin_cores: cli.pin, ..ServerConfig::default() };
    if cli.redirect_https {
        let Some(first) = cli.tls.first() else {
            return Err(invalid("--redirect-https needs a --tls listener to send clients to".into()));
        };
        config.redirect_https = Some(first.port());
    }
    config.hsts = cli.hsts.map(|secs| format!("max-age={secs}"));
    if cli.http2 {
        config.http2 = Some(weir_h2::Config::default());
    }
    let mut builder = Server::builder(app).shards(shards).stats(stats).config(config);
    for a in &listen {
        builder = builder.listen(*a);
    }
    if let Some(tls) = &tls {
        for a in &cli.tls {
            builder = builder.listen_tls(*a, tls.clone());
        }
    }
    let server = builder.start()?;
    for (i, a) in server.local_addrs().iter().enumerate() {
        let scheme = if i < listen.len() { "http" } else { "https" };
        println!("weir listening on {scheme}://{a}/");
    }
    if tls.is_some() && !weir_reactor::tls::kernel_tls_available() {
        eprintln!(
            "weir: kernel TLS is not available here: files over TLS are read in 64 KiB pieces and encrypted in user space"
        );
    }
    if let Some(root) = &root {
        println!("serving files from {}", root.display());
    }
    server.run_until_signal()
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

/// The TLS acceptor for `--tls` listeners, from `--cert` pairs.
fn tls_acceptor(
    addrs: &[SocketAddr],
    certs: &[String],
    client_ca: Option<PathBuf>,
    ticket_key: Option<PathBuf>,
    http2: bool,
) -> std::io::Result<Option<Arc<TlsAcceptor>>> {
    if addrs.is_empty() {
        if !certs.is_empty() {
            return Err(invalid("--cert given without a --tls listener".into()));
        }
        return Ok(None);
    }
    if certs.is_empty() {
        return Err(invalid("--tls needs at least one --cert CERT.pem,KEY.pem".into()));
    }
    let mut pairs = Vec::new();
    for c in certs {
        let Some((cert, key)) = c.split_once(',') else {
            return Err(invalid(format!("--cert {c}: expected CERT.pem,KEY.pem")));
        };
        pairs.push(CertPair::new(cert, key));
    }
    let mut settings = TlsSettings::new(pairs);
    settings.client_ca = client_ca;
    if http2 {
        settings.alpn = weir_reactor::tls::ALPN_H2_HTTP1;
    }
    if let Some(path) = ticket_key {
        settings.ticket_secret = TicketSecret::File(path);
    }
    let acceptor = TlsAcceptor::new(settings).map_err(|e| invalid(format!("TLS: {e}")))?;
    Ok(Some(Arc::new(acceptor)))
}
