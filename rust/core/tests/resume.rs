//! Resumable training: a run stopped at any minibatch, checkpointed and resumed in a fresh
//! trainer and model ends with the same parameters, bit for bit, as one never stopped; a
//! checkpoint refuses to continue a run with other settings or data.
//!
//! Shapes: corpora `(tokens,)`; pair sets `(pairs, steps)` batch-major.

use ndarray::Array2;
use seqrnn::{Context, Error, Init, LanguageModel, LmConfig, OptimizerConfig, Parameters};
use seqrnn::{LmTask, LmTrainer, PairSet, PairTask, Sampling, Schedule, Seq2Seq, Seq2SeqConfig};
use seqrnn::{Seq2SeqTrainer, TrainConfig, Trainer};
use std::collections::HashMap;

const PATTERN: [usize; 8] = [0, 1, 2, 3, 1, 4, 2, 5];

fn corpus(len: usize) -> Vec<usize> {
    PATTERN.iter().copied().cycle().take(len).collect() // (len,)
}

fn lm(seed: u64) -> LanguageModel<f32> {
    let mut config = LmConfig::new(6, 8);
    (config.num_layers, config.embed_size, config.dropout) = (2, Some(4), 0.3);
    LanguageModel::new(config, Init::Uniform, seed).unwrap()
}

fn lm_config() -> TrainConfig {
    TrainConfig {
        seed: 11,
        ..TrainConfig::new(4, OptimizerConfig::adam(0.01))
    }
}

fn lm_trainer(data: &[usize], sampling: Sampling, config: TrainConfig) -> LmTrainer<f32> {
    Trainer::new(LmTask::new(data.to_vec(), 5, sampling).unwrap(), config).unwrap()
}

fn bits<P: Parameters<f32>>(p: &P) -> Vec<(String, Vec<u32>)> {
    p.named()
        .into_iter()
        .map(|(n, a)| (n, a.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// Runs single minibatches until `steps` optimizer steps are done, ending each epoch with a
/// validation perplexity (of the model on the first 60 training tokens) so that plateau
/// schedules and kept parameters come into play.
fn lm_steps(t: &mut LmTrainer<f32>, m: &mut LanguageModel<f32>, steps: u64) {
    while t.steps() < steps {
        if t.run(m, 1).unwrap().epoch_done {
            let valid = m.perplexity(&t.task().corpus()[..60], 2, 5).unwrap();
            t.end_epoch(m, Some(valid)).unwrap();
        }
    }
}

#[test]
fn language_model_resumed_anywhere_matches_uninterrupted() {
    let data = corpus(203);
    let plateau = Schedule::Plateau {
        factor: 0.5,
        patience: 0,
        cooldown: 0,
        min_lr: 0.0,
        threshold: 0.0,
        restore_best: true,
    };
    let cosine = Schedule::Cosine {
        epochs: 3,
        warmup: 1,
        min_lr: 0.001,
    };
    let settings = [
        (Sampling::Sequential, Schedule::Constant),
        (Sampling::Random, plateau),
        (Sampling::Sequential, cosine),
    ];
    for (sampling, schedule) in settings {
        let config = TrainConfig {
            schedule: schedule.clone(),
            keep_best: true,
            ..lm_config()
        };
        let mut full = lm(1);
        let mut t = lm_trainer(&data, sampling, config.clone());
        lm_steps(&mut t, &mut full, 40);
        let per_epoch = t.progress().1 as u64;
        assert!(
            per_epoch > 3 && 40 > 3 * per_epoch,
            "{per_epoch} minibatches an epoch"
        );
        for stop in [3, per_epoch, per_epoch + 2, 2 * per_epoch - 1] {
            let mut first = lm(1);
            let mut t1 = lm_trainer(&data, sampling, config.clone());
            lm_steps(&mut t1, &mut first, stop);
            let meta = HashMap::from([("note".to_string(), "kept".to_string())]);
            let bytes = t1.checkpoint(&first, meta).unwrap();

            let mut resumed = lm(99); // other weights: all must come from the file
            let mut t2 = lm_trainer(&data, sampling, config.clone());
            let meta = t2.resume(&mut resumed, &bytes, true).unwrap();
            assert_eq!(meta.get("note").map(String::as_str), Some("kept"));
            assert_eq!(bits(&resumed), bits(&first));
            assert_eq!((t2.epochs(), t2.steps()), (t1.epochs(), stop));
            assert_eq!(t2.record(), t1.record());
            assert_eq!(t2.lr(), t1.lr());
            lm_steps(&mut t2, &mut resumed, 40);
            let what = format!("{sampling:?} {schedule:?} stopped at {stop}");
            assert_eq!(bits(&resumed), bits(&full), "{what}");
            assert_eq!(t2.epochs(), t.epochs());
            let (h2, h) = (&t2.record().history, &t.record().history); // times differ
            let metrics = |h: &seqrnn::resume::FitHistory| {
                let m = [&h.train_perplexity, &h.valid_perplexity, &h.lr];
                (
                    m.map(|v| v.iter().map(|x| x.0.to_bits()).collect::<Vec<_>>()),
                    h.best_epoch,
                )
            };
            assert_eq!(metrics(h2), metrics(h), "{what}");
            assert_eq!(t2.best().map(bits), t.best().map(bits), "{what}");
        }
    }
}

#[test]
fn resume_refuses_other_settings_data_or_files() {
    let data = corpus(100);
    let mut m = lm(1);
    let mut t = lm_trainer(&data, Sampling::Sequential, lm_config());
    t.run(&mut m, 2).unwrap();
    let bytes = t.checkpoint(&m, HashMap::new()).unwrap();
    let try_resume = |sampling, config: TrainConfig, data: &[usize], seed_given: bool| {
        let mut fresh = lm(5);
        let before = bits(&fresh);
        let r = lm_trainer(data, sampling, config).resume(&mut fresh, &bytes, seed_given);
        if r.is_err() {
            assert_eq!(bits(&fresh), before, "the model changed on error");
        }
        r.map(|_| ())
    };
    let seq = Sampling::Sequential;
    let mut other = lm_config();
    other.batch_size = 5;
    let err = try_resume(seq, other, &data, true).unwrap_err();
    assert!(
        err.to_string()
            .contains("batch_size is 4 in the checkpoint but 5"),
        "{err}"
    );
    let mut other = lm_config();
    other.seed = 12;
    let err = try_resume(seq, other.clone(), &data, true).unwrap_err();
    assert!(err.to_string().contains("seed is 11"), "{err}");
    try_resume(seq, other, &data, false).unwrap(); // the checkpoint's seed is taken
    let mut other = lm_config();
    other.optimizer = OptimizerConfig::adam(0.5); // the checkpoint's learning rate is taken
    try_resume(seq, other, &data, true).unwrap();
    let err = try_resume(Sampling::Random, lm_config(), &data, true).unwrap_err();
    assert!(
        err.to_string().contains("the task is LanguageModel"),
        "{err}"
    );
    let mut other = lm_config();
    other.schedule = Schedule::Step {
        step_size: 1,
        gamma: 0.5,
    };
    let err = try_resume(seq, other, &data, true).unwrap_err();
    assert!(
        err.to_string().contains("the schedule is Constant"),
        "{err}"
    );
    let mut other = lm_config();
    other.clip_value = Some(0.5);
    let err = try_resume(seq, other, &data, true).unwrap_err();
    assert!(err.to_string().contains("clip_value is None"), "{err}");
    let mut shifted = data.clone();
    shifted[0] = 1;
    let err = try_resume(seq, lm_config(), &shifted, true).unwrap_err();
    assert!(err.to_string().contains("other training data"), "{err}");
    let plain = m.to_bytes(HashMap::new()).unwrap();
    let r = lm_trainer(&data, seq, lm_config()).resume(&mut lm(5), &plain, true);
    assert!(matches!(&r, Err(Error::Checkpoint(msg)) if msg.contains("not a training checkpoint")));
    let mut wider = LanguageModel::<f32>::new(LmConfig::new(6, 9), Init::Uniform, 0).unwrap();
    let err = lm_trainer(&data, seq, lm_config())
        .resume(&mut wider, &bytes, true)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::ShapeMismatch { .. } | Error::UnknownParameter { .. }
    ));
    let task = LmTask::new(data.clone(), 5, seq).unwrap();
    let mut t64: LmTrainer<f64> = Trainer::new(task, lm_config()).unwrap();
    let mut m64 = LanguageModel::new(LmConfig::new(6, 8), Init::Uniform, 0).unwrap();
    let r = t64.resume(&mut m64, &bytes, true);
    assert!(matches!(&r, Err(Error::Checkpoint(m)) if m.contains("this run trains float64")));
}

#[test]
fn early_stopping_and_kept_parameters() {
    let data = corpus(100);
    let mut m = lm(1);
    let config = TrainConfig {
        keep_best: true,
        early_stopping: Some(2),
        ..lm_config()
    };
    let mut t = lm_trainer(&data, Sampling::Sequential, config);
    let err = t.end_epoch(&mut m, Some(1.0)).unwrap_err();
    assert!(
        err.to_string()
            .contains("after run() has finished an epoch"),
        "{err}"
    );
    let mut ends = Vec::new();
    for valid in [5.0, 4.0, 4.5, 4.2, 3.0] {
        while !t.run(&mut m, usize::MAX).unwrap().epoch_done {}
        let end = t.end_epoch(&mut m, Some(valid)).unwrap();
        if end.improved {
            assert_eq!(t.best().map(bits), Some(bits(&m)));
        }
        ends.push((end.improved, end.stop));
    }
    let expected = [
        (true, false),
        (true, false),
        (false, false),
        (false, true),
        (true, false),
    ];
    assert_eq!(ends, expected);
    let h = &t.record().history;
    assert_eq!(
        (h.best_epoch, h.valid_perplexity.len(), h.lr.len()),
        (Some(4), 5, 5)
    );
    while !t.run(&mut m, usize::MAX).unwrap().epoch_done {}
    let err = t.end_epoch(&mut m, None).unwrap_err(); // validated before: must go on
    assert!(
        err.to_string().contains("for every epoch or for none"),
        "{err}"
    );
}

#[test]
fn optimizer_state_continues_across_trainers() {
    let data = corpus(100);
    let mut m = lm(1);
    let mut first = lm_trainer(&data, Sampling::Sequential, lm_config());
    first.run(&mut m, 3).unwrap();
    let mut config = lm_config();
    config.optimizer = OptimizerConfig::adam(0.003);
    let mut second = lm_trainer(&data, Sampling::Sequential, config);
    second.continue_optimizer(first.optimizer()).unwrap();
    // Adam's moments and step count go on, under the second trainer's learning rate.
    assert_eq!(second.optimizer().steps(), 3);
    let state = |t: &LmTrainer<f32>| -> Vec<(String, Vec<u32>)> {
        let s = t.optimizer().state();
        s.into_iter()
            .map(|(n, a)| (n, a.iter().map(|x| x.to_bits()).collect()))
            .collect()
    };
    assert_eq!(state(&second), state(&first));
    assert_eq!(second.optimizer().config().lr(), 0.003);
    assert_eq!(second.steps(), 0);
    second.run(&mut m, 1).unwrap();
    assert_eq!(second.optimizer().steps(), 4);
    let mut sgd_config = lm_config();
    sgd_config.optimizer = OptimizerConfig::sgd(0.1);
    let mut sgd = lm_trainer(&data, Sampling::Sequential, sgd_config);
    sgd.continue_optimizer(first.optimizer()).unwrap();
    assert_eq!(
        sgd.optimizer().steps(),
        0,
        "another optimizer starts afresh"
    );
}

fn pairs(n: usize) -> PairSet {
    let src = Array2::from_shape_fn((n, 5), |(i, j)| (i * 3 + j * 7) % 9 + 1); // (n, 5)
    let tgt_in = Array2::from_shape_fn((n, 4), |(i, j)| (i * 5 + j * 2) % 7 + 1); // (n, 4)
    let tgt_out = Array2::from_shape_fn((n, 4), |(i, j)| (i + j * 3) % 7 + 1); // (n, 4)
    PairSet {
        src,
        src_len: (0..n).map(|i| 2 + i % 4).collect(),
        tgt_in,
        tgt_out,
        tgt_len: (0..n).map(|i| 1 + i % 4).collect(),
    }
}

fn seq2seq(seed: u64) -> Seq2Seq<f32> {
    let config = Seq2SeqConfig {
        src_vocab_size: 10,
        tgt_vocab_size: 8,
        embed_size: 4,
        hidden_size: 6,
        num_layers: 2,
        context: Context::Concat,
        dropout: 0.2,
        attention: seqrnn::Attention::None,
    };
    Seq2Seq::new(config, Init::Orthogonal, seed).unwrap()
}

#[test]
fn seq2seq_resumed_anywhere_matches_uninterrupted() {
    let data = pairs(23);
    let trainer = |batch_size| -> Seq2SeqTrainer<f32> {
        let config = TrainConfig {
            seed: 3,
            ..TrainConfig::new(batch_size, OptimizerConfig::adam(0.01))
        };
        Trainer::new(PairTask::new(data.clone()).unwrap(), config).unwrap()
    };
    let steps = |t: &mut Seq2SeqTrainer<f32>, m: &mut Seq2Seq<f32>, n: u64| {
        while t.steps() < n {
            t.run(m, 1).unwrap();
        }
    };
    let mut full = seq2seq(1);
    let mut t = trainer(5);
    steps(&mut t, &mut full, 17); // 5 minibatches an epoch
    for stop in [2, 5, 7, 14] {
        let (mut first, mut t1) = (seq2seq(1), trainer(5));
        steps(&mut t1, &mut first, stop);
        let bytes = t1.checkpoint(&first, HashMap::new()).unwrap();
        let (mut resumed, mut t2) = (seq2seq(8), trainer(5));
        t2.resume(&mut resumed, &bytes, true).unwrap();
        steps(&mut t2, &mut resumed, 17);
        assert_eq!(bits(&resumed), bits(&full), "stopped at {stop}");
    }
    let bytes = t.checkpoint(&full, HashMap::new()).unwrap();
    let err = trainer(6).resume(&mut seq2seq(1), &bytes, true);
    assert!(err.unwrap_err().to_string().contains("batch_size"));
    let lm_bytes = {
        let mut m = lm(1);
        let mut t = lm_trainer(&corpus(50), Sampling::Random, lm_config());
        t.run(&mut m, 1).unwrap();
        t.checkpoint(&m, HashMap::new()).unwrap()
    };
    let err = trainer(5).resume(&mut seq2seq(1), &lm_bytes, true);
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("trains a LanguageModel, not a Seq2Seq"));
}

#[test]
fn bucketed_seq2seq_resumed_anywhere_matches_uninterrupted() {
    let data = pairs(23);
    let trainer = |pool: Option<usize>| -> Seq2SeqTrainer<f32> {
        let config = TrainConfig {
            seed: 3,
            ..TrainConfig::new(3, OptimizerConfig::adam(0.01))
        };
        let task = PairTask::new(data.clone()).unwrap();
        Trainer::new(task.with_bucketing(pool).unwrap(), config).unwrap()
    };
    let steps = |t: &mut Seq2SeqTrainer<f32>, m: &mut Seq2Seq<f32>, n: u64| {
        while t.steps() < n {
            t.run(m, 1).unwrap();
        }
    };
    let mut full = seq2seq(1);
    let mut t = trainer(Some(2));
    steps(&mut t, &mut full, 20); // 8 minibatches an epoch, pools of 2
    let mut plain = seq2seq(1);
    steps(&mut trainer(None), &mut plain, 20);
    assert_ne!(bits(&plain), bits(&full)); // other minibatches
    for stop in [3, 8, 11, 19] {
        let (mut first, mut t1) = (seq2seq(1), trainer(Some(2)));
        steps(&mut t1, &mut first, stop);
        let bytes = t1.checkpoint(&first, HashMap::new()).unwrap();
        let (mut resumed, mut t2) = (seq2seq(8), trainer(Some(2)));
        t2.resume(&mut resumed, &bytes, true).unwrap();
        steps(&mut t2, &mut resumed, 20);
        assert_eq!(bits(&resumed), bits(&full), "stopped at {stop}");
    }
    let bytes = t.checkpoint(&full, HashMap::new()).unwrap();
    for other in [None, Some(3)] {
        let err = trainer(other).resume(&mut seq2seq(1), &bytes, true);
        let msg = err.unwrap_err().to_string();
        assert!(
            msg.contains("the task is BucketedTranslation { pool_batches: 2 } in the checkpoint"),
            "{msg}"
        );
    }
}

/// `bytes` rewritten with `edit` applied to its metadata and tensors.
fn rewrite(
    bytes: &[u8],
    edit: impl FnOnce(&mut HashMap<String, String>, &mut Vec<(String, ndarray::ArrayD<f32>)>),
) -> Vec<u8> {
    let mut meta = seqrnn::checkpoint::metadata(bytes).unwrap();
    let mut tensors = seqrnn::checkpoint::tensors::<f32>(bytes).unwrap();
    edit(&mut meta, &mut tensors);
    meta.remove(seqrnn::checkpoint::DTYPE);
    let views: Vec<_> = tensors.iter().map(|(n, a)| (n.clone(), a.view())).collect();
    seqrnn::checkpoint::to_bytes(&views, meta).unwrap()
}

/// Resumes `bytes` into a fresh run; on error the fresh model must be unchanged.
fn resume_fresh(bytes: &[u8], data: &[usize]) -> seqrnn::Result<LmTrainer<f32>> {
    let mut fresh = lm(5);
    let before = bits(&fresh);
    let mut t = lm_trainer(data, Sampling::Sequential, lm_config());
    let r = t.resume(&mut fresh, bytes, false);
    if r.is_err() {
        assert_eq!(bits(&fresh), before, "the model changed on error");
    }
    r.map(|_| t)
}

#[test]
fn resume_checks_counts_best_tensors_and_the_fit_record() {
    use seqrnn::resume::{FIT_RECORD, MAX_COUNT, PROGRESS};
    let data = corpus(100);
    let mut m = lm(1);
    let config = TrainConfig {
        keep_best: true,
        ..lm_config()
    };
    let mut t = lm_trainer(&data, Sampling::Sequential, config);
    while !t.run(&mut m, 30).unwrap().epoch_done {}
    t.end_epoch(&mut m, Some(3.5)).unwrap();
    t.run(&mut m, 2).unwrap(); // inside the second epoch
    let bytes = t.checkpoint(&m, HashMap::new()).unwrap();
    let r = resume_fresh(&bytes, &data).unwrap();
    assert_eq!(r.record(), t.record());
    assert_eq!(r.record().history.valid_perplexity[0].0, 3.5);
    assert_eq!(r.record().partial.0, 2 * 4 * 5);

    // Step and epoch counts beyond 2^53 (2^64 - 1 would wrap at the next step).
    for (key, value) in [("steps", u64::MAX), ("epochs", MAX_COUNT + 1)] {
        let forged = rewrite(&bytes, |meta, _| {
            let p = meta.get_mut(PROGRESS).unwrap();
            let mut v: serde_json::Value = serde_json::from_str(p).unwrap();
            v[key] = value.into();
            *p = v.to_string();
        });
        let err = resume_fresh(&forged, &data).err().unwrap().to_string();
        assert!(
            err.contains(&format!("{key} must be at most 2**53")),
            "{err}"
        );
    }
    // A format this version does not know, a schedule out of range, a bad plateau state.
    let edits: [(&str, serde_json::Value, &str); 3] = [
        ("format", 3.into(), "format 3 is not one this version reads"),
        (
            "schedule",
            serde_json::json!({"name": "step", "step_size": 0, "gamma": 0.5}),
            "step_size",
        ),
        (
            "plateau",
            serde_json::json!({"best": null, "bad_epochs": 0, "cooldown_left": 0, "lr": -1.0}),
            "bad plateau state",
        ),
    ];
    for (key, value, expected) in edits {
        let forged = rewrite(&bytes, |meta, _| {
            let p = meta.get_mut(PROGRESS).unwrap();
            let mut v: serde_json::Value = serde_json::from_str(p).unwrap();
            v[key] = value;
            *p = v.to_string();
        });
        let err = resume_fresh(&forged, &data).err().unwrap().to_string();
        assert!(err.contains(expected), "{key}: {err}");
    }
    // Best tensors of the wrong shape, unknown or incomplete: refused at once.
    let forged = rewrite(&bytes, |_, tensors| {
        let (_, a) = tensors
            .iter_mut()
            .find(|(n, _)| n == "best.output.bias")
            .unwrap();
        *a = ndarray::ArrayD::zeros(ndarray::IxDyn(&[2]));
    });
    let err = resume_fresh(&forged, &data).err().unwrap().to_string();
    assert!(err.contains("expected shape [6], got [2]"), "{err}");
    let forged = rewrite(&bytes, |_, tensors| {
        tensors.retain(|(n, _)| n != "best.output.bias");
    });
    let err = resume_fresh(&forged, &data).err().unwrap().to_string();
    assert!(err.contains("best parameters hold"), "{err}");
    let forged = rewrite(&bytes, |_, tensors| {
        let a = tensors[0].1.clone();
        tensors.push(("best.rnn.weight_hh_l9".into(), a));
    });
    let err = resume_fresh(&forged, &data).err().unwrap().to_string();
    assert!(err.contains("names no parameter"), "{err}");
    let forged = rewrite(&bytes, |_, tensors| {
        let a = tensors[0].1.clone();
        tensors.push(("extra.note".into(), a));
    });
    let err = resume_fresh(&forged, &data).err().unwrap().to_string();
    assert!(err.contains("not part of a training checkpoint"), "{err}");
    // Fit records that break the schema.
    let cases = [
        ("[]", "bad fit record"),
        ("{\"history\":{},\"partial\":[0,0,0]}", "missing field"),
        (&"[".repeat(100_000), "recursion limit"),
        ("{\"history\":1,\"partial\":[0,0,0]}", "bad fit record"),
        ("{\"partial\":[0,0,0],\"partial\":[0,0,0]}", "duplicate field"),
        ("{\"history\":{\"train_perplexity\":[],\"valid_perplexity\":[],\"tokens_per_second\":[],\"seconds\":[],\"best_epoch\":null,\"best_valid_perplexity\":null},\"partial\":[0,0,0]}", "train_perplexity has 0 entries for 1"),
        ("{\"history\":{\"train_perplexity\":[\"big\"]},\"partial\":[0,0,0]}", "\"big\""),
    ];
    for (json, expected) in cases {
        let forged = rewrite(&bytes, |meta, _| {
            meta.insert(FIT_RECORD.into(), json.to_string());
        });
        let err = resume_fresh(&forged, &data).err().unwrap().to_string();
        assert!(err.contains(expected), "{json:.60}: {err}");
    }
    let mut wrong = t.record().clone();
    wrong.history.best_epoch = Some(1);
    let forged = rewrite(&bytes, |meta, _| {
        meta.insert(FIT_RECORD.into(), wrong.to_json().unwrap());
    });
    let err = resume_fresh(&forged, &data).err().unwrap().to_string();
    assert!(err.contains("best epoch Some(1)"), "{err}");
}

/// A checkpoint written by an earlier seqrnn (`tests/fixtures/*_format1.safetensors`).
fn format1(name: &str) -> Vec<u8> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    std::fs::read(dir.join(format!("{name}_checkpoint_format1.safetensors"))).unwrap()
}

#[test]
fn first_format_checkpoints_are_read() {
    // A language model stopped at step 26 inside its first epoch (39 minibatches of 2 x 5 over
    // 400 tokens), with the best parameters kept; Python's test_checkpointing.py checks that
    // the resumed run ends with the parameters the earlier version reached.
    let ids: Vec<usize> = (0..400).map(|i| (i * 7 % 11) % 6).collect();
    let bytes = format1("lm");
    let mut m = LanguageModel::<f32>::new(LmConfig::new(6, 5), Init::Uniform, 0).unwrap();
    let config = TrainConfig {
        seed: 3,
        ..TrainConfig::new(2, OptimizerConfig::adam(0.01))
    };
    let task = LmTask::new(ids, 5, Sampling::Sequential).unwrap();
    let mut t = Trainer::new(task, config).unwrap();
    t.resume(&mut m, &bytes, true).unwrap();
    assert_eq!((t.epochs(), t.steps(), t.progress()), (0, 26, (26, 39)));
    assert_eq!(t.optimizer().steps(), 26);
    assert!(t.best().is_none()); // no epoch had been validated yet
                                 // A seq2seq model stopped after 6 steps (pair 8 of 15 in its second epoch, batch 4).
    let bytes = format1("seq2seq");
    let config = Seq2SeqConfig {
        src_vocab_size: 10,
        tgt_vocab_size: 12,
        embed_size: 3,
        hidden_size: 4,
        num_layers: 1,
        context: Context::Concat,
        dropout: 0.0,
        attention: seqrnn::Attention::None,
    };
    let mut m = Seq2Seq::<f32>::new(config, Init::Orthogonal, 0).unwrap();
    let data = format1_pairs();
    let config = TrainConfig {
        seed: 5,
        ..TrainConfig::new(4, OptimizerConfig::adam(0.01))
    };
    let mut t = Trainer::new(PairTask::new(data).unwrap(), config).unwrap();
    t.resume(&mut m, &bytes, true).unwrap();
    assert_eq!((t.epochs(), t.steps(), t.progress()), (1, 6, (2, 4)));
    assert_eq!(t.record().history.lr.len(), 1);
}

/// The 15 pairs the seq2seq fixture was trained on.
fn format1_pairs() -> PairSet {
    let rows = |r: [[usize; 4]; 3]| Array2::from_shape_fn((15, 4), |(i, j)| r[i % 3][j]);
    PairSet {
        src: rows([[3, 4, 2, 0], [5, 2, 0, 0], [4, 4, 2, 0]]),
        src_len: (0..15).map(|i| [3, 2, 3][i % 3]).collect(),
        tgt_in: rows([[1, 5, 6, 0], [1, 7, 0, 0], [1, 6, 6, 0]]),
        tgt_out: rows([[5, 6, 2, 0], [7, 2, 0, 0], [6, 6, 2, 0]]),
        tgt_len: (0..15).map(|i| [3, 2, 3][i % 3]).collect(),
    }
}
