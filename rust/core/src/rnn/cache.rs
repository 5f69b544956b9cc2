//! What goes into an [`Rnn`](super::Rnn) and what comes out: its inputs, the cache the forward
//! pass keeps for the backward pass, and the gradients.

use super::Rnn;
use crate::Float;
use ndarray::{s, Array2, Array3, ArrayView2, ArrayView3, Axis};

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
    pub(super) states: Vec<Array3<T>>, // per layer (steps + 1, batch, hidden); index 0 is the initial state
    pub(super) masks: Vec<Option<Array3<T>>>, // per layer, dropout mask on its input (0 or 1/(1-p))
    pub(super) input: RnnInput<T>,
    pub(super) lengths: Option<Vec<usize>>,
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
