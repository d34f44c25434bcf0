//! The sampler chain, with Ollama's options and order:
//! penalties → top-k → temperature → softmax → top-p → min-p → draw.
//! Temperature 0 is greedy (argmax after penalties). All buffers are sized
//! once per vocabulary, so sampling allocates nothing.

use crate::options::Options;

/// A small, fast, reproducible RNG (xoshiro256**), seeded by splitmix64,
/// so that the same seed gives the same output on every platform and
/// version of edgellm.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            x ^ (x >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Samples token ids from logits.
pub struct Sampler {
    rng: Rng,
    /// (logit or probability, token id)
    cand: Vec<(f32, u32)>,
    /// Occurrence counts for the penalty window (zero outside `sample`).
    counts: Vec<u32>,
}

impl Sampler {
    pub fn new(n_vocab: usize, seed: u64) -> Sampler {
        Sampler {
            rng: Rng::new(seed),
            cand: Vec::with_capacity(n_vocab),
            counts: vec![0; n_vocab],
        }
    }

    /// Restarts the random stream.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
    }

    /// Picks the next token given `logits` and the tokens so far (`history`,
    /// for the repeat/presence/frequency penalties).
    pub fn sample(&mut self, logits: &[f32], history: &[u32], o: &Options) -> u32 {
        self.cand.clear();
        self.cand
            .extend(logits.iter().enumerate().map(|(i, &l)| (l, i as u32)));
        self.apply_penalties(history, o);

        if o.temperature <= 0.0 {
            let mut best = self.cand[0];
            for &c in &self.cand[1..] {
                if c.0 > best.0 {
                    best = c;
                }
            }
            return best.1;
        }
        let desc = |a: &(f32, u32), b: &(f32, u32)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        // top-k
        if o.top_k > 0 && o.top_k < self.cand.len() {
            self.cand.select_nth_unstable_by(o.top_k - 1, desc);
            self.cand.truncate(o.top_k);
        }
        self.cand.sort_unstable_by(desc);
        // temperature + softmax
        let max = self.cand[0].0;
        let mut sum = 0.0f64;
        for c in self.cand.iter_mut() {
            c.0 = ((c.0 - max) / o.temperature).exp();
            sum += c.0 as f64;
        }
        for c in self.cand.iter_mut() {
            c.0 = (c.0 as f64 / sum) as f32;
        }
        // top-p: keep the smallest prefix whose mass reaches top_p
        if o.top_p < 1.0 {
            let mut acc = 0.0f32;
            let mut keep = self.cand.len();
            for (i, c) in self.cand.iter().enumerate() {
                acc += c.0;
                if acc >= o.top_p {
                    keep = i + 1;
                    break;
                }
            }
            self.cand.truncate(keep.max(1));
        }
        // min-p: drop tokens below min_p × the top probability
        if o.min_p > 0.0 {
            let floor = self.cand[0].0 * o.min_p;
            let keep = self.cand.iter().take_while(|c| c.0 >= floor).count();
            self.cand.truncate(keep.max(1));
        }
        // draw
        let total: f64 = self.cand.iter().map(|c| c.0 as f64).sum();
        let mut r = self.rng.next_f64() * total;
        for c in &self.cand {
            r -= c.0 as f64;
            if r < 0.0 {
                return c.1;
            }
        }
        self.cand[self.cand.len() - 1].1
    }

    fn apply_penalties(&mut self, history: &[u32], o: &Options) {
        let active =
            o.repeat_penalty != 1.0 || o.presence_penalty != 0.0 || o.frequency_penalty != 0.0;
        if !active || o.repeat_last_n == 0 || history.is_empty() {
            return;
        }
        let n = if o.repeat_last_n < 0 {
            history.len()
        } else {
            (o.repeat_last_n as usize).min(history.len())
        };
        let window = &history[history.len() - n..];
        for &t in window {
            if let Some(c) = self.counts.get_mut(t as usize) {
                *c += 1;
            }
        }
        // `cand` is still in token order here, so index by token id.
        for &t in window {
            let Some(count) = self.counts.get(t as usize).copied() else {
                continue;
            };
            if count == 0 {
                continue; // already applied for this token
            }
            let l = &mut self.cand[t as usize].0;
            *l = if *l > 0.0 {
                *l / o.repeat_penalty
            } else {
                *l * o.repeat_penalty
            };
            *l -= count as f32 * o.frequency_penalty + o.presence_penalty;
            self.counts[t as usize] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(f: impl FnOnce(&mut Options)) -> Options {
        let mut o = Options::default();
        f(&mut o);
        o
    }

    #[test]
    fn temperature_zero_is_argmax() {
        let mut s = Sampler::new(5, 1);
        let o = opts(|o| o.temperature = 0.0);
        assert_eq!(s.sample(&[0.1, 2.0, -1.0, 1.9, 0.0], &[], &o), 1);
    }

    #[test]
    fn repeat_penalty_can_flip_the_argmax() {
        let mut s = Sampler::new(3, 1);
        let o = opts(|o| {
            o.temperature = 0.0;
            o.repeat_penalty = 2.0;
        });
        // token 0 (logit 2.0) was seen: 2.0 / 2 = 1.0 < 1.5
        assert_eq!(s.sample(&[2.0, 1.5, 0.0], &[0, 0], &o), 1);
        // the counts buffer is clean afterwards: without history, 0 wins again
        assert_eq!(s.sample(&[2.0, 1.5, 0.0], &[], &o), 0);
        let o2 = opts(|o| {
            o.temperature = 0.0;
            o.frequency_penalty = 0.4;
        });
        // 2.0 - 2·0.4 = 1.2 < 1.5
        assert_eq!(s.sample(&[2.0, 1.5, 0.0], &[0, 0], &o2), 1);
    }

    #[test]
    fn same_seed_same_tokens_and_distribution_follows_probabilities() {
        let logits = [1.0f32, 0.0, 2.0, 0.5];
        let o = opts(|o| {
            o.temperature = 1.0;
            o.top_k = 0;
            o.top_p = 1.0;
        });
        let run = |seed| {
            let mut s = Sampler::new(4, seed);
            (0..2000)
                .map(|_| s.sample(&logits, &[], &o))
                .collect::<Vec<_>>()
        };
        let a = run(42);
        assert_eq!(a, run(42));
        assert_ne!(a, run(43));
        let z: f64 = logits.iter().map(|&l| (l as f64).exp()).sum();
        for (t, &l) in logits.iter().enumerate() {
            let freq = a.iter().filter(|&&x| x == t as u32).count() as f64 / a.len() as f64;
            let p = (l as f64).exp() / z;
            assert!((freq - p).abs() < 0.04, "token {t}: {freq} vs {p}");
        }
    }

    #[test]
    fn top_k_and_top_p_and_min_p_restrict_the_support() {
        let logits = [3.0f32, 2.9, 0.0, -1.0, -2.0];
        let mut s = Sampler::new(5, 7);
        let k2 = opts(|o| {
            o.temperature = 1.0;
            o.top_k = 2;
            o.top_p = 1.0;
        });
        let p_small = opts(|o| {
            o.temperature = 1.0;
            o.top_k = 0;
            o.top_p = 0.3;
        });
        let minp = opts(|o| {
            o.temperature = 1.0;
            o.top_k = 0;
            o.top_p = 1.0;
            o.min_p = 0.5;
        });
        for _ in 0..500 {
            assert!(s.sample(&logits, &[], &k2) < 2);
            assert_eq!(s.sample(&logits, &[], &p_small), 0);
            assert!(s.sample(&logits, &[], &minp) < 2);
        }
    }
}
