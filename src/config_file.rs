//! The binary's side of the configuration file: `weir check`, `weir
//! reload`, and what SIGHUP does to a server started with `--config`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weir::site::{self, FileConfig};
use weir::Server;
use weir_reactor::tls::{CertPair, TlsAcceptor};

/// Reads the file, or an error listing every problem in it.
///
/// # Errors
///
/// The file's errors, one per line, after a count.
pub fn load(path: &Path) -> std::io::Result<FileConfig> {
    site::load(path).map_err(|errors| {
        let n = errors.0.len();
        let s = if n == 1 { "" } else { "s" };
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} has {n} error{s}:\n{errors}", path.display()),
        )
    })
}

/// `weir check --config FILE`: prints every error (exit status 1) or a
/// summary of what the file serves.
///
/// # Errors
///
/// The file's errors.
pub fn check(path: &Path) -> std::io::Result<()> {
    let cfg = load(path)?;
    let hosts = cfg.site.host_names();
    println!(
        "{}: ok: {} listener{}, {} host{} ({})",
        path.display(),
        cfg.listeners.len(),
        if cfg.listeners.len() == 1 { "" } else { "s" },
        hosts.len(),
        if hosts.len() == 1 { "" } else { "s" },
        hosts.join(", ")
    );
    Ok(())
}

/// `weir reload`: checks the file (when given), then sends SIGHUP to the
/// process whose id is in the pid file (`--pid-file`, or the file's
/// `[server] pid_file`).
///
/// # Errors
///
/// The file's errors (then no signal is sent), no pid file, a stale pid.
pub fn reload_command(config: Option<&Path>, pid_file: Option<PathBuf>) -> std::io::Result<()> {
    let from_file = match config {
        Some(p) => load(p)?.pid_file,
        None => None,
    };
    let Some(pid_file) = pid_file.or(from_file) else {
        return Err(invalid(
            "weir reload needs --pid-file PATH, or --config FILE whose [server] pid_file is set".into(),
        ));
    };
    let text = std::fs::read_to_string(&pid_file)
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot read {}: {e}", pid_file.display())))?;
    let pid: i32 = text.trim().parse().map_err(|_| {
        invalid(format!("{}: expected a process id, found {:?}", pid_file.display(), text.trim()))
    })?;
    weir_reactor::sys::signal::send_signal(pid, weir_reactor::sys::signal::SIGHUP).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot signal process {pid} (from {}): {e}", pid_file.display()),
        )
    })?;
    println!("weir: asked process {pid} to reload (its log says how it went)");
    Ok(())
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

/// What a reload must know of the running server.
#[derive(Debug)]
pub struct Running {
    /// The file.
    pub path: PathBuf,
    /// The listeners came from the file (not from `--listen`/`--tls`).
    pub listeners_from_file: bool,
    /// The file's listeners when the server started: address, and the
    /// TLS acceptor of a TLS listener.
    pub listeners: Vec<(SocketAddr, Option<Arc<TlsAcceptor>>)>,
}

/// SIGHUP on a server started with `--config`: reads the file again; on
/// any error logs them all and keeps the running configuration; else
/// reloads changed TLS certificates and swaps the site in (each shard
/// takes it at its next request).
pub fn reload(server: &Server, running: &Running) {
    let start = std::time::Instant::now();
    let cfg = match load(&running.path) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("weir: reload refused, the running configuration stays: {e}");
            return;
        }
    };
    let Some(cell) = server.site() else { return };
    let mut site = cfg.site;
    if running.listeners_from_file {
        let now: Vec<(SocketAddr, bool)> = running.listeners.iter().map(|(a, t)| (*a, t.is_some())).collect();
        let new: Vec<(SocketAddr, bool)> =
            cfg.listeners.iter().map(|l| (l.address, l.tls.is_some())).collect();
        if now != new {
            eprintln!(
                "weir: reload refused, the running configuration stays: {}: the listeners changed \
                 (addresses or TLS); this version binds listeners at start only, so restart weir to change them",
                running.path.display()
            );
            return;
        }
        // Certificates: the file's, into the running acceptors (the new
        // acceptors were built only to check them).
        for ((addr, acceptor), new) in running.listeners.iter().zip(&cfg.listeners) {
            let Some(acceptor) = acceptor else { continue };
            let pairs = new.certs.iter().map(|(c, k)| CertPair::new(c, k)).collect();
            if let Err(e) = acceptor.reload_with(pairs, new.client_ca.clone()) {
                eprintln!("weir: reload refused, the running configuration stays: TLS on {addr}: {e}");
                return;
            }
        }
    } else {
        site.serve_all_hosts_everywhere();
    }
    let hosts = site.host_names().join(", ");
    cell.replace(site);
    eprintln!(
        "weir: reloaded {} in {} ms (generation {}): hosts {hosts}",
        running.path.display(),
        start.elapsed().as_millis(),
        cell.generation()
    );
}
