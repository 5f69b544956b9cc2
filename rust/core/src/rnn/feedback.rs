//! An [`Rnn`] whose first layer reads, at every step, features computed from the top layer's
//! previous state: the decoder of an attention model, where `x_t = [c_t, e_t]` and the context
//! `c_t` depends on `h_{t-1}` of the top layer.
//!
//! The part of `x_t` that does not depend on the recurrence (`e_t`, the embeddings) is still
//! projected for every step at once before the loop; the loop runs step-major (every layer at
//! step `t`, then `t + 1`), because layer 0 at `t + 1` waits for the top layer at `t`. Backward
//! mirrors it: one loop back over time through every layer, handing the gradient of each step's
//! fed features to the [`Feedback`], which adds what reaches `h_{t-1}` of the top layer; then
//! the weight and input gradients of all steps as single products, as in [`Rnn::backward`].

use super::products::{input_gradients, weight_gradients, LayerInput};
use super::{dropout_mask, Rnn, RnnCache, RnnGrads, RnnInput};
use crate::engine::{flatten, gemm, Pass, Recurrent};
use crate::error::check_shape;
use crate::{Error, Float, Parameters, Result};
use ndarray::{s, Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewMut2, Axis, Zip};

/// The features fed back into the first layer: the first `width()` columns of its input.
pub trait Feedback<T> {
    /// Number of fed columns `F` at the start of each input row.
    fn width(&self) -> usize;

    /// Step `t` forward: writes the fed features `x_fed` `(batch, F)` computed from the top
    /// layer's state `h_{t-1}` `top_prev` `(batch, hidden)`.
    fn forward(
        &mut self,
        t: usize,
        top_prev: ArrayView2<'_, T>,
        x_fed: ArrayViewMut2<'_, T>,
    ) -> Result<()>;

    /// Step `t` backward (called for `t` from the last step down): given the loss gradient
    /// `d_fed` `(batch, F)` of the features written at `t`, adds their gradient with respect to
    /// `top_prev` `(batch, hidden)` into `d_top_prev`.
    fn backward(
        &mut self,
        t: usize,
        top_prev: ArrayView2<'_, T>,
        d_fed: ArrayView2<'_, T>,
        d_top_prev: ArrayViewMut2<'_, T>,
    ) -> Result<()>;
}

impl<T: Float> Rnn<T> {
    /// [`Rnn::forward_train`] with the first `feedback.width()` columns of the input at each
    /// step written by `feedback` from the top layer's previous state. The rest of `input` is
    /// given; the fed columns are overwritten and kept in the cache.
    ///
    /// Shapes: `input` `(steps, batch, input_size)`, `h0` `(num_layers, batch, hidden)`.
    pub fn forward_fed(
        &self,
        input: Array3<T>,
        h0: Option<ArrayView3<'_, T>>,
        feedback: &mut dyn Feedback<T>,
        mut rng: Option<&mut rand::rngs::StdRng>,
    ) -> Result<RnnCache<T>> {
        let mut input = RnnInput::Dense(input);
        let (steps, batch) = self.check_inputs(&input, h0.as_ref(), None)?;
        let c = &self.config;
        let (hidden, fed) = (c.hidden_size, feedback.width());
        if fed > c.input_size {
            return Err(Error::invalid(
                "fed features",
                format!("at most the input size ({})", c.input_size),
                fed,
            ));
        }
        let mut states = Vec::with_capacity(c.num_layers);
        let mut masks = Vec::with_capacity(c.num_layers);
        for l in 0..c.num_layers {
            let mut s = crate::alloc::zeros3("RNN states", steps + 1, batch, hidden)?; // (steps+1, B, H)
            if let Some(h0) = &h0 {
                s.index_axis_mut(Axis(0), 0)
                    .assign(&h0.index_axis(Axis(0), l));
            }
            states.push(s);
            masks.push(match rng.as_deref_mut() {
                Some(r) if l > 0 && c.dropout > 0.0 => {
                    Some(dropout_mask((steps, batch, hidden), c.dropout, r)?)
                }
                _ => None,
            });
        }
        if let RnnInput::Dense(x) = &mut input {
            self.project_given(x.view(), fed, &mut states[0])?;
            self.fed_through_time(x, &mut states, &masks, feedback)?;
        }
        Ok(RnnCache {
            states,
            masks,
            input,
            lengths: None,
        })
    }

    /// Layer 0's projection of the given columns `F..` of every step, with both biases, into
    /// `s[1..]`. Shapes: `x` `(steps, B, input_size)`, `s` `(steps + 1, B, H)`.
    fn project_given(&self, x: ArrayView3<'_, T>, fed: usize, s: &mut Array3<T>) -> Result<()> {
        let layer = &self.layers[0];
        let given = x.slice(s![.., .., fed..]).as_standard_layout().into_owned(); // (steps, B, In - F)
        let mut pre = crate::engine::flatten_mut(s.slice_mut(s![1.., .., ..]))?; // (steps*B, H)
        gemm(
            T::one(),
            &flatten(given.view())?,
            &layer.weight_ih.slice(s![.., fed..]).t(),
            T::zero(),
            &mut pre,
        );
        if let (Some(bi), Some(bh)) = (&layer.bias_ih, &layer.bias_hh) {
            pre += &(bi + bh);
        }
        Ok(())
    }

    /// The step-major recurrence: at each step the fed features, then every layer.
    fn fed_through_time(
        &self,
        x: &mut Array3<T>,
        states: &mut [Array3<T>],
        masks: &[Option<Array3<T>>],
        feedback: &mut dyn Feedback<T>,
    ) -> Result<()> {
        let (steps, batch, _) = x.dim();
        let (hidden, top, fed) = (self.config.hidden_size, states.len() - 1, feedback.width());
        let act = self.config.nonlinearity;
        let w_hh: Vec<_> = self
            .layers
            .iter()
            .map(|layer| Recurrent::new(layer.weight_hh.t(), batch, Pass::Forward)) // (H, H)
            .collect();
        let w_fed = self.layers[0].weight_ih.slice(s![.., ..fed]); // (H, F)
                                                                   // b_ih + b_hh of the layers above the first, added at every step.
        let biases: Vec<Option<Array1<T>>> = self
            .layers
            .iter()
            .map(|layer| match (&layer.bias_ih, &layer.bias_hh) {
                (Some(bi), Some(bh)) => Some(bi + bh), // (H,)
                _ => None,
            })
            .collect();
        let mut below = Array2::zeros((batch, hidden)); // (B, H)
        for t in 0..steps {
            crate::interrupt::poll(batch * hidden * (hidden + fed) * states.len())?;
            let mut x_fed = x.slice_mut(s![t, .., ..fed]); // (B, F)
            let top_prev = states[top].index_axis(Axis(0), t); // (B, H)
            feedback.forward(t, top_prev, x_fed.view_mut())?;
            for (l, layer) in self.layers.iter().enumerate() {
                if l > 0 {
                    below.assign(&states[l - 1].index_axis(Axis(0), t + 1));
                }
                let (prev, mut cur) = states[l].multi_slice_mut((s![t, .., ..], s![t + 1, .., ..]));
                if l == 0 {
                    gemm(T::one(), &x_fed.view(), &w_fed.t(), T::one(), &mut cur);
                } else {
                    if let Some(m) = &masks[l] {
                        below *= &m.index_axis(Axis(0), t);
                    }
                    gemm(
                        T::one(),
                        &below.view(),
                        &layer.weight_ih.t(),
                        T::zero(),
                        &mut cur,
                    );
                    if let Some(b) = &biases[l] {
                        cur += b;
                    }
                }
                w_hh[l].gemm(T::one(), &prev.view(), T::one(), &mut cur);
                act.apply_in_place(&mut cur);
            }
        }
        Ok(())
    }

    /// Backpropagation through time for [`Rnn::forward_fed`]: as [`Rnn::backward`], with the
    /// gradient of each step's fed features handed to `feedback` and what it returns added to
    /// the top layer's previous state. The input gradient covers every column of the input.
    ///
    /// Shapes: `d_output` `(steps, batch, hidden)`, `d_h_n` `(num_layers, batch, hidden)`.
    pub fn backward_fed(
        &self,
        cache: &RnnCache<T>,
        d_output: ArrayView3<'_, T>,
        d_h_n: Option<ArrayView3<'_, T>>,
        feedback: &mut dyn Feedback<T>,
    ) -> Result<RnnGrads<T>> {
        let c = &self.config;
        let (steps, batch, hidden, layers) =
            (cache.steps(), cache.batch(), c.hidden_size, c.num_layers);
        check_shape("RNN cache", &[layers], &[cache.states.len()])?;
        check_shape("d_output", &[steps, batch, hidden], d_output.shape())?;
        let mut dh = Array3::zeros((layers, batch, hidden)); // (L, B, H)
        if let Some(d) = &d_h_n {
            check_shape("d_h_n", &[layers, batch, hidden], d.shape())?;
            dh.assign(d);
        }
        let mut dz = Vec::with_capacity(layers);
        for _ in 0..layers {
            dz.push(crate::alloc::zeros3("RNN gradients", steps, batch, hidden)?);
            // (steps, B, H)
        }
        self.fed_back_through_time(cache, d_output, &mut dh, &mut dz, feedback)?;
        let mut grads = self.zeros_like();
        let mut d_input = crate::alloc::zeros3("input gradient", steps, batch, c.input_size)?;
        for (l, dz) in dz.iter().enumerate() {
            let x = LayerInput::of(l, &cache.input, &cache.states, &cache.masks);
            let dz = flatten(dz.view())?; // (steps*B, H)
            let h_prev = cache.states[l].slice(s![..steps, .., ..]); // (steps, B, H)
            weight_gradients(&mut grads.layers[l], dz, h_prev, &x)?;
            if l == 0 {
                input_gradients(&self.layers[0], dz, None, &mut d_input)?;
            }
        }
        Ok(RnnGrads {
            params: grads,
            input: Some(d_input),
            h0: dh,
        })
    }

    /// The step-major recurrence back over time: every `dz_t` of every layer into `dz`, `dh`
    /// entering as the gradient of the final states and leaving as the one of `h_0`.
    fn fed_back_through_time(
        &self,
        cache: &RnnCache<T>,
        d_output: ArrayView3<'_, T>,
        dh: &mut Array3<T>,
        dz: &mut [Array3<T>],
        feedback: &mut dyn Feedback<T>,
    ) -> Result<()> {
        let (steps, batch, hidden) = dz[0].dim();
        let (top, fed, act) = (dz.len() - 1, feedback.width(), self.config.nonlinearity);
        let w_hh: Vec<_> = self
            .layers
            .iter()
            .map(|layer| Recurrent::new(layer.weight_hh.view(), batch, Pass::Backward)) // (H, H)
            .collect();
        let w_fed = self.layers[0].weight_ih.slice(s![.., ..fed]); // (H, F)
        let mut d_out = Array2::zeros((batch, hidden)); // (B, H): what reaches layer l at t
        let mut scratch = Array2::zeros((batch, hidden)); // (B, H)
        let mut d_fed = Array2::zeros((batch, fed)); // (B, F)
        for t in (0..steps).rev() {
            crate::interrupt::poll(batch * hidden * (hidden + fed) * dz.len())?;
            d_out.assign(&d_output.index_axis(Axis(0), t));
            for l in (0..=top).rev() {
                let mut dzt = dz[l].index_axis_mut(Axis(0), t); // (B, H)
                Zip::from(&mut dzt)
                    .and(&d_out)
                    .and(&dh.index_axis(Axis(0), l))
                    .and(&cache.states[l].index_axis(Axis(0), t + 1))
                    .for_each(|z, &o, &n, &h| *z = (o + n) * act.derivative_from_output(h));
                w_hh[l].gemm(T::one(), &dzt.view(), T::zero(), &mut scratch.view_mut());
                dh.index_axis_mut(Axis(0), l).assign(&scratch);
                if l > 0 {
                    let w_ih = self.layers[l].weight_ih.view(); // (H, H)
                    gemm(
                        T::one(),
                        &dzt.view(),
                        &w_ih,
                        T::zero(),
                        &mut d_out.view_mut(),
                    );
                    if let Some(m) = &cache.masks[l] {
                        d_out *= &m.index_axis(Axis(0), t);
                    }
                }
            }
            let dz0 = dz[0].index_axis(Axis(0), t); // (B, H)
            gemm(T::one(), &dz0, &w_fed, T::zero(), &mut d_fed.view_mut());
            let top_prev = cache.states[top].index_axis(Axis(0), t); // (B, H)
            feedback.backward(t, top_prev, d_fed.view(), dh.index_axis_mut(Axis(0), top))?;
        }
        Ok(())
    }
}
