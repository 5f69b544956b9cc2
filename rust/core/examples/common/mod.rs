//! Command-line parsing shared by the examples: `--name value` or `--name=value` options around
//! positional arguments, and the checks of numeric values.

/// One command-line item.
pub enum Arg {
    /// `--name value` or `--name=value`.
    Option { name: String, value: String },
    /// Anything else.
    Positional(String),
}

/// The items of `argv`, read one at a time in order (so the first bad one is the one reported).
/// `-h` or `--help` prints `usage` and exits; with `dashes_end_options`, everything after `--`
/// is positional.
pub fn items(
    argv: impl Iterator<Item = String>,
    usage: &'static str,
    dashes_end_options: bool,
) -> impl Iterator<Item = Result<Arg, String>> {
    Items {
        argv,
        usage,
        dashes_end_options,
        only_positional: false,
    }
}

struct Items<I> {
    argv: I,
    usage: &'static str,
    dashes_end_options: bool,
    only_positional: bool,
}

impl<I: Iterator<Item = String>> Iterator for Items<I> {
    type Item = Result<Arg, String>;

    fn next(&mut self) -> Option<Self::Item> {
        let arg = self.argv.next()?;
        if self.only_positional {
            return Some(Ok(Arg::Positional(arg)));
        }
        if arg == "-h" || arg == "--help" {
            println!("{}", self.usage);
            std::process::exit(0);
        }
        if self.dashes_end_options && arg == "--" {
            self.only_positional = true;
            return self.next();
        }
        let Some(flag) = arg.strip_prefix("--") else {
            return Some(Ok(Arg::Positional(arg)));
        };
        Some(match flag.split_once('=') {
            Some((name, value)) => Ok(Arg::Option {
                name: name.to_string(),
                value: value.to_string(),
            }),
            None => match self.argv.next() {
                Some(value) => Ok(Arg::Option {
                    name: flag.to_string(),
                    value,
                }),
                None => Err(format!("--{flag} needs a value")),
            },
        })
    }
}

/// `value` as a number of type `N`, or a message naming the option.
pub fn number<N: std::str::FromStr>(name: &str, value: &str) -> Result<N, String> {
    value
        .parse()
        .map_err(|_| format!("--{name} expects a number, got {value:?}"))
}

/// `value` as a number of at least 1.
pub fn positive(name: &str, value: &str) -> Result<usize, String> {
    match number(name, value)? {
        0 => Err(format!("--{name} must be at least 1, got 0")),
        n => Ok(n),
    }
}
