//! systemd socket activation and `sd_notify`, with systemd's own
//! `systemd-socket-activate` (Debian package `systemd`) as the service
//! manager: it binds the sockets, passes them to `weir` as descriptors 3
//! and 4 with their names, and `weir` must serve on them (and bind nothing
//! of its own) and report READY=1 then STOPPING=1 on `$NOTIFY_SOCKET`.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn notice(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("a notification within the patience");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn serves_on_passed_sockets_and_notifies_the_manager() {
    if Command::new("systemd-socket-activate").arg("--help").output().is_err() {
        panic!("systemd-socket-activate is needed (apt-get install systemd)");
    }
    let dir = std::env::temp_dir().join(format!("weir-sa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let notify_path = dir.join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(PATIENCE)).unwrap();
    let (web, admin) = (free_port(), free_port());
    let mut child = Command::new("systemd-socket-activate")
        .args(["-l", &format!("127.0.0.1:{web}"), "-l", &format!("127.0.0.1:{admin}"), "--fdname=web:admin"])
        .arg(format!("--setenv=NOTIFY_SOCKET={}", notify_path.display()))
        .arg(env!("CARGO_BIN_EXE_weir"))
        .args(["--threads", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Ready to be connected to once it says it listens on both (stderr).
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut listening = 0;
    while listening < 2 {
        let mut line = String::new();
        assert!(std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0, "the manager exited");
        if line.starts_with("Listening on") {
            listening += 1;
        }
    }
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    // The manager starts weir when the first connection arrives.
    let web_addr: SocketAddr = format!("127.0.0.1:{web}").parse().unwrap();
    let answer = get(web_addr, "/ping");
    assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("pong"), "{answer}");
    assert_eq!(notice(&notify), "READY=1");
    let ready = get(format!("127.0.0.1:{admin}").parse().unwrap(), "/readyz");
    assert!(ready.starts_with("HTTP/1.1 200 OK"), "{ready}");
    // Nothing of its own: the default 127.0.0.1:8080 is not bound by this weir.
    let mut out = String::new();
    // SIGTERM: a graceful stop, announced.
    let pid = child.id();
    let killed = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    assert_eq!(notice(&notify), "STOPPING=1");
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    assert!(out.contains(&format!("weir listening on http://127.0.0.1:{web}/")), "{out}");
    assert!(
        out.contains(&format!("weir admin (metrics, health) on http://127.0.0.1:{admin}/metrics")),
        "{out}"
    );
    assert!(!out.contains(":8080"), "weir bound its default address as well: {out}");
    let _ = std::fs::remove_dir_all(dir);
}
