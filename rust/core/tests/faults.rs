//! Training faults: a non-finite loss, gradient or updated parameter stops training with an
//! error naming the epoch, minibatch and step, and leaves the model and the optimizer exactly
//! as they were before that step; the training types may be shared between threads.
//!
//! Shapes: corpora `(tokens,)`.

use seqrnn::{Error, Init, LanguageModel, LmConfig, Optimizer, OptimizerConfig, Parameters};
use seqrnn::{LmTask, Sampling, TrainConfig, Trainer};

fn corpus() -> Vec<usize> {
    [0, 1, 2, 3, 1, 4, 2, 5]
        .iter()
        .copied()
        .cycle()
        .take(400)
        .collect() // (400,)
}

fn bits(lm: &LanguageModel<f32>) -> Vec<Vec<u32>> {
    lm.named()
        .into_iter()
        .map(|(_, a)| a.iter().map(|x| x.to_bits()).collect())
        .collect()
}

fn config(optimizer: OptimizerConfig, clip: Option<f64>) -> TrainConfig {
    TrainConfig {
        clip,
        seed: 3,
        ..TrainConfig::new(4, optimizer)
    }
}

#[test]
fn an_overflowing_update_is_refused_and_named() {
    // Steps of ~1e38 overflow f32 within a few minibatches, in the logits, the loss,
    // the gradients or the update itself.
    for optimizer in [OptimizerConfig::adam(1e38), OptimizerConfig::adagrad(1e38)] {
        let mut lm = LanguageModel::<f32>::new(LmConfig::new(6, 8), Init::Uniform, 0).unwrap();
        let task = LmTask::new(corpus(), 5, Sampling::Sequential).unwrap();
        let mut trainer = Trainer::new(task, config(optimizer.clone(), None)).unwrap();
        let mut last_good = bits(&lm);
        let mut steps = 0;
        let err = loop {
            match trainer.run(&mut lm, 1) {
                Ok(_) => {
                    last_good = bits(&lm);
                    steps += 1;
                    assert!(steps < 200, "{optimizer:?} never overflowed");
                }
                Err(e) => break e,
            }
        };
        assert!(lm.all_finite(), "{optimizer:?} left non-finite parameters");
        assert_eq!(bits(&lm), last_good, "the failing step changed the model");
        assert_eq!(trainer.optimizer().steps(), steps);
        let (epoch, batch) = (trainer.epochs() + 1, trainer.progress().0 + 1);
        match &err {
            Error::NonFinite {
                epoch: e,
                batch: b,
                step,
                ..
            } => {
                assert_eq!((*e, *b, *step), (epoch, batch, steps + 1));
            }
            other => panic!("{other}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("at epoch {epoch}, minibatch {batch}")),
            "{msg}"
        );
        assert!(
            msg.contains("keeps its parameters from before this step"),
            "{msg}"
        );
    }
}

#[test]
fn optimizer_step_checks_before_writing() {
    let mut lm = LanguageModel::<f32>::new(LmConfig::new(6, 8), Init::Uniform, 0).unwrap();
    let mut grads = lm.zeros_like();
    grads.fill(1e30);
    let before = bits(&lm);
    for config in [
        OptimizerConfig::sgd(1e20),
        OptimizerConfig::adam(0.1),
        OptimizerConfig::adagrad(0.1),
    ] {
        let mut opt = Optimizer::<f32>::new(config.clone()).unwrap();
        let err = opt.step(&mut lm, &grads).unwrap_err(); // g^2 overflows Adam's and Adagrad's state
        assert!(
            matches!(err, Error::NonFinite { step: 1, .. }),
            "{config:?}: {err}"
        );
        assert_eq!(bits(&lm), before, "{config:?}");
        assert_eq!(opt.steps(), 0);
        assert!(opt.state().iter().all(|(_, t)| t.iter().all(|&x| x == 0.0)));
    }
}

#[test]
fn training_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<seqrnn::LmTrainer<f32>>();
    assert_send_sync::<seqrnn::Seq2SeqTrainer<f64>>();
    assert_send_sync::<seqrnn::Seq2Seq<f32>>();
    assert_send_sync::<seqrnn::PairSet>();
    assert_send_sync::<seqrnn::Stream<f32>>();
}
