//! Next-token language model: (embedding or one-hot) -> multi-layer RNN -> linear logits.
//!
//! Time-major like the rest of the core: ids `(steps, batch)`, logits `(steps, batch, vocab)`.

use crate::checkpoint;
use crate::embedding::Embedding;
use crate::engine::flatten;
use crate::init::Init;
use crate::linear::Linear;
use crate::params::prefixed;
use crate::rnn::{Nonlinearity, Rnn, RnnConfig, RnnInput};
use crate::{Float, Parameters, Result};
use ndarray::{s, Array1, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD};
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Sizes and options of a [`LanguageModel`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmConfig {
    /// Number of token types.
    pub vocab_size: usize,
    /// RNN units per layer.
    pub hidden_size: usize,
    /// Stacked RNN layers.
    pub num_layers: usize,
    /// Embedding width; `None` feeds one-hot vectors to the RNN.
    pub embed_size: Option<usize>,
    /// tanh or relu.
    pub nonlinearity: Nonlinearity,
    /// Dropout between stacked RNN layers during training (see [`RnnConfig::dropout`]).
    #[serde(default)]
    pub dropout: f64,
}

impl LmConfig {
    /// One tanh layer, one-hot input.
    pub fn new(vocab_size: usize, hidden_size: usize) -> Self {
        LmConfig {
            vocab_size,
            hidden_size,
            num_layers: 1,
            embed_size: None,
            nonlinearity: Nonlinearity::Tanh,
            dropout: 0.0,
        }
    }

    fn rnn_config(&self) -> RnnConfig {
        RnnConfig {
            input_size: self.embed_size.unwrap_or(self.vocab_size),
            hidden_size: self.hidden_size,
            num_layers: self.num_layers,
            nonlinearity: self.nonlinearity,
            bias: true,
            dropout: self.dropout,
        }
    }
}

/// A character- or word-level RNN language model. Its gradients are a `LanguageModel` too.
///
/// Shapes: ids `(steps, batch)`, logits `(steps, batch, vocab)`, states `(num_layers, batch,
/// hidden)`. The crate documentation trains one; here, logits, gradients, generation and a
/// checkpoint round trip:
///
/// ```
/// use ndarray::Array2;
/// use seqrnn::{Init, LanguageModel, LmConfig, SamplingConfig};
/// use std::collections::HashMap;
///
/// let config = LmConfig { embed_size: Some(8), num_layers: 2, ..LmConfig::new(10, 16) };
/// let lm = LanguageModel::<f32>::new(config, Init::Uniform, 0)?;
/// let inputs = Array2::from_shape_fn((6, 3), |(t, b)| (t + b) % 10); // (steps, batch)
/// let (logits, state) = lm.logits(inputs.view(), None)?;
/// assert_eq!((logits.dim(), state.dim()), ((6, 3, 10), (2, 3, 16)));
///
/// let step = lm.loss_and_grads(inputs.view(), inputs.view(), None, None)?;
/// assert!(step.loss > 0.0 && step.grads.embedding.is_some());
///
/// let greedy = SamplingConfig { temperature: 0.0, top_k: None, top_p: None };
/// let ids = lm.generate(&[1, 2], 5, greedy, 0)?; // the prefix, then 5 new tokens
/// assert_eq!(ids.len(), 7);
///
/// let (back, _) = LanguageModel::<f32>::from_bytes(&lm.to_bytes(HashMap::new())?)?;
/// assert_eq!(back, lm);
/// # Ok::<(), seqrnn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct LanguageModel<T> {
    config: LmConfig,
    /// `embedding.weight` `(vocab, embed)`, when `embed_size` is set.
    pub embedding: Option<Embedding<T>>,
    /// `rnn.*`.
    pub rnn: Rnn<T>,
    /// `output.weight` `(vocab, hidden)`, `output.bias` `(vocab,)`.
    pub output: Linear<T>,
}

/// The result of [`LanguageModel::loss_and_grads`].
#[derive(Clone, Debug)]
pub struct LmStep<T> {
    /// Mean cross-entropy over unmasked positions.
    pub loss: T,
    /// Gradient of every parameter.
    pub grads: LanguageModel<T>,
    /// Final states `(num_layers, batch, hidden)`, to carry into the next minibatch.
    pub state: Array3<T>,
}

impl<T: Float> LanguageModel<T> {
    /// A new model; every part is drawn from `init` with a seed derived from `seed`.
    pub fn new(config: LmConfig, init: Init, seed: u64) -> Result<Self> {
        crate::error::check_positive("vocab_size", config.vocab_size)?;
        let mut seeds = crate::init::rng(seed);
        let (s_emb, s_rnn, s_out): (u64, u64, u64) =
            (seeds.random(), seeds.random(), seeds.random());
        let embedding = match config.embed_size {
            Some(e) => Some(Embedding::new(config.vocab_size, e, init, s_emb)?),
            None => None,
        };
        let rnn = Rnn::new(config.rnn_config(), init, s_rnn)?;
        let output = Linear::new(config.hidden_size, config.vocab_size, true, init, s_out)?;
        Ok(LanguageModel {
            config,
            embedding,
            rnn,
            output,
        })
    }

    /// The sizes and options.
    pub fn config(&self) -> &LmConfig {
        &self.config
    }

    fn check_state(
        &self,
        ids: &ArrayView2<'_, usize>,
        state: Option<&ArrayView3<'_, T>>,
    ) -> Result<()> {
        match state {
            Some(s) => crate::error::check_shape(
                "state",
                &[self.config.num_layers, ids.ncols(), self.config.hidden_size],
                s.shape(),
            ),
            None => Ok(()),
        }
    }

    fn rnn_input(&self, ids: ArrayView2<'_, usize>) -> Result<RnnInput<T>> {
        crate::embedding::check_ids("inputs", ids.iter().copied(), self.config.vocab_size)?;
        Ok(match &self.embedding {
            Some(e) => RnnInput::Dense(e.forward(ids)?),
            None => RnnInput::OneHot(ids.as_standard_layout().into_owned()),
        })
    }

    /// Logits for every position. Shapes: `ids` `(steps, batch)`, `state` `(num_layers, batch,
    /// hidden)` -> (logits `(steps, batch, vocab)`, final state `(num_layers, batch, hidden)`).
    pub fn logits(
        &self,
        ids: ArrayView2<'_, usize>,
        state: Option<ArrayView3<'_, T>>,
    ) -> Result<(Array3<T>, Array3<T>)> {
        self.check_state(&ids, state.as_ref())?;
        let cache = self.rnn.forward(self.rnn_input(ids)?, state, None)?;
        let (steps, batch) = ids.dim();
        let logits = self.output.forward(flatten(cache.top_states())?)?; // (steps*B, V)
        let logits = logits
            .into_shape_with_order((steps, batch, self.config.vocab_size))
            .map_err(|_| {
                crate::Error::shape("logits", &[steps, batch, self.config.vocab_size], &[])
            })?;
        Ok((logits, cache.h_n()))
    }

    /// Mean cross-entropy of predicting `targets` from `inputs`, and the exact gradient of every
    /// parameter. Shapes: `inputs`, `targets` `(steps, batch)`; `mask` `(steps, batch)` 0/1
    /// weights; `state` `(num_layers, batch, hidden)`.
    pub fn loss_and_grads(
        &self,
        inputs: ArrayView2<'_, usize>,
        targets: ArrayView2<'_, usize>,
        mask: Option<ArrayView2<'_, T>>,
        state: Option<ArrayView3<'_, T>>,
    ) -> Result<LmStep<T>> {
        self.loss_and_grads_train(inputs, targets, mask, state, None)
    }

    /// [`LanguageModel::loss_and_grads`] in training mode: with `rng`, dropout between stacked
    /// RNN layers.
    pub fn loss_and_grads_train(
        &self,
        inputs: ArrayView2<'_, usize>,
        targets: ArrayView2<'_, usize>,
        mask: Option<ArrayView2<'_, T>>,
        state: Option<ArrayView3<'_, T>>,
        rng: Option<&mut rand::rngs::StdRng>,
    ) -> Result<LmStep<T>> {
        let (steps, batch) = inputs.dim();
        let parts = crate::split::parts(batch, self.config.hidden_size);
        if parts == 1 || mask.is_some() {
            return self.loss_and_grads_part(inputs, targets, mask, state, rng);
        }
        crate::error::check_shape("targets", &[steps, batch], targets.shape())?;
        self.check_state(&inputs, state.as_ref())?;
        let results = crate::split::map(batch, parts, rng, |cols, rng| {
            let state = state.as_ref().map(|s| s.slice(s![.., cols.clone(), ..]));
            let targets = targets.slice(s![.., cols.clone()]);
            self.loss_and_grads_part(inputs.slice(s![.., cols]), targets, None, state, rng)
        })?;
        let mut state = Array3::zeros((0, 0, 0));
        let mut weighted = Vec::with_capacity(parts);
        for (i, part) in results.into_iter().enumerate() {
            let cols = crate::split::range(batch, parts, i);
            let w = T::from_f64_lossy(cols.len() as f64 / batch as f64);
            if i == 0 {
                let (l, _, h) = part.state.dim();
                state = Array3::zeros((l, batch, h)); // (L, B, H)
            }
            state.slice_mut(s![.., cols, ..]).assign(&part.state);
            weighted.push((part.loss, part.grads, w));
        }
        let (loss, grads) = crate::split::weighted_sum(weighted)
            .ok_or_else(|| crate::Error::invalid("batch", "at least one sequence", 0))?;
        Ok(LmStep { loss, grads, state })
    }

    /// [`LanguageModel::loss_and_grads_train`] on one thread.
    fn loss_and_grads_part(
        &self,
        inputs: ArrayView2<'_, usize>,
        targets: ArrayView2<'_, usize>,
        mask: Option<ArrayView2<'_, T>>,
        state: Option<ArrayView3<'_, T>>,
        rng: Option<&mut rand::rngs::StdRng>,
    ) -> Result<LmStep<T>> {
        let (steps, batch) = inputs.dim();
        crate::error::check_shape("targets", &[steps, batch], targets.shape())?;
        if let Some(m) = &mask {
            crate::error::check_shape("mask", &[steps, batch], m.shape())?;
        }
        self.check_state(&inputs, state.as_ref())?;
        let cache = self
            .rnn
            .forward_train(self.rnn_input(inputs)?, state, None, rng)?;
        let top = flatten(cache.top_states())?; // (steps*B, H)
        let logits = self.output.forward(top)?; // (steps*B, V)
        let targets_flat: Array1<usize> = targets.iter().copied().collect(); // (steps*B,)
        let mask_flat: Option<Array1<T>> = mask.map(|m| m.iter().copied().collect()); // (steps*B,)
        let (loss, d_logits) = crate::loss::cross_entropy_owned(
            logits,
            targets_flat.view(),
            mask_flat.as_ref().map(|m| m.view()),
        )?;
        let (g_output, d_top) = self.output.backward(top, d_logits.view())?; // d_top (steps*B, H)
        let d_top = d_top
            .into_shape_with_order((steps, batch, self.config.hidden_size))
            .map_err(|_| {
                crate::Error::shape("d_top", &[steps, batch, self.config.hidden_size], &[])
            })?;
        let g_rnn = self.rnn.backward(&cache, Some(d_top.view()), None)?;
        let g_embedding = match (&self.embedding, &g_rnn.input) {
            (Some(e), Some(d_x)) => Some(e.backward(inputs, d_x.view())?),
            _ => None,
        };
        let grads = LanguageModel {
            config: self.config.clone(),
            embedding: g_embedding,
            rnn: g_rnn.params,
            output: g_output,
        };
        Ok(LmStep {
            loss,
            grads,
            state: cache.h_n(),
        })
    }
}

impl LmConfig {
    /// Number of scalar parameters, `None` on overflow.
    pub fn num_params(&self) -> Option<usize> {
        let (v, h) = (self.vocab_size, self.hidden_size);
        let input = self.embed_size.unwrap_or(v);
        let embedding = match self.embed_size {
            Some(e) => v.checked_mul(e)?,
            None => 0,
        };
        let first = h
            .checked_mul(input)?
            .checked_add(h.checked_mul(h)?)?
            .checked_add(2 * h)?;
        let other = h
            .checked_mul(h)?
            .checked_mul(2)?
            .checked_add(2 * h)?
            .checked_mul(self.num_layers.saturating_sub(1))?;
        embedding
            .checked_add(first)?
            .checked_add(other)?
            .checked_add(v.checked_mul(h)?)?
            .checked_add(v)
    }
}

/// The checkpoint kind of a [`LanguageModel`].
pub const CHECKPOINT_KIND: &str = "LanguageModel";

impl<T: Float> LanguageModel<T> {
    /// Safetensors bytes: every parameter, the configuration and `extra` metadata (a vocabulary, ...).
    pub fn to_bytes(&self, extra: HashMap<String, String>) -> Result<Vec<u8>> {
        checkpoint::model_to_bytes(CHECKPOINT_KIND, &self.config, self, extra)
    }

    /// Writes [`LanguageModel::to_bytes`] to `path` atomically.
    pub fn save(&self, path: &Path, extra: HashMap<String, String>) -> Result<()> {
        checkpoint::write_atomic(path, &self.to_bytes(extra)?)
    }

    /// Rebuilds a model from checkpoint bytes, validating kind, configuration, names, shapes and
    /// dtypes before use. Returns the model and the file's metadata.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, HashMap<String, String>)> {
        checkpoint::model_from_bytes(bytes, CHECKPOINT_KIND, LmConfig::num_params, |c| {
            LanguageModel::new(c, Init::Uniform, 0)
        })
    }

    /// Reads a checkpoint written by [`LanguageModel::save`].
    pub fn load(path: &Path) -> Result<(Self, HashMap<String, String>)> {
        Self::from_bytes(&checkpoint::read(path)?)
    }
}

impl<T: Float> Parameters<T> for LanguageModel<T> {
    fn named(&self) -> Vec<(String, ArrayViewD<'_, T>)> {
        let mut out = Vec::new();
        if let Some(e) = &self.embedding {
            out.extend(prefixed("embedding", e.named()));
        }
        out.extend(prefixed("rnn", self.rnn.named()));
        out.extend(prefixed("output", self.output.named()));
        out
    }

    fn named_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, T>)> {
        let mut out = Vec::new();
        if let Some(e) = &mut self.embedding {
            out.extend(prefixed("embedding", e.named_mut()));
        }
        out.extend(prefixed("rnn", self.rnn.named_mut()));
        out.extend(prefixed("output", self.output.named_mut()));
        out
    }
}
