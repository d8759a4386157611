//! Expiry reminders (docs/contract.md#events) as pure rules, shared by the linkage writes, the
//! sweep and the expiry preview so all three arm, send and list the same ones. A reminder belongs
//! to one expiry (its `Target`): armed by the write that sets it, disarmed by one that moves it.

use crate::domain::model::{Linkage, LinkageStatus, PartnerProgramType};
use crate::domain::zone::Zone;
use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// At most this many reminder days per program.
pub const MAX_REMINDER_DAYS: usize = 5;
/// A reminder comes at most this many days before its expiry.
pub const MAX_DAYS_BEFORE: u32 = 365;

/// Which expiry a reminder announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReminderKind {
    /// A SUPPLEMENTARY membership's end.
    MembershipEnd,
    /// An EXTERNAL linkage's partner tier expiry.
    TierExpiry,
}

impl ReminderKind {
    /// The event the sweep emits.
    pub fn event_name(self) -> &'static str {
        match self {
            ReminderKind::MembershipEnd => "supplementaryMembershipExpiryReminder",
            ReminderKind::TierExpiry => "partnerTierExpiryReminder",
        }
    }

    /// The action the sweep summary and the preview count it under.
    pub fn action(self) -> &'static str {
        match self {
            ReminderKind::MembershipEnd => "SUPPLEMENTARY_MEMBERSHIP_EXPIRY_REMINDER",
            ReminderKind::TierExpiry => "PARTNER_TIER_EXPIRY_REMINDER",
        }
    }

    /// As stored on a reminder item.
    pub fn as_str(self) -> &'static str {
        match self {
            ReminderKind::MembershipEnd => "MEMBERSHIP_END",
            ReminderKind::TierExpiry => "TIER_EXPIRY",
        }
    }

    pub fn parse(s: &str) -> Option<ReminderKind> {
        match s {
            "MEMBERSHIP_END" => Some(ReminderKind::MembershipEnd),
            "TIER_EXPIRY" => Some(ReminderKind::TierExpiry),
            _ => None,
        }
    }
}

/// The expiry a linkage's reminders announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: ReminderKind,
    pub expires_at: DateTime<Utc>,
    pub tier_number: Option<u32>,
    pub tier_name: Option<String>,
}

/// The expiry ahead of `l` that reminders announce, if any: a linked SUPPLEMENTARY membership's end
/// (active, or pending its start); a linked EXTERNAL linkage's tier expiry while the tier is active.
/// A paused membership has none (its end moves when it resumes), nor has anything delinked or expired.
pub fn target(l: &Linkage) -> Option<Target> {
    if !l.linked {
        return None;
    }
    match l.partner_program_type {
        PartnerProgramType::Supplementary => match l.status {
            LinkageStatus::Active | LinkageStatus::Pending => l.membership_end_date.map(|end| Target {
                kind: ReminderKind::MembershipEnd,
                expires_at: end,
                tier_number: None,
                tier_name: None,
            }),
            _ => None,
        },
        PartnerProgramType::External => match l.status {
            LinkageStatus::Active => l.tier_expiry_date.map(|exp| Target {
                kind: ReminderKind::TierExpiry,
                expires_at: exp,
                tier_number: l.tier_number,
                tier_name: l.tier_name.clone(),
            }),
            _ => None,
        },
    }
}

/// The expiry's day in the org's calendar, as events give it (`scheduledExpiryDate`, `yyyy-MM-dd`).
pub fn local_day(at: DateTime<Utc>, tz: &Zone) -> String {
    at.with_timezone(tz).format("%Y-%m-%d").to_string()
}

/// When the reminder `days_before` an expiry falls due: 00:00 of the day `days_before` days before
/// the expiry's day in `tz` (in a DST gap, the first instant of that day).
pub fn remind_at(expires_at: DateTime<Utc>, days_before: u32, tz: &Zone) -> Option<DateTime<Utc>> {
    let day: NaiveDate = expires_at.with_timezone(tz).date_naive();
    let day = day.checked_sub_signed(Duration::days(i64::from(days_before)))?;
    start_of_day(day.and_hms_opt(0, 0, 0)?, tz)
}

fn start_of_day(midnight: NaiveDateTime, tz: &Zone) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&midnight) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(earlier, _) => Some(earlier.with_timezone(&Utc)),
        // Midnight skipped by a DST change: the day starts at the first minute that exists.
        LocalResult::None => (1..=180).find_map(|m| {
            tz.from_local_datetime(&(midnight + Duration::minutes(m))).earliest().map(|t| t.with_timezone(&Utc))
        }),
    }
}

/// One reminder of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminder {
    pub days_before: u32,
    pub due_at: DateTime<Utc>,
}

/// The reminders of `target` still ahead at `now` (and before the expiry itself), latest day first.
pub fn schedule(target: &Target, days: &[u32], tz: &Zone, now: DateTime<Utc>) -> Vec<Reminder> {
    let mut out: Vec<Reminder> = days
        .iter()
        .filter_map(|&d| {
            let due_at = remind_at(target.expires_at, d, tz)?;
            (due_at > now && due_at < target.expires_at).then_some(Reminder { days_before: d, due_at })
        })
        .collect();
    out.sort_by_key(|r| r.due_at);
    out.dedup_by_key(|r| r.days_before);
    out
}

/// What a change to a linkage does to its reminders: reminders to arm (for the new target) and the
/// reminder days of the old target to disarm (not re-armed under the same key).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rearm {
    pub arm: Option<(Target, Vec<Reminder>)>,
    pub disarm: Option<(Target, Vec<u32>)>,
}

impl Rearm {
    pub fn is_empty(&self) -> bool {
        self.arm.as_ref().is_none_or(|(_, r)| r.is_empty()) && self.disarm.as_ref().is_none_or(|(_, d)| d.is_empty())
    }
}

/// The reminder changes of a write from `before` to `after` under a program reminding `days`
/// before each expiry. Nothing when the target stays the same (a benefit, a name change): a
/// rewrite never re-arms what was sent or disarms what is due.
pub fn rearm(before: Option<&Linkage>, after: &Linkage, days: &[u32], tz: &Zone, now: DateTime<Utc>) -> Rearm {
    if days.is_empty() {
        return Rearm::default();
    }
    let old = before.and_then(target);
    let new = target(after);
    if old == new {
        return Rearm::default();
    }
    let arm = new.map(|t| {
        let reminders = schedule(&t, days, tz, now);
        (t, reminders)
    });
    // Keys are (expiry instant, day): a reminder of the new target under the same key replaces the
    // old one in place (one operation per item and transaction).
    let disarm = old.map(|t| {
        let same_instant = arm.as_ref().filter(|(n, _)| n.expires_at == t.expires_at);
        let kept: Vec<u32> = days
            .iter()
            .copied()
            .filter(|d| !same_instant.is_some_and(|(_, r)| r.iter().any(|r| r.days_before == *d)))
            .collect();
        (t, kept)
    });
    Rearm { arm, disarm }
}

/// `expiryReminderDays` as a PUT body gives it: absent or `null` (none), or an array of up to
/// `MAX_REMINDER_DAYS` distinct integers from 1 to `MAX_DAYS_BEFORE`. Kept sorted, furthest first.
pub fn validate_days(raw: Option<&serde_json::Value>) -> Result<Vec<u32>, String> {
    let Some(raw) = raw.filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let rule = format!(
        "expiryReminderDays must be an array of at most {MAX_REMINDER_DAYS} distinct whole numbers of days \
         from 1 to {MAX_DAYS_BEFORE}"
    );
    let Some(values) = raw.as_array() else { return Err(format!("{rule} (got {raw})")) };
    if values.len() > MAX_REMINDER_DAYS {
        return Err(format!("{rule} (got {} values)", values.len()));
    }
    let mut days = Vec::with_capacity(values.len());
    for v in values {
        let day = v.as_u64().filter(|d| (1..=u64::from(MAX_DAYS_BEFORE)).contains(d));
        let Some(day) = day.and_then(|d| u32::try_from(d).ok()) else {
            return Err(format!("{rule} (got {v})"));
        };
        if days.contains(&day) {
            return Err(format!("{rule} ({day} appears twice)"));
        }
        days.push(day);
    }
    days.sort_unstable_by(|a, b| b.cmp(a));
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::ActivityType;
    use serde_json::json;

    fn t(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc)
    }

    fn linkage(kind: PartnerProgramType, status: LinkageStatus, end: &str) -> Linkage {
        Linkage {
            org_id: 1,
            customer_id: 2,
            partner_program_id: 3,
            partner_program_name: "P".into(),
            partner_program_type: kind,
            partner_membership_id: None,
            tier_number: Some(2),
            tier_name: Some("Gold".into()),
            tier_expiry_date: Some(t(end)),
            membership_start_date: t("2030-01-01T00:00:00Z"),
            membership_end_date: Some(t(end)),
            status,
            linked: true,
            version: 1,
            last_activity: ActivityType::Enrollment,
            last_updated: t("2030-01-01T00:00:00Z"),
            pending_relink: None,
            benefit_counters: Default::default(),
            grace_ends_at: None,
            recent_changes: vec![],
            holds_subscription: false,
            pause: None,
        }
    }

    #[test]
    fn reminder_days_are_validated_with_a_clear_message() {
        assert_eq!(validate_days(None), Ok(vec![]));
        assert_eq!(validate_days(Some(&json!(null))), Ok(vec![]));
        assert_eq!(validate_days(Some(&json!([1, 30, 7]))), Ok(vec![30, 7, 1]));
        assert_eq!(validate_days(Some(&json!([365, 1, 2, 3, 4]))), Ok(vec![365, 4, 3, 2, 1]));
        for bad in [json!([0]), json!([366]), json!([-1]), json!([1.5]), json!(["7"]), json!(7), json!([1, 1])] {
            let e = validate_days(Some(&bad)).unwrap_err();
            assert!(e.starts_with("expiryReminderDays must be"), "{bad}: {e}");
        }
        assert!(validate_days(Some(&json!([1, 2, 3, 4, 5, 6]))).unwrap_err().contains("6 values"));
        assert!(validate_days(Some(&json!([7, 7]))).unwrap_err().contains("7 appears twice"));
    }

    #[test]
    fn a_reminder_falls_due_at_the_start_of_its_day_in_the_orgs_calendar() {
        let kolkata = Zone::named("Asia/Kolkata").unwrap();
        // 2031-03-20T23:59:59+05:30 is the 20th in Kolkata; 7 days before starts 2031-03-13T00:00+05:30.
        let exp = t("2031-03-20T18:29:59Z");
        assert_eq!(remind_at(exp, 7, &kolkata), Some(t("2031-03-12T18:30:00Z")));
        assert_eq!(local_day(exp, &kolkata), "2031-03-20");
        // Across a DST change: New York's 2031-03-09 begins at 05:00Z (EST), the 16th at 04:00Z (EDT).
        let ny = Zone::named("America/New_York").unwrap();
        let exp = t("2031-03-16T15:00:00Z");
        assert_eq!(remind_at(exp, 7, &ny), Some(t("2031-03-09T05:00:00Z")));
        assert_eq!(remind_at(exp, 1, &ny), Some(t("2031-03-15T04:00:00Z")));
        // A midnight that does not exist (Santiago springs forward at 00:00): the day starts at 01:00.
        let santiago = Zone::named("America/Santiago").unwrap();
        let exp = t("2031-09-14T15:00:00Z");
        let at = remind_at(exp, 7, &santiago).unwrap();
        assert_eq!(at.with_timezone(&santiago).date_naive(), NaiveDate::from_ymd_opt(2031, 9, 7).unwrap());
    }

    #[test]
    fn only_reminders_still_ahead_are_scheduled() {
        let target = Target {
            kind: ReminderKind::MembershipEnd,
            expires_at: t("2031-01-31T12:00:00Z"),
            tier_number: None,
            tier_name: None,
        };
        let s = schedule(&target, &[30, 7, 1], &Zone::utc(), t("2031-01-10T00:00:00Z"));
        assert_eq!(
            s,
            vec![
                Reminder { days_before: 7, due_at: t("2031-01-24T00:00:00Z") },
                Reminder { days_before: 1, due_at: t("2031-01-30T00:00:00Z") },
            ]
        );
        // The day of a reminder has begun: it is not armed.
        assert_eq!(schedule(&target, &[7], &Zone::utc(), t("2031-01-24T00:00:00Z")), vec![]);
    }

    #[test]
    fn targets_follow_what_will_expire() {
        let sup = linkage(PartnerProgramType::Supplementary, LinkageStatus::Active, "2031-01-31T00:00:00Z");
        assert_eq!(target(&sup).map(|t| t.kind), Some(ReminderKind::MembershipEnd));
        let ext = linkage(PartnerProgramType::External, LinkageStatus::Active, "2031-01-31T00:00:00Z");
        let tt = target(&ext).unwrap();
        assert_eq!((tt.kind, tt.tier_number), (ReminderKind::TierExpiry, Some(2)));
        for status in [LinkageStatus::Paused, LinkageStatus::Expired, LinkageStatus::Delinked] {
            assert_eq!(target(&linkage(PartnerProgramType::Supplementary, status, "2031-01-31T00:00:00Z")), None);
        }
        for status in [LinkageStatus::InGrace, LinkageStatus::TierExpired] {
            assert_eq!(target(&linkage(PartnerProgramType::External, status, "2031-01-31T00:00:00Z")), None);
        }
        let mut delinked = sup.clone();
        delinked.linked = false;
        assert_eq!(target(&delinked), None);
    }

    #[test]
    fn a_moved_expiry_rearms_and_an_unchanged_one_touches_nothing() {
        let now = t("2031-01-01T00:00:00Z");
        let days = [30, 7];
        let before = linkage(PartnerProgramType::Supplementary, LinkageStatus::Active, "2031-03-01T00:00:00Z");
        let mut same = before.clone();
        same.version += 1;
        assert!(rearm(Some(&before), &same, &days, &Zone::utc(), now).is_empty());
        assert!(rearm(Some(&before), &before, &[], &Zone::utc(), now).is_empty());

        let first = rearm(None, &before, &days, &Zone::utc(), now);
        assert_eq!(first.arm.as_ref().map(|(_, r)| r.len()), Some(2));
        assert_eq!(first.disarm, None);

        let mut renewed = before.clone();
        renewed.membership_end_date = Some(t("2031-06-01T00:00:00Z"));
        let r = rearm(Some(&before), &renewed, &days, &Zone::utc(), now);
        assert_eq!(r.arm.as_ref().map(|(t, _)| t.expires_at), Some(t("2031-06-01T00:00:00Z")));
        assert_eq!(
            r.disarm.as_ref().map(|(t, d)| (t.expires_at, d.clone())),
            Some((t("2031-03-01T00:00:00Z"), vec![30, 7]))
        );

        let mut delinked = before.clone();
        delinked.linked = false;
        let r = rearm(Some(&before), &delinked, &days, &Zone::utc(), now);
        assert_eq!((r.arm, r.disarm.map(|(_, d)| d)), (None, Some(vec![30, 7])));

        // Same instant, another tier: re-armed in place, nothing disarmed under those keys.
        let ext = linkage(PartnerProgramType::External, LinkageStatus::Active, "2031-03-01T00:00:00Z");
        let mut upgraded = ext.clone();
        upgraded.tier_number = Some(3);
        let r = rearm(Some(&ext), &upgraded, &days, &Zone::utc(), now);
        assert_eq!(r.arm.as_ref().map(|(t, r)| (t.tier_number, r.len())), Some((Some(3), 2)));
        assert_eq!(r.disarm.map(|(_, d)| d), Some(vec![]));
    }
}
