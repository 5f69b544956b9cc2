//! `seqrnn._core.Trainer` and `seqrnn._core.batches`: training runs and minibatch plans.

use crate::convert::{self, size};
use crate::errors::IntoPyResult;
use crate::lm::PyLanguageModel;
use crate::Model;
use ndarray::{Array3, ArrayD, ArrayViewD};
use numpy::Element;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use seqrnn::data::{epoch_batches, gather};
use seqrnn::resume::{self, FitHistory, FitRecord, Metric};
use seqrnn::{Dtype, Float, OptimizerConfig, Resumed, Sampling, TrainConfig, Trainer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The error for a model whose dtype is not the one its trainer was made for.
pub(crate) fn dtype_differs() -> PyErr {
    PyTypeError::new_err("model: dtype differs from the one this trainer was made for")
}

/// The error for a model another thread holds exclusively.
pub(crate) fn busy(kind: &str) -> PyErr {
    pyo3::exceptions::PyRuntimeError::new_err(format!(
        "this {kind} is busy: another thread holds it exclusively; try again when that call \
         has returned"
    ))
}

/// Copies the caller's extra checkpoint tensors, then writes the checkpoint `bytes` makes
/// from them to `path` atomically with the GIL released.
pub(crate) fn write_checkpoint<T: Float + Element>(
    py: Python<'_>,
    path: &Path,
    extra: &Bound<'_, PyDict>,
    bytes: impl FnOnce(&[(String, ArrayViewD<'_, T>)]) -> seqrnn::Result<Vec<u8>> + Send,
) -> PyResult<()> {
    let mut tensors: Vec<(String, ArrayD<T>)> = Vec::with_capacity(extra.len());
    for (k, v) in extra.iter() {
        let name: String = k.extract()?;
        let a = convert::floats::<T>(&v, &name)?;
        tensors.push((name, a));
    }
    let views: Vec<_> = tensors.iter().map(|(n, a)| (n.clone(), a.view())).collect();
    py.detach(|| seqrnn::checkpoint::write_atomic(path, &bytes(&views)?))
        .py()
}

/// A fit record as Python holds it: `(train_perplexity, valid_perplexity, tokens_per_second,
/// seconds, best_epoch, best_valid_perplexity, (tokens, loss_sum, seconds))`.
pub(crate) type PyRecord = (
    Vec<f64>,
    Vec<f64>,
    Vec<f64>,
    Vec<f64>,
    Option<u64>,
    Option<f64>,
    (u64, f64, f64),
);

/// The checkpoint metadata holding `record`.
pub(crate) fn record_meta(record: Option<PyRecord>) -> PyResult<HashMap<String, String>> {
    let Some((train, valid, speed, seconds, best_epoch, best, partial)) = record else {
        return Ok(HashMap::new());
    };
    let m = |v: Vec<f64>| v.into_iter().map(Metric).collect();
    let record = FitRecord {
        history: FitHistory {
            train_perplexity: m(train),
            valid_perplexity: m(valid),
            tokens_per_second: m(speed),
            seconds: m(seconds),
            best_epoch,
            best_valid_perplexity: best.map(Metric),
        },
        partial: (partial.0, Metric(partial.1), Metric(partial.2)),
    };
    Ok(HashMap::from([(
        resume::FIT_RECORD.to_string(),
        record.to_json().py()?,
    )]))
}

/// `(record or None, {name: extra tensor})` of a resumed checkpoint.
pub(crate) fn resumed<'py, T: Float + Element>(
    py: Python<'py>,
    r: Resumed<T>,
) -> PyResult<(Option<PyRecord>, Bound<'py, PyDict>)> {
    let d = PyDict::new(py);
    for (name, a) in r.extra {
        d.set_item(name, convert::to_numpy(py, a))?;
    }
    let record = r.record.map(|r| {
        let h = r.history;
        let m = |v: Vec<Metric>| v.into_iter().map(|x| x.0).collect();
        (
            m(h.train_perplexity),
            m(h.valid_perplexity),
            m(h.tokens_per_second),
            m(h.seconds),
            h.best_epoch,
            h.best_valid_perplexity.map(|x| x.0),
            (r.partial.0, r.partial.1 .0, r.partial.2 .0),
        )
    });
    Ok((record, d))
}

/// Optimizer, sampling stream and carried state of a `fit` run (the model is passed to `run`).
#[pyclass(name = "Trainer", module = "seqrnn._core")]
pub struct PyTrainer {
    inner: Model<Trainer<f32>, Trainer<f64>>,
    corpus: Vec<usize>,
}

#[pymethods]
impl PyTrainer {
    #[new]
    #[pyo3(signature = (model, corpus, batch_size, num_steps, lr, optimizer="sgd", clip=None, sampling="sequential", seed=0, momentum=0.0, weight_decay=0.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        model: &PyLanguageModel,
        corpus: &Bound<'_, PyAny>,
        batch_size: i64,
        num_steps: i64,
        lr: f64,
        optimizer: &str,
        clip: Option<f64>,
        sampling: &str,
        seed: u64,
        momentum: f64,
        weight_decay: f64,
    ) -> PyResult<Self> {
        let corpus = convert::ids_vec(corpus, "corpus", model.vocab_size())?;
        let mut opt = OptimizerConfig::by_name(optimizer, lr).py()?;
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
            } => *w = weight_decay,
        }
        let config = TrainConfig {
            batch_size: size("batch_size", batch_size)?,
            num_steps: size("num_steps", num_steps)?,
            sampling: Sampling::parse(sampling).py()?,
            clip,
            optimizer: opt,
            seed,
        };
        let inner = match model.inner.get().dtype() {
            Dtype::F32 => Model::F32(Trainer::new(config).py()?),
            Dtype::F64 => Model::F64(Trainer::new(config).py()?),
        };
        Ok(PyTrainer { inner, corpus })
    }

    /// Trains `model` on up to `max_batches` minibatches (stopping at the epoch's end) with the
    /// GIL released. Returns `(batches, tokens, loss_sum, epoch_done)`.
    ///
    /// The work is done on a copy, so other threads may use the model meanwhile; the copy
    /// replaces the model's parameters at the end, also when a step fails.
    fn run(
        &mut self,
        py: Python<'_>,
        model: &Bound<'_, PyLanguageModel>,
        max_batches: i64,
    ) -> PyResult<(usize, usize, f64, bool)> {
        let max_batches = size("max_batches", max_batches)?;
        let model = model.try_borrow().map_err(|_| busy("LanguageModel"))?;
        let mut work = (*model.inner.get()).clone();
        let corpus = &self.corpus;
        let result = match (&mut self.inner, &mut work) {
            (Model::F32(t), Model::F32(m)) => py.detach(|| t.run(m, corpus, max_batches)),
            (Model::F64(t), Model::F64(m)) => py.detach(|| t.run(m, corpus, max_batches)),
            _ => return Err(dtype_differs()),
        };
        model.inner.set(work);
        let stats = result.py()?;
        Ok((
            stats.batches,
            stats.tokens,
            stats.loss_sum,
            stats.epoch_done,
        ))
    }

    /// Writes `model`, the optimizer state and the progress of this run, the fit `record` and the
    /// `extra` tensors (stored as `extra.<name>`) to `path` atomically.
    fn checkpoint(
        &self,
        py: Python<'_>,
        model: PyRef<'_, PyLanguageModel>,
        path: PathBuf,
        record: Option<PyRecord>,
        extra: &Bound<'_, PyDict>,
    ) -> PyResult<()> {
        let metadata = record_meta(record)?;
        let corpus = &self.corpus;
        match (&self.inner, &*model.inner.get()) {
            (Model::F32(t), Model::F32(m)) => {
                write_checkpoint(py, &path, extra, |x| t.checkpoint(m, corpus, x, metadata))
            }
            (Model::F64(t), Model::F64(m)) => {
                write_checkpoint(py, &path, extra, |x| t.checkpoint(m, corpus, x, metadata))
            }
            _ => Err(dtype_differs()),
        }
    }

    /// Restores this run and `model` from a checkpoint written by `checkpoint` for the same
    /// corpus and settings (the seed too when `seed_given`). Returns `(record, extra)`.
    fn resume<'py>(
        &mut self,
        py: Python<'py>,
        model: PyRef<'_, PyLanguageModel>,
        path: PathBuf,
        seed_given: bool,
    ) -> PyResult<(Option<PyRecord>, Bound<'py, PyDict>)> {
        let corpus = &self.corpus;
        let read = || seqrnn::checkpoint::read(&path);
        model.inner.update(|model| match (&mut self.inner, model) {
            (Model::F32(t), Model::F32(m)) => {
                let r = py.detach(|| t.resume(m, corpus, &read()?, seed_given));
                resumed(py, r.py()?)
            }
            (Model::F64(t), Model::F64(m)) => {
                let r = py.detach(|| t.resume(m, corpus, &read()?, seed_given));
                resumed(py, r.py()?)
            }
            _ => Err(dtype_differs()),
        })
    }

    /// Changes the learning rate (schedules); optimizer state is kept.
    fn set_lr(&mut self, lr: f64) -> PyResult<()> {
        crate::dispatch!(&mut self.inner, t => t.optimizer_mut().set_lr(lr)).py()
    }

    /// Completed epochs.
    #[getter]
    fn epochs(&self) -> u64 {
        crate::dispatch!(&self.inner, t => t.epochs())
    }

    /// Optimizer steps taken.
    #[getter]
    fn steps(&self) -> u64 {
        crate::dispatch!(&self.inner, t => t.optimizer().steps())
    }

    /// `(done, total)` minibatches of the current epoch.
    #[getter]
    fn progress(&self) -> (usize, usize) {
        crate::dispatch!(&self.inner, t => t.progress())
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
