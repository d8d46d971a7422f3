//! Base64 (RFC 4648 §4, standard alphabet, with `=` padding) for the handshake.
//!
//! Two uses in RFC 6455 §4:
//!
//! - the client's `Sec-WebSocket-Key` "MUST be a nonce consisting of a randomly
//!   selected 16-byte value that has been base64-encoded": the server decodes
//!   it only to check that it is exactly 16 bytes (`decode`);
//! - the server's `Sec-WebSocket-Accept` is the base64 of a 20-byte SHA-1
//!   digest ([`encode`]).
//!
//! Every 3 input bytes become 4 output characters of 6 bits each; a final
//! group of 1 or 2 bytes is padded with `==` or `=`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Length of the base64 encoding of `n` bytes.
pub(crate) const fn encoded_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Appends the base64 encoding of `input` to `out`.
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(input.len()));
    let mut chunks = input.chunks_exact(3);
    for c in &mut chunks {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        out.extend_from_slice(&[
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ]);
    }
    match *chunks.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                b'=',
                b'=',
            ]);
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                ALPHABET[(n >> 6) as usize & 63],
                b'=',
            ]);
        }
        _ => {}
    }
}

fn sextet(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Decodes padded base64 `input` and appends the bytes to `out`.
///
/// # Errors
///
/// Returns `Err(())` (and leaves `out` in an unspecified state) if the length
/// is not a multiple of 4, a character is outside the alphabet, padding is
/// misplaced, or the unused bits of the last group are not zero (so every
/// byte string has exactly one accepted encoding).
#[allow(clippy::result_unit_err)]
pub(crate) fn decode(input: &[u8], out: &mut Vec<u8>) -> Result<(), ()> {
    if input.len() & 3 != 0 {
        return Err(());
    }
    let groups = input.len() / 4;
    for (i, g) in input.chunks_exact(4).enumerate() {
        let last = i + 1 == groups;
        let pad = match (g[2], g[3]) {
            (b'=', b'=') if last => 2,
            (_, b'=') if last => 1,
            _ => 0,
        };
        let mut n = 0u32;
        for &c in &g[..4 - pad] {
            n = (n << 6) | sextet(c).ok_or(())?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        match pad {
            0 => out.extend_from_slice(&bytes),
            1 if bytes[2] == 0 => out.extend_from_slice(&bytes[..2]),
            2 if bytes[1] == 0 && bytes[2] == 0 => out.push(bytes[0]),
            _ => return Err(()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        // RFC 4648 §10.
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            let mut out = Vec::new();
            encode(plain.as_bytes(), &mut out);
            assert_eq!(out, enc.as_bytes());
            let mut back = Vec::new();
            decode(enc.as_bytes(), &mut back).unwrap();
            assert_eq!(back, plain.as_bytes());
            assert_eq!(encoded_len(plain.len()), enc.len());
        }
    }

    #[test]
    fn round_trip_all_lengths_and_bytes() {
        let data: Vec<u8> = (0..=255u8).collect();
        for len in 0..data.len() {
            let mut enc = Vec::new();
            encode(&data[..len], &mut enc);
            let mut dec = Vec::new();
            decode(&enc, &mut dec).unwrap();
            assert_eq!(dec, &data[..len]);
        }
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b"Zg="[..], // length not a multiple of 4
            b"Zg=a",     // data after padding
            b"Z===",     // too much padding
            b"Zh==",     // non-zero unused bits
            b"Zm9=Zm9v", // padding before the last group
            b"Zm9*",     // outside the alphabet
            b"dGhlIHNhbXBsZSBub25jZQ=\n",
        ] {
            assert!(decode(bad, &mut Vec::new()).is_err(), "{bad:?}");
        }
    }
}
