//! `seqrnn._core.Linear`: the affine map `y = x W^T + b` on `(n, in_features)` numpy arrays.

use crate::convert::{self, size};
use crate::errors::IntoPyResult;
use crate::{dispatch, Model};
use ndarray::Ix2;
use numpy::Element;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use seqrnn::{Dtype, Float, Init, Linear};
use std::collections::HashMap;

/// `torch.nn.Linear`'s layer (the Python class `seqrnn.Linear` adds any leading dimensions).
#[pyclass(name = "Linear", module = "seqrnn._core")]
pub struct PyLinear {
    inner: Model<Linear<f32>, Linear<f64>>,
}

fn forward<'py, T: Float + Element>(
    py: Python<'py>,
    layer: &Linear<T>,
    x: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let x = convert::floats_nd::<T, Ix2>(x, "input")?; // (n, in)
    let y = py.detach(|| layer.forward(x.view())).py()?; // (n, out)
    Ok(convert::to_numpy(py, y))
}

fn backward<'py, T: Float + Element>(
    py: Python<'py>,
    layer: &Linear<T>,
    x: &Bound<'py, PyAny>,
    d_output: &Bound<'py, PyAny>,
) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyAny>)> {
    let x = convert::floats_nd::<T, Ix2>(x, "input")?; // (n, in)
    let dy = convert::floats_nd::<T, Ix2>(d_output, "d_output")?; // (n, out)
    let (grads, dx) = py.detach(|| layer.backward(x.view(), dy.view())).py()?;
    Ok((convert::state_dict(py, &grads)?, convert::to_numpy(py, dx)))
}

#[pymethods]
impl PyLinear {
    #[new]
    #[pyo3(signature = (in_features, out_features, bias=true, seed=0, dtype="float32", init="uniform"))]
    fn new(
        in_features: i64,
        out_features: i64,
        bias: bool,
        seed: u64,
        dtype: &str,
        init: &str,
    ) -> PyResult<Self> {
        let (i, o) = (
            size("in_features", in_features)?,
            size("out_features", out_features)?,
        );
        let init = Init::parse(init).py()?;
        let inner = match Dtype::parse(dtype).py()? {
            Dtype::F32 => Model::F32(Linear::new(i, o, bias, init, seed).py()?),
            Dtype::F64 => Model::F64(Linear::new(i, o, bias, init, seed).py()?),
        };
        Ok(PyLinear { inner })
    }

    /// `x W^T + b`. Shapes: `x` (n, in_features) -> (n, out_features).
    fn forward<'py>(&self, py: Python<'py>, x: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        dispatch!(&self.inner, layer => forward(py, layer, x))
    }

    /// Gradients of `sum(output * d_output)`: ({"weight", "bias"}, d_x (n, in_features)).
    fn backward<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        d_output: &Bound<'py, PyAny>,
    ) -> PyResult<(Bound<'py, PyDict>, Bound<'py, PyAny>)> {
        dispatch!(&self.inner, layer => backward(py, layer, x, d_output))
    }

    /// `{"weight": (out, in), "bias": (out,)}` (copies; no "bias" without bias).
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dispatch!(&self.inner, layer => convert::state_dict(py, layer))
    }

    /// Replaces all parameters; names, shapes and dtypes must match exactly.
    fn load_state_dict(&mut self, state_dict: &Bound<'_, PyDict>) -> PyResult<()> {
        dispatch!(&mut self.inner, layer => convert::load_state_dict(layer, state_dict))
    }

    /// Safetensors bytes with the parameters, sizes and `metadata`.
    fn to_bytes<'py>(
        &self,
        py: Python<'py>,
        metadata: HashMap<String, String>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        dispatch!(&self.inner, layer => crate::py_bytes(py, || layer.to_bytes(metadata)))
    }

    /// Reads `to_bytes` output: `(layer, metadata)`; the dtype is the one recorded.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<(Self, HashMap<String, String>)> {
        let (inner, meta) =
            crate::py_model_from_bytes(py, data, Linear::from_bytes, Linear::from_bytes)?;
        Ok((PyLinear { inner }, meta))
    }

    #[getter]
    fn in_features(&self) -> usize {
        dispatch!(&self.inner, layer => layer.in_features())
    }

    #[getter]
    fn out_features(&self) -> usize {
        dispatch!(&self.inner, layer => layer.out_features())
    }

    #[getter]
    fn bias(&self) -> bool {
        dispatch!(&self.inner, layer => layer.bias.is_some())
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.dtype().name()
    }
}
