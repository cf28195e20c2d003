//! A latency histogram many tasks record into at once without locks: log-linear buckets
//! (16 per power of two, about 4% wide), counts in atomics. Good enough for p50/p99/p999.

use std::sync::atomic::{AtomicU64, Ordering};

const SUB: u32 = 16;
const BUCKETS: usize = 64 * SUB as usize;

pub struct Histogram {
    buckets: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect() }
    }
}

fn bucket_of(micros: u64) -> usize {
    let v = micros.max(1);
    let exp = 63 - v.leading_zeros();
    let sub = if exp >= 4 { ((v >> (exp - 4)) & (SUB as u64 - 1)) as u32 } else { (v as u32) & (SUB - 1) };
    (exp * SUB + sub) as usize
}

/// The smallest value of a bucket (what percentiles report).
fn value_of(bucket: usize) -> u64 {
    let exp = bucket as u32 / SUB;
    let sub = bucket as u64 % SUB as u64;
    if exp >= 4 { (1u64 << exp) | (sub << (exp - 4)) } else { sub.max(1) }
}

impl Histogram {
    pub fn record(&self, micros: u64) {
        self.buckets[bucket_of(micros).min(BUCKETS - 1)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The `p`-th percentile (0–100) in milliseconds; NaN when empty.
    pub fn percentile_ms(&self, p: f64) -> f64 {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return value_of(i) as f64 / 1000.0;
            }
        }
        f64::NAN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_a_bucket_of_the_truth() {
        let h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v);
        }
        assert_eq!(h.count(), 10_000);
        let p50 = h.percentile_ms(50.0) * 1000.0;
        let p99 = h.percentile_ms(99.0) * 1000.0;
        assert!((p50 - 5000.0).abs() / 5000.0 < 0.07, "{p50}");
        assert!((p99 - 9900.0).abs() / 9900.0 < 0.07, "{p99}");
        assert!(Histogram::default().percentile_ms(50.0).is_nan());
    }
}
