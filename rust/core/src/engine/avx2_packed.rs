//! The general `f32` product for AVX2 + FMA, in the layout of BLIS's Haswell kernel: both
//! operands copied into panels, `6 x 16` tiles of `c` accumulated in twelve registers.
//!
//! The `gemm` crate's AVX2 kernel reads one operand in place with a column stride, and on a
//! 2-core AMD Zen 4 it reached 60-75% of the speed of its own AVX-512 kernel on the products of
//! training (weight gradients, output layers); with both operands packed, this one is as fast
//! as the AVX-512 kernel there (BENCHMARKS.md).
//!
//! Blocking: `KC`-deep slices; a slice of `b` is packed into strips of `NR` columns
//! (`KC x NR`, 16 KB, kept in the L1 cache while a tile is computed), `MC` rows of `a` into
//! strips of `MR` rows (`MC x KC`, in the L2 cache). Each element of `c` sums its slice's
//! products in order, then `c = alpha * sum + beta * c` for the first slice and
//! `c += alpha * sum` for later ones: the same order whatever the threads.

use super::product::{Mat, Product};
use std::arch::x86_64::*;
use std::cell::RefCell;

/// Rows of a tile.
const MR: usize = 6;
/// Columns of a tile (two vectors).
pub(super) const NR: usize = 16;
/// Depth of a slice.
const KC: usize = 256;
/// Rows of `a` packed at once.
const MC: usize = 72;
/// Floats per packed strip of `a`: `KC x MR` and room for the last 8-float store of a step.
const STRIP_A: usize = KC * MR + 8;

thread_local! {
    /// The packed panels of `a` and `b`, kept from one product to the next.
    static PANELS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c` for any strides; `c` is not read when
/// `beta` is 0.
///
/// # Safety
/// The operands must be valid for the product's shapes and strides, `c` must overlap neither
/// input, and the CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gemm(p: Product<f32>, alpha: f32, beta: f32) {
    PANELS.with_borrow_mut(|(ap, bp)| {
        let n_pad = p.n.div_ceil(NR) * NR;
        bp.clear();
        bp.resize(KC * n_pad, 0.0); // (n_pad / NR) strips of (KC, NR)
        ap.clear();
        ap.resize(STRIP_A * (MC / MR), 0.0); // (MC / MR) strips of (KC, MR) + padding
                                             // Slices of equal depth (at most KC): a short last slice would pay a tile's overhead
                                             // for few steps.
        let depth = p.k.div_ceil(p.k.div_ceil(KC));
        for pc in (0..p.k).step_by(depth) {
            let kc = depth.min(p.k - pc);
            let beta = if pc == 0 { beta } else { 1.0 };
            // SAFETY: rows `pc..pc + kc` of `b` are in bounds.
            unsafe { pack_b(p.b.at(pc, 0), kc, p.n, bp, KC * NR) };
            for ic in (0..p.m).step_by(MC) {
                let mc = MC.min(p.m - ic);
                // SAFETY: rows `ic..ic + mc`, columns `pc..pc + kc` of `a` are in bounds.
                unsafe { pack_a(p.a.at(ic, pc), mc, kc, ap) };
                for (js, bs) in bp.chunks_exact(KC * NR).enumerate() {
                    let j = js * NR;
                    for (is, as_) in ap.chunks_exact(STRIP_A).take(mc.div_ceil(MR)).enumerate() {
                        let i = ic + is * MR;
                        let (rows, cols) = (MR.min(p.m - i), NR.min(p.n - j));
                        // SAFETY: the tile lies in `c`; the strips hold `kc` steps.
                        unsafe { tile(kc, as_, bs, p.c.at(i, j), rows, cols, alpha, beta) };
                    }
                }
            }
        }
    });
}

/// Packs `kc` rows of `b` (all `n` columns) into strips of `NR` columns, zero-padded, each
/// strip `stride` floats after the previous one.
///
/// # Safety
/// `b` must be valid for `kc` rows and `n` columns; `out` holds whole strips.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_b(b: Mat<f32>, kc: usize, n: usize, out: &mut [f32], stride: usize) {
    for (js, strip) in out.chunks_exact_mut(stride).enumerate() {
        let j0 = js * NR;
        let cols = NR.min(n - j0);
        let mut q0 = 0;
        if b.rs == 1 && cols == NR {
            // Columns contiguous along k: transpose 8 x 8 blocks in registers.
            while q0 + 8 <= kc {
                for half in 0..2 {
                    // SAFETY: columns `j0 + 8 half..+ 8`, rows `q0..q0 + 8` of `b`.
                    let t = unsafe {
                        transpose8(std::array::from_fn(|j| {
                            _mm256_loadu_ps(b.at(q0, j0 + 8 * half + j).ptr)
                        }))
                    };
                    for (q, row) in t.iter().enumerate() {
                        let d = strip[(q0 + q) * NR + 8 * half..].as_mut_ptr();
                        // SAFETY: 8 floats of the strip's row `q0 + q`.
                        unsafe { _mm256_storeu_ps(d, *row) };
                    }
                }
                q0 += 8;
            }
        }
        for q in q0..kc {
            let dst = &mut strip[q * NR..(q + 1) * NR];
            if b.cs == 1 && cols == NR {
                // SAFETY: a full row segment of `b`.
                unsafe { _mm256_storeu_ps(dst.as_mut_ptr(), _mm256_loadu_ps(b.at(q, j0).ptr)) };
                // SAFETY: as above.
                unsafe {
                    _mm256_storeu_ps(
                        dst.as_mut_ptr().add(8),
                        _mm256_loadu_ps(b.at(q, j0 + 8).ptr),
                    )
                };
            } else {
                for (col, x) in dst.iter_mut().enumerate() {
                    *x = if col < cols {
                        // SAFETY: in bounds of `b` (columns past `cols` are padding).
                        unsafe { *b.at(q, j0 + col).ptr }
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// Packs `mc` rows and `kc` columns of `a` into strips of `MR` rows, zero-padded.
///
/// # Safety
/// `a` must be valid for `mc` rows and `kc` columns.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn pack_a(a: Mat<f32>, mc: usize, kc: usize, out: &mut [f32]) {
    for (is, strip) in out
        .chunks_exact_mut(STRIP_A)
        .take(mc.div_ceil(MR))
        .enumerate()
    {
        let i0 = is * MR;
        let rows = MR.min(mc - i0);
        let mut q0 = 0;
        if a.cs == 1 && rows == MR {
            // Rows contiguous along k: transpose blocks of 8 steps in registers; each step's 6
            // values are written as 8 (the last 2 are overwritten by the next step, or land in
            // the strip's padding).
            while q0 + 8 <= kc {
                // SAFETY: rows `i0..i0 + 6`, columns `q0..q0 + 8` of `a`.
                let t = unsafe {
                    transpose8(std::array::from_fn(|r| {
                        if r < MR {
                            _mm256_loadu_ps(a.at(i0 + r, q0).ptr)
                        } else {
                            _mm256_setzero_ps()
                        }
                    }))
                };
                for (q, col) in t.iter().enumerate() {
                    let d = strip[(q0 + q) * MR..].as_mut_ptr();
                    debug_assert!(strip.len() >= (q0 + q) * MR + 8);
                    // SAFETY: the strip has room for 8 floats there (see `STRIP_PAD`).
                    unsafe { _mm256_storeu_ps(d, *col) };
                }
                q0 += 8;
            }
        }
        if a.rs == 1 && rows == MR {
            // Columns contiguous: 6 values a step, loaded masked, written as 8 (see above).
            let six = _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0);
            for q in q0..kc {
                // SAFETY: rows `i0..i0 + 6` of column `q` (the masked lanes are not read); the
                // strip has room for 8 floats at step `q`.
                unsafe {
                    let v = _mm256_maskload_ps(a.at(i0, q).ptr, six);
                    _mm256_storeu_ps(strip[q * MR..].as_mut_ptr(), v);
                }
            }
            q0 = kc;
        }
        for q in q0..kc {
            for (r, x) in strip[q * MR..(q + 1) * MR].iter_mut().enumerate() {
                *x = if r < rows {
                    // SAFETY: in bounds of `a` (rows past `rows` are padding).
                    unsafe { *a.at(i0 + r, q).ptr }
                } else {
                    0.0
                };
            }
        }
    }
}

/// One `MR x NR` tile: `c = alpha * a_strip @ b_strip + beta * c` over `kc` steps, of which
/// `rows x cols` are stored.
///
/// # Safety
/// The strips hold `kc` steps; `c` is valid for `rows x cols` elements.
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile(
    kc: usize,
    a: &[f32],
    b: &[f32],
    c: Mat<f32>,
    rows: usize,
    cols: usize,
    alpha: f32,
    beta: f32,
) {
    // The tile of `c` is read (or written) after the loop: ask for its rows now.
    for i in 0..rows {
        let d = c.at(i, 0).ptr;
        _mm_prefetch::<_MM_HINT_T0>(d.cast_const().cast());
        _mm_prefetch::<_MM_HINT_T0>(d.wrapping_add(NR - 1).cast_const().cast());
    }
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let (ap, bp) = (a.as_ptr(), b.as_ptr());
    for q in 0..kc {
        // SAFETY: step `q < kc` of each strip.
        unsafe {
            let b0 = _mm256_loadu_ps(bp.add(q * NR));
            let b1 = _mm256_loadu_ps(bp.add(q * NR + 8));
            for (i, row) in acc.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*ap.add(q * MR + i));
                row[0] = _mm256_fmadd_ps(x, b0, row[0]);
                row[1] = _mm256_fmadd_ps(x, b1, row[1]);
            }
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { store(&acc, c, rows, cols, alpha, beta) }
}

/// `c = alpha * acc + beta * c` on the `rows x cols` part of a tile (`c` not read when `beta`
/// is 0).
///
/// # Safety
/// `c` is valid for `rows x cols` elements.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn store(
    acc: &[[__m256; 2]; MR],
    c: Mat<f32>,
    rows: usize,
    cols: usize,
    alpha: f32,
    beta: f32,
) {
    let alphav = _mm256_set1_ps(alpha);
    if rows == MR && cols == NR && c.cs == 1 {
        for (i, row) in acc.iter().enumerate() {
            let d = c.at(i, 0).ptr;
            for (v, &x) in row.iter().enumerate() {
                // SAFETY: row `i` of the tile, columns `8 v..8 v + 8`.
                unsafe {
                    let mut r = _mm256_mul_ps(alphav, x);
                    if beta != 0.0 {
                        r = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_loadu_ps(d.add(8 * v)), r);
                    }
                    _mm256_storeu_ps(d.add(8 * v), r);
                }
            }
        }
    } else {
        let mut out = [[0f32; NR]; MR];
        for (o, row) in out.iter_mut().zip(acc.iter()) {
            // SAFETY: `o` holds 16 floats.
            unsafe {
                _mm256_storeu_ps(o.as_mut_ptr(), _mm256_mul_ps(alphav, row[0]));
                _mm256_storeu_ps(o.as_mut_ptr().add(8), _mm256_mul_ps(alphav, row[1]));
            }
        }
        for (i, o) in out.iter().enumerate().take(rows) {
            for (j, &x) in o.iter().enumerate().take(cols) {
                let d = c.at(i, j).ptr;
                // SAFETY: in bounds of `c`.
                unsafe { *d = if beta == 0.0 { x } else { beta.mul_add(*d, x) } };
            }
        }
    }
}

/// The 8 x 8 transpose of `r` (row `i` of the result is column `i` of `r`).
#[inline]
#[target_feature(enable = "avx2,fma")]
fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// `b` (k, n) in strips of `NR` columns, one after another (`k x NR` each, zero-padded), for
/// [`gemm_strips`], written into `out` (whatever it held).
///
/// # Safety
/// `b` must be valid for `k` rows and `n` columns; the CPU must support AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn strips(b: Mat<f32>, k: usize, n: usize, mut out: Vec<f32>) -> Vec<f32> {
    out.clear();
    out.resize(k * n.div_ceil(NR) * NR, 0.0);
    // SAFETY: forwarded from the caller; `out` holds whole strips of `k * NR`.
    unsafe { pack_b(b, k, n, &mut out, k * NR) };
    out
}

/// `c (m, n) = alpha * a (m, k) @ b + beta * c` for the strips `range` of `b` packed by
/// [`strips`], `a` contiguous along `k` and read in place; each element sums over `k` in order.
///
/// # Safety
/// `a` must be valid for (m, k) with `a.cs == 1`, `c` for (m, n) overlapping neither input,
/// `strips` must come from [`strips`] for a `b` of (k, n), and the CPU must support AVX2 and
/// FMA.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn gemm_strips(
    m: usize,
    n: usize,
    k: usize,
    a: Mat<f32>,
    strips: &[f32],
    c: Mat<f32>,
    alpha: f32,
    beta: f32,
    range: std::ops::Range<usize>,
) {
    for js in range {
        let Some(strip) = strips.get(js * k * NR..(js + 1) * k * NR) else {
            return;
        };
        let j = js * NR;
        let cols = NR.min(n - j);
        for i in (0..m).step_by(MR) {
            let (ap, cp) = (a.at(i, 0), c.at(i, j));
            macro_rules! go {
                ($r:literal) => {
                    // SAFETY: rows `i..i + r` of `a` and `c`, the strip's `k` steps.
                    unsafe { tile_direct::<$r>(k, ap, strip, cp, cols, alpha, beta) }
                };
            }
            match (m - i).min(MR) {
                1 => go!(1),
                2 => go!(2),
                3 => go!(3),
                4 => go!(4),
                5 => go!(5),
                _ => go!(6),
            }
        }
    }
}

/// One `R x NR` tile of [`gemm_strips`]: rows of `a` broadcast in place, the strip read in
/// order.
///
/// # Safety
/// As [`gemm_strips`], for `R` rows of `a` and `c` and `cols` columns of `c`.
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_direct<const R: usize>(
    k: usize,
    a: Mat<f32>,
    strip: &[f32],
    c: Mat<f32>,
    cols: usize,
    alpha: f32,
    beta: f32,
) {
    for i in 0..R {
        _mm_prefetch::<_MM_HINT_T0>(c.at(i, 0).ptr.cast_const().cast());
    }
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    let bp = strip.as_ptr();
    let rows: [*const f32; R] = std::array::from_fn(|i| a.at(i, 0).ptr.cast_const());
    for q in 0..k {
        // SAFETY: step `q < k` of the strip and of each row of `a`.
        unsafe {
            let b0 = _mm256_loadu_ps(bp.add(q * NR));
            let b1 = _mm256_loadu_ps(bp.add(q * NR + 8));
            for (acc, row) in acc.iter_mut().zip(&rows) {
                let x = _mm256_broadcast_ss(&*row.add(q));
                acc[0] = _mm256_fmadd_ps(x, b0, acc[0]);
                acc[1] = _mm256_fmadd_ps(x, b1, acc[1]);
            }
        }
    }
    // SAFETY: forwarded from the caller.
    unsafe { store(&acc, c, R, cols, alpha, beta) }
}
