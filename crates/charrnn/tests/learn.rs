//! A short training run on a 200 KB slice of Dom Casmurro learns: the
//! held-out loss falls clearly below the unigram entropy of the slice.

use edgellm_charrnn::data::unigram_entropy;
use edgellm_charrnn::{TrainConfig, Trainer};
use std::path::PathBuf;
use std::time::Instant;

fn slice_of_corpus(n_bytes: usize) -> Option<String> {
    // The first 200 KB of Dom Casmurro (public domain), kept in the repository
    // so that this test runs on any machine.
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/machado-domCasmurro-200k.txt");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("skipping: {} not readable ({e})", path.display());
            return None;
        }
    };
    let mut end = n_bytes.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Some(text[..end].to_string())
}

#[test]
fn short_run_on_a_slice_beats_the_unigram_entropy() {
    let Some(text) = slice_of_corpus(200_000) else {
        return;
    };
    let cfg = TrainConfig {
        seq_len: 64,
        batch: 32,
        embed: 32,
        units: 128,
        lr: 4e-3,
        val_fraction: 0.1,
        seed: 1,
        ..TrainConfig::default()
    };
    let t0 = Instant::now();
    let mut tr = Trainer::new(&text, cfg, 2).unwrap();
    let ids = tr.model().vocab.encode(&text);
    let h_unigram = unigram_entropy(&ids);
    let first_val = tr.validate().unwrap();
    let mut last = 0.0;
    for _ in 0..300 {
        last = tr.step().loss;
    }
    let val = tr.validate().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    eprintln!(
        "vocab {} unigram entropy {h_unigram:.3} nats; val loss {first_val:.3} -> {val:.3} \
         (train {last:.3}) after {} steps in {secs:.1}s",
        tr.model().dims.vocab,
        tr.state().step
    );
    assert!(
        (first_val - (tr.model().dims.vocab as f64).ln()).abs() < 0.3,
        "initial loss should be about ln(vocab)"
    );
    assert!(
        val < 0.8 * h_unigram,
        "val loss {val:.3} not clearly below unigram entropy {h_unigram:.3}"
    );
}
