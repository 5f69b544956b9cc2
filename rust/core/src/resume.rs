//! Resumable training: the model, the optimizer's state and the training progress of a
//! [`Trainer`] or [`Seq2SeqTrainer`] in one safetensors file.
//!
//! Tensors: the model's under their state-dict names, the optimizer's as
//! `optimizer.<slot>.<param>` (`optimizer.exp_avg.rnn.weight_hh_l0`, ...), the hidden state
//! carried between sequential minibatches as `trainer.state` `(num_layers, batch, hidden)`, and
//! any tensors the caller adds as `extra.<name>`. The progress (epoch, position in the epoch,
//! optimizer step, seed, minibatch settings, a fingerprint of the data) is JSON in the metadata.
//!
//! Each epoch's minibatch order depends only on (seed, epoch) and each step's dropout masks on
//! (seed, step), so a run resumed from a checkpoint, at an epoch boundary or inside an epoch,
//! reaches the same parameters bit for bit as one that was never interrupted.

use crate::checkpoint::{self, KIND};
use crate::data::Sampling;
use crate::pairs::PairSet;
use crate::{
    Error, Float, LanguageModel, Optimizer, OptimizerConfig, Parameters, Result, Seq2Seq,
    Seq2SeqTrainer, Trainer,
};
use ndarray::{ArrayD, ArrayViewD, Ix3};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// The `seqrnn.kind` of a training checkpoint.
pub const CHECKPOINT_KIND: &str = "TrainingCheckpoint";
/// Metadata key holding the training progress as JSON.
pub const PROGRESS: &str = "seqrnn.progress";
/// Metadata key holding a [`FitRecord`] as JSON (written by Python's `fit`; optional).
pub const FIT_RECORD: &str = "seqrnn.fit";
/// Prefix of extra tensors holding a copy of the model's parameters (the best epoch's, for
/// `keep_best`): `best.<parameter name>`, checked against the model when resuming.
pub const BEST: &str = "best.";
const OPTIMIZER: &str = "optimizer.";
const CARRIED: &str = "trainer.state";
const EXTRA: &str = "extra.";
/// The largest step or epoch count a checkpoint may record (2^53: exact as a float in every
/// language that reads it, and never near wrapping).
pub const MAX_COUNT: u64 = 1 << 53;

/// Named tensors a caller stores along with a checkpoint (e.g. the best parameters so far).
pub type Extra<T> = Vec<(String, ArrayD<T>)>;

/// Where a training run stands, and what it must be resumed with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Progress {
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

impl Progress {
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
        set_lr(&mut ours, self.optimizer.lr());
        if ours != self.optimizer {
            return mismatch(
                "the optimizer",
                format!("{:?}", self.optimizer),
                format!("{:?}", mine.optimizer),
            );
        }
        let pairs = [
            ("batch_size", self.batch_size, mine.batch_size),
            ("num_steps", self.num_steps, mine.num_steps),
        ];
        for (what, file, call) in pairs {
            if file != call {
                return mismatch(what, file.to_string(), call.to_string());
            }
        }
        if self.sampling != mine.sampling {
            return mismatch("sampling", self.sampling.clone(), mine.sampling.clone());
        }
        if self.clip != mine.clip {
            return mismatch(
                "clip",
                format!("{:?}", self.clip),
                format!("{:?}", mine.clip),
            );
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

fn set_lr(config: &mut OptimizerConfig, new_lr: f64) {
    match config {
        OptimizerConfig::Sgd { lr, .. }
        | OptimizerConfig::Adam { lr, .. }
        | OptimizerConfig::Adagrad { lr, .. } => *lr = new_lr,
    }
}

fn sampling_name(s: Sampling) -> &'static str {
    match s {
        Sampling::Random => "random",
        Sampling::Sequential => "sequential",
        Sampling::Windows => "windows",
    }
}

/// FNV-1a over a sequence of integers: a fingerprint that tells training sets apart.
fn fingerprint(values: impl IntoIterator<Item = usize>) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in (v as u64).to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn views<T>(tensors: &[(String, ArrayD<T>)]) -> Vec<(String, ArrayViewD<'_, T>)> {
    tensors.iter().map(|(n, a)| (n.clone(), a.view())).collect()
}

/// Safetensors bytes of a checkpoint.
fn write<T: Float, M: Parameters<T>>(
    progress: &Progress,
    model: &M,
    optimizer: &Optimizer<T>,
    carried: Option<ArrayViewD<'_, T>>,
    extra: &[(String, ArrayViewD<'_, T>)],
    mut meta: HashMap<String, String>,
) -> Result<Vec<u8>> {
    let mut tensors = model.named();
    let state = optimizer.state();
    tensors.extend(
        state
            .into_iter()
            .map(|(n, t)| (format!("{OPTIMIZER}{n}"), t)),
    );
    tensors.extend(carried.map(|s| (CARRIED.to_string(), s)));
    tensors.extend(extra.iter().map(|(n, t)| (format!("{EXTRA}{n}"), t.view())));
    meta.insert(KIND.into(), CHECKPOINT_KIND.into());
    let json = serde_json::to_string(progress).map_err(|e| bad(e.to_string()))?;
    meta.insert(PROGRESS.into(), json);
    checkpoint::to_bytes(&tensors, meta)
}

/// A checkpoint's parts, validated as far as they can be without the model.
struct Parsed<T> {
    progress: Progress,
    model: Vec<(String, ArrayD<T>)>,
    optimizer: Vec<(String, ArrayD<T>)>,
    carried: Option<ArrayD<T>>,
    extra: Extra<T>,
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
    let progress: Progress =
        serde_json::from_str(json).map_err(|e| bad(format!("bad training progress: {e}")))?;
    for (what, count) in [("steps", progress.steps), ("epochs", progress.epochs)] {
        if count > MAX_COUNT {
            return Err(bad(format!(
                "training progress: {what} must be at most 2**53, got {count}"
            )));
        }
    }
    let mut parsed = Parsed {
        progress,
        model: Vec::new(),
        optimizer: Vec::new(),
        carried: None,
        extra: Vec::new(),
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
        } else if let Some(rest) = name.strip_prefix(EXTRA) {
            parsed.extra.push((rest.to_string(), t));
        } else if name == CARRIED {
            parsed.carried = Some(t);
        } else {
            parsed.model.push((name, t));
        }
    }
    Ok(parsed)
}

/// The model and optimizer of a checkpoint, checked against `model`'s structure (nothing is
/// changed yet).
fn restore_parts<T: Float, M: Parameters<T> + Clone>(
    parsed: &Parsed<T>,
    model: &M,
) -> Result<(M, Optimizer<T>)> {
    let mut restored = model.clone();
    restored.load_state_dict(&views(&parsed.model))?;
    let mut optimizer = Optimizer::new(parsed.progress.optimizer.clone())?;
    optimizer.load_state(&restored, parsed.progress.steps, &views(&parsed.optimizer))?;
    Ok((restored, optimizer))
}

/// What [`Trainer::resume`] and [`Seq2SeqTrainer::resume`] hand back besides the restored state.
#[derive(Clone, Debug)]
pub struct Resumed<T> {
    /// The tensors the caller stored with [`Trainer::checkpoint`], under their names.
    pub extra: Extra<T>,
    /// The file's string metadata (the caller's entries included).
    pub meta: HashMap<String, String>,
    /// The file's [`FitRecord`], checked against the restored epoch count, if it has one.
    pub record: Option<FitRecord>,
}

impl<T: Float> Resumed<T> {
    /// The caller's parts of `parsed` once `restored` is known: every `best.` tensor must be a
    /// parameter of the model with its shape (all of them or none), and the fit record must
    /// parse for the restored epoch count.
    fn of<M: Parameters<T>>(parsed: Parsed<T>, restored: &M) -> Result<Self> {
        let named = restored.named();
        let mut best = 0;
        for (name, t) in &parsed.extra {
            let Some(param) = name.strip_prefix(BEST) else {
                continue;
            };
            let (_, p) = named.iter().find(|(n, _)| n == param).ok_or_else(|| {
                bad(format!(
                    "tensor {EXTRA}{name} names no parameter of the model (it has {:?})",
                    named.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>()
                ))
            })?;
            crate::error::check_shape(&format!("{EXTRA}{name}"), p.shape(), t.shape())?;
            best += 1;
        }
        if best != 0 && best != named.len() {
            return Err(bad(format!(
                "the best parameters hold {best} of the model's {} tensors",
                named.len()
            )));
        }
        let record = parsed
            .meta
            .get(FIT_RECORD)
            .map(|json| FitRecord::from_json(json, parsed.progress.epochs))
            .transpose()?;
        Ok(Resumed {
            extra: parsed.extra,
            meta: parsed.meta,
            record,
        })
    }
}

impl<T: Float> Trainer<T> {
    fn progress_record(&self, corpus: &[usize]) -> Progress {
        let c = &self.config;
        let at_boundary = self.next >= self.plan.len();
        Progress {
            model: crate::lm::CHECKPOINT_KIND.into(),
            optimizer: self.optimizer.config().clone(),
            steps: self.optimizer.steps(),
            epochs: self.epochs,
            next: if at_boundary { 0 } else { self.next },
            seed: c.seed,
            batch_size: c.batch_size,
            num_steps: c.num_steps,
            sampling: sampling_name(c.sampling).into(),
            clip: c.clip,
            data_len: corpus.len(),
            data_hash: fingerprint(corpus.iter().copied()),
        }
    }

    /// Checkpoint bytes of this run on `corpus` with `model`: parameters, optimizer state,
    /// progress, carried state, and the caller's `extra` tensors and `meta` entries.
    pub fn checkpoint(
        &self,
        model: &LanguageModel<T>,
        corpus: &[usize],
        extra: &[(String, ArrayViewD<'_, T>)],
        meta: HashMap<String, String>,
    ) -> Result<Vec<u8>> {
        let progress = self.progress_record(corpus);
        let carried = self
            .state
            .as_ref()
            .filter(|_| progress.next > 0)
            .map(|s| s.view().into_dyn());
        write(&progress, model, &self.optimizer, carried, extra, meta)
    }

    /// Restores `self` and `model` from checkpoint bytes written by [`Trainer::checkpoint`]
    /// for the same corpus and minibatch settings (the seed too when `seed_given`; the learning
    /// rate and optimizer state are the checkpoint's). Nothing changes on error.
    pub fn resume(
        &mut self,
        model: &mut LanguageModel<T>,
        corpus: &[usize],
        bytes: &[u8],
        seed_given: bool,
    ) -> Result<Resumed<T>> {
        let parsed = parse::<T>(bytes)?;
        let p = &parsed.progress;
        p.check_compatible(&self.progress_record(corpus), seed_given)?;
        let (restored, optimizer) = restore_parts(&parsed, model)?;
        let mut config = self.config.clone();
        (config.seed, config.optimizer) = (p.seed, p.optimizer.clone());
        let mut trainer = Trainer::new(config)?;
        (trainer.optimizer, trainer.epochs) = (optimizer, p.epochs);
        if p.next > 0 {
            trainer.plan = trainer.epoch_plan(corpus.len())?;
            let rows = match trainer.plan.get(p.next - 1) {
                Some(batch) if p.next < trainer.plan.len() => batch.len(),
                _ => return Err(bad(format!("minibatch {} is past the epoch's end", p.next))),
            };
            trainer.next = p.next;
            if let Some(s) = &parsed.carried {
                let cfg = restored.config();
                let expected = [cfg.num_layers, rows, cfg.hidden_size];
                crate::error::check_shape(CARRIED, &expected, s.shape())?;
                let s = s.clone().into_dimensionality::<Ix3>();
                trainer.state = Some(s.map_err(|e| bad(e.to_string()))?);
            }
        }
        let resumed = Resumed::of(parsed, &restored)?;
        *model = restored;
        *self = trainer;
        Ok(resumed)
    }
}

fn pairs_fingerprint(data: &PairSet) -> String {
    let shape = [data.src.ncols(), data.tgt_in.ncols()];
    fingerprint(
        shape
            .into_iter()
            .chain(data.src.iter().copied())
            .chain(data.src_len.iter().copied())
            .chain(data.tgt_in.iter().copied())
            .chain(data.tgt_out.iter().copied())
            .chain(data.tgt_len.iter().copied()),
    )
}

impl<T: Float> Seq2SeqTrainer<T> {
    fn progress_record(&self, data: &PairSet) -> Progress {
        let at_boundary = self.next >= self.order.len();
        Progress {
            model: crate::seq2seq::CHECKPOINT_KIND.into(),
            optimizer: self.optimizer.config().clone(),
            steps: self.optimizer.steps(),
            epochs: self.epochs,
            next: if at_boundary { 0 } else { self.next },
            seed: self.seed,
            batch_size: self.batch_size,
            num_steps: 0,
            sampling: "shuffled pairs".into(),
            clip: self.clip,
            data_len: data.len(),
            data_hash: pairs_fingerprint(data),
        }
    }

    /// Checkpoint bytes of this run on `data` with `model` (see [`Trainer::checkpoint`]).
    pub fn checkpoint(
        &self,
        model: &Seq2Seq<T>,
        data: &PairSet,
        extra: &[(String, ArrayViewD<'_, T>)],
        meta: HashMap<String, String>,
    ) -> Result<Vec<u8>> {
        let progress = self.progress_record(data);
        write(&progress, model, &self.optimizer, None, extra, meta)
    }

    /// Restores `self` and `model` from bytes written by [`Seq2SeqTrainer::checkpoint`] (see
    /// [`Trainer::resume`]). Nothing changes on error.
    pub fn resume(
        &mut self,
        model: &mut Seq2Seq<T>,
        data: &PairSet,
        bytes: &[u8],
        seed_given: bool,
    ) -> Result<Resumed<T>> {
        let parsed = parse::<T>(bytes)?;
        let p = &parsed.progress;
        p.check_compatible(&self.progress_record(data), seed_given)?;
        if parsed.carried.is_some() {
            return Err(bad("a seq2seq checkpoint carries no hidden state"));
        }
        let (restored, optimizer) = restore_parts(&parsed, model)?;
        let mut trainer =
            Seq2SeqTrainer::new(self.batch_size, self.clip, p.optimizer.clone(), p.seed)?;
        (trainer.optimizer, trainer.epochs) = (optimizer, p.epochs);
        if p.next > 0 {
            if p.next >= data.len() {
                return Err(bad(format!("pair {} is past the epoch's end", p.next)));
            }
            trainer.order = trainer.epoch_order(data.len());
            trainer.next = p.next;
        }
        let resumed = Resumed::of(parsed, &restored)?;
        *model = restored;
        *self = trainer;
        Ok(resumed)
    }
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
