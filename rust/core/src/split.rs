//! Data parallelism inside one minibatch: its sequences are cut into parts whose forward and
//! backward passes run at the same time on the [`crate::linalg`] threads, and whose mean losses
//! and gradients are then combined, weighted by their token counts.
//!
//! Small recurrent products gain little from being split across threads (each time step would
//! wait for both), whole sequences split perfectly. The parts depend on the shapes only, never
//! on the number of threads, so neither do the results.

use crate::{Float, Parameters, Result};
use std::ops::Range;
use std::sync::Mutex;

/// Sequences per part, at least.
const MIN_PART: usize = 8;

/// Largest hidden size cut into parts (measured at batch 32: two parts beat splitting each
/// product up to 1024 units, by 19% there; larger sizes, where each part streams a recurrent
/// matrix of over 4 MB at every step, were not measured).
const MAX_HIDDEN: usize = 1024;

/// Parts to cut a minibatch of `batch` sequences into, for RNNs of `hidden` units.
pub fn parts(batch: usize, hidden: usize) -> usize {
    if hidden <= MAX_HIDDEN && batch >= 2 * MIN_PART {
        2
    } else {
        1
    }
}

/// The range of sequences of part `i` of `parts`.
pub fn range(batch: usize, parts: usize, i: usize) -> Range<usize> {
    batch * i / parts..batch * (i + 1) / parts
}

/// `f(i, range(batch, parts, i))` for every part `i`, run in parallel; the results in order, or
/// the first part's error.
pub fn map<R: Send>(
    batch: usize,
    parts: usize,
    f: impl Fn(usize, Range<usize>) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let slots: Vec<Mutex<Option<Result<R>>>> = (0..parts).map(|_| Mutex::new(None)).collect();
    crate::linalg::parallel_tasks(parts, &|i| {
        let r = f(i, range(batch, parts, i));
        if let Some(slot) = slots.get(i) {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        }
    });
    slots
        .into_iter()
        .map(|s| {
            s.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err(crate::Error::invalid("part", "a result", "none")))
        })
        .collect()
}

/// `sum_i w_i * p_i` over `(parameters, weight)` pairs of the same shapes, accumulated in
/// order into the first one.
pub fn weighted_sum<T: Float, P: Parameters<T>>(parts: Vec<(P, T)>) -> Option<P> {
    let mut it = parts.into_iter();
    let (mut total, w0) = it.next()?;
    for (_, mut a) in total.named_mut() {
        a.mapv_inplace(|x| x * w0);
    }
    for (p, w) in it {
        for ((_, mut a), (_, b)) in total.named_mut().into_iter().zip(p.named()) {
            a.zip_mut_with(&b, |x, &y| *x += w * y);
        }
    }
    Some(total)
}
