//! Arguments of the higher-level API come back as the right `Error` variant naming them, never
//! a panic: sampling and streams, decoding and beam search, optimizers, clipping and training,
//! and sizes memory cannot hold. (Array shapes, ids and state dicts: `errors.rs`.)
//!
//! Shapes (time-major): ids `(steps, batch)`, states `(num_layers, batch, hidden)`.

use ndarray::{Array2, Array3};
use seqrnn::{alloc, Error, Init, LanguageModel, LmConfig, Optimizer, Result};

/// Vocab 4, hidden 3, 2 layers, one-hot input.
fn lm() -> LanguageModel<f64> {
    let config = LmConfig {
        num_layers: 2,
        ..LmConfig::new(4, 3)
    };
    LanguageModel::new(config, Init::Uniform, 0).unwrap()
}

fn lm_config(vocab: usize, hidden: usize, layers: usize) -> LmConfig {
    LmConfig {
        num_layers: layers,
        ..LmConfig::new(vocab, hidden)
    }
}

fn ids(steps: usize, batch: usize, id: usize) -> Array2<usize> {
    Array2::from_elem((steps, batch), id)
}

fn is_shape<T>(r: Result<T>) -> bool {
    matches!(r, Err(Error::ShapeMismatch { .. }))
}

fn is_invalid<T>(r: Result<T>) -> bool {
    matches!(r, Err(Error::InvalidArgument { .. }))
}

/// `TokenOutOfRange` naming `what`, the id and the vocabulary size.
fn is_token<T>(r: Result<T>, what: &str, id: i64, vocab: usize) -> bool {
    matches!(r, Err(Error::TokenOutOfRange { what: w, id: i, vocab_size: v })
        if w == what && i == id && v == vocab)
}

/// `InvalidArgument` naming `what`.
fn names<T>(r: Result<T>, what: &str) -> bool {
    matches!(r, Err(Error::InvalidArgument { what: w, .. }) if w == what)
}

#[test]
fn sampling_arguments() {
    use seqrnn::{SamplingConfig, Stream};
    let lm = lm();
    let sampling = |temperature, top_k| SamplingConfig {
        temperature,
        top_k,
        top_p: None,
    };
    for t in [-0.5, f64::NAN, f64::INFINITY] {
        assert!(names(
            lm.generate(&[1], 3, sampling(t, None), 0),
            "temperature"
        ));
    }
    assert!(names(
        lm.generate(&[1], 3, sampling(1.0, Some(0)), 0),
        "top_k"
    ));
    assert!(names(
        lm.generate(&[], 3, SamplingConfig::GREEDY, 0),
        "prefix"
    ));
    assert!(is_token(
        lm.generate(&[4], 3, SamplingConfig::GREEDY, 0),
        "prefix",
        4,
        4
    ));
    let r = lm.generate(&[1], usize::MAX, SamplingConfig::GREEDY, 0);
    assert!(matches!(r, Err(Error::OutOfMemory { .. })));
    assert_eq!(
        lm.generate(&[1], 2, sampling(1.0, Some(99)), 0)
            .unwrap()
            .len(),
        3
    );

    let mut stream = Stream::new(&lm, 0);
    assert!(names(stream.next(&lm, SamplingConfig::GREEDY), "stream"));
    assert!(names(stream.feed(&lm, &[]), "tokens"));
    assert!(is_token(stream.feed(&lm, &[9]), "tokens", 9, 4));
    assert!(is_shape(stream.set_state(Array3::zeros((2, 2, 3)))));
    stream.feed(&lm, &[1, 2]).unwrap();
    assert!(names(stream.next(&lm, sampling(-1.0, None)), "temperature"));
    assert!(stream.next(&lm, SamplingConfig::GREEDY).is_ok());

    assert!(names(lm.perplexity(&[1], 2, 3), "corpus length"));
    assert!(names(lm.perplexity(&[1, 2, 3], 0, 3), "batch_size"));
    assert!(is_token(lm.perplexity(&[1, 7, 3], 1, 3), "corpus", 7, 4));
}

#[test]
fn decoding_arguments() {
    use seqrnn::{Context, DecodeConfig, Seq2Seq, Seq2SeqConfig};
    let config = Seq2SeqConfig {
        src_vocab_size: 5,
        tgt_vocab_size: 6,
        embed_size: 2,
        hidden_size: 3,
        num_layers: 1,
        context: Context::Concat,
        dropout: 0.0,
        attention: seqrnn::Attention::None,
    };
    let m = Seq2Seq::<f64>::new(config, Init::Uniform, 0).unwrap();
    let src = ids(4, 2, 1); // (steps 4, batch 2)
    let good = DecodeConfig {
        bos: 1,
        eos: 2,
        max_len: 5,
        beam_size: 2,
        alpha: 0.75,
    };
    assert_eq!(m.beam_search(src.view(), &[4, 2], good).unwrap().len(), 2);
    let cases = [
        (
            DecodeConfig {
                beam_size: 0,
                ..good
            },
            "beam_size",
        ),
        (DecodeConfig { max_len: 0, ..good }, "max_len"),
        (
            DecodeConfig {
                alpha: f64::NAN,
                ..good
            },
            "alpha",
        ),
        (
            DecodeConfig {
                alpha: -1.0,
                ..good
            },
            "alpha",
        ),
    ];
    for (cfg, what) in cases {
        assert!(
            names(m.beam_search(src.view(), &[4, 2], cfg), what),
            "{what}"
        );
    }
    let far = DecodeConfig { eos: 6, ..good };
    assert!(is_token(
        m.beam_search(src.view(), &[4, 2], far),
        "bos/eos",
        6,
        6
    ));
    for lens in [[0, 2], [5, 2]] {
        assert!(names(
            m.beam_search(src.view(), &lens, good),
            "src_valid_len"
        ));
    }
    assert!(is_shape(m.beam_search(src.view(), &[4], good)));
    assert!(is_token(
        m.beam_search(ids(4, 2, 5).view(), &[4, 4], good),
        "src",
        5,
        5
    ));
    // 10^15 steps of 2 sentences x 8 beams: refused before decoding starts.
    let long = DecodeConfig {
        max_len: 1_000_000_000_000_000,
        beam_size: 8,
        ..good
    };
    let r = m.beam_search(src.view(), &[4, 2], long);
    assert!(matches!(r, Err(Error::OutOfMemory { ref what, .. }) if what == "decoded tokens"));
}

#[test]
fn optimizer_and_training_arguments() {
    use seqrnn::{LmTask, OptimizerConfig, Sampling, Schedule, TrainConfig, Trainer};
    for lr in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(names(Optimizer::<f64>::new(OptimizerConfig::sgd(lr)), "lr"));
    }
    let sgd = |momentum, weight_decay| OptimizerConfig::Sgd {
        lr: 0.1,
        momentum,
        weight_decay,
    };
    assert!(names(Optimizer::<f64>::new(sgd(f64::NAN, 0.0)), "momentum"));
    assert!(names(Optimizer::<f64>::new(sgd(0.0, -1.0)), "weight_decay"));
    assert!(names(OptimizerConfig::by_name("rmsprop", 0.1), "optimizer"));
    let mut opt = Optimizer::<f64>::new(OptimizerConfig::adam(0.1)).unwrap();
    assert!(names(opt.set_lr(f64::NAN), "lr"));

    let mut grads = lm();
    for clip in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(names(seqrnn::clip_grad_norm(&mut grads, clip), "clip"));
        assert!(names(
            seqrnn::clip_grad_value(&mut grads, clip),
            "clip_value"
        ));
    }

    let config = TrainConfig::new(2, OptimizerConfig::sgd(0.1));
    let bad = [
        (
            TrainConfig {
                batch_size: 0,
                ..config.clone()
            },
            "batch_size",
        ),
        (
            TrainConfig {
                clip: Some(f64::NAN),
                ..config.clone()
            },
            "clip",
        ),
        (
            TrainConfig {
                optimizer: OptimizerConfig::sgd(f64::NAN),
                ..config.clone()
            },
            "lr",
        ),
        (
            TrainConfig {
                clip_value: Some(-1.0),
                ..config.clone()
            },
            "clip_value",
        ),
        (
            TrainConfig {
                early_stopping: Some(0),
                ..config.clone()
            },
            "early_stopping",
        ),
        (
            TrainConfig {
                schedule: Schedule::Step {
                    step_size: 0,
                    gamma: 0.5,
                },
                ..config.clone()
            },
            "step_size",
        ),
    ];
    let task = || LmTask::new(vec![0; 100], 3, Sampling::Sequential).unwrap();
    for (c, what) in bad {
        let t: seqrnn::Result<seqrnn::LmTrainer<f64>> = Trainer::new(task(), c);
        assert!(names(t, what), "{what}");
    }
    assert!(names(
        LmTask::new(vec![0; 100], 0, Sampling::Random),
        "num_steps"
    ));
    let no_pairs = seqrnn::PairSet {
        src: ndarray::Array2::zeros((0, 3)),
        src_len: vec![],
        tgt_in: ndarray::Array2::zeros((0, 3)),
        tgt_out: ndarray::Array2::zeros((0, 3)),
        tgt_len: vec![],
    };
    assert!(names(
        seqrnn::PairTask::new(no_pairs),
        "number of sentence pairs"
    ));
    for bad in [
        r#"{"name": "cosine", "epochs": 0, "warmup": 0, "min_lr": 0}"#,
        r#"{"name": "plateau", "factor": 0, "patience": 1, "cooldown": 0, "min_lr": 0, "threshold": 0, "restore_best": false}"#,
    ] {
        assert!(is_invalid(Schedule::from_json(bad)), "{bad}");
    }
    assert!(is_invalid(Sampling::parse("shuffle")));
    let mut rng = seqrnn::init::rng(0);
    let r = seqrnn::data::epoch_batches(5, 2, 3, Sampling::Random, &mut rng);
    assert!(names(r, "corpus length"));
}

#[test]
fn models_too_large_for_memory_are_out_of_memory() {
    // A billion small layers: each would be granted, all of them cannot be.
    let r = LanguageModel::<f32>::new(lm_config(5, 4, 1_000_000_000_000), Init::Uniform, 0);
    assert!(
        matches!(r, Err(Error::OutOfMemory { ref what, .. }) if what.contains("num_layers 1000000000000"))
    );
    let r = LanguageModel::<f32>::new(lm_config(5, 100, 10_000_000_000), Init::Uniform, 0);
    assert!(matches!(r, Err(Error::OutOfMemory { .. })));
    assert!(matches!(
        alloc::reserve("x", u128::MAX),
        Err(Error::OutOfMemory { .. })
    ));
    assert!(alloc::reserve("x", 1 << 20).is_ok());
}

#[test]
fn dtype_names_follow_numpy() {
    use seqrnn::Dtype;
    for (name, dtype) in [
        ("float32", Dtype::F32),
        ("f32", Dtype::F32),
        ("single", Dtype::F32),
        ("float64", Dtype::F64),
        ("f64", Dtype::F64),
        ("double", Dtype::F64),
        ("float", Dtype::F64), // np.dtype("float") is float64
    ] {
        assert_eq!(Dtype::parse(name).unwrap(), dtype, "{name}");
    }
    assert!(Dtype::parse("float16").is_err());
}
