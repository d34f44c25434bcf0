//! f32 vector ops used by the transformer blocks.
//!
//! The formulas follow ggml's CPU ops so that results stay close to
//! llama.cpp's (e.g. RoPE angles built by repeated multiplication in f32,
//! GELU with the tanh approximation). The two attention inner loops over the
//! f16 KV cache have AVX2/F16C and NEON variants with scalar twins.

use half::f16;
use std::sync::OnceLock;

/// `out = x / rms(x) * w`, with `rms(x) = sqrt(mean(x²) + eps)`.
pub fn rms_norm(x: &[f32], w: &[f32], eps: f32, out: &mut [f32]) {
    debug_assert_eq!(x.len(), w.len());
    debug_assert_eq!(x.len(), out.len());
    let scale = rms_scale(x, eps);
    for ((o, &xi), &wi) in out.iter_mut().zip(x).zip(w) {
        *o = xi * scale * wi;
    }
}

/// In-place [`rms_norm`].
pub fn rms_norm_inplace(x: &mut [f32], w: &[f32], eps: f32) {
    debug_assert_eq!(x.len(), w.len());
    let scale = rms_scale(x, eps);
    for (xi, &wi) in x.iter_mut().zip(w) {
        *xi = *xi * scale * wi;
    }
}

fn rms_scale(x: &[f32], eps: f32) -> f32 {
    // As ggml: squares in f32, summed in f64 (ggml_float). The output feeds
    // an 8-bit quantization, so matching its rounding keeps results on llama.cpp's.
    let sum: f64 = x.iter().map(|&v| (v * v) as f64).sum();
    let mean = (sum / x.len() as f64) as f32;
    1.0 / (mean + eps).sqrt()
}

/// `x += y`.
pub fn add_inplace(x: &mut [f32], y: &[f32]) {
    debug_assert_eq!(x.len(), y.len());
    for (a, &b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

/// `x *= s`.
pub fn scale_inplace(x: &mut [f32], s: f32) {
    for a in x {
        *a *= s;
    }
}

/// SiLU (x·σ(x)).
#[inline]
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// GELU, tanh approximation (ggml_gelu).
#[inline]
pub fn gelu(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const GELU_COEF_A: f32 = 0.044715;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (1.0 + GELU_COEF_A * x * x)).tanh())
}

/// SwiGLU: `gate = silu(gate) * up`.
pub fn swiglu_inplace(gate: &mut [f32], up: &[f32]) {
    debug_assert_eq!(gate.len(), up.len());
    for (g, &u) in gate.iter_mut().zip(up) {
        *g = silu(*g) * u;
    }
}

/// GELU of every f16 value, rounded to f16 (as bits): 128 KiB, built once.
fn gelu_f16_table() -> &'static [u16] {
    static TABLE: OnceLock<Box<[u16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        (0..=u16::MAX)
            .map(|bits| f16::from_f32(gelu(f16::from_bits(bits).to_f32())).to_bits())
            .collect()
    })
}

/// GeGLU: `gate = gelu(gate) * up`, evaluated as ggml's CPU backend does:
/// GELU of the input rounded to f16, the result rounded to f16 (a 64K-entry
/// table), with the tails x ≤ -10 → 0 and x ≥ 10 → x. The output feeds an
/// 8-bit quantization, so matching this rounding keeps our tokens on
/// llama.cpp's; the table is also several times faster than `tanh`.
pub fn geglu_inplace(gate: &mut [f32], up: &[f32]) {
    debug_assert_eq!(gate.len(), up.len());
    let table = gelu_f16_table();
    for (g, &u) in gate.iter_mut().zip(up) {
        let x = *g;
        *g = if x <= -10.0 {
            0.0
        } else if x >= 10.0 {
            x * u
        } else {
            f16::from_bits(table[f16::from_f32(x).to_bits() as usize]).to_f32() * u
        };
    }
}

/// Numerically stable softmax in place; returns the sum before normalising.
pub fn softmax_inplace(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f64;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v as f64;
    }
    let inv = (1.0 / sum) as f32;
    for v in x.iter_mut() {
        *v *= inv;
    }
}

/// Index of the largest value (first one on ties).
pub fn argmax(x: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in x.iter().enumerate() {
        if v > x[best] {
            best = i;
        }
    }
    best
}

/// How RoPE pairs the dimensions of a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs `(x[2i], x[2i+1])` (llama's GGUF layout).
    Normal,
    /// Halves `(x[i], x[i + n/2])` (GPT-NeoX, qwen2, gemma).
    Neox,
}

/// Precomputed rotary angles for one position: `cos`/`sin` for each pair.
/// Filled with ggml's recurrence `theta_i = pos·freq_scale·base^(-2i/n_dims)`
/// computed by repeated multiplication in f32.
pub fn rope_angles(
    pos: usize,
    n_dims: usize,
    freq_base: f32,
    freq_scale: f32,
    cos: &mut [f32],
    sin: &mut [f32],
) {
    let theta_scale = freq_base.powf(-2.0 / n_dims as f32);
    let mut theta = pos as f32 * freq_scale;
    for i in 0..n_dims / 2 {
        cos[i] = theta.cos();
        sin[i] = theta.sin();
        theta *= theta_scale;
    }
}

/// Rotates the first `2·cos.len()` dims of every head in `x` (heads of
/// `head_dim` values laid out one after another).
pub fn rope_apply(x: &mut [f32], head_dim: usize, style: RopeStyle, cos: &[f32], sin: &[f32]) {
    let n_pairs = cos.len();
    for head in x.chunks_exact_mut(head_dim) {
        match style {
            RopeStyle::Normal => {
                for i in 0..n_pairs {
                    let (a, b) = (head[2 * i], head[2 * i + 1]);
                    head[2 * i] = a * cos[i] - b * sin[i];
                    head[2 * i + 1] = a * sin[i] + b * cos[i];
                }
            }
            RopeStyle::Neox => {
                for i in 0..n_pairs {
                    let (a, b) = (head[i], head[i + n_pairs]);
                    head[i] = a * cos[i] - b * sin[i];
                    head[i + n_pairs] = a * sin[i] + b * cos[i];
                }
            }
        }
    }
}

/// Converts f32 to f16 (round to nearest even).
pub fn f32_to_f16(src: &[f32], dst: &mut [f16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f16::from_f32(s);
    }
}

type DotF16 = fn(&[f32], &[f16]) -> f32;
type AxpyF16 = fn(&mut [f32], f32, &[f16]);

struct AttnKernels {
    dot: DotF16,
    axpy: AxpyF16,
}

fn attn_kernels() -> &'static AttnKernels {
    static K: OnceLock<AttnKernels> = OnceLock::new();
    K.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && std::is_x86_feature_detected!("f16c")
        {
            return AttnKernels {
                dot: x86::dot_f32_f16_avx2_safe,
                axpy: x86::axpy_f16_avx2_safe,
            };
        }
        AttnKernels {
            dot: dot_f32_f16_ref,
            axpy: axpy_f16_ref,
        }
    })
}

/// `Σ q[i]·k[i]` with k in f16 (attention scores). Runtime-dispatched.
#[inline]
pub fn dot_f32_f16(q: &[f32], k: &[f16]) -> f32 {
    (attn_kernels().dot)(q, k)
}

/// `out[i] += a·v[i]` with v in f16 (attention values). Runtime-dispatched.
#[inline]
pub fn axpy_f16(out: &mut [f32], a: f32, v: &[f16]) {
    (attn_kernels().axpy)(out, a, v)
}

/// Scalar twin of [`dot_f32_f16`].
pub fn dot_f32_f16_ref(q: &[f32], k: &[f16]) -> f32 {
    assert_eq!(q.len(), k.len());
    q.iter().zip(k).map(|(&a, &b)| a * b.to_f32()).sum()
}

/// Scalar twin of [`axpy_f16`].
pub fn axpy_f16_ref(out: &mut [f32], a: f32, v: &[f16]) {
    assert_eq!(out.len(), v.len());
    for (o, &x) in out.iter_mut().zip(v) {
        *o += a * x.to_f32();
    }
}

/// `Σ a[i]·b[i]` in f32.
pub fn dot_f32(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    // Eight independent accumulators let the compiler vectorise.
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8;
    for c in 0..chunks {
        for l in 0..8 {
            acc[l] += a[c * 8 + l] * b[c * 8 + l];
        }
    }
    let mut s: f32 = acc.iter().sum();
    for i in chunks * 8..a.len() {
        s += a[i] * b[i];
    }
    s
}

#[cfg(target_arch = "x86_64")]
pub mod x86 {
    //! AVX2 + FMA + F16C attention loops.
    use half::f16;
    use std::arch::x86_64::*;

    pub(super) fn dot_f32_f16_avx2_safe(q: &[f32], k: &[f16]) -> f32 {
        // SAFETY: only installed by the dispatcher after detecting avx2, fma, f16c.
        unsafe { dot_f32_f16_avx2(q, k) }
    }

    pub(super) fn axpy_f16_avx2_safe(out: &mut [f32], a: f32, v: &[f16]) {
        // SAFETY: only installed by the dispatcher after detecting avx2, fma, f16c.
        unsafe { axpy_f16_avx2(out, a, v) }
    }

    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot_f32_f16_avx2(q: &[f32], k: &[f16]) -> f32 {
        assert_eq!(q.len(), k.len());
        let n = q.len();
        let mut acc0 = _mm256_setzero_ps();
        let mut acc1 = _mm256_setzero_ps();
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: i + 16 <= n bounds both loads; unaligned loads.
            unsafe {
                let k0 = _mm256_cvtph_ps(_mm_loadu_si128(k.as_ptr().add(i) as *const __m128i));
                let k1 = _mm256_cvtph_ps(_mm_loadu_si128(k.as_ptr().add(i + 8) as *const __m128i));
                acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i)), k0, acc0);
                acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i + 8)), k1, acc1);
            }
            i += 16;
        }
        let mut s = hsum(_mm256_add_ps(acc0, acc1));
        while i < n {
            s += q[i] * k[i].to_f32();
            i += 1;
        }
        s
    }

    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn axpy_f16_avx2(out: &mut [f32], a: f32, v: &[f16]) {
        assert_eq!(out.len(), v.len());
        let n = out.len();
        let va = _mm256_set1_ps(a);
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n bounds the loads and the store.
            unsafe {
                let x = _mm256_cvtph_ps(_mm_loadu_si128(v.as_ptr().add(i) as *const __m128i));
                let o = _mm256_loadu_ps(out.as_ptr().add(i));
                _mm256_storeu_ps(out.as_mut_ptr().add(i), _mm256_fmadd_ps(va, x, o));
            }
            i += 8;
        }
        while i < n {
            out[i] += a * v[i].to_f32();
            i += 1;
        }
    }

    #[target_feature(enable = "avx2,fma")]
    fn hsum(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps(v, 1);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rand_vec(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    const LENS: [usize; 15] = [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 63, 127, 255, 1023];

    #[test]
    fn attention_simd_matches_scalar() {
        for &n in &LENS {
            let q = rand_vec(n, n as u64);
            let k: Vec<f16> = rand_vec(n, n as u64 + 7)
                .iter()
                .map(|&v| f16::from_f32(v))
                .collect();
            let r = dot_f32_f16_ref(&q, &k);
            let s = dot_f32_f16(&q, &k);
            let bound = 1e-5
                * q.iter()
                    .zip(&k)
                    .map(|(a, b)| (a * b.to_f32()).abs())
                    .sum::<f32>()
                    .max(1e-6);
            assert!((r - s).abs() <= bound, "dot n={n}: {r} vs {s}");

            let mut o1 = rand_vec(n, 3);
            let mut o2 = o1.clone();
            axpy_f16_ref(&mut o1, 0.37, &k);
            axpy_f16(&mut o2, 0.37, &k);
            for (a, b) in o1.iter().zip(&o2) {
                assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "axpy n={n}");
            }
        }
    }

    #[test]
    fn rms_norm_has_unit_rms() {
        let x = rand_vec(576, 1);
        let w = vec![1.0; 576];
        let mut out = vec![0.0; 576];
        rms_norm(&x, &w, 1e-6, &mut out);
        let ms: f32 = out.iter().map(|v| v * v).sum::<f32>() / 576.0;
        assert!((ms - 1.0).abs() < 1e-4, "{ms}");
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut x = vec![1.0, 3.0, 2.0, -1000.0];
        softmax_inplace(&mut x);
        assert!((x.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(x[1] > x[2] && x[2] > x[0] && x[3] == 0.0);
    }

    #[test]
    fn rope_styles_rotate_the_right_pairs() {
        let mut cos = vec![0.0; 2];
        let mut sin = vec![0.0; 2];
        rope_angles(1, 4, 10000.0, 1.0, &mut cos, &mut sin);
        // theta_0 = 1 rad, theta_1 = 1/100 rad.
        assert!((cos[0] - 1f32.cos()).abs() < 1e-6 && (sin[1] - 0.01f32.sin()).abs() < 1e-6);
        let mut a = vec![1.0, 0.0, 1.0, 0.0];
        rope_apply(&mut a, 4, RopeStyle::Normal, &cos, &sin);
        assert!((a[0] - cos[0]).abs() < 1e-6 && (a[1] - sin[0]).abs() < 1e-6);
        let mut b = vec![1.0, 1.0, 0.0, 0.0];
        rope_apply(&mut b, 4, RopeStyle::Neox, &cos, &sin);
        assert!((b[0] - cos[0]).abs() < 1e-6 && (b[2] - sin[0]).abs() < 1e-6);
        assert!((b[1] - cos[1]).abs() < 1e-6 && (b[3] - sin[1]).abs() < 1e-6);
    }

    #[test]
    fn geglu_table_equals_direct_evaluation() {
        let xs = rand_vec(4096, 9)
            .iter()
            .map(|v| v * 12.0)
            .collect::<Vec<_>>();
        let up = rand_vec(4096, 10);
        let mut g = xs.clone();
        geglu_inplace(&mut g, &up);
        for ((&x, &u), &got) in xs.iter().zip(&up).zip(&g) {
            let want = if x <= -10.0 {
                0.0
            } else if x >= 10.0 {
                x * u
            } else {
                f16::from_f32(gelu(f16::from_f32(x).to_f32())).to_f32() * u
            };
            assert_eq!(got.to_bits(), want.to_bits(), "x={x}");
        }
    }

    #[test]
    fn gelu_and_silu_known_values() {
        assert!((silu(1.0) - 0.731_058_6).abs() < 1e-6);
        assert!((gelu(1.0) - 0.841_192).abs() < 1e-5);
        assert_eq!(gelu(0.0), 0.0);
    }
}
