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
}

impl Init {
    /// d2l / min-char-rnn initialization: N(0, 0.01^2) weights, zero biases.
    pub const D2L: Init = Init::Normal { std: 0.01 };

    /// Parses `"uniform"` / `"pytorch"` and `"normal"` / `"d2l"` (std 0.01).
    pub fn parse(name: &str) -> Result<Init> {
        match name {
            "uniform" | "pytorch" | "default" => Ok(Init::Uniform),
            "normal" | "d2l" => Ok(Init::D2L),
            other => Err(Error::invalid(
                "init",
                "\"uniform\" (PyTorch) or \"normal\" (d2l)",
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
        Init::Uniform => fill_uniform(a, bound, rng),
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
        Init::Uniform => fill_uniform(a, bound, rng),
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
