//! Dropout between stacked layers: exact gradients with a fixed mask, PyTorch's scaling, and no
//! effect outside training.
//!
//! Shapes (time-major): ids `(steps, batch)`; the LM loss is the mean cross-entropy.

mod common;

use ndarray::Array2;
use seqrnn::{Init, LanguageModel, LmConfig, Parameters};

fn model(dropout: f64) -> LanguageModel<f64> {
    let mut config = LmConfig::new(5, 6);
    config.num_layers = 3;
    config.embed_size = Some(4);
    config.dropout = dropout;
    LanguageModel::new(config, Init::Uniform, 7).unwrap()
}

fn batch() -> (Array2<usize>, Array2<usize>) {
    let x = Array2::from_shape_fn((4, 3), |(t, b)| (3 * t + b) % 5); // (steps, batch)
    let y = Array2::from_shape_fn((4, 3), |(t, b)| (t + 2 * b + 1) % 5); // (steps, batch)
    (x, y)
}

/// Loss with the dropout stream re-seeded, so every evaluation draws the same masks.
fn loss(m: &LanguageModel<f64>, seed: u64) -> f64 {
    let (x, y) = batch();
    let mut rng = seqrnn::init::rng(seed);
    m.loss_and_grads_train(x.view(), y.view(), None, None, Some(&mut rng))
        .unwrap()
        .loss
}

#[test]
fn gradients_are_exact_with_a_fixed_mask() {
    common::at_every_level(|| {
        let m = model(0.4);
        let (x, y) = batch();
        let mut rng = seqrnn::init::rng(11);
        let step = m
            .loss_and_grads_train(x.view(), y.view(), None, None, Some(&mut rng))
            .unwrap();
        let h = 1e-4;
        let mut worst = 0.0f64;
        for (name, g) in step.grads.named() {
            for (j, &a) in g.iter().enumerate() {
                let f = |d: f64| {
                    let mut p = m.clone();
                    for (n, mut t) in p.named_mut() {
                        if n == name {
                            if let Some(v) = t.iter_mut().nth(j) {
                                *v += d;
                            }
                        }
                    }
                    loss(&p, 11)
                };
                let num = (8.0 * (f(h) - f(-h)) - (f(2.0 * h) - f(-2.0 * h))) / (12.0 * h);
                let e = (a - num).abs() / (a.abs() + num.abs()).max(1e-8);
                assert!(e < 1e-6, "{name}[{j}]: analytic {a:e}, numeric {num:e}");
                worst = worst.max(e);
            }
        }
        println!("worst relative error {worst:.2e}");
    });
}

#[test]
fn dropout_changes_training_losses_only() {
    let (with, without) = (model(0.5), model(0.0));
    let (x, y) = batch();
    let eval = |m: &LanguageModel<f64>| {
        m.loss_and_grads(x.view(), y.view(), None, None)
            .unwrap()
            .loss
    };
    assert_eq!(eval(&with), eval(&without)); // same weights; no dropout outside training
    assert_ne!(loss(&with, 1), eval(&with));
    assert_eq!(loss(&with, 1), loss(&with, 1));
    assert_ne!(loss(&with, 1), loss(&with, 2));
    assert_eq!(loss(&without, 1), eval(&without));
}

#[test]
fn invalid_dropout_is_an_error() {
    for p in [-0.1, 1.0, f64::NAN] {
        let mut config = LmConfig::new(5, 6);
        config.dropout = p;
        assert!(
            LanguageModel::<f64>::new(config, Init::Uniform, 0).is_err(),
            "dropout {p}"
        );
    }
}
