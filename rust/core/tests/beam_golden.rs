//! Beam search against recorded results: the tokens, log-probability and score of every
//! sentence of 128 decodings (f64 models of both contexts and depths, `<eos>` as likely as any
//! token or favoured, beams 1, 2, 3, 5, alpha 0 and 0.75, `max_len` 3 and 9),
//! recorded in `golden/beam_search.txt`. Tokens must match exactly; the numbers to 1e-12
//! (relative), since kernels of other instruction sets round differently. The test reports how
//! many numbers were bit-identical.
//!
//! `SEQRNN_BLESS=1 cargo test -p seqrnn --test beam_golden` records the file anew, for a
//! change that means to change the results.
//!
//! Sizes: source vocab 9, target vocab 11, embed 5, hidden 8, batch 4, source steps 6.

mod common;

use ndarray::Array2;
use seqrnn::{Context, DecodeConfig, Hypothesis, Init, Parameters, Seq2Seq, Seq2SeqConfig};
use std::fmt::Write;

const BOS: usize = 1;
const EOS: usize = 2;
const SRC_LEN: [usize; 4] = [6, 2, 4, 1];
const TOL: f64 = 1e-12;

fn golden_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/beam_search.txt")
}

/// A model with its weights tripled, so that its next-token distributions are far from flat.
fn model(context: Context, num_layers: usize, seed: u64, eos_bias: f64) -> Seq2Seq<f64> {
    let config = Seq2SeqConfig {
        src_vocab_size: 9,
        tgt_vocab_size: 11,
        embed_size: 5,
        hidden_size: 8,
        num_layers,
        context,
        dropout: 0.0,
        attention: seqrnn::Attention::None,
    };
    let mut m = Seq2Seq::new(config, Init::Uniform, seed).unwrap();
    for (_, mut t) in m.named_mut() {
        t.mapv_inplace(|x| 3.0 * x);
    }
    m.output.bias.as_mut().unwrap()[EOS] += eos_bias;
    m
}

/// Source ids `(6, 4)` of `seed` (a linear congruential sequence).
fn source(seed: u64) -> Array2<usize> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    Array2::from_shape_simple_fn((6, 4), || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize % 9
    })
}

/// One line per sentence: `case | tokens | log_prob score`, numbers in Rust's shortest
/// round-trip form.
fn decode_all() -> String {
    let mut out = String::new();
    let models = [
        (Context::Concat, 1),
        (Context::Concat, 2),
        (Context::None, 1),
        (Context::None, 2),
    ];
    for (seed, (context, layers)) in (3..).zip(models) {
        for eos_bias in [0.0, 2.0] {
            let m = model(context, layers, seed, eos_bias);
            let src = source(seed);
            for beam_size in [1, 2, 3, 5] {
                for alpha in [0.0, 0.75] {
                    for max_len in [3, 9] {
                        let cfg = DecodeConfig {
                            bos: BOS,
                            eos: EOS,
                            max_len,
                            beam_size,
                            alpha,
                        };
                        let hyps = m.beam_search(src.view(), &SRC_LEN, cfg).unwrap();
                        let case = format!(
                            "{context:?} {layers} seed {seed} eos+{eos_bias} k {beam_size} \
                             alpha {alpha} max_len {max_len}"
                        );
                        for (b, h) in hyps.iter().enumerate() {
                            writeln!(out, "{case} #{b} | {}", line(h)).unwrap();
                        }
                    }
                }
            }
        }
    }
    out
}

fn line(h: &Hypothesis) -> String {
    let tokens: Vec<String> = h.tokens.iter().map(usize::to_string).collect();
    format!("{} | {:?} {:?}", tokens.join(" "), h.log_prob, h.score)
}

/// `(case and tokens, [log_prob, score])` of a line.
fn split(line: &str) -> (&str, [f64; 2]) {
    let (head, numbers) = line.rsplit_once(" | ").unwrap();
    let mut it = numbers.split(' ').map(|x| x.parse::<f64>().unwrap());
    (head, [it.next().unwrap(), it.next().unwrap()])
}

#[test]
fn beam_search_gives_the_recorded_results() {
    if std::env::var_os("SEQRNN_BLESS").is_some() {
        std::fs::write(golden_path(), decode_all()).unwrap();
    }
    let want = std::fs::read_to_string(golden_path()).unwrap();
    common::at_every_level(|| {
        let got = decode_all();
        assert_eq!(got.lines().count(), want.lines().count());
        let (mut same_bits, mut numbers) = (0, 0);
        for (g, w) in got.lines().zip(want.lines()) {
            let ((g_head, g_nums), (w_head, w_nums)) = (split(g), split(w));
            assert_eq!(g_head, w_head);
            for (a, b) in g_nums.into_iter().zip(w_nums) {
                assert!(
                    (a - b).abs() <= TOL * b.abs().max(1.0),
                    "{g}\nrecorded: {w}"
                );
                same_bits += usize::from(a.to_bits() == b.to_bits());
                numbers += 1;
            }
        }
        println!("{same_bits} of {numbers} numbers bit-identical");
    });
}
