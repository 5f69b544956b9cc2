//! Encoder-decoder translation with tanh RNNs (d2l's seq2seq chapter).
//!
//! Encoder: embedding + multi-layer RNN over the source, each sequence stopped at its own valid
//! length. Decoder: embedding + multi-layer RNN whose initial state is the encoder's final state;
//! with [`Context::Concat`] the encoder's top-layer final state `c` is appended to every decoder
//! input (`[embedding, c]`, d2l's order). A [`Linear`] layer gives target-vocabulary logits.
//! Training uses teacher forcing; the loss is the mean cross-entropy over target positions
//! before each valid length.
//!
//! Shapes are time-major: source ids `(src_steps, batch)`, target ids `(tgt_steps, batch)`,
//! valid lengths `(batch,)`, states `(num_layers, batch, hidden)`.

use crate::attention::{AdditiveAttention, AttentionFeed, Memory, Scratch};
use crate::checkpoint;
use crate::embedding::Embedding;
use crate::engine::flatten;
use crate::init::Init;
use crate::linear::Linear;
use crate::params::prefixed;
use crate::rnn::{Nonlinearity, Rnn, RnnCache, RnnConfig, RnnInput, StepInput};
use crate::{Error, Float, Parameters, Result};
use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayViewD, ArrayViewMutD, Axis};
use rand::rngs::StdRng;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// How the encoder's summary reaches the decoder besides its initial state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Context {
    /// Append the encoder's top-layer final state to every decoder input (d2l).
    Concat,
    /// Only the initial state (the classic write-ups).
    None,
}

impl Context {
    /// Parses `"concat"` or `"none"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "concat" => Ok(Context::Concat),
            "none" => Ok(Context::None),
            other => Err(Error::invalid(
                "context",
                "\"concat\" or \"none\"",
                format!("{other:?}"),
            )),
        }
    }
}

/// Whether the decoder attends to every encoder state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Attention {
    /// No attention: the decoder sees the encoder through its initial state (and [`Context`]).
    #[default]
    None,
    /// Additive (Bahdanau) attention, d2l's design: at each step the decoder's top-layer state
    /// attends to the encoder's top-layer states, and the context comes first in its input,
    /// `[c_t, embedding]`. Used with [`Context::None`].
    Additive,
}

impl Attention {
    /// Parses `"none"` or `"additive"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "none" => Ok(Attention::None),
            "additive" => Ok(Attention::Additive),
            other => Err(Error::invalid(
                "attention",
                "\"none\" or \"additive\"",
                format!("{other:?}"),
            )),
        }
    }
}

/// Sizes and options of a [`Seq2Seq`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seq2SeqConfig {
    /// Source vocabulary size.
    pub src_vocab_size: usize,
    /// Target vocabulary size.
    pub tgt_vocab_size: usize,
    /// Embedding width of both sides.
    pub embed_size: usize,
    /// RNN units per layer (both sides).
    pub hidden_size: usize,
    /// Stacked layers (both sides).
    pub num_layers: usize,
    /// How the context enters the decoder.
    pub context: Context,
    /// Dropout between stacked RNN layers during training (see [`RnnConfig::dropout`]).
    #[serde(default)]
    pub dropout: f64,
    /// Attention of the decoder over the encoder's states.
    #[serde(default)]
    pub attention: Attention,
}

impl Seq2SeqConfig {
    fn rnn(&self, input_size: usize) -> RnnConfig {
        RnnConfig {
            input_size,
            hidden_size: self.hidden_size,
            num_layers: self.num_layers,
            nonlinearity: Nonlinearity::Tanh,
            bias: true,
            dropout: self.dropout,
        }
    }

    fn decoder_input(&self) -> usize {
        match (self.context, self.attention) {
            (Context::Concat, _) | (_, Attention::Additive) => self.embed_size + self.hidden_size,
            (Context::None, Attention::None) => self.embed_size,
        }
    }

    /// Checks the combination of options (the sizes are checked by the parts).
    fn validate(&self) -> Result<()> {
        if self.attention == Attention::Additive && self.context == Context::Concat {
            return Err(Error::invalid(
                "context",
                "\"none\" with attention (the attention gives the context)",
                "\"concat\"",
            ));
        }
        Ok(())
    }

    /// Number of scalar parameters, `None` on overflow.
    pub fn num_params(&self) -> Option<usize> {
        let (e, h, l) = (self.embed_size, self.hidden_size, self.num_layers);
        let rnn = |input: usize| -> Option<usize> {
            let first = h
                .checked_mul(input)?
                .checked_add(h.checked_mul(h)?)?
                .checked_add(2 * h)?;
            let other = h
                .checked_mul(h)?
                .checked_mul(2)?
                .checked_add(2 * h)?
                .checked_mul(l.saturating_sub(1))?;
            first.checked_add(other)
        };
        let emb = self
            .src_vocab_size
            .checked_mul(e)?
            .checked_add(self.tgt_vocab_size.checked_mul(e)?)?;
        let out = self
            .tgt_vocab_size
            .checked_mul(h)?
            .checked_add(self.tgt_vocab_size)?;
        let attention = match self.attention {
            Attention::None => 0,
            Attention::Additive => h.checked_mul(h)?.checked_mul(2)?.checked_add(h)?,
        };
        emb.checked_add(rnn(e)?)?
            .checked_add(rnn(self.decoder_input())?)?
            .checked_add(out)?
            .checked_add(attention)
    }
}

/// A teacher-forced minibatch. Ids are time-major; lengths count each sequence's valid tokens.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// `(src_steps, batch)`.
    pub src: ArrayView2<'a, usize>,
    /// `(batch,)`, each in `1..=src_steps`.
    pub src_len: &'a [usize],
    /// `(tgt_steps, batch)`: `<bos>` then the target.
    pub tgt_in: ArrayView2<'a, usize>,
    /// `(tgt_steps, batch)`: the target then `<eos>`.
    pub tgt_out: ArrayView2<'a, usize>,
    /// `(batch,)`, each in `1..=tgt_steps`.
    pub tgt_len: &'a [usize],
}

impl Batch<'_> {
    /// The sentence pairs `cols` of the batch (the columns of its arrays).
    fn columns(&self, cols: std::ops::Range<usize>) -> Batch<'_> {
        Batch {
            src: self.src.slice(s![.., cols.clone()]),
            src_len: self.src_len.get(cols.clone()).unwrap_or_default(),
            tgt_in: self.tgt_in.slice(s![.., cols.clone()]),
            tgt_out: self.tgt_out.slice(s![.., cols.clone()]),
            tgt_len: self.tgt_len.get(cols).unwrap_or_default(),
        }
    }
}

/// Source ids `(src_steps, batch)` and valid lengths `(batch,)`, each in `1..=src_steps`.
fn check_source(src: ArrayView2<'_, usize>, src_len: &[usize]) -> Result<()> {
    let (steps, batch) = src.dim();
    crate::error::check_shape("src_valid_len", &[batch], &[src_len.len()])?;
    if let Some(&bad) = src_len.iter().find(|&&n| n == 0 || n > steps) {
        return Err(Error::invalid(
            "src_valid_len",
            format!("between 1 and the source length ({steps})"),
            bad,
        ));
    }
    Ok(())
}

/// An RNN encoder-decoder. Its gradients are a `Seq2Seq` too.
///
/// Shapes (time-major): source ids `(src_steps, batch)`, target ids `(tgt_steps, batch)`,
/// valid lengths `(batch,)`.
///
/// ```
/// use ndarray::array;
/// use seqrnn::seq2seq::Batch;
/// use seqrnn::{Attention, Context, DecodeConfig, Init, Seq2Seq, Seq2SeqConfig};
///
/// let config = Seq2SeqConfig {
///     src_vocab_size: 6, tgt_vocab_size: 7, embed_size: 4, hidden_size: 8, num_layers: 2,
///     context: Context::Concat, dropout: 0.0, attention: Attention::None,
/// };
/// let model = Seq2Seq::<f64>::new(config, Init::Orthogonal, 0)?;
/// let src = array![[3, 4], [5, 2], [2, 0]]; // (src_steps 3, batch 2); 0 pads
/// let tgt_in = array![[1, 1], [4, 6], [5, 2]]; // <bos> = 1, then the target
/// let tgt_out = array![[4, 6], [5, 2], [2, 0]]; // the target, then <eos> = 2
/// let batch = Batch {
///     src: src.view(), src_len: &[3, 2],
///     tgt_in: tgt_in.view(), tgt_out: tgt_out.view(), tgt_len: &[3, 2],
/// };
/// let step = model.loss_and_grads(&batch)?;
/// assert_eq!(step.tokens, 5);
///
/// let cfg = DecodeConfig { bos: 1, eos: 2, max_len: 5, beam_size: 2, alpha: 0.75 };
/// let hyps = model.beam_search(src.view(), &[3, 2], cfg)?;
/// assert_eq!(hyps.len(), 2); // one translation per source sentence
/// assert!(hyps.iter().all(|h| h.tokens.len() <= 5));
/// # Ok::<(), seqrnn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Seq2Seq<T> {
    config: Seq2SeqConfig,
    /// `encoder.embedding.weight` `(src_vocab, embed)`.
    pub encoder_embedding: Embedding<T>,
    /// `encoder.rnn.*`.
    pub encoder: Rnn<T>,
    /// `decoder.embedding.weight` `(tgt_vocab, embed)`.
    pub decoder_embedding: Embedding<T>,
    /// `decoder.rnn.*`; `weight_ih_l0` is `(hidden, embed + hidden)` with [`Context::Concat`].
    pub decoder: Rnn<T>,
    /// `decoder.output.weight` `(tgt_vocab, hidden)`, `decoder.output.bias`.
    pub output: Linear<T>,
    /// `decoder.attention.*` with [`Attention::Additive`] (attention space of the hidden size).
    pub attention: Option<AdditiveAttention<T>>,
}

/// The result of [`Seq2Seq::loss_and_grads`].
#[derive(Clone, Debug)]
pub struct Seq2SeqStep<T> {
    /// Mean cross-entropy over valid target tokens.
    pub loss: T,
    /// Gradient of every parameter.
    pub grads: Seq2Seq<T>,
    /// Number of valid target tokens.
    pub tokens: usize,
}

/// Buffers for [`Seq2Seq::decoder_step`].
#[derive(Clone, Debug)]
pub struct DecoderWorkspace<T> {
    input: Array2<T>,  // (R, E [+ H])
    pre: Array2<T>,    // (R, H)
    logits: Array2<T>, // (R, V)
    /// With attention: the projected queries `(R, A)`, the weights `(R, Ts)`, scratch space.
    attention: Option<(Array2<T>, Array2<T>, Scratch<T>)>,
}

impl<T> DecoderWorkspace<T> {
    /// The attention weights `(R, Ts)` of the last step, with attention.
    pub fn attention_weights(&self) -> Option<ArrayView2<'_, T>> {
        self.attention.as_ref().map(|(_, w, _)| w.view())
    }
}

/// What every decoder step reads from the encoder: the context `(R, H)` (the encoder's
/// top-layer final state of each row's sentence) or, with attention, the attention memory.
#[derive(Clone, Debug)]
pub enum EncoderMemory<T> {
    /// `(R, H)`; read with [`Context::Concat`] only.
    Context(Array2<T>),
    /// The encoder states of every sentence, `group` rows per sentence.
    Attention(Memory<T>),
}

/// The checkpoint kind of a [`Seq2Seq`].
pub const CHECKPOINT_KIND: &str = "Seq2Seq";

impl<T: Float> Seq2Seq<T> {
    /// A new model; every part is drawn from `init` with a seed derived from `seed`.
    pub fn new(config: Seq2SeqConfig, init: Init, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut seeds = crate::init::rng(seed);
        let mut next = || -> u64 { seeds.random() };
        Ok(Seq2Seq {
            encoder_embedding: Embedding::new(
                config.src_vocab_size,
                config.embed_size,
                init,
                next(),
            )?,
            encoder: Rnn::new(config.rnn(config.embed_size), init, next())?,
            decoder_embedding: Embedding::new(
                config.tgt_vocab_size,
                config.embed_size,
                init,
                next(),
            )?,
            decoder: Rnn::new(config.rnn(config.decoder_input()), init, next())?,
            output: Linear::new(
                config.hidden_size,
                config.tgt_vocab_size,
                true,
                init,
                next(),
            )?,
            attention: match config.attention {
                Attention::None => None,
                Attention::Additive => Some(AdditiveAttention::new(
                    config.hidden_size,
                    config.hidden_size,
                    init,
                    next(),
                )?),
            },
            config,
        })
    }

    /// The sizes and options.
    pub fn config(&self) -> &Seq2SeqConfig {
        &self.config
    }

    /// Runs the encoder; returns its cache (final states at each source's valid length).
    pub fn encode(&self, src: ArrayView2<'_, usize>, src_len: &[usize]) -> Result<RnnCache<T>> {
        check_source(src, src_len)?;
        crate::embedding::check_ids("src", src.iter().copied(), self.config.src_vocab_size)?;
        let x = self.encoder_embedding.forward(src)?; // (Ts, B, E)
        self.encoder
            .forward(RnnInput::Dense(x), None, Some(src_len))
    }

    fn decoder_inputs(
        &self,
        tgt_in: ArrayView2<'_, usize>,
        context: ArrayView2<'_, T>,
    ) -> Result<Array3<T>> {
        let emb = self.decoder_embedding.forward(tgt_in)?; // (Tt, B, E)
        if self.config.context == Context::None {
            return Ok(emb);
        }
        let (steps, batch) = tgt_in.dim();
        let (e, h) = (self.config.embed_size, self.config.hidden_size);
        let mut x = crate::alloc::zeros3("decoder inputs", steps, batch, e + h)?; // (Tt, B, E + H)
        x.slice_mut(s![.., .., ..e]).assign(&emb);
        x.slice_mut(s![.., .., e..]).assign(
            &context
                .broadcast((steps, batch, h))
                .ok_or_else(|| Error::shape("context", &[batch, h], context.shape()))?,
        );
        Ok(x)
    }

    fn check_batch(&self, b: &Batch<'_>) -> Result<()> {
        let (tt, batch) = b.tgt_in.dim();
        crate::error::check_shape("src", &[b.src.nrows(), batch], b.src.shape())?;
        check_source(b.src, b.src_len)?;
        crate::error::check_shape("tgt_out", &[tt, batch], b.tgt_out.shape())?;
        crate::error::check_shape("tgt_valid_len", &[batch], &[b.tgt_len.len()])?;
        crate::embedding::check_ids(
            "tgt_in",
            b.tgt_in.iter().copied(),
            self.config.tgt_vocab_size,
        )?;
        crate::embedding::check_ids(
            "tgt_out",
            b.tgt_out.iter().copied(),
            self.config.tgt_vocab_size,
        )?;
        if let Some(&bad) = b.tgt_len.iter().find(|&&n| n == 0 || n > tt) {
            return Err(Error::invalid(
                "tgt_valid_len",
                format!("between 1 and the target length ({tt})"),
                bad,
            ));
        }
        Ok(())
    }

    /// Mean teacher-forced cross-entropy over valid target tokens and the exact gradient of every
    /// parameter, through decoder, initial state, context and encoder.
    pub fn loss_and_grads(&self, b: &Batch<'_>) -> Result<Seq2SeqStep<T>> {
        self.loss_and_grads_train(b, None)
    }

    /// [`Seq2Seq::loss_and_grads`] in training mode: with `rng`, dropout between stacked layers
    /// of the encoder and the decoder.
    pub fn loss_and_grads_train(
        &self,
        b: &Batch<'_>,
        rng: Option<&mut StdRng>,
    ) -> Result<Seq2SeqStep<T>> {
        self.check_batch(b)?;
        let batch = b.tgt_in.ncols();
        let parts = crate::split::parts(batch, self.config.hidden_size);
        if parts == 1 {
            return self.loss_and_grads_part(b, rng);
        }
        let results = crate::split::map(batch, parts, rng, |cols, rng| {
            self.loss_and_grads_part(&b.columns(cols), rng)
        })?;
        let tokens: usize = results.iter().map(|r| r.tokens).sum();
        let weighted = results
            .into_iter()
            .map(|p| {
                (
                    p.loss,
                    p.grads,
                    T::from_f64_lossy(p.tokens as f64 / tokens as f64),
                )
            })
            .collect();
        let (loss, grads) = crate::split::weighted_sum(weighted)
            .ok_or_else(|| Error::invalid("batch", "at least one sentence pair", 0))?;
        Ok(Seq2SeqStep {
            loss,
            grads,
            tokens,
        })
    }

    /// Mean teacher-forced cross-entropy over the valid target tokens and their number, without
    /// gradients (evaluation: no dropout): the loss of [`Seq2Seq::loss_and_grads`], bit for bit,
    /// at the cost of the forward pass alone.
    pub fn loss(&self, b: &Batch<'_>) -> Result<(T, usize)> {
        self.check_batch(b)?;
        let batch = b.tgt_in.ncols();
        let parts = crate::split::parts(batch, self.config.hidden_size);
        let results = crate::split::map(batch, parts, None, |cols, _| {
            let part = b.columns(cols);
            let f = self.forward_part(&part, None)?;
            Ok((f.loss, part.tgt_len.iter().sum::<usize>()))
        })?;
        let tokens: usize = results.iter().map(|r| r.1).sum();
        if parts == 1 {
            return Ok((results[0].0, tokens));
        }
        // Weighted as `loss_and_grads` weighs its parts.
        let mut loss = T::zero();
        for (i, (l, n)) in results.into_iter().enumerate() {
            let w = T::from_f64_lossy(n as f64 / tokens as f64);
            loss = if i == 0 { l * w } else { loss + l * w };
        }
        Ok((loss, tokens))
    }

    /// The teacher-forced forward pass of a checked batch on one thread, with what the backward
    /// pass needs.
    fn forward_part<'a>(
        &'a self,
        b: &Batch<'_>,
        mut rng: Option<&mut StdRng>,
    ) -> Result<Forward<'a, T>> {
        let (tt, batch) = b.tgt_in.dim();
        let l = self.config.num_layers;
        let src_x = self.encoder_embedding.forward(b.src)?; // (Ts, B, E)
        let enc = self.encoder.forward_train(
            RnnInput::Dense(src_x),
            None,
            Some(b.src_len),
            rng.as_deref_mut(),
        )?;
        let h_enc = enc.h_n(); // (L, B, H)
        let (dec, feed) = match &self.attention {
            None => {
                let context = h_enc.index_axis(Axis(0), l - 1); // (B, H)
                let dec_x = self.decoder_inputs(b.tgt_in, context)?; // (Tt, B, E [+ H])
                let input = RnnInput::Dense(dec_x);
                let dec = self
                    .decoder
                    .forward_train(input, Some(h_enc.view()), None, rng)?;
                (dec, None)
            }
            Some(attention) => {
                let memory = attention.memory(enc.top_states(), b.src_len, 1)?;
                let mut feed = AttentionFeed::new(attention, memory, tt)?;
                let dec_x = self.attended_inputs(b.tgt_in)?; // (Tt, B, H + E)
                let h0 = Some(h_enc.view());
                let dec = self.decoder.forward_fed(dec_x, h0, &mut feed, rng)?;
                (dec, Some(feed))
            }
        };
        let top = flatten(dec.top_states())?; // (Tt*B, H)
        let logits = self.output.forward(top)?; // (Tt*B, V)
        let targets: Array1<usize> = b.tgt_out.iter().copied().collect(); // (Tt*B,)
        let mask = Array1::from_shape_fn(tt * batch, |i| {
            if i / batch < b.tgt_len[i % batch] {
                T::one()
            } else {
                T::zero()
            }
        });
        let (loss, d_logits) =
            crate::loss::cross_entropy_owned(logits, targets.view(), Some(mask.view()))?;
        Ok(Forward {
            enc,
            dec,
            feed,
            loss,
            d_logits,
        })
    }

    /// The decoder's inputs with attention: `[c_t, embedding]` with the contexts left to the
    /// attention (zeros here). Shapes: `tgt_in` `(Tt, B)` -> `(Tt, B, H + E)`.
    fn attended_inputs(&self, tgt_in: ArrayView2<'_, usize>) -> Result<Array3<T>> {
        let emb = self.decoder_embedding.forward(tgt_in)?; // (Tt, B, E)
        let (steps, batch) = tgt_in.dim();
        let (e, h) = (self.config.embed_size, self.config.hidden_size);
        let mut x = crate::alloc::zeros3("decoder inputs", steps, batch, h + e)?; // (Tt, B, H + E)
        x.slice_mut(s![.., .., h..]).assign(&emb);
        Ok(x)
    }

    /// [`Seq2Seq::loss_and_grads_train`] on one thread, for a checked batch.
    fn loss_and_grads_part(
        &self,
        b: &Batch<'_>,
        rng: Option<&mut StdRng>,
    ) -> Result<Seq2SeqStep<T>> {
        let (tt, batch) = b.tgt_in.dim();
        let (h, l) = (self.config.hidden_size, self.config.num_layers);
        let Forward {
            enc,
            dec,
            feed,
            loss,
            d_logits,
        } = self.forward_part(b, rng)?;
        let top = flatten(dec.top_states())?; // (Tt*B, H)
        let (g_output, d_top) = self.output.backward(top, d_logits.view())?; // (Tt*B, H)
        let d_top = d_top
            .into_shape_with_order((tt, batch, h))
            .map_err(|_| Error::shape("d_top", &[tt, batch, h], &[]))?;
        let (g_dec, attention) = match feed {
            None => (self.decoder.backward(&dec, Some(d_top.view()), None)?, None),
            Some(mut feed) => {
                let g = self
                    .decoder
                    .backward_fed(&dec, d_top.view(), None, &mut feed)?;
                (g, Some(feed.finish()?))
            }
        };
        let d_x = g_dec
            .input
            .ok_or_else(|| Error::invalid("decoder input gradient", "present", "absent"))?;
        let emb_cols = match self.attention {
            None => s![.., .., ..self.config.embed_size],
            Some(_) => s![.., .., h..],
        };
        let g_dec_emb = self
            .decoder_embedding
            .backward(b.tgt_in, d_x.slice(emb_cols))?;
        let mut d_h_enc = g_dec.h0; // (L, B, H)
        if self.config.context == Context::Concat {
            let d_context = d_x
                .slice(s![.., .., self.config.embed_size..])
                .sum_axis(Axis(0)); // (B, H)
            let mut top_state = d_h_enc.index_axis_mut(Axis(0), l - 1);
            top_state += &d_context;
        }
        let (g_attention, d_enc_states) = attention.unzip();
        let d_enc = d_enc_states.as_ref().map(|d| d.view()); // (Ts, B, H)
        let g_enc = self.encoder.backward(&enc, d_enc, Some(d_h_enc.view()))?;
        let d_src = g_enc
            .input
            .ok_or_else(|| Error::invalid("encoder input gradient", "present", "absent"))?;
        let g_enc_emb = self.encoder_embedding.backward(b.src, d_src.view())?;
        let grads = Seq2Seq {
            config: self.config.clone(),
            encoder_embedding: g_enc_emb,
            encoder: g_enc.params,
            decoder_embedding: g_dec_emb,
            decoder: g_dec.params,
            output: g_output,
            attention: g_attention,
        };
        let tokens = b.tgt_len.iter().sum();
        Ok(Seq2SeqStep {
            loss,
            grads,
            tokens,
        })
    }

    /// The decoder's start for `group` rows per source sentence: its initial state
    /// `(L, S*group, H)` (each sentence's encoder final state, repeated) and its memory.
    /// Shapes: `src` `(src_steps, S)`, `src_len` `(S,)`.
    pub fn start(
        &self,
        src: ArrayView2<'_, usize>,
        src_len: &[usize],
        group: usize,
    ) -> Result<(Array3<T>, EncoderMemory<T>)> {
        let cache = self.encode(src, src_len)?;
        let h_n = cache.h_n(); // (L, S, H)
        let (l, sources, h) = h_n.dim();
        let rows = sources * group;
        let mut state = crate::alloc::zeros3("decoder state", l, rows, h)?; // (L, S*group, H)
        for row in 0..rows {
            state
                .slice_mut(s![.., row, ..])
                .assign(&h_n.slice(s![.., row / group, ..]));
        }
        let memory = match &self.attention {
            Some(a) => EncoderMemory::Attention(a.memory(cache.top_states(), src_len, group)?),
            None => EncoderMemory::Context(state.index_axis(Axis(0), l - 1).to_owned()), // (R, H)
        };
        Ok((state, memory))
    }

    /// Buffers for decoding `rows` sequences one step at a time over `memory`.
    pub fn decoder_workspace(
        &self,
        rows: usize,
        memory: &EncoderMemory<T>,
    ) -> Result<DecoderWorkspace<T>> {
        let attention = match (&self.attention, memory) {
            (Some(a), EncoderMemory::Attention(m)) => Some((
                crate::alloc::zeros2("attention queries", rows, a.size())?,
                crate::alloc::zeros2("attention weights", rows, m.steps())?,
                a.scratch(m)?,
            )),
            _ => None,
        };
        Ok(DecoderWorkspace {
            input: crate::alloc::zeros2("decoder input", rows, self.config.decoder_input())?,
            pre: crate::alloc::zeros2("decoder step", rows, self.config.hidden_size)?,
            logits: crate::alloc::zeros2("decoder logits", rows, self.config.tgt_vocab_size)?,
            attention,
        })
    }

    /// One decoder step: feeds `ids` `(R,)` with what it reads from `memory`, advances `state`
    /// `(num_layers, R, hidden)`, returns the logits `(R, tgt_vocab)`.
    pub fn decoder_step<'w>(
        &self,
        ids: &[usize],
        memory: &EncoderMemory<T>,
        state: &mut Array3<T>,
        ws: &'w mut DecoderWorkspace<T>,
    ) -> Result<ArrayView2<'w, T>> {
        let (e, h, l) = (
            self.config.embed_size,
            self.config.hidden_size,
            self.config.num_layers,
        );
        crate::error::check_shape("decoder step ids", &[ws.input.nrows()], &[ids.len()])?;
        crate::embedding::check_ids(
            "decoder step ids",
            ids.iter().copied(),
            self.config.tgt_vocab_size,
        )?;
        let emb_cols = if self.attention.is_some() {
            h..h + e
        } else {
            0..e
        };
        for (mut row, &id) in ws.input.rows_mut().into_iter().zip(ids) {
            row.slice_mut(s![emb_cols.clone()])
                .assign(&self.decoder_embedding.weight.row(id));
        }
        match (&self.attention, memory, &mut ws.attention) {
            (Some(a), EncoderMemory::Attention(m), Some((q, weights, scratch))) => {
                let top = state.index_axis(Axis(0), l - 1); // (R, H)
                let context = ws.input.slice_mut(s![.., ..h]); // (R, H)
                a.attend(m, top, q.view_mut(), weights.view_mut(), context, scratch)?;
            }
            (None, EncoderMemory::Context(context), _) => {
                if self.config.context == Context::Concat {
                    crate::error::check_shape("context", &[ids.len(), h], context.shape())?;
                    ws.input.slice_mut(s![.., e..]).assign(context);
                }
            }
            _ => {
                return Err(Error::invalid(
                    "decoder memory",
                    "the one Seq2Seq::start gives for this model",
                    "another",
                ))
            }
        }
        self.decoder
            .step(StepInput::Dense(ws.input.view()), state, &mut ws.pre)?;
        let top = state.index_axis(Axis(0), l - 1); // (R, H)
        self.output.forward_into(top, ws.logits.view_mut())?;
        Ok(ws.logits.view())
    }

    /// Safetensors bytes with the configuration and `extra` metadata (vocabularies, ...).
    pub fn to_bytes(&self, extra: HashMap<String, String>) -> Result<Vec<u8>> {
        checkpoint::model_to_bytes(CHECKPOINT_KIND, &self.config, self, extra)
    }

    /// Writes [`Seq2Seq::to_bytes`] to `path` atomically.
    pub fn save(&self, path: &Path, extra: HashMap<String, String>) -> Result<()> {
        checkpoint::write_atomic(path, &self.to_bytes(extra)?)
    }

    /// Rebuilds a model from checkpoint bytes after validating everything.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, HashMap<String, String>)> {
        checkpoint::model_from_bytes(bytes, CHECKPOINT_KIND, Seq2SeqConfig::num_params, |c| {
            Seq2Seq::new(c, Init::Uniform, 0)
        })
    }
}

impl<T: Float> Parameters<T> for Seq2Seq<T> {
    fn named(&self) -> Vec<(String, ArrayViewD<'_, T>)> {
        let mut out = prefixed("encoder.embedding", self.encoder_embedding.named());
        out.extend(prefixed("encoder.rnn", self.encoder.named()));
        out.extend(prefixed(
            "decoder.embedding",
            self.decoder_embedding.named(),
        ));
        out.extend(prefixed("decoder.rnn", self.decoder.named()));
        out.extend(prefixed("decoder.output", self.output.named()));
        if let Some(a) = &self.attention {
            out.extend(prefixed("decoder.attention", a.named()));
        }
        out
    }

    fn named_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, T>)> {
        let mut out = prefixed("encoder.embedding", self.encoder_embedding.named_mut());
        out.extend(prefixed("encoder.rnn", self.encoder.named_mut()));
        out.extend(prefixed(
            "decoder.embedding",
            self.decoder_embedding.named_mut(),
        ));
        out.extend(prefixed("decoder.rnn", self.decoder.named_mut()));
        out.extend(prefixed("decoder.output", self.output.named_mut()));
        if let Some(a) = &mut self.attention {
            out.extend(prefixed("decoder.attention", a.named_mut()));
        }
        out
    }
}

/// A teacher-forced forward pass: the encoder's and decoder's caches, the loss and the
/// gradient of the loss with respect to the logits.
struct Forward<'a, T> {
    enc: RnnCache<T>,
    dec: RnnCache<T>,
    /// With attention: its per-step record.
    feed: Option<AttentionFeed<'a, T>>,
    loss: T,
    d_logits: ndarray::Array2<T>,
}
