//! Continuous batching on a real model: sequences decoded together give the
//! same greedy text as one `Session` alone; a gone client frees its slot; a
//! full queue refuses; a prompt longer than the context is refused up front.
//!
//! Uses SmolLM2-135M from the store (`EDGELLM_MODELS`); absent, the test says
//! so and passes unless `EDGELLM_REQUIRE_MODELS=1`.

use edgellm_engine::{
    DoneReason, Event, EventSink, LoadedModel, Options, Request, Runner, RunnerConfig, Session,
    SubmitError,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

const SMOLLM_SHA: &str = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53";

fn smollm() -> Option<Arc<LoadedModel>> {
    let store = edgellm_store::Store::open_default().expect("store location");
    let path = store.blob_path(SMOLLM_SHA);
    if path.is_file() {
        return Some(Arc::new(LoadedModel::load(&path).unwrap()));
    }
    if std::env::var("EDGELLM_REQUIRE_MODELS").is_ok_and(|v| v == "1") {
        panic!("smollm2:135m is not in the store at {}", path.display());
    }
    eprintln!("SKIPPED: smollm2:135m is not in the store");
    None
}

fn greedy(n: i64) -> Options {
    Options {
        temperature: 0.0,
        num_predict: n,
        seed: Some(1),
        num_ctx: 512,
        ..Options::default()
    }
}

/// (text, completion) of one request, collected from its channel.
fn collect(rx: mpsc::Receiver<Event>) -> (String, edgellm_engine::Completion) {
    let mut text = String::new();
    for ev in rx {
        match ev {
            Event::Text(t) => text.push_str(&t),
            Event::Done(c) => return (text, c),
            Event::Failed(e) => panic!("request failed: {e}"),
        }
    }
    panic!("channel closed without Done");
}

fn alone(loaded: &LoadedModel, prompt: &[u32], opts: &Options) -> String {
    let mut s = Session::new(Arc::clone(&loaded.model), opts.num_ctx, 2, 512).unwrap();
    let mut text = String::new();
    s.generate(
        &loaded.tokenizer,
        prompt,
        opts,
        &AtomicBool::new(false),
        &mut |t| text.push_str(t),
    )
    .unwrap();
    text
}

#[test]
fn concurrent_sequences_match_single_session_greedy() {
    let Some(loaded) = smollm() else { return };
    let tok = &loaded.tokenizer;
    let prompts = [
        "The capital of France is",
        "def fibonacci(n):",
        "Once upon a time, in a small village,",
        "The three primary colors are",
        "1, 2, 3, 4, 5,",
        "Water boils at",
    ];
    let opts = greedy(24);
    let runner = Runner::start(
        Arc::clone(&loaded),
        RunnerConfig {
            n_parallel: 4,
            queue: 8,
            n_threads: 2,
            n_batch: 64,
            // Small chunks: prompts are read across several mixed passes.
            prefill_chunk: 3,
        },
    );
    let mut rxs = Vec::new();
    for p in prompts {
        let ids = tok.encode(p, true, true).unwrap();
        let (tx, rx) = mpsc::channel();
        runner
            .submit(Request {
                prompt: ids.clone(),
                opts: opts.clone(),
                load_duration: Duration::ZERO,
                constraint: None,
                sink: Box::new(tx),
            })
            .unwrap();
        rxs.push((p, ids, rx));
    }
    for (p, ids, rx) in rxs {
        let (text, done) = collect(rx);
        let want = alone(&loaded, &ids, &opts);
        assert_eq!(text, want, "prompt {p:?}");
        assert_eq!(done.done_reason, DoneReason::Length);
        assert_eq!(done.stats.eval_count, 24);
        assert_eq!(done.tokens.len(), 24);
        assert_eq!(done.stats.prompt_eval_count, ids.len());
    }
    assert!(runner.status().steps.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_continued_conversation_reuses_its_prefix() {
    let Some(loaded) = smollm() else { return };
    let tok = &loaded.tokenizer;
    let runner = Runner::start(
        Arc::clone(&loaded),
        RunnerConfig {
            n_parallel: 2,
            n_threads: 2,
            ..RunnerConfig::default()
        },
    );
    let first = tok
        .encode("A list of fruits: apple, banana,", true, true)
        .unwrap();
    let (tx, rx) = mpsc::channel();
    runner
        .submit(Request {
            prompt: first.clone(),
            opts: greedy(4),
            load_duration: Duration::ZERO,
            constraint: None,
            sink: Box::new(tx),
        })
        .unwrap();
    let (_, done) = collect(rx);
    let mut second = first.clone();
    second.extend(&done.tokens[..3]);
    second.extend(tok.encode(" and cherry", false, false).unwrap());
    let (tx, rx) = mpsc::channel();
    runner
        .submit(Request {
            prompt: second.clone(),
            opts: greedy(4),
            load_duration: Duration::ZERO,
            constraint: None,
            sink: Box::new(tx),
        })
        .unwrap();
    let (text, done2) = collect(rx);
    // Only the new tokens were evaluated, and the answer is unchanged by it.
    assert_eq!(
        done2.stats.prompt_eval_count,
        second.len() - first.len() - 3
    );
    assert_eq!(text, alone(&loaded, &second, &greedy(4)));
}

/// A sink whose client hangs up after `limit` pieces.
struct HangUp {
    tx: mpsc::Sender<Event>,
    left: usize,
    gone: Arc<AtomicBool>,
}

impl EventSink for HangUp {
    fn send(&mut self, event: Event) -> bool {
        if self.left == 0 {
            self.gone.store(true, Ordering::SeqCst);
            return false;
        }
        self.left -= 1;
        self.tx.send(event).is_ok()
    }
    fn is_closed(&self) -> bool {
        self.gone.load(Ordering::SeqCst)
    }
}

#[test]
fn gone_clients_free_slots_and_a_full_queue_refuses() {
    let Some(loaded) = smollm() else { return };
    let tok = &loaded.tokenizer;
    let runner = Runner::start(
        Arc::clone(&loaded),
        RunnerConfig {
            n_parallel: 1,
            queue: 1,
            n_threads: 2,
            ..RunnerConfig::default()
        },
    );
    let ids = tok.encode("1, 2, 3, 4, 5, 6, 7,", true, true).unwrap();
    // The only slot: a client that leaves after 3 pieces of an endless answer.
    let gone = Arc::new(AtomicBool::new(false));
    let (tx, first_rx) = mpsc::channel();
    runner
        .submit(Request {
            prompt: ids.clone(),
            opts: greedy(-1),
            load_duration: Duration::ZERO,
            constraint: None,
            sink: Box::new(HangUp {
                tx,
                left: 3,
                gone: Arc::clone(&gone),
            }),
        })
        .unwrap();
    for _ in 0..500 {
        if runner.status().active.load(Ordering::SeqCst) == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    // Fill the queue behind it, then one more is refused.
    let (tx, queued_rx) = mpsc::channel();
    let mut refused = None;
    let mut queued = false;
    for _ in 0..50 {
        let (tx2, _rx2) = mpsc::channel();
        let sink: Box<dyn EventSink> = if queued {
            Box::new(tx2)
        } else {
            Box::new(tx.clone())
        };
        match runner.submit(Request {
            prompt: ids.clone(),
            opts: greedy(5),
            load_duration: Duration::ZERO,
            constraint: None,
            sink,
        }) {
            Ok(()) => queued = true,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert!(
        matches!(refused, Some(SubmitError::QueueFull { .. })),
        "{refused:?}"
    );
    drop(tx);
    // The hang-up frees the slot: the queued request then completes.
    let (_, done) = collect(queued_rx);
    assert_eq!(done.stats.eval_count, 5, "{done:?}");
    assert!(gone.load(Ordering::SeqCst));
    let pieces: Vec<Event> = first_rx.try_iter().collect();
    assert_eq!(pieces.len(), 3, "the gone client got exactly its 3 pieces");

    // Over-long prompt: refused at submit with both numbers.
    let long = vec![ids[1]; 600];
    let (tx, _rx) = mpsc::channel();
    let err = runner
        .submit(Request {
            prompt: long,
            opts: greedy(5),
            load_duration: Duration::ZERO,
            constraint: None,
            sink: Box::new(tx),
        })
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("600") && msg.contains("512"), "{msg}");
}
