//! Request dates: ISO 8601 with an offset, or a bare date meaning the end of that day in the
//! org's time zone. Responses carry UTC instants with `Z` and second precision.

use chrono::{DateTime, Datelike, Duration, LocalResult, Months, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{field}: {value:?} is not a date; use ISO 8601 with an offset (2027-12-29T23:59:59+05:30) or a bare date (2027-12-29)")]
pub struct DateError {
    pub field: String,
    pub value: String,
}

/// Parses a request date. A bare date is 23:59:59 of that day in `tz`.
pub fn parse_request_date(field: &str, value: &str, tz: Tz) -> Result<DateTime<Utc>, DateError> {
    let v = value.trim();
    let err = || DateError { field: field.to_string(), value: value.to_string() };
    if let Ok(dt) = DateTime::parse_from_rfc3339(v) {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let end = d.and_hms_opt(23, 59, 59).ok_or_else(err)?;
        return local_to_utc(end, tz).ok_or_else(err);
    }
    Err(err())
}

/// Parses the history API's `yyyy-MM-dd HH:mm:ss` (org-local) or any ISO 8601 form.
pub fn parse_history_date(field: &str, value: &str, tz: Tz, end_of_day: bool) -> Result<DateTime<Utc>, DateError> {
    let v = value.trim();
    let err = || DateError { field: field.to_string(), value: value.to_string() };
    if let Ok(dt) = DateTime::parse_from_rfc3339(v) {
        return Ok(dt.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(v, fmt) {
            return local_to_utc(n, tz).ok_or_else(err);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        let t = if end_of_day { d.and_hms_opt(23, 59, 59) } else { d.and_hms_opt(0, 0, 0) };
        return t.and_then(|n| local_to_utc(n, tz)).ok_or_else(err);
    }
    Err(err())
}

/// A wall-clock time in `tz`; in a DST gap the next valid instant, in an overlap the later one
/// (so "end of day" never comes early).
fn local_to_utc(n: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&n) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(_, later) => Some(later.with_timezone(&Utc)),
        LocalResult::None => {
            let shifted = n + Duration::hours(1);
            tz.from_local_datetime(&shifted).earliest().map(|t| t.with_timezone(&Utc))
        }
    }
}

/// `start` plus a membership period, counted in the org's calendar (months keep the day of month,
/// clamped to the month's end).
pub fn add_period(start: DateTime<Utc>, period: crate::model::MembershipPeriod, tz: Tz) -> DateTime<Utc> {
    use crate::model::PeriodType;
    let local = start.with_timezone(&tz).naive_local();
    let shifted = match period.period_type {
        PeriodType::Days => local.checked_add_signed(Duration::days(i64::from(period.value))),
        PeriodType::Months => local.checked_add_months(Months::new(period.value)),
    };
    shifted.and_then(|n| local_to_utc(n, tz)).unwrap_or(start)
}

/// Response form: UTC, second precision, `Z`.
pub fn format_utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Sortable form used inside keys (millisecond precision, fixed width).
pub fn key_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The UTC day of an instant, as used for due-index partitions.
pub fn key_day(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day())
}

pub fn parse_time_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MembershipPeriod, PeriodType};

    #[test]
    fn offset_dates_are_converted_to_utc() {
        let t = parse_request_date("d", "2027-12-29T23:59:59+05:30", Tz::UTC).unwrap();
        assert_eq!(format_utc(t), "2027-12-29T18:29:59Z");
    }

    #[test]
    fn bare_date_is_end_of_day_in_org_zone() {
        let t = parse_request_date("d", "2027-12-29", chrono_tz::Asia::Kolkata).unwrap();
        assert_eq!(format_utc(t), "2027-12-29T18:29:59Z");
        let t = parse_request_date("d", "2027-07-01", chrono_tz::America::New_York).unwrap();
        assert_eq!(format_utc(t), "2027-07-02T03:59:59Z");
    }

    #[test]
    fn anything_else_is_rejected_with_the_field_name() {
        for bad in ["29/12/2027", "2027-12-29T10:00:00", "tomorrow", "", "2027-13-01"] {
            let e = parse_request_date("partnerTierExpiryDate", bad, Tz::UTC).unwrap_err();
            assert!(e.to_string().starts_with("partnerTierExpiryDate:"), "{e}");
        }
    }

    #[test]
    fn months_period_clamps_to_month_end_in_org_zone() {
        let start = parse_request_date("d", "2027-01-31T10:00:00+05:30", Tz::UTC).unwrap();
        let end = add_period(start, MembershipPeriod { period_type: PeriodType::Months, value: 1 }, chrono_tz::Asia::Kolkata);
        assert_eq!(format_utc(end), "2027-02-28T04:30:00Z");
        let end = add_period(start, MembershipPeriod { period_type: PeriodType::Days, value: 30 }, Tz::UTC);
        assert_eq!(format_utc(end), "2027-03-02T04:30:00Z");
    }

    #[test]
    fn history_dates_accept_capillary_format_in_org_zone() {
        let t = parse_history_date("startDate", "2026-01-01 00:00:00", chrono_tz::Asia::Kolkata, false).unwrap();
        assert_eq!(format_utc(t), "2025-12-31T18:30:00Z");
    }
}
