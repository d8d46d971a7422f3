//! A log-linear latency histogram with three significant digits (the layout
//! of Gil Tene's HdrHistogram, written from its description).
//!
//! Latencies span six orders of magnitude (a few µs on loopback, seconds
//! under overload), and what matters is each value's *relative* precision:
//! 1.234 ms and 1.235 ms should be told apart, 1.234 s and 1.234001 s need
//! not be. A log-linear layout gives exactly that with a fixed, small table
//! and an O(1) `record`:
//!
//! ```text
//!   values 0 .. 2047           one counter per value          (bucket 0, exact)
//!   values 2048 .. 4095        1024 counters, 2 values each   (bucket 1)
//!   values 4096 .. 8191        1024 counters, 4 values each   (bucket 2)
//!   ...                        1024 counters, 2^b values each (bucket b)
//! ```
//!
//! Every bucket above the first halves the resolution and doubles the range,
//! so a counter covers at most 1/1024 of its value: a relative error under
//! 0.1 %, i.e. three significant decimal digits. Values are nanoseconds;
//! [`MAX_VALUE`] (2^43 ns, about 2.4 hours) needs 34 buckets of 1024
//! counters: 272 KiB per histogram, one per load thread, merged at the end.
//!
//! Percentiles follow HdrHistogram's convention: the value at percentile p
//! is the *highest value equivalent* to the counter where the running count
//! first reaches `ceil(p/100 * n)` (capped by the exact maximum recorded), so
//! a reported p99 is never below the true p99.

/// Counters per half-range: 2^10 gives < 0.1 % relative error (3 digits).
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 10;
const SUB_BUCKET_HALF: u64 = 1 << SUB_BUCKET_HALF_MAGNITUDE;
/// Values below this are stored exactly, one counter each.
const SUB_BUCKET_COUNT: u64 = SUB_BUCKET_HALF * 2;
/// The largest value recorded as itself; larger ones are clamped to it.
pub const MAX_VALUE: u64 = (1 << 43) - 1;

/// A histogram of `u64` values (nanoseconds in `weir bench`).
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    min: u64,
    max: u64,
    sum: u128,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.total)
            .field("min", &self.min())
            .field("max", &self.max)
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

/// The counter index of `value` (see the module table).
fn index_of(value: u64) -> usize {
    // The bucket is how many times the value must be halved to fall below
    // SUB_BUCKET_COUNT; OR-ing in the mask makes small values land in bucket 0.
    let bucket = (64 - (value | (SUB_BUCKET_COUNT - 1)).leading_zeros()) - (SUB_BUCKET_HALF_MAGNITUDE + 1);
    // In bucket b > 0 the shifted value lies in [1024, 2048): the bucket's
    // counters are (b + 1) * 1024 .. (b + 2) * 1024.
    (u64::from(bucket) * SUB_BUCKET_HALF + (value >> bucket)) as usize
}

/// The lowest value stored in counter `index`, and the width of its range.
fn range_of(index: usize) -> (u64, u64) {
    let index = index as u64;
    if index < SUB_BUCKET_COUNT {
        return (index, 1);
    }
    let bucket = index / SUB_BUCKET_HALF - 1;
    let sub = index - bucket * SUB_BUCKET_HALF;
    (sub << bucket, 1 << bucket)
}

impl Histogram {
    /// An empty histogram covering `0..=MAX_VALUE`.
    pub fn new() -> Histogram {
        Histogram { counts: vec![0; index_of(MAX_VALUE) + 1], total: 0, min: u64::MAX, max: 0, sum: 0 }
    }

    /// Records one value (clamped to [`MAX_VALUE`]).
    #[inline]
    pub fn record(&mut self, value: u64) {
        self.record_n(value, 1);
    }

    /// Records `n` occurrences of `value`.
    #[inline]
    pub fn record_n(&mut self, value: u64, n: u64) {
        let value = value.min(MAX_VALUE);
        self.counts[index_of(value)] += n;
        self.total += n;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += u128::from(value) * u128::from(n);
    }

    /// Adds every count of `other` into `self`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.sum += other.sum;
    }

    /// The smallest value recorded (exact), 0 when empty.
    pub fn min(&self) -> u64 {
        if self.total == 0 {
            0
        } else {
            self.min
        }
    }

    /// The arithmetic mean (exact), 0 when empty.
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at percentile `p` (0..=100): within 0.1 % above the true
    /// value, never below it. 0 when empty.
    pub fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let p = p.clamp(0.0, 100.0);
        let target = ((p / 100.0 * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= target {
                let (low, width) = range_of(index);
                return (low + width - 1).min(self.max).max(self.min);
            }
        }
        self.max
    }
}

// The rest of a histogram's API: the reports use percentiles, min and mean;
// tests (and a plot, some day) use these.
#[allow(dead_code)]
impl Histogram {
    /// Number of values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The largest value recorded (exact).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// The non-empty counters as `(highest equivalent value, count)` pairs,
    /// in increasing order: the raw material of a distribution plot.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.counts.iter().enumerate().filter(|(_, &c)| c > 0).map(|(i, &c)| {
            let (low, width) = range_of(i);
            (low + width - 1, c)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The true percentile of a sorted sample, by the same nearest-rank rule.
    fn reference(sorted: &[u64], p: f64) -> u64 {
        let n = sorted.len() as f64;
        let rank = ((p / 100.0 * n).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn xorshift(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }

    #[test]
    fn index_and_range_agree_at_every_boundary() {
        for value in (0..5000).chain((10..43).flat_map(|s| [(1u64 << s) - 1, 1 << s, (1 << s) + 1])) {
            let (low, width) = range_of(index_of(value));
            assert!(low <= value && value < low + width, "value {value} not in [{low}, {})", low + width);
            // Three significant digits: the range is under 1/1024 of the value.
            assert!(width == 1 || width * 1024 <= low, "value {value}: width {width} too wide");
        }
        assert_eq!(index_of(MAX_VALUE) + 1, 34 * 1024);
    }

    #[test]
    fn percentiles_match_a_sorted_reference() {
        let mut state = 0x9E37_79B9_7F4A_7C15;
        let distributions: [&dyn Fn(u64) -> u64; 4] = [
            &|r| r % 1000,                             // exact range
            &|r| 20_000 + r % 5_000_000,               // µs to ms, uniform
            &|r| 1u64 << (10 + r % 30),                // powers of two: range edges
            &|r| (r % 1_000_000).pow(2) / 1000 + 1500, // long tail
        ];
        for dist in distributions {
            let mut h = Histogram::new();
            let mut values: Vec<u64> = (0..20_000).map(|_| dist(xorshift(&mut state))).collect();
            for &v in &values {
                h.record(v);
            }
            values.sort_unstable();
            for p in [0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0] {
                let want = reference(&values, p);
                let got = h.percentile(p);
                assert!(got >= want, "p{p}: {got} < reference {want}");
                assert!((got - want) * 1024 <= want.max(1), "p{p}: {got} too far above {want}");
            }
            assert_eq!(h.min(), values[0]);
            assert_eq!(h.max(), *values.last().unwrap());
            assert_eq!(h.len(), values.len() as u64);
            let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
            assert!((h.mean() - mean).abs() < 1e-6 * mean.max(1.0));
        }
    }

    #[test]
    fn merge_is_the_same_as_recording_everything_once() {
        let (mut a, mut b, mut all) = (Histogram::new(), Histogram::new(), Histogram::new());
        for v in 0..10_000u64 {
            let v = v * v;
            if v % 3 == 0 {
                a.record(v);
            } else {
                b.record(v);
            }
            all.record(v);
        }
        a.merge(&b);
        for p in [50.0, 90.0, 99.0, 99.9, 100.0] {
            assert_eq!(a.percentile(p), all.percentile(p));
        }
        assert_eq!((a.min(), a.max(), a.len()), (all.min(), all.max(), all.len()));
    }

    #[test]
    fn empty_and_clamped() {
        let mut h = Histogram::new();
        assert_eq!((h.percentile(99.0), h.min(), h.max(), h.mean()), (0, 0, 0, 0.0));
        h.record(u64::MAX);
        assert_eq!(h.max(), MAX_VALUE);
        assert_eq!(h.percentile(50.0), MAX_VALUE);
        assert_eq!(h.iter().count(), 1);
    }
}
