//! The one error type of the crate. Every variant carries the numbers a caller needs to fix
//! the call; the Python bindings map each variant to a specific Python exception.

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong in seqrnn. No public function panics on caller input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An array has the wrong shape.
    #[error("{what}: expected shape {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// Which argument or tensor.
        what: String,
        /// The shape that was expected.
        expected: Vec<usize>,
        /// The shape that came.
        got: Vec<usize>,
    },
    /// A token id outside `0..vocab_size`.
    #[error("{what}: token id {id} is out of range for a vocabulary of size {vocab_size}")]
    TokenOutOfRange {
        /// Which argument.
        what: String,
        /// The offending id.
        id: i64,
        /// The size of the vocabulary (valid ids are `0..vocab_size`).
        vocab_size: usize,
    },
    /// A scalar argument outside its domain (a size of zero, a negative rate, NaN, ...).
    #[error("{what} must be {expected}, got {got}")]
    InvalidArgument {
        /// Which argument.
        what: String,
        /// What would have been accepted.
        expected: String,
        /// What came, formatted.
        got: String,
    },
    /// A tensor of the wrong element type (float32 where float64 was expected, ...).
    #[error("{what}: expected dtype {expected}, got {got}")]
    DtypeMismatch {
        /// Which tensor.
        what: String,
        /// The expected dtype name.
        expected: String,
        /// The dtype that came.
        got: String,
    },
    /// A state-dict key the model does not have.
    #[error("unexpected parameter {name:?}; expected one of {expected:?}")]
    UnknownParameter {
        /// The unknown key.
        name: String,
        /// The keys the model has.
        expected: Vec<String>,
    },
    /// A state-dict key the model needs but that is absent.
    #[error("missing parameter {name:?}")]
    MissingParameter {
        /// The missing key.
        name: String,
    },
    /// A loss, gradient or updated parameter became NaN or infinite; training stopped before
    /// the update, so the model keeps its last finite parameters.
    #[error(
        "non-finite {what} at epoch {epoch}, minibatch {batch} (optimizer step {step}); \
         the model keeps its parameters from before this step"
    )]
    NonFinite {
        /// "loss", "gradient" or "parameters after the update".
        what: String,
        /// Epoch (1-based) at which it happened.
        epoch: u64,
        /// Minibatch of that epoch (1-based).
        batch: usize,
        /// Optimizer step (1-based) at which it happened.
        step: u64,
    },
    /// A data file that holds fewer items than were asked for.
    #[error("{path} holds {got} {what}, fewer than the {wanted} asked for")]
    NotEnoughData {
        /// The file.
        path: String,
        /// What its items are ("pairs").
        what: String,
        /// How many it holds.
        got: usize,
        /// How many were asked for.
        wanted: usize,
    },
    /// A checkpoint file that is malformed, truncated or of another model.
    #[error("invalid checkpoint: {0}")]
    Checkpoint(String),
    /// Memory for a request could not be had.
    #[error("cannot allocate {bytes} bytes for {what}")]
    OutOfMemory {
        /// What the memory was for.
        what: String,
        /// How many bytes were requested.
        bytes: u128,
    },
    /// The hook of [`crate::interrupt::with_hook`] asked a long call to stop (Ctrl-C, say).
    /// The call changed nothing its caller owns: models are as they were, and a
    /// [`crate::Stream`] holds the state after the last token it fed. Without a hook installed
    /// no call returns this.
    #[error("interrupted")]
    Interrupted,
    /// An operating-system error while reading or writing a file.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

impl Error {
    /// Shorthand for [`Error::InvalidArgument`].
    pub fn invalid(
        what: impl Into<String>,
        expected: impl Into<String>,
        got: impl std::fmt::Display,
    ) -> Self {
        Error::InvalidArgument {
            what: what.into(),
            expected: expected.into(),
            got: got.to_string(),
        }
    }

    /// Shorthand for [`Error::ShapeMismatch`].
    pub fn shape(what: impl Into<String>, expected: &[usize], got: &[usize]) -> Self {
        Error::ShapeMismatch {
            what: what.into(),
            expected: expected.to_vec(),
            got: got.to_vec(),
        }
    }
}

/// Fails with [`Error::ShapeMismatch`] unless `got == expected`.
pub fn check_shape(what: &str, expected: &[usize], got: &[usize]) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::shape(what, expected, got))
    }
}

/// Fails with [`Error::InvalidArgument`] unless `value >= 1`.
pub fn check_positive(what: &str, value: usize) -> Result<()> {
    if value == 0 {
        Err(Error::invalid(what, "at least 1", value))
    } else {
        Ok(())
    }
}

/// Fails unless `value` is finite and `value > 0` (learning rates, clipping thresholds).
pub fn check_positive_finite(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(what, "a finite number > 0", value))
    }
}

/// Fails unless `value` is finite and `value >= 0` (weight decay, momentum, temperature).
pub fn check_non_negative_finite(what: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(what, "a finite number >= 0", value))
    }
}
