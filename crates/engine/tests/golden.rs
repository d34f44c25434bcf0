//! Golden tests against llama.cpp: token ids, greedy continuations and
//! first-step logits, from fixtures made by `scripts/make-fixtures.py`.
//!
//! The models come from the store (`EDGELLM_MODELS`). When a model is absent
//! the test says so and passes, unless `EDGELLM_REQUIRE_MODELS=1` (CI sets
//! it), which turns absence into a failure. SmolLM2 and Gemma3 always run;
//! the Qwen models run when `EDGELLM_GOLDEN_TIER=full`.

use edgellm_engine::{LoadedModel, Session};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Deserialize)]
struct Fixture {
    sha256: String,
    tokens: Tokens,
    greedy: Vec<Greedy>,
    logits: Vec<TopLogits>,
}

#[derive(Deserialize)]
struct Tokens {
    corpus: Vec<Vec<u32>>,
    special: Vec<TextIds>,
    with_bos: Vec<TextIds>,
}

#[derive(Deserialize)]
struct TextIds {
    text: String,
    ids: Vec<u32>,
}

#[derive(Deserialize)]
struct Greedy {
    prompt: String,
    prompt_ids: Vec<u32>,
    tokens: Vec<u32>,
    top2_gap: Vec<f32>,
}

#[derive(Deserialize)]
struct TopLogits {
    prompt: String,
    top20: Vec<(u32, f32)>,
}

/// A divergence from the reference is tolerated only right after a step
/// where its top-2 logits were this close (a near tie that rounding flips):
/// the bar. The fixtures come from llama.cpp on x86-64, and there
/// every kernel of ours sums in the order of the ggml kernel llama.cpp picks
/// for the same matrix and batch size (vec_dot, the repacked Q4_K GEMV/GEMM,
/// the tiled Q6_K GEMM, tinyBLAS attention), so the logits are bit-identical
/// and no divergence happens at all.
#[cfg(target_arch = "x86_64")]
const NEAR_TIE: f32 = 0.01;
/// Largest difference allowed between our logit and the reference's for the
/// reference's top-20 tokens (0.0000 measured on x86-64).
#[cfg(target_arch = "x86_64")]
const LOGIT_TOL: f32 = 0.01;
/// On other CPUs our kernels sum in other orders (NEON lanes; ggml's x86
/// orders are not mirrored there, and llama.cpp's own aarch64 logits differ
/// from its x86 ones too), so the x86 fixtures hold only to rounding:
/// SmolLM2 under qemu-aarch64 is 0.274 off on its first prompt.
#[cfg(not(target_arch = "x86_64"))]
const NEAR_TIE: f32 = 0.26;
#[cfg(not(target_arch = "x86_64"))]
const LOGIT_TOL: f32 = 0.55;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> Fixture {
    let path = root()
        .join("tests/fixtures/golden")
        .join(format!("{}.json", name.replace(':', "-")));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("tests/fixtures/tokenizer-corpus.txt")).unwrap();
    text.split('\n')
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The model's blob, or `None` (with a note) when it is absent and allowed to be.
fn model_path(sha256: &str, name: &str) -> Option<PathBuf> {
    let store = edgellm_store::Store::open_default().expect("store location");
    let path = store.blob_path(sha256);
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("EDGELLM_REQUIRE_MODELS").is_ok_and(|v| v == "1") {
        panic!(
            "{name} is not in the store at {} (EDGELLM_REQUIRE_MODELS=1)",
            path.display()
        );
    }
    eprintln!("SKIPPED: {name} is not in the store at {}; run `edgellm run {name}` once or set EDGELLM_MODELS", path.display());
    None
}

fn full_tier() -> bool {
    std::env::var("EDGELLM_GOLDEN_TIER").is_ok_and(|v| v == "full")
}

fn check_model(name: &str) {
    let fx = fixture(name);
    let Some(path) = model_path(&fx.sha256, name) else {
        return;
    };
    let loaded = LoadedModel::load(&path).unwrap();
    let tok = &loaded.tokenizer;

    // (a) token ids
    let lines = corpus();
    assert_eq!(
        lines.len(),
        fx.tokens.corpus.len(),
        "corpus and fixture disagree on line count"
    );
    let mut mismatches = Vec::new();
    for (line, want) in lines.iter().zip(&fx.tokens.corpus) {
        let got = tok.encode(line, false, false).unwrap();
        if &got != want {
            mismatches.push(format!("{line:?}\n   ours {got:?}\n   ref  {want:?}"));
        }
    }
    for t in &fx.tokens.special {
        let got = tok.encode(&t.text, false, true).unwrap();
        if got != t.ids {
            mismatches.push(format!(
                "(special) {:?}\n   ours {got:?}\n   ref  {:?}",
                t.text, t.ids
            ));
        }
    }
    for t in &fx.tokens.with_bos {
        let got = tok.encode(&t.text, true, false).unwrap();
        if got != t.ids {
            mismatches.push(format!(
                "(bos) {:?}\n   ours {got:?}\n   ref  {:?}",
                t.text, t.ids
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{name}: {} tokenization mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );

    // (b) greedy continuations and (c) first-step logits
    let mut session = Session::new(Arc::clone(&loaded.model), 512, 2, 512).unwrap();
    for (g, top) in fx.greedy.iter().zip(&fx.logits) {
        assert_eq!(g.prompt, top.prompt);
        let ids = tok.encode(&g.prompt, true, true).unwrap();
        assert_eq!(
            ids, g.prompt_ids,
            "{name}: prompt tokenization of {:?}",
            g.prompt
        );
        session.clear();
        session.feed(&ids).unwrap();

        let logits = session.logits();
        let worst = top
            .top20
            .iter()
            .map(|&(id, want)| (id, want, logits[id as usize]))
            .max_by(|a, b| (a.1 - a.2).abs().total_cmp(&(b.1 - b.2).abs()))
            .unwrap();
        eprintln!(
            "{name}: {:?}: worst top-20 logit deviation {:.4} (token {})",
            g.prompt,
            (worst.1 - worst.2).abs(),
            worst.0
        );
        assert!(
            (worst.1 - worst.2).abs() <= LOGIT_TOL,
            "{name}: {:?}: logit of token {} is {} (reference {}), off by more than {LOGIT_TOL}",
            g.prompt,
            worst.0,
            worst.2,
            worst.1
        );

        let mut ours = Vec::new();
        for (step, &want) in g.tokens.iter().enumerate() {
            let next = edgellm_kernels::ops::argmax(session.logits()) as u32;
            ours.push(next);
            if next != want {
                let gap = g.top2_gap[step];
                assert!(
                    gap < NEAR_TIE,
                    "{name}: {:?}: greedy token {step} is {next}, reference {want} (reference top-2 gap {gap} ≥ {NEAR_TIE})\n ours {:?}\n ref  {:?}",
                    g.prompt,
                    ours,
                    &g.tokens[..=step]
                );
                eprintln!(
                    "NOTE {name}: {:?}: diverged at step {step} after a near tie (reference top-2 gap {gap} < {NEAR_TIE}); the rest is not compared",
                    g.prompt
                );
                break;
            }
            if step + 1 < g.tokens.len() {
                session.decode_step(next).unwrap();
            }
        }
    }
}

#[test]
fn golden_smollm2_135m() {
    check_model("smollm2:135m");
}

#[test]
fn golden_gemma3_270m() {
    check_model("gemma3:270m");
}

#[test]
fn golden_qwen25_coder_05b() {
    if full_tier() {
        check_model("qwen2.5-coder:0.5b");
    } else {
        eprintln!("SKIPPED: qwen2.5-coder:0.5b golden runs with EDGELLM_GOLDEN_TIER=full");
    }
}

#[test]
fn golden_qwen25_coder_15b() {
    if full_tier() {
        check_model("qwen2.5-coder:1.5b");
    } else {
        eprintln!("SKIPPED: qwen2.5-coder:1.5b golden runs with EDGELLM_GOLDEN_TIER=full");
    }
}
