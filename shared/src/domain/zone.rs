//! An org's IANA time zone as a chrono `TimeZone`, so chrono's date rules apply unchanged, read
//! from jiff's bundled TZif data rather than chrono-tz, whose tables every bootstrap would relocate
//! at start (~1.3 MB resident; docs/tooling.md#time-zones).

use std::fmt;

use chrono::{FixedOffset, MappedLocalTime, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone};
use jiff::tz::{AmbiguousOffset, TimeZone as TzData};

/// An IANA time zone (`Asia/Kolkata`). Cloning it is cheap (its data is shared).
#[derive(Clone, PartialEq, Eq)]
pub struct Zone(TzData);

/// The offset a [`Zone`] has at some instant; it keeps its zone, so local-time arithmetic on a
/// `DateTime<Zone>` (adding months across a DST change) resolves in the same zone.
#[derive(Clone, PartialEq, Eq)]
pub struct ZoneOffset {
    zone: Zone,
    fixed: FixedOffset,
}

impl Zone {
    /// The zone of this IANA name, spelt exactly so (`asia/kolkata` is refused).
    pub fn named(name: &str) -> Option<Zone> {
        let data = TzData::get(name).ok()?;
        (data.iana_name() == Some(name)).then_some(Zone(data))
    }

    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone(TzData::UTC)
    }

    /// The zone's IANA name.
    pub fn name(&self) -> &str {
        self.0.iana_name().unwrap_or("UTC")
    }

    fn offset(&self, seconds: i32) -> ZoneOffset {
        // The bundled data holds offsets within ±25:59:59 and chrono's FixedOffset takes ±24h;
        // every offset in the tz database is within ±15:00.
        let fixed = FixedOffset::east_opt(seconds).unwrap_or_else(|| chrono::Utc.fix());
        ZoneOffset { zone: self.clone(), fixed }
    }
}

/// A UTC time as whole seconds, clamped into the instants jiff keeps: an offset
/// never changes within a second, and the rules of the last days of year 9999 (the service's
/// latest instant is 9999-12-31T23:59:59Z, jiff's is 9999-12-30T22:00:00Z) are those of 9999-12-30.
fn timestamp(utc: &NaiveDateTime) -> jiff::Timestamp {
    let second = utc.and_utc().timestamp().clamp(jiff::Timestamp::MIN.as_second(), jiff::Timestamp::MAX.as_second());
    jiff::Timestamp::from_second(second).unwrap_or(jiff::Timestamp::MAX)
}

fn civil(local: &NaiveDateTime) -> Option<jiff::civil::DateTime> {
    use chrono::{Datelike, Timelike};
    let year = i16::try_from(local.year()).ok()?;
    let second = i8::try_from(local.second().min(59)).ok()?;
    jiff::civil::DateTime::new(
        year,
        i8::try_from(local.month()).ok()?,
        i8::try_from(local.day()).ok()?,
        i8::try_from(local.hour()).ok()?,
        i8::try_from(local.minute()).ok()?,
        second,
        0,
    )
    .ok()
}

impl TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Zone {
        offset.zone.clone()
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> MappedLocalTime<ZoneOffset> {
        self.offset_from_local_datetime(&local.and_time(NaiveTime::MIN))
    }

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> MappedLocalTime<ZoneOffset> {
        let Some(dt) = civil(local) else { return MappedLocalTime::None };
        match self.0.to_ambiguous_timestamp(dt).offset() {
            AmbiguousOffset::Unambiguous { offset } => MappedLocalTime::Single(self.offset(offset.seconds())),
            // The earlier instant of a repeated hour is the one at the offset before the change.
            AmbiguousOffset::Fold { before, after } => {
                MappedLocalTime::Ambiguous(self.offset(before.seconds()), self.offset(after.seconds()))
            }
            AmbiguousOffset::Gap { .. } => MappedLocalTime::None,
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_time(NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        self.offset(self.0.to_offset(timestamp(utc)).seconds())
    }
}

impl Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Debug for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.fixed, self.zone)
    }
}

impl fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.fixed, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Months, Utc};

    fn utc(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc)
    }

    fn local(raw: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn names_are_exact_iana_names() {
        assert_eq!(Zone::named("Asia/Kolkata").unwrap().name(), "Asia/Kolkata");
        assert_eq!(Zone::named("Asia/Calcutta").unwrap().name(), "Asia/Calcutta");
        assert_eq!(Zone::named("UTC").unwrap(), Zone::utc());
        for bad in [
            "asia/kolkata",
            "Asia/Kolkata ",
            " Asia/Kolkata",
            "UTC\n",
            "",
            "Mars/Olympus",
            "+05:30",
            "../etc/passwd",
            "Asia",
        ] {
            assert_eq!(Zone::named(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn an_instant_has_its_zones_offset_of_that_day() {
        let ny = Zone::named("America/New_York").unwrap();
        assert_eq!(utc("2027-01-15T12:00:00Z").with_timezone(&ny).to_rfc3339(), "2027-01-15T07:00:00-05:00");
        assert_eq!(utc("2027-07-15T12:00:00Z").with_timezone(&ny).to_rfc3339(), "2027-07-15T08:00:00-04:00");
        // The second before and the second of the change (2027-03-14 07:00 UTC).
        assert_eq!(utc("2027-03-14T06:59:59Z").with_timezone(&ny).to_rfc3339(), "2027-03-14T01:59:59-05:00");
        assert_eq!(utc("2027-03-14T07:00:00Z").with_timezone(&ny).to_rfc3339(), "2027-03-14T03:00:00-04:00");
        let kolkata = Zone::named("Asia/Kolkata").unwrap();
        assert_eq!(utc("2027-12-29T18:29:59Z").with_timezone(&kolkata).to_rfc3339(), "2027-12-29T23:59:59+05:30");
    }

    #[test]
    fn wall_clock_times_in_a_gap_have_none_and_in_a_fold_two_earliest_first() {
        let ny = Zone::named("America/New_York").unwrap();
        assert!(matches!(ny.from_local_datetime(&local("2027-03-14 02:30:00")), MappedLocalTime::None));
        let MappedLocalTime::Ambiguous(earlier, later) = ny.from_local_datetime(&local("2027-11-07 01:30:00")) else {
            panic!("01:30 on 2027-11-07 happens twice in New York");
        };
        assert_eq!(earlier.with_timezone(&Utc), utc("2027-11-07T05:30:00Z"));
        assert_eq!(later.with_timezone(&Utc), utc("2027-11-07T06:30:00Z"));
        let single = ny.from_local_datetime(&local("2027-06-01 12:00:00")).single().unwrap();
        assert_eq!(single.with_timezone(&Utc), utc("2027-06-01T16:00:00Z"));
    }

    #[test]
    fn adding_months_resolves_in_the_same_zone_across_a_dst_change() {
        let berlin = Zone::named("Europe/Berlin").unwrap();
        let start = utc("2027-01-31T23:00:00Z").with_timezone(&berlin); // 2027-02-01 00:00 +01:00
        let later = start.checked_add_months(Months::new(6)).unwrap();
        assert_eq!(later.to_rfc3339(), "2027-08-01T00:00:00+02:00");
    }

    #[test]
    fn the_ends_of_the_kept_range_have_offsets() {
        let auckland = Zone::named("Pacific/Auckland").unwrap();
        let last = utc("9999-12-31T23:59:59Z").with_timezone(&auckland);
        assert_eq!(last.offset().fix().local_minus_utc(), 13 * 3600, "New Zealand summer time in December");
        let first = utc("0001-01-01T00:00:00Z").with_timezone(&Zone::named("Asia/Kolkata").unwrap());
        assert_eq!(first.offset().fix().local_minus_utc(), 21208, "Kolkata's local mean time before 1854");
        let end = auckland.from_local_datetime(&local("9999-12-31 23:59:59")).single().unwrap();
        assert_eq!(end.with_timezone(&Utc), utc("9999-12-31T10:59:59Z"));
    }

    proptest::proptest! {
        #[test]
        fn no_name_makes_the_lookup_panic(s in "\\PC{0,40}") {
            let _ = Zone::named(&s);
        }
    }
}
