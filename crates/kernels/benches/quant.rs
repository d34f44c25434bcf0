//! vec_dot throughput per type over one 4096-value row (weights resident in
//! L1/L2, so this measures the kernel, not DRAM), for every kernel set this
//! CPU has; plus the activation quantizers. Throughput is weight bytes/s.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use edgellm_kernels::matmul::{
    activation_bytes, matmul, quantize_activations as quantize_acts, QMatrix,
};
use edgellm_kernels::pool::ThreadPool;
use edgellm_kernels::quant::{
    kernel_variants, kernels_for, reference, vec_dot_q4_k_interleaved_gemm, vec_dot_x4_with,
    QuantType,
};
use std::time::Duration;

const N: usize = 4096;

fn data(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 8) as f32 / 16777216.0 * 2.0 - 1.0
        })
        .collect()
}

fn vec_dot(c: &mut Criterion) {
    let mut g = c.benchmark_group("vec_dot_4096");
    for ty in QuantType::ALL {
        let vt = ty.vec_dot_type();
        let mut xq = vec![0u8; ty.row_bytes(N)];
        reference::quantize_row_ref(ty, &data(N, 1), &mut xq);
        let mut yq = vec![0u8; vt.row_bytes(N)];
        reference::quantize_row_ref(vt, &data(N, 2), &mut yq);
        g.throughput(Throughput::Bytes(xq.len() as u64));
        for k in kernel_variants(ty) {
            g.bench_with_input(BenchmarkId::new(ty.name(), k.isa), &k, |b, k| {
                b.iter(|| (k.vec_dot)(N, black_box(&xq), black_box(&yq)))
            });
        }
    }
    g.finish();
}

/// Types with multi-token kernels (prefill weight types).
const X4_TYPES: [QuantType; 7] = [
    QuantType::Q4_0,
    QuantType::Q4_1,
    QuantType::Q5_0,
    QuantType::Q8_0,
    QuantType::Q4_K,
    QuantType::Q5_K,
    QuantType::Q6_K,
];

/// One weight row against four activation rows: four `vec_dot` calls vs one
/// `vec_dot_x4` (weights decoded once). Throughput counts the weight bytes 4×.
fn vec_dot_x4(c: &mut Criterion) {
    let mut g = c.benchmark_group("vec_dot_x4_4096");
    for ty in X4_TYPES {
        let vt = ty.vec_dot_type();
        let mut xq = vec![0u8; ty.row_bytes(N)];
        reference::quantize_row_ref(ty, &data(N, 1), &mut xq);
        let ys: Vec<Vec<u8>> = (0..4)
            .map(|t| {
                let mut yq = vec![0u8; vt.row_bytes(N)];
                reference::quantize_row_ref(vt, &data(N, 2 + t), &mut yq);
                yq
            })
            .collect();
        let ys = [&ys[0][..], &ys[1][..], &ys[2][..], &ys[3][..]];
        g.throughput(Throughput::Bytes(4 * xq.len() as u64));
        let k = *kernel_variants(ty).last().unwrap();
        g.bench_function(BenchmarkId::new(ty.name(), "4x vec_dot"), |b| {
            b.iter(|| black_box(ys).map(|y| (k.vec_dot)(N, black_box(&xq), y)))
        });
        g.bench_function(BenchmarkId::new(ty.name(), "x4"), |b| {
            b.iter(|| vec_dot_x4_with(&k, N, black_box(&xq), black_box(ys)))
        });
        if ty == QuantType::Q4_K {
            // The repacked (`q4_K_8x8`) GEMM order of matrices with 8k rows.
            let k = kernels_for(ty, 8, 4);
            g.bench_function(BenchmarkId::new(ty.name(), "4x gemm-order"), |b| {
                b.iter(|| {
                    black_box(ys).map(|y| vec_dot_q4_k_interleaved_gemm(N, black_box(&xq), y))
                })
            });
            g.bench_function(BenchmarkId::new(ty.name(), "gemm-order x4"), |b| {
                b.iter(|| vec_dot_x4_with(k, N, black_box(&xq), black_box(ys)))
            });
        }
    }
    g.finish();
}

/// A prefill-shaped matmul on one thread: 2048 × 640 weights, 128 tokens.
fn matmul_prefill(c: &mut Criterion) {
    let mut g = c.benchmark_group("matmul_2048x640_t128");
    let (n_rows, n_cols, n_tok) = (2048, 640, 128);
    let pool = ThreadPool::new(1);
    for ty in X4_TYPES {
        let n_cols = if ty.block_size() == 256 { 768 } else { n_cols };
        let mut wq = vec![0u8; ty.row_bytes(n_cols) * n_rows];
        reference::quantize_row_ref(ty, &data(n_rows * n_cols, 5), &mut wq);
        let w = QMatrix::new(ty, &wq, n_rows, n_cols).unwrap();
        let x = data(n_tok * n_cols, 6);
        let mut xq = vec![0u8; activation_bytes(ty, n_cols, n_tok)];
        quantize_acts(&pool, ty, &x, n_cols, &mut xq);
        let mut out = vec![0f32; n_rows * n_tok];
        g.throughput(Throughput::Elements((n_rows * n_cols * n_tok) as u64));
        g.bench_function(ty.name(), |b| {
            b.iter(|| matmul(&pool, w, black_box(&xq), n_tok, &mut out))
        });
    }
    g.finish();
}

fn quantize_activations(c: &mut Criterion) {
    let mut g = c.benchmark_group("quantize_4096");
    let x = data(N, 3);
    g.throughput(Throughput::Bytes((N * 4) as u64));
    for ty in [
        QuantType::Q8_0,
        QuantType::Q8_1,
        QuantType::Q8_K,
        QuantType::F16,
    ] {
        let mut q = vec![0u8; ty.row_bytes(N)];
        for k in kernel_variants(ty) {
            g.bench_with_input(BenchmarkId::new(ty.name(), k.isa), &k, |b, k| {
                b.iter(|| (k.quantize_row)(black_box(&x), black_box(&mut q)))
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(1000))
        .sample_size(20);
    targets = vec_dot, vec_dot_x4, matmul_prefill, quantize_activations
}
criterion_main!(benches);
