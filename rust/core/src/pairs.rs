//! Sentence pairs for translation with d2l 1.0's conventions (`MTFraEng`): the one pipeline
//! behind Python's `seqrnn.data` and the Rust `translate` example, so that one file gives the
//! same rows, vocabularies and split everywhere.
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
//! with valid lengths `min(len + 1, num_steps)`. The last `num_valid` pairs validate, the
//! others train. Both vocabularies count the padded rows (so not the tokens cut off by
//! `num_steps`) of the training pairs ([`VocabFrom::Train`]) or of all pairs
//! ([`VocabFrom::All`], as d2l 1.0 does), keep the tokens seen `min_freq` times, and always
//! hold `<unk>`, `<pad>` and `<eos>`; the target one also `<bos>`.
//!
//! Shapes: a [`PairSet`] is batch-major, `(pairs, num_steps)`; [`PairSet::gather`] gives the
//! time-major minibatches the model takes.
//!
//! ```
//! use seqrnn::pairs::{parse_pairs, PairOptions, TranslationData};
//!
//! let pairs = parse_pairs("Go.\tVa !\tCC-BY\nHi.\tSalut.\nRun!\tCours !\n", None)?;
//! let options = PairOptions { num_steps: 4, min_freq: 0, num_valid: 1, ..Default::default() };
//! let data = TranslationData::new(&pairs, &options)?;
//! assert_eq!(data.sentences[0], ("go .".to_string(), "va !".to_string()));
//! assert_eq!((data.train.clone(), data.valid.clone()), (0..2, 2..3));
//! let src = data.src_vocab.decode(&data.ids.src.row(0).to_vec())?;
//! assert_eq!(src, ["go", ".", "<eos>", "<pad>"]);
//! assert_eq!(data.ids.tgt_len, [3, 3, 3]);
//! assert_eq!(data.src_vocab.token_to_id("run"), data.src_vocab.unk()); // held out
//! # Ok::<(), seqrnn::Error>(())
//! ```

mod buckets;
mod text;
mod translation;

pub use buckets::{bucketed_batches, POOL_BATCHES};
pub use text::{
    pairs_of_lines, parse_pairs, preprocess_nmt, read_pairs, tokenize_nmt, words, Tokenized,
};
pub use translation::{encode_source, PairOptions, TranslationData, VocabFrom};

use crate::error::{check_positive, check_shape};
use crate::Result;
use ndarray::{s, Array2, Axis};

/// Padding token.
pub const PAD: &str = "<pad>";
/// Beginning-of-sentence token (target side only).
pub const BOS: &str = "<bos>";
/// End-of-sentence token.
pub const EOS: &str = "<eos>";

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
    pub fn gather(&self, rows: &[usize]) -> Gathered {
        self.gather_steps(rows, self.src.ncols(), self.tgt_in.ncols())
    }

    /// [`PairSet::gather`] cut to the longest valid source and target among `rows`: the steps
    /// after them hold padding only, which the model masks (the encoder stops each source at
    /// its valid length; the decoder is causal and the loss skips positions past each valid
    /// target length), so the loss and gradients are those of the padded minibatch.
    ///
    /// Shapes: `(src_steps', rows)`, `(rows,)`, `(tgt_steps', rows)` twice, `(rows,)`, where
    /// `src_steps'` is the largest `src_len` of `rows` (at least 1, at most `src_steps`) and
    /// `tgt_steps'` likewise.
    pub fn gather_trimmed(&self, rows: &[usize]) -> Gathered {
        let longest = |lens: &[usize], steps: usize| {
            let max = rows.iter().filter_map(|&r| lens.get(r)).max();
            max.map_or(steps, |&m| m.max(1).min(steps))
        };
        let src_steps = longest(&self.src_len, self.src.ncols());
        let tgt_steps = longest(&self.tgt_len, self.tgt_in.ncols());
        self.gather_steps(rows, src_steps, tgt_steps)
    }

    /// The first `src_steps` and `tgt_steps` columns of `rows`, time-major.
    fn gather_steps(&self, rows: &[usize], src_steps: usize, tgt_steps: usize) -> Gathered {
        let pick = |a: &Array2<usize>, steps: usize| {
            a.slice(s![.., ..steps])
                .select(Axis(0), rows)
                .reversed_axes()
                .as_standard_layout()
                .into_owned()
        };
        (
            pick(&self.src, src_steps),
            rows.iter().map(|&r| self.src_len[r]).collect(),
            pick(&self.tgt_in, tgt_steps),
            pick(&self.tgt_out, tgt_steps),
            rows.iter().map(|&r| self.tgt_len[r]).collect(),
        )
    }
}

/// A time-major minibatch: `(src, src_len, tgt_in, tgt_out, tgt_len)`, shaped
/// `(src_steps, rows)`, `(rows,)`, `(tgt_steps, rows)`, `(tgt_steps, rows)`, `(rows,)`.
pub type Gathered = (
    Array2<usize>,
    Vec<usize>,
    Array2<usize>,
    Array2<usize>,
    Vec<usize>,
);
