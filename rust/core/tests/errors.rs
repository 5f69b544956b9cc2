//! Every caller error comes back as the right `Error` variant (never a panic), models are
//! deterministic in their seed, the public types are `Send + Sync`, and f32 agrees with f64.
//!
//! Shapes (time-major): dense RNN input `(steps, batch, input)`, ids `(steps, batch)`,
//! `h0` `(num_layers, batch, hidden)`, `lengths` `(batch,)`, logits `(steps, batch, vocab)`.

use ndarray::{arr1, arr2, Array2, Array3, ArrayD, ArrayViewD};
use seqrnn::embedding::ids_from_i64;
use seqrnn::{alloc, Embedding, Error, Init, LanguageModel, Linear, LmConfig, LmStep};
use seqrnn::{Nonlinearity, Optimizer, Parameters, Result, Rnn, RnnConfig, RnnInput};

/// Input 3, hidden 4, 2 layers.
fn rnn() -> Rnn<f64> {
    let mut config = RnnConfig::new(3, 4);
    config.num_layers = 2;
    Rnn::new(config, Init::Uniform, 0).unwrap()
}

fn lm_config(vocab: usize, hidden: usize, layers: usize, embed: Option<usize>) -> LmConfig {
    let mut config = LmConfig::new(vocab, hidden);
    config.num_layers = layers;
    config.embed_size = embed;
    config
}

/// Vocab 4, hidden 3, 2 layers, optional embedding.
fn lm(embed: Option<usize>) -> LanguageModel<f64> {
    LanguageModel::new(lm_config(4, 3, 2, embed), Init::Uniform, 0).unwrap()
}

/// `lm.loss_and_grads` on borrowed owned arrays.
fn step(
    lm: &LanguageModel<f64>,
    x: &Array2<usize>,
    y: &Array2<usize>,
    mask: Option<&Array2<f64>>,
    state: Option<&Array3<f64>>,
) -> Result<LmStep<f64>> {
    lm.loss_and_grads(
        x.view(),
        y.view(),
        mask.map(|m| m.view()),
        state.map(|s| s.view()),
    )
}

fn dense(steps: usize, batch: usize, n: usize) -> RnnInput<f64> {
    RnnInput::Dense(Array3::from_elem((steps, batch, n), 0.1))
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

fn views<T>(d: &[(String, ArrayD<T>)]) -> Vec<(String, ArrayViewD<'_, T>)> {
    d.iter().map(|(n, t)| (n.clone(), t.view())).collect()
}

#[test]
fn wrong_input_shape() {
    let rnn = rnn();
    assert!(is_shape(rnn.forward(dense(4, 2, 5), None, None)));
    let cache = rnn.forward(dense(4, 2, 3), None, None).unwrap();
    let (d_out, d_h_n) = (Array3::zeros((4, 2, 3)), Array3::zeros((1, 2, 4)));
    assert!(is_shape(rnn.backward(&cache, Some(d_out.view()), None)));
    assert!(is_shape(rnn.backward(&cache, None, Some(d_h_n.view()))));
    let lin = Linear::<f64>::new(3, 2, true, Init::Uniform, 0).unwrap();
    let (x, dy) = (Array2::zeros((5, 3)), Array2::zeros((5, 3)));
    assert!(is_shape(lin.forward(Array2::zeros((5, 4)).view())));
    assert!(is_shape(lin.backward(x.view(), dy.view())));
    let lm = lm(None);
    let x = ids(3, 2, 1);
    assert!(is_shape(step(&lm, &x, &ids(3, 1, 0), None, None)));
    assert!(is_shape(step(
        &lm,
        &x,
        &x,
        Some(&Array2::ones((2, 3))),
        None
    )));
    let emb = Embedding::<f64>::new(4, 2, Init::Uniform, 0).unwrap();
    let d_emb = Array3::zeros((3, 2, 3));
    assert!(is_shape(emb.backward(x.view(), d_emb.view())));
}

#[test]
fn token_out_of_range() {
    let one_hot = RnnInput::OneHot(ids(2, 2, 3));
    assert!(is_token(rnn().forward(one_hot, None, None), "input", 3, 3));
    for embed in [None, Some(2)] {
        let lm = lm(embed);
        let (good, bad) = (ids(3, 2, 1), ids(3, 2, 4));
        assert!(is_token(step(&lm, &bad, &good, None, None), "inputs", 4, 4));
        assert!(is_token(
            step(&lm, &good, &bad, None, None),
            "targets",
            4,
            4
        ));
        assert!(is_token(lm.logits(bad.view(), None), "inputs", 4, 4));
    }
    let emb = Embedding::<f64>::new(4, 2, Init::Uniform, 0).unwrap();
    let d_emb = Array3::zeros((2, 2, 2));
    assert!(is_token(emb.forward(ids(2, 2, 9).view()), "ids", 9, 4));
    assert!(is_token(
        emb.backward(ids(2, 2, 4).view(), d_emb.view()),
        "ids",
        4,
        4
    ));
    let (logits, targets) = (Array2::<f64>::zeros((2, 3)), arr1(&[0, 3]));
    let ce = seqrnn::loss::cross_entropy(logits.view(), targets.view(), None);
    assert!(is_token(ce, "targets", 3, 3));
}

#[test]
fn ids_from_i64_rejects_negative_and_large_ids() {
    let negative = arr2(&[[0i64, 3], [2, -1]]);
    assert!(is_token(
        ids_from_i64("ids", negative.view(), 4),
        "ids",
        -1,
        4
    ));
    let large = arr1(&[0i64, 4]);
    assert!(is_token(ids_from_i64("ids", large.view(), 4), "ids", 4, 4));
    let min = arr1(&[i64::MIN]);
    assert!(is_token(
        ids_from_i64("ids", min.view(), 4),
        "ids",
        i64::MIN,
        4
    ));
    let ok = ids_from_i64("ids", arr1(&[3i64, 0]).view(), 4).unwrap();
    assert_eq!(ok, arr1(&[3usize, 0]));
}

#[test]
fn zero_sizes() {
    for (i, h, l) in [(0, 4, 1), (3, 0, 1), (3, 4, 0)] {
        let mut config = RnnConfig::new(i, h);
        config.num_layers = l;
        assert!(is_invalid(Rnn::<f32>::new(config, Init::Uniform, 0)));
    }
    for (v, h, l, e) in [
        (0, 3, 1, None),
        (4, 0, 1, None),
        (4, 3, 0, None),
        (4, 3, 1, Some(0)),
    ] {
        let config = lm_config(v, h, l, e);
        assert!(is_invalid(LanguageModel::<f32>::new(
            config,
            Init::Uniform,
            0
        )));
    }
    assert!(is_invalid(Linear::<f32>::new(0, 2, true, Init::Uniform, 0)));
    assert!(is_invalid(Linear::<f32>::new(2, 0, true, Init::Uniform, 0)));
    assert!(is_invalid(Embedding::<f32>::new(0, 2, Init::Uniform, 0)));
    assert!(is_invalid(Embedding::<f32>::new(2, 0, Init::Uniform, 0)));
    assert!(is_invalid(Nonlinearity::parse("sigmoid")));
}

#[test]
fn zero_steps_or_batch() {
    let rnn = rnn();
    assert!(is_invalid(rnn.forward(dense(0, 2, 3), None, None)));
    assert!(is_invalid(rnn.forward(dense(2, 0, 3), None, None)));
    let lm = lm(Some(2));
    for x in [ids(0, 2, 0), ids(2, 0, 0)] {
        let one_hot = RnnInput::OneHot(x.clone());
        assert!(is_invalid(rnn.forward(one_hot, None, None)));
        assert!(is_invalid(step(&lm, &x, &x, None, None)));
    }
}

#[test]
fn h0_of_wrong_shape() {
    let rnn = rnn(); // h0 must be (2, batch 3, 4)
    for shape in [(1, 3, 4), (2, 2, 4), (2, 3, 5)] {
        let h0 = Array3::zeros(shape);
        assert!(is_shape(rnn.forward(dense(2, 3, 3), Some(h0.view()), None)));
    }
    let lm = lm(None); // state (2, batch 2, 3)
    let x = ids(3, 2, 1);
    let (wide, shallow) = (Array3::zeros((2, 2, 4)), Array3::zeros((1, 2, 3)));
    assert!(is_shape(step(&lm, &x, &x, None, Some(&wide))));
    assert!(is_shape(lm.logits(x.view(), Some(shallow.view()))));
}

#[test]
fn lengths_out_of_range() {
    let rnn = rnn(); // steps 4, batch 2
    for lengths in [[0, 2], [4, 5]] {
        assert!(is_invalid(rnn.forward(
            dense(4, 2, 3),
            None,
            Some(&lengths)
        )));
    }
    assert!(is_shape(rnn.forward(
        dense(4, 2, 3),
        None,
        Some(&[4, 4, 4])
    )));
    assert!(rnn.forward(dense(4, 2, 3), None, Some(&[4, 1])).is_ok());
}

#[test]
fn masks_need_finite_non_negative_weights_not_all_zero() {
    let lm = lm(None);
    let x = ids(3, 2, 1);
    for w in [0.0, -1.0, f64::NAN] {
        let mask = Array2::from_elem((3, 2), w);
        assert!(is_invalid(step(&lm, &x, &x, Some(&mask), None)));
    }
}

#[test]
fn load_state_dict_errors_leave_the_model_unchanged() {
    let mut model = lm(Some(2));
    let before = model.clone();
    let good: Vec<(String, ArrayD<f64>)> = lm(Some(2)).state_dict();

    let mut unknown = good.clone();
    unknown.push(("rnn.weight_ih_l7".to_string(), ArrayD::zeros(vec![3, 3])));
    let r = model.load_state_dict(&views(&unknown));
    assert!(matches!(&r, Err(Error::UnknownParameter { name, .. }) if name == "rnn.weight_ih_l7"));

    let mut missing = good.clone();
    missing.retain(|(n, _)| n != "output.bias");
    let r = model.load_state_dict(&views(&missing));
    assert!(matches!(&r, Err(Error::MissingParameter { name }) if name == "output.bias"));

    let mut wrong = good.clone();
    wrong[0].1 = ArrayD::zeros(vec![4, 3]); // embedding.weight is (4, 2)
    assert!(is_shape(model.load_state_dict(&views(&wrong))));
    assert_eq!(model, before);

    model.load_state_dict(&views(&good)).unwrap();
    assert_eq!(model.state_dict(), good);
}

#[test]
fn absurd_allocations_are_out_of_memory() {
    // Element count overflows usize; byte count overflows isize; the allocator refuses 2^61 B.
    for (rows, cols) in [(usize::MAX, 2), (1 << 31, 1 << 31), (1 << 29, 1 << 29)] {
        let r = alloc::zeros2::<f64>("huge", rows, cols);
        assert!(
            matches!(r, Err(Error::OutOfMemory { .. })),
            "{rows} x {cols}"
        );
    }
    let r = alloc::zeros2::<f64>("huge", 1 << 31, 1 << 31);
    assert!(matches!(r, Err(Error::OutOfMemory { bytes, .. }) if bytes == 1 << 65));
    let r = Rnn::<f32>::new(RnnConfig::new(1 << 40, 1 << 30), Init::Uniform, 0);
    assert!(matches!(r, Err(Error::OutOfMemory { .. })));
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Rnn<f32>>();
    assert_send_sync::<LanguageModel<f32>>();
    assert_send_sync::<Optimizer<f32>>();
    assert_send_sync::<seqrnn::RnnCache<f32>>();
    assert_send_sync::<Error>();
}

#[test]
fn same_seed_same_model() {
    let lm = |seed| LanguageModel::<f32>::new(lm_config(5, 4, 2, Some(3)), Init::Uniform, seed);
    let (a, b, c) = (lm(7).unwrap(), lm(7).unwrap(), lm(8).unwrap());
    assert_eq!(a, b);
    for ((name, x), (_, y)) in a.named().into_iter().zip(c.named()) {
        assert_ne!(x, y, "{name} does not depend on the seed");
    }
    let rnn = |seed| Rnn::<f64>::new(RnnConfig::new(3, 4), Init::D2L, seed).unwrap();
    assert_eq!(rnn(1), rnn(1));
    assert_ne!(rnn(1), rnn(2));
}

fn close(a: &f32, b: &f64) {
    let a = f64::from(*a);
    assert!((a - b).abs() < 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
}

/// Loss, logits, final state and every gradient of an f32 copy of an f64 model agree to ~1e-5
/// (vocab 5, hidden 6, 2 layers, embedding 3; steps 6, batch 3).
#[test]
fn f32_agrees_with_f64() {
    for nonlinearity in [Nonlinearity::Tanh, Nonlinearity::Relu] {
        let config = LmConfig {
            nonlinearity,
            ..lm_config(5, 6, 2, Some(3))
        };
        let m64 = LanguageModel::<f64>::new(config.clone(), Init::Uniform, 3).unwrap();
        let mut m32 = LanguageModel::<f32>::new(config, Init::Uniform, 4).unwrap();
        let to_f32 = |(n, t): (String, ArrayD<f64>)| (n, t.mapv(|x| x as f32));
        let dict: Vec<_> = m64.state_dict().into_iter().map(to_f32).collect();
        m32.load_state_dict(&views(&dict)).unwrap();
        let x = Array2::from_shape_fn((6, 3), |(t, b)| (t * 2 + b) % 5);
        let y = Array2::from_shape_fn((6, 3), |(t, b)| (t + b + 1) % 5);
        let s64 = m64.loss_and_grads(x.view(), y.view(), None, None).unwrap();
        let s32 = m32.loss_and_grads(x.view(), y.view(), None, None).unwrap();
        close(&s32.loss, &s64.loss);
        s32.state
            .iter()
            .zip(&s64.state)
            .for_each(|(a, b)| close(a, b));
        let (l32, l64) = (
            m32.logits(x.view(), None).unwrap().0,
            m64.logits(x.view(), None).unwrap().0,
        );
        l32.iter().zip(&l64).for_each(|(a, b)| close(a, b));
        for ((name, g32), (_, g64)) in s32.grads.named().into_iter().zip(s64.grads.named()) {
            assert_eq!(g32.shape(), g64.shape(), "{name}");
            g32.iter().zip(&g64).for_each(|(a, b)| close(a, b));
        }
    }
}
