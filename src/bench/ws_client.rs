//! The client's half of the WebSocket opening handshake (RFC 6455 §4.1),
//! shared by the echo and broadcast workloads and `--hold`.
//!
//! ```text
//!   GET /ws/echo HTTP/1.1            (the head built once per run)
//!   Host: ... Upgrade: websocket ...
//!   Sec-WebSocket-Key: <16 random bytes, base64>      (per connection)
//!                                      <──  HTTP/1.1 101 ...
//!                                           Sec-WebSocket-Accept: base64(SHA-1(key ++ GUID))
//! ```

use super::driver::{ErrorKind, Rng};
use super::framing::MAX_HEAD_LEN;

/// The `Sec-WebSocket-Accept` value a server must answer with.
pub type AcceptKey = [u8; weir_ws::handshake::ACCEPT_KEY_LEN];

/// Appends the upgrade request — `head` (request line and headers, without
/// the key and the blank line) plus a fresh key — to `out`, and returns the
/// accept value to expect.
pub fn write_upgrade(head: &[u8], rng: &mut Rng, out: &mut Vec<u8>) -> AcceptKey {
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    nonce[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    let key = weir_ws::handshake::client_key(&nonce);
    out.extend_from_slice(head);
    out.extend_from_slice(b"Sec-WebSocket-Key: ");
    out.extend_from_slice(&key);
    out.extend_from_slice(b"\r\n\r\n");
    weir_ws::handshake::accept_key(&key)
}

/// Checks the server's answer to the upgrade request (RFC 6455 §4.1: status
/// 101 and `Sec-WebSocket-Accept` = base64(SHA-1(key ++ GUID))). Returns the
/// head's length, or `None` while it is incomplete.
///
/// # Errors
///
/// A status other than 101 (as 4xx, 5xx or parse), or a wrong accept value.
pub fn check_upgrade(buf: &[u8], expected: &[u8]) -> Result<Option<usize>, ErrorKind> {
    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD_LEN { Err(ErrorKind::Parse) } else { Ok(None) };
    };
    let head = &buf[..end];
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(match head.get(9) {
            Some(b'4') => ErrorKind::Status4xx,
            Some(b'5') => ErrorKind::Status5xx,
            _ => ErrorKind::Parse,
        });
    }
    let accepted = head.split(|&b| b == b'\n').any(|line| {
        let Some(colon) = line.iter().position(|&b| b == b':') else { return false };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        name.eq_ignore_ascii_case(b"sec-websocket-accept") && value.trim_ascii() == expected
    });
    if accepted {
        Ok(Some(end + 4))
    } else {
        Err(ErrorKind::Parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrade_response_is_checked() {
        let key = b"dGhlIHNhbXBsZSBub25jZQ==";
        let accept = weir_ws::handshake::accept_key(key);
        let ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x00";
        assert_eq!(check_upgrade(ok, &accept), Ok(Some(ok.len() - 2)));
        assert_eq!(check_upgrade(&ok[..40], &accept), Ok(None));
        assert_eq!(check_upgrade(b"HTTP/1.1 404 Not Found\r\n\r\n", &accept), Err(ErrorKind::Status4xx));
        let wrong = b"HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
        assert_eq!(check_upgrade(wrong, &accept), Err(ErrorKind::Parse));
    }

    #[test]
    fn requests_carry_a_fresh_key() {
        let mut rng = Rng::new(1);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ka = write_upgrade(b"GET / HTTP/1.1\r\n", &mut rng, &mut a);
        let kb = write_upgrade(b"GET / HTTP/1.1\r\n", &mut rng, &mut b);
        assert_ne!(a, b);
        assert_ne!(ka, kb);
        assert!(a.starts_with(b"GET / HTTP/1.1\r\nSec-WebSocket-Key: ") && a.ends_with(b"==\r\n\r\n"));
    }
}
