//! Parameter initialization, always from a seed.

use crate::{Error, Float, Result};
use ndarray::{ArrayBase, DataMut, Dimension};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal, Uniform};
use serde::{Deserialize, Serialize};

/// How weights are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Init {
    /// PyTorch's default for `nn.RNN` and `nn.Linear`: every weight and bias from
    /// U(-1/sqrt(fan), 1/sqrt(fan)), where fan is the hidden size (RNN) or input size (Linear).
    Uniform,
    /// d2l's and min-char-rnn's: weights from N(0, std^2) (std 0.01 there), biases zero.
    Normal {
        /// Standard deviation of the weights.
        std: f64,
    },
    /// Recurrent weights `weight_hh` drawn as a random orthogonal matrix (Saxe et al.), so the
    /// recurrence neither shrinks nor grows a state at the start; everything else as
    /// [`Init::Uniform`].
    Orthogonal,
}

impl Init {
    /// d2l / min-char-rnn initialization: N(0, 0.01^2) weights, zero biases.
    pub const D2L: Init = Init::Normal { std: 0.01 };

    /// Parses `"uniform"` / `"pytorch"` and `"normal"` / `"d2l"` (std 0.01).
    pub fn parse(name: &str) -> Result<Init> {
        match name {
            "uniform" | "pytorch" | "default" => Ok(Init::Uniform),
            "normal" | "d2l" => Ok(Init::D2L),
            "orthogonal" => Ok(Init::Orthogonal),
            other => Err(Error::invalid(
                "init",
                "\"uniform\" (PyTorch), \"normal\" (d2l) or \"orthogonal\"",
                format!("{other:?}"),
            )),
        }
    }
}

/// A seeded random stream for initialization and sampling.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Combines a seed with a counter into a new seed (splitmix64), for independent streams.
pub fn mix(seed: u64, counter: u64) -> u64 {
    let mut z = seed ^ counter.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills a weight in place: U(-bound, bound) for [`Init::Uniform`], N(0, std^2) for [`Init::Normal`].
pub fn fill_weight<T: Float, S: DataMut<Elem = T>, D: Dimension>(
    a: &mut ArrayBase<S, D>,
    init: Init,
    bound: f64,
    rng: &mut StdRng,
) -> Result<()> {
    match init {
        Init::Uniform | Init::Orthogonal => fill_uniform(a, bound, rng),
        Init::Normal { std } => {
            let dist = Normal::new(0.0, std)
                .map_err(|_| Error::invalid("init std", "a finite number >= 0", std))?;
            a.mapv_inplace(|_| T::from_f64_lossy(dist.sample(rng)));
            Ok(())
        }
    }
}

/// Fills a bias in place: U(-bound, bound) for [`Init::Uniform`], zeros for [`Init::Normal`].
pub fn fill_bias<T: Float, S: DataMut<Elem = T>, D: Dimension>(
    a: &mut ArrayBase<S, D>,
    init: Init,
    bound: f64,
    rng: &mut StdRng,
) -> Result<()> {
    match init {
        Init::Uniform | Init::Orthogonal => fill_uniform(a, bound, rng),
        Init::Normal { .. } => {
            a.fill(T::zero());
            Ok(())
        }
    }
}

fn fill_uniform<T: Float, S: DataMut<Elem = T>, D: Dimension>(
    a: &mut ArrayBase<S, D>,
    bound: f64,
    rng: &mut StdRng,
) -> Result<()> {
    let dist = Uniform::new_inclusive(-bound, bound)
        .map_err(|_| Error::invalid("init bound", "a finite number", bound))?;
    a.mapv_inplace(|_| T::from_f64_lossy(dist.sample(rng)));
    Ok(())
}

/// A random `n x n` orthogonal matrix: Gram-Schmidt on a standard-normal matrix, with the signs
/// fixed so the result is uniformly distributed over orthogonal matrices.
pub fn orthogonal<T: Float>(n: usize, rng: &mut StdRng) -> Result<ndarray::Array2<T>> {
    let normal = Normal::new(0.0, 1.0).map_err(|_| Error::invalid("init", "a valid normal", 0))?;
    let mut q = ndarray::Array2::<f64>::from_shape_simple_fn((n, n), || normal.sample(rng)); // (n, n) rows
    for i in 0..n {
        for j in 0..i {
            let proj = q.row(i).dot(&q.row(j));
            let (done, mut rest) = q.view_mut().split_at(ndarray::Axis(0), i);
            rest.row_mut(0).scaled_add(-proj, &done.row(j));
        }
        let norm = q.row(i).dot(&q.row(i)).sqrt();
        if norm.is_nan() || norm <= 1e-12 {
            return Err(Error::invalid(
                "orthogonal init",
                "a full-rank random matrix",
                "a degenerate draw",
            ));
        }
        q.row_mut(i).mapv_inplace(|x| x / norm);
    }
    Ok(q.mapv(T::from_f64_lossy))
}

#[cfg(test)]
mod tests {
    #[test]
    fn orthogonal_is_orthogonal() {
        let q = super::orthogonal::<f64>(7, &mut super::rng(3)).unwrap();
        let eye = q.dot(&q.t());
        for ((i, j), &x) in eye.indexed_iter() {
            assert!(
                (x - if i == j { 1.0 } else { 0.0 }).abs() < 1e-12,
                "({i},{j}) = {x}"
            );
        }
    }
}
