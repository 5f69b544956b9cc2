//! The sizes and options of an [`Rnn`](super::Rnn): its activation and its configuration.

use crate::error::check_positive;
use crate::{Error, Float, Result};
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

/// Sizes and options of an [`Rnn`](super::Rnn).
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
    /// ([`Rnn::forward_train`](super::Rnn::forward_train)) only, as `torch.nn.RNN(dropout=...)`.
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

    /// Features layer `layer` reads per step.
    pub(super) fn layer_input_size(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_size
        } else {
            self.hidden_size
        }
    }

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
