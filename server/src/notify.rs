//! `sd_notify`: telling a service manager (systemd) what the server is
//! doing — `READY=1` once it serves, `RELOADING=1` while it reloads,
//! `STOPPING=1` when a graceful stop begins — without linking libsystemd.
//!
//! The protocol (`sd_notify(3)`) is one datagram of `KEY=VALUE` lines to
//! the Unix socket named by `$NOTIFY_SOCKET`: a path, or, with a leading
//! `@`, a name in the abstract namespace. No variable: not run by a service
//! manager that listens, and nothing is sent.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends `state` (e.g. `"READY=1"`) to the service manager. Returns whether
/// there was one to send it to.
///
/// # Errors
///
/// The socket named by `$NOTIFY_SOCKET` cannot be reached.
pub fn sd_notify(state: &str) -> io::Result<bool> {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let path = path.to_string_lossy().into_owned();
    let addr = match path.strip_prefix('@') {
        Some(name) => SocketAddr::from_abstract_name(name.as_bytes())?,
        None => SocketAddr::from_pathname(&path)?,
    };
    let sock = UnixDatagram::unbound()?;
    sock.send_to_addr(state.as_bytes(), &addr)?;
    Ok(true)
}

/// `RELOADING=1` with the `MONOTONIC_USEC` a `Type=notify-reload` service
/// must send with it.
pub(crate) fn reloading() -> String {
    let usec = weir_reactor::sys::clock::monotonic_ns() / 1000;
    format!("RELOADING=1\nMONOTONIC_USEC={usec}")
}
