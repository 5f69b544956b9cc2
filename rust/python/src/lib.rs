//! Python bindings of seqrnn: extract and validate inputs, copy them, run the core with the
//! GIL released, convert results, map errors. No arithmetic lives here.

mod convert;
mod errors;
mod lm;
mod rnn;
mod seq2seq;
mod stream;
mod train;
mod vocab;

use pyo3::prelude::*;

/// A model in one of the two element types.
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
fn set_num_threads(n: usize) {
    seqrnn::linalg::set_num_threads(n);
}

/// The number of threads matrix products may use.
#[pyfunction]
fn get_num_threads() -> usize {
    seqrnn::linalg::num_threads()
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_class::<rnn::PyRnn>()?;
    m.add_class::<lm::PyLanguageModel>()?;
    m.add_class::<stream::PyStream>()?;
    m.add_class::<seq2seq::PySeq2Seq>()?;
    m.add_class::<seq2seq::PySeq2SeqTrainer>()?;
    m.add_class::<train::PyTrainer>()?;
    m.add_function(wrap_pyfunction!(train::batches, m)?)?;
    m.add_class::<vocab::PyVocab>()?;
    m.add_function(wrap_pyfunction!(vocab::tokenize, m)?)?;
    m.add_function(wrap_pyfunction!(vocab::preprocess_d2l, m)?)?;
    Ok(())
}
