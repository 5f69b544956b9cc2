//! The training loop of every model: minibatches, clipping, optimizer steps, learning-rate
//! schedules, epochs, validation bookkeeping.
//!
//! A [`Trainer`] is generic over its [`Task`]: [`LmTask`] (next-token prediction on a token
//! corpus, truncated BPTT, d2l's `train_ch8`) or [`PairTask`] (teacher-forced translation of
//! sentence pairs, d2l's `train_seq2seq`). It owns the task's data, the optimizer, the schedule,
//! the position in the epoch, the hidden state carried between minibatches and the history of
//! finished epochs, but not the model, so a caller can run a few minibatches, look at the
//! model, save it, and go on. [`crate::resume`] writes all of it to one checkpoint file.

use crate::data::{epoch_batches, gather, Sampling};
use crate::optim::{clip_grad_norm, clip_grad_value, Optimizer, OptimizerConfig};
use crate::pairs::PairSet;
use crate::resume::{FitRecord, Metric};
use crate::schedule::{PlateauState, Schedule};
use crate::{Error, Float, LanguageModel, Parameters, Result, Seq2Seq};
use ndarray::{Array3, ArrayView3};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// The dropout stream of optimizer step `step`: a function of the seed and the step only, so a
/// resumed run draws the same masks.
fn dropout_rng(seed: u64, step: u64) -> StdRng {
    crate::init::rng(crate::init::mix(seed ^ 0x5EED_D80F, step))
}

/// The loss and gradients of one minibatch, as a [`Task`] computes them.
#[derive(Clone, Debug)]
pub struct TaskStep<T, M> {
    /// Mean cross-entropy over the minibatch's target tokens.
    pub loss: T,
    /// Gradient of every parameter.
    pub grads: M,
    /// Target tokens predicted.
    pub tokens: usize,
    /// The final hidden state `(num_layers, rows, hidden)` to carry into the next minibatch.
    pub state: Option<Array3<T>>,
}

/// The task-specific settings a checkpoint records (and a resumed run must match).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskSettings {
    /// Next-token prediction with minibatches of `num_steps` time steps drawn by `sampling`.
    LanguageModel {
        /// Time steps per minibatch.
        num_steps: usize,
        /// `"random"`, `"sequential"` or `"windows"`.
        sampling: String,
    },
    /// Teacher-forced translation of shuffled sentence pairs.
    Translation,
    /// Teacher-forced translation of sentence pairs in minibatches of similar lengths, sorted
    /// within pools of `pool_batches` minibatches ([`crate::pairs::bucketed_batches`]).
    BucketedTranslation {
        /// Minibatches' worth of pairs sorted together.
        pool_batches: usize,
    },
}

/// What a [`Trainer`] trains on: the data, how an epoch is cut into minibatches and the loss of
/// one of them.
pub trait Task<T: Float> {
    /// The model trained.
    type Model: Parameters<T> + Clone;
    /// The model's `seqrnn.kind`.
    const MODEL_KIND: &'static str;
    /// Items of data (tokens or pairs).
    fn data_len(&self) -> usize;
    /// A fingerprint of the data, recorded in checkpoints.
    fn fingerprint(&self) -> String;
    /// The settings recorded in checkpoints.
    fn settings(&self) -> TaskSettings;
    /// The minibatches of one epoch, each a list of rows (corpus offsets or pair indices).
    fn plan(&self, batch_size: usize, rng: &mut StdRng) -> Result<Vec<Vec<usize>>>;
    /// Whether minibatch `i + 1` continues minibatch `i`, so the hidden state is carried.
    fn carries_state(&self) -> bool;
    /// The loss and gradients of `model` on the minibatch `rows`, starting from `carried`.
    fn step(
        &self,
        model: &Self::Model,
        rows: &[usize],
        carried: Option<ArrayView3<'_, T>>,
        rng: &mut StdRng,
    ) -> Result<TaskStep<T, Self::Model>>;
    /// The shape of the state carried after a minibatch of `rows` rows.
    fn state_shape(&self, model: &Self::Model, rows: usize) -> [usize; 3];
}

/// Next-token prediction on a token-id corpus with truncated BPTT.
#[derive(Clone, Debug, PartialEq)]
pub struct LmTask {
    corpus: Vec<usize>,
    num_steps: usize,
    sampling: Sampling,
}

impl LmTask {
    /// The task of predicting each token of `corpus` from those before it, `num_steps` at a
    /// time.
    pub fn new(corpus: Vec<usize>, num_steps: usize, sampling: Sampling) -> Result<Self> {
        crate::error::check_positive("num_steps", num_steps)?;
        Ok(LmTask {
            corpus,
            num_steps,
            sampling,
        })
    }

    /// The corpus.
    pub fn corpus(&self) -> &[usize] {
        &self.corpus
    }
}

impl<T: Float> Task<T> for LmTask {
    type Model = LanguageModel<T>;
    const MODEL_KIND: &'static str = crate::lm::CHECKPOINT_KIND;

    fn data_len(&self) -> usize {
        self.corpus.len()
    }

    fn fingerprint(&self) -> String {
        fingerprint(self.corpus.iter().copied())
    }

    fn settings(&self) -> TaskSettings {
        TaskSettings::LanguageModel {
            num_steps: self.num_steps,
            sampling: self.sampling.name().into(),
        }
    }

    fn plan(&self, batch_size: usize, rng: &mut StdRng) -> Result<Vec<Vec<usize>>> {
        epoch_batches(
            self.corpus.len(),
            batch_size,
            self.num_steps,
            self.sampling,
            rng,
        )
    }

    fn carries_state(&self) -> bool {
        self.sampling.carries_state()
    }

    fn step(
        &self,
        model: &LanguageModel<T>,
        rows: &[usize],
        carried: Option<ArrayView3<'_, T>>,
        rng: &mut StdRng,
    ) -> Result<TaskStep<T, LanguageModel<T>>> {
        let (x, y) = gather(&self.corpus, rows, self.num_steps)?; // (steps, rows) each
        let step = model.loss_and_grads_train(x.view(), y.view(), None, carried, Some(rng))?;
        Ok(TaskStep {
            loss: step.loss,
            grads: step.grads,
            tokens: x.len(),
            state: Some(step.state),
        })
    }

    fn state_shape(&self, model: &LanguageModel<T>, rows: usize) -> [usize; 3] {
        let c = model.config();
        [c.num_layers, rows, c.hidden_size]
    }
}

/// Teacher-forced translation of sentence pairs, reshuffled every epoch (the last minibatch may
/// be smaller), optionally in minibatches of similar lengths.
///
/// Each minibatch is cut to its longest valid source and target
/// ([`PairSet::gather_trimmed`]), which gives the loss and gradients of the padded minibatch,
/// except for a model with dropout between layers trained without bucketing: its dropout
/// masks are drawn for every padded step, as they always were, so its results stay those of
/// earlier versions.
#[derive(Clone, Debug)]
pub struct PairTask {
    data: PairSet,
    pool_batches: Option<usize>,
}

impl PairTask {
    /// The task of translating the pairs of `data`, in shuffled minibatches.
    pub fn new(data: PairSet) -> Result<Self> {
        data.validate()?;
        Ok(PairTask {
            data,
            pool_batches: None,
        })
    }

    /// The task with length bucketing: each epoch's minibatches hold pairs of similar lengths,
    /// sorted within pools of `pool_batches` minibatches ([`crate::pairs::POOL_BATCHES`] is
    /// torchtext's choice); `None` turns it off.
    pub fn with_bucketing(mut self, pool_batches: Option<usize>) -> Result<Self> {
        if let Some(p) = pool_batches {
            crate::error::check_positive("pool_batches", p)?;
        }
        self.pool_batches = pool_batches;
        Ok(self)
    }

    /// The pairs.
    pub fn data(&self) -> &PairSet {
        &self.data
    }

    /// The pool size of length bucketing, in minibatches (`None`: no bucketing).
    pub fn bucketing(&self) -> Option<usize> {
        self.pool_batches
    }
}

impl<T: Float> Task<T> for PairTask {
    type Model = Seq2Seq<T>;
    const MODEL_KIND: &'static str = crate::seq2seq::CHECKPOINT_KIND;

    fn data_len(&self) -> usize {
        self.data.len()
    }

    fn fingerprint(&self) -> String {
        let d = &self.data;
        let shape = [d.src.ncols(), d.tgt_in.ncols()];
        fingerprint(
            shape
                .into_iter()
                .chain(d.src.iter().copied())
                .chain(d.src_len.iter().copied())
                .chain(d.tgt_in.iter().copied())
                .chain(d.tgt_out.iter().copied())
                .chain(d.tgt_len.iter().copied()),
        )
    }

    fn settings(&self) -> TaskSettings {
        match self.pool_batches {
            None => TaskSettings::Translation,
            Some(pool_batches) => TaskSettings::BucketedTranslation { pool_batches },
        }
    }

    fn plan(&self, batch_size: usize, rng: &mut StdRng) -> Result<Vec<Vec<usize>>> {
        use rand::seq::SliceRandom;
        crate::error::check_positive("batch_size", batch_size)?;
        if let Some(pool_batches) = self.pool_batches {
            return crate::pairs::bucketed_batches(&self.data, batch_size, pool_batches, rng);
        }
        let mut order: Vec<usize> = (0..self.data.len()).collect();
        order.shuffle(rng);
        Ok(order.chunks(batch_size).map(<[usize]>::to_vec).collect())
    }

    fn carries_state(&self) -> bool {
        false
    }

    fn step(
        &self,
        model: &Seq2Seq<T>,
        rows: &[usize],
        _carried: Option<ArrayView3<'_, T>>,
        rng: &mut StdRng,
    ) -> Result<TaskStep<T, Seq2Seq<T>>> {
        let c = model.config();
        let full_masks = c.dropout > 0.0 && c.num_layers > 1 && self.pool_batches.is_none();
        let (src, src_len, tgt_in, tgt_out, tgt_len) = if full_masks {
            self.data.gather(rows) // (steps, rows) each
        } else {
            self.data.gather_trimmed(rows) // (longest, rows) each
        };
        let batch = crate::seq2seq::Batch {
            src: src.view(),
            src_len: &src_len,
            tgt_in: tgt_in.view(),
            tgt_out: tgt_out.view(),
            tgt_len: &tgt_len,
        };
        let step = model.loss_and_grads_train(&batch, Some(rng))?;
        Ok(TaskStep {
            loss: step.loss,
            grads: step.grads,
            tokens: step.tokens,
            state: None,
        })
    }

    fn state_shape(&self, _model: &Seq2Seq<T>, _rows: usize) -> [usize; 3] {
        [0, 0, 0]
    }
}

/// FNV-1a over a sequence of integers: a fingerprint that tells training sets apart.
pub(crate) fn fingerprint(values: impl IntoIterator<Item = usize>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in (v as u64).to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// How a [`Trainer`] trains: minibatch size, clipping, optimizer, schedule, seed.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Rows per minibatch.
    pub batch_size: usize,
    /// Global-norm clipping threshold (`None`: no clipping by norm).
    pub clip: Option<f64>,
    /// Clipping of every gradient element to `[-v, v]`, before the norm clipping (`None`: none).
    pub clip_value: Option<f64>,
    /// Optimizer and its hyper-parameters (its `lr` is the schedule's base rate).
    pub optimizer: OptimizerConfig,
    /// The learning-rate schedule.
    pub schedule: Schedule,
    /// Seed of the minibatch order and the dropout masks.
    pub seed: u64,
    /// Keep a copy of the parameters of the epoch with the lowest validation perplexity
    /// ([`Trainer::best`]).
    pub keep_best: bool,
    /// Stop (see [`EpochEnd::stop`]) after this many epochs without a better validation
    /// perplexity.
    pub early_stopping: Option<u64>,
}

impl TrainConfig {
    /// `batch_size` rows per minibatch with `optimizer`, clipping by global norm 1, a constant
    /// rate, seed 0, nothing kept.
    pub fn new(batch_size: usize, optimizer: OptimizerConfig) -> Self {
        TrainConfig {
            batch_size,
            clip: Some(1.0),
            clip_value: None,
            optimizer,
            schedule: Schedule::Constant,
            seed: 0,
            keep_best: false,
            early_stopping: None,
        }
    }

    fn validate(&self) -> Result<()> {
        crate::error::check_positive("batch_size", self.batch_size)?;
        for (what, c) in [("clip", self.clip), ("clip_value", self.clip_value)] {
            if let Some(c) = c {
                crate::error::check_positive_finite(what, c)?;
            }
        }
        if self.early_stopping == Some(0) {
            return Err(Error::invalid("early_stopping", "at least 1 epoch", 0));
        }
        self.optimizer.validate()?;
        self.schedule.validate()
    }
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

/// What [`Trainer::end_epoch`] decided.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EpochEnd {
    /// The validation perplexity is the best so far.
    pub improved: bool,
    /// The schedule lowered the learning rate (and, with `restore_best`, went back to the best
    /// parameters).
    pub lr_reduced: bool,
    /// `early_stopping` epochs have passed without improvement: training should stop.
    pub stop: bool,
}

/// Where in training an update happens, for error messages: (epoch, minibatch, step), 1-based.
#[derive(Clone, Copy, Debug)]
struct At {
    epoch: u64,
    batch: usize,
    step: u64,
}

/// Training state across minibatches and epochs.
///
/// ```
/// use seqrnn::{Init, LanguageModel, LmConfig, LmTask, OptimizerConfig, Sampling, TrainConfig, Trainer};
///
/// let corpus: Vec<usize> = (0..400).map(|i| i % 5).collect(); // 0 1 2 3 4 0 1 ...
/// let mut lm = LanguageModel::<f32>::new(LmConfig::new(5, 16), Init::Uniform, 0)?;
/// let task = LmTask::new(corpus, 10, Sampling::Sequential)?;
/// let mut trainer = Trainer::new(task, TrainConfig::new(4, OptimizerConfig::adam(0.05)))?;
/// while trainer.epochs() < 20 {
///     trainer.run(&mut lm, usize::MAX)?; // the rest of one epoch
/// }
/// let perplexity = trainer.record().history.train_perplexity[19].0;
/// assert!(perplexity < 1.5, "{perplexity}"); // the cycle is learned
/// # Ok::<(), seqrnn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Trainer<T: Float, K: Task<T>> {
    pub(crate) task: K,
    pub(crate) config: TrainConfig,
    pub(crate) optimizer: Optimizer<T>,
    pub(crate) plateau: PlateauState,
    pub(crate) plan: Vec<Vec<usize>>, // rows of every minibatch of this epoch
    pub(crate) next: usize,           // index of the next minibatch in `plan`
    pub(crate) state: Option<Array3<T>>, // (num_layers, rows, hidden), carried between minibatches
    pub(crate) epochs: u64,
    pub(crate) steps: u64,
    pub(crate) record: FitRecord,
    pub(crate) best: Option<K::Model>,
}

/// A trainer of a [`LanguageModel`].
pub type LmTrainer<T> = Trainer<T, LmTask>;
/// A trainer of a [`Seq2Seq`].
pub type Seq2SeqTrainer<T> = Trainer<T, PairTask>;

impl<T: Float, K: Task<T>> Trainer<T, K> {
    /// A trainer of `task` at the start of its first epoch.
    pub fn new(task: K, config: TrainConfig) -> Result<Self> {
        config.validate()?;
        let optimizer = Optimizer::new(config.optimizer.clone())?;
        Ok(Trainer {
            task,
            config,
            optimizer,
            plateau: PlateauState::default(),
            plan: Vec::new(),
            next: 0,
            state: None,
            epochs: 0,
            steps: 0,
            record: FitRecord::default(),
            best: None,
        })
    }

    /// Goes on with `optimizer`'s state (its moments and step count, e.g. from an earlier
    /// trainer of the same model) under this trainer's hyper-parameters; a different kind of
    /// optimizer starts afresh.
    pub fn continue_optimizer(&mut self, optimizer: &Optimizer<T>) -> Result<()> {
        self.optimizer = optimizer.reconfigured(self.config.optimizer.clone())?;
        Ok(())
    }

    /// The configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The task (and its data).
    pub fn task(&self) -> &K {
        &self.task
    }

    /// The optimizer (for its state and step count).
    pub fn optimizer(&self) -> &Optimizer<T> {
        &self.optimizer
    }

    /// Completed epochs.
    pub fn epochs(&self) -> u64 {
        self.epochs
    }

    /// Optimizer steps taken by this trainer.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Minibatches in the current epoch, and how many of them are done.
    pub fn progress(&self) -> (usize, usize) {
        (self.next, self.plan.len())
    }

    /// The history of the finished epochs and the sums of the one in progress.
    pub fn record(&self) -> &FitRecord {
        &self.record
    }

    /// The parameters of the best epoch so far, when kept (`keep_best`, or a plateau schedule
    /// with `restore_best`).
    pub fn best(&self) -> Option<&K::Model> {
        self.best.as_ref()
    }

    /// The learning rate of the next optimizer step.
    pub fn lr(&self) -> f64 {
        let batches = self.plan.len().max(1);
        let done = if self.next < self.plan.len() {
            self.next
        } else {
            0
        }; // 0: a new epoch
        let position = self.epochs as f64 + done as f64 / batches as f64;
        self.rate_at(position, batches)
    }

    fn rate_at(&self, position: f64, batches: usize) -> f64 {
        let base = self.config.optimizer.lr();
        self.config
            .schedule
            .lr(base, position, batches, &self.plateau)
    }

    /// The minibatches of the current epoch. Each epoch's order depends only on (seed, epoch),
    /// so a resumed run replays it.
    pub(crate) fn epoch_plan(&self) -> Result<Vec<Vec<usize>>> {
        let mut rng = crate::init::rng(crate::init::mix(self.config.seed, self.epochs));
        self.task.plan(self.config.batch_size, &mut rng)
    }

    /// Trains on up to `max_batches` minibatches, stopping at the end of the epoch, which then
    /// goes into the history (training perplexity, speed, time, learning rate).
    ///
    /// A non-finite loss, gradient or updated parameter returns [`Error::NonFinite`] naming
    /// the epoch and minibatch, before anything changes, so the model keeps its last finite
    /// parameters and the trainer can go on (from the same minibatch) after a fix.
    pub fn run(&mut self, model: &mut K::Model, max_batches: usize) -> Result<RunStats> {
        let started = std::time::Instant::now();
        if self.next >= self.plan.len() {
            self.plan = self.epoch_plan()?;
            self.next = 0;
            self.state = None;
        }
        let mut stats = RunStats::default();
        let result = self.run_batches(model, max_batches, &mut stats);
        let p = &mut self.record.partial;
        p.0 += stats.tokens as u64;
        p.1 .0 += stats.loss_sum;
        p.2 .0 += started.elapsed().as_secs_f64();
        result?;
        if self.next >= self.plan.len() {
            stats.epoch_done = true;
            self.close_epoch();
        }
        Ok(stats)
    }

    fn run_batches(
        &mut self,
        model: &mut K::Model,
        max_batches: usize,
        stats: &mut RunStats,
    ) -> Result<()> {
        while stats.batches < max_batches && self.next < self.plan.len() {
            let rows = &self.plan[self.next];
            let carried = self
                .state
                .as_ref()
                .filter(|s| self.task.carries_state() && s.dim().1 == rows.len());
            let step_no = self.steps + 1;
            let mut rng = dropout_rng(self.config.seed, step_no);
            let mut step = self
                .task
                .step(model, rows, carried.map(|s| s.view()), &mut rng)?;
            let lr = self.lr();
            let at = At {
                epoch: self.epochs + 1,
                batch: self.next + 1,
                step: step_no,
            };
            self.update(model, step.loss, &mut step.grads, lr, at)?;
            self.steps = step_no;
            self.state = step.state.filter(|_| self.task.carries_state());
            stats.batches += 1;
            stats.tokens += step.tokens;
            stats.loss_sum += step.loss.to_f64_lossless() * step.tokens as f64;
            self.next += 1;
        }
        Ok(())
    }

    /// One optimizer update at rate `lr` after checking that the loss and the gradients are
    /// finite and clipping them. Any non-finite value, including in the updated parameters,
    /// returns [`Error::NonFinite`] with the model and optimizer as they were before the step.
    fn update(
        &mut self,
        model: &mut K::Model,
        loss: T,
        grads: &mut K::Model,
        lr: f64,
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
        if let Some(v) = self.config.clip_value {
            clip_grad_value(grads, v)?;
        }
        if let Some(max_norm) = self.config.clip {
            clip_grad_norm(grads, max_norm)?;
        }
        self.optimizer.set_lr(lr)?;
        self.optimizer.step(model, grads).map_err(|e| match e {
            Error::NonFinite { what, .. } => non_finite(&what),
            other => other,
        })
    }

    /// Moves the finished epoch's sums into the history.
    fn close_epoch(&mut self) {
        let (tokens, loss_sum, seconds) = std::mem::take(&mut self.record.partial);
        let loss = loss_sum.0 / (tokens.max(1) as f64);
        let h = &mut self.record.history;
        h.train_perplexity.push(Metric(loss.exp()));
        h.tokens_per_second
            .push(Metric(tokens as f64 / seconds.0.max(1e-9)));
        h.seconds.push(seconds);
        let lr = self.rate_at(self.epochs as f64, self.plan.len());
        self.record.history.lr.push(Metric(lr));
        self.epochs += 1;
    }

    /// Ends the epoch [`Trainer::run`] just finished with its validation perplexity (`None`
    /// without validation data; give it for every epoch or for none): records it, keeps the
    /// best parameters, lets the schedule lower the rate (going back to the best parameters
    /// in `model` with fresh optimizer moments if it restores them) and says whether early
    /// stopping has come.
    pub fn end_epoch(&mut self, model: &mut K::Model, valid: Option<f64>) -> Result<EpochEnd> {
        let h = &self.record.history;
        let finished = h.train_perplexity.len();
        if self.next < self.plan.len() || finished == 0 {
            return Err(Error::invalid(
                "end_epoch",
                "a call after run() has finished an epoch",
                "a call inside an epoch",
            ));
        }
        let validated = h.valid_perplexity.len();
        let expected = if valid.is_some() { finished - 1 } else { 0 };
        if validated != expected {
            return Err(Error::invalid(
                "valid",
                format!("a validation perplexity for every epoch or for none ({validated} of {} finished epochs had one)", finished - 1),
                valid.map_or("none".to_string(), |v| v.to_string()),
            ));
        }
        let Some(metric) = valid else {
            return Ok(EpochEnd::default());
        };
        let h = &mut self.record.history;
        h.valid_perplexity.push(Metric(metric));
        let improved = h.best_valid_perplexity.is_none_or(|b| metric < b.0);
        if improved {
            (h.best_epoch, h.best_valid_perplexity) =
                (Some(finished as u64 - 1), Some(Metric(metric)));
        }
        let restores = matches!(
            self.config.schedule,
            Schedule::Plateau {
                restore_best: true,
                ..
            }
        );
        if improved && (self.config.keep_best || restores) {
            self.best = Some(model.clone());
        }
        let base = self.config.optimizer.lr();
        let decision = self
            .config
            .schedule
            .end_epoch(base, Some(metric), &mut self.plateau);
        if decision.restore_best {
            if let Some(best) = &self.best {
                *model = best.clone();
            }
            self.optimizer = Optimizer::new(self.config.optimizer.clone())?;
        }
        let since_best = (finished as u64 - 1).saturating_sub(h.best_epoch.unwrap_or(0));
        Ok(EpochEnd {
            improved,
            lr_reduced: decision.reduced,
            stop: self.config.early_stopping.is_some_and(|p| since_best >= p),
        })
    }
}
