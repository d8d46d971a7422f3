//! Body decoders: `Content-Length` and `chunked` (RFC 9112 §6, §7), sans-IO.
//!
//! ```text
//! chunked-body   = *chunk last-chunk trailer-section CRLF          ; §7.1
//! chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-size     = 1*HEXDIG
//! last-chunk     = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! trailer-section = *( field-line CRLF )
//! ```
//!
//! A decoder is a small state machine fed whatever bytes have arrived. Each
//! call returns how many input bytes it consumed and one [`Decoded`]: a
//! range of *the input* holding body data (never copied), "need more", or
//! "done". Framing bytes are eaten one at a time into the state, so any split
//! of the input gives the same data; body bytes are handed out in bulk.
//!
//! ```text
//! input:  "5\r\nhello\r\n0\r\n\r\nGET /next ..."
//! call 1: consumed 8,  Data(3..8)            "hello"
//! call 2: consumed 7,  Done                  "\r\n0\r\n\r\n"; the rest is the next request
//! ```
//!
//! Defences: the chunk size is checked for overflow before each shift; the
//! sum of chunk sizes against `Limits::max_body` (413) *before* the data
//! arrives; extensions against `max_chunk_ext`; framing bytes against the data
//! they carry (`chunk_overhead_allowance`), so `1\r\nx\r\n` floods are cut
//! off; trailers are validated like header fields (no obs-fold, no bare CR/LF,
//! no control bytes), bounded by `max_trailers` bytes and `max_headers`
//! fields, and then discarded (RFC 9110 §6.5.1 lets a recipient discard them).

use crate::table::{hex_val, HEX, NOT_HEX, TOKEN};
use crate::{BodyFraming, Limits, ParseError};

/// What a decoder produced in one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decoded {
    /// `input[range]` is body data (the range lies within the bytes consumed).
    Data(core::ops::Range<usize>),
    /// All input consumed into the state; call again with more bytes.
    NeedMore,
    /// The body is complete; input after the consumed bytes belongs to the next message.
    Done,
}

/// Decoder for a `Content-Length` body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthDecoder {
    remaining: u64,
}

impl LengthDecoder {
    /// A decoder for `len` bytes.
    pub const fn new(len: u64) -> Self {
        Self { remaining: len }
    }

    /// Bytes still expected.
    pub const fn remaining(&self) -> u64 {
        self.remaining
    }

    /// True once every byte was handed out.
    pub const fn is_done(&self) -> bool {
        self.remaining == 0
    }

    /// Takes up to `remaining` bytes of `input`.
    ///
    /// # Errors
    ///
    /// Never; fallible for symmetry with [`ChunkedDecoder::decode`].
    #[inline]
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Decoded), ParseError> {
        if self.remaining == 0 {
            return Ok((0, Decoded::Done));
        }
        if input.is_empty() {
            return Ok((0, Decoded::NeedMore));
        }
        let n = self.remaining.min(input.len() as u64) as usize;
        self.remaining -= n as u64;
        Ok((n, Decoded::Data(0..n)))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// First hex digit of a chunk-size.
    SizeStart,
    /// More hex digits, `;`, BWS or CR.
    Size,
    /// BWS after the size: only `;` (or more BWS) may follow.
    SizeWs,
    /// Inside chunk-ext, until CR.
    Ext,
    /// LF after the size line's CR.
    SizeLf,
    /// `size` bytes of data remain.
    Data,
    /// CR after chunk data.
    DataCr,
    /// LF after chunk data.
    DataLf,
    /// Start of a trailer field line, or the final CR.
    TrailerStart,
    /// Inside a trailer field name.
    TrailerName,
    /// Inside a trailer field value, until CR.
    TrailerValue,
    /// LF after a trailer line's CR.
    TrailerLf,
    /// LF of the final empty line.
    EndLf,
    /// Finished.
    Done,
}

/// Incremental decoder for a `Transfer-Encoding: chunked` body.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    /// Chunk size being parsed, then data bytes left in the chunk.
    size: u64,
    ext_len: usize,
    /// Sum of all chunk sizes announced so far.
    data_total: u64,
    /// Framing bytes consumed so far.
    overhead: u64,
    trailer_len: usize,
    trailer_fields: usize,
    max_body: u64,
    max_chunk_ext: usize,
    max_trailers: usize,
    max_trailer_fields: usize,
    overhead_allowance: u64,
}

impl ChunkedDecoder {
    /// A decoder enforcing `limits` (`max_body`, `max_chunk_ext`,
    /// `max_trailers`, `max_headers`, `chunk_overhead_allowance`).
    pub fn new(limits: &Limits) -> Self {
        Self {
            state: State::SizeStart,
            size: 0,
            ext_len: 0,
            data_total: 0,
            overhead: 0,
            trailer_len: 0,
            trailer_fields: 0,
            max_body: limits.max_body,
            max_chunk_ext: limits.max_chunk_ext,
            max_trailers: limits.max_trailers,
            max_trailer_fields: limits.max_headers,
            overhead_allowance: limits.chunk_overhead_allowance,
        }
    }

    /// True once the last chunk and the trailer section were consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Total data bytes announced by chunk sizes so far.
    pub fn data_len(&self) -> u64 {
        self.data_total
    }

    /// Consumes framing from `input` and returns at most one data range.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] (400, or 413 over `max_body`, 431 for trailers);
    /// the connection must then be closed, as the framing is lost.
    #[inline]
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Decoded), ParseError> {
        let mut i = 0;
        // The usual shape of a call, straight through without the state
        // dispatch: [CRLF after the previous chunk's data] `HEX CRLF` data.
        // Each step does exactly what the loop below would do.
        if self.state == State::DataCr && input.get(..2) == Some(b"\r\n") {
            i = 2;
            self.overhead += 2;
            self.state = State::SizeStart;
        }
        if self.state == State::SizeStart {
            if let Some(n) = self.fast_size_line(&input[i..])? {
                i += n;
                if self.state == State::Data && i < input.len() {
                    let n = self.size.min((input.len() - i) as u64) as usize;
                    self.size -= n as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok((i + n, Decoded::Data(i..i + n)));
                }
                // The last chunk with no trailers: the final CRLF.
                if self.state == State::TrailerStart && input.get(i..i + 2) == Some(b"\r\n") {
                    self.overhead += 2;
                    // Counted as the byte-at-a-time path does: the CR only.
                    self.trailer_len += 1;
                    if self.trailer_len > self.max_trailers {
                        return Err(ParseError::TrailersTooLarge);
                    }
                    self.state = State::Done;
                    return Ok((i + 2, Decoded::Done));
                }
            }
        }
        self.decode_from(input, i)
    }

    /// [`decode`](Self::decode) from `input[i..]`, byte by byte where needed.
    #[inline(never)]
    fn decode_from(&mut self, input: &[u8], mut i: usize) -> Result<(usize, Decoded), ParseError> {
        loop {
            match self.state {
                State::Done => return Ok((i, Decoded::Done)),
                State::Data => {
                    let avail = input.len() - i;
                    if avail == 0 {
                        return Ok((i, Decoded::NeedMore));
                    }
                    let n = self.size.min(avail as u64) as usize;
                    self.size -= n as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok((i + n, Decoded::Data(i..i + n)));
                }
                // Fast paths for the common shapes, when the bytes are all
                // there: a bare `HEX CRLF` size line, and the CRLF after data.
                // They do exactly what `step` would do byte by byte.
                State::SizeStart => {
                    if let Some(n) = self.fast_size_line(&input[i..])? {
                        i += n;
                        continue;
                    }
                    let Some(&b) = input.get(i) else {
                        return Ok((i, Decoded::NeedMore));
                    };
                    i += 1;
                    self.overhead += 1;
                    self.step(b)?;
                }
                State::TrailerStart if input.get(i..i + 2) == Some(b"\r\n") => {
                    // No trailers: the final CRLF.
                    i += 2;
                    self.overhead += 2;
                    // Counted as the byte-at-a-time path does: the CR only.
                    self.trailer_len += 1;
                    if self.trailer_len > self.max_trailers {
                        return Err(ParseError::TrailersTooLarge);
                    }
                    self.state = State::Done;
                }
                State::DataCr if input.get(i..i + 2) == Some(b"\r\n") => {
                    i += 2;
                    self.overhead += 2;
                    self.state = State::SizeStart;
                }
                _ => {
                    let Some(&b) = input.get(i) else {
                        return Ok((i, Decoded::NeedMore));
                    };
                    i += 1;
                    self.overhead += 1;
                    self.step(b)?;
                }
            }
        }
    }

    /// One framing byte.
    fn step(&mut self, b: u8) -> Result<(), ParseError> {
        use State::*;
        match self.state {
            SizeStart => {
                let d = hex_val(b).ok_or(ParseError::InvalidChunkSize)?;
                self.size = u64::from(d);
                self.ext_len = 0;
                self.state = Size;
            }
            Size => match b {
                b'\r' => self.state = SizeLf,
                b';' => self.start_ext()?,
                b' ' | b'\t' => self.state = SizeWs,
                _ => {
                    let d = hex_val(b).ok_or(ParseError::InvalidChunkSize)?;
                    // Overflow check before the shift: 16 hex digits max.
                    if self.size >> 60 != 0 {
                        return Err(ParseError::ChunkSizeOverflow);
                    }
                    self.size = self.size << 4 | u64::from(d);
                }
            },
            SizeWs => match b {
                b' ' | b'\t' => self.count_ext()?,
                b';' => self.start_ext()?,
                _ => return Err(ParseError::InvalidChunkExtension),
            },
            Ext => match b {
                b'\r' => self.state = SizeLf,
                b'\n' => return Err(ParseError::BareLf),
                // chunk-ext is tokens, "=", ";", quoted strings, BWS: no CTL but HTAB.
                b'\t' => self.count_ext()?,
                _ if b < 0x20 || b == 0x7f => return Err(ParseError::InvalidChunkExtension),
                _ => self.count_ext()?,
            },
            SizeLf => {
                if b != b'\n' {
                    return Err(ParseError::BareCr);
                }
                self.end_size_line()?;
            }
            DataCr => match b {
                b'\r' => self.state = DataLf,
                _ => return Err(ParseError::InvalidChunkDelimiter),
            },
            DataLf => match b {
                b'\n' => self.state = SizeStart,
                _ => return Err(ParseError::InvalidChunkDelimiter),
            },
            TrailerStart => {
                self.count_trailer()?;
                match b {
                    b'\r' => self.state = EndLf,
                    b' ' | b'\t' => return Err(ParseError::ObsFold),
                    _ if TOKEN[b as usize] => {
                        self.trailer_fields += 1;
                        if self.trailer_fields > self.max_trailer_fields {
                            return Err(ParseError::TrailersTooLarge);
                        }
                        self.state = TrailerName;
                    }
                    _ => return Err(ParseError::InvalidTrailer),
                }
            }
            TrailerName => {
                self.count_trailer()?;
                match b {
                    b':' => self.state = TrailerValue,
                    b' ' | b'\t' => return Err(ParseError::WhitespaceBeforeColon),
                    _ if TOKEN[b as usize] => {}
                    _ => return Err(ParseError::InvalidTrailer),
                }
            }
            TrailerValue => {
                self.count_trailer()?;
                match b {
                    b'\r' => self.state = TrailerLf,
                    b'\n' => return Err(ParseError::BareLf),
                    b'\t' => {}
                    _ if b < 0x20 || b == 0x7f => return Err(ParseError::ControlByte),
                    _ => {}
                }
            }
            TrailerLf => {
                self.count_trailer()?;
                if b != b'\n' {
                    return Err(ParseError::BareCr);
                }
                self.state = TrailerStart;
            }
            EndLf => {
                if b != b'\n' {
                    return Err(ParseError::BareCr);
                }
                self.state = Done;
            }
            Data | Done => unreachable!("handled by decode"),
        }
        Ok(())
    }

    /// `1*16HEXDIG CRLF` at the start of `input`, in one go: returns the bytes
    /// consumed, or `None` to fall back to the byte-at-a-time path (extension,
    /// whitespace, leading zeros beyond 16 digits, incomplete line, error).
    #[inline(always)]
    fn fast_size_line(&mut self, input: &[u8]) -> Result<Option<usize>, ParseError> {
        let mut size: u64 = 0;
        let mut k = 0;
        // At most 16 digits: a 17th digit fails the CRLF test below.
        for &b in input.iter().take(16) {
            let d = HEX[b as usize];
            if d == NOT_HEX {
                break;
            }
            size = size << 4 | u64::from(d);
            k += 1;
        }
        if k == 0 || input.get(k..k + 2) != Some(b"\r\n") {
            return Ok(None);
        }
        self.size = size;
        self.overhead += k as u64 + 2;
        if size == 0 {
            // The last chunk: trailers next (as `end_size_line` does).
            self.state = State::TrailerStart;
        } else {
            self.end_size_line()?;
        }
        Ok(Some(k + 2))
    }

    fn start_ext(&mut self) -> Result<(), ParseError> {
        self.state = State::Ext;
        self.count_ext()
    }

    #[inline]
    fn count_ext(&mut self) -> Result<(), ParseError> {
        self.ext_len += 1;
        if self.ext_len > self.max_chunk_ext {
            return Err(ParseError::ChunkExtensionTooLong);
        }
        Ok(())
    }

    #[inline]
    fn count_trailer(&mut self) -> Result<(), ParseError> {
        self.trailer_len += 1;
        if self.trailer_len > self.max_trailers {
            return Err(ParseError::TrailersTooLarge);
        }
        Ok(())
    }

    /// The size line is complete: check the limits, then data or trailers.
    fn end_size_line(&mut self) -> Result<(), ParseError> {
        if self.size == 0 {
            self.state = State::TrailerStart;
            return Ok(());
        }
        self.data_total = self
            .data_total
            .checked_add(self.size)
            .filter(|&t| t <= self.max_body)
            .ok_or(ParseError::BodyTooLarge)?;
        // Framing may cost at most the data it carries plus an allowance.
        if self.overhead > self.data_total.saturating_add(self.overhead_allowance) {
            return Err(ParseError::ChunkOverhead);
        }
        self.state = State::Data;
        Ok(())
    }
}

/// Either decoder, chosen from a head's [`BodyFraming`].
#[derive(Clone, Debug)]
pub enum BodyDecoder {
    /// No body: immediately done.
    Empty,
    /// `Content-Length`.
    Length(LengthDecoder),
    /// `chunked`.
    Chunked(ChunkedDecoder),
}

impl BodyDecoder {
    /// The decoder for `framing`.
    pub fn new(framing: BodyFraming, limits: &Limits) -> Self {
        match framing {
            BodyFraming::None | BodyFraming::Length(0) => BodyDecoder::Empty,
            BodyFraming::Length(n) => BodyDecoder::Length(LengthDecoder::new(n)),
            BodyFraming::Chunked => BodyDecoder::Chunked(ChunkedDecoder::new(limits)),
        }
    }

    /// See [`ChunkedDecoder::decode`].
    ///
    /// # Errors
    ///
    /// As [`ChunkedDecoder::decode`].
    #[inline]
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Decoded), ParseError> {
        if let BodyDecoder::Chunked(d) = self {
            return d.decode(input);
        }
        match self {
            BodyDecoder::Empty => Ok((0, Decoded::Done)),
            BodyDecoder::Length(d) => d.decode(input),
            BodyDecoder::Chunked(d) => d.decode(input),
        }
    }

    /// True once the body is complete.
    pub fn is_done(&self) -> bool {
        match self {
            BodyDecoder::Empty => true,
            BodyDecoder::Length(d) => d.is_done(),
            BodyDecoder::Chunked(d) => d.is_done(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes (the caller keeps unconsumed bytes).
    fn run(limits: &Limits, input: &[u8], step: usize) -> Result<(Vec<u8>, usize), ParseError> {
        let mut d = ChunkedDecoder::new(limits);
        let mut body = Vec::new();
        let mut pos = 0;
        let mut avail = step.min(input.len());
        loop {
            let (n, r) = d.decode(&input[pos..avail])?;
            match r {
                Decoded::Data(range) => body.extend_from_slice(&input[pos..avail][range]),
                Decoded::Done => return Ok((body, pos + n)),
                Decoded::NeedMore => {
                    if avail == input.len() {
                        return Err(ParseError::InvalidChunkSize); // truncated
                    }
                    avail = (avail + step).min(input.len());
                }
            }
            pos += n;
        }
    }

    #[test]
    fn decodes_at_every_split() {
        let input = b"5\r\nhello\r\n1;a=b\r\n \r\nA\r\n0123456789\r\n0\r\nX-T: v\r\n\r\nNEXT";
        for step in 1..=input.len() {
            let (body, used) = run(&Limits::default(), input, step).unwrap();
            assert_eq!(body, b"hello 0123456789");
            assert_eq!(&input[used..], b"NEXT");
        }
    }

    #[test]
    fn rejects() {
        let l = Limits::default();
        // (input, error, RFC 9112 section)
        let table: &[(&[u8], ParseError, &str)] = &[
            (b"x\r\n", ParseError::InvalidChunkSize, "§7.1 chunk-size = 1*HEXDIG"),
            (b"\r\n", ParseError::InvalidChunkSize, "§7.1 empty size"),
            (b"-1\r\n", ParseError::InvalidChunkSize, "§7.1 sign"),
            (b"10000000000000000\r\n", ParseError::ChunkSizeOverflow, "§7.1 overflow"),
            (b"5\nhello", ParseError::InvalidChunkSize, "§2.2 bare LF after size"),
            (b"5\rhello", ParseError::BareCr, "§2.2 bare CR"),
            (b"5 \r\n", ParseError::InvalidChunkExtension, "§7.1 BWS only before ;"),
            (b"5;a\0\r\n", ParseError::InvalidChunkExtension, "§7.1.1 CTL in ext"),
            (b"5;a\nx", ParseError::BareLf, "§2.2 bare LF in ext"),
            (b"5\r\nhelloX\r\n", ParseError::InvalidChunkDelimiter, "§7.1 CRLF after data"),
            (b"5\r\nhello\rX", ParseError::InvalidChunkDelimiter, "§7.1 CRLF after data"),
            (b"0\r\n a: b\r\n\r\n", ParseError::ObsFold, "§5.2 obs-fold in trailer"),
            (b"0\r\na : b\r\n\r\n", ParseError::WhitespaceBeforeColon, "§5.1"),
            (b"0\r\na: b\0\r\n\r\n", ParseError::ControlByte, "§5.5"),
            (b"0\r\na: b\n\r\n", ParseError::BareLf, "§2.2"),
            (b"0\r\n@: b\r\n\r\n", ParseError::InvalidTrailer, "§5.1 token"),
            (b"0\r\n\rX", ParseError::BareCr, "§2.2"),
            (b"200000\r\n", ParseError::BodyTooLarge, "413 over max_body"),
        ];
        for (input, want, why) in table {
            let mut d = ChunkedDecoder::new(&l);
            let mut got = Ok(());
            let mut pos = 0;
            while pos < input.len() {
                match d.decode(&input[pos..]) {
                    Ok((0, Decoded::Done)) => break,
                    Ok((_, Decoded::NeedMore)) => break,
                    Ok((n, _)) => pos += n,
                    Err(e) => {
                        got = Err(e);
                        break;
                    }
                }
            }
            assert_eq!(got, Err(*want), "{why}: {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn limits() {
        let l = Limits::default().max_chunk_ext(4);
        assert_eq!(run(&l, b"1;abc\r\nx\r\n0\r\n\r\n", 100).unwrap().0, b"x");
        assert_eq!(run(&l, b"1;abcd\r\nx\r\n0\r\n\r\n", 100), Err(ParseError::ChunkExtensionTooLong));
        // The trailer section counts every byte, CRLFs included.
        let l = Limits::default().max_trailers(10);
        assert!(run(&l, b"0\r\na: 1234\r\n\r\n", 100).is_ok());
        assert_eq!(run(&l, b"0\r\na: 12345\r\n\r\n", 100), Err(ParseError::TrailersTooLarge));
        let l = Limits::default().max_headers(1);
        assert_eq!(run(&l, b"0\r\na: 1\r\nb: 2\r\n\r\n", 100), Err(ParseError::TrailersTooLarge));
        // 1-byte chunks cost 6 framing bytes each: cut off past the allowance.
        let l = Limits::default().chunk_overhead_allowance(100);
        let flood = b"1\r\nx\r\n".repeat(100);
        assert_eq!(run(&l, &flood, 1000), Err(ParseError::ChunkOverhead));
        let l = Limits::default().max_body(10);
        assert!(run(&l, b"5\r\nhello\r\n5\r\nhello\r\n0\r\n\r\n", 100).is_ok());
        assert_eq!(run(&l, b"5\r\nhello\r\n6\r\nhello!\r\n0\r\n\r\n", 100), Err(ParseError::BodyTooLarge));
        // Leading zeros are fine (1*HEXDIG) and do not overflow.
        assert_eq!(run(&Limits::default(), b"00000000000000000001\r\nz\r\n0\r\n\r\n", 3).unwrap().0, b"z");
    }

    #[test]
    fn length_decoder() {
        let mut d = LengthDecoder::new(5);
        assert_eq!(d.decode(b"he"), Ok((2, Decoded::Data(0..2))));
        assert_eq!(d.decode(b""), Ok((0, Decoded::NeedMore)));
        assert_eq!(d.decode(b"lloGET"), Ok((3, Decoded::Data(0..3))));
        assert_eq!(d.decode(b"GET"), Ok((0, Decoded::Done)));
        let mut b = BodyDecoder::new(BodyFraming::None, &Limits::default());
        assert_eq!(b.decode(b"x"), Ok((0, Decoded::Done)));
        assert!(b.is_done());
    }
}
