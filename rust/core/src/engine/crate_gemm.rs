//! The [`gemm`](https://docs.rs/gemm) crate's kernels, called at the level the engine chose
//! rather than the one the crate would pick for itself: its AVX-512 (`x86-v4`) and AVX2 + FMA
//! (`x86-v3`) kernels on x86-64, through the crate's own blocked driver
//! ([`gemm_common::gemm::gemm_basic_generic`]); on other CPUs its own choice (NEON on ARM).
//! Single-threaded: [`super::product`] does the threading.

use super::isa::Isa;
use super::product::{Kernel, Product, Scalar};

/// The general kernel at `isa`: the crate's, except at the generic level on CPUs other than
/// ARM, where the crate has no vectorized kernel that runs without x86 extensions, and the
/// portable packed product is used.
pub(super) fn general(isa: Isa) -> Kernel {
    match isa {
        Isa::Generic if !cfg!(target_arch = "aarch64") => Kernel::Packed(Isa::Generic),
        _ => Kernel::Crate(isa),
    }
}

/// The operands as the crate takes them: `dst := alpha * dst + beta * lhs @ rhs` (its names),
/// with strides as (column, row).
pub(super) struct Args<T> {
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    lhs: *const T,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const T,
    rhs_cs: isize,
    rhs_rs: isize,
    alpha: T,
    beta: T,
}

/// Runs `c = alpha * a @ b + beta * c` on the crate's kernels of level `isa`.
///
/// # Safety
/// As [`Scalar::kernel`]; `isa` must be a level the CPU supports.
pub(super) unsafe fn run<T: Scalar>(p: Product<T>, alpha: T, beta: T, isa: Isa) {
    // The crate's kernels write columns of `dst`: transpose the product (c^T = b^T a^T) when
    // `c` is row-major, as the crate's own entry point does.
    let a = Args {
        m: p.m,
        n: p.n,
        k: p.k,
        dst: p.c.ptr,
        dst_cs: p.c.cs,
        dst_rs: p.c.rs,
        read_dst: beta != T::zero(),
        lhs: p.a.ptr,
        lhs_cs: p.a.cs,
        lhs_rs: p.a.rs,
        rhs: p.b.ptr,
        rhs_cs: p.b.cs,
        rhs_rs: p.b.rs,
        alpha: beta,
        beta: alpha,
    };
    let a = if a.dst_cs < a.dst_rs {
        Args {
            m: a.n,
            n: a.m,
            dst_cs: a.dst_rs,
            dst_rs: a.dst_cs,
            lhs: a.rhs,
            lhs_cs: a.rhs_rs,
            lhs_rs: a.rhs_cs,
            rhs: a.lhs,
            rhs_cs: a.lhs_rs,
            rhs_rs: a.lhs_cs,
            ..a
        }
    } else {
        a
    };
    // SAFETY: forwarded from the caller.
    unsafe { T::crate_kernel(a, isa) }
}

/// The crate's kernels for one element type.
pub(super) trait CrateKernels: Sized {
    /// Runs `args` at level `isa`.
    ///
    /// # Safety
    /// As [`run`].
    unsafe fn crate_kernel(args: Args<Self>, isa: Isa);
}

/// Calls the crate's blocked driver with the microkernels of module `$ukr` on SIMD type `$simd`.
#[cfg(x86_kernels)]
macro_rules! driver {
    ($t:ty, $simd:ty, $ukr:path, $a:expr) => {{
        use gemm_common::simd::MixedSimd;
        use $ukr as ukr;
        const N: usize = <$simd as MixedSimd<$t, $t, $t, $t>>::SIMD_WIDTH;
        let a = $a;
        match <$simd as MixedSimd<$t, $t, $t, $t>>::try_new() {
            // SAFETY: the CPU has the SIMD type's features (`try_new` checked them), the
            // operands are valid (forwarded from the caller of `run`).
            Some(simd) => unsafe {
                gemm_common::gemm::gemm_basic_generic::<
                    _,
                    $t,
                    N,
                    { ukr::MR_DIV_N * N },
                    { ukr::NR },
                    { ukr::MR_DIV_N },
                    { ukr::H_M },
                    { ukr::H_N },
                >(
                    simd,
                    a.m,
                    a.n,
                    a.k,
                    a.dst,
                    a.dst_cs,
                    a.dst_rs,
                    a.read_dst,
                    a.lhs,
                    a.lhs_cs,
                    a.lhs_rs,
                    a.rhs,
                    a.rhs_cs,
                    a.rhs_rs,
                    a.alpha,
                    a.beta,
                    false,
                    false,
                    false,
                    |x, y, z| x * y + z,
                    &ukr::UKR,
                    &ukr::H_UKR,
                    false,
                    gemm_common::Parallelism::None,
                )
            },
            // SAFETY: as above; the crate then picks kernels the CPU has.
            None => unsafe { facade(a) },
        }
    }};
}

/// The crate's entry point, which picks its kernels itself.
///
/// # Safety
/// As [`run`].
unsafe fn facade<T: 'static>(a: Args<T>) {
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            a.m,
            a.n,
            a.k,
            a.dst,
            a.dst_cs,
            a.dst_rs,
            a.read_dst,
            a.lhs,
            a.lhs_cs,
            a.lhs_rs,
            a.rhs,
            a.rhs_cs,
            a.rhs_rs,
            a.alpha,
            a.beta,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

macro_rules! crate_kernels {
    ($t:ident, $module:ident) => {
        impl CrateKernels for $t {
            unsafe fn crate_kernel(args: Args<$t>, isa: Isa) {
                match isa {
                    #[cfg(x86_kernels)]
                    Isa::Avx512 => driver!(
                        $t,
                        gemm_common::simd::V4,
                        $module::microkernel::avx512f::$t,
                        args
                    ),
                    #[cfg(x86_kernels)]
                    Isa::Avx2 => driver!(
                        $t,
                        gemm_common::simd::V3,
                        $module::microkernel::fma::$t,
                        args
                    ),
                    // SAFETY: forwarded from the caller.
                    _ => unsafe { facade(args) },
                }
            }
        }
    };
}

crate_kernels!(f32, gemm_f32);
crate_kernels!(f64, gemm_f64);
