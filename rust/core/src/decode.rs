//! Decoding a [`Seq2Seq`]: greedy and beam search, batched over many source sentences.
//!
//! Both start the decoder from the encoder's final state with `<bos>` and stop a sentence at
//! `<eos>` (not included in the output) or after `max_len` tokens. Beam search keeps
//! `beam_size` hypotheses per sentence and ranks finished ones by d2l's length-normalized score
//! `log P(y) / L^alpha`, `L` counting the emitted tokens including `<eos>`.

use crate::seq2seq::Seq2Seq;
use crate::{Error, Float, Result};
use ndarray::{Array2, Array3, ArrayView2, Axis};

/// Decoding options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecodeConfig {
    /// Id of `<bos>` in the target vocabulary.
    pub bos: usize,
    /// Id of `<eos>` in the target vocabulary.
    pub eos: usize,
    /// At most this many tokens per sentence.
    pub max_len: usize,
    /// Hypotheses kept per sentence (1: greedy).
    pub beam_size: usize,
    /// Length-penalty exponent (d2l: 0.75).
    pub alpha: f64,
}

impl DecodeConfig {
    fn validate(&self, vocab: usize) -> Result<()> {
        crate::error::check_positive("max_len", self.max_len)?;
        crate::error::check_positive("beam_size", self.beam_size)?;
        crate::error::check_non_negative_finite("alpha", self.alpha)?;
        crate::embedding::check_ids("bos/eos", [self.bos, self.eos], vocab)
    }
}

/// Every step of the greedy translation of one sentence, for reading how the model works.
#[derive(Clone, Debug, PartialEq)]
pub struct GreedySteps<T> {
    /// The encoder's top-layer state after each source token `(src_steps, hidden)`.
    pub encoder_states: Array2<T>,
    /// The decoder's top-layer state after each output step `(out_steps, hidden)`.
    pub decoder_states: Array2<T>,
    /// The logits of each output step `(out_steps, tgt_vocab)`.
    pub logits: Array2<T>,
    /// The argmax of each step's logits (`<eos>` included when it was chosen).
    pub tokens: Vec<usize>,
}

/// One decoded sentence: tokens without `<bos>`/`<eos>`, and its scores.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// The output tokens.
    pub tokens: Vec<usize>,
    /// `log P(tokens [, <eos>])`.
    pub log_prob: f64,
    /// `log_prob / L^alpha`.
    pub score: f64,
}

fn log_softmax_row<T: Float>(row: ndarray::ArrayView1<'_, T>, out: &mut Vec<f64>) {
    out.clear();
    out.extend(row.iter().map(|&z| z.to_f64_lossless()));
    let max = out.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lse = max + out.iter().map(|&z| (z - max).exp()).sum::<f64>().ln();
    out.iter_mut().for_each(|z| *z -= lse);
}

impl<T: Float> Seq2Seq<T> {
    /// Encodes and returns `(state (L, B*k, H), context (B*k, H))` with each sentence's rows
    /// repeated `k` times.
    fn start(
        &self,
        src: ArrayView2<'_, usize>,
        src_len: &[usize],
        k: usize,
    ) -> Result<(Array3<T>, Array2<T>)> {
        let h_n = self.encode(src, src_len)?.h_n(); // (L, B, H)
        let (l, b, h) = h_n.dim();
        let mut state = crate::alloc::zeros3("decoder state", l, b * k, h)?; // (L, B*k, H)
        for (row, i) in (0..b * k).map(|r| (r, r / k)) {
            state
                .slice_mut(ndarray::s![.., row, ..])
                .assign(&h_n.slice(ndarray::s![.., i, ..]));
        }
        let context = state.index_axis(Axis(0), l - 1).to_owned(); // (B*k, H)
        Ok((state, context))
    }

    /// Greedy decoding of one source sentence `src` (its valid tokens, no padding), keeping
    /// every step; its tokens up to `<eos>` are [`Seq2Seq::greedy`]'s. `cfg.beam_size` is
    /// ignored. Shapes: see [`GreedySteps`].
    pub fn greedy_steps(&self, src: &[usize], cfg: DecodeConfig) -> Result<GreedySteps<T>> {
        let (h, vocab) = (self.config().hidden_size, self.config().tgt_vocab_size);
        DecodeConfig {
            beam_size: 1,
            ..cfg
        }
        .validate(vocab)?;
        if src.is_empty() {
            return Err(Error::invalid("src", "at least one token", 0));
        }
        let src_ids = Array2::from_shape_vec((src.len(), 1), src.to_vec())
            .map_err(|_| Error::shape("src", &[src.len(), 1], &[src.len()]))?; // (Ts, 1)
        let cache = self.encode(src_ids.view(), &[src.len()])?;
        let encoder_states = cache.top_states().index_axis(Axis(1), 0).to_owned(); // (Ts, H)
        let mut state = cache.h_n(); // (L, 1, H)
        let context = state.index_axis(Axis(0), state.dim().0 - 1).to_owned(); // (1, H)
        let mut ws = self.decoder_workspace(1);
        let mut decoder_states = crate::alloc::zeros2("decoder states", cfg.max_len, h)?; // (max_len, H)
        let mut logits = crate::alloc::zeros2("decoder logits", cfg.max_len, vocab)?; // (max_len, V)
        let (mut tokens, mut feed) = (Vec::with_capacity(cfg.max_len), cfg.bos);
        let cost = self.config().num_params().unwrap_or(usize::MAX); // per step, about
        while tokens.len() < cfg.max_len && feed != cfg.eos {
            crate::interrupt::poll(cost)?;
            let t = tokens.len();
            let z = self.decoder_step(&[feed], context.view(), &mut state, &mut ws)?; // (1, V)
            logits.row_mut(t).assign(&z.row(0));
            let top = state.index_axis(Axis(0), state.dim().0 - 1); // (1, H)
            decoder_states.row_mut(t).assign(&top.row(0));
            // The first of equal maxima, as beam search's ordering picks it.
            feed = (0..vocab).fold(0, |best, v| if z[[0, v]] > z[[0, best]] { v } else { best });
            tokens.push(feed);
        }
        let n = tokens.len();
        Ok(GreedySteps {
            encoder_states,
            decoder_states: decoder_states.slice_move(ndarray::s![..n, ..]),
            logits: logits.slice_move(ndarray::s![..n, ..]),
            tokens,
        })
    }

    /// Greedy decoding of every source sentence. Shapes: `src` `(src_steps, batch)`.
    pub fn greedy(
        &self,
        src: ArrayView2<'_, usize>,
        src_len: &[usize],
        cfg: DecodeConfig,
    ) -> Result<Vec<Hypothesis>> {
        self.beam_search(
            src,
            src_len,
            DecodeConfig {
                beam_size: 1,
                ..cfg
            },
        )
    }

    /// Beam search over every source sentence at once. Shapes: `src` `(src_steps, batch)`.
    pub fn beam_search(
        &self,
        src: ArrayView2<'_, usize>,
        src_len: &[usize],
        cfg: DecodeConfig,
    ) -> Result<Vec<Hypothesis>> {
        let vocab = self.config().tgt_vocab_size;
        cfg.validate(vocab)?;
        let (k, batch) = (cfg.beam_size, src.ncols());
        // Every row may grow to max_len tokens, held twice (this step's and the next's).
        let rows = (batch as u128).saturating_mul(k as u128);
        let per_row = 2 * cfg.max_len as u128 * std::mem::size_of::<usize>() as u128;
        crate::alloc::reserve("decoded tokens", rows.saturating_mul(per_row))?;
        let (mut state, context) = self.start(src, src_len, k)?;
        let mut next_state = state.clone();
        let mut ws = self.decoder_workspace(batch * k);
        // Per row: the hypothesis so far and its log-probability; rows 1..k of a sentence start
        // dead (-inf) so the first step expands one beam only.
        let mut tokens: Vec<Vec<usize>> = vec![Vec::new(); batch * k];
        let mut log_p: Vec<f64> = (0..batch * k)
            .map(|r| if r % k == 0 { 0.0 } else { f64::NEG_INFINITY })
            .collect();
        let mut finished: Vec<Vec<Hypothesis>> = vec![Vec::new(); batch];
        let mut done = vec![false; batch];
        let mut feed = vec![cfg.bos; batch * k];
        let mut lp = Vec::with_capacity(vocab);
        let mut cand: Vec<(f64, usize, usize)> = Vec::with_capacity(k * vocab); // (log p, row, token)
        let score = |lp: f64, len: usize| lp / (len as f64).powf(cfg.alpha);
        // Multiply-adds of a step, about (one per parameter and row; the sort adds as many).
        let cost = self
            .config()
            .num_params()
            .and_then(|p| p.checked_mul(batch * k))
            .unwrap_or(usize::MAX);
        for step in 0..cfg.max_len {
            crate::interrupt::poll(cost)?;
            let logits = self.decoder_step(&feed, context.view(), &mut state, &mut ws)?; // (B*k, V)
            let mut new_tokens = tokens.clone();
            let mut new_log_p = vec![f64::NEG_INFINITY; batch * k];
            for i in 0..batch {
                if done[i] {
                    continue;
                }
                cand.clear();
                for (r, &lp_r) in log_p.iter().enumerate().skip(i * k).take(k) {
                    if lp_r.is_finite() {
                        log_softmax_row(logits.row(r), &mut lp);
                        cand.extend(lp.iter().enumerate().map(|(v, &p)| (lp_r + p, r, v)));
                    }
                }
                cand.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
                let mut alive = 0;
                for &(p, r, v) in cand.iter() {
                    if alive == k || finished[i].len() >= k {
                        break;
                    }
                    if v == cfg.eos {
                        let hyp = tokens[r].clone();
                        finished[i].push(Hypothesis {
                            score: score(p, hyp.len() + 1),
                            log_prob: p,
                            tokens: hyp,
                        });
                    } else {
                        let dst = i * k + alive;
                        new_tokens[dst] = tokens[r].clone();
                        new_tokens[dst].push(v);
                        new_log_p[dst] = p;
                        next_state
                            .slice_mut(ndarray::s![.., dst, ..])
                            .assign(&state.slice(ndarray::s![.., r, ..]));
                        feed[dst] = v;
                        alive += 1;
                    }
                }
                let last_step = step + 1 == cfg.max_len;
                if finished[i].len() >= k || alive == 0 || last_step {
                    done[i] = true;
                    // Unfinished beams compete only when the length limit cut them off.
                    let cut_off = if last_step { alive } else { 0 };
                    for r in i * k..i * k + cut_off {
                        let hyp = new_tokens[r].clone();
                        finished[i].push(Hypothesis {
                            score: score(new_log_p[r], hyp.len()),
                            log_prob: new_log_p[r],
                            tokens: hyp,
                        });
                    }
                }
            }
            std::mem::swap(&mut state, &mut next_state);
            tokens = new_tokens;
            log_p = new_log_p;
            if done.iter().all(|&d| d) {
                break;
            }
        }
        finished
            .into_iter()
            .map(|hyps| {
                hyps.into_iter()
                    .max_by(|a, b| a.score.total_cmp(&b.score))
                    .ok_or_else(|| Error::invalid("beam search", "at least one hypothesis", "none"))
            })
            .collect()
    }
}
