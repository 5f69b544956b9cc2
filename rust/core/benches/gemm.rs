//! Matrix products of the shapes seqrnn runs, through several engines (f32).
//!
//! `cargo bench -p seqrnn --bench gemm [-- FILTER]`. Throughput is reported in elements per
//! second where one element is one flop (`2 m n k` per product), so `Gelem/s` reads as GFLOP/s.
//!
//! Engines:
//! - `ndarray`: `ndarray::linalg::general_mat_mul` (the `matrixmultiply` crate), the engine
//!   `seqrnn::engine::gemm` used before;
//! - `gemm-1t`, `gemm-rayon2`: the `gemm` crate called directly, single-threaded and with
//!   `Parallelism::Rayon(2)`;
//! - `seqrnn-1t`, `seqrnn-2t`: `seqrnn::engine::gemm` with 1 and 2 threads.
//!
//! Shapes (row-major; `^T` is a transposed view), with `N = steps * batch = 35 * 32`:
//! - `fwd`: `h (B, H) @ W_hh^T`, `beta = 1` (the forward time step; B = 1 is generation);
//! - `bwd`: `dz (B, H) @ W_hh` (the backward time step);
//! - `dW`: `dz^T (H, N) @ h (N, H)` (weight gradient);
//! - `logits`: `h (N, H) @ W_out^T (H, V)`, V = 28;
//! - `dWout`: `dy^T (V, N) @ h (N, H)`;
//! - `dx`: `dy (N, V) @ W_out (V, H)`;
//! - `gen-logits`: `h (1, H) @ W_out^T`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::hint::black_box;
use std::time::Duration;

const V: usize = 28;
const N: usize = 35 * 32;

fn random(rows: usize, cols: usize, seed: u64) -> Array2<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_simple_fn((rows, cols), || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    })
}

/// One product: `c (m, n) = a @ b + beta * c`; `a` is stored transposed when `ta`, `b` when `tb`.
struct Shape {
    name: String,
    m: usize,
    n: usize,
    k: usize,
    ta: bool,
    tb: bool,
    beta: f32,
}

fn shapes() -> Vec<Shape> {
    let mut out = Vec::new();
    let mut add = |name: String, m, n, k, ta, tb, beta| {
        out.push(Shape {
            name,
            m,
            n,
            k,
            ta,
            tb,
            beta,
        })
    };
    for h in [128, 256, 512, 1024] {
        for b in [1, 32, 64, 128] {
            add(format!("fwd/B{b}/H{h}"), b, h, h, false, true, 1.0);
            add(format!("bwd/B{b}/H{h}"), b, h, h, false, false, 0.0);
        }
        add(format!("dW/H{h}"), h, h, N, true, false, 0.0);
        add(format!("logits/H{h}"), N, V, h, false, true, 0.0);
        add(format!("dWout/H{h}"), V, h, N, true, false, 0.0);
        add(format!("dx/H{h}"), N, h, V, false, false, 0.0);
        add(format!("gen-logits/H{h}"), 1, V, h, false, true, 0.0);
    }
    out
}

fn gemm_crate(
    a: &ArrayView2<'_, f32>,
    b: &ArrayView2<'_, f32>,
    beta: f32,
    c: &mut ArrayViewMut2<'_, f32>,
    parallelism: gemm::Parallelism,
) {
    let ((m, k), n) = (a.dim(), b.ncols());
    let (rs, cs) = (c.strides()[0], c.strides()[1]);
    // SAFETY: the views are valid for these shapes and strides and `c` overlaps neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            cs,
            rs,
            beta != 0.0,
            a.as_ptr(),
            a.strides()[1],
            a.strides()[0],
            b.as_ptr(),
            b.strides()[1],
            b.strides()[0],
            beta,
            1.0,
            false,
            false,
            false,
            parallelism,
        )
    }
}

const ENGINES: [&str; 5] = [
    "ndarray",
    "gemm-1t",
    "gemm-rayon2",
    "seqrnn-1t",
    "seqrnn-2t",
];

fn bench(cr: &mut Criterion) {
    for s in shapes() {
        let a0 = if s.ta {
            random(s.k, s.m, 1)
        } else {
            random(s.m, s.k, 1)
        };
        let b0 = if s.tb {
            random(s.n, s.k, 2)
        } else {
            random(s.k, s.n, 2)
        };
        let a = if s.ta { a0.t() } else { a0.view() };
        let b = if s.tb { b0.t() } else { b0.view() };
        let mut c = random(s.m, s.n, 3) * 1e-3;
        let mut group = cr.benchmark_group(&s.name);
        group.throughput(Throughput::Elements(2 * (s.m * s.n * s.k) as u64));
        for engine in ENGINES {
            group.bench_function(BenchmarkId::from_parameter(engine), |bn| {
                let threads = if engine == "seqrnn-2t" { 2 } else { 1 };
                seqrnn::engine::set_num_threads(threads);
                bn.iter(|| {
                    let mut cv = c.view_mut();
                    match engine {
                        "ndarray" => ndarray::linalg::general_mat_mul(1.0, &a, &b, s.beta, &mut cv),
                        "gemm-1t" => gemm_crate(&a, &b, s.beta, &mut cv, gemm::Parallelism::None),
                        "gemm-rayon2" => {
                            gemm_crate(&a, &b, s.beta, &mut cv, gemm::Parallelism::Rayon(2))
                        }
                        _ => seqrnn::engine::gemm(1.0, &a, &b, s.beta, &mut cv),
                    }
                    black_box(&mut c);
                });
                seqrnn::engine::set_num_threads(0);
            });
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(20);
    targets = bench
}
criterion_main!(benches);
