//! A strict JSON reader for decoders written by hand for the hot wire types.
//!
//! `serde_json` decodes through a generic visitor: every key is matched by a generated
//! function, every string goes through a scratch buffer, and keeping an argument as raw JSON
//! means parsing it once to find its end and again to decode it. In the browser that put our
//! receive path at 0.35 × the speed of V8's `JSON.parse` (docs/performance-notes.md). This
//! reader is the other way round: the caller knows the shape it expects and asks for it
//! (`object`, `fields`, `array`, `str`, `f64`, or `eat` for the exact bytes its senders
//! write); strings without escapes are borrowed from the input, numbers are read where they
//! stand (eight digits at a time), [`Reader::skip`] checks and steps over a value without
//! building anything, and [`Reader::skim`] only finds where a value ends, for text decoded
//! later.
//!
//! It accepts exactly RFC 8259 JSON (UTF-8 checked in every string it reads or skips), and
//! never more than `serde_json` does: a number is read into `f64` the way `serde_json`
//! (without `float_roundtrip`) computes it when that is exact and cheap, and reported as
//! [`ErrorKind::Unsupported`] otherwise, so a caller can hand the whole input to `serde_json`
//! instead and get its answer, value or error. Strings decoded with [`Reader::str`] must be
//! well-formed (paired surrogates); skipped strings only need well-formed escapes, as in
//! `serde_json`. Nesting is limited to [`MAX_DEPTH`] levels. Property tests hold all of it to
//! `serde_json`.

mod digits;

use std::borrow::Cow;
use std::fmt;

use digits::{digits_end, eight_digits, sum_digits, word};

/// Deepest nesting of arrays and objects accepted (as `serde_json` when it builds values).
pub const MAX_DEPTH: u32 = 127;

/// Why the input was refused, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// Byte offset in the input.
    pub at: usize,
    /// What was wrong there.
    pub kind: ErrorKind,
}

/// The two ways input is refused: bad JSON, or good JSON this reader leaves to `serde_json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not JSON, or not the JSON the caller expected; the text says which.
    Invalid(&'static str),
    /// Valid JSON this reader does not convert (a number needing more than the fast path);
    /// `serde_json` can.
    Unsupported(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            ErrorKind::Invalid(what) => write!(f, "{what} at byte {}", self.at),
            ErrorKind::Unsupported(what) => write!(f, "{what} at byte {} is not read here", self.at),
        }
    }
}

impl std::error::Error for Error {}

/// 10^0 ..= 10^22: every one exactly representable, so the products below are exact too.
const POW10: [f64; 23] = {
    let mut table = [1.0; 23];
    let mut i = 1;
    while i < 23 {
        table[i] = table[i - 1] * 10.0;
        i += 1;
    }
    table
};

/// A number as written: significand digits (while they fit in a u64), decimal exponent.
struct Number {
    negative: bool,
    significand: u64,
    exponent: i32,
    /// No fraction and no exponent part.
    integer: bool,
}

/// What [`Reader::skim`] stops at outside strings: 0 for everything else.
const QUOTE: u8 = 1;
const OPEN: u8 = 2;
const CLOSE: u8 = 3;
const SKIM: [u8; 256] = {
    let mut table = [0; 256];
    table[b'"' as usize] = QUOTE;
    table[b'[' as usize] = OPEN;
    table[b'{' as usize] = OPEN;
    table[b']' as usize] = CLOSE;
    table[b'}' as usize] = CLOSE;
    table
};

/// A place in the input, nesting included ([`Reader::mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    pos: usize,
    depth: u32,
}

/// A cursor over one JSON text.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Reader<'a> {
    /// A reader over JSON text, as `&str` or as bytes (UTF-8 is then checked inside each
    /// string read or skipped; everything else JSON allows is ASCII).
    pub fn new(input: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        Self { bytes: input.as_ref(), pos: 0, depth: 0 }
    }

    /// The byte offset of the next unread byte.
    pub fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// `bytes[start..end]` as text, if it is UTF-8.
    #[inline]
    fn text(&self, start: usize, end: usize) -> Result<&'a str, Error> {
        let span = &self.bytes[start..end];
        if span.is_ascii() {
            // SAFETY: ASCII bytes are UTF-8. (Ids, names and keys are short and nearly always
            // ASCII; a call to the general check cost more than reading them.)
            return Ok(unsafe { std::str::from_utf8_unchecked(span) });
        }
        std::str::from_utf8(span)
            .map_err(|e| Error { at: start + e.valid_up_to(), kind: ErrorKind::Invalid("invalid UTF-8") })
    }

    fn error(&self, what: &'static str) -> Error {
        Error { at: self.pos, kind: ErrorKind::Invalid(what) }
    }

    fn unsupported(&self, what: &'static str) -> Error {
        Error { at: self.pos, kind: ErrorKind::Unsupported(what) }
    }

    /// The next byte after whitespace, not consumed.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        let bytes = self.bytes();
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b' ' | b'\n' | b'\r' | b'\t' => self.pos += 1,
                _ => return Some(b),
            }
        }
        None
    }

    #[inline]
    fn expect(&mut self, byte: u8, what: &'static str) -> Result<(), Error> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(what))
        }
    }

    /// `literal` is next, byte for byte (no whitespace skipped): consumed (true), or nothing
    /// consumed. For decoders that first try the exact layout their senders write.
    #[inline]
    pub fn eat(&mut self, literal: &[u8]) -> bool {
        let rest = &self.bytes[self.pos..];
        // Byte by byte: a call to memcmp costs more than these few bytes.
        if rest.len() >= literal.len() && rest.iter().zip(literal).all(|(a, b)| a == b) {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    /// Where the reader is, to come back with [`reset`](Self::reset).
    pub fn mark(&self) -> Mark {
        Mark { pos: self.pos, depth: self.depth }
    }

    /// Back to a [`mark`](Self::mark), nesting included (a read that failed inside an array
    /// or object leaves it counted): to try another way after [`eat`](Self::eat) and friends
    /// did not match.
    pub fn reset(&mut self, mark: Mark) {
        debug_assert!(mark.pos <= self.pos);
        self.pos = mark.pos;
        self.depth = mark.depth;
    }

    /// Only whitespace is left.
    pub fn end(&mut self) -> Result<(), Error> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("trailing characters")),
        }
    }

    fn enter(&mut self) -> Result<(), Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nested too deeply"));
        }
        Ok(())
    }

    /// Reads an object, calling `field` with each key; `field` must read the value.
    pub fn object(&mut self, mut field: impl FnMut(&mut Self, Cow<'a, str>) -> Result<(), Error>) -> Result<(), Error> {
        self.object_keys(|r| {
            let key = r.str()?;
            r.expect(b':', "expected `:`")?;
            field(r, key)
        })
    }

    /// Reads an object with known field names, calling `field` with the index of each key in
    /// `names` (`None` for another key, whose value `field` must skip). Keys in the order of
    /// `names`, as senders write them, are recognised by comparing bytes in place; any other
    /// order works too, more slowly. A name seen twice is an error. Returns the set of names
    /// seen, bit `i` for `names[i]`.
    pub fn fields(
        &mut self,
        names: &[&str],
        mut field: impl FnMut(&mut Self, Option<usize>) -> Result<(), Error>,
    ) -> Result<u64, Error> {
        debug_assert!(names.len() <= 64);
        let mut seen = 0u64;
        let mut next = 0;
        self.object_keys(|r| {
            let index = match names.get(next) {
                Some(name) if r.plain_key(name) => Some(next),
                _ => {
                    let key = r.str()?;
                    names.iter().position(|n| *n == key)
                }
            };
            r.expect(b':', "expected `:`")?;
            if let Some(i) = index {
                if seen & 1 << i != 0 {
                    return Err(r.error("duplicate field"));
                }
                seen |= 1 << i;
                next = i + 1;
            }
            field(r, index)
        })?;
        Ok(seen)
    }

    /// `"name"` is next, written without escapes: consumed (true), or nothing consumed.
    #[inline]
    fn plain_key(&mut self, name: &str) -> bool {
        let start = self.pos;
        if self.eat(b"\"") && self.eat(name.as_bytes()) && self.eat(b"\"") {
            return true;
        }
        self.pos = start;
        false
    }

    /// Reads an object, calling `entry` at each key (after checking a key starts there).
    fn object_keys(&mut self, mut entry: impl FnMut(&mut Self) -> Result<(), Error>) -> Result<(), Error> {
        self.container(b'{', b'}', |r| {
            if r.peek() != Some(b'"') {
                return Err(r.error("expected a key"));
            }
            entry(r)
        })
    }

    /// Reads an array, calling `item` for each element; `item` must read it.
    pub fn array(&mut self, item: impl FnMut(&mut Self) -> Result<(), Error>) -> Result<(), Error> {
        self.container(b'[', b']', item)
    }

    /// `open`, then entries separated by commas, each read by `entry`, then `close`: one more
    /// level of nesting meanwhile.
    #[inline]
    fn container(
        &mut self,
        open: u8,
        close: u8,
        mut entry: impl FnMut(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        let object = open == b'{';
        self.expect(open, if object { "expected an object" } else { "expected an array" })?;
        self.enter()?;
        if self.peek() == Some(close) {
            self.pos += 1;
        } else {
            loop {
                entry(self)?;
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b) if b == close => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.error(if object { "expected `,` or `}`" } else { "expected `,` or `]`" })),
                }
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// `null` is next (and consumed), or not (nothing consumed).
    pub fn null(&mut self) -> Result<bool, Error> {
        if self.peek() != Some(b'n') {
            return Ok(false);
        }
        self.literal(b"null")?;
        Ok(true)
    }

    /// Reads `true` or `false`.
    pub fn bool(&mut self) -> Result<bool, Error> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => Err(self.error("expected a boolean")),
        }
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), Error> {
        if self.bytes()[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("expected `true`, `false` or `null`"))
        }
    }

    /// Reads a string: borrowed from the input when it has no escapes.
    pub fn str(&mut self) -> Result<Cow<'a, str>, Error> {
        self.expect(b'"', "expected a string")?;
        let start = self.pos;
        let end = self.plain_run(start);
        self.pos = end;
        match self.bytes().get(end) {
            Some(b'"') => {
                self.pos += 1;
                self.text(start, end).map(Cow::Borrowed)
            }
            Some(b'\\') => self.escaped(start).map(Cow::Owned),
            Some(_) => Err(self.error("control character in a string")),
            None => Err(self.error("unterminated string")),
        }
    }

    /// The end of the run of string bytes that need no attention from `from` on.
    #[inline]
    fn plain_run(&self, from: usize) -> usize {
        let rest = &self.bytes()[from..];
        from + rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(rest.len())
    }

    /// The rest of a string that has escapes, from its start; `self.pos` is at the first `\`.
    #[cold]
    fn escaped(&mut self, start: usize) -> Result<String, Error> {
        let mut out = String::with_capacity(self.pos - start + 16);
        out.push_str(self.text(start, self.pos)?);
        loop {
            match self.bytes().get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape(true)?;
                    out.push(c.expect("validated escapes always give a char"));
                }
                Some(_) => {
                    let from = self.pos;
                    let end = self.plain_run(from);
                    if end == from {
                        return Err(self.error("control character in a string"));
                    }
                    out.push_str(self.text(from, end)?);
                    self.pos = end;
                }
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// One escape after its `\`. With `validate`, a `\u` surrogate must be paired (the char
    /// is returned); without, any four hex digits do (nothing is returned).
    fn escape(&mut self, validate: bool) -> Result<Option<char>, Error> {
        let Some(&b) = self.bytes().get(self.pos) else {
            return Err(self.error("unterminated string"));
        };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                if !validate {
                    return Ok(None);
                }
                return match unit {
                    0xD800..=0xDBFF => {
                        if !self.bytes()[self.pos..].starts_with(b"\\u") {
                            return Err(self.error("lone surrogate in a string"));
                        }
                        self.pos += 2;
                        let low = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(self.error("lone surrogate in a string"));
                        }
                        let code = 0x1_0000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                        Ok(char::from_u32(code))
                    }
                    0xDC00..=0xDFFF => Err(self.error("lone surrogate in a string")),
                    _ => Ok(char::from_u32(u32::from(unit))),
                };
            }
            _ => return Err(self.error("invalid escape")),
        };
        Ok(Some(c))
    }

    fn hex4(&mut self) -> Result<u16, Error> {
        let Some(digits) = self.bytes().get(self.pos..self.pos + 4) else {
            return Err(self.error("invalid \\u escape"));
        };
        let mut unit = 0u16;
        for &d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return Err(self.error("invalid \\u escape")),
            };
            unit = unit << 4 | u16::from(v);
        }
        self.pos += 4;
        Ok(unit)
    }

    /// Reads a number's syntax and its significand digits; `fits` is false when the digits
    /// do not fit in a u64 (the number then needs more than the fast paths).
    fn number(&mut self) -> Result<(Number, bool), Error> {
        let bytes = self.bytes();
        if self.peek().is_none() {
            return Err(self.error("expected a number"));
        }
        let negative = bytes[self.pos] == b'-';
        if negative {
            self.pos += 1;
        }
        // Digits are summed as they are read (wrapping: more than 19 are summed again below,
        // checked, before anyone trusts the sum).
        let mut sum = 0u64;
        let int_start = self.pos;
        match bytes.get(self.pos) {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.pos = sum_digits(bytes, self.pos, &mut sum),
            _ => return Err(self.error("expected a number")),
        }
        let int = &bytes[int_start..self.pos];
        let mut frac: &[u8] = &[];
        if bytes.get(self.pos) == Some(&b'.') {
            let first = self.pos + 1;
            self.pos = sum_digits(bytes, first, &mut sum);
            if self.pos == first {
                return Err(self.error("expected a digit after `.`"));
            }
            frac = &bytes[first..self.pos];
        }
        let mut exponent = -(frac.len().min(i32::MAX as usize) as i32);
        let mut integer = frac.is_empty();
        if let Some(b'e' | b'E') = bytes.get(self.pos) {
            integer = false;
            self.pos += 1;
            let negative_exp = match bytes.get(self.pos) {
                Some(b'-') => {
                    self.pos += 1;
                    true
                }
                Some(b'+') => {
                    self.pos += 1;
                    false
                }
                _ => false,
            };
            let first = self.pos;
            self.pos = digits_end(bytes, first);
            if self.pos == first {
                return Err(self.error("expected a digit in the exponent"));
            }
            let exp = bytes[first..self.pos]
                .iter()
                .fold(0i32, |e, &d| e.saturating_mul(10).saturating_add(i32::from(d - b'0')));
            exponent = if negative_exp { exponent.saturating_sub(exp) } else { exponent.saturating_add(exp) };
        }
        // Up to 19 digits always fit in a u64; more are checked one by one.
        let (significand, fits) = if int.len() + frac.len() <= 19 {
            (sum, true)
        } else {
            let s = int.iter().chain(frac).try_fold(0u64, |s, &d| s.checked_mul(10)?.checked_add(u64::from(d - b'0')));
            (s.unwrap_or(0), s.is_some())
        };
        Ok((Number { negative, significand, exponent, integer }, fits))
    }

    /// Reads a number as `f64`, the value `serde_json` gives it. Numbers with more than 19
    /// significant digits or a decimal exponent beyond ±22 are `Unsupported`.
    pub fn f64(&mut self) -> Result<f64, Error> {
        let start = self.pos;
        let (n, fits) = self.number()?;
        let magnitude = match n.exponent {
            _ if !fits => None,
            0..=22 => Some(n.significand as f64 * POW10[n.exponent as usize]),
            -22..=-1 => Some(n.significand as f64 / POW10[(-n.exponent) as usize]),
            _ => None,
        };
        match magnitude {
            Some(m) => Ok(if n.negative { -m } else { m }),
            None => {
                self.pos = start;
                Err(self.unsupported("a number beyond the fast path"))
            }
        }
    }

    /// Reads an integer that fits in an `i64` (no fraction, no exponent, not `-0`).
    pub fn i64(&mut self) -> Result<i64, Error> {
        let (n, fits) = self.number()?;
        match (n.integer && fits, n.negative) {
            (true, false) if n.significand <= i64::MAX as u64 => Ok(n.significand as i64),
            (true, true) if n.significand != 0 && n.significand <= 1 << 63 => Ok((n.significand as i64).wrapping_neg()),
            _ => Err(self.error("expected an integer that fits in i64")),
        }
    }

    /// Reads an integer that fits in a `u64` (no fraction, no exponent, no sign).
    pub fn u64(&mut self) -> Result<u64, Error> {
        let (n, fits) = self.number()?;
        if n.integer && fits && !n.negative {
            Ok(n.significand)
        } else {
            Err(self.error("expected an integer that fits in u64"))
        }
    }

    /// Checks the next value and steps over it (UTF-8 too); returns its bytes.
    pub fn skip(&mut self) -> Result<&'a [u8], Error> {
        self.peek();
        let start = self.pos;
        let base = self.depth;
        // One bit per open container below `base`: set for an object.
        let mut objects: u128 = 0;
        loop {
            // A value is next.
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    let object = open == b'{';
                    self.pos += 1;
                    self.enter()?;
                    if self.peek() == Some(if object { b'}' } else { b']' }) {
                        self.pos += 1;
                        self.depth -= 1;
                    } else {
                        objects = objects << 1 | u128::from(object);
                        if object {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    self.skip_string()?;
                }
                Some(b'-' | b'0'..=b'9') => {
                    self.number()?;
                }
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                _ => return Err(self.error("expected a value")),
            }
            // After a value: close what ends here, then a comma leads to the next value.
            loop {
                if self.depth == base {
                    return Ok(&self.bytes[start..self.pos]);
                }
                let in_object = objects & 1 == 1;
                match self.peek() {
                    Some(b',') => {
                        self.pos += 1;
                        if in_object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    Some(b'}') if in_object => {}
                    Some(b']') if !in_object => {}
                    _ => return Err(self.error("expected `,` or the end of the container")),
                }
                self.pos += 1;
                self.depth -= 1;
                objects >>= 1;
            }
        }
    }

    /// Steps over the next value without checking it: only where it ends is found (strings
    /// and brackets are followed, nesting is limited), and its text returned. For values kept
    /// as text and read in full later, by a reader that checks every byte then.
    pub fn skim(&mut self) -> Result<&'a [u8], Error> {
        self.peek();
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start;
        match bytes.get(i) {
            Some(b'"') => i = self.skim_string(i + 1)?,
            Some(b'[' | b'{') => {
                let mut depth = 0u32;
                loop {
                    // Numbers eight digits at a time (timestamps and coordinates are long).
                    while word(bytes, i).is_some_and(eight_digits) {
                        i += 8;
                    }
                    while i < bytes.len() && SKIM[bytes[i] as usize] == 0 {
                        i += 1;
                    }
                    match bytes.get(i).map(|&b| SKIM[b as usize]) {
                        Some(QUOTE) => i = self.skim_string(i + 1)?,
                        Some(OPEN) => {
                            depth += 1;
                            if self.depth + depth > MAX_DEPTH {
                                self.pos = i;
                                return Err(self.error("nested too deeply"));
                            }
                            i += 1;
                        }
                        Some(_) => {
                            depth -= 1;
                            i += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        None => {
                            self.pos = i;
                            return Err(self.error("unterminated value"));
                        }
                    }
                }
            }
            _ => {
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'+' | b'-' | b'.')
                {
                    i += 1;
                }
                if i == start {
                    return Err(self.error("expected a value"));
                }
            }
        }
        self.pos = i;
        Ok(&self.bytes[start..i])
    }

    /// The index after the closing quote of a string whose content starts at `i`. Inlined:
    /// keys and values come every few bytes.
    #[inline(always)]
    fn skim_string(&mut self, mut i: usize) -> Result<usize, Error> {
        let bytes = self.bytes();
        loop {
            match bytes[i.min(bytes.len())..].iter().position(|&b| b == b'"' || b == b'\\') {
                Some(at) if bytes[i + at] == b'"' => return Ok(i + at + 1),
                Some(at) => i += at + 2,
                None => {
                    self.pos = bytes.len();
                    return Err(self.error("unterminated string"));
                }
            }
        }
    }

    /// `"key":` inside an object being skipped.
    fn skip_key(&mut self) -> Result<(), Error> {
        self.expect(b'"', "expected a key")?;
        self.skip_string()?;
        self.expect(b':', "expected `:`")
    }

    /// The rest of a string after its opening quote, escapes checked, not decoded.
    fn skip_string(&mut self) -> Result<(), Error> {
        loop {
            let from = self.pos;
            self.pos = self.plain_run(from);
            self.text(from, self.pos)?;
            match self.bytes().get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos += 1;
                    self.escape(false)?;
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }
}

/// Sets a field read from an object once; a second time is an error (as in `serde`'s derive).
pub fn once<T>(slot: &mut Option<T>, reader: &Reader<'_>, value: T) -> Result<(), Error> {
    if slot.is_some() {
        return Err(reader.error("duplicate field"));
    }
    *slot = Some(value);
    Ok(())
}

/// An error at the reader's position (for a decoder's own checks: a missing field, an
/// unknown enum value).
pub fn invalid(reader: &Reader<'_>, what: &'static str) -> Error {
    reader.error(what)
}

#[cfg(test)]
mod tests;
