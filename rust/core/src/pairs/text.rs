//! Sentence pairs as text: d2l 1.0's preprocessing and word tokens, and the columns of a pairs
//! file, as Python's `seqrnn.data` reads them.

use crate::checkpoint::io_error;
use crate::{Error, Result};
use std::path::Path;

/// Characters between two polls of the [`crate::interrupt`] hook in [`preprocess_nmt`].
const POLL_EVERY: usize = 1 << 14;

/// d2l 1.0's `MTFraEng._preprocess`: U+202F and U+00A0 become spaces, the text is lowercased,
/// and a space goes before every `,` `.` `!` `?` that follows anything but a space (nothing
/// goes before the first character). Fails only with [`Error::Interrupted`].
pub fn preprocess_nmt(text: &str) -> Result<String> {
    let text = text.replace(['\u{202f}', '\u{a0}'], " ").to_lowercase();
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut prev = None;
    for (i, c) in text.chars().enumerate() {
        if i % POLL_EVERY == 0 {
            crate::interrupt::poll(POLL_EVERY)?;
        }
        if matches!(c, ',' | '.' | '!' | '?') && prev.is_some_and(|p| p != ' ') {
            out.push(' ');
        }
        out.push(c);
        prev = Some(c);
    }
    Ok(out)
}

/// d2l's word tokens: split on single spaces, empty strings dropped.
pub fn words(sentence: &str) -> Vec<&str> {
    sentence.split(' ').filter(|w| !w.is_empty()).collect()
}

/// Word tokens `(sources, targets)`, one list per sentence.
pub type Tokenized = (Vec<Vec<String>>, Vec<Vec<String>>);

/// Word tokens of every pair, `(sources, targets)`: d2l 1.0's `MTFraEng._tokenize` without its
/// `<eos>` ([`preprocess_nmt`] is for the caller to apply). Fails only with
/// [`Error::Interrupted`].
pub fn tokenize_nmt<S: AsRef<str>>(pairs: &[(S, S)]) -> Result<Tokenized> {
    let owned = |s: &str| words(s).into_iter().map(String::from).collect::<Vec<_>>();
    let (mut src, mut tgt) = (
        Vec::with_capacity(pairs.len()),
        Vec::with_capacity(pairs.len()),
    );
    for (s, t) in pairs {
        let (s, t) = (s.as_ref(), t.as_ref());
        crate::interrupt::poll(16 + s.len() + t.len())?;
        src.push(owned(s));
        tgt.push(owned(t));
    }
    Ok((src, tgt))
}

/// The first two tab-separated columns of each line that has them (trailing `\r` and `\n`
/// stripped first; further columns ignored), at most `limit` pairs. Sentences are returned as
/// written. Fails only with [`Error::Interrupted`].
pub fn pairs_of_lines<'a>(
    lines: impl IntoIterator<Item = &'a str>,
    limit: Option<usize>,
) -> Result<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for line in lines {
        if limit.is_some_and(|n| pairs.len() >= n) {
            break;
        }
        push_columns(&mut pairs, line)?;
    }
    Ok(pairs)
}

/// [`pairs_of_lines`] of the `\n`-separated lines of `text`.
pub fn parse_pairs(text: &str, limit: Option<usize>) -> Result<Vec<(String, String)>> {
    pairs_of_lines(text.split('\n'), limit)
}

/// [`pairs_of_lines`] of a UTF-8 file whose lines end with `\n`, `\r\n` or `\r` (Python's
/// universal newlines). Reading stops once `limit` pairs are found, so later lines are never
/// read. [`Error::Io`] names the file; a line that is not UTF-8 is an
/// [`Error::InvalidArgument`] naming the line.
pub fn read_pairs(path: &Path, limit: Option<usize>) -> Result<Vec<(String, String)>> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(crate::checkpoint::open(path)?.0);
    let (mut pairs, mut chunk, mut line_no) = (Vec::new(), Vec::new(), 0usize);
    loop {
        chunk.clear();
        let done = limit.is_some_and(|n| pairs.len() >= n);
        if done
            || reader
                .read_until(b'\n', &mut chunk)
                .map_err(|e| io_error(path, e))?
                == 0
        {
            return Ok(pairs);
        }
        let body = chunk.strip_suffix(b"\n").unwrap_or(&chunk);
        let body = body.strip_suffix(b"\r").unwrap_or(body);
        for line in body.split(|&b| b == b'\r') {
            if limit.is_some_and(|n| pairs.len() >= n) {
                break;
            }
            line_no += 1;
            let line = std::str::from_utf8(line).map_err(|e| {
                Error::invalid(
                    format!("line {line_no} of {}", path.display()),
                    "UTF-8 text",
                    e,
                )
            })?;
            push_columns(&mut pairs, line)?;
        }
    }
}

/// Adds the first two tab-separated columns of `line`, if it has them.
fn push_columns(pairs: &mut Vec<(String, String)>, line: &str) -> Result<()> {
    crate::interrupt::poll(16 + line.len())?;
    let mut cols = line.trim_end_matches(['\r', '\n']).split('\t');
    if let (Some(src), Some(tgt)) = (cols.next(), cols.next()) {
        pairs.push((src.to_string(), tgt.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preprocess_matches_d2l() -> Result<()> {
        assert_eq!(preprocess_nmt("Cours\u{202f}!\tRun!")?, "cours !\trun !");
        assert_eq!(preprocess_nmt("Hi. Ok ?")?, "hi . ok ?");
        assert_eq!(preprocess_nmt(".Wait!!")?, ".wait ! !"); // none before the first
        assert_eq!(preprocess_nmt("A\u{a0}B,c")?, "a b ,c");
        assert_eq!(words("  il  est . "), ["il", "est", "."]);
        Ok(())
    }

    #[test]
    fn columns_skip_short_lines_and_stop_at_limit() -> Result<()> {
        let text = "go .\tva !\tCC-BY\r\nbad line\nhi .\tsalut !\nx\ty\n";
        let pairs = parse_pairs(text, Some(2))?;
        let expected = [("go .", "va !"), ("hi .", "salut !")].map(|(s, t)| (s.into(), t.into()));
        assert_eq!(pairs, expected);
        assert_eq!(parse_pairs(text, None)?.len(), 3);
        let (src, tgt) = tokenize_nmt(&pairs)?;
        assert_eq!(src[1], ["hi", "."]);
        assert_eq!(tgt[1], ["salut", "!"]);
        // a list of lines keeps each line whole, as Python's tokenize_nmt does
        let lines = pairs_of_lines(["a\tb\nc\td", "e"], None)?;
        assert_eq!(lines, [("a".to_string(), "b\nc".to_string())]);
        Ok(())
    }

    #[test]
    fn files_read_universal_newlines_up_to_the_limit() -> Result<()> {
        let path = std::env::temp_dir().join(format!("seqrnn-pairs-{}.txt", std::process::id()));
        std::fs::write(&path, b"a\tb\r\nc\td\re\tf\nno tab\ng\th\n\xff\tbad\n").unwrap();
        let pairs = read_pairs(&path, Some(4))?;
        let firsts: Vec<&str> = pairs.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(firsts, ["a", "c", "e", "g"]);
        assert_eq!(pairs[1].1, "d");
        let err = read_pairs(&path, None).unwrap_err().to_string();
        assert!(
            err.starts_with("line 6 of ") && err.contains("must be UTF-8 text"),
            "{err}"
        );
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(read_pairs(&path, None), Err(Error::Io { .. })));
        Ok(())
    }
}
