//! The training loop: shuffled batches, BPTT, global-norm clipping, Adam,
//! validation, exact resume.

use crate::checkpoint::{self, TrainPart};
use crate::data::{fingerprint, Dataset, Vocab};
use crate::gemm::Ctx;
use crate::gru::Workspace;
use crate::model::Model;
use crate::Error;
use edgellm_kernels::pool::{split_range, SyncPtr};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Upper bounds on a batch and a sequence: the workspace is
/// `batch × seq_len × (5·units + …)` floats, allocated up front.
pub const MAX_BATCH: usize = 4096;
pub const MAX_SEQ_LEN: usize = 4096;

/// Hyper-parameters (saved in checkpoints).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Characters per training sequence (chunks hold `seq_len + 1`).
    pub seq_len: usize,
    /// Sequences per batch.
    pub batch: usize,
    pub embed: usize,
    pub units: usize,
    /// Adam learning rate.
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    /// Keras' epsilon (added to `sqrt(v)`).
    pub eps: f32,
    /// Global gradient-norm bound; 0 disables clipping.
    pub clip: f32,
    /// Fraction of sequences (the end of the corpus) held out.
    pub val_fraction: f64,
    /// Seeds the initial weights and every epoch's data order.
    pub seed: u64,
}

impl Default for TrainConfig {
    /// The deck's shape and Keras' Adam defaults.
    fn default() -> Self {
        TrainConfig {
            seq_len: 150,
            batch: 64,
            embed: 256,
            units: 1024,
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            clip: 5.0,
            val_fraction: 0.05,
            seed: 0,
        }
    }
}

impl TrainConfig {
    fn validate(&self) -> Result<(), Error> {
        if self.batch == 0 || self.batch > MAX_BATCH {
            return Err(Error::Config(format!(
                "batch {} (must be 1..={MAX_BATCH})",
                self.batch
            )));
        }
        if self.seq_len == 0 || self.seq_len > MAX_SEQ_LEN {
            return Err(Error::Config(format!(
                "seq_len {} (must be 1..={MAX_SEQ_LEN})",
                self.seq_len
            )));
        }
        let ok = |x: f32| x.is_finite();
        if !(ok(self.lr) && self.lr > 0.0) {
            return Err(Error::Config(format!("lr {} must be > 0", self.lr)));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return Err(Error::Config("Adam betas must be in [0, 1)".into()));
        }
        if !(ok(self.eps) && self.eps > 0.0 && ok(self.clip) && self.clip >= 0.0) {
            return Err(Error::Config("eps must be > 0 and clip ≥ 0".into()));
        }
        Ok(())
    }
}

/// Where training stands: everything besides weights and Adam moments that
/// an exact resume needs. The data order of epoch `e` is a function of
/// `(seed, e)`, so `(epoch, batch_in_epoch)` is the whole RNG state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps taken.
    pub step: u64,
    pub epoch: u64,
    /// Batches of `epoch` already consumed.
    pub batch_in_epoch: u64,
    /// Characters of the corpus and their fingerprint (checked on resume).
    pub corpus_chars: u64,
    pub corpus_fingerprint: u64,
    /// Loss of the last validation pass, and the best one.
    pub last_val_loss: Option<f64>,
    pub best_val_loss: Option<f64>,
}

/// Loss and gradient norm of one step.
#[derive(Clone, Copy, Debug)]
pub struct StepStats {
    /// Mean cross-entropy of the batch, nats per character.
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
    /// Characters (targets) in the batch.
    pub n_chars: usize,
}

/// Model, optimizer state, data and workspace of one training run.
pub struct Trainer {
    ctx: Ctx,
    model: Model,
    cfg: TrainConfig,
    state: TrainState,
    data: Dataset,
    adam_m: Vec<f32>,
    adam_v: Vec<f32>,
    grads: Vec<f32>,
    ws: Workspace,
    order: Vec<u32>,
    order_epoch: Option<u64>,
}

impl Trainer {
    /// A fresh run on `corpus`: vocabulary from its characters, weights
    /// initialised from `cfg.seed`.
    pub fn new(corpus: &str, cfg: TrainConfig, n_threads: usize) -> Result<Trainer, Error> {
        cfg.validate()?;
        let vocab = Vocab::from_text(corpus)?;
        let model = Model::new(vocab, cfg.embed, cfg.units, cfg.seed)?;
        let n = model.n_params();
        Trainer::assemble(
            corpus,
            model,
            TrainPart {
                config: cfg,
                state: TrainState::default(),
                adam_m: vec![0.0; n],
                adam_v: vec![0.0; n],
            },
            n_threads,
            true,
        )
    }

    /// Continues the run saved at `path` on the same corpus. `lr`, when
    /// given, replaces the saved learning rate.
    pub fn resume(
        path: &Path,
        corpus: &str,
        lr: Option<f32>,
        n_threads: usize,
    ) -> Result<Trainer, Error> {
        let ck = checkpoint::load(path)?;
        let mut train = ck.train.ok_or_else(|| Error::Format {
            path: path.to_path_buf(),
            msg: "it holds weights only (no optimizer state) and cannot be resumed".into(),
        })?;
        if let Some(lr) = lr {
            train.config.lr = lr;
        }
        train.config.validate()?;
        Trainer::assemble(corpus, ck.model, train, n_threads, false)
    }

    fn assemble(
        corpus: &str,
        model: Model,
        train: TrainPart,
        n_threads: usize,
        fresh: bool,
    ) -> Result<Trainer, Error> {
        let TrainPart {
            config: cfg,
            mut state,
            adam_m,
            adam_v,
        } = train;
        let ids = model.vocab.encode(corpus);
        let fp = fingerprint(&ids);
        if fresh {
            state.corpus_chars = ids.len() as u64;
            state.corpus_fingerprint = fp;
        } else if state.corpus_chars != ids.len() as u64 || state.corpus_fingerprint != fp {
            return Err(Error::Corpus(format!(
                "the corpus differs from the one this checkpoint was trained on \
                 ({} characters now, {} then); resume needs the same corpus",
                ids.len(),
                state.corpus_chars
            )));
        }
        let data = Dataset::new(ids, cfg.seq_len, cfg.val_fraction)?;
        let ws = Workspace::new(model.dims, cfg.batch, cfg.seq_len);
        tracing::debug!(
            n_params = model.n_params(),
            n_train = data.n_train,
            n_val = data.n_val,
            "charrnn trainer ready"
        );
        Ok(Trainer {
            ctx: Ctx::new(n_threads),
            grads: vec![0.0; model.n_params()],
            model,
            cfg,
            state,
            data,
            adam_m,
            adam_v,
            ws,
            order: Vec::new(),
            order_epoch: None,
        })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Mutable access to the weights (for tests and tools; the optimizer
    /// state is left as it is).
    pub fn model_mut(&mut self) -> &mut Model {
        &mut self.model
    }

    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    pub fn state(&self) -> &TrainState {
        &self.state
    }

    pub fn dataset(&self) -> &Dataset {
        &self.data
    }

    /// Adam's first and second moments.
    pub fn adam_moments(&self) -> (&[f32], &[f32]) {
        (&self.adam_m, &self.adam_v)
    }

    /// Full batches per epoch (the remainder is dropped, like Keras'
    /// `drop_remainder=True`; with fewer sequences than a batch, one smaller
    /// batch).
    pub fn steps_per_epoch(&self) -> u64 {
        (self.data.n_train / self.cfg.batch).max(1) as u64
    }

    /// Runs one optimizer step on the next batch.
    pub fn step(&mut self) -> StepStats {
        let spe = self.steps_per_epoch();
        if self.state.batch_in_epoch >= spe {
            self.state.epoch += 1;
            self.state.batch_in_epoch = 0;
        }
        if self.order_epoch != Some(self.state.epoch) {
            self.order = self.data.epoch_order(self.cfg.seed, self.state.epoch);
            self.order_epoch = Some(self.state.epoch);
        }
        let b = self.cfg.batch.min(self.data.n_train);
        let start = self.state.batch_in_epoch as usize * b;
        let chunks: Vec<&[u32]> = self.order[start..start + b]
            .iter()
            .map(|&i| self.data.chunk(i as usize))
            .collect();
        self.ws.load_batch(&chunks);
        let loss = self.ws.forward(&self.ctx, &self.model.params, true);
        self.ws
            .backward(&self.ctx, &self.model.params, &mut self.grads);
        let grad_norm = self
            .grads
            .iter()
            .map(|&g| g as f64 * g as f64)
            .sum::<f64>()
            .sqrt();
        let scale = if self.cfg.clip > 0.0 && grad_norm > self.cfg.clip as f64 {
            (self.cfg.clip as f64 / grad_norm) as f32
        } else {
            1.0
        };
        self.state.step += 1;
        self.state.batch_in_epoch += 1;
        adam_update(
            &self.ctx,
            &self.cfg,
            self.state.step,
            scale,
            &mut self.model.params,
            &self.grads,
            &mut self.adam_m,
            &mut self.adam_v,
        );
        StepStats {
            loss,
            grad_norm,
            n_chars: b * self.cfg.seq_len,
        }
    }

    /// Gradients of the mean loss of `chunks` at the current weights (for
    /// gradient checks), without touching the optimizer.
    pub fn loss_and_grads(&mut self, chunks: &[&[u32]]) -> (f64, &[f32]) {
        self.ws.load_batch(chunks);
        let loss = self.ws.forward(&self.ctx, &self.model.params, true);
        self.ws
            .backward(&self.ctx, &self.model.params, &mut self.grads);
        (loss, &self.grads)
    }

    /// Mean loss per character over the held-out sequences (None when there
    /// are none). Records it in the state.
    pub fn validate(&mut self) -> Option<f64> {
        let val = self.data.val_chunks();
        if val.is_empty() {
            return None;
        }
        let mut total = 0f64;
        let mut n = 0usize;
        let idx: Vec<usize> = val.collect();
        for group in idx.chunks(self.cfg.batch) {
            let chunks: Vec<&[u32]> = group.iter().map(|&i| self.data.chunk(i)).collect();
            self.ws.load_batch(&chunks);
            let loss = self.ws.forward(&self.ctx, &self.model.params, false);
            total += loss * group.len() as f64;
            n += group.len();
        }
        let loss = total / n as f64;
        self.state.last_val_loss = Some(loss);
        if self.state.best_val_loss.is_none_or(|b| loss < b) {
            self.state.best_val_loss = Some(loss);
        }
        Some(loss)
    }

    /// Writes a resumable checkpoint (weights, Adam moments, state, config).
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        checkpoint::save(
            path,
            &self.model,
            Some(checkpoint::TrainPartRef {
                config: &self.cfg,
                state: &self.state,
                adam_m: &self.adam_m,
                adam_v: &self.adam_v,
            }),
        )
    }
}

/// Keras' Adam: `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
/// `p ← p − lr·√(1−β2ᵗ)/(1−β1ᵗ) · m / (√v + ε)`, with `g` scaled by the
/// clipping factor first.
#[allow(clippy::too_many_arguments)]
fn adam_update(
    ctx: &Ctx,
    cfg: &TrainConfig,
    step: u64,
    scale: f32,
    params: &mut [f32],
    grads: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let t = step as f64;
    let lr_t = (cfg.lr as f64 * (1.0 - (cfg.beta2 as f64).powf(t)).sqrt()
        / (1.0 - (cfg.beta1 as f64).powf(t))) as f32;
    let (b1, b2, eps) = (cfg.beta1, cfg.beta2, cfg.eps);
    let n = params.len();
    let (pp, mp, vp) = (SyncPtr::new(params), SyncPtr::new(m), SyncPtr::new(v));
    ctx.run(n * 8, |ti, nt| {
        let r = split_range(n, ti, nt, 64);
        // SAFETY: disjoint ranges per thread, inside all three vectors (same length).
        let (p, m, v) = unsafe {
            (
                pp.slice(r.start, r.len()),
                mp.slice(r.start, r.len()),
                vp.slice(r.start, r.len()),
            )
        };
        for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(&grads[r]) {
            let g = g * scale;
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            *p -= lr_t * *m / (v.sqrt() + eps);
        }
    });
}
