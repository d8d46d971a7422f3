//! Incremental UTF-8 validation for text messages (RFC 6455 §5.6, §8.1; RFC 3629 §4).
//!
//! > When an endpoint is to interpret a byte stream as UTF-8 but finds that
//! > the byte stream is not, in fact, a valid UTF-8 stream, that endpoint
//! > MUST _Fail the WebSocket Connection_. (§8.1)
//!
//! A text message may arrive in many frames, and a frame in many reads; a
//! code point may be cut anywhere. Autobahn (cases 6.x) checks that a server
//! fails *fast*: as soon as the bytes seen so far cannot be the prefix of any
//! valid UTF-8 string, not at the end of the message.
//!
//! ```text
//!   chunk 1: "κόσμε \xce"   valid so far, one code point open (needs 1 more byte)
//!   chunk 2: "\xbc ok"      completes it
//!   chunk 3: "\xed\xa0"     surrogate: no continuation can fix this -> fail now
//! ```
//!
//! # How it works
//!
//! [`Utf8Validator`] keeps only the state of the code point left open at the
//! end of the previous chunk (one byte). For each new chunk it first finishes
//! that code point byte by byte with the RFC 3629 table (the only place where
//! the second byte has a narrower range: after `E0`, `ED`, `F0`, `F4`); the
//! rest of the chunk goes to `core::str::from_utf8`, which is well optimised.
//! `from_utf8` tells apart "invalid byte" (`error_len() == Some(_)`, fail now)
//! from "input ended inside a code point" (`None`, keep the tail's state).
//!
//! ```text
//! UTF8-2 = %xC2-DF UTF8-tail
//! UTF8-3 = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
//!          %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
//! UTF8-4 = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
//!          %xF4 %x80-8F 2( UTF8-tail )
//! UTF8-tail = %x80-BF
//! ```

/// The bytes seen so far can never become valid UTF-8.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

/// Validates UTF-8 fed in arbitrary pieces. One byte of state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Utf8Validator {
    /// Low 2 bits: continuation bytes still needed (0..=3).
    /// Bits 4..: the allowed range of the *next* byte (see `range`).
    state: u8,
}

// Range of the next continuation byte, stored in bits 4..7 of `state`.
const R_TAIL: u8 = 0 << 4; // 80..=BF
const R_E0: u8 = 1 << 4; // A0..=BF
const R_ED: u8 = 2 << 4; // 80..=9F
const R_F0: u8 = 3 << 4; // 90..=BF
const R_F4: u8 = 4 << 4; // 80..=8F

impl Utf8Validator {
    /// A validator at a code point boundary.
    pub(crate) const fn new() -> Self {
        Utf8Validator { state: 0 }
    }

    /// True if the input so far ends on a code point boundary.
    pub(crate) fn is_complete(&self) -> bool {
        self.state == 0
    }

    /// Validates the next piece of the stream.
    ///
    /// # Errors
    ///
    /// [`InvalidUtf8`] as soon as a byte makes the stream invalid, whatever
    /// could follow. An incomplete code point at the end of `bytes` is not
    /// an error: call [`finish`](Self::finish) at the end of the message.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<(), InvalidUtf8> {
        // 1. Finish a code point left open by the previous piece.
        while self.state != 0 {
            let Some((&b, rest)) = bytes.split_first() else {
                return Ok(());
            };
            let (lo, hi) = match self.state & 0xF0 {
                R_E0 => (0xA0, 0xBF),
                R_ED => (0x80, 0x9F),
                R_F0 => (0x90, 0xBF),
                R_F4 => (0x80, 0x8F),
                _ => (0x80, 0xBF),
            };
            if b < lo || b > hi {
                return Err(InvalidUtf8);
            }
            // One fewer byte needed; later bytes are plain tails.
            self.state = (self.state & 0x03) - 1;
            bytes = rest;
        }
        // 2. The bulk, at a code point boundary.
        match core::str::from_utf8(bytes) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(InvalidUtf8),
            Err(e) => {
                // The input ended inside a code point: record what it needs.
                // `from_utf8` has already checked that the tail is a valid prefix.
                let tail = &bytes[e.valid_up_to()..];
                let lead = tail[0];
                let (need, range) = match lead {
                    0xC2..=0xDF => (1, R_TAIL),
                    0xE0 => (2, R_E0),
                    0xED => (2, R_ED),
                    0xE1..=0xEF => (2, R_TAIL),
                    0xF0 => (3, R_F0),
                    0xF4 => (3, R_F4),
                    _ => (3, R_TAIL), // F1..=F3
                };
                let seen = tail.len() as u8 - 1; // continuation bytes present
                self.state = if seen == 0 { need | range } else { need - seen };
                Ok(())
            }
        }
    }

    /// Checks that the stream ended on a code point boundary.
    ///
    /// # Errors
    ///
    /// [`InvalidUtf8`] if a code point was left incomplete.
    pub(crate) fn finish(&self) -> Result<(), InvalidUtf8> {
        if self.is_complete() {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: whole-input validation, and the index of the first byte
    /// after which the prefix can no longer be extended to valid UTF-8
    /// (`bytes.len()` if there is none).
    fn reference(bytes: &[u8]) -> (bool, usize) {
        let valid = core::str::from_utf8(bytes).is_ok();
        let bad = (0..bytes.len())
            .find(|&i| matches!(core::str::from_utf8(&bytes[..=i]), Err(e) if e.error_len().is_some()))
            .unwrap_or(bytes.len());
        (valid, bad)
    }

    /// Feeds `bytes` cut at `cuts` and returns (valid, index of the chunk that failed).
    fn feed_split(bytes: &[u8], cuts: &[usize]) -> Result<bool, usize> {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        for (i, &end) in cuts.iter().chain(std::iter::once(&bytes.len())).enumerate() {
            v.feed(&bytes[start..end]).map_err(|_| i)?;
            start = end;
        }
        Ok(v.finish().is_ok())
    }

    fn samples() -> Vec<Vec<u8>> {
        let mut s: Vec<Vec<u8>> = vec![
            "Hello-µ@ßöäüàá-UTF-8!!".into(),
            "κόσμε".into(),
            "\u{10FFFF}\u{FFFF}\u{D7FF}\u{E000}\u{80}\u{7FF}\u{800}".into(),
            b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited".to_vec(),
            b"\xf4\x90\x80\x80".to_vec(),
            b"\xf5".to_vec(),
            b"\xc0\xaf".to_vec(),
            b"\xe0\x80\xaf".to_vec(),
            b"\xed\x9f\xbf".to_vec(),
            b"\xef\xbf\xbf".to_vec(),
            b"\xf0\x8f\xbf\xbf".to_vec(),
            b"\xce".to_vec(),
            b"\x80".to_vec(),
            b"abc\xe2\x82".to_vec(),
            b"\xf0\x9f\x98\x80\xf0\x9f\x98".to_vec(),
        ];
        // Every 1- and 2-byte sequence plus a few 3/4-byte prefixes.
        for a in 0..=255u8 {
            s.push(vec![a]);
            for b in [0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xff] {
                s.push(vec![a, b]);
                s.push(vec![a, b, 0x80, 0x80]);
            }
        }
        s
    }

    #[test]
    fn every_split_point_matches_whole_validation() {
        for bytes in samples() {
            let (valid, fail_at) = reference(&bytes);
            let whole = if fail_at < bytes.len() { Err(0) } else { Ok(valid) };
            assert_eq!(feed_split(&bytes, &[]), whole);
            for cut in 0..=bytes.len() {
                let got = feed_split(&bytes, &[cut]);
                match got {
                    Ok(v) => {
                        assert_eq!(v, valid, "{bytes:x?} cut {cut}");
                        // Not failed early => the invalidity is only an unfinished tail.
                        if !valid {
                            assert_eq!(fail_at, bytes.len(), "{bytes:x?} cut {cut}");
                        }
                    }
                    Err(chunk) => {
                        assert!(!valid);
                        // Fail fast: the chunk that failed is the one holding the bad byte.
                        let bad_chunk = usize::from(fail_at >= cut);
                        assert!(fail_at < bytes.len());
                        assert_eq!(chunk, bad_chunk, "{bytes:x?} cut {cut} fail_at {fail_at}");
                    }
                }
            }
            // Byte by byte.
            let cuts: Vec<usize> = (1..bytes.len()).collect();
            match feed_split(&bytes, &cuts) {
                Ok(v) => assert_eq!(v, valid),
                Err(chunk) => assert_eq!(chunk, fail_at, "{bytes:x?}"),
            }
        }
    }

    #[test]
    fn fail_fast_on_surrogate_before_message_end() {
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        v.feed(b"\xed").unwrap();
        assert_eq!(v.feed(b"\xa0"), Err(InvalidUtf8));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        /// Longer strings than [`samples`], built from the bytes at the edges
        /// of the RFC 3629 ranges and cut at random: the same verdict as
        /// `from_utf8` on the whole.
        #[test]
        fn random_strings_and_splits_match_std(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![
                    0x41, 0x7f, 0x80, 0x9f, 0xa0, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff,
                ]),
                0..24,
            ),
            mut cuts in proptest::collection::vec(0usize..=24, 0..6),
        ) {
            for c in &mut cuts {
                *c = (*c).min(bytes.len());
            }
            cuts.sort_unstable();
            let ok = feed_split(&bytes, &cuts) == Ok(true);
            proptest::prop_assert_eq!(ok, core::str::from_utf8(&bytes).is_ok());
        }
    }
}
