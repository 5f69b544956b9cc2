//! Additive (Bahdanau) attention, as d2l's `AdditiveAttention`, with its exact backward pass.
//!
//! For a query `q` (a decoder state) and the encoder's states `v_1 .. v_n` of one source
//! sentence (its `n` valid positions; the keys and the values are both the encoder's states):
//!
//! `e_i = w_v . tanh(W_q q + W_k v_i)`, `a = softmax(e)`, `c = sum_i a_i v_i`.
//!
//! The keys `W_k v_i` do not depend on the decoder: [`AdditiveAttention::memory`] projects
//! them once per batch. Each decoder step then costs one `(rows, H) x (H, A)` product for the
//! queries and `n * A` tanh per row. Positions at or past a sentence's valid length get weight
//! exactly 0 (d2l masks them with `-1e6` before the softmax, which gives the same zeros).
//!
//! Shapes: the memory holds `S` source sentences of up to `Ts` positions; a step attends from
//! `R` rows (`R = S` in training, `S * beam` in beam search: row `r` reads source `r / group`).

use crate::engine::{flatten, gemm};
use crate::init::Init;
use crate::linear::Linear;
use crate::params::prefixed;
use crate::rnn::Feedback;
use crate::{Error, Float, Parameters, Result};
use ndarray::linalg::general_mat_vec_mul;
use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMut2};
use ndarray::{ArrayViewMutD, Axis};

/// `W_q.weight` `(A, H)`, `W_k.weight` `(A, H)`, `w_v.weight` `(1, A)`, none with a bias.
#[derive(Clone, Debug, PartialEq)]
pub struct AdditiveAttention<T> {
    /// Queries (decoder states) into the attention space.
    pub w_q: Linear<T>,
    /// Keys (encoder states) into the attention space.
    pub w_k: Linear<T>,
    /// The attention space to a score.
    pub w_v: Linear<T>,
}

/// The encoder's side of the attention for a batch of sentences: keys `(S, Ts, A)`, values
/// `(S, Ts, H)`, valid lengths `(S,)`.
#[derive(Clone, Debug)]
pub struct Memory<T> {
    keys: Array3<T>,
    values: Array3<T>,
    lengths: Vec<usize>,
    /// Rows per source sentence: row `r` reads sentence `r / group`.
    group: usize,
}

/// Scratch space of one attention step: `feat` `(Ts, A)`, `da` `(Ts,)`.
#[derive(Clone, Debug)]
pub struct Scratch<T> {
    feat: Array2<T>,
    da: Array1<T>,
}

impl<T> Memory<T> {
    /// `Ts`, the positions per sentence.
    pub fn steps(&self) -> usize {
        self.values.dim().1
    }

    /// The source sentence row `r` attends to, and its valid length.
    fn source(&self, r: usize) -> (usize, usize) {
        let s = r / self.group.max(1);
        (s, self.lengths.get(s).copied().unwrap_or(0))
    }
}

impl<T: Float> AdditiveAttention<T> {
    /// Attention between states of width `hidden`, in a space of width `attention` (d2l uses
    /// the hidden size). Drawn like PyTorch's `nn.Linear` layers without bias.
    pub fn new(hidden: usize, attention: usize, init: Init, seed: u64) -> Result<Self> {
        let mut seeds = crate::init::rng(seed);
        let mut next = || -> u64 { rand::RngExt::random(&mut seeds) };
        Ok(AdditiveAttention {
            w_q: Linear::new(hidden, attention, false, init, next())?,
            w_k: Linear::new(hidden, attention, false, init, next())?,
            w_v: Linear::new(attention, 1, false, init, next())?,
        })
    }

    /// Scratch space for steps over `memory`.
    pub fn scratch(&self, memory: &Memory<T>) -> Result<Scratch<T>> {
        let ts = memory.steps();
        Ok(Scratch {
            feat: crate::alloc::zeros2("attention features", ts, self.size())?,
            da: Array1::zeros(ts),
        })
    }

    /// `A`, the width of the attention space.
    pub fn size(&self) -> usize {
        self.w_q.out_features()
    }

    /// The memory of the encoder states `values` `(Ts, S, H)` (time-major, as the encoder
    /// gives them) with valid lengths `(S,)`, for `group` rows per sentence.
    pub fn memory(
        &self,
        values: ArrayView3<'_, T>,
        lengths: &[usize],
        group: usize,
    ) -> Result<Memory<T>> {
        let (steps, sources, hidden) = values.dim();
        crate::error::check_shape(
            "values",
            &[steps, sources, self.w_k.in_features()],
            &[steps, sources, hidden],
        )?;
        crate::error::check_shape("source lengths", &[sources], &[lengths.len()])?;
        if let Some(&bad) = lengths.iter().find(|&&n| n == 0 || n > steps) {
            return Err(Error::invalid(
                "source lengths",
                format!("between 1 and the source length ({steps})"),
                bad,
            ));
        }
        let values = values
            .permuted_axes([1, 0, 2])
            .as_standard_layout()
            .into_owned(); // (S, Ts, H)
        let mut keys = crate::alloc::zeros3("attention keys", sources, steps, self.size())?; // (S, Ts, A)
        let flat_values = flatten(values.view())?; // (S*Ts, H)
        let mut flat_keys = crate::engine::flatten_mut(keys.view_mut())?; // (S*Ts, A)
        gemm(
            T::one(),
            &flat_values,
            &self.w_k.weight.t(),
            T::zero(),
            &mut flat_keys,
        );
        Ok(Memory {
            keys,
            values,
            lengths: lengths.to_vec(),
            group: group.max(1),
        })
    }

    /// One step of attention from `rows` queries: writes the projected queries `q`
    /// `(R, A)`, the weights `(R, Ts)` (0 past each valid length) and the contexts `(R, H)`.
    pub fn attend(
        &self,
        memory: &Memory<T>,
        queries: ArrayView2<'_, T>,
        mut q: ArrayViewMut2<'_, T>,
        mut weights: ArrayViewMut2<'_, T>,
        mut context: ArrayViewMut2<'_, T>,
        scratch: &mut Scratch<T>,
    ) -> Result<()> {
        let rows = memory.lengths.len() * memory.group;
        let (a, h) = (self.size(), memory.values.dim().2);
        let check = crate::error::check_shape;
        check(
            "attention queries",
            &[rows, self.w_q.in_features()],
            queries.shape(),
        )?;
        check("attention projected queries", &[rows, a], q.shape())?;
        check(
            "attention weights",
            &[rows, memory.steps()],
            weights.shape(),
        )?;
        check("attention contexts", &[rows, h], context.shape())?;
        check(
            "attention scratch",
            &[memory.steps(), a],
            scratch.feat.shape(),
        )?;
        gemm(T::one(), &queries, &self.w_q.weight.t(), T::zero(), &mut q);
        let w_v = self.w_v.weight.row(0); // (A,)
        for r in 0..rows {
            let (s, n) = memory.source(r);
            self.features(memory, s, n, q.row(r), &mut scratch.feat);
            let mut a = weights.row_mut(r); // (Ts,)
            a.fill(T::zero());
            let mut a = a.slice_mut(s![..n]); // (n,)
            let f = scratch.feat.slice(s![..n, ..]); // (n, A)
            general_mat_vec_mul(T::one(), &f, &w_v, T::zero(), &mut a); // scores
            let max = a.fold(T::neg_infinity(), |m, &x| m.max(x));
            a.mapv_inplace(|x| (x - max).exp());
            let sum = a.sum();
            a.mapv_inplace(|x| x / sum);
            let v = memory.values.slice(s![s, ..n, ..]); // (n, H)
            general_mat_vec_mul(T::one(), &v.t(), &a, T::zero(), &mut context.row_mut(r));
        }
        Ok(())
    }

    /// `feat[..n] = tanh(q + k_i)` for the `n` valid keys of sentence `s`. Shapes: `q` `(A,)`,
    /// `feat` `(Ts, A)`.
    fn features(
        &self,
        memory: &Memory<T>,
        s: usize,
        n: usize,
        q: ndarray::ArrayView1<'_, T>,
        feat: &mut Array2<T>,
    ) {
        let mut f = feat.slice_mut(s![..n, ..]); // (n, A)
        f.assign(&memory.keys.slice(s![s, ..n, ..]));
        f += &q;
        match f.as_slice_mut() {
            Some(xs) => T::model_tanh_in_place(xs),
            None => f.mapv_inplace(T::model_tanh),
        }
    }

    /// The backward pass of one [`AdditiveAttention::attend`] step (training: one row per
    /// sentence). Given `d_context` `(R, H)`, adds into `grads.w_v`, `d_keys` `(S, Ts, A)` and
    /// `d_values` `(S, Ts, H)`, and writes the gradient of the projected queries `d_q`
    /// `(R, A)`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn attend_backward(
        &self,
        memory: &Memory<T>,
        q: ArrayView2<'_, T>,
        weights: ArrayView2<'_, T>,
        d_context: ArrayView2<'_, T>,
        grads: &mut AdditiveAttention<T>,
        d_keys: &mut Array3<T>,
        d_values: &mut Array3<T>,
        mut d_q: ArrayViewMut2<'_, T>,
        scratch: &mut Scratch<T>,
    ) {
        let w_v = self.w_v.weight.row(0); // (A,)
        for r in 0..q.nrows() {
            let (s, n) = memory.source(r);
            let a = weights.slice(s![r, ..n]); // (n,)
            let dc = d_context.row(r); // (H,)
            let v = memory.values.slice(s![s, ..n, ..]); // (n, H)
            let mut de = scratch.da.slice_mut(s![..n]); // (n,): da, then de
            general_mat_vec_mul(T::one(), &v, &dc, T::zero(), &mut de); // da_i = dc . v_i
            let mut dv = d_values.slice_mut(s![s, ..n, ..]); // (n, H)
            for (mut row, &ai) in dv.rows_mut().into_iter().zip(a.iter()) {
                row.scaled_add(ai, &dc);
            }
            // Softmax backward: de_i = a_i (da_i - sum_j a_j da_j).
            let mean = a.dot(&de);
            de.zip_mut_with(&a, |d, &ai| *d = ai * (*d - mean));
            self.features(memory, s, n, q.row(r), &mut scratch.feat);
            let f = scratch.feat.slice(s![..n, ..]); // (n, A)
            let mut g_v = grads.w_v.weight.row_mut(0); // (A,)
            general_mat_vec_mul(T::one(), &f.t(), &de, T::one(), &mut g_v);
            // dG_i = de_i * w_v * (1 - f_i^2), in place of the features.
            let mut g = scratch.feat.slice_mut(s![..n, ..]); // (n, A)
            for (mut row, &dei) in g.rows_mut().into_iter().zip(de.iter()) {
                row.zip_mut_with(&w_v, |x, &w| *x = dei * w * (T::one() - *x * *x));
            }
            let mut dq = d_q.row_mut(r); // (A,)
            dq.fill(T::zero());
            for row in g.rows() {
                dq += &row;
            }
            let mut dk = d_keys.slice_mut(s![s, ..n, ..]); // (n, A)
            dk += &g;
        }
    }
}

impl<T: Float> Parameters<T> for AdditiveAttention<T> {
    fn named(&self) -> Vec<(String, ArrayViewD<'_, T>)> {
        let mut out = prefixed("W_q", self.w_q.named());
        out.extend(prefixed("W_k", self.w_k.named()));
        out.extend(prefixed("w_v", self.w_v.named()));
        out
    }

    fn named_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, T>)> {
        let mut out = prefixed("W_q", self.w_q.named_mut());
        out.extend(prefixed("W_k", self.w_k.named_mut()));
        out.extend(prefixed("w_v", self.w_v.named_mut()));
        out
    }
}

/// The attention as the decoder's [`Feedback`] in training: each step's context from the top
/// layer's previous state, everything the backward pass needs kept per step, and the
/// gradients accumulated back over time.
pub struct AttentionFeed<'a, T> {
    attention: &'a AdditiveAttention<T>,
    /// The encoder's side.
    pub memory: Memory<T>,
    /// `(Tt, B, A)`: each step's projected queries.
    queries: Array3<T>,
    /// `(Tt, B, Ts)`: each step's attention weights.
    pub weights: Array3<T>,
    /// Gradients of the attention's parameters, filled by the backward pass.
    grads: AdditiveAttention<T>,
    /// `(S, Ts, A)` and `(S, Ts, H)`: the gradients of the keys and (directly) the values.
    d_keys: Array3<T>,
    d_values: Array3<T>,
    scratch: Scratch<T>,
    d_q: Array2<T>, // (B, A)
}

impl<'a, T: Float> AttentionFeed<'a, T> {
    /// Buffers for `steps` decoder steps of `memory`'s sentences, one row each.
    pub fn new(
        attention: &'a AdditiveAttention<T>,
        memory: Memory<T>,
        steps: usize,
    ) -> Result<Self> {
        let (rows, ts, a) = (memory.lengths.len(), memory.steps(), attention.size());
        let h = memory.values.dim().2;
        Ok(AttentionFeed {
            attention,
            queries: crate::alloc::zeros3("attention queries", steps, rows, a)?,
            weights: crate::alloc::zeros3("attention weights", steps, rows, ts)?,
            grads: attention.zeros_like(),
            d_keys: crate::alloc::zeros3("attention gradients", rows, ts, a)?,
            d_values: crate::alloc::zeros3("attention gradients", rows, ts, h)?,
            scratch: attention.scratch(&memory)?,
            d_q: crate::alloc::zeros2("attention gradients", rows, a)?,
            memory,
        })
    }
}

impl<T: Float> AttentionFeed<'_, T> {
    /// After the decoder's backward pass: the gradients of the attention's parameters and of
    /// the encoder states, time-major `(Ts, S, H)` (through the keys and as the values).
    pub fn finish(self) -> Result<(AdditiveAttention<T>, Array3<T>)> {
        let AttentionFeed {
            attention,
            memory,
            d_keys,
            mut d_values,
            mut grads,
            ..
        } = self;
        let dk = flatten(d_keys.view())?; // (S*Ts, A)
        let v = flatten(memory.values.view())?; // (S*Ts, H)
        gemm(
            T::one(),
            &dk.t(),
            &v,
            T::zero(),
            &mut grads.w_k.weight.view_mut(),
        );
        let mut dv = crate::engine::flatten_mut(d_values.view_mut())?; // (S*Ts, H)
        gemm(
            T::one(),
            &dk,
            &attention.w_k.weight.view(),
            T::one(),
            &mut dv,
        );
        let d_states = d_values
            .permuted_axes([1, 0, 2])
            .as_standard_layout()
            .into_owned(); // (Ts, S, H)
        Ok((grads, d_states))
    }
}

impl<T: Float> Feedback<T> for AttentionFeed<'_, T> {
    fn width(&self) -> usize {
        self.memory.values.dim().2
    }

    fn forward(
        &mut self,
        t: usize,
        top_prev: ArrayView2<'_, T>,
        x_fed: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        self.attention.attend(
            &self.memory,
            top_prev,
            self.queries.index_axis_mut(Axis(0), t),
            self.weights.index_axis_mut(Axis(0), t),
            x_fed,
            &mut self.scratch,
        )
    }

    fn backward(
        &mut self,
        t: usize,
        top_prev: ArrayView2<'_, T>,
        d_fed: ArrayView2<'_, T>,
        mut d_top_prev: ArrayViewMut2<'_, T>,
    ) -> Result<()> {
        self.attention.attend_backward(
            &self.memory,
            self.queries.index_axis(Axis(0), t),
            self.weights.index_axis(Axis(0), t),
            d_fed,
            &mut self.grads,
            &mut self.d_keys,
            &mut self.d_values,
            self.d_q.view_mut(),
            &mut self.scratch,
        );
        // q = s W_q^T: dW_q += dq^T s, ds += dq W_q.
        let w_q = &self.attention.w_q.weight; // (A, H)
        gemm(
            T::one(),
            &self.d_q.t(),
            &top_prev,
            T::one(),
            &mut self.grads.w_q.weight.view_mut(),
        );
        gemm(
            T::one(),
            &self.d_q.view(),
            &w_q.view(),
            T::one(),
            &mut d_top_prev,
        );
        Ok(())
    }
}
