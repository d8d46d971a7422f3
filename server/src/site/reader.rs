//! Reading a TOML document by hand, collecting every error with its place.
//!
//! `toml` parses the text into a tree whose every key and value keeps its
//! byte range (`DeTable::parse_recoverable`, which also goes on past syntax
//! errors). This module walks that tree: a [`Table`] knows the keys it
//! allows (any other is an error at the key), and its getters check each
//! value's type and range, recording a [`ConfigError`] — file, line,
//! column, key path, what was expected — and carrying on. A serde derive
//! would stop at the first error; `weir check` reports them all.

use std::fmt;
use std::time::Duration;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// One problem in a configuration file, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as given.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// The key's path, e.g. `host[0].location[2].root` (empty for syntax errors).
    pub key: String,
    /// What is wrong, and what was expected.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every error of a file, in the order they appear in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// The document being read and the errors found so far.
pub(crate) struct Doc<'s> {
    src: &'s str,
    file: String,
    pub(crate) errors: Vec<ConfigError>,
}

impl<'s> Doc<'s> {
    pub(crate) fn new(src: &'s str, file: &str) -> Doc<'s> {
        Doc { src, file: file.to_string(), errors: Vec::new() }
    }

    /// Records an error at byte offset `at`.
    pub(crate) fn error(&mut self, at: usize, key: &str, message: impl Into<String>) {
        let at = at.min(self.src.len());
        let before = &self.src[..at];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        self.errors.push(ConfigError {
            file: self.file.clone(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
        });
    }

    /// The errors, sorted by position (a table's keys are read in their
    /// own order, not the file's).
    pub(crate) fn into_errors(self) -> Vec<ConfigError> {
        let mut e = self.errors;
        e.sort_by_key(|a| (a.line, a.column));
        e.dedup();
        e
    }
}

/// A value and where it is: its key path and its byte range.
#[derive(Clone, Copy)]
pub(crate) struct Val<'a, 'i> {
    pub(crate) v: &'a DeValue<'i>,
    pub(crate) span: usize,
}

/// A table being read: its key path, and the keys it allows.
pub(crate) struct Table<'a, 'i> {
    t: &'a DeTable<'i>,
    pub(crate) path: String,
    pub(crate) at: usize,
}

/// A TOML type's name, for "expected X, found Y".
fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

impl<'a, 'i> Table<'a, 'i> {
    /// The document's root table, checked against `allowed`.
    pub(crate) fn root(doc: &mut Doc<'_>, t: &'a Spanned<DeTable<'i>>, allowed: &[&str]) -> Table<'a, 'i> {
        let table = Table { t: t.get_ref(), path: String::new(), at: t.span().start };
        table.check_keys(doc, allowed);
        table
    }

    fn key_path(&self, key: &str) -> String {
        if key.is_empty() {
            self.path.clone()
        } else if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Every key not in `allowed` is an error at the key.
    fn check_keys(&self, doc: &mut Doc<'_>, allowed: &[&str]) {
        for (k, _) in self.t.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                doc.error(
                    k.span().start,
                    &self.key_path(k.get_ref()),
                    format!("unknown key; expected one of: {}", allowed.join(", ")),
                );
            }
        }
    }

    /// The raw value at `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<Val<'a, 'i>> {
        self.t.get(key).map(|v| Val { v: v.get_ref(), span: v.span().start })
    }

    /// Whether `key` is present.
    pub(crate) fn has(&self, key: &str) -> bool {
        self.t.get(key).is_some()
    }

    /// Where `key` is (its value), or the table itself when absent.
    pub(crate) fn at_key(&self, key: &str) -> usize {
        self.t.get(key).map_or(self.at, |v| v.span().start)
    }

    /// Records an error about `key`.
    pub(crate) fn error(&self, doc: &mut Doc<'_>, key: &str, message: impl Into<String>) {
        doc.error(self.at_key(key), &self.key_path(key), message);
    }

    fn expected(&self, doc: &mut Doc<'_>, key: &str, v: Val<'_, '_>, what: &str) {
        doc.error(v.span, &self.key_path(key), format!("expected {what}, found {}", type_name(v.v)));
    }

    /// A string.
    pub(crate) fn str(&self, doc: &mut Doc<'_>, key: &str) -> Option<String> {
        let v = self.get(key)?;
        match v.v {
            DeValue::String(s) => Some(s.to_string()),
            _ => {
                self.expected(doc, key, v, "a string");
                None
            }
        }
    }

    /// A boolean.
    pub(crate) fn bool(&self, doc: &mut Doc<'_>, key: &str) -> Option<bool> {
        let v = self.get(key)?;
        match v.v {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                self.expected(doc, key, v, "true or false");
                None
            }
        }
    }

    /// An integer in `min..=max`.
    pub(crate) fn int(&self, doc: &mut Doc<'_>, key: &str, min: u64, max: u64) -> Option<u64> {
        let v = self.get(key)?;
        let what = format!("an integer from {min} to {max}");
        match v.v {
            DeValue::Integer(i) => match u64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) if (min..=max).contains(&n) => Some(n),
                _ => {
                    doc.error(v.span, &self.key_path(key), format!("expected {what}, found {}", i.as_str()));
                    None
                }
            },
            _ => {
                self.expected(doc, key, v, &what);
                None
            }
        }
    }

    /// A size in bytes: an integer, or a string with a unit (`"64KiB"`,
    /// `"1MiB"`, `"2GiB"`; `k`, `m`, `g` are accepted as the same
    /// powers of 1024).
    pub(crate) fn size(&self, doc: &mut Doc<'_>, key: &str) -> Option<u64> {
        let v = self.get(key)?;
        let what = "a size in bytes (an integer, or a string such as \"64KiB\" or \"1MiB\")";
        let parsed = match v.v {
            DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix()).ok(),
            DeValue::String(s) => parse_size(s),
            _ => None,
        };
        if parsed.is_none() {
            self.found(doc, key, v, what);
        }
        parsed
    }

    /// A duration: an integer of seconds, or a string with a unit
    /// (`"500ms"`, `"10s"`, `"2m"`, `"1h"`).
    pub(crate) fn duration(&self, doc: &mut Doc<'_>, key: &str) -> Option<Duration> {
        let v = self.get(key)?;
        let what = "a duration (seconds as an integer, or a string such as \"500ms\", \"10s\", \"2m\")";
        let parsed = match v.v {
            DeValue::Integer(i) => u64::from_str_radix(i.as_str(), i.radix()).ok().map(Duration::from_secs),
            DeValue::String(s) => parse_duration(s),
            _ => None,
        };
        if parsed.is_none() {
            self.found(doc, key, v, what);
        }
        parsed
    }

    /// "expected X, found <the value or its type>".
    fn found(&self, doc: &mut Doc<'_>, key: &str, v: Val<'_, '_>, what: &str) {
        let found = match v.v {
            DeValue::String(s) => format!("{s:?}"),
            DeValue::Integer(i) => i.as_str().to_string(),
            other => type_name(other).to_string(),
        };
        doc.error(v.span, &self.key_path(key), format!("expected {what}, found {found}"));
    }

    /// A string, or an array of strings (a single string is a list of one).
    pub(crate) fn str_list(&self, doc: &mut Doc<'_>, key: &str) -> Option<Vec<String>> {
        let v = self.get(key)?;
        match v.v {
            DeValue::String(s) => Some(vec![s.to_string()]),
            DeValue::Array(items) => {
                let mut out = Vec::new();
                for (n, item) in items.iter().enumerate() {
                    match item.get_ref() {
                        DeValue::String(s) => out.push(s.to_string()),
                        other => doc.error(
                            item.span().start,
                            &format!("{}[{n}]", self.key_path(key)),
                            format!("expected a string, found {}", type_name(other)),
                        ),
                    }
                }
                Some(out)
            }
            _ => {
                self.expected(doc, key, v, "a string or an array of strings");
                None
            }
        }
    }

    /// A sub-table, checked against `allowed`.
    pub(crate) fn table(&self, doc: &mut Doc<'_>, key: &str, allowed: &[&str]) -> Option<Table<'a, 'i>> {
        let v = self.get(key)?;
        match v.v {
            DeValue::Table(t) => {
                let table = Table { t, path: self.key_path(key), at: v.span };
                table.check_keys(doc, allowed);
                Some(table)
            }
            _ => {
                self.expected(doc, key, v, "a table");
                None
            }
        }
    }

    /// A sub-table whose keys are free (a map of names to values).
    pub(crate) fn map(&self, doc: &mut Doc<'_>, key: &str) -> Vec<(String, Val<'a, 'i>, usize)> {
        let Some(v) = self.get(key) else { return Vec::new() };
        match v.v {
            DeValue::Table(t) => t
                .iter()
                .map(|(k, v)| {
                    (k.get_ref().to_string(), Val { v: v.get_ref(), span: v.span().start }, k.span().start)
                })
                .collect(),
            _ => {
                self.expected(doc, key, v, "a table");
                Vec::new()
            }
        }
    }

    /// An array of tables (`[[key]]`, or `key = [{...}, ...]`), each
    /// checked against `allowed`.
    pub(crate) fn tables(&self, doc: &mut Doc<'_>, key: &str, allowed: &[&str]) -> Vec<Table<'a, 'i>> {
        let Some(v) = self.get(key) else { return Vec::new() };
        let DeValue::Array(items) = v.v else {
            self.expected(doc, key, v, "an array of tables");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (n, item) in items.iter().enumerate() {
            let path = format!("{}[{n}]", self.key_path(key));
            match item.get_ref() {
                DeValue::Table(t) => {
                    let table = Table { t, path, at: item.span().start };
                    table.check_keys(doc, allowed);
                    out.push(table);
                }
                other => {
                    doc.error(
                        item.span().start,
                        &path,
                        format!("expected a table, found {}", type_name(other)),
                    );
                }
            }
        }
        out
    }
}

impl Val<'_, '_> {
    /// The value as a string, if it is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self.v {
            DeValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// The TOML type's name.
    pub(crate) fn type_name(&self) -> &'static str {
        type_name(self.v)
    }
}

/// `"64KiB"` -> 65536. Units: none or `B`; `K`/`KB`/`KiB`, `M`..., `G`...
/// (all powers of 1024, any case).
pub(crate) fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    let unit = s[digits..].trim().to_ascii_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

/// `"500ms"`, `"10s"`, `"2m"`, `"1h"`; a bare number is seconds.
pub(crate) fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if digits == 0 {
        return None;
    }
    let n: u64 = s[..digits].parse().ok()?;
    match s[digits..].trim() {
        "ms" => Some(Duration::from_millis(n)),
        "" | "s" => Some(Duration::from_secs(n)),
        "m" | "min" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("1m"), Some(1 << 20));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("1 GiB"), Some(1 << 30));
        assert_eq!(parse_size("KiB"), None);
        assert_eq!(parse_size("1TiB"), None);
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_duration("10"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("10 days"), None);
    }
}
