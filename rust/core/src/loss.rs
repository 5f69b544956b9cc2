//! Numerically stable (masked) cross-entropy with its gradient, and the total negative
//! log-likelihood.

use crate::error::check_shape;
use crate::{Error, Float, Result};
use ndarray::{Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis};

/// Replaces `row` by `exp(row - max(row))` and returns `(max, sum of the exponentials)`.
fn exp_shifted<T: Float>(row: &mut ArrayViewMut1<'_, T>) -> (T, T) {
    let max = row.fold(T::neg_infinity(), |m, &x| m.max(x));
    row.mapv_inplace(|x| x - max);
    match row.as_slice_mut() {
        Some(xs) => T::model_exp_in_place(xs),
        None => row.mapv_inplace(T::exp),
    }
    (max, row.sum())
}

/// Total negative log-likelihood `sum_i (logsumexp(z_i) - z_i[y_i])` of `targets` under
/// `logits`, as `f64`; the logits are overwritten. A target of probability zero (in floating
/// point) gives infinity, not an error.
///
/// Shapes: `logits` `(n, classes)`, `targets` `(n,)`.
pub fn total_nll<T: Float>(mut logits: Array2<T>, targets: ArrayView1<'_, usize>) -> Result<f64> {
    let (n, classes) = logits.dim();
    check_shape("targets", &[n], targets.shape())?;
    crate::embedding::check_ids("targets", targets.iter().copied(), classes)?;
    let mut nll = 0.0f64;
    for (mut row, &y) in logits.axis_iter_mut(Axis(0)).zip(targets.iter()) {
        let z_y = row[y];
        let (max, sum) = exp_shifted(&mut row);
        nll += (max + sum.ln() - z_y).to_f64_lossless();
    }
    Ok(nll)
}

/// Mean cross-entropy over the positions whose mask weight is non-zero, and its gradient.
///
/// `loss = sum_i m_i * (logsumexp(z_i) - z_i[y_i]) / sum_i m_i` with `m_i = 1` when no mask is
/// given. Masks are 0/1 weights (any non-negative weights work: it is a weighted mean).
///
/// Shapes: `logits` `(n, classes)`, `targets` `(n,)`, `mask` `(n,)` ->
/// (loss, `d_logits` `(n, classes)`).
pub fn cross_entropy<T: Float>(
    logits: ArrayView2<'_, T>,
    targets: ArrayView1<'_, usize>,
    mask: Option<ArrayView1<'_, T>>,
) -> Result<(T, Array2<T>)> {
    cross_entropy_owned(logits.to_owned(), targets, mask)
}

/// [`cross_entropy`] computing the gradient in the logits' own buffer.
pub fn cross_entropy_owned<T: Float>(
    logits: Array2<T>,
    targets: ArrayView1<'_, usize>,
    mask: Option<ArrayView1<'_, T>>,
) -> Result<(T, Array2<T>)> {
    let (n, classes) = logits.dim();
    check_shape("targets", &[n], targets.shape())?;
    crate::embedding::check_ids("targets", targets.iter().copied(), classes)?;
    let total = match &mask {
        Some(m) => {
            check_shape("mask", &[n], m.shape())?;
            if let Some(bad) = m.iter().find(|w| !(w.is_finite() && **w >= T::zero())) {
                return Err(Error::invalid(
                    "mask",
                    "finite weights >= 0 (0/1 or booleans)",
                    bad,
                ));
            }
            m.iter().fold(0.0f64, |s, &w| s + w.to_f64_lossless())
        }
        None => n as f64,
    };
    if total <= 0.0 {
        return Err(Error::invalid(
            "mask",
            "at least one unmasked position",
            "all positions masked",
        ));
    }
    let inv_total = T::from_f64_lossy(1.0 / total);
    let mut grad = logits; // (n, classes)
    let mut loss = 0.0f64;
    for (i, mut row) in grad.axis_iter_mut(Axis(0)).enumerate() {
        let w = mask.as_ref().map_or(T::one(), |m| m[i]);
        let y = targets[i];
        if w == T::zero() {
            row.fill(T::zero());
            continue;
        }
        let z_y = row[y];
        let (max, sum) = exp_shifted(&mut row);
        loss += (w * (max + sum.ln() - z_y)).to_f64_lossless();
        let scale = w * inv_total / sum;
        row.mapv_inplace(|e| e * scale);
        row[y] -= w * inv_total;
    }
    Ok((T::from_f64_lossy(loss / total), grad))
}
