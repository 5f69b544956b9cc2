//! Replays the fuzzing corpus of `rust/core/fuzz` (see README, "Testing"): every file goes to
//! both model loaders in both element types and its metadata to the vocabulary parser, which
//! must return `Ok` or `Err` and never panic. The valid seeds must load.
//!
//! The seed checkpoints are written by the ignored test below:
//! `cargo test -p seqrnn --test fuzz_replay -- --ignored write_seed_corpus`.

use seqrnn::{
    checkpoint, Context, Init, LanguageModel, LmConfig, Nonlinearity, Seq2Seq, Seq2SeqConfig, Vocab,
};
use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/checkpoint")
}

/// What the fuzz target does with one input, returning which loaders accepted it.
fn feed(bytes: &[u8]) -> [bool; 4] {
    let ok = [
        LanguageModel::<f32>::from_bytes(bytes).is_ok(),
        LanguageModel::<f64>::from_bytes(bytes).is_ok(),
        Seq2Seq::<f32>::from_bytes(bytes).is_ok(),
        Seq2Seq::<f64>::from_bytes(bytes).is_ok(),
    ];
    if let Ok(meta) = checkpoint::metadata(bytes) {
        for value in meta.values() {
            let _ = Vocab::from_json(value);
        }
    }
    ok
}

#[test]
fn every_corpus_file_loads_or_fails_cleanly() {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "{}: expected the committed corpus, found {} files",
        dir.display(),
        files.len()
    );
    let mut accepted = 0;
    for path in &files {
        let bytes = std::fs::read(path).expect("a readable corpus file");
        let result = catch_unwind(AssertUnwindSafe(|| feed(&bytes)));
        let ok = result.unwrap_or_else(|_| panic!("{} made a loader panic", path.display()));
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with("valid-") {
            assert!(ok.iter().any(|&b| b), "{name}: a valid seed must load");
        }
        accepted += ok.iter().filter(|&&b| b).count();
    }
    assert!(
        accepted >= 4,
        "only {accepted} loads succeeded over the corpus"
    );
}

fn vocab(tokens: &str) -> String {
    let tokens: Vec<&str> = tokens.split(' ').collect();
    Vocab::new(&tokens, 0, &["<pad>", "<bos>", "<eos>"])
        .expect("a vocabulary of a few tokens")
        .to_json()
}

/// Valid tiny checkpoints of each model and element type, then mutations of them.
fn seeds() -> seqrnn::Result<Vec<(String, Vec<u8>)>> {
    let lm_meta = HashMap::from([("seqrnn.vocab".to_string(), vocab("a b"))]);
    let lm32 = LanguageModel::<f32>::new(LmConfig::new(6, 2), Init::Uniform, 1)?
        .to_bytes(lm_meta.clone())?;
    let lm_config = LmConfig {
        embed_size: Some(2),
        num_layers: 2,
        nonlinearity: Nonlinearity::Relu,
        ..LmConfig::new(6, 2)
    };
    let lm64 = LanguageModel::<f64>::new(lm_config, Init::Uniform, 2)?.to_bytes(lm_meta)?;
    let s2s_config = Seq2SeqConfig {
        src_vocab_size: 5,
        tgt_vocab_size: 6,
        embed_size: 2,
        hidden_size: 2,
        num_layers: 1,
        context: Context::Concat,
        dropout: 0.0,
        attention: seqrnn::Attention::None,
    };
    let s2s_meta = HashMap::from([
        ("seqrnn.src_vocab".to_string(), vocab("x")),
        ("seqrnn.tgt_vocab".to_string(), vocab("y z")),
        ("seqrnn.num_steps".to_string(), "4".to_string()),
    ]);
    let s2s32 =
        Seq2Seq::<f32>::new(s2s_config.clone(), Init::Uniform, 3)?.to_bytes(s2s_meta.clone())?;
    let s2s_none = Seq2SeqConfig {
        context: Context::None,
        num_layers: 2,
        ..s2s_config
    };
    let s2s64 = Seq2Seq::<f64>::new(s2s_none, Init::Orthogonal, 4)?.to_bytes(s2s_meta)?;

    let header = |b: &[u8]| 8 + u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8])) as usize;
    let replace = |b: &[u8], from: &str, to: &str| -> Vec<u8> {
        // Same length keeps the offsets valid: only the header text changes.
        let text = String::from_utf8_lossy(&b[8..header(b)]).replace(from, to);
        let mut out = b[..8].to_vec();
        out[..8].copy_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(&b[header(b)..]);
        out
    };
    let mut huge_header = lm32.clone();
    huge_header[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
    let mut flipped = s2s32.clone();
    let at = header(&flipped) - 3;
    flipped[at] ^= 0x20;
    Ok(vec![
        ("valid-lm-f32".into(), lm32.clone()),
        ("valid-lm-f64-embed-relu".into(), lm64.clone()),
        ("valid-s2s-f32-concat".into(), s2s32.clone()),
        ("valid-s2s-f64-none".into(), s2s64.clone()),
        ("bad-truncated-lm".into(), lm32[..lm32.len() - 5].to_vec()),
        ("bad-truncated-header".into(), s2s64[..40].to_vec()),
        ("bad-huge-header".into(), huge_header),
        ("bad-header-byte".into(), flipped),
        (
            "bad-hidden-1e9".into(),
            replace(&lm32, r#"hidden_size\":2"#, r#"hidden_size\":1000000000"#),
        ),
        (
            "bad-kind-swapped".into(),
            replace(&s2s32, "Seq2Seq", "LanguageModel"),
        ),
        (
            "bad-dtype-swapped".into(),
            replace(&lm64, "\"float64\"", "\"float32\""),
        ),
        (
            "bad-layers".into(),
            replace(&s2s64, r#"num_layers\":2"#, r#"num_layers\":1"#),
        ),
    ])
}

#[test]
#[ignore = "writes the seed corpus into the source tree"]
fn write_seed_corpus() -> seqrnn::Result<()> {
    let dir = corpus_dir();
    std::fs::create_dir_all(&dir).expect("a writable corpus folder");
    for (name, bytes) in seeds()? {
        std::fs::write(dir.join(name), bytes).expect("a writable corpus file");
    }
    Ok(())
}
