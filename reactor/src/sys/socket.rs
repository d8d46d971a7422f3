//! Sockets: `socket(2)`, `setsockopt(2)`, `bind(2)`, `listen(2)`,
//! `accept4(2)`, `connect(2)` and `shutdown(2)`.
//!
//! Listeners are built by hand rather than with `TcpListener::bind` because
//! the options must be set *between* `socket` and `bind`: `SO_REUSEPORT` (so
//! every shard can bind its own listener to the same port and the kernel
//! spreads connections among them), `SO_REUSEADDR` (so a restart does not
//! wait out `TIME_WAIT`), `IPV6_V6ONLY = 0` for `[::]` (one dual-stack
//! socket), and the `listen` backlog. The results are ordinary
//! [`std::net`] types, so they compose with the rest of the ecosystem.

use std::io;
use std::mem;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::ptr;

use super::cvt;

/// How a listening socket is set up.
#[derive(Debug, Clone, Copy)]
pub struct ListenOptions {
    /// `SO_REUSEPORT`: allow several sockets on the same address and port.
    pub reuse_port: bool,
    /// The `listen(2)` backlog (the kernel clamps it to `net.core.somaxconn`).
    pub backlog: u32,
    /// For IPv6 addresses: `IPV6_V6ONLY`. `false` makes `[::]` dual-stack.
    pub v6_only: bool,
}

impl Default for ListenOptions {
    fn default() -> Self {
        ListenOptions { reuse_port: true, backlog: 1024, v6_only: false }
    }
}

/// A non-blocking, close-on-exec TCP socket of `addr`'s family.
fn tcp_socket(addr: &SocketAddr) -> io::Result<(OwnedFd, libc::c_int)> {
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: socket(2) takes no pointers; the arguments are constants.
    let raw = cvt(unsafe {
        libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, 0)
    })?;
    // SAFETY: socket succeeded, so `raw` is a fresh descriptor owned by no one else.
    Ok((unsafe { OwnedFd::from_raw_fd(raw) }, domain))
}

/// Creates a non-blocking, close-on-exec TCP listener bound to `addr`.
///
/// # Errors
///
/// As `socket(2)`, `setsockopt(2)`, `bind(2)`, `listen(2)`; a failed
/// `bind` or `listen` names itself and the address in the message
/// (`bind 127.0.0.1:8080: Address already in use (os error 98)`).
pub fn bind_listener(addr: SocketAddr, opts: &ListenOptions) -> io::Result<TcpListener> {
    let (fd, domain) = tcp_socket(&addr)?;

    set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if opts.reuse_port {
        set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    }
    if domain == libc::AF_INET6 {
        set_int_opt(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, libc::c_int::from(opts.v6_only))?;
    }

    let (storage, len) = sockaddr_from(&addr);
    // SAFETY: `storage` is a sockaddr_storage holding a sockaddr_in/in6 of
    // exactly `len` bytes; the fd is owned and open.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), ptr::from_ref(&storage).cast(), len) })
        .map_err(|e| with_context(e, "bind", addr))?;
    let backlog = opts.backlog.min(libc::c_int::MAX as u32) as libc::c_int;
    // SAFETY: no pointers; the fd is owned and open.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) }).map_err(|e| with_context(e, "listen", addr))?;
    Ok(TcpListener::from(fd))
}

/// Fails with `AddrInUse` ("cannot listen on ADDR: address already in
/// use") if any socket holds `addr`.
///
/// Why: every shard binds its own listener with `SO_REUSEPORT`, and the
/// kernel lets *any* socket of the same user with that option join the
/// group, so a second server started on the same port would bind without
/// error and silently receive part of the connections. A socket bound
/// *without* `SO_REUSEPORT` conflicts with every socket on the address
/// (a listening one above all), so binding one, then closing it at once,
/// tells whether the address is free. (`SO_REUSEADDR` is set on it so a
/// restart is not refused for connections in `TIME_WAIT`.) The shards
/// then bind as before. A second server starting in the same instant,
/// between this check and our bind, is not caught.
///
/// # Errors
///
/// `AddrInUse` as above; other errors of `socket(2)`/`bind(2)` (such as
/// `EADDRNOTAVAIL` for an address of no interface) with the address named.
pub fn check_free(addr: SocketAddr, opts: &ListenOptions) -> io::Result<()> {
    let (fd, domain) = tcp_socket(&addr)?;
    set_int_opt(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    if domain == libc::AF_INET6 {
        set_int_opt(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, libc::c_int::from(opts.v6_only))?;
    }
    let (storage, len) = sockaddr_from(&addr);
    // SAFETY: `storage` is a sockaddr_storage holding a sockaddr_in/in6 of
    // exactly `len` bytes; the fd is owned and open.
    match cvt(unsafe { libc::bind(fd.as_raw_fd(), ptr::from_ref(&storage).cast(), len) }) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("cannot listen on {addr}: address already in use"),
        )),
        Err(e) => Err(io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))),
    }
}

/// `e` with the operation and the address in its message (`bind
/// 127.0.0.1:8080: Address already in use (os error 98)`), its kind kept.
fn with_context(e: io::Error, op: &str, addr: SocketAddr) -> io::Error {
    io::Error::new(e.kind(), format!("{op} {addr}: {e}"))
}

fn sockaddr_from(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data for which all-zero bytes
    // are a valid (unspecified-family) value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr { s_addr: u32::from_ne_bytes(a.ip().octets()) },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned
            // for sockaddr_in (that is its purpose).
            unsafe { ptr::from_mut(&mut storage).cast::<libc::sockaddr_in>().write(sin) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr { s6_addr: a.ip().octets() },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and suitably aligned
            // for sockaddr_in6.
            unsafe { ptr::from_mut(&mut storage).cast::<libc::sockaddr_in6>().write(sin6) };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// `accept4(2)` with `SOCK_NONBLOCK | SOCK_CLOEXEC`: the new connection is
/// non-blocking from birth, with no extra `fcntl` calls. The peer address is
/// not fetched (that would cost a copy per accept); ask the stream for it.
///
/// # Errors
///
/// As `accept4(2)`: [`io::ErrorKind::WouldBlock`] (`EAGAIN`) when no
/// connection is waiting; `EMFILE`/`ENFILE` when out of descriptors (the
/// connection stays queued: the caller must make room or shed it);
/// `ECONNABORTED` for a connection reset before it was accepted.
pub fn accept(listener: &TcpListener) -> io::Result<TcpStream> {
    // SAFETY: null address pointers are allowed by accept4(2) ("addr is
    // NULL: nothing is filled in"); the listener fd is borrowed and open.
    let raw = cvt(unsafe {
        libc::accept4(
            listener.as_raw_fd(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
        )
    })?;
    // SAFETY: accept4 succeeded, so `raw` is a fresh descriptor owned by no one else.
    Ok(TcpStream::from(unsafe { OwnedFd::from_raw_fd(raw) }))
}

/// Starts a non-blocking `connect(2)` to `addr`. Returns the socket and
/// whether it is connected already (possible on loopback); otherwise the
/// kernel answered `EINPROGRESS` and the outcome arrives as the socket's
/// first writable (or error) event: read it with `TcpStream::take_error`
/// (`SO_ERROR`), as connect(2) describes under `EINPROGRESS`.
///
/// # Errors
///
/// Failures the kernel reports at once: no descriptors, no route, a local
/// refusal.
pub fn connect(addr: SocketAddr) -> io::Result<(TcpStream, bool)> {
    let (fd, _) = tcp_socket(&addr)?;
    let (storage, len) = sockaddr_from(&addr);
    // SAFETY: `storage` holds a sockaddr_in/in6 of exactly `len` bytes; the
    // fd is owned and open.
    let res = unsafe { libc::connect(fd.as_raw_fd(), ptr::from_ref(&storage).cast(), len) };
    match cvt(res) {
        Ok(_) => Ok((TcpStream::from(fd), true)),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok((TcpStream::from(fd), false)),
        Err(e) => Err(e),
    }
}

/// `shutdown(fd, SHUT_WR)`: sends FIN after the queued data, keeps reading open.
///
/// # Errors
///
/// As `shutdown(2)`: `ENOTCONN` on a socket that is not connected.
pub fn shutdown_write(fd: &impl AsFd) -> io::Result<()> {
    // SAFETY: no pointers; the fd is borrowed and open.
    cvt(unsafe { libc::shutdown(fd.as_fd().as_raw_fd(), libc::SHUT_WR) })?;
    Ok(())
}

/// `TCP_NODELAY`: send small segments at once instead of waiting (Nagle).
///
/// # Errors
///
/// As `setsockopt(2)`.
pub fn set_nodelay(fd: &impl AsFd, on: bool) -> io::Result<()> {
    set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, libc::c_int::from(on))
}

/// `SO_SNDBUF`: the kernel send buffer (the kernel doubles the value asked for).
///
/// # Errors
///
/// As `setsockopt(2)`.
pub fn set_send_buffer(fd: &impl AsFd, bytes: usize) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, bytes.min(i32::MAX as usize) as libc::c_int)
}

/// `SO_RCVBUF`: the kernel receive buffer (the kernel doubles the value asked for).
///
/// # Errors
///
/// As `setsockopt(2)`.
pub fn set_recv_buffer(fd: &impl AsFd, bytes: usize) -> io::Result<()> {
    set_int_opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, bytes.min(i32::MAX as usize) as libc::c_int)
}

/// Reads `SO_SNDBUF` back (the size the kernel actually uses).
///
/// # Errors
///
/// As `getsockopt(2)`.
pub fn send_buffer(fd: &impl AsFd) -> io::Result<usize> {
    get_int_opt(fd, libc::SOL_SOCKET, libc::SO_SNDBUF).map(|v| v as usize)
}

/// `TCP_DEFER_ACCEPT`: wake the listener only when data has arrived, so a
/// new connection can often be read at once (seconds to wait for it).
///
/// # Errors
///
/// As `setsockopt(2)`.
pub fn set_defer_accept(fd: &impl AsFd, seconds: u32) -> io::Result<()> {
    set_int_opt(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, seconds.min(i32::MAX as u32) as libc::c_int)
}

/// `SO_LINGER` with a zero timeout: `close` sends RST and discards unsent data.
///
/// # Errors
///
/// As `setsockopt(2)`.
pub fn set_linger_zero(fd: &impl AsFd) -> io::Result<()> {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: we pass a pointer to a live `linger` and its exact size; the fd is borrowed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            ptr::from_ref(&linger).cast(),
            mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

fn set_int_opt(fd: &impl AsFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: we pass a pointer to a live c_int and its exact size; the fd is borrowed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            level,
            name,
            ptr::from_ref(&value).cast(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

fn get_int_opt(fd: &impl AsFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: value and len are live locals of the sizes the kernel expects; the fd is borrowed.
    cvt(unsafe {
        libc::getsockopt(fd.as_fd().as_raw_fd(), level, name, ptr::from_mut(&mut value).cast(), &mut len)
    })?;
    Ok(value)
}

/// `setsockopt(TCP_ULP, "tls")`: attaches the kernel's TLS layer to a
/// connected socket, the first step of kernel TLS. Used as a probe: it
/// fails with `ENOENT` where the kernel has no `tls` module.
///
/// # Errors
///
/// As `setsockopt(2)`: `ENOENT` (no kernel TLS), `ENOTCONN` (not connected).
pub fn set_tls_ulp(fd: &impl AsFd) -> io::Result<()> {
    const NAME: &[u8] = b"tls";
    // SAFETY: we pass a pointer to a static byte string and its exact
    // length; the fd is borrowed.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_fd().as_raw_fd(),
            libc::SOL_TCP,
            libc::TCP_ULP,
            NAME.as_ptr().cast(),
            NAME.len() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// The listening sockets a service manager passed to this process (the
/// `sd_listen_fds` protocol of systemd socket activation, also spoken by
/// `systemd-socket-activate`): descriptors `3 ..` counted by `LISTEN_FDS`,
/// for the process named by `LISTEN_PID`, named by `LISTEN_FDNAMES`
/// (colon-separated; `""` when unnamed). Each must be a listening TCP
/// socket; it is made non-blocking and close-on-exec. The variables are
/// removed, so the sockets are taken once and not passed on to children.
/// Call it early in `main`, before other threads start.
///
/// # Errors
///
/// `InvalidInput` if a passed descriptor is not a listening TCP socket;
/// as `fcntl(2)`. No variables (not socket-activated): an empty list.
pub fn inherited_listeners() -> io::Result<Vec<(String, TcpListener)>> {
    const FIRST: libc::c_int = 3;
    let pid = std::env::var("LISTEN_PID").ok().and_then(|p| p.parse::<u32>().ok());
    let count = std::env::var("LISTEN_FDS").ok().and_then(|n| n.parse::<libc::c_int>().ok());
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let (Some(pid), Some(count)) = (pid, count) else { return Ok(Vec::new()) };
    if pid != std::process::id() || count <= 0 {
        return Ok(Vec::new());
    }
    let mut names = names.split(':');
    let mut out = Vec::new();
    for fd in FIRST..FIRST.saturating_add(count) {
        let name = names.next().unwrap_or("").to_owned();
        // SAFETY: the service manager passed descriptors 3 .. 3 + LISTEN_FDS
        // to this very process (LISTEN_PID is ours); nothing else in the
        // process owns them, and the variables are gone, so no second call
        // can take them again. Ownership moves into the `OwnedFd` here.
        let owned = unsafe { OwnedFd::from_raw_fd(fd) };
        let listening = get_int_opt(&owned, libc::SOL_SOCKET, libc::SO_ACCEPTCONN).unwrap_or(0) == 1;
        let stream = get_int_opt(&owned, libc::SOL_SOCKET, libc::SO_TYPE).unwrap_or(0) == libc::SOCK_STREAM;
        let domain = get_int_opt(&owned, libc::SOL_SOCKET, libc::SO_DOMAIN).unwrap_or(0);
        if !listening || !stream || !matches!(domain, libc::AF_INET | libc::AF_INET6) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("inherited descriptor {fd} ({name:?}) is not a listening TCP socket"),
            ));
        }
        // SAFETY: the fd is open and owned by `owned`; F_SETFD/F_SETFL take no pointers.
        cvt(unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) })?;
        // SAFETY: as above.
        let flags = cvt(unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_GETFL) })?;
        // SAFETY: as above.
        cvt(unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
        out.push((name, TcpListener::from(owned)));
    }
    Ok(out)
}
