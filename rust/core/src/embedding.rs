//! Token embedding: a `(vocab_size, embed_size)` table whose rows are gathered by id.

use crate::error::check_positive;
use crate::init::{fill_weight, Init};
use crate::{Error, Float, Parameters, Result};
use ndarray::{Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis};

/// Fails with [`Error::TokenOutOfRange`] on the first id `>= vocab_size`.
pub fn check_ids(
    what: &str,
    ids: impl IntoIterator<Item = usize>,
    vocab_size: usize,
) -> Result<()> {
    match ids.into_iter().find(|&id| id >= vocab_size) {
        Some(id) => Err(Error::TokenOutOfRange {
            what: what.to_string(),
            id: id as i64,
            vocab_size,
        }),
        None => Ok(()),
    }
}

/// Converts signed ids (as numpy hands them over) to `usize`, rejecting negatives and ids
/// `>= vocab_size` with [`Error::TokenOutOfRange`].
pub fn ids_from_i64<D: ndarray::Dimension>(
    what: &str,
    ids: ndarray::ArrayView<'_, i64, D>,
    vocab_size: usize,
) -> Result<ndarray::Array<usize, D>> {
    if let Some(&bad) = ids
        .iter()
        .find(|&&id| id < 0 || id as u64 >= vocab_size as u64)
    {
        return Err(Error::TokenOutOfRange {
            what: what.to_string(),
            id: bad,
            vocab_size,
        });
    }
    crate::alloc::map(what, ids, |&id| id as usize)
}

/// `embedding.weight`: row `i` is the vector of token `i`.
///
/// ```
/// use ndarray::array;
/// use seqrnn::{Embedding, Init};
///
/// let emb = Embedding::<f32>::new(5, 3, Init::Uniform, 0)?;
/// let x = emb.forward(array![[0, 4], [4, 1]].view())?; // ids (steps, batch)
/// assert_eq!(x.dim(), (2, 2, 3)); // (steps, batch, embed)
/// assert_eq!(x.slice(ndarray::s![0, 1, ..]), emb.weight.row(4));
/// # Ok::<(), seqrnn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Embedding<T> {
    /// `(vocab_size, embed_size)`.
    pub weight: Array2<T>,
}

impl<T: Float> Embedding<T> {
    /// Weights from N(0, 1) (PyTorch's default) for [`Init::Uniform`], or N(0, std^2) for
    /// [`Init::Normal`].
    pub fn new(vocab_size: usize, embed_size: usize, init: Init, seed: u64) -> Result<Self> {
        check_positive("vocab_size", vocab_size)?;
        check_positive("embed_size", embed_size)?;
        let mut weight = crate::alloc::zeros2("embedding.weight", vocab_size, embed_size)?;
        let init = match init {
            Init::Uniform | Init::Orthogonal => Init::Normal { std: 1.0 },
            other => other,
        };
        fill_weight(&mut weight, init, 1.0, &mut crate::init::rng(seed))?;
        Ok(Embedding { weight })
    }

    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.weight.nrows()
    }

    /// Gathers rows. Shapes: `ids` `(steps, batch)` -> `(steps, batch, embed_size)`.
    pub fn forward(&self, ids: ArrayView2<'_, usize>) -> Result<Array3<T>> {
        check_ids("ids", ids.iter().copied(), self.vocab_size())?;
        let (steps, batch) = ids.dim();
        let mut out = crate::alloc::zeros3("embeddings", steps, batch, self.weight.ncols())?; // (steps, B, E)
        for (mut row, &id) in out.lanes_mut(Axis(2)).into_iter().zip(ids.iter()) {
            row.assign(&self.weight.row(id));
        }
        Ok(out)
    }

    /// Scatter-adds the output gradient into a weight gradient.
    /// Shapes: `ids` `(steps, batch)`, `d_out` `(steps, batch, embed_size)`.
    pub fn backward(
        &self,
        ids: ArrayView2<'_, usize>,
        d_out: ArrayView3<'_, T>,
    ) -> Result<Embedding<T>> {
        check_ids("ids", ids.iter().copied(), self.vocab_size())?;
        let (steps, batch) = ids.dim();
        crate::error::check_shape("d_out", &[steps, batch, self.weight.ncols()], d_out.shape())?;
        let mut grad = self.zeros_like();
        for (row, &id) in d_out.lanes(Axis(2)).into_iter().zip(ids.iter()) {
            let mut target = grad.weight.row_mut(id);
            target += &row;
        }
        Ok(grad)
    }
}

impl<T: Float> Parameters<T> for Embedding<T> {
    fn named(&self) -> Vec<(String, ArrayViewD<'_, T>)> {
        vec![("weight".to_string(), self.weight.view().into_dyn())]
    }

    fn named_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, T>)> {
        vec![("weight".to_string(), self.weight.view_mut().into_dyn())]
    }
}
