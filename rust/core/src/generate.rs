//! Token-by-token use of a [`LanguageModel`]: one step at a time with a carried state, and
//! generation as d2l's `predict` and min-char-rnn's `sample` do, for one prefix or several
//! at once (one batched step per token), with the choices of [`crate::sampling`].

use crate::error::check_shape;
use crate::rnn::StepInput;
use crate::{Error, Float, LanguageModel, Result};
use ndarray::{s, Array1, Array2, Array3, ArrayView1, ArrayView2};
use rand::rngs::StdRng;

pub use crate::sampling::{sample_token, SamplingConfig};

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
    /// by `sampling`. Returns the prefix followed by the new tokens. The same as
    /// [`LanguageModel::generate_batch`] with this one prefix and no stop token.
    pub fn generate(
        &self,
        prefix: &[usize],
        num_tokens: usize,
        sampling: SamplingConfig,
        seed: u64,
    ) -> Result<Vec<usize>> {
        let mut out = self.generate_batch(&[prefix], num_tokens, sampling, None, seed)?;
        out.pop()
            .ok_or_else(|| Error::invalid("prefixes", "at least one prefix", "none"))
    }

    /// Continues every prefix at once, one batched [`LanguageModel::step`] per token: each
    /// prefix followed by up to `num_tokens` new tokens. A stream ends early when it produces
    /// `stop`, which is included in its output (as Hugging Face transformers keeps the
    /// end-of-sequence token); a stop token inside a prefix ends nothing.
    ///
    /// Prefix `i` samples with its own random stream, the one of seed `seed + i` (wrapping),
    /// so `generate_batch(&[p, q], n, cfg, None, s)` is `[generate(p, n, cfg, s),
    /// generate(q, n, cfg, s + 1)]`. The tokens equal those of one-at-a-time generation up to
    /// rounding: products over several rows may round differently from products over one, which
    /// can change a token only where two choices are within rounding of each other.
    ///
    /// Prefixes of different lengths are aligned on their last token: the shorter ones start
    /// later, their state held at zero until then, so each is warmed up on exactly its tokens.
    ///
    /// Shapes: `prefixes` `batch` sequences of ids -> `batch` sequences of ids.
    ///
    /// ```
    /// use seqrnn::{Init, LanguageModel, LmConfig, SamplingConfig};
    ///
    /// let lm = LanguageModel::<f32>::new(LmConfig::new(6, 8), Init::Uniform, 0)?;
    /// let cfg = SamplingConfig { temperature: 1.0, top_k: None, top_p: Some(0.9) };
    /// let out = lm.generate_batch(&[vec![1, 2, 3], vec![4]], 5, cfg, Some(0), 7)?;
    /// assert_eq!(out[0], lm.generate(&[1, 2, 3], 5, cfg, 7)?[..out[0].len()]);
    /// assert!(out[1].len() <= 1 + 5);
    /// # Ok::<(), seqrnn::Error>(())
    /// ```
    pub fn generate_batch<P: AsRef<[usize]>>(
        &self,
        prefixes: &[P],
        num_tokens: usize,
        sampling: SamplingConfig,
        stop: Option<usize>,
        seed: u64,
    ) -> Result<Vec<Vec<usize>>> {
        sampling.validate()?;
        let vocab = self.config().vocab_size;
        if let Some(stop) = stop {
            crate::embedding::check_ids("stop", [stop], vocab)?;
        }
        let mut outs = self.generation_buffers(prefixes, num_tokens)?;
        let batch = prefixes.len();
        let mut state = self.zero_state(batch);
        let mut ws = self.workspace(batch);
        let mut tokens = self.warm_up(prefixes, &mut state, &mut ws)?; // (batch,)
        let mut rngs: Vec<StdRng> = (0..batch as u64)
            .map(|i| crate::init::rng(seed.wrapping_add(i)))
            .collect();
        let mut active = vec![true; batch];
        let mut scratch = Vec::with_capacity(2 * vocab);
        let cost = self.step_cost().saturating_mul(batch); // for the interrupt hook
        for _ in 0..num_tokens {
            if !active.contains(&true) {
                break;
            }
            crate::interrupt::poll(cost)?;
            let logits = self.step(&tokens, &mut state, &mut ws)?; // (batch, V)
            let streams = tokens.iter_mut().zip(&mut active).zip(&mut rngs);
            for (((token, on), rng), (row, out)) in
                streams.zip(logits.rows().into_iter().zip(&mut outs))
            {
                if *on {
                    *token = sample_token(row, sampling, rng, &mut scratch);
                    out.push(*token);
                    *on = stop != Some(*token);
                }
            }
        }
        Ok(outs)
    }

    /// Checks the prefixes and returns each in a vector with room for `num_tokens` more.
    fn generation_buffers<P: AsRef<[usize]>>(
        &self,
        prefixes: &[P],
        num_tokens: usize,
    ) -> Result<Vec<Vec<usize>>> {
        if prefixes.is_empty() {
            return Err(Error::invalid("prefixes", "at least one prefix", "none"));
        }
        let name = |i: usize| match prefixes.len() {
            1 => "prefix".to_string(),
            _ => format!("prefix {i}"),
        };
        let mut outs = Vec::new();
        outs.try_reserve_exact(prefixes.len())
            .map_err(|_| Error::OutOfMemory {
                what: "generated sequences".into(),
                bytes: prefixes.len() as u128 * std::mem::size_of::<Vec<usize>>() as u128,
            })?;
        for (i, prefix) in prefixes.iter().map(AsRef::as_ref).enumerate() {
            if prefix.is_empty() {
                return Err(Error::invalid(
                    name(i),
                    "at least one token",
                    "an empty prefix",
                ));
            }
            crate::embedding::check_ids(
                &name(i),
                prefix.iter().copied(),
                self.config().vocab_size,
            )?;
            let mut out: Vec<usize> = Vec::new();
            prefix
                .len()
                .checked_add(num_tokens)
                .and_then(|n| out.try_reserve_exact(n).ok())
                .ok_or_else(|| Error::OutOfMemory {
                    what: "generated tokens".into(),
                    bytes: (prefix.len() as u128 + num_tokens as u128)
                        * std::mem::size_of::<usize>() as u128,
                })?;
            out.extend_from_slice(prefix);
            outs.push(out);
        }
        Ok(outs)
    }

    /// Feeds every prefix but its last token, aligned on the last token: prefix `i` starts at
    /// step `longest - len_i`, its state kept at zero before. Returns the last tokens `(batch,)`.
    fn warm_up<P: AsRef<[usize]>>(
        &self,
        prefixes: &[P],
        state: &mut Array3<T>,
        ws: &mut StepWorkspace<T>,
    ) -> Result<Vec<usize>> {
        let longest = prefixes.iter().map(|p| p.as_ref().len()).max().unwrap_or(0);
        let cost = self.step_cost().saturating_mul(prefixes.len());
        let mut ids = vec![0; prefixes.len()]; // (batch,)
        for t in 0..longest.saturating_sub(1) {
            crate::interrupt::poll(cost)?;
            for (id, p) in ids.iter_mut().zip(prefixes) {
                let p = p.as_ref();
                *id = (t + p.len())
                    .checked_sub(longest)
                    .and_then(|i| p.get(i))
                    .copied()
                    .unwrap_or(0);
            }
            self.step(&ids, state, ws)?;
            for (b, p) in prefixes.iter().enumerate() {
                if t + p.as_ref().len() < longest {
                    state.slice_mut(s![.., b, ..]).fill(T::zero()); // not started yet
                }
            }
        }
        Ok(prefixes
            .iter()
            .map(|p| p.as_ref().last().copied().unwrap_or(0))
            .collect())
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
/// let sampling = SamplingConfig { temperature: 1.0, top_k: Some(3), top_p: None };
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
