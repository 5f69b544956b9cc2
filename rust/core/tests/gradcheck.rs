//! Central finite differences (f64) of every parameter element against the hand-written backward
//! passes. The fourth-order stencil `(-L(+2h) + 8 L(+h) - 8 L(-h) + L(-2h)) / 12h` with `h = 1e-4`
//! has truncation error ~h^4 and round-off ~1e-15/h ~ 1e-11, so a relative error below 1e-6 is
//! demanded even of gradient elements as small as 1e-4 (the two-point formula with h = 1e-6 is
//! limited to ~1e-9 absolute by round-off, i.e. ~1e-5 relative on such elements).
//! Covered: `Rnn` (tanh/relu, 2-3 layers, with/without bias, dense/one-hot input, h0, lengths),
//! `LanguageModel`, `loss::cross_entropy`, `Linear` and `Embedding`.
//!
//! Shapes (time-major, as in the crate): dense input `x` `(steps, batch, input)`, ids
//! `(steps, batch)`, `h0` / `h_n` `(num_layers, batch, hidden)`, RNN output
//! `(steps, batch, hidden)`, logits `(n, classes)`. The RNN loss is
//! `L = sum(output * r1) + sum(h_n * r2)` with fixed random `r1`, `r2`, so `d_output = r1` and
//! `d_h_n = r2`.

mod common;

use ndarray::{s, Array, Array1, Array2, Array3, ArrayView2, Axis, Dimension, ShapeBuilder};
use seqrnn::loss::cross_entropy;
use seqrnn::{Embedding, Error, Init, LanguageModel, Linear, LmConfig, Nonlinearity, Parameters};
use seqrnn::{Rnn, RnnCache, RnnConfig, RnnInput};

const H: f64 = 1e-4;
const TOL: f64 = 1e-6;
/// Relu pre-activations must be this far from 0: perturbations are at most 2h per parameter.
const KINK_MARGIN: f64 = 1e-3;

/// splitmix64, mapped to uniform numbers in [-1, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }

    fn array<D: Dimension, Sh: ShapeBuilder<Dim = D>>(&mut self, shape: Sh) -> Array<f64, D> {
        Array::from_shape_simple_fn(shape, || self.next())
    }
}

/// Compares `analytic[j]` with the central difference of `loss_at(j, d)`, the loss with element
/// `j` shifted by `d`. Returns the largest relative error.
fn max_rel_err(what: &str, analytic: &[f64], loss_at: impl Fn(usize, f64) -> f64) -> f64 {
    let mut worst = 0.0f64;
    for (j, &a) in analytic.iter().enumerate() {
        let f = |d| loss_at(j, d);
        let n = (8.0 * (f(H) - f(-H)) - (f(2.0 * H) - f(-2.0 * H))) / (12.0 * H);
        let e = (a - n).abs() / (a.abs() + n.abs()).max(1e-8);
        assert!(
            e < TOL,
            "{what}[{j}]: analytic {a:e}, numeric {n:e}, relative error {e:e}"
        );
        worst = worst.max(e);
    }
    worst
}

/// Perturbs every element of every named tensor of `model` and compares with the tensor of the
/// same name in `grads`.
fn check_params<P: Parameters<f64> + Clone>(model: &P, grads: &P, loss: impl Fn(&P) -> f64) -> f64 {
    assert_eq!(model.names(), grads.names());
    let mut worst = 0.0f64;
    for (name, g) in grads.named() {
        let analytic: Vec<f64> = g.iter().copied().collect();
        let e = max_rel_err(&name, &analytic, |j, d| {
            let mut m = model.clone();
            for (n, mut t) in m.named_mut() {
                if n == name {
                    *t.iter_mut().nth(j).unwrap() += d;
                }
            }
            loss(&m)
        });
        println!("  {name:<22} max rel err {e:.2e}");
        worst = worst.max(e);
    }
    worst
}

/// The same for a plain array input `x` with analytic gradient `grad`.
fn check_array<D: Dimension>(
    what: &str,
    x: &Array<f64, D>,
    grad: &Array<f64, D>,
    loss: impl Fn(&Array<f64, D>) -> f64,
) -> f64 {
    assert_eq!(x.shape(), grad.shape(), "{what}");
    let analytic: Vec<f64> = grad.iter().copied().collect();
    let e = max_rel_err(what, &analytic, |j, d| {
        let mut x = x.clone();
        *x.iter_mut().nth(j).unwrap() += d;
        loss(&x)
    });
    println!("  {what:<22} max rel err {e:.2e}");
    e
}

/// Recomputes every valid pre-activation `z = W_ih x + b_ih + W_hh h + b_hh` from the cached
/// states, checks `f(z)` against the next cached state, and returns `min |z|` (kink distance).
fn check_forward(
    rnn: &Rnn<f64>,
    x0: &Array3<f64>,
    c: &RnnCache<f64>,
    len: Option<&[usize]>,
) -> f64 {
    let (steps, batch, _) = x0.dim();
    let act = rnn.config().nonlinearity;
    let mut min_abs = f64::INFINITY;
    for (l, layer) in rnn.layers.iter().enumerate() {
        let h = c.layer_states(l).unwrap(); // (steps + 1, batch, hidden)
        let x = match l {
            0 => x0.view(),
            _ => c.layer_states(l - 1).unwrap().slice_move(s![1.., .., ..]),
        }; // (steps, batch, layer input)
        for t in 0..steps {
            for b in (0..batch).filter(|&b| len.is_none_or(|n| t < n[b])) {
                let mut z = layer.weight_ih.dot(&x.slice(s![t, b, ..]));
                z += &layer.weight_hh.dot(&h.slice(s![t, b, ..]));
                if let (Some(bi), Some(bh)) = (&layer.bias_ih, &layer.bias_hh) {
                    z = z + bi + bh;
                }
                for (zi, hi) in z.iter().zip(h.slice(s![t + 1, b, ..])) {
                    let err = (act.apply(*zi) - hi).abs();
                    assert!(err < 1e-12, "forward at layer {l}, step {t}");
                    min_abs = min_abs.min(zi.abs());
                }
            }
        }
    }
    min_abs
}

/// Checks every parameter, `h0` and (dense) input gradient of one RNN configuration.
/// Sizes: input 4, hidden 5, steps 4, batch 3; `layers` layers.
fn rnn_gradcheck(
    layers: usize,
    nonlinearity: Nonlinearity,
    bias: bool,
    one_hot: bool,
    lengths: Option<&[usize]>,
    seed: u64,
) {
    let (input_size, hidden, steps, batch) = (4, 5, 4, 3);
    let mut config = RnnConfig::new(input_size, hidden);
    (config.num_layers, config.nonlinearity, config.bias) = (layers, nonlinearity, bias);
    let rnn = Rnn::<f64>::new(config, Init::Uniform, seed).unwrap();
    let mut rng = Rng(seed);
    let id = |t: usize, b: usize| (3 * t + 2 * b + seed as usize) % input_size;
    let ids = Array2::from_shape_fn((steps, batch), |(t, b)| id(t, b));
    // Dense input, or the one-hot vectors of `ids` (for the forward check only).
    let hot = |(t, b, i): (usize, usize, usize)| f64::from(u8::from(i == id(t, b)));
    let x0 = match one_hot {
        true => Array3::from_shape_fn((steps, batch, input_size), hot),
        false => rng.array((steps, batch, input_size)),
    };
    let input = match one_hot {
        true => RnnInput::OneHot(ids),
        false => RnnInput::Dense(x0.clone()),
    };
    let h0: Array3<f64> = rng.array((layers, batch, hidden));
    let r1: Array3<f64> = rng.array((steps, batch, hidden));
    let r2: Array3<f64> = rng.array((layers, batch, hidden));
    let loss = |rnn: &Rnn<f64>, input: RnnInput<f64>, h0: &Array3<f64>| {
        let cache = rnn.forward(input, Some(h0.view()), lengths).unwrap();
        (cache.output() * &r1).sum() + (cache.h_n() * &r2).sum()
    };

    let cache = rnn.forward(input.clone(), Some(h0.view()), lengths);
    let cache = cache.unwrap();
    let margin = check_forward(&rnn, &x0, &cache, lengths);
    println!("  min |pre-activation|   {margin:.2e}");
    if nonlinearity == Nonlinearity::Relu {
        assert!(
            margin > KINK_MARGIN,
            "a relu pre-activation is {margin:e} from the kink; pick another seed"
        );
    }
    let grads = rnn.backward(&cache, Some(r1.view()), Some(r2.view()));
    let grads = grads.unwrap();
    let mut worst = check_params(&rnn, &grads.params, |m| loss(m, input.clone(), &h0));
    let loss_h0 = |h: &Array3<f64>| loss(&rnn, input.clone(), h);
    worst = worst.max(check_array("h0", &h0, &grads.h0, loss_h0));
    match &input {
        RnnInput::Dense(x) => {
            let dx = grads.input.as_ref().expect("dense input has a gradient");
            let loss_x = |x: &Array3<f64>| loss(&rnn, RnnInput::Dense(x.clone()), &h0);
            worst = worst.max(check_array("input", x, dx, loss_x));
        }
        RnnInput::OneHot(_) => assert!(grads.input.is_none()),
    }
    println!("max relative error {worst:.2e}");
}

#[test]
fn rnn_tanh_2_layers_dense() {
    common::at_every_level(|| {
        rnn_gradcheck(2, Nonlinearity::Tanh, true, false, None, 1);
    });
}

#[test]
fn rnn_tanh_3_layers_dense_no_bias() {
    common::at_every_level(|| {
        rnn_gradcheck(3, Nonlinearity::Tanh, false, false, None, 2);
    });
}

#[test]
fn rnn_tanh_2_layers_one_hot() {
    common::at_every_level(|| {
        rnn_gradcheck(2, Nonlinearity::Tanh, true, true, None, 3);
    });
}

#[test]
fn rnn_relu_2_layers_dense() {
    common::at_every_level(|| {
        rnn_gradcheck(2, Nonlinearity::Relu, true, false, None, 4);
    });
}

#[test]
fn rnn_relu_3_layers_one_hot_no_bias() {
    common::at_every_level(|| {
        rnn_gradcheck(3, Nonlinearity::Relu, false, true, None, 5);
    });
}

#[test]
fn rnn_tanh_2_layers_dense_with_lengths() {
    common::at_every_level(|| {
        rnn_gradcheck(2, Nonlinearity::Tanh, true, false, Some(&[4, 2, 1]), 6);
    });
}

#[test]
fn rnn_relu_3_layers_one_hot_with_lengths() {
    common::at_every_level(|| {
        rnn_gradcheck(3, Nonlinearity::Relu, true, true, Some(&[1, 4, 3]), 7);
    });
}

/// Padding semantics: each sequence of a padded batch gives the same outputs and final state as
/// running it alone, truncated to its length (up to rounding); outputs at padded steps are zero.
#[test]
fn rnn_lengths_match_truncated_runs() {
    common::at_every_level(|| {
        let (steps, batch, layers, hidden) = (5, 3, 2, 4);
        let mut config = RnnConfig::new(3, hidden);
        config.num_layers = layers;
        let rnn = Rnn::<f64>::new(config, Init::Uniform, 11).unwrap();
        let mut rng = Rng(11);
        let x: Array3<f64> = rng.array((steps, batch, 3));
        let h0: Array3<f64> = rng.array((layers, batch, hidden));
        let lengths = [5, 2, 3];
        let run = |x: Array3<f64>, h0, lengths| rnn.forward(RnnInput::Dense(x), Some(h0), lengths);
        let cache = run(x.clone(), h0.view(), Some(&lengths)).unwrap();
        let (out, h_n) = (cache.output(), cache.h_n());
        for (b, &len) in lengths.iter().enumerate() {
            let xb = x.slice(s![..len, b..=b, ..]).to_owned();
            let alone = run(xb, h0.slice(s![.., b..=b, ..]), None).unwrap();
            let (alone_out, alone_h_n) = (alone.output(), alone.h_n());
            // Equal up to rounding: products of one row and of three may sum in different orders.
            let close = |p: ArrayView2<'_, f64>, q: ArrayView2<'_, f64>| {
                assert_eq!(p.dim(), q.dim());
                let worst = p
                    .iter()
                    .zip(q.iter())
                    .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
                assert!(worst < 1e-14, "sequence {b} differs by {worst:e}");
            };
            close(
                alone_out.index_axis(Axis(1), 0),
                out.slice(s![..len, b, ..]),
            );
            close(alone_h_n.index_axis(Axis(1), 0), h_n.index_axis(Axis(1), b));
            assert!(out.slice(s![len.., b, ..]).iter().all(|&v| v == 0.0));
        }
    });
}

/// `LanguageModel` (vocab 5, hidden 4, 2 layers, steps 4) with an initial state and, when
/// `masked`, a 0/1 mask; every parameter through `loss_and_grads`. Batches of 16 or more without
/// a mask run as parts on several threads (`seqrnn::split`).
fn lm_gradcheck(embed_size: Option<usize>, seed: u64, batch: usize, masked: bool) {
    let (vocab, hidden, layers, steps) = (5, 4, 2, 4);
    let mut config = LmConfig::new(vocab, hidden);
    (config.num_layers, config.embed_size) = (layers, embed_size);
    let lm = LanguageModel::<f64>::new(config, Init::Uniform, seed).unwrap();
    let mut rng = Rng(seed);
    let inputs = Array2::from_shape_fn((steps, batch), |(t, b)| (2 * t + b) % vocab);
    let targets = Array2::from_shape_fn((steps, batch), |(t, b)| (t + 3 * b + 1) % vocab);
    let mask = Array2::from_shape_fn((steps, batch), |(t, b)| f64::from((t + b) % 3 != 2));
    let state: Array3<f64> = rng.array((layers, batch, hidden));
    let run = |m: &LanguageModel<f64>| {
        let (x, y) = (inputs.view(), targets.view());
        let mask = masked.then(|| mask.view());
        let step = m.loss_and_grads(x, y, mask, Some(state.view()));
        step.unwrap()
    };
    let step = run(&lm);
    assert_eq!(step.grads.embedding.is_some(), embed_size.is_some());
    let worst = check_params(&lm, &step.grads, |m| run(m).loss);
    println!("max relative error {worst:.2e}");
}

#[test]
fn lm_one_hot_with_mask_and_state() {
    common::at_every_level(|| {
        lm_gradcheck(None, 21, 3, true);
    });
}

#[test]
fn lm_embedding_with_mask_and_state() {
    common::at_every_level(|| {
        lm_gradcheck(Some(3), 22, 3, true);
    });
}

#[test]
fn lm_batch_split_into_parts() {
    common::at_every_level(|| {
        assert!(seqrnn::split::parts(17, 4) > 1);
        lm_gradcheck(None, 23, 17, false);
        lm_gradcheck(Some(3), 24, 17, false);
    });
}

/// A minibatch cut into parts gives what the whole minibatch gives on one thread (a mask of
/// ones takes the one-part path), up to rounding, and the same final states.
#[test]
fn lm_parts_match_the_whole_batch() {
    common::at_every_level(|| {
        let (vocab, steps, batch) = (7, 5, 19);
        let mut config = LmConfig::new(vocab, 6);
        config.num_layers = 2;
        let lm = LanguageModel::<f64>::new(config, Init::Uniform, 5).unwrap();
        let inputs = Array2::from_shape_fn((steps, batch), |(t, b)| (3 * t + b) % vocab);
        let targets = Array2::from_shape_fn((steps, batch), |(t, b)| (t + 2 * b) % vocab);
        let ones = Array2::<f64>::ones((steps, batch));
        let split = lm
            .loss_and_grads(inputs.view(), targets.view(), None, None)
            .unwrap();
        let whole = lm
            .loss_and_grads(inputs.view(), targets.view(), Some(ones.view()), None)
            .unwrap();
        assert!((split.loss - whole.loss).abs() < 1e-12);
        for ((name, a), (_, b)) in split.grads.named().into_iter().zip(whole.grads.named()) {
            let worst = a
                .iter()
                .zip(b.iter())
                .fold(0.0f64, |m, (x, y)| m.max((x - y).abs()));
            assert!(worst < 1e-12, "{name}: {worst:e}");
        }
        assert_eq!(split.state, whole.state);
    });
}

/// Logits `(6, 5)`, targets `(6,)`, mask `(6,)`.
fn cross_entropy_check(mask: Option<Array1<f64>>) {
    let mut rng = Rng(31);
    let logits: Array2<f64> = rng.array((6, 5)) * 3.0;
    let targets = Array1::from_vec(vec![0, 4, 2, 2, 1, 3]);
    let ce = |z: &Array2<f64>| {
        cross_entropy(z.view(), targets.view(), mask.as_ref().map(|m| m.view())).unwrap()
    };
    let (value, grad) = ce(&logits);
    // The value itself, from the definition: weighted mean of -log softmax(z)[y].
    let w = mask.clone().unwrap_or_else(|| Array1::ones(6));
    let nll = |i: usize| logits.row(i).mapv(f64::exp).sum().ln() - logits[[i, targets[i]]];
    let expected = (0..6).map(|i| w[i] * nll(i)).sum::<f64>() / w.sum();
    assert!((value - expected).abs() < 1e-12, "{value} vs {expected}");
    check_array("logits", &logits, &grad, |z| ce(z).0);
}

#[test]
fn cross_entropy_unmasked() {
    common::at_every_level(|| {
        cross_entropy_check(None);
    });
}

#[test]
fn cross_entropy_masked() {
    common::at_every_level(|| {
        cross_entropy_check(Some(Array1::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0, 1.0])));
    });
}

#[test]
fn cross_entropy_all_masked_is_an_error() {
    common::at_every_level(|| {
        let logits = Array2::<f64>::zeros((3, 4));
        let targets = Array1::from_vec(vec![0, 1, 2]);
        let mask = Array1::<f64>::zeros(3);
        let r = cross_entropy(logits.view(), targets.view(), Some(mask.view()));
        assert!(matches!(r, Err(Error::InvalidArgument { .. })), "{r:?}");
    });
}

/// `Linear` 3 -> 2 on `x` `(4, 3)`, loss `sum(y * r)`, `r` `(4, 2)`.
fn linear_check(bias: bool) {
    let mut rng = Rng(41);
    let lin = Linear::<f64>::new(3, 2, bias, Init::Uniform, 41).unwrap();
    let x: Array2<f64> = rng.array((4, 3));
    let r: Array2<f64> = rng.array((4, 2));
    let loss = |m: &Linear<f64>, x: &Array2<f64>| (m.forward(x.view()).unwrap() * &r).sum();
    let (grads, dx) = lin.backward(x.view(), r.view()).unwrap();
    assert_eq!(grads.bias.is_some(), bias);
    check_params(&lin, &grads, |m| loss(m, &x));
    check_array("x", &x, &dx, |x| loss(&lin, x));
}

#[test]
fn linear_backward_with_bias() {
    common::at_every_level(|| {
        linear_check(true);
    });
}

#[test]
fn linear_backward_without_bias() {
    common::at_every_level(|| {
        linear_check(false);
    });
}

/// `Embedding` (vocab 5, embed 3) on ids `(4, 3)` with repeated and unused ids, loss
/// `sum(E[ids] * r)`, `r` `(4, 3, 3)`.
#[test]
fn embedding_backward() {
    common::at_every_level(|| {
        let mut rng = Rng(51);
        let emb = Embedding::<f64>::new(5, 3, Init::Uniform, 51).unwrap();
        let ids = Array2::from_shape_fn((4, 3), |(t, b)| (t * b) % 4); // id 4 never occurs
        let r: Array3<f64> = rng.array((4, 3, 3));
        let grads = emb.backward(ids.view(), r.view()).unwrap();
        assert!(grads.weight.row(4).iter().all(|&g| g == 0.0));
        let loss = |m: &Embedding<f64>| (m.forward(ids.view()).unwrap() * &r).sum();
        check_params(&emb, &grads, loss);
    });
}
