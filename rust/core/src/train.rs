//! The language-model training loop: minibatches, truncated BPTT, clipping, optimizer steps.
//!
//! A [`Trainer`] owns the optimizer, the sampling stream and the carried hidden state, but not
//! the model, so a caller can run a few minibatches, look at the model, save it, and go on.

use crate::data::{epoch_batches, gather, Sampling};
use crate::optim::{clip_grad_norm, Optimizer, OptimizerConfig};
use crate::pairs::PairSet;
use crate::{Error, Float, LanguageModel, Parameters, Result};
use ndarray::Array3;

/// The dropout stream of optimizer step `step`: a function of the seed and the step only, so a
/// resumed run draws the same masks.
fn dropout_rng(seed: u64, step: u64) -> rand::rngs::StdRng {
    crate::init::rng(crate::init::mix(seed ^ 0x5EED_D80F, step))
}

/// What a [`Trainer`] does on each minibatch.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Rows per minibatch.
    pub batch_size: usize,
    /// Time steps per minibatch (the truncation length of BPTT).
    pub num_steps: usize,
    /// How minibatches are drawn.
    pub sampling: Sampling,
    /// Global-norm clipping threshold (`None`: no clipping).
    pub clip: Option<f64>,
    /// Optimizer and its hyper-parameters.
    pub optimizer: OptimizerConfig,
    /// Seed of the sampling stream.
    pub seed: u64,
}

/// Totals over the minibatches of one [`Trainer::run`] call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RunStats {
    /// Minibatches trained on.
    pub batches: usize,
    /// Target tokens predicted.
    pub tokens: usize,
    /// Sum over minibatches of mean loss x tokens (divide by `tokens` for the mean).
    pub loss_sum: f64,
    /// Whether the epoch ended with this call.
    pub epoch_done: bool,
}

impl RunStats {
    fn add<T: Float>(&mut self, loss: T, tokens: usize) {
        self.batches += 1;
        self.tokens += tokens;
        self.loss_sum += loss.to_f64_lossless() * tokens as f64;
    }
}

/// Where in training an update happens, for error messages: (epoch, minibatch, step), 1-based.
#[derive(Clone, Copy, Debug)]
struct At {
    epoch: u64,
    batch: usize,
    step: u64,
}

/// One optimizer update after checking that the loss and the gradients are finite and clipping
/// the gradients' global norm. Any non-finite value, including in the updated parameters,
/// returns [`Error::NonFinite`] with the model and optimizer as they were before the step.
fn update<T: Float, M: Parameters<T>>(
    optimizer: &mut Optimizer<T>,
    clip: Option<f64>,
    model: &mut M,
    loss: T,
    grads: &mut M,
    at: At,
) -> Result<()> {
    let non_finite = |what: &str| Error::NonFinite {
        what: what.into(),
        epoch: at.epoch,
        batch: at.batch,
        step: at.step,
    };
    if !loss.is_finite() {
        return Err(non_finite("loss"));
    }
    if !grads.all_finite() {
        return Err(non_finite("gradient"));
    }
    if let Some(max_norm) = clip {
        clip_grad_norm(grads, max_norm)?;
    }
    optimizer.step(model, grads).map_err(|e| match e {
        Error::NonFinite { what, .. } => non_finite(&what),
        other => other,
    })
}

/// Training state across minibatches and epochs: d2l's `train_ch8` for a [`LanguageModel`].
///
/// ```
/// use seqrnn::{Init, LanguageModel, LmConfig, OptimizerConfig, Sampling, TrainConfig, Trainer};
///
/// let corpus: Vec<usize> = (0..400).map(|i| i % 5).collect(); // 0 1 2 3 4 0 1 ...
/// let mut lm = LanguageModel::<f32>::new(LmConfig::new(5, 16), Init::Uniform, 0)?;
/// let mut trainer = Trainer::new(TrainConfig {
///     batch_size: 4, num_steps: 10, sampling: Sampling::Sequential, clip: Some(1.0),
///     optimizer: OptimizerConfig::adam(0.05), seed: 0,
/// })?;
/// let mut perplexity = f64::INFINITY;
/// while trainer.epochs() < 20 {
///     let stats = trainer.run(&mut lm, &corpus, usize::MAX)?; // the rest of one epoch
///     perplexity = (stats.loss_sum / stats.tokens as f64).exp();
/// }
/// assert!(perplexity < 1.5, "{perplexity}"); // the cycle is learned
/// # Ok::<(), seqrnn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Trainer<T> {
    pub(crate) config: TrainConfig,
    pub(crate) optimizer: Optimizer<T>,
    pub(crate) plan: Vec<Vec<usize>>, // start offsets of every row of every minibatch of this epoch
    pub(crate) next: usize,           // index of the next minibatch in `plan`
    pub(crate) state: Option<Array3<T>>, // (num_layers, batch, hidden), carried for sequential sampling
    pub(crate) epochs: u64,
}

impl<T: Float> Trainer<T> {
    /// A trainer at the start of its first epoch.
    pub fn new(config: TrainConfig) -> Result<Self> {
        crate::error::check_positive("batch_size", config.batch_size)?;
        crate::error::check_positive("num_steps", config.num_steps)?;
        if let Some(c) = config.clip {
            crate::error::check_positive_finite("clip", c)?;
        }
        let optimizer = Optimizer::new(config.optimizer.clone())?;
        Ok(Trainer {
            config,
            optimizer,
            plan: Vec::new(),
            next: 0,
            state: None,
            epochs: 0,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The optimizer (for its state and step count).
    pub fn optimizer(&self) -> &Optimizer<T> {
        &self.optimizer
    }

    /// Mutable optimizer access (learning-rate schedules, restoring state).
    pub fn optimizer_mut(&mut self) -> &mut Optimizer<T> {
        &mut self.optimizer
    }

    /// Completed epochs.
    pub fn epochs(&self) -> u64 {
        self.epochs
    }

    /// Minibatches in the current epoch, and how many of them are done.
    pub fn progress(&self) -> (usize, usize) {
        (self.next, self.plan.len())
    }

    /// The minibatches of the current epoch. Each epoch's order depends only on (seed, epoch),
    /// so a resumed run replays it.
    pub(crate) fn epoch_plan(&self, corpus_len: usize) -> Result<Vec<Vec<usize>>> {
        let c = &self.config;
        let mut rng = crate::init::rng(crate::init::mix(c.seed, self.epochs));
        epoch_batches(corpus_len, c.batch_size, c.num_steps, c.sampling, &mut rng)
    }

    /// Trains on up to `max_batches` minibatches of `corpus`, stopping at the end of the epoch.
    ///
    /// A non-finite loss, gradient or updated parameter returns [`Error::NonFinite`] naming
    /// the epoch and minibatch, before anything changes, so the model keeps its last finite
    /// parameters and the trainer can go on (from the same minibatch) after a fix.
    pub fn run(
        &mut self,
        model: &mut LanguageModel<T>,
        corpus: &[usize],
        max_batches: usize,
    ) -> Result<RunStats> {
        if self.next >= self.plan.len() {
            self.plan = self.epoch_plan(corpus.len())?;
            self.next = 0;
            self.state = None;
        }
        let c = &self.config;
        let mut stats = RunStats::default();
        while stats.batches < max_batches && self.next < self.plan.len() {
            let starts = &self.plan[self.next];
            let (x, y) = gather(corpus, starts, c.num_steps)?; // (steps, rows) each
            let carried = self
                .state
                .as_ref()
                .filter(|s| c.sampling.carries_state() && s.dim().1 == starts.len());
            let step_no = self.optimizer.steps() + 1;
            let mut rng = dropout_rng(c.seed, step_no);
            let mut step = model.loss_and_grads_train(
                x.view(),
                y.view(),
                None,
                carried.map(|s| s.view()),
                Some(&mut rng),
            )?;
            let at = At {
                epoch: self.epochs + 1,
                batch: self.next + 1,
                step: step_no,
            };
            update(
                &mut self.optimizer,
                c.clip,
                model,
                step.loss,
                &mut step.grads,
                at,
            )?;
            self.state = c.sampling.carries_state().then_some(step.state);
            stats.add(step.loss, x.len());
            self.next += 1;
        }
        if self.next >= self.plan.len() {
            stats.epoch_done = true;
            self.epochs += 1;
        }
        Ok(stats)
    }
}

/// Training state of a [`crate::Seq2Seq`]: optimizer and shuffled minibatches of sentence pairs.
#[derive(Clone, Debug)]
pub struct Seq2SeqTrainer<T> {
    pub(crate) batch_size: usize,
    pub(crate) clip: Option<f64>,
    pub(crate) seed: u64,
    pub(crate) optimizer: Optimizer<T>,
    pub(crate) order: Vec<usize>, // this epoch's shuffled pair indices
    pub(crate) next: usize,       // first pair of the next minibatch in `order`
    pub(crate) epochs: u64,
}

impl<T: Float> Seq2SeqTrainer<T> {
    /// A trainer at the start of its first epoch.
    pub fn new(
        batch_size: usize,
        clip: Option<f64>,
        optimizer: OptimizerConfig,
        seed: u64,
    ) -> Result<Self> {
        crate::error::check_positive("batch_size", batch_size)?;
        if let Some(c) = clip {
            crate::error::check_positive_finite("clip", c)?;
        }
        let optimizer = Optimizer::new(optimizer)?;
        Ok(Seq2SeqTrainer {
            batch_size,
            clip,
            seed,
            optimizer,
            order: Vec::new(),
            next: 0,
            epochs: 0,
        })
    }

    /// Mutable optimizer access (learning-rate schedules, restoring state).
    pub fn optimizer_mut(&mut self) -> &mut Optimizer<T> {
        &mut self.optimizer
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &Optimizer<T> {
        &self.optimizer
    }

    /// Completed epochs.
    pub fn epochs(&self) -> u64 {
        self.epochs
    }

    /// The shuffled pair indices of the current epoch, a function of (seed, epoch) only.
    pub(crate) fn epoch_order(&self, pairs: usize) -> Vec<usize> {
        use rand::seq::SliceRandom;
        let mut order: Vec<usize> = (0..pairs).collect();
        order.shuffle(&mut crate::init::rng(crate::init::mix(
            self.seed,
            self.epochs,
        )));
        order
    }

    /// Trains on up to `max_batches` minibatches of `data`, stopping at the end of the epoch
    /// (the last minibatch may be smaller). Same contract as [`Trainer::run`].
    pub fn run(
        &mut self,
        model: &mut crate::Seq2Seq<T>,
        data: &PairSet,
        max_batches: usize,
    ) -> Result<RunStats> {
        data.validate()?;
        if self.next >= self.order.len() {
            self.order = self.epoch_order(data.len());
            self.next = 0;
        }
        let mut stats = RunStats::default();
        while stats.batches < max_batches && self.next < self.order.len() {
            let end = (self.next + self.batch_size).min(self.order.len());
            let (src, src_len, tgt_in, tgt_out, tgt_len) = data.gather(&self.order[self.next..end]);
            let batch = crate::seq2seq::Batch {
                src: src.view(),
                src_len: &src_len,
                tgt_in: tgt_in.view(),
                tgt_out: tgt_out.view(),
                tgt_len: &tgt_len,
            };
            let step_no = self.optimizer.steps() + 1;
            let mut rng = dropout_rng(self.seed, step_no);
            let mut step = model.loss_and_grads_train(&batch, Some(&mut rng))?;
            let at = At {
                epoch: self.epochs + 1,
                batch: self.next / self.batch_size + 1,
                step: step_no,
            };
            update(
                &mut self.optimizer,
                self.clip,
                model,
                step.loss,
                &mut step.grads,
                at,
            )?;
            stats.add(step.loss, step.tokens);
            self.next = end;
        }
        if self.next >= self.order.len() {
            stats.epoch_done = true;
            self.epochs += 1;
        }
        Ok(stats)
    }
}
