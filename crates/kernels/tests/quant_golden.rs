//! Cross-implementation goldens: our dequantizers and legacy quantizers
//! against gguf-py's numpy implementation of the ggml formats (an independent
//! code base that mirrors `ggml-quants.c`), compared as FNV-1a hashes of the
//! output bytes. Inputs come from a 64-bit LCG both sides share.
//!
//! Generator (gguf 0.x from PyPI, numpy), kept here so the goldens can be rebuilt:
//! ```python
//! def lcg(seed, n):  # returns the high 32 bits of each state
//!     s = seed; out = []
//!     for _ in range(n):
//!         s = (s * 6364136223846793005 + 1442695040888963407) % 2**64; out.append(s >> 32)
//!     return out
//! # dequantize: NB=3 blocks of lcg(type_id) bytes (low byte of each draw), each f16 field
//! # replaced by ((5 + r % 8) << 10) | ((r >> 8) & 0x3ff) with r from lcg(1000 + type_id);
//! # hash dequantize(raw, t).astype(float32).tobytes()
//! # quantize: x = ((lcg(77 + type_id, 2048) >> 8) / 2**24 - 0.5) * 4 as float32,
//! # x[5] = 0, x[64:96] = 0; hash quantize(x, t).tobytes()
//! ```

use edgellm_kernels::quant::{
    dequantize_row, kernels, quantize_row, quantize_row_weights, reference, QuantType,
};

fn lcg(seed: u64, n: usize) -> Vec<u64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            s >> 32
        })
        .collect()
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Byte offsets of the f16 fields of one block.
fn f16_fields(ty: QuantType) -> &'static [usize] {
    match ty {
        QuantType::Q4_0 | QuantType::Q5_0 | QuantType::Q8_0 => &[0],
        QuantType::Q4_1 | QuantType::Q5_1 | QuantType::Q4_K | QuantType::Q5_K => &[0, 2],
        QuantType::Q2_K => &[80, 82],
        QuantType::Q3_K => &[108],
        QuantType::Q6_K => &[208],
        _ => unreachable!(),
    }
}

const NB: usize = 3;

fn golden_blocks(ty: QuantType) -> Vec<u8> {
    let ts = ty.type_size();
    let mut raw: Vec<u8> = lcg(ty as u64, NB * ts)
        .into_iter()
        .map(|x| x as u8)
        .collect();
    let scales = lcg(1000 + ty as u64, NB * 4);
    let mut k = 0;
    for b in 0..NB {
        for &off in f16_fields(ty) {
            let v = ((5 + scales[k] % 8) << 10) | ((scales[k] >> 8) & 0x3ff);
            k += 1;
            raw[b * ts + off..b * ts + off + 2].copy_from_slice(&(v as u16).to_le_bytes());
        }
    }
    raw
}

#[test]
fn dequantize_matches_gguf_py() {
    let goldens = [
        (
            QuantType::Q4_0,
            0x9c5591edab4f209c_u64,
            -0.22509766_f32,
            0.024820328_f32,
        ),
        (QuantType::Q4_1, 0x0b5a447118fc37b8, 0.10733032, 0.06854248),
        (
            QuantType::Q5_0,
            0x302975abdbc38fdb,
            0.041130066,
            -0.38360596,
        ),
        (QuantType::Q5_1, 0x3549c26db9dddee2, 0.981781, 0.3969803),
        (QuantType::Q8_0, 0xfac0667550aefbff, -1.0550995, 1.2991943),
        (QuantType::Q2_K, 0xabf2eb9232de154d, 1.8826599, -0.06237793),
        (QuantType::Q3_K, 0x1abf540a478ef6de, 0.78570557, -0.07485962),
        (QuantType::Q4_K, 0xcb8e76220a01ef04, -1.1382675, 48.64273),
        (QuantType::Q5_K, 0xd34c98557a9a4933, 63.286396, 1.0169525),
        (QuantType::Q6_K, 0x84921261f223b444, 19.088287, -32.473022),
    ];
    for (ty, hash, first, last) in goldens {
        let raw = golden_blocks(ty);
        let n = NB * ty.block_size();
        for (name, y) in [
            ("ref", {
                let mut y = vec![0f32; n];
                reference::dequantize_row_ref(ty, &raw, &mut y);
                y
            }),
            ("dispatched", {
                let mut y = vec![0f32; n];
                dequantize_row(ty, &raw, &mut y);
                y
            }),
        ] {
            assert_eq!(
                (y[0], y[n - 1]),
                (first, last),
                "{} {name} first/last",
                ty.name()
            );
            let bytes: Vec<u8> = y.iter().flat_map(|v| v.to_le_bytes()).collect();
            assert_eq!(fnv(&bytes), hash, "{} {name} dequantize hash", ty.name());
        }
    }
}

#[test]
fn legacy_quantizers_match_gguf_py() {
    let goldens = [
        (QuantType::Q4_0, 0x93727b5947d1f4e9_u64),
        (QuantType::Q4_1, 0x673972285756f7e9),
        (QuantType::Q5_0, 0x92b01f7a212d6268),
        (QuantType::Q5_1, 0xb26fd5eabd190caa),
        (QuantType::Q8_0, 0x5c2c9ca3763ed2c0),
    ];
    for (ty, hash) in goldens {
        let mut x: Vec<f32> = lcg(77 + ty as u64, 2048)
            .into_iter()
            .map(|u| (((u >> 8) as f32 / 16777216.0) - 0.5) * 4.0)
            .collect();
        x[5] = 0.0;
        x[64..96].fill(0.0);
        let mut q = vec![0u8; ty.row_bytes(x.len())];
        quantize_row_weights(ty, &x, &mut q);
        assert_eq!(fnv(&q), hash, "{} weight quantizer hash", ty.name());
        if ty != QuantType::Q8_0 {
            let mut q2 = vec![0u8; q.len()];
            quantize_row(ty, &x, &mut q2);
            assert_eq!(q2, q, "{}: quantize_row == quantize_row_weights", ty.name());
        }
    }
}

/// ggml's own `quantize_row_*_ref` (ggml-quants.c built with `gcc -O2
/// -ffp-contract=off`, i.e. without FMA contraction, which Rust never does
/// either) on 16 super-blocks of pseudo-Gaussian data: block 1 all zeros,
/// block 2 constant 0.375. Inputs: `s = Σ_4 (lcg >> 8)/2^24` in f32,
/// `x = (s − 2)·1.7`, ×8 at every 97th index; seed 500 + ggml type id.
#[test]
fn quantizers_match_ggml_c() {
    let goldens = [
        (QuantType::Q4_0, 0xcd64ac12d3c7b9b7_u64),
        (QuantType::Q4_1, 0x8cdaa1c4332a4090),
        (QuantType::Q5_0, 0x4d6a42d4ad1b51ad),
        (QuantType::Q5_1, 0xf02094777e0686eb),
        (QuantType::Q8_0, 0xb00612dfaa22af78),
        (QuantType::Q8_1, 0xc3bce709168a8da2),
        (QuantType::Q2_K, 0x37ff927b413c3d43),
        (QuantType::Q3_K, 0x0db91d9407f2c33e),
        (QuantType::Q4_K, 0x4de352d3189adb73),
        (QuantType::Q5_K, 0x05589c8219b43bf8),
        (QuantType::Q6_K, 0x1fd42fb76e6d38d8),
        (QuantType::Q8_K, 0x389449900730d1df),
    ];
    const N: usize = 256 * 16;
    for (ty, hash) in goldens {
        let u = lcg(500 + ty as u64, 4 * N);
        let mut x: Vec<f32> = (0..N)
            .map(|i| {
                let mut s = 0f32;
                for k in 0..4 {
                    s += (u[4 * i + k] >> 8) as f32 / 16777216.0;
                }
                let v = (s - 2.0) * 1.7;
                if i.is_multiple_of(97) {
                    v * 8.0
                } else {
                    v
                }
            })
            .collect();
        x[256..512].fill(0.0);
        x[512..768].fill(0.375);
        let mut q = vec![0u8; ty.row_bytes(N)];
        quantize_row_weights(ty, &x, &mut q);
        assert_eq!(
            fnv(&q),
            hash,
            "{} differs from ggml's quantize_row_{}_ref",
            ty.name(),
            ty.name()
        );
    }
}

/// Activation quantization and dot products against ggml's x86 AVX2 CPU
/// kernels (`quantize_row_q8_0/q8_1/q8_K`, `ggml_vec_dot_*`; ggml-cpu
/// arch/x86/quants.c built with `-mavx2 -mfma -mf16c`), 4 weight rows of 4096
/// (ggml `_ref` quantizers) · one activation row. Inputs as in
/// `quantizers_match_ggml_c`, weights seed 900 + id, activations 1900 + id.
/// The int8 activations must be byte-identical (hash); the dots agree within
/// float summation order, and bit for bit for our AVX2 kernels except Q3_K.
#[test]
fn activations_and_dots_match_ggml_avx2() {
    let goldens: [(QuantType, u64, [u32; 4]); 10] = [
        (
            QuantType::Q4_0,
            0xf26e655a50416da9,
            [0xc3330f7b, 0x41927b67, 0x426b1439, 0xc1b486f2],
        ),
        (
            QuantType::Q4_1,
            0xdb6374cf7f6f83b6,
            [0x4331d4cf, 0x420dedf4, 0xc2b1fc06, 0xc324fcd1],
        ),
        (
            QuantType::Q5_0,
            0x7203258e4a759ac6,
            [0x42f72c88, 0xc283656a, 0x429161fc, 0x4260865c],
        ),
        (
            QuantType::Q5_1,
            0x6747f650bd9a26b5,
            [0x44343dbf, 0x41164650, 0xc359bc80, 0x434b0634],
        ),
        (
            QuantType::Q8_0,
            0x0f3a3dcdb754951e,
            [0xc4a11798, 0xc2231562, 0x414488c4, 0x42dca1f5],
        ),
        (
            QuantType::Q2_K,
            0x393b4f391dcc1275,
            [0xc28c8a24, 0xc25a6031, 0xc24e6550, 0x4247ddfc],
        ),
        (
            QuantType::Q3_K,
            0x2864a79275b0b529,
            [0xc3b8b9a6, 0x4357b4c4, 0x436ac736, 0x42ac3e7a],
        ),
        (
            QuantType::Q4_K,
            0xd260362cd435f32b,
            [0xc0226200, 0xc135ec00, 0xc3024de0, 0x42d92d16],
        ),
        (
            QuantType::Q5_K,
            0xb7a438e34f667d26,
            [0xc2a0f960, 0xc29618c9, 0x41c9f952, 0xc0957500],
        ),
        (
            QuantType::Q6_K,
            0x727642035fdb63aa,
            [0x43d5e58d, 0x41292360, 0xc273b7a6, 0x422c1800],
        ),
    ];
    const N: usize = 4096;
    let gen = |seed: u64, n: usize| -> Vec<f32> {
        let u = lcg(seed, 4 * n);
        (0..n)
            .map(|i| {
                let mut s = 0f32;
                for k in 0..4 {
                    s += (u[4 * i + k] >> 8) as f32 / 16777216.0;
                }
                let v = (s - 2.0) * 1.7;
                if i.is_multiple_of(97) {
                    v * 8.0
                } else {
                    v
                }
            })
            .collect()
    };
    let mut report = String::new();
    for (ty, act_hash, dots) in goldens {
        let vt = ty.vec_dot_type();
        let w = gen(900 + ty as u64, 4 * N);
        let a = gen(1900 + ty as u64, N);
        let mut aq = vec![0u8; vt.row_bytes(N)];
        quantize_row(vt, &a, &mut aq);
        assert_eq!(
            fnv(&aq),
            act_hash,
            "{}: activations differ from ggml's {}",
            ty.name(),
            vt.name()
        );
        let mut ad = vec![0f32; N];
        reference::dequantize_row_ref(vt, &aq, &mut ad);
        for (r, want_bits) in dots.into_iter().enumerate() {
            let mut wq = vec![0u8; ty.row_bytes(N)];
            quantize_row_weights(ty, &w[r * N..(r + 1) * N], &mut wq);
            let mut wd = vec![0f32; N];
            reference::dequantize_row_ref(ty, &wq, &mut wd);
            let scale: f64 = wd
                .iter()
                .zip(&ad)
                .map(|(x, y)| (*x as f64 * *y as f64).abs())
                .sum();
            let want = f32::from_bits(want_bits);
            for (name, got) in [
                (
                    "dispatched",
                    edgellm_kernels::quant::vec_dot(ty, N, &wq, &aq),
                ),
                ("ref", reference::vec_dot_ref(ty, N, &wq, &aq)),
            ] {
                let err = (got as f64 - want as f64).abs();
                report += &format!(
                    "{} row {r} {name}: {got} vs ggml {want} (err/scale {:.1e})\n",
                    ty.name(),
                    err / scale
                );
                assert!(
                    err <= 2e-6 * scale,
                    "{} row {r} {name}: {got} vs ggml {want}",
                    ty.name()
                );
                // Our AVX2 kernels keep ggml's lane layout and summation order, so they agree
                // bit for bit (Q3_K folds its −4 offset through bsums instead: last-bit differences).
                if name == "dispatched" && kernels(ty).isa == "avx2" && ty != QuantType::Q3_K {
                    assert_eq!(
                        got.to_bits(),
                        want_bits,
                        "{} row {r}: AVX2 not bit-identical to ggml",
                        ty.name()
                    );
                }
            }
        }
    }
    eprintln!("{report}");
}
