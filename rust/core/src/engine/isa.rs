//! Instruction-set levels: what the CPU has, the cap a user sets, and the level in use.
//!
//! The engine has three levels of kernels, chosen at run time for every product and every
//! vectorized loop:
//!
//! | level | needs | kernels |
//! |---|---|---|
//! | [`Isa::Avx512`] | x86-64 with AVX-512F, AVX2 and FMA | 16-wide `f32` |
//! | [`Isa::Avx2`] | x86-64 with AVX2 and FMA | 8-wide `f32` |
//! | [`Isa::Generic`] | any CPU | portable code the compiler vectorizes (SSE2 on x86-64, NEON on ARM) |
//!
//! The level in use is the widest the CPU has, capped (as MKL's `MKL_ENABLE_INSTRUCTIONS` and
//! oneDNN's `ONEDNN_MAX_CPU_ISA` cap theirs) by, in order of precedence: [`with_max_isa`] on
//! the calling thread, [`set_max_isa`], and the environment variable `SEQRNN_MAX_ISA`
//! (`avx512`, `avx2` or `generic`, read once). A cap above what the CPU has changes nothing.
//! Every level gives deterministic results; different levels agree within `f32` rounding.

use crate::{Error, Result};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::OnceLock;

/// An instruction-set level of the engine's kernels, ordered from narrowest to widest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Portable code only (no x86 intrinsics).
    Generic,
    /// x86-64 AVX2 + FMA.
    Avx2,
    /// x86-64 AVX-512F (with AVX2 + FMA).
    Avx512,
}

impl Isa {
    /// Every level, narrowest first.
    pub const ALL: [Isa; 3] = [Isa::Generic, Isa::Avx2, Isa::Avx512];

    /// `"generic"`, `"avx2"` or `"avx512"`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Generic => "generic",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// Parses a level name (case and surrounding blanks ignored).
    pub fn parse(name: &str) -> Result<Isa> {
        let lower = name.trim().to_ascii_lowercase();
        Isa::ALL
            .into_iter()
            .find(|isa| isa.name() == lower)
            .ok_or_else(|| {
                Error::invalid(
                    "instruction-set level",
                    "one of \"avx512\", \"avx2\", \"generic\"",
                    format!("{name:?}"),
                )
            })
    }

    fn from_u8(x: u8) -> Option<Isa> {
        Isa::ALL.get(usize::from(x)).copied()
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The environment variable that caps the level.
pub const ENV_VAR: &str = "SEQRNN_MAX_ISA";

/// The widest level this CPU supports (detected once).
pub fn detected() -> Isa {
    static DETECTED: OnceLock<Isa> = OnceLock::new();
    *DETECTED.get_or_init(detect)
}

#[cfg(x86_kernels)]
fn detect() -> Isa {
    use std::arch::is_x86_feature_detected as has;
    if has!("avx2") && has!("fma") {
        if has!("avx512f") {
            Isa::Avx512
        } else {
            Isa::Avx2
        }
    } else {
        Isa::Generic
    }
}

#[cfg(not(x86_kernels))]
fn detect() -> Isa {
    Isa::Generic
}

/// The levels this CPU supports, widest first.
pub fn supported() -> Vec<Isa> {
    Isa::ALL
        .into_iter()
        .rev()
        .filter(|&isa| isa <= detected())
        .collect()
}

/// The vector extensions of this CPU that matter to the engine, as `/proc/cpuinfo` names them.
pub fn features() -> Vec<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let all = [
            ("sse2", has!("sse2")),
            ("avx", has!("avx")),
            ("avx2", has!("avx2")),
            ("fma", has!("fma")),
            ("avx512f", has!("avx512f")),
        ];
        all.into_iter().filter(|f| f.1).map(|f| f.0).collect()
    }
    #[cfg(target_arch = "aarch64")]
    {
        let mut out = Vec::new();
        if std::arch::is_aarch64_feature_detected!("neon") {
            out.push("neon");
        }
        out
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        Vec::new()
    }
}

/// No cap set by [`set_max_isa`].
const UNSET: u8 = u8::MAX;

static CAP: AtomicU8 = AtomicU8::new(UNSET);

thread_local! {
    /// The cap of [`with_max_isa`] on this thread.
    static SCOPED: Cell<Option<Isa>> = const { Cell::new(None) };
}

/// Caps the level for every thread (`None`: back to `SEQRNN_MAX_ISA`, or no cap without it).
pub fn set_max_isa(cap: Option<Isa>) {
    CAP.store(cap.map_or(UNSET, |isa| isa as u8), Ordering::Relaxed);
}

/// `SEQRNN_MAX_ISA` as read at first use: `Ok(None)` when unset or empty, `Err` with the
/// value when it names no level (the variable is then ignored).
pub fn env_max_isa() -> std::result::Result<Option<Isa>, String> {
    static ENV: OnceLock<std::result::Result<Option<Isa>, String>> = OnceLock::new();
    ENV.get_or_init(|| match std::env::var(ENV_VAR) {
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(v.to_string_lossy().into_owned()),
        Ok(v) if v.trim().is_empty() => Ok(None),
        Ok(v) => Isa::parse(&v).map(Some).map_err(|_| v),
    })
    .clone()
}

/// The cap in force for every thread: [`set_max_isa`]'s, else `SEQRNN_MAX_ISA`'s (if valid).
pub fn max_isa() -> Option<Isa> {
    Isa::from_u8(CAP.load(Ordering::Relaxed)).or_else(|| env_max_isa().ok().flatten())
}

/// The cap [`with_max_isa`] set on this thread, if any.
pub fn scoped_max_isa() -> Option<Isa> {
    SCOPED.with(Cell::get)
}

/// Runs `f` with the level capped at `cap` on this thread (`None`: no thread cap), and in the
/// engine's helper threads while they work for it; restores the previous cap afterwards, even
/// if `f` panics.
pub fn with_max_isa<R>(cap: Option<Isa>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Isa>);
    impl Drop for Restore {
        fn drop(&mut self) {
            SCOPED.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SCOPED.with(|s| s.replace(cap)));
    f()
}

/// The level the engine dispatches to on this thread now: the widest the CPU has, capped.
#[inline]
pub fn current() -> Isa {
    let mut isa = detected();
    if let Some(cap) = max_isa() {
        isa = isa.min(cap);
    }
    if let Some(cap) = scoped_max_isa() {
        isa = isa.min(cap);
    }
    isa
}

/// What the engine knows about the machine and what it runs: [`cpu_info`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuInfo {
    /// The target architecture (`"x86_64"`, `"aarch64"`, ...).
    pub arch: &'static str,
    /// The vector extensions detected ([`features`]).
    pub features: Vec<&'static str>,
    /// The levels the CPU supports, widest first.
    pub supported: Vec<Isa>,
    /// The cap in force ([`max_isa`], then this thread's [`with_max_isa`]).
    pub max_isa: Option<Isa>,
    /// The level in use on this thread ([`current`]).
    pub isa: Isa,
    /// The threads products may use ([`super::num_threads`]).
    pub threads: usize,
    /// A value of `SEQRNN_MAX_ISA` that names no level (and is therefore ignored).
    pub env_error: Option<String>,
}

/// The machine's vector extensions, the levels it supports, the cap and the level in use.
///
/// ```
/// use seqrnn::engine::{cpu_info, with_max_isa, Isa};
/// let info = cpu_info();
/// assert!(info.supported.contains(&Isa::Generic));
/// with_max_isa(Some(Isa::Generic), || assert_eq!(cpu_info().isa, Isa::Generic));
/// ```
pub fn cpu_info() -> CpuInfo {
    let max_isa = match (max_isa(), scoped_max_isa()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    CpuInfo {
        arch: std::env::consts::ARCH,
        features: features(),
        supported: supported(),
        max_isa,
        isa: current(),
        threads: super::num_threads(),
        env_error: env_max_isa().err(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_are_refused() {
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()).ok(), Some(isa));
            assert_eq!(
                Isa::parse(&format!(" {} ", isa.name().to_uppercase())).ok(),
                Some(isa)
            );
        }
        let err = Isa::parse("sse9").unwrap_err().to_string();
        assert!(err.contains("\"avx512\", \"avx2\", \"generic\"") && err.contains("sse9"));
    }

    #[test]
    fn scoped_cap_applies_and_is_restored() {
        let outer = current();
        with_max_isa(Some(Isa::Generic), || {
            assert_eq!(current(), Isa::Generic);
            with_max_isa(None, || assert_eq!(current(), outer));
            assert_eq!(current(), Isa::Generic);
        });
        assert_eq!(current(), outer);
        let caught = std::panic::catch_unwind(|| {
            with_max_isa(Some(Isa::Generic), || panic!("inside"));
        });
        assert!(caught.is_err());
        assert_eq!(current(), outer);
    }

    #[test]
    fn supported_levels_are_consistent() {
        let s = supported();
        assert_eq!(s.first(), Some(&detected()));
        assert_eq!(s.last(), Some(&Isa::Generic));
        for isa in s {
            assert_eq!(with_max_isa(Some(isa), current), isa);
        }
    }
}
