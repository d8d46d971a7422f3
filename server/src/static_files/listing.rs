//! Directory listings (off by default) and the URL escaping they need.
//!
//! A listing prints file names chosen by whoever can write to the served
//! directory, so every name is escaped twice over: percent-encoded in the
//! link (a name with `?`, `#` or `"` stays one path segment) and
//! HTML-escaped in the text and the attribute (a name like
//! `<script>.txt` stays text). Hidden entries are left out unless hidden
//! files are served. At most [`MAX_LISTED`] entries are read: a listing is
//! built on the event loop and must stay cheap.

use std::fmt::Write as _;
use std::path::Path;

/// The most entries a listing shows.
pub(crate) const MAX_LISTED: usize = 2000;

/// Percent-encodes a path for a URL: bytes other than unreserved
/// characters (RFC 3986 §2.3) and `/` become `%XX`.
pub(crate) fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Escapes text for HTML content and double-quoted attributes.
pub(crate) fn html_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The HTML listing of `dir`, shown at URL path `url_path` (ends with `/`).
///
/// # Errors
///
/// When the directory cannot be read.
pub(crate) fn render(dir: &Path, url_path: &str, show_hidden: bool) -> std::io::Result<String> {
    let mut names: Vec<(String, bool)> = Vec::new();
    for entry in std::fs::read_dir(dir)?.take(MAX_LISTED) {
        let Ok(entry) = entry else { continue };
        let Ok(name) = entry.file_name().into_string() else { continue };
        if !show_hidden && name.starts_with('.') {
            continue;
        }
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        names.push((name, is_dir));
    }
    names.sort_unstable();
    let mut html = String::with_capacity(256 + names.len() * 96);
    html.push_str("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Index of ");
    html_escape(url_path, &mut html);
    html.push_str("</title></head>\n<body><h1>Index of ");
    html_escape(url_path, &mut html);
    html.push_str("</h1>\n<ul>\n");
    if url_path != "/" {
        html.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for (name, is_dir) in &names {
        let slash = if *is_dir { "/" } else { "" };
        html.push_str("<li><a href=\"./");
        html_escape(&percent_encode_path(name), &mut html);
        html.push_str(slash);
        html.push_str("\">");
        html_escape(name, &mut html);
        html.push_str(slash);
        html.push_str("</a></li>\n");
    }
    html.push_str("</ul>\n</body></html>\n");
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(percent_encode_path("/a b/c?d#e\"f"), "/a%20b/c%3Fd%23e%22f");
        assert_eq!(percent_encode_path("/é"), "/%C3%A9");
        let mut s = String::new();
        html_escape("<script>\"x\" & 'y'</script>", &mut s);
        assert_eq!(s, "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;");
    }
}
