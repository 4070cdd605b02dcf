//! The few URL operations the protocol needs, without a URL parser: the inputs are URLs the
//! server or the configuration gave us, and we only ever append query parameters.

/// Appends `key=value` (value percent-encoded) to a URL's query, before any fragment.
pub fn append_query(url: &str, key: &str, value: &str) -> String {
    let (head, fragment) = match url.split_once('#') {
        Some((head, fragment)) => (head, Some(fragment)),
        None => (url, None),
    };
    let separator = match head.find('?') {
        None => "?",
        Some(i) if i + 1 == head.len() || head.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = format!("{head}{separator}{key}={}", encode_component(value));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Percent-encodes everything except RFC 3986 unreserved characters.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_with_the_right_separator() {
        assert_eq!(append_query("http://h/p", "a", "1"), "http://h/p?a=1");
        assert_eq!(append_query("http://h/p?", "a", "1"), "http://h/p?a=1");
        assert_eq!(append_query("http://h/p?x=2", "a", "1"), "http://h/p?x=2&a=1");
        assert_eq!(append_query("http://h/p?x=2#f", "a", "1"), "http://h/p?x=2&a=1#f");
    }

    #[test]
    fn encodes_reserved_and_non_ascii() {
        assert_eq!(encode_component("a.b-c_d~e"), "a.b-c_d~e");
        assert_eq!(encode_component("a/b?c=d&é"), "a%2Fb%3Fc%3Dd%26%C3%A9");
    }
}
