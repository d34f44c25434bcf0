//! `edgellm charrnn`: train, sample from and describe the character-level
//! GRU writer (crate `edgellm-charrnn`).

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use edgellm_charrnn::model::{format_summary, group_digits};
use edgellm_charrnn::{checkpoint, load_corpus, Generator, TrainConfig, Trainer};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Args, Debug)]
pub struct CharrnnArgs {
    #[command(subcommand)]
    pub command: CharrnnCommand,
}

#[derive(Subcommand, Debug)]
pub enum CharrnnCommand {
    /// Train (or resume training) on a text corpus.
    Train(TrainArgs),
    /// Stream text sampled from a checkpoint.
    Generate(GenerateArgs),
    /// Print a checkpoint's layers, parameter counts and training state.
    Info(InfoArgs),
}

#[derive(Args, Debug)]
pub struct TrainArgs {
    /// A UTF-8 text file, or a directory whose *.txt files are concatenated in name order.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Checkpoint written during and after training (safetensors).
    #[arg(long, default_value = "model.charrnn")]
    pub out: PathBuf,
    /// Resume from a checkpoint (default: --out) with its saved settings.
    #[arg(long, num_args = 0..=1, value_name = "CHECKPOINT")]
    pub resume: Option<Option<PathBuf>>,
    /// Characters per training sequence.
    #[arg(long, default_value_t = 150)]
    pub seq_len: usize,
    /// Embedding width.
    #[arg(long, default_value_t = 256)]
    pub embed: usize,
    /// GRU units.
    #[arg(long, default_value_t = 1024)]
    pub units: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Train until this many epochs in total (steps already taken count).
    #[arg(long)]
    pub epochs: Option<u64>,
    /// Stop at this many optimizer steps in total (steps already taken count).
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// Adam learning rate (default 0.001; on --resume, replaces the saved one).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Global gradient-norm clipping bound (0 = off).
    #[arg(long, default_value_t = 5.0)]
    pub clip: f32,
    /// Fraction of sequences (the end of the corpus) held out for validation.
    #[arg(long, default_value_t = 0.05)]
    pub val_fraction: f64,
    /// Seed of the initial weights and the data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Validate every N steps (default: once per epoch) and at the end.
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Save a checkpoint every N steps (0: only at the end).
    #[arg(long, default_value_t = 100)]
    pub save_every: u64,
    /// Threads (default: all cores).
    #[arg(short = 't', long)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// A checkpoint written by `charrnn train`.
    pub model: PathBuf,
    /// Text to start from (characters the model does not know map to its unknown id).
    #[arg(long, default_value = "")]
    pub prompt: String,
    /// Characters to generate after the prompt.
    #[arg(long, default_value_t = 1000)]
    pub length: usize,
    /// Sampling temperature (lower = more conservative; 0 = greedy).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Random seed (same seed, same text; default: from the clock, printed on stderr).
    #[arg(long)]
    pub seed: Option<u64>,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// A checkpoint written by `charrnn train`.
    pub model: PathBuf,
}

pub fn run(a: CharrnnArgs) -> Result<()> {
    match a.command {
        CharrnnCommand::Train(t) => train(t),
        CharrnnCommand::Generate(g) => generate(g),
        CharrnnCommand::Info(i) => info(&i.model),
    }
}

fn train(a: TrainArgs) -> Result<()> {
    let corpus = load_corpus(&a.corpus)?;
    let threads = a
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let mut tr = match &a.resume {
        Some(from) => {
            let path = from.as_deref().unwrap_or(&a.out);
            let tr = Trainer::resume(path, &corpus, a.lr, threads)
                .with_context(|| format!("resuming from {}", path.display()))?;
            eprintln!(
                "resumed {} at step {} (epoch {})",
                path.display(),
                tr.state().step,
                tr.state().epoch + 1
            );
            tr
        }
        None => {
            let cfg = TrainConfig {
                seq_len: a.seq_len,
                batch: a.batch,
                embed: a.embed,
                units: a.units,
                lr: a.lr.unwrap_or(1e-3),
                clip: a.clip,
                val_fraction: a.val_fraction,
                seed: a.seed,
                ..TrainConfig::default()
            };
            Trainer::new(&corpus, cfg, threads)?
        }
    };
    let spe = tr.steps_per_epoch();
    let target = match (a.epochs, a.max_steps) {
        (Some(e), Some(s)) => (e * spe).min(s),
        (Some(e), None) => e * spe,
        (None, Some(s)) => s,
        (None, None) => spe,
    };
    let d = tr.model().dims;
    let ds = tr.dataset();
    eprintln!(
        "vocab {} · embed {} · units {} · {} parameters · {} train / {} validation sequences of {} · \
         {spe} steps per epoch · {threads} threads",
        d.vocab,
        d.embed,
        d.units,
        group_digits(tr.model().n_params()),
        ds.n_train,
        ds.n_val,
        tr.config().seq_len
    );
    let start = tr.state().step;
    if start >= target {
        eprintln!("already at step {start} of {target}; nothing to do");
        return Ok(());
    }
    let eval_every = a.eval_every.unwrap_or(spe).max(1);
    let bar = ProgressBar::with_draw_target(Some(target - start), ProgressDrawTarget::stderr())
        .with_style(
            ProgressStyle::with_template("{bar:30.cyan/blue} step {msg} eta {eta} ({elapsed})")
                .expect("valid template")
                .progress_chars("█▉▊▋▌▍▎▏ "),
        );
    let t0 = Instant::now();
    let mut chars = 0usize;
    let mut loss_ema: Option<f64> = None;
    while tr.state().step < target {
        let st = tr.step();
        chars += st.n_chars;
        let ema = loss_ema.map_or(st.loss, |e| 0.9 * e + 0.1 * st.loss);
        loss_ema = Some(ema);
        let step = tr.state().step;
        let val = tr
            .state()
            .last_val_loss
            .map_or(String::new(), |v| format!(" · val {v:.3}"));
        bar.set_message(format!(
            "{step}/{target} · epoch {:.2} · loss {ema:.3}{val} · {:.0} chars/s",
            step as f64 / spe as f64,
            chars as f64 / t0.elapsed().as_secs_f64()
        ));
        bar.inc(1);
        let last = step == target;
        if step % eval_every == 0 || last {
            if let Some(v) = tr.validate() {
                let line = format!("step {step}: train loss {ema:.4} · validation loss {v:.4}");
                // A hidden bar (stderr not a terminal) drops println.
                if bar.is_hidden() {
                    eprintln!("{line}");
                } else {
                    bar.println(line);
                }
            }
        }
        if last || (a.save_every > 0 && step % a.save_every == 0) {
            tr.save(&a.out)?;
        }
    }
    bar.finish();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "{} steps in {secs:.0}s ({:.0} chars/s); saved {}",
        target - start,
        chars as f64 / secs,
        a.out.display()
    );
    Ok(())
}

fn generate(a: GenerateArgs) -> Result<()> {
    if !a.temperature.is_finite() {
        bail!("temperature must be a number");
    }
    let ck = checkpoint::load(&a.model)?;
    let seed = a.seed.unwrap_or_else(|| {
        let s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        eprintln!("seed {s}");
        s
    });
    let mut out = std::io::stdout().lock();
    write!(out, "{}", a.prompt)?;
    out.flush()?;
    let mut g = Generator::new(&ck.model, &a.prompt, a.temperature, seed);
    let mut buf = [0u8; 4];
    for _ in 0..a.length {
        let c = g.next_char();
        out.write_all(c.encode_utf8(&mut buf).as_bytes())?;
        out.flush()?;
    }
    writeln!(out)?;
    Ok(())
}

fn info(path: &Path) -> Result<()> {
    let ck = checkpoint::load(path)?;
    let m = &ck.model;
    println!("{} (safetensors, format edgellm-charrnn)", path.display());
    println!(
        "vocabulary: {} ({} characters + unknown)",
        m.dims.vocab,
        m.dims.vocab - 1
    );
    print!("{}", format_summary(&m.dims.summary(None, None)));
    match &ck.train {
        Some(t) => {
            let c = &t.config;
            let s = &t.state;
            println!(
                "training: step {} · epoch {} (+{} batches) · seq_len {} · batch {} · lr {} · clip {} · seed {}",
                s.step, s.epoch + 1, s.batch_in_epoch, c.seq_len, c.batch, c.lr, c.clip, c.seed
            );
            let fmt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
            println!(
                "validation loss: last {} · best {} (nats/char) · corpus {} characters",
                fmt(s.last_val_loss),
                fmt(s.best_val_loss),
                s.corpus_chars
            );
        }
        None => println!("weights only (no optimizer state; cannot be resumed)"),
    }
    Ok(())
}
