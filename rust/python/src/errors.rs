//! The one place where core errors become Python exceptions.

use pyo3::exceptions::{
    PyIndexError, PyKeyboardInterrupt, PyMemoryError, PyOSError, PyTypeError, PyValueError,
};
use pyo3::PyErr;
use seqrnn::Error;

pyo3::create_exception!(
    seqrnn._core,
    NonFiniteError,
    PyValueError,
    "Training met a NaN or infinite loss, gradient or parameter update; the message names the \
     epoch and minibatch, and the model keeps its parameters from before that step."
);

/// Maps every core error to a specific Python exception carrying the core's message.
pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    match e {
        Error::TokenOutOfRange { .. } => PyIndexError::new_err(msg),
        Error::DtypeMismatch { .. } => PyTypeError::new_err(msg),
        Error::OutOfMemory { .. } => PyMemoryError::new_err(msg),
        // OSError(errno, strerror, filename) for errors of the OS; the message alone for ours
        // (a target that is no regular file, ...), which have no errno.
        Error::Io { source, path } => match source.raw_os_error() {
            Some(code) => PyOSError::new_err((code, source.to_string(), path)),
            None => PyOSError::new_err(msg),
        },
        Error::NonFinite { .. } => NonFiniteError::new_err(msg),
        // The binding returns the exception Python's signal handler raised; this is the
        // fallback should the core stop without one.
        Error::Interrupted => PyKeyboardInterrupt::new_err(msg),
        Error::ShapeMismatch { .. }
        | Error::InvalidArgument { .. }
        | Error::NotEnoughData { .. }
        | Error::UnknownParameter { .. }
        | Error::MissingParameter { .. }
        | Error::Checkpoint(_) => PyValueError::new_err(msg),
    }
}

/// `Result` conversion: `core_call().map_err(to_py)?` reads as `core_call().py()?`.
pub trait IntoPyResult<T> {
    /// Maps the error with [`to_py`].
    fn py(self) -> pyo3::PyResult<T>;
}

impl<T> IntoPyResult<T> for seqrnn::Result<T> {
    fn py(self) -> pyo3::PyResult<T> {
        self.map_err(to_py)
    }
}
