//! Portable kernels: plain Rust over fixed-size arrays of `L` lanes (one 128-bit register:
//! 4 `f32` or 2 `f64`), which the compiler turns into SSE2 code on x86-64 and NEON code on
//! ARM. No fused multiply-adds (`x * y + z` rounds twice), so every CPU gives the same bits.
//!
//! - [`dot_nt`]: blocked dot products (both operands contiguous along `k`);
//! - [`axpy_nn`]: rows of `b` broadcast into rows of `c` (`b`, `c` contiguous along `n`);
//! - [`packed`]: the general product, both operands copied into panels first.

use super::product::{Mat, Product};
use crate::Float;

/// Rows of `a` per dot-product tile.
const DOT_MR: usize = 2;
/// Columns of `c` per dot-product tile.
const DOT_NR: usize = 4;

/// `a + x * y` on every lane.
#[inline(always)]
fn mul_add<T: Float, const L: usize>(a: &mut [T; L], x: &[T; L], y: &[T; L]) {
    for l in 0..L {
        a[l] += x[l] * y[l];
    }
}

/// The accumulators of a finished loop, behind an optimization barrier: without it the
/// compiler vectorizes the loop across the tile's columns to suit the sums that follow (with
/// shuffles at every step) instead of across the lanes of each accumulator.
#[inline(always)]
fn vectorized<A>(acc: A) -> A {
    std::hint::black_box(acc)
}

/// `L` elements from `ptr` (unaligned).
///
/// # Safety
/// `ptr..ptr + L` must be readable.
#[inline(always)]
unsafe fn load<T: Float, const L: usize>(ptr: *const T) -> [T; L] {
    // SAFETY: forwarded from the caller.
    unsafe { ptr.cast::<[T; L]>().read_unaligned() }
}

/// The lanes of `x` summed in pairs, then pairs of pairs (a fixed order).
#[inline(always)]
fn hsum<T: Float, const L: usize>(mut x: [T; L]) -> T {
    let mut w = L;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            x[l] += x[l + w];
        }
    }
    x[0]
}

/// `c = alpha * s + beta * c` for one element (`c` not read when `beta` is 0).
///
/// # Safety
/// `c` must be valid.
#[inline(always)]
unsafe fn store<T: Float>(c: *mut T, s: T, alpha: T, beta: T) {
    // SAFETY: forwarded from the caller.
    unsafe {
        *c = if beta == T::zero() {
            alpha * s
        } else {
            alpha * s + beta * *c
        };
    }
}

/// One `R` x `C` tile of dot products of rows of `a` with rows of `w` (`b^T`).
///
/// # Safety
/// `a` rows `0..R` and `w` rows `0..C` hold `k` contiguous elements each; `c` is valid at
/// `(i, j)` for `i < R`, `j < C`.
#[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
#[inline(always)]
unsafe fn dot_tile<T: Float, const L: usize, const R: usize, const C: usize>(
    k: usize,
    a: *const T,
    lda: isize,
    w: *const T,
    ldw: isize,
    c: Mat<T>,
    alpha: T,
    beta: T,
) {
    let mut acc = [[[T::zero(); L]; C]; R];
    let full = k - k % L;
    let mut p = 0;
    // SAFETY: every read is of elements `p..p + L` (`p < full`) or `p` (`p < k`) of a row.
    unsafe {
        while p < full {
            let mut av = [[T::zero(); L]; R];
            for i in 0..R {
                av[i] = load(a.offset(i as isize * lda).add(p));
            }
            for j in 0..C {
                let wv: [T; L] = load(w.offset(j as isize * ldw).add(p));
                for i in 0..R {
                    mul_add(&mut acc[i][j], &av[i], &wv);
                }
            }
            p += L;
        }
        let mut acc = vectorized(acc);
        for q in p..k {
            for i in 0..R {
                for j in 0..C {
                    let x = *a.offset(i as isize * lda).add(q) * *w.offset(j as isize * ldw).add(q);
                    acc[i][j][q - p] += x;
                }
            }
        }
        for i in 0..R {
            for j in 0..C {
                store(c.at(i, j).ptr, hsum(acc[i][j]), alpha, beta);
            }
        }
    }
}

/// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c`, both operands contiguous along `k`, as
/// tiles of dot products; `c` is not read when `beta` is 0.
///
/// # Safety
/// The operands must be valid for the product's shapes and strides, `c` must overlap neither
/// input, and `a.cs == 1`, `b.rs == 1` (or `k == 1`).
#[inline(never)] // a symbol of its own in profiles
pub(super) unsafe fn dot_nt<T: Float, const L: usize>(p: Product<T>, alpha: T, beta: T) {
    let (a, lda, w, ldw) = (p.a.ptr, p.a.rs, p.b.ptr, p.b.cs);
    let tile = |i: usize, j: usize| {
        let (ap, wp, cp) = (
            a.wrapping_offset(i as isize * lda),
            w.wrapping_offset(j as isize * ldw),
            p.c.at(i, j),
        );
        macro_rules! go {
            ($r:literal, $c:literal) => {
                // SAFETY: the tile lies inside the operands.
                unsafe { dot_tile::<T, L, $r, $c>(p.k, ap, lda, wp, ldw, cp, alpha, beta) }
            };
        }
        match (DOT_MR.min(p.m - i), DOT_NR.min(p.n - j)) {
            (1, 1) => go!(1, 1),
            (1, 2) => go!(1, 2),
            (1, 3) => go!(1, 3),
            (1, _) => go!(1, 4),
            (_, 1) => go!(2, 1),
            (_, 2) => go!(2, 2),
            (_, 3) => go!(2, 3),
            _ => go!(2, 4),
        }
    };
    for j in (0..p.n).step_by(DOT_NR) {
        for i in (0..p.m).step_by(DOT_MR) {
            tile(i, j);
        }
    }
}

/// Rows of `a` per broadcast tile.
const AXPY_MR: usize = 4;
/// Vectors of `L` columns per broadcast tile.
const AXPY_V: usize = 2;

/// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c` with `b` and `c` contiguous along `n`,
/// in tiles of up to 4 rows by `2 L` columns that broadcast each `a[i, p]` over row `p` of
/// `b`; each element sums over `p` in order.
///
/// # Safety
/// The operands must be valid for the product's shapes and strides, `c` must overlap neither
/// input, and `b.cs == c.cs == 1` (or `n == 1`).
#[inline(never)] // a symbol of its own in profiles
pub(super) unsafe fn axpy_nn<T: Float, const L: usize>(p: Product<T>, alpha: T, beta: T) {
    let width = AXPY_V * L;
    let mut j = 0;
    while j < p.n {
        let cols = width.min(p.n - j);
        for i in (0..p.m).step_by(AXPY_MR) {
            let rows = AXPY_MR.min(p.m - i);
            let q = Product {
                m: rows,
                n: cols,
                a: p.a.at(i, 0),
                b: p.b.at(0, j),
                c: p.c.at(i, j),
                ..p
            };
            // SAFETY: the tile lies inside the operands.
            unsafe {
                match (rows, cols == width) {
                    (4, true) => axpy_tile::<T, L, 4>(q, alpha, beta),
                    (3, true) => axpy_tile::<T, L, 3>(q, alpha, beta),
                    (2, true) => axpy_tile::<T, L, 2>(q, alpha, beta),
                    (1, true) => axpy_tile::<T, L, 1>(q, alpha, beta),
                    _ => axpy_edge(q, alpha, beta),
                }
            }
        }
        j += cols;
    }
}

/// A full-width broadcast tile: `R` rows by `2 L` columns.
///
/// # Safety
/// As [`axpy_nn`], for a product of exactly `R` rows and `2 L` columns.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn axpy_tile<T: Float, const L: usize, const R: usize>(p: Product<T>, alpha: T, beta: T) {
    let mut acc = [[[T::zero(); L]; AXPY_V]; R];
    // SAFETY: rows `0..R` of `a` and `c`, rows `0..k` of `b`, columns `0..2 L`.
    unsafe {
        for q in 0..p.k {
            let brow = p.b.at(q, 0).ptr;
            let bv: [[T; L]; AXPY_V] = [load(brow), load(brow.add(L))];
            for i in 0..R {
                let x = [*p.a.at(i, q).ptr; L];
                for v in 0..AXPY_V {
                    mul_add(&mut acc[i][v], &x, &bv[v]);
                }
            }
        }
        let acc = vectorized(acc);
        for i in 0..R {
            let dst = p.c.at(i, 0).ptr;
            for v in 0..AXPY_V {
                for l in 0..L {
                    store(dst.add(v * L + l), acc[i][v][l], alpha, beta);
                }
            }
        }
    }
}

/// Any tile of [`axpy_nn`] (the ragged right and bottom edges), element by element.
///
/// # Safety
/// As [`axpy_nn`].
unsafe fn axpy_edge<T: Float>(p: Product<T>, alpha: T, beta: T) {
    for i in 0..p.m {
        for j in 0..p.n {
            let mut s = T::zero();
            for q in 0..p.k {
                // SAFETY: in bounds of the operands.
                s += unsafe { *p.a.at(i, q).ptr * *p.b.at(q, j).ptr };
            }
            // SAFETY: in bounds of `c`.
            unsafe { store(p.c.at(i, j).ptr, s, alpha, beta) };
        }
    }
}

/// Rows of `a` per packed micro-tile.
const MR: usize = 4;
/// Vectors of `L` columns per packed micro-tile.
const NV: usize = 2;
/// Depth of a packed panel: both panels of one micro-tile stay in the L1 cache.
const KC: usize = 256;
/// Rows of `a` packed at once (a panel of `MC x KC` stays in the L2 cache).
const MC: usize = 128;

/// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c` for any strides: `KC`-deep slices of
/// `b` are copied into panels of `NV * L` columns and slices of `a` into panels of `MR` rows
/// (zero-padded), and `MR x NV L` micro-tiles accumulate in registers. Each element sums over
/// `p` in order within a slice, slices in order.
///
/// # Safety
/// The operands must be valid for the product's shapes and strides, and `c` must overlap
/// neither input.
#[inline(never)] // a symbol of its own in profiles
pub(super) unsafe fn packed<T: Float, const L: usize>(p: Product<T>, alpha: T, beta: T) {
    let nr = NV * L;
    let n_pad = p.n.div_ceil(nr) * nr;
    let mut bp = vec![T::zero(); KC * n_pad]; // (n_pad / nr) panels of (kc, nr)
                                              // Panels of (kc, MR, L): each value of `a` repeated over the lanes, so that the
                                              // micro-tile loads it as a vector (SSE2 has no broadcast from memory).
    let mut ap = vec![T::zero(); KC * MC.div_ceil(MR) * MR * L];
    for pc in (0..p.k).step_by(KC) {
        let kc = KC.min(p.k - pc);
        // The first slice scales `c` by `beta`, later ones add to it.
        let beta = if pc == 0 { beta } else { T::one() };
        for (jp, panel) in bp.chunks_exact_mut(KC * nr).enumerate() {
            for q in 0..kc {
                for l in 0..nr {
                    let j = jp * nr + l;
                    panel[q * nr + l] = if j < p.n {
                        // SAFETY: in bounds of `b`.
                        unsafe { *p.b.at(pc + q, j).ptr }
                    } else {
                        T::zero()
                    };
                }
            }
        }
        for ic in (0..p.m).step_by(MC) {
            let mc = MC.min(p.m - ic);
            for (ip, panel) in ap
                .chunks_exact_mut(KC * MR * L)
                .take(mc.div_ceil(MR))
                .enumerate()
            {
                for q in 0..kc {
                    for r in 0..MR {
                        let i = ip * MR + r;
                        let x = if i < mc {
                            // SAFETY: in bounds of `a`.
                            unsafe { *p.a.at(ic + i, pc + q).ptr }
                        } else {
                            T::zero()
                        };
                        panel[(q * MR + r) * L..(q * MR + r + 1) * L].fill(x);
                    }
                }
            }
            for (jp, bpanel) in bp.chunks_exact(KC * nr).enumerate() {
                for (ip, apanel) in ap
                    .chunks_exact(KC * MR * L)
                    .take(mc.div_ceil(MR))
                    .enumerate()
                {
                    let (i0, j0) = (ic + ip * MR, jp * nr);
                    let (rows, cols) = (MR.min(p.m - i0), nr.min(p.n - j0));
                    let acc = micro::<T, L>(kc, apanel, bpanel);
                    for (r, row) in acc.iter().enumerate().take(rows) {
                        for col in 0..cols {
                            let x = row[col / L][col % L];
                            // SAFETY: in bounds of `c`.
                            unsafe { store(p.c.at(i0 + r, j0 + col).ptr, x, alpha, beta) };
                        }
                    }
                }
            }
        }
    }
}

/// The `MR x NV L` micro-tile of packed panels `a` `(kc, MR, L)` and `b` `(kc, NV L)`.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn micro<T: Float, const L: usize>(kc: usize, a: &[T], b: &[T]) -> [[[T; L]; NV]; MR] {
    let mut acc = [[[T::zero(); L]; NV]; MR];
    for (av, bv) in a.chunks_exact(MR * L).zip(b.chunks_exact(NV * L)).take(kc) {
        let mut bl = [[T::zero(); L]; NV];
        for v in 0..NV {
            for l in 0..L {
                bl[v][l] = bv[v * L + l];
            }
        }
        for r in 0..MR {
            let mut x = [T::zero(); L];
            x.copy_from_slice(&av[r * L..(r + 1) * L]);
            for v in 0..NV {
                mul_add(&mut acc[r][v], &x, &bl[v]);
            }
        }
    }
    vectorized(acc)
}
