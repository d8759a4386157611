//! Values from members, as text: a JSON string or number read as text, and a mobile or email
//! masked for logs (never logged in clear).

use serde_json::Value;

/// A JSON string (trimmed, non-empty) or number as text; anything else is no text.
pub fn value_as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Masks a mobile number or email for logs: keeps the shape, hides what identifies the person.
pub fn mask(value: &str) -> String {
    if let Some((local, domain)) = value.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let n = value.chars().count();
    if n <= 4 {
        return "*".repeat(n);
    }
    let tail: String = value.chars().skip(n - 2).collect();
    format!("{}{tail}", "*".repeat(n - 2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_numbers_are_text_and_nothing_else_is() {
        assert_eq!(value_as_text(&json!(" 9197 ")), Some("9197".into()));
        assert_eq!(value_as_text(&json!(919700000001u64)), Some("919700000001".into()));
        assert_eq!(value_as_text(&json!("  ")), None);
        assert_eq!(value_as_text(&json!(null)), None);
        assert_eq!(value_as_text(&json!({"a": 1})), None);
    }
}
