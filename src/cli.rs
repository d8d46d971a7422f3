//! The `weir` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use weir::middleware::AccessLog;
use weir::ws::WsRoute;
use weir::{App, Builtins, Server, ServerConfig, StatsRegistry, TopicRelay};

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
    let listen = if cli.listen.is_empty() {
        vec!["127.0.0.1:8080".parse().expect("valid address")]
    } else {
        cli.listen
    };
    let mut builder = Server::builder(app)
        .shards(shards)
        .stats(stats)
        .config(ServerConfig { pin_cores: cli.pin, ..ServerConfig::default() });
    for a in &listen {
        builder = builder.listen(*a);
    }
    let server = builder.start()?;
    for a in server.local_addrs() {
        println!("weir listening on http://{a}/");
    }
    if let Some(root) = &root {
        println!("serving files from {}", root.display());
    }
    server.run_until_signal()
}
