//! Generation: nucleus sampling on hand-made logits, stop tokens, and batched generation
//! against one prefix at a time.

use ndarray::Array1;
use seqrnn::{Error, Init, LanguageModel, LmConfig, SamplingConfig};

/// A model whose logits are `ln(probs)` at every step, whatever the input: the output layer
/// ignores the state.
fn fixed(probs: &[f64]) -> LanguageModel<f64> {
    let mut lm = LanguageModel::new(LmConfig::new(probs.len(), 3), Init::Uniform, 0).unwrap();
    lm.output.weight.fill(0.0);
    lm.output.bias = Some(Array1::from_iter(probs.iter().map(|p| p.ln())));
    lm
}

/// How often each token comes in `n` draws (one long generation: the draws are independent).
fn frequencies(lm: &LanguageModel<f64>, cfg: SamplingConfig, n: usize) -> Vec<f64> {
    let out = lm.generate(&[0], n, cfg, 3).unwrap();
    let mut counts = vec![0.0; lm.config().vocab_size];
    for &t in &out[1..] {
        counts[t] += 1.0 / n as f64;
    }
    counts
}

fn sampling(temperature: f64, top_k: Option<usize>, top_p: Option<f64>) -> SamplingConfig {
    SamplingConfig {
        temperature,
        top_k,
        top_p,
    }
}

/// Draws can only be the tokens of `expected` (probability > 0), at about those rates.
fn assert_close(got: &[f64], expected: &[f64]) {
    for (g, e) in got.iter().zip(expected) {
        if *e == 0.0 {
            assert_eq!(*g, 0.0, "{got:?} vs {expected:?}");
        } else {
            assert!((g - e).abs() < 0.03, "{got:?} vs {expected:?}");
        }
    }
}

const PROBS: [f64; 4] = [0.15, 0.5, 0.05, 0.3];

#[test]
fn nucleus_keeps_the_smallest_set_reaching_p() {
    let lm = fixed(&PROBS);
    // 0.5 + 0.3 = 0.8 reaches 0.7: tokens 1 and 3, renormalized.
    let f = frequencies(&lm, sampling(1.0, None, Some(0.7)), 4000);
    assert_close(&f, &[0.0, 0.625, 0.0, 0.375]);
    // 0.95 reaches 0.9: three tokens.
    let f = frequencies(&lm, sampling(1.0, None, Some(0.9)), 4000);
    assert_close(&f, &[0.15 / 0.95, 0.5 / 0.95, 0.0, 0.3 / 0.95]);
    // Never fewer than one token.
    let f = frequencies(&lm, sampling(1.0, None, Some(0.01)), 200);
    assert_close(&f, &[0.0, 1.0, 0.0, 0.0]);
    // p = 1 is no cut.
    let f = frequencies(&lm, sampling(1.0, None, Some(1.0)), 4000);
    assert_close(&f, &PROBS);
}

#[test]
fn temperature_then_top_k_then_top_p() {
    let lm = fixed(&PROBS);
    // Temperature 2: probabilities in proportion to sqrt(p): 0.208 0.379 0.120 0.294; 0.7 needs
    // three tokens now (0.379 + 0.294 = 0.673).
    let root: Vec<f64> = PROBS.iter().map(|p| p.sqrt()).collect();
    let kept = root[0] + root[1] + root[3];
    let f = frequencies(&lm, sampling(2.0, None, Some(0.7)), 4000);
    assert_close(&f, &[root[0] / kept, root[1] / kept, 0.0, root[3] / kept]);
    // top_k = 2 first (0.625, 0.375), then 0.6 is reached by the first token alone.
    let f = frequencies(&lm, sampling(1.0, Some(2), Some(0.6)), 200);
    assert_close(&f, &[0.0, 1.0, 0.0, 0.0]);
    // top_k = 3 (0.526, 0.316, 0.158), then 0.85 needs all three.
    let f = frequencies(&lm, sampling(1.0, Some(3), Some(0.85)), 4000);
    assert_close(&f, &[0.15 / 0.95, 0.5 / 0.95, 0.0, 0.3 / 0.95]);
}

#[test]
fn top_p_outside_zero_one_is_an_error() {
    let lm = fixed(&PROBS);
    for p in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        let r = lm.generate(&[0], 3, sampling(1.0, None, Some(p)), 0);
        assert!(
            matches!(&r, Err(Error::InvalidArgument { what, .. }) if what == "top_p"),
            "{p}: {r:?}"
        );
    }
}

#[test]
fn a_stop_token_ends_its_stream_and_is_kept() {
    let lm = fixed(&[0.25, 0.25, 0.25, 0.25]);
    let cfg = sampling(1.0, None, None);
    let out = lm
        .generate_batch(&[vec![2, 2], vec![1]], 200, cfg, Some(2), 5)
        .unwrap();
    for (o, prefix_len) in out.iter().zip([2, 1]) {
        let new = &o[prefix_len..];
        assert!(new.len() < 200, "stops long before 200 tokens");
        assert_eq!(new.last(), Some(&2));
        assert!(!new[..new.len() - 1].contains(&2));
    }
    // Up to the stop, the same as without one.
    let free = lm.generate(&[2, 2], 200, cfg, 5).unwrap();
    assert_eq!(out[0], free[..out[0].len()]);
    let r = lm.generate_batch(&[[0]], 3, cfg, Some(4), 0);
    assert!(
        matches!(r, Err(Error::TokenOutOfRange { what, id: 4, vocab_size: 4 }) if what == "stop")
    );
}

#[test]
fn batched_generation_equals_one_prefix_at_a_time() {
    let prefixes = [vec![1, 2, 3, 4], vec![5], vec![0, 0, 7], vec![6, 1]];
    for (layers, embed) in [(1, None), (2, Some(3))] {
        let config = LmConfig {
            num_layers: layers,
            embed_size: embed,
            ..LmConfig::new(8, 16)
        };
        let lm = LanguageModel::<f32>::new(config, Init::Uniform, 1).unwrap();
        for cfg in [SamplingConfig::GREEDY, sampling(1.0, None, Some(0.9))] {
            let batch = lm.generate_batch(&prefixes, 20, cfg, None, 40).unwrap();
            for (i, (p, b)) in prefixes.iter().zip(&batch).enumerate() {
                assert_eq!(
                    *b,
                    lm.generate(p, 20, cfg, 40 + i as u64).unwrap(),
                    "{i} {cfg:?}"
                );
            }
        }
    }
}

#[test]
fn batch_arguments_are_checked() {
    let lm = fixed(&PROBS);
    let none: [Vec<usize>; 0] = [];
    let r = lm.generate_batch(&none, 3, SamplingConfig::GREEDY, None, 0);
    assert!(matches!(r, Err(Error::InvalidArgument { what, .. }) if what == "prefixes"));
    let r = lm.generate_batch(&[vec![1], vec![]], 3, SamplingConfig::GREEDY, None, 0);
    assert!(matches!(r, Err(Error::InvalidArgument { what, .. }) if what == "prefix 1"));
    let r = lm.generate_batch(&[vec![1], vec![9]], 3, SamplingConfig::GREEDY, None, 0);
    assert!(matches!(r, Err(Error::TokenOutOfRange { what, id: 9, .. }) if what == "prefix 1"));
}
