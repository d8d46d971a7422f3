//! Static files: a directory served over HTTP the way a production site
//! needs it — safely, zero-copy, with validators, ranges and compression.
//!
//! ```text
//! GET /css/site.css
//!   │ the routed path (decoded, dot segments resolved by dispatch:    weir_http::normalize_path)
//!   │ strip the route prefix, check it is still normal                400
//!   │ refuse hidden segments (.git, .env) unless allowed               404
//!   ▼
//! open-file cache ── hit, fresh ──────────────────────────────┐       (cache.rs)
//!   │ miss / changed on disk                                   │
//!   ▼                                                          │
//! open(O_NONBLOCK) + fstat: directory? ─▶ 301 to `/dir/`, or index.html, or a listing (listing.rs)
//!   │ regular file                                             │
//!   │ the opened file's real path (/proc/self/fd) under the root? else 404
//!   │ probe `file.br`, `file.gz`; read small files into memory │
//!   ▼                                                          ▼
//! pick the representation by Accept-Encoding (compress.rs; identity if Range)
//!   ▼
//! preconditions: If-Match, If-Unmodified-Since → 412;
//!                If-None-Match, If-Modified-Since → 304  (conditional.rs, RFC 9110 §13)
//!   ▼
//! Range (+ If-Range) → 206 single / multipart, 416       (range.rs, RFC 9110 §14)
//!   ▼
//! 200/206: body = cached bytes (small files) or file ranges sent with sendfile(2)
//! ```
//!
//! # Safety of paths
//!
//! No request can name a file outside the root:
//!
//! * Dispatch routes on the result of [`weir_http::normalize_path`]
//!   ([`Request::path`]), which percent-decodes once and resolves `.` and
//!   `..` (also `%2e%2e`) without ever climbing above `/`; it refuses an
//!   encoded `/` (`%2f`), a backslash, NUL and control bytes (400). This
//!   module serves that path as it is (a second decoding would turn `%25`
//!   into a new escape), after checking its invariants again
//!   ([`is_normalized`]).
//! * Segments starting with `.` (`.git`, `.env`, `.htpasswd`) are 404
//!   unless [`StaticFiles::allow_hidden`].
//! * Symlinks are followed by `open`, then the *opened* file's real path —
//!   read back from `/proc/self/fd/N`, so a link swapped between check and
//!   use cannot fool it — must lie under the (canonical) root, unless
//!   [`StaticFiles::allow_symlinks_out`].
//! * Only regular files are served: a FIFO or a device is 404. Files are
//!   opened with `O_NONBLOCK`, so even a FIFO swapped in cannot block the
//!   event loop on `open`.
//!
//! Methods other than GET and HEAD never reach this module: the router
//! answers them 405 with `Allow: GET, HEAD`.
//!
//! # Headers
//!
//! 200 and 206 carry `Content-Type` (see [`content_type`]), `ETag`,
//! `Last-Modified`, `Accept-Ranges: bytes`, `X-Content-Type-Options:
//! nosniff`, `Cache-Control` when configured, and `Vary: Accept-Encoding`
//! (plus `Content-Encoding`) for resources that have compressed variants.
//! 304 carries the validators, `Cache-Control` and `Vary` (§15.4.5).

mod cache;
mod compress;
mod conditional;
mod listing;
mod mime;
mod range;

use std::fs::{File, Metadata, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use weir_reactor::WorkerPool;

use self::cache::{sibling, Entry, EntryParts, FileCache, Variant};
use self::compress::Accepted;
pub use self::conditional::parse_http_date;
use self::conditional::{if_range_holds, Conditions, Outcome};
pub use self::mime::content_type;
use self::range::RangeDecision;
use crate::request::Request;
use crate::response::{Body, Response};

/// Defaults, each with its reason.
mod defaults {
    /// Open files kept: nginx's `open_file_cache max=` examples use 1000.
    pub(super) const CACHE_ENTRIES: usize = 1024;
    /// Contents (small files + gzip bodies) kept in memory.
    pub(super) const CACHE_BYTES: usize = 64 << 20;
    /// How stale a cached file may be: one `stat` per second per hot file.
    pub(super) const REVALIDATE_MS: u64 = 1000;
    /// Files up to this size are kept in memory and sent with the head in
    /// one `writev`; larger ones go out with `sendfile`.
    pub(super) const SMALL_FILE_MAX: u64 = 16 << 10;
    /// Range specs accepted in one request (more: the header is ignored).
    pub(super) const MAX_RANGES: usize = 16;
    /// Below this size gzip saves too little to pay for itself.
    pub(super) const GZIP_MIN: u64 = 1024;
    /// Above this size we do not compress on the fly (precompress instead).
    pub(super) const GZIP_MAX: u64 = 8 << 20;
}

/// A directory served over HTTP; see the module docs for what it does.
///
/// ```no_run
/// use std::time::Duration;
/// use weir_server::{App, StaticFiles};
///
/// let files = StaticFiles::new("./public")
///     .cache_control(".css", "public, max-age=86400")
///     .cache_control("/assets/", "public, max-age=31536000, immutable")
///     .listing(true)
///     .revalidate_after(Duration::from_millis(500));
/// let app = App::new().static_files("/", files);
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
    index: String,
    allow_hidden: bool,
    allow_symlinks_out: bool,
    listing: bool,
    cache_control: Vec<(String, String)>,
    max_ranges: usize,
    precompressed: bool,
    gzip: bool,
    gzip_min: u64,
    gzip_max: u64,
    small_file_max: u64,
    cache: Arc<FileCache>,
    /// The server's worker pool, for compressing large files off the shard;
    /// given at server start ([`StaticFiles::attach_pool`]).
    pool: OnceLock<WorkerPool>,
}

impl StaticFiles {
    /// Serves `root` (resolved to an absolute, symlink-free path when it exists).
    pub fn new(root: impl Into<PathBuf>) -> StaticFiles {
        let root = root.into();
        let root = root.canonicalize().unwrap_or(root);
        StaticFiles {
            root,
            index: "index.html".into(),
            allow_hidden: false,
            allow_symlinks_out: false,
            listing: false,
            cache_control: Vec::new(),
            max_ranges: defaults::MAX_RANGES,
            precompressed: true,
            gzip: true,
            gzip_min: defaults::GZIP_MIN,
            gzip_max: defaults::GZIP_MAX,
            small_file_max: defaults::SMALL_FILE_MAX,
            cache: Arc::new(FileCache::new(
                defaults::CACHE_ENTRIES,
                defaults::CACHE_BYTES,
                Duration::from_millis(defaults::REVALIDATE_MS),
            )),
            pool: OnceLock::new(),
        }
    }

    /// Serve dotfiles and dot-directories (off by default).
    #[must_use]
    pub fn allow_hidden(mut self, yes: bool) -> Self {
        self.allow_hidden = yes;
        self
    }

    /// Follow symlinks that point outside the root (off by default).
    #[must_use]
    pub fn allow_symlinks_out(mut self, yes: bool) -> Self {
        self.allow_symlinks_out = yes;
        self
    }

    /// The file served for a directory (default `index.html`).
    #[must_use]
    pub fn index(mut self, name: &str) -> Self {
        self.index = name.to_string();
        self
    }

    /// An HTML listing for directories without an index (off by default).
    #[must_use]
    pub fn listing(mut self, yes: bool) -> Self {
        self.listing = yes;
        self
    }

    /// `Cache-Control` for paths ending in `suffix` (e.g. `.css`) or starting
    /// with it (e.g. `/assets/`); the first match wins.
    #[must_use]
    pub fn cache_control(mut self, pattern: &str, value: &str) -> Self {
        self.cache_control.push((pattern.to_string(), value.to_string()));
        self
    }

    /// The most ranges one request may ask for (default 16); a `Range`
    /// with more is ignored and the whole file is sent.
    #[must_use]
    pub fn max_ranges(mut self, n: usize) -> Self {
        self.max_ranges = n.max(1);
        self
    }

    /// Serve `file.br` / `file.gz` next to `file` when the client accepts
    /// them (default on).
    #[must_use]
    pub fn precompressed(mut self, yes: bool) -> Self {
        self.precompressed = yes;
        self
    }

    /// Compress compressible files of `min..=max` bytes with gzip on the
    /// fly, once per file version (default on, 1 KiB ..= 8 MiB). Needs the
    /// open-file cache, which keeps the result.
    #[must_use]
    pub fn gzip(mut self, yes: bool, min: u64, max: u64) -> Self {
        self.gzip = yes;
        self.gzip_min = min;
        self.gzip_max = max;
        self
    }

    /// The open-file cache: at most `max_entries` files (0 turns it off)
    /// and `max_bytes` of cached contents; files up to `small_file_max`
    /// bytes are kept in memory. Replaces the cache (settings are kept).
    #[must_use]
    pub fn open_file_cache(mut self, max_entries: usize, max_bytes: usize, small_file_max: u64) -> Self {
        let revalidate = self.cache.revalidate();
        self.small_file_max = small_file_max;
        self.cache = Arc::new(FileCache::new(max_entries, max_bytes, revalidate));
        self
    }

    /// How long a cached file is trusted before it is checked against the
    /// disk again (default 1 s).
    #[must_use]
    pub fn revalidate_after(mut self, every: Duration) -> Self {
        let (entries, bytes) = self.cache.limits();
        self.cache = Arc::new(FileCache::new(entries, bytes, every));
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Compress large files on `pool` (the server calls this at start with
    /// its worker pool; the first pool given stays). Without a pool, only
    /// files small enough to be held in memory are gzipped on the fly.
    pub(crate) fn attach_pool(&self, pool: &WorkerPool) {
        let _ = self.pool.set(pool.clone());
    }

    /// Answers `req`, whose path starts with `prefix` (already matched by the router).
    pub fn serve(&self, req: &Request<'_>, prefix: &str) -> Response {
        let rel = req.path().strip_prefix(prefix).unwrap_or("");
        if rel.is_empty() {
            // `/static` for a mount at `/static`: the directory itself.
            return redirect(prefix, "/", req.query());
        }
        // The path is already decoded and normalised (`Request::path`):
        // decoding it again would turn `%25` into a new escape. Its
        // invariants are checked again here, the last line of defence
        // before a path meets the file system.
        if !is_normalized(rel) {
            return Response::error(400);
        }
        let key = rel;
        if !self.allow_hidden && key.split('/').any(|s| s.starts_with('.')) {
            return Response::error(404);
        }
        let entry = match self.cache.get(key) {
            Some(e) => e,
            None => match self.open(key) {
                Ok(Opened::File(parts)) => {
                    let entry =
                        Arc::new(Entry::new(*parts, Some(self.cache.budget.clone()), self.cache.now_ms()));
                    self.cache.insert(key, entry.clone());
                    entry
                }
                Ok(Opened::Redirect) => return redirect(prefix, &format!("{key}/"), req.query()),
                Ok(Opened::Listing(dir)) => return self.listing_response(&dir, prefix, key),
                Err(status) => return error_response(status),
            },
        };
        self.respond(req, &entry)
    }

    // ---------------------------------------------------------- resolving

    /// Opens what `key` (a normalised path) names, enforcing the root.
    fn open(&self, key: &str) -> Result<Opened, u16> {
        let path = self.root.join(key.trim_start_matches('/'));
        let (file, meta) = open_nonblocking(&path)?;
        if !self.inside_root(&file, &path) {
            return Err(404);
        }
        let (file, meta, path) = if meta.is_dir() {
            if !key.ends_with('/') {
                return Ok(Opened::Redirect);
            }
            let index = path.join(&self.index);
            match open_nonblocking(&index) {
                Ok((f, m)) if m.is_file() && self.inside_root(&f, &index) => (f, m, index),
                // Out of descriptors (or worse) is no reason to list the directory.
                Err(status) if status >= 500 => return Err(status),
                _ if self.listing => return Ok(Opened::Listing(path)),
                _ => return Err(404),
            }
        } else {
            (file, meta, path)
        };
        if !meta.is_file() {
            return Err(404);
        }
        let mime = mime::mime_of(&path);
        let mut charged = 0;
        let identity = Variant::new(file, &meta, "", None);
        let identity = self.with_content(identity, &mut charged);
        let (mut br, mut gz) = (None, None);
        let probed_siblings = self.precompressed && mime.compressible;
        if probed_siblings {
            for (ext, slot) in [(".br", &mut br), (".gz", &mut gz)] {
                let p = sibling(&path, ext);
                match open_nonblocking(&p) {
                    Ok((f, m)) if m.is_file() && self.inside_root(&f, &p) => {
                        let suffix = if ext == ".br" { "-br" } else { "-gz" };
                        *slot = Some(self.with_content(Variant::new(f, &m, suffix, None), &mut charged));
                    }
                    // Not "no sibling": the entry would be cached without it.
                    Err(status) if status >= 500 => return Err(status),
                    _ => {}
                }
            }
        }
        let len = identity.len();
        Ok(Opened::File(Box::new(EntryParts {
            gzip_eligible: self.gzip
                && self.cache.enabled()
                && mime.compressible
                && (self.gzip_min..=self.gzip_max).contains(&len),
            cache_control: self.cache_control_for(key).map(|v| v.as_bytes().into()),
            path,
            identity,
            br,
            gz,
            probed_siblings,
            mime,
            charged,
        })))
    }

    /// Reads a small file into memory if the cache's budget allows.
    fn with_content(&self, mut v: Variant, charged: &mut usize) -> Variant {
        let len = v.len();
        if !self.cache.enabled() || len == 0 || len > self.small_file_max {
            return v;
        }
        let n = len as usize;
        if !self.cache.budget.try_charge(n) {
            return v;
        }
        let mut buf = vec![0u8; n];
        // A short read means the file changed under us: serve it from disk.
        if v.file.read_exact_at(&mut buf, 0).is_ok() {
            v.content = Some(buf.into());
            *charged += n;
        } else {
            self.cache.budget.release(n);
        }
        v
    }

    /// Is the opened `file` under the root? Its real path is read back from
    /// `/proc/self/fd` (what was opened, not what the path names now);
    /// `realpath` of `path` is the fallback when `/proc` is not mounted.
    fn inside_root(&self, file: &File, path: &Path) -> bool {
        if self.allow_symlinks_out {
            return true;
        }
        let real = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
            .or_else(|_| path.canonicalize());
        real.is_ok_and(|r| r.starts_with(&self.root))
    }

    fn cache_control_for(&self, path: &str) -> Option<&str> {
        self.cache_control
            .iter()
            .find(|(p, _)| path.ends_with(p.as_str()) || path.starts_with(p.as_str()))
            .map(|(_, v)| v.as_str())
    }

    fn listing_response(&self, dir: &Path, prefix: &str, key: &str) -> Response {
        let url = format!("{prefix}{key}");
        match listing::render(dir, &url, self.allow_hidden) {
            Ok(html) => Response::html(html)
                .with_header("X-Content-Type-Options", "nosniff")
                .with_header("Cache-Control", "no-cache"),
            Err(e) => error_response(fs_failure("read directory", dir, &e)),
        }
    }

    // ---------------------------------------------------------- answering

    /// The response for a cached file: representation, preconditions, ranges.
    fn respond(&self, req: &Request<'_>, entry: &Arc<Entry>) -> Response {
        // §14.2: "A server MUST ignore a Range header field received with a
        // request method that is unrecognized or for which range handling is
        // not defined" — GET only (so HEAD describes the whole file).
        let range = if req.is_head() { None } else { req.header("range") };
        let rep = if range.is_none() && entry.vary { self.choose(req, entry) } else { Rep::identity(entry) };

        let conditions = Conditions {
            if_match: req.header("if-match"),
            if_none_match: req.header("if-none-match"),
            if_modified_since: req.header("if-modified-since"),
            if_unmodified_since: req.header("if-unmodified-since"),
        };
        if !conditions.is_empty() {
            match conditions.evaluate(rep.etag, rep.mtime_secs) {
                Outcome::Proceed => {}
                Outcome::Failed => return Response::error(412),
                Outcome::NotModified => {
                    // §15.4.5: the 304 carries ETag, Cache-Control and Vary
                    // (and Last-Modified, which helps caches). No body and
                    // no Content-Length: §8.6 would allow the 200's length,
                    // but common clients then wait for that many bytes.
                    return with_validators(Response::new(304), entry, &rep);
                }
            }
        }

        let mut resp = with_validators(Response::new(200), entry, &rep)
            .with_content_type(entry.mime.content_type)
            .with_header("Accept-Ranges", "bytes")
            .with_header("X-Content-Type-Options", "nosniff");
        if let Some(coding) = rep.coding {
            resp.add_header("Content-Encoding", coding);
        }
        let Some(range) = range else {
            return resp.with_body(rep.body());
        };
        // §13.1.5: a stale If-Range means "send me the whole new file".
        if let Some(v) = req.header("if-range") {
            let id = &entry.identity;
            if !if_range_holds(v, &id.etag, id.mtime_secs, id.stat.mtime) {
                return resp.with_body(rep.body());
            }
        }
        let len = entry.identity.len();
        match range::decide(range, len, self.max_ranges) {
            RangeDecision::Ignore => resp.with_body(rep.body()),
            RangeDecision::Unsatisfiable => {
                // §15.5.17: "the server SHOULD generate a Content-Range header
                // field specifying the current length of the selected representation".
                Response::error(416)
                    .with_header("Content-Range", format!("bytes */{len}"))
                    .with_header("Accept-Ranges", "bytes")
            }
            RangeDecision::Partial(ranges) if ranges.len() == 1 => {
                let r = ranges[0];
                let body = match &entry.identity.content {
                    Some(c) => Body::Bytes(c[r.first as usize..=r.last as usize].to_vec()),
                    None => Body::File { file: entry.identity.file.clone(), offset: r.first, len: r.len() },
                };
                resp.add_header("Content-Range", r.content_range(len));
                resp.with_status(206).with_body(body)
            }
            RangeDecision::Partial(ranges) => {
                let boundary = range::new_boundary();
                let ct = entry.mime.content_type;
                let parts = range::multipart_body(&entry.identity.file, &ranges, len, ct, &boundary);
                // The boundary is per response, so the type is not `'static`:
                // it goes in as a plain header instead of `with_content_type`.
                resp.content_type = None;
                resp.with_status(206)
                    .with_header("Content-Type", format!("multipart/byteranges; boundary={boundary}"))
                    .with_body(Body::Parts(parts))
            }
        }
    }

    /// Picks the representation `Accept-Encoding` prefers (see compress.rs).
    fn choose<'e>(&self, req: &Request<'_>, entry: &'e Arc<Entry>) -> Rep<'e> {
        let accepted = Accepted::parse(req.header("accept-encoding"));
        if accepted.prefers_br() {
            if let Some(v) = &entry.br {
                return Rep::variant(v, Some("br"));
            }
        }
        if accepted.gzip > 0 {
            if let Some(v) = &entry.gz {
                return Rep::variant(v, Some("gzip"));
            }
            if entry.gzip_eligible {
                if let Some(body) = compress::cached_gzip(entry, self.pool.get()) {
                    let v = &entry.identity;
                    return Rep {
                        etag: &entry.gzip_etag,
                        last_modified: &v.last_modified,
                        mtime_secs: v.mtime_secs,
                        coding: Some("gzip"),
                        source: Source::Memory(body),
                    };
                }
            }
        }
        if accepted.br > 0 {
            if let Some(v) = &entry.br {
                return Rep::variant(v, Some("br"));
            }
        }
        Rep::identity(entry)
    }
}

/// What resolving a path found.
enum Opened {
    File(Box<EntryParts>),
    /// A directory named without its trailing slash.
    Redirect,
    /// A directory without an index, listings on.
    Listing(PathBuf),
}

/// The representation chosen for one response.
struct Rep<'e> {
    etag: &'e [u8],
    last_modified: &'e [u8],
    mtime_secs: u64,
    coding: Option<&'static str>,
    source: Source<'e>,
}

enum Source<'e> {
    Variant(&'e Variant),
    Memory(Arc<[u8]>),
}

impl<'e> Rep<'e> {
    fn identity(entry: &'e Entry) -> Rep<'e> {
        Rep::variant(&entry.identity, None)
    }

    fn variant(v: &'e Variant, coding: Option<&'static str>) -> Rep<'e> {
        Rep {
            etag: &v.etag,
            last_modified: &v.last_modified,
            mtime_secs: v.mtime_secs,
            coding,
            source: Source::Variant(v),
        }
    }

    /// The whole representation as a body: cached bytes or the file.
    fn body(&self) -> Body {
        match &self.source {
            Source::Memory(b) => Body::Shared(b.clone()),
            Source::Variant(v) => match &v.content {
                Some(c) => Body::Shared(c.clone()),
                None if v.len() == 0 => Body::Empty,
                None => Body::File { file: v.file.clone(), offset: 0, len: v.len() },
            },
        }
    }
}

/// ETag, Last-Modified, Cache-Control and Vary: what 200, 206 and 304 share.
fn with_validators(resp: Response, entry: &Entry, rep: &Rep<'_>) -> Response {
    let mut resp =
        resp.with_header("ETag", rep.etag.to_vec()).with_header("Last-Modified", rep.last_modified.to_vec());
    if let Some(cc) = &entry.cache_control {
        resp.add_header("Cache-Control", cc.to_vec());
    }
    if entry.vary {
        resp.add_header("Vary", "Accept-Encoding");
    }
    resp
}

/// 301 to `prefix` + `path` (percent-encoded), keeping the query.
fn redirect(prefix: &str, path: &str, query: Option<&str>) -> Response {
    let mut loc = listing::percent_encode_path(&format!("{prefix}{path}"));
    if let Some(q) = query {
        loc.push('?');
        loc.push_str(q);
    }
    Response::error(301).with_header("Location", loc)
}

/// Opens `path` read-only and non-blocking, and `fstat`s the descriptor.
/// `O_NONBLOCK` has no effect on regular files and directories, but makes
/// opening a FIFO return at once instead of waiting for a writer.
///
/// # Errors
///
/// The status for the failure ([`status_for_fs_error`]); a server-side
/// one (5xx) is logged with the operation and the path.
fn open_nonblocking(path: &Path) -> Result<(File, Metadata), u16> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| fs_failure("open", path, &e))?;
    let meta = file.metadata().map_err(|e| fs_failure("fstat", path, &e))?;
    Ok((file, meta))
}

/// The status for a failed file-system call while resolving a request:
///
/// | errno | status | why |
/// |---|---|---|
/// | `EMFILE`, `ENFILE` | 503 (+ `Retry-After`) | out of descriptors: the server's momentary trouble; a 404 would be cached as "gone" |
/// | `EACCES`, `EPERM` | 403 | the file exists but may not be read (as before) |
/// | `ENOENT`, `ENOTDIR`, `ENAMETOOLONG`, `ELOOP`, `ENXIO`, `ENODEV` | 404 | nothing servable at that path (`ENXIO`: a socket; `ENODEV`: a device) |
/// | anything else (`EIO`, `ENOMEM`, ...) | 500 | |
fn status_for_fs_error(e: &std::io::Error) -> u16 {
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => 503,
        Some(libc::EACCES | libc::EPERM) => 403,
        Some(
            libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG | libc::ELOOP | libc::ENXIO | libc::ENODEV,
        ) => 404,
        _ => 500,
    }
}

/// [`status_for_fs_error`], logging a failure that is the server's (5xx)
/// with the operation and the path: `static files: open /srv/a.txt: Too
/// many open files (os error 24)`.
fn fs_failure(op: &str, path: &Path, e: &std::io::Error) -> u16 {
    let status = status_for_fs_error(e);
    if status >= 500 {
        crate::log::error(|out| {
            let _ = write!(out, "static files: {op} {}: {e}", path.display());
        });
    }
    status
}

/// True for a path with [`weir_http::normalize_path`]'s invariants: it
/// starts with `/`, has no `.` or `..` segment and no empty one (but a
/// trailing `/`), no `\\`, NUL or other control byte. What dispatch hands
/// over always has them; checked again because a path that lacked one
/// could name a file outside the root.
fn is_normalized(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    let bytes_ok = !path.bytes().any(|b| b == b'\\' || b < 0x20 || b == 0x7f);
    let mut segments = rest.split('/').peekable();
    while let Some(seg) = segments.next() {
        let last = segments.peek().is_none();
        if seg == "." || seg == ".." || (seg.is_empty() && !last) {
            return false;
        }
    }
    bytes_ok
}

/// The error page for `status`; a 503 says when to try again.
fn error_response(status: u16) -> Response {
    let resp = Response::error(status);
    if status == 503 {
        resp.with_header("Retry-After", "1")
    } else {
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_system_errors_map_to_statuses() {
        for (errno, status) in [
            (libc::EMFILE, 503),
            (libc::ENFILE, 503),
            (libc::EACCES, 403),
            (libc::EPERM, 403),
            (libc::ENOENT, 404),
            (libc::ENOTDIR, 404),
            (libc::ENAMETOOLONG, 404),
            (libc::ELOOP, 404),
            (libc::ENXIO, 404),
            (libc::ENODEV, 404),
            (libc::EIO, 500),
            (libc::ENOMEM, 500),
            (libc::EINVAL, 500),
        ] {
            let e = std::io::Error::from_raw_os_error(errno);
            assert_eq!(status_for_fs_error(&e), status, "{e}");
        }
        assert_eq!(status_for_fs_error(&std::io::Error::other("no errno")), 500);
        let r = error_response(503);
        assert_eq!((r.status(), r.header("retry-after")), (503, Some(&b"1"[..])));
        assert_eq!(error_response(404).header("retry-after"), None);
    }

    #[test]
    fn normalized_paths_are_recognised() {
        for p in ["/", "/a", "/a/", "/a/b.txt", "/100%.txt", "/a b", "/.hidden", "/a/..b", "/é"] {
            assert!(is_normalized(p), "{p}");
            assert_eq!(weir_http::normalize_path(p.replace('%', "%25").as_bytes()).as_deref(), Ok(p));
        }
        for p in [
            "", "a", "//", "/a//b", "/.", "/..", "/a/./b", "/a/../b", "/a/..", "/a\\b", "/a\0b", "/a\x1fb",
            "/\x7f",
        ] {
            assert!(!is_normalized(p), "{p:?}");
        }
    }
}
