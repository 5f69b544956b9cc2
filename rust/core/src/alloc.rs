//! Fallible allocation: a size that memory cannot hold is an [`Error::OutOfMemory`], not an abort.

use crate::{Error, Float, Result};
use ndarray::{Array2, Array3, Dimension, IntoDimension};

/// A zero-filled array of `shape`, or [`Error::OutOfMemory`] when it cannot be had.
pub fn zeros<T: Float, D: Dimension>(
    what: &str,
    shape: impl IntoDimension<Dim = D>,
) -> Result<ndarray::Array<T, D>> {
    let shape = shape.into_dimension();
    let oom = |bytes: u128| Error::OutOfMemory {
        what: what.to_string(),
        bytes,
    };
    let dims = shape.slice();
    let n = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let bytes_wide = dims
        .iter()
        .fold(std::mem::size_of::<T>() as u128, |acc, &d| {
            acc.saturating_mul(d as u128)
        });
    let n = n.ok_or_else(|| oom(bytes_wide))?;
    if bytes_wide > isize::MAX as u128 {
        return Err(oom(bytes_wide));
    }
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(n).map_err(|_| oom(bytes_wide))?;
    v.resize(n, T::zero());
    ndarray::Array::from_shape_vec(shape, v).map_err(|_| oom(bytes_wide))
}

/// `f` of every element of `a`, in a new array of `a`'s shape (standard layout), or
/// [`Error::OutOfMemory`] when it cannot be had: the fallible `a.map(f)`.
pub fn map<A, B, D: Dimension>(
    what: &str,
    a: ndarray::ArrayView<'_, A, D>,
    f: impl FnMut(&A) -> B,
) -> Result<ndarray::Array<B, D>> {
    let bytes = (a.len() as u128).saturating_mul(std::mem::size_of::<B>() as u128);
    let oom = || Error::OutOfMemory {
        what: what.to_string(),
        bytes,
    };
    let mut v: Vec<B> = Vec::new();
    v.try_reserve_exact(a.len()).map_err(|_| oom())?;
    v.extend(a.iter().map(f)); // logical order
    ndarray::Array::from_shape_vec(a.raw_dim(), v).map_err(|_| oom())
}

/// [`zeros`] for a matrix.
pub fn zeros2<T: Float>(what: &str, rows: usize, cols: usize) -> Result<Array2<T>> {
    zeros(what, (rows, cols))
}

/// [`zeros`] for a `(steps, batch, n)` array.
pub fn zeros3<T: Float>(what: &str, steps: usize, batch: usize, n: usize) -> Result<Array3<T>> {
    zeros(what, (steps, batch, n))
}

/// Fails with [`Error::OutOfMemory`] unless `bytes` could be had at once. A model made of many
/// small arrays (a million layers, say) is refused here as a whole, where each array alone would
/// be granted until the process is killed for running out of memory.
pub fn reserve(what: &str, bytes: u128) -> Result<()> {
    let oom = || Error::OutOfMemory {
        what: what.to_string(),
        bytes,
    };
    let n = usize::try_from(bytes)
        .ok()
        .filter(|&n| n <= isize::MAX as usize)
        .ok_or_else(oom)?;
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(n).map_err(|_| oom()) // released at once, never touched
}
