//! `seqrnn._core`'s data pipeline: d2l's translation pairs (`preprocess_nmt`, `tokenize_nmt`,
//! `encode_source`, `translation_data`, `load_translation_data`) and the minibatches of a
//! token-id corpus, made one at a time (`CorpusBatches`).

use crate::convert::{self, ids_to_numpy, size};
use crate::errors::IntoPyResult;
use crate::vocab::PyVocab;
use ndarray::Array1;
use pyo3::prelude::*;
use pyo3::types::PyString;
use seqrnn::data::{epoch_starts, gather, Sampling};
use seqrnn::pairs::{self, PairOptions, TranslationData, VocabFrom};
use std::ops::Range;
use std::path::PathBuf;

/// d2l 1.0's `MTFraEng._preprocess`: no-break spaces become spaces, the text is lower-cased,
/// and a space goes before every `,` `.` `!` `?` that follows anything but a space.
#[pyfunction]
pub fn preprocess_nmt(py: Python<'_>, text: &str) -> PyResult<String> {
    crate::detach_interruptible(py, || pairs::preprocess_nmt(text))
}

/// Word tokens `(sources, targets)` of the first two tab-separated columns of each line of
/// `text_or_lines` (a str, or a list of lines) that has them, at most `num_examples` pairs.
#[pyfunction]
#[pyo3(signature = (text_or_lines, num_examples=None))]
pub fn tokenize_nmt(
    py: Python<'_>,
    text_or_lines: &Bound<'_, PyAny>,
    num_examples: Option<i64>,
) -> PyResult<pairs::Tokenized> {
    let limit = num_examples.map(|n| size("num_examples", n)).transpose()?;
    if let Ok(text) = text_or_lines.cast::<PyString>() {
        let text = text.to_str()?;
        return crate::detach_interruptible(py, || {
            pairs::tokenize_nmt(&pairs::parse_pairs(text, limit)?)
        });
    }
    let lines = convert::strings(text_or_lines, "lines")?;
    crate::detach_interruptible(py, || {
        let lines = lines.iter().map(String::as_str);
        pairs::tokenize_nmt(&pairs::pairs_of_lines(lines, limit)?)
    })
}

/// Source ids `(n, num_steps)` and valid lengths `(n,)` (int64) of `n` sentences, d2l's rows
/// (`tokens + [<eos>]` cut or padded), preprocessed first if `preprocess`.
#[pyfunction]
pub fn encode_source<'py>(
    py: Python<'py>,
    sentences: &Bound<'py, PyAny>,
    vocab: &Bound<'py, PyVocab>,
    num_steps: i64,
    preprocess: bool,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let sentences = convert::strings(sentences, "sentences")?;
    let num_steps = size("num_steps", num_steps)?;
    let vocab = vocab.get().vocab();
    let (ids, lens) = crate::detach_interruptible(py, || {
        pairs::encode_source(&sentences, vocab, num_steps, preprocess)
    })?;
    Ok((
        ids_to_numpy(py, "ids", ids)?,
        ids_to_numpy(py, "valid lengths", Array1::from(lens))?,
    ))
}

/// A `TranslationData` as Python builds its dataclass from it: `(src_vocab, tgt_vocab, (src,
/// tgt_in, tgt_out, src_valid_len, tgt_valid_len), pairs, (train start, end), (valid start,
/// end))`.
type Made<'py> = (
    PyVocab,
    PyVocab,
    [Bound<'py, PyAny>; 5],
    Vec<(String, String)>,
    (usize, usize),
    (usize, usize),
);

/// d2l's rows, vocabularies and split of `(source, target)` sentence pairs (see
/// `seqrnn::pairs`): the last `num_valid` pairs validate, the vocabularies count the padded
/// rows of the training pairs (`vocab_from="all"`: of every pair).
#[pyfunction]
#[pyo3(signature = (pairs, num_steps, min_freq=0, num_valid=0, vocab_from="train", preprocess=true))]
pub fn translation_data<'py>(
    py: Python<'py>,
    pairs: &Bound<'py, PyAny>,
    num_steps: i64,
    min_freq: i64,
    num_valid: i64,
    vocab_from: &str,
    preprocess: bool,
) -> PyResult<Made<'py>> {
    let options = options(num_steps, min_freq, num_valid, vocab_from, preprocess)?;
    let pairs = convert::string_pairs(pairs, "pairs")?;
    let data = crate::detach_interruptible(py, || TranslationData::new(&pairs, &options))?;
    made(py, data)
}

/// `translation_data` of the first `num_pairs` pairs of a file (all when None), read until
/// that many are found; `ValueError` if it holds fewer.
#[pyfunction]
#[pyo3(signature = (path, num_pairs=None, num_steps=9, min_freq=2, num_valid=0, vocab_from="train"))]
pub fn load_translation_data<'py>(
    py: Python<'py>,
    path: PathBuf,
    num_pairs: Option<i64>,
    num_steps: i64,
    min_freq: i64,
    num_valid: i64,
    vocab_from: &str,
) -> PyResult<Made<'py>> {
    let options = options(num_steps, min_freq, num_valid, vocab_from, true)?;
    let num_pairs = num_pairs.map(|n| size("num_pairs", n)).transpose()?;
    let data =
        crate::detach_interruptible(py, || TranslationData::load(&path, num_pairs, &options))?;
    made(py, data)
}

fn options(
    num_steps: i64,
    min_freq: i64,
    num_valid: i64,
    vocab_from: &str,
    preprocess: bool,
) -> PyResult<PairOptions> {
    Ok(PairOptions {
        num_steps: size("num_steps", num_steps)?,
        min_freq: convert::count("min_freq", min_freq)?,
        num_valid: convert::count("num_valid", num_valid)?,
        vocab_from: VocabFrom::parse(vocab_from).py()?,
        preprocess,
    })
}

fn made(py: Python<'_>, data: TranslationData) -> PyResult<Made<'_>> {
    let ends = |r: Range<usize>| (r.start, r.end);
    let ids = data.ids;
    let arrays = [
        ids_to_numpy(py, "src", ids.src)?,
        ids_to_numpy(py, "tgt_in", ids.tgt_in)?,
        ids_to_numpy(py, "tgt_out", ids.tgt_out)?,
        ids_to_numpy(py, "src_valid_len", Array1::from(ids.src_len))?,
        ids_to_numpy(py, "tgt_valid_len", Array1::from(ids.tgt_len))?,
    ];
    let (train, valid) = (ends(data.train), ends(data.valid));
    let vocabs = (PyVocab::from(data.src_vocab), PyVocab::from(data.tgt_vocab));
    Ok((vocabs.0, vocabs.1, arrays, data.sentences, train, valid))
}

/// Minibatches `(X, Y)` of a token-id corpus, each `(batch_size, num_steps)` int64 with `Y` the
/// next tokens of `X`, made one at a time from the plan of one epoch: the minibatches that
/// `seqrnn::data::epoch_batches` gives for `seed`, in order (with `"windows"` sampling the last
/// may be smaller). The corpus is copied once.
#[pyclass(name = "CorpusBatches", module = "seqrnn._core")]
pub struct PyCorpusBatches {
    corpus: Vec<usize>,
    starts: Vec<usize>,
    batch_size: usize,
    num_steps: usize,
    next: usize,
}

#[pymethods]
impl PyCorpusBatches {
    #[new]
    #[pyo3(signature = (corpus, batch_size, num_steps, sampling="random", seed=0))]
    fn new(
        py: Python<'_>,
        corpus: &Bound<'_, PyAny>,
        batch_size: i64,
        num_steps: i64,
        sampling: &str,
        seed: u64,
    ) -> PyResult<Self> {
        let corpus = convert::ids_vec(corpus, "corpus", usize::MAX)?;
        let (batch_size, num_steps) = (
            size("batch_size", batch_size)?,
            size("num_steps", num_steps)?,
        );
        let sampling = Sampling::parse(sampling).py()?;
        let mut rng = seqrnn::init::rng(seed);
        let starts = crate::detach_interruptible(py, || {
            epoch_starts(corpus.len(), batch_size, num_steps, sampling, &mut rng)
        })?;
        Ok(PyCorpusBatches {
            corpus,
            starts,
            batch_size,
            num_steps,
            next: 0,
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(
        &mut self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
        let start = self.next;
        let end = self.starts.len().min(start.saturating_add(self.batch_size));
        if start >= end {
            return Ok(None);
        }
        self.next = end;
        let (corpus, rows, num_steps) = (&self.corpus, &self.starts[start..end], self.num_steps);
        let (x, y) = crate::detach_interruptible(py, || gather(corpus, rows, num_steps))?;
        // (steps, rows) -> batch-first (rows, steps)
        let x = ids_to_numpy(py, "X", x.reversed_axes())?;
        Ok(Some((x, ids_to_numpy(py, "Y", y.reversed_axes())?)))
    }

    /// Minibatches not yet returned.
    fn __len__(&self) -> usize {
        (self.starts.len() - self.next).div_ceil(self.batch_size)
    }
}
