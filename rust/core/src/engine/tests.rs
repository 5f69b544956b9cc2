//! Products against a plain reference at every level, layout and thread count.

use super::*;
use crate::Float;
use ndarray::{s, Array2, ShapeBuilder};

fn rand(r: usize, c: usize, seed: u64) -> Array2<f64> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Array2::from_shape_simple_fn((r, c), || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    })
}

/// Exact-enough reference: f64 sums of products, then `alpha * s + beta * c`.
fn reference(
    alpha: f64,
    a: &Array2<f64>,
    b: &Array2<f64>,
    beta: f64,
    c: &Array2<f64>,
) -> Array2<f64> {
    let mut out = a.dot(b) * alpha;
    if beta != 0.0 {
        out = out + c * beta;
    }
    out
}

/// The same logical matrix in F order.
fn fortran<T: Copy + num_traits::Zero>(x: &Array2<T>) -> Array2<T> {
    let mut y = Array2::zeros(x.raw_dim().f());
    y.assign(x);
    y
}

/// Runs [`gemm()`] on `a`, `b`, `c` stored as `variant` says: 0 as given, 1 as views with
/// positive non-unit strides, 2 as views with negative strides. Returns the new `c`.
fn gemm_in<T: Float>(
    variant: usize,
    alpha: T,
    a: &Array2<T>,
    b: &Array2<T>,
    beta: T,
    c: &Array2<T>,
) -> Array2<T> {
    let (m, k) = a.dim();
    let n = b.ncols();
    match variant {
        0 => {
            let mut c = c.clone();
            gemm(alpha, &a.view(), &b.view(), beta, &mut c.view_mut());
            c
        }
        1 => {
            let mut ap = Array2::<T>::zeros((2 * m, k + 1));
            ap.slice_mut(s![..;2, 1..]).assign(a);
            let mut bp = Array2::<T>::zeros((k, 3 * n));
            bp.slice_mut(s![.., ..;3]).assign(b);
            let mut cp = Array2::<T>::from_elem((m, 2 * n), T::nan());
            cp.slice_mut(s![.., ..;2]).assign(c);
            gemm(
                alpha,
                &ap.slice(s![..;2, 1..]),
                &bp.slice(s![.., ..;3]),
                beta,
                &mut cp.slice_mut(s![.., ..;2]),
            );
            cp.slice(s![.., ..;2]).to_owned()
        }
        _ => {
            let mut ap = Array2::<T>::zeros((2 * m, k + 1));
            ap.slice_mut(s![..;-2, 1..]).assign(a);
            let mut cp = Array2::<T>::from_elem((m, 2 * n), T::nan());
            cp.slice_mut(s![.., ..;-2]).assign(c);
            gemm(
                alpha,
                &ap.slice(s![..;-2, 1..]),
                &b.slice(s![..;-1, ..;-1]).slice(s![..;-1, ..;-1]),
                beta,
                &mut cp.slice_mut(s![.., ..;-2]),
            );
            cp.slice(s![.., ..;-2]).to_owned()
        }
    }
}

/// Every layout of `a`, `b`, `c` (standard, transposed, strided, reversed) for f32 and f64,
/// including sizes that leave partial tiles and empty dimensions.
#[test]
fn matches_reference_in_every_layout() {
    let shapes = [
        (0, 3, 4),
        (3, 0, 4),
        (3, 4, 0),
        (1, 1, 1),
        (1, 37, 19),
        (37, 1, 19),
        (7, 13, 33),
        (32, 64, 17),
        (45, 70, 130),
        (130, 50, 64),
        (20, 300, 300),
        (5, 64, 3),
        (16, 130, 70),
        (16, 300, 300),
        (3, 45, 200),
        (2, 70, 9),
    ];
    for isa in supported() {
        with_max_isa(Some(isa), || every_layout(&shapes, isa));
    }
}

fn every_layout(shapes: &[(usize, usize, usize)], isa: Isa) {
    for (si, &(m, n, k)) in shapes.iter().enumerate() {
        let a64 = rand(m, k, si as u64 * 100 + 1);
        let b64 = rand(k, n, si as u64 * 100 + 2);
        let c64 = rand(m, n, si as u64 * 100 + 3);
        for layout in 0..24 {
            let (ta, tb, tc, variant) = (
                layout & 1 != 0,
                layout & 2 != 0,
                layout & 4 != 0,
                layout / 8,
            );
            for &(alpha, beta) in &[(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0)] {
                let want = reference(alpha, &a64, &b64, beta, &c64);
                macro_rules! check {
                    ($t:ty, $tol:expr) => {{
                        let conv = |x: &Array2<f64>, f: bool| {
                            let y = x.mapv(|v| v as $t);
                            if f { fortran(&y) } else { y }
                        };
                        let (a, b, c) = (conv(&a64, ta), conv(&b64, tb), conv(&c64, tc));
                        let got = gemm_in(variant, alpha as $t, &a, &b, beta as $t, &c);
                        for ((i, j), &g) in got.indexed_iter() {
                            let w = want[(i, j)];
                            assert!(
                                (g as f64 - w).abs() <= $tol * (1.0 + w.abs()) * (k as f64 + 1.0).sqrt(),
                                "{} {isa} ({m},{n},{k}) layout {layout} alpha {alpha} beta {beta} [{i},{j}]: {g} vs {w}",
                                stringify!($t)
                            );
                        }
                    }};
                }
                check!(f32, 1e-5);
                check!(f64, 1e-13);
            }
        }
    }
}

/// `beta = 0` must not read `c`: NaN there does not propagate.
#[test]
fn beta_zero_ignores_c() {
    for isa in supported() {
        with_max_isa(Some(isa), beta_zero_ignores_c_at);
    }
}

fn beta_zero_ignores_c_at() {
    for &(m, n, k) in &[
        (1, 64, 64),
        (32, 64, 64),
        (64, 32, 20),
        (200, 200, 40),
        (3, 70, 300),
    ] {
        let a = rand(m, k, 1).mapv(|v| v as f32);
        let w = rand(n, k, 2).mapv(|v| v as f32);
        let b = rand(k, n, 3).mapv(|v| v as f32);
        let mut c = Array2::from_elem((m, n), f32::NAN);
        gemm(1.0, &a.view(), &w.t(), 0.0, &mut c.view_mut());
        assert!(c.iter().all(|v| v.is_finite()));
        let mut c = Array2::from_elem((m, n), f32::NAN);
        gemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
        assert!(c.iter().all(|v| v.is_finite()));
    }
}

/// Products big enough to be split give bit-identical results on repeats and for any
/// number of threads. (One test, as it changes the global thread count.)
#[test]
fn deterministic_across_repeats_and_thread_counts() {
    assert!(num_threads() >= 1);
    set_num_threads(3);
    assert_eq!(num_threads(), 3);
    set_num_threads(0);
    assert!((1..=2).contains(&num_threads()));
    for isa in supported() {
        with_max_isa(Some(isa), deterministic_at);
    }
}

fn deterministic_at() {
    let shapes = [
        (32, 512, 512),
        (512, 512, 1120),
        (1120, 28, 512),
        (28, 512, 1120),
        (1120, 512, 28),
    ];
    for &(m, n, k) in &shapes {
        for &(ta, tb) in &[(false, true), (false, false), (true, false)] {
            let a = if ta {
                rand(k, m, 5).reversed_axes()
            } else {
                rand(m, k, 5)
            }
            .mapv(|v| v as f32);
            let b = if tb {
                rand(n, k, 6).reversed_axes()
            } else {
                rand(k, n, 6)
            }
            .mapv(|v| v as f32);
            let c0 = rand(m, n, 7).mapv(|v| v as f32);
            let run = |threads: usize| {
                let mut c = c0.clone();
                set_num_threads(threads);
                gemm(1.0, &a.view(), &b.view(), 1.0, &mut c.view_mut());
                c
            };
            let one = run(1);
            for threads in [2, 3, 2, 1] {
                let got = run(threads);
                assert!(
                    got.iter()
                        .zip(&one)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{} ({m},{n},{k}) ta {ta} tb {tb}: {threads} threads differ from 1",
                    current()
                );
            }
            set_num_threads(0);
        }
    }
}

/// Threads calling [`gemm()`] at once (all but one find the helpers busy and compute alone)
/// all get the single-threaded result.
#[test]
fn concurrent_callers_agree() {
    let (m, n, k) = (64, 512, 300);
    let a = rand(m, k, 11).mapv(|v| v as f32);
    let w = rand(n, k, 12).mapv(|v| v as f32);
    let mut want = Array2::<f32>::zeros((m, n));
    gemm(1.0, &a.view(), &w.t(), 0.0, &mut want.view_mut());
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..20 {
                    let mut c = Array2::<f32>::zeros((m, n));
                    gemm(1.0, &a.view(), &w.t(), 0.0, &mut c.view_mut());
                    assert!(c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()));
                }
            });
        }
    });
}

/// The products of the recurrence go to the kernels made for them at every level: dot
/// products forward, broadcasts backward, and the general kernel for the weight gradient.
#[test]
fn recurrence_shapes_take_their_kernels() {
    let (batch, hidden, n) = (16, 256, 35 * 16);
    let h = Array2::<f32>::zeros((batch, hidden));
    let w = Array2::<f32>::zeros((hidden, hidden));
    let hs = Array2::<f32>::zeros((n, hidden));
    let mat = |x: &ndarray::ArrayView2<'_, f32>| {
        let s = x.strides();
        product::Mat {
            ptr: x.as_ptr() as *mut f32,
            rs: s[0].max(1),
            cs: s[1].max(1),
        }
    };
    let plan = |a: ndarray::ArrayView2<'_, f32>, b: ndarray::ArrayView2<'_, f32>, isa: Isa| {
        let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
        let c = Array2::<f32>::zeros((m, n));
        let p = product::Product {
            m,
            n,
            k,
            a: mat(&a),
            b: mat(&b),
            c: mat(&c.view()),
        };
        <f32 as product::Scalar>::plan(&p, isa)
    };
    for isa in supported() {
        assert_eq!(
            plan(h.view(), w.t(), isa),
            product::Kernel::Dot(isa),
            "{isa} forward"
        );
        assert_eq!(
            plan(h.view(), w.view(), isa),
            product::Kernel::Axpy(isa),
            "{isa} backward"
        );
        let general = plan(hs.t(), hs.view(), isa);
        assert!(
            matches!(
                general,
                product::Kernel::Crate(_) | product::Kernel::Packed(_)
            ),
            "{isa} weight gradient: {general:?}"
        );
    }
}

#[test]
fn transpose_matches_the_view() {
    for &(m, n) in &[(0, 3), (1, 1), (31, 33), (64, 64), (70, 129)] {
        let a = rand(m, n, 9);
        assert_eq!(transpose(a.view()), a.t());
    }
}

/// Prepared recurrent weights (copies, strips) give the products of the plain views at every
/// level, for both passes, with ragged sizes and products split across threads.
#[test]
fn recurrent_weights_match_plain_products() {
    for isa in supported() {
        with_max_isa(Some(isa), || {
            for &(batch, hidden) in &[(1, 40), (3, 520), (16, 520), (16, 1030), (40, 64)] {
                let w = rand(hidden, hidden, 21).mapv(|v| v as f32);
                let h = rand(batch, hidden, 22).mapv(|v| v as f32);
                let c0 = rand(batch, hidden, 23).mapv(|v| v as f32);
                for pass in [Pass::Forward, Pass::Backward] {
                    let b = match pass {
                        Pass::Forward => w.t(),
                        Pass::Backward => w.view(),
                    };
                    let prepared = Recurrent::new(b, batch, pass);
                    for beta in [0.0, 1.0] {
                        let mut want = c0.clone();
                        gemm(1.0, &h.view(), &b, beta, &mut want.view_mut());
                        let mut got = c0.clone();
                        prepared.gemm(1.0, &h.view(), beta, &mut got.view_mut());
                        for (g, w) in got.iter().zip(&want) {
                            assert!(
                                (g - w).abs() <= 1e-4 * (1.0 + w.abs()),
                                "{isa} {pass:?} ({batch}, {hidden}) beta {beta}: {g} vs {w}"
                            );
                        }
                    }
                }
            }
        });
    }
}
