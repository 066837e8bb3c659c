//! XML-RPC codec for Blockstack Core's Atlas peer protocol (Python `xmlrpc.client` /
//! `SimpleXMLRPCServer` on the other end), built on `quick-xml`.
//!
//! Parsing is meant for bodies from untrusted peers: it never panics, rejects DTDs, unknown
//! elements and entities, bounds nesting ([`MAX_DEPTH`]) and value count ([`MAX_ITEMS`]), and
//! uses memory linear in the body size. The caller bounds the body size itself (HTTP layer).
//! Encoding always yields a well-formed UTF-8 document that Python's `xmlrpc.client.loads` reads.
#![deny(missing_docs)]

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::Event;
use quick_xml::Reader;

/// Most arrays/structs nested inside one another in a value; a top-level array counts as one.
pub const MAX_DEPTH: usize = 32;
/// Most values (every `<value>`, containers and their members included) in one document.
pub const MAX_ITEMS: usize = 100_000;
/// Longest accepted `<methodName>`, in bytes.
const MAX_METHOD_LEN: usize = 256;

/// One XML-RPC value. Values produced by the parsers nest at most [`MAX_DEPTH`] containers deep.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>`/`<i4>` (must fit in i32, unlike Python's lenient reader) or `<i8>`/`<ex:i8>` (i64).
    /// Encoded as `<int>` when it fits in i32, else `<i8>` (which Python reads but cannot send).
    Int(i64),
    /// `<boolean>` 0 or 1.
    Bool(bool),
    /// `<string>`, or a `<value>` holding bare text (possibly empty); kept exactly as sent.
    Str(String),
    /// `<double>`; NaN and ±infinity travel as `nan`, `inf`, `-inf` (what Python sends and reads).
    Double(f64),
    /// `<base64>` bytes. Parsing ignores whitespace and accepts missing padding; encoding is standard
    /// padded base64 on one line.
    Base64(Vec<u8>),
    /// `<dateTime.iso8601>` text, whitespace-trimmed on parse, otherwise not interpreted.
    DateTime(String),
    /// `<array>` items in order.
    Array(Vec<Value>),
    /// `<struct>` members in document order; duplicate names are kept (see [`Value::get`]).
    Struct(Vec<(String, Value)>),
    /// `<nil/>` (Python's `allow_none` extension; `<ex:nil/>` also accepted).
    Nil,
}

#[rustfmt::skip]
impl Value {
    /// The text of a [`Value::Str`] (not of a [`Value::DateTime`]); `None` for other variants.
    pub fn as_str(&self) -> Option<&str> { if let Value::Str(s) = self { Some(s) } else { None } }
    /// The integer of a [`Value::Int`]; `None` otherwise (a [`Value::Bool`] is not an integer here).
    pub fn as_i64(&self) -> Option<i64> { if let Value::Int(i) = self { Some(*i) } else { None } }
    /// The items of a [`Value::Array`]; `None` for other variants.
    pub fn as_array(&self) -> Option<&[Value]> { if let Value::Array(a) = self { Some(a) } else { None } }
    /// The flag of a [`Value::Bool`]; `None` for other variants.
    pub fn as_bool(&self) -> Option<bool> { if let Value::Bool(b) = self { Some(*b) } else { None } }
    /// The decoded bytes of a [`Value::Base64`]; `None` for other variants.
    pub fn as_bytes(&self) -> Option<&[u8]> { if let Value::Base64(b) = self { Some(b) } else { None } }
    /// The members of a [`Value::Struct`] in document order; `None` for other variants.
    pub fn as_struct(&self) -> Option<&[(String, Value)]> { if let Value::Struct(m) = self { Some(m) } else { None } }
    /// The value of member `key` of a [`Value::Struct`]: the last one of that name, as a Python
    /// dict would keep it. `None` if absent or not a struct.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_struct()?.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

macro_rules! from_impls {
    ($($t:ty => |$x:ident| $e:expr;)*) => { $(impl From<$t> for Value { fn from($x: $t) -> Self { $e } })* };
}
from_impls! {
    &str => |s| Value::Str(s.to_owned()); String => |s| Value::Str(s); i64 => |i| Value::Int(i);
    bool => |b| Value::Bool(b); f64 => |d| Value::Double(d); Vec<Value> => |a| Value::Array(a);
}

/// An XML-RPC fault: `faultCode` (an integer) and `faultString`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("XML-RPC fault {code}: {message}")]
pub struct Fault {
    /// `faultCode`.
    pub code: i64,
    /// `faultString`.
    pub message: String,
}

/// Why a body was refused. Messages quote at most a short, escaped snippet of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlRpcError {
    /// Not well-formed or not allowed XML: syntax error, truncated document, mismatched tags,
    /// unknown entity, DOCTYPE/DTD, non-UTF-8 text or a declared encoding other than UTF-8.
    #[error("bad XML: {0}")]
    Xml(String),
    /// Well-formed XML that is not the expected XML-RPC document: unknown or misplaced element,
    /// stray text, missing `<methodName>`/`<name>`/`<value>`, wrong param count, bad fault, trailing data.
    #[error("malformed XML-RPC: {0}")]
    Malformed(String),
    /// A scalar whose text does not parse as its type (number, boolean, base64, nil).
    #[error("invalid value: {0}")]
    InvalidValue(String),
    /// A `<methodName>` that is empty, longer than 256 bytes, or not all of `[A-Za-z0-9_.:/]`.
    #[error("invalid method name: {0}")]
    MethodName(String),
    /// Arrays/structs nested deeper than [`MAX_DEPTH`].
    #[error("values nested deeper than {} arrays/structs", MAX_DEPTH)]
    TooDeep,
    /// More than [`MAX_ITEMS`] values in the document.
    #[error("more than {} values in one document", MAX_ITEMS)]
    TooLarge,
}

type Res<T> = Result<T, XmlRpcError>;

/// A short, escaped quote of untrusted text for error messages.
fn snip(s: &str) -> String {
    let mut q: String = s.chars().take(40).flat_map(char::escape_debug).collect();
    if s.chars().nth(40).is_some() {
        q.push('…');
    }
    format!("\"{q}\"")
}

fn is_ws(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

fn trim_ws(s: &str) -> &str {
    s.trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// The elements XML-RPC knows; anything else is refused by the lexer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[rustfmt::skip]
enum Tag {
    MethodCall, MethodName, MethodResponse, Params, Param, Fault, Value, Array, Data, Struct, Member, Name,
    I4, I8, Boolean, Str, Double, Base64, DateTime, Nil,
}

#[rustfmt::skip]
const TAGS: &[(&str, Tag)] = &[
    ("methodCall", Tag::MethodCall), ("methodName", Tag::MethodName), ("methodResponse", Tag::MethodResponse),
    ("params", Tag::Params), ("param", Tag::Param), ("fault", Tag::Fault), ("value", Tag::Value),
    ("array", Tag::Array), ("data", Tag::Data), ("struct", Tag::Struct), ("member", Tag::Member),
    ("name", Tag::Name), ("int", Tag::I4), ("i4", Tag::I4), ("i8", Tag::I8), ("ex:i8", Tag::I8),
    ("boolean", Tag::Boolean), ("string", Tag::Str), ("double", Tag::Double), ("base64", Tag::Base64),
    ("dateTime.iso8601", Tag::DateTime), ("nil", Tag::Nil), ("ex:nil", Tag::Nil),
];

impl Tag {
    fn xml(self) -> &'static str {
        TAGS.iter().find(|(_, t)| *t == self).map_or("?", |(n, _)| n)
    }
}

enum Tok {
    Open(Tag),
    Close,
    Text(String),
    Eof,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Open(tag) => format!("<{}>", tag.xml()),
        Tok::Close => "a closing tag".into(),
        Tok::Text(s) => format!("text {}", snip(s)),
        Tok::Eof => "end of document".into(),
    }
}

fn malformed(msg: impl Into<String>) -> XmlRpcError {
    XmlRpcError::Malformed(msg.into())
}

fn xml_err(e: impl std::fmt::Display) -> XmlRpcError {
    XmlRpcError::Xml(e.to_string())
}

fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Appends character data: raw UTF-8 text whose line ends are normalised (`\r\n` and lone `\r`
/// become `\n`, as XML requires) and whose references are resolved when `escaped` (only XML's five
/// entities and character references are known). Characters XML 1.0 forbids are refused.
fn push_chars(out: &mut String, raw: &[u8], escaped: bool) -> Res<()> {
    let raw = std::str::from_utf8(raw).map_err(|e| XmlRpcError::Xml(format!("text is not UTF-8: {e}")))?;
    let raw = if raw.contains('\r') { Cow::Owned(raw.replace("\r\n", "\n").replace('\r', "\n")) } else { raw.into() };
    let text = if escaped { quick_xml::escape::unescape_with(&raw, resolve_xml_entity).map_err(xml_err)? } else { raw };
    if let Some(c) = text.chars().find(|c| !xml_char(*c)) {
        return Err(XmlRpcError::Xml(format!("character {c:?} not allowed in XML")));
    }
    out.push_str(&text);
    Ok(())
}

/// quick-xml events folded into tokens: known tags, merged text (entities resolved), end.
struct Lexer<'a> {
    reader: Reader<&'a [u8]>,
    pending: Option<Tok>,
    started: bool,
}

impl<'a> Lexer<'a> {
    fn new(body: &'a [u8]) -> Self {
        let mut reader = Reader::from_reader(body);
        let cfg = reader.config_mut();
        cfg.expand_empty_elements = true;
        cfg.check_end_names = true;
        cfg.check_comments = true;
        cfg.trim_text(false);
        Lexer { reader, pending: None, started: false }
    }

    fn next(&mut self) -> Res<Tok> {
        if let Some(t) = self.pending.take() {
            return Ok(t);
        }
        let mut text: Option<String> = None;
        loop {
            let first = !std::mem::replace(&mut self.started, true);
            let tok = match self.reader.read_event().map_err(xml_err)? {
                Event::Start(e) => {
                    for a in e.attributes() {
                        a.map_err(xml_err)?;
                    }
                    let name = e.name();
                    let Some(&(_, tag)) = TAGS.iter().find(|(n, _)| n.as_bytes() == name.as_ref()) else {
                        let n = String::from_utf8_lossy(name.as_ref()).into_owned();
                        return Err(malformed(format!("unknown element <{}>", snip(&n))));
                    };
                    Tok::Open(tag)
                }
                Event::End(_) => Tok::Close,
                Event::Empty(_) => return Err(XmlRpcError::Xml("unexpected empty element".into())),
                Event::Text(t) => {
                    push_chars(text.get_or_insert_with(String::new), &t, true)?;
                    continue;
                }
                Event::CData(t) => {
                    push_chars(text.get_or_insert_with(String::new), &t, false)?;
                    continue;
                }
                Event::Comment(_) | Event::PI(_) => continue,
                Event::Decl(d) if first => {
                    if let Some(enc) = d.encoding() {
                        let enc = enc.map_err(xml_err)?;
                        let ok = [&b"utf-8"[..], b"utf8", b"us-ascii"].iter().any(|e| enc.eq_ignore_ascii_case(e));
                        if !ok {
                            let enc = String::from_utf8_lossy(&enc).into_owned();
                            return Err(XmlRpcError::Xml(format!("unsupported encoding {}", snip(&enc))));
                        }
                    }
                    continue;
                }
                Event::Decl(_) => return Err(XmlRpcError::Xml("XML declaration not at the start".into())),
                Event::DocType(_) => return Err(XmlRpcError::Xml("DOCTYPE/DTD not allowed".into())),
                Event::Eof => Tok::Eof,
            };
            return Ok(match text {
                Some(s) => {
                    self.pending = Some(tok);
                    Tok::Text(s)
                }
                None => tok,
            });
        }
    }
}

/// Recursive-descent XML-RPC grammar over [`Lexer`] tokens, counting values.
struct Parser<'a> {
    lx: Lexer<'a>,
    items: usize,
}

fn unexpected(found: Tok, wanted: &str) -> XmlRpcError {
    match found {
        Tok::Eof => XmlRpcError::Xml(format!("document ends where {wanted} was expected")),
        t => malformed(format!("expected {wanted}, found {}", describe(&t))),
    }
}

impl<'a> Parser<'a> {
    fn new(body: &'a [u8]) -> Self {
        Parser { lx: Lexer::new(body), items: 0 }
    }

    /// Next token, skipping whitespace-only text; other text between elements is an error.
    fn skip_ws(&mut self) -> Res<Tok> {
        match self.lx.next()? {
            Tok::Text(s) if is_ws(&s) => self.lx.next(),
            Tok::Text(s) => Err(malformed(format!("unexpected text {}", snip(&s)))),
            t => Ok(t),
        }
    }

    fn open(&mut self, want: Tag) -> Res<()> {
        match self.skip_ws()? {
            Tok::Open(t) if t == want => Ok(()),
            t => Err(unexpected(t, &format!("<{}>", want.xml()))),
        }
    }

    fn close(&mut self, of: Tag) -> Res<()> {
        match self.skip_ws()? {
            Tok::Close => Ok(()),
            t => Err(unexpected(t, &format!("</{}>", of.xml()))),
        }
    }

    /// Text content of a leaf element, up to and including its closing tag.
    fn text(&mut self, of: Tag) -> Res<String> {
        let (s, t) = match self.lx.next()? {
            Tok::Text(s) => (s, self.lx.next()?),
            t => (String::new(), t),
        };
        match t {
            Tok::Close => Ok(s),
            t => Err(unexpected(t, &format!("text or </{}>", of.xml()))),
        }
    }

    fn finish(&mut self) -> Res<()> {
        match self.skip_ws()? {
            Tok::Eof => Ok(()),
            t => Err(malformed(format!("trailing data after the root element: {}", describe(&t)))),
        }
    }

    /// The rest of a `<value>` whose start tag was just read, through `</value>`.
    fn value(&mut self, depth: usize) -> Res<Value> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(XmlRpcError::TooLarge);
        }
        let tag = match self.lx.next()? {
            Tok::Close => return Ok(Value::Str(String::new())),
            Tok::Open(tag) => tag,
            Tok::Text(s) => match self.lx.next()? {
                Tok::Close => return Ok(Value::Str(s)),
                Tok::Open(tag) if is_ws(&s) => tag,
                t => return Err(unexpected(t, &format!("</value> after bare text {}", snip(&s)))),
            },
            Tok::Eof => return Err(unexpected(Tok::Eof, "a value")),
        };
        let v = self.typed(tag, depth)?;
        self.close(Tag::Value)?;
        Ok(v)
    }

    /// The body of a type element `<tag>` through its closing tag.
    fn typed(&mut self, tag: Tag, depth: usize) -> Res<Value> {
        let bad = |kind: &str, s: &str| XmlRpcError::InvalidValue(format!("<{kind}> {}", snip(s)));
        Ok(match tag {
            Tag::I4 => {
                let s = self.text(tag)?;
                Value::Int(trim_ws(&s).parse::<i32>().map_err(|_| bad("int", &s))?.into())
            }
            Tag::I8 => {
                let s = self.text(tag)?;
                Value::Int(trim_ws(&s).parse::<i64>().map_err(|_| bad("i8", &s))?)
            }
            Tag::Boolean => {
                let s = self.text(tag)?;
                match trim_ws(&s) {
                    "0" => Value::Bool(false),
                    "1" => Value::Bool(true),
                    _ => return Err(bad("boolean", &s)),
                }
            }
            Tag::Double => {
                let s = self.text(tag)?;
                Value::Double(trim_ws(&s).parse::<f64>().map_err(|_| bad("double", &s))?)
            }
            Tag::Base64 => {
                let s = self.text(tag)?;
                let compact: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
                Value::Base64(B64_DECODE.decode(compact).map_err(|e| bad("base64", &e.to_string()))?)
            }
            Tag::Str => Value::Str(self.text(tag)?),
            Tag::DateTime => Value::DateTime(trim_ws(&self.text(tag)?).to_owned()),
            Tag::Nil => match self.text(tag)? {
                s if is_ws(&s) => Value::Nil,
                s => return Err(bad("nil", &s)),
            },
            Tag::Array | Tag::Struct if depth >= MAX_DEPTH => return Err(XmlRpcError::TooDeep),
            Tag::Array => {
                self.open(Tag::Data)?;
                let mut items = Vec::new();
                loop {
                    match self.skip_ws()? {
                        Tok::Open(Tag::Value) => items.push(self.value(depth + 1)?),
                        Tok::Close => break,
                        t => return Err(unexpected(t, "<value> or </data>")),
                    }
                }
                self.close(Tag::Array)?;
                Value::Array(items)
            }
            Tag::Struct => {
                let mut members = Vec::new();
                loop {
                    match self.skip_ws()? {
                        Tok::Open(Tag::Member) => {}
                        Tok::Close => break,
                        t => return Err(unexpected(t, "<member> or </struct>")),
                    }
                    let name = match self.skip_ws()? {
                        Tok::Open(Tag::Name) => self.text(Tag::Name)?,
                        Tok::Eof => return Err(unexpected(Tok::Eof, "<name>")),
                        _ => return Err(malformed("struct <member> without <name> first")),
                    };
                    match self.skip_ws()? {
                        Tok::Open(Tag::Value) => members.push((name, self.value(depth + 1)?)),
                        Tok::Eof => return Err(unexpected(Tok::Eof, "<value>")),
                        _ => return Err(malformed(format!("struct member {} without <value>", snip(&name)))),
                    }
                    self.close(Tag::Member)?;
                }
                Value::Struct(members)
            }
            t => return Err(malformed(format!("<{}> is not a value type", t.xml()))),
        })
    }

    /// `<param><value>…</value></param>` after `<param>` was read.
    fn param(&mut self) -> Res<Value> {
        self.open(Tag::Value)?;
        let v = self.value(0)?;
        self.close(Tag::Param)?;
        Ok(v)
    }
}

const B64_DECODE: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Parses a `<methodCall>` body into its method name and params.
///
/// The name is whitespace-trimmed and must be 1..=256 bytes of `[A-Za-z0-9_.:/]`; `<params>` may
/// be absent or empty. Everything after the root element but comments, PIs and whitespace is refused.
pub fn parse_call(body: &[u8]) -> Result<(String, Vec<Value>), XmlRpcError> {
    let mut p = Parser::new(body);
    p.open(Tag::MethodCall)?;
    let name = match p.skip_ws()? {
        Tok::Open(Tag::MethodName) => trim_ws(&p.text(Tag::MethodName)?).to_owned(),
        Tok::Eof => return Err(unexpected(Tok::Eof, "<methodName>")),
        _ => return Err(malformed("<methodCall> without <methodName>")),
    };
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '/');
    if name.is_empty() || name.len() > MAX_METHOD_LEN || !name.chars().all(ok_char) {
        return Err(XmlRpcError::MethodName(format!("{} ({} bytes)", snip(&name), name.len())));
    }
    let mut params = Vec::new();
    match p.skip_ws()? {
        Tok::Open(Tag::Params) => {
            loop {
                match p.skip_ws()? {
                    Tok::Open(Tag::Param) => params.push(p.param()?),
                    Tok::Close => break,
                    t => return Err(unexpected(t, "<param> or </params>")),
                }
            }
            p.close(Tag::MethodCall)?;
        }
        Tok::Close => {}
        t => return Err(unexpected(t, "<params> or </methodCall>")),
    }
    p.finish()?;
    Ok((name, params))
}

/// Parses a `<methodResponse>` body: exactly one param gives `Ok(Ok(value))`, a `<fault>` whose
/// value is a struct with an integer `faultCode` and a string `faultString` gives `Ok(Err(fault))`
/// (other members are ignored); any other document is an `Err`.
pub fn parse_response(body: &[u8]) -> Result<Result<Value, Fault>, XmlRpcError> {
    let mut p = Parser::new(body);
    p.open(Tag::MethodResponse)?;
    let out = match p.skip_ws()? {
        Tok::Open(Tag::Params) => {
            match p.skip_ws()? {
                Tok::Open(Tag::Param) => {}
                Tok::Close => return Err(malformed("response without a <param>")),
                t => return Err(unexpected(t, "<param>")),
            }
            let v = p.param()?;
            match p.skip_ws()? {
                Tok::Close => Ok(v),
                Tok::Open(Tag::Param) => return Err(malformed("response with more than one <param>")),
                t => return Err(unexpected(t, "</params>")),
            }
        }
        Tok::Open(Tag::Fault) => {
            p.open(Tag::Value)?;
            let v = p.value(0)?;
            p.close(Tag::Fault)?;
            let code = v.get("faultCode").and_then(Value::as_i64);
            let message = v.get("faultString").and_then(Value::as_str);
            match (code, message) {
                (Some(code), Some(m)) => Err(Fault { code, message: m.to_owned() }),
                _ => return Err(malformed("fault without int faultCode and string faultString")),
            }
        }
        t => return Err(unexpected(t, "<params> or <fault>")),
    };
    p.close(Tag::MethodResponse)?;
    p.finish()?;
    Ok(out)
}

/// Appends `s` escaped for element content; `\r` becomes `&#13;` so it survives XML's
/// end-of-line normalisation. Characters XML 1.0 forbids (C0 controls other than tab, LF, CR,
/// U+FFFE, U+FFFF) have no XML form and are written as they are: receivers, this parser and
/// Python's expat included, refuse the whole document.
fn push_text(out: &mut String, s: &str) {
    let e = quick_xml::escape::escape(s);
    if e.contains('\r') {
        out.push_str(&e.replace('\r', "&#13;"));
    } else {
        out.push_str(&e);
    }
}

fn push_value(out: &mut String, v: &Value) {
    out.push_str("<value>");
    match v {
        Value::Int(i) if i32::try_from(*i).is_ok() => _ = write!(out, "<int>{i}</int>"),
        Value::Int(i) => _ = write!(out, "<i8>{i}</i8>"),
        Value::Bool(b) => _ = write!(out, "<boolean>{}</boolean>", u8::from(*b)),
        Value::Str(s) => {
            out.push_str("<string>");
            push_text(out, s);
            out.push_str("</string>");
        }
        Value::Double(d) if d.is_nan() => out.push_str("<double>nan</double>"),
        Value::Double(d) if d.is_infinite() => {
            out.push_str(if *d > 0.0 { "<double>inf</double>" } else { "<double>-inf</double>" })
        }
        Value::Double(d) => _ = write!(out, "<double>{d:?}</double>"),
        Value::Base64(b) => {
            out.push_str("<base64>");
            base64::engine::general_purpose::STANDARD.encode_string(b, out);
            out.push_str("</base64>");
        }
        Value::DateTime(s) => {
            out.push_str("<dateTime.iso8601>");
            push_text(out, s);
            out.push_str("</dateTime.iso8601>");
        }
        Value::Array(items) => {
            out.push_str("<array><data>");
            items.iter().for_each(|v| push_value(out, v));
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (k, v) in members {
                out.push_str("<member><name>");
                push_text(out, k);
                out.push_str("</name>");
                push_value(out, v);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
        Value::Nil => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

const HEADER: &str = "<?xml version=\"1.0\"?>\n";

/// Encodes a `<methodCall>`. `method` is escaped but not validated: pass a name [`parse_call`]
/// accepts. Nesting is not bounded here (values from the parsers are at most [`MAX_DEPTH`]).
pub fn encode_call(method: &str, params: &[Value]) -> String {
    let mut out = format!("{HEADER}<methodCall>\n<methodName>");
    push_text(&mut out, method);
    out.push_str("</methodName>\n<params>\n");
    for v in params {
        out.push_str("<param>\n");
        push_value(&mut out, v);
        out.push_str("\n</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out
}

/// Encodes a successful `<methodResponse>` carrying `value` as its single param.
pub fn encode_response(value: &Value) -> String {
    let mut out = format!("{HEADER}<methodResponse>\n<params>\n<param>\n");
    push_value(&mut out, value);
    out.push_str("\n</param>\n</params>\n</methodResponse>\n");
    out
}

/// Encodes a fault `<methodResponse>`: a struct of `faultCode` (`<int>`, or `<i8>` outside i32)
/// and `faultString` (`<string>`).
pub fn encode_fault(fault: &Fault) -> String {
    let v = Value::Struct(vec![
        ("faultCode".into(), Value::Int(fault.code)),
        ("faultString".into(), Value::Str(fault.message.clone())),
    ]);
    let mut out = format!("{HEADER}<methodResponse>\n<fault>\n");
    push_value(&mut out, &v);
    out.push_str("\n</fault>\n</methodResponse>\n");
    out
}

#[cfg(test)]
#[path = "xmlrpc_tests.rs"]
mod tests;
