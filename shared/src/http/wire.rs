//! The objects the API puts on the wire, one serializer each, shaped as Capillary's public docs
//! show them (docs/contract.md#compatibility). Every endpoint builds them here, so a name or a type
//! is right or wrong everywhere at once.

use crate::domain::catalog::OrgCatalog;
use crate::domain::dates::format_utc;
use crate::domain::error_catalog::ItemStatus;
use crate::domain::model::{
    Activity, ActivityType, Actor, Customer, Linkage, LinkageStatus, LoyaltyProgram, PartnerProgram,
    PartnerProgramType, PeriodType, Reason, Tier,
};
use crate::domain::text::value_as_text;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value};

/// The `customer` block of every batch write response: the customer as stored (`id`, `mobile` as
/// a string, `email`, `externalId`), then its `status`. An unknown customer echoes the identifiers
/// it was named by (as text; a non-numeric `id` is left out).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomerBlock {
    pub id: Option<u64>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub status: ItemStatus,
}

impl CustomerBlock {
    pub fn resolved(c: &Customer, status: ItemStatus) -> Self {
        CustomerBlock {
            id: Some(c.customer_id),
            mobile: c.mobile.clone(),
            email: c.email.clone(),
            external_id: c.external_id.clone(),
            status,
        }
    }

    pub fn as_sent(sent: &Map<String, Value>, status: ItemStatus) -> Self {
        let text = |k: &str| sent.get(k).and_then(value_as_text);
        CustomerBlock {
            id: text("id").and_then(|s| s.parse().ok()),
            mobile: text("mobile"),
            email: text("email"),
            external_id: text("externalId"),
            status,
        }
    }
}

/// The customer's identifiers as read endpoints and events show them.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomerIdentifiers {
    pub id: u64,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
}

impl From<&Customer> for CustomerIdentifiers {
    fn from(c: &Customer) -> Self {
        CustomerIdentifiers {
            id: c.customer_id,
            mobile: c.mobile.clone(),
            email: c.email.clone(),
            external_id: c.external_id.clone(),
        }
    }
}

/// One benefit of a program with its use, in `partnerProgramDetails.benefitsSummary`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BenefitSummary {
    pub name: String,
    #[serde(rename = "type")]
    pub benefit_type: String,
    /// Omitted when the benefit has no cap.
    pub maximum_available_in_cycle: Option<u32>,
    pub count_availed_in_current_cycle: u64,
    pub count_availed_in_last365_days: u64,
    /// Our extension: when the cycle `countAvailedInCurrentCycle` counts began
    /// (`Linkage::benefit_cycle_start`); omitted when there is no membership record.
    pub current_cycle_start_date: Option<String>,
}

/// A SUPPLEMENTARY relink waiting for its start (our extension).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PendingRelinkView {
    pub partner_program_membership_start_date: String,
    pub partner_program_membership_end_date: String,
    pub partner_membership_id: Option<String>,
}

/// `partnerProgramDetails`: a customer's membership in one partner program, with the documented
/// names, wherever a read shows one (activity history, customerPartnerPrograms).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PartnerProgramDetails {
    /// The loyalty program the partner program belongs to (its name).
    pub program_name: Option<String>,
    pub partner_program_id: u64,
    pub partner_program_name: String,
    pub partner_program_description: String,
    pub partner_tier_number: Option<u32>,
    pub partner_tier_name: Option<String>,
    pub partner_tier_expiry_date: Option<String>,
    pub partner_membership_id: Option<String>,
    pub partner_program_type: PartnerProgramType,
    pub partner_program_membership_start_date: String,
    pub partner_program_membership_end_date: Option<String>,
    pub partner_program_membership_last_updated_date: String,
    pub partner_program_membership_last_updated_activity: ActivityType,
    pub benefits_summary: Option<Vec<BenefitSummary>>,
    pub tier_based: bool,
    pub linked: bool,
    /// Our extension: the status a reader should see now (an expired tier reads as expired, a
    /// pause whose window has ended as resumed, before the sweep has run).
    pub status: LinkageStatus,
    pub pending_relink: Option<PendingRelinkView>,
    /// Our extension: the current pause window, or the last one once resumed.
    pub membership_pause: Option<MembershipPauseView>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MembershipPauseView {
    pub paused_from: String,
    pub paused_until: String,
    pub resumed_at: Option<String>,
}

impl PartnerProgramDetails {
    /// A linkage as reads show it, with its program and loyalty program from `catalog`.
    pub fn in_catalog(catalog: &OrgCatalog, l: &Linkage, now: DateTime<Utc>) -> Self {
        let program = catalog.partner_program_by_id(l.partner_program_id);
        PartnerProgramDetails::of(l, program, catalog.loyalty_program_of(program), now)
    }

    /// The linkage as it stands at `now` (`Linkage::as_of`: a pause whose window has ended shows
    /// as resumed at its end, with the end, `resumedAt` and last update the sweep will record),
    /// with the status a reader should see (`Linkage::effective_status`).
    pub fn of(
        l: &Linkage,
        program: Option<&PartnerProgram>,
        loyalty_program: Option<&LoyaltyProgram>,
        now: DateTime<Utc>,
    ) -> Self {
        let l = &*l.as_of(now);
        PartnerProgramDetails {
            program_name: loyalty_program.map(|lp| lp.program_name.clone()),
            partner_program_id: l.partner_program_id,
            partner_program_name: l.partner_program_name.clone(),
            partner_program_description: program.map(|p| p.description.clone()).unwrap_or_default(),
            partner_tier_number: l.tier_number,
            partner_tier_name: l.tier_name.clone(),
            partner_tier_expiry_date: l.tier_expiry_date.map(format_utc),
            partner_membership_id: l.partner_membership_id.clone(),
            partner_program_type: l.partner_program_type,
            partner_program_membership_start_date: format_utc(l.membership_start_date),
            partner_program_membership_end_date: membership_end(l).map(format_utc),
            partner_program_membership_last_updated_date: format_utc(l.last_updated),
            partner_program_membership_last_updated_activity: l.last_activity,
            benefits_summary: None,
            tier_based: program.is_some_and(|p| p.tier_based),
            linked: l.linked,
            status: l.effective_status(now, program),
            pending_relink: l.pending_relink.as_ref().map(|p| PendingRelinkView {
                partner_program_membership_start_date: format_utc(p.membership_start_date),
                partner_program_membership_end_date: format_utc(p.membership_end_date),
                partner_membership_id: p.partner_membership_id.clone(),
            }),
            membership_pause: l.pause.as_ref().map(|p| MembershipPauseView {
                paused_from: format_utc(p.paused_from),
                paused_until: format_utc(p.paused_until),
                resumed_at: p.resumed_at.map(format_utc),
            }),
        }
    }
}

/// `partnerProgramMembershipEndDate`: a SUPPLEMENTARY membership's end. An EXTERNAL membership
/// lasts as long as the partner's tier, so its end is the tier's expiry, as the docs' EXTERNAL
/// example shows it (or, once the program's expiry ended it, that moment).
fn membership_end(l: &Linkage) -> Option<DateTime<Utc>> {
    match l.partner_program_type {
        PartnerProgramType::Supplementary => l.membership_end_date,
        PartnerProgramType::External => l.membership_end_date.or(l.tier_expiry_date),
    }
}

/// One availed benefit as a history entry's `benefitDetails` shows it (the documented fields, plus
/// `count`, ours).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BenefitDetails {
    pub name: String,
    #[serde(rename = "type")]
    pub benefit_type: String,
    pub count: u64,
    pub bill_date: Option<String>,
    pub bill_number: Option<String>,
    pub bill_id: Option<u64>,
    pub till_id: Option<u64>,
    pub till_name: Option<String>,
    pub store_name: Option<String>,
}

/// One entry of `customerActivityHistory`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ActivityEntry {
    pub activity_type: ActivityType,
    pub activity_date: String,
    pub benefit_details: Option<BenefitDetails>,
    /// Ours: the record's id (a request availing several benefits shows one entry per benefit,
    /// all with the same id).
    pub activity_id: String,
    pub partner_tier_name: Option<String>,
    pub partner_tier_expiry_date: Option<String>,
    /// Ours, on linking records: the state before and after the change, in commit order (each
    /// record's `from` is the previous record's `to`). Omitted where there was none (a first link).
    pub from: Option<LinkStateView>,
    pub to: Option<LinkStateView>,
    /// Ours: the client whose request made the change (none: the sweep, the system, did) and the
    /// reason its entry gave (docs/contract.md#who-and-why).
    pub actor: Option<Actor>,
    pub reason: Option<Reason>,
}

/// A linkage's state in a linking record's `from` / `to`, with the names `partnerProgramDetails` uses.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LinkStateView {
    pub linked: bool,
    pub status: LinkageStatus,
    pub partner_tier_number: Option<u32>,
    pub partner_tier_name: Option<String>,
    pub partner_tier_expiry_date: Option<String>,
    pub partner_program_membership_start_date: String,
    pub partner_program_membership_end_date: Option<String>,
}

impl From<&crate::domain::model::LinkState> for LinkStateView {
    fn from(s: &crate::domain::model::LinkState) -> Self {
        LinkStateView {
            linked: s.linked,
            status: s.status,
            partner_tier_number: s.tier_number,
            partner_tier_name: s.tier_name.clone(),
            partner_tier_expiry_date: s.tier_expiry_date.map(format_utc),
            partner_program_membership_start_date: format_utc(s.membership_start_date),
            partner_program_membership_end_date: s.membership_end_date.map(format_utc),
        }
    }
}

impl ActivityEntry {
    /// The entries one stored activity shows as: one, or one per benefit of a benefits record
    /// (Capillary's `benefitDetails` names one benefit).
    pub fn of(a: &Activity) -> Vec<ActivityEntry> {
        let base = ActivityEntry {
            activity_type: a.activity_type,
            activity_date: format_utc(a.activity_date),
            benefit_details: None,
            activity_id: a.activity_id.clone(),
            partner_tier_name: a.tier_name.clone(),
            partner_tier_expiry_date: a.tier_expiry_date.map(format_utc),
            from: a.from.as_ref().filter(|_| !a.activity_type.is_benefit()).map(LinkStateView::from),
            to: a.to.as_ref().filter(|_| !a.activity_type.is_benefit()).map(LinkStateView::from),
            actor: a.actor.clone(),
            reason: a.reason.clone(),
        };
        match a.benefit_details.as_ref().map(stored_benefit_details) {
            Some(list) if !list.is_empty() => {
                list.into_iter().map(|d| ActivityEntry { benefit_details: Some(d), ..base.clone() }).collect()
            }
            _ => vec![base],
        }
    }
}

/// Reads the `benefitDetails` a benefits record stored (`{benefits: [{name, type, count}],
/// billNumber?, billId?, ...}`) into one `BenefitDetails` per benefit.
fn stored_benefit_details(v: &Value) -> Vec<BenefitDetails> {
    let text = |k: &str| v.get(k).and_then(value_as_text);
    let number = |k: &str| v.get(k).and_then(Value::as_u64);
    let bill_date = text("billDate");
    v.get("benefits")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|b| BenefitDetails {
                    name: b.get("name").and_then(value_as_text).unwrap_or_default(),
                    benefit_type: b.get("type").and_then(value_as_text).unwrap_or_default(),
                    count: b.get("count").and_then(Value::as_u64).unwrap_or(0),
                    bill_date: bill_date.clone(),
                    bill_number: text("billNumber"),
                    bill_id: number("billId"),
                    till_id: number("tillId"),
                    till_name: text("tillName"),
                    store_name: text("storeName"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A partner program as the loyalty-program listing shows it: tiers only on a tier-based program,
/// the period type only on a SUPPLEMENTARY one, `membershipPeriodValue` 0 and
/// `pointsExchangeRate` 1.0 when not configured, as the docs' example shows.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PartnerProgramSummary {
    pub partner_program_id: u64,
    pub partner_program_name: String,
    pub partner_program_description: String,
    pub partner_program_tiers: Option<Vec<Tier>>,
    pub points_exchange_rate: serde_json::Number,
    pub partner_program_type: PartnerProgramType,
    pub membership_period_type: Option<PeriodType>,
    pub membership_period_value: u32,
    pub tier_based: bool,
    /// Extension, only when the listing is asked for it: the program's whole configuration.
    pub configuration: Option<PartnerProgramConfigView>,
}

pub fn one_point_zero() -> serde_json::Number {
    serde_json::Number::from_f64(1.0).unwrap_or_else(|| serde_json::Number::from(1))
}

impl From<&PartnerProgram> for PartnerProgramSummary {
    fn from(p: &PartnerProgram) -> Self {
        let mut tiers = p.tiers.clone();
        tiers.sort_by_key(|t| t.tier_number);
        PartnerProgramSummary {
            partner_program_id: p.partner_program_id,
            partner_program_name: p.partner_program_name.clone(),
            partner_program_description: p.description.clone(),
            partner_program_tiers: p.tier_based.then_some(tiers),
            points_exchange_rate: p.points_exchange_rate.clone().unwrap_or_else(one_point_zero),
            partner_program_type: p.partner_program_type,
            membership_period_type: match p.partner_program_type {
                PartnerProgramType::Supplementary => p.membership_period_type,
                PartnerProgramType::External => None,
            },
            membership_period_value: p.membership_period_value.unwrap_or(0),
            tier_based: p.tier_based,
            configuration: None,
        }
    }
}

/// A loyalty program with its partner programs, as `GET /v2/organization/programs` lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyProgramView {
    pub program_id: u64,
    pub program_name: String,
    pub points_to_currency_ratio: serde_json::Number,
    pub program_description: String,
    pub partner_programs: Vec<PartnerProgramSummary>,
    pub default: bool,
}

/// A partner program's configuration as `PUT /v2/organization/partnerPrograms/{name}` answers it:
/// the names the request uses (Capillary's where it has them), plus the assigned ids.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PartnerProgramConfigView {
    pub partner_program_id: u64,
    pub partner_program_name: String,
    pub program_id: u64,
    pub partner_program_type: PartnerProgramType,
    pub partner_program_description: String,
    pub tier_based: bool,
    pub partner_program_tiers: Option<Vec<Tier>>,
    pub benefits: Vec<crate::domain::model::Benefit>,
    pub points_exchange_rate: serde_json::Number,
    pub membership_period_type: Option<PeriodType>,
    pub membership_period_value: Option<u32>,
    pub expiry_date: Option<String>,
    pub backup_partner_program_name: Option<String>,
    pub on_tier_expiry: crate::domain::model::OnTierExpiry,
    pub tier_grace_period_days: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expiry_reminder_days: Vec<u32>,
}

impl From<&PartnerProgram> for PartnerProgramConfigView {
    fn from(p: &PartnerProgram) -> Self {
        let summary = PartnerProgramSummary::from(p);
        PartnerProgramConfigView {
            partner_program_id: p.partner_program_id,
            partner_program_name: p.partner_program_name.clone(),
            program_id: p.loyalty_program_id,
            partner_program_type: p.partner_program_type,
            partner_program_description: p.description.clone(),
            tier_based: p.tier_based,
            partner_program_tiers: summary.partner_program_tiers,
            benefits: p.benefits.clone(),
            points_exchange_rate: summary.points_exchange_rate,
            membership_period_type: p.membership_period_type,
            membership_period_value: p.membership_period_value,
            expiry_date: p.expiry_date.map(format_utc),
            backup_partner_program_name: p.backup_partner_program_name.clone(),
            on_tier_expiry: p.on_tier_expiry,
            tier_grace_period_days: p.tier_grace_period_days,
            expiry_reminder_days: p.expiry_reminder_days.clone(),
        }
    }
}

/// A registered customer, as `POST /v2/customers` answers it: `id` and the identifiers under
/// Capillary's names, the loyalty programs it is enrolled in, when it was registered.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredCustomer {
    pub id: u64,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub program_ids: Vec<u64>,
    pub created_at: String,
}

impl From<&Customer> for RegisteredCustomer {
    fn from(c: &Customer) -> Self {
        let mut program_ids: Vec<u64> = c.enrollments.keys().filter_map(|k| k.parse().ok()).collect();
        program_ids.sort_unstable();
        RegisteredCustomer {
            id: c.customer_id,
            mobile: c.mobile.clone(),
            email: c.email.clone(),
            external_id: c.external_id.clone(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            program_ids,
            created_at: format_utc(c.created_at),
        }
    }
}

/// `DELETE /v2/customers/{id}`'s answer: the customer as erasure left it (its id), when it was
/// erased, and the partner programs this call delinked (empty on a repeat).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ErasedCustomer {
    pub customer: ErasedCustomerId,
    pub erased_at: String,
    pub delinked_partner_programs: Vec<String>,
    pub warnings: Vec<Value>,
    pub errors: Vec<Value>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErasedCustomerId {
    pub id: u64,
}

impl ErasedCustomer {
    pub fn new(c: &Customer, delinked_partner_programs: Vec<String>) -> Self {
        ErasedCustomer {
            customer: ErasedCustomerId { id: c.customer_id },
            erased_at: c.erased_at.map(format_utc).unwrap_or_default(),
            delinked_partner_programs,
            warnings: Vec::new(),
            errors: Vec::new(),
        }
    }
}

/// Drops `null` members of an object, recursively: a field that does not apply is omitted.
pub fn without_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

/// A loyalty program with its partner programs (ordered by id), as Capillary's listing shows it;
/// with `configuration`, each partner program also carries its whole configuration (Extension).
pub fn loyalty_program_view(
    lp: &LoyaltyProgram,
    partners: &[PartnerProgram],
    default: bool,
    configuration: bool,
) -> LoyaltyProgramView {
    let mut pps: Vec<&PartnerProgram> = partners.iter().filter(|p| p.loyalty_program_id == lp.program_id).collect();
    pps.sort_by_key(|p| p.partner_program_id);
    let summary = |p: &PartnerProgram| PartnerProgramSummary {
        configuration: configuration.then(|| PartnerProgramConfigView::from(p)),
        ..PartnerProgramSummary::from(p)
    };
    LoyaltyProgramView {
        program_id: lp.program_id,
        program_name: lp.program_name.clone(),
        points_to_currency_ratio: lp.points_to_currency_ratio.clone().unwrap_or_else(one_point_zero),
        program_description: lp.program_description.clone(),
        partner_programs: pps.into_iter().map(summary).collect(),
        default,
    }
}
