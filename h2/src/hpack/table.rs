//! The HPACK index space (RFC 7541 §2.3): the static table (Appendix A),
//! then the dynamic table, newest entry first.
//!
//! The dynamic table is bounded by its size in HPACK's own measure (§4.1:
//! name + value + 32 bytes per entry), which is at most the
//! SETTINGS_HEADER_TABLE_SIZE its owner chose, so a peer cannot make it
//! hold more memory than that.

use std::collections::VecDeque;

/// The static table (RFC 7541 Appendix A); index 1 is element 0.
pub(crate) const STATIC: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// The per-entry overhead of RFC 7541 §4.1.
pub(crate) const ENTRY_OVERHEAD: usize = 32;

/// One entry: name and value.
type Entry = (Box<[u8]>, Box<[u8]>);

/// A dynamic table (RFC 7541 §2.3.2, §4).
#[derive(Debug, Default)]
pub(crate) struct DynamicTable {
    entries: VecDeque<Entry>,
    size: usize,
    max_size: usize,
}

impl DynamicTable {
    pub(crate) fn new(max_size: usize) -> DynamicTable {
        DynamicTable { entries: VecDeque::new(), size: 0, max_size }
    }

    /// The current size in HPACK's measure.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Sets the maximum size, evicting what no longer fits (§4.3).
    pub(crate) fn set_max_size(&mut self, max: usize) {
        self.max_size = max;
        self.evict_to(max);
    }

    fn evict_to(&mut self, limit: usize) {
        while self.size > limit {
            let Some((n, v)) = self.entries.pop_back() else { break };
            self.size -= n.len() + v.len() + ENTRY_OVERHEAD;
        }
    }

    /// Adds an entry (§4.4): older entries are evicted until it fits; an
    /// entry larger than the whole table empties it and is not added.
    pub(crate) fn insert(&mut self, name: &[u8], value: &[u8]) {
        let cost = name.len() + value.len() + ENTRY_OVERHEAD;
        if cost > self.max_size {
            self.evict_to(0);
            return;
        }
        self.evict_to(self.max_size - cost);
        self.entries.push_front((name.into(), value.into()));
        self.size += cost;
    }

    /// Entry `i` of the dynamic table, 0 the newest.
    pub(crate) fn get(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.entries.get(i).map(|(n, v)| (&n[..], &v[..]))
    }

    /// The dynamic index of an entry equal to `(name, value)`, and failing
    /// that one with `name` (for the encoder).
    pub(crate) fn find(&self, name: &[u8], value: &[u8]) -> (Option<usize>, Option<usize>) {
        let mut by_name = None;
        for (i, (n, v)) in self.entries.iter().enumerate() {
            if &n[..] == name {
                if &v[..] == value {
                    return (Some(i), Some(i));
                }
                by_name.get_or_insert(i);
            }
        }
        (None, by_name)
    }
}

/// The static index (1-based) of `(name, value)` if present, and of `name`.
pub(crate) fn find_static(name: &[u8], value: &[u8]) -> (Option<usize>, Option<usize>) {
    let mut by_name = None;
    for (i, (n, v)) in STATIC.iter().enumerate() {
        if *n == name {
            if *v == value {
                return (Some(i + 1), Some(i + 1));
            }
            by_name.get_or_insert(i + 1);
        }
    }
    (None, by_name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eviction_follows_the_size_rule() {
        let mut t = DynamicTable::new(100);
        t.insert(b"a", b"1234"); // 37
        t.insert(b"b", b"1234"); // 74
        assert_eq!((t.len(), t.size()), (2, 74));
        t.insert(b"c", b"1234"); // evicts "a"
        assert_eq!(t.get(0), Some((&b"c"[..], &b"1234"[..])));
        assert_eq!(t.get(1), Some((&b"b"[..], &b"1234"[..])));
        assert_eq!((t.len(), t.size()), (2, 74));
        t.insert(&[b'x'; 100], b""); // larger than the table: empties it
        assert_eq!((t.len(), t.size()), (0, 0));
        t.insert(b"a", b"1");
        t.set_max_size(0);
        assert_eq!(t.len(), 0);
        assert_eq!(find_static(b":method", b"POST"), (Some(3), Some(3)));
        assert_eq!(find_static(b"cookie", b"x"), (None, Some(32)));
    }
}
