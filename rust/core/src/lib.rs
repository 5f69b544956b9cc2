//! # seqrnn
//!
//! Small, fast, exact vanilla (Elman) recurrent neural networks with backpropagation through
//! time written by hand on [`ndarray`].
//!
//! Layer `l` of an [`Rnn`] computes, for every step `t`,
//!
//! ```text
//! h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
//! ```
//!
//! with PyTorch's `nn.RNN` names and shapes (`weight_ih_l{k}` `(H, in)`, `weight_hh_l{k}`
//! `(H, H)`, `bias_ih_l{k}`, `bias_hh_l{k}`). A [`LanguageModel`] puts an optional
//! [`Embedding`] before it and a [`Linear`] logits projection after it; [`loss::cross_entropy`]
//! gives the masked mean loss and its gradient, [`Rnn::backward`] the exact gradients of every
//! parameter, of the inputs and of the initial state. [`Optimizer`] applies SGD, Adam or Adagrad.
//!
//! **Shapes.** Inside the crate everything is time-major: ids `(steps, batch)`, features
//! `(steps, batch, n)`, states `(num_layers, batch, hidden)`. The Python package converts
//! from batch-first where PyTorch does.
//!
//! **Element types.** Every model is generic over [`Float`]: `f32` for speed, `f64` for
//! exactness checks.
//!
//! **Stopping.** Every long call (time loops, generation, decoding, text processing) can be
//! stopped early, with [`Error::Interrupted`], by a hook installed with
//! [`interrupt::with_hook`]; without one nothing changes.
//!
//! ```
//! use ndarray::Array2;
//! use seqrnn::{Init, LanguageModel, LmConfig, Optimizer, OptimizerConfig, Parameters};
//!
//! // Learn to continue the cycle 0 1 2 3 0 1 2 3 ...
//! let mut lm = LanguageModel::<f32>::new(LmConfig::new(4, 16), Init::Uniform, 0)?;
//! let inputs = Array2::from_shape_fn((8, 2), |(t, b)| (t + b) % 4); // (steps, batch)
//! let targets = Array2::from_shape_fn((8, 2), |(t, b)| (t + b + 1) % 4);
//! let mut opt = Optimizer::new(OptimizerConfig::adam(0.05))?;
//! let first = lm.loss_and_grads(inputs.view(), targets.view(), None, None)?.loss;
//! let mut last = first;
//! for _ in 0..50 {
//!     let mut step = lm.loss_and_grads(inputs.view(), targets.view(), None, None)?;
//!     seqrnn::clip_grad_norm(&mut step.grads, 1.0)?;
//!     opt.step(&mut lm, &step.grads)?;
//!     last = step.loss;
//! }
//! assert!(last < 0.1 * first);
//! # Ok::<(), seqrnn::Error>(())
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

pub mod alloc;
pub mod attention;
pub mod checkpoint;
pub mod data;
pub mod decode;
pub mod embedding;
pub mod engine;
pub mod error;
mod float;
pub mod generate;
pub mod init;
pub mod interrupt;
pub mod linear;
pub mod lm;
pub mod loss;
pub mod optim;
pub mod pairs;
mod params;
pub mod resume;
pub mod rnn;
pub mod sampling;
pub mod schedule;
pub mod seq2seq;
pub mod split;
pub mod train;
pub mod vocab;

pub use data::Sampling;
pub use decode::{DecodeConfig, GreedySteps, Hypothesis};
pub use embedding::Embedding;
pub use error::{Error, Result};
pub use float::{Dtype, Float};
pub use generate::{SamplingConfig, Stream};
pub use init::Init;
pub use linear::Linear;
pub use lm::{LanguageModel, LmConfig, LmStep};
pub use optim::{clip_grad_norm, clip_grad_value, Optimizer, OptimizerConfig};
pub use pairs::PairSet;
pub use params::Parameters;
pub use rnn::{Nonlinearity, Rnn, RnnCache, RnnConfig, RnnGrads, RnnInput, RnnLayer, StepInput};
pub use schedule::Schedule;
pub use seq2seq::{Attention, Context, Seq2Seq, Seq2SeqConfig};
pub use train::{
    EpochEnd, LmTask, LmTrainer, PairTask, RunStats, Seq2SeqTrainer, Task, TrainConfig, Trainer,
};
pub use vocab::{Level, Vocab};
