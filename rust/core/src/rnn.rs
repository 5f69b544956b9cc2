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

use crate::engine::{flatten, flatten_mut, gemm, Pass, Recurrent};
use crate::error::{check_positive, check_shape};
use crate::init::{fill_bias, fill_weight, Init};
use crate::{Error, Float, Parameters, Result};
use ndarray::{
    s, Array1, Array2, Array3, ArrayView2, ArrayView3, ArrayViewD, ArrayViewMutD, Axis, Zip,
};
use serde::{Deserialize, Serialize};

/// The activation of the recurrence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Nonlinearity {
    /// `tanh` (the Elman network, PyTorch's default).
    Tanh,
    /// `max(0, x)`.
    Relu,
}

impl Nonlinearity {
    /// Parses `"tanh"` or `"relu"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "tanh" => Ok(Nonlinearity::Tanh),
            "relu" => Ok(Nonlinearity::Relu),
            other => Err(Error::invalid(
                "nonlinearity",
                "\"tanh\" or \"relu\"",
                format!("{other:?}"),
            )),
        }
    }

    /// `"tanh"` or `"relu"`.
    pub fn name(self) -> &'static str {
        match self {
            Nonlinearity::Tanh => "tanh",
            Nonlinearity::Relu => "relu",
        }
    }

    /// `f(x)`.
    #[inline]
    pub fn apply<T: Float>(self, x: T) -> T {
        match self {
            Nonlinearity::Tanh => x.model_tanh(),
            Nonlinearity::Relu => x.max(T::zero()),
        }
    }

    /// [`Nonlinearity::apply`] to every element, vectorized where `x` is contiguous.
    pub fn apply_in_place<T: Float, D: ndarray::Dimension>(
        self,
        x: &mut ndarray::ArrayViewMut<'_, T, D>,
    ) {
        match (self, x.as_slice_memory_order_mut()) {
            (Nonlinearity::Tanh, Some(xs)) => T::model_tanh_in_place(xs),
            _ => x.mapv_inplace(|v| self.apply(v)),
        }
    }

    /// `f'(x)` written in terms of the output `h = f(x)`.
    #[inline]
    pub fn derivative_from_output<T: Float>(self, h: T) -> T {
        match self {
            Nonlinearity::Tanh => T::one() - h * h,
            Nonlinearity::Relu => {
                if h > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
        }
    }
}

/// Sizes and options of an [`Rnn`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RnnConfig {
    /// Features per input step (the vocabulary size for one-hot input).
    pub input_size: usize,
    /// Units per layer.
    pub hidden_size: usize,
    /// Stacked layers (at least 1).
    pub num_layers: usize,
    /// tanh or relu.
    pub nonlinearity: Nonlinearity,
    /// Whether the layers have `bias_ih` and `bias_hh`.
    pub bias: bool,
    /// Dropout probability on the outputs of every layer but the last, in training
    /// ([`Rnn::forward_train`]) only, as `torch.nn.RNN(dropout=...)`.
    #[serde(default)]
    pub dropout: f64,
}

impl RnnConfig {
    /// One tanh layer with biases.
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        RnnConfig {
            input_size,
            hidden_size,
            num_layers: 1,
            nonlinearity: Nonlinearity::Tanh,
            bias: true,
            dropout: 0.0,
        }
    }

    /// Fails on a zero size or a dropout probability outside `[0, 1)`.
    pub fn validate(&self) -> Result<()> {
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::invalid(
                "dropout",
                "a probability in [0, 1)",
                self.dropout,
            ));
        }
        check_positive("input_size", self.input_size)?;
        check_positive("hidden_size", self.hidden_size)?;
        check_positive("num_layers", self.num_layers)
    }

    fn layer_input(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_size
        } else {
            self.hidden_size
        }
    }
}

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

/// The first layer's input: dense features, or token ids standing for one-hot vectors.
#[derive(Clone, Debug)]
pub enum RnnInput<T> {
    /// `(steps, batch, input_size)`.
    Dense(Array3<T>),
    /// `(steps, batch)` ids in `0..input_size`: `x_t W_ih^T` becomes a column gather.
    OneHot(Array2<usize>),
}

impl<T> RnnInput<T> {
    /// `(steps, batch)`.
    pub fn steps_batch(&self) -> (usize, usize) {
        match self {
            RnnInput::Dense(x) => (x.dim().0, x.dim().1),
            RnnInput::OneHot(ids) => ids.dim(),
        }
    }
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

/// One time step's input to [`Rnn::step`].
#[derive(Clone, Copy, Debug)]
pub enum StepInput<'a, T> {
    /// `(batch, input_size)`.
    Dense(ArrayView2<'a, T>),
    /// `(batch,)` ids in `0..input_size`.
    OneHot(&'a [usize]),
}

/// What the forward pass keeps for the backward pass.
#[derive(Clone, Debug)]
pub struct RnnCache<T> {
    states: Vec<Array3<T>>, // per layer (steps + 1, batch, hidden); index 0 is the initial state
    masks: Vec<Option<Array3<T>>>, // per layer, dropout mask on its input (0 or 1/(1-p))
    input: RnnInput<T>,
    lengths: Option<Vec<usize>>,
}

impl<T: Float> RnnCache<T> {
    /// Number of time steps.
    pub fn steps(&self) -> usize {
        self.input.steps_batch().0
    }

    /// Batch size.
    pub fn batch(&self) -> usize {
        self.input.steps_batch().1
    }

    /// The top layer's states `(steps, batch, hidden)`, without copying. At padded steps
    /// these hold the carried state; [`RnnCache::output`] zeroes them instead.
    pub fn top_states(&self) -> ArrayView3<'_, T> {
        // `forward` builds at least one layer, so the last entry exists.
        self.states[self.states.len() - 1].slice(s![1.., .., ..])
    }

    /// Layer `layer`'s states `(steps + 1, batch, hidden)`, index 0 being the initial state; at
    /// padded steps (`t >= lengths[b]`) a sequence's state is carried unchanged.
    pub fn layer_states(&self, layer: usize) -> Option<ArrayView3<'_, T>> {
        self.states.get(layer).map(|s| s.view())
    }

    /// The top layer's outputs `(steps, batch, hidden)` as `torch.nn.RNN` returns them
    /// (zeros at padded steps, as with packed sequences).
    pub fn output(&self) -> Array3<T> {
        let mut out = self.top_states().to_owned();
        if let Some(lengths) = &self.lengths {
            for (b, &len) in lengths.iter().enumerate() {
                out.slice_mut(s![len.., b, ..]).fill(T::zero());
            }
        }
        out
    }

    /// Every layer's final state `(num_layers, batch, hidden)` (each sequence's own last
    /// valid step when lengths were given).
    pub fn h_n(&self) -> Array3<T> {
        let steps = self.steps();
        let mut h_n = Array3::zeros((self.states.len(), self.batch(), self.states[0].dim().2)); // (L, B, H)
        for (mut dst, s) in h_n.outer_iter_mut().zip(&self.states) {
            dst.assign(&s.index_axis(Axis(0), steps));
        }
        h_n
    }
}

/// The result of [`Rnn::backward`].
#[derive(Clone, Debug)]
pub struct RnnGrads<T> {
    /// Gradient of every parameter.
    pub params: Rnn<T>,
    /// Gradient of the dense input `(steps, batch, input_size)`; `None` for one-hot input
    /// (its gradient is the one of `weight_ih_l0`).
    pub input: Option<Array3<T>>,
    /// Gradient of the initial state `(num_layers, batch, hidden)`.
    pub h0: Array3<T>,
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
            let mut weight_ih = crate::alloc::zeros2("weight_ih", h, config.layer_input(l))?;
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
            {
                // Input projection of every step at once, written where the states will be.
                let mut pre = flatten_mut(s.slice_mut(s![1.., .., ..]))?; // (steps*B, H)
                match (l, &input) {
                    (0, RnnInput::Dense(x)) => {
                        let x = x.as_standard_layout();
                        gemm(
                            T::one(),
                            &flatten(x.view())?,
                            &layer.weight_ih.t(),
                            T::zero(),
                            &mut pre,
                        );
                    }
                    (0, RnnInput::OneHot(ids)) => {
                        let table = crate::engine::transpose(layer.weight_ih.view()); // (V, H)
                        for (mut row, &id) in pre.rows_mut().into_iter().zip(ids.iter()) {
                            row.assign(&table.row(id));
                        }
                    }
                    _ => {
                        let below = states[l - 1].slice(s![1.., .., ..]); // (steps, B, H)
                        let mask = match rng.as_deref_mut() {
                            Some(r) if c.dropout > 0.0 => {
                                Some(dropout_mask(below.dim(), c.dropout, r)?)
                            }
                            _ => None,
                        };
                        match &mask {
                            Some(m) => {
                                let dropped = &below * m; // (steps, B, H)
                                gemm(
                                    T::one(),
                                    &flatten(dropped.view())?,
                                    &layer.weight_ih.t(),
                                    T::zero(),
                                    &mut pre,
                                );
                            }
                            None => gemm(
                                T::one(),
                                &flatten(below)?,
                                &layer.weight_ih.t(),
                                T::zero(),
                                &mut pre,
                            ),
                        }
                        masks.push(mask);
                    }
                }
                if l == 0 {
                    masks.push(None);
                }
                if let (Some(bi), Some(bh)) = (&layer.bias_ih, &layer.bias_hh) {
                    let bias = bi + bh; // (H,)
                    pre += &bias;
                }
            }
            let act = c.nonlinearity;
            // W_hh^T prepared once for every step (a copy or packing that suits the kernels).
            let w_hh_t = Recurrent::new(layer.weight_hh.t(), batch, Pass::Forward); // (H, H)
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
            states.push(s);
        }
        Ok(RnnCache {
            states,
            masks,
            input,
            lengths: lengths.map(<[usize]>::to_vec),
        })
    }

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
        let mut d_out = match &d_output {
            Some(d) => d.to_owned(),
            None => crate::alloc::zeros3("RNN gradients", steps, batch, hidden)?,
        }; // (steps, B, H): gradient reaching the current layer's outputs
        let mut dz = crate::alloc::zeros3("RNN gradients", steps, batch, hidden)?; // (steps, B, H)
        let mut dh_next = Array2::zeros((batch, hidden)); // (B, H)
        let mut tmp = Array2::zeros((batch, hidden)); // (B, H)
        let mut d_input = None;
        let act = c.nonlinearity;
        for l in (0..c.num_layers).rev() {
            let (layer, states, g) = (&self.layers[l], &cache.states[l], &mut grads.layers[l]);
            match &d_h_n {
                Some(d) => dh_next.assign(&d.index_axis(Axis(0), l)),
                None => dh_next.fill(T::zero()),
            }
            // W_hh prepared once for every step (a copy or packing that suits the kernels).
            let w_hh = Recurrent::new(layer.weight_hh.view(), batch, Pass::Backward); // (H, H)
            for t in (0..steps).rev() {
                crate::interrupt::poll(batch * hidden * hidden)?;
                let mut dzt = dz.index_axis_mut(Axis(0), t);
                Zip::from(&mut dzt)
                    .and(&d_out.index_axis(Axis(0), t))
                    .and(&dh_next)
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
                w_hh.gemm(T::one(), &dzt.view(), T::zero(), &mut tmp.view_mut());
                for b in padded() {
                    tmp.row_mut(b).assign(&dh_next.row(b));
                }
                std::mem::swap(&mut dh_next, &mut tmp);
            }
            d_h0.index_axis_mut(Axis(0), l).assign(&dh_next);

            let dz2 = flatten(dz.view())?; // (steps*B, H)
            let h_prev = flatten(states.slice(s![..steps, .., ..]))?; // (steps*B, H)
            gemm(
                T::one(),
                &dz2.t(),
                &h_prev,
                T::zero(),
                &mut g.weight_hh.view_mut(),
            );
            if let (Some(gbi), Some(gbh)) = (&mut g.bias_ih, &mut g.bias_hh) {
                let db = dz2.sum_axis(Axis(0)); // (H,)
                gbi.assign(&db);
                gbh.assign(&db);
            }
            match (l, &cache.input) {
                (0, RnnInput::OneHot(ids)) => {
                    let mut gt = Array2::zeros((c.input_size, hidden)); // (V, H)
                    for (row, &id) in dz2.rows().into_iter().zip(ids.iter()) {
                        let mut target = gt.row_mut(id);
                        target += &row;
                    }
                    g.weight_ih.assign(&gt.t());
                }
                (0, RnnInput::Dense(x)) => {
                    let x = x.as_standard_layout();
                    gemm(
                        T::one(),
                        &dz2.t(),
                        &flatten(x.view())?,
                        T::zero(),
                        &mut g.weight_ih.view_mut(),
                    );
                    let mut dx =
                        crate::alloc::zeros3("input gradient", steps, batch, c.input_size)?;
                    gemm(
                        T::one(),
                        &dz2,
                        &layer.weight_ih.view(),
                        T::zero(),
                        &mut flatten_mut(dx.view_mut())?,
                    );
                    d_input = Some(dx);
                }
                _ => {
                    let below = cache.states[l - 1].slice(s![1.., .., ..]); // (steps, B, H)
                    let mask = cache.masks.get(l).and_then(Option::as_ref);
                    match mask {
                        Some(m) => {
                            let dropped = &below * m; // (steps, B, H)
                            gemm(
                                T::one(),
                                &dz2.t(),
                                &flatten(dropped.view())?,
                                T::zero(),
                                &mut g.weight_ih.view_mut(),
                            );
                        }
                        None => gemm(
                            T::one(),
                            &dz2.t(),
                            &flatten(below)?,
                            T::zero(),
                            &mut g.weight_ih.view_mut(),
                        ),
                    }
                    gemm(
                        T::one(),
                        &dz2,
                        &layer.weight_ih.view(),
                        T::zero(),
                        &mut flatten_mut(d_out.view_mut())?,
                    );
                    if let Some(m) = mask {
                        d_out *= m;
                    }
                }
            }
        }
        Ok(RnnGrads {
            params: grads,
            input: d_input,
            h0: d_h0,
        })
    }
}

impl<T: Float> Parameters<T> for Rnn<T> {
    fn named(&self) -> Vec<(String, ArrayViewD<'_, T>)> {
        let mut out = Vec::with_capacity(4 * self.layers.len());
        for (l, layer) in self.layers.iter().enumerate() {
            out.push((format!("weight_ih_l{l}"), layer.weight_ih.view().into_dyn()));
            out.push((format!("weight_hh_l{l}"), layer.weight_hh.view().into_dyn()));
            if let Some(b) = &layer.bias_ih {
                out.push((format!("bias_ih_l{l}"), b.view().into_dyn()));
            }
            if let Some(b) = &layer.bias_hh {
                out.push((format!("bias_hh_l{l}"), b.view().into_dyn()));
            }
        }
        out
    }

    fn named_mut(&mut self) -> Vec<(String, ArrayViewMutD<'_, T>)> {
        let mut out = Vec::with_capacity(4 * self.layers.len());
        for (l, layer) in self.layers.iter_mut().enumerate() {
            out.push((
                format!("weight_ih_l{l}"),
                layer.weight_ih.view_mut().into_dyn(),
            ));
            out.push((
                format!("weight_hh_l{l}"),
                layer.weight_hh.view_mut().into_dyn(),
            ));
            if let Some(b) = &mut layer.bias_ih {
                out.push((format!("bias_ih_l{l}"), b.view_mut().into_dyn()));
            }
            if let Some(b) = &mut layer.bias_hh {
                out.push((format!("bias_hh_l{l}"), b.view_mut().into_dyn()));
            }
        }
        out
    }
}

impl RnnConfig {
    /// Number of scalar parameters, `None` on overflow.
    pub fn num_params(&self) -> Option<usize> {
        let h = self.hidden_size;
        let biases = if self.bias { h.checked_mul(2)? } else { 0 };
        let layer = |input: usize| -> Option<usize> {
            h.checked_mul(input)?
                .checked_add(h.checked_mul(h)?)?
                .checked_add(biases)
        };
        let first = layer(self.input_size)?;
        let other = layer(h)?.checked_mul(self.num_layers.saturating_sub(1))?;
        first.checked_add(other)
    }
}

/// The checkpoint kind of an [`Rnn`].
pub const CHECKPOINT_KIND: &str = "RNN";

impl<T: Float> Rnn<T> {
    /// Safetensors bytes: every parameter under its `nn.RNN` name, the configuration and
    /// `extra` metadata, as the models' checkpoints.
    pub fn to_bytes(&self, extra: std::collections::HashMap<String, String>) -> Result<Vec<u8>> {
        crate::checkpoint::model_to_bytes(CHECKPOINT_KIND, &self.config, self, extra)
    }

    /// Rebuilds an RNN from [`Rnn::to_bytes`] output, validating kind, configuration, names,
    /// shapes and dtypes before use. Returns the RNN and the metadata.
    pub fn from_bytes(bytes: &[u8]) -> Result<(Self, std::collections::HashMap<String, String>)> {
        crate::checkpoint::model_from_bytes(bytes, CHECKPOINT_KIND, RnnConfig::num_params, |c| {
            Rnn::new(c, Init::Uniform, 0)
        })
    }
}
