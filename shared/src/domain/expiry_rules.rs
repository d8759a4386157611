//! What the scheduled sweep does to one linkage (docs/contract.md#scheduled-expiry): every
//! transition due up to a moment, in the order they fell due, as pure functions the sweep and the
//! expiry preview share, so the preview shows exactly what the sweep will write.

use crate::domain::dates::add_period;
use crate::domain::model::*;
use chrono::{DateTime, Utc};

/// Safety bound on transitions applied in one change (a real chain is at most three long).
const MAX_STEPS: usize = 8;

/// What one transition does, as the sweep summary and the preview count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SweepAction {
    GraceStarted,
    ExpireTier,
    DowngradeOneTier,
    DowngradeToLowestTier,
    Delink,
    SupplementaryExpired,
    ProgramEarlyExpiry,
    BackupMembershipStarted,
    RelinkActivated,
    PendingActivated,
    PauseEnded,
}

impl SweepAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepAction::GraceStarted => "TIER_GRACE_STARTED",
            SweepAction::ExpireTier => "EXPIRE_TIER",
            SweepAction::DowngradeOneTier => "DOWNGRADE_ONE_TIER",
            SweepAction::DowngradeToLowestTier => "DOWNGRADE_TO_LOWEST_TIER",
            SweepAction::Delink => "DELINK",
            SweepAction::SupplementaryExpired => "SUPPLEMENTARY_MEMBERSHIP_EXPIRED",
            SweepAction::ProgramEarlyExpiry => "PARTNER_PROGRAM_EARLY_EXPIRY",
            SweepAction::BackupMembershipStarted => "BACKUP_SUPPLEMENTARY_MEMBERSHIP_STARTED",
            SweepAction::RelinkActivated => "RELINK_ACTIVATED",
            SweepAction::PendingActivated => "PENDING_ACTIVATED",
            SweepAction::PauseEnded => "MEMBERSHIP_RESUMED",
        }
    }

    /// The outbox event's `updateType` for this transition.
    pub fn update_type(self) -> &'static str {
        self.as_str()
    }
}

/// One transition: when it fell due, its history record and event, and the linkage right after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub action: SweepAction,
    pub at: DateTime<Utc>,
    pub activity: ActivityType,
    pub event: EventName,
    pub after: Linkage,
}

/// Everything due for one linkage up to a moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// The linkage to write: version + 1, last activity and update time set (unchanged when no step).
    pub after: Linkage,
    /// Partner membership ids the linkage no longer holds (their uniqueness claims are freed, as on delink).
    pub released_membership_ids: Vec<String>,
    /// The program expired for this member and names a backup program.
    pub migrate_to_backup: Option<String>,
    /// The membership ended for good and held the customer's one-subscription guard: the change
    /// releases it (or hands it to the backup membership).
    pub releases_subscription: bool,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    pub fn early_expiry_at(&self) -> Option<DateTime<Utc>> {
        self.steps.iter().find(|s| s.action == SweepAction::ProgramEarlyExpiry).map(|s| s.at)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    // Declaration order is the tie-break order for transitions due at the same instant.
    ProgramExpiry,
    RelinkStart,
    PendingStart,
    MembershipEnd,
    TierExpiry,
    GraceEnd,
    PauseEnd,
}

/// The next transition of `l` under `program`, if any, whenever it falls due.
fn next_due(l: &Linkage, program: &PartnerProgram) -> Option<(DateTime<Utc>, Due)> {
    let mut due: Vec<(DateTime<Utc>, Due)> = Vec::new();
    if let Some(expiry) = program.expiry_date {
        if l.linked || l.pending_relink.is_some() {
            due.push((expiry, Due::ProgramExpiry));
        }
    }
    if let Some(p) = &l.pending_relink {
        due.push((p.membership_start_date, Due::RelinkStart));
    }
    if l.linked {
        match l.status {
            LinkageStatus::Pending => due.push((l.membership_start_date, Due::PendingStart)),
            LinkageStatus::Active if l.partner_program_type == PartnerProgramType::Supplementary => {
                due.extend(l.membership_end_date.map(|t| (t, Due::MembershipEnd)));
            }
            LinkageStatus::Active => due.extend(l.tier_expiry_date.map(|t| (t, Due::TierExpiry))),
            LinkageStatus::InGrace => due.extend(l.grace_ends_at.map(|t| (t, Due::GraceEnd))),
            LinkageStatus::Paused => due.extend(l.pause.as_ref().map(|p| (p.paused_until, Due::PauseEnd))),
            _ => {}
        }
    }
    due.into_iter().min()
}

/// Every transition of `linkage` due at or before `until`, applied in order.
pub fn plan(linkage: &Linkage, program: &PartnerProgram, until: DateTime<Utc>) -> Plan {
    let mut cur = linkage.clone();
    let mut steps = Vec::new();
    let mut migrate_to_backup = None;
    for _ in 0..MAX_STEPS {
        let Some((at, due)) = next_due(&cur, program) else { break };
        if at > until {
            break;
        }
        let (action, activity, event) = apply(&mut cur, due, at, program);
        if action == SweepAction::ProgramEarlyExpiry {
            migrate_to_backup = program.backup_partner_program_name.clone();
        }
        steps.push(Step { action, at, activity, event, after: cur.clone() });
    }
    let mut after = cur;
    if let Some(last) = steps.last() {
        // Dated when the last transition took effect, as its activity is, not when the sweep ran.
        after.version = linkage.version + 1;
        after.last_updated = last.at;
        after.last_activity = last.activity;
        for s in &mut steps {
            s.after.version = after.version;
            s.after.last_activity = s.activity;
            s.after.last_updated = s.at;
        }
    }
    let released_membership_ids = released_ids(linkage, &after);
    // A pending relink keeps the guard: the customer's next membership here is already agreed.
    let releases_subscription =
        !steps.is_empty() && after.holds_subscription && !after.linked && after.pending_relink.is_none();
    if releases_subscription {
        after.holds_subscription = false;
    }
    Plan { steps, after, released_membership_ids, migrate_to_backup, releases_subscription }
}

fn released_ids(before: &Linkage, after: &Linkage) -> Vec<String> {
    let still_held = |id: &str| {
        (after.linked && after.partner_membership_id.as_deref() == Some(id))
            || after.pending_relink.as_ref().and_then(|p| p.partner_membership_id.as_deref()) == Some(id)
    };
    let mut held_before: Vec<&String> = Vec::new();
    if before.linked {
        held_before.extend(before.partner_membership_id.as_ref());
    }
    if let Some(p) = &before.pending_relink {
        held_before.extend(p.partner_membership_id.as_ref());
    }
    let mut out: Vec<String> = held_before.into_iter().filter(|id| !still_held(id)).cloned().collect();
    out.sort();
    out.dedup();
    out
}

fn apply(
    l: &mut Linkage,
    due: Due,
    at: DateTime<Utc>,
    program: &PartnerProgram,
) -> (SweepAction, ActivityType, EventName) {
    match due {
        Due::ProgramExpiry => {
            l.linked = false;
            l.status = LinkageStatus::Expired;
            l.pending_relink = None;
            l.grace_ends_at = None;
            if l.membership_end_date.is_none_or(|end| end > at) {
                l.membership_end_date = Some(at);
            }
            let event = match l.partner_program_type {
                PartnerProgramType::Supplementary => EventName::SupplementaryMembershipExpired,
                PartnerProgramType::External => EventName::Delinked,
            };
            (SweepAction::ProgramEarlyExpiry, ActivityType::PartnerProgramEarlyExpiry, event)
        }
        Due::RelinkStart => {
            if let Some(p) = l.pending_relink.take() {
                l.membership_start_date = p.membership_start_date;
                l.membership_end_date = Some(p.membership_end_date);
                if p.partner_membership_id.is_some() {
                    l.partner_membership_id = p.partner_membership_id;
                }
                if p.tier_number.is_some() {
                    l.tier_number = p.tier_number;
                    l.tier_name = p.tier_name;
                }
                l.tier_expiry_date = p.tier_expiry_date;
            }
            l.status = LinkageStatus::Active;
            l.linked = true;
            l.grace_ends_at = None;
            l.pause = None;
            l.benefit_counters = Default::default();
            (SweepAction::RelinkActivated, ActivityType::SupplementaryMembershipStarted, EventName::Linked)
        }
        Due::PendingStart => {
            l.status = LinkageStatus::Active;
            let activity = match l.partner_program_type {
                PartnerProgramType::Supplementary => ActivityType::SupplementaryMembershipStarted,
                PartnerProgramType::External => ActivityType::Enrollment,
            };
            (SweepAction::PendingActivated, activity, EventName::Updated)
        }
        Due::MembershipEnd => {
            l.linked = false;
            l.status = LinkageStatus::Expired;
            (
                SweepAction::SupplementaryExpired,
                ActivityType::SupplementaryMembershipExpired,
                EventName::SupplementaryMembershipExpired,
            )
        }
        Due::TierExpiry if program.tier_grace_period_days > 0 => {
            l.status = LinkageStatus::InGrace;
            l.grace_ends_at = Some(at + program.grace());
            (SweepAction::GraceStarted, ActivityType::TierGraceStarted, EventName::Updated)
        }
        Due::TierExpiry | Due::GraceEnd => on_tier_expiry(l, program),
        Due::PauseEnd => {
            // The whole window passed (`at` is its end): the end moves by its length, as computed
            // when paused; reads and PAUSE/RESUME see the same before the sweep (`Linkage::as_of`).
            l.resume_at_window_end();
            (SweepAction::PauseEnded, ActivityType::MembershipResumed, EventName::Updated)
        }
    }
}

fn on_tier_expiry(l: &mut Linkage, program: &PartnerProgram) -> (SweepAction, ActivityType, EventName) {
    l.grace_ends_at = None;
    let target = match program.on_tier_expiry {
        OnTierExpiry::ExpireTier | OnTierExpiry::Delink => None,
        OnTierExpiry::DowngradeOneTier => l
            .tier_number
            .and_then(|current| program.tiers.iter().filter(|t| t.tier_number < current).max_by_key(|t| t.tier_number)),
        OnTierExpiry::DowngradeToLowestTier => {
            program.lowest_tier().filter(|lowest| l.tier_number.is_some_and(|current| lowest.tier_number < current))
        }
    };
    match (program.on_tier_expiry, target) {
        (OnTierExpiry::Delink, _) => {
            l.linked = false;
            l.status = LinkageStatus::Delinked;
            l.pending_relink = None;
            (SweepAction::Delink, ActivityType::Delink, EventName::Delinked)
        }
        (how, Some(tier)) => {
            l.tier_number = Some(tier.tier_number);
            l.tier_name = Some(tier.tier_name.clone());
            l.tier_expiry_date = None;
            l.status = LinkageStatus::Active;
            let action = if how == OnTierExpiry::DowngradeOneTier {
                SweepAction::DowngradeOneTier
            } else {
                SweepAction::DowngradeToLowestTier
            };
            (action, ActivityType::Downgrade, EventName::TierExpired)
        }
        (_, None) => {
            l.status = LinkageStatus::TierExpired;
            (SweepAction::ExpireTier, ActivityType::TierExpired, EventName::TierExpired)
        }
    }
}

/// The membership a member of an expiring program gets in that program's `backup` program, if
/// any: a fresh period from the expiry instant `at` (as the preview says, however late the sweep
/// runs, so `now` only decides whether that period is already over), at the backup's lowest tier
/// when it is tier based, ending no later than the backup's own expiry. None when the backup has
/// expired by `at`, the customer is not enrolled in its loyalty program or is already linked there,
/// the backup has no membership period, or the period is over by `now`.
///
/// Built from an existing linkage (the customer's backup one, else the member's) rather than a
/// literal, so fields the model gains later keep their meaning; every field that matters is set.
pub fn backup_linkage(
    member: &Linkage,
    backup: &PartnerProgram,
    existing: Option<&Linkage>,
    customer: &Customer,
    org: &Org,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<Linkage> {
    if backup.is_expired_at(at)
        || !customer.is_enrolled_in(backup.loyalty_program_id)
        || existing.is_some_and(|l| l.linked)
    {
        return None;
    }
    let start = at;
    let mut end = add_period(start, backup.period()?, &org.tz());
    if let Some(expiry) = backup.expiry_date {
        end = end.min(expiry);
    }
    if end <= start || end <= now {
        return None;
    }
    let mut linkage = existing.cloned().unwrap_or_else(|| member.clone());
    linkage.partner_program_id = backup.partner_program_id;
    linkage.partner_program_name = backup.partner_program_name.clone();
    linkage.partner_program_type = backup.partner_program_type;
    linkage.partner_membership_id = None;
    let tier = if backup.tier_based { backup.lowest_tier() } else { None };
    linkage.tier_number = tier.map(|t| t.tier_number);
    linkage.tier_name = tier.map(|t| t.tier_name.clone());
    linkage.tier_expiry_date = None;
    linkage.membership_start_date = start;
    linkage.membership_end_date = Some(end);
    linkage.status = LinkageStatus::Active;
    linkage.linked = true;
    linkage.version = existing.map_or(1, |l| l.version + 1);
    linkage.last_activity = ActivityType::BackupSupplementaryMembershipStarted;
    linkage.last_updated = start;
    linkage.grace_ends_at = None;
    linkage.pause = None;
    linkage.benefit_counters = Default::default();
    // Under the one-subscription rule the guard moves with the member to its backup membership.
    linkage.holds_subscription = member.holds_subscription
        && org.one_supplementary_per_customer
        && backup.partner_program_type == PartnerProgramType::Supplementary;
    if existing.is_none() {
        linkage.pending_relink = None;
    }
    Some(linkage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn program(on: OnTierExpiry, grace: u32) -> PartnerProgram {
        let tier = |n, name: &str| Tier { tier_number: n, tier_name: name.into() };
        PartnerProgram {
            partner_program_id: 5,
            partner_program_name: "SkyMiles".into(),
            loyalty_program_id: 1,
            partner_program_type: PartnerProgramType::External,
            description: String::new(),
            tier_based: true,
            tiers: vec![tier(1, "Silver"), tier(2, "Gold"), tier(3, "Platinum")],
            benefits: vec![],
            points_exchange_rate: None,
            membership_period_type: None,
            membership_period_value: None,
            expiry_date: None,
            backup_partner_program_name: None,
            on_tier_expiry: on,
            tier_grace_period_days: grace,
            expiry_reminder_days: vec![],
        }
    }

    fn linkage(tier: u32, expiry: &str) -> Linkage {
        Linkage {
            org_id: 1,
            customer_id: 2,
            partner_program_id: 5,
            partner_program_name: "SkyMiles".into(),
            partner_program_type: PartnerProgramType::External,
            partner_membership_id: Some("SM-1".into()),
            tier_number: Some(tier),
            tier_name: Some(["", "Silver", "Gold", "Platinum"][tier as usize].into()),
            tier_expiry_date: Some(t(expiry)),
            membership_start_date: t("2030-01-01T00:00:00Z"),
            membership_end_date: None,
            status: LinkageStatus::Active,
            linked: true,
            version: 3,
            last_activity: ActivityType::Enrollment,
            last_updated: t("2030-01-01T00:00:00Z"),
            pending_relink: None,
            benefit_counters: Default::default(),
            grace_ends_at: None,
            recent_changes: Vec::new(),
            holds_subscription: false,
            pause: None,
        }
    }

    fn actions(p: &Plan) -> Vec<SweepAction> {
        p.steps.iter().map(|s| s.action).collect()
    }

    #[test]
    fn nothing_before_the_due_date() {
        let p =
            plan(&linkage(3, "2031-01-01T00:00:00Z"), &program(OnTierExpiry::ExpireTier, 0), t("2030-12-31T23:59:59Z"));
        assert!(p.is_empty());
        assert_eq!(p.after.version, 3);
    }

    #[test]
    fn each_on_tier_expiry_action() {
        let now = t("2031-01-01T00:00:01Z");
        let cases = [
            (OnTierExpiry::ExpireTier, 3, SweepAction::ExpireTier, LinkageStatus::TierExpired, true, Some(3)),
            (OnTierExpiry::DowngradeOneTier, 3, SweepAction::DowngradeOneTier, LinkageStatus::Active, true, Some(2)),
            (
                OnTierExpiry::DowngradeToLowestTier,
                3,
                SweepAction::DowngradeToLowestTier,
                LinkageStatus::Active,
                true,
                Some(1),
            ),
            (OnTierExpiry::DowngradeOneTier, 1, SweepAction::ExpireTier, LinkageStatus::TierExpired, true, Some(1)),
            (
                OnTierExpiry::DowngradeToLowestTier,
                1,
                SweepAction::ExpireTier,
                LinkageStatus::TierExpired,
                true,
                Some(1),
            ),
            (OnTierExpiry::Delink, 3, SweepAction::Delink, LinkageStatus::Delinked, false, Some(3)),
        ];
        for (on, tier, action, status, linked, tier_after) in cases {
            let p = plan(&linkage(tier, "2031-01-01T00:00:00Z"), &program(on, 0), now);
            assert_eq!(actions(&p), vec![action], "{on:?}");
            assert_eq!((p.after.status, p.after.linked, p.after.tier_number), (status, linked, tier_after), "{on:?}");
            assert_eq!(p.after.version, 4);
            assert_eq!(p.after.next_due(), None, "{on:?} leaves the due index");
        }
    }

    #[test]
    fn grace_first_then_the_action_when_grace_ends() {
        let prog = program(OnTierExpiry::DowngradeOneTier, 7);
        let l = linkage(3, "2031-01-01T00:00:00Z");
        let p = plan(&l, &prog, t("2031-01-02T00:00:00Z"));
        assert_eq!(actions(&p), vec![SweepAction::GraceStarted]);
        assert_eq!(p.after.status, LinkageStatus::InGrace);
        assert_eq!(p.after.grace_ends_at, Some(t("2031-01-08T00:00:00Z")));
        assert_eq!(p.after.next_due(), Some(t("2031-01-08T00:00:00Z")));
        // A late sweep applies both, in order, dated when each fell due.
        let p = plan(&l, &prog, t("2031-01-09T00:00:00Z"));
        assert_eq!(actions(&p), vec![SweepAction::GraceStarted, SweepAction::DowngradeOneTier]);
        assert_eq!(p.steps[1].at, t("2031-01-08T00:00:00Z"));
        assert_eq!(
            p.after.last_updated,
            t("2031-01-08T00:00:00Z"),
            "dated when the last transition took effect, not when the sweep ran"
        );
        assert_eq!(p.steps[0].after.last_updated, t("2031-01-01T00:00:00Z"));
        assert_eq!(
            (p.after.status, p.after.tier_number, p.after.grace_ends_at),
            (LinkageStatus::Active, Some(2), None)
        );
    }

    #[test]
    fn effective_status_agrees_with_the_sweep() {
        let prog = program(OnTierExpiry::ExpireTier, 3);
        let l = linkage(2, "2031-01-01T00:00:00Z");
        for now in ["2031-01-02T00:00:00Z", "2031-01-05T00:00:00Z"] {
            let now = t(now);
            assert_eq!(
                l.effective_status(now, Some(&prog)),
                plan(&l, &prog, now).after.effective_status(now, Some(&prog))
            );
        }
    }

    /// A SUPPLEMENTARY membership (ending 2031-02-01) paused from 10 to 20 January, its end then
    /// moved by those ten days.
    fn paused_membership() -> (Linkage, PartnerProgram) {
        let mut l = linkage(1, "2031-01-01T00:00:00Z");
        l.partner_program_type = PartnerProgramType::Supplementary;
        (l.tier_number, l.tier_name, l.tier_expiry_date) = (None, None, None);
        l.membership_end_date = Some(t("2031-02-01T00:00:00Z"));
        l.status = LinkageStatus::Paused;
        l.pause = Some(MembershipPause {
            paused_from: t("2031-01-10T00:00:00Z"),
            paused_until: t("2031-01-20T00:00:00Z"),
            end_after_window: t("2031-02-11T00:00:00Z"),
            resumed_at: None,
        });
        let mut prog = program(OnTierExpiry::ExpireTier, 0);
        prog.partner_program_type = PartnerProgramType::Supplementary;
        (l, prog)
    }

    #[test]
    fn a_pause_past_its_end_reads_resumed_before_the_sweep_as_the_sweep_records_it() {
        let (l, prog) = paused_membership();
        assert_eq!(l.effective_status(t("2031-01-19T23:59:59Z"), Some(&prog)), LinkageStatus::Paused);
        // Past the window, and past the end it had before the pause: resumed, not expired.
        for now in ["2031-01-20T00:00:00Z", "2031-02-05T00:00:00Z", "2031-02-11T00:00:00Z"] {
            let now = t(now);
            let swept = plan(&l, &prog, now).after;
            assert_eq!(
                l.effective_status(now, Some(&prog)),
                swept.effective_status(now, Some(&prog)),
                "{now}: the read agrees with the sweep"
            );
        }
        assert_eq!(l.effective_status(t("2031-02-05T00:00:00Z"), Some(&prog)), LinkageStatus::Active);
        assert_eq!(l.effective_status(t("2031-02-11T00:00:00Z"), Some(&prog)), LinkageStatus::Expired, "moved end");
    }

    #[test]
    fn supplementary_end_and_relinks() {
        let mut l = linkage(1, "2031-01-01T00:00:00Z");
        l.partner_program_type = PartnerProgramType::Supplementary;
        l.tier_number = None;
        l.tier_name = None;
        l.tier_expiry_date = None;
        l.membership_end_date = Some(t("2031-02-01T00:00:00Z"));
        let mut prog = program(OnTierExpiry::ExpireTier, 0);
        prog.partner_program_type = PartnerProgramType::Supplementary;
        let p = plan(&l, &prog, t("2031-02-01T00:00:00Z"));
        assert_eq!(actions(&p), vec![SweepAction::SupplementaryExpired]);
        assert!(!p.after.linked);
        assert_eq!(p.released_membership_ids, vec!["SM-1".to_string()]);

        l.pending_relink = Some(PendingRelink {
            membership_start_date: t("2031-03-01T00:00:00Z"),
            membership_end_date: t("2031-04-01T00:00:00Z"),
            partner_membership_id: Some("SM-2".into()),
            tier_number: None,
            tier_name: None,
            tier_expiry_date: None,
            scheduled_at: t("2031-01-15T00:00:00Z"),
        });
        let p = plan(&l, &prog, t("2031-02-02T00:00:00Z"));
        assert_eq!(actions(&p), vec![SweepAction::SupplementaryExpired]);
        assert_eq!(p.after.next_due(), Some(t("2031-03-01T00:00:00Z")), "the pending relink keeps it in the index");
        let p = plan(&l, &prog, t("2031-03-01T00:00:00Z"));
        assert_eq!(actions(&p), vec![SweepAction::SupplementaryExpired, SweepAction::RelinkActivated]);
        assert_eq!((p.after.linked, p.after.status), (true, LinkageStatus::Active));
        assert_eq!(p.after.partner_membership_id.as_deref(), Some("SM-2"));
        assert_eq!(p.after.membership_end_date, Some(t("2031-04-01T00:00:00Z")));
        assert_eq!(p.released_membership_ids, vec!["SM-1".to_string()]);
    }

    #[test]
    fn program_expiry_comes_first_and_names_the_backup() {
        let mut prog = program(OnTierExpiry::ExpireTier, 0);
        prog.expiry_date = Some(t("2031-01-01T00:00:00Z"));
        prog.backup_partner_program_name = Some("Backup".into());
        let l = linkage(2, "2031-01-01T00:00:00Z");
        let p = plan(&l, &prog, t("2031-01-01T00:00:00Z") + Duration::hours(1));
        assert_eq!(actions(&p), vec![SweepAction::ProgramEarlyExpiry]);
        assert_eq!(p.migrate_to_backup.as_deref(), Some("Backup"));
        assert_eq!((p.after.linked, p.after.status), (false, LinkageStatus::Expired));
        assert_eq!(p.after.next_due(), None);
        // Already expired: nothing more to do.
        assert!(plan(&p.after, &prog, t("2032-01-01T00:00:00Z")).is_empty());
    }

    #[test]
    fn pending_linkage_activates_at_its_start() {
        let mut l = linkage(2, "2031-06-01T00:00:00Z");
        l.status = LinkageStatus::Pending;
        l.membership_start_date = t("2031-01-01T00:00:00Z");
        let p = plan(&l, &program(OnTierExpiry::ExpireTier, 0), t("2031-01-01T00:10:00Z"));
        assert_eq!(actions(&p), vec![SweepAction::PendingActivated]);
        assert_eq!(p.after.status, LinkageStatus::Active);
        assert_eq!(p.after.next_due(), Some(t("2031-06-01T00:00:00Z")));
    }

    fn backup_program() -> PartnerProgram {
        let mut b = program(OnTierExpiry::ExpireTier, 0);
        b.partner_program_id = 9;
        b.partner_program_name = "Backup".into();
        b.loyalty_program_id = 1;
        b.partner_program_type = PartnerProgramType::Supplementary;
        b.membership_period_type = Some(PeriodType::Months);
        b.membership_period_value = Some(3);
        b
    }

    fn customer(enrolled_in: &[u64]) -> Customer {
        let enrollments = enrolled_in.iter().map(|id| (id.to_string(), t("2029-01-01T00:00:00Z"))).collect();
        Customer {
            customer_id: 2,
            mobile: None,
            email: None,
            external_id: None,
            first_name: None,
            last_name: None,
            enrollments,
            created_at: t("2029-01-01T00:00:00Z"),
            erased_at: None,
        }
    }

    fn org(one_supplementary: bool) -> Org {
        Org { org_id: 1, name: "o".into(), time_zone: "UTC".into(), one_supplementary_per_customer: one_supplementary }
    }

    /// The member of the expiring program, as its expiry left it (version 4, unlinked).
    fn expired_member() -> Linkage {
        let mut prog = program(OnTierExpiry::ExpireTier, 0);
        prog.expiry_date = Some(t("2031-01-01T00:00:00Z"));
        plan(&linkage(2, "2032-01-01T00:00:00Z"), &prog, t("2031-01-01T00:00:00Z")).after
    }

    #[test]
    fn backup_membership_starts_at_the_program_expiry_instant_not_when_the_sweep_runs() {
        let (at, late_sweep) = (t("2031-01-01T00:00:00Z"), t("2031-01-20T08:00:00Z"));
        let member = expired_member();
        let b = backup_linkage(&member, &backup_program(), None, &customer(&[1]), &org(false), at, late_sweep).unwrap();
        assert_eq!(b.membership_start_date, at, "start = the program's expiry instant");
        assert_eq!(b.last_updated, at);
        assert_eq!(b.membership_end_date, Some(t("2031-04-01T00:00:00Z")), "one period (3 months) from the start");
        assert_eq!((b.partner_program_id, b.partner_program_name.as_str()), (9, "Backup"));
        assert_eq!(b.partner_program_type, PartnerProgramType::Supplementary);
        assert_eq!((b.status, b.linked, b.version), (LinkageStatus::Active, true, 1));
        assert_eq!(b.last_activity, ActivityType::BackupSupplementaryMembershipStarted);
        assert_eq!((b.tier_number, b.tier_name.as_deref()), (Some(1), Some("Silver")), "the lowest tier");
        assert_eq!((&b.partner_membership_id, b.tier_expiry_date, b.grace_ends_at), (&None, None, None));
        assert_eq!((&b.pending_relink, &b.pause, b.holds_subscription), (&None, &None, false));
        assert_eq!((b.org_id, b.customer_id), (member.org_id, member.customer_id));
        assert_eq!(b.next_due(), Some(t("2031-04-01T00:00:00Z")), "its end puts it in the due index");
    }

    #[test]
    fn backup_membership_ends_at_the_backup_programs_own_expiry_and_not_at_all_once_over() {
        let at = t("2031-01-01T00:00:00Z");
        let mut backup = backup_program();
        backup.expiry_date = Some(t("2031-02-01T00:00:00Z"));
        let (member, c, o) = (expired_member(), customer(&[1]), org(false));
        let b = backup_linkage(&member, &backup, None, &c, &o, at, at).unwrap();
        assert_eq!(b.membership_end_date, Some(t("2031-02-01T00:00:00Z")));
        // A sweep that comes after the period would have ended starts nothing.
        assert_eq!(backup_linkage(&member, &backup, None, &c, &o, at, t("2031-02-01T00:00:00Z")), None);
        // A backup expired by the instant starts nothing either.
        backup.expiry_date = Some(at);
        assert_eq!(backup_linkage(&member, &backup, None, &c, &o, at, at), None);
    }

    #[test]
    fn no_backup_membership_without_enrolment_period_or_when_already_linked_there() {
        let at = t("2031-01-01T00:00:00Z");
        let (member, backup, o) = (expired_member(), backup_program(), org(false));
        assert_eq!(backup_linkage(&member, &backup, None, &customer(&[7]), &o, at, at), None, "not enrolled");
        let mut no_period = backup_program();
        no_period.membership_period_value = None;
        assert_eq!(backup_linkage(&member, &no_period, None, &customer(&[1]), &o, at, at), None, "no period");
        let mut linked_there = member.clone();
        linked_there.partner_program_id = 9;
        linked_there.linked = true;
        assert_eq!(backup_linkage(&member, &backup, Some(&linked_there), &customer(&[1]), &o, at, at), None);
    }

    #[test]
    fn an_old_backup_linkage_is_renewed_in_place_and_the_guard_follows_the_member() {
        let at = t("2031-01-01T00:00:00Z");
        let mut member = expired_member();
        member.holds_subscription = true;
        let mut old = member.clone();
        old.partner_program_id = 9;
        old.linked = false;
        old.status = LinkageStatus::Expired;
        old.version = 6;
        old.recent_changes = vec![];
        let b = backup_linkage(&member, &backup_program(), Some(&old), &customer(&[1]), &org(true), at, at).unwrap();
        assert_eq!((b.version, b.linked, b.status), (7, true, LinkageStatus::Active), "the version read, plus one");
        assert!(b.holds_subscription, "under the one-subscription rule the guard moves to the backup membership");
        let b = backup_linkage(&member, &backup_program(), Some(&old), &customer(&[1]), &org(false), at, at).unwrap();
        assert!(!b.holds_subscription, "without the rule there is no guard");
    }
}
