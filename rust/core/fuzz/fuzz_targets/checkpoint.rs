//! Feeds arbitrary bytes to both model loaders in both element types, and every metadata value
//! to the vocabulary parser (checkpoints carry their vocabularies there): each must return `Ok`
//! or `Err`, never panic, hang or allocate more than the input justifies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use seqrnn::{checkpoint, LanguageModel, Seq2Seq, Vocab};

fuzz_target!(|bytes: &[u8]| {
    let _ = LanguageModel::<f32>::from_bytes(bytes);
    let _ = LanguageModel::<f64>::from_bytes(bytes);
    let _ = Seq2Seq::<f32>::from_bytes(bytes);
    let _ = Seq2Seq::<f64>::from_bytes(bytes);
    if let Ok(meta) = checkpoint::metadata(bytes) {
        for value in meta.values() {
            let _ = Vocab::from_json(value);
        }
    }
});
