//! Checkpoints: one safetensors file, tensors under their state-dict names, configuration as
//! JSON in the file's metadata. Writes are atomic; reads validate before anything is used and
//! never execute code: the header's sizes and offsets, no key twice, the configuration's schema
//! (no unknown field, every size accounted for by the file's tensors), every value finite.

use crate::{Dtype, Error, Float, Parameters, Result};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use safetensors::tensor::{SafeTensors, TensorView};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Metadata key naming the kind of model stored (`"LanguageModel"`, `"Seq2Seq"`, ...).
pub const KIND: &str = "seqrnn.kind";
/// Metadata key holding the model configuration as JSON.
pub const CONFIG: &str = "seqrnn.config";
/// Metadata key holding the element type (`"float32"` or `"float64"`).
pub const DTYPE: &str = "seqrnn.dtype";

fn st_dtype(d: Dtype) -> safetensors::Dtype {
    match d {
        Dtype::F32 => safetensors::Dtype::F32,
        Dtype::F64 => safetensors::Dtype::F64,
    }
}

fn bad(msg: impl Into<String>) -> Error {
    Error::Checkpoint(msg.into())
}

/// Serializes named tensors and string metadata to safetensors bytes.
pub fn to_bytes<T: Float>(
    tensors: &[(String, ArrayViewD<'_, T>)],
    mut metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    metadata.insert(DTYPE.to_string(), T::DTYPE.name().to_string());
    let buffers: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, a)| {
            let mut bytes = Vec::with_capacity(a.len() * std::mem::size_of::<T>());
            a.iter().for_each(|&x| x.write_le(&mut bytes)); // logical (C) order
            (name.clone(), a.shape().to_vec(), bytes)
        })
        .collect();
    let views = buffers
        .iter()
        .map(|(name, shape, bytes)| {
            TensorView::new(st_dtype(T::DTYPE), shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(|e| bad(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| bad(e.to_string()))
}

/// Writes `bytes` to `path` atomically: a new temporary file in the same folder is written and
/// flushed to disk (fsync), renamed over the target, and the folder is flushed so the rename
/// itself survives a power cut. A process killed at any moment leaves the old file or the new
/// one, whole (at worst plus an unused `.NAME.*.tmp` file beside it). On error the temporary
/// file is removed and the target is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source: std::io::Error| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    // Unique per process, per call: concurrent saves to one folder never share a temporary.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{name}.{}.{call}.{:x}.tmp",
        std::process::id(),
        crate::init::mix(bytes.len() as u64, nanos())
    ));
    let result = (|| {
        let mut f = std::fs::File::create_new(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all(); // persist the rename where the platform allows it
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

/// Reads a whole file.
pub fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })
}

/// The string metadata of safetensors bytes (validates the header: sizes and offsets against
/// the file, and no key twice at any level, so a second `seqrnn.kind` or a second tensor of one
/// name is refused instead of one of them silently winning).
pub fn metadata(bytes: &[u8]) -> Result<HashMap<String, String>> {
    let (header_len, meta) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
    let header = bytes
        .get(8..8 + header_len)
        .ok_or_else(|| bad("the header is longer than the file"))?;
    serde_json::from_slice::<Unique>(header).map_err(|e| bad(format!("header: {e}")))?;
    Ok(meta.metadata().clone().unwrap_or_default())
}

/// Any JSON value whose objects hold no key twice, at any depth (serde_json bounds the depth).
struct Unique;

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_any(UniqueVisitor)
    }
}

struct UniqueVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueVisitor {
    type Value = Unique;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> std::result::Result<Unique, E> {
        Ok(Unique)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> std::result::Result<Unique, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            map.next_value::<Unique>()?;
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "key {key:?} appears twice"
                )));
            }
        }
        Ok(Unique)
    }
}

/// The element type recorded in a checkpoint.
pub fn dtype(meta: &HashMap<String, String>) -> Result<Dtype> {
    let name = meta
        .get(DTYPE)
        .ok_or_else(|| bad(format!("metadata has no {DTYPE:?} entry")))?;
    Dtype::parse(name).map_err(|_| bad(format!("unknown dtype {name:?}")))
}

/// Checks the kind and parses the JSON configuration of a checkpoint.
pub fn config<C: serde::de::DeserializeOwned>(
    meta: &HashMap<String, String>,
    kind: &str,
) -> Result<C> {
    match meta.get(KIND) {
        Some(k) if k == kind => {}
        Some(k) => return Err(bad(format!("file holds a {k}, not a {kind}"))),
        None => {
            return Err(bad(format!(
                "metadata has no {KIND:?} entry: not a seqrnn checkpoint"
            )))
        }
    }
    let json = meta
        .get(CONFIG)
        .ok_or_else(|| bad(format!("metadata has no {CONFIG:?} entry")))?;
    serde_json::from_str(json).map_err(|e| bad(format!("bad configuration: {e}")))
}

/// Every tensor of safetensors bytes, checked to be of element type `T`, in file order.
pub fn tensors<T: Float>(bytes: &[u8]) -> Result<Vec<(String, ArrayD<T>)>> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::with_capacity(st.len());
    for (name, view) in st.tensors() {
        if view.dtype() != st_dtype(T::DTYPE) {
            return Err(Error::DtypeMismatch {
                what: name,
                expected: T::DTYPE.name().into(),
                got: format!("{:?}", view.dtype()),
            });
        }
        let data = view.data();
        let size = std::mem::size_of::<T>();
        let mut values: Vec<T> = Vec::new();
        values
            .try_reserve_exact(data.len() / size)
            .map_err(|_| Error::OutOfMemory {
                what: format!("tensor {name}"),
                bytes: data.len() as u128,
            })?;
        values.extend(data.chunks_exact(size).map(T::read_le));
        if let Some(i) = values.iter().position(|x| !x.is_finite()) {
            return Err(bad(format!(
                "tensor {name} holds a non-finite value ({}) at element {i}: seqrnn never \
                 saves one (training stops before a non-finite update)",
                values[i]
            )));
        }
        let a = ArrayD::from_shape_vec(IxDyn(view.shape()), values)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        out.push((name, a));
    }
    Ok(out)
}

/// Number of scalars in all tensors of safetensors bytes (bounded by the file size).
pub fn total_elements(bytes: &[u8]) -> Result<usize> {
    let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
    Ok(st
        .tensors()
        .iter()
        .map(|(_, v)| v.shape().iter().product::<usize>())
        .sum())
}

/// Safetensors bytes of a whole model: its tensors, its kind and JSON configuration, and `extra`.
pub fn model_to_bytes<T: Float, P: Parameters<T>, C: serde::Serialize>(
    kind: &str,
    config: &C,
    model: &P,
    mut extra: HashMap<String, String>,
) -> Result<Vec<u8>> {
    extra.insert(KIND.into(), kind.into());
    let config = serde_json::to_string(config).map_err(|e| bad(e.to_string()))?;
    extra.insert(CONFIG.into(), config);
    to_bytes(&model.named(), extra)
}

/// Rebuilds a model of `kind` from checkpoint bytes: the configuration is parsed and must account
/// for exactly the scalars the file holds (`num_params`), so a forged header cannot make us
/// allocate more than the file's size; `build` makes the model, whose names, shapes and dtypes
/// must then match the file's tensors exactly. Returns the model and the file's metadata.
pub fn model_from_bytes<T, C, M>(
    bytes: &[u8],
    kind: &str,
    num_params: impl FnOnce(&C) -> Option<usize>,
    build: impl FnOnce(C) -> Result<M>,
) -> Result<(M, HashMap<String, String>)>
where
    T: Float,
    C: serde::de::DeserializeOwned,
    M: Parameters<T>,
{
    let meta = metadata(bytes)?;
    let config: C = config(&meta, kind)?;
    let recorded = dtype(&meta)?;
    if recorded != T::DTYPE {
        return Err(Error::DtypeMismatch {
            what: "checkpoint".into(),
            expected: T::DTYPE.name().into(),
            got: recorded.name().into(),
        });
    }
    let expected = num_params(&config).ok_or_else(|| bad("configuration sizes overflow"))?;
    let present = total_elements(bytes)?;
    if expected != present {
        return Err(bad(format!(
            "configuration needs {expected} parameters, the file holds {present}"
        )));
    }
    // The recorded dtype is `T`'s: a tensor of another type is a damaged or forged file.
    let tensors = tensors::<T>(bytes).map_err(|e| match e {
        Error::DtypeMismatch { what, got, .. } => bad(format!(
            "tensor {what} is {got} in a {} file",
            T::DTYPE.name()
        )),
        e => e,
    })?;
    let mut model = build(config)?;
    let views: Vec<_> = tensors.iter().map(|(n, a)| (n.clone(), a.view())).collect();
    model.load_state_dict(&views)?;
    Ok((model, meta))
}
