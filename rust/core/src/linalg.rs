//! The matrix products everything else is built on, in one place so the engine can change.

use crate::{Error, Float, Result};
use ndarray::{ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3};

/// `c = alpha * a @ b + beta * c`.
///
/// Shapes: `a` (m, k), `b` (k, n), `c` (m, n). Views may be transposed (`.t()`).
#[inline]
pub fn gemm<T: Float>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    ndarray::linalg::general_mat_mul(alpha, a, b, beta, c);
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
