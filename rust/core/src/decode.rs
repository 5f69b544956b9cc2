//! Decoding a [`Seq2Seq`]: greedy and beam search, batched over many source sentences.
//!
//! Both start the decoder from the encoder's final state with `<bos>` and stop a sentence at
//! `<eos>` (not included in the output) or after `max_len` tokens. Beam search keeps
//! `beam_size` hypotheses per sentence and ranks finished ones by d2l's length-normalized score
//! `log P(y) / L^alpha`, `L` counting the emitted tokens including `<eos>`; it stops a sentence
//! once none of its live hypotheses can still score above its best finished one.

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
    /// With attention, each step's attention weights over the source `(out_steps, src_steps)`.
    pub attention: Option<Array2<T>>,
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
        let (mut state, memory) = self.start(src_ids.view(), &[src.len()], 1)?; // (L, 1, H)
        let mut ws = self.decoder_workspace(1, &memory)?;
        let mut attention = match ws.attention_weights() {
            Some(_) => Some(crate::alloc::zeros2(
                "attention weights",
                cfg.max_len,
                src.len(),
            )?),
            None => None,
        }; // (max_len, Ts)
        let mut decoder_states = crate::alloc::zeros2("decoder states", cfg.max_len, h)?; // (max_len, H)
        let mut logits = crate::alloc::zeros2("decoder logits", cfg.max_len, vocab)?; // (max_len, V)
        let (mut tokens, mut feed) = (Vec::with_capacity(cfg.max_len), cfg.bos);
        let cost = self.config().num_params().unwrap_or(usize::MAX); // per step, about
        while tokens.len() < cfg.max_len && feed != cfg.eos {
            crate::interrupt::poll(cost)?;
            let t = tokens.len();
            let z = self.decoder_step(&[feed], &memory, &mut state, &mut ws)?; // (1, V)
            logits.row_mut(t).assign(&z.row(0));
            let z = logits.row(t);
            if let (Some(all), Some(w)) = (&mut attention, ws.attention_weights()) {
                all.row_mut(t).assign(&w.row(0));
            }
            let top = state.index_axis(Axis(0), state.dim().0 - 1); // (1, H)
            decoder_states.row_mut(t).assign(&top.row(0));
            // The first of equal maxima, as beam search's ordering picks it.
            feed = (0..vocab).fold(0, |best, v| if z[v] > z[best] { v } else { best });
            tokens.push(feed);
        }
        let n = tokens.len();
        Ok(GreedySteps {
            encoder_states,
            decoder_states: decoder_states.slice_move(ndarray::s![..n, ..]),
            logits: logits.slice_move(ndarray::s![..n, ..]),
            attention: attention.map(|a| a.slice_move(ndarray::s![..n, ..])),
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
    ///
    /// Each step feeds every live hypothesis to the decoder, then, sentence by sentence,
    /// expands the live hypotheses by every token, chooses the next beam from the best of those
    /// and finishes the sentence once no live hypothesis can still score above its best
    /// finished one, none is alive, or it has `max_len` tokens.
    pub fn beam_search(
        &self,
        src: ArrayView2<'_, usize>,
        src_len: &[usize],
        cfg: DecodeConfig,
    ) -> Result<Vec<Hypothesis>> {
        let vocab = self.config().tgt_vocab_size;
        cfg.validate(vocab)?;
        let (k, batch) = (cfg.beam_size, src.ncols());
        // Every row may hold max_len back-pointers (parent row, token).
        let rows = (batch as u128).saturating_mul(k as u128);
        let per_row = cfg.max_len as u128 * std::mem::size_of::<(usize, usize)>() as u128;
        crate::alloc::reserve("decoded tokens", rows.saturating_mul(per_row))?;
        let (state, memory) = self.start(src, src_len, k)?; // (L, B*k, H)
        let mut beams = Beams::new(state, k, cfg.bos, vocab);
        let mut ws = self.decoder_workspace(batch * k, &memory)?;
        let mut finished: Vec<Vec<Hypothesis>> = vec![Vec::new(); batch];
        let mut done = vec![false; batch];
        // Multiply-adds of a step, about (one per parameter and row; the sort adds as many).
        let cost = self
            .config()
            .num_params()
            .and_then(|p| p.checked_mul(batch * k))
            .unwrap_or(usize::MAX);
        for step in 0..cfg.max_len {
            crate::interrupt::poll(cost)?;
            let logits = self.decoder_step(&beams.feed, &memory, &mut beams.state, &mut ws)?; // (B*k, V)
            beams.begin_step();
            let last_step = step + 1 == cfg.max_len;
            for (i, (done, finished)) in done.iter_mut().zip(&mut finished).enumerate() {
                if !*done {
                    *done = beams.advance(i, logits, cfg, last_step, finished);
                }
            }
            beams.end_step();
            if done.iter().all(|&d| d) {
                break;
            }
        }
        finished.into_iter().map(best).collect()
    }
}

/// The best-scoring of a sentence's finished hypotheses (the last of equal scores).
fn best(hyps: Vec<Hypothesis>) -> Result<Hypothesis> {
    hyps.into_iter()
        .max_by(|a, b| a.score.total_cmp(&b.score))
        .ok_or_else(|| Error::invalid("beam search", "at least one hypothesis", "none"))
}

impl Hypothesis {
    /// `tokens` of log-probability `log_prob`, scored over the emitted tokens: `tokens` and,
    /// when `with_eos`, the `<eos>` that ended them.
    fn scored(tokens: Vec<usize>, log_prob: f64, with_eos: bool, alpha: f64) -> Self {
        let len = tokens.len() + usize::from(with_eos);
        Hypothesis {
            score: log_prob / (len as f64).powf(alpha),
            log_prob,
            tokens,
        }
    }
}

/// The hypotheses under way in a beam search: `k` rows per sentence, sentence `i` owning rows
/// `i*k..(i+1)*k`. A row whose log-probability is `-inf` is dead: it is fed to the decoder
/// but never expanded. A row's tokens are not stored: each step records, for each row, the
/// row it extended and the token it added, and a hypothesis' tokens are read back through
/// these pointers once it finishes, so that a step costs the same at any length.
struct Beams<T> {
    /// Rows per sentence (the beam size).
    k: usize,
    /// Each step's `(parent row, token)` of every row `(steps * B*k,)`, step-major.
    back: Vec<(usize, usize)>,
    /// Each row's log-probability.
    log_p: Vec<f64>,
    /// Each row's next decoder input.
    feed: Vec<usize>,
    /// The decoder state `(L, B*k, H)`.
    state: Array3<T>,
    /// The next step's log-probabilities and state, filled by [`Beams::choose`].
    next_log_p: Vec<f64>,
    next_state: Array3<T>, // (L, B*k, H)
    /// One row's log-softmax `(V,)`.
    lp: Vec<f64>,
    /// A sentence's candidates `(log p, row, token)`, at most `(k * V,)`.
    cand: Vec<(f64, usize, usize)>,
}

impl<T: Float> Beams<T> {
    /// Every row fed `<bos>`; rows 1..k of each sentence start dead, so that the first step
    /// expands one hypothesis only. Shapes: `state` `(L, B*k, H)`.
    fn new(state: Array3<T>, k: usize, bos: usize, vocab: usize) -> Self {
        let rows = state.dim().1;
        Beams {
            k,
            back: Vec::new(),
            log_p: (0..rows)
                .map(|r| if r % k == 0 { 0.0 } else { f64::NEG_INFINITY })
                .collect(),
            feed: vec![bos; rows],
            next_log_p: vec![f64::NEG_INFINITY; rows],
            next_state: state.clone(),
            state,
            lp: Vec::with_capacity(vocab),
            cand: Vec::with_capacity(k * vocab),
        }
    }

    /// Starts a step: every next row begins dead, with an unused back-pointer.
    fn begin_step(&mut self) {
        let rows = self.log_p.len();
        self.next_log_p.fill(f64::NEG_INFINITY);
        self.back.resize(self.back.len() + rows, (0, 0));
    }

    /// The tokens of the hypothesis in `row` after `steps` steps, read back from the row's
    /// pointer of step `steps - 1` to step 0.
    fn tokens(&self, steps: usize, mut row: usize) -> Vec<usize> {
        let rows = self.log_p.len();
        let mut tokens = vec![0; steps]; // (steps,)
        for (t, token) in tokens.iter_mut().enumerate().rev() {
            let (parent, v) = self.back[t * rows + row];
            *token = v;
            row = parent;
        }
        tokens
    }

    /// Sentence `i`'s step, after the decoder's: expands its live hypotheses, chooses its next
    /// beam and returns whether it is done: settled (see [`Beams::settled`]), none alive, or
    /// the last step, whose live hypotheses finish too, cut off by the length limit. Shapes:
    /// `logits` `(B*k, V)`.
    fn advance(
        &mut self,
        i: usize,
        logits: ArrayView2<'_, T>,
        cfg: DecodeConfig,
        last_step: bool,
        finished: &mut Vec<Hypothesis>,
    ) -> bool {
        self.expand(i, logits);
        let alive = self.choose(i, cfg.eos, cfg.alpha, finished);
        let done = alive == 0 || last_step || self.settled(i, alive, cfg, finished);
        // Unfinished hypotheses compete only when the length limit cut them off.
        if done && last_step {
            let steps = self.back.len() / self.log_p.len(); // this one included
            for r in i * self.k..i * self.k + alive {
                let tokens = self.tokens(steps, r);
                finished.push(Hypothesis::scored(
                    tokens,
                    self.next_log_p[r],
                    false,
                    cfg.alpha,
                ));
            }
        }
        done
    }

    /// Whether the best of sentence `i`'s `finished` hypotheses scores at least what any of
    /// its `alive` next rows can still reach: a live hypothesis' log-probability `p <= 0` only
    /// falls as it grows, and its length stays at most `max_len`, so its score stays at most
    /// `p / max_len^alpha`.
    fn settled(&self, i: usize, alive: usize, cfg: DecodeConfig, finished: &[Hypothesis]) -> bool {
        let best = finished
            .iter()
            .map(|h| h.score)
            .fold(f64::NEG_INFINITY, f64::max);
        let longest = (cfg.max_len as f64).powf(cfg.alpha);
        let rows = i * self.k..i * self.k + alive;
        self.next_log_p[rows].iter().all(|&p| p / longest <= best)
    }

    /// Fills `cand` with every one-token extension of sentence `i`'s live hypotheses, best
    /// first (of equal log-probabilities, the lower row, then the lower token). Shapes:
    /// `logits` `(B*k, V)`.
    fn expand(&mut self, i: usize, logits: ArrayView2<'_, T>) {
        self.cand.clear();
        for (r, &lp_r) in self.log_p.iter().enumerate().skip(i * self.k).take(self.k) {
            if lp_r.is_finite() {
                log_softmax_row(logits.row(r), &mut self.lp);
                let extensions = self.lp.iter().enumerate().map(|(v, &p)| (lp_r + p, r, v));
                self.cand.extend(extensions);
            }
        }
        self.cand
            .sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    }

    /// Takes sentence `i`'s `k` best candidates: one ending in `<eos>` joins `finished`, any
    /// other becomes one of its next rows (back-pointer, log-probability, state, feed).
    /// Returns the number of next rows filled.
    fn choose(
        &mut self,
        i: usize,
        eos: usize,
        alpha: f64,
        finished: &mut Vec<Hypothesis>,
    ) -> usize {
        let rows = self.log_p.len();
        let step = self.back.len() / rows - 1; // this step's pointers: back[step * rows..]
        let mut alive = 0;
        for &(p, r, v) in self.cand.iter().take(self.k) {
            if v == eos {
                finished.push(Hypothesis::scored(self.tokens(step, r), p, true, alpha));
            } else {
                let dst = i * self.k + alive;
                self.back[step * rows + dst] = (r, v);
                self.next_log_p[dst] = p;
                self.next_state
                    .slice_mut(ndarray::s![.., dst, ..])
                    .assign(&self.state.slice(ndarray::s![.., r, ..]));
                self.feed[dst] = v;
                alive += 1;
            }
        }
        alive
    }

    /// Ends the step: the next rows become this step's.
    fn end_step(&mut self) {
        std::mem::swap(&mut self.state, &mut self.next_state);
        std::mem::swap(&mut self.log_p, &mut self.next_log_p);
    }
}
