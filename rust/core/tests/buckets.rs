//! Minibatches of sentence pairs cut to their longest pair give the loss and gradients of the
//! padded ones, bit for bit; length-bucketed epochs hold every pair once, in minibatches of
//! similar lengths, the same for the same seed.
//!
//! Shapes: pair sets `(pairs, steps)` batch-major; minibatches `(steps, rows)` time-major.

use ndarray::Array2;
use seqrnn::pairs::{bucketed_batches, PairSet};
use seqrnn::seq2seq::Batch;
use seqrnn::{
    Attention, Context, Error, Float, Init, OptimizerConfig, PairTask, Parameters, Seq2Seq,
};
use seqrnn::{Seq2SeqConfig, TrainConfig, Trainer};

const STEPS: usize = 12;

/// `n` pairs with valid lengths spread over `1..=STEPS`, padded with id 0 after them.
fn pairs(n: usize, seed: u64) -> PairSet {
    let mut rng = seqrnn::init::rng(seed);
    let mut draw = |k: usize| (rand::RngExt::random::<u64>(&mut rng) % k as u64) as usize;
    let src_len: Vec<usize> = (0..n).map(|_| 1 + draw(STEPS)).collect(); // (n,)
    let tgt_len: Vec<usize> = (0..n).map(|_| 1 + draw(STEPS)).collect(); // (n,)
    let ids = |lens: &[usize], vocab: usize, draw: &mut dyn FnMut(usize) -> usize| {
        Array2::from_shape_fn((n, STEPS), |(i, j)| {
            if j < lens[i] {
                1 + draw(vocab - 1)
            } else {
                0
            }
        }) // (n, STEPS)
    };
    let src = ids(&src_len, 30, &mut draw);
    let tgt_in = ids(&tgt_len, 25, &mut draw);
    let tgt_out = ids(&tgt_len, 25, &mut draw);
    PairSet {
        src,
        src_len,
        tgt_in,
        tgt_out,
        tgt_len,
    }
}

fn model<T: Float>(hidden: usize, context: Context, attention: Attention) -> Seq2Seq<T> {
    let config = Seq2SeqConfig {
        src_vocab_size: 30,
        tgt_vocab_size: 25,
        embed_size: 16,
        hidden_size: hidden,
        num_layers: 2,
        context,
        dropout: 0.0,
        attention,
    };
    Seq2Seq::new(config, Init::Orthogonal, 4).unwrap()
}

fn bits<T: Float, P: Parameters<T>>(p: &P) -> Vec<(String, Vec<u64>)> {
    p.named()
        .into_iter()
        .map(|(n, a)| (n, a.iter().map(|x| x.to_f64_lossless().to_bits()).collect()))
        .collect()
}

fn batch_of(g: &seqrnn::pairs::Gathered) -> Batch<'_> {
    Batch {
        src: g.0.view(),
        src_len: &g.1,
        tgt_in: g.2.view(),
        tgt_out: g.3.view(),
        tgt_len: &g.4,
    }
}

fn trimmed_equals_padded<T: Float>() {
    let data = pairs(300, 1);
    for (hidden, context, attention, rows) in [
        (8, Context::Concat, Attention::None, 5),
        (64, Context::Concat, Attention::None, 128),
        (64, Context::None, Attention::None, 97),
        (256, Context::Concat, Attention::None, 128), // split into parts across threads
        (8, Context::None, Attention::Additive, 5),
        (64, Context::None, Attention::Additive, 128),
    ] {
        let m = model::<T>(hidden, context, attention);
        for start in [0, 100] {
            let rows: Vec<usize> = (start..start + rows).collect();
            let (full, cut) = (data.gather(&rows), data.gather_trimmed(&rows));
            let longest = |l: &[usize]| rows.iter().map(|&r| l[r]).max().unwrap();
            assert_eq!(cut.0.nrows(), longest(&data.src_len));
            assert_eq!(cut.2.nrows(), longest(&data.tgt_len));
            let a = m.loss_and_grads(&batch_of(&full)).unwrap();
            let b = m.loss_and_grads(&batch_of(&cut)).unwrap();
            let what = format!(
                "hidden {hidden}, {context:?}, {attention:?}, {} rows",
                rows.len()
            );
            let loss = |x: T| x.to_f64_lossless().to_bits();
            assert_eq!(loss(a.loss), loss(b.loss), "{what}");
            assert_eq!(a.tokens, b.tokens, "{what}");
            assert_eq!(bits(&a.grads), bits(&b.grads), "{what}");
            assert_eq!(
                m.loss(&batch_of(&full)).unwrap(),
                m.loss(&batch_of(&cut)).unwrap()
            );
        }
    }
}

#[test]
fn trimmed_minibatches_give_the_padded_loss_and_gradients_f32() {
    trimmed_equals_padded::<f32>();
}

#[test]
fn trimmed_minibatches_give_the_padded_loss_and_gradients_f64() {
    trimmed_equals_padded::<f64>();
}

#[test]
fn trimming_keeps_a_length_past_the_steps_an_error() {
    let mut data = pairs(4, 2);
    data.src_len[1] = STEPS + 1;
    let cut = data.gather_trimmed(&[0, 1]);
    assert_eq!(cut.0.nrows(), STEPS);
    let err = model::<f32>(8, Context::Concat, Attention::None).loss_and_grads(&batch_of(&cut));
    assert!(matches!(err, Err(Error::InvalidArgument { .. })), "{err:?}");
}

#[test]
fn bucketed_epochs_hold_every_pair_once_in_batches_of_similar_lengths() {
    let data = pairs(1000, 3);
    let plan = |seed: u64, pool: usize| {
        bucketed_batches(&data, 32, pool, &mut seqrnn::init::rng(seed)).unwrap()
    };
    let spread = |batches: &[Vec<usize>]| -> usize {
        let range = |b: &Vec<usize>| {
            let lens = b.iter().map(|&r| data.src_len[r]);
            lens.clone().max().unwrap() - lens.min().unwrap()
        };
        batches.iter().map(range).sum()
    };
    let plain: Vec<Vec<usize>> = (0..1000)
        .collect::<Vec<_>>()
        .chunks(32)
        .map(<[usize]>::to_vec)
        .collect(); // (32 minibatches)
    for pool in [1, 4, 100] {
        let batches = plan(7, pool);
        assert_eq!(batches.len(), 32); // 31 of 32, one of 8
        assert_eq!(batches.iter().filter(|b| b.len() == 32).count(), 31);
        let mut all = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>(), "pool {pool}");
        assert_eq!(batches, plan(7, pool)); // deterministic
        assert_ne!(batches, plan(8, pool));
    }
    // Pools of several minibatches group similar lengths.
    assert!(spread(&plan(7, 4)) * 3 < spread(&plain));
    assert!(spread(&plan(7, 100)) < spread(&plan(7, 4)));
}

#[test]
fn bucketing_refuses_empty_pools_and_batches() {
    let data = pairs(10, 4);
    let mut rng = seqrnn::init::rng(0);
    for (batch, pool, what) in [(0, 3, "batch_size"), (3, 0, "pool_batches")] {
        let err = bucketed_batches(&data, batch, pool, &mut rng).unwrap_err();
        assert!(err.to_string().contains(what), "{err}");
    }
    let err = PairTask::new(data)
        .unwrap()
        .with_bucketing(Some(0))
        .unwrap_err();
    assert!(err.to_string().contains("pool_batches"), "{err}");
}

#[test]
fn a_bucketed_trainer_sees_every_pair_once_an_epoch() {
    let data = pairs(50, 5);
    let task = PairTask::new(data)
        .unwrap()
        .with_bucketing(Some(2))
        .unwrap();
    let config = TrainConfig::new(8, OptimizerConfig::adam(0.01));
    let mut t = Trainer::new(task, config).unwrap();
    let mut m = model::<f32>(8, Context::Concat, Attention::None);
    let mut tokens = 0;
    while t.epochs() < 1 {
        tokens += t.run(&mut m, 2).unwrap().tokens;
    }
    let all: usize = t.task().data().tgt_len.iter().sum();
    assert_eq!(tokens, all);
    assert_eq!(t.progress(), (7, 7));
}
