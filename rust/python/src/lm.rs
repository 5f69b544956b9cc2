//! `seqrnn._core.LanguageModel`: batch-first numpy in and out, time-major core.

use crate::convert::{self, size};
use crate::errors::IntoPyResult;
use crate::{dispatch, Model};
use ndarray::Array3;

use numpy::Element;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use seqrnn::{Dtype, Float, Init, LanguageModel, LmConfig, Nonlinearity};
use std::collections::HashMap;
use std::path::PathBuf;

/// Embedding (or one-hot) -> RNN -> linear logits.
#[pyclass(name = "LanguageModel", module = "seqrnn._core")]
pub struct PyLanguageModel {
    pub(crate) inner: crate::Shared<Model<LanguageModel<f32>, LanguageModel<f64>>>,
}

/// `(batch, steps, V)` from the core's `(steps, batch, V)`.
fn batch_first<T: Clone>(a: Array3<T>) -> Array3<T> {
    let mut a = a;
    a.swap_axes(0, 1);
    a.as_standard_layout().into_owned()
}

fn logits<'py, T: Float + Element>(
    py: Python<'py>,
    lm: &LanguageModel<T>,
    inputs: &Bound<'py, PyAny>,
    state: Option<&Bound<'py, PyAny>>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let ids = convert::ids_time_major(inputs, "inputs", lm.config().vocab_size)?;
    let state = convert::state::<T>(state, "state")?;
    let (logits, h_n) = crate::detach_interruptible(py, || {
        lm.logits(ids.view(), state.as_ref().map(|s| s.view()))
    })?;
    Ok((
        convert::to_numpy(py, batch_first(logits)),
        convert::to_numpy(py, h_n),
    ))
}

fn loss_and_grads<'py, T: Float + Element>(
    py: Python<'py>,
    lm: &LanguageModel<T>,
    inputs: &Bound<'py, PyAny>,
    targets: &Bound<'py, PyAny>,
    mask: Option<&Bound<'py, PyAny>>,
    state: Option<&Bound<'py, PyAny>>,
) -> PyResult<(f64, Bound<'py, PyDict>, Bound<'py, PyAny>)> {
    let vocab = lm.config().vocab_size;
    let inputs = convert::ids_time_major(inputs, "inputs", vocab)?;
    let targets = convert::ids_time_major(targets, "targets", vocab)?;
    let mask = mask
        .map(|m| convert::floats_time_major2::<T>(m, "mask"))
        .transpose()?;
    let state = convert::state::<T>(state, "state")?;
    let step = crate::detach_interruptible(py, || {
        lm.loss_and_grads(
            inputs.view(),
            targets.view(),
            mask.as_ref().map(|m| m.view()),
            state.as_ref().map(|s| s.view()),
        )
    })?;
    Ok((
        step.loss.to_f64_lossless(),
        convert::state_dict(py, &step.grads)?,
        convert::to_numpy(py, step.state),
    ))
}

#[pymethods]
impl PyLanguageModel {
    #[new]
    #[pyo3(signature = (vocab_size, hidden_size=256, num_layers=1, embed_size=None, nonlinearity="tanh", seed=0, dtype="float32", init="uniform", dropout=0.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        vocab_size: i64,
        hidden_size: i64,
        num_layers: i64,
        embed_size: Option<i64>,
        nonlinearity: &str,
        seed: u64,
        dtype: &str,
        init: &str,
        dropout: f64,
    ) -> PyResult<Self> {
        let config = LmConfig {
            vocab_size: size("vocab_size", vocab_size)?,
            hidden_size: size("hidden_size", hidden_size)?,
            num_layers: size("num_layers", num_layers)?,
            embed_size: embed_size.map(|e| size("embed_size", e)).transpose()?,
            nonlinearity: Nonlinearity::parse(nonlinearity).py()?,
            dropout,
        };
        let init = Init::parse(init).py()?;
        let inner = match Dtype::parse(dtype).py()? {
            Dtype::F32 => Model::F32(LanguageModel::new(config, init, seed).py()?),
            Dtype::F64 => Model::F64(LanguageModel::new(config, init, seed).py()?),
        };
        Ok(PyLanguageModel {
            inner: crate::Shared::new(inner),
        })
    }

    /// Shapes: `inputs` (batch, steps) int64, `state` (num_layers, batch, hidden) ->
    /// (logits (batch, steps, vocab), state (num_layers, batch, hidden)).
    #[pyo3(signature = (inputs, state=None))]
    fn logits<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyAny>,
        state: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        dispatch!(&*self.inner.get(), lm => logits(py, lm, inputs, state))
    }

    /// Mean cross-entropy over unmasked positions and the gradient of every parameter.
    /// Shapes: `inputs`, `targets` (batch, steps) int64; `mask` (batch, steps) of the model's
    /// dtype -> (loss, {name: gradient}, final state (num_layers, batch, hidden)).
    #[pyo3(signature = (inputs, targets, mask=None, state=None))]
    fn loss_and_grads<'py>(
        &self,
        py: Python<'py>,
        inputs: &Bound<'py, PyAny>,
        targets: &Bound<'py, PyAny>,
        mask: Option<&Bound<'py, PyAny>>,
        state: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(f64, Bound<'py, PyDict>, Bound<'py, PyAny>)> {
        dispatch!(&*self.inner.get(), lm => loss_and_grads(py, lm, inputs, targets, mask, state))
    }

    /// `{name: ndarray}`: `embedding.weight`, `rnn.weight_ih_l0`, ..., `output.weight`, `output.bias`.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dispatch!(&*self.inner.get(), lm => convert::state_dict(py, lm))
    }

    /// Replaces all parameters; names, shapes and dtypes must match exactly.
    fn load_state_dict(&self, state_dict: &Bound<'_, PyDict>) -> PyResult<()> {
        self.inner
            .update(|model| dispatch!(model, lm => convert::load_state_dict(lm, state_dict)))
    }

    /// Each prefix followed by up to `num_tokens` chosen tokens, all prefixes at once; a
    /// stream ends at `stop` (kept). Prefix `i` samples with the random stream of `seed + i`.
    #[pyo3(signature = (prefixes, num_tokens, temperature=0.0, top_k=None, top_p=None, stop=None, seed=0))]
    #[allow(clippy::too_many_arguments)]
    fn generate(
        &self,
        py: Python<'_>,
        prefixes: Vec<Bound<'_, PyAny>>,
        num_tokens: i64,
        temperature: f64,
        top_k: Option<i64>,
        top_p: Option<f64>,
        stop: Option<i64>,
        seed: u64,
    ) -> PyResult<Vec<Vec<usize>>> {
        let vocab = self.vocab_size();
        let name = |i: usize| match prefixes.len() {
            1 => "prefix".to_string(), // the core's names
            _ => format!("prefix {i}"),
        };
        let prefixes = (prefixes.iter().enumerate())
            .map(|(i, p)| convert::ids_vec(p, &name(i), vocab))
            .collect::<PyResult<Vec<_>>>()?;
        let num_tokens = usize::try_from(num_tokens).map_err(|_| {
            PyValueError::new_err(format!("num_tokens must be >= 0, got {num_tokens}"))
        })?;
        let stop = stop
            .map(|t| seqrnn::embedding::ids_from_i64("stop", ndarray::aview1(&[t]), vocab).py())
            .transpose()?
            .and_then(|ids| ids.first().copied());
        let cfg = convert::sampling(temperature, top_k, top_p)?;
        dispatch!(&*self.inner.get(), lm => crate::detach_interruptible(py, || lm.generate_batch(&prefixes, num_tokens, cfg, stop, seed)))
    }

    /// `exp(mean cross-entropy)` of each token of `corpus` given the ones before it.
    #[pyo3(signature = (corpus, batch_size=32, num_steps=64))]
    fn perplexity(
        &self,
        py: Python<'_>,
        corpus: &Bound<'_, PyAny>,
        batch_size: i64,
        num_steps: i64,
    ) -> PyResult<f64> {
        let corpus = convert::ids_vec(corpus, "corpus", self.vocab_size())?;
        let (b, s) = (
            size("batch_size", batch_size)?,
            size("num_steps", num_steps)?,
        );
        dispatch!(&*self.inner.get(), lm => crate::detach_interruptible(py, || lm.perplexity(&corpus, b, s)))
    }

    /// Writes one safetensors file atomically with `metadata` (str -> str) added.
    fn save(
        &self,
        py: Python<'_>,
        path: PathBuf,
        metadata: HashMap<String, String>,
    ) -> PyResult<()> {
        dispatch!(&*self.inner.get(), lm => py.detach(|| lm.save(&path, metadata)).py())
    }

    /// Reads a checkpoint: `(model, metadata)`; the dtype is the file's.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<(Self, HashMap<String, String>)> {
        let (inner, meta) = crate::load_model(
            py,
            &path,
            LanguageModel::from_bytes,
            LanguageModel::from_bytes,
        )?;
        Ok((
            PyLanguageModel {
                inner: crate::Shared::new(inner),
            },
            meta,
        ))
    }

    /// The bytes `save` writes: safetensors with the parameters, configuration and `metadata`.
    fn to_bytes<'py>(
        &self,
        py: Python<'py>,
        metadata: HashMap<String, String>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        dispatch!(&*self.inner.get(), lm => crate::py_bytes(py, || lm.to_bytes(metadata)))
    }

    /// Reads `to_bytes` output: `(model, metadata)`; the dtype is the one recorded.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<(Self, HashMap<String, String>)> {
        let (inner, meta) = crate::py_model_from_bytes(
            py,
            data,
            LanguageModel::from_bytes,
            LanguageModel::from_bytes,
        )?;
        let inner = crate::Shared::new(inner);
        Ok((PyLanguageModel { inner }, meta))
    }

    #[getter]
    pub(crate) fn vocab_size(&self) -> usize {
        dispatch!(&*self.inner.get(), lm => lm.config().vocab_size)
    }

    #[getter]
    fn hidden_size(&self) -> usize {
        dispatch!(&*self.inner.get(), lm => lm.config().hidden_size)
    }

    #[getter]
    fn num_layers(&self) -> usize {
        dispatch!(&*self.inner.get(), lm => lm.config().num_layers)
    }

    #[getter]
    fn embed_size(&self) -> Option<usize> {
        dispatch!(&*self.inner.get(), lm => lm.config().embed_size)
    }

    #[getter]
    fn nonlinearity(&self) -> &'static str {
        dispatch!(&*self.inner.get(), lm => lm.config().nonlinearity.name())
    }

    #[getter]
    fn dropout(&self) -> f64 {
        dispatch!(&*self.inner.get(), lm => lm.config().dropout)
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.get().dtype().name()
    }
}
