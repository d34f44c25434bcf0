//! A STREAM-like read-bandwidth probe: the denominator of the decode
//! roofline (`edgellm bench --roofline`).

use crate::pool::{split_range, ThreadPool};
use std::time::Instant;

/// Read bandwidth of this machine in bytes per second, with the threads of
/// `pool`: the best of `passes` timed passes over a buffer of `bytes` (make
/// it much larger than the last-level cache), each thread summing its own
/// contiguous share (the sum is checked, so the reads cannot be elided).
pub fn read_bandwidth(pool: &ThreadPool, bytes: usize, passes: usize) -> f64 {
    let words = (bytes / 8).max(1024);
    // Distinct values, and every page touched before timing.
    let buf: Vec<u64> = (0..words as u64).collect();
    let want = (words as u64).wrapping_mul(words as u64 - 1) / 2;
    let mut best = f64::INFINITY;
    for _ in 0..passes.max(1) {
        let sums: Vec<std::sync::atomic::AtomicU64> = (0..pool.n_threads())
            .map(|_| std::sync::atomic::AtomicU64::new(0))
            .collect();
        let t0 = Instant::now();
        pool.run(|idx, nt| {
            let part = &buf[split_range(words, idx, nt, 64)];
            // Four independent chains keep the loads in flight.
            let mut acc = [0u64; 4];
            let chunks = part.chunks_exact(4);
            let rest = chunks.remainder();
            for c in chunks {
                for (a, &v) in acc.iter_mut().zip(c) {
                    *a = a.wrapping_add(v);
                }
            }
            let mut s = acc.iter().fold(0u64, |x, &y| x.wrapping_add(y));
            for &v in rest {
                s = s.wrapping_add(v);
            }
            sums[idx].store(s, std::sync::atomic::Ordering::Relaxed);
        });
        let secs = t0.elapsed().as_secs_f64();
        let total = sums.iter().fold(0u64, |x, s| {
            x.wrapping_add(s.load(std::sync::atomic::Ordering::Relaxed))
        });
        assert_eq!(total, want, "bandwidth probe summed wrongly");
        best = best.min(secs);
    }
    (words * 8) as f64 / best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bandwidth_is_positive_and_finite() {
        let pool = ThreadPool::new(2);
        let bw = read_bandwidth(&pool, 1 << 20, 2);
        assert!(bw.is_finite() && bw > 0.0, "{bw}");
    }
}
