//! The one strict decoder of path parameters and query strings, used by the local server and the
//! Lambda adapter alike, so a value means the same whichever way the request arrived. What it
//! refuses, with a 400 naming the parameter, is docs/contract.md#requests; it never guesses.

use std::collections::HashMap;
use std::fmt;

/// A parameter that could not be decoded; the message names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub param: String,
    pub reason: &'static str,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter `{}`: {}", self.param, self.reason)
    }
}

impl std::error::Error for DecodeError {}

fn fail(param: &str, reason: &'static str) -> DecodeError {
    DecodeError { param: param.to_string(), reason }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes `raw` (and `+` to space when `plus_is_space`), then checks the result.
fn decode(param: &str, raw: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let (Some(h), Some(l)) =
                    (bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex))
                else {
                    return Err(fail(param, "invalid percent-encoding (a % must be followed by two hex digits)"));
                };
                out.push(h * 16 + l);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    let text = String::from_utf8(out).map_err(|_| fail(param, "is not valid UTF-8 once percent-decoded"))?;
    check_decoded(param, &text)?;
    Ok(text)
}

/// Checks a value that arrived already decoded (API Gateway HTTP API path parameters).
pub fn check_decoded(param: &str, value: &str) -> Result<(), DecodeError> {
    if value.chars().any(char::is_control) {
        return Err(fail(param, "contains control characters (such as %00)"));
    }
    Ok(())
}

/// One path segment, still percent-encoded (the local server, API Gateway REST path parameters).
/// A raw `&` is refused, so a name is never cut at one nor a segment read as a query; `+` is a plus.
pub fn decode_path_segment(param: &str, raw: &str) -> Result<String, DecodeError> {
    if raw.contains('&') {
        return Err(fail(param, "contains a raw & (send it percent-encoded as %26)"));
    }
    decode(param, raw, false)
}

/// Decodes every path parameter of a matched route.
pub fn decode_path_params(raw: HashMap<String, String>) -> Result<HashMap<String, String>, DecodeError> {
    raw.into_iter().map(|(name, value)| decode_path_segment(&name, &value).map(|v| (name, v))).collect()
}

/// A raw query string (`a=1&b=x+y`) as a map, `+` a space as in HTML forms; empty pairs are
/// skipped, a name without `=` has an empty value, a name given twice is refused (never one picked).
pub fn decode_query(raw: Option<&str>) -> Result<HashMap<String, String>, DecodeError> {
    let mut out = HashMap::new();
    for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(raw_name, raw_name, true)?;
        let value = decode(&name, raw_value, true)?;
        if out.contains_key(&name) {
            return Err(fail(&name, "is given more than once"));
        }
        out.insert(name, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn path_segments_decode_exactly_or_are_refused_naming_the_parameter() {
        assert_eq!(decode_path_segment("p", "Sky%20Miles%26Co+1").unwrap(), "Sky Miles&Co+1");
        assert_eq!(decode_path_segment("p", "Caf%C3%A9").unwrap(), "Café");
        for raw in ["Victim&x=1", "Bad%FF", "Bad%C0%AF", "Bad%00", "Bad%0A", "Bad%2", "Bad%zz", "%"] {
            let e = decode_path_segment("partnerProgramName", raw).unwrap_err();
            assert!(e.to_string().starts_with("parameter `partnerProgramName`"), "{raw}: {e}");
        }
    }

    #[test]
    fn query_strings_decode_form_style_and_refuse_duplicates() {
        let q =
            decode_query(Some("identifierName=mobile&identifierValue=%2B91+97400&&flag&startDate=2020-01-29+12:11:45"))
                .unwrap();
        assert_eq!(q["identifierValue"], "+91 97400");
        assert_eq!(q["flag"], "");
        assert_eq!(q["startDate"], "2020-01-29 12:11:45");
        assert_eq!(decode_query(None).unwrap(), HashMap::new());
        assert_eq!(decode_query(Some("a=1&a=2")).unwrap_err(), fail("a", "is given more than once"));
        assert_eq!(decode_query(Some("v=%FF")).unwrap_err().param, "v");
        assert_eq!(decode_query(Some("v=a%00b")).unwrap_err().param, "v");
        assert_eq!(decode_query(Some("b%zz=1")).unwrap_err().param, "b%zz");
    }

    proptest! {
        #[test]
        fn decoding_never_panics(s in "\\PC{0,60}", raw in prop::collection::vec(any::<u8>(), 0..60)) {
            let lossy = String::from_utf8_lossy(&raw).to_string();
            for input in [&s, &lossy] {
                let _ = decode_query(Some(input));
                if let Ok(v) = decode_path_segment("p", input) {
                    prop_assert!(!v.chars().any(char::is_control));
                }
            }
        }

        #[test]
        fn encoded_text_decodes_back_to_itself(s in "[^\\p{Cc}]{0,40}") {
            let encoded: String = s.bytes().map(|b| format!("%{b:02X}")).collect();
            prop_assert_eq!(decode_path_segment("p", &encoded).unwrap(), s.clone());
            let q = decode_query(Some(&format!("k={encoded}"))).unwrap();
            prop_assert_eq!(&q["k"], &s);
        }
    }
}
