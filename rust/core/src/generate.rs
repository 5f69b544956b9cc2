//! Token-by-token use of a [`LanguageModel`]: one step at a time with a carried state, and
//! sampling (greedy, temperature, top-k) as d2l's `predict` and min-char-rnn's `sample` do.

use crate::error::{check_non_negative_finite, check_shape};
use crate::rnn::StepInput;
use crate::{Error, Float, LanguageModel, Result};
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2};
use rand::rngs::StdRng;
use rand::RngExt;

/// How the next token is chosen from the logits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplingConfig {
    /// 0 picks the most likely token (greedy); otherwise logits are divided by it.
    pub temperature: f64,
    /// Keep only the `k` most likely tokens before sampling.
    pub top_k: Option<usize>,
}

impl SamplingConfig {
    /// Greedy decoding.
    pub const GREEDY: SamplingConfig = SamplingConfig {
        temperature: 0.0,
        top_k: None,
    };

    /// Fails on a negative or non-finite temperature or `top_k == 0`.
    pub fn validate(&self) -> Result<()> {
        check_non_negative_finite("temperature", self.temperature)?;
        if self.top_k == Some(0) {
            return Err(Error::invalid("top_k", "at least 1 (or None)", 0));
        }
        Ok(())
    }
}

/// Picks a token from `logits` `(vocab,)`; `scratch` is reused between calls.
pub fn sample_token<T: Float>(
    logits: ArrayView1<'_, T>,
    cfg: SamplingConfig,
    rng: &mut StdRng,
    scratch: &mut Vec<f64>,
) -> usize {
    let argmax = || {
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
    };
    if cfg.temperature == 0.0 || cfg.top_k == Some(1) {
        return argmax();
    }
    scratch.clear();
    scratch.extend(
        logits
            .iter()
            .map(|&z| z.to_f64_lossless() / cfg.temperature),
    );
    if let Some(k) = cfg.top_k.filter(|&k| k < scratch.len()) {
        let mut sorted = scratch.clone();
        sorted.sort_unstable_by(|a, b| b.total_cmp(a));
        let threshold = sorted[k - 1];
        let mut kept = 0;
        for z in scratch.iter_mut() {
            if *z >= threshold && kept < k {
                kept += 1;
            } else {
                *z = f64::NEG_INFINITY;
            }
        }
    }
    let max = scratch.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return argmax();
    }
    let mut total = 0.0;
    for z in scratch.iter_mut() {
        *z = (*z - max).exp();
        total += *z;
    }
    let mut u = rng.random::<f64>() * total;
    for (i, &p) in scratch.iter().enumerate() {
        if u < p {
            return i;
        }
        u -= p;
    }
    scratch.iter().rposition(|&p| p > 0.0).unwrap_or(0)
}

/// Buffers for [`LanguageModel::step`], allocated once per stream.
#[derive(Clone, Debug)]
pub struct StepWorkspace<T> {
    pre: Array2<T>,    // (B, H)
    input: Array2<T>,  // (B, E) embedded input, or (B, 0) for one-hot
    logits: Array2<T>, // (B, V)
}

impl<T: Float> LanguageModel<T> {
    /// Buffers for stepping `batch` streams.
    pub fn workspace(&self, batch: usize) -> StepWorkspace<T> {
        let c = self.config();
        StepWorkspace {
            pre: Array2::zeros((batch, c.hidden_size)),
            input: Array2::zeros((batch, c.embed_size.unwrap_or(0))),
            logits: Array2::zeros((batch, c.vocab_size)),
        }
    }

    /// A zero state `(num_layers, batch, hidden)`.
    pub fn zero_state(&self, batch: usize) -> Array3<T> {
        Array3::zeros((self.config().num_layers, batch, self.config().hidden_size))
    }

    /// Advances `state` `(num_layers, batch, hidden)` by one token per stream (`ids` `(batch,)`)
    /// and returns the logits `(batch, vocab)` of the next token. Allocates nothing.
    pub fn step<'w>(
        &self,
        ids: &[usize],
        state: &mut Array3<T>,
        ws: &'w mut StepWorkspace<T>,
    ) -> Result<ArrayView2<'w, T>> {
        let c = self.config();
        let batch = ids.len();
        check_shape(
            "state",
            &[c.num_layers, batch, c.hidden_size],
            state.shape(),
        )?;
        check_shape("workspace", &[batch, c.vocab_size], ws.logits.shape())?;
        crate::embedding::check_ids("ids", ids.iter().copied(), c.vocab_size)?;
        if let Some(e) = &self.embedding {
            for (mut row, &id) in ws.input.rows_mut().into_iter().zip(ids) {
                row.assign(&e.weight.row(id));
            }
        }
        let input = match &self.embedding {
            Some(_) => StepInput::Dense(ws.input.view()),
            None => StepInput::OneHot(ids),
        };
        self.rnn.step(input, state, &mut ws.pre)?;
        let top = state.slice(s![c.num_layers - 1, .., ..]); // (B, H)
        self.output.forward_into(top, ws.logits.view_mut())?;
        Ok(ws.logits.view())
    }

    /// Multiply-adds of one [`LanguageModel::step`] of one stream, about: one per parameter.
    fn step_cost(&self) -> usize {
        self.config().num_params().unwrap_or(usize::MAX)
    }

    /// d2l's `predict`: warms the state up on `prefix`, then appends `num_tokens` tokens chosen
    /// by `sampling`. Returns the prefix followed by the new tokens.
    pub fn generate(
        &self,
        prefix: &[usize],
        num_tokens: usize,
        sampling: SamplingConfig,
        seed: u64,
    ) -> Result<Vec<usize>> {
        sampling.validate()?;
        if prefix.is_empty() {
            return Err(Error::invalid(
                "prefix",
                "at least one token",
                "an empty prefix",
            ));
        }
        let mut rng = crate::init::rng(seed);
        let mut state = self.zero_state(1);
        let mut ws = self.workspace(1);
        let mut scratch = Vec::with_capacity(self.config().vocab_size);
        let total = prefix.len().checked_add(num_tokens);
        let mut out: Vec<usize> = Vec::new();
        total
            .and_then(|n| out.try_reserve_exact(n).ok())
            .ok_or_else(|| Error::OutOfMemory {
                what: "generated tokens".into(),
                bytes: (prefix.len() as u128 + num_tokens as u128)
                    * std::mem::size_of::<usize>() as u128,
            })?;
        out.extend_from_slice(prefix);
        let (last, warmup) = prefix
            .split_last()
            .ok_or_else(|| Error::invalid("prefix", "at least one token", 0))?;
        let cost = self.step_cost(); // for the interrupt hook
        for &id in warmup {
            crate::interrupt::poll(cost)?;
            self.step(&[id], &mut state, &mut ws)?;
        }
        let mut token = *last;
        for _ in 0..num_tokens {
            crate::interrupt::poll(cost)?;
            let logits = self.step(&[token], &mut state, &mut ws)?;
            token = sample_token(logits.row(0), sampling, &mut rng, &mut scratch);
            out.push(token);
        }
        Ok(out)
    }

    /// Perplexity `exp(mean cross-entropy)` of predicting each token of `corpus` from the ones
    /// before it, read as `batch_size` parallel streams in chunks of `num_steps` with the state
    /// carried (at most `batch_size - 1` trailing tokens are left out). Never fails on a
    /// probability of zero: the perplexity is then infinite.
    pub fn perplexity(&self, corpus: &[usize], batch_size: usize, num_steps: usize) -> Result<f64> {
        crate::error::check_positive("batch_size", batch_size)?;
        crate::error::check_positive("num_steps", num_steps)?;
        if corpus.len() < 2 {
            return Err(Error::invalid(
                "corpus length",
                "at least 2 tokens",
                corpus.len(),
            ));
        }
        crate::embedding::check_ids("corpus", corpus.iter().copied(), self.config().vocab_size)?;
        let rows = batch_size.min(corpus.len() - 1);
        let per_row = (corpus.len() - 1) / rows;
        let mut state: Option<Array3<T>> = None;
        let (mut nll, mut count) = (0.0f64, 0usize);
        let mut t0 = 0;
        while t0 < per_row {
            let steps = num_steps.min(per_row - t0);
            crate::interrupt::poll(steps.saturating_mul(rows).saturating_mul(self.step_cost()))?;
            let x = Array2::from_shape_fn((steps, rows), |(t, b)| corpus[b * per_row + t0 + t]); // (steps, rows)
            let (logits, h_n) = self.logits(x.view(), state.as_ref().map(|s| s.view()))?; // (steps, rows, V)
            let v = logits.dim().2;
            let logits = logits
                .into_shape_with_order((steps * rows, v))
                .map_err(|_| Error::shape("logits", &[steps * rows, v], &[]))?; // (steps*rows, V)
            let targets = Array1::from_shape_fn(steps * rows, |i| {
                corpus[(i % rows) * per_row + t0 + i / rows + 1]
            }); // (steps*rows,)
            nll += crate::loss::total_nll(logits, targets.view())?;
            count += steps * rows;
            state = Some(h_n);
            t0 += steps;
        }
        Ok((nll / count as f64).exp())
    }
}

/// One generation stream (batch 1) that keeps its hidden state between calls.
///
/// ```
/// use seqrnn::{Init, LanguageModel, LmConfig, SamplingConfig, Stream};
///
/// let lm = LanguageModel::<f32>::new(LmConfig::new(6, 8), Init::Uniform, 0)?;
/// let mut stream = Stream::new(&lm, 0);
/// let logits = stream.feed(&lm, &[1, 2, 3])?; // (vocab,) after the last token
/// assert_eq!(logits.len(), 6);
/// let sampling = SamplingConfig { temperature: 1.0, top_k: Some(3) };
/// let next = stream.next(&lm, sampling)?; // sampled, fed, returned
/// assert!(next < 6);
/// stream.reset(); // the zero state again
/// # Ok::<(), seqrnn::Error>(())
/// ```
#[derive(Debug)]
pub struct Stream<T> {
    state: Array3<T>, // (num_layers, 1, hidden)
    ws: StepWorkspace<T>,
    fed: bool,
    scratch: Vec<f64>,
    rng: StdRng,
}

impl<T: Float> Stream<T> {
    /// A stream at the zero state; `seed` drives sampling.
    pub fn new(model: &LanguageModel<T>, seed: u64) -> Self {
        Stream {
            state: model.zero_state(1),
            ws: model.workspace(1),
            fed: false,
            scratch: Vec::with_capacity(model.config().vocab_size),
            rng: crate::init::rng(seed),
        }
    }

    /// Back to the zero state (the sampling stream goes on).
    pub fn reset(&mut self) {
        self.state.fill(T::zero());
        self.fed = false;
    }

    /// The hidden state `(num_layers, 1, hidden)`.
    pub fn state(&self) -> &Array3<T> {
        &self.state
    }

    /// Replaces the hidden state (shape `(num_layers, 1, hidden)`).
    pub fn set_state(&mut self, state: Array3<T>) -> Result<()> {
        check_shape("state", self.state.shape(), state.shape())?;
        self.state = state;
        Ok(())
    }

    /// Feeds tokens one after another; returns the logits `(vocab,)` after the last one.
    /// Stopped by the [`crate::interrupt`] hook, the stream keeps the state after the tokens
    /// fed so far.
    pub fn feed(
        &mut self,
        model: &LanguageModel<T>,
        tokens: &[usize],
    ) -> Result<ArrayView1<'_, T>> {
        check_shape(
            "workspace",
            &[1, model.config().vocab_size],
            self.ws.logits.shape(),
        )?;
        if tokens.is_empty() {
            return Err(Error::invalid("tokens", "at least one token", "none"));
        }
        crate::embedding::check_ids("tokens", tokens.iter().copied(), model.config().vocab_size)?;
        let cost = model.step_cost();
        for &t in tokens {
            crate::interrupt::poll(cost)?;
            model.step(&[t], &mut self.state, &mut self.ws)?;
            self.fed = true;
        }
        Ok(self.ws.logits.row(0))
    }

    /// Chooses the next token from the current logits, feeds it, and returns it.
    pub fn next(&mut self, model: &LanguageModel<T>, sampling: SamplingConfig) -> Result<usize> {
        sampling.validate()?;
        if !self.fed {
            return Err(Error::invalid(
                "stream",
                "fed with at least one token before sampling",
                "an empty stream",
            ));
        }
        let token = sample_token(
            self.ws.logits.row(0),
            sampling,
            &mut self.rng,
            &mut self.scratch,
        );
        self.feed(model, &[token])?;
        Ok(token)
    }
}
