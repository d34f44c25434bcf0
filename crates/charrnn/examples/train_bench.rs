//! Training throughput on the Machado corpus (not a test):
//! `cargo run --release --example train_bench -p edgellm-charrnn --
//!  CORPUS SECONDS BATCH SEQ EMBED UNITS THREADS [OUT]`.
//! Trains for about SECONDS, reports chars/s and the validation loss, saves
//! a checkpoint to OUT and prints a 300-character sample.

use edgellm_charrnn::generate::generate;
use edgellm_charrnn::{load_corpus, TrainConfig, Trainer};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let arg = |i: usize, d: &str| a.get(i).cloned().unwrap_or_else(|| d.to_string());
    let corpus = load_corpus(&PathBuf::from(arg(1, "../shared/data/machado"))).unwrap();
    let seconds: f64 = arg(2, "120").parse().unwrap();
    let cfg = TrainConfig {
        batch: arg(3, "64").parse().unwrap(),
        seq_len: arg(4, "150").parse().unwrap(),
        embed: arg(5, "256").parse().unwrap(),
        units: arg(6, "1024").parse().unwrap(),
        lr: 1e-3,
        val_fraction: 0.02,
        ..TrainConfig::default()
    };
    let threads: usize = arg(7, "2").parse().unwrap();
    let t_init = Instant::now();
    let mut tr = Trainer::new(&corpus, cfg, threads).unwrap();
    println!(
        "corpus {} chars, vocab {}, {} params, {} steps/epoch, init {:.1}s",
        corpus.chars().count(),
        tr.model().dims.vocab,
        tr.model().n_params(),
        tr.steps_per_epoch(),
        t_init.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    let mut chars = 0usize;
    while t0.elapsed().as_secs_f64() < seconds {
        let s0 = Instant::now();
        let st = tr.step();
        chars += st.n_chars;
        println!(
            "step {:>4} loss {:.4} |g| {:.3} {:.2}s",
            tr.state().step,
            st.loss,
            st.grad_norm,
            s0.elapsed().as_secs_f64()
        );
    }
    let train_s = t0.elapsed().as_secs_f64();
    let tv = Instant::now();
    let val = tr.validate().unwrap();
    println!(
        "{} steps, {chars} chars in {train_s:.1}s = {:.0} chars/s; val loss {val:.4} ({:.1}s)",
        tr.state().step,
        chars as f64 / train_s,
        tv.elapsed().as_secs_f64()
    );
    if let Some(out) = a.get(8) {
        tr.save(&PathBuf::from(out)).unwrap();
    }
    println!(
        "---\n{}\n---",
        generate(tr.model(), "Capítulo I", 300, 0.8, 1)
    );
}
