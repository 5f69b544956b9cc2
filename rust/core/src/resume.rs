//! Resumable training: the model, the optimizer's state and the whole state of a [`Trainer`]
//! in one safetensors file.
//!
//! Tensors: the model's under their state-dict names, the optimizer's as
//! `optimizer.<slot>.<param>` (`optimizer.exp_avg.rnn.weight_hh_l0`, ...), the hidden state
//! carried between sequential minibatches as `trainer.state` `(num_layers, batch, hidden)` and
//! the best epoch's parameters (when kept) as `best.<param>`. Metadata: the trainer's progress
//! (`seqrnn.progress`: format, task settings, epoch, minibatch, steps, seed, optimizer,
//! schedule and its state, clipping, a fingerprint of the data) and the history of the
//! finished epochs with the sums of the current one (`seqrnn.fit`, a [`FitRecord`]), as JSON.
//!
//! Each epoch's minibatch order depends only on (seed, epoch) and each step's dropout masks on
//! (seed, step), so a run resumed from a checkpoint, at an epoch boundary or inside an epoch,
//! reaches the same parameters bit for bit as one that was never interrupted.
//!
//! Files of the first format (seqrnn 0.x before schedules: no `format` entry, the task's
//! settings among the others, a seq2seq position counted in pairs, the best parameters as
//! `extra.best.<param>`) are read and converted; anything else is refused with a message.

use crate::checkpoint::{self, KIND};
use crate::optim::OptimizerConfig;
use crate::schedule::{PlateauState, Schedule};
use crate::train::{Task, TaskSettings};
use crate::{Error, Float, Optimizer, Parameters, Result, Trainer};
use ndarray::{ArrayD, ArrayViewD, Ix3};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The `seqrnn.kind` of a training checkpoint.
pub const CHECKPOINT_KIND: &str = "TrainingCheckpoint";
/// Metadata key holding the training progress as JSON.
pub const PROGRESS: &str = "seqrnn.progress";
/// Metadata key holding a [`FitRecord`] as JSON.
pub const FIT_RECORD: &str = "seqrnn.fit";
/// Prefix of the tensors holding the best epoch's parameters: `best.<parameter name>`.
pub const BEST: &str = "best.";
/// The checkpoint format this version writes.
pub const FORMAT: u32 = 2;
const OPTIMIZER: &str = "optimizer.";
const CARRIED: &str = "trainer.state";
const FORMAT1_BEST: &str = "extra.best.";
/// The largest step or epoch count a checkpoint may record (2^53: exact as a float in every
/// language that reads it, and never near wrapping).
pub const MAX_COUNT: u64 = 1 << 53;

/// Where a training run stands, and what it must be resumed with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Progress {
    format: u32,
    model: String,
    task: TaskSettings,
    optimizer: OptimizerConfig,
    optimizer_steps: u64,
    steps: u64,
    epochs: u64,
    next: usize,
    seed: u64,
    batch_size: usize,
    clip: Option<f64>,
    clip_value: Option<f64>,
    schedule: Schedule,
    plateau: PlateauState,
    data_len: usize,
    data_hash: String,
}

/// The progress record of the first format.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProgressV1 {
    model: String,
    optimizer: OptimizerConfig,
    steps: u64,
    epochs: u64,
    next: usize,
    seed: u64,
    batch_size: usize,
    num_steps: usize,
    sampling: String,
    clip: Option<f64>,
    data_len: usize,
    data_hash: String,
}

impl ProgressV1 {
    fn upgrade(self) -> Result<Progress> {
        let seq2seq = self.model == crate::seq2seq::CHECKPOINT_KIND;
        let (task, next) = if seq2seq {
            // The first format counted the position in pairs, always a whole number of batches.
            if self.batch_size == 0 || !self.next.is_multiple_of(self.batch_size) {
                return Err(bad(format!(
                    "pair {} does not start a minibatch of {}",
                    self.next, self.batch_size
                )));
            }
            (TaskSettings::Translation, self.next / self.batch_size)
        } else {
            let task = TaskSettings::LanguageModel {
                num_steps: self.num_steps,
                sampling: self.sampling,
            };
            (task, self.next)
        };
        Ok(Progress {
            format: FORMAT,
            model: self.model,
            task,
            optimizer: self.optimizer,
            optimizer_steps: self.steps,
            steps: self.steps,
            epochs: self.epochs,
            next,
            seed: self.seed,
            batch_size: self.batch_size,
            clip: self.clip,
            clip_value: None,
            schedule: Schedule::Constant,
            plateau: PlateauState::default(),
            data_len: self.data_len,
            data_hash: self.data_hash,
        })
    }
}

impl Progress {
    fn parse(json: &str) -> Result<Self> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| bad(format!("bad training progress: {e}")))?;
        let progress = match value.get("format") {
            None => serde_json::from_value::<ProgressV1>(value)
                .map_err(|e| bad(format!("bad training progress (format 1): {e}")))?
                .upgrade()?,
            Some(f) if f.as_u64() == Some(u64::from(FORMAT)) => serde_json::from_value(value)
                .map_err(|e| bad(format!("bad training progress: {e}")))?,
            Some(f) => {
                return Err(bad(format!(
                    "training checkpoint format {f} is not one this version reads (1 or \
                     {FORMAT}); it was written by a newer seqrnn"
                )))
            }
        };
        for (what, count) in [
            ("steps", progress.steps),
            ("optimizer_steps", progress.optimizer_steps),
            ("epochs", progress.epochs),
        ] {
            if count > MAX_COUNT {
                return Err(bad(format!(
                    "training progress: {what} must be at most 2**53, got {count}"
                )));
            }
        }
        progress
            .schedule
            .validate()
            .map_err(|e| bad(e.to_string()))?;
        let p = &progress.plateau;
        let finite = |x: Option<f64>| x.is_none_or(|v| v.is_finite() && v >= 0.0);
        if !finite(p.lr) || !finite(p.best) {
            return Err(bad(format!("training progress: bad plateau state {p:?}")));
        }
        Ok(progress)
    }

    /// Fails unless `self` (read from a file) can continue a run configured as `mine`; the
    /// learning rate is the checkpoint's, and so is the seed unless `seed_given`.
    fn check_compatible(&self, mine: &Progress, seed_given: bool) -> Result<()> {
        let mismatch = |what: &str, file: String, call: String| {
            Err(bad(format!(
                "{what} is {file} in the checkpoint but {call} in this fit; resume with the \
                 settings the run was started with"
            )))
        };
        if self.model != mine.model {
            return Err(bad(format!(
                "the checkpoint trains a {}, not a {}",
                self.model, mine.model
            )));
        }
        if (self.data_len, &self.data_hash) != (mine.data_len, &mine.data_hash) {
            return Err(bad(format!(
                "the checkpoint was made on other training data ({} items, fingerprint {}); \
                 this fit has {} items, fingerprint {}",
                self.data_len, self.data_hash, mine.data_len, mine.data_hash
            )));
        }
        let mut ours = mine.optimizer.clone();
        ours.set_lr(self.optimizer.lr());
        let debug = |x: &dyn std::fmt::Debug| format!("{x:?}");
        let checks = [
            ("the optimizer", debug(&self.optimizer), debug(&ours)),
            ("the task", debug(&self.task), debug(&mine.task)),
            (
                "batch_size",
                debug(&self.batch_size),
                debug(&mine.batch_size),
            ),
            ("clip", debug(&self.clip), debug(&mine.clip)),
            (
                "clip_value",
                debug(&self.clip_value),
                debug(&mine.clip_value),
            ),
            ("the schedule", debug(&self.schedule), debug(&mine.schedule)),
        ];
        for (what, file, call) in checks {
            if file != call {
                return mismatch(what, file, call);
            }
        }
        if seed_given && self.seed != mine.seed {
            return mismatch("seed", self.seed.to_string(), mine.seed.to_string());
        }
        Ok(())
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Checkpoint(msg.into())
}

fn views<T>(tensors: &[(String, ArrayD<T>)]) -> Vec<(String, ArrayViewD<'_, T>)> {
    tensors.iter().map(|(n, a)| (n.clone(), a.view())).collect()
}

/// A checkpoint's parts, validated as far as they can be without the model.
struct Parsed<T> {
    progress: Progress,
    record: FitRecord,
    model: Vec<(String, ArrayD<T>)>,
    optimizer: Vec<(String, ArrayD<T>)>,
    carried: Option<ArrayD<T>>,
    best: Vec<(String, ArrayD<T>)>,
    meta: HashMap<String, String>,
}

fn parse<T: Float>(bytes: &[u8]) -> Result<Parsed<T>> {
    let meta = checkpoint::metadata(bytes)?;
    match meta.get(KIND) {
        Some(k) if k == CHECKPOINT_KIND => {}
        Some(k) => {
            return Err(bad(format!(
                "file holds a {k}, not a training checkpoint written by fit(checkpoint=...)"
            )))
        }
        None => return Err(bad("not a seqrnn training checkpoint (no seqrnn.kind)")),
    }
    let json = meta
        .get(PROGRESS)
        .ok_or_else(|| bad(format!("metadata has no {PROGRESS:?} entry")))?;
    let progress = Progress::parse(json)?;
    let record = match meta.get(FIT_RECORD) {
        Some(json) => FitRecord::from_json(json, progress.epochs)?,
        None if progress.epochs == 0 => FitRecord::default(),
        None => FitRecord::unknown(progress.epochs), // a first-format file written outside fit
    };
    let mut record = record;
    if record.history.lr.is_empty() {
        // First-format files: every finished epoch ran at the file's rate.
        let lr = Metric(progress.optimizer.lr());
        record.history.lr = vec![lr; record.history.train_perplexity.len()];
    }
    let mut parsed = Parsed {
        progress,
        record,
        model: Vec::new(),
        optimizer: Vec::new(),
        carried: None,
        best: Vec::new(),
        meta,
    };
    // A tensor of another element type: a damaged file, or a run of the other dtype.
    let tensors = checkpoint::tensors::<T>(bytes).map_err(|e| match e {
        Error::DtypeMismatch { what, got, .. } => bad(format!(
            "tensor {what} is {got}, this run trains {}",
            T::DTYPE.name()
        )),
        e => e,
    })?;
    for (name, t) in tensors {
        if let Some(rest) = name.strip_prefix(OPTIMIZER) {
            parsed.optimizer.push((rest.to_string(), t));
        } else if let Some(rest) = name.strip_prefix(BEST).or(name.strip_prefix(FORMAT1_BEST)) {
            parsed.best.push((rest.to_string(), t));
        } else if name == CARRIED {
            parsed.carried = Some(t);
        } else if name.starts_with("extra.") {
            return Err(bad(format!(
                "tensor {name} is not part of a training checkpoint"
            )));
        } else {
            parsed.model.push((name, t));
        }
    }
    Ok(parsed)
}

impl<T: Float, K: Task<T>> Trainer<T, K> {
    fn progress_record(&self) -> Progress {
        let at_boundary = self.next >= self.plan.len();
        let c = &self.config;
        Progress {
            format: FORMAT,
            model: K::MODEL_KIND.into(),
            task: self.task.settings(),
            optimizer: c.optimizer.clone(),
            optimizer_steps: self.optimizer.steps(),
            steps: self.steps,
            epochs: self.epochs,
            next: if at_boundary { 0 } else { self.next },
            seed: c.seed,
            batch_size: c.batch_size,
            clip: c.clip,
            clip_value: c.clip_value,
            schedule: c.schedule.clone(),
            plateau: self.plateau.clone(),
            data_len: self.task.data_len(),
            data_hash: self.task.fingerprint(),
        }
    }

    /// Checkpoint bytes of this run with `model`: parameters, optimizer state, progress, the
    /// record of the finished epochs, the carried state, the best parameters when kept, and
    /// the caller's `meta` entries.
    pub fn checkpoint(
        &self,
        model: &K::Model,
        mut meta: HashMap<String, String>,
    ) -> Result<Vec<u8>> {
        let progress = self.progress_record();
        let mut tensors = model.named();
        let state = self.optimizer.state();
        tensors.extend(
            state
                .into_iter()
                .map(|(n, t)| (format!("{OPTIMIZER}{n}"), t)),
        );
        if progress.next > 0 {
            tensors.extend(
                self.state
                    .as_ref()
                    .map(|s| (CARRIED.to_string(), s.view().into_dyn())),
            );
        }
        if let Some(best) = &self.best {
            tensors.extend(
                best.named()
                    .into_iter()
                    .map(|(n, t)| (format!("{BEST}{n}"), t)),
            );
        }
        meta.insert(KIND.into(), CHECKPOINT_KIND.into());
        let json = serde_json::to_string(&progress).map_err(|e| bad(e.to_string()))?;
        meta.insert(PROGRESS.into(), json);
        meta.insert(FIT_RECORD.into(), self.record.to_json()?);
        checkpoint::to_bytes(&tensors, meta)
    }

    /// Restores `self` and `model` from checkpoint bytes written by [`Trainer::checkpoint`] for
    /// the same data and settings (the seed too when `seed_given`; the learning rate and
    /// optimizer state are the checkpoint's). Returns the file's string metadata. Nothing
    /// changes on error.
    pub fn resume(
        &mut self,
        model: &mut K::Model,
        bytes: &[u8],
        seed_given: bool,
    ) -> Result<HashMap<String, String>> {
        let parsed = parse::<T>(bytes)?;
        let p = &parsed.progress;
        p.check_compatible(&self.progress_record(), seed_given)?;
        let mut restored = model.clone();
        restored.load_state_dict(&views(&parsed.model))?;
        let mut config = self.config.clone();
        (config.seed, config.optimizer) = (p.seed, p.optimizer.clone());
        let mut optimizer = Optimizer::new(config.optimizer.clone())?;
        optimizer.load_state(&restored, p.optimizer_steps, &views(&parsed.optimizer))?;
        let best = best_parameters(&parsed.best, &restored)?;
        let (mut plan, mut state) = (Vec::new(), None);
        if p.next > 0 {
            let mut rng = crate::init::rng(crate::init::mix(config.seed, p.epochs));
            plan = self.task.plan(config.batch_size, &mut rng)?;
            let rows = match plan.get(p.next - 1) {
                Some(batch) if p.next < plan.len() => batch.len(),
                _ => return Err(bad(format!("minibatch {} is past the epoch's end", p.next))),
            };
            if let Some(s) = &parsed.carried {
                if !self.task.carries_state() {
                    return Err(bad("this task carries no hidden state between minibatches"));
                }
                let expected = self.task.state_shape(&restored, rows);
                crate::error::check_shape(CARRIED, &expected, s.shape())?;
                let s = s.clone().into_dimensionality::<Ix3>();
                state = Some(s.map_err(|e| bad(e.to_string()))?);
            }
        } else if parsed.carried.is_some() {
            return Err(bad(
                "a checkpoint at an epoch's end carries no hidden state",
            ));
        }
        self.config = config;
        self.optimizer = optimizer;
        (self.plan, self.next, self.state) = (plan, p.next, state);
        (self.epochs, self.steps) = (p.epochs, p.steps);
        self.plateau = p.plateau.clone();
        self.record = parsed.record;
        self.best = best;
        *model = restored;
        Ok(parsed.meta)
    }
}

/// The best parameters of a checkpoint: none, or every parameter of `model` with its shape.
fn best_parameters<M: Parameters<T> + Clone, T: Float>(
    best: &[(String, ArrayD<T>)],
    model: &M,
) -> Result<Option<M>> {
    if best.is_empty() {
        return Ok(None);
    }
    let named = model.named();
    if let Some((name, _)) = best
        .iter()
        .find(|(n, _)| !named.iter().any(|(m, _)| m == n))
    {
        return Err(bad(format!(
            "tensor {BEST}{name} names no parameter of the model (it has {:?})",
            named.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
        )));
    }
    if best.len() != named.len() {
        return Err(bad(format!(
            "the best parameters hold {} of the model's {} tensors",
            best.len(),
            named.len()
        )));
    }
    let mut kept = model.clone();
    kept.load_state_dict(&views(best))?;
    Ok(Some(kept))
}

/// A metric of a [`FitRecord`]: a JSON number when finite, else `"inf"`, `"-inf"` or `"nan"`
/// (JSON has no such numbers, and a diverging run's perplexity is infinite).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Metric(pub f64);

impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self.0 {
            x if x.is_finite() => s.serialize_f64(x),
            x if x.is_nan() => s.serialize_str("nan"),
            x if x > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(x) => Ok(Metric(x)),
            Raw::Text(t) => match t.as_str() {
                "inf" => Ok(Metric(f64::INFINITY)),
                "-inf" => Ok(Metric(f64::NEG_INFINITY)),
                "nan" => Ok(Metric(f64::NAN)),
                _ => Err(serde::de::Error::custom(format!(
                    "expected a number, \"inf\", \"-inf\" or \"nan\", got {t:?}"
                ))),
            },
        }
    }
}

/// The per-epoch metrics of a `fit` run, as its checkpoints record them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitHistory {
    /// Training perplexity of each epoch.
    pub train_perplexity: Vec<Metric>,
    /// Validation perplexity of each epoch (empty without validation data).
    pub valid_perplexity: Vec<Metric>,
    /// Training speed of each epoch.
    pub tokens_per_second: Vec<Metric>,
    /// Wall-clock seconds of each epoch.
    pub seconds: Vec<Metric>,
    /// The learning rate of each epoch's first step (absent from first-format files).
    #[serde(default)]
    pub lr: Vec<Metric>,
    /// The 0-based epoch of the lowest validation perplexity.
    pub best_epoch: Option<u64>,
    /// That perplexity.
    pub best_valid_perplexity: Option<Metric>,
}

/// What a `fit` checkpoint records besides the trainer's progress (`seqrnn.progress`): the history of the
/// finished epochs and the sums of the epoch in progress (tokens, loss sum, seconds).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitRecord {
    /// The finished epochs.
    pub history: FitHistory,
    /// Tokens, summed loss and seconds of the epoch in progress.
    pub partial: (u64, Metric, Metric),
}

impl FitRecord {
    /// The record of `epochs` finished epochs whose metrics were not recorded (NaN).
    pub fn unknown(epochs: u64) -> Self {
        let n = usize::try_from(epochs).unwrap_or(0);
        let nan = vec![Metric(f64::NAN); n];
        FitRecord {
            history: FitHistory {
                train_perplexity: nan.clone(),
                tokens_per_second: nan.clone(),
                seconds: nan.clone(),
                lr: nan,
                ..FitHistory::default()
            },
            partial: Default::default(),
        }
    }

    /// The JSON text of the record.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string(self).map_err(|e| bad(e.to_string()))
    }

    /// Parses [`FitRecord::to_json`]'s output for a run that has finished `epochs` epochs:
    /// the schema (no unknown or repeated field, bounded depth), one entry per finished epoch
    /// in every list (none or one each for validation), the best epoch among them.
    pub fn from_json(json: &str, epochs: u64) -> Result<Self> {
        let r: FitRecord =
            serde_json::from_str(json).map_err(|e| bad(format!("bad fit record: {e}")))?;
        let h = &r.history;
        let n = usize::try_from(epochs).map_err(|_| bad("too many epochs"))?;
        let lists = [
            ("train_perplexity", h.train_perplexity.len()),
            ("tokens_per_second", h.tokens_per_second.len()),
            ("seconds", h.seconds.len()),
            ("lr", if h.lr.is_empty() { n } else { h.lr.len() }),
        ];
        for (what, len) in lists {
            if len != n {
                return Err(bad(format!(
                    "fit record: {what} has {len} entries for {n} finished epochs"
                )));
            }
        }
        let valid = h.valid_perplexity.len();
        if valid != 0 && valid != n {
            return Err(bad(format!(
                "fit record: valid_perplexity has {valid} entries for {n} finished epochs"
            )));
        }
        match (h.best_epoch, h.best_valid_perplexity) {
            (None, None) => {}
            (Some(e), Some(_)) if valid > 0 && e < epochs => {}
            (e, p) => {
                return Err(bad(format!(
                    "fit record: best epoch {e:?} with perplexity {p:?} does not fit {valid} \
                     validated epochs"
                )))
            }
        }
        Ok(r)
    }
}
