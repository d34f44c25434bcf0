//! Sampling text one character at a time.

use crate::data::UNK_ID;
use crate::gru::parts;
use crate::model::Model;
use crate::rng::Rng;

/// Streams characters from a model: feed a prompt, then each sampled
/// character is fed back (the TensorFlow tutorial's `OneStep`). The unknown
/// id is never sampled; prompt characters outside the vocabulary map to it.
/// With the same model, prompt, temperature and seed the text is the same.
pub struct Generator<'a> {
    model: &'a Model,
    temperature: f32,
    rng: Rng,
    h: Vec<f32>,      // (H) state
    xw: Vec<f32>,     // (3H) x·W
    hu: Vec<f32>,     // (3H) h·U
    logits: Vec<f32>, // (V)
    probs: Vec<f64>,  // (V)
}

impl<'a> Generator<'a> {
    /// Feeds `prompt` (an empty prompt starts from a newline, or the first
    /// character when the vocabulary has none). `temperature ≤ 0` means
    /// greedy (argmax) decoding.
    pub fn new(model: &'a Model, prompt: &str, temperature: f32, seed: u64) -> Generator<'a> {
        let (v, h) = (model.dims.vocab, model.dims.units);
        let mut g = Generator {
            model,
            temperature,
            rng: Rng::new(seed),
            h: vec![0.0; h],
            xw: vec![0.0; 3 * h],
            hu: vec![0.0; 3 * h],
            logits: vec![0.0; v],
            probs: vec![0.0; v],
        };
        let mut ids = model.vocab.encode(prompt);
        if ids.is_empty() {
            let nl = model.vocab.id('\n');
            ids.push(if nl != UNK_ID { nl } else { 1 });
        }
        for id in ids {
            g.feed(id);
        }
        g
    }

    /// Advances the state by one input id and computes the next logits.
    pub fn feed(&mut self, id: u32) {
        let d = self.model.dims;
        let (e, h, v) = (d.embed, d.units, d.vocab);
        let p = parts(&d, &self.model.params);
        let id = (id as usize).min(v - 1);
        vec_mat(&p.emb[id * e..(id + 1) * e], p.w, &mut self.xw);
        vec_mat(&self.h, p.u, &mut self.hu);
        let (b_in, b_rec) = p.bias.split_at(3 * h);
        for j in 0..h {
            let (xw, hu) = (&self.xw, &self.hu);
            let z = sigmoid(xw[j] + b_in[j] + hu[j] + b_rec[j]);
            let r = sigmoid(xw[h + j] + b_in[h + j] + hu[h + j] + b_rec[h + j]);
            let hh =
                (xw[2 * h + j] + b_in[2 * h + j] + r * (hu[2 * h + j] + b_rec[2 * h + j])).tanh();
            self.h[j] = z * self.h[j] + (1.0 - z) * hh;
        }
        vec_mat(&self.h, p.wd, &mut self.logits);
        for (l, &b) in self.logits.iter_mut().zip(p.bd) {
            *l += b;
        }
        debug_assert_eq!(self.logits.len(), v);
    }

    /// The logits for the next character.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Samples the next id (never the unknown id) and feeds it back.
    pub fn next_id(&mut self) -> u32 {
        let id = if self.temperature <= 0.0 {
            let mut best = 1;
            for (i, &l) in self.logits.iter().enumerate().skip(1) {
                if l > self.logits[best] {
                    best = i;
                }
            }
            best as u32
        } else {
            let inv_t = 1.0 / self.temperature as f64;
            let mx = self.logits[1..]
                .iter()
                .fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
            let mut sum = 0.0;
            self.probs[UNK_ID as usize] = 0.0;
            for (p, &l) in self.probs.iter_mut().zip(&self.logits).skip(1) {
                *p = ((l as f64 - mx) * inv_t).exp();
                sum += *p;
            }
            let mut u = self.rng.next_f64() * sum;
            let mut pick = self.probs.len() - 1;
            for (i, &p) in self.probs.iter().enumerate().skip(1) {
                if u < p {
                    pick = i;
                    break;
                }
                u -= p;
            }
            pick as u32
        };
        self.feed(id);
        id
    }

    /// Samples the next character.
    pub fn next_char(&mut self) -> char {
        let id = self.next_id();
        self.model
            .vocab
            .char_of(id)
            .expect("sampled ids are known characters")
    }
}

impl Iterator for Generator<'_> {
    type Item = char;

    /// Never ends: take as many characters as wanted.
    fn next(&mut self) -> Option<char> {
        Some(self.next_char())
    }
}

/// Samples `length` characters after `prompt` (the prompt not included).
pub fn generate(model: &Model, prompt: &str, length: usize, temperature: f32, seed: u64) -> String {
    Generator::new(model, prompt, temperature, seed)
        .take(length)
        .collect()
}

#[inline]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `out = x · w` for a row-major `(x.len(), out.len())` matrix.
fn vec_mat(x: &[f32], w: &[f32], out: &mut [f32]) {
    let n = out.len();
    out.fill(0.0);
    for (&xk, row) in x.iter().zip(w.chunks_exact(n)) {
        for (o, &wj) in out.iter_mut().zip(row) {
            *o += xk * wj;
        }
    }
}
