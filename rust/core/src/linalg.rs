//! The matrix products everything else is built on, in one place so the engine can change.
//!
//! [`gemm()`] runs `f32` and `f64` products on the [`gemm`](https://docs.rs/gemm) crate's kernels
//! (AVX-512 where the CPU has it, else AVX2/FMA, chosen at run time), plus one kernel of its own:
//! on x86-64 with AVX-512, an `f32` product `x @ w.t()` whose operands are both contiguous along
//! the summed dimension `k` and where `x` has between 2 and `k / 2` rows (the recurrence of the
//! forward pass) is computed as blocked dot products, which needs no copy of `w`; the `gemm`
//! crate would repack `w` on every call, as `matrixmultiply` did. Other element types, and
//! operands with a negative or zero stride, go to `ndarray`'s `general_mat_mul`.
//!
//! **Threads.** A product of at least [`PARALLEL_MIN_WORK`] multiply-adds is cut into up to 8
//! blocks of output columns (or rows, when there are more rows), at least 64 wide. The blocks
//! depend on the shape only; the calling thread and up to [`num_threads`]` - 1` helper threads
//! (started on first use, then kept, polling for about 0.5 ms after each product before they
//! sleep) take them in turn, and each block is computed by one thread exactly as it would be
//! alone. Results are therefore deterministic, and the same for any number of threads. When
//! another thread is already using the helpers, the caller computes all the blocks itself.

use crate::{Error, Float, Result};
use ndarray::{ArrayView2, ArrayView3, ArrayViewMut2, ArrayViewMut3};
use std::any::TypeId;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Products smaller than this many multiply-adds (`m * n * k`) run on the calling thread only.
pub const PARALLEL_MIN_WORK: usize = 1 << 18;

/// Rows of `a`, at most, for which [`dot::axpy_nn`] beats the `gemm` crate (measured, up to
/// 2.5x at one row, even at 16)...
const AXPY_MAX_ROWS: usize = 16;

/// ... while `b` has at most this many elements (past it, `b` leaves the core's cache and the
/// crate's packing pays).
const AXPY_MAX_B: usize = 512 * 512;

/// Largest default of [`num_threads`]: past 2 threads these products were not measured to gain.
const MAX_DEFAULT_THREADS: usize = 2;

/// Output rows or columns per block of a split product are a multiple of this (one AVX-512
/// register of `f32`), so no block starts in the middle of a vector.
const BLOCK_ALIGN: usize = 16;

/// Output rows or columns per block of a split product, at least.
const BLOCK_WIDTH: usize = 64;

/// Blocks of a split product, at most.
const MAX_BLOCKS: usize = 8;

static NUM_THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets the number of threads [`gemm()`] may use (the caller's included); 0 restores the default.
pub fn set_num_threads(n: usize) {
    NUM_THREADS.store(n, Ordering::Relaxed);
}

/// The number of threads [`gemm()`] may use: what [`set_num_threads`] set, else the available
/// parallelism capped at 2.
pub fn num_threads() -> usize {
    match NUM_THREADS.load(Ordering::Relaxed) {
        0 => default_num_threads(),
        n => n,
    }
}

fn default_num_threads() -> usize {
    static DEFAULT: OnceLock<usize> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_DEFAULT_THREADS)
    })
}

/// `c = alpha * a @ b + beta * c`.
///
/// Shapes: `a` (m, k), `b` (k, n), `c` (m, n). Views may be transposed (`.t()`). When `beta` is
/// zero, `c` is not read (NaN in it do not propagate). Panics on mismatched shapes.
#[inline]
pub fn gemm<T: Float>(
    alpha: T,
    a: &ArrayView2<'_, T>,
    b: &ArrayView2<'_, T>,
    beta: T,
    c: &mut ArrayViewMut2<'_, T>,
) {
    let ((m, k), (k2, n)) = (a.dim(), b.dim());
    if k != k2 || c.dim() != (m, n) {
        // Panics with ndarray's message.
        ndarray::linalg::general_mat_mul(alpha, a, b, beta, c);
        return;
    }
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if beta == T::zero() {
            c.fill(T::zero());
        } else {
            c.mapv_inplace(|x| beta * x);
        }
        return;
    }
    let (Some(am), Some(bm), Some(cm)) = (Mat::of(a), Mat::of(b), Mat::of_mut(c)) else {
        ndarray::linalg::general_mat_mul(alpha, a, b, beta, c);
        return;
    };
    let p = Product {
        m,
        n,
        k,
        a: am,
        b: bm,
        c: cm,
    };
    if TypeId::of::<T>() == TypeId::of::<f32>() {
        // SAFETY: `T` is `f32`, the views are valid for the product's shapes and strides, and
        // `c` is borrowed mutably, so it overlaps neither input.
        unsafe { run(p.cast::<f32>(), cast(alpha), cast(beta)) }
    } else if TypeId::of::<T>() == TypeId::of::<f64>() {
        // SAFETY: as above, with `T` = `f64`.
        unsafe { run(p.cast::<f64>(), cast(alpha), cast(beta)) }
    } else {
        ndarray::linalg::general_mat_mul(alpha, a, b, beta, c);
    }
}

/// `x` as a `U`; only called with `U` = `T`.
fn cast<T: 'static + Copy, U: 'static + Copy>(x: T) -> U {
    assert!(TypeId::of::<T>() == TypeId::of::<U>());
    // SAFETY: same type.
    unsafe { std::mem::transmute_copy(&x) }
}

/// A matrix operand as a pointer and element strides (rows, columns).
#[derive(Clone, Copy, Debug)]
struct Mat<T> {
    ptr: *mut T,
    rs: isize,
    cs: isize,
}

impl<T> Mat<T> {
    /// `None` when a dimension longer than 1 has a negative or zero stride. The stride of a
    /// dimension of length 1 is never used to step, so it is replaced by 1.
    fn from_parts(ptr: *mut T, dim: (usize, usize), strides: &[isize]) -> Option<Self> {
        let fix = |len: usize, s: isize| match (len, s) {
            (0 | 1, _) => Some(1),
            (_, s) if s > 0 => Some(s),
            _ => None,
        };
        Some(Mat {
            ptr,
            rs: fix(dim.0, strides[0])?,
            cs: fix(dim.1, strides[1])?,
        })
    }

    fn of(a: &ArrayView2<'_, T>) -> Option<Self> {
        Self::from_parts(a.as_ptr() as *mut T, a.dim(), a.strides())
    }

    fn of_mut(a: &mut ArrayViewMut2<'_, T>) -> Option<Self> {
        let dim = a.dim();
        let strides = [a.strides()[0], a.strides()[1]];
        Self::from_parts(a.as_mut_ptr(), dim, &strides)
    }

    /// The element at (`i`, `j`) (wrapping arithmetic: only dereferenced in bounds).
    fn at(self, i: usize, j: usize) -> Self {
        Mat {
            ptr: self
                .ptr
                .wrapping_offset(i as isize * self.rs + j as isize * self.cs),
            ..self
        }
    }
}

/// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c` on raw operands.
#[derive(Clone, Copy, Debug)]
struct Product<T> {
    m: usize,
    n: usize,
    k: usize,
    a: Mat<T>,
    b: Mat<T>,
    c: Mat<T>,
}

impl<T> Product<T> {
    fn cast<U>(self) -> Product<U> {
        let m = |x: Mat<T>| Mat {
            ptr: x.ptr as *mut U,
            rs: x.rs,
            cs: x.cs,
        };
        Product {
            m: self.m,
            n: self.n,
            k: self.k,
            a: m(self.a),
            b: m(self.b),
            c: m(self.c),
        }
    }

    /// Output rows `lo..hi`.
    fn rows(self, lo: usize, hi: usize) -> Self {
        Product {
            m: hi - lo,
            a: self.a.at(lo, 0),
            c: self.c.at(lo, 0),
            ..self
        }
    }

    /// Output columns `lo..hi`.
    fn cols(self, lo: usize, hi: usize) -> Self {
        Product {
            n: hi - lo,
            b: self.b.at(0, lo),
            c: self.c.at(0, lo),
            ..self
        }
    }
}

// SAFETY: a `Product` is only shared between the threads computing disjoint blocks of it.
unsafe impl<T> Send for Product<T> {}
unsafe impl<T> Sync for Product<T> {}

/// The kernel a product runs on, chosen once for the whole product.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// The `gemm` crate.
    Gemm,
    /// [`dot::dot_nt`] (`f32`, AVX-512F, both operands contiguous along `k`).
    Dot,
    /// [`dot::axpy_nn`] (`f32`, AVX-512F, few rows of `a`, `b` and `c` contiguous along `n`).
    Axpy,
}

/// The element types with a fast path.
trait Scalar: Copy + Send + Sync + 'static {
    /// The faster kernel for this product.
    fn engine(p: &Product<Self>) -> Engine;

    /// Computes `p` (or a block of it) on this thread with `engine`.
    ///
    /// # Safety
    /// The operands must be valid for the product's shapes and strides, `c` must overlap
    /// neither input, the dimensions must be positive, and `engine` must come from
    /// [`Scalar::engine`] for the whole product.
    unsafe fn kernel(p: Product<Self>, alpha: Self, beta: Self, engine: Engine);
}

impl Scalar for f32 {
    fn engine(p: &Product<f32>) -> Engine {
        // Repacking `b` costs the gemm crate about as much as a product with few rows of `a`:
        // dot products win while `a` has fewer than k / 2 rows (measured, benches/gemm.rs),
        // except for a single row, where the crate's own matrix-vector kernel is as fast.
        let contiguous_k = p.k == 1 || (p.a.cs == 1 && p.b.rs == 1);
        // With few rows of `a` and `b` contiguous along `n`, broadcasting `a` into rows of `b`
        // needs no repacking either (the backward recurrence, `dz_t @ W_hh`).
        let contiguous_n = (p.n == 1 || (p.b.cs == 1 && p.c.cs == 1))
            && p.m <= AXPY_MAX_ROWS
            && p.n.saturating_mul(p.k) <= AXPY_MAX_B;
        #[cfg(target_arch = "x86_64")]
        if dot::available() {
            if contiguous_k && p.m > 1 && 2 * p.m < p.k {
                return Engine::Dot;
            }
            if contiguous_n && !(contiguous_k && p.m == 1) {
                return Engine::Axpy;
            }
        }
        let _ = (contiguous_k, contiguous_n);
        Engine::Gemm
    }

    unsafe fn kernel(p: Product<f32>, alpha: f32, beta: f32, engine: Engine) {
        // SAFETY (every arm): forwarded from the caller; `engine` checked AVX-512F and the unit
        // strides its kernel needs.
        match engine {
            #[cfg(target_arch = "x86_64")]
            Engine::Dot => unsafe {
                dot::dot_nt(
                    p.m, p.n, p.k, p.a.ptr, p.a.rs, p.b.ptr, p.b.cs, p.c.ptr, p.c.rs, p.c.cs,
                    alpha, beta,
                )
            },
            #[cfg(target_arch = "x86_64")]
            Engine::Axpy => unsafe {
                dot::axpy_nn(
                    p.m, p.n, p.k, p.a.ptr, p.a.rs, p.a.cs, p.b.ptr, p.b.rs, p.c.ptr, p.c.rs,
                    alpha, beta,
                )
            },
            _ => unsafe { gemm_crate(p, alpha, beta) },
        }
    }
}

impl Scalar for f64 {
    fn engine(_: &Product<f64>) -> Engine {
        Engine::Gemm
    }

    unsafe fn kernel(p: Product<f64>, alpha: f64, beta: f64, _: Engine) {
        // SAFETY: forwarded from the caller.
        unsafe { gemm_crate(p, alpha, beta) }
    }
}

/// The `gemm` crate, single-threaded (this module does the threading).
///
/// # Safety
/// As [`Scalar::kernel`].
unsafe fn gemm_crate<T: Scalar + Float>(p: Product<T>, alpha: T, beta: T) {
    // gemm computes dst := alpha * dst + beta * lhs @ rhs, reading dst only if asked to.
    unsafe {
        gemm::gemm(
            p.m,
            p.n,
            p.k,
            p.c.ptr,
            p.c.cs,
            p.c.rs,
            beta != T::zero(),
            p.a.ptr,
            p.a.cs,
            p.a.rs,
            p.b.ptr,
            p.b.cs,
            p.b.rs,
            beta,
            alpha,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Splits a large product into blocks of output columns (when `n >= m`) or rows, which the
/// calling thread and the helpers take in turn. The blocks depend on the shape only, never on
/// the number of threads, so neither do the results.
///
/// # Safety
/// As [`Scalar::kernel`].
unsafe fn run<T: Scalar>(p: Product<T>, alpha: T, beta: T) {
    let work = p.m.saturating_mul(p.n).saturating_mul(p.k);
    let along_n = p.n >= p.m;
    let len = if along_n { p.n } else { p.m };
    // A matrix-vector product whose matrix is not contiguous along k runs as column updates,
    // which lose more to splitting than a second thread gains (measured).
    let thin_strided = (p.m == 1 && p.b.rs != 1) || (p.n == 1 && p.a.cs != 1);
    let blocks = if work < PARALLEL_MIN_WORK || thin_strided {
        1
    } else {
        (len / BLOCK_WIDTH).clamp(1, MAX_BLOCKS)
    };
    let threads = num_threads().min(blocks);
    let engine = T::engine(&p);
    if blocks == 1 {
        // SAFETY: forwarded from the caller.
        unsafe { T::kernel(p, alpha, beta, engine) };
        return;
    }
    // Block `i` covers `bound(i)..bound(i + 1)`; inner bounds are multiples of BLOCK_ALIGN.
    let bound = |i: usize| {
        if i == blocks {
            len
        } else {
            ((len * i / blocks).div_ceil(BLOCK_ALIGN) * BLOCK_ALIGN).min(len)
        }
    };
    let block = |i: usize| {
        let (lo, hi) = (bound(i), bound(i + 1));
        if hi > lo {
            let q = if along_n {
                p.cols(lo, hi)
            } else {
                p.rows(lo, hi)
            };
            // SAFETY: the blocks are disjoint parts of `c`, valid as `p` is.
            unsafe { T::kernel(q, alpha, beta, engine) };
        }
    };
    if threads <= 1 {
        (0..blocks).for_each(block);
    } else {
        pool::run(threads - 1, blocks, &block);
    }
}

/// Runs `f(0)`, ..., `f(tasks - 1)`, each once, on the calling thread and up to
/// [`num_threads`]` - 1` of the helper threads [`gemm()`] uses; returns when all are done. Products
/// inside `f` run on the thread that calls them. When another thread is using the helpers, the
/// caller runs every task itself.
pub fn parallel_tasks(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    let threads = num_threads().min(tasks);
    if threads <= 1 {
        (0..tasks).for_each(f);
    } else {
        pool::run(threads - 1, tasks, f);
    }
}

/// Helper threads that take blocks of a product alongside the calling thread.
mod pool {
    use std::cell::UnsafeCell;
    use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::SeqCst};
    use std::sync::{Arc, Mutex, TryLockError};
    use std::thread::{self, Thread};
    use std::time::{Duration, Instant};

    /// How long an idle helper keeps polling for the next product before it sleeps: longer
    /// than the gap between two products of a recurrent time step. (Polling with `pause`, not
    /// `sched_yield`, which costs more on a virtual machine than it gives back.)
    const POLL: Duration = Duration::from_micros(500);
    /// How long the caller busy-waits for a helper's last block before it yields.
    const SPIN: Duration = Duration::from_millis(2);

    /// No job; the owner may write `job`.
    const IDLE: u8 = 0;
    /// A job is offered; the owner may take it back (to IDLE) until the helper takes it.
    const POSTED: u8 = 1;
    /// The helper took the job and is using it.
    const RUNNING: u8 = 2;
    /// The helper is done with the job.
    const DONE: u8 = 3;

    /// A job with its lifetime erased; [`run`] outlives every use of it.
    type Job = *const (dyn Fn() + Sync + 'static);

    struct Slot {
        state: AtomicU8,
        sleeping: AtomicBool,
        panicked: AtomicBool,
        /// Written by the pool's owner while `state` is IDLE, read by the helper after it moved
        /// `state` from POSTED to RUNNING.
        job: UnsafeCell<Option<Job>>,
    }

    // SAFETY: `job` is handed over through `state` (SeqCst stores, loads and swaps).
    unsafe impl Send for Slot {}
    unsafe impl Sync for Slot {}

    struct Helper {
        slot: Arc<Slot>,
        thread: Thread,
    }

    /// The helpers, and the process they were started in (a forked child has none of them).
    static HELPERS: Mutex<(u32, Vec<Helper>)> = Mutex::new((0, Vec::new()));

    /// Runs `f(0)`, ..., `f(blocks - 1)`, each once, on this thread and up to `helpers` helper
    /// threads; returns when all are done. Which thread runs which block varies; the blocks do
    /// not. When another thread is using the helpers, this one runs every block itself.
    pub(super) fn run(helpers: usize, blocks: usize, f: &(dyn Fn(usize) + Sync)) {
        // Unclaimed blocks are `front..back` (packed as `front << 32 | back`): this thread takes
        // them from the front, the helpers from the back, so each thread tends to get the same
        // blocks, and their operands stay in its cache, from one product to the next.
        let range = AtomicU64::new(blocks as u64);
        let claim = |from_front: bool| {
            let mut cur = range.load(SeqCst);
            loop {
                let (front, back) = (cur >> 32, cur & 0xffff_ffff);
                if front >= back {
                    return None;
                }
                let (i, new) = if from_front {
                    (front, (front + 1) << 32 | back)
                } else {
                    (back - 1, front << 32 | (back - 1))
                };
                match range.compare_exchange(cur, new, SeqCst, SeqCst) {
                    Ok(_) => return Some(i as usize),
                    Err(now) => cur = now,
                }
            }
        };
        let work_from = |from_front: bool| {
            while let Some(i) = claim(from_front) {
                f(i);
            }
        };
        let work = || work_from(false);
        let mut guard = match HELPERS.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return work_from(true),
        };
        let (pid, pool) = &mut *guard;
        if *pid != std::process::id() {
            // Threads do not survive a fork: forget the parent's (their slots stay allocated).
            std::mem::forget(std::mem::take(pool));
            *pid = std::process::id();
        }
        while pool.len() < helpers {
            match spawn() {
                Some(h) => pool.push(h),
                None => break,
            }
        }
        let used = &pool[..helpers.min(pool.len())];
        let job: &(dyn Fn() + Sync) = &work;
        // SAFETY: only the lifetime is erased; `Recall` below keeps `work` alive until no
        // helper uses it, even if a block panics on this thread.
        let job: Job = unsafe { std::mem::transmute::<&(dyn Fn() + Sync), Job>(job) };
        for h in used {
            // SAFETY: the slot is IDLE, so its helper does not read `job` now.
            unsafe { *h.slot.job.get() = Some(job) };
            h.slot.state.store(POSTED, SeqCst);
            if h.slot.sleeping.load(SeqCst) {
                h.thread.unpark();
            }
        }
        let recall = Recall(used);
        work_from(true);
        drop(recall);
        if used.iter().any(|h| h.slot.panicked.swap(false, SeqCst)) {
            panic!("a seqrnn gemm helper thread panicked");
        }
    }

    /// Takes back the jobs no helper took, and waits for the helpers that took one.
    struct Recall<'a>(&'a [Helper]);

    impl Drop for Recall<'_> {
        fn drop(&mut self) {
            for h in self.0 {
                if h.slot
                    .state
                    .compare_exchange(POSTED, IDLE, SeqCst, SeqCst)
                    .is_ok()
                {
                    continue;
                }
                let start = Instant::now();
                while h.slot.state.load(SeqCst) != DONE {
                    if start.elapsed() < SPIN {
                        std::hint::spin_loop();
                    } else {
                        thread::yield_now();
                    }
                }
                h.slot.state.store(IDLE, SeqCst);
            }
        }
    }

    fn spawn() -> Option<Helper> {
        let slot = Arc::new(Slot {
            state: AtomicU8::new(IDLE),
            sleeping: AtomicBool::new(false),
            panicked: AtomicBool::new(false),
            job: UnsafeCell::new(None),
        });
        let mine = Arc::clone(&slot);
        let handle = thread::Builder::new()
            .name("seqrnn-gemm".into())
            .spawn(move || helper(&mine))
            .ok()?;
        Some(Helper {
            slot,
            thread: handle.thread().clone(),
        })
    }

    fn helper(slot: &Slot) {
        loop {
            let mut start = Instant::now();
            while !(slot.state.load(SeqCst) == POSTED
                && slot
                    .state
                    .compare_exchange(POSTED, RUNNING, SeqCst, SeqCst)
                    .is_ok())
            {
                if start.elapsed() < POLL {
                    for _ in 0..32 {
                        std::hint::spin_loop();
                    }
                } else {
                    slot.sleeping.store(true, SeqCst);
                    if slot.state.load(SeqCst) != POSTED {
                        thread::park();
                    }
                    slot.sleeping.store(false, SeqCst);
                    // Woken for a product: more are likely to follow soon.
                    start = Instant::now();
                }
            }
            // SAFETY: RUNNING: the owner wrote `job` before posting and waits for DONE.
            if let Some(job) = unsafe { *slot.job.get() } {
                // SAFETY: the job outlives this call (see `run`).
                let work = unsafe { &*job };
                if std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).is_err() {
                    slot.panicked.store(true, SeqCst);
                }
            }
            slot.state.store(DONE, SeqCst);
        }
    }
}

/// `f32` products with both operands contiguous along `k`, as blocked dot products (AVX-512F).
#[cfg(target_arch = "x86_64")]
mod dot {
    use std::arch::x86_64::*;

    /// Rows of `a` per tile.
    const MR: usize = 6;
    /// Rows of `w` (columns of `c`) per tile.
    const NR: usize = 4;

    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
    }

    /// The sums of the lanes of `a`, `b`, `c`, `d`, in that order.
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn sum4(a: __m512, b: __m512, c: __m512, d: __m512) -> __m128 {
        // Within each 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d.
        let ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
        let cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
        // [a, b, c, d] partial sums in each 128-bit lane.
        let x = _mm512_add_ps(
            _mm512_shuffle_ps::<0b01_00_01_00>(ab, cd),
            _mm512_shuffle_ps::<0b11_10_11_10>(ab, cd),
        );
        let hi = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(x)));
        let y = _mm256_add_ps(_mm512_castps512_ps256(x), hi);
        _mm_add_ps(_mm256_castps256_ps128(y), _mm256_extractf128_ps::<1>(y))
    }

    /// One `R` x `C` tile of `c` (`R <= MR`, `C <= NR`).
    ///
    /// # Safety
    /// `a` rows `0..R` and `w` rows `0..C` must hold `k` contiguous elements each, and `c` must
    /// be valid at `(i, j)` for `i < R`, `j < C`.
    // Indexed loops over the constant tile sizes: unrolled, the accumulators stay in registers.
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn tile<const R: usize, const C: usize>(
        k: usize,
        a: *const f32,
        lda: isize,
        w: *const f32,
        ldw: isize,
        c: *mut f32,
        rsc: isize,
        csc: isize,
        alpha: f32,
        beta: f32,
    ) {
        let mut acc = [[_mm512_setzero_ps(); NR]; R];
        let mut p = 0;
        // SAFETY: every load reads elements `p..p + 16` (`p..k` when masked) of a row.
        unsafe {
            while p + 16 <= k {
                let mut av = [_mm512_setzero_ps(); R];
                for (i, v) in av.iter_mut().enumerate() {
                    *v = _mm512_loadu_ps(a.offset(i as isize * lda).add(p));
                }
                for j in 0..C {
                    let wv = _mm512_loadu_ps(w.offset(j as isize * ldw).add(p));
                    for i in 0..R {
                        acc[i][j] = _mm512_fmadd_ps(av[i], wv, acc[i][j]);
                    }
                }
                p += 16;
            }
            if p < k {
                let mask = ((1u32 << (k - p)) - 1) as __mmask16;
                let mut av = [_mm512_setzero_ps(); R];
                for (i, v) in av.iter_mut().enumerate() {
                    *v = _mm512_maskz_loadu_ps(mask, a.offset(i as isize * lda).add(p));
                }
                for j in 0..C {
                    let wv = _mm512_maskz_loadu_ps(mask, w.offset(j as isize * ldw).add(p));
                    for i in 0..R {
                        acc[i][j] = _mm512_fmadd_ps(av[i], wv, acc[i][j]);
                    }
                }
            }
        }
        let alphav = _mm_set1_ps(alpha);
        for (i, row) in acc.iter().enumerate() {
            let s = _mm_mul_ps(alphav, sum4(row[0], row[1], row[2], row[3]));
            let dst = c.wrapping_offset(i as isize * rsc);
            // SAFETY: `c` is valid at (i, 0..C).
            unsafe {
                if C == 4 && csc == 1 {
                    let r = if beta == 0.0 {
                        s
                    } else {
                        _mm_fmadd_ps(_mm_set1_ps(beta), _mm_loadu_ps(dst), s)
                    };
                    _mm_storeu_ps(dst, r);
                } else {
                    let mut out = [0f32; 4];
                    _mm_storeu_ps(out.as_mut_ptr(), s);
                    for (j, &x) in out.iter().enumerate().take(C) {
                        let d = dst.offset(j as isize * csc);
                        *d = if beta == 0.0 { x } else { beta.mul_add(*d, x) };
                    }
                }
            }
        }
    }

    /// `c[i, ..V*16] = alpha * sum_p a[i, p] * b[p, ..V*16] + beta * c[i, ..]` for `R` rows,
    /// the last of the `V` vectors of columns masked by `last`; `p` runs in order.
    ///
    /// # Safety
    /// The operands must be valid for these shapes and strides, `b` and `c` with unit stride
    /// along `n`; the CPU must support AVX-512F.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn axpy_tile<const R: usize, const V: usize>(
        k: usize,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        ldb: isize,
        c: *mut f32,
        rsc: isize,
        last: __mmask16,
        alpha: f32,
        beta: f32,
    ) {
        let mask = |v: usize| if v + 1 == V { last } else { 0xffff };
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        // SAFETY: rows `0..R` of `a` and `c`, rows `0..k` of `b`, the masked columns.
        unsafe {
            for p in 0..k {
                let brow = b.offset(p as isize * ldb);
                let mut bv = [_mm512_setzero_ps(); V];
                for (v, x) in bv.iter_mut().enumerate() {
                    *x = _mm512_maskz_loadu_ps(mask(v), brow.add(16 * v));
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*a.offset(i as isize * rsa + p as isize * csa));
                    for (x, &y) in row.iter_mut().zip(&bv) {
                        *x = _mm512_fmadd_ps(av, y, *x);
                    }
                }
            }
            let (alphav, betav) = (_mm512_set1_ps(alpha), _mm512_set1_ps(beta));
            for (i, row) in acc.iter().enumerate() {
                let dst = c.offset(i as isize * rsc);
                for (v, &x) in row.iter().enumerate() {
                    let d = dst.add(16 * v);
                    let mut r = _mm512_mul_ps(alphav, x);
                    if beta != 0.0 {
                        r = _mm512_fmadd_ps(betav, _mm512_maskz_loadu_ps(mask(v), d), r);
                    }
                    _mm512_mask_storeu_ps(d, mask(v), r);
                }
            }
        }
    }

    /// `c (m, n) = alpha * a (m, k) @ b (k, n) + beta * c` with `b` and `c` contiguous along
    /// `n`, in tiles of up to 4 rows by 64 columns that broadcast each `a[i, p]` over row `p`
    /// of `b`: no repacking, and each element sums over `p` in order.
    ///
    /// # Safety
    /// The operands must be valid for these shapes and strides, `c` must overlap neither input,
    /// and the CPU must support AVX-512F.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn axpy_nn(
        m: usize,
        n: usize,
        k: usize,
        a: *const f32,
        rsa: isize,
        csa: isize,
        b: *const f32,
        ldb: isize,
        c: *mut f32,
        rsc: isize,
        alpha: f32,
        beta: f32,
    ) {
        for j in (0..n).step_by(64) {
            let cols = 64.min(n - j);
            let vecs = cols.div_ceil(16);
            let tail = cols - 16 * (vecs - 1);
            let last = if tail == 16 {
                0xffff
            } else {
                (1u16 << tail) - 1
            };
            for i in (0..m).step_by(4) {
                let ap = a.wrapping_offset(i as isize * rsa);
                let bp = b.wrapping_add(j);
                let cp = c.wrapping_offset(i as isize * rsc).wrapping_add(j);
                macro_rules! go {
                    ($r:literal, $v:literal) => {
                        // SAFETY: the tile lies inside the operands.
                        unsafe {
                            axpy_tile::<$r, $v>(
                                k, ap, rsa, csa, bp, ldb, cp, rsc, last, alpha, beta,
                            )
                        }
                    };
                }
                macro_rules! vecs {
                    ($r:literal) => {
                        match vecs {
                            1 => go!($r, 1),
                            2 => go!($r, 2),
                            3 => go!($r, 3),
                            _ => go!($r, 4),
                        }
                    };
                }
                match (m - i).min(4) {
                    1 => vecs!(1),
                    2 => vecs!(2),
                    3 => vecs!(3),
                    _ => vecs!(4),
                }
            }
        }
    }

    /// Dispatches an `r` x `cols` tile to its monomorphized kernel.
    ///
    /// # Safety
    /// As [`tile`].
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    unsafe fn any_tile(
        r: usize,
        cols: usize,
        k: usize,
        a: *const f32,
        lda: isize,
        w: *const f32,
        ldw: isize,
        c: *mut f32,
        rsc: isize,
        csc: isize,
        alpha: f32,
        beta: f32,
    ) {
        macro_rules! go {
            ($r:literal, $c:literal) => {
                // SAFETY: forwarded from the caller.
                unsafe { tile::<$r, $c>(k, a, lda, w, ldw, c, rsc, csc, alpha, beta) }
            };
        }
        macro_rules! cols {
            ($r:literal) => {
                match cols {
                    1 => go!($r, 1),
                    2 => go!($r, 2),
                    3 => go!($r, 3),
                    _ => go!($r, 4),
                }
            };
        }
        match r {
            1 => cols!(1),
            2 => cols!(2),
            3 => cols!(3),
            4 => cols!(4),
            5 => cols!(5),
            _ => cols!(6),
        }
    }

    /// `c (m, n) = alpha * a (m, k) @ w (n, k)^T + beta * c`, `a` and `w` with unit stride
    /// along `k`; `c` is not read when `beta` is 0. Each element of `c` is
    /// `alpha * dot + beta * c` where `dot` sums 16 strided partial sums in a fixed order.
    ///
    /// # Safety
    /// The operands must be valid for these shapes and strides, `c` must overlap neither input,
    /// and the CPU must support AVX-512F.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn dot_nt(
        m: usize,
        n: usize,
        k: usize,
        a: *const f32,
        lda: isize,
        w: *const f32,
        ldw: isize,
        c: *mut f32,
        rsc: isize,
        csc: isize,
        alpha: f32,
        beta: f32,
    ) {
        let one = |i: usize, j: usize, r: usize, cols: usize| {
            let ap = a.wrapping_offset(i as isize * lda);
            let wp = w.wrapping_offset(j as isize * ldw);
            let cp = c.wrapping_offset(i as isize * rsc + j as isize * csc);
            // SAFETY: the tile lies inside the operands.
            unsafe { any_tile(r, cols, k, ap, lda, wp, ldw, cp, rsc, csc, alpha, beta) };
        };
        // Keep the smaller operand's panel in cache while streaming the other once.
        if m <= n {
            for j in (0..n).step_by(NR) {
                for i in (0..m).step_by(MR) {
                    one(i, j, MR.min(m - i), NR.min(n - j));
                }
            }
        } else {
            for i in (0..m).step_by(MR) {
                for j in (0..n).step_by(NR) {
                    one(i, j, MR.min(m - i), NR.min(n - j));
                }
            }
        }
    }
}

/// Views a `(steps, batch, n)` array as `(steps * batch, n)`; the array must be in standard layout.
pub fn flatten<'a, T>(a: ArrayView3<'a, T>) -> Result<ArrayView2<'a, T>> {
    let (s, b, n) = a.dim();
    a.into_shape_with_order((s * b, n)).map_err(|_| {
        Error::invalid(
            "array layout",
            "C-contiguous (steps, batch, n)",
            "a strided view",
        )
    })
}

/// Mutable version of [`flatten`].
pub fn flatten_mut<'a, T>(a: ArrayViewMut3<'a, T>) -> Result<ArrayViewMut2<'a, T>> {
    let (s, b, n) = a.dim();
    a.into_shape_with_order((s * b, n)).map_err(|_| {
        Error::invalid(
            "array layout",
            "C-contiguous (steps, batch, n)",
            "a strided view",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{s, Array2, ShapeBuilder};

    fn rand(r: usize, c: usize, seed: u64) -> Array2<f64> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        Array2::from_shape_simple_fn((r, c), || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
    }

    /// Exact-enough reference: f64 sums of products, then `alpha * s + beta * c`.
    fn reference(
        alpha: f64,
        a: &Array2<f64>,
        b: &Array2<f64>,
        beta: f64,
        c: &Array2<f64>,
    ) -> Array2<f64> {
        let mut out = a.dot(b) * alpha;
        if beta != 0.0 {
            out = out + c * beta;
        }
        out
    }

    /// The same logical matrix in F order.
    fn fortran<T: Copy + num_traits::Zero>(x: &Array2<T>) -> Array2<T> {
        let mut y = Array2::zeros(x.raw_dim().f());
        y.assign(x);
        y
    }

    /// Runs [`gemm()`] on `a`, `b`, `c` stored as `variant` says: 0 as given, 1 as views with
    /// positive non-unit strides, 2 as views with negative strides. Returns the new `c`.
    fn gemm_in<T: Float>(
        variant: usize,
        alpha: T,
        a: &Array2<T>,
        b: &Array2<T>,
        beta: T,
        c: &Array2<T>,
    ) -> Array2<T> {
        let (m, k) = a.dim();
        let n = b.ncols();
        match variant {
            0 => {
                let mut c = c.clone();
                gemm(alpha, &a.view(), &b.view(), beta, &mut c.view_mut());
                c
            }
            1 => {
                let mut ap = Array2::<T>::zeros((2 * m, k + 1));
                ap.slice_mut(s![..;2, 1..]).assign(a);
                let mut bp = Array2::<T>::zeros((k, 3 * n));
                bp.slice_mut(s![.., ..;3]).assign(b);
                let mut cp = Array2::<T>::from_elem((m, 2 * n), T::nan());
                cp.slice_mut(s![.., ..;2]).assign(c);
                gemm(
                    alpha,
                    &ap.slice(s![..;2, 1..]),
                    &bp.slice(s![.., ..;3]),
                    beta,
                    &mut cp.slice_mut(s![.., ..;2]),
                );
                cp.slice(s![.., ..;2]).to_owned()
            }
            _ => {
                let mut ap = Array2::<T>::zeros((2 * m, k + 1));
                ap.slice_mut(s![..;-2, 1..]).assign(a);
                let mut cp = Array2::<T>::from_elem((m, 2 * n), T::nan());
                cp.slice_mut(s![.., ..;-2]).assign(c);
                gemm(
                    alpha,
                    &ap.slice(s![..;-2, 1..]),
                    &b.slice(s![..;-1, ..;-1]).slice(s![..;-1, ..;-1]),
                    beta,
                    &mut cp.slice_mut(s![.., ..;-2]),
                );
                cp.slice(s![.., ..;-2]).to_owned()
            }
        }
    }

    /// Every layout of `a`, `b`, `c` (standard, transposed, strided, reversed) for f32 and f64,
    /// including sizes that leave partial tiles and empty dimensions.
    #[test]
    fn matches_reference_in_every_layout() {
        let shapes = [
            (0, 3, 4),
            (3, 0, 4),
            (3, 4, 0),
            (1, 1, 1),
            (1, 37, 19),
            (37, 1, 19),
            (7, 13, 33),
            (32, 64, 17),
            (45, 70, 130),
            (130, 50, 64),
            (20, 300, 300),
            (5, 64, 3),
            (16, 130, 70),
            (16, 300, 300),
        ];
        for (si, &(m, n, k)) in shapes.iter().enumerate() {
            let a64 = rand(m, k, si as u64 * 100 + 1);
            let b64 = rand(k, n, si as u64 * 100 + 2);
            let c64 = rand(m, n, si as u64 * 100 + 3);
            for layout in 0..24 {
                let (ta, tb, tc, variant) = (
                    layout & 1 != 0,
                    layout & 2 != 0,
                    layout & 4 != 0,
                    layout / 8,
                );
                for &(alpha, beta) in &[(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0)] {
                    let want = reference(alpha, &a64, &b64, beta, &c64);
                    macro_rules! check {
                        ($t:ty, $tol:expr) => {{
                            let conv = |x: &Array2<f64>, f: bool| {
                                let y = x.mapv(|v| v as $t);
                                if f { fortran(&y) } else { y }
                            };
                            let (a, b, c) = (conv(&a64, ta), conv(&b64, tb), conv(&c64, tc));
                            let got = gemm_in(variant, alpha as $t, &a, &b, beta as $t, &c);
                            for ((i, j), &g) in got.indexed_iter() {
                                let w = want[(i, j)];
                                assert!(
                                    (g as f64 - w).abs() <= $tol * (1.0 + w.abs()) * (k as f64 + 1.0).sqrt(),
                                    "{} ({m},{n},{k}) layout {layout} alpha {alpha} beta {beta} [{i},{j}]: {g} vs {w}",
                                    stringify!($t)
                                );
                            }
                        }};
                    }
                    check!(f32, 1e-5);
                    check!(f64, 1e-13);
                }
            }
        }
    }

    /// `beta = 0` must not read `c`: NaN there does not propagate.
    #[test]
    fn beta_zero_ignores_c() {
        for &(m, n, k) in &[(1, 64, 64), (32, 64, 64), (64, 32, 20), (200, 200, 40)] {
            let a = rand(m, k, 1).mapv(|v| v as f32);
            let w = rand(n, k, 2).mapv(|v| v as f32);
            let b = rand(k, n, 3).mapv(|v| v as f32);
            let mut c = Array2::from_elem((m, n), f32::NAN);
            gemm(1.0, &a.view(), &w.t(), 0.0, &mut c.view_mut());
            assert!(c.iter().all(|v| v.is_finite()));
            let mut c = Array2::from_elem((m, n), f32::NAN);
            gemm(1.0, &a.view(), &b.view(), 0.0, &mut c.view_mut());
            assert!(c.iter().all(|v| v.is_finite()));
        }
    }

    /// Products big enough to be split give bit-identical results on repeats and for any
    /// number of threads. (One test, as it changes the global thread count.)
    #[test]
    fn deterministic_across_repeats_and_thread_counts() {
        assert!(num_threads() >= 1);
        set_num_threads(3);
        assert_eq!(num_threads(), 3);
        set_num_threads(0);
        assert!((1..=MAX_DEFAULT_THREADS).contains(&num_threads()));
        let shapes = [
            (32, 512, 512),
            (512, 512, 1120),
            (1120, 28, 512),
            (28, 512, 1120),
            (1120, 512, 28),
        ];
        for &(m, n, k) in &shapes {
            for &(ta, tb) in &[(false, true), (false, false), (true, false)] {
                let a = if ta {
                    rand(k, m, 5).reversed_axes()
                } else {
                    rand(m, k, 5)
                }
                .mapv(|v| v as f32);
                let b = if tb {
                    rand(n, k, 6).reversed_axes()
                } else {
                    rand(k, n, 6)
                }
                .mapv(|v| v as f32);
                let c0 = rand(m, n, 7).mapv(|v| v as f32);
                let run = |threads: usize| {
                    let mut c = c0.clone();
                    set_num_threads(threads);
                    gemm(1.0, &a.view(), &b.view(), 1.0, &mut c.view_mut());
                    c
                };
                let one = run(1);
                for threads in [2, 3, 2, 1] {
                    let got = run(threads);
                    assert!(
                        got.iter()
                            .zip(&one)
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "({m},{n},{k}) ta {ta} tb {tb}: {threads} threads differ from 1"
                    );
                }
                set_num_threads(0);
            }
        }
    }

    /// Threads calling [`gemm()`] at once (all but one find the helpers busy and compute alone)
    /// all get the single-threaded result.
    #[test]
    fn concurrent_callers_agree() {
        let (m, n, k) = (64, 512, 300);
        let a = rand(m, k, 11).mapv(|v| v as f32);
        let w = rand(n, k, 12).mapv(|v| v as f32);
        let mut want = Array2::<f32>::zeros((m, n));
        gemm(1.0, &a.view(), &w.t(), 0.0, &mut want.view_mut());
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..20 {
                        let mut c = Array2::<f32>::zeros((m, n));
                        gemm(1.0, &a.view(), &w.t(), 0.0, &mut c.view_mut());
                        assert!(c.iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()));
                    }
                });
            }
        });
    }
}
