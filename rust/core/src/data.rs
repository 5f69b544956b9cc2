//! Minibatches over a token-id corpus, as d2l's RNN chapter samples them.
//!
//! Every batch is described by the start offsets of its rows: row `b` reads
//! `corpus[s_b .. s_b + num_steps]` as inputs and the same window shifted by one as targets.
//!
//! - [`Sampling::Random`] (d2l 0.17 `seq_data_iter_random`): a random offset in
//!   `0..num_steps`, the corpus cut into non-overlapping subsequences, shuffled, grouped.
//! - [`Sampling::Sequential`] (d2l 0.17 `seq_data_iter_sequential`): a random offset in
//!   `0..=num_steps`, the corpus split into `batch_size` parallel streams; minibatch `i + 1`
//!   continues minibatch `i` row by row, so a hidden state can be carried across them.
//! - [`Sampling::Windows`] (d2l 1.0 `TimeMachine`): every offset starts a window; windows are
//!   shuffled each epoch and grouped, the last batch possibly smaller.

use crate::error::check_positive;
use crate::{Error, Result};
use ndarray::Array2;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::RngExt;

/// How minibatches are drawn from the corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampling {
    /// Shuffled non-overlapping subsequences; each minibatch starts from a zero state.
    Random,
    /// Parallel streams; minibatch `i + 1` continues minibatch `i` (carry the state).
    Sequential,
    /// All overlapping windows, shuffled.
    Windows,
}

impl Sampling {
    /// Parses `"random"`, `"sequential"` or `"windows"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "random" => Ok(Sampling::Random),
            "sequential" => Ok(Sampling::Sequential),
            "windows" => Ok(Sampling::Windows),
            other => Err(Error::invalid(
                "sampling",
                "\"random\", \"sequential\" or \"windows\"",
                format!("{other:?}"),
            )),
        }
    }

    /// The name [`Sampling::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Sampling::Random => "random",
            Sampling::Sequential => "sequential",
            Sampling::Windows => "windows",
        }
    }

    /// Whether consecutive minibatches continue each other (so state should be carried).
    pub fn carries_state(self) -> bool {
        self == Sampling::Sequential
    }
}

/// The start offsets of every row of every minibatch of one epoch.
///
/// Fails when the corpus is too short for a single minibatch.
pub fn epoch_batches(
    corpus_len: usize,
    batch_size: usize,
    num_steps: usize,
    sampling: Sampling,
    rng: &mut StdRng,
) -> Result<Vec<Vec<usize>>> {
    let starts = epoch_starts(corpus_len, batch_size, num_steps, sampling, rng)?;
    let mut out = Vec::with_capacity(starts.len().div_ceil(batch_size));
    for b in starts.chunks(batch_size) {
        crate::interrupt::poll(64 + b.len())?; // an allocation, and the row starts
        out.push(b.to_vec());
    }
    Ok(out)
}

/// The start offsets of [`epoch_batches`] in one flat list: minibatch `i` has the rows
/// `starts[i * batch_size..][..batch_size]` (with [`Sampling::Windows`] the last minibatch may
/// have fewer, with the others every one has `batch_size`). The same `rng` gives the same
/// minibatches in both.
///
/// Fails when the corpus is too short for a single minibatch.
pub fn epoch_starts(
    corpus_len: usize,
    batch_size: usize,
    num_steps: usize,
    sampling: Sampling,
    rng: &mut StdRng,
) -> Result<Vec<usize>> {
    check_positive("batch_size", batch_size)?;
    check_positive("num_steps", num_steps)?;
    let too_short = |needed: usize| {
        Error::invalid(
            "corpus length",
            format!("at least {needed} tokens for batch_size {batch_size} and num_steps {num_steps} ({sampling:?} sampling)"),
            corpus_len,
        )
    };
    // One minibatch needs `batch_size * num_steps` inputs plus one target; the random offset is
    // capped so that every epoch of a corpus that fits one minibatch has at least one.
    let needed = batch_size.saturating_mul(num_steps).saturating_add(1);
    if sampling != Sampling::Windows && corpus_len < needed {
        return Err(too_short(needed));
    }
    let slack = corpus_len.saturating_sub(needed);
    match sampling {
        Sampling::Random => {
            let offset = rng.random_range(0..=slack.min(num_steps - 1));
            let num_subseqs = (corpus_len - offset - 1) / num_steps;
            let num_batches = num_subseqs / batch_size;
            let mut starts = collect_polled((0..num_subseqs).map(|i| offset + i * num_steps))?;
            starts.shuffle(rng);
            starts.truncate(num_batches * batch_size);
            Ok(starts)
        }
        Sampling::Sequential => {
            let offset = rng.random_range(0..=slack.min(num_steps));
            let per_row = (corpus_len - offset - 1) / batch_size;
            let num_batches = per_row / num_steps;
            collect_polled((0..num_batches * batch_size).map(|k| {
                let (i, b) = (k / batch_size, k % batch_size); // minibatch, row
                offset + b * per_row + i * num_steps
            }))
        }
        Sampling::Windows => {
            let num_windows = corpus_len.saturating_sub(num_steps);
            if num_windows == 0 {
                return Err(too_short(num_steps + 1));
            }
            let mut starts = collect_polled(0..num_windows)?;
            starts.shuffle(rng);
            Ok(starts)
        }
    }
}

/// Items between two polls of the [`crate::interrupt`] hook in [`collect_polled`].
const POLL_EVERY: usize = 1 << 12;

/// The items, in order, polling the [`crate::interrupt`] hook as they are made.
fn collect_polled(items: impl ExactSizeIterator<Item = usize>) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(items.len());
    for (i, s) in items.enumerate() {
        if i % POLL_EVERY == 0 {
            crate::interrupt::poll(4 * POLL_EVERY)?;
        }
        out.push(s);
    }
    Ok(out)
}

/// Inputs and targets of one minibatch, time-major `(num_steps, rows)`.
///
/// Fails with [`Error::InvalidArgument`] if a window runs past the corpus end.
pub fn gather(
    corpus: &[usize],
    starts: &[usize],
    num_steps: usize,
) -> Result<(Array2<usize>, Array2<usize>)> {
    if let Some(&bad) = starts.iter().find(|&&s| s + num_steps >= corpus.len()) {
        return Err(Error::invalid(
            "batch start",
            format!("below {}", corpus.len().saturating_sub(num_steps)),
            bad,
        ));
    }
    crate::interrupt::poll(2 * num_steps * starts.len())?;
    let x = Array2::from_shape_fn((num_steps, starts.len()), |(t, b)| corpus[starts[b] + t]); // (steps, rows)
    let y = Array2::from_shape_fn((num_steps, starts.len()), |(t, b)| {
        corpus[starts[b] + t + 1]
    }); // (steps, rows)
    Ok((x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covered(batches: &[Vec<usize>], num_steps: usize) -> Vec<usize> {
        let mut all: Vec<usize> = batches
            .iter()
            .flatten()
            .flat_map(|&s| s..s + num_steps)
            .collect();
        all.sort_unstable();
        all
    }

    #[test]
    fn random_subsequences_do_not_overlap() {
        let mut rng = crate::init::rng(1);
        let batches = epoch_batches(100, 3, 5, Sampling::Random, &mut rng).unwrap();
        let pos = covered(&batches, 5);
        let mut dedup = pos.clone();
        dedup.dedup();
        assert_eq!(pos, dedup);
        assert!(batches.iter().all(|b| b.len() == 3));
    }

    #[test]
    fn sequential_batches_continue_each_other() {
        let mut rng = crate::init::rng(2);
        let batches = epoch_batches(100, 4, 5, Sampling::Sequential, &mut rng).unwrap();
        for pair in batches.windows(2) {
            for (next, prev) in pair[1].iter().zip(&pair[0]) {
                assert_eq!(*next, prev + 5);
            }
        }
    }

    #[test]
    fn windows_cover_every_offset() {
        let mut rng = crate::init::rng(3);
        let batches = epoch_batches(20, 4, 5, Sampling::Windows, &mut rng).unwrap();
        let mut starts: Vec<usize> = batches.into_iter().flatten().collect();
        starts.sort_unstable();
        assert_eq!(starts, (0..15).collect::<Vec<_>>());
    }

    #[test]
    fn a_corpus_that_fits_one_minibatch_always_gets_one() {
        for seed in 0..50 {
            let mut rng = crate::init::rng(seed);
            for s in [Sampling::Random, Sampling::Sequential] {
                let batches = epoch_batches(4 * 5 + 1, 4, 5, s, &mut rng).unwrap();
                assert_eq!(batches.len(), 1, "{s:?}, seed {seed}");
            }
        }
    }

    #[test]
    fn too_short_corpus_is_an_error() {
        let mut rng = crate::init::rng(4);
        for s in [Sampling::Random, Sampling::Sequential, Sampling::Windows] {
            assert!(epoch_batches(3, 2, 5, s, &mut rng).is_err());
        }
    }
}
