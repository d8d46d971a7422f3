//! Shared helpers for the end-to-end tests: a server on an ephemeral
//! loopback port and a raw HTTP/1.1 response reader.

// Test code: a failed unwrap is a failed test (the workspace denies unwrap in library code).
#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use weir::{App, Server, ServerConfig};

/// How long a test client waits for the server's next byte (or its close).
/// A failing test must not hang forever, yet a slow or loaded CI machine
/// must not turn a slow answer into a failure: every wait in these tests is
/// for something the server does at once or after a sub-second server
/// timeout, so 10 s is far above the real delay.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct TestServer {
    pub server: Option<Server>,
    pub addr: SocketAddr,
}

impl TestServer {
    pub fn start(app: App) -> TestServer {
        Self::with_config(app, ServerConfig::default(), 1)
    }

    pub fn with_config(app: App, config: ServerConfig, shards: usize) -> TestServer {
        let server = Server::builder(app)
            .shards(shards)
            .config(config)
            .listen("127.0.0.1:0".parse().unwrap())
            .start()
            .expect("server starts");
        let addr = server.local_addrs()[0];
        TestServer { server: Some(server), addr }
    }

    pub fn connect(&self) -> Client {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        Client { r: BufReader::new(s.try_clone().unwrap()), w: s }
    }

    /// A WebSocket client (tungstenite) upgraded at `path`.
    pub fn ws_connect(&self, path: &str) -> tungstenite::WebSocket<TcpStream> {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        let (ws, resp) = tungstenite::client(format!("ws://{}{path}", self.addr), stream).unwrap();
        assert_eq!(resp.status(), 101);
        ws
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop();
            s.join().unwrap();
        }
    }
}

/// The next text message, skipping pings and pongs.
pub fn ws_next_text(ws: &mut tungstenite::WebSocket<TcpStream>) -> String {
    loop {
        match ws.read().unwrap() {
            tungstenite::Message::Text(t) => return t.to_string(),
            tungstenite::Message::Ping(_) | tungstenite::Message::Pong(_) => continue,
            other => panic!("unexpected {other:?}"),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.stop();
        }
    }
}

#[derive(Debug)]
pub struct Client {
    pub r: BufReader<TcpStream>,
    pub w: TcpStream,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    pub fn send(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// Reads one response; `head` = it answers a HEAD request (no body).
    ///
    /// # Panics
    ///
    /// When no complete response arrives: EOF, reset, timeout or a garbled
    /// head, each named in the message.
    #[track_caller]
    pub fn read(&mut self, head: bool) -> Resp {
        match self.try_read(head) {
            Ok(Some(resp)) => resp,
            Ok(None) => panic!("expected a response, the server closed the connection"),
            Err(e) => panic!("expected a response: {e}"),
        }
    }

    /// Reads one response. `Ok(None)` only for a clean close before its
    /// first byte; a timeout, a reset or a truncated response is an `Err`.
    pub fn try_read(&mut self, head: bool) -> io::Result<Option<Resp>> {
        let mut line = String::new();
        if self.r.read_line(&mut line).map_err(|e| timed(e, "the status line"))? == 0 {
            return Ok(None);
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("status line {line:?}")))?;
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            if self.r.read_line(&mut l).map_err(|e| timed(e, "a header line"))? == 0 {
                return Err(eof("the head"));
            }
            let l = l.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':').ok_or_else(|| bad(format!("header line {l:?}")))?;
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut resp = Resp { status, headers, body: Vec::new() };
        if head || status == 204 || status == 304 || (100..200).contains(&status) {
            return Ok(Some(resp));
        }
        if let Some(len) = resp.header("content-length") {
            let len = len.parse().map_err(|_| bad(format!("Content-Length {len:?}")))?;
            let mut body = vec![0; len];
            self.r.read_exact(&mut body).map_err(|e| timed(e, "the body"))?;
            resp.body = body;
        } else if resp.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let mut size = String::new();
                self.r.read_line(&mut size).map_err(|e| timed(e, "a chunk size"))?;
                let n = usize::from_str_radix(size.trim(), 16)
                    .map_err(|_| bad(format!("chunk size line {size:?}")))?;
                let mut chunk = vec![0; n + 2];
                self.r.read_exact(&mut chunk).map_err(|e| timed(e, "a chunk"))?;
                if n == 0 {
                    break;
                }
                resp.body.extend_from_slice(&chunk[..n]);
            }
        } else {
            // Delimited by the close: a timeout here means it never came.
            self.r.read_to_end(&mut resp.body).map_err(|e| timed(e, "the close ending the body"))?;
        }
        Ok(Some(resp))
    }

    /// Reads one response head exactly as sent, up to and including the
    /// blank line (for tests that check every header line).
    pub fn read_raw_head(&mut self) -> String {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if self.r.read_line(&mut line).expect("a head line") == 0 {
                panic!("connection closed inside a head: {head:?}");
            }
            head.push_str(&line);
            if line == "\r\n" {
                return head;
            }
        }
    }

    /// How the connection ends from here, waiting up to [`READ_TIMEOUT`].
    pub fn ending(&mut self) -> Ending {
        let mut b = [0u8; 1];
        match self.r.read(&mut b) {
            Ok(0) => Ending::Eof,
            Ok(_) => Ending::Byte(b[0]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => Ending::Reset,
            Err(e) if is_timeout(&e) => Ending::TimedOut,
            Err(e) => Ending::Error(e),
        }
    }

    /// True only when the server closed the connection with no more bytes:
    /// EOF, or a reset (a close with our unread bytes in its buffer). A
    /// timeout is not a close. Prefer [`Client::assert_closed`], whose
    /// message says what happened instead.
    pub fn closed(&mut self) -> bool {
        matches!(self.ending(), Ending::Eof | Ending::Reset)
    }

    /// Asserts the server closed the connection with no more bytes.
    ///
    /// # Panics
    ///
    /// When a byte arrives, the read times out, or fails otherwise; the
    /// message names which, after `context`.
    #[track_caller]
    pub fn assert_closed(&mut self, context: &str) {
        match self.ending() {
            Ending::Eof | Ending::Reset => {}
            Ending::TimedOut => {
                panic!("{context}: the server did not close the connection within {READ_TIMEOUT:?}")
            }
            Ending::Byte(b) => panic!("{context}: expected the close, got byte {b:#04x} ({:?})", b as char),
            Ending::Error(e) => panic!("{context}: expected the close, the read failed: {e}"),
        }
    }
}

/// What a read found where a test expects the server's close.
#[derive(Debug)]
pub enum Ending {
    /// A clean close (FIN): `read` returned 0.
    Eof,
    /// The server closed with bytes of ours unread, so its kernel sent RST.
    Reset,
    /// Nothing arrived within [`READ_TIMEOUT`]: the connection is still open.
    TimedOut,
    /// The server sent more bytes instead.
    Byte(u8),
    /// Any other failure.
    Error(io::Error),
}

/// A socket read timeout shows up as `WouldBlock` (EAGAIN) on Linux, as
/// `TimedOut` elsewhere.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Names what was awaited in an I/O error, and says "timed out" plainly.
fn timed(e: io::Error, awaiting: &str) -> io::Error {
    if is_timeout(&e) {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("timed out after {READ_TIMEOUT:?} awaiting {awaiting}"),
        )
    } else {
        io::Error::new(e.kind(), format!("{e} awaiting {awaiting}"))
    }
}

fn eof(awaiting: &str) -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, format!("the server closed the connection in {awaiting}"))
}

fn bad(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed response: {what}"))
}
