//! Forward-pass invariants on synthetic models.

use edgellm_gguf::GgufFile;
use edgellm_kernels::pool::ThreadPool;
use edgellm_kv::{KvCache, KvLayout};
use edgellm_model::testutil::TinyLlama;
use edgellm_model::{from_gguf, Logits, Model, ModelError, RunState};
use std::sync::Arc;

fn model(t: TinyLlama) -> Model {
    from_gguf(Arc::new(GgufFile::from_bytes(t.to_gguf()).unwrap())).unwrap()
}

fn cache(m: &Model, n_ctx: usize, chunk: usize) -> KvCache {
    KvCache::new(
        KvLayout {
            n_layers: m.hp.n_layer,
            kv_dim: m.hp.kv_dim(),
            chunk_tokens: chunk,
        },
        n_ctx,
    )
    .unwrap()
}

const TOKENS: [u32; 40] = [
    1, 5, 9, 33, 2, 71, 8, 8, 19, 95, 4, 0, 60, 61, 62, 7, 3, 3, 40, 41, 12, 13, 14, 88, 87, 86,
    20, 21, 22, 23, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59,
];

/// Prefill in one batch, in small batches, and token by token, with any
/// thread count and chunk size, gives the same logits: batching, threading
/// and KV chunking must not change the math.
#[test]
fn batch_sizes_threads_and_chunks_agree() {
    for ty in [
        edgellm_kernels::quant::QuantType::Q8_0,
        edgellm_kernels::quant::QuantType::Q4_0,
    ] {
        let m = model(TinyLlama {
            ty,
            ..Default::default()
        });
        let mut reference: Option<Vec<f32>> = None;
        for (threads, max_batch, chunk) in
            [(1, 64, 32), (2, 64, 32), (3, 7, 4), (1, 1, 16), (2, 40, 1)]
        {
            let pool = ThreadPool::new(threads);
            let mut st = RunState::new(&m, max_batch, 128, threads, 1);
            let mut kv = cache(&m, 128, chunk);
            let mut last = Vec::new();
            if max_batch == 1 {
                for &t in &TOKENS {
                    last = m
                        .forward(&pool, &mut st, &mut kv, &[t], Logits::Last)
                        .unwrap()
                        .to_vec();
                }
            } else {
                last = m
                    .forward(&pool, &mut st, &mut kv, &TOKENS, Logits::Last)
                    .unwrap()
                    .to_vec();
            }
            assert_eq!(kv.len(), TOKENS.len());
            match &reference {
                None => reference = Some(last),
                Some(r) => {
                    for (a, b) in r.iter().zip(&last) {
                        assert!(
                            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
                            "{ty:?} threads={threads} batch={max_batch} chunk={chunk}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }
}

/// Logits::All returns, for every position, what Logits::Last returns when
/// the input stops there.
#[test]
fn all_logits_match_prefix_runs() {
    let m = model(TinyLlama::default());
    let pool = ThreadPool::new(2);
    let n = 12;
    let mut st = RunState::new(&m, 64, 64, 2, n);
    let mut kv = cache(&m, 64, 32);
    let all = m
        .forward(&pool, &mut st, &mut kv, &TOKENS[..n], Logits::All)
        .unwrap()
        .to_vec();
    let nv = m.hp.n_vocab;
    for i in [0, 5, n - 1] {
        let mut st1 = RunState::new(&m, 64, 64, 2, 1);
        let mut kv1 = cache(&m, 64, 32);
        let last = m
            .forward(&pool, &mut st1, &mut kv1, &TOKENS[..=i], Logits::Last)
            .unwrap();
        for (a, b) in all[i * nv..(i + 1) * nv].iter().zip(last) {
            assert!(
                (a - b).abs() <= 1e-4 * a.abs().max(1.0),
                "position {i}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn full_context_and_bad_tokens_are_errors_that_change_nothing() {
    let m = model(TinyLlama::default());
    let pool = ThreadPool::new(1);
    let mut st = RunState::new(&m, 16, 8, 1, 1);
    let mut kv = cache(&m, 8, 4);
    m.forward(&pool, &mut st, &mut kv, &TOKENS[..6], Logits::Last)
        .unwrap();
    let e = m
        .forward(&pool, &mut st, &mut kv, &TOKENS[..3], Logits::Last)
        .unwrap_err();
    assert!(
        matches!(
            e,
            ModelError::ContextFull {
                needed: 9,
                capacity: 8
            }
        ),
        "{e}"
    );
    assert_eq!(kv.len(), 6, "a rejected batch leaves the cache as it was");
    let e = m
        .forward(&pool, &mut st, &mut kv, &[1000], Logits::Last)
        .unwrap_err();
    assert!(e.to_string().contains("1000"), "{e}");
    assert!(matches!(
        m.forward(&pool, &mut st, &mut kv, &[], Logits::Last),
        Err(ModelError::EmptyInput)
    ));
    assert_eq!(kv.len(), 6);
}

#[test]
fn missing_tensor_and_bad_shapes_are_named() {
    use edgellm_gguf::GgufWriter;
    let f = GgufFile::from_bytes(TinyLlama::default().to_gguf()).unwrap();
    // Drop one tensor.
    let mut w = GgufWriter::from_gguf(&f);
    w.remove_tensor("blk.1.ffn_up.weight");
    let e = from_gguf(Arc::new(
        GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap(),
    ))
    .err()
    .unwrap();
    assert!(e.to_string().contains("blk.1.ffn_up.weight"), "{e}");
    // An unknown architecture.
    let mut w = GgufWriter::from_gguf(&f);
    w.set_kv("general.architecture", edgellm_gguf::Value::from("mamba9"));
    let e = from_gguf(Arc::new(
        GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap(),
    ))
    .err()
    .unwrap();
    assert!(e.to_string().contains("mamba9"), "{e}");
    // Head counts that do not divide.
    let mut w = GgufWriter::from_gguf(&f);
    w.set_kv("llama.attention.head_count_kv", edgellm_gguf::Value::U32(3));
    let e = from_gguf(Arc::new(
        GgufFile::from_bytes(w.to_bytes().unwrap()).unwrap(),
    ))
    .err()
    .unwrap();
    assert!(e.to_string().contains("head_count"), "{e}");
}

/// Continuous batching: three sequences advanced together in mixed batches
/// (one prefilling while others decode, interleaved items) give each the
/// same logits as running it alone.
#[test]
fn multi_sequence_batches_match_single_sequence_runs() {
    use edgellm_model::BatchToken;
    let m = model(TinyLlama {
        ty: edgellm_kernels::quant::QuantType::Q4_0,
        ..Default::default()
    });
    let pool = ThreadPool::new(2);
    let seqs: [&[u32]; 3] = [&TOKENS[..12], &TOKENS[5..30], &TOKENS[20..27]];
    let nv = m.hp.n_vocab;

    // Alone: logits after every token.
    let alone: Vec<Vec<Vec<f32>>> = seqs
        .iter()
        .map(|s| {
            let mut st = RunState::new(&m, 64, 128, 2, 64);
            let mut kv = cache(&m, 128, 8);
            let all = m.forward(&pool, &mut st, &mut kv, s, Logits::All).unwrap();
            all.chunks(nv).map(<[f32]>::to_vec).collect()
        })
        .collect();

    // Together: each step feeds sequence 0 one token, sequence 1 up to three
    // tokens (chunked prefill), sequence 2 one token, items interleaved.
    let mut st = RunState::new(&m, 16, 128, 2, 16);
    let mut kvs = [cache(&m, 128, 8), cache(&m, 128, 8), cache(&m, 128, 8)];
    let mut fed = [0usize; 3];
    let per_step = [1usize, 3, 1];
    let mut checked = 0;
    while fed.iter().zip(&seqs).any(|(f, s)| *f < s.len()) {
        let mut items = Vec::new();
        let mut want = Vec::new();
        for round in 0..3 {
            for s in 0..3 {
                if round < per_step[s] && fed[s] < seqs[s].len() {
                    let kv_len = fed[s];
                    items.push(BatchToken {
                        token: seqs[s][fed[s]],
                        seq: s,
                        pos: kv_len,
                        logits: true,
                        prefill: true,
                    });
                    want.push((s, fed[s]));
                    fed[s] += 1;
                }
            }
        }
        // Positions must count from the cache length, so rewrite them.
        let lens = [kvs[0].len(), kvs[1].len(), kvs[2].len()];
        let mut seen = [0usize; 3];
        for it in &mut items {
            it.pos = lens[it.seq] + seen[it.seq];
            seen[it.seq] += 1;
        }
        let out = m.forward_multi(&pool, &mut st, &mut kvs, &items).unwrap();
        for (row, &(s, i)) in out.chunks(nv).zip(&want) {
            assert_eq!(row, &alone[s][i][..], "sequence {s} token {i}");
            checked += 1;
        }
    }
    assert_eq!(checked, 12 + 25 + 7);
    assert_eq!((kvs[0].len(), kvs[1].len(), kvs[2].len()), (12, 25, 7));

    // A position that does not follow the cache is refused, nothing written.
    let bad = [BatchToken {
        token: 1,
        seq: 0,
        pos: 3,
        logits: true,
        prefill: true,
    }];
    let err = m.forward_multi(&pool, &mut st, &mut kvs, &bad).unwrap_err();
    assert!(err.to_string().contains("position 3"), "{err}");
    assert_eq!(kvs[0].len(), 12);
}
