//! Splits master-file text (RFC 1035 §5.1) into entries of tokens.
//!
//! An entry is one logical line: a physical line, or several joined by
//! parentheses. The lexer removes `;` comments outside quotes, joins
//! parenthesized lines, reads `"quoted strings"` and decodes escapes (`\X` is
//! `X`, `\DDD` is the byte with decimal value DDD). It works on bytes, so any
//! input is accepted; a lexical fault (unterminated quote, stray or nested
//! parenthesis) costs the entry it occurs in, and lexing resumes on the next
//! physical line.

/// One token of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// Decoded bytes (escapes resolved, quotes removed).
    pub(crate) bytes: Vec<u8>,
    /// The token was a quoted string.
    pub(crate) quoted: bool,
    /// The token contained at least one backslash escape.
    pub(crate) escaped: bool,
}

impl Token {
    /// The token as text, if it is plain (unquoted, no escapes) UTF-8.
    pub(crate) fn plain(&self) -> Option<&str> {
        if self.quoted || self.escaped {
            return None;
        }
        std::str::from_utf8(&self.bytes).ok()
    }
}

/// One logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// 1-based number of the physical line the entry starts on.
    pub(crate) line: usize,
    /// The entry's first physical line starts with whitespace (owner omitted).
    pub(crate) indented: bool,
    /// Tokens; never empty.
    pub(crate) tokens: Vec<Token>,
}

/// A lexical fault: the entry starting on `line` is dropped for `reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LexFault {
    /// 1-based line of the entry.
    pub(crate) line: usize,
    /// Why it was dropped.
    pub(crate) reason: String,
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | 0x0b | 0x0c)
}

/// Splits `text` into entries, in order; faults come in file order among them.
pub(crate) fn lex(text: &[u8]) -> Vec<Result<Entry, LexFault>> {
    let mut lx = Lexer { b: text, i: 0, line: 1 };
    let mut out = Vec::new();
    while lx.i < lx.b.len() {
        let start = lx.line;
        match lx.entry() {
            Ok(Some(entry)) => out.push(Ok(entry)),
            Ok(None) => {}
            Err(reason) => {
                lx.skip_line();
                out.push(Err(LexFault { line: start, reason }));
            }
        }
    }
    out
}

struct Lexer<'a> {
    b: &'a [u8],
    i: usize,
    line: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Moves past the rest of the current physical line and its newline.
    fn skip_line(&mut self) {
        while let Some(c) = self.peek() {
            self.i += 1;
            if c == b'\n' {
                self.line += 1;
                return;
            }
        }
    }

    /// Reads one entry starting at the beginning of a physical line.
    /// `Ok(None)` for a line with nothing but blanks and comments.
    fn entry(&mut self) -> Result<Option<Entry>, String> {
        let line = self.line;
        let indented = self.peek().is_some_and(is_space);
        let mut tokens = Vec::new();
        let mut in_parens = false;
        loop {
            let Some(c) = self.peek() else {
                if in_parens {
                    return Err("parenthesis not closed before end of file".into());
                }
                break;
            };
            match c {
                b'\n' => {
                    self.i += 1;
                    self.line += 1;
                    if !in_parens {
                        break;
                    }
                }
                b';' => {
                    while self.peek().is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                b'(' => {
                    if in_parens {
                        return Err("nested parenthesis".into());
                    }
                    in_parens = true;
                    self.i += 1;
                }
                b')' => {
                    if !in_parens {
                        return Err("closing parenthesis without opening one".into());
                    }
                    in_parens = false;
                    self.i += 1;
                }
                b'"' => {
                    self.i += 1;
                    tokens.push(self.quoted()?);
                }
                c if is_space(c) => self.i += 1,
                _ => tokens.push(self.bare()),
            }
        }
        if tokens.is_empty() {
            return Ok(None);
        }
        Ok(Some(Entry { line, indented, tokens }))
    }

    /// Reads the body of a quoted string; the opening quote is consumed.
    fn quoted(&mut self) -> Result<Token, String> {
        let mut tok = Token { bytes: Vec::new(), quoted: true, escaped: false };
        loop {
            match self.peek() {
                None | Some(b'\n') => return Err("unterminated quoted string".into()),
                Some(b'"') => {
                    self.i += 1;
                    return Ok(tok);
                }
                Some(b'\\') => self.escape(&mut tok),
                Some(c) => {
                    tok.bytes.push(c);
                    self.i += 1;
                }
            }
        }
    }

    /// Reads an unquoted token, which ends at a blank, newline, `;`, `(`, `)` or `"`.
    fn bare(&mut self) -> Token {
        let mut tok = Token { bytes: Vec::new(), quoted: false, escaped: false };
        while let Some(c) = self.peek() {
            match c {
                b'\n' | b';' | b'(' | b')' | b'"' => break,
                c if is_space(c) => break,
                b'\\' => self.escape(&mut tok),
                c => {
                    tok.bytes.push(c);
                    self.i += 1;
                }
            }
        }
        tok
    }

    /// Decodes the escape at `self.i` (a backslash) into `tok`.
    ///
    /// `\DDD` with DDD <= 255 is one byte; `\X` is X. A backslash before a
    /// newline or at the end of input is dropped, leaving the newline in place.
    fn escape(&mut self, tok: &mut Token) {
        tok.escaped = true;
        self.i += 1;
        let Some(next) = self.peek() else { return };
        if next == b'\n' {
            return;
        }
        if let Some(digits) = self.b.get(self.i..self.i + 3) {
            if digits.iter().all(u8::is_ascii_digit) {
                let value = digits.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    tok.bytes.push(byte);
                    self.i += 3;
                    return;
                }
            }
        }
        tok.bytes.push(next);
        self.i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry as (line, indented, tokens shown as text with quotes marked),
    /// or a fault as (line, reason).
    type Shape = Result<(usize, bool, Vec<String>), (usize, String)>;

    fn shape(text: &str) -> Vec<Shape> {
        lex(text.as_bytes())
            .into_iter()
            .map(|r| match r {
                Ok(e) => Ok((
                    e.line,
                    e.indented,
                    e.tokens
                        .iter()
                        .map(|t| {
                            let s = String::from_utf8_lossy(&t.bytes).into_owned();
                            if t.quoted {
                                format!("\"{s}\"")
                            } else {
                                s
                            }
                        })
                        .collect(),
                )),
                Err(f) => Err((f.line, f.reason)),
            })
            .collect()
    }

    fn ok(line: usize, indented: bool, toks: &[&str]) -> Result<(usize, bool, Vec<String>), (usize, String)> {
        Ok((line, indented, toks.iter().map(|s| s.to_string()).collect()))
    }

    #[test]
    fn table() {
        let cases: Vec<(&str, Vec<Shape>)> = vec![
            ("a A 1.2.3.4\n", vec![ok(1, false, &["a", "A", "1.2.3.4"])]),
            ("\n\n ; only a comment\n\tb TXT x", vec![ok(4, true, &["b", "TXT", "x"])]),
            ("a TXT \"x ; y\" ; comment\n", vec![ok(1, false, &["a", "TXT", "\"x ; y\""])]),
            (
                "a SOA ns h (\n 1 ; serial\n 2 )\nb A 1.1.1.1",
                vec![ok(1, false, &["a", "SOA", "ns", "h", "1", "2"]), ok(4, false, &["b", "A", "1.1.1.1"])],
            ),
            ("a TXT \"q\\\"uo\\\\te\\065\"", vec![ok(1, false, &["a", "TXT", "\"q\"uo\\teA\""])]),
            ("a TXT x\\ y\\;z", vec![ok(1, false, &["a", "TXT", "x y;z"])]),
            ("a TXT \"\"", vec![ok(1, false, &["a", "TXT", "\"\""])]),
            (
                "a TXT \"open\nb A 1.2.3.4",
                vec![Err((1, "unterminated quoted string".into())), ok(2, false, &["b", "A", "1.2.3.4"])],
            ),
            ("a ( ( b\nc", vec![Err((1, "nested parenthesis".into())), ok(2, false, &["c"])]),
            ("a ) b\nc", vec![Err((1, "closing parenthesis without opening one".into())), ok(2, false, &["c"])]),
            ("a ( b\nc", vec![Err((1, "parenthesis not closed before end of file".into()))]),
            ("a\r\nb\r\n", vec![ok(1, false, &["a"]), ok(2, false, &["b"])]),
            ("x\\", vec![ok(1, false, &["x"])]),
            ("x\\999", vec![ok(1, false, &["x999"])]),
            ("ab\"cd\"", vec![ok(1, false, &["ab", "\"cd\""])]),
        ];
        for (text, want) in cases {
            assert_eq!(shape(text), want, "input {text:?}");
        }
    }

    #[test]
    fn escapes_mark_tokens_and_bytes_pass_through() {
        let entries = lex(b"a \\255\xff");
        let Some(Ok(e)) = entries.first() else { panic!("no entry") };
        let t = &e.tokens[1];
        assert_eq!(t.bytes, vec![255, 255]);
        assert!(t.escaped);
        assert_eq!(t.plain(), None);
        assert_eq!(e.tokens[0].plain(), Some("a"));
    }
}
