//! Capillary-shaped change events (docs/contract.md#events), written as outbox items in the same
//! transaction as the change they describe; the table stream delivers them to EventBridge.

use crate::domain::dates::format_utc;
use crate::domain::model::{Actor, Customer, EventName, Linkage, OrgId, PartnerProgram, Reason};
use crate::domain::zone::Zone;
use crate::storage::keys;
use crate::storage::partner_files::PartnerFileRecord;
use crate::storage::records::EventRecord;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

/// Outbox items stay this long after delivery, for replay and audits.
pub const EVENT_RETENTION_DAYS: i64 = 7;

/// `customerIdentifiers` as Capillary's events carry them: `customerId`, and the in-store
/// identifiers the customer has under `instore`.
pub fn customer_identifiers(customer: &Customer) -> Value {
    let mut instore = serde_json::Map::new();
    for (name, value) in
        [("mobile", &customer.mobile), ("email", &customer.email), ("externalId", &customer.external_id)]
    {
        if let Some(v) = value {
            instore.insert(name.into(), json!(v));
        }
    }
    let mut ids = serde_json::Map::new();
    ids.insert("customerId".into(), json!(customer.customer_id));
    if !instore.is_empty() {
        ids.insert("instore".into(), Value::Object(instore));
    }
    Value::Object(ids)
}

/// A date as Capillary's events give it: the day in the org's time zone (`2025-10-31`), with the
/// exact instant beside it in epoch milliseconds.
fn event_date(details: &mut serde_json::Map<String, Value>, name: &str, at: Option<DateTime<Utc>>, tz: &Zone) {
    if let Some(at) = at {
        details.insert(name.into(), json!(at.with_timezone(tz).format("%Y-%m-%d").to_string()));
        details.insert(format!("{name}InMillis"), json!(at.timestamp_millis()));
    }
}

/// `customerPartnerProgramDetails`: the documented fields (`partnerTierExpiryDate`,
/// `partnerTierNumber`, `membershipNumber`, `membershipExpiryDate`, each date with its `…InMillis`),
/// then ours (tier name, membership window as instants, linked, status, version).
pub fn partner_program_details(l: &Linkage, tz: &Zone) -> Value {
    let mut d = serde_json::Map::new();
    event_date(&mut d, "partnerTierExpiryDate", l.tier_expiry_date, tz);
    if let Some(n) = l.tier_number {
        d.insert("partnerTierNumber".into(), json!(n));
    }
    if let Some(m) = &l.partner_membership_id {
        d.insert("membershipNumber".into(), json!(m));
    }
    event_date(&mut d, "membershipExpiryDate", l.membership_end_date, tz);
    if let Some(t) = &l.tier_name {
        d.insert("partnerTierName".into(), json!(t));
    }
    d.insert("membershipStartDate".into(), json!(format_utc(l.membership_start_date)));
    if let Some(end) = l.membership_end_date {
        d.insert("membershipEndDate".into(), json!(format_utc(end)));
    }
    d.insert("linked".into(), json!(l.linked));
    d.insert("status".into(), json!(l.status));
    d.insert("version".into(), json!(l.version));
    Value::Object(d)
}

/// Builds the outbox item for a change to `after`, in the shape of Capillary's event webhooks
/// (`eventName`, `eventSearchKey`, `data{customerIdentifiers, entityInformation, loyaltyProgramId,
/// partnerProgram…, updateType?, customerPartnerProgramDetails}`, `orgId`, `refId`, `createdAt` in
/// epoch milliseconds), plus `eventId` for consumers to deduplicate on.
#[allow(clippy::too_many_arguments)]
pub fn event(
    name: EventName,
    update_type: &str,
    org: OrgId,
    customer: &Customer,
    program: &PartnerProgram,
    after: &Linkage,
    at: DateTime<Utc>,
    tz: &Zone,
) -> EventRecord {
    let mut data = serde_json::Map::new();
    data.insert("customerIdentifiers".into(), customer_identifiers(customer));
    data.insert("entityInformation".into(), json!({"entityType": "USER", "entityId": customer.customer_id}));
    data.insert("loyaltyProgramId".into(), json!(program.loyalty_program_id));
    data.insert("partnerProgramId".into(), json!(program.partner_program_id));
    data.insert("partnerProgramName".into(), json!(program.partner_program_name));
    data.insert("partnerProgramType".into(), json!(program.partner_program_type));
    // Capillary's updated events carry updateType; ours say on every event what changed (an
    // extension on linked and delinked ones: a relink activated, a sweep's delink).
    data.insert("updateType".into(), json!(update_type));
    data.insert("customerPartnerProgramDetails".into(), partner_program_details(after, tz));
    outbox_record(name, org, customer.customer_id, Value::Object(data), at)
}

/// The outbox item of one event: the webhook envelope around `data` (`eventName`, `eventId`,
/// `eventSearchKey`, `orgId`, `refId`, `createdAt` in epoch ms), kept `EVENT_RETENTION_DAYS`.
pub(crate) fn outbox_record(
    name: EventName,
    org: OrgId,
    customer_id: u64,
    data: Value,
    at: DateTime<Utc>,
) -> EventRecord {
    let search_key = "data.customerIdentifiers.customerId";
    outbox_record_of(name, org, (customer_id.to_string(), search_key), data, at)
}

/// The outbox item of an event about `reference` (its id, and where in the event it is found).
fn outbox_record_of(
    name: EventName,
    org: OrgId,
    (ref_id, search_key): (String, &str),
    data: Value,
    at: DateTime<Utc>,
) -> EventRecord {
    let event_id = uuid::Uuid::now_v7().to_string();
    let payload = json!({
        "eventName": name.as_str(),
        "eventId": event_id,
        "eventSearchKey": search_key,
        "data": data,
        "orgId": org,
        "refId": ref_id,
        "createdAt": at.timestamp_millis(),
    });
    let k = keys::event(org, &event_id);
    EventRecord {
        pk: k.pk,
        sk: k.sk,
        entity: "EVENT".into(),
        event_name: name.as_str().into(),
        event_id,
        org_id: org,
        ref_id,
        created_at: format_utc(at),
        payload: payload.to_string(),
        ttl: (at + Duration::days(EVENT_RETENTION_DAYS)).timestamp(),
    }
}

/// Adds who made a change and why to an event's `data` (`actor`, `reason`: Extensions, as on the
/// history record); nothing for the sweep's events, which carry neither.
pub fn stamp_provenance(event: &mut EventRecord, actor: Option<&Actor>, reason: Option<&Reason>) {
    if actor.is_none() && reason.is_none() {
        return;
    }
    let Ok(mut payload) = serde_json::from_str::<Value>(&event.payload) else { return };
    if let Some(data) = payload.get_mut("data").and_then(Value::as_object_mut) {
        if let Some(a) = actor {
            data.insert("actor".into(), json!(a));
        }
        if let Some(r) = reason {
            data.insert("reason".into(), json!(r));
        }
    }
    event.payload = payload.to_string();
}

/// `customerErased`: the customer's identifiers were removed on request (`DELETE
/// /v2/customers/{id}`). It names the customer by id only; consumers erase what they hold.
pub fn customer_erased(org: OrgId, customer: &Customer, at: DateTime<Utc>) -> EventRecord {
    let data = json!({
        "customerIdentifiers": {"customerId": customer.customer_id},
        "entityInformation": {"entityType": "USER", "entityId": customer.customer_id},
        "erasedAt": format_utc(at),
        "erasedAtInMillis": at.timestamp_millis(),
    });
    outbox_record(EventName::CustomerErased, org, customer.customer_id, data, at)
}

/// `partnerFileProcessed` (docs/contract.md#events): every row of a partner file has its result;
/// the counts, and where the results file is. It names the file, never a customer.
pub fn partner_file_processed(file: &PartnerFileRecord, results_key: &str, at: DateTime<Utc>) -> EventRecord {
    let data = json!({
        "fileId": file.file_id,
        "partnerProgramName": file.partner_program_name,
        "partnerProgramId": file.partner_program_id,
        "fileName": file.file_name,
        "objectKey": file.object_key,
        "resultsKey": results_key,
        "rows": file.rows_done,
        "applied": file.applied,
        "refused": file.refused,
        "startedAt": file.started_at,
        "finishedAt": format_utc(at),
    });
    outbox_record_of(EventName::PartnerFileProcessed, file.org_id, (file.file_id.clone(), "data.fileId"), data, at)
}
