//! Checkpoints round-trip bit-exactly and resume exactly.

use edgellm_charrnn::checkpoint;
use edgellm_charrnn::{TrainConfig, Trainer};

fn corpus() -> String {
    // ~4 KB of varied text: 10 chunks of 33 → 4 steps per epoch at batch 2.
    let base = "O meu fim evidente era atar as duas pontas da vida, e restaurar na velhice a adolescência. ";
    base.repeat(4)
}

fn cfg() -> TrainConfig {
    TrainConfig {
        seq_len: 32,
        batch: 2,
        embed: 8,
        units: 16,
        lr: 1e-2,
        val_fraction: 0.2,
        seed: 9,
        ..TrainConfig::default()
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn checkpoint_round_trip_is_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.charrnn");
    let text = corpus();
    let mut tr = Trainer::new(&text, cfg(), 2).unwrap();
    for _ in 0..3 {
        tr.step();
    }
    tr.validate().unwrap();
    tr.save(&path).unwrap();
    let ck = checkpoint::load(&path).unwrap();
    assert_eq!(ck.model.vocab, tr.model().vocab);
    assert_eq!(ck.model.dims, tr.model().dims);
    assert_eq!(bits(&ck.model.params), bits(&tr.model().params));
    let t = ck.train.expect("training part");
    let (m, v) = tr.adam_moments();
    assert_eq!(bits(&t.adam_m), bits(m));
    assert_eq!(bits(&t.adam_v), bits(v));
    assert_eq!(&t.state, tr.state());
    assert_eq!(&t.config, tr.config());
    // Saving what was loaded gives the same bytes.
    let again = checkpoint::to_bytes(
        &ck.model,
        Some(checkpoint::TrainPartRef {
            config: &t.config,
            state: &t.state,
            adam_m: &t.adam_m,
            adam_v: &t.adam_v,
        }),
    );
    assert_eq!(again, std::fs::read(&path).unwrap());
    // A weights-only file loads for generation but cannot be resumed.
    let w = dir.path().join("w.charrnn");
    checkpoint::save(&w, tr.model(), None).unwrap();
    assert!(checkpoint::load(&w).unwrap().train.is_none());
    assert!(Trainer::resume(&w, &text, None, 1).is_err());
}

#[test]
fn resume_gives_bit_identical_weights_to_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.charrnn");
    let text = corpus();
    let n = 10; // crosses two epoch boundaries (4 steps per epoch)
    let mut straight = Trainer::new(&text, cfg(), 2).unwrap();
    assert_eq!(straight.steps_per_epoch(), 4);
    for _ in 0..n {
        straight.step();
    }
    let mut first = Trainer::new(&text, cfg(), 2).unwrap();
    for _ in 0..n / 2 {
        first.step();
    }
    first.save(&path).unwrap();
    drop(first);
    // A different thread count must not change anything either.
    let mut resumed = Trainer::resume(&path, &text, None, 1).unwrap();
    for _ in 0..n / 2 {
        resumed.step();
    }
    assert_eq!(
        bits(&resumed.model().params),
        bits(&straight.model().params)
    );
    assert_eq!(
        bits(resumed.adam_moments().0),
        bits(straight.adam_moments().0)
    );
    assert_eq!(
        bits(resumed.adam_moments().1),
        bits(straight.adam_moments().1)
    );
    assert_eq!(resumed.state(), straight.state());
}

#[test]
fn resume_refuses_a_different_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.charrnn");
    let text = corpus();
    let tr = Trainer::new(&text, cfg(), 1).unwrap();
    tr.save(&path).unwrap();
    let other = text.replace("vida", "VIDA");
    assert!(Trainer::resume(&path, &other, None, 1).is_err());
}

#[test]
fn corrupt_checkpoints_are_errors_not_panics() {
    let text = corpus();
    let tr = Trainer::new(&text, cfg(), 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.charrnn");
    tr.save(&path).unwrap();
    let good = std::fs::read(&path).unwrap();
    let mut cases: Vec<Vec<u8>> = vec![
        vec![],
        good[..7].to_vec(),
        good[..good.len() - 4].to_vec(),
        {
            let mut b = good.clone();
            b[..8].copy_from_slice(&u64::MAX.to_le_bytes());
            b
        },
    ];
    let s = String::from_utf8_lossy(&good).to_string();
    for (from, to) in [
        ("\"F32\"", "\"F16\""),
        ("\"units\":\"16\"", "\"units\":\"17\""),
    ] {
        cases.push(s.replacen(from, to, 1).into_bytes());
    }
    for (i, bytes) in cases.iter().enumerate() {
        assert!(checkpoint::from_bytes(bytes).is_err(), "case {i} accepted");
    }
}
