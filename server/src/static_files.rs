//! Static files: safe path resolution, `sendfile` bodies, validators.
//!
//! A request path is percent-decoded and normalised by
//! [`weir_http::normalize_path`] (dot segments resolved, `%2f`, NUL and
//! backslashes refused), hidden segments (`.git`, dotfiles) are refused
//! unless allowed, and the resolved file must lie inside the root after
//! symlinks are followed (`realpath`), unless links out are allowed.
//! Bodies go out with `sendfile(2)` from the write queue.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use weir_http::{format_imf_fixdate, normalize_path, IMF_FIXDATE_LEN};

use crate::request::Request;
use crate::response::{Body, Response};

/// A directory served over HTTP.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
    index: String,
    allow_hidden: bool,
    allow_symlinks_out: bool,
    cache_control: Vec<(String, String)>,
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
            cache_control: Vec::new(),
        }
    }

    /// Serve dotfiles (off by default).
    pub fn allow_hidden(mut self, yes: bool) -> Self {
        self.allow_hidden = yes;
        self
    }

    /// Follow symlinks that point outside the root (off by default).
    pub fn allow_symlinks_out(mut self, yes: bool) -> Self {
        self.allow_symlinks_out = yes;
        self
    }

    /// `Cache-Control` for paths ending in `suffix` (e.g. `.css`) or starting
    /// with it (e.g. `/assets/`); the first match wins.
    pub fn cache_control(mut self, pattern: &str, value: &str) -> Self {
        self.cache_control.push((pattern.to_string(), value.to_string()));
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Answers `req`, whose path starts with `prefix` (already matched by the router).
    pub fn serve(&self, req: &Request<'_>, prefix: &str) -> Response {
        let rel = req.path().strip_prefix(prefix).unwrap_or("");
        let decoded = match normalize_path(rel.as_bytes()) {
            Ok(p) => p,
            Err(_) => return Response::error(400),
        };
        if !self.allow_hidden && decoded.split('/').any(|s| s.starts_with('.')) {
            return Response::error(404);
        }
        let mut path = self.root.join(decoded.trim_start_matches('/'));
        let Ok(mut meta) = std::fs::metadata(&path) else {
            return Response::error(404);
        };
        if meta.is_dir() {
            if !req.path().ends_with('/') {
                let mut loc = req.path().to_string();
                loc.push('/');
                if let Some(q) = req.query() {
                    loc.push('?');
                    loc.push_str(q);
                }
                return Response::error(301).with_header("Location", loc.into_bytes());
            }
            path.push(&self.index);
            meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                _ => return Response::error(404),
            };
        }
        if !meta.is_file() {
            return Response::error(404);
        }
        if !self.allow_symlinks_out {
            match path.canonicalize() {
                Ok(real) if real.starts_with(&self.root) => {}
                _ => return Response::error(404),
            }
        }
        let validators = Validators::of(&meta);
        if let Some(status) = validators.precondition(req) {
            let resp = Response::new(status);
            return if status == 304 { validators.apply(resp) } else { resp };
        }
        let Ok(file) = File::open(&path) else {
            return Response::error(403);
        };
        let mut resp = validators.apply(Response::new(200).with_content_type(content_type(&path)));
        resp.add_header("X-Content-Type-Options", &b"nosniff"[..]);
        if let Some(cc) = self.cache_control_for(req.path()) {
            resp.add_header("Cache-Control", cc.as_bytes().to_vec());
        }
        resp.with_body(Body::File { file: Arc::new(file), offset: 0, len: meta.len() })
    }

    fn cache_control_for(&self, path: &str) -> Option<&str> {
        self.cache_control
            .iter()
            .find(|(p, _)| path.ends_with(p.as_str()) || path.starts_with(p.as_str()))
            .map(|(_, v)| v.as_str())
    }
}

/// `ETag` and `Last-Modified` of a file (RFC 9110 §8.8).
struct Validators {
    etag: String,
    mtime: u64,
}

impl Validators {
    fn of(meta: &std::fs::Metadata) -> Validators {
        let mtime = meta.mtime().max(0) as u64;
        // Strong: inode, size and modification time (to the nanosecond) change with the content.
        let etag =
            format!("\"{:x}-{:x}-{:x}{:08x}\"", meta.ino(), meta.len(), mtime, meta.mtime_nsec().max(0));
        Validators { etag, mtime }
    }

    fn apply(&self, resp: Response) -> Response {
        let mut date = [0u8; IMF_FIXDATE_LEN];
        format_imf_fixdate(self.mtime, &mut date);
        resp.with_header("ETag", self.etag.clone().into_bytes())
            .with_header("Last-Modified", date.to_vec())
            .with_header("Accept-Ranges", &b"bytes"[..])
    }

    /// RFC 9110 §13.2.2: If-Match, then If-Unmodified-Since, then
    /// If-None-Match, then If-Modified-Since.
    fn precondition(&self, req: &Request<'_>) -> Option<u16> {
        if let Some(v) = req.header("if-match") {
            if !etag_list_matches(v, &self.etag, false) {
                return Some(412);
            }
        } else if let Some(t) = req.header("if-unmodified-since").and_then(parse_http_date) {
            if self.mtime > t {
                return Some(412);
            }
        }
        if let Some(v) = req.header("if-none-match") {
            if etag_list_matches(v, &self.etag, true) {
                return Some(304);
            }
        } else if let Some(t) = req.header("if-modified-since").and_then(parse_http_date) {
            if self.mtime <= t {
                return Some(304);
            }
        }
        None
    }
}

/// Does the `If-Match`/`If-None-Match` list match `etag`? `weak` selects
/// weak comparison (`W/"x"` equals `"x"`), as If-None-Match requires.
fn etag_list_matches(list: &[u8], etag: &str, weak: bool) -> bool {
    let list = String::from_utf8_lossy(list);
    let list = list.trim();
    if list == "*" {
        return true;
    }
    list.split(',').map(str::trim).any(|tag| {
        let (is_weak, tag) = match tag.strip_prefix("W/") {
            Some(t) => (true, t),
            None => (false, tag),
        };
        tag == etag && (weak || !is_weak)
    })
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) into Unix seconds.
pub fn parse_http_date(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?.trim();
    let mut it = s.split_ascii_whitespace();
    let _wday = it.next()?;
    let day: u64 = it.next()?.parse().ok()?;
    let mon = it.next()?;
    let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        .iter()
        .position(|m| *m == mon)? as u64
        + 1;
    let year: u64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|x| x.parse::<u64>().ok());
    let (h, m, sec) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 || year < 1970 {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let (y, mo) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + sec)
}

/// The `Content-Type` for a path, by extension; text types carry `charset=utf-8`.
pub fn content_type(path: &Path) -> &'static str {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "ogg" => "audio/ogg",
        "wav" => "audio/wav",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 GMT"), Some(784_111_777));
        assert_eq!(parse_http_date(b"Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_http_date(b"garbage"), None);
        assert_eq!(parse_http_date(b"Sun, 06 Nov 1994 08:49:37 UTC"), None);
    }

    #[test]
    fn etag_comparison() {
        assert!(etag_list_matches(b"\"a\", \"b\"", "\"b\"", false));
        assert!(etag_list_matches(b"W/\"b\"", "\"b\"", true));
        assert!(!etag_list_matches(b"W/\"b\"", "\"b\"", false));
        assert!(etag_list_matches(b"*", "\"z\"", false));
        assert!(!etag_list_matches(b"\"c\"", "\"b\"", true));
    }
}
