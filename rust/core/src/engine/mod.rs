//! The compute engine: matrix products, vectorized elementwise math and the threads they run
//! on, with kernels for each instruction-set level.
//!
//! - [`gemm()`] runs every matrix product of the crate (`f32` and `f64`). Each product goes to
//!   one kernel, chosen by its shape and the level in use ([`current`]):
//!   - the [`gemm`](https://docs.rs/gemm) crate's blocked kernels for general products
//!     (AVX-512 or AVX2 + FMA on x86-64, NEON on ARM), or at the generic level on x86-64 a
//!     portable packed product;
//!   - blocked dot products when both operands are contiguous along the summed dimension and
//!     `a` has few rows (the forward recurrence `h_{t-1} W_hh^T`): no copy of `W_hh`, which the
//!     general kernels would repack at every step;
//!   - rows of `b` broadcast into rows of `c` when `a` has few rows and `b`, `c` are contiguous
//!     along `n` (the backward recurrence `dz_t W_hh`, batch 1).
//!
//!   The last two exist for AVX-512 (`avx512.rs`), AVX2 + FMA (`avx2.rs`) and in portable
//!   Rust (`portable.rs`). Which shapes go where was measured per level (`tuning.rs`).
//! - [`vmath`]: `tanh`, `exp` and the reductions over parameters, compiled for each level.
//! - [`isa`]: the levels, the cap (`SEQRNN_MAX_ISA`, [`set_max_isa`], [`with_max_isa`]) and
//!   [`cpu_info`].
//!
//! **Threads.** A product of at least [`PARALLEL_MIN_WORK`] multiply-adds is cut into up to 8
//! blocks of output columns (or rows, when there are more rows). The blocks depend on the shape
//! and the level only; the calling thread and up to [`num_threads`]` - 1` helper threads
//! ([`parallel_tasks`]) take them in turn, and each block is computed by one thread exactly as
//! it would be alone. Results are therefore deterministic, and the same for any number of
//! threads. Different levels agree within rounding.

#[cfg(x86_kernels)]
mod avx2;
#[cfg(x86_kernels)]
mod avx2_packed;
#[cfg(x86_kernels)]
mod avx512;
mod crate_gemm;
pub mod isa;
mod pool;
mod portable;
mod product;
mod recurrent;
mod tuning;
pub mod vmath;

pub use isa::{
    cpu_info, current, max_isa, set_max_isa, supported, with_max_isa, CpuInfo, Isa, ENV_VAR,
};
pub use pool::{num_threads, parallel_tasks, set_num_threads};
pub use product::{gemm, PARALLEL_MIN_WORK};
pub use recurrent::{Pass, Recurrent};

use crate::{Error, Result};
use ndarray::{s, Array2, ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3};

/// `a^T` as a new row-major array, copied in square blocks so that both the rows read and
/// the rows written stay in cache (an element-by-element strided copy misses on every read
/// of a large matrix).
///
/// Shapes: `a` (m, n) -> (n, m).
pub fn transpose<T: Copy + num_traits::Zero>(a: ArrayView2<'_, T>) -> Array2<T> {
    transpose_into(a, Vec::new())
}

/// [`transpose`] into `buffer` (whatever it held; reallocated only if too small).
pub(crate) fn transpose_into<T: Copy + num_traits::Zero>(
    a: ArrayView2<'_, T>,
    mut buffer: Vec<T>,
) -> Array2<T> {
    const BLOCK: usize = 32;
    let (m, n) = a.dim();
    buffer.clear();
    buffer.resize(m * n, T::zero());
    let mut out = Array2::from_shape_vec((n, m), buffer) // (n, m)
        .unwrap_or_else(|_| Array2::zeros((n, m)));
    for i in (0..m).step_by(BLOCK) {
        for j in (0..n).step_by(BLOCK) {
            let (i1, j1) = ((i + BLOCK).min(m), (j + BLOCK).min(n));
            out.slice_mut(s![j..j1, i..i1])
                .assign(&a.slice(s![i..i1, j..j1]).t());
        }
    }
    out
}

/// Views a `(steps, batch, n)` array as `(steps * batch, n)`; the array must be in standard layout.
pub fn flatten<'a, T>(a: ArrayView3<'a, T>) -> Result<ArrayView2<'a, T>> {
    let (s, b, n) = a.dim();
    a.into_shape_with_order((s * b, n)).map_err(|_| {
        Error::invalid(
            "array layout",
            "C-contiguous (steps, batch, n)",
            "a strided view",
        )
    })
}

/// Mutable version of [`flatten`].
pub fn flatten_mut<'a, T>(a: ArrayViewMut3<'a, T>) -> Result<ArrayViewMut2<'a, T>> {
    let (s, b, n) = a.dim();
    a.into_shape_with_order((s * b, n)).map_err(|_| {
        Error::invalid(
            "array layout",
            "C-contiguous (steps, batch, n)",
            "a strided view",
        )
    })
}

#[cfg(test)]
mod tests;
