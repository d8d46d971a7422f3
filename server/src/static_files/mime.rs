//! Content types by file extension (RFC 9110 §8.3), and which of them are
//! worth compressing.
//!
//! A browser that is told the wrong type, or no type, may *sniff* one from
//! the bytes — and decide that an uploaded `.txt` is HTML. So every file gets
//! an explicit `Content-Type` (unknown extensions: `application/octet-stream`,
//! which browsers download rather than render) and the server adds
//! `X-Content-Type-Options: nosniff`. Text types carry `charset=utf-8`:
//! without it a browser guesses the encoding.

use std::path::Path;

/// What we know about a file type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mime {
    /// The `Content-Type` value.
    pub(crate) content_type: &'static str,
    /// Whether gzip usually pays off (text, JSON, SVG, WebAssembly);
    /// images, fonts, archives and media are compressed already.
    pub(crate) compressible: bool,
}

const fn m(content_type: &'static str, compressible: bool) -> Mime {
    Mime { content_type, compressible }
}

/// The fallback: opaque bytes, never rendered by a browser.
const OCTET_STREAM: Mime = m("application/octet-stream", false);

/// Extension (lower case) -> type. Kept short and sorted by kind; a linear
/// scan over ~40 entries costs less than hashing the extension.
const TABLE: &[(&str, Mime)] = &[
    ("html", m("text/html; charset=utf-8", true)),
    ("htm", m("text/html; charset=utf-8", true)),
    ("css", m("text/css; charset=utf-8", true)),
    ("js", m("text/javascript; charset=utf-8", true)),
    ("mjs", m("text/javascript; charset=utf-8", true)),
    ("txt", m("text/plain; charset=utf-8", true)),
    ("md", m("text/markdown; charset=utf-8", true)),
    ("csv", m("text/csv; charset=utf-8", true)),
    ("json", m("application/json", true)),
    ("map", m("application/json", true)),
    ("webmanifest", m("application/manifest+json", true)),
    ("xml", m("application/xml", true)),
    ("rss", m("application/rss+xml", true)),
    ("atom", m("application/atom+xml", true)),
    ("svg", m("image/svg+xml", true)),
    ("wasm", m("application/wasm", true)),
    ("ico", m("image/x-icon", true)),
    ("png", m("image/png", false)),
    ("jpg", m("image/jpeg", false)),
    ("jpeg", m("image/jpeg", false)),
    ("gif", m("image/gif", false)),
    ("webp", m("image/webp", false)),
    ("avif", m("image/avif", false)),
    ("woff", m("font/woff", false)),
    ("woff2", m("font/woff2", false)),
    ("ttf", m("font/ttf", true)),
    ("otf", m("font/otf", true)),
    ("pdf", m("application/pdf", false)),
    ("zip", m("application/zip", false)),
    ("gz", m("application/gzip", false)),
    ("br", m("application/octet-stream", false)),
    ("tar", m("application/x-tar", true)),
    ("mp4", m("video/mp4", false)),
    ("webm", m("video/webm", false)),
    ("mp3", m("audio/mpeg", false)),
    ("ogg", m("audio/ogg", false)),
    ("wav", m("audio/wav", false)),
];

/// The type of `path`, by its extension (case-insensitive).
pub(crate) fn mime_of(path: &Path) -> Mime {
    let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
        return OCTET_STREAM;
    };
    TABLE.iter().find(|(e, _)| e.eq_ignore_ascii_case(ext)).map_or(OCTET_STREAM, |(_, m)| *m)
}

/// The `Content-Type` for a path, by extension; text types carry `charset=utf-8`.
pub fn content_type(path: &Path) -> &'static str {
    mime_of(path).content_type
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        for (path, ct, z) in [
            ("a.html", "text/html; charset=utf-8", true),
            ("A.HTML", "text/html; charset=utf-8", true),
            ("x/y.css", "text/css; charset=utf-8", true),
            ("big.txt", "text/plain; charset=utf-8", true),
            ("logo.svg", "image/svg+xml", true),
            ("p.png", "image/png", false),
            ("noext", "application/octet-stream", false),
            ("x.unknown", "application/octet-stream", false),
        ] {
            let m = mime_of(Path::new(path));
            assert_eq!((m.content_type, m.compressible), (ct, z), "{path}");
        }
    }
}
