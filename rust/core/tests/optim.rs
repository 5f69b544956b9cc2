//! Optimizer updates against PyTorch's update rules written out element by element, gradient
//! clipping, optimizer state round trips and hyper-parameter validation.
//!
//! Shapes: the parameter container is a `Linear<f64>` with `weight` `(2, 3)` and `bias` `(2,)`;
//! gradients are `Linear`s of the same shapes. Flattened (weight row-major, then bias) that is
//! 8 scalars, which the reference rules update one by one.

use approx::assert_relative_eq;
use ndarray::{array, ArrayD};
use seqrnn::{clip_grad_norm, clip_grad_value, Error, Linear, Optimizer, Parameters, Result};
use seqrnn::{OptimizerConfig, OptimizerConfig::*};

fn params() -> Linear<f64> {
    let weight = array![[0.5, -0.3, 0.8], [0.1, 0.2, -0.7]];
    Linear {
        weight,
        bias: Some(array![0.05, -0.4]),
    }
}

/// A different gradient for every step `k` (1-based), with mixed signs and magnitudes.
fn grads(k: usize) -> Linear<f64> {
    let k = k as f64;
    let weight = array![[0.3 * k, -0.2, 0.05 / k], [-1.5 + k, 0.7, -0.01 * k]];
    Linear {
        weight,
        bias: Some(array![0.4 - 0.3 * k, 2.0 / k]),
    }
}

fn flat(p: &Linear<f64>) -> Vec<f64> {
    p.named()
        .into_iter()
        .flat_map(|(_, a)| a.iter().copied().collect::<Vec<_>>())
        .collect()
}

fn sgd(lr: f64, momentum: f64, weight_decay: f64) -> OptimizerConfig {
    Sgd {
        lr,
        momentum,
        weight_decay,
    }
}

fn adam(lr: f64, beta1: f64, beta2: f64, eps: f64, weight_decay: f64) -> OptimizerConfig {
    Adam {
        lr,
        beta1,
        beta2,
        eps,
        weight_decay,
    }
}

fn adagrad(lr: f64, eps: f64, weight_decay: f64) -> OptimizerConfig {
    Adagrad {
        lr,
        eps,
        weight_decay,
    }
}

fn is_invalid<T>(r: Result<T>) -> bool {
    matches!(r, Err(Error::InvalidArgument { .. }))
}

/// PyTorch's update of one scalar `p` with gradient `g` at step `t` (1-based); `s1`, `s2` are
/// its state (`momentum_buffer`, or `exp_avg` and `exp_avg_sq`, or `sum`), starting at zero.
/// SGD: dampening 0, no Nesterov. Adam: L2 weight decay, no amsgrad. Adagrad: lr_decay 0.
fn reference(config: &OptimizerConfig, p: &mut f64, s1: &mut f64, s2: &mut f64, g: f64, t: i32) {
    match *config {
        Sgd {
            lr,
            momentum,
            weight_decay,
        } => {
            let d = g + weight_decay * *p;
            *s1 = if t == 1 { d } else { momentum * *s1 + d };
            *p -= lr * if momentum == 0.0 { d } else { *s1 };
        }
        Adam {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        } => {
            let g = g + weight_decay * *p;
            *s1 = beta1 * *s1 + (1.0 - beta1) * g;
            *s2 = beta2 * *s2 + (1.0 - beta2) * g * g;
            let m_hat = *s1 / (1.0 - beta1.powi(t));
            let v_hat = *s2 / (1.0 - beta2.powi(t));
            *p -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        Adagrad {
            lr,
            eps,
            weight_decay,
        } => {
            let g = g + weight_decay * *p;
            *s1 += g * g;
            *p -= lr * g / (s1.sqrt() + eps);
        }
    }
}

/// Runs three optimizer steps and the scalar reference side by side, comparing after each.
fn compare(config: OptimizerConfig) {
    let mut opt = Optimizer::<f64>::new(config.clone()).unwrap();
    let mut p = params();
    let mut expected = flat(&p);
    let (mut s1, mut s2) = (vec![0.0; 8], vec![0.0; 8]);
    for t in 1..=3 {
        let g = flat(&grads(t));
        opt.step(&mut p, &grads(t)).unwrap();
        for i in 0..8 {
            reference(
                &config,
                &mut expected[i],
                &mut s1[i],
                &mut s2[i],
                g[i],
                t as i32,
            );
        }
        assert_eq!(opt.steps(), t as u64);
        for (a, e) in flat(&p).iter().zip(&expected) {
            assert_relative_eq!(*a, *e, max_relative = 1e-13);
        }
    }
}

#[test]
fn sgd_plain_matches_pytorch() {
    compare(OptimizerConfig::sgd(0.1));
}

#[test]
fn sgd_momentum_weight_decay_matches_pytorch() {
    compare(sgd(0.1, 0.9, 0.01));
}

#[test]
fn adam_matches_pytorch() {
    compare(OptimizerConfig::adam(0.01));
    compare(adam(0.05, 0.8, 0.99, 1e-6, 0.1));
}

#[test]
fn adagrad_matches_pytorch() {
    compare(OptimizerConfig::adagrad(0.1));
    compare(adagrad(0.5, 1e-4, 0.05));
}

/// `weight[0][0]` (0.5, gradient 0.3 k at step k) after each step of `config`.
fn first_weight(config: OptimizerConfig, steps: usize) -> Vec<f64> {
    let mut opt = Optimizer::<f64>::new(config).unwrap();
    let mut p = params();
    let mut out = Vec::new();
    for k in 1..=steps {
        opt.step(&mut p, &grads(k)).unwrap();
        out.push(p.weight[[0, 0]]);
    }
    out
}

/// A few values worked out by hand.
#[test]
fn hand_computed_values() {
    // SGD, lr 0.1, momentum 0.9, wd 0.01: d1 = 0.3 + 0.005 = 0.305, p1 = 0.5 - 0.0305 = 0.4695;
    // d2 = 0.6 + 0.004695 = 0.604695, buf2 = 0.9 * 0.305 + 0.604695 = 0.879195,
    // p2 = 0.4695 - 0.0879195 = 0.3815805.
    let p = first_weight(sgd(0.1, 0.9, 0.01), 2);
    assert_relative_eq!(p[0], 0.4695, max_relative = 1e-15);
    assert_relative_eq!(p[1], 0.3815805, max_relative = 1e-15);
    // Adam's first step moves by lr * g / (|g| + eps): 0.5 - 0.01 * 0.3 / (0.3 + 1e-8).
    let p = first_weight(OptimizerConfig::adam(0.01), 1);
    assert_relative_eq!(p[0], 0.5 - 0.01 * 0.3 / (0.3 + 1e-8), max_relative = 1e-15);
    // Adagrad, lr 0.1: s = 0.09, p1 = 0.5 - 0.1 * 0.3 / 0.3 = 0.4; s = 0.09 + 0.36 = 0.45,
    // p2 = 0.4 - 0.1 * 0.6 / sqrt(0.45).
    let p = first_weight(OptimizerConfig::adagrad(0.1), 2);
    assert_relative_eq!(p[0], 0.4, max_relative = 1e-9);
    assert_relative_eq!(p[1], 0.4 - 0.06 / 0.45f64.sqrt(), max_relative = 1e-9);
}

#[test]
fn clip_grad_norm_rescales_only_above_max() {
    let g = grads(2);
    let norm = flat(&g).iter().map(|x| x * x).sum::<f64>().sqrt();
    // Above: returns the norm before clipping, result has norm max_norm (up to PyTorch's 1e-6).
    let mut clipped = g.clone();
    let returned = clip_grad_norm(&mut clipped, 0.5 * norm).unwrap();
    assert_relative_eq!(returned, norm, max_relative = 1e-14);
    assert_relative_eq!(clipped.global_norm(), 0.5 * norm, max_relative = 1e-6);
    let coef = 0.5 * norm / (norm + 1e-6);
    for (c, x) in flat(&clipped).iter().zip(flat(&g)) {
        assert_relative_eq!(*c, x * coef, max_relative = 1e-14);
    }
    // Below: unchanged, bit for bit.
    let mut same = g.clone();
    let returned = clip_grad_norm(&mut same, 2.0 * norm).unwrap();
    assert_relative_eq!(returned, norm, max_relative = 1e-14);
    assert_eq!(same, g);
    for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(is_invalid(clip_grad_norm(&mut same, bad)));
    }
}

#[test]
fn clip_grad_value_clamps_each_element() {
    let g = grads(3); // elements from -0.03 to 1.5
    let mut clipped = g.clone();
    clip_grad_value(&mut clipped, 0.5).unwrap();
    for (c, x) in flat(&clipped).iter().zip(flat(&g)) {
        assert_eq!(*c, x.clamp(-0.5, 0.5));
    }
    assert!(is_invalid(clip_grad_value(&mut clipped, -0.5)));
    assert!(is_invalid(clip_grad_value(&mut clipped, f64::NAN)));
}

/// Two steps, save `state()`, restore it into a fresh optimizer; the third steps must agree.
fn state_round_trip(config: OptimizerConfig, expected_names: &[&str]) {
    let mut a = Optimizer::<f64>::new(config.clone()).unwrap();
    let mut p = params();
    a.step(&mut p, &grads(1)).unwrap();
    a.step(&mut p, &grads(2)).unwrap();
    let owned = |(n, t): (String, ndarray::ArrayViewD<'_, f64>)| (n, t.to_owned());
    let saved: Vec<(String, ArrayD<f64>)> = a.state().into_iter().map(owned).collect();
    let names: Vec<&str> = saved.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected_names);
    let views: Vec<_> = saved.iter().map(|(n, t)| (n.clone(), t.view())).collect();
    let mut b = Optimizer::<f64>::new(config).unwrap();
    b.load_state(&p, a.steps(), &views).unwrap();
    assert_eq!(b.steps(), 2);
    let (mut pa, mut pb) = (p.clone(), p.clone());
    a.step(&mut pa, &grads(3)).unwrap();
    b.step(&mut pb, &grads(3)).unwrap();
    assert_eq!(pa, pb);
    let (sa, sb) = (a.state(), b.state());
    assert_eq!(sa, sb);
    // A state with a tensor missing is rejected and leaves the optimizer as it was.
    if !views.is_empty() {
        let r = b.load_state(&p, 2, &views[1..]);
        assert!(matches!(r, Err(Error::Checkpoint(_))), "{r:?}");
        assert_eq!(b.steps(), 3);
    }
}

#[test]
fn optimizer_state_round_trip() {
    let momentum = ["momentum_buffer.weight", "momentum_buffer.bias"];
    state_round_trip(sgd(0.1, 0.9, 0.01), &momentum);
    state_round_trip(OptimizerConfig::sgd(0.1), &[]);
    let moments = [
        "exp_avg.weight",
        "exp_avg.bias",
        "exp_avg_sq.weight",
        "exp_avg_sq.bias",
    ];
    state_round_trip(OptimizerConfig::adam(0.01), &moments);
    state_round_trip(OptimizerConfig::adagrad(0.1), &["sum.weight", "sum.bias"]);
}

#[test]
fn invalid_hyper_parameters_are_errors() {
    let configs = [
        sgd(f64::NAN, 0.0, 0.0),
        sgd(-0.1, 0.0, 0.0),
        sgd(0.0, 0.0, 0.0),
        sgd(0.1, -0.5, 0.0),
        sgd(0.1, 0.9, f64::NAN),
        adam(f64::INFINITY, 0.9, 0.999, 1e-8, 0.0),
        adam(0.1, 1.0, 0.999, 1e-8, 0.0),
        adam(0.1, 1.5, 0.999, 1e-8, 0.0),
        adam(0.1, -0.1, 0.999, 1e-8, 0.0),
        adam(0.1, 0.9, 1.0, 1e-8, 0.0),
        adam(0.1, 0.9, 0.999, 0.0, 0.0),
        adagrad(-1.0, 1e-10, 0.0),
        adagrad(0.1, 1e-10, -1.0),
    ];
    for config in configs {
        let r = Optimizer::<f64>::new(config.clone());
        assert!(is_invalid(r), "{config:?}");
    }
    let mut opt = Optimizer::<f64>::new(OptimizerConfig::adam(0.1)).unwrap();
    for bad in [f64::NAN, f64::INFINITY, -1.0] {
        assert!(is_invalid(opt.set_lr(bad)));
    }
    assert_eq!(opt.config().lr(), 0.1);
    opt.set_lr(0.0).unwrap(); // the end of a cosine schedule
    assert_eq!(opt.config().lr(), 0.0);
    assert!(is_invalid(OptimizerConfig::by_name("rmsprop", 0.1)));
    assert!(is_invalid(OptimizerConfig::by_name("adam", -0.1)));
    // Gradients of another structure (no bias) are rejected before anything changes.
    let mut p = params();
    let g = Linear {
        weight: grads(1).weight,
        bias: None,
    };
    assert!(is_invalid(opt.step(&mut p, &g)));
    assert_eq!((p, opt.steps()), (params(), 0));
}
