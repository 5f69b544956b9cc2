//! Length bucketing of sentence pairs, as torchtext's `BucketIterator` and Keras'
//! `bucket_by_sequence_length` do it: minibatches of pairs of similar lengths, so that a
//! minibatch trimmed to its longest pair ([`PairSet::gather_trimmed`]) holds little padding.
//!
//! One epoch: the pairs are shuffled, cut into pools of `pool_batches` minibatches' worth,
//! each pool is sorted by (source length, target length) and cut into minibatches, and the
//! order of all the minibatches is shuffled. Every pair is in exactly one minibatch; only the
//! last minibatch of the last pool may be smaller. The plan depends on the random stream alone,
//! so the same seed and epoch give the same minibatches.

use super::PairSet;
use crate::error::check_positive;
use crate::Result;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

/// Minibatches' worth of pairs sorted together, as torchtext's `BucketIterator` does.
pub const POOL_BATCHES: usize = 100;

/// The minibatches of one epoch of `set`, each a list of pair indices, with pairs of similar
/// lengths together (see the module documentation).
///
/// ```
/// use seqrnn::pairs::{bucketed_batches, PairSet};
/// use ndarray::Array2;
///
/// let lens: Vec<usize> = (0..12).map(|i| 1 + i % 4).collect(); // 1 2 3 4 1 2 ...
/// let ids = Array2::from_elem((12, 4), 3);
/// let set = PairSet { src: ids.clone(), src_len: lens.clone(), tgt_in: ids.clone(),
///                     tgt_out: ids, tgt_len: lens.clone() };
/// let mut rng = seqrnn::init::rng(0);
/// let batches = bucketed_batches(&set, 3, 4, &mut rng)?;
/// for b in &batches {
///     assert!(b.iter().all(|&r| lens[r] == lens[b[0]])); // one length a minibatch
/// }
/// let mut all: Vec<usize> = batches.concat();
/// all.sort();
/// assert_eq!(all, (0..12).collect::<Vec<_>>()); // every pair once
/// # Ok::<(), seqrnn::Error>(())
/// ```
pub fn bucketed_batches(
    set: &PairSet,
    batch_size: usize,
    pool_batches: usize,
    rng: &mut StdRng,
) -> Result<Vec<Vec<usize>>> {
    check_positive("batch_size", batch_size)?;
    check_positive("pool_batches", pool_batches)?;
    set.validate()?;
    let mut order: Vec<usize> = (0..set.len()).collect(); // (pairs,)
    order.shuffle(rng);
    let length = |r: usize| {
        (
            set.src_len.get(r).copied().unwrap_or(0),
            set.tgt_len.get(r).copied().unwrap_or(0),
        )
    };
    let mut batches = Vec::with_capacity(order.len().div_ceil(batch_size));
    for pool in order.chunks_mut(batch_size.saturating_mul(pool_batches)) {
        pool.sort_by_key(|&r| length(r)); // stable: ties keep the shuffled order
        batches.extend(pool.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(rng);
    Ok(batches)
}
