//! [`gemm()`]: every matrix product of the crate, dispatched to a kernel by shape, element type
//! and instruction-set level, and split across threads.

use super::isa::{self, Isa};
use super::{crate_gemm, pool, portable, tuning::Tuning};
use crate::Float;
use ndarray::{ArrayView2, ArrayViewMut2};
use std::any::TypeId;

/// Products smaller than this many multiply-adds (`m * n * k`) run on the calling thread only.
pub const PARALLEL_MIN_WORK: usize = 1 << 18;

/// `c = alpha * a @ b + beta * c`.
///
/// Shapes: `a` (m, k), `b` (k, n), `c` (m, n). Views may be transposed (`.t()`). When `beta` is
/// zero, `c` is not read (NaN in it do not propagate). Panics on mismatched shapes.
#[inline]
pub fn gemm<T: Float>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    if k != k2 || c.dim() != (m, n) {
        // Panics with ndarray's message.
        ndarray::linalg::general_mat_mul(alpha, a, b, beta, c);
        return;
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if beta == T::zero() {
            c.fill(T::zero());
        } else {
            c.mapv_inplace(|x| beta * x);
        }
        return;
    }
    let (Some(am), Some(bm), Some(cm)) = (Mat::of(a), Mat::of(b), Mat::of_mut(c)) else {
        ndarray::linalg::general_mat_mul(alpha, a, b, beta, c);
        return;
    };
    let p = Product {
        m,
        n,
        k,
        a: am,
        b: bm,
        c: cm,
    };
    let isa = isa::current();
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: `T` is `f32`, the views are valid for the product's shapes and strides, and
        // `c` is borrowed mutably, so it overlaps neither input; `isa` is at most the CPU's.
        unsafe { run(p.cast::<f32>(), cast(alpha), cast(beta), isa) }
    } else if TypeId::of::<T>() == TypeId::of::<f64>() {
        // SAFETY: as above, with `T` = `f64`.
        unsafe { run(p.cast::<f64>(), cast(alpha), cast(beta), isa) }
    } else {
        ndarray::linalg::general_mat_mul(alpha, a, b, beta, c);
    }
}

/// `x` as a `U`; only called with `U` = `T`.
pub(super) fn cast<T: 'static + Copy, U: 'static + Copy>(x: T) -> U {
    assert!(TypeId::of::<T>() == TypeId::of::<U>());
    // SAFETY: same type (checked just above).
    unsafe { std::mem::transmute_copy(&x) }
}

/// A matrix operand as a pointer and element strides (rows, columns).
#[derive(Clone, Copy, Debug)]
pub(super) struct Mat<T> {
    pub ptr: *mut T,
    pub rs: isize,
    pub cs: isize,
}

impl<T> Mat<T> {
    /// `None` when a dimension longer than 1 has a negative or zero stride. The stride of a
    /// dimension of length 1 is never used to step, so it is replaced by 1.
    fn from_parts(ptr: *mut T, dim: (usize, usize), strides: &[isize]) -> Option<Self> {
        let fix = |len: usize, s: isize| match (len, s) {
            (0 | 1, _) => Some(1),
            (_, s) if s > 0 => Some(s),
            _ => None,
        };
        Some(Mat {
            ptr,
            rs: fix(dim.0, *strides.first()?)?,
            cs: fix(dim.1, *strides.get(1)?)?,
        })
    }

    pub fn of(a: &ArrayView2<'_, T>) -> Option<Self> {
        Self::from_parts(a.as_ptr() as *mut T, a.dim(), a.strides())
    }

    pub fn of_mut(a: &mut ArrayViewMut2<'_, T>) -> Option<Self> {
        let dim = a.dim();
        let strides = [a.strides()[0], a.strides()[1]];
        Self::from_parts(a.as_mut_ptr(), dim, &strides)
    }

    /// The same operand with elements of type `U` (only used with `U` = `T`).
    pub fn cast<U>(self) -> Mat<U> {
        Mat {
            ptr: self.ptr.cast(),
            rs: self.rs,
            cs: self.cs,
        }
    }

    /// The element at (`i`, `j`) (wrapping arithmetic: only dereferenced in bounds).
    pub fn at(self, i: usize, j: usize) -> Self {
        Mat {
            ptr: self
                .ptr
                .wrapping_offset(i as isize * self.rs + j as isize * self.cs),
            ..self
        }
    }
}

/// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c` on raw operands.
#[derive(Clone, Copy, Debug)]
pub(super) struct Product<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: Mat<T>,
    pub b: Mat<T>,
    pub c: Mat<T>,
}

impl<T> Product<T> {
    fn cast<U>(self) -> Product<U> {
        Product {
            m: self.m,
            n: self.n,
            k: self.k,
            a: self.a.cast(),
            b: self.b.cast(),
            c: self.c.cast(),
        }
    }

    /// Output rows `lo..hi`.
    fn rows(self, lo: usize, hi: usize) -> Self {
        Product {
            m: hi - lo,
            a: self.a.at(lo, 0),
            c: self.c.at(lo, 0),
            ..self
        }
    }

    /// Output columns `lo..hi`.
    fn cols(self, lo: usize, hi: usize) -> Self {
        Product {
            n: hi - lo,
            b: self.b.at(0, lo),
            c: self.c.at(0, lo),
            ..self
        }
    }

    /// Both operands contiguous along `k` (`a` rows, `b` columns): dot products need no copy.
    fn contiguous_k(&self) -> bool {
        self.k == 1 || (self.a.cs == 1 && self.b.rs == 1)
    }

    /// `b` and `c` contiguous along `n`: rows of `b` can be broadcast into rows of `c`.
    fn contiguous_n(&self) -> bool {
        self.n == 1 || (self.b.cs == 1 && self.c.cs == 1)
    }
}

// SAFETY: a `Product` is only shared between the threads computing disjoint blocks of it, and
// its elements can be sent and shared.
unsafe impl<T: Send + Sync> Send for Product<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for Product<T> {}

/// The kernel a product runs on, chosen once for the whole product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kernel {
    /// The `gemm` crate's kernels of this level ([`crate_gemm`]).
    Crate(Isa),
    /// Blocked dot products of rows of `a` and columns of `b` (both contiguous along `k`).
    Dot(Isa),
    /// Rows of `b` broadcast into rows of `c` (few rows of `a`; `b`, `c` contiguous along `n`).
    Axpy(Isa),
    /// A packed product of this crate: AVX2 + FMA ([`super::avx2_packed`]) or portable
    /// ([`portable::packed`]).
    Packed(Isa),
}

/// The element types with fast kernels.
pub(super) trait Scalar: Float + crate_gemm::CrateKernels {
    /// The kernel for `p` at level `isa`.
    fn plan(p: &Product<Self>, isa: Isa) -> Kernel;

    /// Computes `p` (or a block of it) on this thread with `kernel`.
    ///
    /// # Safety
    /// The operands must be valid for the product's shapes and strides, `c` must overlap
    /// neither input, the dimensions must be positive, and `kernel` must come from
    /// [`Scalar::plan`] for the whole product at a level the CPU supports.
    unsafe fn kernel(p: Product<Self>, alpha: Self, beta: Self, kernel: Kernel);
}

/// The choice shared by `f32` and `f64`: dot products or broadcasts where they beat the
/// repacking of the general kernels (measured per level, see [`Tuning`]), else `general`.
fn plan_with<T>(p: &Product<T>, t: &Tuning, isa: Isa, general: Kernel) -> Kernel {
    let axpy =
        p.contiguous_n() && p.m <= t.axpy_max_rows && p.n.saturating_mul(p.k) <= t.axpy_max_b;
    let gemv = p.contiguous_k() && p.m == 1;
    if p.contiguous_k() && p.m > 1 && p.m.saturating_mul(t.dot_k_per_row) < p.k {
        Kernel::Dot(isa)
    } else if gemv {
        // One row: the gemm crate's matrix-vector kernel where it has one, else dot products.
        if t.crate_gemv {
            Kernel::Crate(isa)
        } else {
            Kernel::Dot(isa)
        }
    } else if axpy {
        Kernel::Axpy(isa)
    } else {
        general
    }
}

impl Scalar for f32 {
    fn plan(p: &Product<f32>, isa: Isa) -> Kernel {
        // The AVX2 packed product where its packing pays (the gemm crate's kernel has paths
        // for thin products and reads one operand in place).
        let packed_pays = p.m >= 16 && p.n >= 16 && p.k >= 16;
        let general = match isa {
            Isa::Avx2 if packed_pays => Kernel::Packed(Isa::Avx2),
            _ => crate_gemm::general(isa),
        };
        plan_with(p, Tuning::of(isa), isa, general)
    }

    unsafe fn kernel(p: Product<f32>, alpha: f32, beta: f32, kernel: Kernel) {
        // SAFETY: (every arm) forwarded from the caller; `plan` checked the unit strides each
        // kernel needs, and the level is one the CPU supports.
        unsafe {
            match kernel {
                #[cfg(x86_kernels)]
                Kernel::Dot(Isa::Avx512) => super::avx512::dot_nt(p, alpha, beta),
                #[cfg(x86_kernels)]
                Kernel::Axpy(Isa::Avx512) => super::avx512::axpy_nn(p, alpha, beta),
                #[cfg(x86_kernels)]
                Kernel::Dot(Isa::Avx2) => super::avx2::dot_nt(p, alpha, beta),
                #[cfg(x86_kernels)]
                Kernel::Axpy(Isa::Avx2) => super::avx2::axpy_nn(p, alpha, beta),
                Kernel::Dot(_) => portable::dot_nt::<f32, 4>(p, alpha, beta),
                Kernel::Axpy(_) => portable::axpy_nn::<f32, 4>(p, alpha, beta),
                #[cfg(x86_kernels)]
                Kernel::Packed(Isa::Avx2) => super::avx2_packed::gemm(p, alpha, beta),
                Kernel::Crate(isa) => crate_gemm::run(p, alpha, beta, isa),
                Kernel::Packed(_) => portable::packed::<f32, 4>(p, alpha, beta),
            }
        }
    }
}

impl Scalar for f64 {
    fn plan(_: &Product<f64>, isa: Isa) -> Kernel {
        // The general kernels for every shape: `f64` is for exactness checks, and these sum
        // each element over `k` in order whatever the number of rows, so a batch gives the
        // same bits as each of its rows alone.
        crate_gemm::general(isa)
    }

    unsafe fn kernel(p: Product<f64>, alpha: f64, beta: f64, kernel: Kernel) {
        // SAFETY: (both arms) forwarded from the caller.
        unsafe {
            match kernel {
                Kernel::Crate(isa) => crate_gemm::run(p, alpha, beta, isa),
                _ => portable::packed::<f64, 2>(p, alpha, beta),
            }
        }
    }
}

/// Splits a large product into blocks of output columns (when `n >= m`) or rows, which the
/// calling thread and the helpers take in turn. The blocks depend on the shape and the level
/// only, never on the number of threads, so neither do the results.
///
/// # Safety
/// As [`Scalar::kernel`], with `isa` a level the CPU supports.
unsafe fn run<T: Scalar>(p: Product<T>, alpha: T, beta: T, isa: Isa) {
    let t = Tuning::of(isa);
    let work = p.m.saturating_mul(p.n).saturating_mul(p.k);
    let along_n = p.n >= p.m;
    let len = if along_n { p.n } else { p.m };
    // A matrix-vector product whose matrix is not contiguous along k runs as column updates,
    // which lose more to splitting than a second thread gains (measured).
    let thin_strided = (p.m == 1 && p.b.rs != 1) || (p.n == 1 && p.a.cs != 1);
    let blocks = if work < PARALLEL_MIN_WORK || thin_strided {
        1
    } else {
        (len / t.block_width).clamp(1, t.max_blocks)
    };
    let threads = pool::num_threads().min(blocks);
    let kernel = T::plan(&p, isa);
    if blocks == 1 {
        // SAFETY: forwarded from the caller.
        unsafe { T::kernel(p, alpha, beta, kernel) };
        return;
    }
    // Block `i` covers `bound(i)..bound(i + 1)`; inner bounds are multiples of `block_align`.
    let align = t.block_align;
    let bound = |i: usize| {
        if i == blocks {
            len
        } else {
            ((len * i / blocks).div_ceil(align) * align).min(len)
        }
    };
    let block = |i: usize| {
        let (lo, hi) = (bound(i), bound(i + 1));
        if hi > lo {
            let q = if along_n {
                p.cols(lo, hi)
            } else {
                p.rows(lo, hi)
            };
            // SAFETY: the blocks are disjoint parts of `c`, valid as `p` is.
            unsafe { T::kernel(q, alpha, beta, kernel) };
        }
    };
    if threads <= 1 {
        (0..blocks).for_each(block);
    } else {
        pool::run(threads - 1, blocks, &block);
    }
}
