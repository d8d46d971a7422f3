//! Shared helpers for the end-to-end tests: a server on an ephemeral
//! loopback port and a raw HTTP/1.1 response reader.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use weir::{App, Server, ServerConfig};

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
        // A failing test must not hang forever.
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Client { r: BufReader::new(s.try_clone().unwrap()), w: s }
    }

    /// A WebSocket client (tungstenite) upgraded at `path`.
    pub fn ws_connect(&self, path: &str) -> tungstenite::WebSocket<TcpStream> {
        let stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
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
    pub fn read(&mut self, head: bool) -> Resp {
        self.try_read(head).expect("a response")
    }

    pub fn try_read(&mut self, head: bool) -> Option<Resp> {
        let mut line = String::new();
        if self.r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status: u16 = line.split(' ').nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut l = String::new();
            self.r.read_line(&mut l).ok()?;
            let l = l.trim_end_matches(['\r', '\n']);
            if l.is_empty() {
                break;
            }
            let (n, v) = l.split_once(':')?;
            headers.push((n.to_string(), v.trim().to_string()));
        }
        let mut resp = Resp { status, headers, body: Vec::new() };
        if head || status == 204 || status == 304 || (100..200).contains(&status) {
            return Some(resp);
        }
        if let Some(len) = resp.header("content-length") {
            let mut body = vec![0; len.parse().ok()?];
            self.r.read_exact(&mut body).ok()?;
            resp.body = body;
        } else if resp.header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            loop {
                let mut size = String::new();
                self.r.read_line(&mut size).ok()?;
                let n = usize::from_str_radix(size.trim(), 16).ok()?;
                let mut chunk = vec![0; n + 2];
                self.r.read_exact(&mut chunk).ok()?;
                if n == 0 {
                    break;
                }
                resp.body.extend_from_slice(&chunk[..n]);
            }
        } else {
            self.r.read_to_end(&mut resp.body).ok()?;
        }
        Some(resp)
    }

    /// True when the server closed the connection (EOF with no more bytes).
    pub fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(self.r.read(&mut b), Ok(0) | Err(_))
    }
}
