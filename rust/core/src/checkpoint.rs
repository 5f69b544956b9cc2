//! Checkpoints: one safetensors file, tensors under their state-dict names, configuration as
//! JSON in the file's metadata. Writes are atomic; reads validate before anything is used and
//! never execute code: the header's sizes and offsets, no key twice, the configuration's schema
//! (no unknown field, every size accounted for by the file's tensors), every value finite.

use crate::{Dtype, Error, Float, Parameters, Result};
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use safetensors::tensor::{SafeTensors, TensorView};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

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

/// Writes `bytes` to `path` atomically: a new temporary file in the target's folder is written
/// and flushed to disk (fsync), renamed over the target, and the folder is flushed so the rename
/// itself survives a power cut. A process killed at any moment leaves the old file or the new
/// one, whole (at worst plus an unused `.NAME.<pid>.<call>.<hex>.tmp` file beside it). On error
/// the temporary file is removed and the target is untouched.
///
/// What is written is what the path means:
///
/// - **Symbolic links are followed.** When `path` is a link (or a chain of links; a relative
///   link is read relative to the link's folder), the file it finally points to is replaced,
///   with the temporary file in *that* file's folder, and the links stay links. A dangling link
///   creates the file it points to.
/// - **Only regular files are replaced.** A target that exists and is a directory, FIFO, socket
///   or device (such as `/dev/null`) is refused with [`Error::Io`] (kind `InvalidInput`, the
///   message names the path and what it is) before anything is written or opened.
/// - **Permissions are kept.** On Unix the new file gets the permission bits of the file it
///   replaces (a `0600` checkpoint stays `0600`); a new file gets what [`std::fs::File::create`]
///   gives (`0666` less the umask). Owner and group are those of the writing process.
/// - **Leftovers are cleaned.** Temporary files of the same target left by earlier saves that
///   were killed are removed, but only those whose process is gone: on Linux, when
///   `/proc/<pid>` does not exist (a process of another PID namespace sharing the folder would
///   look gone); elsewhere, or without `/proc`, when the file was last modified more than
///   [`STALE_AFTER`] ago. The temporary files of live processes, this one included, are kept.
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("seqrnn-doc-atomic-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("notes.txt");
/// seqrnn::checkpoint::write_atomic(&path, b"first")?;
/// seqrnn::checkpoint::write_atomic(&path, b"second")?;
/// assert_eq!(std::fs::read(&path)?, b"second");
/// assert!(seqrnn::checkpoint::write_atomic(&dir, b"x").is_err()); // a folder is not replaced
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source: std::io::Error| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let target = follow_links(path).map_err(io)?;
    let permissions = match std::fs::symlink_metadata(&target) {
        Ok(m) if m.is_file() => Some(m.permissions()),
        Ok(m) => return Err(io(not_regular(path, &target, m.file_type()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let dir = folder(&target);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    remove_stale_temporaries(&dir, &name);
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
        #[cfg(unix)]
        if let Some(p) = permissions {
            f.set_permissions(p)?;
        }
        #[cfg(not(unix))]
        let _ = permissions;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &target)?;
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

/// How old a temporary file must be before [`write_atomic`] removes it where it cannot tell
/// whether its process is alive (no `/proc`): far longer than any save takes.
pub const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Symbolic links followed in a chain before giving up (Linux's limit too).
const MAX_LINKS: usize = 40;

/// The folder of `path` (`.` for a bare file name).
fn folder(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Where `path` leads: the end of its chain of symbolic links, which may not exist yet.
fn follow_links(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..=MAX_LINKS {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                // An absolute link replaces the folder in `join`; a relative one extends it.
                p = folder(&p).join(std::fs::read_link(&p)?);
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("expected at most {MAX_LINKS} symbolic links in a chain, got more (a loop?)"),
    ))
}

/// The error for a target that exists but is no regular file.
fn not_regular(path: &Path, target: &Path, kind: std::fs::FileType) -> std::io::Error {
    let what = if kind.is_dir() {
        "a directory"
    } else {
        special_kind(kind)
    };
    let via = if target == path {
        String::new()
    } else {
        format!(" (where its links lead: {})", target.display())
    };
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!("expected a regular file or a new file name, got {what}{via}; nothing was written"),
    )
}

#[cfg(unix)]
fn special_kind(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "something that is not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: std::fs::FileType) -> &'static str {
    "something that is not a regular file"
}

/// Removes `.NAME.<pid>.<call>.<hex>.tmp` files of `name` in `dir` whose process is gone (see
/// [`write_atomic`]). Best effort: a file that cannot be read or removed is left alone.
fn remove_stale_temporaries(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    let me = std::process::id();
    let proc_fs = Path::new("/proc/self").exists();
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(pid) = file.to_str().and_then(|f| temporary_pid(f, &prefix)) else {
            continue;
        };
        let gone = if pid == me {
            false
        } else if proc_fs {
            !Path::new("/proc").join(pid.to_string()).exists()
        } else {
            entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > STALE_AFTER)
        };
        if gone && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The pid in a temporary file name `{prefix}<pid>.<call>.<hex>.tmp`, if `file` is one.
fn temporary_pid(file: &str, prefix: &str) -> Option<u32> {
    let rest = file.strip_prefix(prefix)?.strip_suffix(".tmp")?;
    let mut parts = rest.split('.');
    let (pid, call, hex) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if parts.next().is_some() || !digits(pid, 10) || !digits(call, 10) || !digits(hex, 16) {
        return None;
    }
    pid.parse().ok()
}

fn nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0)
}

/// Reads a whole file: only a regular file (a FIFO or a device, which could block or never
/// end, is refused before it is opened; a directory fails as the OS says), into memory had fallibly ([`Error::OutOfMemory`] for a
/// file larger than memory).
pub fn read(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let (mut file, len) = open(path)?;
    let mut bytes = Vec::new();
    bytes
        .try_reserve_exact(usize::try_from(len).unwrap_or(usize::MAX))
        .map_err(|_| Error::OutOfMemory {
            what: format!("reading {}", path.display()),
            bytes: u128::from(len),
        })?;
    file.read_to_end(&mut bytes)
        .map_err(|e| io_error(path, e))?;
    Ok(bytes)
}

/// `path` opened for reading, and its length in bytes, with the checks of [`read`].
pub(crate) fn open(path: &Path) -> Result<(std::fs::File, u64)> {
    let meta = std::fs::metadata(path).map_err(|e| io_error(path, e))?;
    // A directory is left to the OS's own error (EISDIR, IsADirectoryError in Python).
    if !meta.is_file() && !meta.is_dir() {
        let e = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
        return Err(io_error(path, e));
    }
    let file = std::fs::File::open(path).map_err(|e| io_error(path, e))?;
    Ok((file, meta.len()))
}

/// [`Error::Io`] naming `path`.
pub(crate) fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}

/// [`read`] of a UTF-8 text file ([`Error::Io`] of kind `InvalidData` for other bytes).
pub fn read_text(path: &Path) -> Result<String> {
    String::from_utf8(read(path)?).map_err(|e| Error::Io {
        path: path.display().to_string(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
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
