//! Every limit on what a client may send (docs/contract.md#limits), defined once and checked before
//! anything is stored or a key is built, so nothing a client sends makes storage refuse a write or a
//! later read fail: each keeps keys, items and sums far inside what DynamoDB and `u64` hold.

use std::fmt;

/// How long an `Idempotency-Key` replays its response, and a change recognises itself
/// (docs/contract.md#idempotency).
pub const IDEMPOTENCY_RETENTION_HOURS: i64 = 24;

/// Customers in one batch write (docs/contract.md#batch-writes, code 2008).
pub const MAX_CUSTOMERS_PER_REQUEST: usize = 50;
/// Program entries under one customer of a batch write (code 2008 too: the catalog's "partner
/// program limit").
pub const MAX_ENTRIES_PER_CUSTOMER: usize = 50;

/// Names: partner programs (they appear in the path and in keys), loyalty programs, tiers,
/// benefits, benefit types.
pub const MAX_NAME_CHARS: usize = 100;
/// Partner program descriptions.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
/// Free texts carried into history records: `billNumber`, `storeName`.
pub const MAX_TEXT_CHARS: usize = 256;

/// Customer identifiers (each is part of a lookup key).
pub const MOBILE_MIN_DIGITS: usize = 6;
pub const MOBILE_MAX_DIGITS: usize = 15;
pub const MAX_EMAIL_CHARS: usize = 254;
pub const MAX_EXTERNAL_ID_CHARS: usize = 128;
/// `partnerMembershipId` (part of its uniqueness key).
pub const MAX_MEMBERSHIP_ID_CHARS: usize = 128;
/// API client keys (`ck_` + 16 characters when issued; anything longer is refused unread).
pub const MAX_CLIENT_KEY_CHARS: usize = 128;

/// An API client's display name (an agent's name, shown in the history as who acted).
pub const MAX_DISPLAY_NAME_CHARS: usize = 80;
/// The free-text note of a write's `reason`.
pub const MAX_REASON_NOTE_CHARS: usize = 500;

/// Units of one benefit in one request entry (duplicates of a name are summed first).
pub const MAX_BENEFIT_COUNT: u64 = 1_000_000;
/// Units of one benefit in one cycle: a cycle counter never grows past it.
pub const MAX_COUNT_IN_CYCLE: u64 = 1_000_000_000;

/// `pointsExchangeRate`: 0, or from `MIN_POSITIVE_RATE` to `MAX_POINTS_EXCHANGE_RATE`.
pub const MAX_POINTS_EXCHANGE_RATE: f64 = 1_000_000.0;
pub const MIN_POSITIVE_RATE: f64 = 0.000_001;

/// SUPPLEMENTARY membership periods.
pub const MAX_PERIOD_DAYS: u32 = 3660;
pub const MAX_PERIOD_MONTHS: u32 = 120;
/// Tiers and benefits of one partner program.
pub const MAX_TIERS: usize = 50;
pub const MAX_BENEFITS: usize = 50;
pub const MAX_TIER_NUMBER: u32 = 1000;

/// History paging by `offset` (beyond it, follow `nextCursor`).
pub const MAX_HISTORY_OFFSET: u64 = 10_000;

// Checked when compiling: the longest key part a limit allows, at 4 bytes per character, plus the
// longest prefix, stays under DynamoDB's key sizes (names end sort keys, `PP#{name}`: 1,024 bytes;
// identifiers are in partition keys: 2,048 bytes), and a million full cycles still sum inside u64.
const _: () = assert!(MAX_NAME_CHARS * 4 + 64 < 1024);
const _: () = assert!(MAX_EMAIL_CHARS * 4 + 64 < 2048);
const _: () = assert!(MAX_EXTERNAL_ID_CHARS * 4 + 64 < 2048);
const _: () = assert!(MAX_MEMBERSHIP_ID_CHARS * 4 + 64 < 2048);
const _: () = assert!(MAX_CLIENT_KEY_CHARS * 4 + 64 < 2048);
const _: () = assert!(MAX_COUNT_IN_CYCLE.checked_mul(1_000_000).is_some());

/// A value outside its limit, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitError {
    pub field: String,
    pub reason: String,
}

impl fmt::Display for LimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.field, self.reason)
    }
}

impl std::error::Error for LimitError {}

impl LimitError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        LimitError { field: field.into(), reason: reason.into() }
    }
}

/// A text of at most `max_chars` characters without control characters (NUL, newlines, tabs…,
/// which no name or identifier needs and which would otherwise reach keys and logs).
pub fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), LimitError> {
    let chars = value.chars().count();
    if chars > max_chars {
        return Err(LimitError::new(field, format!("is longer than {max_chars} characters ({chars})")));
    }
    if value.chars().any(char::is_control) {
        return Err(LimitError::new(field, "contains control characters"));
    }
    Ok(())
}

/// A name: 1 to `MAX_NAME_CHARS` characters, no control characters (given trimmed).
pub fn check_name(field: &str, value: &str) -> Result<(), LimitError> {
    if value.is_empty() {
        return Err(LimitError::new(field, "is empty"));
    }
    check_text(field, value, MAX_NAME_CHARS)
}

/// A client's display name as stored: trimmed, 1 to `MAX_DISPLAY_NAME_CHARS` characters, no
/// control characters.
pub fn display_name(value: &str) -> Result<String, LimitError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(LimitError::new("displayName", "is empty"));
    }
    check_text("displayName", trimmed, MAX_DISPLAY_NAME_CHARS)?;
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn texts_are_limited_in_characters_not_bytes_and_refuse_control_characters() {
        assert!(check_text("f", &"é".repeat(100), 100).is_ok());
        assert_eq!(
            check_text("f", &"x".repeat(101), 100).unwrap_err().to_string(),
            "f is longer than 100 characters (101)"
        );
        for bad in ["a\u{0}b", "a\nb", "tab\t", "\u{7f}"] {
            assert_eq!(check_text("storeName", bad, 100).unwrap_err().reason, "contains control characters", "{bad:?}");
        }
        assert!(check_name("tierName", "").is_err());
        assert!(check_name("tierName", "Gold & Co.").is_ok());
    }

    #[test]
    fn display_names_are_trimmed_short_and_clean() {
        assert_eq!(display_name("  Asha Rao ").unwrap(), "Asha Rao");
        assert_eq!(display_name(&"é".repeat(80)).unwrap().chars().count(), 80);
        assert_eq!(
            display_name(&"x".repeat(81)).unwrap_err().to_string(),
            "displayName is longer than 80 characters (81)"
        );
        assert_eq!(display_name("   ").unwrap_err().to_string(), "displayName is empty");
        assert_eq!(display_name("Asha\nRao").unwrap_err().reason, "contains control characters");
    }

    proptest! {
        #[test]
        fn check_text_never_panics_and_accepts_exactly_short_clean_text(s in ".{0,120}") {
            let ok = check_text("f", &s, 100).is_ok();
            prop_assert_eq!(ok, s.chars().count() <= 100 && !s.chars().any(char::is_control));
        }
    }
}
