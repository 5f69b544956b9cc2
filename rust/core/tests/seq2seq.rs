//! `Seq2Seq` in f64: central finite differences of every parameter through
//! `loss_and_grads` (the 4th-order stencil `(-L(+2h) + 8 L(+h) - 8 L(-h) + L(-2h)) / 12h` of
//! gradcheck.rs, relative error < 1e-6); padding never reaches the loss or a gradient;
//! greedy and beam search against log-probabilities recomputed by teacher forcing;
//! checkpoint round trips; every caller error is an `Err`.
//!
//! Sizes: source vocab 6, target vocab 7, embed 3, hidden 4, batch 3, source steps 5, target
//! steps 4. Shapes (time-major): ids `(steps, batch)`, lengths `(batch,)`.

mod common;

use ndarray::{s, Array2};
use seqrnn::seq2seq::{Batch, Seq2SeqStep};
use seqrnn::{Attention, Context, DecodeConfig, Error, Hypothesis, Init, Parameters, Result};
use seqrnn::{Seq2Seq, Seq2SeqConfig};
use std::collections::HashMap;

/// Truncation ~h^4 ~ 1e-12, round-off ~1e-16/h ~ 1e-13: some encoder-embedding gradient
/// elements are as small as 5e-7, where h = 1e-4 (round-off ~1e-12) leaves a relative error
/// of ~9e-7, too close to the tolerance.
const H: f64 = 1e-3;
const TOL: f64 = 1e-6;
const SRC_VOCAB: usize = 6;
const TGT_VOCAB: usize = 7;
const EMBED: usize = 3;
const HIDDEN: usize = 4;
const BOS: usize = 1;
const EOS: usize = 2;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as usize
    }
}

/// The decoder designs: the fixed context appended or not, or additive attention.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Design {
    Concat,
    Plain,
    Attention,
}

use Design::{Attention as Attend, Concat, Plain};

fn model(design: Design, num_layers: usize, seed: u64) -> Seq2Seq<f64> {
    let (context, attention) = match design {
        Concat => (Context::Concat, Attention::None),
        Plain => (Context::None, Attention::None),
        Attend => (Context::None, Attention::Additive),
    };
    let config = Seq2SeqConfig {
        src_vocab_size: SRC_VOCAB,
        tgt_vocab_size: TGT_VOCAB,
        embed_size: EMBED,
        hidden_size: HIDDEN,
        num_layers,
        context,
        dropout: 0.0,
        attention,
    };
    Seq2Seq::new(config, Init::Uniform, seed).unwrap()
}

/// Every (design, layers) combination.
const CASES: [(Design, usize); 6] = [
    (Concat, 1),
    (Concat, 2),
    (Plain, 1),
    (Plain, 2),
    (Attend, 1),
    (Attend, 2),
];

/// An owned teacher-forced batch: `tgt_in` is `<bos>` then `tgt_out` shifted; `tgt_out` ends
/// with `<eos>` at its valid length. Padding holds arbitrary ids.
#[derive(Clone, Debug)]
struct Data {
    src: Array2<usize>, // (Ts, B)
    src_len: Vec<usize>,
    tgt_in: Array2<usize>,  // (Tt, B)
    tgt_out: Array2<usize>, // (Tt, B)
    tgt_len: Vec<usize>,
}

impl Data {
    fn new(seed: u64, src_len: &[usize], tgt_len: &[usize]) -> Self {
        let (ts, tt, batch) = (5, 4, src_len.len());
        let mut rng = Rng(seed);
        let src = Array2::from_shape_simple_fn((ts, batch), || rng.below(SRC_VOCAB));
        let mut tgt_out = Array2::from_shape_simple_fn((tt, batch), || rng.below(TGT_VOCAB));
        for (b, &n) in tgt_len.iter().enumerate() {
            tgt_out[[n - 1, b]] = EOS;
        }
        let tgt_in = Array2::from_shape_fn((tt, batch), |(t, b)| match t {
            0 => BOS,
            _ => tgt_out[[t - 1, b]],
        });
        let (src_len, tgt_len) = (src_len.to_vec(), tgt_len.to_vec());
        Data {
            src,
            src_len,
            tgt_in,
            tgt_out,
            tgt_len,
        }
    }

    /// Source steps 5, target steps 4, batch 3; every length differs from the steps somewhere.
    fn varied(seed: u64) -> Self {
        Data::new(seed, &[5, 2, 3], &[3, 4, 1])
    }

    fn batch(&self) -> Batch<'_> {
        Batch {
            src: self.src.view(),
            src_len: &self.src_len,
            tgt_in: self.tgt_in.view(),
            tgt_out: self.tgt_out.view(),
            tgt_len: &self.tgt_len,
        }
    }

    fn run(&self, m: &Seq2Seq<f64>) -> Result<Seq2SeqStep<f64>> {
        m.loss_and_grads(&self.batch())
    }
}

/// Largest relative error between `grads` and central differences of `loss` over every element
/// of every named tensor of `m`.
fn check_params(
    m: &Seq2Seq<f64>,
    grads: &Seq2Seq<f64>,
    loss: impl Fn(&Seq2Seq<f64>) -> f64,
) -> f64 {
    assert_eq!(m.names(), grads.names());
    let mut worst = 0.0f64;
    for (name, g) in grads.named() {
        let mut tensor_worst = 0.0f64;
        for (j, &a) in g.iter().enumerate() {
            let f = |d: f64| {
                let mut p = m.clone();
                for (n, mut t) in p.named_mut() {
                    if n == name {
                        *t.iter_mut().nth(j).unwrap() += d;
                    }
                }
                loss(&p)
            };
            let n = (8.0 * (f(H) - f(-H)) - (f(2.0 * H) - f(-2.0 * H))) / (12.0 * H);
            let e = (a - n).abs() / (a.abs() + n.abs()).max(1e-8);
            assert!(
                e < TOL,
                "{name}[{j}]: analytic {a:e}, numeric {n:e}, rel err {e:e}"
            );
            tensor_worst = tensor_worst.max(e);
        }
        println!("  {name:<28} max rel err {tensor_worst:.2e}");
        worst = worst.max(tensor_worst);
    }
    worst
}

fn gradcheck(context: Design, layers: usize, seed: u64) {
    let m = model(context, layers, seed);
    let data = Data::varied(seed);
    let step = data.run(&m).unwrap();
    assert_eq!(step.tokens, 8);
    let e_in = match context {
        Concat | Attend => EMBED + HIDDEN,
        Plain => EMBED,
    };
    assert_eq!(m.decoder.layers[0].weight_ih.dim(), (HIDDEN, e_in));
    let mut expected = vec!["encoder.embedding.weight".to_string()];
    for side in ["encoder", "decoder"] {
        for l in 0..layers {
            for k in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"] {
                expected.push(format!("{side}.rnn.{k}_l{l}"));
            }
        }
        if side == "encoder" {
            expected.push("decoder.embedding.weight".into());
        }
    }
    expected.extend(["decoder.output.weight".into(), "decoder.output.bias".into()]);
    if context == Attend {
        for k in ["W_q", "W_k", "w_v"] {
            expected.push(format!("decoder.attention.{k}.weight"));
        }
    }
    assert_eq!(step.grads.names(), expected);
    let worst = check_params(&m, &step.grads, |p| data.run(p).unwrap().loss);
    println!("{context:?}, {layers} layer(s): max relative error {worst:.2e}");
}

#[test]
fn gradcheck_concat_1_layer() {
    common::at_every_level(|| {
        gradcheck(Concat, 1, 1);
    });
}

#[test]
fn gradcheck_concat_2_layers() {
    common::at_every_level(|| {
        gradcheck(Concat, 2, 2);
    });
}

#[test]
fn gradcheck_none_1_layer() {
    common::at_every_level(|| {
        gradcheck(Plain, 1, 3);
    });
}

#[test]
fn gradcheck_none_2_layers() {
    common::at_every_level(|| {
        gradcheck(Plain, 2, 4);
    });
}

#[test]
fn gradcheck_attention_1_layer() {
    common::at_every_level(|| {
        gradcheck(Attend, 1, 5);
    });
}

#[test]
fn gradcheck_attention_2_layers() {
    common::at_every_level(|| {
        gradcheck(Attend, 2, 6);
    });
}

/// Dropout between the layers of an attention decoder: the gradient of the loss with the
/// dropout masks fixed (the same seed for every evaluation).
#[test]
fn gradcheck_attention_with_dropout() {
    let mut m = model(Attend, 2, 7);
    let mut config = m.config().clone();
    config.dropout = 0.3;
    let mut with = Seq2Seq::<f64>::new(config, Init::Uniform, 7).unwrap();
    with.load_state_dict(&m.named()).unwrap();
    m = with;
    let data = many(7);
    let run = |p: &Seq2Seq<f64>| {
        let mut rng = seqrnn::init::rng(99);
        p.loss_and_grads_train(&data.batch(), Some(&mut rng))
            .unwrap()
    };
    let step = run(&m);
    assert_ne!(
        step.loss,
        data.run(&m).unwrap().loss,
        "dropout changes the loss"
    );
    check_params(&m, &step.grads, |p| run(p).loss);
}

/// Ids at `t >= src_len` (source) or `t >= tgt_len` (both target arrays) change neither the loss
/// nor any gradient, bit for bit; a valid id does change the loss.
#[test]
fn padding_changes_nothing() {
    common::at_every_level(|| {
        for (i, (context, layers)) in CASES.into_iter().enumerate() {
            let m = model(context, layers, 10 + i as u64);
            let data = Data::varied(10 + i as u64);
            let base = data.run(&m).unwrap();
            let mut padded = data.clone();
            let bump = |a: &mut Array2<usize>, lens: &[usize], vocab: usize| {
                for ((t, b), id) in a.indexed_iter_mut().filter(|((t, b), _)| *t >= lens[*b]) {
                    *id = (*id + 1 + t + b) % vocab;
                }
            };
            bump(&mut padded.src, &data.src_len, SRC_VOCAB);
            bump(&mut padded.tgt_in, &data.tgt_len, TGT_VOCAB);
            bump(&mut padded.tgt_out, &data.tgt_len, TGT_VOCAB);
            assert_ne!(padded.src, data.src);
            assert_ne!(padded.tgt_in, data.tgt_in);
            let other = padded.run(&m).unwrap();
            assert_eq!(
                base.loss.to_bits(),
                other.loss.to_bits(),
                "{context:?} {layers}"
            );
            assert_eq!(base.grads, other.grads, "{context:?} {layers}");
            // A valid source id and a valid target id do matter.
            let mut valid = data.clone();
            valid.src[[1, 1]] = (valid.src[[1, 1]] + 1) % SRC_VOCAB;
            assert_ne!(valid.run(&m).unwrap().loss, base.loss);
            let mut valid = data.clone();
            valid.tgt_out[[0, 2]] = (valid.tgt_out[[0, 2]] + 1) % TGT_VOCAB;
            assert_ne!(valid.run(&m).unwrap().loss, base.loss);
        }
    });
}

/// The loss is the sum of the per-token cross-entropies over the number of valid tokens:
/// `loss * tokens` (and the gradients times `tokens`) is the sum over sentences run alone,
/// each truncated to its own lengths.
/// 17 sentence pairs: enough for a batch cut into parts that run on several threads.
fn many(seed: u64) -> Data {
    let src_len: Vec<usize> = (0..17).map(|b| 1 + (b * 7 + 3) % 5).collect();
    let tgt_len: Vec<usize> = (0..17).map(|b| 1 + (b * 5 + 1) % 4).collect();
    Data::new(seed, &src_len, &tgt_len)
}

#[test]
fn gradcheck_batch_in_parts() {
    common::at_every_level(|| {
        assert!(seqrnn::split::parts(17, HIDDEN) > 1);
        let m = model(Concat, 2, 31);
        let data = many(31);
        let step = data.run(&m).unwrap();
        let worst = check_params(&m, &step.grads, |p| data.run(p).unwrap().loss);
        println!("17 pairs in parts: max relative error {worst:.2e}");
    });
}

#[test]
fn batch_loss_is_token_mean_of_sentences() {
    for (i, (context, layers)) in CASES.into_iter().enumerate() {
        let m = model(context, layers, 20 + i as u64);
        token_mean_of_sentences(&m, &Data::varied(20 + i as u64));
        token_mean_of_sentences(&m, &many(40 + i as u64));
    }
}

/// The batch's loss and gradients are the token-weighted means of each sentence pair's alone.
fn token_mean_of_sentences(m: &Seq2Seq<f64>, data: &Data) {
    let context = m.config().context;
    let step = data.run(m).unwrap();
    let (mut sum, mut grads) = (0.0, m.zeros_like());
    for b in 0..data.src_len.len() {
        let (ns, nt) = (data.src_len[b], data.tgt_len[b]);
        let alone = Data {
            src: data.src.slice(s![..ns, b..=b]).to_owned(),
            src_len: vec![ns],
            tgt_in: data.tgt_in.slice(s![..nt, b..=b]).to_owned(),
            tgt_out: data.tgt_out.slice(s![..nt, b..=b]).to_owned(),
            tgt_len: vec![nt],
        };
        let one = alone.run(m).unwrap();
        sum += one.loss * nt as f64;
        grads.add_scaled(nt as f64, &one.grads);
    }
    let tokens = step.tokens as f64;
    assert!(
        (step.loss * tokens - sum).abs() < 1e-12 * sum.abs(),
        "{context:?}"
    );
    for ((name, g), (_, r)) in step.grads.named().into_iter().zip(grads.named()) {
        let err = (&g * tokens - &r)
            .iter()
            .fold(0.0f64, |w, x| w.max(x.abs()));
        assert!(err < 1e-12, "{name}: {err:e}");
    }
}

fn cfg(max_len: usize, beam_size: usize, alpha: f64) -> DecodeConfig {
    DecodeConfig {
        bos: BOS,
        eos: EOS,
        max_len,
        beam_size,
        alpha,
    }
}

/// `log P(seq | source sentence b)` by teacher forcing: `-loss * len(seq)`.
fn seq_log_prob(m: &Seq2Seq<f64>, data: &Data, b: usize, seq: &[usize]) -> f64 {
    let n = seq.len();
    let tgt_out = Array2::from_shape_fn((n, 1), |(t, _)| seq[t]);
    let tgt_in = Array2::from_shape_fn((n, 1), |(t, _)| if t == 0 { BOS } else { seq[t - 1] });
    let one = Data {
        src: data.src.slice(s![.., b..=b]).to_owned(),
        src_len: vec![data.src_len[b]],
        tgt_in,
        tgt_out,
        tgt_len: vec![n],
    };
    -one.run(m).unwrap().loss * n as f64
}

/// The emitted sequence of a hypothesis: its tokens, then `<eos>` unless `max_len` cut it.
fn emitted(h: &Hypothesis, max_len: usize) -> Vec<usize> {
    assert!(
        h.tokens.len() <= max_len && !h.tokens.contains(&EOS),
        "{h:?}"
    );
    let mut seq = h.tokens.clone();
    if seq.len() < max_len {
        seq.push(EOS);
    }
    seq
}

/// Known bug in `beam_search` (decode.rs): once `beam_size` hypotheses of a sentence have
/// finished before `max_len`, the beams still alive are added to the candidates as well,
/// without `<eos>` and scored on their partial log-probability, and one of them can win.
/// True when `h` is such a hypothesis: fewer than `max_len` tokens, no `<eos>` in its
/// log-probability.
fn is_cut_short(m: &Seq2Seq<f64>, data: &Data, b: usize, h: &Hypothesis, max_len: usize) -> bool {
    h.tokens.len() < max_len
        && !h.tokens.is_empty()
        && (h.log_prob - seq_log_prob(m, data, b, &h.tokens)).abs() < 1e-12 * h.log_prob.abs()
}

/// `log_prob` equals teacher forcing, `score = log_prob / L^alpha` with `L` counting `<eos>`.
fn check_hypothesis(m: &Seq2Seq<f64>, data: &Data, b: usize, h: &Hypothesis, c: DecodeConfig) {
    assert!(
        !is_cut_short(m, data, b, h, c.max_len),
        "unfinished hypothesis returned: {h:?} has neither <eos> nor max_len tokens ({c:?})"
    );
    let seq = emitted(h, c.max_len);
    let lp = seq_log_prob(m, data, b, &seq);
    assert!(
        (h.log_prob - lp).abs() < 1e-12 * lp.abs().max(1.0),
        "{h:?} vs {lp}"
    );
    let score = h.log_prob / (seq.len() as f64).powf(c.alpha);
    assert!(
        (h.score - score).abs() < 1e-12 * score.abs().max(1.0),
        "{h:?}"
    );
}

/// Greedy picks, at each step, the token that maximizes the teacher-forced probability of the
/// prefix so far.
#[test]
fn greedy_is_the_teacher_forced_argmax() {
    for (i, (context, layers)) in CASES.into_iter().enumerate() {
        let m = model(context, layers, 30 + i as u64);
        let data = Data::varied(30 + i as u64);
        let c = cfg(5, 1, 0.75);
        let hyps = m.greedy(data.src.view(), &data.src_len, c).unwrap();
        for (b, h) in hyps.iter().enumerate() {
            let mut want = Vec::new();
            while want.len() < c.max_len {
                let lp = |v: usize| seq_log_prob(&m, &data, b, &[&want[..], &[v]].concat());
                let best = (0..TGT_VOCAB)
                    .max_by(|&x, &y| lp(x).total_cmp(&lp(y)))
                    .unwrap();
                if best == EOS {
                    break;
                }
                want.push(best);
            }
            assert_eq!(h.tokens, want, "{context:?} {layers}, sentence {b}");
            check_hypothesis(&m, &data, b, h, c);
        }
    }
}

#[test]
fn beam_size_1_is_greedy() {
    for (i, (context, layers)) in CASES.into_iter().enumerate() {
        let m = model(context, layers, 40 + i as u64);
        let data = Data::varied(40 + i as u64);
        for max_len in [1, 3, 6] {
            let c = cfg(max_len, 1, 0.75);
            let beam = m.beam_search(data.src.view(), &data.src_len, c).unwrap();
            let greedy = m.greedy(data.src.view(), &data.src_len, cfg(max_len, 4, 0.75));
            assert_eq!(beam, greedy.unwrap());
        }
    }
}

/// Wider beams return hypotheses whose recomputed score is at least greedy's. (Not a theorem
/// of beam search in general; it holds for these fixed models and is what a user expects.)
#[test]
fn wider_beams_score_at_least_greedy() {
    let (mut strictly_better, mut cut_short) = (0, 0);
    for seed in 0..6 {
        for (context, layers) in CASES {
            let m = model(context, layers, 50 + seed);
            let data = Data::varied(50 + seed);
            for alpha in [0.0, 0.75] {
                let greedy = m.greedy(data.src.view(), &data.src_len, cfg(5, 1, alpha));
                let greedy = greedy.unwrap();
                for k in [2, 3, 5] {
                    let c = cfg(5, k, alpha);
                    let beam = m.beam_search(data.src.view(), &data.src_len, c).unwrap();
                    for (b, (h, g)) in beam.iter().zip(&greedy).enumerate() {
                        if is_cut_short(&m, &data, b, h, c.max_len) {
                            cut_short += 1; // see beam_returns_only_finished_hypotheses
                            continue;
                        }
                        check_hypothesis(&m, &data, b, h, c);
                        assert!(h.score >= g.score - 1e-12, "beam {k}: {h:?} < greedy {g:?}");
                        strictly_better += usize::from(h.score > g.score + 1e-9);
                    }
                }
            }
        }
    }
    println!("beam beat greedy {strictly_better} times; {cut_short} cut-short hypotheses skipped");
    assert!(strictly_better > 0, "beam search never beat greedy");
}

/// With a beam wider than the number of sequences of length <= max_len, beam search is
/// exhaustive: it returns the best-scoring sequence found by brute force.
#[test]
fn exhaustive_beam_finds_the_best_sequence() {
    let max_len = 3;
    let words: Vec<usize> = (0..TGT_VOCAB).filter(|&v| v != EOS).collect();
    let mut all: Vec<Vec<usize>> = vec![vec![EOS]];
    let mut prefixes: Vec<Vec<usize>> = vec![vec![]];
    for len in 1..=max_len {
        prefixes = prefixes
            .iter()
            .flat_map(|p| words.iter().map(move |&w| [&p[..], &[w]].concat()))
            .collect();
        for p in &prefixes {
            if len < max_len {
                all.push([&p[..], &[EOS]].concat());
            } else {
                all.push(p.clone());
            }
        }
    }
    assert_eq!(all.len(), 1 + 6 + 36 + 216);
    for (i, (context, layers)) in CASES.into_iter().enumerate() {
        let m = model(context, layers, 60 + i as u64);
        let data = Data::varied(60 + i as u64);
        let c = cfg(max_len, 300, 0.75);
        let beam = m.beam_search(data.src.view(), &data.src_len, c).unwrap();
        for (b, h) in beam.iter().enumerate() {
            let score = |seq: &Vec<usize>| {
                seq_log_prob(&m, &data, b, seq) / (seq.len() as f64).powf(c.alpha)
            };
            let best = all
                .iter()
                .max_by(|x, y| score(x).total_cmp(&score(y)))
                .unwrap();
            assert_eq!(
                &emitted(h, max_len),
                best,
                "{context:?} {layers}, sentence {b}"
            );
            assert!((h.score - score(best)).abs() < 1e-12);
        }
    }
}

/// A sentence stops at `<eos>` and never exceeds `max_len`; the batch decodes as each
/// sentence alone.
#[test]
fn decoding_stops_at_eos_and_respects_max_len() {
    for (i, (context, layers)) in CASES.into_iter().enumerate() {
        let mut m = model(context, layers, 70 + i as u64);
        let data = Data::varied(70 + i as u64);
        for (max_len, k) in [(1, 1), (1, 3), (4, 1), (4, 3), (7, 2)] {
            let c = cfg(max_len, k, 0.75);
            let hyps = m.beam_search(data.src.view(), &data.src_len, c).unwrap();
            assert_eq!(hyps.len(), 3);
            for (b, h) in hyps.iter().enumerate() {
                if !is_cut_short(&m, &data, b, h, max_len) {
                    check_hypothesis(&m, &data, b, h, c); // else: see the test below
                }
                let src = data.src.slice(s![.., b..=b]);
                let alone = m.beam_search(src, &data.src_len[b..=b], c).unwrap();
                assert_eq!(&alone[0], h);
            }
        }
        // <eos> always wins: empty outputs of probability ~1.
        m.output.bias.as_mut().unwrap()[EOS] = 100.0;
        for k in [1, 3] {
            for h in m
                .beam_search(data.src.view(), &data.src_len, cfg(5, k, 0.75))
                .unwrap()
            {
                assert!(h.tokens.is_empty() && h.log_prob > -1e-30, "{h:?}");
            }
        }
        // <eos> never wins: every output has exactly max_len tokens.
        m.output.bias.as_mut().unwrap()[EOS] = -100.0;
        for (max_len, k) in [(1, 1), (4, 1), (4, 3)] {
            let hyps = m.beam_search(data.src.view(), &data.src_len, cfg(max_len, k, 0.75));
            assert!(hyps.unwrap().iter().all(|h| h.tokens.len() == max_len));
        }
    }
}

/// Beam search returns only finished hypotheses, or ones cut off by `max_len`. Model `Concat`,
/// 1 layer, seed 52, `Data::varied(52)`, max_len 5, beam 2, alpha 0.75 once returned `[4, 4, 4]`
/// scored on log P(4 4 4) without `<eos>` (-1.6349), beating the finished hypotheses.
#[test]

fn beam_returns_only_finished_hypotheses() {
    let m = model(Concat, 1, 52);
    let data = Data::varied(52);
    let c = cfg(5, 2, 0.75);
    let hyps = m.beam_search(data.src.view(), &data.src_len, c).unwrap();
    for (b, h) in hyps.iter().enumerate() {
        check_hypothesis(&m, &data, b, h, c);
    }
}

#[test]
fn checkpoint_round_trip_is_identical() {
    for (i, (context, layers)) in CASES.into_iter().enumerate() {
        let m = model(context, layers, 80 + i as u64);
        let extra = HashMap::from([("note".to_string(), "hello".to_string())]);
        let bytes = m.to_bytes(extra).unwrap();
        let (back, meta) = Seq2Seq::<f64>::from_bytes(&bytes).unwrap();
        assert_eq!(back, m);
        assert_eq!(meta["note"], "hello");
        let data = Data::varied(80);
        let (a, b) = (data.run(&m).unwrap(), data.run(&back).unwrap());
        assert_eq!((a.loss.to_bits(), a.grads), (b.loss.to_bits(), b.grads));
        let c = cfg(5, 3, 0.75);
        let decode = |m: &Seq2Seq<f64>| m.beam_search(data.src.view(), &data.src_len, c).unwrap();
        assert_eq!(decode(&m), decode(&back));
        let again = Seq2Seq::<f64>::from_bytes(&back.to_bytes(meta.clone()).unwrap()).unwrap();
        assert_eq!(again, (back, meta));
        let truncated = Seq2Seq::<f64>::from_bytes(&bytes[..bytes.len() - 8]);
        assert!(
            matches!(truncated, Err(Error::Checkpoint(_))),
            "{truncated:?}"
        );
    }
    let m32 = Seq2Seq::<f32>::new(model(Concat, 2, 0).config().clone(), Init::Uniform, 9);
    let m32 = m32.unwrap();
    let (back, _) = Seq2Seq::<f32>::from_bytes(&m32.to_bytes(HashMap::new()).unwrap()).unwrap();
    assert_eq!(back, m32);
}

fn invalid_named<T: std::fmt::Debug>(r: Result<T>, name: &str) {
    match r {
        Err(Error::InvalidArgument { ref what, .. }) if what == name => {}
        other => panic!("expected InvalidArgument for {name}, got {other:?}"),
    }
}

fn out_of_range<T: std::fmt::Debug>(r: Result<T>, id: i64) {
    match r {
        Err(Error::TokenOutOfRange { id: got, .. }) if got == id => {}
        other => panic!("expected TokenOutOfRange for {id}, got {other:?}"),
    }
}

#[test]
fn caller_errors_are_errors() {
    let m = model(Concat, 2, 90);
    let data = Data::varied(90);
    let with = |f: &dyn Fn(&mut Data)| {
        let mut d = data.clone();
        f(&mut d);
        d.run(&m).map(|s| s.loss)
    };
    invalid_named(with(&|d| d.tgt_len[1] = 0), "tgt_valid_len");
    invalid_named(with(&|d| d.tgt_len[0] = 5), "tgt_valid_len");
    assert!(matches!(
        with(&|d| d.src_len[2] = 0),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        with(&|d| d.src_len[0] = 6),
        Err(Error::InvalidArgument { .. })
    ));
    out_of_range(with(&|d| d.src[[4, 0]] = SRC_VOCAB), SRC_VOCAB as i64);
    out_of_range(with(&|d| d.tgt_in[[3, 2]] = TGT_VOCAB), TGT_VOCAB as i64);
    out_of_range(with(&|d| d.tgt_out[[3, 2]] = 99), 99);
    let shape = |r: Result<f64>| assert!(matches!(r, Err(Error::ShapeMismatch { .. })), "{r:?}");
    shape(with(&|d| d.tgt_len.push(1)));
    shape(with(&|d| d.src_len.pop().map(drop).unwrap()));
    shape(with(&|d| {
        d.tgt_out = d.tgt_out.slice(s![..3, ..]).to_owned()
    }));
    shape(with(&|d| d.src = d.src.slice(s![.., ..2]).to_owned()));

    let decode = |c: DecodeConfig, src_len: &[usize]| m.beam_search(data.src.view(), src_len, c);
    let ok = &data.src_len[..];
    invalid_named(decode(cfg(5, 0, 0.75), ok), "beam_size");
    invalid_named(decode(cfg(0, 3, 0.75), ok), "max_len");
    invalid_named(decode(cfg(0, 1, 0.75), ok), "max_len");
    invalid_named(decode(cfg(5, 2, -1.0), ok), "alpha");
    invalid_named(decode(cfg(5, 2, f64::NAN), ok), "alpha");
    out_of_range(
        decode(
            DecodeConfig {
                bos: 7,
                ..cfg(5, 2, 0.75)
            },
            ok,
        ),
        7,
    );
    out_of_range(
        decode(
            DecodeConfig {
                eos: 8,
                ..cfg(5, 1, 0.75)
            },
            ok,
        ),
        8,
    );
    assert!(matches!(
        decode(cfg(5, 2, 0.75), &[5, 0, 3]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        decode(cfg(5, 2, 0.75), &[5, 6, 3]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        decode(cfg(5, 2, 0.75), &[5, 3]),
        Err(Error::ShapeMismatch { .. })
    ));
    let mut bad_src = data.src.clone();
    bad_src[[0, 1]] = SRC_VOCAB;
    out_of_range(
        m.greedy(bad_src.view(), ok, cfg(5, 1, 0.75)),
        SRC_VOCAB as i64,
    );
}

#[test]
fn models_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Seq2Seq<f32>>();
    check::<Seq2Seq<f64>>();
    check::<Hypothesis>();
}

#[test]
fn loss_without_gradients_is_that_of_loss_and_grads_bit_for_bit() {
    common::at_every_level(|| {
        for (i, (context, layers)) in CASES.into_iter().enumerate() {
            let m = model(context, layers, 50 + i as u64);
            for data in [Data::varied(50 + i as u64), many(60 + i as u64)] {
                let step = data.run(&m).unwrap();
                let (loss, tokens) = m.loss(&data.batch()).unwrap();
                assert_eq!(loss.to_bits(), step.loss.to_bits(), "{context:?} {layers}");
                assert_eq!(tokens, step.tokens);
            }
        }
    });
}

/// The attention's public step checks every shape a caller gives it.
#[test]
fn attention_step_checks_its_shapes() {
    let m = model(Attend, 1, 11);
    let att = m.attention.as_ref().unwrap();
    let values = ndarray::Array3::<f64>::zeros((5, 2, HIDDEN)); // (Ts, S, H)
    let memory = att.memory(values.view(), &[5, 2], 1).unwrap();
    let mut scratch = att.scratch(&memory).unwrap();
    let queries = Array2::<f64>::zeros((2, HIDDEN));
    let (mut q, mut w, mut c) = (
        Array2::<f64>::zeros((2, HIDDEN)),
        Array2::<f64>::zeros((2, 5)),
        Array2::<f64>::zeros((2, HIDDEN)),
    );
    att.attend(
        &memory,
        queries.view(),
        q.view_mut(),
        w.view_mut(),
        c.view_mut(),
        &mut scratch,
    )
    .unwrap();
    let wrong = Array2::<f64>::zeros((3, HIDDEN));
    let r = att.attend(
        &memory,
        wrong.view(),
        q.view_mut(),
        w.view_mut(),
        c.view_mut(),
        &mut scratch,
    );
    assert!(matches!(r, Err(Error::ShapeMismatch { .. })), "{r:?}");
    let mut short = Array2::<f64>::zeros((2, 4));
    let r = att.attend(
        &memory,
        queries.view(),
        q.view_mut(),
        short.view_mut(),
        c.view_mut(),
        &mut scratch,
    );
    assert!(matches!(r, Err(Error::ShapeMismatch { .. })), "{r:?}");
    assert!(att.memory(values.view(), &[6, 2], 1).is_err());
    assert!(att.memory(values.view(), &[5], 1).is_err());
}
