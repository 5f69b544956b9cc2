//! Python bindings of seqrnn: extract and validate inputs, copy them, run the core with the
//! GIL released, convert results, map errors. No arithmetic lives here.
#![forbid(unsafe_code)]

mod convert;
mod data;
mod errors;
mod linear;
mod lm;
mod rnn;
mod seq2seq;
mod stream;
mod train;
mod vocab;

use pyo3::prelude::*;

/// A model in one of the two element types.
#[derive(Clone)]
pub(crate) enum Model<A, B> {
    F32(A),
    F64(B),
}

impl<A, B> Model<A, B> {
    pub(crate) fn dtype(&self) -> seqrnn::Dtype {
        match self {
            Model::F32(_) => seqrnn::Dtype::F32,
            Model::F64(_) => seqrnn::Dtype::F64,
        }
    }
}

/// A model shared between Python threads. Readers take a snapshot (an `Arc`, under a lock held
/// for nanoseconds) and compute on it with the GIL released; writers replace the whole model.
/// So a `fit` in one thread, which trains a copy and stores it between chunks, never waits for
/// readers in others, and readers never see a half-written model.
///
/// The lock is only ever taken by a thread holding the GIL (never inside `py.detach`), so
/// `os.fork`, which holds the GIL too, cannot happen while another thread holds it: a forked
/// child never inherits it locked. Keep it that way.
pub(crate) struct Shared<M>(std::sync::RwLock<std::sync::Arc<M>>);

impl<M: Clone> Shared<M> {
    pub(crate) fn new(model: M) -> Self {
        Shared(std::sync::RwLock::new(std::sync::Arc::new(model)))
    }

    /// The current model.
    pub(crate) fn get(&self) -> std::sync::Arc<M> {
        let guard = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        std::sync::Arc::clone(&guard)
    }

    /// Replaces the model.
    pub(crate) fn set(&self, model: M) {
        let mut guard = self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = std::sync::Arc::new(model);
    }

    /// Changes a copy of the model with `f` and stores it if `f` succeeds.
    pub(crate) fn update<R, E>(&self, f: impl FnOnce(&mut M) -> Result<R, E>) -> Result<R, E> {
        let mut copy = (*self.get()).clone();
        let r = f(&mut copy)?;
        self.set(copy);
        Ok(r)
    }
}

/// `(model, metadata)` from a checkpoint file, in the element type the file records.
pub(crate) fn load_model<A: Send, B: Send>(
    py: Python<'_>,
    path: &std::path::Path,
    f32: fn(&[u8]) -> seqrnn::Result<(A, Meta)>,
    f64: fn(&[u8]) -> seqrnn::Result<(B, Meta)>,
) -> PyResult<(Model<A, B>, Meta)> {
    use errors::IntoPyResult;
    py.detach(|| model_from_bytes(&seqrnn::checkpoint::read(path)?, f32, f64))
        .py()
}

/// `(model, metadata)` from checkpoint bytes, in the element type they record.
pub(crate) fn model_from_bytes<A, B>(
    bytes: &[u8],
    f32: fn(&[u8]) -> seqrnn::Result<(A, Meta)>,
    f64: fn(&[u8]) -> seqrnn::Result<(B, Meta)>,
) -> seqrnn::Result<(Model<A, B>, Meta)> {
    let meta = seqrnn::checkpoint::metadata(bytes)?;
    Ok(match seqrnn::checkpoint::dtype(&meta)? {
        seqrnn::Dtype::F32 => f32(bytes).map(|(m, meta)| (Model::F32(m), meta))?,
        seqrnn::Dtype::F64 => f64(bytes).map(|(m, meta)| (Model::F64(m), meta))?,
    })
}

/// [`model_from_bytes`] with the GIL released (the bytes object is immutable).
pub(crate) fn py_model_from_bytes<A: Send, B: Send>(
    py: Python<'_>,
    bytes: &[u8],
    f32: fn(&[u8]) -> seqrnn::Result<(A, Meta)>,
    f64: fn(&[u8]) -> seqrnn::Result<(B, Meta)>,
) -> PyResult<(Model<A, B>, Meta)> {
    use errors::IntoPyResult;
    py.detach(|| model_from_bytes(bytes, f32, f64)).py()
}

/// Checkpoint bytes made with the GIL released, as a Python `bytes` object.
pub(crate) fn py_bytes<'py>(
    py: Python<'py>,
    make: impl FnOnce() -> seqrnn::Result<Vec<u8>> + Send,
) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
    use errors::IntoPyResult;
    let bytes = py.detach(make).py()?;
    Ok(pyo3::types::PyBytes::new(py, &bytes))
}

/// Runs `work` with the GIL released and Ctrl-C honoured: about every 50 ms the core's
/// [`seqrnn::interrupt`] hook takes the GIL for a moment to run Python's signal handlers; when
/// one raises (`KeyboardInterrupt`), the core stops with `Error::Interrupted` and the call
/// raises that exception.
pub(crate) fn detach_interruptible<T: Send>(
    py: Python<'_>,
    work: impl FnOnce() -> seqrnn::Result<T> + Send,
) -> PyResult<T> {
    use errors::IntoPyResult;
    py.detach(|| {
        let raised = std::rc::Rc::new(std::cell::Cell::new(None::<PyErr>));
        let slot = std::rc::Rc::clone(&raised);
        let hook = move || match Python::attach(|py| py.check_signals()) {
            Ok(()) => false,
            Err(e) => {
                slot.set(Some(e));
                true
            }
        };
        match seqrnn::interrupt::with_hook(hook, work) {
            Err(seqrnn::Error::Interrupted) => Err(raised
                .take()
                .unwrap_or_else(|| errors::to_py(seqrnn::Error::Interrupted))),
            // A signal the hook took is raised even if the work ended without stopping for
            // it (it had no poll left to make, or a part of it let the stop go by): never lost.
            r => match raised.take() {
                Some(e) => Err(e),
                None => r.py(),
            },
        }
    })
}

/// String metadata of a checkpoint.
pub(crate) type Meta = std::collections::HashMap<String, String>;

/// Runs the same generic code on whichever element type a [`Model`] holds.
#[macro_export]
macro_rules! dispatch {
    ($model:expr, $m:ident => $body:expr) => {
        match $model {
            $crate::Model::F32($m) => $body,
            $crate::Model::F64($m) => $body,
        }
    };
}

/// Sets the number of threads matrix products may use (0: the default, the cores up to 2).
/// Results are identical for every thread count.
#[pyfunction]
fn set_num_threads(n: i64) -> PyResult<()> {
    let n = usize::try_from(n).map_err(|_| {
        pyo3::exceptions::PyValueError::new_err(format!("n must be >= 0 (0: the default), got {n}"))
    })?;
    seqrnn::engine::set_num_threads(n);
    Ok(())
}

/// The number of threads matrix products may use.
#[pyfunction]
fn get_num_threads() -> usize {
    seqrnn::engine::num_threads()
}

/// The machine's vector extensions and what the engine runs on, as a dict: ``arch``,
/// ``features`` (detected vector extensions), ``supported`` (instruction-set levels the CPU
/// has, widest first), ``max_isa`` (the cap in force, or None), ``isa`` (the level in use) and
/// ``threads``.
///
/// Example::
///
///     >>> info = seqrnn.cpu_info()
///     >>> info["isa"] in info["supported"] and "generic" in info["supported"]
///     True
#[pyfunction]
fn cpu_info(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let info = seqrnn::engine::cpu_info();
    let d = pyo3::types::PyDict::new(py);
    d.set_item("arch", info.arch)?;
    d.set_item("features", info.features)?;
    let names: Vec<&str> = info.supported.iter().map(|i| i.name()).collect();
    d.set_item("supported", names)?;
    d.set_item("max_isa", info.max_isa.map(|i| i.name()))?;
    d.set_item("isa", info.isa.name())?;
    d.set_item("threads", info.threads)?;
    Ok(d)
}

/// Caps the instruction-set level of the engine's kernels at ``"avx512"``, ``"avx2"`` or
/// ``"generic"`` (portable code) for every thread; None restores the default (the
/// ``SEQRNN_MAX_ISA`` environment variable, else no cap). A cap above what the CPU has changes
/// nothing. Results agree between levels within float32 rounding.
///
/// Example::
///
///     >>> seqrnn.set_max_isa("generic")
///     >>> seqrnn.cpu_info()["isa"]
///     'generic'
///     >>> seqrnn.set_max_isa(None)
#[pyfunction]
#[pyo3(signature = (level))]
fn set_max_isa(level: Option<&str>) -> PyResult<()> {
    use errors::IntoPyResult;
    let cap = level.map(seqrnn::engine::Isa::parse).transpose().py()?;
    seqrnn::engine::set_max_isa(cap);
    Ok(())
}

/// Writes ``data`` to ``path`` atomically, as every save of seqrnn does: a temporary file in
/// the target's folder, flushed, renamed over the target. Symbolic links are followed and kept,
/// a directory, FIFO, socket or device is refused (``OSError``) before anything is written,
/// an existing file keeps its permission bits, and temporary files of earlier killed saves of
/// the same target are removed.
#[pyfunction]
fn write_atomic(py: Python<'_>, path: std::path::PathBuf, data: &[u8]) -> PyResult<()> {
    use errors::IntoPyResult;
    py.detach(|| seqrnn::checkpoint::write_atomic(&path, data))
        .py()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(cpu_info, m)?)?;
    m.add_function(wrap_pyfunction!(set_max_isa, m)?)?;
    m.add_function(wrap_pyfunction!(write_atomic, m)?)?;
    if let Err(value) = seqrnn::engine::isa::env_max_isa() {
        let msg = format!(
            "{} must be one of \"avx512\", \"avx2\", \"generic\", got {value:?}; ignored",
            seqrnn::engine::ENV_VAR
        );
        let warning = m.py().get_type::<pyo3::exceptions::PyRuntimeWarning>();
        PyErr::warn(m.py(), &warning, &std::ffi::CString::new(msg)?, 1)?;
    }
    m.add(
        "NonFiniteError",
        m.py().get_type::<errors::NonFiniteError>(),
    )?;
    m.add_class::<rnn::PyRnn>()?;
    m.add_class::<linear::PyLinear>()?;
    m.add_class::<lm::PyLanguageModel>()?;
    m.add_class::<stream::PyStream>()?;
    m.add_class::<seq2seq::PySeq2Seq>()?;
    m.add_class::<train::PyTrainer>()?;
    m.add_class::<train::PyOptimizerState>()?;
    m.add_function(wrap_pyfunction!(train::batches, m)?)?;
    m.add_class::<vocab::PyVocab>()?;
    m.add_function(wrap_pyfunction!(vocab::tokenize, m)?)?;
    m.add_function(wrap_pyfunction!(vocab::preprocess_d2l, m)?)?;
    m.add_function(wrap_pyfunction!(data::preprocess_nmt, m)?)?;
    m.add_function(wrap_pyfunction!(data::tokenize_nmt, m)?)?;
    m.add_function(wrap_pyfunction!(data::encode_source, m)?)?;
    m.add_function(wrap_pyfunction!(data::translation_data, m)?)?;
    m.add_function(wrap_pyfunction!(data::load_translation_data, m)?)?;
    m.add_class::<data::PyCorpusBatches>()?;
    Ok(())
}
