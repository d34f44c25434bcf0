//! Threaded f32 matrix products, `C (+)= A · B`, the core of training.
//!
//! The classic Goto/BLIS structure: `B` is packed into column panels of
//! [`NR`] values per `k` (zero-padded), `A` into row panels of [`MR`] values
//! per `k`, blocked by [`KC`] along `k` and [`MC`] along rows so that one
//! `A` block stays in L2 and one `B` micro-panel in L1 while a register-tiled
//! `MR × NR` micro-kernel runs over them. Operands are strided views
//! ([`MatRef`]), so `Aᵀ · B` and `A · Bᵀ` need no transposed copies: the
//! packing absorbs the strides.
//!
//! Weights that are multiplied many times per step (the recurrent kernel, once
//! per time step forward and once backward) are packed once into a
//! [`PackedB`] and reused with [`gemm_packed`].
//!
//! Threads split the output by whole row panels or whole column panels, so
//! every output element is computed by one thread in one fixed order: results
//! do not depend on the thread count. The micro-kernel is AVX2+FMA when the
//! CPU has it (detected once at run time) with [`Kernel::Scalar`] as its
//! always-compiled twin.

use edgellm_kernels::pool::{split_range, SyncPtr, ThreadPool};
use std::sync::OnceLock;

/// Rows of the register tile.
pub const MR: usize = 6;
/// Columns of the register tile (two AVX2 vectors).
pub const NR: usize = 16;
/// Depth of one packed block (a `KC × NR` B micro-panel is 16 KiB: L1).
pub const KC: usize = 256;
/// Rows of one packed A block (`MC × KC` floats = 96 KiB: L2).
pub const MC: usize = 96;
/// Columns of B packed at once by [`gemm`] (bounds the scratch memory).
pub const NC: usize = 1024;

/// A strided, read-only matrix view: element `(i, j)` is `data[i*rs + j*cs]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl<'a> MatRef<'a> {
    /// A row-major `rows × cols` matrix; panics if `data` is too short.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Self::strided(data, rows, cols, cols, 1)
    }

    /// A general strided view; panics if an element would fall outside `data`.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        if rows > 0 && cols > 0 {
            let last = (rows - 1) * rs + (cols - 1) * cs;
            assert!(last < data.len(), "matrix view out of bounds");
        }
        MatRef {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }

    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    #[inline(always)]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
}

/// Which micro-kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Portable Rust (the spec, and the fallback).
    Scalar,
    /// AVX2 + FMA (x86_64 only; [`Kernel::best`] picks it when available).
    Avx2,
}

impl Kernel {
    /// The fastest kernel this CPU supports, detected once.
    pub fn best() -> Kernel {
        static BEST: OnceLock<Kernel> = OnceLock::new();
        *BEST.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                return Kernel::Avx2;
            }
            Kernel::Scalar
        })
    }

    /// Whether this kernel can run on this CPU.
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Scalar => true,
            Kernel::Avx2 => Kernel::best() == Kernel::Avx2,
        }
    }

    fn func(self) -> MicroKernel {
        match self {
            Kernel::Scalar => kernel_ref,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => {
                assert!(self.is_available(), "AVX2+FMA not available on this CPU");
                kernel_avx2_entry
            }
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::Avx2 => panic!("AVX2 kernel on a non-x86_64 target"),
        }
    }
}

/// A thread pool plus the chosen micro-kernel: what every product needs.
pub struct Ctx {
    pub pool: ThreadPool,
    pub kernel: Kernel,
}

impl Ctx {
    /// `n_threads` threads (the caller included), the best kernel.
    pub fn new(n_threads: usize) -> Ctx {
        Ctx::with_kernel(n_threads, Kernel::best())
    }

    pub fn with_kernel(n_threads: usize, kernel: Kernel) -> Ctx {
        assert!(kernel.is_available(), "{kernel:?} not available");
        Ctx {
            pool: ThreadPool::new(n_threads),
            kernel,
        }
    }

    pub fn n_threads(&self) -> usize {
        self.pool.n_threads()
    }

    /// Runs `f(thread_idx, n_threads)` on the pool when `work` (about one
    /// unit per multiply-add or per element) pays for a barrier, else on the
    /// calling thread alone as `f(0, 1)`. On a loaded machine a barrier can
    /// cost a scheduler time slice, so small jobs stay on one thread; the
    /// results are the same either way (see the crate docs).
    pub fn run<F: Fn(usize, usize) + Sync>(&self, work: usize, f: F) {
        if work < PARALLEL_MIN_WORK || self.pool.n_threads() == 1 {
            f(0, 1);
        } else {
            self.pool.run(f);
        }
    }
}

/// Smallest job worth splitting across threads: ~1 ms of work on one core.
pub const PARALLEL_MIN_WORK: usize = 1 << 24;

/// `(kc, a_panel, b_panel, c, ldc, load)`: `c[i*ldc + j] (+)= Σ_k a[k*MR+i]·b[k*NR+j]`
/// for the full `MR × NR` tile; `load` adds to the existing `c`.
type MicroKernel = unsafe fn(usize, *const f32, *const f32, *mut f32, usize, bool);

/// The scalar micro-kernel (the spec of [`kernel_avx2`]).
///
/// # Safety
/// `a` holds `kc*MR` floats, `b` holds `kc*NR`, and `c` is valid for the full
/// `MR × NR` tile at row stride `ldc`, not accessed by another thread.
unsafe fn kernel_ref(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, load: bool) {
    // SAFETY: guaranteed by the caller.
    let (a, b) = unsafe {
        (
            std::slice::from_raw_parts(a, kc * MR),
            std::slice::from_raw_parts(b, kc * NR),
        )
    };
    let mut acc = [[0f32; NR]; MR];
    for (ak, bk) in a.chunks_exact(MR).zip(b.chunks_exact(NR)) {
        for (row, &ai) in acc.iter_mut().zip(ak) {
            for (x, &bj) in row.iter_mut().zip(bk) {
                *x += ai * bj;
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: the tile is inside `c` (caller).
        let crow = unsafe { std::slice::from_raw_parts_mut(c.add(i * ldc), NR) };
        if load {
            for (cj, &x) in crow.iter_mut().zip(row) {
                *cj += x;
            }
        } else {
            crow.copy_from_slice(row);
        }
    }
}

#[cfg(target_arch = "x86_64")]
unsafe fn kernel_avx2_entry(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    load: bool,
) {
    // SAFETY: `Kernel::func` only hands this out when AVX2+FMA were
    // detected; the pointer contract is the caller's (see `MicroKernel`).
    unsafe { kernel_avx2(kc, a, b, c, ldc, load) }
}

/// The AVX2+FMA micro-kernel: 12 accumulators (6 rows × 2 vectors of 8).
///
/// # Safety
/// As [`kernel_ref`], and the CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_avx2(
    kc: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    ldc: usize,
    load: bool,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    for k in 0..kc {
        // SAFETY: k < kc, so both panels are in bounds (caller).
        unsafe {
            let bp = b.add(k * NR);
            let b0 = _mm256_loadu_ps(bp);
            let b1 = _mm256_loadu_ps(bp.add(8));
            let ap = a.add(k * MR);
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*ap.add(i));
                row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
            }
        }
    }
    for (i, row) in acc.iter().enumerate() {
        // SAFETY: the tile is inside `c` (caller).
        unsafe {
            let cp = c.add(i * ldc);
            let (mut r0, mut r1) = (row[0], row[1]);
            if load {
                r0 = _mm256_add_ps(r0, _mm256_loadu_ps(cp));
                r1 = _mm256_add_ps(r1, _mm256_loadu_ps(cp.add(8)));
            }
            _mm256_storeu_ps(cp, r0);
            _mm256_storeu_ps(cp.add(8), r1);
        }
    }
}

/// `B` packed for [`gemm_packed`]: for each `KC` block of rows, `⌈n/NR⌉`
/// panels of `kc × NR` values (row `k` of a panel holds `NR` consecutive
/// columns, zero-padded past `n`).
#[derive(Default, Clone)]
pub struct PackedB {
    k: usize,
    n: usize,
    n_panels: usize,
    data: Vec<f32>,
}

impl PackedB {
    pub fn new() -> PackedB {
        PackedB::default()
    }

    /// Packs `b` (reusing this buffer's memory), in parallel.
    pub fn pack(&mut self, ctx: &Ctx, b: MatRef<'_>) {
        self.k = b.rows;
        self.n = b.cols;
        self.n_panels = b.cols.div_ceil(NR);
        let len = self.k * self.n_panels * NR;
        self.data.resize(len, 0.0);
        let n_panels = self.n_panels;
        let k = self.k;
        let dst = SyncPtr::new(&mut self.data);
        ctx.run(len, |t, nt| {
            for j in split_range(n_panels, t, nt, 1) {
                for k0 in (0..k).step_by(KC) {
                    let kc = KC.min(k - k0);
                    let off = k0 * n_panels * NR + j * kc * NR;
                    // SAFETY: panel `j` of block `k0` is written by the one
                    // thread that owns `j`; ranges of different panels are
                    // disjoint and inside `data` (len = k * n_panels * NR).
                    let panel = unsafe { dst.slice(off, kc * NR) };
                    pack_b_panel(b, k0, kc, j * NR, panel);
                }
            }
        });
    }

    fn panel(&self, k0: usize, kc: usize, j: usize) -> &[f32] {
        let off = k0 * self.n_panels * NR + j * kc * NR;
        &self.data[off..off + kc * NR]
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn n(&self) -> usize {
        self.n
    }
}

fn pack_b_panel(b: MatRef<'_>, k0: usize, kc: usize, j0: usize, dst: &mut [f32]) {
    let nr = NR.min(b.cols - j0);
    for (kk, row) in dst.chunks_exact_mut(NR).enumerate().take(kc) {
        let k = k0 + kk;
        if b.cs == 1 {
            let s = k * b.rs + j0;
            row[..nr].copy_from_slice(&b.data[s..s + nr]);
        } else {
            for (jj, x) in row[..nr].iter_mut().enumerate() {
                *x = b.at(k, j0 + jj);
            }
        }
        row[nr..].fill(0.0);
    }
}

/// Packs rows `i0..i0+mc` × columns `k0..k0+kc` of `a` into `MR`-row panels.
fn pack_a(a: MatRef<'_>, i0: usize, mc: usize, k0: usize, kc: usize, dst: &mut [f32]) {
    for (p, panel) in dst
        .chunks_exact_mut(kc * MR)
        .enumerate()
        .take(mc.div_ceil(MR))
    {
        let r0 = i0 + p * MR;
        let mr = MR.min(i0 + mc - r0);
        if a.cs == 1 {
            for ii in 0..MR {
                if ii < mr {
                    let s = (r0 + ii) * a.rs + k0;
                    for (kk, &x) in a.data[s..s + kc].iter().enumerate() {
                        panel[kk * MR + ii] = x;
                    }
                } else {
                    for kk in 0..kc {
                        panel[kk * MR + ii] = 0.0;
                    }
                }
            }
        } else {
            for (kk, col) in panel.chunks_exact_mut(MR).enumerate() {
                for (ii, x) in col.iter_mut().enumerate() {
                    *x = if ii < mr { a.at(r0 + ii, k0 + kk) } else { 0.0 };
                }
            }
        }
    }
}

/// `C (+)= A · B` with `B` already packed. `C` is row-major with row stride
/// `ldc` (`ldc ≥ n`); with `accumulate` the product is added to `C`.
pub fn gemm_packed(
    ctx: &Ctx,
    a: MatRef<'_>,
    b: &PackedB,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    let (m, k, n) = (a.rows, b.k, b.n);
    assert_eq!(a.cols, k, "inner dimensions differ");
    assert!(ldc >= n);
    if m == 0 || n == 0 {
        return;
    }
    assert!(c.len() >= (m - 1) * ldc + n, "C too small");
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(ldc).take(m) {
                row[..n].fill(0.0);
            }
        }
        return;
    }
    let kernel = ctx.kernel.func();
    let n_panels = b.n_panels;
    // Split along whichever side has more register tiles.
    let split_n = n_panels >= m.div_ceil(MR);
    let cptr = SyncPtr::new(c);
    ctx.run(m * n * k, |t, nt| {
        let (rows, panels) = if split_n {
            (0..m, split_range(n_panels, t, nt, 1))
        } else {
            (split_range(m, t, nt, MR), 0..n_panels)
        };
        if rows.is_empty() || panels.is_empty() {
            return;
        }
        let mut abuf = vec![0f32; MC.min(rows.len().div_ceil(MR) * MR) * KC.min(k)];
        let mut tile = [0f32; MR * NR];
        for k0 in (0..k).step_by(KC) {
            let kc = KC.min(k - k0);
            let load = accumulate || k0 > 0;
            for i0 in rows.clone().step_by(MC) {
                let mc = MC.min(rows.end - i0);
                pack_a(a, i0, mc, k0, kc, &mut abuf);
                for j in panels.clone() {
                    let bp = b.panel(k0, kc, j).as_ptr();
                    let nr = NR.min(n - j * NR);
                    for p in 0..mc.div_ceil(MR) {
                        let i = i0 + p * MR;
                        let mr = MR.min(i0 + mc - i);
                        let ap = abuf[p * kc * MR..].as_ptr();
                        if mr == MR && nr == NR {
                            // SAFETY: the tile rows i..i+MR, columns
                            // j*NR..j*NR+NR are inside C (checked length) and
                            // owned by this thread alone (disjoint row or
                            // panel ranges per thread); panels hold kc*MR and
                            // kc*NR floats.
                            unsafe {
                                let cp = base(&cptr).add(i * ldc + j * NR);
                                kernel(kc, ap, bp, cp, ldc, load);
                            }
                        } else {
                            // Edge tile: run on a local tile, copy the valid part.
                            // SAFETY: as above for the valid part only.
                            let cbase = unsafe { base(&cptr).add(i * ldc + j * NR) };
                            if load {
                                for ii in 0..mr {
                                    for jj in 0..nr {
                                        // SAFETY: (ii, jj) is inside the valid part.
                                        tile[ii * NR + jj] = unsafe { *cbase.add(ii * ldc + jj) };
                                    }
                                }
                            }
                            // SAFETY: `tile` is a full MR×NR tile with stride NR.
                            unsafe { kernel(kc, ap, bp, tile.as_mut_ptr(), NR, load) };
                            for ii in 0..mr {
                                for jj in 0..nr {
                                    // SAFETY: (ii, jj) is inside the valid part.
                                    unsafe { *cbase.add(ii * ldc + jj) = tile[ii * NR + jj] };
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

/// `C (+)= A · B` for strided `A` and `B`; packs `B` slab by slab into
/// `scratch` (reused across calls, at most `k × NC` floats).
pub fn gemm(
    ctx: &Ctx,
    a: MatRef<'_>,
    b: MatRef<'_>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    scratch: &mut PackedB,
) {
    assert_eq!(a.cols, b.rows, "inner dimensions differ");
    let n = b.cols;
    if n == 0 || a.rows == 0 {
        return;
    }
    for j0 in (0..n).step_by(NC) {
        let nc = NC.min(n - j0);
        let slab = MatRef {
            data: &b.data[j0 * b.cs..],
            rows: b.rows,
            cols: nc,
            rs: b.rs,
            cs: b.cs,
        };
        scratch.pack(ctx, slab);
        gemm_packed(ctx, a, scratch, &mut c[j0..], ldc, accumulate);
    }
}

/// The raw pointer of a [`SyncPtr`], through a function so closures capture
/// the whole (`Sync`) wrapper rather than its `*mut` field.
fn base(p: &SyncPtr<f32>) -> *mut f32 {
    p.0
}

/// The textbook triple loop in f64, for tests.
pub fn gemm_naive(a: MatRef<'_>, b: MatRef<'_>, c: &mut [f32], ldc: usize, accumulate: bool) {
    assert_eq!(a.cols, b.rows);
    for i in 0..a.rows {
        for j in 0..b.cols {
            let mut s = 0f64;
            for k in 0..a.cols {
                s += a.at(i, k) as f64 * b.at(k, j) as f64;
            }
            let cij = &mut c[i * ldc + j];
            *cij = if accumulate {
                *cij + s as f32
            } else {
                s as f32
            };
        }
    }
}
