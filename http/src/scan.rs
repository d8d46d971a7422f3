//! Scanning many bytes at once: the first control byte of a line, runs of
//! name, path or host bytes, a byte in a short field name. 16 bytes a step
//! with SSE2 on x86_64 (part of its baseline: no runtime detection), a word
//! at a time (SWAR) or byte by byte elsewhere; every fast path is checked
//! against the scalar tables of [`crate::table`] for all byte values and
//! offsets (the tests there).
//!
//! [`find_ctl`] is how the parser finds the end of a line: the CR that ends
//! a line is a control byte, and so is every byte that makes a line invalid
//! (NUL, bare LF, DEL...), so one pass both finds the line end and validates
//! field values. That is why the parser does not use `memchr(b'\n')` and
//! then validate: that would be two passes over every value byte.

use crate::table::{table, CTL};

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Index of the first control byte (`< 0x20` or `0x7F`) in `buf[from..]`, or
/// `buf.len()` if there is none.
///
/// On x86_64, 16 bytes at a time with SSE2 (part of the x86_64 baseline, so
/// no runtime detection): `min(v, 0x1F) == v` flags bytes `<= 0x1F` (unsigned),
/// `v == 0x7F` flags DEL, `movemask` turns the flags into a bit mask. The tail
/// (and other architectures) goes through [`find_ctl_swar`].
#[inline]
pub(crate) fn find_ctl(buf: &[u8], from: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    let from = {
        use core::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        let mut i = from;
        let sse2_block = |i: usize| -> Option<i32> {
            let chunk = buf.get(i..i + 16)?;
            // SAFETY: `chunk` is 16 readable bytes (`get` checked the range) and
            // `_mm_loadu_si128` has no alignment requirement; the other
            // intrinsics are plain SSE2 arithmetic, always present on x86_64.
            Some(unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast());
                let low = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                let del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f));
                _mm_movemask_epi8(_mm_or_si128(low, del))
            })
        };
        // Most lines end within 32 bytes: two inline SSE2 blocks first.
        for _ in 0..2 {
            match sse2_block(i) {
                Some(0) => i += 16,
                Some(mask) => return i + mask.trailing_zeros() as usize,
                None => break,
            }
        }
        // Long stretches (User-Agent, Cookie, long targets): 32 bytes per step
        // with AVX2 when the CPU has it (a cached atomic load to check).
        if buf.len().saturating_sub(i) >= 64 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (detected just above).
            match unsafe { avx2::find_ctl(buf, i) } {
                Ok(found) => return found,
                Err(resume) => i = resume,
            }
        }
        while let Some(mask) = sse2_block(i) {
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
        // Fewer than 16 bytes left: test the last 16 bytes of `buf` and
        // shift off those before `i` (already known clean).
        if i < buf.len() {
            if let Some(base) = buf.len().checked_sub(16) {
                let mask = sse2_block(base).expect("16 bytes") as u32 >> (i - base);
                return if mask != 0 { i + mask.trailing_zeros() as usize } else { buf.len() };
            }
        }
        i
    };
    find_ctl_swar(buf, from)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use core::arch::x86_64::{
        _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };

    /// [`super::find_ctl`] 32 bytes at a time: `Ok(index)` of the first
    /// control byte, or `Err(index)` where fewer than 32 bytes remain.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn find_ctl(buf: &[u8], mut i: usize) -> Result<usize, usize> {
        while let Some(chunk) = buf.get(i..i + 32) {
            // SAFETY: `chunk` is 32 readable bytes (`get` checked the range),
            // `_mm256_loadu_si256` has no alignment requirement, and the caller
            // guarantees AVX2 for the other intrinsics.
            let mask = unsafe {
                let v = _mm256_loadu_si256(chunk.as_ptr().cast());
                let low = _mm256_cmpeq_epi8(_mm256_min_epu8(v, _mm256_set1_epi8(0x1f)), v);
                let del = _mm256_cmpeq_epi8(v, _mm256_set1_epi8(0x7f));
                _mm256_movemask_epi8(_mm256_or_si256(low, del)) as u32
            };
            if mask != 0 {
                return Ok(i + mask.trailing_zeros() as usize);
            }
            i += 32;
        }
        Err(i)
    }
}

/// The portable version of [`find_ctl`].
///
/// SWAR: for a word `w`, `(w - 0x20..20) & !w & 0x80..80` has a high bit set
/// in the lowest byte `< 0x20` (borrows only travel upward, so the lowest flag
/// is exact), and the same "has zero" test on `w ^ 0x7F..7F` finds DEL. Bytes
/// `>= 0x80` (obs-text) are never flagged because `!w` clears their high bit.
#[inline]
pub(crate) fn find_ctl_swar(buf: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(chunk) = buf.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("slice of 8 bytes"));
        let lt = w.wrapping_sub(LO * 0x20) & !w & HI;
        let x = w ^ (LO * 0x7f);
        let del = x.wrapping_sub(LO) & !x & HI;
        let m = lt | del;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < buf.len() {
        if CTL[buf[i] as usize] {
            return i;
        }
        i += 1;
    }
    buf.len()
}

/// The sets [`fast_run`] knows: field names, request paths, host names.
pub(crate) const SET_NAME: u8 = 0;
pub(crate) const SET_PATH: u8 = 1;
pub(crate) const SET_HOST: u8 = 2;

/// `[A-Za-z0-9-]`: what nearly every field name is made of.
pub(crate) static FAST_NAME: [bool; 256] = table!(is_fast_name);
/// `[A-Za-z0-9-.:]`: what nearly every `Host` value is made of.
pub(crate) static FAST_HOST: [bool; 256] = table!(is_fast_host);
/// `[A-Za-z0-9-._/]`: what most request paths are made of.
pub(crate) static FAST_PATH: [bool; 256] = table!(is_fast_path);

const fn is_fast_name(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

const fn is_fast_host(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b':')
}

const fn is_fast_path(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'/')
}

/// Length of the longest run of bytes in [`FAST_NAME`], [`FAST_PATH`] or
/// [`FAST_HOST`] (chosen by `SET`), 16 bytes per step with SSE2 on x86_64.
///
/// This is the fast path of token and target validation: a byte in these
/// sets is valid without a table lookup, and a name is checked in the same
/// step that finds its colon. Anything else (`_` in a name, `%` or `?` in a
/// target, an invalid byte) stops the run and the caller falls back to the
/// full tables.
///
/// The run is searched in `buf[from..to]`, but 16-byte loads may look past
/// `to` while they stay inside `buf` (the bytes after a target or a field
/// name are the rest of the same head): a short name or path is then one
/// vector step, with no byte-at-a-time tail. Returns the index in `buf` of
/// the first byte that is not in the set, or `to`.
#[inline]
pub(crate) fn fast_run<const SET: u8>(buf: &[u8], from: usize, to: usize) -> usize {
    debug_assert!(from <= to && to <= buf.len());
    let mut i = from;
    #[cfg(target_arch = "x86_64")]
    {
        while i < to {
            let Some(chunk) = buf.get(i..i + 16) else { break };
            let ok = fast_mask::<SET>(chunk.try_into().expect("16 bytes"));
            if ok != 0xffff {
                return (i + (!ok).trailing_zeros() as usize).min(to);
            }
            i += 16;
        }
        if i >= to {
            return to;
        }
        // Fewer than 16 bytes left in `buf`: load the last 16 instead and
        // shift off the bytes before `i` (they were already checked).
        if let Some(base) = buf.len().checked_sub(16) {
            let last: &[u8; 16] = buf[base..].try_into().expect("16 bytes");
            let ok = fast_mask::<SET>(last) >> (i - base);
            return (i + (!ok).trailing_zeros() as usize).min(to);
        }
    }
    let table = match SET {
        SET_PATH => &FAST_PATH,
        SET_HOST => &FAST_HOST,
        _ => &FAST_NAME,
    };
    while i < to && table[buf[i] as usize] {
        i += 1;
    }
    i
}

/// Bit k set when `chunk[k]` is in the fast set (see [`fast_run`]).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn fast_mask<const SET: u8>(chunk: &[u8; 16]) -> u32 {
    use core::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_sub_epi8,
    };
    // SAFETY: `chunk` is 16 readable bytes and `_mm_loadu_si128` has no
    // alignment requirement; the rest is SSE2 arithmetic, always present on
    // x86_64.
    unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        let set = |b: u8| _mm_set1_epi8(b as i8);
        // `x` in lo..=hi (unsigned): `d = x - lo` (wrapping) is at most
        // `hi - lo`, i.e. min(d, hi - lo) == d. Three operations.
        let within = |x, lo: u8, hi: u8| {
            let d = _mm_sub_epi8(x, set(lo));
            _mm_cmpeq_epi8(_mm_min_epu8(d, set(hi - lo)), d)
        };
        // OR 0x20 lowercases letters and maps no other byte into a..z.
        let alpha = within(_mm_or_si128(v, set(0x20)), b'a', b'z');
        let ok = match SET {
            // '-'..='9' is "-./0123456789"; paths also allow '_'.
            SET_PATH => {
                _mm_or_si128(_mm_or_si128(alpha, within(v, b'-', b'9')), _mm_cmpeq_epi8(v, set(b'_')))
            }
            // Host names: '-' and '.' ('-'..='.'), digits and ':' ('0'..=':').
            SET_HOST => _mm_or_si128(_mm_or_si128(alpha, within(v, b'-', b'.')), within(v, b'0', b':')),
            // A name allows letters, digits and '-' only.
            _ => _mm_or_si128(_mm_or_si128(alpha, within(v, b'0', b'9')), _mm_cmpeq_epi8(v, set(b'-'))),
        };
        _mm_movemask_epi8(ok) as u32
    }
}

/// A request path's fast run and plainness in one pass: `(end, plain)`,
/// where `end` is [`fast_run`] over the path set and `plain` says that the
/// run covers all of `buf[from..to]` and holds no `/` followed by `/` or `.`
/// (see [`has_slash_pair`]). The pair test rides on the same 16-byte loads.
#[inline]
pub(crate) fn path_run(buf: &[u8], from: usize, to: usize) -> (usize, bool) {
    debug_assert!(from <= to && to <= buf.len());
    if to - from < 2 {
        // `/` or `*` (or nothing): no room for a pair.
        let end = fast_run::<{ SET_PATH }>(buf, from, to);
        return (end, end == to);
    }
    #[cfg(target_arch = "x86_64")]
    {
        let mut i = from;
        let mut pair = false;
        // Bit 0 set when the previous block ended with '/'.
        let mut carry = 0u32;
        while i < to {
            let Some(chunk) = buf.get(i..i + 16) else { break };
            let (ok, slash, dot) = path_masks(chunk.try_into().expect("16 bytes"));
            let valid = if to - i >= 16 { 0xffff } else { (1u32 << (to - i)) - 1 };
            // A pair ends at bit k when bit k-1 is '/' (or the carry, for k = 0).
            pair |= ((slash << 1) | carry) & (slash | dot) & valid != 0;
            carry = slash >> 15;
            if ok & valid != valid {
                return ((i + (!ok).trailing_zeros() as usize).min(to), false);
            }
            i += 16;
        }
        if i >= to {
            return (to, !pair);
        }
    }
    // Near the end of `buf` (or not x86_64): the two scans separately.
    let end = fast_run::<{ SET_PATH }>(buf, from, to);
    (end, end == to && !has_slash_pair(buf, from, to))
}

/// For one 16-byte block: which bytes are in [`FAST_PATH`], which are `/`,
/// which are `.` (bit k for byte k).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn path_masks(chunk: &[u8; 16]) -> (u32, u32, u32) {
    use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    let ok = fast_mask::<SET_PATH>(chunk);
    // SAFETY: `chunk` is 16 readable bytes; `_mm_loadu_si128` has no
    // alignment requirement and the rest is SSE2, always present on x86_64.
    let (slash, dot) = unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast());
        (
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'/' as i8))) as u32,
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'.' as i8))) as u32,
        )
    };
    (ok, slash, dot)
}

/// [`path_run`] when the end of the target is not known yet: the run of
/// [`FAST_PATH`] bytes from `from`, however long, and whether it holds no
/// `/` followed by `/` or `.`. `Some((end, no_pair))`, where `buf[end]` is
/// the first byte not in the set; `None` when the run reaches the last 16
/// bytes of `buf` (the caller has a general path for that).
///
/// This lets a request line be read in one pass: the byte that ends the
/// path is the SP before the version, so no search for the line's CR is
/// needed.
#[inline]
pub(crate) fn path_scan(buf: &[u8], from: usize) -> Option<(usize, bool)> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut i = from;
        let mut pair = 0u32;
        let mut carry = 0u32;
        while let Some(chunk) = buf.get(i..i + 16) {
            let (ok, slash, dot) = path_masks(chunk.try_into().expect("16 bytes"));
            // The run's bytes in this block: bits below the first zero of `ok`.
            let run = ok & !(ok.wrapping_add(1));
            pair |= ((slash << 1) | carry) & (slash | dot) & run;
            if run != 0xffff {
                return Some((i + run.trailing_ones() as usize, pair == 0));
            }
            carry = slash >> 15;
            i += 16;
        }
        None
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let end = fast_run::<{ SET_PATH }>(buf, from, buf.len());
        (end < buf.len()).then(|| (end, !has_slash_pair(buf, from, end)))
    }
}

/// True when `buf[from..to]` has a `/` followed by `/` or `.`: an empty or
/// dot segment that path normalisation would change. Like [`fast_run`],
/// loads may read past `to` within `buf`; a pair straddling `to` is not
/// counted.
#[inline]
pub(crate) fn has_slash_pair(buf: &[u8], from: usize, to: usize) -> bool {
    debug_assert!(from <= to && to <= buf.len());
    if to - from < 2 {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{
            _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        };
        let mut i = from;
        // Pairs (i+k, i+k+1) for k in 0..16 need bytes i..i+17.
        while let Some(chunk) = buf.get(i..i + 17) {
            // SAFETY: `chunk` is 17 readable bytes (`get` checked the range),
            // so both 16-byte loads (at 0 and at 1) stay inside it;
            // `_mm_loadu_si128` has no alignment requirement and the rest is
            // SSE2, always present on x86_64.
            let (slash, next) = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast());
                let w = _mm_loadu_si128(chunk.as_ptr().add(1).cast());
                let slash = _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'/' as i8))) as u32;
                let next = _mm_movemask_epi8(_mm_or_si128(
                    _mm_cmpeq_epi8(w, _mm_set1_epi8(b'/' as i8)),
                    _mm_cmpeq_epi8(w, _mm_set1_epi8(b'.' as i8)),
                )) as u32;
                (slash, next)
            };
            // Pairs whose second byte is before `to`: k + 1 < to - i.
            let valid = if to - i > 16 { 0xffff } else { (1u32 << (to - i - 1)) - 1 };
            if slash & next & valid != 0 {
                return true;
            }
            if to - i <= 17 {
                return false;
            }
            i += 16;
        }
        buf[i..to].windows(2).any(|p| p[0] == b'/' && matches!(p[1], b'/' | b'.'))
    }
    #[cfg(not(target_arch = "x86_64"))]
    buf[from..to].windows(2).any(|p| p[0] == b'/' && matches!(p[1], b'/' | b'.'))
}

/// Index of the first `needle` in `hay`, or `hay.len()`. Like `memchr`, but
/// inlined: the haystacks here (field names) are short, where a call and
/// memchr's setup cost more than the search.
#[inline]
pub(crate) fn find_byte(hay: &[u8], needle: u8) -> usize {
    #[cfg(target_arch = "x86_64")]
    let from = {
        use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
        let mut i = 0;
        while let Some(chunk) = hay.get(i..i + 16) {
            // SAFETY: `chunk` is 16 readable bytes (`get` checked the range) and
            // `_mm_loadu_si128` has no alignment requirement; SSE2 is baseline.
            let mask = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast());
                _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(needle as i8)))
            };
            if mask != 0 {
                return i + mask.trailing_zeros() as usize;
            }
            i += 16;
        }
        i
    };
    #[cfg(not(target_arch = "x86_64"))]
    let from = 0;
    hay[from..].iter().position(|&b| b == needle).map_or(hay.len(), |p| from + p)
}

/// `a` equals `lower` (an all-lowercase ASCII constant of letters, digits and
/// `-`) ignoring ASCII case, for `a` without control bytes (a token or a
/// scanned field value). OR-ing 0x20 lowercases letters; for the bytes that
/// can reach here, the only other byte mapping onto a letter, digit or `-` is
/// a control byte, which the scan already rejected. Eight bytes per compare.
#[inline]
pub(crate) fn eq_lower(a: &[u8], lower: &[u8]) -> bool {
    if a.len() != lower.len() {
        return false;
    }
    let n = a.len();
    if n >= 8 {
        // 8-byte words, the last one overlapping the previous (same test twice
        // on a few bytes is harmless): no byte-at-a-time tail.
        let w = |s: &[u8], k: usize| u64::from_le_bytes(s[k..k + 8].try_into().expect("8 bytes"));
        let mut k = 0;
        while k + 8 < n {
            if w(a, k) | (LO * 0x20) != w(lower, k) {
                return false;
            }
            k += 8;
        }
        return w(a, n - 8) | (LO * 0x20) == w(lower, n - 8);
    }
    if n >= 4 {
        // Two overlapping 4-byte words ("host", "expect", "upgrade").
        let w = |s: &[u8], k: usize| u32::from_le_bytes(s[k..k + 4].try_into().expect("4 bytes"));
        return w(a, 0) | 0x2020_2020 == w(lower, 0) && w(a, n - 4) | 0x2020_2020 == w(lower, n - 4);
    }
    a.iter().zip(lower).all(|(&x, &y)| x | 0x20 == y)
}
