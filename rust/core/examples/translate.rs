//! English -> French with an RNN encoder-decoder, as d2l's seq2seq chapter trains it.
//!
//! ```text
//! cargo run --release -p seqrnn --example translate -- /path/to/fra-eng.txt
//! cargo run --release -p seqrnn --example translate -- fra-eng.txt --epochs 30 \
//!     --save translator.safetensors "I'm cold." $'Go away.\tVa-t\'en !'
//! ```
//!
//! Reads the first `--num-examples` pairs with d2l 1.0's conventions (`seqrnn::pairs`, the same
//! rows, vocabularies and split as Python's `seqrnn.data.load_translation_pairs`), holds out the
//! last `--num-valid`, builds the vocabularies from the training pairs (`--vocab-from all`: from
//! every pair, as d2l 1.0), trains a
//! `Seq2Seq<f32>` (context concatenated to every decoder input) with Adam and global-norm
//! clipping at 1, and reports the training perplexity per epoch. Then it translates d2l's four
//! test sentences, or the sentences given after the file (`source` or `source<TAB>reference`),
//! greedily and with beam search, with d2l's BLEU (k = 2) where a reference is known, and the
//! mean BLEU over the held-out pairs. `--save` writes a checkpoint that Python reads with
//! `seqrnn.Translator.load`.

mod common;

use common::{number, positive, Arg};
use ndarray::{s, ArrayView2};
use seqrnn::pairs::{preprocess_nmt, words, PairOptions, TranslationData, VocabFrom, BOS, EOS};
use seqrnn::{Context, DecodeConfig, Init, OptimizerConfig, PairSet, Parameters};
use seqrnn::{PairTask, Seq2Seq, Seq2SeqConfig, TrainConfig, Trainer, Vocab};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

const USAGE: &str = "usage: translate <pairs file> [--num-examples N] [--num-valid N] \
[--min-freq N] [--vocab-from train|all] [--num-steps N] [--embed N] [--hidden N] [--layers N] [--epochs N] [--batch N] \
[--lr X] [--beam N] [--seed N] [--save FILE] [sentence[<TAB>reference] ...]";

/// d2l's test sentences and their references.
const ENGLISH: [&str; 4] = ["go .", "i lost .", "he's calm .", "i'm home ."];
const FRENCH: [&str; 4] = [
    "va !",
    "j'ai perdu .",
    "il est calme .",
    "je suis chez moi .",
];

/// Sentences decoded at once (bounds the beam-search buffers on large held-out sets).
const DECODE_CHUNK: usize = 256;

/// Bounds on `--num-steps` and `--beam`: every row is padded to `num_steps` tokens and beam
/// search keeps `beam x vocabulary` candidates per sentence, all allocated up front.
const MAX_NUM_STEPS: usize = 10_000;
const MAX_BEAM: usize = 1_000;

/// Every option, with d2l 1.0's settings as defaults.
#[derive(Debug)]
struct Args {
    file: PathBuf,
    sentences: Vec<String>,
    num_examples: usize,
    num_valid: usize,
    min_freq: usize,
    vocab_from: VocabFrom,
    num_steps: usize,
    embed: usize,
    hidden: usize,
    layers: usize,
    epochs: usize,
    batch: usize,
    lr: f64,
    beam: usize,
    seed: u64,
    save: Option<PathBuf>,
}

/// Parses `--name value` or `--name=value` options around the file and the sentences; after
/// `--` everything is a sentence.
fn parse_args(argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut positional = Vec::new();
    let mut a = Args {
        file: PathBuf::new(),
        sentences: Vec::new(),
        num_examples: 640,
        num_valid: 128,
        min_freq: 2,
        vocab_from: VocabFrom::Train,
        num_steps: 9,
        embed: 256,
        hidden: 256,
        layers: 2,
        epochs: 50,
        batch: 128,
        lr: 0.005,
        beam: 4,
        seed: 0,
        save: None,
    };
    for item in common::items(argv, USAGE, true) {
        let (name, value) = match item? {
            Arg::Option { name, value } => (name, value),
            Arg::Positional(arg) => {
                positional.push(arg);
                continue;
            }
        };
        match name.as_str() {
            "num-examples" => a.num_examples = positive(&name, &value)?,
            "num-valid" => a.num_valid = number(&name, &value)?,
            "min-freq" => a.min_freq = number(&name, &value)?,
            "vocab-from" => {
                a.vocab_from = VocabFrom::parse(&value)
                    .map_err(|_| format!("--vocab-from must be train or all, got {value:?}"))?;
            }
            "num-steps" => a.num_steps = positive(&name, &value)?,
            "embed" => a.embed = positive(&name, &value)?,
            "hidden" => a.hidden = positive(&name, &value)?,
            "layers" => a.layers = positive(&name, &value)?,
            "epochs" => a.epochs = positive(&name, &value)?,
            "batch" => a.batch = positive(&name, &value)?,
            "beam" => a.beam = positive(&name, &value)?,
            "lr" => a.lr = number(&name, &value)?,
            "seed" => a.seed = number(&name, &value)?,
            "save" => a.save = Some(PathBuf::from(value)),
            other => return Err(format!("unknown option --{other} ({USAGE})")),
        }
    }
    let mut positional = positional.into_iter();
    a.file = positional
        .next()
        .map(PathBuf::from)
        .ok_or(format!("missing the pairs file ({USAGE})"))?;
    a.sentences = positional.collect();
    Ok(a)
}

/// d2l 1.0's BLEU of one prediction against one label (tokens split on spaces):
/// `exp(min(0, 1 - len_label / len_pred)) * prod_{n=1..min(k, len_pred)} p_n^(1/2^n)`, `p_n`
/// the clipped n-gram precision. An empty prediction scores 0, as in `seqrnn.metrics.bleu`.
fn bleu(pred: &str, label: &str, k: usize) -> f64 {
    let (pred, label) = (words(pred), words(label));
    if pred.is_empty() {
        return 0.0;
    }
    let mut score = (1.0 - label.len() as f64 / pred.len() as f64)
        .min(0.0)
        .exp();
    for n in 1..=k.min(pred.len()) {
        let mut left: HashMap<&[&str], usize> = HashMap::new(); // label n-grams not yet matched
        for gram in label.windows(n) {
            *left.entry(gram).or_default() += 1;
        }
        let mut matches = 0;
        for gram in pred.windows(n) {
            if let Some(c) = left.get_mut(gram).filter(|c| **c > 0) {
                *c -= 1;
                matches += 1;
            }
        }
        let p_n = matches as f64 / (pred.len() - n + 1) as f64;
        score *= p_n.powf(0.5f64.powi(n as i32));
    }
    score
}

/// Translations of source rows `src` `(n, num_steps)` with valid lengths `(n,)`: greedy for
/// `beam == 1`, else beam search ranked by `log P / L^0.75`; at most `max_len` tokens each.
fn translate(
    model: &Seq2Seq<f32>,
    tgt_vocab: &Vocab,
    src: ArrayView2<'_, usize>,
    src_len: &[usize],
    beam: usize,
    max_len: usize,
) -> Result<Vec<String>, seqrnn::Error> {
    let cfg = DecodeConfig {
        bos: tgt_vocab.token_to_id(BOS),
        eos: tgt_vocab.token_to_id(EOS),
        max_len,
        beam_size: beam,
        alpha: 0.75,
    };
    let mut out = Vec::with_capacity(src_len.len());
    for start in (0..src_len.len()).step_by(DECODE_CHUNK) {
        let end = (start + DECODE_CHUNK).min(src_len.len());
        let rows = src.slice(s![start..end, ..]).reversed_axes(); // (num_steps, chunk)
        for hyp in model.beam_search(rows, &src_len[start..end], cfg)? {
            out.push(tgt_vocab.decode(&hyp.tokens)?.join(" "));
        }
    }
    Ok(out)
}

/// Perplexity of the teacher-forced target tokens of `set`, in minibatches of `batch`.
fn perplexity(model: &Seq2Seq<f32>, set: &PairSet, batch: usize) -> Result<f64, seqrnn::Error> {
    let (mut loss_sum, mut tokens) = (0.0, 0);
    for start in (0..set.len()).step_by(batch) {
        let rows: Vec<usize> = (start..(start + batch).min(set.len())).collect();
        let (src, src_len, tgt_in, tgt_out, tgt_len) = set.gather(&rows); // (steps, rows) ids
        let step = model.loss_and_grads(&seqrnn::seq2seq::Batch {
            src: src.view(),
            src_len: &src_len,
            tgt_in: tgt_in.view(),
            tgt_out: tgt_out.view(),
            tgt_len: &tgt_len,
        })?;
        loss_sum += f64::from(step.loss) * step.tokens as f64;
        tokens += step.tokens;
    }
    Ok((loss_sum / tokens.max(1) as f64).exp())
}

fn main() {
    if let Err(msg) = run(parse_args(std::env::args().skip(1))) {
        eprintln!("translate: {}", msg.replace('\n', " "));
        std::process::exit(2);
    }
}

fn run(args: Result<Args, String>) -> Result<(), String> {
    let a = args?;
    let err = |e: seqrnn::Error| e.to_string();
    // Check everything the user chose before training, not after.
    let optimizer = OptimizerConfig::adam(a.lr);
    optimizer.validate().map_err(err)?;
    for (name, value, max) in [
        ("num-steps", a.num_steps, MAX_NUM_STEPS),
        ("beam", a.beam, MAX_BEAM),
    ] {
        if value > max {
            return Err(format!("--{name} must be at most {max}, got {value}"));
        }
    }
    if a.num_valid >= a.num_examples {
        return Err(format!(
            "--num-valid ({}) must be below --num-examples ({}) to leave a training pair",
            a.num_valid, a.num_examples
        ));
    }
    if let Some(path) = &a.save {
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        if dir.is_some_and(|d| !d.is_dir()) {
            return Err(format!(
                "--save: no folder {}",
                dir.unwrap_or(path).display()
            ));
        }
    }
    let options = PairOptions {
        num_steps: a.num_steps,
        min_freq: a.min_freq,
        num_valid: a.num_valid,
        vocab_from: a.vocab_from,
        preprocess: true,
    };
    let data = TranslationData::load(&a.file, Some(a.num_examples), &options).map_err(err)?;
    let (train, num_train) = (data.train_set(), data.train.len());
    let (sources, references): (Vec<String>, Vec<Option<String>>) = if a.sentences.is_empty() {
        let refs = FRENCH.iter().map(|f| Some(f.to_string()));
        (
            ENGLISH.iter().map(|e| e.to_string()).collect(),
            refs.collect(),
        )
    } else {
        a.sentences
            .iter()
            .map(|s| match s.split_once('\t') {
                Some((src, reference)) => Ok((src.to_string(), Some(preprocess_nmt(reference)?))),
                None => Ok((s.clone(), None)),
            })
            .collect::<Result<Vec<_>, seqrnn::Error>>()
            .map_err(err)?
            .into_iter()
            .unzip()
    };
    let (test_src, test_len) = data.encode_source(&sources).map_err(err)?;

    let config = Seq2SeqConfig {
        src_vocab_size: data.src_vocab.len(),
        tgt_vocab_size: data.tgt_vocab.len(),
        embed_size: a.embed,
        hidden_size: a.hidden,
        num_layers: a.layers,
        context: Context::Concat,
        dropout: 0.0,
        attention: seqrnn::Attention::None,
    };
    if config.num_params().is_none() {
        return Err(
            "--embed, --hidden and --layers give more parameters than fit in memory".into(),
        );
    }
    // Orthogonal recurrent weights, the default of Python's Seq2Seq.
    let mut model = Seq2Seq::<f32>::new(config, Init::Orthogonal, a.seed).map_err(err)?;
    let config = TrainConfig {
        seed: a.seed,
        ..TrainConfig::new(a.batch, optimizer)
    };
    let mut trainer = Trainer::new(PairTask::new(train).map_err(err)?, config).map_err(err)?;
    println!(
        "{}: {} pairs ({num_train} train, {} held out), vocabularies {} source / {} target, \
         {} parameters",
        a.file.display(),
        data.len(),
        a.num_valid,
        data.src_vocab.len(),
        data.tgt_vocab.len(),
        model.num_elements()
    );
    let start = Instant::now();
    for epoch in 1..=a.epochs {
        let t0 = Instant::now();
        let stats = trainer
            .run(&mut model, usize::MAX)
            .map_err(|e| format!("training, epoch {epoch}: {e}"))?;
        let seconds = t0.elapsed().as_secs_f64();
        let ppl = (stats.loss_sum / stats.tokens.max(1) as f64).exp();
        println!(
            "epoch {epoch:>3}/{}  train ppl {ppl:8.3}  {:>7.0} pairs/s  {seconds:5.2} s",
            a.epochs,
            num_train as f64 / seconds.max(1e-9),
        );
    }
    println!("trained in {:.1} s", start.elapsed().as_secs_f64());

    let decode = |src: ArrayView2<'_, usize>, len: &[usize], beam| {
        translate(&model, &data.tgt_vocab, src, len, beam, a.num_steps).map_err(err)
    };
    let name = |beam| match beam {
        1 => "greedy".to_string(),
        k => format!("beam {k}"),
    };
    let mut beams = vec![1, a.beam];
    beams.dedup();
    for &beam in &beams {
        let outs = decode(test_src.view(), &test_len, beam)?;
        println!("{}:", name(beam));
        let mut scores = Vec::new();
        for ((src, reference), out) in sources.iter().zip(&references).zip(&outs) {
            match reference {
                Some(r) => {
                    let b = bleu(out, r, 2);
                    scores.push(b);
                    println!("  {src:<14} => {out:<28} BLEU {b:.3}  [{r}]");
                }
                None => println!("  {src:<14} => {out}"),
            }
        }
        if !scores.is_empty() {
            let mean = scores.iter().sum::<f64>() / scores.len() as f64;
            println!("  mean BLEU {mean:.3} over {} sentences", scores.len());
        }
    }

    if !data.valid.is_empty() {
        let valid = data.valid_set();
        let ppl = perplexity(&model, &valid, a.batch).map_err(err)?;
        let mut line = format!("held-out {} pairs: perplexity {ppl:.3}", valid.len());
        for &beam in &beams {
            let outs = decode(valid.src.view(), &valid.src_len, beam)?;
            let total: f64 = outs
                .iter()
                .zip(&data.sentences[data.valid.clone()])
                .map(|(out, (_, reference))| bleu(out, reference, 2))
                .sum();
            let sep = if beam == 1 { ", mean BLEU" } else { "," };
            line += &format!("{sep} {:.3} {}", total / outs.len() as f64, name(beam));
        }
        println!("{line}");
    }

    if let Some(path) = &a.save {
        let meta = HashMap::from([
            ("seqrnn.src_vocab".to_string(), data.src_vocab.to_json()),
            ("seqrnn.tgt_vocab".to_string(), data.tgt_vocab.to_json()),
            ("seqrnn.num_steps".to_string(), a.num_steps.to_string()),
        ]);
        model.save(path, meta).map_err(err)?;
        println!("saved {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::bleu;

    #[test]
    fn bleu_matches_d2l() {
        let b = bleu("A B B C D", "A B C D E F", 2);
        let expected = (-0.2f64).exp() * 0.8f64.sqrt() * 0.75f64.powf(0.25);
        assert!((b - expected).abs() < 1e-12);
        assert_eq!(bleu("va !", "va !", 2), 1.0);
        assert_eq!(bleu("va", "va !", 2), (-1.0f64).exp()); // order 2 skipped: one word
        assert_eq!(bleu("", "va !", 2), 0.0);
        assert_eq!(bleu("a a a", "a", 2), 0.0); // clipped: p_1 = 1/3, no bigram matches
    }
}
