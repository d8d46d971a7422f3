//! Over-read test (after picohttpparser's `test.c`): each input is copied so
//! that its last byte sits right before a `PROT_NONE` page. Any read past
//! the end of the slice faults (SIGSEGV) instead of passing silently.
//! Every prefix is tried too, so "incomplete" paths end at the guard as well.

mod common;

use weir_http::{normalize_path, ChunkedDecoder, Limits, RequestParser};

/// Two pages: the first read-write, the second `PROT_NONE`.
struct Guarded {
    base: *mut u8,
    page: usize,
}

impl Guarded {
    fn new() -> Self {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("page size");
        // SAFETY: an anonymous private mapping at a kernel-chosen address; the
        // result is checked against MAP_FAILED below.
        let base = unsafe {
            libc::mmap(
                core::ptr::null_mut(),
                2 * page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap");
        // SAFETY: `base + page` is inside the 2-page mapping made above.
        let rc = unsafe { libc::mprotect(base.cast::<u8>().add(page).cast(), page, libc::PROT_NONE) };
        assert_eq!(rc, 0, "mprotect");
        Self { base: base.cast(), page }
    }

    /// Copies `input` to end exactly at the guard page and returns it.
    fn place(&mut self, input: &[u8]) -> &[u8] {
        assert!(input.len() <= self.page);
        // SAFETY: `start..start + len` lies within the first (read-write) page,
        // which this struct owns; `input` cannot overlap the mapping because
        // the returned borrow ends before the next call (`&mut self`).
        unsafe {
            let start = self.base.add(self.page - input.len());
            core::ptr::copy_nonoverlapping(input.as_ptr(), start, input.len());
            core::slice::from_raw_parts(start, input.len())
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping created in `new`; no slice into
        // it outlives `self` (they borrow `self`).
        unsafe {
            libc::munmap(self.base.cast(), 2 * self.page);
        }
    }
}

const CHUNKED: &[&[u8]] =
    &[b"5\r\nhello\r\n0\r\n\r\n", b"1;a=b\r\nx\r\n0\r\nT: v\r\n\r\n", b"fff", b"0\r\nT: v"];

const PATHS: &[&[u8]] = &[b"/a/%2e%2e/b%", b"/a/b/..", b"/%e2%82", b"/x%2"];

#[test]
fn no_read_past_the_end() {
    let mut g = Guarded::new();
    let mut inputs: Vec<Vec<u8>> = common::CORPUS.iter().map(|c| c.to_vec()).collect();
    // Lengths around the 8-byte SWAR word, so the tail loop ends at the guard.
    for n in 0..20 {
        inputs
            .push(format!("GET /{} HTTP/1.1\r\nHost: a\r\nX: {}", "a".repeat(n), "b".repeat(n)).into_bytes());
    }
    for input in &inputs {
        for end in 0..=input.len() {
            let small = Limits::default().max_request_line(30).max_head(60);
            for limits in [Limits::default(), small] {
                let buf = g.place(&input[..end]);
                let _ = RequestParser::new(limits).parse(buf);
            }
        }
    }
    for input in CHUNKED {
        for end in 0..=input.len() {
            let buf = g.place(&input[..end]);
            let mut d = ChunkedDecoder::new(&Limits::default());
            let mut pos = 0;
            while let Ok((n, r)) = d.decode(&buf[pos..]) {
                pos += n;
                if r != weir_http::Decoded::NeedMore && n == 0 || r == weir_http::Decoded::NeedMore {
                    break;
                }
            }
        }
    }
    for input in PATHS {
        for end in 0..=input.len() {
            let _ = normalize_path(g.place(&input[..end]));
        }
    }
}
