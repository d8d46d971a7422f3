//! The open-file cache: open descriptors, validators and small contents
//! of hot files, revalidated against the disk at a bounded interval.
//!
//! A cold request costs `open` + `fstat`, a `readlink` to check the root
//! and two probes for precompressed siblings; a hot one costs a hash
//! lookup. nginx calls the same idea `open_file_cache`.
//!
//! ```text
//!  key (normalised path) ──hash──▶ shard i: Mutex<HashMap<key, Arc<Entry>>>
//!                                          │ clone the Arc, unlock
//!                                          ▼
//!          checked_at older than `revalidate`? ── yes, and we win the CAS ──▶ stat(path)
//!                  │ no                                    same dev/ino/size/mtime? keep : drop
//!                  ▼
//!   Entry { file: Arc<File>, etag, last-modified, small content?, siblings, gzip? }
//! ```
//!
//! # Invariants and bounds
//!
//! * An entry is immutable once built except for two write-once slots: the
//!   revalidation time and the on-the-fly gzip body. A changed file never
//!   mutates an entry; a new one replaces it. Responses in flight keep their
//!   `Arc<File>` (and so the old inode) alive until they are sent.
//! * The lock of a shard is held for a lookup or an insert only — never
//!   across a system call. Sixteen shards keep threads from meeting.
//! * At most `max_entries` entries (random eviction: the first key of a
//!   full shard's map, whose order is randomised per process), and at most
//!   `max_bytes` of cached contents; an entry gives its bytes back on drop.
//! * A file changed on disk is served stale for at most `revalidate`.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::hash::BuildHasher;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use weir_http::{format_imf_fixdate, IMF_FIXDATE_LEN};

use super::conditional::unix_secs;
use super::mime::Mime;

/// Number of independently locked shards.
const SHARDS: usize = 16;

/// What identifies one version of a file: if any of these changed, the
/// cached descriptor and validators are stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) len: u64,
    pub(crate) mtime: SystemTime,
}

impl Stat {
    pub(crate) fn of(m: &Metadata) -> Stat {
        Stat {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        }
    }
}

/// One representation stored on disk: the file itself or a precompressed sibling.
#[derive(Debug)]
pub(crate) struct Variant {
    pub(crate) file: Arc<File>,
    pub(crate) stat: Stat,
    /// Strong entity tag, quotes included.
    pub(crate) etag: Box<[u8]>,
    pub(crate) last_modified: [u8; IMF_FIXDATE_LEN],
    pub(crate) mtime_secs: u64,
    /// The whole content, for small files (sent from memory: one `writev`).
    pub(crate) content: Option<Arc<[u8]>>,
}

impl Variant {
    /// `etag_suffix` tells variants of one file apart (`""`, `"-br"`, `"-gz"`).
    pub(crate) fn new(file: File, meta: &Metadata, etag_suffix: &str, content: Option<Arc<[u8]>>) -> Variant {
        let stat = Stat::of(meta);
        let mtime_secs = unix_secs(stat.mtime);
        let mut last_modified = [0u8; IMF_FIXDATE_LEN];
        format_imf_fixdate(mtime_secs, &mut last_modified);
        Variant {
            file: Arc::new(file),
            etag: etag(&stat, etag_suffix),
            stat,
            last_modified,
            mtime_secs,
            content,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.stat.len
    }
}

/// A strong ETag: inode, size, and modification time in nanoseconds, in hex.
pub(crate) fn etag(s: &Stat, suffix: &str) -> Box<[u8]> {
    let ns = s.mtime.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("\"{:x}-{:x}-{ns:x}{suffix}\"", s.ino, s.len).into_bytes().into_boxed_slice()
}

/// A cached file: its identity representation, precompressed siblings,
/// and what is derived from it.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The resolved path (for revalidation).
    pub(crate) path: PathBuf,
    pub(crate) identity: Variant,
    pub(crate) br: Option<Variant>,
    pub(crate) gz: Option<Variant>,
    /// Whether the siblings were probed (precompressed serving is on).
    pub(crate) probed_siblings: bool,
    pub(crate) mime: Mime,
    pub(crate) cache_control: Option<Box<[u8]>>,
    /// Several representations exist: responses carry `Vary: Accept-Encoding`.
    pub(crate) vary: bool,
    /// On-the-fly gzip may be produced for this file.
    pub(crate) gzip_eligible: bool,
    /// The on-the-fly gzip body; `None` inside: not worth it.
    pub(crate) gzip: OnceLock<Option<Arc<[u8]>>>,
    /// A gzip job was started (only one per entry).
    pub(crate) gzip_started: AtomicBool,
    pub(crate) gzip_etag: Box<[u8]>,
    /// Milliseconds since the cache epoch of the last check against the disk.
    checked_at: AtomicU64,
    /// Cached bytes charged to the cache's budget; given back on drop.
    charged: AtomicUsize,
    budget: Option<Arc<Budget>>,
}

/// The byte budget shared by all entries of a cache.
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    max: usize,
}

impl Budget {
    pub(crate) fn new(max: usize) -> Budget {
        Budget { used: AtomicUsize::new(0), max }
    }

    /// Reserves `n` bytes; false (nothing reserved) when that would exceed the budget.
    pub(crate) fn try_charge(&self, n: usize) -> bool {
        let prev = self.used.fetch_add(n, Ordering::Relaxed);
        if prev.saturating_add(n) > self.max {
            self.used.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        true
    }

    pub(crate) fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }

    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// The parts of an [`Entry`] computed by the resolver.
#[derive(Debug)]
pub(crate) struct EntryParts {
    pub(crate) path: PathBuf,
    pub(crate) identity: Variant,
    pub(crate) br: Option<Variant>,
    pub(crate) gz: Option<Variant>,
    pub(crate) probed_siblings: bool,
    pub(crate) mime: Mime,
    pub(crate) cache_control: Option<Box<[u8]>>,
    pub(crate) gzip_eligible: bool,
    /// Bytes already charged to the budget for the contents above.
    pub(crate) charged: usize,
}

impl Entry {
    pub(crate) fn new(p: EntryParts, budget: Option<Arc<Budget>>, now_ms: u64) -> Entry {
        let mut gzip_etag = p.identity.etag.to_vec();
        gzip_etag.pop();
        gzip_etag.extend_from_slice(b"-gzf\"");
        Entry {
            vary: p.br.is_some() || p.gz.is_some() || p.gzip_eligible,
            path: p.path,
            identity: p.identity,
            br: p.br,
            gz: p.gz,
            probed_siblings: p.probed_siblings,
            mime: p.mime,
            cache_control: p.cache_control,
            gzip_eligible: p.gzip_eligible,
            gzip: OnceLock::new(),
            gzip_started: AtomicBool::new(false),
            gzip_etag: gzip_etag.into_boxed_slice(),
            checked_at: AtomicU64::new(now_ms),
            charged: AtomicUsize::new(p.charged),
            budget,
        }
    }

    /// Charges `n` more cached bytes (the gzip body) to the budget.
    pub(crate) fn try_charge(&self, n: usize) -> bool {
        match &self.budget {
            Some(b) if b.try_charge(n) => {
                self.charged.fetch_add(n, Ordering::Relaxed);
                true
            }
            Some(_) => false,
            None => true,
        }
    }

    /// Does the disk still hold what this entry describes? One `stat` for
    /// the file, two more for the siblings when they are served.
    fn still_valid(&self) -> bool {
        let same = |path: &Path, want: Option<Stat>| match std::fs::metadata(path) {
            Ok(m) if m.is_file() => want == Some(Stat::of(&m)),
            _ => want.is_none(),
        };
        let stat = |v: &Option<Variant>| v.as_ref().map(|v| v.stat);
        same(&self.path, Some(self.identity.stat))
            && (!self.probed_siblings
                || (same(&sibling(&self.path, ".br"), stat(&self.br))
                    && same(&sibling(&self.path, ".gz"), stat(&self.gz))))
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.release(*self.charged.get_mut());
        }
    }
}

/// `path` with `ext` appended (`a.css` -> `a.css.gz`).
pub(crate) fn sibling(path: &Path, ext: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(ext);
    PathBuf::from(s)
}

type Shard = Mutex<HashMap<Box<str>, Arc<Entry>>>;

/// The open-file cache (see the module docs).
pub(crate) struct FileCache {
    shards: Box<[Shard]>,
    per_shard: usize,
    max_entries: usize,
    hasher: RandomState,
    epoch: Instant,
    revalidate_ms: u64,
    pub(crate) budget: Arc<Budget>,
}

impl std::fmt::Debug for FileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileCache")
            .field("entries", &self.len())
            .field("capacity", &(self.per_shard * SHARDS))
            .field("bytes", &self.budget.used())
            .field("revalidate_ms", &self.revalidate_ms)
            .finish()
    }
}

impl FileCache {
    /// A cache of at most `max_entries` files (0: no caching) and
    /// `max_bytes` of contents, revalidated every `revalidate`.
    pub(crate) fn new(max_entries: usize, max_bytes: usize, revalidate: Duration) -> FileCache {
        FileCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: max_entries.div_ceil(SHARDS),
            max_entries,
            hasher: RandomState::new(),
            epoch: Instant::now(),
            revalidate_ms: revalidate.as_millis().min(u128::from(u64::MAX)) as u64,
            budget: Arc::new(Budget::new(max_bytes)),
        }
    }

    /// The interval between checks of an entry against the disk.
    pub(crate) fn revalidate(&self) -> Duration {
        Duration::from_millis(self.revalidate_ms)
    }

    /// `(max_entries, max_bytes)`.
    pub(crate) fn limits(&self) -> (usize, usize) {
        (self.max_entries, self.budget.max)
    }

    /// True when the cache keeps anything.
    pub(crate) fn enabled(&self) -> bool {
        self.per_shard > 0
    }

    /// Milliseconds since the cache was made (`Instant::now` is a vDSO call).
    pub(crate) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn shard(&self, key: &str) -> &Shard {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    fn lock(shard: &Shard) -> std::sync::MutexGuard<'_, HashMap<Box<str>, Arc<Entry>>> {
        // A panic while the lock was held cannot leave the map inconsistent
        // (every operation is a single std call), so a poisoned lock is usable.
        shard.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The fresh entry for `key`, revalidating it when its check is older
    /// than the interval. `None`: not cached, or changed on disk (dropped).
    pub(crate) fn get(&self, key: &str) -> Option<Arc<Entry>> {
        if !self.enabled() {
            return None;
        }
        let entry = Self::lock(self.shard(key)).get(key).cloned()?;
        let now = self.now_ms();
        let checked = entry.checked_at.load(Ordering::Relaxed);
        if now.saturating_sub(checked) < self.revalidate_ms {
            return Some(entry);
        }
        // One thread revalidates; the others keep serving the entry meanwhile.
        if entry.checked_at.compare_exchange(checked, now, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return Some(entry);
        }
        if entry.still_valid() {
            return Some(entry);
        }
        let mut map = Self::lock(self.shard(key));
        if map.get(key).is_some_and(|e| Arc::ptr_eq(e, &entry)) {
            map.remove(key);
        }
        None
    }

    /// Caches `entry` under `key`, evicting one entry if the shard is full.
    pub(crate) fn insert(&self, key: &str, entry: Arc<Entry>) {
        if !self.enabled() {
            return;
        }
        let mut map = Self::lock(self.shard(key));
        if map.len() >= self.per_shard && !map.contains_key(key) {
            if let Some(victim) = map.keys().next().cloned() {
                map.remove(&victim);
            }
        }
        map.insert(key.into(), entry);
    }

    /// Number of cached entries.
    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(|s| Self::lock(s).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_bounded() {
        let b = Budget::new(100);
        assert!(b.try_charge(60));
        assert!(!b.try_charge(60));
        assert!(b.try_charge(40));
        b.release(100);
        assert_eq!(b.used(), 0);
    }

    #[test]
    fn sibling_names() {
        assert_eq!(sibling(Path::new("/a/b.css"), ".gz"), PathBuf::from("/a/b.css.gz"));
    }
}
