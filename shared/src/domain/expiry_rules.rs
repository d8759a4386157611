//! What the scheduled sweep does to one linkage (PRODUCT.md §6), as a pure function the sweep and
//! the expiry preview share: every transition due up to a moment, in the order they fell due.
//!
//! Transitions, each one activity and one outbox event:
//! - EXTERNAL tier expiry: with `tierGracePeriodDays` > 0 first `IN_GRACE` (`TIER_GRACE_STARTED`,
//!   grace anchored on the expiry date, as `Linkage::effective_status` reads it), then at grace end
//!   (or at once without grace) the program's `onTierExpiry`: `EXPIRE_TIER` → `TIER_EXPIRED`;
//!   `DOWNGRADE_ONE_TIER` / `DOWNGRADE_TO_LOWEST_TIER` → `DOWNGRADE` to that tier, `ACTIVE` with no
//!   tier expiry until the partner sends one (at the lowest tier already: as `EXPIRE_TIER`);
//!   `DELINK` → `DELINK`, `linked: false`.
//! - SUPPLEMENTARY membership end → `SUPPLEMENTARY_MEMBERSHIP_EXPIRED`, `linked: false`.
//! - A `PENDING` linkage whose start has come → `ACTIVE` (`SUPPLEMENTARY_MEMBERSHIP_STARTED`, or
//!   `ENROLLMENT` for EXTERNAL; the link itself recorded `MEMBERSHIP_START_SCHEDULED`); a pending
//!   relink whose start has come replaces the membership (`SUPPLEMENTARY_MEMBERSHIP_STARTED`).
//!
//! Every transition is dated when it took effect (its due moment), whenever the sweep runs: its
//! activity, the linkage's `lastUpdated` and a backup membership's start.
//! - Program expiry → `PARTNER_PROGRAM_EARLY_EXPIRY`, `linked: false`, any pending relink dropped;
//!   the sweep adds the backup program's membership (it needs reads this module does not do).
//!
//! - A paused SUPPLEMENTARY membership whose window has passed → `ACTIVE` (`MEMBERSHIP_RESUMED`),
//!   its end moved by the window's length; while paused its end is not due.
//!
//! When several fall due together, program expiry comes first (a membership end capped at the
//! program's expiry is the program expiring), then a relink start (a seamless renewal), then the rest.

use crate::domain::model::*;
use crate::storage::outbox::EventName;
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
            // The whole window passed: the end moves by its length, as computed when paused.
            l.status = LinkageStatus::Active;
            if let Some(p) = &mut l.pause {
                l.membership_end_date = Some(p.end_after_window);
                p.resumed_at = Some(at);
            }
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
}
