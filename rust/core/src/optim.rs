//! Gradient clipping and the optimizers SGD (momentum, weight decay), Adam and Adagrad, with
//! PyTorch's update rules. Each optimizer keeps its own state, keyed by parameter name.

use crate::error::{check_non_negative_finite, check_positive_finite};
use crate::{Error, Float, Parameters, Result};
use ndarray::{ArrayD, ArrayViewD};
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
#[serde(deny_unknown_fields)]
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

    /// Sets the learning rate, unchecked (callers check it).
    pub(crate) fn set_lr(&mut self, new_lr: f64) {
        match self {
            OptimizerConfig::Sgd { lr, .. }
            | OptimizerConfig::Adam { lr, .. }
            | OptimizerConfig::Adagrad { lr, .. } => *lr = new_lr,
        }
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
///
/// ```
/// use seqrnn::{Init, Linear, Optimizer, OptimizerConfig};
///
/// let mut layer = Linear::<f64>::new(2, 1, true, Init::Uniform, 0)?;
/// let before = layer.weight.clone();
/// let mut grads = layer.clone();
/// grads.weight.fill(1.0);
/// grads.bias.as_mut().map(|b| b.fill(0.0));
/// let mut opt = Optimizer::new(OptimizerConfig::sgd(0.1))?;
/// opt.step(&mut layer, &grads)?; // weight -= 0.1 * grad
/// assert!((&before - &layer.weight).iter().all(|d| (d - 0.1).abs() < 1e-12));
/// assert_eq!(opt.steps(), 1);
/// # Ok::<(), seqrnn::Error>(())
/// ```
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

    /// Changes the learning rate (for schedules; 0 is allowed, as at the end of a cosine
    /// schedule); the state is kept.
    pub fn set_lr(&mut self, new_lr: f64) -> Result<()> {
        if !(new_lr.is_finite() && new_lr >= 0.0) {
            return Err(Error::invalid("lr", "a finite number >= 0", new_lr));
        }
        self.config.set_lr(new_lr);
        Ok(())
    }

    /// This optimizer's state (moments and step count) under the hyper-parameters `config`:
    /// kept when `config` is the same kind of optimizer, a fresh optimizer otherwise.
    pub fn reconfigured(&self, config: OptimizerConfig) -> Result<Self> {
        config.validate()?;
        let same_kind = std::mem::discriminant(&config) == std::mem::discriminant(&self.config);
        let mut next = if same_kind {
            self.clone()
        } else {
            Optimizer::new(config.clone())?
        };
        if matches!(config, OptimizerConfig::Sgd { momentum, .. } if momentum == 0.0) {
            next.first.clear(); // plain SGD keeps no buffers
        }
        next.config = config;
        Ok(next)
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
    ///
    /// The new values are computed and checked first: if any parameter or state element would
    /// become NaN or infinite, nothing changes and [`Error::NonFinite`] is returned (with the
    /// step but no epoch or minibatch: 0 there).
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
        let rule = Rule::new(&self.config, self.steps + 1);
        let mut first = self.first.iter_mut().map(|(_, a)| a);
        let mut second = self.second.iter_mut().map(|(_, b)| b);
        let mut tensors = Vec::with_capacity(grads.len());
        for ((name, p), (_, g)) in params.named_mut().into_iter().zip(&grads) {
            let (a, b) = (first.next(), second.next());
            if rule.needs_first() && a.is_none() || rule.needs_second() && b.is_none() {
                return Err(Error::invalid(
                    "optimizer state",
                    "one slot per parameter",
                    name,
                ));
            }
            tensors.push((name, p, a, b, g));
        }
        // Every new value is computed and checked before any is written.
        for write in [false, true] {
            for (name, p, a, b, g) in &mut tensors {
                let slices = (
                    p.as_slice_memory_order_mut(),
                    g.as_slice_memory_order(),
                    a.as_mut().map(|a| a.as_slice_memory_order_mut()),
                    b.as_mut().map(|b| b.as_slice_memory_order_mut()),
                );
                let (Some(p), Some(g), None | Some(Some(_)), None | Some(Some(_))) = slices else {
                    return Err(Error::invalid(
                        name.as_str(),
                        "contiguous tensors",
                        "strided",
                    ));
                };
                if sweep(&rule, p, slices.2.flatten(), slices.3.flatten(), g, write) {
                    return Err(Error::NonFinite {
                        what: format!("parameters after the update ({name})"),
                        epoch: 0,
                        batch: 0,
                        step: self.steps + 1,
                    });
                }
            }
        }
        self.steps += 1;
        Ok(())
    }
}

crate::engine::vmath::multiversion! {
    /// One pass of `rule` over contiguous tensors: writes the new values when `write`, and tells
    /// whether any new value is NaN or infinite. Branch-free per element, so that it vectorizes.
    fn sweep<T: Float>(
        rule: &Rule<T>,
        p: &mut [T],
        a: Option<&mut [T]>,
        b: Option<&mut [T]>,
        g: &[T],
        write: bool
    ) -> bool {
        let mut bad = false;
        let zero = T::zero();
        match (a, b) {
            (Some(a), Some(b)) => {
                for (((p, a), b), &g) in p.iter_mut().zip(a.iter_mut()).zip(b.iter_mut()).zip(g) {
                    let (np, na, nb) = rule.apply(*p, *a, *b, g);
                    bad |= !(np.is_finite() & na.is_finite() & nb.is_finite());
                    if write {
                        (*p, *a, *b) = (np, na, nb);
                    }
                }
            }
            (Some(a), None) => {
                for ((p, a), &g) in p.iter_mut().zip(a.iter_mut()).zip(g) {
                    let (np, na, _) = rule.apply(*p, *a, zero, g);
                    bad |= !(np.is_finite() & na.is_finite());
                    if write {
                        (*p, *a) = (np, na);
                    }
                }
            }
            _ => {
                for (p, &g) in p.iter_mut().zip(g) {
                    let (np, _, _) = rule.apply(*p, zero, zero, g);
                    bad |= !np.is_finite();
                    if write {
                        *p = np;
                    }
                }
            }
        }
        bad
    }
}

/// The element-wise update of step `t` (1-based): `(p, a, b, g) -> (p', a', b')`, where `a` is
/// the momentum buffer, Adam's first moment or Adagrad's sum, and `b` Adam's second moment.
#[derive(Clone, Copy, Debug)]
enum Rule<T> {
    Sgd {
        lr: T,
        wd: T,
        mu: T,
        first: bool,
    },
    Adam {
        step_size: T,
        inv_sqrt_bc2: T,
        b1: T,
        b2: T,
        eps: T,
        wd: T,
    },
    Adagrad {
        lr: T,
        eps: T,
        wd: T,
    },
}

impl<T: Float> Rule<T> {
    fn new(config: &OptimizerConfig, t: u64) -> Self {
        let f = T::from_f64_lossy;
        match *config {
            OptimizerConfig::Sgd {
                lr,
                momentum,
                weight_decay,
            } => Rule::Sgd {
                lr: f(lr),
                wd: f(weight_decay),
                mu: f(momentum),
                first: t == 1,
            },
            OptimizerConfig::Adam {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                let t = i32::try_from(t).unwrap_or(i32::MAX);
                let (bc1, bc2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
                Rule::Adam {
                    step_size: f(lr / bc1),
                    inv_sqrt_bc2: f(1.0 / bc2.sqrt()),
                    b1: f(beta1),
                    b2: f(beta2),
                    eps: f(eps),
                    wd: f(weight_decay),
                }
            }
            OptimizerConfig::Adagrad {
                lr,
                eps,
                weight_decay,
            } => Rule::Adagrad {
                lr: f(lr),
                eps: f(eps),
                wd: f(weight_decay),
            },
        }
    }

    fn needs_first(&self) -> bool {
        !matches!(self, Rule::Sgd { mu, .. } if *mu == T::zero())
    }

    fn needs_second(&self) -> bool {
        matches!(self, Rule::Adam { .. })
    }

    #[inline]
    fn apply(&self, p: T, a: T, b: T, g: T) -> (T, T, T) {
        match *self {
            Rule::Sgd { lr, wd, mu, first } => {
                let g = g + wd * p;
                if mu == T::zero() {
                    return (p - lr * g, a, b);
                }
                let v = if first { g } else { mu * a + g };
                (p - lr * v, v, b)
            }
            Rule::Adam {
                step_size,
                inv_sqrt_bc2,
                b1,
                b2,
                eps,
                wd,
            } => {
                let g = g + wd * p;
                let m = b1 * a + (T::one() - b1) * g;
                let v = b2 * b + (T::one() - b2) * g * g;
                (p - step_size * m / (v.sqrt() * inv_sqrt_bc2 + eps), m, v)
            }
            Rule::Adagrad { lr, eps, wd } => {
                let g = g + wd * p;
                let s = a + g * g;
                (p - lr * g / (s.sqrt() + eps), s, b)
            }
        }
    }
}
