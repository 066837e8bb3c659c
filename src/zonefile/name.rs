//! Domain names in zone files: `@`, relative and absolute names, and their limits.
//!
//! Resolved names are absolute, ASCII-lowercase and carry no trailing dot; the
//! root is the empty string. Empty labels and names over the DNS length limits
//! are fatal ([`ZoneFileError`]); names that are merely unusable (quoted,
//! escaped, non-ASCII, control characters) cost only their line.

use super::error::{shown, ZoneFileError};
use super::lexer::Token;

/// Longest label, in bytes (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// Longest absolute name in text form without the trailing dot, in bytes
/// (255 bytes on the wire).
pub const MAX_NAME_LEN: usize = 253;

/// Why a name could not be used.
#[derive(Debug)]
pub(crate) enum NameError {
    /// Skip the line with this reason.
    Skip(String),
    /// Reject the whole file.
    Fatal(ZoneFileError),
}

impl From<ZoneFileError> for NameError {
    fn from(e: ZoneFileError) -> Self {
        NameError::Fatal(e)
    }
}

/// Resolves the name token `tok` found on `line` against `origin`.
pub(crate) fn resolve_token(tok: &Token, origin: Option<&str>, line: usize) -> Result<String, NameError> {
    if tok.quoted {
        return Err(NameError::Skip(format!(
            "quoted string where a name was expected: \"{}\"",
            shown(&String::from_utf8_lossy(&tok.bytes))
        )));
    }
    if tok.escaped {
        return Err(NameError::Skip(format!(
            "escaped characters in names are not supported: '{}'",
            shown(&String::from_utf8_lossy(&tok.bytes))
        )));
    }
    let Ok(text) = std::str::from_utf8(&tok.bytes) else {
        return Err(NameError::Skip("name is not valid utf-8".into()));
    };
    resolve(text, origin, line)
}

/// Resolves the name `text` found on `line` against `origin` (absolute, lowercase,
/// no trailing dot), then checks it.
///
/// `@` is the origin; a name ending in `.` is absolute; any other name is
/// relative and gets `.origin` appended.
pub(crate) fn resolve(text: &str, origin: Option<&str>, line: usize) -> Result<String, NameError> {
    let no_origin = || ZoneFileError::NoOrigin { line, name: shown(text) };
    let name = if text == "@" {
        origin.ok_or_else(no_origin)?.to_string()
    } else if let Some(abs) = text.strip_suffix('.') {
        check_labels(abs, text, line)?;
        abs.to_string()
    } else {
        check_labels(text, text, line)?;
        match origin.ok_or_else(no_origin)? {
            "" => text.to_string(),
            o => format!("{text}.{o}"),
        }
    };
    let name = name.to_ascii_lowercase();
    check_name(&name, line)?;
    Ok(name)
}

/// Checks the labels of `name` (absolute without its dot, or relative) as written in `written`.
fn check_labels(name: &str, written: &str, line: usize) -> Result<(), ZoneFileError> {
    if name.is_empty() {
        // "." is the root; "" cannot be written as a token.
        return if written == "." { Ok(()) } else { Err(ZoneFileError::EmptyLabel { line, name: shown(written) }) };
    }
    let mut longest = 0;
    for label in name.split('.') {
        if label.is_empty() {
            return Err(ZoneFileError::EmptyLabel { line, name: shown(written) });
        }
        longest = longest.max(label.len());
    }
    if longest > MAX_LABEL_LEN {
        return Err(ZoneFileError::LabelTooLong { line, name: shown(written), len: longest });
    }
    Ok(())
}

/// Checks a resolved absolute name: total length, then characters.
fn check_name(name: &str, line: usize) -> Result<(), NameError> {
    if name.len() > MAX_NAME_LEN {
        return Err(ZoneFileError::NameTooLong { line, name: shown(name), len: name.len() }.into());
    }
    if let Some(c) = name.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(NameError::Skip(format!("invalid character {:?} in name '{}'", c, shown(name))));
    }
    Ok(())
}

/// Normalizes a caller-supplied name (a default origin, a query): trims one
/// trailing dot and lowercases ASCII.
pub(crate) fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// True if `name` is a strict descendant of `ancestor` (both normalized).
pub(crate) fn is_below(name: &str, ancestor: &str) -> bool {
    if ancestor.is_empty() {
        return !name.is_empty();
    }
    name.len() > ancestor.len() + 1
        && name.ends_with(ancestor)
        && name.as_bytes().get(name.len() - ancestor.len() - 1) == Some(&b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_table() {
        let long63 = "a".repeat(63);
        let cases: Vec<(&str, Option<&str>, Result<String, String>)> = vec![
            ("@", Some("foo.id"), Ok("foo.id".into())),
            ("www", Some("foo.id"), Ok("www.foo.id".into())),
            ("WWW.Foo.ID.", Some("bar.id"), Ok("www.foo.id".into())),
            ("_http._tcp", Some("Muneeb.id"), Ok("_http._tcp.muneeb.id".into())),
            ("*", Some("foo.id"), Ok("*.foo.id".into())),
            (".", Some("foo.id"), Ok("".into())),
            ("x", Some(""), Ok("x".into())),
            ("@", Some(""), Ok("".into())),
            ("abs.", None, Ok("abs".into())),
            (&long63, Some("id"), Ok(format!("{long63}.id"))),
            ("www", None, Err("line 7: relative name 'www' with no origin".into())),
            ("@", None, Err("line 7: relative name '@' with no origin".into())),
            ("a..b", Some("id"), Err("line 7: name 'a..b' has an empty label".into())),
            (".a", Some("id"), Err("line 7: name '.a' has an empty label".into())),
            ("a..", Some("id"), Err("line 7: name 'a..' has an empty label".into())),
            ("..", Some("id"), Err("line 7: name '..' has an empty label".into())),
        ];
        for (text, origin, want) in cases {
            let got = resolve(text, origin, 7).map_err(|e| match e {
                NameError::Fatal(e) => e.to_string(),
                NameError::Skip(s) => format!("skip: {s}"),
            });
            assert_eq!(got, want, "name {text:?} origin {origin:?}");
        }
    }

    #[test]
    fn length_limits() {
        let l64 = "b".repeat(64);
        assert!(matches!(
            resolve(&l64, Some("id"), 1),
            Err(NameError::Fatal(ZoneFileError::LabelTooLong { len: 64, .. }))
        ));
        // 4 labels of 63 + 3 dots = 255 > 253.
        let long = vec!["c".repeat(63); 4].join(".");
        assert!(matches!(
            resolve(&format!("{long}."), None, 1),
            Err(NameError::Fatal(ZoneFileError::NameTooLong { len: 255, .. }))
        ));
        // Exactly 253: 63+1+63+1+63+1+61.
        let ok = format!("{}.{}", vec!["c".repeat(63); 3].join("."), "d".repeat(61));
        assert_eq!(resolve(&format!("{ok}."), None, 1).ok(), Some(ok));
    }

    #[test]
    fn unusable_names_skip_the_line() {
        let cases = [
            Token { bytes: b"quoted".to_vec(), quoted: true, escaped: false },
            Token { bytes: b"a.b".to_vec(), quoted: false, escaped: true },
            Token { bytes: vec![0xff, b'a'], quoted: false, escaped: false },
            Token { bytes: "caf\u{e9}".as_bytes().to_vec(), quoted: false, escaped: false },
            Token { bytes: b"a\x01b".to_vec(), quoted: false, escaped: false },
        ];
        for tok in cases {
            assert!(matches!(resolve_token(&tok, Some("id"), 1), Err(NameError::Skip(_))), "{tok:?}");
        }
    }

    #[test]
    fn below_and_normalize() {
        assert_eq!(normalize("Foo.ID."), "foo.id");
        assert!(is_below("_tcp.werner.id", "werner.id"));
        assert!(is_below("_443._tcp.werner.id", "_tcp.werner.id"));
        assert!(!is_below("werner.id", "werner.id"));
        assert!(!is_below("xwerner.id", "werner.id"));
        assert!(is_below("id", ""));
        assert!(!is_below("", ""));
    }
}
