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

/// GELU, tanh approximation (ggml_gelu), with `1 + a·x·x` fused as GCC
/// contracts it in ggml's build (`fma(a·x, x, 1)`).
#[inline]
pub fn gelu(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    const GELU_COEF_A: f32 = 0.044715;
    0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (GELU_COEF_A * x).mul_add(x, 1.0)).tanh())
}

/// SwiGLU: `gate = silu(gate) * up`, as ggml's CPU backend evaluates it:
/// [`silu_ggml`] on every full group of 16 values, libm `exp` on the rest.
/// Runtime-dispatched; bit-identical to [`swiglu_inplace_ref`].
pub fn swiglu_inplace(gate: &mut [f32], up: &[f32]) {
    (attn_kernels().swiglu)(gate, up)
}

/// Scalar twin of [`swiglu_inplace`].
pub fn swiglu_inplace_ref(gate: &mut [f32], up: &[f32]) {
    assert_eq!(gate.len(), up.len());
    let full = gate.len() - gate.len() % 16;
    for (i, (g, &u)) in gate.iter_mut().zip(up).enumerate() {
        *g = if i < full { silu_ggml(*g) } else { silu(*g) } * u;
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

/// Softmax of one row of attention scores, as ggml's `soft_max` op computes
/// it: `e^(x − max)` with [`expf_ggml`], summed in f64 per group of 16
/// cache positions (each group added in `_mm512_reduce_add_ps` order), then
/// scaled by the f32 reciprocal. `x[i]` is the score of position `start + i`;
/// groups are aligned to absolute positions, as in ggml's KV cache rows.
/// Runtime-dispatched; bit-identical to [`attn_softmax_ref`].
pub fn attn_softmax(x: &mut [f32], start: usize) {
    (attn_kernels().softmax)(x, start)
}

/// Scalar twin of [`attn_softmax`].
pub fn attn_softmax_ref(x: &mut [f32], start: usize) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for v in x.iter_mut() {
        *v = expf_ggml(*v - max);
    }
    softmax_normalise(x, start);
}

/// The f64 sum over 16-position groups and the final scaling of [`attn_softmax`].
fn softmax_normalise(x: &mut [f32], start: usize) {
    let mut sum = 0.0f64;
    let mut i = 0;
    while i < x.len() {
        let lane0 = (start + i) % 16;
        let take = (16 - lane0).min(x.len() - i);
        let mut lanes = [0f32; 16];
        lanes[lane0..lane0 + take].copy_from_slice(&x[i..i + take]);
        sum += reduce16(&lanes) as f64;
        i += take;
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
/// `head_dim` values laid out one after another). The products are fused as
/// GCC contracts ggml's `x0·cos − x1·sin` and `x0·sin + x1·cos`
/// (`fma(x0, cos, −(x1·sin))`, `fma(x0, sin, x1·cos)`), which keeps the
/// rotated values bit-identical to llama.cpp's.
pub fn rope_apply(x: &mut [f32], head_dim: usize, style: RopeStyle, cos: &[f32], sin: &[f32]) {
    let n_pairs = cos.len();
    for head in x.chunks_exact_mut(head_dim) {
        match style {
            RopeStyle::Normal => {
                for i in 0..n_pairs {
                    let (a, b) = (head[2 * i], head[2 * i + 1]);
                    head[2 * i] = a.mul_add(cos[i], -(b * sin[i]));
                    head[2 * i + 1] = a.mul_add(sin[i], b * cos[i]);
                }
            }
            RopeStyle::Neox => {
                for i in 0..n_pairs {
                    let (a, b) = (head[i], head[i + n_pairs]);
                    head[i] = a.mul_add(cos[i], -(b * sin[i]));
                    head[i + n_pairs] = a.mul_add(sin[i], b * cos[i]);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// ggml-exact numerics
//
// llama.cpp's CPU backend, built for this machine class (x86-64 with AVX-512),
// evaluates exp, the attention dot products and their reductions in a fixed
// order. The functions below reproduce that order exactly, so that our
// results are bit-identical to ggml's where the inputs are.
// ---------------------------------------------------------------------------

const EXP_SHIFT: f32 = f32::from_bits(0x4b40_0000); // 1.5·2^23: round-to-integer trick
const EXP_LOG2E: f32 = f32::from_bits(0x3fb8_aa3b); // ≈ 1/ln 2
const EXP_LN2_HI: f32 = f32::from_bits(0x3f31_7200); // ln 2, high part
const EXP_LN2_LO: f32 = f32::from_bits(0x35bf_be8e); // ln 2, low part
const EXP_C5: f32 = f32::from_bits(0x3c07_2010);
const EXP_C4: f32 = f32::from_bits(0x3d2b_9f17);
const EXP_C3: f32 = f32::from_bits(0x3e2a_af33);
const EXP_C2: f32 = f32::from_bits(0x3eff_fedb);
const EXP_C1: f32 = f32::from_bits(0x3f7f_fff6);

/// `j · 2^n` for an integral `n` with |n| ≤ 192, rounded once (as AVX-512's
/// `scalef`): the power of two is applied in at most two exact steps.
#[inline(always)]
fn exp_scale(j: f32, n: f32) -> f32 {
    let n = n as i32;
    let pow2 = |e: i32| f32::from_bits(((e + 127) as u32) << 23);
    if n < -126 {
        (j * pow2(n + 100)) * pow2(-100)
    } else if n > 127 {
        (j * pow2(n - 127)) * pow2(127)
    } else {
        j * pow2(n)
    }
}

/// `e^x` as ggml's vectorised `ggml_v_expf` computes it on AVX-512 (a
/// range reduction to `x = n·ln2 + b` and a degree-5 polynomial for `e^b`,
/// about 1.5 ulp), one lane at a time. The AVX2 version below gives
/// bit-identical results.
#[inline]
pub fn expf_ggml(x: f32) -> f32 {
    let z = x.mul_add(EXP_LOG2E, EXP_SHIFT);
    let n = z - EXP_SHIFT;
    let b = (-n).mul_add(EXP_LN2_LO, (-n).mul_add(EXP_LN2_HI, x));
    if n.abs() > 192.0 {
        return if n <= 0.0 { 0.0 } else { f32::INFINITY };
    }
    let u = b * b;
    let j = EXP_C5
        .mul_add(b, EXP_C4)
        .mul_add(u, EXP_C3.mul_add(b, EXP_C2))
        .mul_add(u, EXP_C1.mul_add(b, 1.0));
    exp_scale(j, n)
}

/// SiLU with [`expf_ggml`]: `x / (1 + e^(0 − x))`.
#[inline]
pub fn silu_ggml(x: f32) -> f32 {
    x / (1.0 + expf_ggml(0.0 - x))
}

/// The sum of 16 lanes in the order of GCC's `_mm512_reduce_add_ps`:
/// halves, then quarters, then `(0+2) + (1+3)`.
#[inline(always)]
fn reduce16(a: &[f32; 16]) -> f32 {
    let mut h = [0f32; 8];
    for i in 0..8 {
        h[i] = a[8 + i] + a[i];
    }
    let q = [h[4] + h[0], h[5] + h[1], h[6] + h[2], h[7] + h[3]];
    (q[0] + q[2]) + (q[1] + q[3])
}

/// Converts f32 to f16 (round to nearest even).
pub fn f32_to_f16(src: &[f32], dst: &mut [f16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = f16::from_f32(s);
    }
}

type DotF16 = fn(&[f32], &[f16]) -> f32;
type AxpyF16 = fn(&mut [f32], f32, &[f16]);
type Swiglu = fn(&mut [f32], &[f32]);
type Softmax = fn(&mut [f32], usize);
/// `(acc, width, modulus, first_slot, probs, rows)`: see [`vaccum_ref`].
type VAccum = fn(&mut [f32], usize, usize, usize, &[f32], &[*const f16]);
/// `(acc, width, modulus, out)`: see [`vreduce_ref`].
type VReduce = fn(&[f32], usize, usize, &mut [f32]);

struct AttnKernels {
    dot: DotF16,
    dot16: DotF16,
    axpy: AxpyF16,
    swiglu: Swiglu,
    softmax: Softmax,
    vaccum: VAccum,
    vreduce: VReduce,
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
                dot16: x86::dot16_f32_f16_avx2_safe,
                axpy: x86::axpy_f16_avx2_safe,
                swiglu: x86::swiglu_avx2_safe,
                softmax: x86::attn_softmax_avx2_safe,
                vaccum: x86::vaccum_avx2_safe,
                vreduce: x86::vreduce_avx2_safe,
            };
        }
        AttnKernels {
            dot: dot_f32_f16_ref,
            dot16: dot16_f32_f16_ref,
            axpy: axpy_f16_ref,
            swiglu: swiglu_inplace_ref,
            softmax: attn_softmax_ref,
            vaccum: vaccum_ref,
            vreduce: vreduce_ref,
        }
    })
}

/// `Σ q[i]·k[i]` with k in f16 (attention scores), summed as ggml's
/// `ggml_vec_dot_f16` on AVX-512: four accumulators of 16 lanes over
/// blocks of 64 (fused multiply-adds), reduced `(a0 + a2) + (a1 + a3)`, then
/// across lanes; the tail (`len % 64`) is added in f64. With `q` rounded to
/// f16 (as ggml does) every product is exact. Runtime-dispatched;
/// bit-identical to [`dot_f32_f16_ref`].
#[inline]
pub fn dot_f32_f16(q: &[f32], k: &[f16]) -> f32 {
    (attn_kernels().dot)(q, k)
}

/// [`dot_f32_f16`] in the order ggml uses for a batch of two or more
/// tokens, where the K·q product goes through llamafile's tinyBLAS (AVX-512:
/// one accumulator of 16 lanes, fused multiply-adds, `_mm512_reduce_add_ps`).
/// tinyBLAS needs a length that is a multiple of 16; other lengths fall back
/// to [`dot_f32_f16`], as ggml does. Runtime-dispatched; bit-identical to
/// [`dot16_f32_f16_ref`].
#[inline]
pub fn dot_f32_f16_batch(q: &[f32], k: &[f16]) -> f32 {
    if q.len().is_multiple_of(16) {
        (attn_kernels().dot16)(q, k)
    } else {
        dot_f32_f16(q, k)
    }
}

/// Scalar twin of [`dot_f32_f16_batch`] (lengths that are multiples of 16).
pub fn dot16_f32_f16_ref(q: &[f32], k: &[f16]) -> f32 {
    assert_eq!(q.len(), k.len());
    assert_eq!(q.len() % 16, 0);
    let mut acc = [0f32; 16];
    for i in (0..q.len()).step_by(16) {
        for (r, a) in acc.iter_mut().enumerate() {
            *a = q[i + r].mul_add(k[i + r].to_f32(), *a);
        }
    }
    reduce16(&acc)
}

/// [`attn_values`] in the order ggml uses for a batch of two or more tokens
/// (tinyBLAS, see [`dot_f32_f16_batch`]): position `p` goes to lane
/// `p mod 16` of a single accumulator. (ggml's cache rows are padded to 256
/// cells, so tinyBLAS always applies.)
pub fn attn_values_batch<'a>(
    out: &mut [f32],
    probs: &[f32],
    start: usize,
    v_row: impl Fn(usize) -> &'a [f16],
) {
    let k = attn_kernels();
    attn_values_with(k.vaccum, k.vreduce, 16, out, probs, start, v_row)
}

/// Scalar twin of [`attn_values_batch`].
pub fn attn_values_batch_ref<'a>(
    out: &mut [f32],
    probs: &[f32],
    start: usize,
    v_row: impl Fn(usize) -> &'a [f16],
) {
    attn_values_with(vaccum_ref, vreduce_ref, 16, out, probs, start, v_row)
}

/// `out[d] = Σ_i probs[i]·v_row(start + i)[d]`: the attention-weighted sum
/// of the values, as ggml computes it without flash attention (a
/// `ggml_vec_dot_f16` per output dimension over the cache positions, with
/// the probabilities in f16): position `p` goes to accumulator `p mod 64`,
/// the accumulators are reduced as in [`dot_f32_f16`]. `probs` should hold
/// f16-representable values (then every product is exact). `v_row(p)` is
/// the value row of position `p` (`out.len()` values). Allocation-free.
/// Runtime-dispatched; bit-identical to [`attn_values_ref`].
pub fn attn_values<'a>(
    out: &mut [f32],
    probs: &[f32],
    start: usize,
    v_row: impl Fn(usize) -> &'a [f16],
) {
    let k = attn_kernels();
    attn_values_with(k.vaccum, k.vreduce, 64, out, probs, start, v_row)
}

/// Scalar twin of [`attn_values`].
pub fn attn_values_ref<'a>(
    out: &mut [f32],
    probs: &[f32],
    start: usize,
    v_row: impl Fn(usize) -> &'a [f16],
) {
    attn_values_with(vaccum_ref, vreduce_ref, 64, out, probs, start, v_row)
}

/// Accumulator slots of the value product (ggml's 4 × 16 lanes).
const VALUE_SLOTS: usize = 64;
/// Output dimensions whose accumulators are held at once (the stack buffer
/// is `VALUE_SLOTS × VALUE_WIDTH` floats); wider heads go in column blocks.
const VALUE_WIDTH: usize = 256;
/// Cache positions whose row pointers are gathered per kernel call.
const VALUE_ROWS: usize = 64;

/// The weighted sum with position `p` accumulated in slot `p mod modulus`
/// (64: ggml's vec_dot_f16; 16: tinyBLAS), each slot summing its positions
/// in order, then the slots reduced per dimension by [`reduce64`] (slots
/// past `modulus` count as zeros). Each position's value row is read once
/// per block of [`VALUE_WIDTH`] dimensions.
fn attn_values_with<'a>(
    accum: VAccum,
    reduce: VReduce,
    modulus: usize,
    out: &mut [f32],
    probs: &[f32],
    start: usize,
    v_row: impl Fn(usize) -> &'a [f16],
) {
    debug_assert!(modulus == 16 || modulus == VALUE_SLOTS);
    let hd = out.len();
    let mut acc = [0f32; VALUE_SLOTS * VALUE_WIDTH];
    let mut rows = [core::ptr::null::<f16>(); VALUE_ROWS];
    for d0 in (0..hd).step_by(VALUE_WIDTH) {
        let width = (hd - d0).min(VALUE_WIDTH);
        let acc = &mut acc[..modulus * width];
        acc.fill(0.0);
        for i0 in (0..probs.len()).step_by(VALUE_ROWS) {
            let i1 = (i0 + VALUE_ROWS).min(probs.len());
            for (r, i) in rows.iter_mut().zip(i0..i1) {
                let row = v_row(start + i);
                assert_eq!(row.len(), hd, "value row length");
                *r = row[d0..].as_ptr();
            }
            accum(
                acc,
                width,
                modulus,
                (start + i0) % modulus,
                &probs[i0..i1],
                &rows[..i1 - i0],
            );
        }
        reduce(acc, width, modulus, &mut out[d0..d0 + width]);
    }
}

/// ggml's reduction of its 4×16 accumulators: `(a0 + a2) + (a1 + a3)` lane
/// by lane, then [`reduce16`]. `acc[16·j + l]` is accumulator `j`, lane `l`.
#[inline(always)]
fn reduce64(acc: &[f32; 64]) -> f32 {
    let mut t = [0f32; 16];
    for l in 0..16 {
        t[l] = (acc[l] + acc[32 + l]) + (acc[16 + l] + acc[48 + l]);
    }
    reduce16(&t)
}

/// Scalar value accumulation: for each `i`, slot `(first + i) mod modulus`
/// (row `slot` of `acc`, `width` floats) += `probs[i]` × the `width` f16
/// values at `rows[i]` (fused multiply-adds).
fn vaccum_ref(
    acc: &mut [f32],
    width: usize,
    modulus: usize,
    first: usize,
    probs: &[f32],
    rows: &[*const f16],
) {
    assert!(acc.len() >= modulus * width && first < modulus && rows.len() == probs.len());
    for (i, (&pr, &row)) in probs.iter().zip(rows).enumerate() {
        let slot = (first + i) % modulus;
        // SAFETY: `attn_values_with` checked each row holds `width` values at `row`.
        let v = unsafe { core::slice::from_raw_parts(row, width) };
        for (a, x) in acc[slot * width..(slot + 1) * width].iter_mut().zip(v) {
            *a = pr.mul_add(x.to_f32(), *a);
        }
    }
}

/// [`vreduce_ref`] for dimensions `from..width` only.
fn vreduce_tail(acc: &[f32], width: usize, modulus: usize, from: usize, out: &mut [f32]) {
    for (d, o) in out.iter_mut().enumerate().skip(from) {
        let mut s = [0f32; VALUE_SLOTS];
        for (j, v) in s.iter_mut().enumerate().take(modulus) {
            *v = acc[j * width + d];
        }
        *o = reduce64(&s);
    }
}

/// Scalar slot reduction: `out[d]` = [`reduce64`] of slot values
/// `acc[j·width + d]` (`j < modulus`; zeros beyond).
fn vreduce_ref(acc: &[f32], width: usize, modulus: usize, out: &mut [f32]) {
    assert!(acc.len() >= modulus * width && out.len() == width && modulus <= VALUE_SLOTS);
    vreduce_tail(acc, width, modulus, 0, out);
}

/// `out[i] += a·v[i]` with v in f16 (attention values). Runtime-dispatched.
#[inline]
pub fn axpy_f16(out: &mut [f32], a: f32, v: &[f16]) {
    (attn_kernels().axpy)(out, a, v)
}

/// Scalar twin of [`dot_f32_f16`].
pub fn dot_f32_f16_ref(q: &[f32], k: &[f16]) -> f32 {
    assert_eq!(q.len(), k.len());
    let np = q.len() - q.len() % 64;
    let mut acc = [0f32; 64];
    for i in (0..np).step_by(64) {
        for (r, a) in acc.iter_mut().enumerate() {
            *a = q[i + r].mul_add(k[i + r].to_f32(), *a);
        }
    }
    let mut sum = reduce64(&acc) as f64;
    for i in np..q.len() {
        sum += (q[i] * k[i].to_f32()) as f64;
    }
    sum as f32
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
        let np = n - n % 64;
        // ggml's four 16-lane accumulators as eight 8-lane halves.
        let mut acc = [_mm256_setzero_ps(); 8];
        let mut i = 0;
        while i < np {
            for (h, a) in acc.iter_mut().enumerate() {
                // SAFETY: i + 8h + 8 <= np <= n bounds both loads; unaligned loads.
                unsafe {
                    let kv = _mm256_cvtph_ps(_mm_loadu_si128(
                        k.as_ptr().add(i + 8 * h) as *const __m128i
                    ));
                    *a = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i + 8 * h)), kv, *a);
                }
            }
            i += 64;
        }
        let mut sum = reduce64(&acc) as f64;
        for i in np..n {
            sum += (q[i] * k[i].to_f32()) as f64;
        }
        sum as f32
    }

    pub(super) fn dot16_f32_f16_avx2_safe(q: &[f32], k: &[f16]) -> f32 {
        // SAFETY: only installed by the dispatcher after detecting avx2, fma, f16c.
        unsafe { dot16_f32_f16_avx2(q, k) }
    }

    /// # Safety
    /// The CPU must support AVX2, FMA and F16C.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dot16_f32_f16_avx2(q: &[f32], k: &[f16]) -> f32 {
        assert_eq!(q.len(), k.len());
        assert_eq!(q.len() % 16, 0);
        let (mut lo, mut hi) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for i in (0..q.len()).step_by(16) {
            // SAFETY: i + 16 <= len bounds all loads; unaligned loads.
            unsafe {
                let k0 = _mm256_cvtph_ps(_mm_loadu_si128(k.as_ptr().add(i) as *const __m128i));
                let k1 = _mm256_cvtph_ps(_mm_loadu_si128(k.as_ptr().add(i + 8) as *const __m128i));
                lo = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i)), k0, lo);
                hi = _mm256_fmadd_ps(_mm256_loadu_ps(q.as_ptr().add(i + 8)), k1, hi);
            }
        }
        hsum(_mm256_add_ps(hi, lo))
    }

    /// [`super::reduce64`] of accumulators held as eight 8-lane halves
    /// (accumulator `j`, lanes 0..8 in `acc[2j]`, lanes 8..16 in `acc[2j + 1]`).
    #[target_feature(enable = "avx2,fma")]
    fn reduce64(acc: &[__m256; 8]) -> f32 {
        let lo = _mm256_add_ps(_mm256_add_ps(acc[0], acc[4]), _mm256_add_ps(acc[2], acc[6]));
        let hi = _mm256_add_ps(_mm256_add_ps(acc[1], acc[5]), _mm256_add_ps(acc[3], acc[7]));
        hsum(_mm256_add_ps(hi, lo))
    }

    /// Eight lanes of [`super::expf_ggml`], bit-identical.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn expf8(x: __m256) -> __m256 {
        use super::*;
        let shift = _mm256_set1_ps(EXP_SHIFT);
        let z = _mm256_fmadd_ps(x, _mm256_set1_ps(EXP_LOG2E), shift);
        let n = _mm256_sub_ps(z, shift);
        let b = _mm256_fnmadd_ps(
            n,
            _mm256_set1_ps(EXP_LN2_LO),
            _mm256_fnmadd_ps(n, _mm256_set1_ps(EXP_LN2_HI), x),
        );
        let u = _mm256_mul_ps(b, b);
        let j = _mm256_fmadd_ps(
            _mm256_fmadd_ps(
                _mm256_fmadd_ps(_mm256_set1_ps(EXP_C5), b, _mm256_set1_ps(EXP_C4)),
                u,
                _mm256_fmadd_ps(_mm256_set1_ps(EXP_C3), b, _mm256_set1_ps(EXP_C2)),
            ),
            u,
            _mm256_fmadd_ps(_mm256_set1_ps(EXP_C1), b, _mm256_set1_ps(1.0)),
        );
        // j·2^n in at most two exact steps (see `exp_scale`).
        let ni = _mm256_cvtps_epi32(n);
        let lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(-126), ni);
        let hi = _mm256_cmpgt_epi32(ni, _mm256_set1_epi32(127));
        let adj = _mm256_or_si256(
            _mm256_and_si256(lo, _mm256_set1_epi32(100)),
            _mm256_and_si256(hi, _mm256_set1_epi32(-127)),
        );
        let pow2 = |e: __m256i| {
            _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
                e,
                _mm256_set1_epi32(127),
            )))
        };
        let second = _mm256_or_si256(
            _mm256_and_si256(lo, _mm256_set1_epi32(-100)),
            _mm256_and_si256(hi, _mm256_set1_epi32(127)),
        );
        let res = _mm256_mul_ps(
            _mm256_mul_ps(j, pow2(_mm256_add_epi32(ni, adj))),
            pow2(second),
        );
        let abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.0), n);
        let d = _mm256_cmp_ps::<_CMP_GT_OQ>(abs_n, _mm256_set1_ps(192.0));
        if _mm256_movemask_ps(d) == 0 {
            return res;
        }
        let le = _mm256_cmp_ps::<_CMP_LE_OQ>(n, _mm256_setzero_ps());
        let alt = _mm256_blendv_ps(_mm256_set1_ps(f32::INFINITY), _mm256_setzero_ps(), le);
        _mm256_blendv_ps(res, alt, d)
    }

    pub(super) fn swiglu_avx2_safe(gate: &mut [f32], up: &[f32]) {
        // SAFETY: only installed by the dispatcher after detecting avx2, fma, f16c.
        unsafe { swiglu_avx2(gate, up) }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn swiglu_avx2(gate: &mut [f32], up: &[f32]) {
        assert_eq!(gate.len(), up.len());
        let n = gate.len();
        let full = n - n % 16;
        let one = _mm256_set1_ps(1.0);
        let mut i = 0;
        while i < full {
            // SAFETY: i + 8 <= full <= n bounds the loads and the store.
            unsafe {
                let x = _mm256_loadu_ps(gate.as_ptr().add(i));
                let e = expf8(_mm256_sub_ps(_mm256_setzero_ps(), x));
                let s = _mm256_div_ps(x, _mm256_add_ps(one, e));
                let u = _mm256_loadu_ps(up.as_ptr().add(i));
                _mm256_storeu_ps(gate.as_mut_ptr().add(i), _mm256_mul_ps(s, u));
            }
            i += 8;
        }
        for (g, &u) in gate[full..].iter_mut().zip(&up[full..]) {
            *g = super::silu(*g) * u;
        }
    }

    pub(super) fn attn_softmax_avx2_safe(x: &mut [f32], start: usize) {
        // SAFETY: only installed by the dispatcher after detecting avx2, fma, f16c.
        unsafe { attn_softmax_avx2(x, start) }
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn attn_softmax_avx2(x: &mut [f32], start: usize) {
        let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let vmax = _mm256_set1_ps(max);
        let n = x.len();
        let mut i = 0;
        while i + 8 <= n {
            // SAFETY: i + 8 <= n bounds the load and the store.
            unsafe {
                let v = _mm256_sub_ps(_mm256_loadu_ps(x.as_ptr().add(i)), vmax);
                _mm256_storeu_ps(x.as_mut_ptr().add(i), expf8(v));
            }
            i += 8;
        }
        for v in &mut x[i..] {
            *v = super::expf_ggml(*v - max);
        }
        super::softmax_normalise(x, start);
    }

    pub(super) fn vaccum_avx2_safe(
        acc: &mut [f32],
        width: usize,
        modulus: usize,
        first: usize,
        probs: &[f32],
        rows: &[*const f16],
    ) {
        // SAFETY: only installed by the dispatcher after detecting avx2, fma, f16c.
        unsafe { vaccum_avx2(acc, width, modulus, first, probs, rows) }
    }

    /// AVX2 twin of `vaccum_ref` (the same fused multiply-adds, 8 dims at a time).
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn vaccum_avx2(
        acc: &mut [f32],
        width: usize,
        modulus: usize,
        first: usize,
        probs: &[f32],
        rows: &[*const f16],
    ) {
        assert!(acc.len() >= modulus * width && first < modulus && rows.len() == probs.len());
        let w8 = width - width % 8;
        let mut slot = first;
        for (&pr, &row) in probs.iter().zip(rows) {
            let a = acc[slot * width..(slot + 1) * width].as_mut_ptr();
            let pv = _mm256_set1_ps(pr);
            let mut d = 0;
            // SAFETY: the caller guarantees `width` values at `row`; `a` has `width` floats.
            unsafe {
                while d < w8 {
                    let v = _mm256_cvtph_ps(_mm_loadu_si128(row.add(d) as *const __m128i));
                    let o = _mm256_loadu_ps(a.add(d));
                    _mm256_storeu_ps(a.add(d), _mm256_fmadd_ps(pv, v, o));
                    d += 8;
                }
                while d < width {
                    *a.add(d) = pr.mul_add((*row.add(d)).to_f32(), *a.add(d));
                    d += 1;
                }
            }
            slot += 1;
            if slot == modulus {
                slot = 0;
            }
        }
    }

    pub(super) fn vreduce_avx2_safe(acc: &[f32], width: usize, modulus: usize, out: &mut [f32]) {
        // SAFETY: only installed by the dispatcher after detecting avx2, fma, f16c.
        unsafe { vreduce_avx2(acc, width, modulus, out) }
    }

    /// AVX2 twin of `vreduce_ref`: the same tree, 8 dimensions at a time.
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn vreduce_avx2(acc: &[f32], width: usize, modulus: usize, out: &mut [f32]) {
        assert!(acc.len() >= modulus * width && out.len() == width && modulus <= 64);
        let w8 = width - width % 8;
        let slot = |j: usize, d: usize| {
            if j < modulus {
                // SAFETY: j < modulus and d + 8 <= width keep the load inside `acc`.
                unsafe { _mm256_loadu_ps(acc.as_ptr().add(j * width + d)) }
            } else {
                _mm256_setzero_ps()
            }
        };
        for d in (0..w8).step_by(8) {
            // Per dimension: t_l = (S_l + S_32+l) + (S_16+l + S_48+l), then
            // the 16-lane reduction over l.
            let mut t = [_mm256_setzero_ps(); 16];
            for (l, tl) in t.iter_mut().enumerate() {
                *tl = _mm256_add_ps(
                    _mm256_add_ps(slot(l, d), slot(32 + l, d)),
                    _mm256_add_ps(slot(16 + l, d), slot(48 + l, d)),
                );
            }
            let mut hh = [_mm256_setzero_ps(); 8];
            for k in 0..8 {
                hh[k] = _mm256_add_ps(t[8 + k], t[k]);
            }
            let q = [
                _mm256_add_ps(hh[4], hh[0]),
                _mm256_add_ps(hh[5], hh[1]),
                _mm256_add_ps(hh[6], hh[2]),
                _mm256_add_ps(hh[7], hh[3]),
            ];
            let r = _mm256_add_ps(_mm256_add_ps(q[0], q[2]), _mm256_add_ps(q[1], q[3]));
            // SAFETY: d + 8 <= width = out.len().
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().add(d), r) };
        }
        if w8 < width {
            super::vreduce_tail(acc, width, modulus, w8, out);
        }
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

    /// Kernels of every variant on this CPU: the scalar twins, then the dispatched ones.
    fn variants() -> [&'static AttnKernels; 2] {
        static SCALAR: AttnKernels = AttnKernels {
            dot: dot_f32_f16_ref,
            dot16: dot16_f32_f16_ref,
            axpy: axpy_f16_ref,
            swiglu: swiglu_inplace_ref,
            softmax: attn_softmax_ref,
            vaccum: vaccum_ref,
            vreduce: vreduce_ref,
        };
        [&SCALAR, attn_kernels()]
    }

    #[test]
    fn expf_ggml_is_accurate_and_simd_is_bit_identical() {
        let mut xs: Vec<f32> = rand_vec(4096, 21).iter().map(|v| v * 100.0).collect();
        xs.extend([
            0.0,
            -0.0,
            1.0,
            -1.0,
            88.0,
            88.8,
            89.0,
            -87.0,
            -87.5,
            -88.0,
            -100.0,
            -103.0,
            -104.0,
            -120.0,
            -133.0,
            -134.0,
            -150.0,
            130.0,
            200.0,
            -200.0,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MIN_POSITIVE,
            1e-30,
            -1e-30,
        ]);
        for &x in &xs {
            let e = expf_ggml(x);
            let want = (x as f64).exp();
            if want > 1e-37 && want < 1e38 {
                assert!(
                    ((e as f64 - want) / want).abs() < 4e-7,
                    "exp({x}) = {e}, want {want}"
                );
            }
        }
        assert_eq!(expf_ggml(f32::NEG_INFINITY), 0.0);
        assert_eq!(expf_ggml(f32::INFINITY), f32::INFINITY);
        assert!(expf_ggml(f32::NAN).is_nan());
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            use std::arch::x86_64::*;
            for c in xs.chunks(8).filter(|c| c.len() == 8) {
                let mut got = [0f32; 8];
                // SAFETY: avx2 and fma detected above; 8 values in and out.
                unsafe {
                    _mm256_storeu_ps(got.as_mut_ptr(), x86::expf8(_mm256_loadu_ps(c.as_ptr())))
                };
                for (&x, g) in c.iter().zip(got) {
                    assert_eq!(g.to_bits(), expf_ggml(x).to_bits(), "x={x}");
                }
            }
        }
    }

    #[test]
    fn ggml_order_kernels_simd_match_scalar_bit_for_bit() {
        let [scalar, simd] = variants();
        for &n in &[1usize, 15, 16, 17, 63, 64, 65, 127, 128, 200, 256, 1000] {
            let q: Vec<f32> = rand_vec(n, n as u64)
                .iter()
                .map(|&v| f16::from_f32(v * 4.0).to_f32())
                .collect();
            let k: Vec<f16> = rand_vec(n, n as u64 + 7)
                .iter()
                .map(|&v| f16::from_f32(v * 3.0))
                .collect();
            let (a, b) = ((scalar.dot)(&q, &k), (simd.dot)(&q, &k));
            assert_eq!(a.to_bits(), b.to_bits(), "dot n={n}");
            if n % 16 == 0 {
                let (c, d) = ((scalar.dot16)(&q, &k), (simd.dot16)(&q, &k));
                assert_eq!(c.to_bits(), d.to_bits(), "dot16 n={n}");
                assert_eq!(d.to_bits(), dot_f32_f16_batch(&q, &k).to_bits());
                assert!((c - a).abs() <= 1e-5 * n as f32, "dot16 n={n}");
            }
            let exact: f64 = q
                .iter()
                .zip(&k)
                .map(|(&a, b)| a as f64 * b.to_f32() as f64)
                .sum();
            assert!(
                (a as f64 - exact).abs() < 1e-4 * n as f64,
                "dot n={n}: {a} vs {exact}"
            );

            let gate = rand_vec(n, 3).iter().map(|v| v * 30.0).collect::<Vec<_>>();
            let up = rand_vec(n, 4);
            let (mut g1, mut g2) = (gate.clone(), gate.clone());
            (scalar.swiglu)(&mut g1, &up);
            (simd.swiglu)(&mut g2, &up);
            for (i, (x, y)) in g1.iter().zip(&g2).enumerate() {
                assert_eq!(x.to_bits(), y.to_bits(), "swiglu n={n} i={i}");
                assert!((x - silu(gate[i]) * up[i]).abs() <= 1e-5 * x.abs().max(1e-3));
            }

            for start in [0usize, 3, 16, 70] {
                let sc = rand_vec(n, 5).iter().map(|v| v * 40.0).collect::<Vec<_>>();
                let (mut s1, mut s2) = (sc.clone(), sc.clone());
                (scalar.softmax)(&mut s1, start);
                (simd.softmax)(&mut s2, start);
                assert_eq!(s1, s2, "softmax n={n} start={start}");
                let mut s3 = sc.clone();
                softmax_inplace(&mut s3);
                for (a, b) in s1.iter().zip(&s3) {
                    assert!((a - b).abs() <= 1e-6, "softmax n={n}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn attn_values_simd_matches_scalar_and_direct_sum() {
        for hd in [16usize, 40, 64, 256, 300] {
            for (start, n_pos) in [(0usize, 1usize), (0, 5), (3, 64), (10, 200)] {
                let probs: Vec<f32> = rand_vec(n_pos, 11)
                    .iter()
                    .map(|&v| f16::from_f32(v.abs()).to_f32())
                    .collect();
                let vals: Vec<f16> = rand_vec((start + n_pos) * hd, 12)
                    .iter()
                    .map(|&v| f16::from_f32(v))
                    .collect();
                let row = |p: usize| &vals[p * hd..(p + 1) * hd];
                let mut o1 = vec![f32::NAN; hd];
                let mut o2 = vec![f32::NAN; hd];
                attn_values_ref(&mut o1, &probs, start, row);
                attn_values(&mut o2, &probs, start, row);
                assert_eq!(o1, o2, "hd={hd} start={start} n={n_pos}");
                let mut o3 = vec![f32::NAN; hd];
                let mut o4 = vec![f32::NAN; hd];
                attn_values_batch_ref(&mut o3, &probs, start, row);
                attn_values_batch(&mut o4, &probs, start, row);
                assert_eq!(o3, o4, "batch hd={hd} start={start} n={n_pos}");
                for (a, b) in o1.iter().zip(&o3) {
                    assert!((a - b).abs() <= 1e-5, "batch hd={hd}: {a} vs {b}");
                }
                for (d, &o) in o1.iter().enumerate() {
                    let want: f64 = (0..n_pos)
                        .map(|i| probs[i] as f64 * row(start + i)[d].to_f32() as f64)
                        .sum();
                    assert!(
                        (o as f64 - want).abs() < 1e-5,
                        "hd={hd} d={d}: {o} vs {want}"
                    );
                }
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
