//! Choosing the next token from logits: greedy, temperature, top-k and nucleus (top-p)
//! sampling, applied in the order Hugging Face transformers applies them: the logits are
//! divided by the temperature, all but the `top_k` largest are dropped, then all but the
//! smallest set of most probable tokens whose probability reaches `top_p`.

use crate::error::check_non_negative_finite;
use crate::{Error, Float, Result};
use ndarray::ArrayView1;
use rand::rngs::StdRng;
use rand::RngExt;

/// How the next token is chosen from the logits.
///
/// ```
/// use seqrnn::SamplingConfig;
///
/// let nucleus = SamplingConfig { temperature: 0.8, top_k: None, top_p: Some(0.9) };
/// assert!(nucleus.validate().is_ok());
/// let bad = SamplingConfig { top_p: Some(0.0), ..nucleus };
/// assert!(bad.validate().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingConfig {
    /// 0 picks the most likely token (greedy); otherwise logits are divided by it.
    pub temperature: f64,
    /// Keep only the `k` most likely tokens before sampling.
    pub top_k: Option<usize>,
    /// Nucleus sampling: keep only the smallest set of most likely tokens whose probability
    /// (after temperature and `top_k`) reaches `p`, at least one token; `p` in `(0, 1]`.
    pub top_p: Option<f64>,
}

impl SamplingConfig {
    /// Greedy decoding.
    pub const GREEDY: SamplingConfig = SamplingConfig {
        temperature: 0.0,
        top_k: None,
        top_p: None,
    };

    /// Sampling from `softmax(logits / temperature)` with no cut.
    pub fn temperature(temperature: f64) -> Self {
        SamplingConfig {
            temperature,
            ..Self::GREEDY
        }
    }

    /// Fails on a negative or non-finite temperature, `top_k == 0` or `top_p` outside `(0, 1]`.
    pub fn validate(&self) -> Result<()> {
        check_non_negative_finite("temperature", self.temperature)?;
        if self.top_k == Some(0) {
            return Err(Error::invalid("top_k", "at least 1 (or None)", 0));
        }
        match self.top_p {
            Some(p) if !(p > 0.0 && p <= 1.0) => {
                Err(Error::invalid("top_p", "a number in (0, 1] (or None)", p))
            }
            _ => Ok(()),
        }
    }

    /// Whether the choice is the most likely token, with no random draw.
    fn is_greedy(&self) -> bool {
        self.temperature == 0.0 || self.top_k == Some(1)
    }
}

/// The index of the largest logit (the first one on ties).
fn argmax<T: Float>(logits: ArrayView1<'_, T>) -> usize {
    logits
        .iter()
        .enumerate()
        .fold((0, T::neg_infinity()), |best, (i, &z)| {
            if z > best.1 {
                (i, z)
            } else {
                best
            }
        })
        .0
}

/// Picks a token from `logits` `(vocab,)`; `scratch` is reused between calls (no allocation
/// after the first). Greedy settings draw nothing from `rng`, the others one number.
pub fn sample_token<T: Float>(
    logits: ArrayView1<'_, T>,
    cfg: SamplingConfig,
    rng: &mut StdRng,
    scratch: &mut Vec<f64>,
) -> usize {
    if cfg.is_greedy() {
        return argmax(logits);
    }
    let vocab = logits.len();
    scratch.clear();
    scratch.extend(
        logits
            .iter()
            .map(|&z| z.to_f64_lossless() / cfg.temperature),
    );
    scratch.resize(2 * vocab, 0.0);
    let (weights, sorted) = scratch.split_at_mut(vocab); // (V,) each
    if let Some(k) = cfg.top_k.filter(|&k| k < vocab) {
        keep_largest(weights, sorted, k, f64::NEG_INFINITY);
    }
    let Some(mut total) = exponentiate(weights) else {
        return argmax(logits);
    };
    if let Some(p) = cfg.top_p.filter(|&p| p < 1.0) {
        total = keep_nucleus(weights, sorted, p * total);
    }
    draw(weights, total, rng)
}

/// Replaces every value of `values` but the `n` largest by `removed`; on ties at the
/// boundary, the lower indices are kept. `sorted` `(V,)` is scratch space.
fn keep_largest(values: &mut [f64], sorted: &mut [f64], n: usize, removed: f64) {
    sorted.copy_from_slice(values);
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let Some(&threshold) = sorted.get(n.saturating_sub(1)) else {
        return;
    };
    let above = sorted.iter().take_while(|&&x| x > threshold).count();
    let mut ties = n.saturating_sub(above); // how many values equal to the threshold stay
    for x in values.iter_mut() {
        if *x > threshold {
            continue;
        }
        if *x == threshold && ties > 0 {
            ties -= 1;
        } else {
            *x = removed;
        }
    }
}

/// `exp(z - max z)` in place; returns their sum, or `None` if no value is finite.
fn exponentiate(values: &mut [f64]) -> Option<f64> {
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return None;
    }
    let mut total = 0.0;
    for z in values.iter_mut() {
        *z = (*z - max).exp();
        total += *z;
    }
    Some(total)
}

/// Keeps the smallest set of largest `weights` whose sum reaches `mass` (at least one) and
/// zeroes the others; returns the sum of those kept. `sorted` `(V,)` is scratch space.
fn keep_nucleus(weights: &mut [f64], sorted: &mut [f64], mass: f64) -> f64 {
    sorted.copy_from_slice(weights);
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let mut sum = 0.0;
    let mut n = 0;
    for &w in sorted.iter() {
        sum += w;
        n += 1;
        if sum >= mass {
            break;
        }
    }
    keep_largest(weights, sorted, n, 0.0);
    weights.iter().sum()
}

/// Draws an index with probability `weights[i] / total`.
fn draw(weights: &[f64], total: f64, rng: &mut StdRng) -> usize {
    let mut u = rng.random::<f64>() * total;
    for (i, &p) in weights.iter().enumerate() {
        if u < p {
            return i;
        }
        u -= p;
    }
    weights.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_largest_keeps_the_top_values_whatever_their_order() {
        let mut v = vec![5.0, 5.0, 9.0, 1.0];
        let mut s = vec![0.0; 4];
        keep_largest(&mut v, &mut s, 2, -1.0);
        assert_eq!(v, [5.0, -1.0, 9.0, -1.0]);
    }

    #[test]
    fn the_nucleus_is_the_smallest_set_reaching_the_mass() {
        let mut w = vec![0.15, 0.5, 0.05, 0.3];
        let mut s = vec![0.0; 4];
        let kept = keep_nucleus(&mut w, &mut s, 0.7);
        assert_eq!(w, [0.0, 0.5, 0.0, 0.3]);
        assert!((kept - 0.8).abs() < 1e-12);
        let mut w = vec![0.15, 0.5, 0.05, 0.3];
        keep_nucleus(&mut w, &mut s, 0.01); // always at least one token
        assert_eq!(w, [0.0, 0.5, 0.0, 0.0]);
    }
}
