//! A model serving many clients at once: continuous batching.
//!
//! One engine thread per loaded model owns the weights' thread pool, the
//! activation buffers and one KV cache per *slot*. Requests arrive on a
//! bounded queue; each step the thread admits waiting requests into free
//! slots, then runs **one** forward pass holding the next token of every
//! decoding sequence plus a chunk of the prompts still being read, so all
//! streams share each pass over the weights and a long prompt never freezes
//! the others. Results go back through each request's [`EventSink`]; a sink
//! that reports the client gone cancels its sequence at the next step.
//!
//! An idle slot keeps its tokens, so a conversation that comes back (the
//! previous chat plus a new turn) reuses the KV of the shared prefix: a new
//! request takes the free slot with the longest common prefix.
//!
//! Nothing here knows about HTTP; the server adapts sinks to its streams.

use crate::grammar::Constraint;
use crate::options::Options;
use crate::sampler::Sampler;
use crate::stats::{DoneReason, Stats};
use crate::stop::{StopMatcher, StopState};
use crate::{EngineError, LoadedModel};
use edgellm_kernels::pool::ThreadPool;
use edgellm_kv::{KvCache, KvLayout, DEFAULT_CHUNK_TOKENS};
use edgellm_model::{BatchToken, RunState};
use edgellm_tokenizer::Detokenizer;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Most slots one runner holds.
pub const MAX_PARALLEL: usize = 64;

/// How a runner divides its work.
#[derive(Clone, Debug)]
pub struct RunnerConfig {
    /// Sequences decoded together (slots, each with its own KV cache).
    pub n_parallel: usize,
    /// Requests that may wait for a slot; beyond that, [`SubmitError::QueueFull`].
    pub queue: usize,
    /// Worker threads of the forward pass.
    pub n_threads: usize,
    /// Tokens per forward pass at most.
    pub n_batch: usize,
    /// Prompt tokens per pass while other sequences are decoding: bounds the
    /// pause a new long prompt causes in the running streams.
    pub prefill_chunk: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            n_parallel: 4,
            queue: 16,
            n_threads: crate::default_threads(),
            n_batch: 512,
            prefill_chunk: 64,
        }
    }
}

/// What a request produces, in order: text pieces, then `Done` or `Failed`.
#[derive(Debug)]
pub enum Event {
    /// Newly generated text (never part of a stop string).
    Text(String),
    Done(Completion),
    Failed(EngineError),
}

/// The outcome of a finished request.
#[derive(Clone, Debug)]
pub struct Completion {
    pub done_reason: DoneReason,
    pub stats: Stats,
    /// The seed the sampler used.
    pub seed: u64,
    /// The generated token ids (for Ollama's `context`).
    pub tokens: Vec<u32>,
}

/// Where a request's events go (a channel to an HTTP response, a test...).
pub trait EventSink: Send {
    /// Delivers an event; `false` means the receiver is gone (cancel).
    fn send(&mut self, event: Event) -> bool;
    /// Whether the receiver is gone, checked every step (also during prefill).
    fn is_closed(&self) -> bool;
}

impl EventSink for mpsc::Sender<Event> {
    fn send(&mut self, event: Event) -> bool {
        mpsc::Sender::send(self, event).is_ok()
    }
    fn is_closed(&self) -> bool {
        false
    }
}

/// One generation to run.
pub struct Request {
    /// The whole conversation so far, as tokens.
    pub prompt: Vec<u32>,
    pub opts: Options,
    /// Reported as the request's `load_duration` (the load it waited for).
    pub load_duration: Duration,
    pub sink: Box<dyn EventSink>,
    /// Structured output: the answer must satisfy this grammar.
    pub constraint: Option<Constraint>,
}

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(
        "the server is busy: {waiting} requests are already waiting for this model; retry shortly"
    )]
    QueueFull { waiting: usize },
    #[error("the model is being unloaded")]
    Closed,
    #[error(transparent)]
    Invalid(#[from] EngineError),
}

/// Counters a runner publishes (for `/api/ps` and metrics).
#[derive(Debug, Default)]
pub struct RunnerStatus {
    pub waiting: AtomicUsize,
    pub active: AtomicUsize,
    pub kv_bytes_used: AtomicUsize,
    pub kv_bytes_reserved: AtomicUsize,
    pub steps: AtomicU64,
    pub prompt_tokens: AtomicU64,
    pub generated_tokens: AtomicU64,
}

/// A loaded model with its engine thread.
pub struct Runner {
    pub loaded: Arc<LoadedModel>,
    tx: Option<SyncSender<(Request, Instant)>>,
    status: Arc<RunnerStatus>,
    config: RunnerConfig,
    thread: Option<JoinHandle<()>>,
}

impl Runner {
    /// Starts the engine thread for `loaded`.
    pub fn start(loaded: Arc<LoadedModel>, config: RunnerConfig) -> Runner {
        let mut config = config;
        config.n_parallel = config.n_parallel.clamp(1, MAX_PARALLEL);
        config.n_batch = config.n_batch.max(config.n_parallel);
        config.prefill_chunk = config.prefill_chunk.clamp(1, config.n_batch);
        let (tx, rx) = mpsc::sync_channel(config.queue);
        let status = Arc::new(RunnerStatus::default());
        let thread = {
            let (loaded, status, config) =
                (Arc::clone(&loaded), Arc::clone(&status), config.clone());
            std::thread::Builder::new()
                .name("edgellm-engine".into())
                .spawn(move || engine_loop(&loaded, &config, &rx, &status))
                .expect("spawning the engine thread")
        };
        Runner {
            loaded,
            tx: Some(tx),
            status,
            config,
            thread: Some(thread),
        }
    }

    pub fn status(&self) -> &RunnerStatus {
        &self.status
    }

    pub fn config(&self) -> &RunnerConfig {
        &self.config
    }

    /// The context a request with these options gets.
    pub fn n_ctx_for(&self, opts: &Options) -> usize {
        opts.num_ctx.min(self.loaded.model.hp.n_ctx_train).max(1)
    }

    /// Queues a request. Invalid options and a prompt longer than the
    /// context are refused here, before anything runs.
    pub fn submit(&self, req: Request) -> Result<(), SubmitError> {
        req.opts.validate().map_err(EngineError::from)?;
        if req.prompt.is_empty() {
            return Err(EngineError::EmptyPrompt.into());
        }
        let n_ctx = self.n_ctx_for(&req.opts);
        if req.prompt.len() >= n_ctx {
            return Err(EngineError::PromptTooLong {
                n_prompt: req.prompt.len(),
                n_ctx,
            }
            .into());
        }
        let n_vocab = self.loaded.model.hp.n_vocab;
        if let Some(&bad) = req.prompt.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(
                EngineError::from(edgellm_model::ModelError::TokenOutOfRange {
                    token: bad,
                    n_vocab,
                })
                .into(),
            );
        }
        let tx = self.tx.as_ref().ok_or(SubmitError::Closed)?;
        self.status.waiting.fetch_add(1, Ordering::SeqCst);
        match tx.try_send((req, Instant::now())) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.status.waiting.fetch_sub(1, Ordering::SeqCst);
                Err(match e {
                    TrySendError::Full(_) => SubmitError::QueueFull {
                        waiting: self.config.queue,
                    },
                    TrySendError::Disconnected(_) => SubmitError::Closed,
                })
            }
        }
    }

    /// Requests waiting or running.
    pub fn busy(&self) -> bool {
        self.status.waiting.load(Ordering::SeqCst) + self.status.active.load(Ordering::SeqCst) > 0
    }
}

impl Drop for Runner {
    /// Lets the engine finish what it has, then joins it.
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A request being served in a slot.
struct Active<'t> {
    prompt: Vec<u32>,
    /// Prompt tokens in the cache so far.
    n_fed: usize,
    /// Prompt tokens that were already cached when the request arrived.
    n_reused: usize,
    opts: Options,
    n_ctx: usize,
    max_new: usize,
    sink: Box<dyn EventSink>,
    constraint: Option<Constraint>,
    detok: Detokenizer<'t>,
    stop: StopMatcher,
    shown: String,
    /// Sampled, shown, and to be fed in the next pass.
    pending: Option<u32>,
    generated: Vec<u32>,
    seed: u64,
    load_duration: Duration,
    /// When the request was submitted (queue time counts in its total).
    t_submit: Instant,
    prompt_eval: Duration,
    t_eval: Option<Instant>,
}

struct Slot<'t> {
    /// Tokens whose K/V are in this slot's cache.
    history: Vec<u32>,
    last_used: u64,
    sampler: Sampler,
    active: Option<Active<'t>>,
}

fn kv_layout(loaded: &LoadedModel) -> KvLayout {
    let hp = &loaded.model.hp;
    KvLayout {
        n_layers: hp.n_layer,
        kv_dim: hp.kv_dim(),
        chunk_tokens: DEFAULT_CHUNK_TOKENS,
    }
}

fn engine_loop(
    loaded: &LoadedModel,
    config: &RunnerConfig,
    rx: &Receiver<(Request, Instant)>,
    status: &RunnerStatus,
) {
    let model = &*loaded.model;
    let n_vocab = model.hp.n_vocab;
    let pool = ThreadPool::new(config.n_threads);
    let n_slots = config.n_parallel;
    let mut st = RunState::new(
        model,
        config.n_batch,
        model.hp.n_ctx_train,
        pool.n_threads(),
        n_slots,
    );
    let layout = kv_layout(loaded);
    let mut caches: Vec<KvCache> = Vec::with_capacity(n_slots);
    let mut slots: Vec<Slot<'_>> = Vec::with_capacity(n_slots);
    for _ in 0..n_slots {
        match KvCache::new(layout, 1) {
            Ok(c) => caches.push(c),
            Err(e) => {
                tracing::error!("cannot create a KV cache: {e}");
                return;
            }
        }
        slots.push(Slot {
            history: Vec::new(),
            last_used: 0,
            sampler: Sampler::new(n_vocab, 0),
            active: None,
        });
    }
    let mut items: Vec<BatchToken> = Vec::with_capacity(config.n_batch);
    // Slot of each logits row of the pass.
    let mut rows: Vec<usize> = Vec::with_capacity(n_slots);
    let mut order: Vec<usize> = (0..n_slots).collect();
    let mut clock = 0u64;
    let mut closed = false;

    loop {
        // 1. Admit waiting requests into free slots (block when idle).
        let n_active = slots.iter().filter(|s| s.active.is_some()).count();
        if n_active == 0 {
            if closed {
                break;
            }
            match rx.recv() {
                Ok(req) => {
                    // Counted active before it stops counting as waiting, so
                    // the runner never looks idle in between.
                    status.active.fetch_add(1, Ordering::SeqCst);
                    status.waiting.fetch_sub(1, Ordering::SeqCst);
                    clock += 1;
                    admit(loaded, layout, &mut slots, &mut caches, req, clock);
                }
                Err(_) => break,
            }
        }
        while !closed && slots.iter().any(|s| s.active.is_none()) {
            match rx.try_recv() {
                Ok(req) => {
                    // Counted active before it stops counting as waiting, so
                    // the runner never looks idle in between.
                    status.active.fetch_add(1, Ordering::SeqCst);
                    status.waiting.fetch_sub(1, Ordering::SeqCst);
                    clock += 1;
                    admit(loaded, layout, &mut slots, &mut caches, req, clock);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => closed = true,
            }
        }

        // 2. Drop sequences whose client left.
        for slot in &mut slots {
            if slot.active.as_ref().is_some_and(|a| a.sink.is_closed()) {
                let a = slot.active.take().expect("checked");
                tracing::debug!("client gone; cancelling its sequence");
                finish(a, DoneReason::Cancelled, false);
            }
        }
        status.active.store(
            slots.iter().filter(|s| s.active.is_some()).count(),
            Ordering::SeqCst,
        );

        // 3. Build the pass: every decoding sequence's next token, then
        // prompt chunks in arrival order.
        items.clear();
        rows.clear();
        let mut n_decode = 0;
        for (i, slot) in slots.iter().enumerate() {
            if let Some(tok_id) = slot.active.as_ref().and_then(|a| a.pending) {
                items.push(BatchToken {
                    token: tok_id,
                    seq: i,
                    pos: caches[i].len(),
                    logits: true,
                    prefill: false,
                });
                rows.push(i);
                n_decode += 1;
            }
        }
        let mut budget = if n_decode > 0 {
            config.prefill_chunk.min(config.n_batch - n_decode)
        } else {
            config.n_batch
        };
        let mut prefilling: [Option<(usize, usize)>; MAX_PARALLEL] = [None; MAX_PARALLEL];
        let mut n_prefilling = 0;
        order.sort_by_key(|&i| slots[i].active.as_ref().map(|a| a.t_submit));
        for &i in &order {
            if budget == 0 || n_prefilling == prefilling.len() {
                break;
            }
            let Some(a) = slots[i].active.as_ref() else {
                continue;
            };
            if a.pending.is_some() || a.n_fed == a.prompt.len() {
                continue;
            }
            let take = (a.prompt.len() - a.n_fed).min(budget);
            let pos0 = caches[i].len();
            for k in 0..take {
                let last = a.n_fed + k + 1 == a.prompt.len();
                items.push(BatchToken {
                    token: a.prompt[a.n_fed + k],
                    seq: i,
                    pos: pos0 + k,
                    logits: last,
                    prefill: true,
                });
                if last {
                    rows.push(i);
                }
            }
            prefilling[n_prefilling] = Some((i, take));
            n_prefilling += 1;
            budget -= take;
        }
        if items.is_empty() {
            continue;
        }

        // 4. One forward pass for everybody.
        let t_step = Instant::now();
        let result = model.forward_multi(&pool, &mut st, &mut caches, &items);
        let step_time = t_step.elapsed();
        status.steps.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = result {
            // Not expected (inputs are validated at submit); fail everyone in
            // the pass rather than loop on the error.
            tracing::error!("forward pass failed: {e}");
            let msg = e.to_string();
            for it in &items {
                if let Some(mut a) = slots[it.seq].active.take() {
                    a.sink
                        .send(Event::Failed(EngineError::Mismatch(msg.clone())));
                }
                slots[it.seq].history.clear();
                caches[it.seq].truncate(0);
            }
            continue;
        }
        for it in &items {
            slots[it.seq].history.push(it.token);
        }
        for p in prefilling.iter().take(n_prefilling).flatten() {
            let (i, take) = *p;
            if let Some(a) = slots[i].active.as_mut() {
                a.n_fed += take;
                a.prompt_eval += step_time;
                status
                    .prompt_tokens
                    .fetch_add(take as u64, Ordering::Relaxed);
            }
        }
        for slot in slots.iter_mut() {
            if let Some(a) = slot.active.as_mut() {
                if a.pending.take().is_some() {
                    status.generated_tokens.fetch_add(1, Ordering::Relaxed);
                }
            }
        }

        // 5. Sample for each sequence with fresh logits.
        for (r, &i) in rows.iter().enumerate() {
            let logits = &mut st.logits[r * n_vocab..(r + 1) * n_vocab];
            let slot = &mut slots[i];
            let a = slot.active.as_mut().expect("rows name active slots");
            if a.t_eval.is_none() {
                a.t_eval = Some(Instant::now());
            }
            if let Some(outcome) = step_sequence(a, &mut slot.sampler, logits, &slot.history) {
                let (reason, by_string) = outcome;
                let a = slot.active.take().expect("active");
                finish(a, reason, by_string);
            }
        }
        status.active.store(
            slots.iter().filter(|s| s.active.is_some()).count(),
            Ordering::SeqCst,
        );
        let used: usize = caches.iter().map(KvCache::used_bytes).sum();
        let reserved: usize = caches.iter().map(KvCache::reserved_bytes).sum();
        status.kv_bytes_used.store(used, Ordering::Relaxed);
        status.kv_bytes_reserved.store(reserved, Ordering::Relaxed);
    }
    status.active.store(0, Ordering::SeqCst);
}

/// Puts `req` into the free slot sharing the longest prefix with its prompt
/// (least recently used on a tie), keeping that prefix's KV.
fn admit<'t>(
    loaded: &'t LoadedModel,
    layout: KvLayout,
    slots: &mut [Slot<'t>],
    caches: &mut [KvCache],
    (req, t_submit): (Request, Instant),
    clock: u64,
) {
    let hp = &loaded.model.hp;
    let n_ctx = req.opts.num_ctx.min(hp.n_ctx_train).max(1);
    let best = slots
        .iter()
        .enumerate()
        .filter(|(_, s)| s.active.is_none())
        .map(|(i, s)| {
            let common = if caches[i].capacity() == n_ctx {
                s.history
                    .iter()
                    .zip(&req.prompt)
                    .take_while(|(a, b)| a == b)
                    .count()
            } else {
                0
            };
            (i, common, s.last_used)
        })
        .max_by(|a, b| a.1.cmp(&b.1).then(b.2.cmp(&a.2)));
    let Some((i, common, _)) = best else {
        unreachable!("admit is called only with a free slot");
    };
    let mut sink = req.sink;
    if caches[i].capacity() != n_ctx {
        match KvCache::new(layout, n_ctx) {
            Ok(c) => caches[i] = c,
            Err(e) => {
                sink.send(Event::Failed(e.into()));
                return;
            }
        }
        slots[i].history.clear();
    }
    // Always evaluate at least one prompt token, for fresh logits.
    let common = common.min(req.prompt.len() - 1);
    caches[i].truncate(common);
    let slot = &mut slots[i];
    slot.history.truncate(common);
    slot.last_used = clock;
    let seed = req.opts.seed.unwrap_or_else(crate::session::clock_seed);
    slot.sampler.reseed(seed);
    let max_new = if req.opts.num_predict < 0 {
        usize::MAX
    } else {
        req.opts.num_predict as usize
    };
    slot.active = Some(Active {
        n_fed: common,
        n_reused: common,
        n_ctx,
        max_new,
        stop: StopMatcher::new(&req.opts.stop),
        opts: req.opts,
        sink,
        constraint: req.constraint,
        detok: Detokenizer::new(&loaded.tokenizer),
        shown: String::with_capacity(256),
        pending: None,
        generated: Vec::new(),
        seed,
        load_duration: req.load_duration,
        t_submit,
        prompt_eval: Duration::ZERO,
        t_eval: None,
        prompt: req.prompt,
    });
}

/// Samples, shows and decides whether the sequence ends: `Some((reason,
/// ended_by_stop_string))`, or `None` with the token pending for the next
/// pass. `history` is what the slot's cache holds (for the penalties).
fn step_sequence(
    a: &mut Active<'_>,
    sampler: &mut Sampler,
    logits: &mut [f32],
    history: &[u32],
) -> Option<(DoneReason, bool)> {
    if a.generated.len() >= a.max_new {
        return Some((DoneReason::Length, false));
    }
    let tok = a.detok.tokenizer();
    if let Some(c) = a.constraint.as_mut() {
        if let Err(e) = c.mask(logits, tok) {
            tracing::warn!("structured output stopped: {e}");
            return Some((DoneReason::Stop, false));
        }
    }
    let token = sampler.sample(logits, history, &a.opts);
    a.generated.push(token);
    if tok.is_eog(token) {
        return Some((DoneReason::Stop, false));
    }
    let mut grammar_done = false;
    if let Some(c) = a.constraint.as_mut() {
        if let Err(e) = c.consume(token) {
            tracing::warn!("structured output stopped: {e}");
            return Some((DoneReason::Stop, false));
        }
        grammar_done = c.is_finished();
    }
    a.shown.clear();
    let piece = a.detok.push(token);
    let stopped = a.stop.push(piece, &mut a.shown) == StopState::Stopped;
    if !a.shown.is_empty() && !a.sink.send(Event::Text(a.shown.clone())) {
        return Some((DoneReason::Cancelled, false));
    }
    if stopped {
        return Some((DoneReason::Stop, true));
    }
    if grammar_done {
        return Some((DoneReason::Stop, false));
    }
    if history.len() + 1 > a.n_ctx || a.generated.len() >= a.max_new {
        // No room to feed it, or it was the last one asked for: shown, not fed.
        return Some((DoneReason::Length, false));
    }
    a.pending = Some(token);
    None
}

/// Flushes what the detokenizer and stop matcher hold back, then reports.
fn finish(mut a: Active<'_>, reason: DoneReason, by_string: bool) {
    if !by_string && reason != DoneReason::Cancelled {
        a.shown.clear();
        let rest = a.detok.flush();
        a.stop.push(&rest, &mut a.shown);
        a.stop.finish(&mut a.shown);
        if !a.shown.is_empty() {
            let text = std::mem::take(&mut a.shown);
            a.sink.send(Event::Text(text));
        }
    }
    let stats = Stats {
        total_duration: a.t_submit.elapsed(),
        load_duration: a.load_duration,
        prompt_eval_count: a.prompt.len() - a.n_reused,
        prompt_eval_duration: a.prompt_eval,
        eval_count: a.generated.len(),
        eval_duration: a.t_eval.map(|t| t.elapsed()).unwrap_or_default(),
    };
    a.sink.send(Event::Done(Completion {
        done_reason: reason,
        stats,
        seed: a.seed,
        tokens: a.generated,
    }));
}
