//! One conversation's state on a model: KV cache, activation buffers, the
//! tokens in the cache, and the generate loop.

use crate::options::Options;
use crate::sampler::Sampler;
use crate::stats::{DoneReason, Stats};
use crate::stop::{StopMatcher, StopState};
use crate::EngineError;
use edgellm_kernels::pool::ThreadPool;
use edgellm_kv::{KvCache, KvLayout, DEFAULT_CHUNK_TOKENS};
use edgellm_model::{Logits, Model, RunState};
use edgellm_tokenizer::{Detokenizer, Tokenizer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Threads to use when the caller does not say: the number of CPUs the OS
/// lets us run on (hyper-threads do not help memory-bound decode, but this
/// machine class has none).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The state of one sequence on a model.
pub struct Session {
    pub model: Arc<Model>,
    pool: ThreadPool,
    state: RunState,
    kv: KvCache,
    /// Tokens whose keys and values are in `kv` (same length).
    history: Vec<u32>,
    sampler: Sampler,
}

impl Session {
    /// A session with a context of `min(n_ctx, trained context)` tokens.
    pub fn new(
        model: Arc<Model>,
        n_ctx: usize,
        n_threads: usize,
        n_batch: usize,
    ) -> Result<Session, EngineError> {
        let hp = &model.hp;
        let n_ctx = n_ctx.min(hp.n_ctx_train).max(1);
        let layout = KvLayout {
            n_layers: hp.n_layer,
            kv_dim: hp.kv_dim(),
            chunk_tokens: DEFAULT_CHUNK_TOKENS,
        };
        let kv = KvCache::new(layout, n_ctx)?;
        let pool = ThreadPool::new(n_threads);
        let state = RunState::new(&model, n_batch.min(n_ctx), n_ctx, pool.n_threads(), 1);
        let sampler = Sampler::new(hp.n_vocab, 0);
        Ok(Session {
            model,
            pool,
            state,
            kv,
            history: Vec::with_capacity(n_ctx),
            sampler,
        })
    }

    /// Context length of this session in tokens.
    pub fn n_ctx(&self) -> usize {
        self.kv.capacity()
    }

    pub fn n_threads(&self) -> usize {
        self.pool.n_threads()
    }

    /// Tokens currently in the KV cache.
    pub fn history(&self) -> &[u32] {
        &self.history
    }

    /// Bytes of KV cache reserved for this session.
    pub fn kv_bytes(&self) -> usize {
        self.kv.reserved_bytes()
    }

    /// Forgets the whole context.
    pub fn clear(&mut self) {
        self.kv.truncate(0);
        self.history.clear();
    }

    /// Keeps the first `n` tokens of the context.
    pub fn truncate(&mut self, n: usize) {
        self.kv.truncate(n);
        self.history.truncate(n);
    }

    /// Appends `tokens` to the context; their last token's next-token
    /// logits are then in [`Session::logits`]. Errors if they do not fit.
    pub fn feed(&mut self, tokens: &[u32]) -> Result<(), EngineError> {
        self.model.forward(
            &self.pool,
            &mut self.state,
            &mut self.kv,
            tokens,
            Logits::Last,
        )?;
        self.history.extend_from_slice(tokens);
        Ok(())
    }

    /// Next-token logits after the last [`Session::feed`].
    pub fn logits(&self) -> &[f32] {
        &self.state.logits[..self.model.hp.n_vocab]
    }

    /// Samples the next token from the current logits.
    pub fn sample(&mut self, opts: &Options) -> u32 {
        let n_vocab = self.model.hp.n_vocab;
        self.sampler
            .sample(&self.state.logits[..n_vocab], &self.history, opts)
    }

    /// One decode step: appends `token` and computes the next logits
    /// (allocates nothing).
    pub fn decode_step(&mut self, token: u32) -> Result<(), EngineError> {
        self.feed(std::slice::from_ref(&token))
    }

    /// Generates a continuation of `prompt` (the whole conversation so far,
    /// as tokens). The longest prefix shared with the tokens already in the
    /// cache is reused. Text is passed to `on_text` as it is produced;
    /// `cancel` stops the generation at the next token.
    pub fn generate(
        &mut self,
        tokenizer: &Tokenizer,
        prompt: &[u32],
        opts: &Options,
        cancel: &AtomicBool,
        on_text: &mut dyn FnMut(&str),
    ) -> Result<Generation, EngineError> {
        let t_start = Instant::now();
        opts.validate()?;
        let n_ctx = self.n_ctx();
        if prompt.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        if prompt.len() >= n_ctx {
            return Err(EngineError::PromptTooLong {
                n_prompt: prompt.len(),
                n_ctx,
            });
        }
        let seed = opts.seed.unwrap_or_else(clock_seed);
        self.sampler.reseed(seed);

        // Reuse the shared prefix, but always evaluate at least one token
        // to get fresh logits.
        let common = self
            .history
            .iter()
            .zip(prompt)
            .take_while(|(a, b)| a == b)
            .count()
            .min(prompt.len() - 1);
        self.truncate(common);
        let t_prompt = Instant::now();
        self.feed(&prompt[common..])?;
        let prompt_eval_duration = t_prompt.elapsed();

        let mut detok = Detokenizer::new(tokenizer);
        let mut stop = StopMatcher::new(&opts.stop);
        let mut shown = String::with_capacity(256);
        let mut eval_count = 0usize;
        let t_eval = Instant::now();
        let max_new = if opts.num_predict < 0 {
            usize::MAX
        } else {
            opts.num_predict as usize
        };
        let mut stopped_by_string = false;
        let done_reason = loop {
            if cancel.load(Ordering::Relaxed) {
                break DoneReason::Cancelled;
            }
            if eval_count >= max_new {
                break DoneReason::Length;
            }
            let token = self.sample(opts);
            eval_count += 1;
            if tokenizer.is_eog(token) {
                break DoneReason::Stop;
            }
            shown.clear();
            let piece = detok.push(token);
            let stopped = stop.push(piece, &mut shown) == StopState::Stopped;
            if !shown.is_empty() {
                on_text(&shown);
            }
            if stopped {
                stopped_by_string = true;
                break DoneReason::Stop;
            }
            if self.history.len() + 1 > n_ctx || eval_count >= max_new {
                // Either no room for this token in the context, or it was the
                // last one asked for: it is shown but need not be evaluated.
                break DoneReason::Length;
            }
            self.decode_step(token)?;
        };
        shown.clear();
        if !stopped_by_string {
            stop.push(&detok.flush(), &mut shown);
            stop.finish(&mut shown);
        }
        if !shown.is_empty() {
            on_text(&shown);
        }
        let eval_duration = t_eval.elapsed();
        Ok(Generation {
            done_reason,
            stats: Stats {
                total_duration: t_start.elapsed(),
                load_duration: Default::default(),
                prompt_eval_count: prompt.len() - common,
                prompt_eval_duration,
                eval_count,
                eval_duration,
            },
            seed,
        })
    }
}

/// The outcome of [`Session::generate`].
#[derive(Clone, Debug)]
pub struct Generation {
    pub done_reason: DoneReason,
    pub stats: Stats,
    /// The seed the sampler used (drawn from the clock when none was given).
    pub seed: u64,
}

pub(crate) fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
