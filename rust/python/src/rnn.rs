//! `seqrnn._core.RNN`: the multi-layer RNN on time-major numpy arrays.

use crate::convert::{self, size};
use crate::errors::IntoPyResult;
use crate::{dispatch, Model};
use ndarray::{Array3, Ix3};
use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use seqrnn::{Dtype, Float, Init, Nonlinearity, Rnn, RnnConfig, RnnInput};
use std::collections::HashMap;

/// Multi-layer Elman RNN (time-major; the Python class `seqrnn.RNN` adds batch_first).
#[pyclass(name = "RNN", module = "seqrnn._core")]
pub struct PyRnn {
    inner: Model<Rnn<f32>, Rnn<f64>>,
}

type Forward<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>);
type Backward<'py> = (Bound<'py, PyDict>, Bound<'py, PyAny>, Bound<'py, PyAny>);

fn forward<'py, T: Float + Element>(
    py: Python<'py>,
    rnn: &Rnn<T>,
    x: &Bound<'py, PyAny>,
    h0: Option<&Bound<'py, PyAny>>,
    lens: Option<&Bound<'py, PyAny>>,
) -> PyResult<Forward<'py>> {
    let x = convert::floats_nd::<T, Ix3>(x, "input")?;
    let h0 = convert::state::<T>(h0, "h0")?;
    let lens = convert::lengths(lens)?;
    let (out, h_n) = crate::detach_interruptible(py, || {
        let cache = rnn.forward(
            RnnInput::Dense(x),
            h0.as_ref().map(|h| h.view()),
            lens.as_deref(),
        )?;
        Ok((cache.output(), cache.h_n()))
    })?;
    Ok((convert::to_numpy(py, out), convert::to_numpy(py, h_n)))
}

#[allow(clippy::too_many_arguments)]
fn backward<'py, T: Float + Element>(
    py: Python<'py>,
    rnn: &Rnn<T>,
    x: &Bound<'py, PyAny>,
    d_output: &Bound<'py, PyAny>,
    h0: Option<&Bound<'py, PyAny>>,
    d_h_n: Option<&Bound<'py, PyAny>>,
    lens: Option<&Bound<'py, PyAny>>,
) -> PyResult<Backward<'py>> {
    let x = convert::floats_nd::<T, Ix3>(x, "input")?;
    let d_output = convert::floats_nd::<T, Ix3>(d_output, "d_output")?;
    let h0 = convert::state::<T>(h0, "h0")?;
    let d_h_n = convert::state::<T>(d_h_n, "d_h_n")?;
    let lens = convert::lengths(lens)?;
    let g = crate::detach_interruptible(py, || {
        let cache = rnn.forward(
            RnnInput::Dense(x),
            h0.as_ref().map(|h| h.view()),
            lens.as_deref(),
        )?;
        rnn.backward(
            &cache,
            Some(d_output.view()),
            d_h_n.as_ref().map(|d| d.view()),
        )
    })?;
    let d_x = g.input.unwrap_or_else(|| Array3::zeros((0, 0, 0)));
    Ok((
        convert::state_dict(py, &g.params)?,
        convert::to_numpy(py, d_x),
        convert::to_numpy(py, g.h0),
    ))
}

#[pymethods]
impl PyRnn {
    #[new]
    #[pyo3(signature = (input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=true, seed=0, dtype="float32", init="uniform", dropout=0.0))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        input_size: i64,
        hidden_size: i64,
        num_layers: i64,
        nonlinearity: &str,
        bias: bool,
        seed: u64,
        dtype: &str,
        init: &str,
        dropout: f64,
    ) -> PyResult<Self> {
        let config = RnnConfig {
            input_size: size("input_size", input_size)?,
            hidden_size: size("hidden_size", hidden_size)?,
            num_layers: size("num_layers", num_layers)?,
            nonlinearity: Nonlinearity::parse(nonlinearity).py()?,
            bias,
            dropout,
        };
        let init = Init::parse(init).py()?;
        let inner = match Dtype::parse(dtype).py()? {
            Dtype::F32 => Model::F32(Rnn::new(config, init, seed).py()?),
            Dtype::F64 => Model::F64(Rnn::new(config, init, seed).py()?),
        };
        Ok(PyRnn { inner })
    }

    /// Runs the RNN. Shapes: `x` (steps, batch, input_size), `h0` (num_layers, batch, hidden),
    /// `lengths` (batch,) -> (output (steps, batch, hidden), h_n (num_layers, batch, hidden)).
    #[pyo3(signature = (x, h0=None, lengths=None))]
    fn forward<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        h0: Option<&Bound<'py, PyAny>>,
        lengths: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Forward<'py>> {
        dispatch!(&self.inner, rnn => forward(py, rnn, x, h0, lengths))
    }

    /// Gradients of `sum(output * d_output) + sum(h_n * d_h_n)`: (parameter gradients keyed like
    /// `state_dict()`, d_x (steps, batch, input_size), d_h0 (num_layers, batch, hidden)).
    #[pyo3(signature = (x, d_output, h0=None, d_h_n=None, lengths=None))]
    fn backward<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        d_output: &Bound<'py, PyAny>,
        h0: Option<&Bound<'py, PyAny>>,
        d_h_n: Option<&Bound<'py, PyAny>>,
        lengths: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Backward<'py>> {
        dispatch!(&self.inner, rnn => backward(py, rnn, x, d_output, h0, d_h_n, lengths))
    }

    /// `{name: ndarray}` with PyTorch's names and shapes (copies).
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dispatch!(&self.inner, rnn => convert::state_dict(py, rnn))
    }

    /// Replaces all parameters; names, shapes and dtypes must match exactly.
    fn load_state_dict(&mut self, state_dict: &Bound<'_, PyDict>) -> PyResult<()> {
        dispatch!(&mut self.inner, rnn => convert::load_state_dict(rnn, state_dict))
    }

    /// Safetensors bytes with the parameters, configuration and `metadata`.
    fn to_bytes<'py>(
        &self,
        py: Python<'py>,
        metadata: HashMap<String, String>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        dispatch!(&self.inner, rnn => crate::py_bytes(py, || rnn.to_bytes(metadata)))
    }

    /// Reads `to_bytes` output: `(rnn, metadata)`; the dtype is the one recorded.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<(Self, HashMap<String, String>)> {
        let (inner, meta) = crate::py_model_from_bytes(py, data, Rnn::from_bytes, Rnn::from_bytes)?;
        Ok((PyRnn { inner }, meta))
    }

    #[getter]
    fn input_size(&self) -> usize {
        dispatch!(&self.inner, rnn => rnn.config().input_size)
    }

    #[getter]
    fn hidden_size(&self) -> usize {
        dispatch!(&self.inner, rnn => rnn.config().hidden_size)
    }

    #[getter]
    fn num_layers(&self) -> usize {
        dispatch!(&self.inner, rnn => rnn.config().num_layers)
    }

    #[getter]
    fn nonlinearity(&self) -> &'static str {
        dispatch!(&self.inner, rnn => rnn.config().nonlinearity.name())
    }

    #[getter]
    fn dropout(&self) -> f64 {
        dispatch!(&self.inner, rnn => rnn.config().dropout)
    }

    #[getter]
    fn bias(&self) -> bool {
        dispatch!(&self.inner, rnn => rnn.config().bias)
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.dtype().name()
    }
}
