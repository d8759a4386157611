//! Dates, strictly (docs/contract.md#dates-and-time-zones): what requests may send, and instants
//! kept within years 1–9999 so every one prints as `YYYY-MM-DDTHH:MM:SSZ`; what is derived from one
//! saturates at `max_instant()` instead of reaching year 10000.

use crate::domain::zone::Zone;
use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, Months, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc,
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "{field}: {value:?} is not a date; use ISO 8601 with an offset (2027-12-29T23:59:59+05:30) or a bare date \
     (2027-12-29), years 0001 to 9999"
)]
pub struct DateError {
    pub field: String,
    pub value: String,
}

/// The earliest instant the service keeps: 0001-01-01T00:00:00Z.
pub fn min_instant() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(1, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map_or(DateTime::<Utc>::MIN_UTC, |n| n.and_utc())
}

/// The latest instant the service keeps: 9999-12-31T23:59:59.999Z.
pub fn max_instant() -> DateTime<Utc> {
    NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_milli_opt(23, 59, 59, 999))
        .map_or(DateTime::<Utc>::MAX_UTC, |n| n.and_utc())
}

fn in_range(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (min_instant() <= t && t <= max_instant()).then_some(t)
}

/// What a date text holds, before a time zone gives it an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parsed {
    Date(NaiveDate),
    Local(NaiveDateTime),
    Instant(DateTime<FixedOffset>),
}

/// A cursor over the ASCII bytes of a date text.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scan<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let part = self.b.get(self.i..self.i + n)?;
        if !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i += n;
        Some(part.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')))
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn eat_any(&mut self, cs: &[u8]) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        if cs.contains(&c) {
            self.i += 1;
            Some(c)
        } else {
            None
        }
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

/// `YYYY-MM-DD`, then optionally `[T ]HH:MM:SS[.fraction]`, then optionally `[ ](Z|±HH:MM|±HHMM)`
/// (an offset only after a time). Nothing else, not even surrounding whitespace.
fn parse(value: &str) -> Option<Parsed> {
    let mut s = Scan { b: value.as_bytes(), i: 0 };
    let year = s.digits(4)?;
    if year == 0 || !s.eat(b'-') {
        return None;
    }
    let month = s.digits(2)?;
    if !s.eat(b'-') {
        return None;
    }
    let day = s.digits(2)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if s.done() {
        return Some(Parsed::Date(date));
    }
    s.eat_any(b"Tt ")?;
    let hour = s.digits(2)?;
    if !s.eat(b':') {
        return None;
    }
    let minute = s.digits(2)?;
    if !s.eat(b':') {
        return None;
    }
    let second = s.digits(2)?;
    let mut nanos = 0u32;
    if s.eat(b'.') {
        let start = s.i;
        while s.b.get(s.i).is_some_and(u8::is_ascii_digit) {
            s.i += 1;
        }
        let frac = s.b.get(start..s.i)?;
        if frac.is_empty() || frac.len() > 9 {
            return None;
        }
        let scale = 10u32.pow(9 - u32::try_from(frac.len()).ok()?);
        nanos = frac.iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')) * scale;
    }
    // No leap seconds: chrono would take second 60 as a leap second of the previous one.
    if second > 59 {
        return None;
    }
    let local = date.and_time(NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?);
    if s.done() {
        return Some(Parsed::Local(local));
    }
    // One space may separate the time from its offset (Capillary's older examples).
    s.eat(b' ');
    let offset_seconds = if s.eat_any(b"Zz").is_some() {
        0
    } else {
        let sign = match s.eat_any(b"+-")? {
            b'+' => 1,
            _ => -1,
        };
        let oh = s.digits(2)?;
        s.eat(b':');
        let om = s.digits(2)?;
        if oh > 18 || om > 59 || (oh == 18 && om > 0) {
            return None;
        }
        sign * i32::try_from(oh * 3600 + om * 60).ok()?
    };
    if !s.done() {
        return None;
    }
    let offset = FixedOffset::east_opt(offset_seconds)?;
    offset.from_local_datetime(&local).single().map(Parsed::Instant)
}

/// Parses a request date. A bare date is 23:59:59 of that day in `tz`; a date and time need an offset.
pub fn parse_request_date(field: &str, value: &str, tz: &Zone) -> Result<DateTime<Utc>, DateError> {
    let err = || DateError { field: field.to_string(), value: value.to_string() };
    let t = match parse(value).ok_or_else(err)? {
        Parsed::Instant(t) => t.with_timezone(&Utc),
        Parsed::Date(d) => local_to_utc(d.and_hms_opt(23, 59, 59).ok_or_else(err)?, tz).ok_or_else(err)?,
        Parsed::Local(_) => return Err(err()),
    };
    in_range(t).ok_or_else(err)
}

/// Parses the history API's dates: any request form, or a date and time without offset in the
/// org's zone (`yyyy-MM-dd HH:mm:ss`); a bare date is the start or the end of that day.
pub fn parse_history_date(field: &str, value: &str, tz: &Zone, end_of_day: bool) -> Result<DateTime<Utc>, DateError> {
    let err = || DateError { field: field.to_string(), value: value.to_string() };
    let t = match parse(value).ok_or_else(err)? {
        Parsed::Instant(t) => Some(t.with_timezone(&Utc)),
        Parsed::Local(n) => local_to_utc(n, tz),
        Parsed::Date(d) => {
            let n = if end_of_day { d.and_hms_opt(23, 59, 59) } else { d.and_hms_opt(0, 0, 0) };
            n.and_then(|n| local_to_utc(n, tz))
        }
    };
    t.and_then(in_range).ok_or_else(err)
}

/// A wall-clock time in `tz`; in a DST gap the next valid instant, in an overlap the later one
/// (so "end of day" never comes early).
fn local_to_utc(n: NaiveDateTime, tz: &Zone) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&n) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(_, later) => Some(later.with_timezone(&Utc)),
        LocalResult::None => {
            let shifted = n.checked_add_signed(Duration::hours(1))?;
            tz.from_local_datetime(&shifted).earliest().map(|t| t.with_timezone(&Utc))
        }
    }
}

/// `start` plus a membership period, counted in the org's calendar (months keep the day of month,
/// clamped to the month's end); past year 9999 it is `max_instant()`.
pub fn add_period(start: DateTime<Utc>, period: crate::domain::model::MembershipPeriod, tz: &Zone) -> DateTime<Utc> {
    use crate::domain::model::PeriodType;
    let local = start.with_timezone(tz).naive_local();
    let shifted = match period.period_type {
        PeriodType::Days => local.checked_add_signed(Duration::days(i64::from(period.value))),
        PeriodType::Months => local.checked_add_months(Months::new(period.value)),
    };
    shifted.and_then(|n| local_to_utc(n, tz)).map_or_else(max_instant, |t| t.min(max_instant()))
}

/// `t` plus `days`, saturating at `max_instant()` (grace ends, windows).
pub fn add_days(t: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    t.checked_add_signed(Duration::days(i64::from(days))).map_or_else(max_instant, |t| t.min(max_instant()))
}

/// Clamps an instant into years 1–9999, so formatting never prints a fifth year digit or a sign.
fn clamped(t: DateTime<Utc>) -> DateTime<Utc> {
    t.clamp(min_instant(), max_instant())
}

/// Response form: UTC, second precision, `Z`.
pub fn format_utc(t: DateTime<Utc>) -> String {
    clamped(t).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Sortable form used inside keys (millisecond precision, fixed width).
pub fn key_time(t: DateTime<Utc>) -> String {
    clamped(t).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The UTC day of an instant, as used for due-index partitions.
pub fn key_day(t: DateTime<Utc>) -> String {
    let t = clamped(t);
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::{MembershipPeriod, PeriodType};
    use proptest::prelude::*;

    #[test]
    fn offset_dates_are_converted_to_utc() {
        let t = parse_request_date("d", "2027-12-29T23:59:59+05:30", &Zone::utc()).unwrap();
        assert_eq!(format_utc(t), "2027-12-29T18:29:59Z");
        for (raw, utc) in [
            ("2027-12-29T23:59:59Z", "2027-12-29T23:59:59Z"),
            ("2027-12-29T23:59:59.677Z", "2027-12-29T23:59:59Z"),
            ("2027-12-29T23:59:59-0800", "2027-12-30T07:59:59Z"),
            ("2027-12-29 23:59:59+05:30", "2027-12-29T18:29:59Z"),
        ] {
            assert_eq!(format_utc(parse_request_date("d", raw, &Zone::utc()).unwrap()), utc, "{raw}");
        }
    }

    #[test]
    fn the_older_docs_form_with_a_space_before_the_offset_is_accepted() {
        let t = parse_request_date("d", "2022-11-30 17:55:00 +05:30", &Zone::utc()).unwrap();
        assert_eq!(format_utc(t), "2022-11-30T12:25:00Z");
        let t = parse_request_date("d", "2022-11-30T17:55:00 Z", &Zone::utc()).unwrap();
        assert_eq!(format_utc(t), "2022-11-30T17:55:00Z");
    }

    #[test]
    fn bare_date_is_end_of_day_in_org_zone() {
        let t = parse_request_date("d", "2027-12-29", &Zone::named("Asia/Kolkata").unwrap()).unwrap();
        assert_eq!(format_utc(t), "2027-12-29T18:29:59Z");
        let t = parse_request_date("d", "2027-07-01", &Zone::named("America/New_York").unwrap()).unwrap();
        assert_eq!(format_utc(t), "2027-07-02T03:59:59Z");
    }

    #[test]
    fn anything_else_is_rejected_with_the_field_name() {
        for bad in [
            "29/12/2027",
            "2027-12-29T10:00:00",
            "tomorrow",
            "",
            "2027-13-01",
            "+99999-01-01",
            "0000-01-01",
            "10000-01-01",
            "2027-12-29\n",
            " 2027-12-29",
            "2027-12-29T10:00:00+05:30 ",
            "2027-12-29T10:00:00  +05:30",
            "2027-12-29T10:00:60Z",
            "2027-12-29T10:00Z",
            "2027-12-29T10:00:00+19:00",
            "2027-12-29T10:00:00.Z",
            "2027-12-29T10:00:00.1234567890Z",
            "2027-02-30",
            "9999-12-31T23:59:59-05:00",
            "0001-01-01T00:00:00+05:30",
            "２０２７-12-29",
        ] {
            let e = parse_request_date("partnerTierExpiryDate", bad, &Zone::utc()).unwrap_err();
            assert!(e.to_string().starts_with("partnerTierExpiryDate:"), "{e}");
        }
    }

    #[test]
    fn the_extremes_of_the_range_are_accepted_and_print_with_four_digits() {
        let last = parse_request_date("d", "9999-12-31", &Zone::named("Asia/Kolkata").unwrap()).unwrap();
        assert_eq!(format_utc(last), "9999-12-31T18:29:59Z");
        let first = parse_request_date("d", "0001-01-01T00:00:00Z", &Zone::utc()).unwrap();
        assert_eq!(format_utc(first), "0001-01-01T00:00:00Z");
        let beyond = add_period(last, MembershipPeriod { period_type: PeriodType::Months, value: 120 }, &Zone::utc());
        assert_eq!(format_utc(beyond), "9999-12-31T23:59:59Z");
        assert_eq!(format_utc(add_days(last, 365)), "9999-12-31T23:59:59Z");
        let far = DateTime::<Utc>::MAX_UTC;
        assert_eq!((format_utc(far), key_day(far)), ("9999-12-31T23:59:59Z".to_string(), "9999-12-31".to_string()));
        assert_eq!(key_time(DateTime::<Utc>::MIN_UTC), "0001-01-01T00:00:00.000Z");
    }

    #[test]
    fn months_period_clamps_to_month_end_in_org_zone() {
        let start = parse_request_date("d", "2027-01-31T10:00:00+05:30", &Zone::utc()).unwrap();
        let end = add_period(
            start,
            MembershipPeriod { period_type: PeriodType::Months, value: 1 },
            &Zone::named("Asia/Kolkata").unwrap(),
        );
        assert_eq!(format_utc(end), "2027-02-28T04:30:00Z");
        let end = add_period(start, MembershipPeriod { period_type: PeriodType::Days, value: 30 }, &Zone::utc());
        assert_eq!(format_utc(end), "2027-03-02T04:30:00Z");
    }

    #[test]
    fn history_dates_accept_capillary_format_in_org_zone() {
        let t = parse_history_date("startDate", "2026-01-01 00:00:00", &Zone::named("Asia/Kolkata").unwrap(), false)
            .unwrap();
        assert_eq!(format_utc(t), "2025-12-31T18:30:00Z");
        let t = parse_history_date("endDate", "2026-01-01", &Zone::utc(), true).unwrap();
        assert_eq!(format_utc(t), "2026-01-01T23:59:59Z");
        assert!(parse_history_date("startDate", "2026-01-01 00:00:00 ", &Zone::utc(), false).is_err());
    }

    fn zones() -> impl Strategy<Value = Zone> {
        prop::sample::select(vec![
            Zone::utc(),
            Zone::named("Asia/Kolkata").unwrap(),
            Zone::named("America/New_York").unwrap(),
            Zone::named("Pacific/Kiritimati").unwrap(),
            Zone::named("Pacific/Niue").unwrap(),
            Zone::named("Europe/London").unwrap(),
        ])
    }

    proptest! {
        #[test]
        fn no_text_makes_the_parsers_panic_and_every_accepted_date_prints_back(
            s in "\\PC{0,40}", tz in zones(), end in any::<bool>()
        ) {
            for r in [parse_request_date("f", &s, &tz), parse_history_date("f", &s, &tz, end)] {
                match r {
                    Ok(t) => {
                        let printed = format_utc(t);
                        prop_assert_eq!(printed.len(), 20);
                        prop_assert!(min_instant() <= t && t <= max_instant());
                    }
                    Err(e) => prop_assert!(e.to_string().starts_with("f: ")),
                }
            }
        }

        #[test]
        fn date_like_texts_never_panic(
            y in 0u32..=10_001, m in 0u32..=13, d in 0u32..=32, h in 0u32..=25, mi in 0u32..=61, sec in 0u32..=61,
            sep in prop::sample::select(vec!["T", " ", "t", "_"]),
            off in prop::sample::select(vec!["Z", "+05:30", " +05:30", "-1800", "+18:01", "+24:00", "", "z", " "]),
            tz in zones()
        ) {
            let s = format!("{y:04}-{m:02}-{d:02}{sep}{h:02}:{mi:02}:{sec:02}{off}");
            if let Ok(t) = parse_request_date("f", &s, &tz) {
                prop_assert!(min_instant() <= t && t <= max_instant());
                prop_assert!((1..=9999).contains(&y) && sec < 60 && h < 24 && mi < 60);
            }
            let _ = parse_history_date("f", &s, &tz, false);
        }

        #[test]
        fn every_instant_in_range_round_trips_through_its_printed_form(
            secs in min_instant().timestamp()..=max_instant().timestamp()
        ) {
            let t = DateTime::<Utc>::from_timestamp(secs, 0).unwrap_or_default();
            let printed = format_utc(t);
            prop_assert_eq!(parse_request_date("f", &printed, &Zone::utc()).ok(), Some(t));
        }

        #[test]
        fn offsets_within_18_hours_are_accepted(
            sign in prop::sample::select(vec!['+', '-']), h in 0u32..=17, m in 0u32..=59
        ) {
            let s = format!("2030-06-15T12:00:00{sign}{h:02}:{m:02}");
            let t = parse_request_date("f", &s, &Zone::utc());
            prop_assert!(t.is_ok(), "{}", s);
        }
    }
}
