//! Sentence pairs for translation with d2l 1.0's conventions (`MTFraEng`), exactly as the
//! Python package's `seqrnn.data` builds them.
//!
//! A pairs file has a source and a target sentence in its first two tab-separated columns
//! (further columns are ignored, lines with fewer are skipped). [`preprocess_nmt`] lowercases a
//! sentence and splits `, . ! ?` off the words; [`words`] splits on single spaces. Row `i` of
//! pair `(xs, ys)` then holds
//!
//! ```text
//! src     = xs + <eos>           cut or padded with <pad> to num_steps
//! tgt_in  = <bos> + ys + <eos>   cut or padded to num_steps
//! tgt_out = ys + <eos>           cut or padded to num_steps
//! ```
//!
//! with valid lengths `min(len + 1, num_steps)`. Both vocabularies count the padded rows of
//! every pair given (d2l builds them over all the pairs it loads, held-out ones included) and
//! hold `<unk>`, `<pad>` and `<eos>`; the target one also `<bos>`.
//!
//! Shapes: a [`PairSet`] is batch-major, `(pairs, num_steps)`; [`PairSet::gather`] gives the
//! time-major minibatches the model takes.
//!
//! ```
//! use seqrnn::pairs::{parse_pairs, TranslationData};
//!
//! let pairs = parse_pairs("Go.\tVa !\tCC-BY\nHi.\tSalut.\n", None);
//! let data = TranslationData::new(&pairs, 4, 0)?;
//! assert_eq!(data.sentences[0], ("go .".to_string(), "va !".to_string()));
//! let src = data.src_vocab.decode(&data.ids.src.row(0).to_vec())?;
//! assert_eq!(src, ["go", ".", "<eos>", "<pad>"]);
//! assert_eq!(data.ids.tgt_len, [3, 3]);
//! # Ok::<(), seqrnn::Error>(())
//! ```

use crate::error::{check_positive, check_shape};
use crate::{Error, Result, Vocab};
use ndarray::{Array2, Axis};
use std::path::Path;

/// Padding token.
pub const PAD: &str = "<pad>";
/// Beginning-of-sentence token (target side only).
pub const BOS: &str = "<bos>";
/// End-of-sentence token.
pub const EOS: &str = "<eos>";

/// d2l 1.0's `MTFraEng._preprocess`: U+202F and U+00A0 become spaces, the text is lowercased,
/// and a space goes before every `,` `.` `!` `?` that follows anything but a space.
pub fn preprocess_nmt(text: &str) -> String {
    let text = text.replace(['\u{202f}', '\u{a0}'], " ").to_lowercase();
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev = None;
    for c in text.chars() {
        if matches!(c, ',' | '.' | '!' | '?') && prev.is_some_and(|p| p != ' ') {
            out.push(' ');
        }
        out.push(c);
        prev = Some(c);
    }
    out
}

/// d2l's word tokens: split on single spaces, empty strings dropped.
pub fn words(sentence: &str) -> Vec<&str> {
    sentence.split(' ').filter(|w| !w.is_empty()).collect()
}

/// The first two tab-separated columns of each `\n`-separated line that has them (trailing
/// `\r`/`\n` stripped), at most `limit` pairs. Sentences are returned as written.
pub fn parse_pairs(text: &str, limit: Option<usize>) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for line in text.split('\n') {
        if limit.is_some_and(|n| pairs.len() >= n) {
            break;
        }
        let mut cols = line.trim_end_matches(['\r', '\n']).split('\t');
        if let (Some(src), Some(tgt)) = (cols.next(), cols.next()) {
            pairs.push((src.to_string(), tgt.to_string()));
        }
    }
    pairs
}

/// [`parse_pairs`] of a UTF-8 file, its lines ended by `\n`, `\r\n` or `\r` (Python's
/// universal newlines). [`Error::Io`] names the file.
pub fn read_pairs(path: &Path, limit: Option<usize>) -> Result<Vec<(String, String)>> {
    let text = crate::checkpoint::read_text(path)?;
    Ok(parse_pairs(
        &text.replace("\r\n", "\n").replace('\r', "\n"),
        limit,
    ))
}

/// `tokens + [<eos>]`, cut or padded with `<pad>` to `num_steps`.
fn row<'a>(tokens: &[&'a str], num_steps: usize) -> Vec<&'a str> {
    let mut row: Vec<&str> = tokens
        .iter()
        .copied()
        .chain([EOS])
        .take(num_steps)
        .collect();
    row.resize(num_steps, PAD);
    row
}

/// Rows of `n` tokens -> `(rows, n)` ids.
fn encode(rows: &[Vec<&str>], vocab: &Vocab, n: usize) -> Result<Array2<usize>> {
    let mut flat: Vec<usize> = Vec::with_capacity(rows.len().saturating_mul(n)); // (rows * n,)
    for r in rows {
        flat.extend(vocab.encode(r)?);
    }
    Array2::from_shape_vec((rows.len(), n), flat)
        .map_err(|_| Error::shape("encoded rows", &[rows.len(), n], &[]))
}

/// Source ids and valid lengths of new sentences, built like the `src` of [`TranslationData`]
/// (preprocessed by [`preprocess_nmt`] first). Shapes: `n` sentences -> ids
/// `(n, num_steps)`, valid lengths `(n,)`.
pub fn encode_source<S: AsRef<str>>(
    sentences: &[S],
    vocab: &Vocab,
    num_steps: usize,
) -> Result<(Array2<usize>, Vec<usize>)> {
    check_positive("num_steps", num_steps)?;
    let clean: Vec<String> = sentences
        .iter()
        .map(|s| preprocess_nmt(s.as_ref()))
        .collect();
    let lines: Vec<Vec<&str>> = clean.iter().map(|s| words(s)).collect();
    let rows: Vec<Vec<&str>> = lines.iter().map(|l| row(l, num_steps)).collect();
    let lens = lines.iter().map(|l| (l.len() + 1).min(num_steps)).collect();
    Ok((encode(&rows, vocab, num_steps)?, lens))
}

/// Sentence pairs for [`Seq2SeqTrainer`](crate::Seq2SeqTrainer), one row per pair (batch-major),
/// padded to fixed lengths.
#[derive(Clone, Debug)]
pub struct PairSet {
    /// `(pairs, src_steps)` source ids.
    pub src: Array2<usize>,
    /// `(pairs,)` valid source lengths.
    pub src_len: Vec<usize>,
    /// `(pairs, tgt_steps)` decoder inputs (`<bos>` first).
    pub tgt_in: Array2<usize>,
    /// `(pairs, tgt_steps)` decoder targets (`<eos>` last).
    pub tgt_out: Array2<usize>,
    /// `(pairs,)` valid target lengths.
    pub tgt_len: Vec<usize>,
}

impl PairSet {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.src_len.len()
    }

    /// True when there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.src_len.is_empty()
    }

    /// Fails unless all parts agree in their number of pairs and lengths.
    pub fn validate(&self) -> Result<()> {
        let n = self.src.nrows();
        check_positive("number of sentence pairs", n)?;
        check_shape("src_valid_len", &[n], &[self.src_len.len()])?;
        check_shape("tgt_in", &[n, self.tgt_in.ncols()], self.tgt_in.shape())?;
        check_shape("tgt_out", self.tgt_in.shape(), self.tgt_out.shape())?;
        check_shape("tgt_valid_len", &[n], &[self.tgt_len.len()])
    }

    /// The minibatch of `rows`, time-major, as owned arrays.
    pub fn gather(
        &self,
        rows: &[usize],
    ) -> (
        Array2Usize,
        Vec<usize>,
        Array2Usize,
        Array2Usize,
        Vec<usize>,
    ) {
        let pick = |a: &Array2<usize>| {
            a.select(Axis(0), rows)
                .reversed_axes()
                .as_standard_layout()
                .into_owned()
        };
        (
            pick(&self.src),
            rows.iter().map(|&r| self.src_len[r]).collect(),
            pick(&self.tgt_in),
            pick(&self.tgt_out),
            rows.iter().map(|&r| self.tgt_len[r]).collect(),
        )
    }
}

type Array2Usize = Array2<usize>;

/// Preprocessed sentence pairs, their vocabularies and their padded ids.
#[derive(Clone, Debug)]
pub struct TranslationData {
    /// Source vocabulary (`<unk>`, `<pad>`, `<eos>` and the source words).
    pub src_vocab: Vocab,
    /// Target vocabulary (`<unk>`, `<pad>`, `<bos>`, `<eos>` and the target words).
    pub tgt_vocab: Vocab,
    /// Tokens per row.
    pub num_steps: usize,
    /// The pairs after [`preprocess_nmt`], in the order given.
    pub sentences: Vec<(String, String)>,
    /// Their ids, one row per pair: `(pairs, num_steps)`.
    pub ids: PairSet,
}

impl TranslationData {
    /// Preprocesses `pairs` of `(source, target)` sentences, builds both vocabularies over all
    /// of them (tokens counted at least `min_freq` times) and encodes every row.
    pub fn new<S: AsRef<str>>(pairs: &[(S, S)], num_steps: usize, min_freq: usize) -> Result<Self> {
        check_positive("num_steps", num_steps)?;
        check_positive("number of sentence pairs", pairs.len())?;
        let mut sentences: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (s, t) in pairs {
            let (s, t) = (s.as_ref(), t.as_ref());
            crate::interrupt::poll(s.len() + t.len())?;
            sentences.push((preprocess_nmt(s), preprocess_nmt(t)));
        }
        let src_lines: Vec<Vec<&str>> = sentences.iter().map(|(s, _)| words(s)).collect();
        let tgt_lines: Vec<Vec<&str>> = sentences.iter().map(|(_, t)| words(t)).collect();
        let src_rows: Vec<Vec<&str>> = src_lines.iter().map(|l| row(l, num_steps)).collect();
        let tgt_rows: Vec<Vec<&str>> = tgt_lines
            .iter()
            .map(|l| [BOS].into_iter().chain(row(l, num_steps)).collect())
            .collect(); // pairs rows of num_steps + 1 tokens
        let flat = |rows: &[Vec<&'_ str>]| -> Vec<String> {
            rows.iter().flatten().map(|t| t.to_string()).collect()
        };
        let src_vocab = Vocab::new(&flat(&src_rows), min_freq, &[PAD, EOS])?;
        let tgt_vocab = Vocab::new(&flat(&tgt_rows), min_freq, &[PAD, BOS, EOS])?;
        let tgt = encode(&tgt_rows, &tgt_vocab, num_steps + 1)?; // (pairs, num_steps + 1)
        let lens = |lines: &[Vec<&str>]| -> Vec<usize> {
            lines.iter().map(|l| (l.len() + 1).min(num_steps)).collect()
        };
        let ids = PairSet {
            src: encode(&src_rows, &src_vocab, num_steps)?, // (pairs, num_steps)
            src_len: lens(&src_lines),
            tgt_in: tgt.slice(ndarray::s![.., ..num_steps]).to_owned(), // (pairs, num_steps)
            tgt_out: tgt.slice(ndarray::s![.., 1..]).to_owned(),        // (pairs, num_steps)
            tgt_len: lens(&tgt_lines),
        };
        Ok(TranslationData {
            src_vocab,
            tgt_vocab,
            num_steps,
            sentences,
            ids,
        })
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.sentences.len()
    }

    /// Always `false`: [`TranslationData::new`] needs a pair.
    pub fn is_empty(&self) -> bool {
        self.sentences.is_empty()
    }

    /// The rows `rows` (each `< len()`) as a [`PairSet`] of their own.
    pub fn subset(&self, rows: &[usize]) -> Result<PairSet> {
        if let Some(&bad) = rows.iter().find(|&&r| r >= self.len()) {
            return Err(Error::invalid(
                "row",
                format!("below the number of pairs ({})", self.len()),
                bad,
            ));
        }
        let d = &self.ids;
        Ok(PairSet {
            src: d.src.select(Axis(0), rows),
            src_len: rows.iter().map(|&r| d.src_len[r]).collect(),
            tgt_in: d.tgt_in.select(Axis(0), rows),
            tgt_out: d.tgt_out.select(Axis(0), rows),
            tgt_len: rows.iter().map(|&r| d.tgt_len[r]).collect(),
        })
    }

    /// [`encode_source`] with this data's vocabulary and `num_steps`.
    pub fn encode_source<S: AsRef<str>>(
        &self,
        sentences: &[S],
    ) -> Result<(Array2<usize>, Vec<usize>)> {
        encode_source(sentences, &self.src_vocab, self.num_steps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocess_matches_d2l() {
        assert_eq!(preprocess_nmt("Cours\u{202f}!\tRun!"), "cours !\trun !");
        assert_eq!(preprocess_nmt("Hi. Ok ?"), "hi . ok ?");
        assert_eq!(preprocess_nmt(".Wait!!"), ".wait ! !"); // none before the first
        assert_eq!(preprocess_nmt("A\u{a0}B,c"), "a b ,c");
        assert_eq!(words("  il  est . "), ["il", "est", "."]);
    }

    #[test]
    fn columns_skip_short_lines_and_stop_at_limit() {
        let text = "go .\tva !\tCC-BY\r\nbad line\nhi .\tsalut !\nx\ty\n";
        let pairs = parse_pairs(text, Some(2));
        assert_eq!(
            pairs,
            [
                ("go .".into(), "va !".into()),
                ("hi .".into(), "salut !".into())
            ]
        );
        assert_eq!(parse_pairs(text, None).len(), 3);
    }

    #[test]
    fn rows_and_vocabularies_follow_d2l() {
        let data =
            TranslationData::new(&[("One two three", "Un."), ("two", "deux")], 3, 0).unwrap();
        let tgt = &data.tgt_vocab;
        assert_eq!(
            tgt.idx_to_token(),
            [".", "<bos>", "<eos>", "<pad>", "<unk>", "deux", "un"]
        );
        let toks =
            |v: &Vocab, ids: ndarray::ArrayView1<'_, usize>| v.decode(&ids.to_vec()).unwrap();
        assert_eq!(
            toks(&data.src_vocab, data.ids.src.row(0)),
            ["one", "two", "three"]
        );
        assert_eq!(toks(tgt, data.ids.tgt_in.row(0)), ["<bos>", "un", "."]);
        assert_eq!(toks(tgt, data.ids.tgt_out.row(0)), ["un", ".", "<eos>"]);
        assert_eq!(
            toks(tgt, data.ids.tgt_out.row(1)),
            ["deux", "<eos>", "<pad>"]
        );
        assert_eq!(
            (data.ids.src_len.clone(), data.ids.tgt_len.clone()),
            (vec![3, 2], vec![3, 2])
        );
        let (ids, lens) = data.encode_source(&["TWO?"]).unwrap();
        assert_eq!(toks(&data.src_vocab, ids.row(0)), ["two", "<unk>", "<eos>"]);
        assert_eq!(lens, [3]);
    }

    #[test]
    fn min_freq_counts_padded_rows_of_all_pairs() {
        let data = TranslationData::new(&[("a b", "x"), ("a", "x"), ("c", "y")], 4, 2).unwrap();
        assert_eq!(
            data.src_vocab.idx_to_token(),
            ["<eos>", "<pad>", "<unk>", "a"]
        );
        assert_eq!(
            data.tgt_vocab.idx_to_token(),
            ["<bos>", "<eos>", "<pad>", "<unk>", "x"]
        );
    }

    #[test]
    fn subset_and_errors() {
        let data = TranslationData::new(&[("a", "x"), ("b", "y")], 2, 0).unwrap();
        let last = data.subset(&[1]).unwrap();
        assert_eq!(last.src.row(0), data.ids.src.row(1));
        assert!(data.subset(&[2]).unwrap_err().to_string().contains("(2)"));
        assert!(TranslationData::new::<&str>(&[], 2, 0).is_err());
        assert!(TranslationData::new(&[("a", "x")], 0, 0).is_err());
    }
}
