//! [`Rnn::step`]: one step of every layer, for inference.

use super::{Rnn, StepInput};
use crate::engine::gemm;
use crate::error::check_shape;
use crate::{Float, Result};
use ndarray::{Array2, Array3, Axis, Zip};

impl<T: Float> Rnn<T> {
    /// Advances `state` `(num_layers, batch, hidden)` by one step, for inference (no cache).
    /// `pre` `(batch, hidden)` is scratch space; nothing is allocated.
    pub fn step(
        &self,
        input: StepInput<'_, T>,
        state: &mut Array3<T>,
        pre: &mut Array2<T>,
    ) -> Result<()> {
        let c = &self.config;
        let batch = state.dim().1;
        check_shape(
            "state",
            &[c.num_layers, batch, c.hidden_size],
            state.shape(),
        )?;
        check_shape("step buffer", &[batch, c.hidden_size], pre.shape())?;
        match &input {
            StepInput::Dense(x) => check_shape("step input", &[batch, c.input_size], x.shape())?,
            StepInput::OneHot(ids) => {
                check_shape("step ids", &[batch], &[ids.len()])?;
                crate::embedding::check_ids("step ids", ids.iter().copied(), c.input_size)?;
            }
        }
        let act = c.nonlinearity;
        for (l, layer) in self.layers.iter().enumerate() {
            match (l, &input) {
                (0, StepInput::OneHot(ids)) => {
                    for (mut row, &id) in pre.rows_mut().into_iter().zip(ids.iter()) {
                        row.assign(&layer.weight_ih.column(id));
                    }
                }
                (0, StepInput::Dense(x)) => gemm(
                    T::one(),
                    x,
                    &layer.weight_ih.t(),
                    T::zero(),
                    &mut pre.view_mut(),
                ),
                _ => gemm(
                    T::one(),
                    &state.index_axis(Axis(0), l - 1),
                    &layer.weight_ih.t(),
                    T::zero(),
                    &mut pre.view_mut(),
                ),
            }
            let mut h = state.index_axis_mut(Axis(0), l); // (B, H)
            gemm(
                T::one(),
                &h.view(),
                &layer.weight_hh.t(),
                T::one(),
                &mut pre.view_mut(),
            );
            if let (Some(bi), Some(bh)) = (&layer.bias_ih, &layer.bias_hh) {
                for mut row in pre.rows_mut() {
                    Zip::from(&mut row)
                        .and(bi)
                        .and(bh)
                        .for_each(|p, &a, &b| *p = *p + a + b);
                }
            }
            act.apply_in_place(&mut pre.view_mut());
            h.assign(pre);
        }
        Ok(())
    }
}
