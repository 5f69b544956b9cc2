"""The command line: every command in-process through ``main([...])``, the entry point once in a
subprocess, and every user mistake as one ``seqrnn: error:`` line with exit status 2."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import seqrnn
from seqrnn import cli
from seqrnn.__main__ import main

REPO = Path(__file__).resolve().parents[1]
TEXT = ("the time traveller was expounding a recondite matter to us. his grey eyes shone and "
        "twinkled, and his usually pale face was flushed and animated. the fire burned brightly, "
        "and the soft radiance of the incandescent lights in the lilies of silver caught the "
        "bubbles that flashed and passed in our glasses. ")  # 305 characters
TINY_LM = ["--epochs", "2", "--hidden", "16", "--batch", "4", "--num-steps", "10",
           "--no-progress"]
TINY_TRANSLATOR = ["--toy", "--num-examples", "200", "--epochs", "2", "--hidden", "16",
                   "--embed", "8", "--layers", "1", "--batch", "32", "--no-progress"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a small text file, a trained language model and a trained translator."""
    path = tmp_path_factory.mktemp("cli")
    (path / "text.txt").write_text(TEXT, encoding="utf-8")
    (path / "empty.txt").write_text("\n", encoding="utf-8")
    (path / "digits.txt").write_text("1898, 1895.\n" * 50, encoding="utf-8")
    (path / "pairs.txt").write_text("go .\tva !\nhi .\tsalut !\n" * 20, encoding="utf-8")
    assert main(["train-lm", "--text", str(path / "text.txt"), *TINY_LM,
                 "--out", str(path / "lm.safetensors"), "--json"]) == 0
    assert main(["train-translate", *TINY_TRANSLATOR, "--out", str(path / "tr.safetensors"),
                 "--json"]) == 0
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``main(argv)`` in-process: exit status, stdout, stderr."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code: int, out: str, err: str, *words: str) -> None:
    assert code == 2
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("seqrnn: error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in err


# ----- language models ------------------------------------------------------------------------


def test_train_lm_then_generate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text, model = tmp_path / "text.txt", tmp_path / "model.safetensors"
    text.write_text(TEXT, encoding="utf-8")
    code, out, err = run(capsys, "train-lm", "--text", str(text), *TINY_LM, "--out", str(model))
    assert code == 0 and err == ""  # --no-progress: no bar on stderr
    assert "perplexity: training" in out and "validation" in out and "tokens/s" in out
    lm = seqrnn.LanguageModel.load(model)
    d2l_text = seqrnn._core.preprocess_d2l(TEXT)  # --preprocess d2l, the default
    assert lm.vocab == seqrnn.Vocab(seqrnn.tokenize(d2l_text)) and lm.level == "char"
    assert lm.hidden_size == 16

    code, out, err = run(capsys, "generate", "--model", str(model), "--prefix", "the time ",
                         "--num-tokens", "20")
    assert code == 0 and err == ""
    assert out.endswith("\n") and out[:-1] == lm.predict("the time ", 20)
    assert out.startswith("the time ") and len(out[:-1]) == len("the time ") + 20


def test_progress_bar_goes_to_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "text.txt"
    text.write_text(TEXT, encoding="utf-8")
    argv = [a for a in TINY_LM if a != "--no-progress"]
    code, out, err = run(capsys, "train-lm", "--text", str(text), *argv,
                         "--out", str(tmp_path / "m.safetensors"))
    assert code == 0 and "epoch/s" in err and "%|" not in out
    for metric in ("loss=", "ppl=", "tok/s=", "lr="):  # the bar's postfix
        assert metric in err


def test_speed_and_seconds_agree_everywhere(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "text.txt"
    text.write_text(TEXT * 4, encoding="utf-8")
    argv = [a for a in TINY_LM if a != "--no-progress"]
    code, out, err = run(capsys, "train-lm", "--text", str(text), *argv,
                         "--out", str(tmp_path / "m.safetensors"))
    assert code == 0
    bar = re.findall(r"tok/s=([\d,]*\d)", err)[-1]  # the progress bar's last figure
    summary = re.search(r"; ([\d,]+) tokens/s; ([\d.]+) s for 2 epochs", out)
    assert summary is not None and summary.group(1) == bar, (err, out)

    code, out, err = run(capsys, "train-lm", "--text", str(text), *TINY_LM,
                         "--out", str(tmp_path / "m.safetensors"), "--json")
    result = json.loads(out)
    seconds, speeds = result["history"]["seconds"], result["history"]["tokens_per_second"]
    assert result["seconds"] == pytest.approx(sum(seconds), rel=1e-12)
    tokens = sum(round(r * s) for r, s in zip(speeds, seconds))
    assert result["tokens_per_second"] == pytest.approx(tokens / sum(seconds), rel=1e-12)


def test_json_outputs_parse(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train-lm", "--text", str(folder / "text.txt"), *TINY_LM,
                         "--level", "word", "--batch", "2", "--num-steps", "3",  # 52 words
                         "--valid-fraction", "0.2",
                         "--out", str(folder / "words.safetensors"), "--json")
    assert code == 0 and err == ""
    result = json.loads(out)  # stdout holds the JSON object and nothing else
    assert result["command"] == "train-lm" and result["level"] == "word"
    assert result["epochs"] == 2 and len(result["history"]["train_perplexity"]) == 2
    assert 1 < result["train_perplexity"] < 2 * result["vocab_size"]
    assert result["valid_perplexity"] > 1 and result["tokens_per_second"] > 0
    assert result["train_tokens"] + result["valid_tokens"] == len(TEXT.split())

    code, out, err = run(capsys, "generate", "--model", str(folder / "words.safetensors"),
                         "--prefix", "the time", "--num-tokens", "5", "--temperature", "1",
                         "--top-k", "3", "--json")
    result = json.loads(out)
    assert code == 0 and err == "" and len(result["text"].split()) == 2 + 5


# ----- translation ----------------------------------------------------------------------------


def test_train_translate_toy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "tr.safetensors"
    code, out, err = run(capsys, "train-translate", *TINY_TRANSLATOR, "--out", str(model))
    assert code == 0 and err == ""
    assert "held-out BLEU" in out and f"saved {model}" in out
    assert "sacreBLEU" in out and "chrF" in out
    tr = seqrnn.Translator.load(model)
    assert tr.model.hidden_size == 16 and tr.model.embed_size == 8 and tr.model.num_layers == 1


def test_train_translate_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "train-translate", *TINY_TRANSLATOR, "--num-valid", "30",
                         "--out", str(folder / "tr2.safetensors"), "--json")
    result = json.loads(out)
    assert code == 0 and err == ""
    assert (result["train_pairs"], result["valid_pairs"]) == (170, 30)
    assert 0 <= result["bleu"] <= 1 and 0 <= result["exact_match"] <= 1
    assert 0 <= result["sacrebleu"] <= 100 and 0 <= result["chrf"] <= 100


def test_translate_from_arguments_and_stdin(folder: Path, capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    model = str(folder / "tr.safetensors")
    expected = seqrnn.Translator.load(model).translate(["twenty one", "five"], beam_size=2)
    code, out, err = run(capsys, "translate", "--model", model, "--beam", "2", "twenty one", "five")
    assert code == 0 and err == "" and out.splitlines() == expected

    monkeypatch.setattr(sys, "stdin", io.StringIO("twenty one\n\nfive\n"))
    code, out, err = run(capsys, "translate", "--model", model, "--beam", "2")
    assert code == 0 and out.splitlines() == [expected[0], "", expected[1]]  # blank stays blank

    monkeypatch.setattr(sys, "stdin", io.StringIO("five\n"))
    code, out, err = run(capsys, "translate", "--model", model, "--beam", "2", "--json")
    assert code == 0 and json.loads(out) == [{"source": "five", "translation": expected[1]}]


# ----- schedules, early stopping, clipping ----------------------------------------------------


def test_schedule_early_stopping_and_clipping_reach_fit(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run of ``train-lm --schedule plateau ... --early-stopping 2 --clip-value 0.05`` is
    ``LanguageModel.fit``'s with those arguments; the JSON and the summary line report it."""
    settings = ["--schedule", "plateau", "--patience", "0", "--lr-factor", "0.5",
                "--early-stopping", "2", "--clip-value", "0.05"]
    argv = ["train-lm", "--text", str(folder / "text.txt"), *TINY_LM, "--epochs", "8",
            "--lr", "0.05", *settings, "--out", str(tmp_path / "m.safetensors")]
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0 and err == ""
    result = json.loads(out)
    assert result["schedule"] == {"name": "plateau", "factor": 0.5, "patience": 0, "cooldown": 0,
                                  "min_lr": 0.0, "threshold": 1e-4, "restore_best": False}
    assert (result["early_stopping"], result["clip_value"]) == (2, 0.05)

    tokens = seqrnn.tokenize(seqrnn._core.preprocess_d2l(TEXT))
    ids, n_valid = seqrnn.Vocab(tokens).encode(tokens), result["valid_tokens"]

    def fit(clip_value: float | None) -> seqrnn.History:
        lm = seqrnn.LanguageModel(result["vocab_size"], 16, seed=0)
        return lm.fit(ids[:-n_valid], 8, 4, 10, 0.05, optimizer="adam", valid=ids[-n_valid:],
                      progress=False, seed=0, early_stopping=2, clip_value=clip_value,
                      schedule={"name": "plateau", "factor": 0.5, "patience": 0})

    h = fit(0.05)
    assert result["history"]["lr"] == h.lr and result["final_lr"] == h.lr[-1] < 0.05
    assert result["history"]["valid_perplexity"] == h.valid_perplexity != fit(None).valid_perplexity
    assert result["epochs"] == h.epochs < 8 and result["stopped_early"]
    assert result["best_epoch"] == h.best_epoch

    code, out, err = run(capsys, *argv)
    assert code == 0 and err == ""
    assert (f"for {h.epochs} epochs (stopped early, the best was epoch {h.best_epoch + 1}); "
            f"final learning rate {h.lr[-1]:.3g}\n") in out


def test_step_and_cosine_schedules_of_train_translate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = str(tmp_path / "tr.safetensors")
    code, out, err = run(capsys, "train-translate", *TINY_TRANSLATOR, "--schedule", "step",
                         "--step-size", "1", "--lr-factor", "0.5", "--out", out_file, "--json")
    result = json.loads(out)
    assert code == 0 and err == ""
    assert result["schedule"] == {"name": "step", "step_size": 1, "gamma": 0.5}
    assert result["history"]["lr"] == [0.005, 0.0025] and result["final_lr"] == 0.0025
    assert not result["stopped_early"] and result["early_stopping"] is None

    code, out, err = run(capsys, "train-translate", *TINY_TRANSLATOR, "--schedule", "cosine",
                         "--warmup", "1", "--out", out_file)
    assert code == 0 and err == ""
    assert re.search(r"s for 2 epochs; final learning rate [\d.e-]+\n", out), out

    code, out, err = run(capsys, "train-translate", *TINY_TRANSLATOR, "--schedule", "plateau",
                         "--restore-best", "--out", out_file, "--json")
    assert code == 0 and json.loads(out)["schedule"]["restore_best"] is True
    code, out, err = run(capsys, "train-translate", *TINY_TRANSLATOR, "--out", out_file, "--json")
    assert code == 0 and json.loads(out)["schedule"] == {"name": "constant"}


# ----- plots ----------------------------------------------------------------------------------


def test_plot_writes_png(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    curve = tmp_path / "curve.png"
    code, out, err = run(capsys, "train-lm", "--text", str(folder / "text.txt"), *TINY_LM,
                         "--out", str(tmp_path / "m.safetensors"), "--plot", str(curve), "--json")
    assert code == 0 and err == "" and json.loads(out)["plot"] == str(curve)
    assert curve.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_fails_before_training(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # "import matplotlib" now fails
    monkeypatch.setitem(sys.modules, "matplotlib.backend_bases", None)
    model = tmp_path / "m.safetensors"
    code, out, err = run(capsys, "train-lm", "--text", str(folder / "text.txt"), *TINY_LM,
                         "--out", str(model), "--plot", str(tmp_path / "curve.png"))
    assert_one_error_line(code, out, err, "pip install matplotlib")
    assert not model.exists()  # checked before any training


# ----- mistakes ---------------------------------------------------------------------------------


LM = ["train-lm", "--text", "{folder}/text.txt"]
TOY = ["train-translate", "--toy"]
# (command, its bad options, words of the message)
SCHEDULE_MISTAKES = [
    (LM, ["--patience", "3"], ["--patience is a setting of --schedule plateau", "constant"]),
    (TOY, ["--schedule", "cosine", "--lr-factor", "0.5"], ["--lr-factor", "step or plateau"]),
    (LM, ["--schedule", "step", "--warmup", "2"], ["--warmup is a setting of --schedule cosine"]),
    (TOY, ["--schedule", "plateau", "--step-size", "2"], ["--step-size", "--schedule step"]),
    (LM, ["--schedule", "step", "--restore-best"], ["--restore-best", "--schedule plateau"]),
    (LM, ["--schedule", "cosine", "--warmup", "30", "--epochs", "20"],
     ["--warmup 30 is longer than the run (--epochs 20)"]),
    (TOY, ["--schedule", "plateau", "--early-stopping", "5"],
     ["--early-stopping 5 would stop", "--patience 10", "12 or more"]),
    (LM, ["--schedule", "plateau", "--patience", "2", "--early-stopping", "3"], ["4 or more"]),
    (LM, ["--schedule", "plateau", "--valid-fraction", "0"],
     ["--schedule plateau watches the validation perplexity", "--valid-fraction above 0"]),
    (LM, ["--early-stopping", "2", "--valid-fraction", "0"], ["--early-stopping 2 watches"]),
    (TOY, ["--num-valid", "0", "--schedule", "plateau"], ["give --num-valid N"]),
    (["train-translate", "--pairs", "{folder}/pairs.txt"], ["--early-stopping", "3"],
     ["--early-stopping 3 watches", "no pair is held out"]),
    (LM, ["--schedule", "plateau", "--lr-factor", "1"], ["--lr-factor must be below 1"]),
    (TOY, ["--schedule", "step", "--lr-factor", "0"], ["--lr-factor must be above 0"]),
    (LM, ["--clip-value", "0"], ["--clip-value must be above 0"]),
    (TOY, ["--clip-value", "nan"], ["--clip-value must be a finite number"]),
    (LM, ["--early-stopping", "0"], ["--early-stopping must be at least 1"]),
    (TOY, ["--schedule", "step", "--step-size", "0"], ["--step-size must be at least 1"]),
    (LM, ["--schedule", "cosine", "--warmup", "-1"], ["--warmup must be at least 0"]),
    (LM, ["--schedule", "plateau", "--patience", "-1"], ["--patience must be at least 0"]),
]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["train-lm", "--text", "{tmp}/missing.txt", "--out", "{tmp}/m"], ["missing.txt"]),
        (["generate", "--model", "{folder}/text.txt", "--prefix", "a"],
         ["not a seqrnn model file (safetensors)"]),
        (["translate", "--model", "{folder}/empty.txt", "go ."], ["not a seqrnn model file"]),
        (["train-lm", "--text", "{folder}/empty.txt", "--out", "{tmp}/m"], ["holds no text"]),
        (["train-lm", "--text", "{folder}/digits.txt", "--out", "{tmp}/m"],
         ["--preprocess none"]),
        (["translate", "--model", "{folder}/lm.safetensors", "go ."], ["LanguageModel"]),
        (["generate", "--model", "{folder}/tr.safetensors", "--prefix", "a"], ["Seq2Seq"]),
        (["train-lm", "--text", "{folder}/text.txt", "--hidden", "-1", "--out", "{tmp}/m"],
         ["--hidden"]),
        (["train-lm", "--text", "{folder}/text.txt", "--lr", "nan", "--out", "{tmp}/m"], ["--lr"]),
        (["train-lm", "--text", "{folder}/text.txt", "--out", "{tmp}/no/m"], ["does not exist"]),
        (["train-lm", "--text", "{folder}/text.txt", "--out", "{tmp}/m", "--batch", "500"],
         ["--batch"]),
        (["train-translate", "--pairs", "{folder}/text.txt", "--out", "{tmp}/m"], ["tab"]),
        (["train-translate", "--toy", "--num-valid", "5000", "--out", "{tmp}/m"], ["--num-valid"]),
        (["generate", "--model", "{folder}/lm.safetensors", "--prefix", ""], ["--prefix"]),
        (["train-lm", "--text", "{folder}/text.txt", "--hidden", str(10**17), "--batch", "4",
          "--num-steps", "10", "--out", "{tmp}/m"],
         ["cannot allocate"]),
        (["train-lm", "--text", "{folder}/text.txt", "--hidden", str(10**20), "--out", "{tmp}/m"],
         ["--hidden must be at most"]),
        *[([*cmd, *bad, "--out", "{tmp}/m"], words) for cmd, bad, words in SCHEDULE_MISTAKES],
    ],
)
def test_user_mistakes_are_one_line(argv: list[str], words: list[str], folder: Path,
                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [a.format(tmp=tmp_path, folder=folder) for a in argv]
    assert_one_error_line(*run(capsys, *argv), *words)


@pytest.mark.parametrize("argv", [[], ["fly"], ["train-lm", "--out", "m"],
                                  ["train-lm", "--text", "t", "--out", "m", "--hidden", "lots"],
                                  ["train-lm", "--text", "t", "--out", "m", "--schedule", "linear"],
                                  ["train-translate", "--toy", "--pairs", "p", "--out", "m"]])
def test_argparse_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and "Traceback" not in err and "usage:" not in err
    assert len(err.splitlines()) == 1 and "error: " in err and "--help" in err, err


def test_usage_error_names_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["train-lm", "--out", "m"])
    assert capsys.readouterr().err == ("seqrnn train-lm: error: the following arguments are "
                                       "required: --text (seqrnn train-lm --help lists the "
                                       "options)\n")


def test_preprocess_default_matches_the_python_loader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = "The Time Machine, by H. G. Wells [1898]\n\nI.\n\n" + TEXT
    (tmp_path / "timemachine.txt").write_text(raw, encoding="utf-8")
    _, vocab = seqrnn.data.load_corpus_time_machine(tmp_path)
    for preprocess, expected in [(None, vocab), ("d2l", vocab),
                                 ("none", seqrnn.Vocab(seqrnn.tokenize(raw)))]:
        flag = [] if preprocess is None else ["--preprocess", preprocess]
        code, out, err = run(capsys, "train-lm", "--text", str(tmp_path / "timemachine.txt"),
                             *flag, *TINY_LM, "--out", str(tmp_path / "m.safetensors"), "--json")
        assert code == 0 and err == ""
        assert json.loads(out)["preprocess"] == (preprocess or "d2l")
        assert seqrnn.LanguageModel.load(tmp_path / "m.safetensors").vocab == expected
    assert len(vocab) < len(seqrnn.Vocab(seqrnn.tokenize(raw)))


def test_steps_is_a_deprecated_spelling_of_num_steps(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [a if a != "--num-steps" else "--steps" for a in TINY_LM]
    code, out, err = run(capsys, "train-lm", "--text", str(folder / "text.txt"), *argv,
                         "--out", str(tmp_path / "m.safetensors"), "--json")
    assert code == 0 and json.loads(out)["num_steps"] == 10
    assert err == "seqrnn train-lm: warning: --steps is deprecated; use --num-steps\n"
    with pytest.raises(SystemExit):
        main(["train-lm", "--help"])
    out = capsys.readouterr().out
    assert "--num-steps" in out and "--steps" not in out.replace("--num-steps", "")


def test_generate_warns_about_unknown_characters(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "generate", "--model", str(folder / "lm.safetensors"),
                         "--prefix", "The Time!", "--num-tokens", "3")
    assert code == 0 and out.startswith("<unk>he <unk>ime<unk>")
    assert err == ("seqrnn generate: warning: 2 prefix characters are not in the vocabulary "
                   "and read as <unk>: '!', 'T'\n")


# ----- bench and the entry point --------------------------------------------------------------


def test_bench_outside_a_checkout(monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "find_bench", lambda: None)
    assert_one_error_line(*run(capsys, "bench", "--quick"), "source repository")


def test_bench_passes_arguments_on(monkeypatch: pytest.MonkeyPatch,
                                   capfd: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(REPO)  # an installed wheel finds the script from the checkout it runs in
    assert main(["bench", "--help"]) == 0  # bench.py's own help: it exits before any work
    assert "--quick" in capfd.readouterr().out


def test_console_script() -> None:
    script = Path(sys.executable).with_name("seqrnn")  # installed next to this interpreter
    if not script.exists():
        pytest.skip("no seqrnn console script next to this Python")
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and done.stdout.strip() == f"seqrnn {seqrnn.__version__}"


def test_entry_point_help() -> None:
    done = subprocess.run([sys.executable, "-m", "seqrnn", "--help"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0 and done.stderr == ""
    for command in ("demo", "train-lm", "generate", "train-translate", "translate", "bench"):
        assert command in done.stdout


def test_generate_several_prefixes_with_top_p_and_stop(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(folder / "lm.safetensors")
    lm = seqrnn.LanguageModel.load(model)
    code, out, err = run(capsys, "generate", "--model", model, "--prefix", "the", "--prefix",
                         "a tim", "--num-tokens", "40", "--temperature", "0.9", "--top-p", "0.8",
                         "--stop", " ", "--seed", "3")
    assert code == 0 and err == ""
    texts = lm.generate(["the", "a tim"], 40, temperature=0.9, top_p=0.8, stop=" ", seed=3)
    assert out == "".join(t + "\n" for t in texts)
    assert texts[1] == lm.predict("a tim", 40, temperature=0.9, top_p=0.8, stop=" ", seed=4)


@pytest.mark.parametrize(("argv", "message"), [
    (["--top-p", "0"], "--top-p must be in (0, 1], got 0.0"),
    (["--top-p", "1.5"], "--top-p must be in (0, 1], got 1.5"),
    (["--stop", "<eos>"], "--stop '<eos>' is not a char of the model's vocabulary"),
    (["--prefix", ""], "--prefix must hold at least one char token, got ''"),
])
def test_generate_argument_errors(folder: Path, capsys: pytest.CaptureFixture[str],
                                  argv: list[str], message: str) -> None:
    assert_one_error_line(*run(capsys, "generate", "--model", str(folder / "lm.safetensors"),
                               "--prefix", "the", *argv), message)
