//! Every long call of the crate stops within a fraction of a second once the hook of
//! `interrupt::with_hook` says stop, with `Error::Interrupted`; a hook that never says stop
//! changes no number; without a hook nothing stops.
//!
//! Each call is given work for seconds (memory kept to a few hundred megabytes); the hook
//! answers `true` from its first call, which comes about 50 ms in.

use ndarray::{Array2, Array3};
use seqrnn::seq2seq::Batch;
use seqrnn::vocab::{self, Level};
use seqrnn::{interrupt, Context, DecodeConfig, Error, Init, LanguageModel, LmConfig, Parameters};
use seqrnn::{Error::Interrupted, Vocab};
use seqrnn::{Result, Rnn, RnnConfig, RnnInput, SamplingConfig, Seq2Seq, Seq2SeqConfig, Stream};
use std::time::{Duration, Instant};

/// Runs `work` with a hook that says stop; fails unless it stopped with `Interrupted` in time.
fn stops<R: std::fmt::Debug>(what: &str, work: impl FnOnce() -> Result<R>) {
    let start = Instant::now();
    let r = interrupt::with_hook(|| true, work);
    let took = start.elapsed();
    assert!(matches!(r, Err(Interrupted)), "{what}: {r:?}");
    // One step of work between two polls takes far longer in an unoptimized build of the
    // portable kernels (about 0.8 s for a 16 x 1024 x 1024 product).
    let limit = Duration::from_millis(if cfg!(debug_assertions) { 2500 } else { 700 });
    assert!(took < limit, "{what} took {took:?} to stop");
}

fn lm(hidden: usize) -> LanguageModel<f32> {
    LanguageModel::new(LmConfig::new(30, hidden), Init::Uniform, 0).expect("a model")
}

/// A translation model whose decoder never picks `<eos>` (id 2), so decoding runs to max_len.
fn seq2seq(hidden: usize, context: Context) -> Seq2Seq<f32> {
    let config = Seq2SeqConfig {
        src_vocab_size: 20,
        tgt_vocab_size: 40,
        embed_size: 16,
        hidden_size: hidden,
        num_layers: 2,
        context,
        dropout: 0.0,
        attention: seqrnn::Attention::None,
    };
    let mut m = Seq2Seq::new(config, Init::Uniform, 0).expect("a small model");
    for (name, mut p) in m.named_mut() {
        if name == "decoder.output.bias" {
            p[[2]] = -1e9;
        }
    }
    m
}

const DECODE: DecodeConfig = DecodeConfig {
    bos: 1,
    eos: 2,
    max_len: 1_000_000,
    beam_size: 4,
    alpha: 0.75,
};

#[test]
fn language_model_calls_stop() {
    let lm = lm(64);
    stops("generate", || {
        lm.generate(&[1, 2], 20_000_000, SamplingConfig::GREEDY, 0)
    });
    let corpus: Vec<usize> = (0..5_000_000).map(|i| i * 7 % 30).collect();
    stops("perplexity", || lm.perplexity(&corpus, 32, 64));
    let big = self::lm(1024);
    let ids = Array2::from_shape_fn((3000, 16), |(t, b)| (t + b) % 30); // (steps, batch)
    stops("logits", || big.logits(ids.view(), None));
    // 16 sequences: two parts on two threads; the helper's part stops with the caller's.
    stops("loss_and_grads", || {
        big.loss_and_grads(ids.view(), ids.view(), None, None)
    });
    let mut stream = Stream::new(&lm, 0);
    let long = vec![3; 5_000_000];
    stops("Stream::feed", || {
        stream.feed(&lm, &long).map(|z| z.to_owned())
    });
    // The stream goes on from where it stopped.
    assert_eq!(stream.feed(&lm, &[1]).map(|z| z.len()).ok(), Some(30));
}

#[test]
fn rnn_forward_and_backward_stop() {
    let rnn = Rnn::<f32>::new(RnnConfig::new(8, 1024), Init::Uniform, 0).expect("an RNN");
    let x = Array3::from_elem((10_000, 1, 8), 0.1f32); // (steps, batch, input)
    stops("Rnn::forward", || {
        rnn.forward(RnnInput::Dense(x.clone()), None, None)
    });
    let cache = rnn
        .forward(
            RnnInput::Dense(x.slice_move(ndarray::s![..2000, .., ..])),
            None,
            None,
        )
        .expect("a forward pass");
    let d = Array3::from_elem((2000, 1, 1024), 1e-3f32);
    stops("Rnn::backward", || {
        rnn.backward(&cache, Some(d.view()), None)
    });
}

#[test]
fn decoding_stops() {
    let m = seq2seq(64, Context::Concat);
    let src = Array2::from_shape_fn((5, 8), |(t, b)| (t + b) % 20); // (steps, batch)
    let lens = [5; 8];
    stops("beam_search", || m.beam_search(src.view(), &lens, DECODE));
    stops("greedy", || m.greedy(src.view(), &lens, DECODE));
    let m = seq2seq(512, Context::Concat);
    let cfg = DecodeConfig {
        max_len: 20_000,
        ..DECODE
    };
    stops("greedy_steps", || m.greedy_steps(&[3, 4, 5], cfg));
    // Without the context in the decoder input, the time loop dominates the work (a single
    // product, such as the input projection of all steps, is never cut).
    let m = seq2seq(512, Context::None);
    let tgt = Array2::from_shape_fn((4000, 16), |(t, b)| (t + b) % 40); // (steps, batch)
    let (src_len, tgt_len) = ([5; 16], [4000; 16]);
    let src = Array2::from_shape_fn((5, 16), |(t, b)| (t + b) % 20);
    let batch = Batch {
        src: src.view(),
        src_len: &src_len,
        tgt_in: tgt.view(),
        tgt_out: tgt.view(),
        tgt_len: &tgt_len,
    };
    stops("Seq2Seq::loss_and_grads", || m.loss_and_grads(&batch));
}

#[test]
fn text_calls_stop() {
    let text = "The Time Machine, by H. G. Wells! ".repeat(1_000_000); // 34 MB
    let more = text.repeat(4); // 0.1 s or more: the hook's first call comes in time
    stops("preprocess_d2l", || vocab::preprocess_d2l(&more));
    stops("tokenize", || vocab::tokenize(&text, Level::Char));
    let tokens: Vec<String> = (0..5_000_000).map(|i| format!("w{}", i % 5000)).collect();
    stops("Vocab::new", || Vocab::new(&tokens, 0, &[]));
    let v = Vocab::new(&tokens[..5000], 0, &[]).expect("a vocabulary");
    let many: Vec<&str> = tokens
        .iter()
        .map(String::as_str)
        .cycle()
        .take(20_000_000)
        .collect();
    stops("Vocab::encode", || v.encode(&many));
}

#[test]
fn a_hook_that_never_stops_changes_nothing() -> Result<()> {
    let lm = lm(64);
    let sampling = SamplingConfig {
        temperature: 1.0,
        top_k: Some(5),
        top_p: None,
    };
    let plain = lm.generate(&[1], 20_000, sampling, 7)?;
    let hooked = interrupt::with_hook(|| false, || lm.generate(&[1], 20_000, sampling, 7))?;
    assert_eq!(plain, hooked);
    let ids = Array2::from_shape_fn((3000, 32), |(t, b)| (t * 3 + b) % 30);
    let plain = lm.loss_and_grads(ids.view(), ids.view(), None, None)?;
    let hooked = interrupt::with_hook(
        || false,
        || lm.loss_and_grads(ids.view(), ids.view(), None, None),
    )?;
    assert_eq!(plain.loss, hooked.loss);
    assert_eq!(plain.grads.state_dict(), hooked.grads.state_dict());
    let m = seq2seq(64, Context::Concat);
    let src = Array2::from_shape_fn((5, 3), |(t, b)| (t + b) % 20);
    let cfg = DecodeConfig {
        max_len: 3000,
        ..DECODE
    };
    let plain = m.beam_search(src.view(), &[5, 4, 3], cfg)?;
    let hooked = interrupt::with_hook(|| false, || m.beam_search(src.view(), &[5, 4, 3], cfg))?;
    assert_eq!(plain, hooked);
    Ok(())
}

#[test]
fn no_hook_no_interruption() -> Result<()> {
    // An `Interrupted` never comes without a hook, even from a thread where one was installed.
    let lm = lm(64);
    let _ = interrupt::with_hook(
        || true,
        || lm.generate(&[1], 10_000_000, SamplingConfig::GREEDY, 0),
    );
    assert_eq!(
        lm.generate(&[1], 50_000, SamplingConfig::GREEDY, 0)?.len(),
        50_001
    );
    assert_eq!(Error::Interrupted.to_string(), "interrupted");
    Ok(())
}
