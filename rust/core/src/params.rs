//! Named parameters: the state-dict view every model and every gradient shares.
//!
//! Models keep their tensors in plain struct fields (`weight_ih`, `bias_hh`, ...) and list them
//! here under PyTorch's state-dict names. Gradients have the same struct type as the parameters,
//! so optimizers, clipping and checkpoints all work on `(name, tensor)` pairs.

use crate::{Error, Float, Result};
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD};

/// A set of named tensors. Names and order are stable: they are the state-dict keys.
pub trait Parameters<T: Float> {
    /// Every tensor with its state-dict name, in a fixed order.
    fn named(&self) -> Vec<(String, ArrayViewD<'_, T>)>;

    /// Mutable views in the same order as [`Parameters::named`].
    fn named_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, T>)>;

    /// The names alone.
    fn names(&self) -> Vec<String> {
        self.named().into_iter().map(|(n, _)| n).collect()
    }

    /// Owned copies of every tensor, keyed by name (PyTorch's `state_dict()`).
    fn state_dict(&self) -> Vec<(String, ArrayD<T>)> {
        self.named()
            .into_iter()
            .map(|(n, a)| (n, a.to_owned()))
            .collect()
    }

    /// Replaces every tensor by the one of the same name in `dict`, after checking that
    /// the names are exactly this model's and every shape matches. Nothing changes on error.
    fn load_state_dict(&mut self, dict: &[(String, ArrayViewD<'_, T>)]) -> Result<()> {
        let mine = self
            .named()
            .into_iter()
            .map(|(n, a)| (n, a.shape().to_vec()))
            .collect::<Vec<_>>();
        for (name, tensor) in dict {
            match mine.iter().find(|(n, _)| n == name) {
                None => {
                    return Err(Error::UnknownParameter {
                        name: name.clone(),
                        expected: mine.iter().map(|(n, _)| n.clone()).collect(),
                    })
                }
                Some((_, shape)) => crate::error::check_shape(name, shape, tensor.shape())?,
            }
        }
        for (name, _) in &mine {
            if dict.iter().filter(|(n, _)| n == name).count() != 1 {
                return Err(Error::MissingParameter { name: name.clone() });
            }
        }
        for (name, mut target) in self.named_mut() {
            if let Some((_, source)) = dict.iter().find(|(n, _)| *n == name) {
                target.assign(source);
            }
        }
        Ok(())
    }

    /// A copy with every tensor set to zero (the shape of a gradient).
    fn zeros_like(&self) -> Self
    where
        Self: Clone,
    {
        let mut z = self.clone();
        z.fill(T::zero());
        z
    }

    /// Sets every element of every tensor to `value`.
    fn fill(&mut self, value: T) {
        for (_, mut a) in self.named_mut() {
            a.fill(value);
        }
    }

    /// Multiplies every tensor by `factor`.
    fn scale(&mut self, factor: T) {
        for (_, mut a) in self.named_mut() {
            a.mapv_inplace(|x| x * factor);
        }
    }

    /// `self += alpha * other`, tensor by tensor (both must have the same structure).
    fn add_scaled(&mut self, alpha: T, other: &Self) {
        for ((_, mut a), (_, b)) in self.named_mut().into_iter().zip(other.named()) {
            a.scaled_add(alpha, &b);
        }
    }

    /// The global L2 norm over all tensors (accumulated in f64).
    fn global_norm(&self) -> f64 {
        let mut sum = 0.0f64;
        for (_, a) in self.named() {
            sum += match a.as_slice_memory_order() {
                Some(xs) => crate::engine::vmath::sum_squares(xs),
                None => a.iter().map(|&x| x.to_f64_lossless().powi(2)).sum(),
            };
        }
        sum.sqrt()
    }

    /// True when no element is NaN or infinite.
    fn all_finite(&self) -> bool {
        self.named()
            .iter()
            .all(|(_, a)| match a.as_slice_memory_order() {
                Some(xs) => !crate::engine::vmath::any_non_finite(xs),
                None => a.iter().all(|x| x.is_finite()),
            })
    }

    /// The total number of scalars.
    fn num_elements(&self) -> usize {
        self.named().iter().map(|(_, a)| a.len()).sum()
    }
}

/// Prepends `prefix.` to every name.
pub(crate) fn prefixed<V>(prefix: &str, named: Vec<(String, V)>) -> Vec<(String, V)> {
    named
        .into_iter()
        .map(|(n, v)| (format!("{prefix}.{n}"), v))
        .collect()
}
