//! `POST /v2/partnerProgram/linkCustomer` (docs/contract.md#error-catalog): rules checked in the documented
//! order per program entry; SUPPLEMENTARY membership end; pending relinks.

use crate::domain::catalog::OrgCatalog;
use crate::domain::dates::{add_period, parse_request_date};
use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::limits::{check_text, MAX_MEMBERSHIP_ID_CHARS};
use crate::domain::model::activity_for;
use crate::domain::model::EventName;
use crate::domain::model::*;
use crate::domain::text::value_as_text;
use crate::http::api::ApiRequest;
use crate::http::batch::{self};
use crate::http::router::Answer;
use crate::state::linkage_write::{change_linkage, ItemWrite, Prepared, StorageFailure};
use crate::state::AppState;
use crate::storage::linkage_items;
use crate::storage::outbox;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[serde_with::skip_serializing_none]
#[derive(Deserialize, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct LinkEntry {
    #[serde(default)]
    partner_program_name: Option<String>,
    #[serde(default)]
    customer_partner_reference: Option<PartnerReference>,
    /// Extension: why (`{"code", "note"}`), stored with the change's history record and event.
    #[serde(default)]
    reason: Option<Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Deserialize, Serialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct PartnerReference {
    #[serde(default)]
    partner_membership_id: Option<Value>,
    #[serde(default)]
    partner_tier_name: Option<String>,
    #[serde(default)]
    partner_tier_expiry_date: Option<String>,
    #[serde(default)]
    membership_start_date: Option<String>,
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    batch::handle(state, req, &batch::LINK, |catalog, customer, entry: LinkEntry, item| async move {
        match item.because(entry.reason.as_ref()) {
            Ok(item) => link_one(state, &item, &catalog, &customer, &entry).await,
            Err(refused) => Ok(refused),
        }
    })
    .await
}

/// What the entry asks for, validated against the program (everything that does not depend on
/// the current linkage).
struct LinkPlan<'a> {
    program: &'a PartnerProgram,
    membership_id: Option<String>,
    tier: Option<Tier>,
    tier_expiry: Option<DateTime<Utc>>,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
}

fn plan<'a>(
    catalog: &'a OrgCatalog,
    customer: &Customer,
    entry: &LinkEntry,
    now: DateTime<Utc>,
) -> Result<LinkPlan<'a>, ItemStatus> {
    let tz = catalog.zone();
    let name = entry.partner_program_name.as_deref().map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(ErrorCode::EmptyRequiredField.with_detail("partnerProgramName is empty"));
    }
    let program = catalog
        .partner_program(name)
        .ok_or_else(|| ErrorCode::UnknownPartnerProgram.with_detail(format!("no partner program named {name:?}")))?;
    if !customer.is_enrolled_in(program.loyalty_program_id) {
        return Err(ErrorCode::NotEnrolled.with_detail(format!(
            "{name} belongs to loyalty program {}, in which the customer is not enrolled",
            program.loyalty_program_id
        )));
    }
    let reference = entry.customer_partner_reference.clone().unwrap_or_default();
    let tier = if program.tier_based {
        let tier_name = reference.partner_tier_name.as_deref().map(str::trim).unwrap_or("");
        if tier_name.is_empty() {
            return Err(
                ErrorCode::UnknownTier.with_detail(format!("{name} is tier based: partnerTierName is required"))
            );
        }
        Some(
            program
                .tier_by_name(tier_name)
                .cloned()
                .ok_or_else(|| ErrorCode::UnknownTier.with_detail(format!("{name} has no tier named {tier_name:?}")))?,
        )
    } else {
        None
    };
    let tier_expiry = match reference.partner_tier_expiry_date.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) if program.tier_based => {
            let t = parse_request_date("partnerTierExpiryDate", raw, tz)
                .map_err(|e| ErrorCode::CannotProcess.with_detail(e.to_string()))?;
            if t <= now {
                return Err(
                    ErrorCode::PastTierExpiry.with_detail(format!("partnerTierExpiryDate {raw} is not in the future"))
                );
            }
            Some(t)
        }
        _ => None,
    };
    let start = match reference.membership_start_date.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => parse_request_date("membershipStartDate", raw, tz)
            .map_err(|e| ErrorCode::CannotProcess.with_detail(e.to_string()))?,
        None => now,
    };
    let end = match (program.partner_program_type, program.period()) {
        (PartnerProgramType::Supplementary, Some(period)) => {
            let mut end = add_period(start, period, tz);
            if let Some(exp) = program.expiry_date {
                end = end.min(exp);
            }
            if end <= now {
                return Err(ErrorCode::CannotProcess
                    .with_detail("the membership would end before now; check membershipStartDate"));
            }
            Some(end)
        }
        _ => None,
    };
    let membership_id = reference.partner_membership_id.as_ref().and_then(value_as_text);
    if let Some(mid) = &membership_id {
        // Part of the id's uniqueness key: checked before the key is built.
        check_text("partnerMembershipId", mid, MAX_MEMBERSHIP_ID_CHARS)
            .map_err(|e| ErrorCode::CannotProcess.with_detail(e.to_string()))?;
    }
    Ok(LinkPlan { program, membership_id, tier, tier_expiry, start, end })
}

async fn link_one(
    state: &AppState,
    item: &ItemWrite,
    catalog: &OrgCatalog,
    customer: &Customer,
    entry: &LinkEntry,
) -> Result<ItemStatus, StorageFailure> {
    let now = state.now();
    let plan = match plan(catalog, customer, entry, now) {
        Ok(p) => p,
        Err(status) => return Ok(status),
    };
    let program = plan.program;
    let one_subscription =
        catalog.org.one_supplementary_per_customer && program.partner_program_type == PartnerProgramType::Supplementary;
    if one_subscription {
        if let Some(status) = other_subscription(state, catalog, customer.customer_id, program, now).await? {
            return Ok(status);
        }
    }
    let link = Link { table: state.store.table(), catalog, customer, plan: &plan, one_subscription };
    let status = change_linkage(
        state,
        item,
        catalog.org.org_id,
        customer.customer_id,
        program.partner_program_id,
        |current, now| link.prepare(current, now),
    )
    .await?;
    if status.detail.as_deref() == Some(SUBSCRIPTION_TAKEN) {
        // Lost the guard to a concurrent link: name the program that won it.
        if let Some(named) = other_subscription(state, catalog, customer.customer_id, program, now).await? {
            return Ok(named);
        }
    }
    Ok(status)
}

/// What a link applies, given the linkage as it is now: the rules that depend on the current
/// linkage (`decide`), the linkage after (`new_linkage` / `with_pending_relink`) and the
/// conditions that commit with it (`guards`).
struct Link<'a> {
    table: &'a str,
    catalog: &'a OrgCatalog,
    customer: &'a Customer,
    plan: &'a LinkPlan<'a>,
    one_subscription: bool,
}

/// How a link applies to the current linkage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkMode {
    /// A new membership (no linkage, or a delinked one).
    New,
    /// Linked already to a SUPPLEMENTARY program, and the new membership starts later: kept as a
    /// pending relink the sweep applies when the current one ends.
    ScheduleRelink,
}

/// The rules a link checks against the current linkage: linked already → 2005 (unless it schedules
/// a SUPPLEMENTARY relink for later); an expired program takes no new links → 2001.
fn decide(
    program: &PartnerProgram,
    current: Option<&Linkage>,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<LinkMode, ItemStatus> {
    let already_linked = current.is_some_and(|l| l.linked);
    let is_supplementary = program.partner_program_type == PartnerProgramType::Supplementary;
    let schedule_relink = already_linked && is_supplementary && start > now;
    if already_linked && !schedule_relink {
        return Err(ErrorCode::AlreadyLinked.with_detail(format!("already linked to {}", program.partner_program_name)));
    }
    if program.is_expired_at(now) {
        return Err(ErrorCode::CannotProcess
            .with_detail(format!("{} expired; it accepts no new links", program.partner_program_name)));
    }
    Ok(if schedule_relink { LinkMode::ScheduleRelink } else { LinkMode::New })
}

/// The activity a new membership records: one starting later is scheduled now and started by the
/// sweep, so the history records each when it happens.
fn new_membership_activity(program: &PartnerProgram, start: DateTime<Utc>, now: DateTime<Utc>) -> ActivityType {
    match (start > now, program.partner_program_type == PartnerProgramType::Supplementary) {
        (true, _) => ActivityType::MembershipStartScheduled,
        (false, true) => ActivityType::SupplementaryMembershipStarted,
        (false, false) => ActivityType::Enrollment,
    }
}

/// The linkage a new membership creates (version and bookkeeping are set by `Link::prepare`).
fn new_linkage(
    org: OrgId,
    customer: CustomerId,
    plan: &LinkPlan<'_>,
    kind: ActivityType,
    now: DateTime<Utc>,
) -> Linkage {
    let program = plan.program;
    Linkage {
        org_id: org,
        customer_id: customer,
        partner_program_id: program.partner_program_id,
        partner_program_name: program.partner_program_name.clone(),
        partner_program_type: program.partner_program_type,
        partner_membership_id: plan.membership_id.clone(),
        tier_number: plan.tier.as_ref().map(|t| t.tier_number),
        tier_name: plan.tier.as_ref().map(|t| t.tier_name.clone()),
        tier_expiry_date: plan.tier_expiry,
        membership_start_date: plan.start,
        membership_end_date: plan.end,
        status: if plan.start > now { LinkageStatus::Pending } else { LinkageStatus::Active },
        linked: true,
        version: 0,
        last_activity: kind,
        last_updated: now,
        pending_relink: None,
        benefit_counters: Default::default(),
        grace_ends_at: None,
        recent_changes: Vec::new(),
        holds_subscription: false,
        pause: None,
    }
}

/// The relink a SUPPLEMENTARY membership keeps until its current one ends.
fn pending_relink(plan: &LinkPlan<'_>, now: DateTime<Utc>) -> PendingRelink {
    PendingRelink {
        membership_start_date: plan.start,
        membership_end_date: plan.end.unwrap_or(plan.start),
        partner_membership_id: plan.membership_id.clone(),
        tier_number: plan.tier.as_ref().map(|t| t.tier_number),
        tier_name: plan.tier.as_ref().map(|t| t.tier_name.clone()),
        tier_expiry_date: plan.tier_expiry,
        scheduled_at: now,
    }
}

/// The membership id a replaced pending relink claimed and nobody uses any more, if any: given
/// back in the same transaction, unless the current membership or the new relink still uses it.
fn released_relink_id<'a>(current: Option<&'a Linkage>, plan: &LinkPlan<'_>) -> Option<&'a String> {
    let old = current.and_then(|c| c.pending_relink.as_ref()).and_then(|p| p.partner_membership_id.as_ref())?;
    let still_used =
        current.and_then(|c| c.partner_membership_id.as_ref()) == Some(old) || plan.membership_id.as_ref() == Some(old);
    (!still_used).then_some(old)
}

impl Link<'_> {
    fn prepare(&self, current: Option<&Linkage>, now: DateTime<Utc>) -> Result<Prepared, ItemStatus> {
        let (program, org, customer) = (self.plan.program, self.catalog.org.org_id, self.customer);
        let mode = decide(program, current, self.plan.start, now)?;
        let (mut after, kind, event_name, update_type) = match (current, mode) {
            (Some(cur), LinkMode::ScheduleRelink) => {
                let mut after = cur.clone();
                after.pending_relink = Some(pending_relink(self.plan, now));
                let kind = ActivityType::MembershipRelinkingScheduled;
                (after, kind, EventName::Updated, kind.as_str())
            }
            _ => {
                let kind = new_membership_activity(program, self.plan.start, now);
                (new_linkage(org, customer.customer_id, self.plan, kind, now), kind, EventName::Linked, "LINK")
            }
        };
        after.version = current.map_or(1, |c| c.version + 1);
        after.last_activity = kind;
        after.last_updated = now;
        let extras = self.guards(current, mode, &mut after)?;
        Ok(Prepared {
            activity: activity_for(current, &after, kind, now),
            event: Some(outbox::event(
                event_name,
                update_type,
                org,
                customer,
                program,
                &after,
                now,
                self.catalog.zone(),
            )),
            expected_version: current.map(|c| c.version),
            after,
            extras,
        })
    }

    /// The conditions that commit with the link, each with the status it gives when it fails:
    /// still enrolled; a replaced relink's id given back; the one-subscription guard claimed;
    /// the membership id claimed for this customer, with its trail.
    fn guards(
        &self,
        current: Option<&Linkage>,
        mode: LinkMode,
        after: &mut Linkage,
    ) -> Result<Vec<(TransactWriteItem, ItemStatus)>, ItemStatus> {
        let (table, program, org, customer) =
            (self.table, self.plan.program, self.catalog.org.org_id, self.customer.customer_id);
        let mut extras = vec![(
            linkage_items::enrollment(table, org, customer, program.loyalty_program_id).map_err(internal)?,
            ErrorCode::NotEnrolled.with_detail("the customer's enrolment changed while linking"),
        )];
        if mode == LinkMode::ScheduleRelink {
            if let Some(old) = released_relink_id(current, self.plan) {
                extras.push((
                    linkage_items::release_membership_id(table, org, program.partner_program_id, old)
                        .map_err(internal)?,
                    ErrorCode::CannotProcess.status(),
                ));
            }
        }
        // The one-subscription rule holds inside the transaction: of concurrent links to
        // different programs, only the one that claims the guard commits.
        if self.one_subscription && !after.holds_subscription {
            extras.push((
                linkage_items::claim_subscription(table, org, customer, program).map_err(internal)?,
                ErrorCode::CannotProcess.with_detail(SUBSCRIPTION_TAKEN),
            ));
            after.holds_subscription = true;
        }
        if let Some(mid) = &self.plan.membership_id {
            extras.push((
                linkage_items::claim_membership_id(table, org, program.partner_program_id, mid, customer)
                    .map_err(internal)?,
                ErrorCode::CannotProcess.with_detail(format!(
                    "partnerMembershipId is already used by another customer in {}",
                    program.partner_program_name
                )),
            ));
            // The id's trail commits with its claim, so a lookup finds the member after it ends.
            extras.push((
                linkage_items::membership_id_trail(table, org, program.partner_program_id, mid, customer)
                    .map_err(internal)?,
                ErrorCode::CannotProcess.status(),
            ));
        }
        Ok(extras)
    }
}

/// Detail of a link that lost the one-subscription guard inside its transaction (replaced by one
/// naming the winner once it is read back).
const SUBSCRIPTION_TAKEN: &str =
    "the customer took another SUPPLEMENTARY membership meanwhile; this org allows one at a time";

/// With the org's one-subscription rule on: the 2001 a link to `program` gets because the customer
/// already has another active SUPPLEMENTARY membership (the guard's holder, or one linked before
/// the rule was turned on), naming it.
async fn other_subscription(
    state: &AppState,
    catalog: &OrgCatalog,
    customer: CustomerId,
    program: &PartnerProgram,
    now: DateTime<Utc>,
) -> Result<Option<ItemStatus>, StorageFailure> {
    let org = catalog.org.org_id;
    let refuse = |name: &str| {
        ErrorCode::CannotProcess.with_detail(format!(
            "the customer already has an active SUPPLEMENTARY membership in {name}; this org allows one at a time \
             (oneSupplementaryPerCustomer)"
        ))
    };
    let guard = state.store.subscription(org, customer).await.map_err(StorageFailure::before_write)?;
    if let Some(g) = guard.filter(|g| g.partner_program_id != program.partner_program_id) {
        return Ok(Some(refuse(&g.partner_program_name)));
    }
    let linkages = state.store.linkages(org, customer).await.map_err(StorageFailure::before_write)?;
    let held = linkages.iter().find(|l| {
        l.partner_program_id != program.partner_program_id
            && l.partner_program_type == PartnerProgramType::Supplementary
            && matches!(
                l.effective_status(now, catalog.partner_program_by_id(l.partner_program_id)),
                LinkageStatus::Active | LinkageStatus::Pending
            )
    });
    Ok(held.map(|l| refuse(&l.partner_program_name)))
}

fn internal(e: crate::storage::store::StoreError) -> ItemStatus {
    tracing::error!(error = %e, "could not build a transaction item");
    ErrorCode::CannotProcess.with_detail("internal error while preparing the change")
}

#[cfg(test)]
mod link_rules {
    use super::*;
    use crate::operations::rule_fixtures::{flexipass, skymiles};
    use chrono::TimeZone;

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, day, 12, 0, 0).unwrap()
    }

    /// FlexiPass or SkyMiles (without tiers) of the rule fixtures, expiring at `expiry`.
    fn program(kind: PartnerProgramType, expiry: Option<DateTime<Utc>>) -> PartnerProgram {
        let base = match kind {
            PartnerProgramType::Supplementary => flexipass(),
            PartnerProgramType::External => PartnerProgram { tier_based: false, tiers: vec![], ..skymiles() },
        };
        PartnerProgram { expiry_date: expiry, ..base }
    }

    fn plan_for<'a>(program: &'a PartnerProgram, start: DateTime<Utc>, membership_id: Option<&str>) -> LinkPlan<'a> {
        LinkPlan {
            program,
            membership_id: membership_id.map(str::to_string),
            tier: None,
            tier_expiry: None,
            start,
            end: Some(start + chrono::Duration::days(30)),
        }
    }

    fn linked(program: &PartnerProgram, linked: bool, membership_id: Option<&str>) -> Linkage {
        let plan = plan_for(program, at(1), membership_id);
        let mut l = new_linkage(1, 42, &plan, ActivityType::Enrollment, at(1));
        l.linked = linked;
        l
    }

    #[test]
    fn a_linked_customer_gets_2005_unless_a_supplementary_membership_starts_later() {
        let external = program(PartnerProgramType::External, None);
        let current = linked(&external, true, None);
        let refused = decide(&external, Some(&current), at(20), at(10)).unwrap_err();
        assert_eq!(refused.code, 2005);
        assert_eq!(refused.message, ErrorCode::AlreadyLinked.message());

        let supplementary = program(PartnerProgramType::Supplementary, None);
        let current = linked(&supplementary, true, None);
        assert_eq!(decide(&supplementary, Some(&current), at(20), at(10)), Ok(LinkMode::ScheduleRelink));
        assert_eq!(decide(&supplementary, Some(&current), at(10), at(10)).unwrap_err().code, 2005);
    }

    #[test]
    fn a_delinked_or_absent_linkage_is_linked_anew_and_an_expired_program_takes_none() {
        let external = program(PartnerProgramType::External, Some(at(15)));
        let delinked = linked(&external, false, None);
        assert_eq!(decide(&external, None, at(10), at(10)), Ok(LinkMode::New));
        assert_eq!(decide(&external, Some(&delinked), at(10), at(10)), Ok(LinkMode::New));
        let refused = decide(&external, None, at(15), at(15)).unwrap_err();
        assert_eq!(refused.code, 2001);
        assert!(refused.detail.unwrap().contains("expired"));
    }

    #[test]
    fn a_later_start_is_scheduled_and_a_start_now_is_started() {
        let supplementary = program(PartnerProgramType::Supplementary, None);
        let external = program(PartnerProgramType::External, None);
        assert_eq!(new_membership_activity(&supplementary, at(11), at(10)), ActivityType::MembershipStartScheduled);
        assert_eq!(new_membership_activity(&external, at(11), at(10)), ActivityType::MembershipStartScheduled);
        assert_eq!(
            new_membership_activity(&supplementary, at(10), at(10)),
            ActivityType::SupplementaryMembershipStarted
        );
        assert_eq!(new_membership_activity(&external, at(10), at(10)), ActivityType::Enrollment);
        let pending =
            new_linkage(1, 42, &plan_for(&supplementary, at(11), None), ActivityType::MembershipStartScheduled, at(10));
        assert_eq!(pending.status, LinkageStatus::Pending);
        let active = new_linkage(1, 42, &plan_for(&supplementary, at(10), None), ActivityType::Enrollment, at(10));
        assert_eq!(active.status, LinkageStatus::Active);
    }

    #[test]
    fn a_replaced_relink_gives_back_its_membership_id_only_when_nothing_uses_it() {
        let supplementary = program(PartnerProgramType::Supplementary, None);
        let mut current = linked(&supplementary, true, Some("M-1"));
        current.pending_relink = Some(pending_relink(&plan_for(&supplementary, at(20), Some("M-2")), at(10)));
        let new_id = plan_for(&supplementary, at(25), Some("M-3"));
        assert_eq!(released_relink_id(Some(&current), &new_id).map(String::as_str), Some("M-2"));
        let same_id = plan_for(&supplementary, at(25), Some("M-2"));
        assert_eq!(released_relink_id(Some(&current), &same_id), None);
        current.pending_relink = Some(pending_relink(&plan_for(&supplementary, at(20), Some("M-1")), at(10)));
        assert_eq!(released_relink_id(Some(&current), &new_id), None, "the current membership still uses M-1");
        assert_eq!(released_relink_id(None, &new_id), None);
    }
}

#[cfg(test)]
mod tests {
    //! `plan`: what a link entry asks for, checked against the program in the documented order.
    //! (Already linked → 2005 and a later start → `PENDING` depend on the stored linkage: `decide`
    //! and `new_linkage`, tested in `link_rules` above.)
    use super::*;
    use crate::operations::rule_fixtures::*;
    use chrono::Duration;
    use serde_json::json;

    fn entry(v: Value) -> LinkEntry {
        serde_json::from_value(v).unwrap()
    }

    fn planned(v: Value) -> Result<LinkPlan<'static>, ItemStatus> {
        let catalog: &'static OrgCatalog = Box::leak(Box::new(standard_catalog()));
        plan(catalog, &customer(), &entry(v), now())
    }

    fn code(v: Value) -> u16 {
        planned(v).map_or_else(|s| s.code, |_| 200)
    }

    fn sky(reference: Value) -> Value {
        json!({"partnerProgramName": "SkyMiles", "customerPartnerReference": reference})
    }

    fn flexi(reference: Value) -> Value {
        json!({"partnerProgramName": "FlexiPass", "customerPartnerReference": reference})
    }

    #[test]
    fn an_empty_or_missing_program_name_is_2002() {
        for v in [json!({}), json!({"partnerProgramName": ""}), json!({"partnerProgramName": "  "})] {
            let s = planned(v.clone()).err().unwrap();
            assert_eq!((s.code, s.message.as_str()), (2002, ErrorCode::EmptyRequiredField.message()), "{v}");
        }
    }

    #[test]
    fn an_unknown_program_is_2006_before_any_other_check() {
        // Tier and expiry are wrong too: the program is checked first.
        let v = json!({
            "partnerProgramName": "NoSuch",
            "customerPartnerReference": {"partnerTierName": "Nope", "partnerTierExpiryDate": "2020-01-01"}
        });
        assert_eq!(code(v), 2006);
        // Names are matched exactly (after trimming), as stored.
        assert_eq!(
            code(json!({"partnerProgramName": "skymiles", "customerPartnerReference": {"partnerTierName": "Gold"}})),
            2006
        );
        assert_eq!(
            code(json!({"partnerProgramName": " SkyMiles ", "customerPartnerReference": {"partnerTierName": "Gold"}})),
            200
        );
    }

    #[test]
    fn a_program_of_a_loyalty_program_the_customer_is_not_enrolled_in_is_2005_enroll() {
        let s = planned(json!({"partnerProgramName": "OtherMiles"})).err().unwrap();
        assert_eq!((s.code, s.message.as_str()), (2005, "Enroll the customer in the Loyalty Program."));
    }

    #[test]
    fn a_tier_based_program_needs_a_known_tier_else_2007() {
        assert_eq!(code(sky(json!({}))), 2007);
        assert_eq!(code(json!({"partnerProgramName": "SkyMiles"})), 2007);
        assert_eq!(code(sky(json!({"partnerTierName": " "}))), 2007);
        assert_eq!(code(sky(json!({"partnerTierName": "Diamond"}))), 2007);
        // The tier is checked before the expiry date.
        assert_eq!(code(sky(json!({"partnerTierName": "Diamond", "partnerTierExpiryDate": "2020-01-01"}))), 2007);
        // Tier names match case-insensitively and the stored tier is used.
        let p = planned(sky(json!({"partnerTierName": "gold"}))).ok().unwrap();
        assert_eq!(p.tier, Some(Tier { tier_number: 2, tier_name: "Gold".into() }));
    }

    #[test]
    fn a_tier_expiry_not_in_the_future_is_2003() {
        let past = (now() - Duration::seconds(1)).to_rfc3339();
        let s = planned(sky(json!({"partnerTierName": "Gold", "partnerTierExpiryDate": past}))).err().unwrap();
        assert_eq!((s.code, s.message.as_str()), (2003, "Partner tier expiry date should not be a past date."));
        // Exactly now is not in the future either.
        assert_eq!(code(sky(json!({"partnerTierName": "Gold", "partnerTierExpiryDate": now().to_rfc3339()}))), 2003);
        // A bare date of yesterday (in the org's zone) has passed.
        assert_eq!(code(sky(json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "2026-05-31"}))), 2003);
    }

    #[test]
    fn a_tier_expiry_bare_date_is_the_end_of_that_day_in_the_org_zone() {
        let p = planned(sky(json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "2027-01-31"}))).ok().unwrap();
        // 23:59:59 in Asia/Kolkata (+05:30).
        assert_eq!(p.tier_expiry, Some(at("2027-01-31T18:29:59Z")));
        let p = planned(sky(json!({"partnerTierName": "Gold"}))).ok().unwrap();
        assert_eq!(p.tier_expiry, None, "no expiry sent, none planned");
    }

    #[test]
    fn an_unreadable_date_is_2001_with_a_detail_naming_the_field() {
        let s = planned(sky(json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "31/01/2027"}))).err().unwrap();
        assert_eq!(s.code, 2001);
        assert!(s.detail.unwrap().contains("partnerTierExpiryDate"));
        let s = planned(flexi(json!({"membershipStartDate": "soon"}))).err().unwrap();
        assert_eq!(s.code, 2001);
        assert!(s.detail.unwrap().contains("membershipStartDate"));
    }

    #[test]
    fn a_program_without_tiers_ignores_tier_name_and_expiry() {
        let p = planned(flexi(json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "2020-01-01"}))).ok().unwrap();
        assert_eq!((p.tier, p.tier_expiry), (None, None));
    }

    #[test]
    fn a_supplementary_membership_starts_now_and_ends_after_its_period() {
        let p = planned(flexi(json!({}))).ok().unwrap();
        assert_eq!(p.start, now());
        assert_eq!(p.end, Some(now() + Duration::days(30)));
        // An EXTERNAL membership has no end.
        let p = planned(sky(json!({"partnerTierName": "Gold"}))).ok().unwrap();
        assert_eq!((p.start, p.end), (now(), None));
    }

    #[test]
    fn a_supplementary_membership_starting_later_is_planned_from_that_start() {
        // A start in the future: `link_one` stores it as PENDING (MEMBERSHIP_START_SCHEDULED).
        let p = planned(flexi(json!({"membershipStartDate": "2026-07-01T00:00:00Z"}))).ok().unwrap();
        assert!(p.start > now());
        assert_eq!((p.start, p.end), (at("2026-07-01T00:00:00Z"), Some(at("2026-07-31T00:00:00Z"))));
    }

    #[test]
    fn a_supplementary_membership_ends_no_later_than_its_program() {
        let mut flexi_ending = flexipass();
        flexi_ending.expiry_date = Some(now() + Duration::days(10));
        let catalog = catalog(vec![flexi_ending]);
        let p = plan(&catalog, &customer(), &entry(flexi(json!({}))), now()).ok().unwrap();
        assert_eq!(p.end, Some(now() + Duration::days(10)));
    }

    #[test]
    fn a_supplementary_membership_that_would_already_have_ended_is_2001() {
        let started = (now() - Duration::days(30)).to_rfc3339();
        let s = planned(flexi(json!({"membershipStartDate": started}))).err().unwrap();
        assert_eq!(s.code, 2001);
        assert!(s.detail.unwrap().contains("membershipStartDate"));
        let started = (now() - Duration::days(29)).to_rfc3339();
        assert_eq!(code(flexi(json!({"membershipStartDate": started}))), 200);
    }

    #[test]
    fn a_membership_id_is_kept_as_text_and_bounded() {
        let p = planned(sky(json!({"partnerTierName": "Gold", "partnerMembershipId": 12345}))).ok().unwrap();
        assert_eq!(p.membership_id.as_deref(), Some("12345"));
        let p = planned(sky(json!({"partnerTierName": "Gold", "partnerMembershipId": "SM-1"}))).ok().unwrap();
        assert_eq!(p.membership_id.as_deref(), Some("SM-1"));
        let at_limit = "M".repeat(MAX_MEMBERSHIP_ID_CHARS);
        assert_eq!(code(sky(json!({"partnerTierName": "Gold", "partnerMembershipId": at_limit}))), 200);
        let too_long = "M".repeat(MAX_MEMBERSHIP_ID_CHARS + 1);
        assert_eq!(code(sky(json!({"partnerTierName": "Gold", "partnerMembershipId": too_long}))), 2001);
        assert_eq!(code(sky(json!({"partnerTierName": "Gold", "partnerMembershipId": "SM\n1"}))), 2001);
    }
}
