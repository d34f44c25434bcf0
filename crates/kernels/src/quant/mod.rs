//! The ggml tensor types: block layouts, scalar references and SIMD kernels.
//!
//! Each quant family lives in its own file with its `#[repr(C)]` block (size
//! asserted at compile time), the scalar `*_ref` functions that are the spec,
//! and nothing else. SIMD versions live in `arch/x86_64` (AVX2 + FMA + F16C)
//! and `arch/aarch64` (NEON, + dotprod where present). The CPU is probed once;
//! the best kernel of each type is then a cached function pointer, so a binary
//! built for baseline x86-64 still uses AVX2 where it exists.
//!
//! Byte slices (from an mmap) are viewed as blocks without copies; every block
//! has alignment 1 (f16/f32/i16 fields are byte arrays), so any address works.
//!
//! Activation quantization (`quantize_row` for Q8_0, Q8_1, Q8_K) reproduces the
//! rounding ggml's CPU backend uses at run time on x86, so the int8 activations,
//! and hence the integer dot products, equal llama.cpp's. Model-file
//! quantization of Q8_0/Q8_1 (ggml's `*_ref`, round half away from zero) is
//! [`quantize_row_weights`].

// Block loops index several parallel arrays by group, as ggml's code does;
// iterator chains would hide the correspondence with the reference.
#![allow(clippy::needless_range_loop)]

use std::sync::OnceLock;

mod arch;
mod block;
mod float;
mod k_common;
mod q2_k;
mod q3_k;
mod q4;
mod q4_k;
mod q5;
mod q5_k;
mod q6_k;
mod q8;
pub mod reference;
mod util;

pub use block::{as_blocks, as_blocks_mut, block_bytes, Block};
pub use k_common::{get_scale_min_k4, pack_scale_min_k4};
pub use q2_k::BlockQ2K;
pub use q3_k::BlockQ3K;
pub use q4::{BlockQ4_0, BlockQ4_1};
pub use q4_k::BlockQ4K;
pub use q5::{BlockQ5_0, BlockQ5_1};
pub use q5_k::BlockQ5K;
pub use q6_k::BlockQ6K;
pub use q8::{BlockQ8K, BlockQ8_0, BlockQ8_1};
pub use util::QK_K;

/// A ggml tensor type (the discriminant is the ggml / GGUF type id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[allow(non_camel_case_types)]
pub enum QuantType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    BF16 = 30,
}

/// Number of supported types.
const N_TYPES: usize = 15;

impl QuantType {
    /// Every supported type, in ggml id order.
    pub const ALL: [QuantType; N_TYPES] = [
        QuantType::F32,
        QuantType::F16,
        QuantType::Q4_0,
        QuantType::Q4_1,
        QuantType::Q5_0,
        QuantType::Q5_1,
        QuantType::Q8_0,
        QuantType::Q8_1,
        QuantType::Q2_K,
        QuantType::Q3_K,
        QuantType::Q4_K,
        QuantType::Q5_K,
        QuantType::Q6_K,
        QuantType::Q8_K,
        QuantType::BF16,
    ];

    /// The type with ggml id `id`, if supported.
    pub fn from_ggml_id(id: u32) -> Option<QuantType> {
        QuantType::ALL.into_iter().find(|t| *t as u32 == id)
    }

    /// Position in [`QuantType::ALL`] (dense table index).
    #[inline(always)]
    fn index(self) -> usize {
        match self {
            QuantType::F32 => 0,
            QuantType::F16 => 1,
            QuantType::Q4_0 => 2,
            QuantType::Q4_1 => 3,
            QuantType::Q5_0 => 4,
            QuantType::Q5_1 => 5,
            QuantType::Q8_0 => 6,
            QuantType::Q8_1 => 7,
            QuantType::Q2_K => 8,
            QuantType::Q3_K => 9,
            QuantType::Q4_K => 10,
            QuantType::Q5_K => 11,
            QuantType::Q6_K => 12,
            QuantType::Q8_K => 13,
            QuantType::BF16 => 14,
        }
    }

    /// ggml's name of the type ("F32", "Q4_K", ...).
    pub fn name(self) -> &'static str {
        match self {
            QuantType::F32 => "F32",
            QuantType::F16 => "F16",
            QuantType::Q4_0 => "Q4_0",
            QuantType::Q4_1 => "Q4_1",
            QuantType::Q5_0 => "Q5_0",
            QuantType::Q5_1 => "Q5_1",
            QuantType::Q8_0 => "Q8_0",
            QuantType::Q8_1 => "Q8_1",
            QuantType::Q2_K => "Q2_K",
            QuantType::Q3_K => "Q3_K",
            QuantType::Q4_K => "Q4_K",
            QuantType::Q5_K => "Q5_K",
            QuantType::Q6_K => "Q6_K",
            QuantType::Q8_K => "Q8_K",
            QuantType::BF16 => "BF16",
        }
    }

    /// Weights per block (1 for F32/F16/BF16).
    pub fn block_size(self) -> usize {
        match self {
            QuantType::F32 | QuantType::F16 | QuantType::BF16 => 1,
            QuantType::Q4_0
            | QuantType::Q4_1
            | QuantType::Q5_0
            | QuantType::Q5_1
            | QuantType::Q8_0
            | QuantType::Q8_1 => 32,
            QuantType::Q2_K
            | QuantType::Q3_K
            | QuantType::Q4_K
            | QuantType::Q5_K
            | QuantType::Q6_K
            | QuantType::Q8_K => QK_K,
        }
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        use core::mem::size_of;
        match self {
            QuantType::F32 => 4,
            QuantType::F16 | QuantType::BF16 => 2,
            QuantType::Q4_0 => size_of::<BlockQ4_0>(),
            QuantType::Q4_1 => size_of::<BlockQ4_1>(),
            QuantType::Q5_0 => size_of::<BlockQ5_0>(),
            QuantType::Q5_1 => size_of::<BlockQ5_1>(),
            QuantType::Q8_0 => size_of::<BlockQ8_0>(),
            QuantType::Q8_1 => size_of::<BlockQ8_1>(),
            QuantType::Q2_K => size_of::<BlockQ2K>(),
            QuantType::Q3_K => size_of::<BlockQ3K>(),
            QuantType::Q4_K => size_of::<BlockQ4K>(),
            QuantType::Q5_K => size_of::<BlockQ5K>(),
            QuantType::Q6_K => size_of::<BlockQ6K>(),
            QuantType::Q8_K => size_of::<BlockQ8K>(),
        }
    }

    /// Bytes of `n` values. Panics unless `n` is a multiple of the block size.
    pub fn row_bytes(self, n: usize) -> usize {
        let bs = self.block_size();
        assert!(
            n.is_multiple_of(bs),
            "{} values are not a whole number of {} blocks of {bs}",
            n,
            self.name()
        );
        n / bs * self.type_size()
    }

    /// The type activations are quantized to before a dot product with weights
    /// of this type (ggml CPU `vec_dot_type`).
    pub fn vec_dot_type(self) -> QuantType {
        match self {
            QuantType::Q4_0 | QuantType::Q5_0 | QuantType::Q8_0 => QuantType::Q8_0,
            QuantType::Q4_1 | QuantType::Q5_1 | QuantType::Q8_1 => QuantType::Q8_1,
            QuantType::Q2_K
            | QuantType::Q3_K
            | QuantType::Q4_K
            | QuantType::Q5_K
            | QuantType::Q6_K
            | QuantType::Q8_K => QuantType::Q8_K,
            QuantType::F32 => QuantType::F32,
            QuantType::F16 => QuantType::F16,
            QuantType::BF16 => QuantType::BF16,
        }
    }

    /// Whether the type is a quantized block format (not F32/F16/BF16).
    pub fn is_quantized(self) -> bool {
        self.block_size() > 1
    }
}

/// `fn(src bytes, dst values)`; `dst.len()` values, `src` exactly their bytes.
pub type DequantizeFn = fn(&[u8], &mut [f32]);
/// `fn(src values, dst bytes)`; `dst` exactly the bytes of `src.len()` values.
pub type QuantizeFn = fn(&[f32], &mut [u8]);
/// `fn(n, x bytes, y bytes) -> Σ x·y` with `y` in the `vec_dot_type`.
pub type VecDotFn = fn(usize, &[u8], &[u8]) -> f32;
/// `fn(n, x bytes, [y bytes; 4]) -> [Σ x·y_t; 4]`: one weight row against four
/// activation rows, each result bit-identical to the same set's [`VecDotFn`]
/// on that row (the weight blocks are decoded once for the four).
pub type VecDotX4Fn = fn(usize, &[u8], [&[u8]; 4]) -> [f32; 4];

/// Four weight rows × four activation rows: `out[r][t]` bit-identical to the
/// same set's [`VecDotFn`] of weight row `r` and activation row `t` (a
/// register tile for prefill: each weight block is decoded once for four
/// tokens, each activation block loaded once for four rows).
pub type Gemm4x4Fn = fn(usize, [&[u8]; 4], [&[u8]; 4]) -> [[f32; 4]; 4];

/// The kernels of one type on one instruction set.
///
/// The function pointers check that slice lengths agree with each other (so a
/// SIMD kernel never reads out of bounds) but, unlike the free functions of
/// this module, not that they agree with `n`: call through [`dequantize_row`],
/// [`quantize_row`] and [`vec_dot`] unless you hoisted those checks yourself.
#[derive(Clone, Copy)]
pub struct Kernels {
    /// Instruction set of the fastest kernel in this set ("scalar", "avx2", "neon", ...).
    pub isa: &'static str,
    pub dequantize_row: DequantizeFn,
    pub quantize_row: QuantizeFn,
    pub vec_dot: VecDotFn,
    /// Multi-token dot product, where this set has one that beats four
    /// `vec_dot` calls (`None`: call `vec_dot` per row; [`vec_dot_x4`] does).
    pub vec_dot_x4: Option<VecDotX4Fn>,
    /// Four-row × four-token tile, where this set has one.
    pub gemm_4x4: Option<Gemm4x4Fn>,
}

impl core::fmt::Debug for Kernels {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Kernels")
            .field("isa", &self.isa)
            .finish_non_exhaustive()
    }
}

/// The best kernels of every type on this CPU, probed once.
fn table() -> &'static [Kernels; N_TYPES] {
    static TABLE: OnceLock<[Kernels; N_TYPES]> = OnceLock::new();
    TABLE.get_or_init(|| {
        QuantType::ALL.map(|ty| {
            *kernel_variants(ty)
                .last()
                .expect("scalar kernels always exist")
        })
    })
}

/// The best kernels for `ty` on this CPU (cached after the first call).
#[inline]
pub fn kernels(ty: QuantType) -> &'static Kernels {
    &table()[ty.index()]
}

/// Every kernel set usable on this CPU for `ty`, slowest first: the scalar
/// reference, then each SIMD level detected. (For tests and benchmarks.)
pub fn kernel_variants(ty: QuantType) -> Vec<Kernels> {
    let mut v = vec![reference::scalar_kernels(ty)];
    arch::push_variants(ty, &mut v);
    v
}

/// Batches of at least this many tokens go through ggml's tiled K-quant
/// GEMM on x86 (`ggml_tiled_min_batch`).
pub const TILED_MIN_BATCH: usize = 8;

/// The kernels for a matrix of `ty` with `n_rows` rows multiplied with a
/// batch of `n_tok` tokens, as llama.cpp's CPU backend evaluates it on
/// x86-64:
/// - a Q4_K matrix whose row count is a multiple of 8 is repacked there
///   (`q4_K_8x8`); its GEMV (`vec_dot`, single tokens and the last `n % 4`
///   tokens of a batch) and GEMM (`vec_dot_x4`, groups of 4 tokens) sum in
///   other orders ([`vec_dot_q4_k_interleaved`],
///   [`vec_dot_q4_k_interleaved_gemm_x4`]);
/// - a Q6_K matrix times [`TILED_MIN_BATCH`] or more tokens goes through the
///   tiled GEMM, another order
///   ([`reference::vec_dot_q6_k_tiled_ref`]; only where ggml has that path).
///
/// Everything else uses [`kernels`].
pub fn kernels_for(ty: QuantType, n_rows: usize, n_tok: usize) -> &'static Kernels {
    static Q4K_INTERLEAVED: OnceLock<Kernels> = OnceLock::new();
    static Q6K_TILED: OnceLock<Option<Kernels>> = OnceLock::new();
    if ty == QuantType::Q4_K && n_rows.is_multiple_of(8) {
        return Q4K_INTERLEAVED.get_or_init(|| {
            let mut k = *kernels(ty);
            k.vec_dot = q4_k_interleaved_dots()[0];
            k.vec_dot_x4 = Some(q4_k_interleaved_gemm_x4_fn());
            k
        });
    }
    if ty == QuantType::Q6_K && n_tok >= TILED_MIN_BATCH {
        let tiled = Q6K_TILED.get_or_init(|| {
            arch::q6_k_tiled_dots().map(|(dot, x4)| {
                let mut k = *kernels(ty);
                k.vec_dot = dot;
                k.vec_dot_x4 = Some(x4);
                k
            })
        });
        if let Some(k) = tiled {
            return k;
        }
    }
    kernels(ty)
}

/// Every SIMD variant on this CPU of the order-specific dot products, as
/// `(isa, [Q4_K repacked GEMV, Q4_K repacked GEMM, Q6_K tiled])`, slowest
/// first; their scalar twins are [`reference::vec_dot_q4_k_interleaved_ref`],
/// [`reference::vec_dot_q4_k_interleaved_gemm_ref`] and
/// [`reference::vec_dot_q6_k_tiled_ref`]. (For tests and benchmarks.)
pub fn order_dot_variants() -> Vec<(&'static str, [VecDotFn; 3])> {
    arch::order_dot_variants()
}

/// The Q4_K four-token GEMM-order dot product of this CPU: a SIMD kernel
/// that decodes each weight block once, else the single-row one per token.
fn q4_k_interleaved_gemm_x4_fn() -> VecDotX4Fn {
    arch::q4_k_interleaved_gemm_x4()
        .unwrap_or(|n, x, ys| ys.map(|y| (q4_k_interleaved_dots()[1])(n, x, y)))
}

/// The Q4_K GEMV- and GEMM-order dot products of this CPU.
fn q4_k_interleaved_dots() -> &'static [VecDotFn; 2] {
    static DOTS: OnceLock<[VecDotFn; 2]> = OnceLock::new();
    DOTS.get_or_init(|| {
        arch::q4_k_interleaved_dot().unwrap_or([
            reference::vec_dot_q4_k_interleaved_ref,
            reference::vec_dot_q4_k_interleaved_gemm_ref,
        ])
    })
}

/// The Q4_K dot product in the order of ggml's repacked `q4_K_8x8` GEMV:
/// per super-block the usual integer sums, then `acc += isum·(d·d8)` and
/// `accm += summ·(dmin·d8)` (fused), `acc − accm` at the end.
/// Runtime-dispatched; bit-identical to
/// [`reference::vec_dot_q4_k_interleaved_ref`].
pub fn vec_dot_q4_k_interleaved(n: usize, x: &[u8], y: &[u8]) -> f32 {
    assert_eq!(x.len(), QuantType::Q4_K.row_bytes(n), "Q4_K weight bytes");
    assert_eq!(
        y.len(),
        QuantType::Q8_K.row_bytes(n),
        "Q8_K activation bytes"
    );
    (q4_k_interleaved_dots()[0])(n, x, y)
}

/// [`vec_dot_q4_k_interleaved`] in the order of the repacked GEMM (used by
/// ggml for groups of 4 tokens): the fused accumulations happen per 64
/// weights instead of per super-block. Runtime-dispatched; bit-identical to
/// [`reference::vec_dot_q4_k_interleaved_gemm_ref`].
pub fn vec_dot_q4_k_interleaved_gemm(n: usize, x: &[u8], y: &[u8]) -> f32 {
    assert_eq!(x.len(), QuantType::Q4_K.row_bytes(n), "Q4_K weight bytes");
    assert_eq!(
        y.len(),
        QuantType::Q8_K.row_bytes(n),
        "Q8_K activation bytes"
    );
    (q4_k_interleaved_dots()[1])(n, x, y)
}

/// [`vec_dot_q4_k_interleaved_gemm`] of one weight row `x` with four
/// activation rows `ys`, decoding the weights once where the CPU has a SIMD
/// kernel. Runtime-dispatched; each result is bit-identical to
/// [`reference::vec_dot_q4_k_interleaved_gemm_ref`] on that row.
pub fn vec_dot_q4_k_interleaved_gemm_x4(n: usize, x: &[u8], ys: [&[u8]; 4]) -> [f32; 4] {
    assert_eq!(x.len(), QuantType::Q4_K.row_bytes(n), "Q4_K weight bytes");
    let yb = QuantType::Q8_K.row_bytes(n);
    for y in ys {
        assert_eq!(y.len(), yb, "Q8_K activation bytes");
    }
    (q4_k_interleaved_gemm_x4_fn())(n, x, ys)
}

/// The SIMD level in use, for logs: "avx2+fma+f16c", "neon+dotprod", "neon" or "scalar".
pub fn simd_level() -> &'static str {
    arch::simd_level()
}

/// Dequantizes `dst.len()` values (a multiple of the block size) from `src`,
/// which must be exactly `ty.row_bytes(dst.len())` bytes.
#[inline]
pub fn dequantize_row(ty: QuantType, src: &[u8], dst: &mut [f32]) {
    assert_eq!(
        src.len(),
        ty.row_bytes(dst.len()),
        "dequantize_row: {} source bytes",
        ty.name()
    );
    (kernels(ty).dequantize_row)(src, dst)
}

/// Quantizes `src` into `dst` (exactly `ty.row_bytes(src.len())` bytes).
/// For Q8_0/Q8_1/Q8_K this is the activation quantizer of ggml's CPU backend;
/// for the other types ggml's reference quantizer.
#[inline]
pub fn quantize_row(ty: QuantType, src: &[f32], dst: &mut [u8]) {
    assert_eq!(
        dst.len(),
        ty.row_bytes(src.len()),
        "quantize_row: {} destination bytes",
        ty.name()
    );
    (kernels(ty).quantize_row)(src, dst)
}

/// Quantizes weights for a model file exactly as llama-quantize does without
/// an importance matrix (ggml's `quantize_row_*_ref`). Differs from
/// [`quantize_row`] only for Q8_0 and Q8_1 (round half away from zero, `id = 1/d`).
pub fn quantize_row_weights(ty: QuantType, src: &[f32], dst: &mut [u8]) {
    assert_eq!(
        dst.len(),
        ty.row_bytes(src.len()),
        "quantize_row_weights: {} destination bytes",
        ty.name()
    );
    match ty {
        QuantType::Q8_0 => q8::quantize_row_q8_0_weights_ref(src, as_blocks_mut(dst)),
        QuantType::Q8_1 => q8::quantize_row_q8_1_weights_ref(src, as_blocks_mut(dst)),
        _ => quantize_row(ty, src, dst),
    }
}

/// Dot product of `n` weights of type `ty` (`x`: `ty.row_bytes(n)` bytes) with
/// `n` activations already quantized to `ty.vec_dot_type()` (`y`).
#[inline]
pub fn vec_dot(ty: QuantType, n: usize, x: &[u8], y: &[u8]) -> f32 {
    assert_eq!(
        x.len(),
        ty.row_bytes(n),
        "vec_dot: {} weight bytes",
        ty.name()
    );
    assert_eq!(
        y.len(),
        ty.vec_dot_type().row_bytes(n),
        "vec_dot: {} activation bytes",
        ty.name()
    );
    (kernels(ty).vec_dot)(n, x, y)
}

/// [`vec_dot`] of one weight row `x` with four activation rows `ys`, decoding
/// the weights once where the type has a multi-token kernel. Each result is
/// bit-identical to `vec_dot(ty, n, x, ys[t])`.
#[inline]
pub fn vec_dot_x4(ty: QuantType, n: usize, x: &[u8], ys: [&[u8]; 4]) -> [f32; 4] {
    assert_eq!(
        x.len(),
        ty.row_bytes(n),
        "vec_dot_x4: {} weight bytes",
        ty.name()
    );
    let yb = ty.vec_dot_type().row_bytes(n);
    for y in ys {
        assert_eq!(y.len(), yb, "vec_dot_x4: {} activation bytes", ty.name());
    }
    vec_dot_x4_with(kernels(ty), n, x, ys)
}

/// [`vec_dot_x4`] through a given kernel set (lengths already checked).
#[inline]
pub fn vec_dot_x4_with(k: &Kernels, n: usize, x: &[u8], ys: [&[u8]; 4]) -> [f32; 4] {
    match k.vec_dot_x4 {
        Some(f) => f(n, x, ys),
        None => ys.map(|y| (k.vec_dot)(n, x, y)),
    }
}
