"""Seq2Seq(attention="additive"): loss and gradients against the float64 NumPy reference
(tests/_reference.py, with central differences of its loss) and against PyTorch where it is
installed; decoding, attention weights, saving, conversions, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import seqrnn
from _reference import attention_greedy, attention_loss
from test_seq2seq import BOS, EOS, VS, VT, E, H, batch

pytestmark = pytest.mark.usefixtures("every_level")

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the PyTorch comparisons run where torch is installed
    torch = F = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs torch (pip install seqrnn[torch])")


def make(layers: int = 1, seed: int = 0, dtype: str = "float64", **kw: Any) -> seqrnn.Seq2Seq:
    return seqrnn.Seq2Seq(VS, VT, E, H, layers, seed=seed, dtype=dtype, attention="additive",
                          init="uniform", **kw)


def numeric_grads(m: seqrnn.Seq2Seq, data: tuple[Any, ...], h: float = 1e-5) -> dict[str, Any]:
    """Central differences of the reference loss over every parameter element."""
    p = {k: v.astype(np.float64) for k, v in m.state_dict().items()}
    grads = {}
    for name, w in p.items():
        g = np.zeros_like(w)
        for i in np.ndindex(w.shape):
            old = w[i]
            w[i] = old + h
            up = attention_loss(p, *data, m.num_layers)
            w[i] = old - h
            down = attention_loss(p, *data, m.num_layers)
            w[i] = old
            g[i] = (up - down) / (2 * h)
        grads[name] = g
    return grads


@pytest.mark.parametrize("layers", [1, 2])
def test_loss_and_gradients_match_the_reference(layers: int) -> None:
    m = make(layers, seed=layers)
    data = batch(seed=layers)
    loss, grads = m.loss_and_grads(*data)
    assert loss == pytest.approx(attention_loss(m.state_dict(), *data, layers), rel=1e-12)
    want = numeric_grads(m, data)
    assert sorted(grads) == sorted(want)
    assert {"decoder.attention.W_q.weight", "decoder.attention.W_k.weight",
            "decoder.attention.w_v.weight"} <= set(grads)
    for k, g in grads.items():
        scale = max(1.0, float(np.abs(want[k]).max()))
        np.testing.assert_allclose(g, want[k], atol=1e-7 * scale, rtol=0, err_msg=k)


def test_float32_is_close_to_float64() -> None:
    m64 = make(2, seed=3)
    m32 = make(2, seed=3, dtype="float32")
    m32.load_state_dict({k: v.astype(np.float32) for k, v in m64.state_dict().items()})
    data = batch(seed=3)
    (l64, g64), (l32, g32) = m64.loss_and_grads(*data), m32.loss_and_grads(*data)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for k in g64:
        np.testing.assert_allclose(g32[k], g64[k], atol=1e-5, err_msg=k)


def test_greedy_decoding_matches_the_reference() -> None:
    m = make(2, seed=4)
    src = np.array([[3, 4, 5, 0, 0], [1, 2, 0, 0, 0], [5, 4, 3, 2, 1]])
    lens = np.array([3, 2, 5])
    want = attention_greedy(m.state_dict(), src, lens, BOS, EOS, 6, 2)
    assert m.decode(src, lens, BOS, EOS, 6) == want
    # Beam search keeps every hypothesis of a sentence on that sentence's memory.
    beams = m.decode(src, lens, BOS, EOS, 6, beam_size=3)
    assert len(beams) == 3 and all(len(b) <= 6 for b in beams)
    single = [m.decode(src[b : b + 1], lens[b : b + 1], BOS, EOS, 6, beam_size=3)[0]
              for b in range(3)]
    assert beams == single


def test_decode_steps_gives_the_attention_weights() -> None:
    m = make(1, seed=5)
    steps = m.decode_steps([3, 4, 5, 1], bos=BOS, eos=EOS, max_len=5)
    w = steps["attention"]
    assert w.shape == (len(steps["tokens"]), 4)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-12)
    assert (w > 0).all()
    assert make(1).decode_steps([3], BOS, EOS, 2)["attention"].shape[1] == 1
    plain = seqrnn.Seq2Seq(VS, VT, E, H, 1, seed=0)
    assert plain.decode_steps([3, 4], BOS, EOS, 3)["attention"] is None


def test_padding_changes_nothing() -> None:
    m = make(2, seed=6)
    data = batch(seed=6)
    src = data[0].copy()
    src[1, 2:] = (src[1, 2:] + 1) % VS  # past src_valid_len 2
    loss, grads = m.loss_and_grads(*data)
    loss2, grads2 = m.loss_and_grads(src, *data[1:])
    assert loss == loss2
    for k in grads:
        assert np.array_equal(grads[k], grads2[k]), k


def test_save_load_and_repr(tmp_path: Any) -> None:
    m = make(2, seed=7)
    assert m.attention == "additive" and m.context == "none"
    assert "attention='additive'" in repr(m)
    m.save(tmp_path / "a.safetensors")
    back = seqrnn.Seq2Seq.load(tmp_path / "a.safetensors")
    assert repr(back) == repr(m)
    for k, v in m.state_dict().items():
        assert np.array_equal(back.state_dict()[k], v)
    assert back.state_dict()["decoder.rnn.weight_ih_l0"].shape == (H, H + E)
    assert back.state_dict()["decoder.attention.w_v.weight"].shape == (1, H)


def test_errors() -> None:
    with pytest.raises(ValueError, match=r'attention must be "none" or "additive", got "dot"'):
        seqrnn.Seq2Seq(VS, VT, E, H, attention="dot")
    with pytest.raises(ValueError, match=r'context must be "none" with attention.*got "concat"'):
        seqrnn.Seq2Seq(VS, VT, E, H, context="concat", attention="additive")
    with pytest.raises(ValueError, match="ONNX export of a Seq2Seq with attention='additive' is "
                                         "not supported"):
        seqrnn.export.decoder_to_onnx(make())
    with pytest.raises(ValueError, match="not supported"):
        seqrnn.export.encoder_to_onnx(make())


def test_training_learns_to_copy_reversed() -> None:
    """A task attention is made for: write the source backwards."""
    pairs = [(" ".join(w), " ".join(reversed(w)))
             for w in (["a", "b", "c"], ["b", "c", "d", "a"], ["d", "a"], ["c", "a", "b", "d"],
                       ["a", "d", "c"], ["b", "a"], ["d", "c", "b", "a"], ["c", "d"])]
    tr = seqrnn.Translator.train(pairs, epochs=120, embed_size=8, hidden_size=16, num_layers=1,
                                 batch_size=8, lr=0.02, seed=0, progress=False,
                                 attention="additive")
    assert tr.model.attention == "additive"
    assert tr.translate([s for s, _ in pairs]) == [t for _, t in pairs]
    assert tr.history.train_perplexity[-1] < 1.1


# ----- PyTorch ---------------------------------------------------------------------------------


def t(a: Any) -> Any:
    return torch.from_numpy(np.ascontiguousarray(a))


@needs_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_loss_and_every_gradient_match_torch(dtype: str) -> None:
    from seqrnn.interop import to_torch

    m = make(2, seed=8, dtype=dtype)
    module = to_torch(m)
    data = batch(seed=8)
    src, src_len, tgt_in, tgt_out, tgt_len = data
    loss, grads = m.loss_and_grads(*data)
    logits = module(t(src), t(src_len), t(tgt_in))  # (B, Tt, V)
    ce = F.cross_entropy(logits.reshape(-1, VT), t(tgt_out).reshape(-1), reduction="none")
    mask = (torch.arange(tgt_in.shape[1])[None, :] < t(tgt_len)[:, None]).reshape(-1)
    loss_t = (ce * mask.to(ce.dtype)).sum() / mask.sum()
    loss_t.backward()
    tol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    assert loss == pytest.approx(loss_t.item(), rel=tol)
    torch_grads = {k: p.grad.numpy() for k, p in module.named_parameters()}
    assert sorted(torch_grads) == sorted(grads)
    for k, g in grads.items():
        np.testing.assert_allclose(g, torch_grads[k], atol=tol * 10, rtol=tol * 10, err_msg=k)


@needs_torch
def test_torch_round_trip_and_greedy() -> None:
    from seqrnn.interop import from_torch, to_torch

    m = make(2, seed=9, dtype="float32")
    module = to_torch(m)
    back = from_torch(module)
    assert isinstance(back, seqrnn.Seq2Seq) and repr(back) == repr(m)
    for k, v in m.state_dict().items():
        assert np.array_equal(back.state_dict()[k], v)
    src, lens = np.array([[3, 4, 5, 0], [1, 2, 0, 0]]), np.array([3, 2])
    outputs, state = module.encoder.encode(t(src), t(lens))
    token, want, done = torch.full((2, 1), BOS), [[], []], [False, False]
    with torch.no_grad():
        for _ in range(6):
            logits, state, _ = module.decoder(token, state, outputs, t(lens))
            token = logits.argmax(-1)
            for b in range(2):
                done[b] = done[b] or int(token[b, 0]) == EOS
                if not done[b]:
                    want[b].append(int(token[b, 0]))
    assert m.decode(src, lens, BOS, EOS, 6) == want


# ----- command line ----------------------------------------------------------------------------


def test_cli_trains_with_attention_and_plots_the_heatmap(
        tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from seqrnn.__main__ import main
    from test_cli import assert_one_error_line

    model = tmp_path / "tr.safetensors"
    code = main(["train-translate", "--toy", "--num-examples", "60", "--epochs", "2",
                 "--embed", "8", "--hidden", "16", "--layers", "1", "--attention", "additive",
                 "--out", str(model), "--json", "--no-progress"])
    out, _ = capsys.readouterr()
    assert code == 0 and json.loads(out)["valid_pairs"] == 6
    assert seqrnn.Translator.load(model).model.attention == "additive"
    a = seqrnn.Translator.load(model).attention("twelve")
    assert a["source"][-1] == "<eos>" and a["weights"].shape == (len(a["output"]),
                                                                 len(a["source"]))
    plain = tmp_path / "plain.safetensors"
    assert main(["train-translate", "--toy", "--num-examples", "20", "--epochs", "1", "--embed",
                 "4", "--hidden", "8", "--layers", "1", "--out", str(plain), "--no-progress",
                 "--json"]) == 0
    capsys.readouterr()
    with pytest.raises(ValueError, match="has no attention"):
        seqrnn.Translator.load(plain).attention("one")
    with pytest.raises(TypeError, match="sentence must be a str, got int"):
        seqrnn.Translator.load(model).attention(3)  # type: ignore[arg-type]
    pytest.importorskip("matplotlib")
    code = main(["translate", "--model", str(plain), "--plot", str(tmp_path / "h.png"), "one"])
    out, err = capsys.readouterr()
    assert_one_error_line(code, out, err, "trained without attention")
    picture = tmp_path / "h.png"
    code = main(["translate", "--model", str(model), "--plot", str(picture), "twelve", "one"])
    out, _ = capsys.readouterr()
    assert code == 0 and picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_heatmap_checks_its_shape(tmp_path: Any) -> None:
    pytest.importorskip("matplotlib")
    from seqrnn.plot import save_attention_heatmap

    with pytest.raises(ValueError, match=r"expected shape \(len\(output\), len\(source\)\) = "
                                         r"\(1, 2\), got \(2, 2\)"):
        save_attention_heatmap(np.eye(2), ["a", "b"], ["x"], tmp_path / "h.png")
