//! Hostile checkpoint bytes: truncated, corrupted, forged headers and configurations, files of
//! the other model. Every one is an `Err` naming what is wrong, never a panic, and nothing the
//! header claims is allocated before it is checked against the tensors actually present.

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use seqrnn::checkpoint::{self, CONFIG, KIND};
use seqrnn::{Context, Error, Init, LanguageModel, LmConfig, Parameters, Seq2Seq, Seq2SeqConfig};
use std::collections::HashMap;

/// Vocab 5, hidden 3, one layer, one-hot input: 5 tensors, 50 scalars.
fn lm() -> LanguageModel<f32> {
    LanguageModel::new(LmConfig::new(5, 3), Init::Uniform, 0).unwrap()
}

fn s2s() -> Seq2Seq<f32> {
    let config = Seq2SeqConfig {
        src_vocab_size: 4,
        tgt_vocab_size: 5,
        embed_size: 2,
        hidden_size: 3,
        num_layers: 2,
        context: Context::Concat,
        dropout: 0.0,
        attention: seqrnn::Attention::None,
    };
    Seq2Seq::new(config, Init::Uniform, 0).unwrap()
}

/// Checkpoint bytes with `tensors`, metadata `kind`, `config` (JSON) and the element type.
fn forge(tensors: &[(String, ArrayD<f32>)], kind: &str, config: &str) -> Vec<u8> {
    let views: Vec<(String, ArrayViewD<'_, f32>)> =
        tensors.iter().map(|(n, a)| (n.clone(), a.view())).collect();
    let meta = HashMap::from([
        (KIND.to_string(), kind.to_string()),
        (CONFIG.to_string(), config.to_string()),
    ]);
    checkpoint::to_bytes(&views, meta).unwrap()
}

fn lm_config_json(vocab: usize, hidden: usize, layers: usize) -> String {
    format!(
        r#"{{"vocab_size":{vocab},"hidden_size":{hidden},"num_layers":{layers},"embed_size":null,"nonlinearity":"tanh","dropout":0.0}}"#
    )
}

fn message<T>(r: seqrnn::Result<T>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn all_loaders(bytes: &[u8]) -> [bool; 4] {
    [
        LanguageModel::<f32>::from_bytes(bytes).is_ok(),
        LanguageModel::<f64>::from_bytes(bytes).is_ok(),
        Seq2Seq::<f32>::from_bytes(bytes).is_ok(),
        Seq2Seq::<f64>::from_bytes(bytes).is_ok(),
    ]
}

#[test]
fn round_trip_in_both_models() {
    let (a, b) = (lm(), s2s());
    let meta = HashMap::from([("note".to_string(), "x".to_string())]);
    let (a2, meta2) = LanguageModel::<f32>::from_bytes(&a.to_bytes(meta).unwrap()).unwrap();
    assert_eq!(a2, a);
    assert_eq!(meta2.get("note").map(String::as_str), Some("x"));
    let (b2, _) = Seq2Seq::<f32>::from_bytes(&b.to_bytes(HashMap::new()).unwrap()).unwrap();
    assert_eq!(b2, b);
}

#[test]
fn every_truncation_is_an_error() {
    for bytes in [
        lm().to_bytes(HashMap::new()).unwrap(),
        s2s().to_bytes(HashMap::new()).unwrap(),
    ] {
        for n in 0..bytes.len() {
            assert_eq!(all_loaders(&bytes[..n]), [false; 4], "prefix of {n} bytes");
        }
    }
}

#[test]
fn every_flipped_byte_loads_or_fails_cleanly() {
    let bytes = lm().to_bytes(HashMap::new()).unwrap();
    let header = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            let ok = all_loaders(&b);
            // A flip in the tensor data gives another valid model; a flip in the size prefix
            // or the header is an error unless it lands somewhere harmless (JSON whitespace).
            if i >= header {
                assert_eq!(ok, [true, false, false, false], "byte {i}");
            } else if i < 8 {
                assert_eq!(ok, [false; 4], "byte {i}");
            }
        }
    }
}

#[test]
fn header_sizes_beyond_the_file_are_errors() {
    let bytes = lm().to_bytes(HashMap::new()).unwrap();
    for claimed in [bytes.len() as u64, 200_000_000, u64::MAX / 2, u64::MAX] {
        let mut b = bytes.clone();
        b[..8].copy_from_slice(&claimed.to_le_bytes());
        let msg = message(LanguageModel::<f32>::from_bytes(&b));
        assert!(msg.starts_with("invalid checkpoint: "), "{claimed}: {msg}");
    }
    assert!(message(LanguageModel::<f32>::from_bytes(b"")).starts_with("invalid checkpoint"));
}

#[test]
fn a_file_of_the_other_model_is_named() {
    let s = s2s().to_bytes(HashMap::new()).unwrap();
    let l = lm().to_bytes(HashMap::new()).unwrap();
    let msg = message(LanguageModel::<f32>::from_bytes(&s));
    assert_eq!(
        msg,
        "invalid checkpoint: file holds a Seq2Seq, not a LanguageModel"
    );
    let msg = message(Seq2Seq::<f32>::from_bytes(&l));
    assert_eq!(
        msg,
        "invalid checkpoint: file holds a LanguageModel, not a Seq2Seq"
    );
    let plain = checkpoint::to_bytes::<f32>(&[], HashMap::new()).unwrap();
    assert!(message(LanguageModel::<f32>::from_bytes(&plain)).contains("not a seqrnn checkpoint"));
}

#[test]
fn element_type_must_match() {
    let bytes = lm().to_bytes(HashMap::new()).unwrap();
    let r = LanguageModel::<f64>::from_bytes(&bytes);
    assert!(matches!(r, Err(Error::DtypeMismatch { ref expected, .. }) if expected == "float64"));
}

/// A configuration claiming a billion hidden units over a file of 50 scalars is refused by
/// counting, before any model is built: building it would have been an OutOfMemory error.
#[test]
fn huge_configurations_are_refused_before_allocation() {
    let tensors = lm().state_dict();
    for (hidden, layers) in [
        (1_000_000_000, 1),
        (1 << 40, 1),
        (3, 1 << 50),
        (1 << 62, 1 << 62),
    ] {
        let bytes = forge(
            &tensors,
            "LanguageModel",
            &lm_config_json(5, hidden, layers),
        );
        let msg = message(LanguageModel::<f32>::from_bytes(&bytes));
        assert!(
            msg.contains("the file holds 50") || msg.contains("overflow"),
            "{hidden} x {layers}: {msg}"
        );
    }
    let config = lm_config_json(usize::MAX, 3, 1);
    let msg = message(LanguageModel::<f32>::from_bytes(&forge(
        &tensors,
        "LanguageModel",
        &config,
    )));
    assert!(msg.contains("overflow"), "{msg}");
}

#[test]
fn zero_sizes_in_a_configuration_are_errors() {
    // hidden 0 needs only the output bias (5 scalars): the count matches, the model cannot be.
    let bias = vec![("output.bias".to_string(), ArrayD::zeros(IxDyn(&[5])))];
    let bytes = forge(
        &bias,
        "LanguageModel",
        &lm_config_json(5, 0, 1_000_000_000_000),
    );
    let r = LanguageModel::<f32>::from_bytes(&bytes);
    assert!(matches!(r, Err(Error::InvalidArgument { ref what, .. }) if what == "hidden_size"));
    let empty = forge(&[], "LanguageModel", &lm_config_json(0, 0, 1));
    assert!(LanguageModel::<f32>::from_bytes(&empty).is_err());
}

#[test]
fn names_and_shapes_must_match_the_configuration() {
    let good = lm().state_dict();
    let config = lm_config_json(5, 3, 1);

    let mut renamed = good.clone();
    renamed[0].0 = "rnn.weight_ih_l9".into();
    let r = LanguageModel::<f32>::from_bytes(&forge(&renamed, "LanguageModel", &config));
    assert!(
        matches!(r, Err(Error::UnknownParameter { ref name, .. }) if name == "rnn.weight_ih_l9")
    );

    let mut transposed = good.clone();
    let i = transposed
        .iter()
        .position(|(n, _)| n == "output.weight")
        .unwrap();
    transposed[i].1 = transposed[i].1.t().to_owned(); // (3, 5) instead of (5, 3): same count
    let r = LanguageModel::<f32>::from_bytes(&forge(&transposed, "LanguageModel", &config));
    assert!(matches!(r, Err(Error::ShapeMismatch { ref what, .. }) if what == "output.weight"));

    let mut split = good.clone(); // output.bias moved into a tensor of another name
    let bias = split.pop().unwrap();
    split.push(("extra".into(), bias.1));
    assert!(LanguageModel::<f32>::from_bytes(&forge(&split, "LanguageModel", &config)).is_err());
}

#[test]
fn bad_metadata_is_named() {
    let tensors = lm().state_dict();
    let cases = [
        ("not json", "bad configuration"),
        (r#"{"vocab_size":5}"#, "bad configuration"),
        (
            r#"{"vocab_size":-5,"hidden_size":3,"num_layers":1,"embed_size":null,"nonlinearity":"tanh"}"#,
            "bad configuration",
        ),
        (
            r#"{"vocab_size":5,"hidden_size":3,"num_layers":1,"embed_size":null,"nonlinearity":"gelu"}"#,
            "bad configuration",
        ),
        (
            r#"{"vocab_size":5,"hidden_size":3,"num_layers":1,"embed_size":null,"nonlinearity":"tanh","dropout":7.0}"#,
            "dropout",
        ),
    ];
    for (config, expected) in cases {
        let msg = message(LanguageModel::<f32>::from_bytes(&forge(
            &tensors,
            "LanguageModel",
            config,
        )));
        assert!(msg.contains(expected), "{config}: {msg}");
    }
    let mut meta = HashMap::from([(KIND.to_string(), "LanguageModel".to_string())]);
    let views: Vec<_> = tensors.iter().map(|(n, a)| (n.clone(), a.view())).collect();
    let bytes = checkpoint::to_bytes(&views, meta.clone()).unwrap();
    assert!(message(LanguageModel::<f32>::from_bytes(&bytes)).contains("seqrnn.config"));
    meta.insert(CONFIG.into(), lm_config_json(5, 3, 1));
    let mut bytes = checkpoint::to_bytes(&views, meta).unwrap();
    let at = find(&bytes, b"float32").unwrap();
    bytes[at..at + 7].copy_from_slice(b"float16");
    assert!(message(LanguageModel::<f32>::from_bytes(&bytes)).contains("float16"));
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn write_atomic_replaces_whole_files_and_cleans_up_on_error() {
    let dir = std::env::temp_dir().join(format!("seqrnn-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    checkpoint::write_atomic(&path, b"first").unwrap();
    checkpoint::write_atomic(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let sub = dir.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    assert!(matches!(
        checkpoint::write_atomic(&sub, b"x"),
        Err(Error::Io { .. })
    ));
    let missing = dir.join("missing").join("m.safetensors");
    let r = checkpoint::write_atomic(&missing, b"x");
    assert!(matches!(r, Err(Error::Io { ref path, .. }) if path.contains("missing")));
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["m.safetensors", "sub"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `bytes` with its JSON header text changed by `edit` (padded with spaces to 8 bytes).
fn with_header(bytes: &[u8], edit: impl FnOnce(String) -> String) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header = edit(String::from_utf8(bytes[8..8 + n].to_vec()).unwrap());
    while !header.len().is_multiple_of(8) {
        header.push(' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&bytes[8 + n..]);
    out
}

#[test]
fn a_key_twice_in_the_header_is_refused() {
    let bytes = lm().to_bytes(HashMap::new()).unwrap();
    let same = with_header(&bytes, |h| h);
    LanguageModel::<f32>::from_bytes(&same).unwrap();
    // A second seqrnn.kind: serde would keep one of the two silently.
    let twice = with_header(&bytes, |h| {
        h.replacen(
            "\"__metadata__\":{",
            "\"__metadata__\":{\"seqrnn.kind\":\"Seq2Seq\",",
            1,
        )
    });
    let msg = message(LanguageModel::<f32>::from_bytes(&twice));
    assert!(msg.contains("key \"seqrnn.kind\" appears twice"), "{msg}");
    // A second tensor entry of one name, and a repeated key inside a tensor's entry.
    let first = bytes_tensor_entry(&bytes);
    let twice = with_header(&bytes, |h| h.replacen('{', &format!("{{{first},"), 1));
    assert!(message(LanguageModel::<f32>::from_bytes(&twice)).contains("appears twice"));
    let twice = with_header(&bytes, |h| {
        h.replacen(
            "\"dtype\":\"F32\"",
            "\"dtype\":\"F32\",\"dtype\":\"F32\"",
            1,
        )
    });
    let msg = message(LanguageModel::<f32>::from_bytes(&twice));
    assert!(msg.contains("duplicate field `dtype`"), "{msg}"); // safetensors' own check
}

/// The first `"name":{...}` tensor entry of a header, as text.
fn bytes_tensor_entry(bytes: &[u8]) -> String {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = String::from_utf8(bytes[8..8 + n].to_vec()).unwrap();
    let start = header.find("\"output.bias\"").unwrap();
    let end = start + header[start..].find('}').unwrap() + 1;
    header[start..end].to_string()
}

#[test]
fn non_finite_values_are_refused() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut m = lm();
        let mut sd: Vec<(String, ArrayD<f32>)> = m.state_dict();
        sd[1].1.as_slice_mut().unwrap()[2] = bad;
        let views: Vec<_> = sd.iter().map(|(n, a)| (n.clone(), a.view())).collect();
        m.load_state_dict(&views).unwrap();
        let msg = message(LanguageModel::<f32>::from_bytes(
            &m.to_bytes(HashMap::new()).unwrap(),
        ));
        assert!(
            msg.starts_with(&format!("invalid checkpoint: tensor {} holds", sd[1].0))
                && msg.contains("non-finite")
                && msg.contains("at element 2"),
            "{msg}"
        );
    }
}

#[test]
fn unknown_configuration_fields_are_refused() {
    let named: Vec<(String, ArrayD<f32>)> = lm().state_dict();
    let config = lm_config_json(5, 3, 1).replacen('{', "{\"hidden_sizes\":[3],", 1);
    let msg = message(LanguageModel::<f32>::from_bytes(&forge(
        &named,
        "LanguageModel",
        &config,
    )));
    assert!(msg.contains("unknown field `hidden_sizes`"), "{msg}");
    let config = lm_config_json(5, 3, 1).replacen('{', "{\"hidden_size\":3,", 1);
    let msg = message(LanguageModel::<f32>::from_bytes(&forge(
        &named,
        "LanguageModel",
        &config,
    )));
    assert!(msg.contains("duplicate field `hidden_size`"), "{msg}");
}

#[cfg(unix)]
#[test]
fn only_regular_files_are_read() {
    // /dev/zero never ends and a FIFO blocks until a writer comes: both refused unopened.
    let dir = std::env::temp_dir().join(format!("seqrnn-read-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    let _ = std::fs::remove_file(&fifo);
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let mut paths = vec![std::path::PathBuf::from("/dev/zero")];
    if made.is_ok_and(|s| s.success()) {
        paths.push(fifo.clone());
    }
    for path in paths {
        let (tx, rx) = std::sync::mpsc::channel();
        let p = path.clone();
        std::thread::spawn(move || tx.send(checkpoint::read(&p).map(|b| b.len())));
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("reading did not return");
        match r {
            Err(Error::Io { source, .. }) => {
                assert_eq!(source.kind(), std::io::ErrorKind::InvalidInput, "{path:?}")
            }
            other => panic!("{path:?}: {other:?}"),
        }
        let text = checkpoint::read_text(&path).unwrap_err().to_string();
        assert!(text.ends_with("not a regular file"), "{text}");
    }
    let err = checkpoint::read(&dir).unwrap_err(); // the OS's own error for a directory
    assert!(
        matches!(&err, Error::Io { source, .. } if source.raw_os_error().is_some()),
        "{err}"
    );
    let bin = dir.join("binary");
    std::fs::write(&bin, [0xff, 0xfe]).unwrap();
    let err = checkpoint::read_text(&bin).unwrap_err();
    assert!(
        matches!(&err, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
