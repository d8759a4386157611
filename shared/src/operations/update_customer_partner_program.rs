//! `POST /v2/partnerProgram/customerPartnerProgramUpdate`: tier changes, renewals, free updates,
//! a pending relink's cancellation, and pause and resume of a SUPPLEMENTARY membership, checked in
//! the order of docs/contract.md#check-order (pause and resume: docs/contract.md#scheduled-expiry).

use crate::domain::catalog::OrgCatalog;
use crate::domain::dates::{format_utc, parse_request_date};
use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::model::activity_for;
use crate::domain::model::EventName;
use crate::domain::model::*;
use crate::http::api::ApiRequest;
use crate::http::batch::{self};
use crate::http::router::Answer;
use crate::state::linkage_write::{change_linkage, ItemWrite, Prepared, StorageFailure};
use crate::state::AppState;
use crate::storage::linkage_items;
use crate::storage::outbox;
use crate::storage::store::StoreError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[serde_with::skip_serializing_none]
#[derive(Deserialize, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct UpdateEntry {
    #[serde(default)]
    partner_program_name: Option<String>,
    #[serde(default)]
    update_type: Option<String>,
    #[serde(default)]
    update_details: Option<UpdateDetails>,
    /// Extension: why (`{"code", "note"}`), stored with the change's history record and event.
    #[serde(default)]
    reason: Option<Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Deserialize, Serialize, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDetails {
    #[serde(default)]
    updated_tier_name: Option<String>,
    #[serde(default)]
    updated_tier_expiry_date: Option<String>,
    #[serde(default)]
    pause_end_date: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UpdateType {
    Upgrade,
    Downgrade,
    Renew,
    Update,
    RelinkingCancelled,
    Pause,
    Resume,
}

impl UpdateType {
    fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "UPGRADE" => Some(UpdateType::Upgrade),
            "DOWNGRADE" => Some(UpdateType::Downgrade),
            "RENEW" => Some(UpdateType::Renew),
            "UPDATE" => Some(UpdateType::Update),
            "MEMBERSHIP_RELINKING_CANCELLED" => Some(UpdateType::RelinkingCancelled),
            "PAUSE" => Some(UpdateType::Pause),
            "RESUME" => Some(UpdateType::Resume),
            _ => None,
        }
    }

    fn activity(self) -> ActivityType {
        match self {
            UpdateType::Upgrade => ActivityType::Upgrade,
            UpdateType::Downgrade => ActivityType::Downgrade,
            UpdateType::Renew => ActivityType::Renew,
            UpdateType::Update => ActivityType::Update,
            UpdateType::RelinkingCancelled => ActivityType::MembershipRelinkingCancelled,
            UpdateType::Pause => ActivityType::MembershipPaused,
            UpdateType::Resume => ActivityType::MembershipResumed,
        }
    }
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    batch::handle(state, req, &batch::UPDATE, |catalog, customer, entry: UpdateEntry, item| async move {
        match item.because(entry.reason.as_ref()) {
            Ok(item) => update_one(state, &item, &catalog, &customer, &entry).await,
            Err(refused) => Ok(refused),
        }
    })
    .await
}

/// What an entry asks for, once its shape is checked.
enum Request<'e> {
    Tier(TierRequest<'e>),
    Cancel,
    Pause(&'e str),
    Resume,
}

/// What a tier change asks for, as sent (checked against the program and linkage later, so the
/// codes come out in the documented order).
struct TierRequest<'e> {
    kind: UpdateType,
    tier_name: Option<&'e str>,
    expiry: Option<&'e str>,
}

/// The request-shape checks (2002, 2009) that need neither the program nor the linkage.
fn check_shape(entry: &UpdateEntry) -> Result<(&str, UpdateType, Request<'_>), ItemStatus> {
    let name = entry.partner_program_name.as_deref().map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(ErrorCode::EmptyRequiredField.with_detail("partnerProgramName is empty"));
    }
    let raw_type = entry.update_type.as_deref().unwrap_or("");
    let Some(kind) = UpdateType::parse(raw_type) else {
        return Err(ErrorCode::UnsupportedUpdateType.with_detail(format!(
            "updateType {raw_type:?} is not one of UPGRADE, DOWNGRADE, RENEW, UPDATE, \
             MEMBERSHIP_RELINKING_CANCELLED, PAUSE, RESUME"
        )));
    };
    match kind {
        UpdateType::RelinkingCancelled => return Ok((name, kind, Request::Cancel)),
        UpdateType::Resume => return Ok((name, kind, Request::Resume)),
        _ => {}
    }
    let Some(details) = &entry.update_details else {
        return Err(ErrorCode::EmptyRequiredField.with_detail(format!("updateDetails is required for {raw_type}")));
    };
    if kind == UpdateType::Pause {
        let end = details.pause_end_date.as_deref().map(str::trim).filter(|s| !s.is_empty());
        return match end {
            Some(end) => Ok((name, kind, Request::Pause(end))),
            None => Err(ErrorCode::EmptyRequiredField.with_detail("PAUSE needs updateDetails.pauseEndDate")),
        };
    }
    let tier_name = details.updated_tier_name.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let expiry = details.updated_tier_expiry_date.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if tier_name.is_none() && kind != UpdateType::Renew {
        return Err(ErrorCode::EmptyRequiredField
            .with_detail(format!("updateDetails.updatedTierName is required for {raw_type}")));
    }
    if expiry.is_none() && kind == UpdateType::Renew {
        return Err(ErrorCode::EmptyRequiredField.with_detail("RENEW needs a new updateDetails.updatedTierExpiryDate"));
    }
    Ok((name, kind, Request::Tier(TierRequest { kind, tier_name, expiry })))
}

async fn update_one(
    state: &AppState,
    item: &ItemWrite,
    catalog: &OrgCatalog,
    customer: &Customer,
    entry: &UpdateEntry,
) -> Result<ItemStatus, StorageFailure> {
    let (name, kind, request) = match check_shape(entry) {
        Ok(x) => x,
        Err(status) => return Ok(status),
    };
    let Some(program) = catalog.partner_program(name) else {
        return Ok(ErrorCode::UnknownPartnerProgram.with_detail(format!("no partner program named {name:?}")));
    };
    let org = catalog.org.org_id;
    let table = state.store.table().to_string();
    change_linkage(state, item, org, customer.customer_id, program.partner_program_id, |current, now| {
        let (after, mut extras) = match &request {
            Request::Tier(request) => (change_tier(catalog, program, current, request, now)?, Vec::new()),
            Request::Cancel => cancel_relink(&table, program, current, now)?,
            Request::Pause(end) => (pause(catalog, program, current, end, now)?, Vec::new()),
            Request::Resume => (resume(catalog, program, current, now)?, Vec::new()),
        };
        // Dated when the change took effect: now, but a late RESUME at the window's end.
        let mut activity = activity_for(current, &after, kind.activity(), after.last_updated);
        let records_lapsed_resume = matches!(request, Request::Pause(_) | Request::Tier(_));
        if let (true, Some(resumed)) = (records_lapsed_resume, current.and_then(|c| c.lapsed_pause_resumed(now))) {
            // The change was decided on a lapsed pause resumed at its window's end: that resume
            // is recorded first, as the sweep would have recorded it (step 0 of this version).
            let resumed = Linkage { version: after.version, ..resumed };
            extras.extend(lapsed_resume_items(&table, catalog, customer, program, current, &resumed, now)?);
            activity.from = Some(LinkState::of(&resumed));
            activity.step = 1;
        }
        Ok(Prepared {
            activity,
            event: Some(outbox::event(
                EventName::Updated,
                kind.activity().as_str(),
                org,
                customer,
                program,
                &after,
                now,
                catalog.zone(),
            )),
            expected_version: current.map(|c| c.version),
            after,
            extras,
        })
    })
    .await
}

/// The history record (step 0 of the change's version) and event of a lapsed pause's resume,
/// written in the transaction of the change decided on it: the history and the events show the
/// `MEMBERSHIP_RESUMED` the sweep would have recorded, dated at the window's end.
fn lapsed_resume_items(
    table: &str,
    catalog: &OrgCatalog,
    customer: &Customer,
    program: &PartnerProgram,
    stored: Option<&Linkage>,
    resumed: &Linkage,
    now: DateTime<Utc>,
) -> Result<Extras, ItemStatus> {
    let kind = ActivityType::MembershipResumed;
    let activity = activity_for(stored, resumed, kind, resumed.last_updated);
    let (org, zone) = (catalog.org.org_id, catalog.zone());
    let event = outbox::event(EventName::Updated, kind.as_str(), org, customer, program, resumed, now, zone);
    let refused = ErrorCode::CannotProcess.status();
    let build = || -> Result<Extras, StoreError> {
        Ok(vec![
            (linkage_items::history(table, activity)?, refused.clone()),
            (linkage_items::event(table, &event)?, refused),
        ])
    };
    build().map_err(internal)
}

fn internal(e: StoreError) -> ItemStatus {
    tracing::error!(error = %e, "could not build a transaction item");
    ErrorCode::CannotProcess.with_detail("internal error while preparing the change")
}

/// UPGRADE, DOWNGRADE, RENEW or UPDATE of the current linkage.
fn change_tier(
    catalog: &OrgCatalog,
    program: &PartnerProgram,
    current: Option<&Linkage>,
    request: &TierRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Linkage, ItemStatus> {
    let name = &program.partner_program_name;
    let Some(stored) = current.filter(|l| l.linked) else {
        return Err(ErrorCode::NotLinked.with_detail(format!("not linked to {name}")));
    };
    // Decided on the membership as it stands now (a lapsed pause resumed at its end, recorded
    // first by `update_one`); a pause still running stays, only the tier changes.
    let cur = &*stored.as_of(now);
    if !program.tier_based {
        return Err(ErrorCode::CannotProcess.with_detail(format!("{name} is not tier based; it has no tier to change")));
    }
    if program.is_expired_at(now) {
        return Err(ErrorCode::CannotProcess.with_detail(format!("{name} has expired; its tiers can no longer change")));
    }
    let current_tier = match (cur.tier_number, cur.tier_name.as_deref()) {
        (Some(n), Some(t)) => Some((n, t)),
        _ => None,
    };
    let target = target_tier(program, current_tier, request.tier_name)?;
    let new_expiry = new_tier_expiry(catalog, cur, request.expiry, now)?;
    check_direction(request.kind, current_tier, &target)?;
    let mut after = cur.clone();
    after.tier_number = Some(target.tier_number);
    after.tier_name = Some(target.tier_name);
    after.tier_expiry_date = new_expiry;
    after.status = match cur.effective_status(now, Some(program)) {
        status @ (LinkageStatus::Pending | LinkageStatus::Paused) => status,
        _ => LinkageStatus::Active,
    };
    after.grace_ends_at = None;
    if request.kind == UpdateType::Renew {
        start_benefit_cycle(&mut after, program, now);
    }
    after.version = stored.version + 1;
    after.last_activity = request.kind.activity();
    after.last_updated = now;
    Ok(after)
}

/// The tier asked for (by name), or the current one when none is named (a renewal).
fn target_tier(
    program: &PartnerProgram,
    current: Option<(u32, &str)>,
    requested: Option<&str>,
) -> Result<Tier, ItemStatus> {
    let name = &program.partner_program_name;
    match (requested, current) {
        (Some(tier_name), _) => program
            .tier_by_name(tier_name)
            .cloned()
            .ok_or_else(|| ErrorCode::UnknownTier.with_detail(format!("{name} has no tier named {tier_name:?}"))),
        (None, Some((n, t))) => Ok(Tier { tier_number: n, tier_name: t.to_string() }),
        (None, None) => {
            Err(ErrorCode::UnknownTier.with_detail("the linkage has no tier to renew; send updatedTierName"))
        }
    }
}

/// The tier's expiry after the change: the one sent (in the future), else the current one while
/// it has not passed.
fn new_tier_expiry(
    catalog: &OrgCatalog,
    cur: &Linkage,
    requested: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ItemStatus> {
    match requested {
        Some(raw) => {
            let t = parse_request_date("updatedTierExpiryDate", raw, catalog.zone())
                .map_err(|e| ErrorCode::CannotProcess.with_detail(e.to_string()))?;
            if t <= now {
                return Err(
                    ErrorCode::PastTierExpiry.with_detail(format!("updatedTierExpiryDate {raw} is not in the future"))
                );
            }
            Ok(Some(t))
        }
        None => match cur.tier_expiry_date {
            Some(t) if t <= now => Err(ErrorCode::PastTierExpiry.with_detail(format!(
                "the current tier expired at {}; send a new updateDetails.updatedTierExpiryDate",
                format_utc(t)
            ))),
            other => Ok(other),
        },
    }
}

/// UPGRADE goes up, DOWNGRADE down, RENEW stays (2001 with the detail otherwise); UPDATE goes anywhere.
fn check_direction(kind: UpdateType, current: Option<(u32, &str)>, target: &Tier) -> Result<(), ItemStatus> {
    let (from_number, from_name) = current.unwrap_or((0, "none"));
    let to = &target.tier_name;
    let problem = match kind {
        UpdateType::Upgrade if target.tier_number <= from_number => Some(format!(
            "UPGRADE needs a tier above the current {from_name} (tier {from_number}); {to} is tier {}",
            target.tier_number
        )),
        UpdateType::Downgrade if target.tier_number >= from_number => Some(format!(
            "DOWNGRADE needs a tier below the current {from_name} (tier {from_number}); {to} is tier {}",
            target.tier_number
        )),
        UpdateType::Renew if target.tier_number != from_number => {
            Some(format!("RENEW keeps the current tier {from_name}; use UPGRADE, DOWNGRADE or UPDATE to move to {to}"))
        }
        _ => None,
    };
    problem.map_or(Ok(()), |detail| Err(ErrorCode::CannotProcess.with_detail(detail)))
}

/// A renewal starts a new benefit cycle: every counter back to zero, starting now.
fn start_benefit_cycle(l: &mut Linkage, program: &PartnerProgram, now: DateTime<Utc>) {
    for counter in l.benefit_counters.values_mut() {
        *counter = BenefitCounter { count_in_cycle: 0, cycle_start: Some(now) };
    }
    for b in &program.benefits {
        l.benefit_counters
            .entry(b.name.clone())
            .or_insert(BenefitCounter { count_in_cycle: 0, cycle_start: Some(now) });
    }
}

/// PAUSE: a SUPPLEMENTARY membership that is active now is paused from now until `raw_end`.
fn pause(
    catalog: &OrgCatalog,
    program: &PartnerProgram,
    current: Option<&Linkage>,
    raw_end: &str,
    now: DateTime<Utc>,
) -> Result<Linkage, ItemStatus> {
    let name = &program.partner_program_name;
    if program.partner_program_type != PartnerProgramType::Supplementary {
        return Err(ErrorCode::CannotProcess
            .with_detail(format!("{name} is EXTERNAL; only SUPPLEMENTARY memberships can be paused")));
    }
    let Some(stored) = current.filter(|l| l.linked) else {
        return Err(ErrorCode::NotLinked.with_detail(format!("not linked to {name}")));
    };
    // Decided on the membership as it stands now: a pause whose window has ended counts as
    // resumed at its end, as the sweep will record it (`update_one` records that resume too).
    let cur = stored.as_of(now);
    if cur.status == LinkageStatus::Paused {
        let until = cur.pause.as_ref().map(|p| format_utc(p.paused_until)).unwrap_or_default();
        return Err(
            ErrorCode::CannotProcess.with_detail(format!("the membership in {name} is already paused until {until}"))
        );
    }
    let status = cur.effective_status(now, Some(program));
    let Some(end) = cur.membership_end_date.filter(|_| status == LinkageStatus::Active) else {
        return Err(ErrorCode::CannotProcess.with_detail(format!(
            "the membership in {name} is {status:?}, not active; only an active membership can be paused"
        )));
    };
    let tz = catalog.zone();
    let until = parse_request_date("pauseEndDate", raw_end, tz)
        .map_err(|e| ErrorCode::CannotProcess.with_detail(e.to_string()))?;
    if until <= now {
        return Err(ErrorCode::PastTierExpiry.with_detail(format!(
            "pauseEndDate {raw_end} is not in the future; a pause runs from now to a later date"
        )));
    }
    let mut after = cur.into_owned();
    after.status = LinkageStatus::Paused;
    after.pause = Some(MembershipPause {
        paused_from: now,
        paused_until: until,
        end_after_window: shift_by_local_span(end, now, until, tz),
        resumed_at: None,
    });
    after.version = stored.version + 1;
    after.last_activity = ActivityType::MembershipPaused;
    after.last_updated = now;
    Ok(after)
}

/// RESUME: a paused membership is active again now, its end moved by the time it was paused.
/// Sent after the window ended (before the sweep recorded its resume), it records that resume:
/// dated at the window's end, the end moved by the whole window, as the sweep would (`as_of`).
fn resume(
    catalog: &OrgCatalog,
    program: &PartnerProgram,
    current: Option<&Linkage>,
    now: DateTime<Utc>,
) -> Result<Linkage, ItemStatus> {
    let name = &program.partner_program_name;
    let Some(cur) = current.filter(|l| l.linked) else {
        return Err(ErrorCode::NotLinked.with_detail(format!("not linked to {name}")));
    };
    let (Some(p), Some(end), LinkageStatus::Paused) = (&cur.pause, cur.membership_end_date, cur.status) else {
        return Err(
            ErrorCode::CannotProcess.with_detail(format!("the membership in {name} is not paused; nothing to resume"))
        );
    };
    let mut after = cur.as_of(now).into_owned();
    if after.status == LinkageStatus::Paused {
        after.resume(now, shift_by_local_span(end, p.paused_from, now, catalog.zone()));
    }
    after.version = cur.version + 1;
    Ok(after)
}

/// `end` moved later by the span from `from` to `to` as the org's calendar counts it: wall-clock
/// difference, so a pause of N local days moves the end by N local days across a DST change.
pub fn shift_by_local_span(
    end: DateTime<Utc>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    tz: &crate::domain::zone::Zone,
) -> DateTime<Utc> {
    use chrono::TimeZone;
    let local = |t: DateTime<Utc>| t.with_timezone(tz).naive_local();
    let span = local(to) - local(from);
    tz.from_local_datetime(&(local(end) + span)).earliest().map_or(end + (to - from), |t| t.with_timezone(&Utc))
}

type Extras = Vec<(aws_sdk_dynamodb::types::TransactWriteItem, ItemStatus)>;

/// MEMBERSHIP_RELINKING_CANCELLED: drops the pending relink and frees the membership id it had
/// claimed (when it differs from the current one).
fn cancel_relink(
    table: &str,
    program: &PartnerProgram,
    current: Option<&Linkage>,
    now: DateTime<Utc>,
) -> Result<(Linkage, Extras), ItemStatus> {
    let name = &program.partner_program_name;
    let Some(cur) = current else {
        return Err(ErrorCode::NotLinked.with_detail(format!("not linked to {name}")));
    };
    let Some(pending) = &cur.pending_relink else {
        if !cur.linked {
            return Err(ErrorCode::NotLinked.with_detail(format!("not linked to {name}")));
        }
        return Err(ErrorCode::CannotProcess.with_detail(format!("no pending relink to cancel in {name}")));
    };
    let mut extras = Vec::new();
    if let Some(mid) = pending.partner_membership_id.as_ref().filter(|m| cur.partner_membership_id.as_ref() != Some(*m))
    {
        let item = linkage_items::release_membership_id(table, cur.org_id, program.partner_program_id, mid)
            .map_err(internal)?;
        extras.push((item, ErrorCode::CannotProcess.status()));
    }
    let mut after = cur.clone();
    after.pending_relink = None;
    after.version = cur.version + 1;
    after.last_activity = ActivityType::MembershipRelinkingCancelled;
    after.last_updated = now;
    if cur.holds_subscription && !cur.linked {
        // An ended membership kept the one-subscription guard only for its pending relink.
        after.holds_subscription = false;
        let item = linkage_items::release_subscription(table, cur.org_id, cur.customer_id).map_err(internal)?;
        extras.push((item, ErrorCode::CannotProcess.status()));
    }
    Ok((after, extras))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn entry(v: Value) -> UpdateEntry {
        serde_json::from_value(v).unwrap()
    }

    fn code(v: Value) -> u16 {
        match check_shape(&entry(v)) {
            Ok(_) => 200,
            Err(s) => s.code,
        }
    }

    proptest::proptest! {
        #[test]
        fn update_type_spellings_never_panic_and_only_the_five_names_pass(raw in "\\PC{0,40}") {
            let known = ["UPGRADE", "DOWNGRADE", "RENEW", "UPDATE", "MEMBERSHIP_RELINKING_CANCELLED"];
            proptest::prop_assert_eq!(
                UpdateType::parse(&raw).is_some(),
                known.contains(&raw.trim().to_ascii_uppercase().as_str())
            );
            let body = serde_json::json!({
                "partnerProgramName": raw, "updateType": raw,
                "updateDetails": {"updatedTierName": raw, "updatedTierExpiryDate": raw}
            });
            let _ = check_shape(&entry(body));
        }
    }

    #[test]
    fn a_pause_moves_the_end_by_local_days_across_a_dst_change() {
        let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let berlin = crate::domain::zone::Zone::named("Europe/Berlin").unwrap();
        // Paused 10:00 CET on 27 March, resumed 10:00 CEST on 29 March (47 hours, two local days).
        let (from, to) = (t("2027-03-27T09:00:00Z"), t("2027-03-29T08:00:00Z"));
        assert_eq!(shift_by_local_span(t("2027-04-10T08:00:00Z"), from, to, &berlin), t("2027-04-12T08:00:00Z"));
        // Without DST in the window, the same span as elapsed time.
        assert_eq!(
            shift_by_local_span(
                t("2027-05-10T08:00:00Z"),
                t("2027-05-01T08:00:00Z"),
                t("2027-05-03T20:00:00Z"),
                &berlin
            ),
            t("2027-05-12T20:00:00Z")
        );
    }

    #[test]
    fn request_shape_codes_in_documented_order() {
        let cases = [
            (serde_json::json!({"updateType": "UPGRADE"}), 2002),
            (serde_json::json!({"partnerProgramName": " ", "updateType": "BOGUS"}), 2002),
            (serde_json::json!({"partnerProgramName": "P"}), 2009),
            (serde_json::json!({"partnerProgramName": "P", "updateType": "BOGUS"}), 2009),
            (serde_json::json!({"partnerProgramName": "P", "updateType": "UPGRADE"}), 2002),
            (serde_json::json!({"partnerProgramName": "P", "updateType": "UPGRADE", "updateDetails": {}}), 2002),
            (
                serde_json::json!({
                    "partnerProgramName": "P", "updateType": "RENEW", "updateDetails": {"updatedTierName": "Gold"}
                }),
                2002,
            ),
            (
                serde_json::json!({
                    "partnerProgramName": "P", "updateType": "renew",
                    "updateDetails": {"updatedTierExpiryDate": "2030-01-01"}
                }),
                200,
            ),
            (
                serde_json::json!({
                    "partnerProgramName": "P", "updateType": "UPDATE", "updateDetails": {"updatedTierName": "Gold"}
                }),
                200,
            ),
            (serde_json::json!({"partnerProgramName": "P", "updateType": "MEMBERSHIP_RELINKING_CANCELLED"}), 200),
        ];
        for (body, expected) in cases {
            assert_eq!(code(body.clone()), expected, "{body}");
        }
    }
}

#[cfg(test)]
mod rule_tests {
    //! The rules of a tier change, a pause, a resume and a relink cancellation, on a stored linkage
    //! (the order of the module doc above).
    use super::*;
    use crate::operations::rule_fixtures::*;
    use chrono::Duration;

    fn tier_change(
        current: Option<&Linkage>,
        kind: UpdateType,
        tier_name: Option<&str>,
        expiry: Option<&str>,
    ) -> Result<Linkage, ItemStatus> {
        let catalog = standard_catalog();
        let program = catalog.partner_program("SkyMiles").unwrap();
        change_tier(&catalog, program, current, &TierRequest { kind, tier_name, expiry }, now())
    }

    fn gold() -> Linkage {
        linkage(&skymiles(), Some("Gold"))
    }

    fn code(r: Result<Linkage, ItemStatus>) -> u16 {
        r.map_or_else(|s| s.code, |_| 200)
    }

    #[test]
    fn a_tier_change_without_an_active_link_is_2004() {
        assert_eq!(code(tier_change(None, UpdateType::Upgrade, Some("Platinum"), None)), 2004);
        let delinked = Linkage { linked: false, status: LinkageStatus::Delinked, ..gold() };
        assert_eq!(code(tier_change(Some(&delinked), UpdateType::Upgrade, Some("Platinum"), None)), 2004);
    }

    #[test]
    fn a_program_without_tiers_or_past_its_expiry_refuses_tier_changes_with_2001() {
        let catalog = standard_catalog();
        let flexi = catalog.partner_program("FlexiPass").unwrap();
        let current = linkage(flexi, None);
        let req = TierRequest { kind: UpdateType::Update, tier_name: Some("Gold"), expiry: None };
        assert_eq!(change_tier(&catalog, flexi, Some(&current), &req, now()).unwrap_err().code, 2001);
        let mut ended = skymiles();
        ended.expiry_date = Some(now() - Duration::days(1));
        let req = TierRequest { kind: UpdateType::Upgrade, tier_name: Some("Platinum"), expiry: None };
        let s = change_tier(&catalog, &ended, Some(&gold()), &req, now()).unwrap_err();
        assert_eq!(s.code, 2001);
        assert!(s.detail.unwrap().contains("expired"));
    }

    #[test]
    fn an_unknown_tier_is_2007_and_a_renewal_keeps_the_current_tier() {
        assert_eq!(code(tier_change(Some(&gold()), UpdateType::Update, Some("Diamond"), None)), 2007);
        let renewed = tier_change(Some(&gold()), UpdateType::Renew, None, Some("2028-01-01T00:00:00Z")).unwrap();
        assert_eq!((renewed.tier_number, renewed.tier_name.as_deref()), (Some(2), Some("Gold")));
        assert_eq!(renewed.tier_expiry_date, Some(at("2028-01-01T00:00:00Z")));
        let tierless = Linkage { tier_number: None, tier_name: None, ..gold() };
        assert_eq!(code(tier_change(Some(&tierless), UpdateType::Renew, None, Some("2028-01-01"))), 2007);
    }

    #[test]
    fn a_new_expiry_must_be_in_the_future_else_2003_and_so_must_a_kept_one() {
        let past = (now() - Duration::seconds(1)).to_rfc3339();
        assert_eq!(code(tier_change(Some(&gold()), UpdateType::Upgrade, Some("Platinum"), Some(&past))), 2003);
        assert_eq!(code(tier_change(Some(&gold()), UpdateType::Upgrade, Some("Platinum"), Some("2099-13-01"))), 2001);
        // No new expiry: the current one is kept, unless it has passed.
        let kept = tier_change(Some(&gold()), UpdateType::Upgrade, Some("Platinum"), None).unwrap();
        assert_eq!(kept.tier_expiry_date, gold().tier_expiry_date);
        let lapsed = Linkage { tier_expiry_date: Some(now() - Duration::days(1)), ..gold() };
        assert_eq!(code(tier_change(Some(&lapsed), UpdateType::Upgrade, Some("Platinum"), None)), 2003);
    }

    #[test]
    fn the_direction_must_match_the_update_type_else_2001() {
        let from_gold = |kind, tier| code(tier_change(Some(&gold()), kind, tier, Some("2028-01-01")));
        assert_eq!(from_gold(UpdateType::Upgrade, Some("Platinum")), 200);
        assert_eq!(from_gold(UpdateType::Upgrade, Some("Gold")), 2001);
        assert_eq!(from_gold(UpdateType::Upgrade, Some("Silver")), 2001);
        assert_eq!(from_gold(UpdateType::Downgrade, Some("Silver")), 200);
        assert_eq!(from_gold(UpdateType::Downgrade, Some("Gold")), 2001);
        assert_eq!(from_gold(UpdateType::Downgrade, Some("Platinum")), 2001);
        assert_eq!(from_gold(UpdateType::Renew, Some("Gold")), 200);
        assert_eq!(from_gold(UpdateType::Renew, Some("Silver")), 2001);
        // UPDATE moves anywhere, the same tier included.
        for tier in ["Silver", "Gold", "Platinum"] {
            assert_eq!(from_gold(UpdateType::Update, Some(tier)), 200, "{tier}");
        }
    }

    #[test]
    fn a_tier_change_reactivates_a_lapsed_tier_and_bumps_the_version() {
        let in_grace = Linkage {
            status: LinkageStatus::InGrace,
            grace_ends_at: Some(now() + Duration::days(3)),
            tier_expiry_date: Some(now() - Duration::days(4)),
            ..gold()
        };
        let after = tier_change(Some(&in_grace), UpdateType::Upgrade, Some("Platinum"), Some("2028-01-01")).unwrap();
        assert_eq!((after.status, after.grace_ends_at), (LinkageStatus::Active, None));
        assert_eq!((after.tier_number, after.tier_name.as_deref()), (Some(3), Some("Platinum")));
        assert_eq!((after.version, after.last_activity, after.last_updated), (4, ActivityType::Upgrade, now()));
        // A membership that has not started stays PENDING.
        let pending =
            Linkage { status: LinkageStatus::Pending, membership_start_date: now() + Duration::days(5), ..gold() };
        let after = tier_change(Some(&pending), UpdateType::Update, Some("Silver"), None).unwrap();
        assert_eq!(after.status, LinkageStatus::Pending);
    }

    #[test]
    fn a_renewal_starts_a_new_benefit_cycle_for_every_benefit() {
        let mut used = gold();
        let old = BenefitCounter { count_in_cycle: 3, cycle_start: Some(now() - Duration::days(10)) };
        used.benefit_counters.insert("LoungeAccess".into(), old);
        let fresh = BenefitCounter { count_in_cycle: 0, cycle_start: Some(now()) };
        let renewed = tier_change(Some(&used), UpdateType::Renew, None, Some("2028-01-01")).unwrap();
        assert_eq!(renewed.benefit_counters.get("LoungeAccess"), Some(&fresh));
        assert_eq!(renewed.benefit_counters.get("PriorityBoarding"), Some(&fresh));
        // Other updates leave the cycle alone.
        let upgraded = tier_change(Some(&used), UpdateType::Upgrade, Some("Platinum"), None).unwrap();
        assert_eq!(upgraded.benefit_counters, used.benefit_counters);
    }

    #[test]
    fn only_an_active_supplementary_membership_can_be_paused_until_a_future_date() {
        let catalog = standard_catalog();
        let (sky, flexi) =
            (catalog.partner_program("SkyMiles").unwrap(), catalog.partner_program("FlexiPass").unwrap());
        let active = linkage(flexi, None);
        let pause_code = |p: &PartnerProgram, l: Option<&Linkage>, end: &str| {
            pause(&catalog, p, l, end, now()).map_or_else(|s| s.code, |_| 200)
        };
        assert_eq!(pause_code(sky, Some(&gold()), "2026-06-10"), 2001, "EXTERNAL");
        assert_eq!(pause_code(flexi, None, "2026-06-10"), 2004, "not linked");
        assert_eq!(pause_code(flexi, Some(&active), "2026-05-31"), 2003, "end in the past");
        assert_eq!(pause_code(flexi, Some(&active), "someday"), 2001, "unreadable end");
        let ended = Linkage { membership_end_date: Some(now() - Duration::days(1)), ..active.clone() };
        assert_eq!(pause_code(flexi, Some(&ended), "2026-06-10"), 2001, "membership ended");

        let paused = pause(&catalog, flexi, Some(&active), "2026-06-10T00:00:00Z", now()).unwrap();
        assert_eq!(
            (paused.status, paused.version, paused.last_activity),
            (LinkageStatus::Paused, 4, ActivityType::MembershipPaused)
        );
        let window = paused.pause.clone().unwrap();
        assert_eq!((window.paused_from, window.paused_until), (now(), at("2026-06-10T00:00:00Z")));
        // The end moves by the nine days of the window (no DST in Asia/Kolkata).
        assert_eq!(window.end_after_window, active.membership_end_date.unwrap() + Duration::days(9));
        assert_eq!(pause_code(flexi, Some(&paused), "2026-06-20"), 2001, "already paused");
    }

    #[test]
    fn a_resume_moves_the_end_by_the_time_actually_paused() {
        let catalog = standard_catalog();
        let flexi = catalog.partner_program("FlexiPass").unwrap();
        let active = linkage(flexi, None);
        let s = resume(&catalog, flexi, Some(&active), now()).unwrap_err();
        assert_eq!(s.code, 2001, "not paused");
        assert_eq!(resume(&catalog, flexi, None, now()).unwrap_err().code, 2004);
        let three_days_ago = now() - Duration::days(3);
        let paused = pause(&catalog, flexi, Some(&active), "2026-06-10T00:00:00Z", three_days_ago).unwrap();
        let resumed = resume(&catalog, flexi, Some(&paused), now()).unwrap();
        assert_eq!(resumed.status, LinkageStatus::Active);
        assert_eq!(resumed.membership_end_date, Some(active.membership_end_date.unwrap() + Duration::days(3)));
        assert_eq!(resumed.pause.unwrap().resumed_at, Some(now()));
        // Resumed after the window ended: moved by the window only.
        let late = resume(&catalog, flexi, Some(&paused), at("2026-06-20T00:00:00Z")).unwrap();
        let window = at("2026-06-10T00:00:00Z") - three_days_ago;
        assert_eq!(late.membership_end_date, Some(active.membership_end_date.unwrap() + window));
    }

    #[test]
    fn a_new_pause_after_a_lapsed_one_counts_that_one_resumed_at_its_end() {
        let catalog = standard_catalog();
        let flexi = catalog.partner_program("FlexiPass").unwrap();
        let active = linkage(flexi, None);
        // Paused for three days, from 27 to 30 May; the sweep has not resumed it yet.
        let first = pause(&catalog, flexi, Some(&active), "2026-05-30T00:00:00Z", now() - Duration::days(5)).unwrap();
        let again = pause(&catalog, flexi, Some(&first), "2026-06-10T00:00:00Z", now()).unwrap();
        let resumed_end = active.membership_end_date.unwrap() + Duration::days(3);
        assert_eq!(again.membership_end_date, Some(resumed_end), "the lapsed pause moved the end by its window");
        assert_eq!((again.status, again.version), (LinkageStatus::Paused, first.version + 1));
        let window = again.pause.unwrap();
        assert_eq!(
            (window.paused_from, window.paused_until, window.resumed_at),
            (now(), at("2026-06-10T00:00:00Z"), None)
        );
        assert_eq!(window.end_after_window, resumed_end + Duration::days(9));

        // A lapsed pause whose moved end has passed too: the membership has ended, nothing to pause.
        let ending = Linkage { membership_end_date: Some(now() - Duration::days(4)), ..active };
        let first = pause(&catalog, flexi, Some(&ending), "2026-05-30T00:00:00Z", now() - Duration::days(5)).unwrap();
        let s = pause(&catalog, flexi, Some(&first), "2026-06-10T00:00:00Z", now()).unwrap_err();
        assert_eq!(s.code, 2001);
        assert!(s.detail.as_deref().unwrap_or("").contains("Expired"), "{s:?}");
    }

    #[test]
    fn a_tier_change_keeps_a_pause_and_is_decided_on_a_lapsed_one_resumed() {
        let tiered = PartnerProgram {
            tier_based: true,
            tiers: skymiles().tiers,
            ..crate::operations::rule_fixtures::flexipass()
        };
        let catalog = crate::operations::rule_fixtures::catalog(vec![tiered.clone()]);
        let active = linkage(&tiered, Some("Silver"));
        let upgrade = TierRequest { kind: UpdateType::Upgrade, tier_name: Some("Gold"), expiry: None };
        // Paused until 10 June: an upgrade meanwhile changes the tier, not the pause.
        let paused = pause(&catalog, &tiered, Some(&active), "2026-06-10T00:00:00Z", now()).unwrap();
        let during = change_tier(&catalog, &tiered, Some(&paused), &upgrade, now()).unwrap();
        assert_eq!((during.status, during.tier_name.as_deref()), (LinkageStatus::Paused, Some("Gold")));
        assert_eq!(
            (during.pause.clone(), during.membership_end_date),
            (paused.pause.clone(), paused.membership_end_date)
        );
        // Paused from 27 to 30 May and not yet resumed by the sweep: the upgrade finds it resumed
        // at its end, the end moved by the three days, as the sweep would have left it.
        let lapsed =
            pause(&catalog, &tiered, Some(&active), "2026-05-30T00:00:00Z", now() - Duration::days(5)).unwrap();
        let after = change_tier(&catalog, &tiered, Some(&lapsed), &upgrade, now()).unwrap();
        let resumed = lapsed.as_of(now()).into_owned();
        assert_eq!(after.status, LinkageStatus::Active);
        assert_eq!(
            (after.membership_end_date, after.pause.clone()),
            (resumed.membership_end_date, resumed.pause.clone())
        );
        assert_eq!(after.membership_end_date, Some(active.membership_end_date.unwrap() + Duration::days(3)));
        assert_eq!(after.version, lapsed.version + 1);
    }

    #[test]
    fn a_late_resume_is_dated_when_the_window_ended_as_the_sweep_dates_it() {
        let catalog = standard_catalog();
        let flexi = catalog.partner_program("FlexiPass").unwrap();
        let active = linkage(flexi, None);
        let paused = pause(&catalog, flexi, Some(&active), "2026-05-30T00:00:00Z", now() - Duration::days(5)).unwrap();
        let late = resume(&catalog, flexi, Some(&paused), now()).unwrap();
        let window_end = at("2026-05-30T00:00:00Z");
        assert_eq!(late.pause.as_ref().and_then(|p| p.resumed_at), Some(window_end));
        assert_eq!(late.last_updated, window_end, "the change is dated when it took effect");
        assert_eq!(late.membership_end_date, Some(active.membership_end_date.unwrap() + Duration::days(3)));
        // What the sweep writes for the same membership.
        let swept = crate::domain::expiry_rules::plan(&paused, flexi, now()).after;
        let state = |l: &Linkage| {
            (l.status, l.membership_end_date, l.pause.clone(), l.version, l.last_activity, l.last_updated)
        };
        assert_eq!(state(&late), state(&swept));
    }

    #[test]
    fn cancelling_a_relink_needs_one_pending_and_frees_its_membership_id() {
        let catalog = standard_catalog();
        let flexi = catalog.partner_program("FlexiPass").unwrap();
        assert_eq!(cancel_relink("t", flexi, None, now()).unwrap_err().code, 2004);
        let active = linkage(flexi, None);
        assert_eq!(cancel_relink("t", flexi, Some(&active), now()).unwrap_err().code, 2001);
        let ended = Linkage { linked: false, status: LinkageStatus::Expired, ..active.clone() };
        assert_eq!(cancel_relink("t", flexi, Some(&ended), now()).unwrap_err().code, 2004);

        let relink = PendingRelink {
            membership_start_date: now() + Duration::days(5),
            membership_end_date: now() + Duration::days(35),
            partner_membership_id: Some("FP-2".into()),
            tier_number: None,
            tier_name: None,
            tier_expiry_date: None,
            scheduled_at: now() - Duration::days(1),
        };
        let pending = Linkage {
            pending_relink: Some(relink.clone()),
            partner_membership_id: Some("FP-1".into()),
            ..active.clone()
        };
        let (after, extras) = cancel_relink("t", flexi, Some(&pending), now()).unwrap();
        assert_eq!((after.pending_relink, after.version), (None, 4));
        assert_eq!(after.last_activity, ActivityType::MembershipRelinkingCancelled);
        assert_eq!(extras.len(), 1, "the relink's own membership id is released");
        // The same id as the current membership stays claimed.
        let same_id = Linkage { partner_membership_id: Some("FP-2".into()), ..pending.clone() };
        assert!(cancel_relink("t", flexi, Some(&same_id), now()).unwrap().1.is_empty());
        // An ended membership that kept the subscription guard for its relink gives it back.
        let guarded =
            Linkage { linked: false, holds_subscription: true, partner_membership_id: Some("FP-2".into()), ..pending };
        let (after, extras) = cancel_relink("t", flexi, Some(&guarded), now()).unwrap();
        assert!(!after.holds_subscription);
        assert_eq!(extras.len(), 1, "the subscription guard is deleted");
    }
}
