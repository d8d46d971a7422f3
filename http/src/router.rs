//! A method + path router with `:param` and `*rest` segments.
//!
//! Routes form a tree with one node per path segment. Each node has sorted
//! static children (binary search), at most one `:param` child and at most
//! one `*rest` catch-all. Lookup walks the path once, left to right, trying
//! static, then param, then catch-all, and backtracks only when a more
//! specific branch dead-ends:
//!
//! ```text
//!  /users/new        GET          root ─ "users" ─┬─ "new"      [GET]
//!  /users/:id        GET, DELETE                  └─ :id        [GET, DELETE]
//!  /users/:id/posts  GET                                └─ "posts" [GET]
//!  /static/*path     GET          root ─ "static" ─ *path        [GET]
//! ```
//!
//! Matching allocates nothing: parameters are `(name, value)` pairs of
//! borrowed strings in a fixed inline array ([`MAX_PARAMS`]). The `Allow`
//! value for 405 answers (RFC 9110 §15.5.6) is precomputed per node when
//! routes are inserted. `HEAD` falls back to the `GET` handler (RFC 9110
//! §9.3.2: the server strips the body) unless a `HEAD` route exists.
//!
//! The router matches the path *as given*: pass a normalised path (see
//! [`normalize_path`](crate::normalize_path)) or the raw one, consistently.

/// Most parameters (`:param` and `*rest`) in one route.
pub const MAX_PARAMS: usize = 8;

/// Why a route could not be inserted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RouteError {
    /// The pattern does not start with `/`, has an empty `:`/`*` name, or `*rest` is not last.
    InvalidPattern,
    /// The method is not a token.
    InvalidMethod,
    /// Same method and pattern inserted twice.
    Duplicate,
    /// A `:name` or `*name` at a position where another name already exists.
    ParamConflict,
    /// More than [`MAX_PARAMS`] parameters.
    TooManyParams,
}

impl core::fmt::Display for RouteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RouteError::InvalidPattern => "invalid route pattern",
            RouteError::InvalidMethod => "invalid method",
            RouteError::Duplicate => "duplicate route",
            RouteError::ParamConflict => "conflicting parameter names",
            RouteError::TooManyParams => "too many parameters",
        })
    }
}

impl std::error::Error for RouteError {}

/// Why a lookup found no handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupError<'r> {
    /// No route matches the path (404).
    NotFound,
    /// Routes match the path, not the method (405); `allow` is the `Allow` value.
    MethodNotAllowed {
        /// E.g. `"GET, HEAD, POST"`.
        allow: &'r str,
    },
}

/// Path parameters of a match: `(name, value)` in pattern order.
///
/// Compact on purpose (it is returned by value from every lookup): each
/// parameter is a name index into the router's name table and a byte range
/// of the path, not two `&str` (32 bytes each).
#[derive(Clone, Copy, Debug)]
pub struct Params<'r, 'p> {
    names: &'r [Box<str>],
    path: &'p str,
    len: u8,
    /// (name index, start, end) in `path`; paths longer than `u16::MAX` are
    /// never matched (a request line is far shorter).
    items: [(u16, u16, u16); MAX_PARAMS],
}

impl<'r, 'p> Params<'r, 'p> {
    fn new(names: &'r [Box<str>], path: &'p str) -> Self {
        Self { names, path, len: 0, items: [(0, 0, 0); MAX_PARAMS] }
    }
    #[inline]
    fn push(&mut self, name: u16, value: &'p str) {
        let start = value.as_ptr() as usize - self.path.as_ptr() as usize;
        self.items[self.len as usize] = (name, start as u16, (start + value.len()) as u16);
        self.len += 1;
    }
    fn pair(&self, (name, start, end): (u16, u16, u16)) -> (&'r str, &'p str) {
        (&self.names[name as usize], &self.path[start as usize..end as usize])
    }
    /// The value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&'p str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
    /// All `(name, value)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&'r str, &'p str)> + '_ {
        self.items[..self.len as usize].iter().map(|&item| self.pair(item))
    }
    /// Number of parameters.
    pub fn len(&self) -> usize {
        self.len as usize
    }
    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A successful lookup.
#[derive(Debug)]
pub struct Match<'r, 'p, T> {
    /// The route's value (the handler).
    pub value: &'r T,
    /// The path parameters.
    pub params: Params<'r, 'p>,
}

/// A segment or method reduced to one integer: its length (high 64 bits)
/// and first 8 bytes (low 64). Comparing keys is one 128-bit compare, and
/// for strings of at most 8 bytes (nearly all segments and methods) equal
/// keys mean equal strings: no `memcmp` call on the hot path.
type Key = u128;

#[inline]
fn key_of(s: &[u8]) -> Key {
    let n = s.len();
    // The first 8 bytes, big-endian, zero-padded: shorter strings are built
    // from two overlapping loads (the bytes they share are equal) instead
    // of a byte loop.
    let head = match n {
        8.. => u64::from_be_bytes(s[..8].try_into().expect("8 bytes")),
        4..=7 => {
            let w = |k: usize| u64::from(u32::from_be_bytes(s[k..k + 4].try_into().expect("4 bytes")));
            w(0) << 32 | w(n - 4) << (8 * (8 - n))
        }
        2..=3 => {
            let w = |k: usize| u64::from(u16::from_be_bytes(s[k..k + 2].try_into().expect("2 bytes")));
            w(0) << 48 | w(n - 2) << (8 * (8 - n))
        }
        1 => u64::from(s[0]) << 56,
        _ => 0,
    };
    (n as u128) << 64 | u128::from(head)
}

/// `a` (with key `ka`) equals `b` (with key `kb`).
#[inline]
fn same(ka: Key, a: &[u8], kb: Key, b: &[u8]) -> bool {
    ka == kb && (a.len() <= 8 || a[8..] == b[8..])
}

const GET: &[u8] = b"GET";
const HEAD: &[u8] = b"HEAD";

#[derive(Debug)]
struct Endpoint<T> {
    methods: Vec<(Key, Box<[u8]>, T)>,
    any: Option<T>,
    allow: String,
}

impl<T> Endpoint<T> {
    fn is_empty(&self) -> bool {
        self.methods.is_empty() && self.any.is_none()
    }

    #[inline]
    fn find(&self, key: Key, method: &[u8]) -> Option<&T> {
        for (k, m, v) in &self.methods {
            if same(*k, m, key, method) {
                return Some(v);
            }
        }
        if method == HEAD {
            let get = key_of(GET);
            if let Some((_, _, v)) = self.methods.iter().find(|(k, _, _)| *k == get) {
                return Some(v);
            }
        }
        self.any.as_ref()
    }

    fn rebuild_allow(&mut self) {
        let mut names: Vec<&[u8]> = self.methods.iter().map(|(_, m, _)| &**m).collect();
        if names.contains(&GET) && !names.contains(&HEAD) {
            names.push(HEAD);
        }
        names.sort_unstable();
        self.allow = names.iter().map(|m| String::from_utf8_lossy(m)).collect::<Vec<_>>().join(", ");
    }
}

#[derive(Debug)]
struct Node<T> {
    /// Keys of the static children, sorted (by key, then the bytes after
    /// the first 8); kept apart from `statics` so the search reads one array.
    keys: Vec<Key>,
    /// (segment, child node), in the order of `keys`.
    statics: Vec<(Box<str>, usize)>,
    /// (index into `Router::names`, child node).
    param: Option<(u16, usize)>,
    catch_all: Option<(u16, usize)>,
    endpoint: Endpoint<T>,
}

impl<T> Node<T> {
    fn new() -> Self {
        Self {
            keys: Vec::new(),
            statics: Vec::new(),
            param: None,
            catch_all: None,
            endpoint: Endpoint { methods: Vec::new(), any: None, allow: String::new() },
        }
    }

    /// Binary search of a static child: `Ok(index)` or `Err(insertion point)`.
    #[inline]
    fn find_static(&self, seg: &str) -> Result<usize, usize> {
        use core::cmp::Ordering::{Equal, Greater, Less};
        let k = key_of(seg.as_bytes());
        if seg.len() <= 8 && !self.keys.is_empty() {
            // The key is the whole segment: a branch-free search for the
            // last key <= k (halving the range each step, no early exit).
            let keys = &self.keys[..];
            let (mut base, mut size) = (0, keys.len());
            while size > 1 {
                let half = size / 2;
                if keys[base + half] <= k {
                    base += half;
                }
                size -= half;
            }
            return match keys[base].cmp(&k) {
                Equal => Ok(base),
                Less => Err(base + 1),
                Greater => Err(base),
            };
        }
        let (mut lo, mut hi) = (0, self.keys.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let ord = match self.keys[mid].cmp(&k) {
                Equal if seg.len() > 8 => self.statics[mid].0.as_bytes()[8..].cmp(&seg.as_bytes()[8..]),
                o => o,
            };
            match ord {
                Less => lo = mid + 1,
                Greater => hi = mid,
                Equal => return Ok(mid),
            }
        }
        Err(lo)
    }
}

/// The router. `T` is whatever the server stores per route (a handler).
///
/// ```
/// use weir_http::{Router, LookupError};
/// let mut r = Router::new();
/// r.insert("GET", "/users/:id", 1).unwrap();
/// r.insert("GET", "/users/new", 2).unwrap();
/// r.insert("GET", "/static/*path", 3).unwrap();
/// let m = r.lookup(b"GET", "/users/42").unwrap();
/// assert_eq!((*m.value, m.params.get("id")), (1, Some("42")));
/// assert_eq!(*r.lookup(b"GET", "/users/new").unwrap().value, 2);
/// assert_eq!(r.lookup(b"GET", "/static/a/b.css").unwrap().params.get("path"), Some("a/b.css"));
/// assert_eq!(r.lookup(b"POST", "/users/1").unwrap_err(), LookupError::MethodNotAllowed { allow: "GET, HEAD" });
/// assert_eq!(r.lookup(b"GET", "/nope").unwrap_err(), LookupError::NotFound);
/// ```
#[derive(Debug)]
pub struct Router<T> {
    nodes: Vec<Node<T>>,
    /// Parameter names, referenced by index from nodes and [`Params`].
    names: Vec<Box<str>>,
}

impl<T> Default for Router<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Splits `rest` (the path after a `/`) into its first segment and what
/// follows the next `/` (`None` when it was the last segment). Eight bytes
/// per step (an exact zero-byte test on `word ^ "////////"`), then a short
/// loop: segments are a few bytes, shorter than `memchr`'s setup.
#[inline(always)]
fn split_segment(rest: &str) -> (&str, Option<&str>) {
    const LO7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let b = rest.as_bytes();
    let mut i = 0;
    let end = loop {
        let Some(chunk) = b.get(i..i + 8) else {
            break b[i..].iter().position(|&c| c == b'/').map(|p| i + p);
        };
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ (LO7 / 0x7f * u64::from(b'/'));
        // High bit set in each byte of x that is zero (no carries across bytes).
        let zero = !(((x & LO7) + LO7) | x | LO7);
        if zero != 0 {
            break Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    };
    match end {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    }
}

/// The part of a path after its leading `/`; `None` for `/` itself (the root).
#[inline]
fn path_rest(path: &str) -> Option<Option<&str>> {
    let rest = path.strip_prefix('/')?;
    Some(if rest.is_empty() { None } else { Some(rest) })
}

impl<T> Router<T> {
    /// An empty router.
    pub fn new() -> Self {
        Self { nodes: vec![Node::new()], names: Vec::new() }
    }

    /// Adds a route for `method` (any token, case-sensitive).
    ///
    /// # Errors
    ///
    /// [`RouteError`] for a bad pattern or method, a duplicate, or conflicting names.
    pub fn insert(&mut self, method: &str, pattern: &str, value: T) -> Result<(), RouteError> {
        let m = method.as_bytes();
        if !crate::head::is_token(m) {
            return Err(RouteError::InvalidMethod);
        }
        let idx = self.node_for(pattern)?;
        let ep = &mut self.nodes[idx].endpoint;
        if ep.methods.iter().any(|(_, have, _)| **have == *m) {
            return Err(RouteError::Duplicate);
        }
        ep.methods.push((key_of(m), m.into(), value));
        ep.rebuild_allow();
        Ok(())
    }

    /// Adds a route matching every method (never answers 405).
    ///
    /// # Errors
    ///
    /// As [`insert`](Self::insert).
    pub fn insert_any(&mut self, pattern: &str, value: T) -> Result<(), RouteError> {
        let idx = self.node_for(pattern)?;
        let ep = &mut self.nodes[idx].endpoint;
        if ep.any.is_some() {
            return Err(RouteError::Duplicate);
        }
        ep.any = Some(value);
        Ok(())
    }

    /// Finds (creating) the node of `pattern`.
    fn node_for(&mut self, pattern: &str) -> Result<usize, RouteError> {
        let Some(mut rest) = path_rest(pattern) else {
            return Err(RouteError::InvalidPattern);
        };
        // Check the whole pattern before creating any node.
        let mut params = 0;
        let mut check = rest;
        while let Some(r) = check {
            let (seg, next) = split_segment(r);
            check = next;
            if let Some(name) = seg.strip_prefix(':').or_else(|| seg.strip_prefix('*')) {
                if name.is_empty() || (seg.starts_with('*') && next.is_some()) {
                    return Err(RouteError::InvalidPattern);
                }
                params += 1;
            }
        }
        if params > MAX_PARAMS {
            return Err(RouteError::TooManyParams);
        }
        let mut idx = 0;
        while let Some(r) = rest {
            let (seg, next) = split_segment(r);
            rest = next;
            if let Some(name) = seg.strip_prefix(':') {
                idx = self.dynamic_child(idx, name, false)?;
            } else if let Some(name) = seg.strip_prefix('*') {
                idx = self.dynamic_child(idx, name, true)?;
            } else {
                match self.nodes[idx].find_static(seg) {
                    Ok(k) => idx = self.nodes[idx].statics[k].1,
                    Err(k) => {
                        let child = self.nodes.len();
                        self.nodes[idx].keys.insert(k, key_of(seg.as_bytes()));
                        self.nodes[idx].statics.insert(k, (seg.into(), child));
                        self.nodes.push(Node::new());
                        idx = child;
                    }
                }
            }
        }
        Ok(idx)
    }

    fn dynamic_child(&mut self, idx: usize, name: &str, catch_all: bool) -> Result<usize, RouteError> {
        let slot = if catch_all { self.nodes[idx].catch_all } else { self.nodes[idx].param };
        match slot {
            Some((n, c)) if *self.names[n as usize] == *name => Ok(c),
            Some(_) => Err(RouteError::ParamConflict),
            None => {
                let n = match self.names.iter().position(|have| **have == *name) {
                    Some(n) => n,
                    None => {
                        self.names.push(name.into());
                        self.names.len() - 1
                    }
                };
                let n = u16::try_from(n).map_err(|_| RouteError::TooManyParams)?;
                let child = self.nodes.len();
                self.nodes.push(Node::new());
                let node = &mut self.nodes[idx];
                *(if catch_all { &mut node.catch_all } else { &mut node.param }) = Some((n, child));
                Ok(child)
            }
        }
    }

    /// Finds the route for `method` and `path` (starting with `/`, no query).
    ///
    /// Priority at each segment: static, then `:param`, then `*rest`.
    ///
    /// # Errors
    ///
    /// [`LookupError::NotFound`] (404) or [`LookupError::MethodNotAllowed`] (405).
    pub fn lookup<'r, 'p>(
        &'r self,
        method: &[u8],
        path: &'p str,
    ) -> Result<Match<'r, 'p, T>, LookupError<'r>> {
        let mut params = Params::new(&self.names, path);
        let mut allow = None;
        let Some(rest) = path_rest(path) else {
            return Err(LookupError::NotFound);
        };
        if path.len() > usize::from(u16::MAX) {
            return Err(LookupError::NotFound);
        }
        let m = (key_of(method), method);
        // Fast path: follow the most specific branch at each segment without
        // recursion. It is exactly the first descent the backtracking walk
        // would make, so when it ends on a handler the answer is the same.
        let (mut idx, mut at) = (0, rest);
        loop {
            let node = &self.nodes[idx];
            let Some(r) = at else {
                if let Some(value) = node.endpoint.find(m.0, m.1) {
                    return Ok(Match { value, params });
                }
                break;
            };
            let (seg, next) = split_segment(r);
            if !node.keys.is_empty() {
                if let Ok(k) = node.find_static(seg) {
                    (idx, at) = (node.statics[k].1, next);
                    continue;
                }
            }
            match node.param {
                Some((name, child)) if !seg.is_empty() => {
                    params.push(name, seg);
                    (idx, at) = (child, next);
                }
                _ => {
                    if let Some((name, child)) = node.catch_all {
                        if let Some(value) = self.nodes[child].endpoint.find(m.0, m.1) {
                            params.push(name, r);
                            return Ok(Match { value, params });
                        }
                    }
                    break;
                }
            }
        }
        // Slow path: backtrack (and collect the Allow value for a 405).
        params.len = 0;
        match self.walk(0, rest, m, &mut params, &mut allow) {
            Some(value) => Ok(Match { value, params }),
            None => match allow {
                Some(allow) => Err(LookupError::MethodNotAllowed { allow }),
                None => Err(LookupError::NotFound),
            },
        }
    }

    fn walk<'r, 'p>(
        &'r self,
        idx: usize,
        rest: Option<&'p str>,
        method: (Key, &[u8]),
        params: &mut Params<'r, 'p>,
        allow: &mut Option<&'r str>,
    ) -> Option<&'r T> {
        let node = &self.nodes[idx];
        let Some(rest) = rest else {
            return Self::at_endpoint(&node.endpoint, method, allow);
        };
        let (seg, next) = split_segment(rest);
        if !node.keys.is_empty() {
            if let Ok(k) = node.find_static(seg) {
                if let Some(v) = self.walk(node.statics[k].1, next, method, params, allow) {
                    return Some(v);
                }
            }
        }
        if let Some((name, child)) = node.param {
            if !seg.is_empty() {
                let mark = params.len;
                params.push(name, seg);
                if let Some(v) = self.walk(child, next, method, params, allow) {
                    return Some(v);
                }
                params.len = mark;
            }
        }
        if let Some((name, child)) = node.catch_all {
            if let Some(v) = Self::at_endpoint(&self.nodes[child].endpoint, method, allow) {
                params.push(name, rest);
                return Some(v);
            }
        }
        None
    }

    #[inline]
    fn at_endpoint<'r>(
        ep: &'r Endpoint<T>,
        method: (Key, &[u8]),
        allow: &mut Option<&'r str>,
    ) -> Option<&'r T> {
        if let Some(v) = ep.find(method.0, method.1) {
            return Some(v);
        }
        if allow.is_none() && !ep.is_empty() {
            *allow = Some(&ep.allow);
        }
        None
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn keys_and_segments_match_their_definitions() {
        let naive_key = |s: &[u8]| {
            let head =
                s.iter().take(8).enumerate().fold(0u64, |acc, (i, &b)| acc | u64::from(b) << (56 - 8 * i));
            (s.len() as u128) << 64 | u128::from(head)
        };
        let bytes: Vec<u8> = (0..40u8).map(|i| if i % 7 == 3 { b'/' } else { b'a' + i % 26 }).collect();
        for start in 0..bytes.len() {
            for end in start..=bytes.len() {
                let s = &bytes[start..end];
                assert_eq!(key_of(s), naive_key(s), "{s:?}");
                let text = std::str::from_utf8(s).unwrap();
                let want = match text.find('/') {
                    Some(i) => (&text[..i], Some(&text[i + 1..])),
                    None => (text, None),
                };
                assert_eq!(split_segment(text), want, "{text:?}");
            }
        }
        // Bytes whose low 7 bits are those of '/' are not slashes.
        assert_eq!(split_segment("a\u{af}b/c"), ("a\u{af}b", Some("c")));
    }

    use super::*;

    fn router() -> Router<u32> {
        let mut r = Router::new();
        let routes = [
            ("GET", "/", 1),
            ("GET", "/users", 2),
            ("GET", "/users/new", 3),
            ("GET", "/users/:id", 4),
            ("DELETE", "/users/:id", 5),
            ("GET", "/users/:id/posts/:post", 6),
            ("GET", "/users/new/edit", 7),
            ("GET", "/static/*path", 8),
            ("PROPFIND", "/dav/:x", 9),
            ("GET", "/dir/", 10),
            ("GET", "/users/:id/edit", 11),
        ];
        for (m, p, v) in routes {
            r.insert(m, p, v).unwrap();
        }
        r.insert_any("/any", 12).unwrap();
        r
    }

    #[test]
    fn matches() {
        let r = router();
        type Row<'a> = (&'a [u8], &'a str, u32, &'a [(&'a str, &'a str)]);
        let table: &[Row<'_>] = &[
            (b"GET", "/", 1, &[]),
            (b"GET", "/users", 2, &[]),
            (b"GET", "/users/new", 3, &[]),
            (b"GET", "/users/7", 4, &[("id", "7")]),
            (b"HEAD", "/users/7", 4, &[("id", "7")]),
            (b"DELETE", "/users/7", 5, &[("id", "7")]),
            (b"GET", "/users/7/posts/9", 6, &[("id", "7"), ("post", "9")]),
            (b"GET", "/users/new/edit", 7, &[]),
            // static "new" dead-ends, backtrack to :id
            (b"GET", "/users/new/posts/1", 6, &[("id", "new"), ("post", "1")]),
            (b"GET", "/static/a/b/c.css", 8, &[("path", "a/b/c.css")]),
            (b"GET", "/static/", 8, &[("path", "")]),
            (b"PROPFIND", "/dav/z", 9, &[("x", "z")]),
            (b"GET", "/dir/", 10, &[]),
            (b"BREW", "/any", 12, &[]),
        ];
        for (m, p, v, params) in table {
            let got = r.lookup(m, p).unwrap_or_else(|e| panic!("{p}: {e:?}"));
            assert_eq!(*got.value, *v, "{p}");
            assert_eq!(got.params.iter().collect::<Vec<_>>(), *params, "{p}");
        }
    }

    #[test]
    fn misses() {
        let r = router();
        let table: &[(&[u8], &str, LookupError<'_>)] = &[
            (b"GET", "/nope", LookupError::NotFound),
            (b"GET", "/users/", LookupError::NotFound),
            (b"GET", "/dir", LookupError::NotFound),
            (b"GET", "/static", LookupError::NotFound),
            (b"GET", "", LookupError::NotFound),
            (b"POST", "/users/1", LookupError::MethodNotAllowed { allow: "DELETE, GET, HEAD" }),
            (b"POST", "/", LookupError::MethodNotAllowed { allow: "GET, HEAD" }),
            (b"get", "/", LookupError::MethodNotAllowed { allow: "GET, HEAD" }),
        ];
        for (m, p, want) in table {
            assert_eq!(r.lookup(m, p).unwrap_err(), *want, "{p}");
        }
    }

    #[test]
    fn insert_errors() {
        let mut r = router();
        assert_eq!(r.insert("GET", "/users", 0), Err(RouteError::Duplicate));
        assert_eq!(r.insert("GET", "/users/:name/x", 0), Err(RouteError::ParamConflict));
        assert_eq!(r.insert("GET", "users", 0), Err(RouteError::InvalidPattern));
        assert_eq!(r.insert("GET", "/a/*r/b", 0), Err(RouteError::InvalidPattern));
        assert_eq!(r.insert("GET", "/a/:", 0), Err(RouteError::InvalidPattern));
        assert_eq!(r.insert("G T", "/a", 0), Err(RouteError::InvalidMethod));
        assert_eq!(r.insert_any("/any", 0), Err(RouteError::Duplicate));
        assert_eq!(r.insert("GET", "/:a/:b/:c/:d/:e/:f/:g/:h/:i", 0), Err(RouteError::TooManyParams));
    }
}
