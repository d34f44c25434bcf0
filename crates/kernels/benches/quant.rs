//! vec_dot throughput per type over one 4096-value row (weights resident in
//! L1/L2, so this measures the kernel, not DRAM), for every kernel set this
//! CPU has; plus the activation quantizers. Throughput is weight bytes/s.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use edgellm_kernels::quant::{kernel_variants, reference, QuantType};
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
    targets = vec_dot, quantize_activations
}
criterion_main!(benches);
