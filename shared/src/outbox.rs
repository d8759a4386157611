//! Capillary-shaped change events (PRODUCT.md §8), written as outbox items in the same
//! transaction as the change they describe; the table stream delivers them to EventBridge.

use crate::dates::format_utc;
use crate::keys;
use crate::model::{Customer, Linkage, OrgId, PartnerProgram};
use crate::records::EventRecord;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// Outbox items stay this long after delivery, for replay and audits.
pub const EVENT_RETENTION_DAYS: i64 = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Linked,
    Updated,
    Delinked,
    TierExpired,
    SupplementaryMembershipExpired,
    BenefitsAvailed,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Linked => "partnerProgramLinked",
            EventName::Updated => "partnerProgramUpdated",
            EventName::Delinked => "partnerProgramDelinked",
            EventName::TierExpired => "partnerProgramTierExpired",
            EventName::SupplementaryMembershipExpired => "supplementaryMembershipExpired",
            EventName::BenefitsAvailed => "partnerProgramBenefitsAvailed",
        }
    }
}

pub fn customer_identifiers(customer: &Customer) -> Value {
    serde_json::to_value(crate::wire::CustomerIdentifiers::from(customer)).unwrap_or(Value::Null)
}

/// The linkage as events and reads describe it.
pub fn partner_program_details(l: &Linkage) -> Value {
    json!({
        "partnerMembershipId": l.partner_membership_id,
        "partnerTierNumber": l.tier_number,
        "partnerTierName": l.tier_name,
        "partnerTierExpiryDate": l.tier_expiry_date.map(format_utc),
        "membershipStartDate": format_utc(l.membership_start_date),
        "membershipEndDate": l.membership_end_date.map(format_utc),
        "linked": l.linked,
        "status": l.status,
        "version": l.version,
    })
}

/// Builds the outbox item for a change to `after`.
pub fn event(
    name: EventName,
    update_type: &str,
    org: OrgId,
    customer: &Customer,
    program: &PartnerProgram,
    after: &Linkage,
    at: DateTime<Utc>,
) -> EventRecord {
    let event_id = uuid::Uuid::now_v7().to_string();
    let created_at = format_utc(at);
    let payload = json!({
        "eventName": name.as_str(),
        "eventId": event_id,
        "orgId": org,
        "refId": customer.customer_id.to_string(),
        "createdAt": created_at,
        "data": {
            "customerIdentifiers": customer_identifiers(customer),
            "partnerProgramId": program.partner_program_id,
            "partnerProgramName": program.partner_program_name,
            "partnerProgramType": program.partner_program_type,
            "updateType": update_type,
            "customerPartnerProgramDetails": partner_program_details(after),
        }
    });
    let k = keys::event(org, &event_id);
    EventRecord {
        pk: k.pk,
        sk: k.sk,
        entity: "EVENT".into(),
        event_name: name.as_str().into(),
        event_id,
        org_id: org,
        ref_id: customer.customer_id.to_string(),
        created_at,
        payload: payload.to_string(),
        ttl: (at + Duration::days(EVENT_RETENTION_DAYS)).timestamp(),
    }
}
