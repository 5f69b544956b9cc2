//! [`Recurrent`]: a matrix prepared once for the many products of a recurrence, `h_{t-1}
//! W_hh^T` forward and `dz_t W_hh` backward, one per time step.
//!
//! Preparing costs one pass over the matrix; at every step it saves what a product would
//! otherwise redo or suffer. Three layouts, chosen per instruction-set level by measurement
//! ([`super::tuning`]):
//! - row-major (`b` contiguous along `n`): the broadcast kernel reads `b`'s rows in order;
//! - column-major (`b` contiguous along `k`): the dot-product kernel reads `b`'s columns;
//! - packed (AVX2 + FMA, `f32`): `b` cut into strips of 16 columns stored one after another,
//!   multiplied in `6 x 16` tiles that read each strip in order and the rows of `a` in place.
//!
//! Whichever layout, a product gives the same result as [`super::gemm()`] would at the same
//! level for that layout, and the same at every thread count.

use super::isa;
#[cfg(x86_kernels)]
use super::isa::Isa;
#[cfg(x86_kernels)]
use super::pool;
#[cfg(x86_kernels)]
use super::product::{cast, Mat, Product};
use super::{gemm, transpose_into, tuning};
use crate::Float;
use ndarray::{Array2, ArrayView2, ArrayViewMut2};
use std::any::Any;
use std::any::TypeId;
use std::cell::RefCell;

/// Which way the recurrence runs: the layouts that pay differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// `h_{t-1} W_hh^T`: `b` is `W_hh^T`.
    Forward,
    /// `dz_t W_hh`: `b` is `W_hh`.
    Backward,
}

/// The layout a [`Recurrent`] keeps its matrix in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    /// Contiguous along `n`.
    RowMajor,
    /// Contiguous along `k`.
    ColMajor,
    /// Strips of 16 columns (`f32`, AVX2 + FMA).
    Packed,
}

/// `b` (k, n) prepared for products `a (m, k) @ b` with `m` = the batch.
pub struct Recurrent<'a, T: Float> {
    prepared: Prepared<'a, T>,
}

enum Prepared<'a, T> {
    /// `b` as given.
    View(ArrayView2<'a, T>),
    /// Nothing (after its buffer went back for reuse).
    Done,
    /// A row-major copy of `b`.
    RowMajor(Array2<T>),
    /// A row-major copy of `b^T`, so `b` is its transposed view (column-major).
    ColMajor(Array2<T>),
    /// `b` in strips for the level, with its shape.
    #[cfg(x86_kernels)]
    Strips {
        isa: Isa,
        k: usize,
        n: usize,
        strips: Vec<f32>,
    },
}

impl<T: Float> Drop for Recurrent<'_, T> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.prepared, Prepared::Done) {
            Prepared::RowMajor(a) | Prepared::ColMajor(a) => give(a.into_raw_vec_and_offset().0),
            #[cfg(x86_kernels)]
            Prepared::Strips { strips, .. } => give(strips),
            Prepared::View(_) | Prepared::Done => {}
        }
    }
}

thread_local! {
    /// Buffers of prepared matrices that are done with, for the next ones on this thread: the
    /// recurrence prepares W_hh at every minibatch, and a fresh buffer of a megabyte or more
    /// costs page faults each time (14% of the time at hidden 512, measured).
    static SPARE: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `U` given back earlier on this thread, or a new one.
fn take<U: 'static>() -> Vec<U> {
    SPARE
        .with_borrow_mut(|spare| {
            let i = spare.iter().position(|b| b.is::<Vec<U>>())?;
            spare.swap_remove(i).downcast::<Vec<U>>().ok().map(|b| *b)
        })
        .unwrap_or_default()
}

/// Keeps `buffer` for [`take`] (at most 4 on a thread).
fn give<U: 'static>(buffer: Vec<U>) {
    SPARE.with_borrow_mut(|spare| {
        if spare.len() < 4 {
            spare.push(Box::new(buffer));
        }
    });
}

impl<'a, T: Float> Recurrent<'a, T> {
    /// Prepares `b` (k, n) for products with `batch` rows of `a` at the level in use.
    pub fn new(b: ArrayView2<'a, T>, batch: usize, pass: Pass) -> Self {
        let isa = isa::current();
        let n = b.ncols();
        let layout = tuning::recurrent_layout(isa, pass, batch, n);
        let is_f32 = TypeId::of::<T>() == TypeId::of::<f32>();
        let prepared = match layout {
            #[cfg(x86_kernels)]
            Layout::Packed if is_f32 && isa == Isa::Avx2 => match Mat::of(&b) {
                Some(bm) => Prepared::Strips {
                    isa,
                    k: b.nrows(),
                    n,
                    // SAFETY: `T` is `f32`, `b` is valid for (k, n), and the CPU has AVX2 and
                    // FMA (the level in use is at most the CPU's).
                    strips: unsafe { super::avx2_packed::strips(bm.cast(), b.nrows(), n, take()) },
                },
                None => Prepared::View(b),
            },
            Layout::RowMajor if b.strides()[1] != 1 => {
                Prepared::RowMajor(transpose_into(b.t(), take()))
            }
            Layout::ColMajor if b.strides()[0] != 1 => {
                Prepared::ColMajor(transpose_into(b, take()))
            }
            _ => Prepared::View(b),
        };
        let _ = is_f32;
        Recurrent { prepared }
    }

    /// `c = alpha * a @ b + beta * c`, `a` (m, k) contiguous along `k`, `c` (m, n).
    pub fn gemm(&self, alpha: T, a: &ArrayView2<'_, T>, beta: T, c: &mut ArrayViewMut2<'_, T>) {
        match &self.prepared {
            Prepared::View(b) => gemm(alpha, a, b, beta, c),
            Prepared::Done => unreachable!("a Recurrent is only emptied when it is dropped"),
            Prepared::RowMajor(b) => gemm(alpha, a, &b.view(), beta, c),
            Prepared::ColMajor(bt) => gemm(alpha, a, &bt.t(), beta, c),
            #[cfg(x86_kernels)]
            Prepared::Strips { isa, k, n, strips } => {
                let (m, ka) = a.dim();
                let ok = ka == *k
                    && c.dim() == (m, *n)
                    && a.strides()[1] == 1
                    && TypeId::of::<T>() == TypeId::of::<f32>();
                let (Some(am), Some(cm), true) = (Mat::of(a), Mat::of_mut(c), ok) else {
                    panic!(
                        "Recurrent::gemm: a {:?}, c {:?} do not fit b ({k}, {n})",
                        a.dim(),
                        c.dim()
                    );
                };
                // (`b` unused: the strips stand for it.)
                let p = Product {
                    m,
                    n: *n,
                    k: *k,
                    a: am.cast::<f32>(),
                    b: am.cast(),
                    c: cm.cast(),
                };
                let (alpha, beta): (f32, f32) = (cast(alpha), cast(beta));
                debug_assert_eq!(*isa, Isa::Avx2);
                // Blocks of strips for the threads, by shape only.
                let strips_n = n.div_ceil(super::avx2_packed::NR);
                let work = m.saturating_mul(*n).saturating_mul(*k);
                let blocks = if work < super::PARALLEL_MIN_WORK {
                    1
                } else {
                    strips_n.min(8)
                };
                let p = &p; // captured whole: a `Product` may be shared between threads
                let block = |i: usize| {
                    let (lo, hi) = (strips_n * i / blocks, strips_n * (i + 1) / blocks);
                    // SAFETY: the CPU has AVX2 and FMA (the level was in use when packing);
                    // `a` and `c` are valid for (m, k) and (m, n) and do not overlap (`c` is
                    // borrowed mutably); blocks write disjoint columns of `c`.
                    unsafe {
                        super::avx2_packed::gemm_strips(
                            p.m,
                            p.n,
                            p.k,
                            p.a,
                            strips,
                            p.c,
                            alpha,
                            beta,
                            lo..hi,
                        )
                    }
                };
                let threads = pool::num_threads().min(blocks);
                if threads <= 1 {
                    (0..blocks).for_each(block);
                } else {
                    pool::run(threads - 1, blocks, &block);
                }
            }
        }
    }
}
