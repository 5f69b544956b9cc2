//! `seqrnn._core.Vocab`, `tokenize` and `preprocess_d2l`: strings in, ids out.

use crate::convert;
use crate::errors::IntoPyResult;
use ndarray::{Array1, ArrayView1};
use numpy::PyArrayDyn;
use pyo3::prelude::*;
use seqrnn::vocab::{self, Level, Vocab};
use seqrnn::Error;

/// Tokens <-> ids as in d2l 1.0: `<unk>`, the reserved tokens and every token seen at least
/// `min_freq` times, sorted by string; unknown tokens map to `unk`.
#[pyclass(name = "Vocab", module = "seqrnn._core", frozen)]
pub struct PyVocab {
    inner: Vocab,
}

impl From<Vocab> for PyVocab {
    fn from(inner: Vocab) -> Self {
        PyVocab { inner }
    }
}

impl PyVocab {
    /// The core's vocabulary.
    pub(crate) fn vocab(&self) -> &Vocab {
        &self.inner
    }
}

/// Ids from a 1-d int64 array or a sequence of ints; negative or too large -> `IndexError`.
fn ids(obj: &Bound<'_, PyAny>, vocab_size: usize) -> PyResult<Vec<usize>> {
    if obj.cast::<PyArrayDyn<i64>>().is_ok() {
        return convert::ids_vec(obj, "ids", vocab_size);
    }
    let n = obj.len()?;
    let mut raw: Vec<i64> = Vec::new();
    raw.try_reserve_exact(n)
        .map_err(|_| Error::OutOfMemory {
            what: "ids".into(),
            bytes: n as u128 * 8,
        })
        .py()?;
    for item in obj.try_iter()? {
        raw.push(item?.extract::<i64>()?);
    }
    let checked =
        seqrnn::embedding::ids_from_i64("ids", ArrayView1::from(&raw), vocab_size).py()?;
    Ok(checked.into_raw_vec_and_offset().0)
}

#[pymethods]
impl PyVocab {
    #[new]
    #[pyo3(signature = (tokens, min_freq=0, reserved_tokens=None))]
    fn new(
        py: Python<'_>,
        tokens: &Bound<'_, PyAny>,
        min_freq: i64,
        reserved_tokens: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let reserved_tokens = match reserved_tokens {
            Some(r) => convert::strings(r, "reserved_tokens")?,
            None => Vec::new(),
        };
        let min_freq = convert::count("min_freq", min_freq)?;
        let tokens = convert::strings(tokens, "tokens")?;
        let reserved: Vec<&str> = reserved_tokens.iter().map(String::as_str).collect();
        let inner = crate::detach_interruptible(py, || Vocab::new(&tokens, min_freq, &reserved))?;
        Ok(PyVocab { inner })
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// The id of `token`, or `unk` for a token outside the vocabulary.
    fn token_to_id(&self, token: &str) -> usize {
        self.inner.token_to_id(token)
    }

    /// The token of `id`; `IndexError` unless `0 <= id < len(vocab)`.
    fn id_to_token(&self, id: i64) -> PyResult<String> {
        let vocab_size = self.inner.len();
        let id = usize::try_from(id)
            .map_err(|_| Error::TokenOutOfRange {
                what: "id".to_string(),
                id,
                vocab_size,
            })
            .py()?;
        Ok(self.inner.id_to_token(id).py()?.to_string())
    }

    /// Shapes: `(n,)` tokens -> `(n,)` int64 ids.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        tokens: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let tokens = convert::strings(tokens, "tokens")?;
        let ids = crate::detach_interruptible(py, || self.inner.encode(&tokens))?;
        let ids: Array1<i64> = ids.into_iter().map(|i| i as i64).collect();
        Ok(convert::to_numpy(py, ids))
    }

    /// Shapes: `(n,)` ids (int64 array or list of ints) -> `(n,)` tokens.
    fn decode(&self, ids: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
        let ids = self::ids(ids, self.inner.len())?;
        self.inner.decode(&ids).py()
    }

    /// The id of `<unk>`.
    #[getter]
    fn unk(&self) -> usize {
        self.inner.unk()
    }

    /// Tokens in id order.
    #[getter]
    fn idx_to_token(&self) -> Vec<String> {
        self.inner.idx_to_token().to_vec()
    }

    /// `(token, count)` pairs, most frequent first, ties in order of first appearance.
    #[getter]
    fn token_freqs(&self) -> Vec<(String, usize)> {
        self.inner.token_freqs().to_vec()
    }

    /// `{"idx_to_token": [...], "token_freqs": [[token, count], ...]}`.
    fn to_json(&self) -> String {
        self.inner.to_json()
    }

    /// Parses `to_json()`'s output; `ValueError` for malformed JSON, repeated tokens or no `<unk>`.
    #[staticmethod]
    fn from_json(json: &str) -> PyResult<Self> {
        Ok(PyVocab {
            inner: Vocab::from_json(json).py()?,
        })
    }
}

/// Cuts `text` into tokens: `"char"` (every character) or `"word"` (like `str.split()`).
#[pyfunction]
#[pyo3(signature = (text, level="char"))]
pub fn tokenize(py: Python<'_>, text: &str, level: &str) -> PyResult<Vec<String>> {
    let level = Level::parse(level).py()?;
    crate::detach_interruptible(py, || vocab::tokenize(text, level))
}

/// d2l 1.0's `re.sub('[^A-Za-z]+', ' ', text).lower()`.
#[pyfunction]
pub fn preprocess_d2l(py: Python<'_>, text: &str) -> PyResult<String> {
    crate::detach_interruptible(py, || vocab::preprocess_d2l(text))
}
