//! The reader against `serde_json`: whatever it accepts, `serde_json` accepts with the same
//! value; whatever it calls invalid, `serde_json` refuses too.

use super::*;
use crate::digits::eight_digits_value;
use proptest::prelude::*;
use serde::de::IgnoredAny;

fn read<'a, T>(
    text: &'a (impl AsRef<[u8]> + ?Sized),
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut reader = Reader::new(text);
    let value = f(&mut reader)?;
    reader.end()?;
    Ok(value)
}

fn invalid_kind(result: &Result<impl Sized, Error>) -> bool {
    matches!(result, Err(Error { kind: ErrorKind::Invalid(_), .. }))
}

#[test]
fn borrows_plain_strings_and_decodes_escapes() {
    assert!(matches!(read(r#" "veh-001" "#, |r| r.str()), Ok(Cow::Borrowed("veh-001"))));
    let text = r#""a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude80z""#;
    assert_eq!(read(text, |r| r.str()).unwrap(), serde_json::from_str::<String>(text).unwrap());
    for bad in [r#""\ud800""#, r#""\udc00""#, r#""\ud800\u0041""#, r#""\x""#, "\"a\u{1}\"", r#""abc"#, r#""\u12"#] {
        assert!(invalid_kind(&read(bad, |r| r.str())), "{bad}");
        assert!(serde_json::from_str::<String>(bad).is_err(), "{bad}");
    }
}

#[test]
fn numbers_as_serde_json_reads_them() {
    for text in
        ["0", "-0", "1", "-1", "47.370999999999995", "8.5401", "1e3", "1E+3", "2.5e-3", "-12.5", "123456789012345678"]
    {
        let ours = read(text, |r| r.f64()).unwrap();
        assert_eq!(ours.to_bits(), serde_json::from_str::<f64>(text).unwrap().to_bits(), "{text}");
    }
    for text in ["1e23", "12345678901234567890123", "1e-30"] {
        assert!(matches!(read(text, |r| r.f64()), Err(Error { kind: ErrorKind::Unsupported(_), .. })), "{text}");
    }
    for bad in ["01", "-", "1.", ".5", "1e", "+1", "1.e3", "--1"] {
        assert!(invalid_kind(&read(bad, |r| r.f64())), "{bad}");
        assert!(serde_json::from_str::<f64>(bad).is_err(), "{bad}");
    }
    assert_eq!(read("-9223372036854775808", |r| r.i64()), Ok(i64::MIN));
    for bad in ["-0", "1.0", "1e2", "9223372036854775808", "-9223372036854775809"] {
        assert!(read(bad, |r| r.i64()).is_err(), "{bad}");
        assert!(serde_json::from_str::<i64>(bad).is_err(), "{bad}");
    }
    assert_eq!(read("18446744073709551615", |r| r.u64()), Ok(u64::MAX));
    for bad in ["-1", "-0", "18446744073709551616", "1.5"] {
        assert!(read(bad, |r| r.u64()).is_err(), "{bad}");
        assert!(serde_json::from_str::<u64>(bad).is_err(), "{bad}");
    }
}

#[test]
fn objects_arrays_and_skipping() {
    let text = r#" { "a" : [1, {"b": null}, "x"], "c": true, "d": {} , "e": [] } "#;
    let mut seen = Vec::new();
    read(text, |r| {
        r.object(|r, key| {
            seen.push((key.into_owned(), String::from_utf8(r.skip()?.to_vec()).unwrap()));
            Ok(())
        })
    })
    .unwrap();
    let keys: Vec<_> = seen.iter().map(|(k, v)| format!("{k}={v}")).collect();
    assert_eq!(keys, ["a=[1, {\"b\": null}, \"x\"]", "c=true", "d={}", "e=[]"]);
    for bad in ["[1,]", "{\"a\":1,}", "[1 2]", "{\"a\" 1}", "{1:2}", "[}", "{]", "nul", "[\"\\ud800\"", "tru"] {
        assert!(invalid_kind(&read(bad, |r| r.skip().map(|_| ()))), "{bad}");
        assert!(serde_json::from_str::<IgnoredAny>(bad).is_err(), "{bad}");
    }
    // Skipped strings, as in serde_json, need well-formed escapes only.
    assert!(read(r#"["\ud800"]"#, |r| r.skip().map(|_| ())).is_ok());
}

#[test]
fn skim_steps_over_without_checking() {
    let text = r#"[{"a":"]}\"x"}, [1,,2], "[" ] tail"#;
    let mut r = Reader::new(text);
    assert_eq!(r.skim(), Ok(r#"[{"a":"]}\"x"}, [1,,2], "[" ]"#.as_bytes()));
    assert_eq!(&text[r.position()..], " tail");
    for unterminated in ["[1, [2]", "\"abc", "{\"a\":\"\\\"}", ""] {
        assert!(invalid_kind(&Reader::new(unterminated).skim()), "{unterminated}");
    }
    assert_eq!(Reader::new("  -1.5e3,").skim(), Ok(&b"-1.5e3"[..]));
    assert!(invalid_kind(&Reader::new(&"[".repeat(200)).skim()));
}

#[test]
fn utf8_is_checked_in_strings_read_or_skipped() {
    assert_eq!(read("\"caf\u{e9}\"".as_bytes(), |r| r.str()).unwrap(), "caf\u{e9}");
    for bad in [&b"\"\xff\""[..], b"[\"a\xc3\"]", b"{\"\xe9\":1}"] {
        assert!(invalid_kind(&read(bad, |r| r.skip().map(|_| ()))), "{bad:?}");
        assert!(serde_json::from_slice::<serde_json::Value>(bad).is_err());
    }
    assert!(invalid_kind(&read(&b"\"a\\n\xff\""[..], |r| r.str())));
}

#[test]
fn nesting_is_limited() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    assert!(read(&deep(MAX_DEPTH as usize), |r| r.skip().map(|_| ())).is_ok());
    assert!(invalid_kind(&read(&deep(MAX_DEPTH as usize + 1), |r| r.skip().map(|_| ()))));
    // The same limit as serde_json's when it builds values.
    assert!(serde_json::from_str::<serde_json::Value>(&deep(MAX_DEPTH as usize)).is_ok());
    assert!(serde_json::from_str::<serde_json::Value>(&deep(MAX_DEPTH as usize + 1)).is_err());
    // Depth counts across `array`/`object` and `skip`.
    let nested = format!("[{}]", deep(MAX_DEPTH as usize));
    assert!(invalid_kind(&read(&nested, |r| r.array(|r| r.skip().map(|_| ())))));
}

/// JSON-like text: mostly valid tokens, sometimes broken ones.
fn jsonish() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"a\"",
        "\"k\":",
        "\"\\u00e9\"",
        "\"\\ud800\"",
        "\"\\x\"",
        "1",
        "-0",
        "2.5e3",
        "01",
        "1.",
        "true",
        "nul",
        "null",
        " ",
        "\"\u{1}\"",
        "\"",
        "\\",
    ]);
    prop::collection::vec(token, 0..24).prop_map(|t| t.concat())
}

fn number_text() -> impl Strategy<Value = String> {
    (
        prop::option::of(Just("-")),
        "(0|[1-9][0-9]{0,21})",
        prop::option::of("\\.[0-9]{0,20}"),
        prop::option::of("[eE][+-]?[0-9]{0,3}"),
    )
        .prop_map(|(sign, int, frac, exp)| {
            format!("{}{int}{}{}", sign.unwrap_or(""), frac.unwrap_or_default(), exp.unwrap_or_default())
        })
}

proptest! {
    #[test]
    fn skip_accepts_what_serde_json_accepts(text in jsonish()) {
        let ours = read(&text, |r| r.skip().map(|_| ()));
        let theirs = serde_json::from_str::<IgnoredAny>(&text);
        prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{}: {:?}", text, ours);
    }

    #[test]
    fn skim_finds_the_end_skip_finds(text in jsonish(), tail in prop::sample::select(vec!["", ",1", "]", " }"])) {
        let text = format!("{text}{tail}");
        let mut skipped = Reader::new(&text);
        let mut skimmed = Reader::new(&text);
        let skim = skimmed.skim();
        // Where skim is used: a valid value, then the end or what may follow a value.
        let valid = skipped.skip();
        if let (Ok(value), None | Some(b',' | b']' | b'}')) = (valid, skipped.clone().peek()) {
            prop_assert_eq!(skim, Ok(value), "{}", text);
            prop_assert_eq!(skimmed.position(), skipped.position());
        }
    }

    #[test]
    fn f64_is_serde_jsons_f64(text in number_text()) {
        match read(&text, |r| r.f64()) {
            Ok(ours) => prop_assert_eq!(ours.to_bits(), serde_json::from_str::<f64>(&text).unwrap().to_bits(), "{}", text),
            Err(Error { kind: ErrorKind::Invalid(_), .. }) => prop_assert!(serde_json::from_str::<f64>(&text).is_err(), "{}", text),
            Err(_) => {}
        }
        let ours = read(&text, |r| r.i64());
        prop_assert_eq!(ours.ok(), serde_json::from_str::<i64>(&text).ok(), "{}", text);
        let ours = read(&text, |r| r.u64());
        prop_assert_eq!(ours.ok(), serde_json::from_str::<u64>(&text).ok(), "{}", text);
    }

    #[test]
    fn strings_are_serde_jsons_strings(body in "([a-z\u{e9}\u{1F680}\"\\\\/\u{1}]|\\\\[\"\\\\/bfnrtux]|\\\\u[0-9a-fA-F]{4}|\\\\u[dD][89abAB][0-9a-f]{2}(\\\\u[dD][c-fC-F][0-9a-f]{2})?){0,12}") {
        let text = format!("\"{body}\"");
        let ours = read(&text, |r| r.str());
        let theirs = serde_json::from_str::<String>(&text);
        match ours {
            Ok(s) => {
                let theirs = theirs.unwrap();
                prop_assert_eq!(s.as_ref(), theirs.as_str());
            }
            Err(_) => prop_assert!(theirs.is_err(), "{}", text),
        }
    }
}

#[test]
fn eight_digits_at_a_time() {
    for text in ["12345678", "00000000", "99999999", "10203040"] {
        let w = u64::from_le_bytes(text.as_bytes().try_into().unwrap());
        assert!(eight_digits(w));
        assert_eq!(eight_digits_value(w), text.parse::<u64>().unwrap());
    }
    for text in ["1234567a", "/1234567", "1234:678", "12345 78", "\u{0}1234567"] {
        assert!(!eight_digits(u64::from_le_bytes(text.as_bytes().try_into().unwrap())), "{text}");
    }
}

#[test]
fn reset_restores_nesting_after_a_failed_read() {
    let mut r = Reader::new("[[[1]]]");
    let mark = r.mark();
    for _ in 0..(MAX_DEPTH + 5) {
        let stop = r.array(|r| r.array(|_| Err(Error { at: 0, kind: ErrorKind::Invalid("stop") })));
        assert!(invalid_kind(&stop));
        r.reset(mark);
    }
    // Were the failed reads' levels still counted, this would be "nested too deeply".
    assert_eq!(r.skip(), Ok(&b"[[[1]]]"[..]));
}
