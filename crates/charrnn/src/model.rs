//! The model: Embedding(vocab → embed) → GRU(units) → Dense(vocab), its
//! parameter layout (Keras names and shapes), initialisation and summary.

use crate::data::Vocab;
use crate::rng::Rng;
use crate::Error;

/// Upper bound on the embedding width and GRU units: far above any shape
/// this writer trains on a CPU, low enough that `units² · 3` cannot overflow.
pub const MAX_WIDTH: usize = 16_384;

/// Layer widths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    /// Characters including the unknown id 0.
    pub vocab: usize,
    pub embed: usize,
    pub units: usize,
}

impl Dims {
    /// Checks every width against its limit.
    pub fn validated(self) -> Result<Dims, Error> {
        if self.vocab < 2 || self.vocab > crate::data::MAX_VOCAB {
            return Err(Error::Config(format!(
                "vocabulary of {} (must be 2..={})",
                self.vocab,
                crate::data::MAX_VOCAB
            )));
        }
        for (name, v) in [("embed", self.embed), ("units", self.units)] {
            if v == 0 || v > MAX_WIDTH {
                return Err(Error::Config(format!(
                    "{name} = {v} (must be 1..={MAX_WIDTH})"
                )));
            }
        }
        Ok(self)
    }

    /// Every tensor: Keras-style name, shape, and its range in the flat
    /// parameter vector. Keras GRU layout with `reset_after=True`: kernel
    /// `(embed, 3·units)` and recurrent kernel `(units, 3·units)` with gate
    /// columns in the order `[z | r | h]`, bias `(2, 3·units)` = input bias
    /// row then recurrent bias row.
    pub fn tensors(&self) -> [TensorSpec; 6] {
        let (v, e, h) = (self.vocab, self.embed, self.units);
        let shapes: [(&'static str, Vec<usize>); 6] = [
            ("embedding.embeddings", vec![v, e]),
            ("gru.kernel", vec![e, 3 * h]),
            ("gru.recurrent_kernel", vec![h, 3 * h]),
            ("gru.bias", vec![2, 3 * h]),
            ("dense.kernel", vec![h, v]),
            ("dense.bias", vec![v]),
        ];
        let mut off = 0;
        shapes.map(|(name, shape)| {
            let len: usize = shape.iter().product();
            let spec = TensorSpec {
                name,
                shape,
                range: off..off + len,
            };
            off += len;
            spec
        })
    }

    /// Total trainable parameters.
    pub fn n_params(&self) -> usize {
        self.tensors()[5].range.end
    }

    /// `(layer, output shape, params)` rows like Keras' `model.summary()`,
    /// for a batch of `batch` sequences of `seq_len` characters (None = any).
    pub fn summary(&self, batch: Option<usize>, seq_len: Option<usize>) -> Vec<LayerRow> {
        let t = self.tensors();
        let dim = |d: Option<usize>| d.map_or("None".to_string(), |x| x.to_string());
        let shape = |w: usize| format!("({}, {}, {})", dim(batch), dim(seq_len), w);
        vec![
            LayerRow {
                layer: "embedding (Embedding)".into(),
                output_shape: shape(self.embed),
                n_params: t[0].range.len(),
            },
            LayerRow {
                layer: "gru (GRU)".into(),
                output_shape: shape(self.units),
                n_params: t[1].range.len() + t[2].range.len() + t[3].range.len(),
            },
            LayerRow {
                layer: "dense (Dense)".into(),
                output_shape: shape(self.vocab),
                n_params: t[4].range.len() + t[5].range.len(),
            },
        ]
    }
}

/// One tensor of the model.
#[derive(Clone, Debug)]
pub struct TensorSpec {
    pub name: &'static str,
    pub shape: Vec<usize>,
    pub range: std::ops::Range<usize>,
}

/// One row of [`Dims::summary`].
#[derive(Clone, Debug)]
pub struct LayerRow {
    pub layer: String,
    pub output_shape: String,
    pub n_params: usize,
}

/// Renders summary rows as a Keras-like table with totals.
pub fn format_summary(rows: &[LayerRow]) -> String {
    let w0 = rows
        .iter()
        .map(|r| r.layer.len())
        .max()
        .unwrap_or(0)
        .max(12)
        + 2;
    let w1 = rows
        .iter()
        .map(|r| r.output_shape.len())
        .max()
        .unwrap_or(0)
        .max(12)
        + 2;
    let total: usize = rows.iter().map(|r| r.n_params).sum();
    let line = |c: char| c.to_string().repeat(w0 + w1 + 12);
    let mut s = String::new();
    s += &format!("{}\n", line('─'));
    s += &format!(
        "{:<w0$}{:<w1$}{:>12}\n",
        "Layer (type)", "Output Shape", "Param #"
    );
    s += &format!("{}\n", line('═'));
    for r in rows {
        s += &format!(
            "{:<w0$}{:<w1$}{:>12}\n",
            r.layer,
            r.output_shape,
            group_digits(r.n_params)
        );
    }
    s += &format!("{}\n", line('═'));
    s += &format!("Total params: {}\n", group_digits(total));
    s += &format!("Trainable params: {}\n", group_digits(total));
    s += "Non-trainable params: 0\n";
    s += &format!("{}\n", line('─'));
    s
}

/// `4088181` → `"4,088,181"`.
pub fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// A model: vocabulary, widths and the flat parameter vector (tensors in
/// the order of [`Dims::tensors`], each row-major).
#[derive(Clone, Debug)]
pub struct Model {
    pub vocab: Vocab,
    pub dims: Dims,
    pub params: Vec<f32>,
}

impl Model {
    /// Keras' default initialisation: embeddings U(−0.05, 0.05), kernels
    /// Glorot-uniform, recurrent kernel orthogonal, biases zero.
    pub fn new(vocab: Vocab, embed: usize, units: usize, seed: u64) -> Result<Model, Error> {
        let dims = Dims {
            vocab: vocab.len(),
            embed,
            units,
        }
        .validated()?;
        let mut params = vec![0f32; dims.n_params()];
        let mut rng = Rng::new(seed);
        let t = dims.tensors();
        for x in &mut params[t[0].range.clone()] {
            *x = rng.uniform(-0.05, 0.05);
        }
        glorot_uniform(&mut params[t[1].range.clone()], embed, 3 * units, &mut rng);
        orthogonal(&mut params[t[2].range.clone()], units, 3 * units, &mut rng);
        glorot_uniform(&mut params[t[4].range.clone()], units, dims.vocab, &mut rng);
        Ok(Model {
            vocab,
            dims,
            params,
        })
    }

    /// The slice of one tensor (index into [`Dims::tensors`]).
    pub fn tensor(&self, i: usize) -> &[f32] {
        &self.params[self.dims.tensors()[i].range.clone()]
    }

    pub fn n_params(&self) -> usize {
        self.dims.n_params()
    }
}

fn glorot_uniform(w: &mut [f32], fan_in: usize, fan_out: usize, rng: &mut Rng) {
    let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
    for x in w {
        *x = rng.uniform(-limit, limit);
    }
}

/// A `rows × cols` matrix with orthonormal rows (or columns when
/// `rows > cols`): Gram–Schmidt on Gaussian vectors, like Keras'
/// `Orthogonal` initializer (gain 1).
fn orthogonal(w: &mut [f32], rows: usize, cols: usize, rng: &mut Rng) {
    // Orthonormalise the `n_vec` vectors of length `len` of the shorter side.
    let (n_vec, len) = if rows <= cols {
        (rows, cols)
    } else {
        (cols, rows)
    };
    let mut q: Vec<f64> = (0..n_vec * len).map(|_| rng.normal()).collect();
    for i in 0..n_vec {
        let (done, rest) = q.split_at_mut(i * len);
        let v = &mut rest[..len];
        // Modified Gram–Schmidt in f64: Gaussian vectors are well
        // conditioned, so one pass is orthogonal far below f32 precision.
        for u in done.chunks_exact(len) {
            let d: f64 = u.iter().zip(v.iter()).map(|(a, b)| a * b).sum();
            for (x, &ui) in v.iter_mut().zip(u) {
                *x -= d * ui;
            }
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-30);
        for x in v.iter_mut() {
            *x /= norm;
        }
    }
    for r in 0..rows {
        for c in 0..cols {
            let val = if rows <= cols {
                q[r * len + c]
            } else {
                q[c * len + r]
            };
            w[r * cols + c] = val as f32;
        }
    }
}
