//! [`TranslationData`]: the rows, vocabularies and split of sentence pairs (see [`super`]).

use super::{preprocess_nmt, read_pairs, words, PairSet, BOS, EOS, PAD};
use crate::error::check_positive;
use crate::{Error, Result, Vocab};
use ndarray::{s, Array2, Axis};
use std::ops::Range;
use std::path::Path;

/// Which pairs the vocabularies count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VocabFrom {
    /// The training pairs only: held-out words are `<unk>` (the default of `seqrnn.data`).
    #[default]
    Train,
    /// Every pair, the held-out ones too, as d2l 1.0's `MTFraEng` does.
    All,
}

impl VocabFrom {
    /// Parses `"train"` or `"all"`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "train" => Ok(VocabFrom::Train),
            "all" => Ok(VocabFrom::All),
            other => Err(Error::invalid(
                "vocab_from",
                "'train' or 'all'",
                format!("'{other}'"),
            )),
        }
    }
}

/// How [`TranslationData::new`] builds rows, vocabularies and split. The default is that of
/// Python's `seqrnn.data.load_translation_pairs`: d2l 1.0's 9 steps and `min_freq` 2, no pair
/// held out, vocabularies from the training pairs, sentences preprocessed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairOptions {
    /// Tokens per row.
    pub num_steps: usize,
    /// Tokens counted fewer times map to `<unk>`.
    pub min_freq: usize,
    /// The last `num_valid` pairs validate; at least one pair must be left to train.
    pub num_valid: usize,
    /// Which rows the vocabularies count.
    pub vocab_from: VocabFrom,
    /// Apply [`preprocess_nmt`] to every sentence (`false`: they are preprocessed already).
    pub preprocess: bool,
}

impl Default for PairOptions {
    fn default() -> Self {
        PairOptions {
            num_steps: 9,
            min_freq: 2,
            num_valid: 0,
            vocab_from: VocabFrom::Train,
            preprocess: true,
        }
    }
}

/// Preprocessed sentence pairs, their vocabularies, their padded ids and their split.
#[derive(Clone, Debug)]
pub struct TranslationData {
    /// Source vocabulary (`<unk>`, `<pad>`, `<eos>` and the source words).
    pub src_vocab: Vocab,
    /// Target vocabulary (`<unk>`, `<pad>`, `<bos>`, `<eos>` and the target words).
    pub tgt_vocab: Vocab,
    /// Tokens per row.
    pub num_steps: usize,
    /// The pairs (after [`preprocess_nmt`] unless told they are preprocessed), in the order
    /// given.
    pub sentences: Vec<(String, String)>,
    /// Their ids, one row per pair: `(pairs, num_steps)`.
    pub ids: PairSet,
    /// The rows that train: all but the last `num_valid`.
    pub train: Range<usize>,
    /// The rows that validate: the last `num_valid`.
    pub valid: Range<usize>,
    /// Whether the sentences were preprocessed (and so new ones are, in [`Self::encode_source`]).
    pub preprocess: bool,
}

impl TranslationData {
    /// Rows and vocabularies of `pairs` of `(source, target)` sentences, as the module doc
    /// says. Fails unless `num_steps >= 1` and `num_valid` leaves a training pair.
    pub fn new<S: AsRef<str>>(pairs: &[(S, S)], options: &PairOptions) -> Result<Self> {
        let &PairOptions {
            num_steps,
            min_freq,
            num_valid,
            vocab_from,
            preprocess,
        } = options;
        check_positive("num_steps", num_steps)?;
        let n = pairs.len();
        if num_valid >= n {
            let expected = format!("in [0, {n}) to leave a training pair");
            return Err(Error::invalid(
                "num_valid",
                expected,
                format!("{num_valid} for {n} pairs"),
            ));
        }
        reserve_rows(n, num_steps)?;
        let mut sentences: Vec<(String, String)> = Vec::with_capacity(n);
        for (s, t) in pairs {
            sentences.push((
                clean(s.as_ref(), preprocess)?,
                clean(t.as_ref(), preprocess)?,
            ));
        }
        let src_lines: Vec<Vec<&str>> = sentences.iter().map(|(s, _)| words(s)).collect();
        let tgt_lines: Vec<Vec<&str>> = sentences.iter().map(|(_, t)| words(t)).collect();
        let src_rows = rows(&src_lines, num_steps, false); // pairs rows of num_steps tokens
        let tgt_rows = rows(&tgt_lines, num_steps, true); // of <bos> and num_steps tokens
        let counted = match vocab_from {
            VocabFrom::Train => n - num_valid,
            VocabFrom::All => n,
        };
        let src_vocab = Vocab::new(&src_rows[..counted * num_steps], min_freq, &[PAD, EOS])?;
        let tgt_counted = &tgt_rows[..counted * (num_steps + 1)];
        let tgt_vocab = Vocab::new(tgt_counted, min_freq, &[PAD, BOS, EOS])?;
        let tgt = encode(&tgt_rows, &tgt_vocab, num_steps + 1)?; // (pairs, num_steps + 1)
        let ids = PairSet {
            src: encode(&src_rows, &src_vocab, num_steps)?, // (pairs, num_steps)
            src_len: valid_lengths(&src_lines, num_steps),
            tgt_in: tgt.slice(s![.., ..num_steps]).to_owned(), // (pairs, num_steps)
            tgt_out: tgt.slice(s![.., 1..]).to_owned(),        // (pairs, num_steps)
            tgt_len: valid_lengths(&tgt_lines, num_steps),
        };
        Ok(TranslationData {
            src_vocab,
            tgt_vocab,
            num_steps,
            sentences,
            ids,
            train: 0..n - num_valid,
            valid: n - num_valid..n,
            preprocess,
        })
    }

    /// [`TranslationData::new`] of the first `num_pairs` pairs of a file (every pair when
    /// `None`; see [`read_pairs`]); [`Error::NotEnoughData`] when it holds fewer.
    pub fn load(path: &Path, num_pairs: Option<usize>, options: &PairOptions) -> Result<Self> {
        let pairs = read_pairs(path, num_pairs)?;
        match num_pairs {
            Some(wanted) if pairs.len() < wanted => Err(Error::NotEnoughData {
                path: path.display().to_string(),
                what: "pairs".into(),
                got: pairs.len(),
                wanted,
            }),
            _ => Self::new(&pairs, options),
        }
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
        Ok(self.select(rows))
    }

    /// The training rows as a [`PairSet`].
    pub fn train_set(&self) -> PairSet {
        self.select(&self.train.clone().collect::<Vec<_>>())
    }

    /// The validation rows as a [`PairSet`] (empty without held-out pairs).
    pub fn valid_set(&self) -> PairSet {
        self.select(&self.valid.clone().collect::<Vec<_>>())
    }

    /// The rows `rows`, all below `len()`.
    fn select(&self, rows: &[usize]) -> PairSet {
        let d = &self.ids;
        PairSet {
            src: d.src.select(Axis(0), rows),
            src_len: rows.iter().map(|&r| d.src_len[r]).collect(),
            tgt_in: d.tgt_in.select(Axis(0), rows),
            tgt_out: d.tgt_out.select(Axis(0), rows),
            tgt_len: rows.iter().map(|&r| d.tgt_len[r]).collect(),
        }
    }

    /// [`encode_source`] with this data's vocabulary, `num_steps` and preprocessing.
    pub fn encode_source<S: AsRef<str>>(
        &self,
        sentences: &[S],
    ) -> Result<(Array2<usize>, Vec<usize>)> {
        encode_source(sentences, &self.src_vocab, self.num_steps, self.preprocess)
    }
}

/// Source ids and valid lengths of new sentences, built like the `src` of [`TranslationData`]
/// (preprocessed by [`preprocess_nmt`] first if `preprocess`). Shapes: `n` sentences -> ids
/// `(n, num_steps)`, valid lengths `(n,)`.
pub fn encode_source<S: AsRef<str>>(
    sentences: &[S],
    vocab: &Vocab,
    num_steps: usize,
    preprocess: bool,
) -> Result<(Array2<usize>, Vec<usize>)> {
    check_positive("num_steps", num_steps)?;
    reserve_rows(sentences.len(), num_steps)?;
    let clean: Vec<String> = sentences
        .iter()
        .map(|s| clean(s.as_ref(), preprocess))
        .collect::<Result<_>>()?;
    let lines: Vec<Vec<&str>> = clean.iter().map(|s| words(s)).collect();
    let ids = encode(&rows(&lines, num_steps, false), vocab, num_steps)?; // (n, num_steps)
    Ok((ids, valid_lengths(&lines, num_steps)))
}

/// `sentence`, preprocessed if `preprocess`.
fn clean(sentence: &str, preprocess: bool) -> Result<String> {
    if preprocess {
        return preprocess_nmt(sentence);
    }
    crate::interrupt::poll(16 + sentence.len())?;
    Ok(sentence.to_string())
}

/// Fails with [`Error::OutOfMemory`] unless the rows of `n` sentences of `num_steps` tokens
/// (tokens and ids, source and target) fit in memory.
fn reserve_rows(n: usize, num_steps: usize) -> Result<()> {
    let per_row = (num_steps as u128 + 1) * 64; // bytes
    crate::alloc::reserve("the rows of the sentence pairs", per_row * n as u128)
}

/// `tokens + [<eos>]` of every line cut or padded with `<pad>` to `num_steps` tokens, after a
/// `<bos>` if `bos`: `(lines, num_steps + bos)` tokens, flat.
fn rows<'a>(lines: &[Vec<&'a str>], num_steps: usize, bos: bool) -> Vec<&'a str> {
    let mut flat = Vec::with_capacity(lines.len() * (num_steps + usize::from(bos)));
    for line in lines {
        if bos {
            flat.push(BOS);
        }
        let end = flat.len() + num_steps;
        flat.extend(line.iter().copied().chain([EOS]).take(num_steps));
        flat.resize(end, PAD);
    }
    flat
}

/// Non-pad tokens of each row: `min(len + 1, num_steps)` (the `+ 1` is `<eos>`).
fn valid_lengths(lines: &[Vec<&str>], num_steps: usize) -> Vec<usize> {
    lines.iter().map(|l| (l.len() + 1).min(num_steps)).collect()
}

/// Flat rows of `width` tokens -> `(rows, width)` ids.
fn encode(tokens: &[&str], vocab: &Vocab, width: usize) -> Result<Array2<usize>> {
    let ids = vocab.encode(tokens)?; // (rows * width,)
    let rows = tokens.len() / width;
    Array2::from_shape_vec((rows, width), ids)
        .map_err(|_| Error::shape("encoded rows", &[rows, width], &[tokens.len()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(num_steps: usize, min_freq: usize, num_valid: usize) -> PairOptions {
        PairOptions {
            num_steps,
            min_freq,
            num_valid,
            ..PairOptions::default()
        }
    }

    fn toks(v: &Vocab, ids: ndarray::ArrayView1<'_, usize>) -> Vec<String> {
        v.decode(&ids.to_vec()).unwrap()
    }

    #[test]
    fn rows_and_vocabularies_follow_d2l() -> Result<()> {
        let data = TranslationData::new(
            &[("One two three", "Un."), ("two", "deux")],
            &options(3, 0, 0),
        )?;
        let tgt = &data.tgt_vocab;
        assert_eq!(
            tgt.idx_to_token(),
            [".", "<bos>", "<eos>", "<pad>", "<unk>", "deux", "un"]
        );
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
            (&data.ids.src_len[..], &data.ids.tgt_len[..]),
            (&[3, 2][..], &[3, 2][..])
        );
        let (ids, lens) = data.encode_source(&["TWO?"])?;
        assert_eq!(toks(&data.src_vocab, ids.row(0)), ["two", "<unk>", "<eos>"]);
        assert_eq!(lens, [3]);
        Ok(())
    }

    #[test]
    fn vocabularies_count_the_padded_training_rows() -> Result<()> {
        let pairs = [("a b", "x"), ("a", "x"), ("c", "y")];
        let data = TranslationData::new(&pairs, &options(4, 2, 0))?;
        assert_eq!(
            data.src_vocab.idx_to_token(),
            ["<eos>", "<pad>", "<unk>", "a"]
        );
        assert_eq!(
            data.tgt_vocab.idx_to_token(),
            ["<bos>", "<eos>", "<pad>", "<unk>", "x"]
        );
        let cut = TranslationData::new(&[("a a z", "b"), ("a", "b")], &options(2, 2, 0))?;
        assert_eq!(
            cut.src_vocab.idx_to_token(),
            ["<eos>", "<pad>", "<unk>", "a"]
        ); // z cut off
        let pairs = [
            ("hello world", "bonjour"),
            ("hello", "bonjour"),
            ("unseen", "inconnu"),
        ];
        let held = TranslationData::new(&pairs, &options(5, 0, 1))?;
        assert_eq!((held.train.clone(), held.valid.clone()), (0..2, 2..3));
        assert_eq!(
            held.src_vocab.idx_to_token(),
            ["<eos>", "<pad>", "<unk>", "hello", "world"]
        );
        assert_eq!(held.valid_set().src.row(0)[0], held.src_vocab.unk());
        assert_eq!(held.train_set().len(), 2);
        let all = PairOptions {
            vocab_from: VocabFrom::All,
            ..options(5, 0, 1)
        };
        let all = TranslationData::new(&pairs, &all)?;
        assert_ne!(all.src_vocab.token_to_id("unseen"), all.src_vocab.unk());
        Ok(())
    }

    #[test]
    fn preprocessed_pairs_are_kept_as_given() -> Result<()> {
        let raw = PairOptions {
            preprocess: false,
            ..options(2, 0, 0)
        };
        let data = TranslationData::new(&[("Go", "Va")], &raw)?;
        assert_eq!(data.sentences[0], ("Go".to_string(), "Va".to_string()));
        let (ids, _) = data.encode_source(&["Go"])?;
        assert_eq!(toks(&data.src_vocab, ids.row(0)), ["Go", "<eos>"]);
        let (ids, lens) = data.encode_source::<&str>(&[])?;
        assert_eq!((ids.shape(), lens.len()), (&[0, 2][..], 0));
        Ok(())
    }

    #[test]
    fn subset_and_errors() -> Result<()> {
        let data = TranslationData::new(&[("a", "x"), ("b", "y")], &options(2, 0, 0))?;
        assert_eq!(data.subset(&[1])?.src.row(0), data.ids.src.row(1));
        assert!(data.subset(&[2]).unwrap_err().to_string().contains("(2)"));
        let err =
            |pairs: &[(&str, &str)], o| TranslationData::new(pairs, &o).unwrap_err().to_string();
        assert_eq!(
            err(&[("a", "x")], options(2, 0, 1)),
            "num_valid must be in [0, 1) to leave a training pair, got 1 for 1 pairs"
        );
        assert!(err(&[], options(2, 0, 0)).contains("in [0, 0)"));
        assert_eq!(
            err(&[("a", "x")], options(0, 0, 0)),
            "num_steps must be at least 1, got 0"
        );
        let huge = err(&[("a", "x")], options(usize::MAX / 2, 0, 0));
        assert!(huge.starts_with("cannot allocate"), "{huge}");
        assert!(encode_source(&["a"], &data.src_vocab, 1 << 60, true).is_err());
        assert_eq!(
            VocabFrom::parse("valid").unwrap_err().to_string(),
            "vocab_from must be 'train' or 'all', got 'valid'"
        );
        Ok(())
    }
}
