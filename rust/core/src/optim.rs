//! Gradient clipping and the optimizers SGD (momentum, weight decay), Adam and Adagrad, with
//! PyTorch's update rules. Each optimizer keeps its own state, keyed by parameter name.

use crate::error::{check_non_negative_finite, check_positive_finite};
use crate::{Error, Float, Parameters, Result};
use ndarray::{ArrayD, ArrayViewD, Zip};
use serde::{Deserialize, Serialize};

/// Rescales all gradients together so that their global L2 norm is at most `max_norm`
/// (d2l's `grad_clipping`, PyTorch's `clip_grad_norm_`). Returns the norm before clipping.
pub fn clip_grad_norm<T: Float, P: Parameters<T>>(grads: &mut P, max_norm: f64) -> Result<f64> {
    check_positive_finite("clip", max_norm)?;
    let norm = grads.global_norm();
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        grads.scale(T::from_f64_lossy(coef));
    }
    Ok(norm)
}

/// Clamps every gradient element to `[-clip_value, clip_value]` (min-char-rnn's `np.clip`).
pub fn clip_grad_value<T: Float, P: Parameters<T>>(grads: &mut P, clip_value: f64) -> Result<()> {
    check_positive_finite("clip_value", clip_value)?;
    let c = T::from_f64_lossy(clip_value);
    for (_, mut g) in grads.named_mut() {
        g.mapv_inplace(|x| x.max(-c).min(c));
    }
    Ok(())
}

/// Which optimizer, with its hyper-parameters (PyTorch's defaults via the constructors).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "lowercase")]
pub enum OptimizerConfig {
    /// `v = momentum * v + g; p -= lr * v` (plain SGD when momentum is 0).
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum factor (0 for none).
        momentum: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
    /// Adam with bias correction.
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay.
        beta1: f64,
        /// Second-moment decay.
        beta2: f64,
        /// Denominator term.
        eps: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
    /// Adagrad: `s += g^2; p -= lr * g / (sqrt(s) + eps)`.
    Adagrad {
        /// Learning rate.
        lr: f64,
        /// Denominator term.
        eps: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
    },
}

impl OptimizerConfig {
    /// Plain SGD.
    pub fn sgd(lr: f64) -> Self {
        OptimizerConfig::Sgd {
            lr,
            momentum: 0.0,
            weight_decay: 0.0,
        }
    }

    /// Adam with betas (0.9, 0.999) and eps 1e-8.
    pub fn adam(lr: f64) -> Self {
        OptimizerConfig::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
        }
    }

    /// Adagrad with eps 1e-10.
    pub fn adagrad(lr: f64) -> Self {
        OptimizerConfig::Adagrad {
            lr,
            eps: 1e-10,
            weight_decay: 0.0,
        }
    }

    /// By name: `"sgd"`, `"adam"` or `"adagrad"` with their defaults.
    pub fn by_name(name: &str, lr: f64) -> Result<Self> {
        let config = match name {
            "sgd" => Self::sgd(lr),
            "adam" => Self::adam(lr),
            "adagrad" => Self::adagrad(lr),
            other => {
                return Err(Error::invalid(
                    "optimizer",
                    "\"sgd\", \"adam\" or \"adagrad\"",
                    format!("{other:?}"),
                ))
            }
        };
        config.validate()?;
        Ok(config)
    }

    /// The learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd { lr, .. }
            | OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::Adagrad { lr, .. } => *lr,
        }
    }

    /// Fails on a non-finite or out-of-domain hyper-parameter.
    pub fn validate(&self) -> Result<()> {
        check_positive_finite("lr", self.lr())?;
        match *self {
            OptimizerConfig::Sgd {
                momentum,
                weight_decay,
                ..
            } => {
                check_non_negative_finite("momentum", momentum)?;
                check_non_negative_finite("weight_decay", weight_decay)
            }
            OptimizerConfig::Adam {
                beta1,
                beta2,
                eps,
                weight_decay,
                ..
            } => {
                for (what, b) in [("beta1", beta1), ("beta2", beta2)] {
                    if !(0.0..1.0).contains(&b) {
                        return Err(Error::invalid(what, "in [0, 1)", b));
                    }
                }
                check_positive_finite("eps", eps)?;
                check_non_negative_finite("weight_decay", weight_decay)
            }
            OptimizerConfig::Adagrad {
                eps, weight_decay, ..
            } => {
                check_positive_finite("eps", eps)?;
                check_non_negative_finite("weight_decay", weight_decay)
            }
        }
    }
}

/// An optimizer and its state (momentum buffers, moment estimates, squared-gradient sums).
#[derive(Clone, Debug)]
pub struct Optimizer<T> {
    config: OptimizerConfig,
    steps: u64,
    first: Vec<(String, ArrayD<T>)>, // momentum_buffer / exp_avg / sum, per parameter
    second: Vec<(String, ArrayD<T>)>, // exp_avg_sq (Adam only)
}

impl<T: Float> Optimizer<T> {
    /// A fresh optimizer (its state is created on the first step).
    pub fn new(config: OptimizerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Optimizer {
            config,
            steps: 0,
            first: Vec::new(),
            second: Vec::new(),
        })
    }

    /// The hyper-parameters.
    pub fn config(&self) -> &OptimizerConfig {
        &self.config
    }

    /// Changes the learning rate (for schedules); the state is kept.
    pub fn set_lr(&mut self, new_lr: f64) -> Result<()> {
        check_positive_finite("lr", new_lr)?;
        match &mut self.config {
            OptimizerConfig::Sgd { lr, .. }
            | OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::Adagrad { lr, .. } => *lr = new_lr,
        }
        Ok(())
    }

    /// Number of steps taken.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The state tensors under PyTorch-like names (`momentum_buffer.<param>`, `exp_avg.<param>`,
    /// `exp_avg_sq.<param>`, `sum.<param>`).
    pub fn state(&self) -> Vec<(String, ArrayViewD<'_, T>)> {
        let (a, b) = self.slot_names();
        let first = self
            .first
            .iter()
            .map(|(n, t)| (format!("{a}.{n}"), t.view()));
        let second = self
            .second
            .iter()
            .map(|(n, t)| (format!("{b}.{n}"), t.view()));
        first.chain(second).collect()
    }

    /// Restores the step count and state saved from [`Optimizer::state`] for `params`.
    pub fn load_state<P: Parameters<T>>(
        &mut self,
        params: &P,
        steps: u64,
        state: &[(String, ArrayViewD<'_, T>)],
    ) -> Result<()> {
        let mut fresh = Optimizer::new(self.config.clone())?;
        if steps > 0 {
            fresh.ensure_state(params);
        }
        fresh.steps = steps;
        let n_expected = fresh.first.len() + fresh.second.len();
        let (a, b) = self.slot_names();
        let mut found = 0;
        for (prefix, slots) in [(a, &mut fresh.first), (b, &mut fresh.second)] {
            for (name, slot) in slots.iter_mut() {
                let key = format!("{prefix}.{name}");
                if let Some((_, t)) = state.iter().find(|(k, _)| *k == key) {
                    crate::error::check_shape(&key, slot.shape(), t.shape())?;
                    slot.assign(t);
                    found += 1;
                }
            }
        }
        if found != n_expected || state.len() != n_expected {
            return Err(Error::Checkpoint(format!(
                "optimizer state has {} tensors, {found} of which match the model; expected {n_expected}",
                state.len()
            )));
        }
        *self = fresh;
        Ok(())
    }

    fn slot_names(&self) -> (&'static str, &'static str) {
        match self.config {
            OptimizerConfig::Sgd { .. } => ("momentum_buffer", ""),
            OptimizerConfig::Adam { .. } => ("exp_avg", "exp_avg_sq"),
            OptimizerConfig::Adagrad { .. } => ("sum", ""),
        }
    }

    fn ensure_state<P: Parameters<T>>(&mut self, params: &P) {
        if !self.first.is_empty() {
            return;
        }
        let zeros = || {
            params
                .named()
                .into_iter()
                .map(|(n, p)| (n, ArrayD::zeros(p.raw_dim())))
                .collect::<Vec<_>>()
        };
        let uses_first =
            !matches!(self.config, OptimizerConfig::Sgd { momentum, .. } if momentum == 0.0);
        if uses_first {
            self.first = zeros();
        }
        if matches!(self.config, OptimizerConfig::Adam { .. }) {
            self.second = zeros();
        }
    }

    /// One update of `params` from `grads` (same structure). Shapes must agree name by name.
    pub fn step<P: Parameters<T>>(&mut self, params: &mut P, grads: &P) -> Result<()> {
        let grads = grads.named();
        let names_p = params.names();
        if names_p.len() != grads.len() || names_p.iter().zip(&grads).any(|(a, (b, _))| a != b) {
            return Err(Error::invalid(
                "gradients",
                format!("tensors named {names_p:?}"),
                "a different set",
            ));
        }
        for ((name, p), (_, g)) in params.named().iter().zip(&grads) {
            crate::error::check_shape(name, p.shape(), g.shape())?;
        }
        self.ensure_state(params);
        self.steps += 1;
        let t = self.steps as i32;
        let cfg = self.config.clone();
        for (i, ((name, mut p), (_, g))) in params.named_mut().into_iter().zip(grads).enumerate() {
            match cfg {
                OptimizerConfig::Sgd {
                    lr,
                    momentum,
                    weight_decay,
                } => {
                    let (lr, wd, mu) = (
                        T::from_f64_lossy(lr),
                        T::from_f64_lossy(weight_decay),
                        T::from_f64_lossy(momentum),
                    );
                    match self.first.get_mut(i) {
                        Some((_, v)) => {
                            let first = t == 1;
                            Zip::from(&mut p).and(v).and(&g).for_each(|p, v, &g| {
                                let g = g + wd * *p;
                                *v = if first { g } else { mu * *v + g };
                                *p -= lr * *v;
                            });
                        }
                        None => Zip::from(&mut p)
                            .and(&g)
                            .for_each(|p, &g| *p -= lr * (g + wd * *p)),
                    }
                }
                OptimizerConfig::Adam {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay,
                } => {
                    let bc1 = 1.0 - beta1.powi(t);
                    let bc2 = 1.0 - beta2.powi(t);
                    let step_size = T::from_f64_lossy(lr / bc1);
                    let inv_sqrt_bc2 = T::from_f64_lossy(1.0 / bc2.sqrt());
                    let (b1, b2, eps, wd) = (
                        T::from_f64_lossy(beta1),
                        T::from_f64_lossy(beta2),
                        T::from_f64_lossy(eps),
                        T::from_f64_lossy(weight_decay),
                    );
                    let (m, v) = match (self.first.get_mut(i), self.second.get_mut(i)) {
                        (Some((_, m)), Some((_, v))) => (m, v),
                        _ => {
                            return Err(Error::invalid(
                                "optimizer state",
                                "one slot per parameter",
                                name,
                            ))
                        }
                    };
                    Zip::from(&mut p)
                        .and(m)
                        .and(v)
                        .and(&g)
                        .for_each(|p, m, v, &g| {
                            let g = g + wd * *p;
                            *m = b1 * *m + (T::one() - b1) * g;
                            *v = b2 * *v + (T::one() - b2) * g * g;
                            *p -= step_size * *m / (v.sqrt() * inv_sqrt_bc2 + eps);
                        });
                }
                OptimizerConfig::Adagrad {
                    lr,
                    eps,
                    weight_decay,
                } => {
                    let (lr, eps, wd) = (
                        T::from_f64_lossy(lr),
                        T::from_f64_lossy(eps),
                        T::from_f64_lossy(weight_decay),
                    );
                    let s = match self.first.get_mut(i) {
                        Some((_, s)) => s,
                        None => {
                            return Err(Error::invalid(
                                "optimizer state",
                                "one slot per parameter",
                                name,
                            ))
                        }
                    };
                    Zip::from(&mut p).and(s).and(&g).for_each(|p, s, &g| {
                        let g = g + wd * *p;
                        *s += g * g;
                        *p -= lr * g / (s.sqrt() + eps);
                    });
                }
            }
        }
        Ok(())
    }
}
