//! AVX-512F kernels (`f32`, 16 lanes) for the products the general kernels would repack on
//! every call: [`dot_nt`] (both operands contiguous along `k`: the forward recurrence) and
//! [`axpy_nn`] (few rows of `a`, `b` and `c` contiguous along `n`: the backward recurrence,
//! batch 1).

use super::product::Product;
use std::arch::x86_64::*;

/// Rows of `a` per tile.
const MR: usize = 6;
/// Rows of `w` (columns of `c`) per tile.
const NR: usize = 4;

/// The sums of the lanes of `a`, `b`, `c`, `d`, in that order.
#[inline]
#[target_feature(enable = "avx512f")]
fn sum4(a: __m512, b: __m512, c: __m512, d: __m512) -> __m128 {
    // Within each 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d.
    let ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    let cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    // [a, b, c, d] partial sums in each 128-bit lane.
    let x = _mm512_add_ps(
        _mm512_shuffle_ps::<0b01_00_01_00>(ab, cd),
        _mm512_shuffle_ps::<0b11_10_11_10>(ab, cd),
    );
    let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(x)));
    let y = _mm256_add_ps(_mm512_castps512_ps256(x), hi);
    _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps::<1>(y))
}

/// One `R` x `C` tile of `c` (`R <= MR`, `C <= NR`).
///
/// # Safety
/// `a` rows `0..R` and `w` rows `0..C` must hold `k` contiguous elements each, and `c` must
/// be valid at `(i, j)` for `i < R`, `j < C`.
// Indexed loops over the constant tile sizes: unrolled, the accumulators stay in registers.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn tile<const R: usize, const C: usize>(
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
    let mut acc = [[_mm512_setzero_ps(); NR]; R];
    let mut p = 0;
    // SAFETY: every load reads elements `p..p + 16` (`p..k` when masked) of a row.
    unsafe {
        while p + 16 <= k {
            let mut av = [_mm512_setzero_ps(); R];
            for (i, v) in av.iter_mut().enumerate() {
                *v = _mm512_loadu_ps(a.offset(i as isize * lda).add(p));
            }
            for j in 0..C {
                let wv = _mm512_loadu_ps(w.offset(j as isize * ldw).add(p));
                for i in 0..R {
                    acc[i][j] = _mm512_fmadd_ps(av[i], wv, acc[i][j]);
                }
            }
            p += 16;
        }
        if p < k {
            let mask = ((1u32 << (k - p)) - 1) as __mmask16;
            let mut av = [_mm512_setzero_ps(); R];
            for (i, v) in av.iter_mut().enumerate() {
                *v = _mm512_maskz_loadu_ps(mask, a.offset(i as isize * lda).add(p));
            }
            for j in 0..C {
                let wv = _mm512_maskz_loadu_ps(mask, w.offset(j as isize * ldw).add(p));
                for i in 0..R {
                    acc[i][j] = _mm512_fmadd_ps(av[i], wv, acc[i][j]);
                }
            }
        }
    }
    let alphav = _mm_set1_ps(alpha);
    for (i, row) in acc.iter().enumerate() {
        let s = _mm_mul_ps(alphav, sum4(row[0], row[1], row[2], row[3]));
        let dst = c.wrapping_offset(i as isize * rsc);
        // SAFETY: `c` is valid at (i, 0..C).
        unsafe {
            if C == 4 && csc == 1 {
                let r = if beta == 0.0 {
                    s
                } else {
                    _mm_fmadd_ps(_mm_set1_ps(beta), _mm_loadu_ps(dst), s)
                };
                _mm_storeu_ps(dst, r);
            } else {
                let mut out = [0f32; 4];
                _mm_storeu_ps(out.as_mut_ptr(), s);
                for (j, &x) in out.iter().enumerate().take(C) {
                    let d = dst.offset(j as isize * csc);
                    *d = if beta == 0.0 { x } else { beta.mul_add(*d, x) };
                }
            }
        }
    }
}

/// `c[i, ..V*16] = alpha * sum_p a[i, p] * b[p, ..V*16] + beta * c[i, ..]` for `R` rows,
/// the last of the `V` vectors of columns masked by `last`; `p` runs in order.
///
/// # Safety
/// The operands must be valid for these shapes and strides, `b` and `c` with unit stride
/// along `n`; the CPU must support AVX-512F.
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn axpy_tile<const R: usize, const V: usize>(
    k: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    ldb: isize,
    c: *mut f32,
    rsc: isize,
    last: __mmask16,
    alpha: f32,
    beta: f32,
) {
    let mask = |v: usize| if v + 1 == V { last } else { 0xffff };
    let mut acc = [[_mm512_setzero_ps(); V]; R];
    // SAFETY: rows `0..R` of `a` and `c`, rows `0..k` of `b`, the masked columns.
    unsafe {
        for p in 0..k {
            let brow = b.offset(p as isize * ldb);
            let mut bv = [_mm512_setzero_ps(); V];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm512_maskz_loadu_ps(mask(v), brow.add(16 * v));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*a.offset(i as isize * rsa + p as isize * csa));
                for (x, &y) in row.iter_mut().zip(&bv) {
                    *x = _mm512_fmadd_ps(av, y, *x);
                }
            }
        }
        let (alphav, betav) = (_mm512_set1_ps(alpha), _mm512_set1_ps(beta));
        for (i, row) in acc.iter().enumerate() {
            let dst = c.offset(i as isize * rsc);
            for (v, &x) in row.iter().enumerate() {
                let d = dst.add(16 * v);
                let mut r = _mm512_mul_ps(alphav, x);
                if beta != 0.0 {
                    r = _mm512_fmadd_ps(betav, _mm512_maskz_loadu_ps(mask(v), d), r);
                }
                _mm512_mask_storeu_ps(d, mask(v), r);
            }
        }
    }
}

/// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c` with `b` and `c` contiguous along
/// `n`, in tiles of up to 4 rows by 64 columns that broadcast each `a[i, p]` over row `p`
/// of `b`: no repacking, and each element sums over `p` in order.
///
/// # Safety
/// The operands must be valid for these shapes and strides, `c` must overlap neither input,
/// and the CPU must support AVX-512F.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn axpy_nn_raw(
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    ldb: isize,
    c: *mut f32,
    rsc: isize,
    alpha: f32,
    beta: f32,
) {
    for j in (0..n).step_by(64) {
        let cols = 64.min(n - j);
        let vecs = cols.div_ceil(16);
        let tail = cols - 16 * (vecs - 1);
        let last = if tail == 16 {
            0xffff
        } else {
            (1u16 << tail) - 1
        };
        for i in (0..m).step_by(4) {
            let ap = a.wrapping_offset(i as isize * rsa);
            let bp = b.wrapping_add(j);
            let cp = c.wrapping_offset(i as isize * rsc).wrapping_add(j);
            macro_rules! go {
                ($r:literal, $v:literal) => {
                    // SAFETY: the tile lies inside the operands.
                    unsafe {
                        axpy_tile::<$r, $v>(k, ap, rsa, csa, bp, ldb, cp, rsc, last, alpha, beta)
                    }
                };
            }
            macro_rules! vecs {
                ($r:literal) => {
                    match vecs {
                        1 => go!($r, 1),
                        2 => go!($r, 2),
                        3 => go!($r, 3),
                        _ => go!($r, 4),
                    }
                };
            }
            match (m - i).min(4) {
                1 => vecs!(1),
                2 => vecs!(2),
                3 => vecs!(3),
                _ => vecs!(4),
            }
        }
    }
}

/// Dispatches an `r` x `cols` tile to its monomorphized kernel.
///
/// # Safety
/// As [`tile`].
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn any_tile(
    r: usize,
    cols: usize,
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
    macro_rules! go {
        ($r:literal, $c:literal) => {
            // SAFETY: forwarded from the caller.
            unsafe { tile::<$r, $c>(k, a, lda, w, ldw, c, rsc, csc, alpha, beta) }
        };
    }
    macro_rules! cols {
        ($r:literal) => {
            match cols {
                1 => go!($r, 1),
                2 => go!($r, 2),
                3 => go!($r, 3),
                _ => go!($r, 4),
            }
        };
    }
    match r {
        1 => cols!(1),
        2 => cols!(2),
        3 => cols!(3),
        4 => cols!(4),
        5 => cols!(5),
        _ => cols!(6),
    }
}

/// `c (m, n) = alpha * a (m, k) @ w (n, k)^T + beta * c`, `a` and `w` with unit stride
/// along `k`; `c` is not read when `beta` is 0. Each element of `c` is
/// `alpha * dot + beta * c` where `dot` sums 16 strided partial sums in a fixed order.
///
/// # Safety
/// The operands must be valid for these shapes and strides, `c` must overlap neither input,
/// and the CPU must support AVX-512F.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
unsafe fn dot_nt_raw(
    m: usize,
    n: usize,
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
    let one = |i: usize, j: usize, r: usize, cols: usize| {
        let ap = a.wrapping_offset(i as isize * lda);
        let wp = w.wrapping_offset(j as isize * ldw);
        let cp = c.wrapping_offset(i as isize * rsc + j as isize * csc);
        // SAFETY: the tile lies inside the operands.
        unsafe { any_tile(r, cols, k, ap, lda, wp, ldw, cp, rsc, csc, alpha, beta) };
    };
    // Keep the smaller operand's panel in cache while streaming the other once.
    if m <= n {
        for j in (0..n).step_by(NR) {
            for i in (0..m).step_by(MR) {
                one(i, j, MR.min(m - i), NR.min(n - j));
            }
        }
    } else {
        for i in (0..m).step_by(MR) {
            for j in (0..n).step_by(NR) {
                one(i, j, MR.min(m - i), NR.min(n - j));
            }
        }
    }
}

/// [`dot_nt_raw`] on a [`Product`] whose operands are contiguous along `k`.
///
/// # Safety
/// The operands must be valid for the product's shapes and strides, `c` must overlap neither
/// input, `a.cs == 1`, `b.rs == 1` (or `k == 1`), and the CPU must support AVX-512F.
pub(super) unsafe fn dot_nt(p: Product<f32>, alpha: f32, beta: f32) {
    // SAFETY: forwarded from the caller; `b (k, n)` with unit row stride is `w (n, k)` with
    // row stride `b.cs`.
    unsafe {
        dot_nt_raw(
            p.m, p.n, p.k, p.a.ptr, p.a.rs, p.b.ptr, p.b.cs, p.c.ptr, p.c.rs, p.c.cs, alpha, beta,
        )
    }
}

/// [`axpy_nn_raw`] on a [`Product`] whose `b` and `c` are contiguous along `n`.
///
/// # Safety
/// The operands must be valid for the product's shapes and strides, `c` must overlap neither
/// input, `b.cs == c.cs == 1` (or `n == 1`), and the CPU must support AVX-512F.
pub(super) unsafe fn axpy_nn(p: Product<f32>, alpha: f32, beta: f32) {
    // SAFETY: forwarded from the caller.
    unsafe {
        axpy_nn_raw(
            p.m, p.n, p.k, p.a.ptr, p.a.rs, p.a.cs, p.b.ptr, p.b.rs, p.c.ptr, p.c.rs, alpha, beta,
        )
    }
}
