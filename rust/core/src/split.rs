//! Data parallelism inside one minibatch: its sequences are cut into parts whose forward and
//! backward passes run at the same time on the [`crate::engine`] threads, and whose mean losses
//! and gradients are then combined, weighted by their token counts.
//!
//! Small recurrent products gain little from being split across threads (each time step would
//! wait for both), whole sequences split perfectly. The parts depend on the shapes only, never
//! on the number of threads, so neither do the results.

use crate::{Float, Parameters, Result};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
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

/// `f(range(batch, parts, i), rng_i)` for every part `i`, run in parallel; the results in
/// order, or the first part's error. With `rng` (dropout), each part gets a generator of its
/// own, seeded in order from `rng`. The caller's [`crate::interrupt`] hook stops every part.
pub fn map<R: Send>(
    batch: usize,
    parts: usize,
    rng: Option<&mut StdRng>,
    f: impl Fn(Range<usize>, Option<&mut StdRng>) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let seeds: Option<Vec<u64>> = rng.map(|r| (0..parts).map(|_| r.random()).collect());
    let slots: Vec<Mutex<Option<Result<R>>>> = (0..parts).map(|_| Mutex::new(None)).collect();
    // A part on a helper thread stops when the caller's interrupt hook says stop.
    let stopped = crate::interrupt::current();
    crate::engine::parallel_tasks(parts, &|i| {
        let mut rng = seeds
            .as_ref()
            .and_then(|s| s.get(i))
            .map(|&s| StdRng::seed_from_u64(s));
        let r = crate::interrupt::within(&stopped, || f(range(batch, parts, i), rng.as_mut()));
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

/// `(sum_i w_i * loss_i, sum_i w_i * grads_i)` over `(loss, gradients, weight)` parts, the
/// gradients accumulated in order into the first part's.
pub fn weighted_sum<T: Float, P: Parameters<T>>(parts: Vec<(T, P, T)>) -> Option<(T, P)> {
    let mut it = parts.into_iter();
    let (loss0, mut grads, w0) = it.next()?;
    let mut loss = loss0 * w0;
    grads.scale(w0);
    for (l, g, w) in it {
        loss += l * w;
        grads.add_scaled(w, &g);
    }
    Some((loss, grads))
}
