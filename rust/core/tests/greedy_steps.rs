//! `Seq2Seq::greedy_steps` shows the steps of `Seq2Seq::greedy`: the same tokens, the
//! log-probability of the chosen tokens summed from its logits equals greedy's, the encoder
//! states end in the encoder's final state, the decoder states give the logits through the
//! output layer, and caller errors are `Err`.
//!
//! Sizes: source vocab 6, target vocab 5, embed 2, hidden 3, source steps 4.

use ndarray::{Array2, Axis};
use seqrnn::{Context, DecodeConfig, Error, Init, Seq2Seq, Seq2SeqConfig};

const BOS: usize = 0;
const EOS: usize = 1;

fn model(context: Context, num_layers: usize, seed: u64) -> Seq2Seq<f64> {
    let config = Seq2SeqConfig {
        src_vocab_size: 6,
        tgt_vocab_size: 5,
        embed_size: 2,
        hidden_size: 3,
        num_layers,
        context,
        dropout: 0.0,
        attention: seqrnn::Attention::None,
    };
    Seq2Seq::new(config, Init::Uniform, seed).unwrap()
}

fn cfg(max_len: usize) -> DecodeConfig {
    DecodeConfig {
        bos: BOS,
        eos: EOS,
        max_len,
        beam_size: 1,
        alpha: 0.75,
    }
}

fn log_softmax_at(row: ndarray::ArrayView1<'_, f64>, v: usize) -> f64 {
    let max = row.fold(f64::NEG_INFINITY, |m, &z| m.max(z));
    row[v] - max - row.mapv(|z| (z - max).exp()).sum().ln()
}

#[test]
fn steps_match_greedy_decoding() {
    let sentences: [&[usize]; 4] = [&[2, 3, 4, 5], &[3], &[5, 5, 2], &[4, 2]];
    let mut checked_eos = false;
    for (i, (context, layers)) in [(Context::Concat, 1), (Context::None, 2)]
        .into_iter()
        .enumerate()
    {
        for seed in 0..6u64 {
            let m = model(context, layers, 10 * i as u64 + seed);
            for src in sentences {
                for max_len in [1, 3, 8] {
                    let steps = m.greedy_steps(src, cfg(max_len)).unwrap();
                    let ids = Array2::from_shape_fn((src.len(), 1), |(t, _)| src[t]);
                    let greedy = m.greedy(ids.view(), &[src.len()], cfg(max_len)).unwrap();
                    let hyp = &greedy[0];
                    let n = steps.tokens.len();
                    assert!(n <= max_len && n >= 1);
                    let ended = steps.tokens[n - 1] == EOS;
                    checked_eos |= ended;
                    let body = if ended {
                        &steps.tokens[..n - 1]
                    } else {
                        &steps.tokens[..]
                    };
                    assert_eq!(body, &hyp.tokens[..], "{context:?} {layers} {src:?}");
                    assert_eq!(steps.logits.dim(), (n, 5));
                    assert_eq!(steps.decoder_states.dim(), (n, 3));
                    let lp: f64 = (0..n)
                        .map(|t| log_softmax_at(steps.logits.row(t), steps.tokens[t]))
                        .sum();
                    assert!((lp - hyp.log_prob).abs() < 1e-12 * hyp.log_prob.abs().max(1.0));
                    let logits = m.output.forward(steps.decoder_states.view()).unwrap();
                    assert!((&logits - &steps.logits).iter().all(|d| d.abs() < 1e-14));
                    let h_n = m.encode(ids.view(), &[src.len()]).unwrap().h_n();
                    let top = h_n.index_axis(Axis(0), layers - 1);
                    assert_eq!(steps.encoder_states.dim(), (src.len(), 3));
                    assert_eq!(steps.encoder_states.row(src.len() - 1), top.row(0));
                }
            }
        }
    }
    assert!(checked_eos, "no case stopped at <eos>");
}

#[test]
fn caller_errors_are_errors() {
    let m = model(Context::Concat, 1, 0);
    let bad = |src: &[usize], c: DecodeConfig| m.greedy_steps(src, c).unwrap_err();
    assert!(matches!(bad(&[], cfg(3)), Error::InvalidArgument { .. }));
    assert!(matches!(bad(&[6], cfg(3)), Error::TokenOutOfRange { .. }));
    assert!(matches!(bad(&[2], cfg(0)), Error::InvalidArgument { .. }));
    let eos_out = DecodeConfig { eos: 5, ..cfg(3) };
    assert!(matches!(bad(&[2], eos_out), Error::TokenOutOfRange { .. }));
}
