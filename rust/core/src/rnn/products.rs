//! The products of a layer that take every time step at once: the input projection forward,
//! the weight and input gradients backward.

use super::{RnnInput, RnnLayer};
use crate::engine::{flatten, flatten_mut, gemm};
use crate::{Float, Result};
use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, CowArray, Ix3};

/// What layer `l` reads at every step.
pub(super) enum LayerInput<'a, T> {
    /// Layer 0, features `(steps, batch, input_size)`.
    Dense(ArrayView3<'a, T>),
    /// Layer 0, ids `(steps, batch)`.
    OneHot(ArrayView2<'a, usize>),
    /// Layer `l > 0`: the states `(steps, batch, hidden)` of layer `l - 1` and, in training,
    /// their dropout mask.
    Below(ArrayView3<'a, T>, Option<&'a Array3<T>>),
}

impl<'a, T: Float> LayerInput<'a, T> {
    /// Layer `l`'s input, given the first layer's `input` and the `states` and `masks` of at
    /// least the layers up to `l - 1` (the masks up to `l`).
    pub(super) fn of(
        l: usize,
        input: &'a RnnInput<T>,
        states: &'a [Array3<T>],
        masks: &'a [Option<Array3<T>>],
    ) -> Self {
        match (l, input) {
            (0, RnnInput::Dense(x)) => LayerInput::Dense(x.view()),
            (0, RnnInput::OneHot(ids)) => LayerInput::OneHot(ids.view()),
            _ => LayerInput::Below(
                states[l - 1].slice(s![1.., .., ..]), // (steps, B, H)
                masks.get(l).and_then(Option::as_ref),
            ),
        }
    }
}

/// The states of the layer below after dropout: `below * mask`, or `below` itself.
fn dropped<'a, T: Float>(
    below: ArrayView3<'a, T>,
    mask: Option<&Array3<T>>,
) -> CowArray<'a, T, Ix3> {
    match mask {
        Some(m) => CowArray::from(&below * m), // (steps, B, H)
        None => CowArray::from(below),
    }
}

/// `pre_t = x_t W_ih^T + b_ih + b_hh` for every step at once (a gather for one-hot input).
///
/// Shapes: `pre` `(steps*B, H)`.
pub(super) fn project_inputs<T: Float>(
    layer: &RnnLayer<T>,
    x: &LayerInput<'_, T>,
    mut pre: ArrayViewMut2<'_, T>,
) -> Result<()> {
    match x {
        LayerInput::Dense(x) => {
            let x = x.as_standard_layout();
            gemm(
                T::one(),
                &flatten(x.view())?,
                &layer.weight_ih.t(),
                T::zero(),
                &mut pre,
            );
        }
        LayerInput::OneHot(ids) => {
            let table = crate::engine::transpose(layer.weight_ih.view()); // (V, H)
            for (mut row, &id) in pre.rows_mut().into_iter().zip(ids.iter()) {
                row.assign(&table.row(id));
            }
        }
        LayerInput::Below(below, mask) => {
            let x = dropped(below.view(), *mask); // (steps, B, H)
            gemm(
                T::one(),
                &flatten(x.view())?,
                &layer.weight_ih.t(),
                T::zero(),
                &mut pre,
            );
        }
    }
    if let (Some(bi), Some(bh)) = (&layer.bias_ih, &layer.bias_hh) {
        let bias = bi + bh; // (H,)
        pre += &bias;
    }
    Ok(())
}

/// The weight gradients of one layer, every step at once: `dW_hh = sum_t dz_t^T h_{t-1}`,
/// `dW_ih = sum_t dz_t^T x_t` (a scatter-add for one-hot input) and
/// `db_ih = db_hh = sum_t dz_t`.
///
/// Shapes: `dz` `(steps*B, H)`, `h_prev` `(steps, B, H)` (the states `h_0 .. h_{steps-1}`).
pub(super) fn weight_gradients<T: Float>(
    g: &mut RnnLayer<T>,
    dz: ArrayView2<'_, T>,
    h_prev: ArrayView3<'_, T>,
    x: &LayerInput<'_, T>,
) -> Result<()> {
    gemm(
        T::one(),
        &dz.t(),
        &flatten(h_prev)?,
        T::zero(),
        &mut g.weight_hh.view_mut(),
    );
    if let (Some(gbi), Some(gbh)) = (&mut g.bias_ih, &mut g.bias_hh) {
        let db = dz.sum_axis(Axis(0)); // (H,)
        gbi.assign(&db);
        gbh.assign(&db);
    }
    let x = match x {
        LayerInput::OneHot(ids) => {
            let (hidden, vocab) = g.weight_ih.dim();
            let mut gt = Array2::zeros((vocab, hidden)); // (V, H)
            for (row, &id) in dz.rows().into_iter().zip(ids.iter()) {
                let mut target = gt.row_mut(id);
                target += &row;
            }
            g.weight_ih.assign(&gt.t());
            return Ok(());
        }
        LayerInput::Dense(x) => x.as_standard_layout(), // (steps, B, input_size)
        LayerInput::Below(below, mask) => dropped(below.view(), *mask), // (steps, B, H)
    };
    gemm(
        T::one(),
        &dz.t(),
        &flatten(x.view())?,
        T::zero(),
        &mut g.weight_ih.view_mut(),
    );
    Ok(())
}

/// The gradient reaching a layer's input, every step at once: `dx_t = dz_t W_ih`, times the
/// dropout mask where the input went through one.
///
/// Shapes: `dz` `(steps*B, H)`, `dx` `(steps, B, layer input)`.
pub(super) fn input_gradients<T: Float>(
    layer: &RnnLayer<T>,
    dz: ArrayView2<'_, T>,
    mask: Option<&Array3<T>>,
    dx: &mut Array3<T>,
) -> Result<()> {
    gemm(
        T::one(),
        &dz,
        &layer.weight_ih.view(),
        T::zero(),
        &mut flatten_mut(dx.view_mut())?,
    );
    if let Some(m) = mask {
        *dx *= m;
    }
    Ok(())
}
