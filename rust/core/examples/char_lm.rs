//! A character-level RNN language model on a text file, as d2l's RNN chapter trains it.
//!
//! ```text
//! cargo run --release -p seqrnn --example char_lm -- /path/to/timemachine.txt
//! cargo run --release -p seqrnn --example char_lm -- input.txt --preprocess none \
//!     --hidden 512 --epochs 5 --save model.safetensors
//! ```
//!
//! Trains on the first 90% of the text with sequential sampling (the state carried between
//! minibatches) and global-norm clipping at 1, reports training and validation perplexity per
//! epoch, then continues `--prefix` greedily and by sampling. `--save` writes a checkpoint that
//! Python reads with `seqrnn.LanguageModel.load` (vocabulary included).

mod common;

use common::{number, positive, Arg};
use seqrnn::vocab::{preprocess_d2l, tokenize, Level, Vocab};
use seqrnn::{Init, LanguageModel, LmConfig, OptimizerConfig, Parameters, SamplingConfig};
use seqrnn::{LmTask, Sampling, TrainConfig, Trainer};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

const USAGE: &str = "usage: char_lm <text file> [--hidden N] [--layers N] [--epochs N] \
[--batch N] [--num-steps N] [--lr X] [--optimizer sgd|adam|adagrad] [--preprocess d2l|none] \
[--prefix TEXT] [--tokens N] [--temperature T] [--save FILE] [--seed N]";

/// A bound on `--tokens`: `generate` reserves its whole output up front.
const MAX_TOKENS: usize = 1_000_000;

/// Every option, with the defaults of a one-minute demo on timemachine.txt.
#[derive(Debug)]
struct Args {
    file: PathBuf,
    hidden: usize,
    layers: usize,
    epochs: usize,
    batch: usize,
    steps: usize,
    lr: f64,
    optimizer: String,
    preprocess: bool,
    prefix: String,
    tokens: usize,
    temperature: f64,
    save: Option<PathBuf>,
    seed: u64,
}

/// Parses `--name value` or `--name=value` options around one positional file name.
fn parse_args(argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut file = None;
    let mut a = Args {
        file: PathBuf::new(),
        hidden: 256,
        layers: 1,
        epochs: 40,
        batch: 32,
        steps: 35,
        lr: 0.005,
        optimizer: "adam".into(),
        preprocess: true,
        prefix: "time traveller".into(),
        tokens: 100,
        temperature: 0.7,
        save: None,
        seed: 0,
    };
    for item in common::items(argv, USAGE, false) {
        let (name, value) = match item? {
            Arg::Option { name, value } => (name, value),
            Arg::Positional(arg) => {
                if file.replace(PathBuf::from(&arg)).is_some() {
                    return Err(format!("unexpected extra argument {arg:?}"));
                }
                continue;
            }
        };
        match name.as_str() {
            "hidden" => a.hidden = positive(&name, &value)?,
            "layers" => a.layers = positive(&name, &value)?,
            "epochs" => a.epochs = positive(&name, &value)?,
            "batch" => a.batch = positive(&name, &value)?,
            "num-steps" | "steps" => a.steps = positive(&name, &value)?, // --steps: older spelling
            "tokens" => a.tokens = number(&name, &value)?,
            "seed" => a.seed = number(&name, &value)?,
            "lr" => a.lr = number(&name, &value)?,
            "temperature" => a.temperature = number(&name, &value)?,
            "optimizer" => a.optimizer = value,
            "prefix" => a.prefix = value,
            "save" => a.save = Some(PathBuf::from(value)),
            "preprocess" => {
                a.preprocess = match value.as_str() {
                    "d2l" => true,
                    "none" => false,
                    other => {
                        return Err(format!("--preprocess must be d2l or none, got {other:?}"))
                    }
                }
            }
            other => return Err(format!("unknown option --{other} ({USAGE})")),
        }
    }
    a.file = file.ok_or(format!("missing the text file ({USAGE})"))?;
    Ok(a)
}

fn main() {
    if let Err(msg) = run(parse_args(std::env::args().skip(1))) {
        eprintln!("char_lm: {}", msg.replace('\n', " "));
        std::process::exit(2);
    }
}

fn run(args: Result<Args, String>) -> Result<(), String> {
    let a = args?;
    let err = |e: seqrnn::Error| e.to_string();
    // Check everything the user chose before a minute of training, not after.
    let optimizer = OptimizerConfig::by_name(&a.optimizer, a.lr).map_err(err)?;
    let sampled = SamplingConfig {
        temperature: a.temperature,
        top_k: None,
        top_p: None,
    };
    sampled.validate().map_err(err)?;
    if a.tokens > MAX_TOKENS {
        return Err(format!(
            "--tokens must be at most {MAX_TOKENS}, got {}",
            a.tokens
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
    let raw = std::fs::read_to_string(&a.file)
        .map_err(|e| format!("cannot read {}: {e}", a.file.display()))?;
    let clean = |s: &str| {
        if a.preprocess {
            preprocess_d2l(s).map_err(err)
        } else {
            Ok(s.to_string())
        }
    };
    let tokens = tokenize(&clean(&raw)?, Level::Char).map_err(err)?;
    let vocab = Vocab::new(&tokens, 0, &[]).map_err(err)?;
    let corpus = vocab.encode(&tokens).map_err(err)?; // (tokens,)
    let split = corpus.len() * 9 / 10;
    let (train, valid) = corpus.split_at(split);
    let prefix_tokens = tokenize(&clean(&a.prefix)?, Level::Char).map_err(err)?;
    if prefix_tokens.is_empty() {
        return Err("--prefix must not be empty".into());
    }
    if valid.len() < 2 {
        return Err(format!(
            "{}: {} characters is too short to hold out 10% for validation",
            a.file.display(),
            corpus.len()
        ));
    }

    let mut config = LmConfig::new(vocab.len(), a.hidden);
    config.num_layers = a.layers;
    let mut model = LanguageModel::<f32>::new(config, Init::Uniform, a.seed).map_err(err)?;
    let task = LmTask::new(train.to_vec(), a.steps, Sampling::Sequential).map_err(err)?;
    let config = TrainConfig {
        seed: a.seed,
        ..TrainConfig::new(a.batch, optimizer)
    };
    let mut trainer = Trainer::new(task, config).map_err(err)?;
    println!(
        "{}: {} characters ({} train, {} valid), vocabulary {}, {} parameters",
        a.file.display(),
        corpus.len(),
        train.len(),
        valid.len(),
        vocab.len(),
        model.num_elements()
    );
    let start = Instant::now();
    for epoch in 1..=a.epochs {
        let t0 = Instant::now();
        let stats = trainer
            .run(&mut model, usize::MAX)
            .map_err(|e| format!("training on the first 90%: {e}"))?;
        let seconds = t0.elapsed().as_secs_f64();
        let train_ppl = (stats.loss_sum / stats.tokens.max(1) as f64).exp();
        let valid_ppl = model.perplexity(valid, a.batch, a.steps).map_err(err)?;
        println!(
            "epoch {epoch:>3}/{}  train ppl {train_ppl:7.3}  valid ppl {valid_ppl:7.3}  \
             {:>8.0} tok/s  {seconds:5.1} s",
            a.epochs,
            stats.tokens as f64 / seconds.max(1e-9),
        );
    }
    println!("trained in {:.1} s", start.elapsed().as_secs_f64());

    let prefix = vocab.encode(&prefix_tokens).map_err(err)?;
    let unknown = prefix.iter().filter(|&&id| id == vocab.unk()).count();
    if unknown > 0 {
        println!("note: {unknown} prefix character(s) are not in the vocabulary (read as <unk>)");
    }
    let text = |ids: Vec<usize>| vocab.decode(&ids).map(|t| t.concat()).map_err(err);
    let greedy = model
        .generate(&prefix, a.tokens, SamplingConfig::GREEDY, a.seed)
        .map_err(err)?;
    println!("greedy:          {}", text(greedy)?);
    let sample = model
        .generate(&prefix, a.tokens, sampled, a.seed)
        .map_err(err)?;
    println!("temperature {:.2}: {}", a.temperature, text(sample)?);

    if let Some(path) = &a.save {
        let meta = HashMap::from([
            ("seqrnn.vocab".to_string(), vocab.to_json()),
            ("seqrnn.level".to_string(), "char".to_string()),
        ]);
        model.save(path, meta).map_err(err)?;
        println!("saved {}", path.display());
    }
    Ok(())
}
