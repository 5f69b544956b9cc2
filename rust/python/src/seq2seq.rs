//! `seqrnn._core.Seq2Seq`: batch-first numpy, time-major core.

use crate::convert::{self, size};
use crate::errors::IntoPyResult;
use crate::{dispatch, Model};
use ndarray::{Array2, Ix2};
use numpy::Element;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use seqrnn::seq2seq::Batch;
use seqrnn::{
    Attention, Context, DecodeConfig, Dtype, Float, Init, PairSet, Seq2Seq, Seq2SeqConfig,
};
use std::collections::HashMap;
use std::path::PathBuf;

/// RNN encoder-decoder.
#[pyclass(name = "Seq2Seq", module = "seqrnn._core")]
pub struct PySeq2Seq {
    pub(crate) inner: crate::Shared<Model<Seq2Seq<f32>, Seq2Seq<f64>>>,
}

/// Batch-first `(batch, steps)` ids and lengths, as the core's owned pair set.
pub(crate) fn pair_set(
    cfg: &Seq2SeqConfig,
    src: &Bound<'_, PyAny>,
    src_len: &Bound<'_, PyAny>,
    tgt_in: &Bound<'_, PyAny>,
    tgt_out: &Bound<'_, PyAny>,
    tgt_len: &Bound<'_, PyAny>,
) -> PyResult<PairSet> {
    let lens = |o: &Bound<'_, PyAny>, what: &str| -> PyResult<Vec<usize>> {
        convert::lengths(Some(o))
            .map(|l| l.unwrap_or_default())
            .map_err(|e| {
                let msg = e.value(o.py()).to_string().replacen("lengths", what, 1);
                if e.is_instance_of::<PyTypeError>(o.py()) {
                    PyTypeError::new_err(msg)
                } else {
                    PyValueError::new_err(msg)
                }
            })
    };
    let set = PairSet {
        src: convert::ids::<Ix2>(src, "src", cfg.src_vocab_size)?,
        src_len: lens(src_len, "src_valid_len")?,
        tgt_in: convert::ids::<Ix2>(tgt_in, "tgt_in", cfg.tgt_vocab_size)?,
        tgt_out: convert::ids::<Ix2>(tgt_out, "tgt_out", cfg.tgt_vocab_size)?,
        tgt_len: lens(tgt_len, "tgt_valid_len")?,
    };
    set.validate().py()?;
    Ok(set)
}

fn decode_config(
    bos: i64,
    eos: i64,
    max_len: i64,
    beam_size: i64,
    alpha: f64,
) -> PyResult<DecodeConfig> {
    Ok(DecodeConfig {
        bos: usize::try_from(bos)
            .map_err(|_| PyValueError::new_err(format!("bos must be >= 0, got {bos}")))?,
        eos: usize::try_from(eos)
            .map_err(|_| PyValueError::new_err(format!("eos must be >= 0, got {eos}")))?,
        max_len: size("max_len", max_len)?,
        beam_size: size("beam_size", beam_size)?,
        alpha,
    })
}

/// `(encoder states, decoder states, logits, tokens)` of [`seqrnn::GreedySteps`].
type GreedySteps<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Vec<usize>,
    Option<Bound<'py, PyAny>>,
);

/// `f` of all the pairs of `set` as one batch.
fn whole<R>(set: &PairSet, f: impl FnOnce(&Batch<'_>) -> R) -> R {
    let rows: Vec<usize> = (0..set.len()).collect();
    let (src, src_len, tgt_in, tgt_out, tgt_len) = set.gather(&rows);
    f(&Batch {
        src: src.view(),
        src_len: &src_len,
        tgt_in: tgt_in.view(),
        tgt_out: tgt_out.view(),
        tgt_len: &tgt_len,
    })
}

fn loss_and_grads<'py, T: Float + Element>(
    py: Python<'py>,
    m: &Seq2Seq<T>,
    set: &PairSet,
) -> PyResult<(f64, Bound<'py, PyDict>, usize)> {
    let step = whole(set, |batch| {
        crate::detach_interruptible(py, || m.loss_and_grads(batch))
    })?;
    Ok((
        step.loss.to_f64_lossless(),
        convert::state_dict(py, &step.grads)?,
        step.tokens,
    ))
}

#[pymethods]
impl PySeq2Seq {
    #[new]
    #[pyo3(signature = (src_vocab_size, tgt_vocab_size, embed_size=256, hidden_size=256, num_layers=2, context="concat", seed=0, dtype="float32", init="orthogonal", dropout=0.0, attention="none"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        src_vocab_size: i64,
        tgt_vocab_size: i64,
        embed_size: i64,
        hidden_size: i64,
        num_layers: i64,
        context: &str,
        seed: u64,
        dtype: &str,
        init: &str,
        dropout: f64,
        attention: &str,
    ) -> PyResult<Self> {
        let config = Seq2SeqConfig {
            src_vocab_size: size("src_vocab_size", src_vocab_size)?,
            tgt_vocab_size: size("tgt_vocab_size", tgt_vocab_size)?,
            embed_size: size("embed_size", embed_size)?,
            hidden_size: size("hidden_size", hidden_size)?,
            num_layers: size("num_layers", num_layers)?,
            context: Context::parse(context).py()?,
            dropout,
            attention: Attention::parse(attention).py()?,
        };
        let init = Init::parse(init).py()?;
        let inner = match Dtype::parse(dtype).py()? {
            Dtype::F32 => Model::F32(Seq2Seq::new(config, init, seed).py()?),
            Dtype::F64 => Model::F64(Seq2Seq::new(config, init, seed).py()?),
        };
        Ok(PySeq2Seq {
            inner: crate::Shared::new(inner),
        })
    }

    /// Mean teacher-forced cross-entropy over the valid target tokens and their number,
    /// without gradients (no dropout): `(loss, tokens)`.
    fn loss(
        &self,
        py: Python<'_>,
        src: &Bound<'_, PyAny>,
        src_valid_len: &Bound<'_, PyAny>,
        tgt_in: &Bound<'_, PyAny>,
        tgt_out: &Bound<'_, PyAny>,
        tgt_valid_len: &Bound<'_, PyAny>,
    ) -> PyResult<(f64, usize)> {
        dispatch!(&*self.inner.get(), m => {
            let set = pair_set(m.config(), src, src_valid_len, tgt_in, tgt_out, tgt_valid_len)?;
            let (loss, tokens) =
                whole(&set, |batch| crate::detach_interruptible(py, || m.loss(batch)))?;
            Ok((loss.to_f64_lossless(), tokens))
        })
    }

    /// Teacher-forced mean cross-entropy over valid target tokens and every gradient.
    /// Shapes: `src` (batch, src_steps), `tgt_in`/`tgt_out` (batch, tgt_steps), lengths (batch,)
    /// -> (loss, {name: gradient}, number of valid target tokens).
    fn loss_and_grads<'py>(
        &self,
        py: Python<'py>,
        src: &Bound<'py, PyAny>,
        src_valid_len: &Bound<'py, PyAny>,
        tgt_in: &Bound<'py, PyAny>,
        tgt_out: &Bound<'py, PyAny>,
        tgt_valid_len: &Bound<'py, PyAny>,
    ) -> PyResult<(f64, Bound<'py, PyDict>, usize)> {
        dispatch!(&*self.inner.get(), m => {
            let set = pair_set(m.config(), src, src_valid_len, tgt_in, tgt_out, tgt_valid_len)?;
            loss_and_grads(py, m, &set)
        })
    }

    /// Greedy (`beam_size=1`) or beam-search translations of `src` (batch, src_steps):
    /// a list of `(tokens, log_prob, score)`.
    #[pyo3(signature = (src, src_valid_len, bos, eos, max_len, beam_size=1, alpha=0.75))]
    #[allow(clippy::too_many_arguments)]
    fn decode(
        &self,
        py: Python<'_>,
        src: &Bound<'_, PyAny>,
        src_valid_len: &Bound<'_, PyAny>,
        bos: i64,
        eos: i64,
        max_len: i64,
        beam_size: i64,
        alpha: f64,
    ) -> PyResult<Vec<(Vec<usize>, f64, f64)>> {
        let cfg = decode_config(bos, eos, max_len, beam_size, alpha)?;
        let lens = convert::lengths(Some(src_valid_len))?.unwrap_or_default();
        dispatch!(&*self.inner.get(), m => {
            let src: Array2<usize> = convert::ids::<Ix2>(src, "src", m.config().src_vocab_size)?;
            let src = src.reversed_axes().as_standard_layout().into_owned(); // (steps, batch)
            let hyps = crate::detach_interruptible(py, || m.beam_search(src.view(), &lens, cfg))?;
            Ok(hyps.into_iter().map(|h| (h.tokens, h.log_prob, h.score)).collect())
        })
    }

    /// Greedy translation of one sentence `src` (src_steps,) keeping every step:
    /// (encoder states (src_steps, hidden), decoder states (out_steps, hidden),
    /// logits (out_steps, tgt_vocab), tokens incl. a final `<eos>`, attention weights
    /// (out_steps, src_steps) or None), top layer.
    fn greedy_steps<'py>(
        &self,
        py: Python<'py>,
        src: &Bound<'py, PyAny>,
        bos: i64,
        eos: i64,
        max_len: i64,
    ) -> PyResult<GreedySteps<'py>> {
        let cfg = decode_config(bos, eos, max_len, 1, 0.0)?;
        dispatch!(&*self.inner.get(), m => {
            let src = convert::ids_vec(src, "src", m.config().src_vocab_size)?;
            let s = crate::detach_interruptible(py, || m.greedy_steps(&src, cfg))?;
            let states = (convert::to_numpy(py, s.encoder_states), convert::to_numpy(py, s.decoder_states));
            let attention = s.attention.map(|a| convert::to_numpy(py, a));
            Ok((states.0, states.1, convert::to_numpy(py, s.logits), s.tokens, attention))
        })
    }

    /// `{name: ndarray}` with `encoder.*` and `decoder.*` names.
    fn state_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        dispatch!(&*self.inner.get(), m => convert::state_dict(py, m))
    }

    /// Replaces all parameters; names, shapes and dtypes must match exactly.
    fn load_state_dict(&self, state_dict: &Bound<'_, PyDict>) -> PyResult<()> {
        self.inner
            .update(|model| dispatch!(model, m => convert::load_state_dict(m, state_dict)))
    }

    /// Writes one safetensors file atomically with `metadata` added.
    fn save(
        &self,
        py: Python<'_>,
        path: PathBuf,
        metadata: HashMap<String, String>,
    ) -> PyResult<()> {
        dispatch!(&*self.inner.get(), m => py.detach(|| m.save(&path, metadata)).py())
    }

    /// Reads a checkpoint: `(model, metadata)`.
    #[staticmethod]
    fn load(py: Python<'_>, path: PathBuf) -> PyResult<(Self, HashMap<String, String>)> {
        let (inner, meta) = crate::load_model(py, &path, Seq2Seq::from_bytes, Seq2Seq::from_bytes)?;
        Ok((
            PySeq2Seq {
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
        dispatch!(&*self.inner.get(), m => crate::py_bytes(py, || m.to_bytes(metadata)))
    }

    /// Reads `to_bytes` output: `(model, metadata)`; the dtype is the one recorded.
    #[staticmethod]
    fn from_bytes(py: Python<'_>, data: &[u8]) -> PyResult<(Self, HashMap<String, String>)> {
        let (inner, meta) =
            crate::py_model_from_bytes(py, data, Seq2Seq::from_bytes, Seq2Seq::from_bytes)?;
        let inner = crate::Shared::new(inner);
        Ok((PySeq2Seq { inner }, meta))
    }

    /// `(src_vocab_size, tgt_vocab_size, embed_size, hidden_size, num_layers, context)`.
    #[getter]
    fn config(&self) -> (usize, usize, usize, usize, usize, &'static str) {
        let c = dispatch!(&*self.inner.get(), m => m.config().clone());
        let ctx = match c.context {
            Context::Concat => "concat",
            Context::None => "none",
        };
        (
            c.src_vocab_size,
            c.tgt_vocab_size,
            c.embed_size,
            c.hidden_size,
            c.num_layers,
            ctx,
        )
    }

    #[getter]
    fn dropout(&self) -> f64 {
        dispatch!(&*self.inner.get(), m => m.config().dropout)
    }

    /// `"none"` or `"additive"`.
    #[getter]
    fn attention(&self) -> &'static str {
        match dispatch!(&*self.inner.get(), m => m.config().attention) {
            Attention::None => "none",
            Attention::Additive => "additive",
        }
    }

    #[getter]
    fn dtype(&self) -> &'static str {
        self.inner.get().dtype().name()
    }
}
