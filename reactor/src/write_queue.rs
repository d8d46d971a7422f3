//! The write queue: response bytes and file ranges, flushed with `writev(2)`
//! and `sendfile(2)` until the socket would block.
//!
//! A protocol never writes to a socket itself. It pushes [`Chunk`]s — bytes
//! it owns, bytes shared with other connections (a cached file, one pub/sub
//! frame for a thousand subscribers), `'static` bytes, or a range of an open
//! file — and the shard flushes the queue once the protocol returns. That
//! one rule buys three things:
//!
//! * **Batching.** Sixteen pipelined responses become one `writev`. (Small
//!   answers copied out while a connection's queue is empty do not even
//!   reach it: they leave from the shard's output batch with one `write`,
//!   see `Ctx::write_with`. The queue holds what has to wait — output the
//!   socket refused — and what must keep its order with chunks.)
//! * **Zero copy.** A body is never copied into a contiguous buffer: a
//!   response head and its body are two iovecs; a file goes out by
//!   `sendfile`, from the page cache to the socket.
//! * **Exact partial writes.** The kernel may take any prefix of what we
//!   offer. The queue advances by exactly that many bytes — possibly
//!   mid-chunk, possibly across several — and the rest waits for the
//!   `EPOLLOUT` edge.
//!
//! ```text
//!   [ head (pool) | body (shared) | file 0..1 MiB | head | body ]
//!     \------ writev -----------/   \- sendfile -/   \-- writev --/
//!          front_pos: bytes of the front chunk already sent
//! ```
//!
//! A short write or `EAGAIN` means the socket buffer is full; with
//! edge-triggered epoll the kernel reports `EPOLLOUT` again when space
//! frees, so the queue stops there without trying a second syscall.

use std::fs::File;
use std::io;
use std::net::TcpStream;
use std::os::fd::AsFd;
use std::sync::Arc;

use crate::buf::BufPool;
use crate::sys::io_ops::{self, IoVecs, IOV_MAX, SENDFILE_MAX};
use crate::transport::{read_file_piece, Transport};

/// One piece of output.
#[derive(Debug)]
pub enum Chunk {
    /// Bytes that live forever (a canned response).
    Static(&'static [u8]),
    /// Bytes owned by the queue; freed (or returned to the pool) once sent.
    Owned(Vec<u8>),
    /// A range of reference-counted bytes shared with other connections.
    Shared(SharedBytes),
    /// A range of an open file, sent with `sendfile(2)`.
    File(FileRange),
}

/// A cheaply clonable range of shared bytes.
#[derive(Debug, Clone)]
pub struct SharedBytes {
    data: Arc<[u8]>,
    start: usize,
    end: usize,
}

impl SharedBytes {
    /// All of `data`.
    pub fn new(data: Arc<[u8]>) -> SharedBytes {
        let end = data.len();
        SharedBytes { data, start: 0, end }
    }

    /// A sub-range of `data`.
    ///
    /// # Panics
    ///
    /// When `start..end` is not within `data`.
    pub fn slice(data: Arc<[u8]>, start: usize, end: usize) -> SharedBytes {
        assert!(start <= end && end <= data.len(), "SharedBytes range out of bounds");
        SharedBytes { data, start, end }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }
}

/// `len` bytes of `file` starting at `offset`.
#[derive(Debug, Clone)]
pub struct FileRange {
    /// The open file (shared with an open-file cache, for instance).
    pub file: Arc<File>,
    /// Where the range starts.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
}

impl Chunk {
    fn len(&self) -> u64 {
        match self {
            Chunk::Static(b) => b.len() as u64,
            Chunk::Owned(v) => v.len() as u64,
            Chunk::Shared(s) => (s.end - s.start) as u64,
            Chunk::File(f) => f.len,
        }
    }

    fn bytes(&self) -> Option<&[u8]> {
        match self {
            Chunk::Static(b) => Some(b),
            Chunk::Owned(v) => Some(v),
            Chunk::Shared(s) => Some(s.as_slice()),
            Chunk::File(_) => None,
        }
    }
}

impl From<&'static [u8]> for Chunk {
    fn from(b: &'static [u8]) -> Chunk {
        Chunk::Static(b)
    }
}

impl From<&'static str> for Chunk {
    fn from(s: &'static str) -> Chunk {
        Chunk::Static(s.as_bytes())
    }
}

impl From<Vec<u8>> for Chunk {
    fn from(v: Vec<u8>) -> Chunk {
        Chunk::Owned(v)
    }
}

impl From<SharedBytes> for Chunk {
    fn from(s: SharedBytes) -> Chunk {
        Chunk::Shared(s)
    }
}

impl From<Arc<[u8]>> for Chunk {
    fn from(a: Arc<[u8]>) -> Chunk {
        Chunk::Shared(SharedBytes::new(a))
    }
}

impl From<FileRange> for Chunk {
    fn from(f: FileRange) -> Chunk {
        Chunk::File(f)
    }
}

/// What a flush achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// Everything queued was handed to the kernel.
    Done,
    /// The socket buffer is full; wait for the writable edge.
    Blocked,
}

/// A per-connection FIFO of [`Chunk`]s. Holds no allocation while empty.
#[derive(Debug, Default)]
pub struct WriteQueue {
    chunks: std::collections::VecDeque<Chunk>,
    /// Bytes of the front chunk already written.
    front_pos: u64,
    /// Bytes not yet written, across all chunks.
    queued: u64,
}

impl WriteQueue {
    /// An empty queue.
    pub fn new() -> WriteQueue {
        WriteQueue::default()
    }

    /// Bytes waiting to be written.
    pub fn queued_bytes(&self) -> u64 {
        self.queued
    }

    /// True when nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Appends a chunk. Empty chunks are dropped.
    pub fn push(&mut self, chunk: Chunk) {
        let len = chunk.len();
        if len == 0 {
            return;
        }
        self.queued += len;
        self.chunks.push_back(chunk);
    }

    /// Appends a copy of `bytes`, into the tail buffer when it has room,
    /// else into a buffer from `pool`. Small response heads go this way:
    /// copying 100 bytes is cheaper than allocating for them.
    pub fn push_copy(&mut self, bytes: &[u8], pool: &mut BufPool) {
        if bytes.is_empty() {
            return;
        }
        self.queued += bytes.len() as u64;
        if let Some(Chunk::Owned(tail)) = self.chunks.back_mut() {
            // Append only within spare capacity: never reallocate (and so
            // never grow) a buffer that may be partly written already.
            if tail.capacity() - tail.len() >= bytes.len() {
                tail.extend_from_slice(bytes);
                return;
            }
        }
        let mut buf = pool.take();
        buf.extend_from_slice(bytes);
        self.chunks.push_back(Chunk::Owned(buf));
    }

    /// Lets `fill` append bytes straight into the queue's tail buffer (a
    /// pooled one is added when the tail has less than `reserve` bytes of
    /// room): a response head is encoded in place, never copied. Appending
    /// beyond the room is allowed (the buffer grows; it is then freed, not
    /// pooled, once sent).
    pub fn stage(&mut self, pool: &mut BufPool, reserve: usize, fill: impl FnOnce(&mut Vec<u8>)) {
        let tail = self.stage_tail(pool, reserve);
        let before = tail.len();
        fill(tail);
        let added = tail.len() - before;
        self.end_stage(added, pool);
    }

    /// The first half of [`stage`](Self::stage): the tail buffer, with at
    /// least `reserve` bytes of room. Call [`end_stage`](Self::end_stage)
    /// with the number of bytes appended.
    pub(crate) fn stage_tail(&mut self, pool: &mut BufPool, reserve: usize) -> &mut Vec<u8> {
        let room = match self.chunks.back() {
            Some(Chunk::Owned(tail)) => tail.capacity() - tail.len(),
            _ => 0,
        };
        if room < reserve {
            self.chunks.push_back(Chunk::Owned(pool.take()));
        }
        let Some(Chunk::Owned(tail)) = self.chunks.back_mut() else {
            unreachable!("the tail was just made an owned buffer");
        };
        tail
    }

    /// The second half of [`stage`](Self::stage): `added` bytes were
    /// appended to the tail.
    pub(crate) fn end_stage(&mut self, added: usize, pool: &mut BufPool) {
        self.queued += added as u64;
        if let Some(Chunk::Owned(tail)) = self.chunks.back() {
            if tail.is_empty() {
                // Never leave an empty chunk: a flush could not make progress on it.
                if let Some(Chunk::Owned(v)) = self.chunks.pop_back() {
                    pool.give(v);
                }
            }
        }
    }

    /// Drops everything queued (on abort), returning buffers to `pool`.
    pub fn clear(&mut self, pool: &mut BufPool) {
        for chunk in self.chunks.drain(..) {
            if let Chunk::Owned(v) = chunk {
                pool.give(v);
            }
        }
        self.front_pos = 0;
        self.queued = 0;
    }

    /// Writes as much as the socket takes.
    ///
    /// # Errors
    ///
    /// Any error of `writev`/`sendfile` other than `EAGAIN`/`EINTR`, and
    /// `UnexpectedEof` when a file is shorter than the range queued for it
    /// (it was truncated after the response head promised its length).
    pub fn flush(&mut self, fd: &impl AsFd, iov: &mut IoVecs, pool: &mut BufPool) -> io::Result<Flush> {
        loop {
            let Some(front) = self.chunks.front() else {
                return Ok(Flush::Done);
            };
            let front_pos = self.front_pos as usize;
            let (res, offered) = if let Chunk::File(range) = front {
                send_file(fd, range, self.front_pos)?
            } else if self.chunks.len() == 1 {
                // One buffer (a response head with its small body, the usual
                // case): a plain `write`, no iovec gathering.
                let bytes = &front.bytes().expect("not a file")[front_pos..];
                (io_ops::write(fd, bytes), bytes.len() as u64)
            } else {
                // Gather the run of byte chunks at the front, up to IOV_MAX.
                let mut offered: u64 = 0;
                let slices = self
                    .chunks
                    .iter()
                    .take(IOV_MAX)
                    .map_while(Chunk::bytes)
                    .enumerate()
                    .map(|(i, b)| if i == 0 { &b[front_pos..] } else { b })
                    .inspect(|b| offered += b.len() as u64);
                (iov.writev(fd, slices), offered)
            };
            match res {
                Ok(n) => {
                    self.advance(n as u64, pool);
                    if (n as u64) < offered {
                        // A short transfer: the socket buffer is full.
                        return Ok(Flush::Blocked);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// [`flush`](Self::flush) through a transport: its own pending output
    /// first, then each byte chunk through [`Transport::write`], and file
    /// ranges by `sendfile` if the transport allows it, else read in pieces
    /// of at most [`FILE_PIECE_LEN`](crate::transport::FILE_PIECE_LEN) bytes
    /// into `piece` (so memory stays bounded). No gathering: a transport
    /// frames what it is given (a TLS record per write), and one `writev`
    /// of plaintext would mean nothing to it.
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush), and whatever the transport reports.
    pub fn flush_through(
        &mut self,
        sock: &TcpStream,
        transport: &mut dyn Transport,
        pool: &mut BufPool,
        piece: &mut Vec<u8>,
    ) -> io::Result<Flush> {
        if transport.flush(sock)? == Flush::Blocked {
            return Ok(Flush::Blocked);
        }
        // The file offset `piece` holds, while it is the front chunk's: one
        // `pread` feeds several records (a TLS write takes one record's
        // worth, 16 KiB, of a 64 KiB piece).
        let mut held: Option<u64> = None;
        loop {
            let Some(front) = self.chunks.front() else {
                // Everything went in; what the transport could not send yet
                // (an encrypted record the socket refused) decides.
                return transport.flush(sock);
            };
            let pos = self.front_pos;
            let (res, offered) = match front {
                Chunk::File(range) if transport.sends_files() => send_file(sock, range, pos)?,
                Chunk::File(range) => {
                    let at = range.offset + pos;
                    let start = match held {
                        Some(start) if at >= start && at < start + piece.len() as u64 => start,
                        _ => {
                            read_file_piece(&range.file, at, range.len - pos, piece)?;
                            held = Some(at);
                            at
                        }
                    };
                    let rest = &piece[(at - start) as usize..];
                    (transport.write(sock, rest), rest.len() as u64)
                }
                _ => {
                    let bytes = &front.bytes().expect("not a file")[pos as usize..];
                    (transport.write(sock, bytes), bytes.len() as u64)
                }
            };
            match res {
                // A transport may take less than it is offered (one record)
                // with room left in the socket: only `WouldBlock` (or
                // taking nothing) proves the socket full.
                Ok(0) if offered > 0 => return Ok(Flush::Blocked),
                Ok(n) => {
                    self.advance(n as u64, pool);
                    if self.front_pos == 0 {
                        // The front chunk is done: the piece was its.
                        held = None;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Flush::Blocked),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Marks `n` bytes as written: pops finished chunks, moves `front_pos`.
    fn advance(&mut self, mut n: u64, pool: &mut BufPool) {
        self.queued -= n;
        while n > 0 {
            let front_len = self.chunks.front().map(Chunk::len).expect("advanced past the queue");
            let left = front_len - self.front_pos;
            if n >= left {
                n -= left;
                self.front_pos = 0;
                if let Some(Chunk::Owned(v)) = self.chunks.pop_front() {
                    pool.give(v);
                }
            } else {
                self.front_pos += n;
                n = 0;
            }
        }
        if self.chunks.is_empty() && self.chunks.capacity() > 16 {
            // A burst (hundreds of pipelined responses) should not pin its
            // peak memory to an idle connection.
            self.chunks = Default::default();
        }
    }
}

/// One `sendfile(2)` of the rest of `range` (from `pos`): its result and
/// how many bytes were offered.
///
/// # Errors
///
/// `UnexpectedEof` when the file is shorter than the range (it was
/// truncated after the response head promised its length).
fn send_file(fd: &impl AsFd, range: &FileRange, pos: u64) -> io::Result<(io::Result<usize>, u64)> {
    let want = (range.len - pos).min(SENDFILE_MAX as u64) as usize;
    let mut offset = range.offset + pos;
    let res = io_ops::sendfile(fd, &*range.file, &mut offset, want);
    if matches!(res, Ok(0)) {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shorter than the queued range"));
    }
    Ok((res, want as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    fn drain_all(rx: &mut UnixStream, out: &mut Vec<u8>) {
        let mut buf = [0u8; 4096];
        loop {
            match rx.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn partial_writes_are_exact_across_chunks() {
        let (tx, mut rx) = UnixStream::pair().unwrap();
        tx.set_nonblocking(true).unwrap();
        rx.set_nonblocking(true).unwrap();
        crate::sys::socket::set_send_buffer(&tx, 4096).unwrap();
        let mut pool = BufPool::new(256, 4);
        let mut iov = IoVecs::new();
        let mut q = WriteQueue::new();
        let mut expected = Vec::new();
        for i in 0..2000u32 {
            let piece: Vec<u8> = (0..(i % 97 + 1)).map(|b| (b as u8) ^ (i as u8)).collect();
            expected.extend_from_slice(&piece);
            match i % 3 {
                0 => q.push(Chunk::Owned(piece)),
                1 => q.push(Chunk::Shared(SharedBytes::new(piece.into()))),
                _ => q.push_copy(&piece, &mut pool),
            }
        }
        assert_eq!(q.queued_bytes(), expected.len() as u64);
        let mut got = Vec::new();
        let mut blocked = 0;
        while q.flush(&tx, &mut iov, &mut pool).unwrap() == Flush::Blocked {
            blocked += 1;
            drain_all(&mut rx, &mut got);
        }
        drain_all(&mut rx, &mut got);
        assert!(blocked > 0, "the test must exercise partial writes");
        assert_eq!(got, expected);
        assert_eq!(q.queued_bytes(), 0);
        assert!(q.is_empty());
    }

    #[test]
    fn staging_appends_in_place_and_never_leaves_an_empty_chunk() {
        let mut pool = BufPool::new(256, 4);
        let mut q = WriteQueue::new();
        q.stage(&mut pool, 64, |_| {});
        assert!(q.is_empty(), "an empty fill queues nothing");
        q.stage(&mut pool, 64, |b| b.extend_from_slice(b"head1"));
        q.stage(&mut pool, 64, |b| b.extend_from_slice(b"head2"));
        assert_eq!(q.chunks.len(), 1, "the second head shares the first's buffer");
        q.push(Chunk::Static(b"body"));
        q.stage(&mut pool, 64, |b| b.extend_from_slice(b"head3"));
        assert_eq!(q.chunks.len(), 3, "never appended across a chunk of another kind");
        assert_eq!(q.queued_bytes(), 19);
        let (tx, mut rx) = UnixStream::pair().unwrap();
        let mut iov = IoVecs::new();
        assert_eq!(q.flush(&tx, &mut iov, &mut pool).unwrap(), Flush::Done);
        drop(tx);
        let mut got = Vec::new();
        rx.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"head1head2bodyhead3");
    }

    #[test]
    fn file_ranges_and_bytes_interleave() {
        let path = std::env::temp_dir().join(format!("weir-wq-{}", std::process::id()));
        let content: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::File::create(&path).unwrap().write_all(&content).unwrap();
        let file = Arc::new(File::open(&path).unwrap());
        std::fs::remove_file(&path).unwrap();

        // sendfile needs a socket (or pipe) as destination: use TCP loopback.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let reader = std::thread::spawn(move || {
            let mut c = client;
            let mut v = Vec::new();
            c.read_to_end(&mut v).unwrap();
            v
        });
        let mut pool = BufPool::new(256, 4);
        let mut iov = IoVecs::new();
        let mut q = WriteQueue::new();
        q.push(Chunk::Static(b"head:"));
        q.push(Chunk::File(FileRange { file: file.clone(), offset: 10, len: 90_000 }));
        q.push_copy(b"|mid|", &mut pool);
        q.push(Chunk::File(FileRange { file, offset: 0, len: 5 }));
        let mut expected = b"head:".to_vec();
        expected.extend_from_slice(&content[10..90_010]);
        expected.extend_from_slice(b"|mid|");
        expected.extend_from_slice(&content[..5]);
        // Spin with poll-free retries: the reader thread drains the socket.
        while q.flush(&server, &mut iov, &mut pool).unwrap() == Flush::Blocked {
            std::thread::yield_now();
        }
        drop(server);
        assert_eq!(reader.join().unwrap(), expected);
    }
}
