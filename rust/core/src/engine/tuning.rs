//! The engine's choices that were made by measurement, one set per instruction-set level:
//! which kernel takes which product shape, how products are cut into blocks for the threads,
//! and when the recurrence multiplies by a transposed copy of `W_hh`. Each depends on the
//! shape and the level only, so results never depend on the number of threads.
//!
//! Measured with `cargo bench -p seqrnn --bench gemm` and `benchmarks/bench.py` (see
//! BENCHMARKS.md) on a 2-core AMD EPYC (Zen 4) at each level.

use super::isa::Isa;
use super::recurrent::{Layout, Pass};

/// Per-level choices.
#[derive(Clone, Copy, Debug)]
pub(super) struct Tuning {
    /// Rows of `a`, at most, for which the broadcast kernel beats the general kernels...
    pub axpy_max_rows: usize,
    /// ... while `b` has at most this many elements (past it, `b` leaves the core's cache and
    /// the general kernels' packing pays).
    pub axpy_max_b: usize,
    /// Dot products are used while `rows of a * dot_k_per_row < k`: repacking `b` costs the
    /// general kernels about as much as a product with few rows of `a`.
    pub dot_k_per_row: usize,
    /// The general kernels have a matrix-vector kernel as fast as dot products (one row of
    /// `a`, both operands contiguous along `k`).
    pub crate_gemv: bool,
    /// Output rows or columns per block of a split product are a multiple of this (one
    /// register of `f32`), so no block starts in the middle of a vector...
    pub block_align: usize,
    /// ... and at least this many.
    pub block_width: usize,
    /// Blocks of a split product, at most.
    pub max_blocks: usize,
    /// Largest hidden size for which the forward recurrence `h_{t-1} W_hh^T` multiplies by a
    /// row-major copy of `W_hh^T` (broadcast kernel) rather than by dot products with the rows
    /// of `W_hh`.
    pub forward_copy_max_hidden: usize,
    /// Smallest hidden size for which the backward recurrence `dz_t W_hh` takes dot products
    /// with the rows of a row-major copy of `W_hh^T` rather than broadcasting into rows of
    /// `W_hh` (whose rows lie far apart in a large matrix).
    pub backward_copy_min_hidden: usize,
    /// Smallest hidden size for which a recurrence with several rows multiplies by `W_hh` cut
    /// into strips (AVX2 + FMA only; `usize::MAX`: never).
    pub packed_min_hidden: usize,
}

impl Tuning {
    /// The choices for `isa`.
    pub fn of(isa: Isa) -> &'static Tuning {
        match isa {
            Isa::Avx512 => &AVX512,
            Isa::Avx2 => &AVX2,
            Isa::Generic => &GENERIC,
        }
    }
}

const AVX512: Tuning = Tuning {
    axpy_max_rows: 16,
    axpy_max_b: 512 * 512,
    dot_k_per_row: 2,
    crate_gemv: true,
    block_align: 16,
    block_width: 64,
    max_blocks: 8,
    forward_copy_max_hidden: 256,
    backward_copy_min_hidden: usize::MAX,
    packed_min_hidden: usize::MAX,
};

const AVX2: Tuning = Tuning {
    axpy_max_rows: 16,
    axpy_max_b: 512 * 512,
    dot_k_per_row: 2,
    crate_gemv: true,
    block_align: 16,
    block_width: 64,
    max_blocks: 8,
    forward_copy_max_hidden: 256,
    backward_copy_min_hidden: 1024,
    packed_min_hidden: 512,
};

const GENERIC: Tuning = Tuning {
    axpy_max_rows: 16,
    // No general kernel with a matrix-vector path: packing `b` never pays for few rows.
    axpy_max_b: usize::MAX,
    dot_k_per_row: 2,
    crate_gemv: false,
    block_align: 16,
    block_width: 64,
    max_blocks: 8,
    forward_copy_max_hidden: 0,
    backward_copy_min_hidden: 0,
    packed_min_hidden: usize::MAX,
};

/// The layout [`super::Recurrent`] keeps `b` in for a recurrence of `batch` sequences of
/// `hidden` units at level `isa` (measured, see the fields of [`Tuning`]).
pub(super) fn recurrent_layout(isa: Isa, pass: Pass, batch: usize, hidden: usize) -> Layout {
    let t = Tuning::of(isa);
    if batch > 1 && hidden >= t.packed_min_hidden {
        return Layout::Packed;
    }
    match pass {
        Pass::Forward if batch > 1 && hidden <= t.forward_copy_max_hidden => Layout::RowMajor,
        Pass::Forward => Layout::ColMajor,
        Pass::Backward if hidden >= t.backward_copy_min_hidden => Layout::ColMajor,
        Pass::Backward => Layout::RowMajor,
    }
}
