//! `seqrnn._core.LanguageModel`: batch-first numpy in and out, time-major core.

use crate::convert::{self, size};
use crate::errors::IntoPyResult;
use crate::{dispatch, Model};
use ndarray::Array3;
use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use seqrnn::{Dtype, Float, Init, LanguageModel, LmConfig, Nonlinearity};

/// Embedding (or one-hot) -> RNN -> linear logits.
#[pyclass(name = "LanguageModel", module = "seqrnn._core")]
pub struct PyLanguageModel {
    pub(crate) inner: Model<LanguageModel<f32>, LanguageModel<f64>>,
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
    let (logits, h_n) = py
        .detach(|| lm.logits(ids.view(), state.as_ref().map(|s| s.view())))
        .py()?;
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
    let step = py
        .detach(|| {
            lm.loss_and_grads(
                inputs.view(),
                targets.view(),
                mask.as_ref().map(|m| m.view()),
                state.as_ref().map(|s| s.view()),
            )
        })
        .py()?;
    Ok((
        step.loss.to_f64_lossless(),
        convert::state_dict(py, &step.grads)?,
        convert::to_numpy(py, step.state),
    ))
}

#[pymethods]
impl PyLanguageModel {
    #[new]
    #[pyo3(signature = (vocab_size, hidden_size=256, num_layers=1, embed_size=None, nonlinearity="tanh", seed=0, dtype="float32", init="uniform"))]
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
    ) -> PyResult<Self> {
        let config = LmConfig {
            vocab_size: size("vocab_size", vocab_size)?,
            hidden_size: size("hidden_size", hidden_size)?,
            num_layers: size("num_layers", num_layers)?,
            embed_size: embed_size.map(|e| size("embed_size", e)).transpose()?,
            nonlinearity: Nonlinearity::parse(nonlinearity).py()?,
        };
        let init = Init::parse(init).py()?;
        let inner = match Dtype::parse(dtype).py()? {
            Dtype::F32 => Model::F32(LanguageModel::new(config, init, seed).py()?),
            Dtype::F64 => Model::F64(LanguageModel::new(config, init, seed).py()?),
        };
        Ok(PyLanguageModel { inner })
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
        dispatch!(&self.inner, lm => logits(py, lm, inputs, state))
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
        dispatch!(&self.inner, lm => loss_and_grads(py, lm, inputs, targets, mask, state))
    }

    /// `{name: ndarray}`: `embedding.weight`, `rnn.weight_ih_l0`, ..., `output.weight`, `output.bias`.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dispatch!(&self.inner, lm => convert::state_dict(py, lm))
    }

    /// Replaces all parameters; names, shapes and dtypes must match exactly.
    fn load_state_dict(&mut self, state_dict: &Bound<'_, PyDict>) -> PyResult<()> {
        dispatch!(&mut self.inner, lm => convert::load_state_dict(lm, state_dict))
    }

    #[getter]
    fn vocab_size(&self) -> usize {
        dispatch!(&self.inner, lm => lm.config().vocab_size)
    }

    #[getter]
    fn hidden_size(&self) -> usize {
        dispatch!(&self.inner, lm => lm.config().hidden_size)
    }

    #[getter]
    fn num_layers(&self) -> usize {
        dispatch!(&self.inner, lm => lm.config().num_layers)
    }

    #[getter]
    fn embed_size(&self) -> Option<usize> {
        dispatch!(&self.inner, lm => lm.config().embed_size)
    }

    #[getter]
    fn nonlinearity(&self) -> &'static str {
        dispatch!(&self.inner, lm => lm.config().nonlinearity.name())
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.dtype().name()
    }
}
