//! The decode step allocates nothing: a counting global allocator watches
//! many decode steps and samples (after a warm-up step that touches every
//! buffer once).

use edgellm_engine::{Options, Session};
use edgellm_gguf::GgufFile;
use edgellm_model::testutil::TinyLlama;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn check(threads: usize, opts: &Options) {
    let file = GgufFile::from_bytes(TinyLlama::default().to_gguf()).unwrap();
    let model = Arc::new(edgellm_model::from_gguf(Arc::new(file)).unwrap());
    let mut s = Session::new(model, 128, threads, 32).unwrap();
    s.feed(&[1, 2, 3, 4, 5]).unwrap();
    let mut tok = s.sample(opts);
    s.decode_step(tok).unwrap(); // warm-up
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    for _ in 0..60 {
        tok = s.sample(opts);
        s.decode_step(tok).unwrap();
    }
    COUNTING.store(false, Ordering::SeqCst);
    let n = ALLOCS.load(Ordering::SeqCst);
    assert_eq!(
        n, 0,
        "{n} allocations in 60 decode steps ({threads} threads)"
    );
}

#[test]
fn decode_step_and_sampling_allocate_nothing() {
    let greedy = Options {
        temperature: 0.0,
        ..Options::default()
    };
    let sampled = Options {
        seed: Some(3),
        repeat_penalty: 1.1,
        frequency_penalty: 0.2,
        ..Options::default()
    };
    for threads in [1, 2] {
        check(threads, &greedy);
        check(threads, &sampled);
    }
}
