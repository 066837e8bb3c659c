//! Zone-file text to [`ZoneFile`]: directives, record headers, owners, TTLs.
//!
//! The grammar is RFC 1035 §5.1 master-file text, read the way real BNS zone
//! files write it (and the way Core's `blockstack_zones` reads it):
//!
//! ```text
//! $ORIGIN muneeb.id                    absolute, with or without the trailing dot
//! $TTL 3600
//! $ORIGIN test-personal.id $TTL 3600   several directives on one line (mainnet)
//! _http._tcp IN URI 10 1 "https://..."
//! name [ttl] [IN] type rdata...        TTL and class in either order, both optional
//!      [ttl] [IN] type rdata...        leading blank: owner of the previous record
//! TXT "..."                            no owner at all: `@` (blockstack_zones)
//! ```

use super::error::ZoneFileError;
use super::lexer::{lex, Entry, Token};
use super::name::{normalize, resolve, resolve_token, NameError};
use super::rdata::{parse_rdata, RType};
use super::{ZoneFile, ZoneRecord, DEFAULT_TTL, MAX_ZONEFILE_LEN};
use crate::hash::ValueHash;

/// Largest TTL (RFC 2181 §8: 2^31 - 1 seconds).
pub const MAX_TTL: u32 = i32::MAX as u32;

/// Parses zone-file `text`.
///
/// Relative names resolve against the current `$ORIGIN`, else against
/// `default_origin` (normally the BNS name the file belongs to).
///
/// # Output
/// - Owners and target names are absolute, ASCII-lowercase, without trailing
///   dot (the root is `""`); each is at most 253 bytes with labels of 1 to 63.
/// - A record's TTL is its own, else the last `$TTL` before it, else
///   [`DEFAULT_TTL`]; always at most [`MAX_TTL`].
/// - TXT strings are at most 255 bytes each (longer ones are cut in pieces).
/// - `origin` and `ttl` are the first `$ORIGIN` (lowercase, no trailing dot)
///   and the first valid `$TTL` of the file.
/// - Every line that was skipped, or only partly used, has a warning
///   `"line N: reason"`, in file order.
///
/// # `$ORIGIN`
/// BNS files write `$ORIGIN muneeb.id` without the trailing dot, so a
/// `$ORIGIN` value is absolute either way. One exception keeps subdomain zone
/// files usable: they say `$ORIGIN 1yeardaily` for `1yeardaily.verified.podcast`,
/// so when the value has no trailing dot and `default_origin` starts with
/// `value.`, names resolve against `default_origin` (`origin` still reports
/// what the file says).
///
/// # Errors
/// - [`ZoneFileError::TooLarge`] above [`MAX_ZONEFILE_LEN`] bytes.
/// - [`ZoneFileError::NoOrigin`] for a relative name or `@` with no origin.
/// - [`ZoneFileError::EmptyLabel`], [`ZoneFileError::LabelTooLong`],
///   [`ZoneFileError::NameTooLong`] for any name breaking DNS limits,
///   including `default_origin` (reported as line 0; a default origin with
///   characters no name may have is ignored instead).
///
/// Never panics, on any input.
pub fn parse(text: &[u8], default_origin: Option<&str>) -> Result<ZoneFile, ZoneFileError> {
    if text.len() > MAX_ZONEFILE_LEN {
        return Err(ZoneFileError::TooLarge { len: text.len(), max: MAX_ZONEFILE_LEN });
    }
    let default_origin = match default_origin {
        None => None,
        Some(d) => fatal_only(resolve(&format!("{}.", normalize(d)), None, 0))?,
    };
    let mut p = Parser {
        default_origin: default_origin.clone(),
        origin: default_origin,
        ttl: None,
        prev_owner: None,
        zf: ZoneFile { origin: None, ttl: None, records: Vec::new(), warnings: Vec::new() },
    };
    // A UTF-8 byte-order mark would otherwise glue itself to the first `$ORIGIN`.
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    for item in lex(text) {
        match item {
            Err(fault) => p.warn(fault.line, &fault.reason),
            Ok(entry) => p.entry(&entry)?,
        }
    }
    Ok(p.zf)
}

/// Checks zone-file `bytes` fetched for a name: size first, then (when
/// `expected` is given) that hash160 of the bytes equals `expected`, then
/// parses them with no default origin.
///
/// A file without `$ORIGIN` that uses relative names fails here with
/// [`ZoneFileError::NoOrigin`]; to serve a name, use [`check_with_origin`].
///
/// # Errors
/// [`ZoneFileError::TooLarge`], [`ZoneFileError::HashMismatch`], or any error
/// of [`parse`].
pub fn check(bytes: &[u8], expected: Option<&ValueHash>) -> Result<ZoneFile, ZoneFileError> {
    check_with_origin(bytes, expected, None)
}

/// [`check`], then parse with `default_origin` (normally the name whose zone
/// file this is), as [`parse`] does.
///
/// # Errors
/// [`ZoneFileError::TooLarge`], [`ZoneFileError::HashMismatch`], or any error
/// of [`parse`].
pub fn check_with_origin(
    bytes: &[u8],
    expected: Option<&ValueHash>,
    default_origin: Option<&str>,
) -> Result<ZoneFile, ZoneFileError> {
    if bytes.len() > MAX_ZONEFILE_LEN {
        return Err(ZoneFileError::TooLarge { len: bytes.len(), max: MAX_ZONEFILE_LEN });
    }
    if let Some(expected) = expected {
        let actual = ValueHash::of_zonefile(bytes);
        if actual != *expected {
            return Err(ZoneFileError::HashMismatch { expected: *expected, actual });
        }
    }
    parse(bytes, default_origin)
}

/// Keeps the fatal part of a name error; a merely unusable default origin is
/// treated as no default origin.
fn fatal_only(r: Result<String, NameError>) -> Result<Option<String>, ZoneFileError> {
    match r {
        Ok(name) => Ok(Some(name)),
        Err(NameError::Skip(_)) => Ok(None),
        Err(NameError::Fatal(e)) => Err(e),
    }
}

/// Why a line is not used.
type LineResult<T> = Result<T, NameError>;

struct Parser {
    /// The caller's origin, resolved.
    default_origin: Option<String>,
    /// Origin relative names resolve against now.
    origin: Option<String>,
    /// Last valid `$TTL`.
    ttl: Option<u32>,
    /// Owner of the last record whose owner resolved.
    prev_owner: Option<String>,
    zf: ZoneFile,
}

impl Parser {
    fn warn(&mut self, line: usize, reason: &str) {
        self.zf.warnings.push(format!("line {line}: {reason}"));
    }

    /// Handles one entry; `Err` only for a fatal error.
    fn entry(&mut self, e: &Entry) -> Result<(), ZoneFileError> {
        let directive = e.tokens.first().and_then(Token::plain).is_some_and(|s| s.starts_with('$'));
        let outcome = if directive { self.directives(e) } else { self.record(e) };
        match outcome {
            Ok(()) => Ok(()),
            Err(NameError::Skip(reason)) => {
                self.warn(e.line, &reason);
                Ok(())
            }
            Err(NameError::Fatal(err)) => Err(err),
        }
    }

    /// A directive line: one or more `$NAME value` pairs (mainnet has
    /// `$ORIGIN x $TTL 3600` on one line). Pairs before a bad one still apply.
    fn directives(&mut self, e: &Entry) -> LineResult<()> {
        let mut toks = e.tokens.iter();
        while let Some(tok) = toks.next() {
            let Some(word) = tok.plain().filter(|s| s.starts_with('$')) else {
                return Err(skip(format!("unexpected token '{}' after a directive", shown_tok(tok))));
            };
            let upper = word.to_ascii_uppercase();
            match upper.as_str() {
                "$ORIGIN" | "$TTL" => {}
                "$INCLUDE" | "$GENERATE" => return Err(skip(format!("{upper} is not supported"))),
                _ => return Err(skip(format!("unknown directive '{}'", super::error::shown(word)))),
            }
            let Some(value) = toks.next() else {
                return Err(skip(format!("{upper} without a value")));
            };
            if upper == "$TTL" {
                let ttl = value
                    .plain()
                    .ok_or_else(|| skip(format!("invalid $TTL '{}'", shown_tok(value))))
                    .and_then(parse_ttl)?;
                self.ttl = Some(ttl);
                self.zf.ttl.get_or_insert(ttl);
            } else {
                self.set_origin(value, e.line)?;
            }
        }
        Ok(())
    }

    fn set_origin(&mut self, tok: &Token, line: usize) -> LineResult<()> {
        let written = tok.plain().unwrap_or("");
        // `$ORIGIN` is absolute with or without its dot; `@` keeps the current origin.
        let origin = if written == "@" {
            resolve_token(tok, self.origin.as_deref(), line)?
        } else {
            let abs = Token { bytes: absolute(&tok.bytes), ..tok.clone() };
            resolve_token(&abs, None, line)?
        };
        if self.zf.origin.is_none() {
            self.zf.origin = Some(origin.clone());
        }
        let effective = match &self.default_origin {
            Some(d) if !written.ends_with('.') && d.len() > origin.len() && d.starts_with(&format!("{origin}.")) => {
                d.clone()
            }
            _ => origin,
        };
        self.origin = Some(effective);
        Ok(())
    }

    /// A resource-record line.
    fn record(&mut self, e: &Entry) -> LineResult<()> {
        let toks = &e.tokens;
        let (owner_tok, header) = header(e)?;
        let owner = match owner_tok {
            Some(tok) => resolve_token(tok, self.origin.as_deref(), e.line)?,
            None => match &self.prev_owner {
                Some(prev) if e.indented => prev.clone(),
                _ => resolve("@", self.origin.as_deref(), e.line)?,
            },
        };
        self.prev_owner = Some(owner.clone());
        if header.rtype == RType::Unsupported {
            return Err(skip(format!("unsupported record type {}", header.mnemonic)));
        }
        let rdata_toks = toks.get(header.rdata_at..).unwrap_or_default();
        let data = parse_rdata(header.rtype, rdata_toks, self.origin.as_deref(), e.line).map_err(|err| match err {
            NameError::Skip(reason) => skip(format!("{} record: {reason}", header.mnemonic)),
            fatal => fatal,
        })?;
        let ttl = header.ttl.or(self.ttl).unwrap_or(DEFAULT_TTL);
        self.zf.records.push(ZoneRecord { owner, ttl, data });
        Ok(())
    }
}

/// Finds the owner token (None: omitted) and the header after it.
///
/// RFC 1035 reading first; when that fails, an indented line may still
/// carry its owner, and a line starting with a type has none (`@`).
fn header(e: &Entry) -> LineResult<(Option<&Token>, Header)> {
    let toks = &e.tokens;
    let rest = toks.get(1..).unwrap_or_default();
    let first_is_class = toks.first().and_then(Token::plain).is_some_and(is_class);
    if e.indented {
        return match scan_header(toks, 0) {
            Ok(h) => Ok((None, h)),
            Err(reason) => scan_header(rest, 1).map(|h| (toks.first(), h)).map_err(|_| skip(reason)),
        };
    }
    if first_is_class {
        if let Ok(h) = scan_header(toks, 0) {
            return Ok((None, h));
        }
    }
    match scan_header(rest, 1) {
        Ok(h) => Ok((toks.first(), h)),
        Err(reason) => {
            let first_is_type = toks.first().and_then(Token::plain).and_then(RType::from_mnemonic).is_some();
            if first_is_type {
                if let Ok(h) = scan_header(toks, 0) {
                    return Ok((None, h));
                }
            }
            Err(skip(reason))
        }
    }
}

/// The part of a record line between owner and RDATA.
struct Header {
    ttl: Option<u32>,
    rtype: RType,
    /// Type as written, upper case, for warnings.
    mnemonic: String,
    /// Index of the first RDATA token in the entry.
    rdata_at: usize,
}

/// Reads `[ttl] [class] type` in either order from `toks`, which start at
/// index `offset` of the entry.
fn scan_header(toks: &[Token], offset: usize) -> Result<Header, String> {
    let mut ttl = None;
    let mut class = false;
    for (i, tok) in toks.iter().enumerate() {
        let Some(s) = tok.plain() else {
            return Err(format!("expected a record type, found '{}'", shown_tok(tok)));
        };
        if ttl.is_none() && looks_like_ttl(s) {
            ttl = Some(parse_ttl(s).map_err(reason)?);
        } else if !class && is_class(s) {
            if !s.eq_ignore_ascii_case("IN") && !s.eq_ignore_ascii_case("CLASS1") {
                return Err(format!("class {} is not supported", s.to_ascii_uppercase()));
            }
            class = true;
        } else if let Some(rtype) = RType::from_mnemonic(s) {
            return Ok(Header { ttl, rtype, mnemonic: s.to_ascii_uppercase(), rdata_at: offset + i + 1 });
        } else {
            return Err(format!("expected a record type, found '{}'", super::error::shown(s)));
        }
    }
    Err("missing record type".into())
}

fn reason(e: NameError) -> String {
    match e {
        NameError::Skip(s) => s,
        NameError::Fatal(e) => e.to_string(),
    }
}

fn is_class(s: &str) -> bool {
    let numbered = s.len() > 5
        && s.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("CLASS"))
        && s.bytes().skip(5).all(|b| b.is_ascii_digit());
    numbered || ["IN", "CH", "CS", "HS"].iter().any(|c| s.eq_ignore_ascii_case(c))
}

/// Starts with a digit and holds only digits and BIND unit letters.
fn looks_like_ttl(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_digit())
        && s.bytes().all(|b| b.is_ascii_digit() || b"smhdwSMHDW".contains(&b))
}

/// A TTL: seconds (`3600`) or BIND units (`1h30m`, `2d`), at most [`MAX_TTL`].
fn parse_ttl(s: &str) -> LineResult<u32> {
    let bad = || skip(format!("invalid ttl '{}'", super::error::shown(s)));
    if !looks_like_ttl(s) {
        return Err(bad());
    }
    let mut total: u64 = 0;
    let mut n: u64 = 0;
    let mut digits = false;
    for b in s.bytes() {
        if b.is_ascii_digit() {
            n = n.checked_mul(10).and_then(|n| n.checked_add(u64::from(b - b'0'))).ok_or_else(bad)?;
            digits = true;
            continue;
        }
        if !digits {
            return Err(bad());
        }
        let unit: u64 = match b.to_ascii_lowercase() {
            b's' => 1,
            b'm' => 60,
            b'h' => 3600,
            b'd' => 86_400,
            _ => 604_800,
        };
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(bad)?;
        n = 0;
        digits = false;
    }
    total = total.checked_add(n).ok_or_else(bad)?;
    match u32::try_from(total) {
        Ok(t) if t <= MAX_TTL => Ok(t),
        _ => Err(skip(format!("ttl {} is more than {MAX_TTL}", super::error::shown(s)))),
    }
}

/// `bytes` with a trailing dot (absolute), unless it already has one.
fn absolute(bytes: &[u8]) -> Vec<u8> {
    let mut v = bytes.to_vec();
    if v.last() != Some(&b'.') {
        v.push(b'.');
    }
    v
}

fn skip(reason: String) -> NameError {
    NameError::Skip(reason)
}

fn shown_tok(tok: &Token) -> String {
    super::error::shown(&String::from_utf8_lossy(&tok.bytes))
}
