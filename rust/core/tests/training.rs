//! The training machinery end to end: `Trainer` lowers perplexity with every optimizer and
//! every sampling, is bit-for-bit deterministic, and refuses bad input; `generate` and
//! `Stream` decode as documented; `perplexity` is exact on models with known outputs;
//! checkpoints round-trip and reject damaged files.
//!
//! Shapes (time-major): ids `(steps, batch)`, logits `(steps, batch, vocab)`, states
//! `(num_layers, batch, hidden)`, corpora `(tokens,)`.

use approx::assert_relative_eq;
use ndarray::{Array2, ArrayD, ArrayViewD};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use seqrnn::checkpoint::{self, CONFIG, KIND};
use seqrnn::{Error, Float, Init, LanguageModel, LmConfig, OptimizerConfig, Parameters};
use seqrnn::{LmTask, LmTrainer, Sampling, SamplingConfig, Stream, TrainConfig, Trainer};
use std::collections::HashMap;

/// Period 8 over 6 tokens; 1 and 2 have two successors each, so the model needs its state.
const PATTERN: [usize; 8] = [0, 1, 2, 3, 1, 4, 2, 5];
const VOCAB: usize = 6;

fn corpus(len: usize) -> Vec<usize> {
    PATTERN.iter().copied().cycle().take(len).collect() // (len,)
}

fn model<T: Float>(hidden: usize, seed: u64) -> LanguageModel<T> {
    LanguageModel::new(LmConfig::new(VOCAB, hidden), Init::Uniform, seed).unwrap()
}

/// Minibatches of 8 rows and 10 steps drawn by `sampling`, clipping at norm 1, seed 7.
fn train_config(sampling: Sampling, optimizer: OptimizerConfig) -> (Sampling, TrainConfig) {
    let config = TrainConfig {
        seed: 7,
        ..TrainConfig::new(8, optimizer)
    };
    (sampling, config)
}

fn trainer<T: Float>(
    (sampling, config): (Sampling, TrainConfig),
    data: &[usize],
) -> seqrnn::Result<LmTrainer<T>> {
    Trainer::new(LmTask::new(data.to_vec(), 10, sampling)?, config)
}

/// Trains `epochs` full epochs and returns the last epoch's training perplexity.
fn train(
    lm: &mut LanguageModel<f32>,
    config: (Sampling, TrainConfig),
    data: &[usize],
    epochs: usize,
) -> f64 {
    let mut trainer = trainer(config, data).unwrap();
    let mut ppl = f64::INFINITY;
    for _ in 0..epochs {
        let stats = trainer.run(lm, usize::MAX).unwrap();
        assert!(stats.epoch_done && stats.batches > 0);
        ppl = (stats.loss_sum / stats.tokens as f64).exp();
    }
    assert_eq!(trainer.epochs(), epochs as u64);
    ppl
}

fn views<T>(d: &[(String, ArrayD<T>)]) -> Vec<(String, ArrayViewD<'_, T>)> {
    d.iter().map(|(n, a)| (n.clone(), a.view())).collect()
}

/// Every parameter as raw bits, so that NaN == NaN and -0 != 0.
fn bits(lm: &LanguageModel<f32>) -> Vec<(String, Vec<u32>)> {
    lm.named()
        .into_iter()
        .map(|(n, a)| (n, a.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// `lm` with `output.weight` zero and `output.bias` set to `bias`: logits no longer depend on
/// the input.
fn with_output_bias<T: Float>(mut lm: LanguageModel<T>, bias: &[T]) -> LanguageModel<T> {
    let mut dict = lm.state_dict();
    for (name, a) in &mut dict {
        match name.as_str() {
            "output.weight" => a.fill(T::zero()),
            "output.bias" => a.assign(&ndarray::arr1(bias).into_dyn()),
            _ => {}
        }
    }
    lm.load_state_dict(&views(&dict)).unwrap();
    lm
}

#[test]
fn every_optimizer_and_sampling_learns_the_pattern() {
    let data = corpus(1200);
    let optimizers = [
        OptimizerConfig::sgd(1.0),
        OptimizerConfig::adam(0.02),
        OptimizerConfig::adagrad(0.1),
    ];
    for optimizer in optimizers {
        for sampling in [Sampling::Random, Sampling::Sequential, Sampling::Windows] {
            let mut lm = model::<f32>(16, 1);
            let before = lm.perplexity(&data, 4, 10).unwrap();
            let epochs = if sampling == Sampling::Windows { 3 } else { 20 };
            let last = train(
                &mut lm,
                train_config(sampling, optimizer.clone()),
                &data,
                epochs,
            );
            let after = lm.perplexity(&data, 4, 10).unwrap();
            let what = format!("{optimizer:?} {sampling:?}: {before:.3} -> {last:.3}, {after:.3}");
            assert!(before > 4.0, "{what}");
            assert!(after < 1.5 && last < 2.0, "{what}");
        }
    }
}

#[test]
fn perplexity_approaches_the_entropy_rate_of_a_markov_chain() {
    // Token i is followed by i + 1 or i + 2 (mod 6), each with probability 1/2: the best
    // possible perplexity is exactly 2.
    let mut rng = StdRng::seed_from_u64(12);
    let mut chain = vec![0]; // (tokens,)
    for _ in 0..6000 {
        let step = if rng.random_bool(0.5) { 1 } else { 2 };
        chain.push((chain[chain.len() - 1] + step) % VOCAB);
    }
    let (train_ids, valid_ids) = chain.split_at(5000);
    let mut lm = model::<f32>(16, 0);
    let config = train_config(Sampling::Sequential, OptimizerConfig::adam(0.01));
    train(&mut lm, config, train_ids, 4);
    let ppl = lm.perplexity(valid_ids, 4, 10).unwrap();
    assert!((1.9..2.2).contains(&ppl), "held-out perplexity {ppl}");
}

#[test]
fn same_seed_gives_bit_identical_parameters() {
    let data = corpus(400);
    let run = |seed: u64, chunk: usize| {
        let mut lm = model::<f32>(8, 3);
        let mut config = train_config(Sampling::Random, OptimizerConfig::adam(0.01));
        config.1.seed = seed;
        let mut trainer = trainer(config, &data).unwrap();
        while trainer.epochs() < 3 {
            trainer.run(&mut lm, chunk).unwrap();
        }
        bits(&lm)
    };
    assert_eq!(run(5, usize::MAX), run(5, usize::MAX));
    assert_eq!(
        run(5, usize::MAX),
        run(5, 2),
        "running in chunks must not change the result"
    );
    assert_ne!(run(5, usize::MAX), run(6, usize::MAX));
}

#[test]
fn run_stats_count_tokens_and_epochs() {
    let data = corpus(400);
    let mut lm = model::<f32>(8, 0);
    let config = train_config(Sampling::Sequential, OptimizerConfig::sgd(0.5));
    let mut trainer = trainer(config, &data).unwrap();
    let first = trainer.run(&mut lm, 2).unwrap();
    assert_eq!(
        (first.batches, first.tokens, first.epoch_done),
        (2, 2 * 8 * 10, false)
    );
    assert_eq!(trainer.progress().0, 2);
    let rest = trainer.run(&mut lm, usize::MAX).unwrap();
    assert!(rest.epoch_done && trainer.epochs() == 1);
    assert_eq!(
        trainer.optimizer().steps(),
        (first.batches + rest.batches) as u64
    );
}

#[test]
fn greedy_generation_is_deterministic_and_sized() {
    let mut lm = model::<f32>(16, 2);
    let data = corpus(800);
    train(
        &mut lm,
        train_config(Sampling::Sequential, OptimizerConfig::adam(0.02)),
        &data,
        15,
    );
    let prefix = [0, 1, 2];
    let a = lm.generate(&prefix, 13, SamplingConfig::GREEDY, 0).unwrap();
    let b = lm
        .generate(&prefix, 13, SamplingConfig::GREEDY, 99)
        .unwrap();
    assert_eq!(a, b, "the seed must not matter when greedy");
    assert_eq!(a.len(), prefix.len() + 13);
    assert_eq!(a[..3], prefix);
    let expected: Vec<usize> = PATTERN.iter().copied().cycle().take(16).collect();
    assert_eq!(a, expected, "a trained model continues the pattern");
    assert_eq!(
        lm.generate(&prefix, 0, SamplingConfig::GREEDY, 0).unwrap(),
        prefix
    );
}

#[test]
fn sampling_is_reproducible_and_top_k_one_is_greedy() {
    let lm = model::<f32>(8, 4); // untrained: near-uniform, so samples vary
    let hot = SamplingConfig {
        temperature: 1.0,
        top_k: None,
        top_p: None,
    };
    let a = lm.generate(&[0], 60, hot, 11).unwrap();
    assert_eq!(a, lm.generate(&[0], 60, hot, 11).unwrap());
    assert_ne!(a, lm.generate(&[0], 60, hot, 12).unwrap());
    let top1 = SamplingConfig {
        temperature: 1.5,
        top_k: Some(1),
        top_p: None,
    };
    let greedy = lm.generate(&[0], 60, SamplingConfig::GREEDY, 0).unwrap();
    assert_eq!(lm.generate(&[0], 60, top1, 11).unwrap(), greedy);
    let top2 = SamplingConfig {
        temperature: 1.0,
        top_k: Some(2),
        top_p: None,
    };
    let b = lm.generate(&[0], 60, top2, 11).unwrap();
    assert!(b.iter().all(|&t| t < VOCAB));
}

#[test]
fn bad_sampling_settings_are_errors() {
    let lm = model::<f32>(4, 0);
    let bad = [
        SamplingConfig {
            temperature: -0.5,
            top_k: None,
            top_p: None,
        },
        SamplingConfig {
            temperature: f64::NAN,
            top_k: None,
            top_p: None,
        },
        SamplingConfig {
            temperature: 1.0,
            top_k: Some(0),
            top_p: None,
        },
    ];
    for cfg in bad {
        let err = lm.generate(&[0], 5, cfg, 0).unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { .. }),
            "{cfg:?}: {err}"
        );
        let mut s = Stream::new(&lm, 0);
        s.feed(&lm, &[0]).unwrap();
        assert!(matches!(
            s.next(&lm, cfg),
            Err(Error::InvalidArgument { .. })
        ));
    }
    let empty = lm.generate(&[], 5, SamplingConfig::GREEDY, 0);
    assert!(matches!(empty, Err(Error::InvalidArgument { .. })));
}

#[test]
fn stream_feed_next_and_reset() {
    let lm = model::<f64>(8, 5);
    let mut s = Stream::new(&lm, 0);
    assert!(
        s.next(&lm, SamplingConfig::GREEDY).is_err(),
        "nothing fed yet"
    );
    let first = s.feed(&lm, &[3]).unwrap().to_owned(); // (vocab,)
    let second = s.feed(&lm, &[3]).unwrap().to_owned();
    assert_ne!(
        first, second,
        "the state moved, so the same token gives other logits"
    );
    s.reset();
    assert!(s.state().iter().all(|&h| h == 0.0));
    assert_eq!(s.feed(&lm, &[3]).unwrap().to_owned(), first);
    // Greedy `next` continues exactly as `generate` does.
    let generated = lm.generate(&[3, 1], 10, SamplingConfig::GREEDY, 0).unwrap();
    s.reset();
    s.feed(&lm, &[3, 1]).unwrap();
    let streamed: Vec<usize> = (0..10)
        .map(|_| s.next(&lm, SamplingConfig::GREEDY).unwrap())
        .collect();
    assert_eq!(generated[2..], streamed);
    assert!(matches!(
        s.feed(&lm, &[]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        s.feed(&lm, &[VOCAB]),
        Err(Error::TokenOutOfRange {
            id: 6,
            vocab_size: 6,
            ..
        })
    ));
}

#[test]
fn perplexity_of_certain_and_uniform_models() {
    let mut bias = [0.0f64; VOCAB];
    bias[2] = 60.0;
    let certain = with_output_bias(model::<f64>(5, 6), &bias);
    let twos = vec![2; 200]; // (tokens,)
    assert_relative_eq!(
        certain.perplexity(&twos, 4, 7).unwrap(),
        1.0,
        epsilon = 1e-12
    );
    let others = [2, 3, 2, 3]; // targets 3 2 3: two misses of 60 nats each
    assert_relative_eq!(
        certain.perplexity(&others, 1, 4).unwrap(),
        40f64.exp(),
        max_relative = 1e-9
    );

    let uniform = with_output_bias(model::<f64>(5, 6), &[0.0; VOCAB]);
    let data = corpus(300);
    let ppl = uniform.perplexity(&data, 3, 11).unwrap();
    assert_relative_eq!(ppl, VOCAB as f64, max_relative = 1e-12);
    let uniform32 = with_output_bias(model::<f32>(5, 6), &[0.0; VOCAB]);
    assert_relative_eq!(
        uniform32.perplexity(&data, 3, 11).unwrap(),
        6.0,
        max_relative = 1e-6
    );
    assert!(
        uniform.perplexity(&[1], 1, 1).is_err(),
        "one token has nothing to predict"
    );
}

#[test]
fn checkpoint_round_trip_gives_identical_logits() {
    let mut lm = model::<f32>(8, 8);
    train(
        &mut lm,
        train_config(Sampling::Random, OptimizerConfig::adam(0.01)),
        &corpus(300),
        2,
    );
    let dir = std::env::temp_dir().join(format!("seqrnn-training-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("lm.safetensors");
    let meta = HashMap::from([("seqrnn.level".to_string(), "char".to_string())]);
    lm.save(&path, meta).unwrap();
    let (back, meta) = LanguageModel::<f32>::load(&path).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(meta.get("seqrnn.level").map(String::as_str), Some("char"));
    assert_eq!(back, lm);
    let x = Array2::from_shape_fn((5, 3), |(t, b)| (t * 3 + b) % VOCAB); // (steps, batch)
    let (z0, h0) = lm.logits(x.view(), None).unwrap(); // (5, 3, V), (1, 3, H)
    let (z1, h1) = back.logits(x.view(), None).unwrap();
    assert_eq!((z0, h0), (z1, h1));
    let (from_bytes, _) =
        LanguageModel::<f32>::from_bytes(&lm.to_bytes(HashMap::new()).unwrap()).unwrap();
    assert_eq!(from_bytes, lm);
}

#[test]
fn damaged_or_foreign_checkpoints_are_errors() {
    let lm = model::<f32>(4, 9);
    let bytes = lm.to_bytes(HashMap::new()).unwrap();
    let load = |b: &[u8]| LanguageModel::<f32>::from_bytes(b).map(|_| ());
    assert!(load(&bytes).is_ok());
    for cut in [0, 4, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(load(&bytes[..cut]), Err(Error::Checkpoint(_))),
            "cut at {cut}"
        );
    }
    let mut corrupt = bytes.clone();
    corrupt[8] = b'#'; // the header's opening brace
    assert!(matches!(load(&corrupt), Err(Error::Checkpoint(_))));
    let mut huge = bytes.clone();
    huge[..8].copy_from_slice(&u64::MAX.to_le_bytes()); // header length past the end
    assert!(matches!(load(&huge), Err(Error::Checkpoint(_))));

    let config = serde_json::to_string(lm.config()).unwrap();
    let foreign = |kind: Option<&str>, config: &str| {
        let mut meta = HashMap::from([(CONFIG.to_string(), config.to_string())]);
        if let Some(k) = kind {
            meta.insert(KIND.to_string(), k.to_string());
        }
        checkpoint::to_bytes(&lm.named(), meta).unwrap()
    };
    let err = load(&foreign(Some("Seq2Seq"), &config)).unwrap_err();
    assert!(
        matches!(&err, Error::Checkpoint(m) if m.contains("Seq2Seq")),
        "{err}"
    );
    assert!(matches!(
        load(&foreign(None, &config)),
        Err(Error::Checkpoint(_))
    ));
    let bigger = config.replace("\"vocab_size\":6", "\"vocab_size\":7");
    assert_ne!(bigger, config);
    assert!(matches!(
        load(&foreign(Some("LanguageModel"), &bigger)),
        Err(Error::Checkpoint(_))
    ));

    let lm64 = model::<f64>(4, 9);
    let err = load(&lm64.to_bytes(HashMap::new()).unwrap()).unwrap_err();
    assert!(matches!(err, Error::DtypeMismatch { .. }), "{err}");
}

#[test]
fn trainer_rejects_bad_input() {
    let mut lm = model::<f32>(4, 0);
    for sampling in [Sampling::Random, Sampling::Sequential, Sampling::Windows] {
        let config = train_config(sampling, OptimizerConfig::sgd(0.1));
        let mut t = trainer(config, &corpus(9)).unwrap();
        let short = t.run(&mut lm, usize::MAX);
        assert!(
            matches!(short, Err(Error::InvalidArgument { .. })),
            "{sampling:?}"
        );
    }
    for lr in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
        for opt in [
            OptimizerConfig::sgd(lr),
            OptimizerConfig::adam(lr),
            OptimizerConfig::adagrad(lr),
        ] {
            let t = trainer::<f32>(train_config(Sampling::Random, opt), &corpus(100));
            assert!(matches!(t, Err(Error::InvalidArgument { .. })), "lr {lr}");
        }
        assert!(OptimizerConfig::by_name("adam", lr).is_err());
    }
    let mut zero = train_config(Sampling::Random, OptimizerConfig::sgd(0.1));
    zero.1.batch_size = 0;
    assert!(trainer::<f32>(zero, &corpus(100)).is_err());
    let mut no_clip = train_config(Sampling::Random, OptimizerConfig::sgd(0.1));
    no_clip.1.clip = Some(f64::NAN);
    assert!(trainer::<f32>(no_clip, &corpus(100)).is_err());
}

#[test]
fn non_finite_loss_stops_training_before_the_update() {
    let mut lm = model::<f32>(4, 1);
    let mut dict = lm.state_dict();
    for (name, a) in &mut dict {
        if name == "rnn.weight_hh_l0" {
            a.fill(f32::NAN);
        }
    }
    lm.load_state_dict(&views(&dict)).unwrap();
    let before = bits(&lm);
    let config = train_config(Sampling::Sequential, OptimizerConfig::adam(0.01));
    let mut trainer = trainer(config, &corpus(400)).unwrap();
    let err = trainer.run(&mut lm, usize::MAX).unwrap_err();
    assert!(matches!(&err, Error::NonFinite { step: 1, .. }), "{err}");
    assert_eq!(bits(&lm), before, "the parameters must not change");
    assert_eq!(trainer.optimizer().steps(), 0);
}
