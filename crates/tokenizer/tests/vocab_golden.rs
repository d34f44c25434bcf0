//! Golden tests against llama.cpp's vocabulary fixtures: for each
//! `ggml-vocab-NAME.gguf` with `.inp` / `.out` next to it, every input must
//! tokenize (add_special = false, parse_special = false) to exactly the ids
//! llama.cpp's `test-tokenizer-0` expects.
//!
//! The fixtures live outside the repository: `$EDGELLM_VOCAB_DIR`, else
//! `/root/.cache/edgellm-ref/vocab`. Without them the test says so and passes.

use std::path::{Path, PathBuf};

use edgellm_gguf::GgufFile;
use edgellm_tokenizer::{spec_from_gguf, Tokenizer, TokenizerError};

fn vocab_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("EDGELLM_VOCAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/root/.cache/edgellm-ref/vocab"));
    dir.is_dir().then_some(dir)
}

/// (input, expected ids) pairs of one fixture, as test-tokenizer-0 reads them.
fn read_cases(gguf: &Path) -> Option<Vec<(String, Vec<u32>)>> {
    let inp = std::fs::read_to_string(format!("{}.inp", gguf.display())).ok()?;
    let out = std::fs::read_to_string(format!("{}.out", gguf.display())).ok()?;
    // llama.cpp's reader: a separator at the very end opens no further case
    let mut inputs: Vec<&str> = inp.split("\n__ggml_vocab_test__\n").collect();
    if inputs.last() == Some(&"") {
        inputs.pop();
    }
    let outputs: Vec<&str> = out.lines().collect();
    assert_eq!(
        inputs.len(),
        outputs.len(),
        "{}: .inp and .out disagree in length",
        gguf.display()
    );
    Some(
        inputs
            .into_iter()
            .zip(outputs)
            .map(|(i, o)| {
                let ids = o
                    .split_whitespace()
                    .map(|t| t.parse().expect("token id"))
                    .collect();
                (i.to_string(), ids)
            })
            .collect(),
    )
}

#[test]
fn llama_cpp_vocab_goldens() {
    let Some(dir) = vocab_dir() else {
        eprintln!("SKIP: no vocab fixtures (set EDGELLM_VOCAB_DIR or fill /root/.cache/edgellm-ref/vocab)");
        return;
    };
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("readable vocab dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "gguf"))
        .collect();
    entries.sort();
    let mut failures = Vec::new();
    let mut n_checked = 0;
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(cases) = read_cases(&path) else {
            eprintln!("{name}: no .inp/.out, skipped");
            continue;
        };
        let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let spec = spec_from_gguf(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        let model = spec.model.clone();
        let t0 = std::time::Instant::now();
        let tok = match Tokenizer::new(spec) {
            Ok(tok) => tok,
            Err(
                e @ (TokenizerError::UnsupportedModel(_)
                | TokenizerError::UnsupportedPreTokenizer(_)),
            ) => {
                eprintln!("{name}: unsupported here ({e}), skipped");
                continue;
            }
            Err(e) => panic!("{name}: {e}"),
        };
        let build = t0.elapsed();
        let mut n_bad = 0;
        for (text, expected) in &cases {
            let got = tok.encode(text, false, false).unwrap();
            if &got != expected {
                n_bad += 1;
                if n_bad <= 5 {
                    failures.push(format!(
                        "{name}: {text:?}\n   expected {expected:?}\n   got      {got:?}"
                    ));
                }
            }
            // byte-level vocabularies decode losslessly
            if model == "gpt2" {
                assert_eq!(&tok.decode(&got, false), text, "{name}: decode");
            }
        }
        // throughput on a long prompt made of all inputs (~16 KiB)
        let mut long = String::new();
        while long.len() < 16 * 1024 {
            for (text, _) in &cases {
                long.push_str(text);
                long.push('\n');
            }
        }
        let t0 = std::time::Instant::now();
        let n_long = tok.encode(&long, true, false).unwrap().len();
        let encode = t0.elapsed();
        n_checked += 1;
        eprintln!(
            "{name}: {}/{} cases match (n_vocab {}, built in {build:?}, {} bytes → {n_long} tokens in {encode:?})",
            cases.len() - n_bad,
            cases.len(),
            tok.n_vocab(),
            long.len(),
        );
        if n_bad > 5 {
            failures.push(format!("{name}: {} more failures", n_bad - 5));
        }
    }
    assert!(
        failures.is_empty(),
        "{} golden mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        n_checked > 0,
        "{}: no supported vocabulary with .inp/.out",
        dir.display()
    );
    eprintln!("{n_checked} vocabularies checked");
}
