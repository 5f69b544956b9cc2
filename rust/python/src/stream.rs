//! `seqrnn._core.Stream`: token-by-token generation with a state kept between calls.

use crate::convert;
use crate::errors::IntoPyResult;
use crate::lm::PyLanguageModel;
use crate::Model;
use ndarray::Ix3;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use seqrnn::Stream;

/// One stream over a language model (batch 1).
#[pyclass(name = "Stream", module = "seqrnn._core")]
pub struct PyStream {
    model: Py<PyLanguageModel>,
    inner: Model<Stream<f32>, Stream<f64>>,
}

fn mismatch() -> PyErr {
    PyTypeError::new_err("stream and model dtypes differ")
}

#[pymethods]
impl PyStream {
    #[new]
    #[pyo3(signature = (model, seed=0))]
    fn new(model: Bound<'_, PyLanguageModel>, seed: u64) -> PyResult<Self> {
        let inner = match &*model.borrow().inner.get() {
            Model::F32(m) => Model::F32(Stream::new(m, seed)),
            Model::F64(m) => Model::F64(Stream::new(m, seed)),
        };
        Ok(PyStream {
            model: model.unbind(),
            inner,
        })
    }

    /// Feeds tokens in order; returns the logits `(vocab,)` of the next token.
    fn feed<'py>(
        &mut self,
        py: Python<'py>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let model = self.model.borrow(py).inner.get();
        let vocab_size = crate::dispatch!(&*model, m => m.config().vocab_size);
        let tokens = convert::ids_vec(tokens, "tokens", vocab_size)?;
        match (&mut self.inner, &*model) {
            (Model::F32(s), Model::F32(m)) => {
                let z = crate::detach_interruptible(py, || Ok(s.feed(m, &tokens)?.to_owned()))?;
                Ok(convert::to_numpy(py, z))
            }
            (Model::F64(s), Model::F64(m)) => {
                let z = crate::detach_interruptible(py, || Ok(s.feed(m, &tokens)?.to_owned()))?;
                Ok(convert::to_numpy(py, z))
            }
            _ => Err(mismatch()),
        }
    }

    /// Samples the next token from the current logits, feeds it, returns it.
    #[pyo3(signature = (temperature=0.0, top_k=None, top_p=None))]
    fn next(
        &mut self,
        py: Python<'_>,
        temperature: f64,
        top_k: Option<i64>,
        top_p: Option<f64>,
    ) -> PyResult<usize> {
        let cfg = convert::sampling(temperature, top_k, top_p)?;
        let model = self.model.borrow(py);
        match (&mut self.inner, &*model.inner.get()) {
            (Model::F32(s), Model::F32(m)) => s.next(m, cfg).py(),
            (Model::F64(s), Model::F64(m)) => s.next(m, cfg).py(),
            _ => Err(mismatch()),
        }
    }

    /// Back to the zero state.
    fn reset(&mut self) {
        crate::dispatch!(&mut self.inner, s => s.reset())
    }

    /// The hidden state `(num_layers, 1, hidden)` (a copy).
    #[getter]
    fn get_state<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        crate::dispatch!(&self.inner, s => convert::to_numpy(py, s.state().clone()))
    }

    /// Replaces the hidden state.
    #[setter]
    fn set_state(&mut self, state: &Bound<'_, PyAny>) -> PyResult<()> {
        crate::dispatch!(&mut self.inner, s => s.set_state(convert::floats_nd::<_, Ix3>(state, "state")?).py())
    }
}
