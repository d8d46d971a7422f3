//! The request as a handler sees it: borrowed from the connection's buffer.
//!
//! A [`Request`] is a view: method, target, headers and body are slices of
//! the bytes the connection read (the parser produced byte ranges, never
//! copies). A handler that needs the request beyond its own call — a worker
//! job, a deferred answer — takes an [`OwnedRequest`].

use std::borrow::Cow;

use weir_http::{HeaderSpan, Method, QueryPairs, RequestHead, Version};

/// The most route parameters a request carries.
pub const MAX_PARAMS: usize = weir_http::MAX_PARAMS;

/// Route parameters (`:name` and `*rest` captures): a view, two words.
///
/// It borrows the pairs from wherever they live (the dispatcher's stack, or
/// an [`OwnedRequest`]), so building and passing a [`Request`] copies no
/// parameter storage: most routes have none, and the common case costs
/// nothing.
#[derive(Debug, Clone, Copy)]
pub struct Params<'a> {
    pairs: Pairs<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Pairs<'a> {
    Borrowed(&'a [(&'a str, &'a str)]),
    Owned(&'a [(String, String)]),
}

impl<'a> Params<'a> {
    pub(crate) const EMPTY: Params<'static> = Params { pairs: Pairs::Borrowed(&[]) };

    pub(crate) fn from_slice(pairs: &'a [(&'a str, &'a str)]) -> Params<'a> {
        Params { pairs: Pairs::Borrowed(pairs) }
    }

    fn at(&self, i: usize) -> (&'a str, &'a str) {
        match self.pairs {
            Pairs::Borrowed(p) => p[i],
            Pairs::Owned(p) => (&p[i].0, &p[i].1),
        }
    }

    /// The value captured for `name`.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// All captures in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        (0..self.len()).map(|i| self.at(i))
    }

    /// Number of captures.
    pub fn len(&self) -> usize {
        match self.pairs {
            Pairs::Borrowed(p) => p.len(),
            Pairs::Owned(p) => p.len(),
        }
    }

    /// True when the route captured nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An HTTP request, borrowed from the connection.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) head: &'a RequestHead,
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) params: Params<'a>,
    pub(crate) body: &'a [u8],
}

impl<'a> Request<'a> {
    /// The method.
    pub fn method(&self) -> Method {
        self.head.method()
    }

    /// The method as text (works for extension methods too).
    pub fn method_str(&self) -> &'a str {
        std::str::from_utf8(self.head.method_bytes(self.buf)).unwrap_or("")
    }

    /// The path the request was routed on, without the query:
    /// percent-decoded once, with `.` and `..` segments resolved and `//`
    /// collapsed ([`weir_http::normalize_path`]), so that `/%61dmin` and
    /// `/x/../admin` are `/admin` to routes and middleware alike. Do not
    /// decode it again (`%25` would become a new escape); the target
    /// exactly as sent is [`Request::target`].
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The query string (after `?`), if any.
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// The first value of query parameter `name`, form-decoded.
    pub fn query_param(&self, name: &str) -> Option<Cow<'a, str>> {
        let q = self.query?;
        QueryPairs::new(q.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v)
    }

    /// The request target exactly as sent.
    pub fn target(&self) -> &'a [u8] {
        self.head.target(self.buf)
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.head.version()
    }

    /// A route parameter (`/users/:id` -> `param("id")`).
    pub fn param(&self, name: &str) -> Option<&'a str> {
        self.params.get(name)
    }

    /// All route parameters.
    pub fn params(&self) -> &Params<'a> {
        &self.params
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        self.head.header(self.buf, name.as_bytes())
    }

    /// The first value of header `name` as text, if it is valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'a str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every header, in order, as `(name, value)` byte slices.
    pub fn headers(&self) -> impl Iterator<Item = (&'a [u8], &'a [u8])> + 'a {
        let buf = self.buf;
        self.head.header_spans().iter().map(move |h: &HeaderSpan| (h.name.get(buf), h.value.get(buf)))
    }

    /// The body (already de-chunked).
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The body as text, if it is valid UTF-8.
    pub fn body_str(&self) -> Option<&'a str> {
        std::str::from_utf8(self.body).ok()
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    ///
    /// When the body is not valid JSON for `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(self.body)
    }

    /// True when the client asked for a keep-alive connection.
    pub fn keep_alive(&self) -> bool {
        self.head.keep_alive()
    }

    /// True for `HEAD` (the response body is dropped by the server).
    pub fn is_head(&self) -> bool {
        self.head.is_head()
    }

    /// A copy that owns its bytes, to move to another thread.
    pub fn to_owned(&self) -> OwnedRequest {
        OwnedRequest {
            buf: self.buf[..self.head.head_len().min(self.buf.len())].to_vec(),
            head: self.head.clone(),
            path: self.path.to_string(),
            query: self.query.map(str::to_string),
            params: self.params.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: self.body.to_vec(),
        }
    }
}

/// A request that owns its bytes (for worker jobs, deferred answers and
/// async handlers, whose future outlives the connection's buffer). Its
/// accessors are [`Request`]'s; [`OwnedRequest::as_request`] lends the
/// full view.
#[derive(Debug, Clone)]
pub struct OwnedRequest {
    buf: Vec<u8>,
    head: RequestHead,
    path: String,
    query: Option<String>,
    params: Vec<(String, String)>,
    body: Vec<u8>,
}

impl OwnedRequest {
    /// Borrows it as a [`Request`].
    pub fn as_request(&self) -> Request<'_> {
        Request {
            buf: &self.buf,
            head: &self.head,
            path: &self.path,
            query: self.query.as_deref(),
            params: Params { pairs: Pairs::Owned(&self.params) },
            body: &self.body,
        }
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.head.method()
    }

    /// The method as text.
    pub fn method_str(&self) -> &str {
        self.as_request().method_str()
    }

    /// The routing path (see [`Request::path`]).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// The first value of query parameter `name`, form-decoded.
    pub fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.as_request().query_param(name)
    }

    /// A route parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.head.header(&self.buf, name.as_bytes())
    }

    /// The first value of header `name` as text, if it is valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The body (already de-chunked).
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, owned (no copy).
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The body parsed as JSON.
    ///
    /// # Errors
    ///
    /// When the body is not valid JSON for `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}
