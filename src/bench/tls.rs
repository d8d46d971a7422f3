//! `https://` and `wss://`: the client side of TLS for every workload.
//!
//! Each load thread (each client shard) has a connector of its own, built
//! before the run starts, so a bad `--tls-ca` fails the run at once and no
//! two threads share a session slot or a lock:
//!
//! ```text
//!   connect(2) completes ─ Protocol::on_connected
//!      │ Ctx::start_transport(|sock| connector.wrap(sock, SNI))
//!      v
//!   the shard sends the ClientHello on its next flush and drives the
//!   handshake on each readable/writable edge; the workload writes and
//!   reads plaintext exactly as over TCP (load.rs, broadcast.rs)
//! ```
//!
//! * **ALPN** offers `http/1.1` only ([`ALPN_HTTP1`]): the workloads speak
//!   HTTP/1.1, and a WebSocket upgrade is an HTTP/1.1 request.
//! * **Verification** is off by default: a benchmark runs against a test
//!   certificate. `--tls-ca FILE` verifies the chain against that CA and,
//!   when the URL names a host, the certificate's names against it.
//! * **Resumption** (`--tls-resume`): the connector keeps the newest
//!   session it was given (with TLS 1.3, the tickets that arrive after the
//!   handshake) and offers it on each new connection. Connections opened
//!   together at the start find no session yet and do full handshakes;
//!   later ones (`--close`: every request after the first per thread)
//!   resume. Without it, every connection does a full handshake.
//!
//! The SNI name is the URL's host, unless it is an IP address literal
//! (RFC 6066 §3 allows only DNS names; the connector then sends none).
//!
//! The reactor reports no per-connection handshake outcome to a client
//! protocol, so the report states the mode asked for, not a count of
//! handshakes that did resume: the server's counters
//! (`TlsAcceptor::stats`, `/stats`) say how many did.

use std::io;
use std::net::TcpStream;
use std::path::PathBuf;

use weir_reactor::tls::{TlsConnector, ALPN_HTTP1};
use weir_reactor::{Ctx, Transport};

/// How connections handshake (`--tls-ca`, `--tls-resume`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// Verify the server's certificate against this CA file.
    pub ca: Option<PathBuf>,
    /// Offer the last session on each new connection.
    pub resume: bool,
}

impl TlsOptions {
    /// `"full"` or `"resumed"`: the handshakes asked for.
    pub fn handshakes(&self) -> &'static str {
        if self.resume {
            "resumed"
        } else {
            "full"
        }
    }

    /// One line for the text report.
    pub fn describe(&self) -> String {
        let handshakes = if self.resume {
            "sessions resumed (each connection offers the last session)"
        } else {
            "a full handshake per connection"
        };
        let verify = match &self.ca {
            Some(ca) => format!("certificate verified against {}", ca.display()),
            None => "certificate not verified".to_string(),
        };
        format!("{handshakes}, {verify}")
    }

    /// The `"tls"` object of the JSON report.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "handshakes": self.handshakes(),
            "verify": self.ca.is_some(),
            "ca": self.ca.as_ref().map(|p| p.display().to_string()),
        })
    }
}

/// The TLS client of a run: one connector per load thread.
#[derive(Debug)]
pub struct ClientTls {
    /// What was asked for.
    pub options: TlsOptions,
    /// SNI and the name checked when verifying (`None`: an IP literal).
    server_name: Option<String>,
    connectors: Vec<TlsConnector>,
}

impl ClientTls {
    /// Builds `threads` connectors for `host` (the URL's host).
    ///
    /// # Errors
    ///
    /// The CA file cannot be read, or OpenSSL refuses a setting.
    pub fn new(options: TlsOptions, host: &str, threads: usize) -> io::Result<ClientTls> {
        let connectors = (0..threads.max(1))
            .map(|_| TlsConnector::new(ALPN_HTTP1, options.ca.as_deref(), options.resume))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("TLS: {e}")))?;
        let server_name = host.parse::<std::net::IpAddr>().is_err().then(|| host.to_string());
        Ok(ClientTls { options, server_name, connectors })
    }

    /// A client transport for `sock` from load thread `thread`'s connector.
    ///
    /// # Errors
    ///
    /// OpenSSL could not set the connection up.
    pub fn wrap(&self, thread: usize, sock: &TcpStream) -> io::Result<Box<dyn Transport>> {
        let connector = self
            .connectors
            .get(thread)
            .ok_or_else(|| io::Error::other(format!("no TLS connector for load thread {thread}")))?;
        connector.wrap(sock, self.server_name.as_deref())
    }

    /// Puts TLS under a connection that has just connected (from
    /// `on_connected`, before anything is written to it).
    ///
    /// # Errors
    ///
    /// As [`ClientTls::wrap`], or the connection already has bytes queued.
    pub fn start<M: Send + 'static>(&self, thread: usize, cx: &mut Ctx<'_, M>) -> io::Result<()> {
        cx.start_transport(|sock| self.wrap(thread, sock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_its_mode() {
        let full = TlsOptions { ca: None, resume: false };
        assert_eq!(full.handshakes(), "full");
        assert_eq!(full.describe(), "a full handshake per connection, certificate not verified");
        assert_eq!(full.to_json(), serde_json::json!({"handshakes": "full", "verify": false, "ca": null}));
        let resumed = TlsOptions { ca: Some("ca.pem".into()), resume: true };
        assert_eq!(resumed.handshakes(), "resumed");
        assert!(resumed.describe().ends_with("certificate verified against ca.pem"));
        assert_eq!(resumed.to_json()["ca"], "ca.pem");
    }

    #[test]
    fn sni_is_the_host_name_never_an_address() {
        let opts = TlsOptions { ca: None, resume: false };
        let named = ClientTls::new(opts.clone(), "localhost", 2).unwrap();
        assert_eq!((named.server_name.as_deref(), named.connectors.len()), (Some("localhost"), 2));
        assert_eq!(ClientTls::new(opts.clone(), "127.0.0.1", 1).unwrap().server_name, None);
        assert_eq!(ClientTls::new(opts, "::1", 1).unwrap().server_name, None);
    }

    #[test]
    fn a_missing_ca_file_fails_at_once() {
        let opts = TlsOptions { ca: Some("/nonexistent/ca.pem".into()), resume: false };
        let e = ClientTls::new(opts, "localhost", 1).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
    }
}
