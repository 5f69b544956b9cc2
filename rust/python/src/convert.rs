//! numpy <-> ndarray conversions. Inputs are copied into owned arrays before the GIL is
//! released, so a caller mutating its array from another thread cannot race the core.

use crate::errors::IntoPyResult;
use ndarray::{Array, ArrayD, Dimension, Ix2, Ix3};
use numpy::{
    Element, IntoPyArray, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString, PyTuple};
use seqrnn::{Float, Parameters};

/// Items copied between two looks at Python's signal handlers in [`strings`].
const SIGNAL_EVERY: usize = 1 << 16;

/// A float array of exactly the model's dtype, copied; `TypeError` names the argument otherwise.
pub fn floats<T: Float + Element>(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<ArrayD<T>> {
    let untyped = obj.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what}: expected a numpy array, got {}",
            type_name(obj)
        ))
    })?;
    let got = untyped.dtype();
    match obj.cast::<PyArrayDyn<T>>() {
        Ok(a) => seqrnn::alloc::map(what, a.readonly().as_array(), |&x| x).py(),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{what}: expected dtype {}, got {got}",
            T::DTYPE.name()
        ))),
    }
}

/// [`floats`] with a fixed number of dimensions.
pub fn floats_nd<T: Float + Element, D: Dimension>(
    obj: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<Array<T, D>> {
    let a = floats::<T>(obj, what)?;
    let ndim = a.ndim();
    a.into_dimensionality::<D>().map_err(|_| {
        PyValueError::new_err(format!(
            "{what}: expected a {}-dimensional array, got {ndim} dimensions",
            D::NDIM.unwrap_or(0)
        ))
    })
}

/// int64 token ids, checked against `vocab_size` (`IndexError` when out of range).
pub fn ids<D: Dimension>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    vocab_size: usize,
) -> PyResult<Array<usize, D>> {
    let a = obj.cast::<PyArrayDyn<i64>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what}: expected an int64 array of token ids, got {}",
            type_name(obj)
        ))
    })?;
    let a = a.readonly();
    let view = a.as_array();
    let ndim = view.ndim();
    let view = view.into_dimensionality::<D>().map_err(|_| {
        PyValueError::new_err(format!(
            "{what}: expected a {}-dimensional array, got {ndim} dimensions",
            D::NDIM.unwrap_or(0)
        ))
    })?;
    seqrnn::embedding::ids_from_i64(what, view, vocab_size).py()
}

/// Ids `(batch, steps)` as numpy gives them -> time-major `(steps, batch)`.
pub fn ids_time_major(
    obj: &Bound<'_, PyAny>,
    what: &str,
    vocab_size: usize,
) -> PyResult<ndarray::Array2<usize>> {
    let a = ids::<Ix2>(obj, what, vocab_size)?;
    seqrnn::alloc::map(what, a.t(), |&x| x).py()
}

/// 1-d ids as a vector (no copy of [`ids`]'s array).
pub fn ids_vec(obj: &Bound<'_, PyAny>, what: &str, vocab_size: usize) -> PyResult<Vec<usize>> {
    Ok(ids::<ndarray::Ix1>(obj, what, vocab_size)?
        .into_raw_vec_and_offset()
        .0)
}

/// A [`seqrnn::SamplingConfig`] from Python's arguments (validated by the core).
pub fn sampling(
    temperature: f64,
    top_k: Option<i64>,
    top_p: Option<f64>,
) -> PyResult<seqrnn::SamplingConfig> {
    let top_k = top_k
        .map(|k| {
            usize::try_from(k).map_err(|_| {
                pyo3::exceptions::PyValueError::new_err(format!(
                    "top_k must be at least 1, got {k}"
                ))
            })
        })
        .transpose()?;
    Ok(seqrnn::SamplingConfig {
        temperature,
        top_k,
        top_p,
    })
}

/// Floats `(batch, steps)` -> `(steps, batch)`.
pub fn floats_time_major2<T: Float + Element>(
    obj: &Bound<'_, PyAny>,
    what: &str,
) -> PyResult<ndarray::Array2<T>> {
    let a = floats_nd::<T, Ix2>(obj, what)?;
    seqrnn::alloc::map(what, a.t(), |&x| x).py()
}

/// Optional `(num_layers, batch, hidden)` state.
pub fn state<T: Float + Element>(
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> PyResult<Option<ndarray::Array3<T>>> {
    obj.map(|o| floats_nd::<T, Ix3>(o, what)).transpose()
}

/// Hands an owned array to numpy without copying.
pub fn to_numpy<'py, T: Element, D: Dimension>(
    py: Python<'py>,
    a: Array<T, D>,
) -> Bound<'py, PyAny> {
    a.into_pyarray(py).into_any()
}

/// `{name: ndarray}` in the model's order.
pub fn state_dict<'py, T: Float + Element, P: Parameters<T>>(
    py: Python<'py>,
    p: &P,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (name, a) in p.state_dict() {
        d.set_item(name, to_numpy(py, a))?;
    }
    Ok(d)
}

/// Copies a `{name: ndarray}` dict into `p` after full validation (names, dtypes, shapes).
pub fn load_state_dict<T: Float + Element, P: Parameters<T>>(
    p: &mut P,
    d: &Bound<'_, PyDict>,
) -> PyResult<()> {
    let names = p.names();
    let mut tensors = Vec::with_capacity(d.len());
    for (k, v) in d.iter() {
        let name: String = k.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "state_dict keys must be str, got {}",
                type_name(&k)
            ))
        })?;
        if !names.contains(&name) {
            return Err(crate::errors::to_py(seqrnn::Error::UnknownParameter {
                name,
                expected: names,
            }));
        }
        let a = floats::<T>(&v, &name)?;
        tensors.push((name, a));
    }
    let views: Vec<_> = tensors.iter().map(|(n, a)| (n.clone(), a.view())).collect();
    p.load_state_dict(&views).py()
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an object".to_string())
}

/// A Python sequence of `str` as owned strings: its length is read first and every allocation
/// is fallible, so a sequence too large for memory is a `MemoryError`, never an abort; Ctrl-C
/// is honoured every `SIGNAL_EVERY` items; a wrong item is a `TypeError` naming it.
pub fn strings(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<String>> {
    items(obj, what, "a list of str", |item| {
        item.cast::<PyString>()
            .ok()
            .map(|text| owned(text, what))
            .transpose()
    })
}

/// A Python sequence of `(str, str)` tuples as owned pairs, copied as [`strings`] copies.
pub fn string_pairs(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<(String, String)>> {
    items(obj, what, "a list of (source, target) str pairs", |item| {
        let Ok(pair) = item.cast::<PyTuple>() else {
            return Ok(None);
        };
        let (Ok(s), Ok(t)) = (pair.get_item(0), pair.get_item(1)) else {
            return Ok(None);
        };
        match (s.cast::<PyString>(), t.cast::<PyString>()) {
            (Ok(s), Ok(t)) if pair.len() == 2 => Ok(Some((owned(s, what)?, owned(t, what)?))),
            _ => Ok(None),
        }
    })
}

/// The items of a Python sequence (not a `str`), each converted by `copy` (`None`: an item of
/// the wrong type), into a vector reserved fallibly for the length the sequence reports.
fn items<T>(
    obj: &Bound<'_, PyAny>,
    what: &str,
    expected: &str,
    mut copy: impl FnMut(&Bound<'_, PyAny>) -> PyResult<Option<T>>,
) -> PyResult<Vec<T>> {
    let py = obj.py();
    let wrong = |got: String| PyTypeError::new_err(format!("{what}: expected {expected}, {got}"));
    if obj.is_instance_of::<PyString>() {
        return Err(wrong("got a str".into()));
    }
    let n = obj
        .len()
        .map_err(|_| wrong(format!("got {}", type_name(obj))))?;
    let mut out: Vec<T> = Vec::new();
    out.try_reserve_exact(n)
        .map_err(|_| out_of_memory(what, n.saturating_mul(std::mem::size_of::<T>())))?;
    for (i, item) in obj.try_iter()?.enumerate() {
        if i % SIGNAL_EVERY == 0 {
            py.check_signals()?;
        }
        let item = item?;
        let value =
            copy(&item)?.ok_or_else(|| wrong(format!("item {i} is {}", type_name(&item))))?;
        out.try_reserve(1)
            .map_err(|_| out_of_memory(what, std::mem::size_of::<T>()))?;
        out.push(value);
    }
    Ok(out)
}

/// A Python `str` copied into memory had fallibly.
fn owned(text: &Bound<'_, PyString>, what: &str) -> PyResult<String> {
    let text = text.to_str()?;
    let mut owned = String::new();
    owned
        .try_reserve_exact(text.len())
        .map_err(|_| out_of_memory(what, text.len()))?;
    owned.push_str(text);
    Ok(owned)
}

fn out_of_memory(what: &str, bytes: usize) -> PyErr {
    crate::errors::to_py(seqrnn::Error::OutOfMemory {
        what: what.to_string(),
        bytes: bytes as u128,
    })
}

/// Token ids (or lengths) as an int64 numpy array, copied fallibly.
pub fn ids_to_numpy<'py, D: Dimension>(
    py: Python<'py>,
    what: &str,
    a: Array<usize, D>,
) -> PyResult<Bound<'py, PyAny>> {
    let a = seqrnn::alloc::map(what, a.view(), |&id| id as i64).py()?;
    Ok(to_numpy(py, a))
}

/// A count argument (`min_freq`, `num_valid`): a negative value is a `ValueError` naming it.
pub fn count(what: &str, value: i64) -> PyResult<usize> {
    usize::try_from(value)
        .map_err(|_| seqrnn::Error::invalid(what, "an int >= 0", value))
        .py()
}

/// A size argument: negative values are a `ValueError` naming the argument (not an OverflowError).
pub fn size(what: &str, value: i64) -> PyResult<usize> {
    usize::try_from(value)
        .map_err(|_| PyValueError::new_err(format!("{what} must be at least 1, got {value}")))
}

/// Optional valid lengths `(batch,)`; the core checks them against the number of steps.
pub fn lengths(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<usize>>> {
    let Some(obj) = obj else { return Ok(None) };
    let a = obj.cast::<PyArrayDyn<i64>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "lengths: expected an int64 array, got {}",
            type_name(obj)
        ))
    })?;
    let a = a.readonly();
    let view = a.as_array();
    if view.ndim() != 1 {
        let msg = format!("lengths: expected shape (batch,), got {:?}", view.shape());
        return Err(PyValueError::new_err(msg));
    }
    view.iter()
        .map(|&v| {
            usize::try_from(v).map_err(|_| {
                PyValueError::new_err(format!("lengths: valid length must be at least 1, got {v}"))
            })
        })
        .collect::<PyResult<Vec<_>>>()
        .map(Some)
}
