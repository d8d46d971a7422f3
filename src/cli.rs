//! The `weir` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use weir::middleware::AccessLog;
use weir::site::{parse_listen_addr, LogLevel, SiteCell};
use weir::ws::WsRoute;
use weir::{App, Builtins, Server, ServerConfig, StaticFiles, StatsRegistry, TopicRelay};
use weir_reactor::tls::{CertPair, TicketSecret, TlsAcceptor, TlsSettings};

use crate::config_file::{self, Running};

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
        weir --config weir.toml                a site from a file (see docs/configuration.md)\n  \
        weir check --config weir.toml          check a file; every error with its line\n  \
        weir reload --config weir.toml         reload a running weir (its [server] pid_file)\n  \
        weir --root /srv/www --listen 0.0.0.0:80   /echo, /stats, /write stay off off loopback\n  \
        weir --threads 1 --no-builtin stats --no-builtin echo\n  \
        weir --tls 127.0.0.1:8443 --cert site.pem,site.key   HTTPS (reload certificates: kill -HUP)\n  \
        curl http://127.0.0.1:8080/stats\n  \
        weir bench http://127.0.0.1:8080/ping -c 64 -d 10s   load a server (see weir bench --help)",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// A configuration file (see docs/configuration.md); flags given with
    /// it override the file's settings (--listen/--tls replace its listeners).
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on (repeatable; 127.0.0.1:8080, [::1]:8080,
    /// :8080 for every IPv4 interface, localhost:8080).
    #[arg(long = "listen", short = 'l', value_name = "ADDR", value_parser = parse_listen_addr)]
    pub listen: Vec<SocketAddr>,
    /// Event-loop threads (shards). Default: one per core.
    #[arg(long, short = 't', value_name = "N")]
    pub threads: Option<usize>,
    /// Directory of static files to serve at `/`.
    #[arg(long, short = 'r', value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Log level: error, warn (the default), info, debug. `info` and above
    /// log one JSON line per request.
    #[arg(long, value_name = "LEVEL", value_parser = LogLevel::parse)]
    pub log_level: Option<LogLevel>,
    /// List the files of directories that have no index.html.
    #[arg(long)]
    pub listing: bool,
    /// Send a `Server` header (default value: weir).
    #[arg(long, value_name = "VALUE", num_args = 0..=1, default_missing_value = "weir")]
    pub server_header: Option<String>,
    /// Serve /echo, /stats and /write + /read on listeners that are not
    /// loopback addresses too (they reveal requests and counters, and store
    /// data; off there by default).
    #[arg(long)]
    pub expose_builtins: bool,
    /// Write the process id here (for `weir reload`); removed at exit.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Turn off a built-in endpoint: healthz, ping, echo, stats, notes, ws-echo, ws-pubsub, or all.
    #[arg(long = "no-builtin", value_name = "NAME")]
    pub no_builtin: Vec<String>,
    /// Pin each shard to its own CPU.
    #[arg(long)]
    pub pin: bool,
    /// An admin listener (repeatable): GET /metrics (Prometheus), /healthz,
    /// /readyz (503 while draining for shutdown). Keep it private.
    #[arg(long = "admin", value_name = "ADDR")]
    pub admin: Vec<SocketAddr>,
    /// Address to listen on with TLS (repeatable; needs --cert).
    #[arg(long = "tls", value_name = "ADDR", value_parser = parse_listen_addr)]
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
    Bench(Box<crate::bench::BenchArgs>),
    /// Check a configuration file: every error with its line and column
    /// (exit status 1), or what it serves.
    Check {
        /// The file.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
    },
    /// Make a running weir read its configuration file again (SIGHUP to
    /// the process in the pid file). The file is checked first.
    Reload {
        /// The file (its `[server] pid_file` names the process).
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
        /// The pid file (overrides the file's).
        #[arg(long, value_name = "FILE")]
        pid_file: Option<PathBuf>,
    },
}

/// Runs the binary: parses arguments, serves until SIGINT/SIGTERM.
///
/// # Errors
///
/// Bad arguments or a failure to start.
pub fn run() -> std::io::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Bench(args)) => return crate::bench::run(*args),
        Some(Command::Check { config }) => return config_file::check(&config),
        Some(Command::Reload { config, pid_file }) => {
            return config_file::reload_command(config.as_deref(), pid_file)
        }
        None => {}
    }
    let file = match &cli.config {
        Some(path) => {
            for (set, flag, key) in [
                (cli.root.is_some(), "--root", "a [[host]]'s root"),
                (cli.listing, "--listing", "listing = true in a host or location"),
                (cli.server_header.is_some(), "--server-header", "[server] server_header"),
            ] {
                if set {
                    return Err(invalid(format!("{flag} does not go with --config: use {key} in the file")));
                }
            }
            Some(config_file::load(path)?)
        }
        None => None,
    };
    weir::block_shutdown_signals()?;
    let _ = weir_reactor::sys::rlimit::raise_nofile_limit();
    // Sockets passed by a service manager (systemd socket activation):
    // named "https…"/"tls…" are TLS, "admin" the admin endpoints, others
    // plaintext HTTP. Taken before any thread starts.
    let inherited = weir_reactor::sys::socket::inherited_listeners()?;
    let inherited_tls = inherited.iter().any(|(name, _)| is_tls_name(name));

    let shards = cli
        .threads
        .or(file.as_ref().and_then(|f| f.threads))
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
        .max(1);
    let mut builtins = file.as_ref().map_or_else(Builtins::default, |f| f.builtins);
    let mut ws_pubsub = file.as_ref().is_none_or(|f| f.ws_pubsub);
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

    // The listeners: the flags', else the file's, else 127.0.0.1:8080.
    let flags_listen = !cli.listen.is_empty() || !cli.tls.is_empty();
    if cli.http2 && file.is_some() {
        // HTTP/2 streams do not go through a configuration file's hosts
        // and locations yet: refuse rather than serve a site without its
        // rules (rate limits, rewrites, headers).
        return Err(invalid("--http2 does not go with --config yet".into()));
    }
    let tls = tls_acceptor(
        &cli.tls,
        inherited_tls,
        &cli.cert,
        cli.tls_client_ca.clone(),
        cli.tls_ticket_key.clone(),
        cli.http2,
    )?;
    let mut listeners: Vec<(SocketAddr, Option<Arc<TlsAcceptor>>, Option<u32>)> = Vec::new();
    match &file {
        Some(f) if !flags_listen => {
            listeners.extend(f.listeners.iter().map(|l| (l.address, l.tls.clone(), l.backlog)));
        }
        _ => {
            let plain = if flags_listen {
                cli.listen.clone()
            } else if inherited.is_empty() {
                vec![SocketAddr::from(([127, 0, 0, 1], 8080))]
            } else {
                Vec::new() // the service manager's sockets only
            };
            listeners.extend(plain.into_iter().map(|a| (a, None, None)));
            if let Some(tls) = &tls {
                listeners.extend(cli.tls.iter().map(|a| (*a, Some(tls.clone()), None)));
            }
        }
    }

    // Built-ins that reveal requests and counters or store data stay on
    // loopback unless asked for.
    let exposed = cli.expose_builtins || file.as_ref().is_some_and(|f| f.expose_builtins);
    let public: Vec<String> =
        listeners.iter().filter(|(a, _, _)| !a.ip().is_loopback()).map(|(a, _, _)| a.to_string()).collect();
    if !exposed && !public.is_empty() && (builtins.echo || builtins.stats || builtins.notes) {
        builtins.echo = false;
        builtins.stats = false;
        builtins.notes = false;
        eprintln!(
            "weir: /echo, /stats and /write + /read are off: {} {} not loopback (--expose-builtins serves them anyway)",
            public.join(", "),
            if public.len() == 1 { "is" } else { "are" }
        );
    }

    let stats = Arc::new(StatsRegistry::new(shards));
    let mut app = builtins.install(App::new(), stats.clone());
    if ws_pubsub {
        // Every connection subscribes to :topic and publishes what it sends
        // (the target of `weir bench --subscribers`).
        app = app.ws("/ws/pubsub/:topic", WsRoute::new(TopicRelay));
    }
    let level = cli.log_level.or(file.as_ref().map(|f| f.log_level)).unwrap_or(LogLevel::Warn);
    match file.as_ref().and_then(|f| f.access_log.as_deref()) {
        Some("stdout") => app = app.middleware(AccessLog::stdout()?),
        Some("stderr") => app = app.middleware(AccessLog::to_writer(std::io::stderr())?),
        Some(path) => {
            let out = std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("cannot open the access log {path}: {e}"))
            })?;
            app = app.middleware(AccessLog::to_writer(out)?);
        }
        None if level >= LogLevel::Info => app = app.middleware(AccessLog::stdout()?),
        None => {}
    }
    if let Some(value) = &cli.server_header {
        let value = value.clone();
        app =
            app.middleware(weir::middleware::after(move |_, resp| resp.add_header("Server", value.clone())));
    }
    let root = if file.is_some() {
        None
    } else {
        cli.root.clone().or_else(|| {
            let default = PathBuf::from("public");
            default.is_dir().then_some(default)
        })
    };
    if let Some(root) = &root {
        if !root.is_dir() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("--root {}: not a directory", root.display()),
            ));
        }
        app = app.static_files("/", StaticFiles::new(root.clone()).listing(cli.listing));
    }
    let mut config = file.as_ref().map_or_else(ServerConfig::default, |f| f.config.clone());
    config.pin_cores = cli.pin || file.as_ref().is_some_and(|f| f.pin);
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
    for (addr, tls, backlog) in &listeners {
        builder = match tls {
            Some(t) => builder.listen_tls(*addr, t.clone()),
            None => builder.listen(*addr),
        };
        if let Some(b) = backlog {
            builder = builder.backlog(*b);
        }
    }
    for a in &cli.admin {
        builder = builder.admin(*a);
    }
    for (name, l) in inherited {
        builder = match (&tls, name.as_str()) {
            (_, "admin") => builder.admin_listener(l),
            (Some(tls), n) if is_tls_name(n) => builder.listener_tls(l, tls.clone()),
            _ => builder.listener(l),
        };
    }
    let mut running = None;
    let file_pid = file.as_ref().and_then(|f| f.pid_file.clone());
    if let Some(f) = file {
        let mut site = f.site;
        if flags_listen {
            site.serve_all_hosts_everywhere();
        }
        builder = builder.site(Arc::new(SiteCell::new(site)));
        running = Some(Running {
            path: cli.config.clone().unwrap_or_default(),
            listeners_from_file: !flags_listen,
            listeners: f.listeners.iter().map(|l| (l.address, l.tls.clone())).collect(),
        });
    }
    let server = builder.start()?;
    for (kind, a) in server.listening() {
        match kind {
            "admin" => println!("weir admin (metrics, health) on http://{a}/metrics"),
            scheme => println!("weir listening on {scheme}://{a}/"),
        }
    }
    if tls.is_some() && !weir_reactor::tls::kernel_tls_available() {
        eprintln!(
            "weir: kernel TLS is not available here: files over TLS are read in 64 KiB pieces and encrypted in user space"
        );
    }
    match (&root, &running) {
        (Some(root), _) => println!("serving files from {}", root.display()),
        (None, Some(r)) => println!("serving the site of {}", r.path.display()),
        (None, None) => eprintln!(
            "weir: no files are served: there is no ./public here and no --root was given (the built-in endpoints answer)"
        ),
    }
    let pid_file = cli.pid_file.clone().or(file_pid);
    if let Some(p) = &pid_file {
        std::fs::write(p, format!("{}\n", std::process::id())).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot write the pid file {}: {e}", p.display()))
        })?;
    }
    let grace = server.grace();
    let result = server.run_until_signal_with(
        |server| match &running {
            Some(r) => config_file::reload(server, r),
            None => {
                for line in server.reload_tls() {
                    match line {
                        Ok(l) => eprintln!("weir: {l}"),
                        Err(l) => eprintln!("weir: error: {l}"),
                    }
                }
            }
        },
        |signal| {
            eprintln!(
                "weir: {signal}: stopping; requests in flight have {} s to finish (a second signal exits at once)",
                grace.as_secs()
            );
        },
    );
    if let Some(p) = &pid_file {
        let _ = std::fs::remove_file(p);
    }
    eprintln!("weir: stopped");
    result
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

/// The TLS acceptor for `--tls` listeners, from `--cert` pairs.
fn tls_acceptor(
    addrs: &[SocketAddr],
    inherited: bool,
    certs: &[String],
    client_ca: Option<PathBuf>,
    ticket_key: Option<PathBuf>,
    http2: bool,
) -> std::io::Result<Option<Arc<TlsAcceptor>>> {
    if addrs.is_empty() && !inherited {
        if !certs.is_empty() {
            return Err(invalid("--cert given without a --tls listener".into()));
        }
        return Ok(None);
    }
    if certs.is_empty() {
        return Err(invalid("TLS listeners (--tls, or inherited sockets named https/tls) need at least one --cert CERT.pem,KEY.pem".into()));
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

/// An inherited socket's name that asks for TLS (`LISTEN_FDNAMES`, set by
/// `FileDescriptorName=` in a systemd socket unit).
fn is_tls_name(name: &str) -> bool {
    name.starts_with("https") || name.starts_with("tls")
}
