//! AVX2 + FMA kernels (`f32`, 8 lanes) for the products the general kernels would repack on
//! every call: [`dot_nt`] (both operands contiguous along `k`: the forward recurrence) and
//! [`axpy_nn`] (few rows of `a`, `b` and `c` contiguous along `n`: the backward recurrence,
//! batch 1). The same tiling as the AVX-512 kernels, sized for 16 vector registers.

use super::product::Product;
use std::arch::x86_64::*;

/// Rows of `a` per dot-product tile.
const DOT_MR: usize = 2;
/// Rows of `w` (columns of `c`) per dot-product tile.
const DOT_NR: usize = 6;
/// Rows of `a` per broadcast tile.
const AXPY_MR: usize = 6;
/// Vectors of 8 columns per broadcast tile.
const AXPY_V: usize = 2;

/// A mask selecting the first `n` (0..=8) lanes, for `_mm256_maskload_ps`/`maskstore`.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn lanes(n: usize) -> __m256i {
    let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), idx)
}

/// The sums of the lanes of `a`, `b`, `c`, `d`, in that order.
#[inline]
#[target_feature(enable = "avx2,fma")]
fn sum4(a: __m256, b: __m256, c: __m256, d: __m256) -> __m128 {
    // [a01, a23, b01, b23 | a45, a67, b45, b67], and the same for c, d.
    let ab = _mm256_hadd_ps(a, b);
    let cd = _mm256_hadd_ps(c, d);
    // [a0123, b0123, c0123, d0123 | a4567, b4567, c4567, d4567]
    let x = _mm256_hadd_ps(ab, cd);
    _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps::<1>(x))
}

/// One `R` x `C` tile of `c = alpha * a @ w^T + beta * c` (`R <= DOT_MR`, `C <= DOT_NR`).
///
/// # Safety
/// `a` rows `0..R` and `w` rows `0..C` must hold `k` contiguous elements each, and `c` must
/// be valid at `(i, j)` for `i < R`, `j < C`; the CPU must support AVX2 and FMA.
// Indexed loops over the constant tile sizes: unrolled, the accumulators stay in registers.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_tile<const R: usize, const C: usize>(
    k: usize,
    a: *const f32,
    lda: isize,
    w: *const f32,
    ldw: isize,
    c: *mut f32,
    rsc: isize,
    csc: isize,
    alpha: f32,
    beta: f32,
) {
    let mut acc = [[_mm256_setzero_ps(); 8]; R];
    let mut p = 0;
    // SAFETY: every load reads elements `p..p + 8` (`p..k` when masked) of a row.
    unsafe {
        while p + 8 <= k {
            let mut av = [_mm256_setzero_ps(); R];
            for (i, v) in av.iter_mut().enumerate() {
                *v = _mm256_loadu_ps(a.offset(i as isize * lda).add(p));
            }
            for j in 0..C {
                let wv = _mm256_loadu_ps(w.offset(j as isize * ldw).add(p));
                for i in 0..R {
                    acc[i][j] = _mm256_fmadd_ps(av[i], wv, acc[i][j]);
                }
            }
            p += 8;
        }
        if p < k {
            let mask = lanes(k - p);
            let mut av = [_mm256_setzero_ps(); R];
            for (i, v) in av.iter_mut().enumerate() {
                *v = _mm256_maskload_ps(a.offset(i as isize * lda).add(p), mask);
            }
            for j in 0..C {
                let wv = _mm256_maskload_ps(w.offset(j as isize * ldw).add(p), mask);
                for i in 0..R {
                    acc[i][j] = _mm256_fmadd_ps(av[i], wv, acc[i][j]);
                }
            }
        }
    }
    let alphav = _mm_set1_ps(alpha);
    for (i, row) in acc.iter().enumerate() {
        let dst = c.wrapping_offset(i as isize * rsc);
        for j0 in (0..C).step_by(4) {
            let s = _mm_mul_ps(alphav, sum4(row[j0], row[j0 + 1], row[j0 + 2], row[j0 + 3]));
            let d = dst.wrapping_offset(j0 as isize * csc);
            // SAFETY: `c` is valid at (i, j0..C).
            unsafe {
                if j0 + 4 <= C && csc == 1 {
                    let r = if beta == 0.0 {
                        s
                    } else {
                        _mm_fmadd_ps(_mm_set1_ps(beta), _mm_loadu_ps(d), s)
                    };
                    _mm_storeu_ps(d, r);
                } else {
                    let mut out = [0f32; 4];
                    _mm_storeu_ps(out.as_mut_ptr(), s);
                    for (j, &x) in out.iter().enumerate().take(C - j0) {
                        let e = d.offset(j as isize * csc);
                        *e = if beta == 0.0 { x } else { beta.mul_add(*e, x) };
                    }
                }
            }
        }
    }
}

/// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c` with both operands contiguous along
/// `k`, as tiles of blocked dot products (no copy of `b`); `c` is not read when `beta` is 0.
/// Each element sums 8 strided partial sums in a fixed order.
///
/// # Safety
/// The operands must be valid for the product's shapes and strides, `c` must overlap neither
/// input, `a.cs == 1`, `b.rs == 1` (or `k == 1`), and the CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dot_nt(p: Product<f32>, alpha: f32, beta: f32) {
    // `b (k, n)` with unit row stride is `w (n, k)` with row stride `b.cs`.
    let (a, lda, w, ldw, c) = (p.a.ptr, p.a.rs, p.b.ptr, p.b.cs, p.c);
    let one = |i: usize, j: usize| {
        let (ap, wp) = (
            a.wrapping_offset(i as isize * lda),
            w.wrapping_offset(j as isize * ldw),
        );
        let cp = c.at(i, j).ptr;
        let (r, cols) = (DOT_MR.min(p.m - i), DOT_NR.min(p.n - j));
        macro_rules! go {
            ($r:literal, $c:literal) => {
                // SAFETY: the tile lies inside the operands.
                unsafe { dot_tile::<$r, $c>(p.k, ap, lda, wp, ldw, cp, c.rs, c.cs, alpha, beta) }
            };
        }
        macro_rules! cols {
            ($r:literal) => {
                match cols {
                    1 => go!($r, 1),
                    2 => go!($r, 2),
                    3 => go!($r, 3),
                    4 => go!($r, 4),
                    5 => go!($r, 5),
                    _ => go!($r, 6),
                }
            };
        }
        match r {
            1 => cols!(1),
            _ => cols!(2),
        }
    };
    // Keep the smaller operand's panel in cache while streaming the other once.
    if p.m <= p.n {
        for j in (0..p.n).step_by(DOT_NR) {
            for i in (0..p.m).step_by(DOT_MR) {
                one(i, j);
            }
        }
    } else {
        for i in (0..p.m).step_by(DOT_MR) {
            for j in (0..p.n).step_by(DOT_NR) {
                one(i, j);
            }
        }
    }
}

/// `c[i, ..8V] = alpha * sum_p a[i, p] * b[p, ..8V] + beta * c[i, ..]` for `R` rows, the
/// last of the `V` vectors of columns masked by `last` if `RAGGED`; `p` runs in order.
///
/// # Safety
/// The operands must be valid for these shapes and strides, `b` and `c` with unit stride
/// along `n`; the CPU must support AVX2 and FMA.
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_tile<const R: usize, const V: usize, const RAGGED: bool>(
    k: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    ldb: isize,
    c: *mut f32,
    rsc: isize,
    last: __m256i,
    alpha: f32,
    beta: f32,
) {
    // Masked loads and stores are slow on some CPUs: only the last vector of a ragged tile
    // uses them.
    let masked = |v: usize| v + 1 == V && RAGGED;
    let mut acc = [[_mm256_setzero_ps(); V]; R];
    // SAFETY: rows `0..R` of `a` and `c`, rows `0..k` of `b`, the masked columns.
    unsafe {
        for p in 0..k {
            let brow = b.offset(p as isize * ldb);
            let mut bv = [_mm256_setzero_ps(); V];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = if masked(v) {
                    _mm256_maskload_ps(brow.add(8 * v), last)
                } else {
                    _mm256_loadu_ps(brow.add(8 * v))
                };
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let av = _mm256_set1_ps(*a.offset(i as isize * rsa + p as isize * csa));
                for (x, &y) in row.iter_mut().zip(&bv) {
                    *x = _mm256_fmadd_ps(av, y, *x);
                }
            }
        }
        let (alphav, betav) = (_mm256_set1_ps(alpha), _mm256_set1_ps(beta));
        for (i, row) in acc.iter().enumerate() {
            let dst = c.offset(i as isize * rsc);
            for (v, &x) in row.iter().enumerate() {
                let d = dst.add(8 * v);
                let mut r = _mm256_mul_ps(alphav, x);
                if beta != 0.0 {
                    let old = if masked(v) {
                        _mm256_maskload_ps(d, last)
                    } else {
                        _mm256_loadu_ps(d)
                    };
                    r = _mm256_fmadd_ps(betav, old, r);
                }
                if masked(v) {
                    _mm256_maskstore_ps(d, last, r);
                } else {
                    _mm256_storeu_ps(d, r);
                }
            }
        }
    }
}

/// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c` with `b` and `c` contiguous along `n`,
/// in tiles of up to 2 rows by 32 columns that broadcast each `a[i, p]` over row `p` of `b`:
/// no repacking, and each element sums over `p` in order.
///
/// # Safety
/// The operands must be valid for the product's shapes and strides, `c` must overlap neither
/// input, `b.cs == c.cs == 1` (or `n == 1`), and the CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn axpy_nn(p: Product<f32>, alpha: f32, beta: f32) {
    // Few rows: wide tiles, so that enough independent sums are in flight.
    match p.m {
        // SAFETY: forwarded from the caller.
        1 => unsafe { axpy_tiles::<1, 4>(p, alpha, beta) },
        // SAFETY: forwarded from the caller.
        2 => unsafe { axpy_tiles::<2, 4>(p, alpha, beta) },
        // SAFETY: forwarded from the caller.
        _ => unsafe { axpy_tiles::<AXPY_MR, AXPY_V>(p, alpha, beta) },
    }
}

/// [`axpy_nn`] in tiles of up to `MR` rows by `8 V` columns.
///
/// # Safety
/// As [`axpy_nn`].
#[target_feature(enable = "avx2,fma")]
unsafe fn axpy_tiles<const MR: usize, const V: usize>(p: Product<f32>, alpha: f32, beta: f32) {
    let (a, b, c) = (p.a, p.b, p.c);
    let width = 8 * V;
    for j in (0..p.n).step_by(width) {
        let cols = width.min(p.n - j);
        let vecs = cols.div_ceil(8);
        let last = lanes(cols - 8 * (vecs - 1));
        let ragged = !cols.is_multiple_of(8);
        let bp = b.at(0, j).ptr.cast_const();
        for i in (0..p.m).step_by(MR) {
            let (ap, cp) = (a.at(i, 0).ptr, c.at(i, j).ptr);
            macro_rules! go {
                ($r:literal, $v:literal) => {
                    // SAFETY: the tile lies inside the operands.
                    unsafe {
                        if ragged {
                            axpy_tile::<$r, $v, true>(
                                p.k, ap, a.rs, a.cs, bp, b.rs, cp, c.rs, last, alpha, beta,
                            )
                        } else {
                            axpy_tile::<$r, $v, false>(
                                p.k, ap, a.rs, a.cs, bp, b.rs, cp, c.rs, last, alpha, beta,
                            )
                        }
                    }
                };
            }
            macro_rules! vecs {
                ($r:literal) => {
                    match vecs.min(V) {
                        1 => go!($r, 1),
                        2 => go!($r, 2),
                        3 => go!($r, 3),
                        4 => go!($r, 4),
                        5 => go!($r, 5),
                        6 => go!($r, 6),
                        7 => go!($r, 7),
                        _ => go!($r, 8),
                    }
                };
            }
            match (p.m - i).min(MR) {
                1 => vecs!(1),
                2 => vecs!(2),
                3 => vecs!(3),
                4 => vecs!(4),
                5 => vecs!(5),
                _ => vecs!(6),
            }
        }
    }
}
