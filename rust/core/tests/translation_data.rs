//! The translation pipeline gives the vocabularies, ids and split that Python's
//! `seqrnn.data.load_translation_pairs` gives: both tests compute the same fingerprint of the
//! first 1,000 pairs of d2l's `fra-eng.txt` (`tests/test_data_pipeline.py` on the Python side)
//! and compare it with the value recorded once.
//!
//! The fingerprint is FNV-1a (64 bits) of the UTF-8 text made of these lines, each a name, a
//! tab and values joined by single spaces, every line ended by `\n`: `src_vocab` and
//! `tgt_vocab` (the tokens in id order), `src`, `tgt_in`, `tgt_out` (the ids, row by row),
//! `src_valid_len`, `tgt_valid_len`, `train` and `valid` (start and end of the rows).
//!
//! The file is `$SEQRNN_DATA/fra-eng.txt`, else `shared/data/fra-eng.txt` next to the
//! repository; the test passes without checking anything when neither exists.

use seqrnn::pairs::{PairOptions, TranslationData};
use std::path::PathBuf;

/// `load_translation_pairs(num_examples=1000, num_valid=100)`: 9 steps, `min_freq` 2,
/// vocabularies from the 900 training pairs.
const RECORDED: &str = "9774c7ec383e7c5f";

fn fra_eng() -> Option<PathBuf> {
    let folders = [
        std::env::var_os("SEQRNN_DATA").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")),
    ];
    folders
        .into_iter()
        .flatten()
        .map(|f| f.join("fra-eng.txt"))
        .find(|p| p.is_file())
}

/// The fingerprint described in the module doc.
fn fingerprint(d: &TranslationData) -> String {
    let join = |values: Vec<String>| values.join(" ");
    let ints = |v: &mut dyn Iterator<Item = &usize>| join(v.map(|i| i.to_string()).collect());
    let ids = &d.ids;
    let lines = [
        ("src_vocab", join(d.src_vocab.idx_to_token().to_vec())),
        ("tgt_vocab", join(d.tgt_vocab.idx_to_token().to_vec())),
        ("src", ints(&mut ids.src.iter())),
        ("tgt_in", ints(&mut ids.tgt_in.iter())),
        ("tgt_out", ints(&mut ids.tgt_out.iter())),
        ("src_valid_len", ints(&mut ids.src_len.iter())),
        ("tgt_valid_len", ints(&mut ids.tgt_len.iter())),
        ("train", ints(&mut [d.train.start, d.train.end].iter())),
        ("valid", ints(&mut [d.valid.start, d.valid.end].iter())),
    ];
    let text: String = lines.iter().map(|(k, v)| format!("{k}\t{v}\n")).collect();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

#[test]
fn first_thousand_pairs_give_the_recorded_fingerprint() -> seqrnn::Result<()> {
    let Some(path) = fra_eng() else {
        eprintln!("fra-eng.txt not found ($SEQRNN_DATA, shared/data): nothing checked");
        return Ok(());
    };
    let options = PairOptions {
        num_valid: 100,
        ..PairOptions::default()
    };
    let data = TranslationData::load(&path, Some(1000), &options)?;
    assert_eq!(
        (data.train.clone(), data.valid.clone()),
        (0..900, 900..1000)
    );
    assert_eq!(data.sentences[0], ("go .".to_string(), "va !".to_string()));
    assert_eq!(fingerprint(&data), RECORDED);
    Ok(())
}

#[test]
fn a_file_with_fewer_pairs_than_asked_for_is_an_error() {
    let path = std::env::temp_dir().join(format!("seqrnn-few-{}.txt", std::process::id()));
    std::fs::write(&path, "Go.\tVa !\nHi.\tSalut !\n").unwrap();
    let err = TranslationData::load(&path, Some(3), &PairOptions::default()).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    let msg = err.to_string();
    assert!(matches!(
        err,
        seqrnn::Error::NotEnoughData {
            got: 2,
            wanted: 3,
            ..
        }
    ));
    assert!(
        msg.ends_with("holds 2 pairs, fewer than the 3 asked for"),
        "{msg}"
    );
}

#[test]
fn pipeline_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<TranslationData>();
    check::<PairOptions>();
}
