//! A thread pool built for per-token latency.
//!
//! A decode step issues a few hundred small parallel ops (one per matmul or
//! attention pass), each lasting microseconds. Spawning threads or going
//! through a channel per op would cost more than the op, so workers stay
//! alive, spin on a generation counter for a short while after each job,
//! and only then sleep on a condition variable. The calling thread takes
//! part in every job as thread 0, so `n_threads = 1` means no worker at all.

use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// How many spin iterations a worker waits for the next job before it sleeps.
/// About 50–200 µs on current CPUs: longer than the gap between two ops of a
/// decode step, shorter than the gap between two user requests.
const SPIN_ITERS: u32 = 1 << 16;

/// Upper bound on threads: more than any edge device has cores.
pub const MAX_THREADS: usize = 256;

type Job = *const (dyn Fn(usize, usize) + Sync);

struct Shared {
    n_threads: usize,
    /// Bumped once per job; workers run the job when they see a new value.
    generation: AtomicUsize,
    /// Workers still running the current job.
    remaining: AtomicUsize,
    /// The current job; written by the caller before `generation` is bumped.
    job: UnsafeCell<Option<Job>>,
    panicked: AtomicBool,
    stop: AtomicBool,
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
}

// SAFETY: `job` is written only by the thread inside `ThreadPool::run` while no
// job is in flight (all workers finished the previous one, `remaining == 0`),
// and read by workers only between observing a new generation (Acquire) and
// decrementing `remaining` (Release). Those orderings make the accesses
// race-free.
unsafe impl Sync for Shared {}
// SAFETY: see above; the raw job pointer is only dereferenced while the
// referent is borrowed by `run`.
unsafe impl Send for Shared {}

/// A fixed set of worker threads plus the caller.
pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    /// Serialises `run` calls from different threads sharing one pool.
    run_lock: Mutex<()>,
}

impl ThreadPool {
    /// A pool where jobs run on `n_threads` threads (the caller included).
    /// `n_threads` is clamped to `1..=MAX_THREADS`.
    pub fn new(n_threads: usize) -> ThreadPool {
        let n_threads = n_threads.clamp(1, MAX_THREADS);
        let shared = Arc::new(Shared {
            n_threads,
            generation: AtomicUsize::new(0),
            remaining: AtomicUsize::new(0),
            job: UnsafeCell::new(None),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let workers = (1..n_threads)
            .map(|idx| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("edgellm-worker-{idx}"))
                    .spawn(move || worker_loop(&shared, idx))
                    .expect("spawning a worker thread")
            })
            .collect();
        ThreadPool {
            shared,
            workers,
            run_lock: Mutex::new(()),
        }
    }

    /// Threads that run each job (the caller included).
    pub fn n_threads(&self) -> usize {
        self.shared.n_threads
    }

    /// Runs `f(thread_idx, n_threads)` once on every thread of the pool and
    /// returns when all calls have returned. A panic in any call is re-raised
    /// here after all threads finished.
    pub fn run<F>(&self, f: F)
    where
        F: Fn(usize, usize) + Sync,
    {
        let n = self.shared.n_threads;
        if n == 1 {
            f(0, 1);
            return;
        }
        let _guard = self.run_lock.lock().unwrap_or_else(|e| e.into_inner());
        let job: &(dyn Fn(usize, usize) + Sync) = &f;
        // SAFETY: erasing the lifetime is sound because this function does not
        // return (or unwind) before every worker has finished with the job:
        // we wait for `remaining == 0` below, also when `f` panics here.
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn(usize, usize) + Sync), Job>(job) };
        // SAFETY: no job is in flight (previous `run` waited for remaining == 0
        // and we hold `run_lock`), so no worker reads `job` now.
        unsafe { *self.shared.job.get() = Some(job) };
        self.shared.remaining.store(n - 1, Ordering::Relaxed);
        // SeqCst pairs with the sleeper registration in `worker_loop`: either we
        // see the sleeper and wake it, or it sees the new generation.
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
        if self.shared.sleepers.load(Ordering::SeqCst) > 0 {
            let _l = self
                .shared
                .sleep_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        let result = panic::catch_unwind(AssertUnwindSafe(|| f(0, n)));
        while self.shared.remaining.load(Ordering::Acquire) != 0 {
            std::hint::spin_loop();
        }
        if let Err(payload) = result {
            panic::resume_unwind(payload);
        }
        if self.shared.panicked.swap(false, Ordering::Relaxed) {
            panic!("a worker thread panicked while running a job");
        }
    }
}

fn worker_loop(shared: &Shared, idx: usize) {
    let mut seen = 0usize;
    loop {
        // Wait for a new generation: spin first, then sleep.
        let mut spins = 0u32;
        loop {
            let g = shared.generation.load(Ordering::Acquire);
            if g != seen {
                seen = g;
                break;
            }
            if shared.stop.load(Ordering::Relaxed) {
                return;
            }
            if spins < SPIN_ITERS {
                spins += 1;
                std::hint::spin_loop();
                continue;
            }
            let guard = shared.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
            shared.sleepers.fetch_add(1, Ordering::SeqCst);
            let g = shared.generation.load(Ordering::SeqCst);
            if g == seen && !shared.stop.load(Ordering::SeqCst) {
                let _g = shared.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
            shared.sleepers.fetch_sub(1, Ordering::SeqCst);
            spins = 0;
        }
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: the generation bump (Release) happened after `job` was
        // written; our Acquire load above makes the write visible. The job's
        // referent lives until `run` sees remaining == 0.
        let job = unsafe { (*shared.job.get()).expect("job set before generation bump") };
        // SAFETY: as above, the pointer is valid for the duration of the job.
        let f = unsafe { &*job };
        if panic::catch_unwind(AssertUnwindSafe(|| f(idx, shared.n_threads))).is_err() {
            shared.panicked.store(true, Ordering::Relaxed);
        }
        shared.remaining.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _l = self
                .shared
                .sleep_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// The half-open range of `n_items` that thread `idx` of `n_threads` owns,
/// in contiguous, nearly equal parts aligned to `granule` items.
pub fn split_range(
    n_items: usize,
    idx: usize,
    n_threads: usize,
    granule: usize,
) -> std::ops::Range<usize> {
    let granule = granule.max(1);
    let n_granules = n_items.div_ceil(granule);
    let per = n_granules / n_threads;
    let extra = n_granules % n_threads;
    let start_g = idx * per + idx.min(extra);
    let end_g = start_g + per + usize::from(idx < extra);
    (start_g * granule).min(n_items)..(end_g * granule).min(n_items)
}

/// A raw pointer that may be shared across pool threads for disjoint writes.
#[derive(Clone, Copy)]
pub struct SyncPtr<T>(pub *mut T);
// SAFETY: users only write disjoint index ranges from different threads, as
// each call site documents.
unsafe impl<T> Sync for SyncPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Send for SyncPtr<T> {}

impl<T> SyncPtr<T> {
    /// Wraps a mutable slice.
    pub fn new(s: &mut [T]) -> Self {
        SyncPtr(s.as_mut_ptr())
    }

    /// # Safety
    /// `start..start + len` must be inside the wrapped slice and no other
    /// thread may access that range while the returned slice lives.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, len: usize) -> &mut [T] {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_runs_each_job_once() {
        for n in [1, 2, 3, 8] {
            let pool = ThreadPool::new(n);
            for _ in 0..200 {
                let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                pool.run(|i, nt| {
                    assert_eq!(nt, n);
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
                assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
            }
        }
    }

    #[test]
    fn split_range_covers_everything_once() {
        for n_items in [0, 1, 5, 31, 32, 33, 1000] {
            for n_threads in 1..6 {
                for granule in [1, 4, 16] {
                    let mut covered = vec![0; n_items];
                    for idx in 0..n_threads {
                        let r = split_range(n_items, idx, n_threads, granule);
                        if r.start < n_items && !r.is_empty() {
                            assert_eq!(r.start % granule, 0);
                        }
                        for c in &mut covered[r] {
                            *c += 1;
                        }
                    }
                    assert!(
                        covered.iter().all(|&c| c == 1),
                        "{n_items} {n_threads} {granule}"
                    );
                }
            }
        }
    }

    #[test]
    fn worker_panic_is_reraised_and_pool_survives() {
        let pool = ThreadPool::new(2);
        let r = panic::catch_unwind(AssertUnwindSafe(|| {
            pool.run(|i, _| {
                if i == 1 {
                    panic!("boom");
                }
            })
        }));
        assert!(r.is_err());
        let count = AtomicUsize::new(0);
        pool.run(|_, _| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn sleeping_workers_wake_up() {
        let pool = ThreadPool::new(2);
        std::thread::sleep(std::time::Duration::from_millis(50));
        let count = AtomicUsize::new(0);
        pool.run(|_, _| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 2);
    }
}
