//! Multi-layer Elman RNN with PyTorch's `nn.RNN` parameterization, and its exact BPTT.
//!
//! Layer `l` at step `t`:
//! `h_t = f(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`, `f` = tanh or relu,
//! where `x_t` is the input (layer 0) or the states of layer `l - 1`.
//!
//! Everything is time-major: inputs `(steps, batch, input_size)`, states `(steps, batch, hidden)`.
//! The input projection of all steps is one product, done before the time loop; the loop does
//! one `(batch, hidden) x (hidden, hidden)` product and one fused activation per step, writing
//! into a buffer allocated once per call. Backward mirrors it: one loop back over time, then
//! the weight gradients of all steps as single products.
//!
//! Forward, layer by layer from the bottom: `project_inputs` (`x_t W_ih^T + b` for every step
//! at once), then `forward_through_time`. Backward, layer by layer from the top:
//! `backward_through_time` (every `dz_t`), then `weight_gradients` and `input_gradients` (every
//! step at once), whose input gradient is the next layer's output gradient.

mod cache;
mod config;
mod feedback;
mod params;
mod products;
mod step;

pub use cache::{RnnCache, RnnGrads, RnnInput, StepInput};
pub use config::{Nonlinearity, RnnConfig};
pub use feedback::Feedback;
pub use params::CHECKPOINT_KIND;

use crate::engine::{flatten, flatten_mut, Pass, Recurrent};
use crate::error::{check_positive, check_shape};
use crate::init::{fill_bias, fill_weight, Init};
use crate::{Error, Float, Parameters, Result};
use ndarray::{s, Array1, Array2, Array3, ArrayView3, Axis, Zip};
use products::{input_gradients, project_inputs, weight_gradients, LayerInput};

/// The parameters of one layer, named and shaped as in PyTorch.
#[derive(Clone, Debug, PartialEq)]
pub struct RnnLayer<T> {
    /// `(hidden, layer input)`.
    pub weight_ih: Array2<T>,
    /// `(hidden, hidden)`.
    pub weight_hh: Array2<T>,
    /// `(hidden,)`, absent when `bias` is false.
    pub bias_ih: Option<Array1<T>>,
    /// `(hidden,)`, absent when `bias` is false.
    pub bias_hh: Option<Array1<T>>,
}

/// A multi-layer RNN. Its gradients are an `Rnn` too, field for field.
///
/// Shapes: input `(steps, batch, input_size)`, states `(num_layers, batch, hidden)`.
///
/// ```
/// use ndarray::Array3;
/// use seqrnn::{Init, Rnn, RnnConfig, RnnInput};
///
/// let config = RnnConfig { num_layers: 2, ..RnnConfig::new(3, 4) };
/// let rnn = Rnn::<f64>::new(config, Init::Uniform, 0)?;
/// let x = Array3::from_elem((5, 2, 3), 0.5); // (steps, batch, input_size)
/// let cache = rnn.forward(RnnInput::Dense(x), None, None)?;
/// assert_eq!(cache.output().dim(), (5, 2, 4)); // top layer, every step
/// assert_eq!(cache.h_n().dim(), (2, 2, 4)); // every layer, last step
///
/// // Gradients of sum(output): one entry per parameter, and of the input and initial state.
/// let d_output = Array3::ones((5, 2, 4));
/// let grads = rnn.backward(&cache, Some(d_output.view()), None)?;
/// assert_eq!(grads.params.layers[1].weight_hh.dim(), (4, 4));
/// assert_eq!(grads.input.map(|d| d.dim()), Some((5, 2, 3)));
/// assert_eq!(grads.h0.dim(), (2, 2, 4));
/// # Ok::<(), seqrnn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Rnn<T> {
    config: RnnConfig,
    /// One entry per layer, bottom first.
    pub layers: Vec<RnnLayer<T>>,
}

/// A dropout mask of `shape`: 0 with probability `p`, else `1 / (1 - p)`.
fn dropout_mask<T: Float>(
    shape: (usize, usize, usize),
    p: f64,
    rng: &mut rand::rngs::StdRng,
) -> Result<Array3<T>> {
    use rand::RngExt;
    let keep = T::from_f64_lossy(1.0 / (1.0 - p));
    let mut mask = crate::alloc::zeros3("dropout mask", shape.0, shape.1, shape.2)?;
    mask.mapv_inplace(|_| {
        if rng.random::<f64>() < p {
            T::zero()
        } else {
            keep
        }
    });
    Ok(mask)
}

impl<T: Float> Rnn<T> {
    /// A new RNN drawn from `init` with `seed`.
    pub fn new(config: RnnConfig, init: Init, seed: u64) -> Result<Self> {
        config.validate()?;
        let mut rng = crate::init::rng(seed);
        let h = config.hidden_size;
        let bound = 1.0 / (h as f64).sqrt();
        let widest = config.input_size.max(h) as u128;
        let per_layer = (h as u128) * (widest + h as u128 + 2) * std::mem::size_of::<T>() as u128
            + std::mem::size_of::<RnnLayer<T>>() as u128;
        let total = per_layer.saturating_mul(config.num_layers as u128);
        let what = format!(
            "RNN parameters (input_size {}, hidden_size {h}, num_layers {})",
            config.input_size, config.num_layers
        );
        crate::alloc::reserve(&what, total)?;
        let mut layers = Vec::with_capacity(config.num_layers);
        for l in 0..config.num_layers {
            let mut weight_ih = crate::alloc::zeros2("weight_ih", h, config.layer_input_size(l))?;
            let mut weight_hh = crate::alloc::zeros2("weight_hh", h, h)?;
            fill_weight(&mut weight_ih, init, bound, &mut rng)?;
            match init {
                Init::Orthogonal => weight_hh = crate::init::orthogonal(h, &mut rng)?,
                _ => fill_weight(&mut weight_hh, init, bound, &mut rng)?,
            }
            let (bias_ih, bias_hh) = if config.bias {
                let mut bi = Array1::zeros(h);
                let mut bh = Array1::zeros(h);
                fill_bias(&mut bi, init, bound, &mut rng)?;
                fill_bias(&mut bh, init, bound, &mut rng)?;
                (Some(bi), Some(bh))
            } else {
                (None, None)
            };
            layers.push(RnnLayer {
                weight_ih,
                weight_hh,
                bias_ih,
                bias_hh,
            });
        }
        Ok(Rnn { config, layers })
    }

    /// The sizes and options.
    pub fn config(&self) -> &RnnConfig {
        &self.config
    }

    /// Checks an input, an initial state and valid lengths; returns `(steps, batch)`.
    ///
    /// Shapes: input as in [`RnnInput`], `h0` `(num_layers, batch, hidden)`, `lengths` `(batch,)`
    /// with every entry in `1..=steps`.
    pub fn check_inputs(
        &self,
        input: &RnnInput<T>,
        h0: Option<&ArrayView3<'_, T>>,
        lengths: Option<&[usize]>,
    ) -> Result<(usize, usize)> {
        let c = &self.config;
        let (steps, batch) = input.steps_batch();
        check_positive("number of steps", steps)?;
        check_positive("batch size", batch)?;
        match input {
            RnnInput::Dense(x) => check_shape("input", &[steps, batch, c.input_size], x.shape())?,
            RnnInput::OneHot(ids) => {
                crate::embedding::check_ids("input", ids.iter().copied(), c.input_size)?
            }
        }
        if let Some(h0) = h0 {
            check_shape("h0", &[c.num_layers, batch, c.hidden_size], h0.shape())?;
        }
        if let Some(lengths) = lengths {
            check_shape("lengths", &[batch], &[lengths.len()])?;
            if let Some(&bad) = lengths.iter().find(|&&n| n == 0 || n > steps) {
                return Err(Error::invalid(
                    "lengths",
                    format!("between 1 and the number of steps ({steps})"),
                    bad,
                ));
            }
        }
        Ok((steps, batch))
    }

    /// Runs all layers over a whole sequence.
    ///
    /// Shapes: `input` `(steps, batch, input_size)` or ids `(steps, batch)`; `h0`
    /// `(num_layers, batch, hidden)` (zeros when `None`); `lengths` `(batch,)`: sequence `b`
    /// stops at step `lengths[b]` and carries its state to the end.
    pub fn forward(
        &self,
        input: RnnInput<T>,
        h0: Option<ArrayView3<'_, T>>,
        lengths: Option<&[usize]>,
    ) -> Result<RnnCache<T>> {
        self.forward_train(input, h0, lengths, None)
    }

    /// [`Rnn::forward`] in training mode: with `rng`, the outputs of every layer but the last
    /// are dropped with probability `dropout` (and the rest scaled by `1 / (1 - dropout)`)
    /// before they enter the next layer. Without `rng` it is [`Rnn::forward`].
    pub fn forward_train(
        &self,
        input: RnnInput<T>,
        h0: Option<ArrayView3<'_, T>>,
        lengths: Option<&[usize]>,
        mut rng: Option<&mut rand::rngs::StdRng>,
    ) -> Result<RnnCache<T>> {
        let (steps, batch) = self.check_inputs(&input, h0.as_ref(), lengths)?;
        let c = &self.config;
        let hidden = c.hidden_size;
        let mut states: Vec<Array3<T>> = Vec::with_capacity(c.num_layers);
        let mut masks: Vec<Option<Array3<T>>> = Vec::with_capacity(c.num_layers);
        for (l, layer) in self.layers.iter().enumerate() {
            let mut s = crate::alloc::zeros3("RNN states", steps + 1, batch, hidden)?; // (steps+1, B, H)
            if let Some(h0) = &h0 {
                s.index_axis_mut(Axis(0), 0)
                    .assign(&h0.index_axis(Axis(0), l));
            }
            // Dropout between layers: on the states of layer l - 1 as layer l reads them.
            let mask = match rng.as_deref_mut() {
                Some(r) if l > 0 && c.dropout > 0.0 => {
                    Some(dropout_mask((steps, batch, hidden), c.dropout, r)?)
                }
                _ => None,
            };
            masks.push(mask);
            let x = LayerInput::of(l, &input, &states, &masks);
            // The input projection of every step at once, written where the states will be.
            project_inputs(layer, &x, flatten_mut(s.slice_mut(s![1.., .., ..]))?)?;
            self.forward_through_time(l, &mut s, lengths)?;
            states.push(s);
        }
        Ok(RnnCache {
            states,
            masks,
            input,
            lengths: lengths.map(<[usize]>::to_vec),
        })
    }

    /// The recurrence of one layer, forward over time: `s[t + 1]` `(B, H)` holds
    /// `x_t W_ih^T + b` on entry and becomes `h_t = f(s[t + 1] + h_{t-1} W_hh^T)`, `s[0]`
    /// being `h_0`. A sequence past its length carries its state unchanged.
    ///
    /// Shapes: `s` `(steps + 1, batch, hidden)`, `lengths` `(batch,)`.
    fn forward_through_time(
        &self,
        l: usize,
        s: &mut Array3<T>,
        lengths: Option<&[usize]>,
    ) -> Result<()> {
        let (steps, batch, hidden) = (s.dim().0 - 1, s.dim().1, s.dim().2);
        let act = self.config.nonlinearity;
        // W_hh^T prepared once for every step (a copy or packing that suits the kernels).
        let w_hh_t = Recurrent::new(self.layers[l].weight_hh.t(), batch, Pass::Forward); // (H, H)
        for t in 0..steps {
            crate::interrupt::poll(batch * hidden * hidden)?;
            let (prev, mut cur) = s.multi_slice_mut((s![t, .., ..], s![t + 1, .., ..]));
            w_hh_t.gemm(T::one(), &prev.view(), T::one(), &mut cur);
            act.apply_in_place(&mut cur);
            if let Some(lengths) = lengths {
                for (b, _) in lengths.iter().enumerate().filter(|(_, &n)| t >= n) {
                    cur.row_mut(b).assign(&prev.row(b));
                }
            }
        }
        Ok(())
    }

    /// Backpropagation through time.
    ///
    /// Shapes: `d_output` `(steps, batch, hidden)`, the loss gradient with respect to the top
    /// layer's outputs (ignored at padded steps); `d_h_n` `(num_layers, batch, hidden)`, with
    /// respect to the final states. Either may be `None` (zero).
    pub fn backward(
        &self,
        cache: &RnnCache<T>,
        d_output: Option<ArrayView3<'_, T>>,
        d_h_n: Option<ArrayView3<'_, T>>,
    ) -> Result<RnnGrads<T>> {
        let c = &self.config;
        let (steps, batch, hidden) = (cache.steps(), cache.batch(), c.hidden_size);
        check_shape("RNN cache", &[c.num_layers], &[cache.states.len()])?;
        if let Some(d) = &d_output {
            check_shape("d_output", &[steps, batch, hidden], d.shape())?;
        }
        if let Some(d) = &d_h_n {
            check_shape("d_h_n", &[c.num_layers, batch, hidden], d.shape())?;
        }
        let mut grads = self.zeros_like();
        let mut d_h0 = Array3::zeros((c.num_layers, batch, hidden)); // (L, B, H)
        let mut ws = Workspace {
            d_out: match &d_output {
                Some(d) => d.to_owned(),
                None => crate::alloc::zeros3("RNN gradients", steps, batch, hidden)?,
            },
            dz: crate::alloc::zeros3("RNN gradients", steps, batch, hidden)?,
            dh: Array2::zeros((batch, hidden)),
            scratch: Array2::zeros((batch, hidden)),
        };
        let mut d_input = None;
        for l in (0..c.num_layers).rev() {
            let layer = &self.layers[l];
            match &d_h_n {
                Some(d) => ws.dh.assign(&d.index_axis(Axis(0), l)),
                None => ws.dh.fill(T::zero()),
            }
            self.backward_through_time(l, cache, &mut ws)?;
            d_h0.index_axis_mut(Axis(0), l).assign(&ws.dh);

            let x = LayerInput::of(l, &cache.input, &cache.states, &cache.masks);
            let dz = flatten(ws.dz.view())?; // (steps*B, H)
            let h_prev = cache.states[l].slice(s![..steps, .., ..]); // (steps, B, H)
            weight_gradients(&mut grads.layers[l], dz, h_prev, &x)?;
            match x {
                // Ids have no gradient: weight_ih_l0's is theirs.
                LayerInput::OneHot(_) => {}
                LayerInput::Dense(_) => {
                    let mut dx =
                        crate::alloc::zeros3("input gradient", steps, batch, c.input_size)?;
                    input_gradients(layer, dz, None, &mut dx)?;
                    d_input = Some(dx);
                }
                // What reaches the layer below is the next d_out.
                LayerInput::Below(_, mask) => input_gradients(layer, dz, mask, &mut ws.d_out)?,
            }
        }
        Ok(RnnGrads {
            params: grads,
            input: d_input,
            h0: d_h0,
        })
    }

    /// The recurrence of one layer, back over time:
    /// `dz_t = (d_out_t + dh_t) * f'(h_t)` (zero past a sequence's length) and
    /// `dh_{t-1} = dz_t W_hh` (carried unchanged past it), for `t` from the last step down.
    /// `ws.dh` enters as the gradient of the final state and leaves as the one of `h_0`;
    /// `ws.dz` receives every `dz_t`.
    fn backward_through_time(
        &self,
        l: usize,
        cache: &RnnCache<T>,
        ws: &mut Workspace<T>,
    ) -> Result<()> {
        let states = &cache.states[l]; // (steps + 1, B, H)
        let (steps, batch, hidden) = ws.dz.dim();
        let act = self.config.nonlinearity;
        // W_hh prepared once for every step (a copy or packing that suits the kernels).
        let w_hh = Recurrent::new(self.layers[l].weight_hh.view(), batch, Pass::Backward); // (H, H)
        for t in (0..steps).rev() {
            crate::interrupt::poll(batch * hidden * hidden)?;
            let mut dzt = ws.dz.index_axis_mut(Axis(0), t); // (B, H)
            Zip::from(&mut dzt)
                .and(&ws.d_out.index_axis(Axis(0), t))
                .and(&ws.dh)
                .and(&states.index_axis(Axis(0), t + 1))
                .for_each(|z, &o, &n, &h| *z = (o + n) * act.derivative_from_output(h));
            // Sequences already past their valid length at step t (none without lengths).
            let padded = || {
                cache
                    .lengths
                    .iter()
                    .flatten()
                    .enumerate()
                    .filter(move |(_, &n)| t >= n)
                    .map(|(b, _)| b)
            };
            for b in padded() {
                dzt.row_mut(b).fill(T::zero());
            }
            w_hh.gemm(T::one(), &dzt.view(), T::zero(), &mut ws.scratch.view_mut());
            for b in padded() {
                ws.scratch.row_mut(b).assign(&ws.dh.row(b));
            }
            std::mem::swap(&mut ws.dh, &mut ws.scratch);
        }
        Ok(())
    }
}

/// The buffers of one backward pass, allocated once and reused by every layer.
struct Workspace<T> {
    /// `(steps, B, H)`: the gradient reaching the current layer's outputs.
    d_out: Array3<T>,
    /// `(steps, B, H)`: the gradient of the current layer's pre-activations, `dz_t`.
    dz: Array3<T>,
    /// `(B, H)`: the gradient reaching the state of the current step.
    dh: Array2<T>,
    /// `(B, H)`: the next `dh`, while it is computed.
    scratch: Array2<T>,
}
