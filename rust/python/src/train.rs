//! `seqrnn._core.Trainer` and `seqrnn._core.batches`: training runs and minibatch plans.

use crate::convert::{self, size};
use crate::errors::IntoPyResult;
use crate::lm::PyLanguageModel;
use crate::seq2seq::{pair_set, PySeq2Seq};
use crate::{detach_interruptible, Model, Shared};
use ndarray::Array3;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use seqrnn::data::{epoch_batches, gather};
use seqrnn::resume::{FitRecord, Metric};
use seqrnn::{
    Dtype, EpochEnd, Float, LmTask, LmTrainer, Optimizer, OptimizerConfig, PairTask, RunStats,
    Sampling, Schedule, Seq2SeqTrainer, Task, TrainConfig, Trainer,
};
use std::path::PathBuf;

/// The error for a model whose kind or dtype is not the one its trainer was made for.
fn model_differs() -> PyErr {
    PyTypeError::new_err("model: not the kind of model or the dtype this trainer was made for")
}

/// The error for a model another thread holds exclusively.
fn busy(kind: &str) -> PyErr {
    PyRuntimeError::new_err(format!(
        "this {kind} is busy: another thread holds it exclusively; try again when that call \
         has returned"
    ))
}

/// The trainer of one model kind in one element type.
enum AnyTrainer {
    LmF32(LmTrainer<f32>),
    LmF64(LmTrainer<f64>),
    PairsF32(Seq2SeqTrainer<f32>),
    PairsF64(Seq2SeqTrainer<f64>),
}

fn f32_of<A, B>(m: &mut Model<A, B>) -> Option<&mut A> {
    match m {
        Model::F32(a) => Some(a),
        Model::F64(_) => None,
    }
}

fn f64_of<A, B>(m: &mut Model<A, B>) -> Option<&mut B> {
    match m {
        Model::F64(b) => Some(b),
        Model::F32(_) => None,
    }
}

/// `$body` with `$t` the typed trainer, `$shared` the Python model's shared core model and
/// `$pick` the function that takes the matching element type out of it.
macro_rules! with_model {
    ($inner:expr, $model:expr, |$t:ident, $shared:ident, $pick:ident| $body:expr) => {
        match $inner {
            AnyTrainer::LmF32($t) => {
                let obj = borrow::<PyLanguageModel>($model, "LanguageModel")?;
                let ($shared, $pick) = (&obj.inner, f32_of);
                $body
            }
            AnyTrainer::LmF64($t) => {
                let obj = borrow::<PyLanguageModel>($model, "LanguageModel")?;
                let ($shared, $pick) = (&obj.inner, f64_of);
                $body
            }
            AnyTrainer::PairsF32($t) => {
                let obj = borrow::<PySeq2Seq>($model, "Seq2Seq")?;
                let ($shared, $pick) = (&obj.inner, f32_of);
                $body
            }
            AnyTrainer::PairsF64($t) => {
                let obj = borrow::<PySeq2Seq>($model, "Seq2Seq")?;
                let ($shared, $pick) = (&obj.inner, f64_of);
                $body
            }
        }
    };
}

/// `$body` with `$t` the typed trainer.
macro_rules! each {
    ($inner:expr, $t:ident => $body:expr) => {
        match $inner {
            AnyTrainer::LmF32($t) => $body,
            AnyTrainer::LmF64($t) => $body,
            AnyTrainer::PairsF32($t) => $body,
            AnyTrainer::PairsF64($t) => $body,
        }
    };
}

fn borrow<'py, C: pyo3::PyClass>(model: &Bound<'py, PyAny>, kind: &str) -> PyResult<PyRef<'py, C>> {
    let obj = model.cast::<C>().map_err(|_| model_differs())?;
    obj.try_borrow().map_err(|_| busy(kind))
}

/// Works on a copy of the model in `shared` with `f` (the GIL released) and
/// stores the copy back, also when `f` fails part-way (a trainer's steps are whole).
fn on_copy<M: Clone + Send + Sync, X: Send, R: Send>(
    py: Python<'_>,
    shared: &Shared<M>,
    pick: fn(&mut M) -> Option<&mut X>,
    f: impl FnOnce(&mut X) -> seqrnn::Result<R> + Send,
) -> PyResult<R> {
    let mut work = (*shared.get()).clone();
    let model = pick(&mut work).ok_or_else(model_differs)?;
    // Without the interrupt hook: fit's chunks are short and Ctrl-C arrives between them.
    let result = py.detach(|| f(model)).py();
    shared.set(work);
    result
}

/// A fit record as Python reads it: `(train_perplexity, valid_perplexity, tokens_per_second,
/// seconds, lr, best_epoch, best_valid_perplexity, (tokens, loss_sum, seconds))`.
type PyRecord = (
    Vec<f64>,
    Vec<f64>,
    Vec<f64>,
    Vec<f64>,
    Vec<f64>,
    Option<u64>,
    Option<f64>,
    (u64, f64, f64),
);

fn py_record(r: &FitRecord) -> PyRecord {
    let h = &r.history;
    let m = |v: &[Metric]| v.iter().map(|x| x.0).collect();
    (
        m(&h.train_perplexity),
        m(&h.valid_perplexity),
        m(&h.tokens_per_second),
        m(&h.seconds),
        m(&h.lr),
        h.best_epoch,
        h.best_valid_perplexity.map(|x| x.0),
        (r.partial.0, r.partial.1 .0, r.partial.2 .0),
    )
}

fn optimizer_config(
    name: &str,
    lr: f64,
    momentum: f64,
    weight_decay: f64,
) -> PyResult<OptimizerConfig> {
    let mut opt = OptimizerConfig::by_name(name, lr).py()?;
    match &mut opt {
        OptimizerConfig::Sgd {
            momentum: m,
            weight_decay: w,
            ..
        } => (*m, *w) = (momentum, weight_decay),
        OptimizerConfig::Adam {
            weight_decay: w, ..
        }
        | OptimizerConfig::Adagrad {
            weight_decay: w, ..
        } => {
            if momentum != 0.0 {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "momentum is an SGD setting; {name} takes none, got {momentum}"
                )));
            }
            *w = weight_decay
        }
    }
    opt.validate().py()?;
    Ok(opt)
}

fn trainer<T: Float, K: Task<T>>(task: K, config: TrainConfig) -> PyResult<Trainer<T, K>> {
    Trainer::new(task, config).py()
}

/// The trainer of `s2s` on `data`, a tuple `(src, src_valid_len, tgt_in, tgt_out,
/// tgt_valid_len)`, with length bucketing when `bucketing`.
fn pairs_trainer(
    s2s: &PySeq2Seq,
    data: &Bound<'_, PyAny>,
    config: TrainConfig,
    bucketing: bool,
) -> PyResult<AnyTrainer> {
    let cfg = crate::dispatch!(&*s2s.inner.get(), m => m.config().clone());
    let parts = data
        .cast::<PyTuple>()
        .ok()
        .filter(|t| t.len() == 5)
        .ok_or_else(|| {
            PyTypeError::new_err(
                "data must be a tuple (src, src_valid_len, tgt_in, tgt_out, tgt_valid_len)",
            )
        })?;
    let item = |i| parts.get_item(i);
    let set = pair_set(&cfg, &item(0)?, &item(1)?, &item(2)?, &item(3)?, &item(4)?)?;
    let pool = bucketing.then_some(seqrnn::pairs::POOL_BATCHES);
    let task = PairTask::new(set)
        .and_then(|t| t.with_bucketing(pool))
        .py()?;
    Ok(match s2s.inner.get().dtype() {
        Dtype::F32 => AnyTrainer::PairsF32(trainer(task, config)?),
        Dtype::F64 => AnyTrainer::PairsF64(trainer(task, config)?),
    })
}

/// The training state of one `fit` run of a `LanguageModel` (on a token corpus, truncated
/// BPTT) or a `Seq2Seq` (on sentence pairs): optimizer, schedule, position in the epoch,
/// carried state, history, best parameters. The model itself is passed to each call.
#[pyclass(name = "Trainer", module = "seqrnn._core")]
pub struct PyTrainer {
    inner: AnyTrainer,
}

#[pymethods]
impl PyTrainer {
    /// `data`: a corpus of token ids for a `LanguageModel` (with `num_steps`, `sampling`), a
    /// tuple `(src, src_valid_len, tgt_in, tgt_out, tgt_valid_len)` for a `Seq2Seq`.
    /// `schedule` is a schedule's JSON form; `previous` the `optimizer_state()` of an earlier
    /// trainer of the model, whose moments and step count go on. `bucketing` (a `Seq2Seq`
    /// only) puts pairs of similar lengths into each minibatch.
    #[new]
    #[pyo3(signature = (model, data, batch_size, lr, optimizer="sgd", num_steps=None, sampling="sequential", clip=None, clip_value=None, seed=0, momentum=0.0, weight_decay=0.0, schedule=None, keep_best=false, early_stopping=None, previous=None, bucketing=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        model: &Bound<'_, PyAny>,
        data: &Bound<'_, PyAny>,
        batch_size: i64,
        lr: f64,
        optimizer: &str,
        num_steps: Option<i64>,
        sampling: &str,
        clip: Option<f64>,
        clip_value: Option<f64>,
        seed: u64,
        momentum: f64,
        weight_decay: f64,
        schedule: Option<&str>,
        keep_best: bool,
        early_stopping: Option<i64>,
        previous: Option<PyRef<'_, PyOptimizerState>>,
        bucketing: bool,
    ) -> PyResult<Self> {
        let config = TrainConfig {
            batch_size: size("batch_size", batch_size)?,
            clip,
            clip_value,
            optimizer: optimizer_config(optimizer, lr, momentum, weight_decay)?,
            schedule: schedule
                .map(Schedule::from_json)
                .transpose()
                .py()?
                .unwrap_or_default(),
            seed,
            keep_best,
            early_stopping: early_stopping
                .map(|p| size("early_stopping", p).map(|p| p as u64))
                .transpose()?,
        };
        let inner = if let Ok(lm) = model.cast::<PyLanguageModel>() {
            let lm = lm.borrow();
            let corpus = convert::ids_vec(data, "corpus", lm.vocab_size())?;
            let num_steps = num_steps.ok_or_else(|| {
                PyTypeError::new_err("num_steps is needed to train a LanguageModel")
            })?;
            if bucketing {
                return Err(PyValueError::new_err(
                    "bucketing is a setting of translation (a Seq2Seq); a LanguageModel takes \
                     none, got bucketing=True",
                ));
            }
            let task = LmTask::new(
                corpus,
                size("num_steps", num_steps)?,
                Sampling::parse(sampling).py()?,
            )
            .py()?;
            match lm.inner.get().dtype() {
                Dtype::F32 => AnyTrainer::LmF32(trainer(task, config)?),
                Dtype::F64 => AnyTrainer::LmF64(trainer(task, config)?),
            }
        } else if let Ok(s2s) = model.cast::<PySeq2Seq>() {
            pairs_trainer(&s2s.borrow(), data, config, bucketing)?
        } else {
            return Err(PyTypeError::new_err(format!(
                "model must be a LanguageModel or a Seq2Seq, got {}",
                model.get_type().name()?
            )));
        };
        let mut made = PyTrainer { inner };
        if let Some(prev) = previous {
            made.continue_from(&prev.0).py()?;
        }
        Ok(made)
    }

    /// Trains `model` on up to `max_batches` minibatches (stopping at the epoch's end) with the
    /// GIL released. Returns `(batches, tokens, loss_sum, epoch_done)`.
    ///
    /// The work is done on a copy, so other threads may use the model meanwhile; the copy
    /// replaces the model's parameters at the end, also when a step fails.
    fn run(
        &mut self,
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        max_batches: i64,
    ) -> PyResult<(usize, usize, f64, bool)> {
        let max_batches = size("max_batches", max_batches)?;
        let stats: RunStats = with_model!(&mut self.inner, model, |t, shared, pick| {
            on_copy(py, shared, pick, |m| t.run(m, max_batches))
        })?;
        Ok((
            stats.batches,
            stats.tokens,
            stats.loss_sum,
            stats.epoch_done,
        ))
    }

    /// Ends the epoch `run` just finished with its validation perplexity (or None): returns
    /// `(improved, lr_reduced, stop)`; a plateau schedule with `restore_best` may put the best
    /// parameters back into `model`.
    fn end_epoch(
        &mut self,
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        valid: Option<f64>,
    ) -> PyResult<(bool, bool, bool)> {
        let end: EpochEnd = with_model!(&mut self.inner, model, |t, shared, pick| {
            on_copy(py, shared, pick, |m| t.end_epoch(m, valid))
        })?;
        Ok((end.improved, end.lr_reduced, end.stop))
    }

    /// Puts the kept best parameters into `model`; False when none are kept.
    fn restore_best(&self, model: &Bound<'_, PyAny>) -> PyResult<bool> {
        with_model!(&self.inner, model, |t, shared, pick| {
            let Some(best) = t.best() else {
                return Ok(false);
            };
            let mut work = (*shared.get()).clone();
            *pick(&mut work).ok_or_else(model_differs)? = best.clone();
            shared.set(work);
            Ok(true)
        })
    }

    /// Writes `model` and the whole state of this run to `path` atomically.
    fn checkpoint(&self, py: Python<'_>, model: &Bound<'_, PyAny>, path: PathBuf) -> PyResult<()> {
        with_model!(&self.inner, model, |t, shared, pick| {
            let mut snapshot = (*shared.get()).clone();
            let m = pick(&mut snapshot).ok_or_else(model_differs)?;
            detach_interruptible(py, || {
                let bytes = t.checkpoint(m, Default::default())?;
                seqrnn::checkpoint::write_atomic(&path, &bytes)
            })
        })
    }

    /// Restores this run and `model` from a checkpoint written by `checkpoint` for the same
    /// data and settings (the seed too when `seed_given`).
    fn resume(
        &mut self,
        py: Python<'_>,
        model: &Bound<'_, PyAny>,
        path: PathBuf,
        seed_given: bool,
    ) -> PyResult<()> {
        with_model!(&mut self.inner, model, |t, shared, pick| {
            let mut work = (*shared.get()).clone();
            let m = pick(&mut work).ok_or_else(model_differs)?;
            detach_interruptible(py, || {
                t.resume(m, &seqrnn::checkpoint::read(&path)?, seed_given)
            })?;
            shared.set(work);
            Ok(())
        })
    }

    /// The optimizer's state, for a later trainer of the same model to go on with (the data
    /// and the rest of this run are left out).
    fn optimizer_state(&self) -> PyOptimizerState {
        PyOptimizerState(match &self.inner {
            AnyTrainer::LmF32(t) => KeptOptimizer::LmF32(t.optimizer().clone()),
            AnyTrainer::LmF64(t) => KeptOptimizer::LmF64(t.optimizer().clone()),
            AnyTrainer::PairsF32(t) => KeptOptimizer::PairsF32(t.optimizer().clone()),
            AnyTrainer::PairsF64(t) => KeptOptimizer::PairsF64(t.optimizer().clone()),
        })
    }

    /// The history of the finished epochs and the sums of the one in progress.
    #[getter]
    fn record(&self) -> PyRecord {
        each!(&self.inner, t => py_record(t.record()))
    }

    /// The learning rate of the next step.
    #[getter]
    fn lr(&self) -> f64 {
        each!(&self.inner, t => t.lr())
    }

    /// Completed epochs.
    #[getter]
    fn epochs(&self) -> u64 {
        each!(&self.inner, t => t.epochs())
    }

    /// Optimizer steps taken by this trainer.
    #[getter]
    fn steps(&self) -> u64 {
        each!(&self.inner, t => t.steps())
    }

    /// `(done, total)` minibatches of the current epoch.
    #[getter]
    fn progress(&self) -> (usize, usize) {
        each!(&self.inner, t => t.progress())
    }
}

impl PyTrainer {
    /// Takes the optimizer state of `previous` when it comes from a trainer of the same kind
    /// of model in the same element type.
    fn continue_from(&mut self, previous: &KeptOptimizer) -> seqrnn::Result<()> {
        use AnyTrainer as T;
        use KeptOptimizer as K;
        match (&mut self.inner, previous) {
            (T::LmF32(t), K::LmF32(p)) => t.continue_optimizer(p),
            (T::LmF64(t), K::LmF64(p)) => t.continue_optimizer(p),
            (T::PairsF32(t), K::PairsF32(p)) => t.continue_optimizer(p),
            (T::PairsF64(t), K::PairsF64(p)) => t.continue_optimizer(p),
            _ => Ok(()),
        }
    }
}

/// An optimizer's state as a trainer of one model kind and element type left it.
enum KeptOptimizer {
    LmF32(Optimizer<f32>),
    LmF64(Optimizer<f64>),
    PairsF32(Optimizer<f32>),
    PairsF64(Optimizer<f64>),
}

/// The optimizer state a `fit` leaves on its model for the next `fit` (`Trainer.optimizer_state`).
#[pyclass(name = "OptimizerState", module = "seqrnn._core", frozen)]
pub struct PyOptimizerState(KeptOptimizer);

#[pymethods]
impl PyOptimizerState {
    /// Optimizer steps taken so far.
    #[getter]
    fn steps(&self) -> u64 {
        match &self.0 {
            KeptOptimizer::LmF32(o) | KeptOptimizer::PairsF32(o) => o.steps(),
            KeptOptimizer::LmF64(o) | KeptOptimizer::PairsF64(o) => o.steps(),
        }
    }
}

/// Inputs and targets of every minibatch of one epoch, batch-first:
/// `(X (num_batches, batch, steps), Y (num_batches, batch, steps))`; with windows sampling the
/// last, smaller batch is left out.
#[pyfunction]
#[pyo3(signature = (corpus, batch_size, num_steps, sampling="random", seed=0))]
pub fn batches<'py>(
    py: Python<'py>,
    corpus: &Bound<'py, PyAny>,
    batch_size: i64,
    num_steps: i64,
    sampling: &str,
    seed: u64,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let corpus = convert::ids_vec(corpus, "corpus", usize::MAX)?;
    let (batch_size, num_steps) = (
        size("batch_size", batch_size)?,
        size("num_steps", num_steps)?,
    );
    let sampling = Sampling::parse(sampling).py()?;
    let (xs, ys) = crate::detach_interruptible(py, || {
        let plan = epoch_batches(
            corpus.len(),
            batch_size,
            num_steps,
            sampling,
            &mut seqrnn::init::rng(seed),
        )?;
        let full: Vec<_> = plan.into_iter().filter(|b| b.len() == batch_size).collect();
        let mut xs = Array3::<i64>::zeros((full.len(), batch_size, num_steps)); // (n, B, steps)
        let mut ys = Array3::<i64>::zeros((full.len(), batch_size, num_steps)); // (n, B, steps)
        for (i, starts) in full.iter().enumerate() {
            let (x, y) = gather(&corpus, starts, num_steps)?; // (steps, B)
            xs.index_axis_mut(ndarray::Axis(0), i)
                .assign(&x.t().mapv(|v| v as i64));
            ys.index_axis_mut(ndarray::Axis(0), i)
                .assign(&y.t().mapv(|v| v as i64));
        }
        Ok((xs, ys))
    })?;
    Ok((convert::to_numpy(py, xs), convert::to_numpy(py, ys)))
}
