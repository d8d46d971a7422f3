//! Running an [`App`]: shards, worker pool, statistics, shutdown.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use weir_reactor::sys::signal::{SignalFd, SignalSet, SIGHUP, SIGINT, SIGTERM};
use weir_reactor::tls::TlsAcceptor;
use weir_reactor::{Endpoint, Runtime, WorkerPool};

use crate::app::App;
use crate::config::ServerConfig;
use crate::conn::{numbered_tag, HttpShard, Shared, TAG_ADMIN, TAG_PLAIN, TAG_TLS};
use crate::msg::Msg;
use crate::response::Response;
use crate::site::SiteCell;
use crate::stats::StatsRegistry;
use crate::ws::PubSub;

/// The canned answer for connections turned away at the connection cap.
const OVERLOAD_503: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 20\r\nConnection: close\r\nRetry-After: 1\r\n\r\nService Unavailable\n";

/// Builds and starts a server.
#[derive(Debug)]
pub struct ServerBuilder {
    app: App,
    config: ServerConfig,
    shards: usize,
    addrs: Vec<SocketAddr>,
    listeners: Vec<TcpListener>,
    tls_addrs: Vec<(SocketAddr, Arc<TlsAcceptor>)>,
    tls_listeners: Vec<(TcpListener, Arc<TlsAcceptor>)>,
    admin: Vec<SocketAddr>,
    admin_listeners: Vec<TcpListener>,
    stats: Option<Arc<StatsRegistry>>,
    site: Option<Arc<SiteCell>>,
    /// Per `listen`/`listen_tls` call, in order: its `listen(2)` backlog.
    backlogs: Vec<Option<u32>>,
    /// `listen` and `listen_tls` calls so far, in order: plain (false) or TLS.
    order: Vec<bool>,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    runtime: Runtime<Msg>,
    stats: Arc<StatsRegistry>,
    pubsub: Arc<PubSub>,
    grace: Duration,
    tls: Vec<Arc<TlsAcceptor>>,
    kinds: Vec<&'static str>,
    site: Option<Arc<SiteCell>>,
}

impl Server {
    /// Starts building a server for `app`.
    pub fn builder(app: App) -> ServerBuilder {
        ServerBuilder {
            app,
            config: ServerConfig::default(),
            shards: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            addrs: Vec::new(),
            listeners: Vec::new(),
            tls_addrs: Vec::new(),
            tls_listeners: Vec::new(),
            admin: Vec::new(),
            admin_listeners: Vec::new(),
            stats: None,
            site: None,
            backlogs: Vec::new(),
            order: Vec::new(),
        }
    }

    /// The bound addresses.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        self.runtime.local_addrs()
    }

    /// Each bound address with what it serves: `"http"`, `"https"` or
    /// `"admin"` (the order of [`Server::local_addrs`]).
    pub fn listening(&self) -> Vec<(&'static str, SocketAddr)> {
        self.kinds.iter().copied().zip(self.runtime.local_addrs().iter().copied()).collect()
    }

    /// Publishes to WebSocket topics from any thread.
    pub fn pubsub(&self) -> Arc<PubSub> {
        self.pubsub.clone()
    }

    /// The server's counters.
    pub fn stats(&self) -> Arc<StatsRegistry> {
        self.stats.clone()
    }

    /// The configuration file's site ([`ServerBuilder::site`]), to replace on reload.
    pub fn site(&self) -> Option<&Arc<SiteCell>> {
        self.site.as_ref()
    }

    /// Re-reads every TLS listener's certificates and keys and swaps them
    /// in where they check out (see [`TlsAcceptor::reload`]); connections
    /// already open keep theirs. Returns one line per listener saying what
    /// happened (what SIGHUP logs).
    pub fn reload_tls(&self) -> Vec<Result<String, String>> {
        self.tls
            .iter()
            .map(|t| match t.reload() {
                Ok(()) => {
                    let mut names: Vec<String> =
                        t.certificates().iter().flat_map(|c| c.names.clone()).collect();
                    names.sort();
                    names.dedup();
                    Ok(format!("TLS certificates reloaded: {}", names.join(", ")))
                }
                Err(e) => Err(format!("TLS reload refused, the previous certificates stay: {e}")),
            })
            .collect()
    }

    /// Begins a graceful stop: no new connections; idle ones close; busy
    /// ones finish (answers carry `Connection: close`, WebSockets get 1001)
    /// until the configured grace period ends.
    pub fn stop(&self) {
        self.stats.draining.store(true, std::sync::atomic::Ordering::Relaxed);
        self.runtime.stop(self.grace);
    }

    /// Waits until every shard has exited.
    ///
    /// # Errors
    ///
    /// A shard's event loop failed.
    pub fn join(self) -> io::Result<()> {
        self.runtime.join()
    }

    /// Blocks until SIGINT or SIGTERM, stops gracefully and joins. A second
    /// signal during the grace period exits the process at once (status 130).
    /// SIGHUP meanwhile reloads the TLS certificates ([`Server::reload_tls`])
    /// and logs the outcome to stderr. Call [`block_shutdown_signals`]
    /// before starting the server so that no thread takes the signals first.
    ///
    /// # Errors
    ///
    /// Signal setup or a shard failure.
    pub fn run_until_signal(self) -> io::Result<()> {
        self.run_until_signal_with(
            |server| {
                for line in server.reload_tls() {
                    match line {
                        Ok(l) => eprintln!("weir: {l}"),
                        Err(l) => eprintln!("weir: error: {l}"),
                    }
                }
            },
            |_| {},
        )
    }

    /// As [`Server::run_until_signal`], with SIGHUP handled by `on_reload`
    /// (a configuration file's reload, say), and `on_stop` called with the
    /// signal's name when a stop begins.
    ///
    /// # Errors
    ///
    /// Signal setup or a shard failure.
    pub fn run_until_signal_with(
        self,
        mut on_reload: impl FnMut(&Server),
        on_stop: impl FnOnce(&str),
    ) -> io::Result<()> {
        let set = SignalSet::new(&[SIGINT, SIGTERM, SIGHUP])?;
        let fd = SignalFd::new(&set)?;
        let _ = crate::notify::sd_notify("READY=1");
        let signal = loop {
            match fd.wait()? {
                SIGHUP => {
                    let _ = crate::notify::sd_notify(&crate::notify::reloading());
                    on_reload(&self);
                    let _ = crate::notify::sd_notify("READY=1");
                }
                other => break other,
            }
        };
        let _ = crate::notify::sd_notify("STOPPING=1");
        on_stop(if signal == SIGINT { "SIGINT" } else { "SIGTERM" });
        self.stop();
        std::thread::Builder::new().name("weir-signals".into()).spawn(move || loop {
            match fd.wait() {
                Ok(SIGHUP) => {}
                Ok(_) => std::process::exit(130),
                Err(_) => return,
            }
        })?;
        self.join()
    }

    /// The grace period a stop gives in-flight requests.
    pub fn grace(&self) -> Duration {
        self.grace
    }
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread and every thread
/// it spawns afterwards, so they can be read with a signalfd
/// ([`Server::run_until_signal`]). Call it first thing in `main`.
///
/// # Errors
///
/// As `pthread_sigmask(3)`.
pub fn block_shutdown_signals() -> io::Result<()> {
    SignalSet::new(&[SIGINT, SIGTERM, SIGHUP])?.block()
}

impl ServerBuilder {
    /// Listens on `addr` (repeatable; `[::]` is dual-stack; port 0 picks one).
    #[must_use]
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.addrs.push(addr);
        self.order.push(false);
        self.backlogs.push(None);
        self
    }

    /// Serves an already-bound listener.
    #[must_use]
    pub fn listener(mut self, l: TcpListener) -> Self {
        self.listeners.push(l);
        self
    }

    /// Listens on `addr` with TLS (repeatable; an acceptor may serve several).
    #[must_use]
    pub fn listen_tls(mut self, addr: SocketAddr, tls: Arc<TlsAcceptor>) -> Self {
        self.tls_addrs.push((addr, tls));
        self.order.push(true);
        self.backlogs.push(None);
        self
    }

    /// The `listen(2)` backlog of the listener added last by
    /// [`listen`](Self::listen) or [`listen_tls`](Self::listen_tls)
    /// (default: the runtime's, 1024).
    #[must_use]
    pub fn backlog(mut self, n: u32) -> Self {
        if let Some(last) = self.backlogs.last_mut() {
            *last = Some(n);
        }
        self
    }

    /// Serves a configuration file's site: requests go through its hosts
    /// and locations first (see [`crate::site`]). The listeners added by
    /// [`listen`](Self::listen) and [`listen_tls`](Self::listen_tls) are
    /// the file's, in the file's order (listener *i* serves the hosts the
    /// file's *i*-th `[[listener]]` names). Replace the site in the cell
    /// to reload.
    #[must_use]
    pub fn site(mut self, cell: Arc<SiteCell>) -> Self {
        self.site = Some(cell);
        self
    }

    /// Serves an already-bound listener with TLS.
    #[must_use]
    pub fn listener_tls(mut self, l: TcpListener, tls: Arc<TlsAcceptor>) -> Self {
        self.tls_listeners.push((l, tls));
        self
    }

    /// An admin listener on `addr` (repeatable): `GET /metrics`
    /// (Prometheus text), `/healthz` (alive: 200) and `/readyz` (200 while
    /// taking traffic, 503 once a graceful stop has begun), apart from the
    /// public site. Keep it on loopback or a private network.
    #[must_use]
    pub fn admin(mut self, addr: SocketAddr) -> Self {
        self.admin.push(addr);
        self
    }

    /// Serves the admin endpoints on an already-bound listener (socket activation).
    #[must_use]
    pub fn admin_listener(mut self, l: TcpListener) -> Self {
        self.admin_listeners.push(l);
        self
    }

    /// Number of shards (event-loop threads). Default: one per core.
    #[must_use]
    pub fn shards(mut self, n: usize) -> Self {
        self.shards = n.max(1);
        self
    }

    /// The server configuration.
    #[must_use]
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses this statistics registry (so handlers built before the server
    /// starts, such as `/stats`, can read it). It must have one slot per shard.
    #[must_use]
    pub fn stats(mut self, stats: Arc<StatsRegistry>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Binds and starts the shards.
    ///
    /// # Errors
    ///
    /// Invalid routes (an [`AppError`](crate::AppError) inside an `InvalidInput` error), or binding failures.
    pub fn start(self) -> io::Result<Server> {
        let ServerBuilder {
            app,
            config,
            shards,
            addrs,
            listeners,
            tls_addrs,
            tls_listeners,
            admin,
            admin_listeners,
            stats,
            site,
            backlogs,
            order,
        } = self;
        if site.is_some() && config.http2.is_some() {
            // HTTP/2 streams are routed by the app alone: they would skip
            // the site's hosts, locations and rate limits.
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "HTTP/2 does not go with a configuration file's site yet",
            ));
        }
        let app = app.compile().map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let stats = match stats {
            Some(s) if s.http.len() == shards => s,
            Some(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "stats registry has the wrong shard count",
                ))
            }
            None => Arc::new(StatsRegistry::new(shards)),
        };
        let pubsub = Arc::new(PubSub::default());
        let pool = WorkerPool::new(config.worker_threads, config.worker_queue);
        app.attach_pool(&pool);
        let grace = config.shutdown_grace;
        let mut rt = Runtime::builder().shards(shards).configure(|c| {
            c.max_connections = config.max_connections_per_shard;
            // Set per connection when it matters (see conn::write_response).
            c.nodelay = false;
            c.pin_cores = config.pin_cores;
            c.overload_response = Some(OVERLOAD_503);
            // HTTP clients speak first: a request that came with the
            // handshake is answered without waiting a loop turn for it.
            c.read_on_accept = true;
            c.max_pending_input = (config.limits.max_head + 64 * 1024).max(c.read_buffer);
        });
        // What each listener serves, in the runtime's order of addresses:
        // those bound here first (in the order added, then the admin
        // ones), then the pre-bound ones.
        let kinds: Vec<&'static str> = order
            .iter()
            .map(|&is_tls| if is_tls { "https" } else { "http" })
            .chain((0..admin.len()).map(|_| "admin"))
            .chain((0..listeners.len()).map(|_| "http"))
            .chain((0..tls_listeners.len()).map(|_| "https"))
            .chain((0..admin_listeners.len()).map(|_| "admin"))
            .collect();
        // Listeners are bound in the order they were added; on a server
        // with a site, each one's tag carries its index (`numbered_tag`).
        let mut tls: Vec<Arc<TlsAcceptor>> = Vec::new();
        let (mut plain, mut secure) = (addrs.into_iter(), tls_addrs.into_iter());
        for (i, is_tls) in order.iter().enumerate() {
            let tag = |kind| if site.is_some() { numbered_tag(kind, i) } else { kind };
            let endpoint = if *is_tls {
                let Some((a, t)) = secure.next() else { continue };
                tls.push(t.clone());
                (a, Endpoint::new(tag(TAG_TLS)).transport(t))
            } else {
                let Some(a) = plain.next() else { continue };
                (a, Endpoint::new(tag(TAG_PLAIN)))
            };
            let endpoint = match backlogs.get(i).copied().flatten() {
                Some(b) => (endpoint.0, endpoint.1.backlog(b)),
                None => endpoint,
            };
            rt = rt.listen_on(endpoint.0, endpoint.1);
        }
        for l in listeners {
            rt = rt.listener_on(l, Endpoint::new(TAG_PLAIN));
        }
        for (l, t) in tls_listeners {
            rt = rt.listener_on(l, Endpoint::new(TAG_TLS).transport(t.clone()));
            tls.push(t);
        }
        tls.dedup_by(|a, b| Arc::ptr_eq(a, b));
        let _ = stats.tls.set(tls.clone());
        let _ = stats.pool.set(pool.clone());
        let admin_app = if admin.is_empty() && admin_listeners.is_empty() {
            None
        } else {
            for a in admin {
                rt = rt.listen_on(a, Endpoint::new(TAG_ADMIN));
            }
            for l in admin_listeners {
                rt = rt.listener_on(l, Endpoint::new(TAG_ADMIN));
            }
            Some(
                admin_app(stats.clone())
                    .compile()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
            )
        };
        if let Some(cell) = &site {
            cell.attach_pool(&pool);
        }
        let shared = Arc::new(Shared {
            app,
            admin: admin_app,
            config,
            pool,
            stats: stats.clone(),
            pubsub: pubsub.clone(),
            site: site.clone(),
        });
        let registry = stats.clone();
        let ps = pubsub.clone();
        let runtime = rt.serve(move |info| {
            let _ = registry.shards.set(info.shards.clone());
            let _ = ps.shards.set(info.shards.clone());
            HttpShard::new(shared.clone(), info.id)
        })?;
        let _ = stats.shards.set(runtime.handles().clone());
        let _ = pubsub.shards.set(runtime.handles().clone());
        Ok(Server { runtime, stats, pubsub, grace, tls, kinds, site })
    }
}

/// The admin listener's endpoints.
fn admin_app(stats: Arc<StatsRegistry>) -> App {
    let ready = stats.clone();
    App::new()
        .get("/metrics", move |_| {
            Response::text(crate::metrics::render(&stats)).with_content_type(crate::metrics::CONTENT_TYPE)
        })
        .get("/healthz", |_| Response::text("ok\n"))
        .get("/readyz", move |_| {
            if ready.ready() {
                Response::text("ready\n")
            } else {
                Response::text("draining\n").with_status(503)
            }
        })
}
