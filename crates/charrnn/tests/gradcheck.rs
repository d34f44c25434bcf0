//! Analytic gradients (f32 BPTT) against central finite differences of an
//! independent f64 implementation of the Keras GRU (`reset_after=True`),
//! for every parameter of a tiny model: vocab 7, embed 5, units 6, seq 4,
//! batch 2.

use edgellm_charrnn::model::Dims;
use edgellm_charrnn::rng::Rng;
use edgellm_charrnn::{TrainConfig, Trainer};

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Mean cross-entropy of `chunks`, straight from the Keras formulas.
fn ref_loss(d: &Dims, p: &[f64], chunks: &[Vec<u32>]) -> f64 {
    let t = d.tensors();
    let (v, e, h) = (d.vocab, d.embed, d.units);
    let emb = &p[t[0].range.clone()];
    let w = &p[t[1].range.clone()]; // (e, 3h)
    let u = &p[t[2].range.clone()]; // (h, 3h)
    let bias = &p[t[3].range.clone()]; // (2, 3h)
    let wd = &p[t[4].range.clone()]; // (h, v)
    let bd = &p[t[5].range.clone()];
    let mut total = 0.0;
    let mut count = 0;
    for c in chunks {
        let mut hs = vec![0.0; h];
        for step in 0..c.len() - 1 {
            let x = &emb[c[step] as usize * e..][..e];
            let xw = |j: usize| (0..e).map(|k| x[k] * w[k * 3 * h + j]).sum::<f64>() + bias[j];
            let hu =
                |j: usize| (0..h).map(|k| hs[k] * u[k * 3 * h + j]).sum::<f64>() + bias[3 * h + j];
            let mut new = vec![0.0; h];
            for j in 0..h {
                let z = sigmoid(xw(j) + hu(j));
                let r = sigmoid(xw(h + j) + hu(h + j));
                let hh = (xw(2 * h + j) + r * hu(2 * h + j)).tanh();
                new[j] = z * hs[j] + (1.0 - z) * hh;
            }
            hs = new;
            let logits: Vec<f64> = (0..v)
                .map(|j| (0..h).map(|k| hs[k] * wd[k * v + j]).sum::<f64>() + bd[j])
                .collect();
            let mx = logits.iter().cloned().fold(f64::MIN, f64::max);
            let lse = mx + logits.iter().map(|l| (l - mx).exp()).sum::<f64>().ln();
            total += lse - logits[c[step + 1] as usize];
            count += 1;
        }
    }
    total / count as f64
}

#[test]
fn gru_embedding_and_dense_gradients_match_finite_differences() {
    // Six distinct characters + unknown = vocabulary 7.
    let corpus = "abcdef".repeat(10);
    let cfg = TrainConfig {
        seq_len: 4,
        batch: 2,
        embed: 5,
        units: 6,
        val_fraction: 0.0,
        ..TrainConfig::default()
    };
    let mut tr = Trainer::new(&corpus, cfg, 2).unwrap();
    let dims = tr.model().dims;
    assert_eq!((dims.vocab, dims.embed, dims.units), (7, 5, 6));
    // Larger-than-init weights so every gate is exercised away from zero.
    let mut rng = Rng::new(42);
    for x in tr.model_mut().params.iter_mut() {
        *x = rng.uniform(-0.8, 0.8);
    }
    // Inputs include the unknown id 0 (its embedding row gets a gradient too).
    let chunks: Vec<Vec<u32>> = vec![vec![1, 0, 6, 3, 2], vec![5, 5, 2, 0, 4]];
    let refs: Vec<&[u32]> = chunks.iter().map(|c| c.as_slice()).collect();
    let params64: Vec<f64> = tr.model().params.iter().map(|&x| x as f64).collect();
    let (loss, grads) = tr.loss_and_grads(&refs);
    let grads = grads.to_vec();

    let loss_ref = ref_loss(&dims, &params64, &chunks);
    assert!(
        (loss - loss_ref).abs() < 1e-5,
        "forward differs: {loss} vs {loss_ref}"
    );

    let eps = 1e-5;
    let mut worst = (0.0f64, String::new());
    for spec in dims.tensors() {
        for i in spec.range.clone() {
            let mut p = params64.clone();
            p[i] += eps;
            let lp = ref_loss(&dims, &p, &chunks);
            p[i] -= 2.0 * eps;
            let lm = ref_loss(&dims, &p, &chunks);
            let fd = (lp - lm) / (2.0 * eps);
            let g = grads[i] as f64;
            let err = (g - fd).abs() / (1e-3 + fd.abs().max(g.abs()));
            if err > worst.0 {
                worst = (
                    err,
                    format!("{}[{}]: {g} vs {fd}", spec.name, i - spec.range.start),
                );
            }
            assert!(
                (g - fd).abs() <= 2e-5 + 1e-3 * fd.abs(),
                "{}[{}]: analytic {g} vs numeric {fd}",
                spec.name,
                i - spec.range.start
            );
        }
    }
    eprintln!("worst relative error {:.2e} at {}", worst.0, worst.1);
    // Every tensor received a non-trivial gradient.
    for spec in dims.tensors() {
        let norm: f32 = grads[spec.range.clone()].iter().map(|g| g * g).sum();
        assert!(norm > 1e-8, "{} has a zero gradient", spec.name);
    }
}
