//! GFLOP/s of the GEMM on the training shapes: `cargo run --release
//! --example gemm_speed -p edgellm-charrnn [threads]`.

use edgellm_charrnn::gemm::{gemm, gemm_packed, Ctx, MatRef, PackedB};
use std::time::Instant;

fn main() {
    let threads: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let ctx = Ctx::new(threads);
    println!("kernel {:?}, {threads} threads", ctx.kernel);
    let shapes = [
        ("h·U per step", 64, 1024, 3072, false),
        ("x·W all steps", 9600, 256, 3072, false),
        ("dU = hᵀ·dhu", 1024, 9600, 3072, true),
    ];
    for (name, m, k, n, ta) in shapes {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0f32; m * n];
        let am = if ta {
            MatRef::new(&a, k, m).t()
        } else {
            MatRef::new(&a, m, k)
        };
        let mut packed = PackedB::new();
        let reps = (2e10 / (2.0 * (m * k * n) as f64)).ceil() as usize;
        let t0 = Instant::now();
        if m == 64 {
            packed.pack(&ctx, MatRef::new(&b, k, n));
            for _ in 0..reps {
                gemm_packed(&ctx, am, &packed, &mut c, n, false);
            }
        } else {
            for _ in 0..reps {
                gemm(
                    &ctx,
                    am,
                    MatRef::new(&b, k, n),
                    &mut c,
                    n,
                    false,
                    &mut packed,
                );
            }
        }
        let s = t0.elapsed().as_secs_f64();
        let gflops = 2.0 * (m * k * n * reps) as f64 / s / 1e9;
        println!("{name:>16} {m}x{k}x{n}: {gflops:.1} GFLOP/s ({reps} reps, {s:.2}s)");
    }
}
