//! Tokens and their ids, as in d2l 1.0's `Vocab` (d2l.ai, "Converting Raw Text into Sequence
//! Data").
//!
//! The id of a token is its position in `idx_to_token`, which holds `<unk>`, the reserved
//! tokens and every token seen at least `min_freq` times, **sorted by string** (d2l 1.0 sorts,
//! d2l 0.x ordered by frequency). Unknown tokens map to the id of `<unk>`.
//!
//! ```
//! use seqrnn::vocab::{preprocess_d2l, tokenize, Level, Vocab};
//!
//! let text = preprocess_d2l("The Time Machine, by H. G. Wells")?;
//! assert_eq!(text, "the time machine by h g wells");
//! let tokens = tokenize(&text, Level::Char)?;
//! let vocab = Vocab::new(&tokens, 0, &[])?;
//! assert_eq!(vocab.id_to_token(0)?, " "); // ' ' < '<unk>' < 'a' in string order
//! assert_eq!(vocab.token_to_id("<unk>"), vocab.unk());
//! assert_eq!(vocab.token_to_id("z"), vocab.unk()); // never seen
//! let ids = vocab.encode(&tokens)?; // (tokens,)
//! assert_eq!(vocab.decode(&ids)?.concat(), text);
//! # Ok::<(), seqrnn::Error>(())
//! ```

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// The token that stands for every token outside the vocabulary.
pub const UNK: &str = "<unk>";

/// How text is cut into tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Every Unicode scalar value is a token (Python's `list(text)`).
    Char,
    /// Runs of non-whitespace are tokens (Python's `text.split()`).
    Word,
}

impl Level {
    /// Parses `"char"` or `"word"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "char" => Ok(Level::Char),
            "word" => Ok(Level::Word),
            other => Err(Error::invalid(
                "level",
                "\"char\" or \"word\"",
                format!("{other:?}"),
            )),
        }
    }
}

/// Cuts `text` into tokens. `Word` splits on the same whitespace as Python's `str.split()`
/// (Unicode `White_Space` plus the separators U+001C..U+001F) and drops empty tokens. Fails
/// only with [`Error::Interrupted`], when the [`crate::interrupt`] hook says stop.
pub fn tokenize(text: &str, level: Level) -> Result<Vec<String>> {
    match level {
        Level::Char => map_polled(text.chars(), String::from),
        Level::Word => map_polled(
            text.split(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
                .filter(|w| !w.is_empty()),
            String::from,
        ),
    }
}

/// Items between two polls of the [`crate::interrupt`] hook in the loops over tokens.
const POLL_EVERY: usize = 1024;
/// Units of [`crate::interrupt::poll`] work per token (a hash or an allocation).
const TOKEN_WORK: usize = 64;

/// `f` of every item, in order, polling the [`crate::interrupt`] hook every [`POLL_EVERY`] items.
fn map_polled<I, R>(items: impl Iterator<Item = I>, mut f: impl FnMut(I) -> R) -> Result<Vec<R>> {
    let n = items.size_hint().0;
    let mut out = Vec::with_capacity(n);
    for (i, item) in items.enumerate() {
        if i % POLL_EVERY == 0 {
            crate::interrupt::poll(TOKEN_WORK * n.saturating_sub(i).clamp(1, POLL_EVERY))?;
        }
        out.push(f(item));
    }
    Ok(out)
}

/// d2l 1.0's `re.sub('[^A-Za-z]+', ' ', text).lower()`: every run of characters that are not
/// ASCII letters becomes one space, letters are lowercased. Fails only with
/// [`Error::Interrupted`].
pub fn preprocess_d2l(text: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut in_run = false;
    for (i, c) in text.chars().enumerate() {
        if i % (16 * POLL_EVERY) == 0 {
            crate::interrupt::poll(16 * POLL_EVERY)?;
        }
        if c.is_ascii_alphabetic() {
            out.push(c.to_ascii_lowercase());
            in_run = false;
        } else if !in_run {
            out.push(' ');
            in_run = true;
        }
    }
    Ok(out)
}

/// What a vocabulary file holds; [`Vocab`] adds the reverse index and the checks.
#[derive(Serialize, Deserialize)]
struct VocabData {
    idx_to_token: Vec<String>,
    token_freqs: Vec<(String, usize)>,
}

/// A bijection between tokens and ids `0..len()`, with `<unk>` for everything else.
///
/// Serializes to JSON as `{"idx_to_token": [...], "token_freqs": [[token, count], ...]}`;
/// deserializing runs the same checks as [`Vocab::from_json`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "VocabData", into = "VocabData")]
pub struct Vocab {
    idx_to_token: Vec<String>,
    token_freqs: Vec<(String, usize)>,
    token_to_idx: HashMap<String, usize>,
    unk: usize,
}

impl Vocab {
    /// Builds the vocabulary of `tokens` like d2l 1.0: `<unk>`, `reserved_tokens` and the tokens
    /// counted at least `min_freq` times, deduplicated and sorted by string. Fails only with
    /// [`Error::Interrupted`].
    pub fn new<S: AsRef<str>>(
        tokens: &[S],
        min_freq: usize,
        reserved_tokens: &[&str],
    ) -> Result<Self> {
        let mut first_seen: HashMap<&str, usize> = HashMap::new();
        let mut counts: Vec<(&str, usize)> = Vec::new();
        for (n, t) in tokens.iter().enumerate() {
            if n % POLL_EVERY == 0 {
                crate::interrupt::poll(POLL_EVERY * TOKEN_WORK)?;
            }
            let t = t.as_ref();
            let i = *first_seen.entry(t).or_insert_with(|| {
                counts.push((t, 0));
                counts.len() - 1
            });
            counts[i].1 += 1;
        }
        counts.sort_by_key(|&(_, f)| std::cmp::Reverse(f)); // stable: ties keep first appearance
        let kept = counts
            .iter()
            .filter(|(_, f)| *f >= min_freq)
            .map(|(t, _)| *t);
        let mut idx_to_token: Vec<String> = std::iter::once(UNK)
            .chain(reserved_tokens.iter().copied())
            .chain(kept)
            .collect::<HashSet<&str>>()
            .into_iter()
            .map(String::from)
            .collect();
        idx_to_token.sort_unstable(); // byte order of UTF-8 == Python's code-point order
        let token_freqs = counts
            .into_iter()
            .map(|(t, f)| (t.to_string(), f))
            .collect();
        Self::from_data(VocabData {
            idx_to_token,
            token_freqs,
        })
    }

    /// Checks the invariants and builds the reverse index.
    fn from_data(data: VocabData) -> Result<Self> {
        let VocabData {
            idx_to_token,
            token_freqs,
        } = data;
        let mut token_to_idx = HashMap::with_capacity(idx_to_token.len());
        for (i, t) in idx_to_token.iter().enumerate() {
            if let Some(j) = token_to_idx.insert(t.clone(), i) {
                return Err(Error::invalid(
                    "idx_to_token",
                    "unique tokens",
                    format!("{t:?} at ids {j} and {i}"),
                ));
            }
        }
        let unk = *token_to_idx.get(UNK).ok_or_else(|| {
            Error::invalid(
                "idx_to_token",
                format!("a list holding {UNK:?}"),
                format!("{} tokens without it", idx_to_token.len()),
            )
        })?;
        Ok(Vocab {
            idx_to_token,
            token_freqs,
            token_to_idx,
            unk,
        })
    }

    /// Number of ids (always at least 1: `<unk>`).
    pub fn len(&self) -> usize {
        self.idx_to_token.len()
    }

    /// Always `false`: every vocabulary holds `<unk>`.
    pub fn is_empty(&self) -> bool {
        self.idx_to_token.is_empty()
    }

    /// The id of `<unk>`.
    pub fn unk(&self) -> usize {
        self.unk
    }

    /// Tokens in id order.
    pub fn idx_to_token(&self) -> &[String] {
        &self.idx_to_token
    }

    /// `(token, count)` of the building text, most frequent first, ties in order of first
    /// appearance (includes tokens below `min_freq`; empty for a vocabulary without counts).
    pub fn token_freqs(&self) -> &[(String, usize)] {
        &self.token_freqs
    }

    /// The id of `token`, or [`Vocab::unk`] for a token outside the vocabulary.
    pub fn token_to_id(&self, token: &str) -> usize {
        self.token_to_idx.get(token).copied().unwrap_or(self.unk)
    }

    /// The token of `id`; [`Error::TokenOutOfRange`] unless `id < len()`.
    pub fn id_to_token(&self, id: usize) -> Result<&str> {
        self.idx_to_token
            .get(id)
            .map(String::as_str)
            .ok_or_else(|| Error::TokenOutOfRange {
                what: "id".to_string(),
                id: i64::try_from(id).unwrap_or(i64::MAX),
                vocab_size: self.len(),
            })
    }

    /// Shapes: `(n,)` tokens -> `(n,)` ids. Fails only with [`Error::Interrupted`].
    pub fn encode<S: AsRef<str>>(&self, tokens: &[S]) -> Result<Vec<usize>> {
        map_polled(tokens.iter(), |t| self.token_to_id(t.as_ref()))
    }

    /// Shapes: `(n,)` ids -> `(n,)` tokens; [`Error::TokenOutOfRange`] for the first bad id.
    pub fn decode(&self, ids: &[usize]) -> Result<Vec<String>> {
        ids.iter()
            .map(|&id| self.id_to_token(id).map(String::from))
            .collect()
    }

    /// The JSON text described on [`Vocab`].
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("strings and counts always serialize")
    }

    /// Parses [`Vocab::to_json`]'s output. [`Error::Checkpoint`] for text that is not such JSON,
    /// [`Error::InvalidArgument`] for an empty list, a repeated token or a missing `<unk>`.
    pub fn from_json(json: &str) -> Result<Self> {
        let data: VocabData = serde_json::from_str(json)
            .map_err(|e| Error::Checkpoint(format!("vocabulary JSON: {e}")))?;
        Self::from_data(data)
    }

    /// Writes [`Vocab::to_json`] to `path` with [`crate::checkpoint::write_atomic`] (so
    /// atomically, following links, keeping permissions; [`Error::Io`] names the path).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::checkpoint::write_atomic(path.as_ref(), self.to_json().as_bytes())
    }

    /// Reads a file written by [`Vocab::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let json = crate::checkpoint::read_text(path)?;
        Self::from_json(&json)
    }
}

impl TryFrom<VocabData> for Vocab {
    type Error = Error;
    fn try_from(data: VocabData) -> Result<Self> {
        Self::from_data(data)
    }
}

impl From<Vocab> for VocabData {
    fn from(v: Vocab) -> Self {
        VocabData {
            idx_to_token: v.idx_to_token,
            token_freqs: v.token_freqs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_like_d2l() -> Result<()> {
        let tokens = tokenize("b a c a b a d", Level::Word)?;
        let v = Vocab::new(&tokens, 2, &["<pad>"])?;
        assert_eq!(v.idx_to_token(), ["<pad>", "<unk>", "a", "b"]);
        assert_eq!(v.unk(), 1);
        let freqs: Vec<_> = v
            .token_freqs()
            .iter()
            .map(|(t, f)| (t.as_str(), *f))
            .collect();
        assert_eq!(freqs, [("a", 3), ("b", 2), ("c", 1), ("d", 1)]); // c before d: seen first
        assert_eq!(v.encode(&["a", "c", "<pad>"])?, [2, 1, 0]);
        assert_eq!(v.decode(&[3, 2])?, ["b", "a"]);
        Ok(())
    }

    #[test]
    fn reserved_and_unk_are_not_duplicated() -> Result<()> {
        let v = Vocab::new(&["<unk>", "x"], 0, &["x", "<unk>"])?;
        assert_eq!(v.idx_to_token(), ["<unk>", "x"]);
        assert_eq!(Vocab::new::<&str>(&[], 0, &[])?.len(), 1);
        Ok(())
    }

    #[test]
    fn out_of_range_id_carries_numbers() -> Result<()> {
        let v = Vocab::new(&["a"], 0, &[])?;
        match v.decode(&[0, 5]) {
            Err(Error::TokenOutOfRange { id, vocab_size, .. }) => {
                assert_eq!((id, vocab_size), (5, 2))
            }
            other => panic!("unexpected {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn json_round_trip_and_checks() -> Result<()> {
        let v = Vocab::new(&tokenize("héllo wörld", Level::Char)?, 0, &["<bos>"])?;
        assert_eq!(Vocab::from_json(&v.to_json()).unwrap(), v);
        let back: Vocab = serde_json::from_str(&serde_json::to_string(&v).unwrap()).unwrap();
        assert_eq!(back, v);
        let bad = |s: &str| Vocab::from_json(s).unwrap_err();
        assert!(matches!(bad("{"), Error::Checkpoint(_)));
        let empty = r#"{"idx_to_token": [], "token_freqs": []}"#;
        assert!(matches!(bad(empty), Error::InvalidArgument { .. }));
        let dup = r#"{"idx_to_token": ["<unk>", "a", "a"], "token_freqs": []}"#;
        assert!(bad(dup).to_string().contains("ids 1 and 2"));
        let no_unk = r#"{"idx_to_token": ["a"], "token_freqs": []}"#;
        assert!(bad(no_unk).to_string().contains("<unk>"));
        assert!(serde_json::from_str::<Vocab>(no_unk).is_err());
        Ok(())
    }

    #[test]
    fn file_round_trip_and_io_error() -> Result<()> {
        let v = Vocab::new(&["a", "b"], 0, &[])?;
        let path = std::env::temp_dir().join(format!("seqrnn-vocab-{}.json", std::process::id()));
        v.save(&path).unwrap();
        assert_eq!(Vocab::load(&path).unwrap(), v);
        std::fs::remove_file(&path).unwrap();
        let err = Vocab::load(&path).unwrap_err();
        assert!(matches!(err, Error::Io { .. }) && err.to_string().contains("seqrnn-vocab-"));
        Ok(())
    }

    #[test]
    fn tokenize_and_preprocess_match_python() -> Result<()> {
        assert_eq!(
            tokenize("a\u{1f}b\u{a0} c\n", Level::Word)?,
            ["a", "b", "c"]
        );
        assert_eq!(tokenize("añ", Level::Char)?, ["a", "ñ"]);
        assert_eq!(preprocess_d2l("I'm--OK, 42 times!\n")?, "i m ok times ");
        assert_eq!(preprocess_d2l("déjà vu")?, "d j vu");
        assert!(Level::parse("byte")
            .unwrap_err()
            .to_string()
            .contains("\"byte\""));
        Ok(())
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Vocab>();
    }
}
