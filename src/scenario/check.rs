//! Every value of a scenario checked where it is written: the allowed
//! ranges (one table, [`limits`]), and the positions errors point at. TOML
//! parse errors carry their own span; for a value serde has already read,
//! the position comes from a second, span-keeping parse of the same text
//! (`toml_edit`), looked up by key path, so no schema field has to carry
//! its span for the error to name `file:line:col`.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use super::ScenarioError;

/// The documented ranges (scenarios/README.md lists them).
pub mod limits {
    /// Longest run, and longest hold, stage or migration time: 7 days.
    pub const MAX_DURATION_S: f64 = 604_800.0;
    /// Longest timeout and drain: 1 hour.
    pub const MAX_TIMEOUT_S: f64 = 3_600.0;
    /// Snapshot interval bounds, s.
    pub const INTERVAL_S: (f64, f64) = (0.01, 3_600.0);
    /// Devices in one group, and in the whole fleet.
    pub const MAX_DEVICES: u64 = 10_000_000;
    /// Fleet groups (the group index is a u16).
    pub const MAX_GROUPS: usize = u16::MAX as usize;
    /// Highest arrival rate, per second.
    pub const MAX_RATE: f64 = 1_000_000.0;
    /// Publish rate per device, per second: 0 (off) or within this range.
    pub const PUBLISH_PER_S: (f64, f64) = (0.001, 1_000.0);
    /// Largest in-flight cap.
    pub const MAX_IN_FLIGHT: u64 = 10_000_000;
    /// Reconnect backoff bounds, ms.
    pub const MAX_BACKOFF_MS: f64 = 3_600_000.0;
    /// Most attempts per device.
    pub const MAX_ATTEMPTS: u32 = 1_000_000;
    /// AWS IoT's limit on a client id, bytes.
    pub const MAX_CLIENT_ID: usize = 128;
    /// Widest `{index:0N}` in a client-id template.
    pub const MAX_INDEX_WIDTH: usize = 20;
    /// Longest error message, characters (values are cut to fit).
    pub const MAX_MESSAGE: usize = 400;
}

/// One step of a key path: a table key or an array index.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Seg<'a> {
    /// `key`.
    Key(&'a str),
    /// `[i]`.
    Index(usize),
}

/// A key path as a user reads it: `fleet[2].hold_s`.
pub(crate) struct KeyPath<'a>(pub &'a [Seg<'a>]);

impl fmt::Display for KeyPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// An allowed range of a number.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    /// Lower bound.
    pub lo: f64,
    /// Whether the lower bound itself is allowed.
    pub lo_inclusive: bool,
    /// Upper bound (inclusive).
    pub hi: f64,
}

impl Bounds {
    /// `lo <= x <= hi`.
    pub const fn closed(lo: f64, hi: f64) -> Bounds {
        Bounds {
            lo,
            lo_inclusive: true,
            hi,
        }
    }

    /// `lo < x <= hi`.
    pub const fn above(lo: f64, hi: f64) -> Bounds {
        Bounds {
            lo,
            lo_inclusive: false,
            hi,
        }
    }

    fn holds(&self, x: f64) -> bool {
        x.is_finite() && (x > self.lo || (self.lo_inclusive && x == self.lo)) && x <= self.hi
    }

    fn describe(&self, name: &str) -> String {
        let op = if self.lo_inclusive { "<=" } else { "<" };
        format!("{} {op} {name} <= {}", num(self.lo), num(self.hi))
    }
}

/// A number as a user wrote it: plain for ordinary magnitudes, `1e300`
/// style for huge or tiny ones.
pub(crate) fn num(x: f64) -> String {
    if x.is_finite() && x != 0.0 && !(1e-4..1e9).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Cuts a message to [`limits::MAX_MESSAGE`] characters.
pub(crate) fn capped(message: String) -> String {
    if message.chars().count() <= limits::MAX_MESSAGE {
        return message;
    }
    let mut m: String = message.chars().take(limits::MAX_MESSAGE).collect();
    m.push('…');
    m
}

/// The file being checked: its path, text and the spans of its keys.
pub(crate) struct Ctx<'a> {
    /// The scenario file.
    pub path: &'a Path,
    /// Its text.
    pub text: &'a str,
    doc: Option<toml_edit::ImDocument<&'a str>>,
}

impl<'a> Ctx<'a> {
    /// A context for `text` (already valid TOML when serde read it).
    pub fn new(path: &'a Path, text: &'a str) -> Ctx<'a> {
        Ctx {
            path,
            text,
            doc: toml_edit::ImDocument::parse(text).ok(),
        }
    }

    /// An error at `span`.
    pub fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        let (line, col) = line_col(self.text, span.start);
        ScenarioError::Invalid {
            path: self.path.to_path_buf(),
            line,
            col,
            message: capped(message.into()),
        }
    }

    /// Where the value at `path` is written; for a key left to its default,
    /// the innermost table that is written (or the file's start).
    pub fn span_of(&self, path: &[Seg<'_>]) -> Range<usize> {
        let Some(doc) = &self.doc else {
            return 0..0;
        };
        let mut item = doc.as_item();
        let mut best = 0..0;
        for seg in path {
            let next = match seg {
                Seg::Key(k) => item.get(*k),
                Seg::Index(i) => item.get(*i),
            };
            match next {
                Some(n) => {
                    item = n;
                    if let Some(s) = n.span() {
                        best = s;
                    }
                }
                None => break,
            }
        }
        best
    }

    /// An error about the value at `path`.
    pub fn err_at(&self, path: &[Seg<'_>], message: impl Into<String>) -> ScenarioError {
        self.err(self.span_of(path), message)
    }

    /// `x` if it lies in `b`, else an error naming the key, its value and
    /// the allowed range.
    pub fn number(&self, path: &[Seg<'_>], x: f64, b: Bounds) -> Result<f64, ScenarioError> {
        if b.holds(x) {
            return Ok(x);
        }
        let name = KeyPath(path).to_string();
        let what = if x.is_finite() {
            "is out of range"
        } else {
            "is not a finite number"
        };
        Err(self.err_at(
            path,
            format!("{name} = {} {what}; allowed: {}", num(x), b.describe(&name)),
        ))
    }

    /// An integer count `n` in `lo..=hi`.
    pub fn count(&self, path: &[Seg<'_>], n: u64, lo: u64, hi: u64) -> Result<u64, ScenarioError> {
        if (lo..=hi).contains(&n) {
            return Ok(n);
        }
        let name = KeyPath(path).to_string();
        Err(self.err_at(
            path,
            format!("{name} = {n} is out of range; allowed: {lo} <= {name} <= {hi}"),
        ))
    }
}

/// The 1-based line and column (in characters) of a byte offset.
/// The 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_are_found_by_key_path() {
        let text = "[run]\nname = \"x\"\n\n[[fleet]]\nname = \"a\"\n[[fleet]]\nname = \"b\"\nhold_s = 1e300\n";
        let cx = Ctx::new(Path::new("s.toml"), text);
        let e = cx
            .number(
                &[Seg::Key("fleet"), Seg::Index(1), Seg::Key("hold_s")],
                1e300,
                Bounds::closed(0.0, limits::MAX_DURATION_S),
            )
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("s.toml:8:10:"), "{e}");
        assert!(
            e.contains(
                "fleet[1].hold_s = 1e300 is out of range; allowed: 0 <= fleet[1].hold_s <= 604800"
            ),
            "{e}"
        );
        // A default (absent key) points at its table.
        let s = cx.span_of(&[Seg::Key("fleet"), Seg::Index(0), Seg::Key("hold_s")]);
        assert_eq!(super::line_col(text, s.start).0, 4);
        let nan = cx.number(
            &[Seg::Key("run"), Seg::Key("x")],
            f64::NAN,
            Bounds::closed(0.0, 1.0),
        );
        assert!(nan.unwrap_err().to_string().contains("not a finite number"));
    }

    #[test]
    fn messages_are_capped() {
        let m = capped("x".repeat(10_000));
        assert_eq!(m.chars().count(), limits::MAX_MESSAGE + 1);
    }
}
