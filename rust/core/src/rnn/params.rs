//! An [`Rnn`]'s parameters under `nn.RNN`'s state-dict names, and its checkpoints.

use super::{Rnn, RnnConfig};
use crate::{Float, Init, Parameters, Result};
use ndarray::{ArrayViewD, ArrayViewMutD};

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
