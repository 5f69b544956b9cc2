//! Resumable training: a run stopped at any minibatch, checkpointed and resumed in a fresh
//! trainer and model ends with the same parameters, bit for bit, as one never stopped; a
//! checkpoint refuses to continue a run with other settings or data.
//!
//! Shapes: corpora `(tokens,)`; pair sets `(pairs, steps)` batch-major.

use ndarray::{Array2, ArrayViewD};
use seqrnn::{Context, Error, Init, LanguageModel, LmConfig, OptimizerConfig, Parameters};
use seqrnn::{PairSet, Sampling, Seq2Seq, Seq2SeqConfig, Seq2SeqTrainer, TrainConfig, Trainer};
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

fn lm_config(sampling: Sampling) -> TrainConfig {
    TrainConfig {
        batch_size: 4,
        num_steps: 5,
        sampling,
        clip: Some(1.0),
        optimizer: OptimizerConfig::adam(0.01),
        seed: 11,
    }
}

fn bits<P: Parameters<f32>>(p: &P) -> Vec<(String, Vec<u32>)> {
    p.named()
        .into_iter()
        .map(|(n, a)| (n, a.iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// Runs single minibatches until `steps` optimizer steps are done (crossing epoch ends).
fn lm_steps(t: &mut Trainer<f32>, m: &mut LanguageModel<f32>, data: &[usize], steps: u64) {
    while t.optimizer().steps() < steps {
        t.run(m, data, 1).unwrap();
    }
}

#[test]
fn language_model_resumed_anywhere_matches_uninterrupted() {
    let data = corpus(203);
    for sampling in [Sampling::Sequential, Sampling::Random] {
        let mut full = lm(1);
        let mut t = Trainer::new(lm_config(sampling)).unwrap();
        lm_steps(&mut t, &mut full, &data, 40);
        let per_epoch = t.progress().1 as u64;
        assert!(
            per_epoch > 3 && 40 > 3 * per_epoch,
            "{per_epoch} minibatches an epoch"
        );
        for stop in [3, per_epoch, per_epoch + 2, 2 * per_epoch - 1] {
            let mut first = lm(1);
            let mut t1 = Trainer::new(lm_config(sampling)).unwrap();
            lm_steps(&mut t1, &mut first, &data, stop);
            let bytes = t1.checkpoint(&first, &data, &[], HashMap::new()).unwrap();

            let mut resumed = lm(99); // other weights: all must come from the file
            let mut t2 = Trainer::new(lm_config(sampling)).unwrap();
            t2.resume(&mut resumed, &data, &bytes, true).unwrap();
            assert_eq!(bits(&resumed), bits(&first));
            assert_eq!((t2.epochs(), t2.optimizer().steps()), (t1.epochs(), stop));
            lm_steps(&mut t2, &mut resumed, &data, 40);
            assert_eq!(
                bits(&resumed),
                bits(&full),
                "{sampling:?} stopped at {stop}"
            );
            assert_eq!(t2.epochs(), t.epochs());
        }
    }
}

#[test]
fn checkpoint_keeps_extra_tensors_and_metadata() {
    let data = corpus(100);
    let mut m = lm(1);
    let mut t = Trainer::new(lm_config(Sampling::Sequential)).unwrap();
    t.run(&mut m, &data, 2).unwrap();
    let best = m.state_dict();
    let extra: Vec<(String, ArrayViewD<'_, f32>)> = best
        .iter()
        .map(|(n, a)| (format!("best.{n}"), a.view()))
        .collect();
    let meta = HashMap::from([("history".to_string(), "[1.5]".to_string())]);
    let bytes = t.checkpoint(&m, &data, &extra, meta).unwrap();
    let r = Trainer::new(lm_config(Sampling::Sequential))
        .unwrap()
        .resume(&mut lm(2), &data, &bytes, false)
        .unwrap();
    assert_eq!(r.meta.get("history").map(String::as_str), Some("[1.5]"));
    let mut got = r.extra.clone();
    got.sort_by(|a, b| a.0.cmp(&b.0)); // the file orders tensors its own way
    let mut expected: Vec<_> = best
        .iter()
        .map(|(n, a)| (format!("best.{n}"), a.clone()))
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, expected);
}

#[test]
fn resume_refuses_other_settings_data_or_files() {
    let data = corpus(100);
    let mut m = lm(1);
    let mut t = Trainer::new(lm_config(Sampling::Sequential)).unwrap();
    t.run(&mut m, &data, 2).unwrap();
    let bytes = t.checkpoint(&m, &data, &[], HashMap::new()).unwrap();
    let try_resume = |config: TrainConfig, data: &[usize], seed_given: bool| {
        let mut fresh = lm(5);
        let before = bits(&fresh);
        let r = Trainer::new(config)
            .unwrap()
            .resume(&mut fresh, data, &bytes, seed_given);
        if r.is_err() {
            assert_eq!(bits(&fresh), before, "the model changed on error");
        }
        r.map(|_| ())
    };
    let mut other = lm_config(Sampling::Sequential);
    other.batch_size = 5;
    let err = try_resume(other, &data, true).unwrap_err();
    assert!(
        err.to_string()
            .contains("batch_size is 4 in the checkpoint but 5"),
        "{err}"
    );
    let mut other = lm_config(Sampling::Sequential);
    other.seed = 12;
    let err = try_resume(other.clone(), &data, true).unwrap_err();
    assert!(err.to_string().contains("seed is 11"), "{err}");
    try_resume(other, &data, false).unwrap(); // the checkpoint's seed is taken
    let mut other = lm_config(Sampling::Sequential);
    other.optimizer = OptimizerConfig::adam(0.5); // the checkpoint's learning rate is taken
    try_resume(other, &data, true).unwrap();
    other = lm_config(Sampling::Random);
    let err = try_resume(other, &data, true).unwrap_err();
    assert!(err.to_string().contains("sampling"), "{err}");
    let mut shifted = data.clone();
    shifted[0] = 1;
    let err = try_resume(lm_config(Sampling::Sequential), &shifted, true).unwrap_err();
    assert!(err.to_string().contains("other training data"), "{err}");
    let plain = m.to_bytes(HashMap::new()).unwrap();
    let r = Trainer::<f32>::new(lm_config(Sampling::Sequential))
        .unwrap()
        .resume(&mut lm(5), &data, &plain, true);
    assert!(matches!(&r, Err(Error::Checkpoint(msg)) if msg.contains("not a training checkpoint")));
    let mut wider = LanguageModel::<f32>::new(LmConfig::new(6, 9), Init::Uniform, 0).unwrap();
    let err = Trainer::<f32>::new(lm_config(Sampling::Sequential))
        .unwrap()
        .resume(&mut wider, &data, &bytes, true)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::ShapeMismatch { .. } | Error::UnknownParameter { .. }
    ));
    let r = Trainer::<f64>::new(lm_config(Sampling::Sequential))
        .unwrap()
        .resume(
            &mut LanguageModel::new(LmConfig::new(6, 8), Init::Uniform, 0).unwrap(),
            &data,
            &bytes,
            true,
        );
    assert!(matches!(&r, Err(Error::Checkpoint(m)) if m.contains("this run trains float64")));
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
    };
    Seq2Seq::new(config, Init::Orthogonal, seed).unwrap()
}

#[test]
fn seq2seq_resumed_anywhere_matches_uninterrupted() {
    let data = pairs(23);
    let trainer = || Seq2SeqTrainer::<f32>::new(5, Some(1.0), OptimizerConfig::adam(0.01), 3);
    let steps = |t: &mut Seq2SeqTrainer<f32>, m: &mut Seq2Seq<f32>, n: u64| {
        while t.optimizer().steps() < n {
            t.run(m, &data, 1).unwrap();
        }
    };
    let mut full = seq2seq(1);
    let mut t = trainer().unwrap();
    steps(&mut t, &mut full, 17); // 5 minibatches an epoch
    for stop in [2, 5, 7, 14] {
        let (mut first, mut t1) = (seq2seq(1), trainer().unwrap());
        steps(&mut t1, &mut first, stop);
        let bytes = t1.checkpoint(&first, &data, &[], HashMap::new()).unwrap();
        let (mut resumed, mut t2) = (seq2seq(8), trainer().unwrap());
        t2.resume(&mut resumed, &data, &bytes, true).unwrap();
        steps(&mut t2, &mut resumed, 17);
        assert_eq!(bits(&resumed), bits(&full), "stopped at {stop}");
    }
    let other = Seq2SeqTrainer::<f32>::new(6, Some(1.0), OptimizerConfig::adam(0.01), 3);
    let bytes = t.checkpoint(&full, &data, &[], HashMap::new()).unwrap();
    let err = other.unwrap().resume(&mut seq2seq(1), &data, &bytes, true);
    assert!(err.unwrap_err().to_string().contains("batch_size"));
    let lm_bytes = {
        let d = corpus(50);
        let mut m = lm(1);
        let mut t = Trainer::new(lm_config(Sampling::Random)).unwrap();
        t.run(&mut m, &d, 1).unwrap();
        t.checkpoint(&m, &d, &[], HashMap::new()).unwrap()
    };
    let err = trainer()
        .unwrap()
        .resume(&mut seq2seq(1), &data, &lm_bytes, true);
    assert!(err
        .unwrap_err()
        .to_string()
        .contains("trains a LanguageModel, not a Seq2Seq"));
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
fn resume_fresh(bytes: &[u8], data: &[usize]) -> seqrnn::Result<seqrnn::Resumed<f32>> {
    let mut fresh = lm(5);
    let before = bits(&fresh);
    let r = Trainer::new(lm_config(Sampling::Sequential))
        .unwrap()
        .resume(&mut fresh, data, bytes, false);
    if r.is_err() {
        assert_eq!(bits(&fresh), before, "the model changed on error");
    }
    r
}

#[test]
fn resume_checks_counts_best_tensors_and_the_fit_record() {
    use seqrnn::resume::{FitHistory, FitRecord, Metric, FIT_RECORD, MAX_COUNT, PROGRESS};
    let data = corpus(100);
    let mut m = lm(1);
    let mut t = Trainer::new(lm_config(Sampling::Sequential)).unwrap();
    t.run(&mut m, &data, 30).unwrap(); // past the first epoch's end
    assert_eq!(t.epochs(), 1);
    let best = m.state_dict();
    let extra: Vec<(String, ArrayViewD<'_, f32>)> = best
        .iter()
        .map(|(n, a)| (format!("best.{n}"), a.view()))
        .collect();
    let record = FitRecord {
        history: FitHistory {
            train_perplexity: vec![Metric(f64::INFINITY)],
            valid_perplexity: vec![Metric(3.5)],
            tokens_per_second: vec![Metric(1e5)],
            seconds: vec![Metric(0.5)],
            best_epoch: Some(0),
            best_valid_perplexity: Some(Metric(3.5)),
        },
        partial: (20, Metric(31.0), Metric(0.1)),
    };
    let meta = HashMap::from([(FIT_RECORD.to_string(), record.to_json().unwrap())]);
    let bytes = t.checkpoint(&m, &data, &extra, meta).unwrap();
    let r = resume_fresh(&bytes, &data).unwrap();
    assert_eq!(
        r.record.as_ref().unwrap().history.train_perplexity[0].0,
        f64::INFINITY
    );
    assert_eq!(r.record.unwrap().partial, record.partial);

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
    // Best tensors of the wrong shape, unknown or incomplete: refused at once.
    let forged = rewrite(&bytes, |_, tensors| {
        let (_, a) = tensors
            .iter_mut()
            .find(|(n, _)| n == "extra.best.output.bias")
            .unwrap();
        *a = ndarray::ArrayD::zeros(ndarray::IxDyn(&[2]));
    });
    let err = resume_fresh(&forged, &data).err().unwrap().to_string();
    assert!(
        err.starts_with("extra.best.output.bias: expected shape [6], got [2]"),
        "{err}"
    );
    let forged = rewrite(&bytes, |_, tensors| {
        tensors.retain(|(n, _)| n != "extra.best.output.bias");
    });
    let err = resume_fresh(&forged, &data).err().unwrap().to_string();
    assert!(err.contains("best parameters hold"), "{err}");
    let forged = rewrite(&bytes, |_, tensors| {
        let a = tensors[0].1.clone();
        tensors.push(("extra.best.rnn.weight_hh_l9".into(), a));
    });
    let err = resume_fresh(&forged, &data).err().unwrap().to_string();
    assert!(err.contains("names no parameter"), "{err}");
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
    let mut wrong = record.clone();
    wrong.history.best_epoch = Some(1);
    let forged = rewrite(&bytes, |meta, _| {
        meta.insert(FIT_RECORD.into(), wrong.to_json().unwrap());
    });
    let err = resume_fresh(&forged, &data).err().unwrap().to_string();
    assert!(err.contains("best epoch Some(1)"), "{err}");
}
