//! Expiry reminder items (rules in `domain::reminders`, docs/contract.md#events), each carrying
//! due-index keys so the sweep finds it as any due work: armed and disarmed in the transaction that
//! moves the linkage's expiry, sent by one that checks the linkage still has it, so never twice.

use crate::domain::dates::format_utc;
use crate::domain::model::EventName;
use crate::domain::model::{CustomerId, Linkage, OrgId, PartnerProgram, ProgramId};
use crate::domain::reminders::{self, Reminder, ReminderKind, Target};
use crate::domain::zone::Zone;
use crate::storage::keys::{self, Key};
use crate::storage::outbox::outbox_record;
use crate::storage::records::{from_item, to_item, EventRecord};
use crate::storage::store::{tx, Store, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Delete, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `entity` of a reminder item.
pub const ENTITY: &str = "REMINDER";

/// One armed reminder.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReminderRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "DUE_PK")]
    pub due_pk: String,
    #[serde(rename = "DUE_SK")]
    pub due_sk: String,
    pub org_id: OrgId,
    pub customer_id: CustomerId,
    pub partner_program_id: ProgramId,
    pub partner_program_name: String,
    /// `MEMBERSHIP_END` or `TIER_EXPIRY` (`ReminderKind::as_str`).
    pub kind: String,
    pub expires_at: DateTime<Utc>,
    pub days_before: u32,
    pub due_at: DateTime<Utc>,
    #[serde(default)]
    pub tier_number: Option<u32>,
    #[serde(default)]
    pub tier_name: Option<String>,
}

impl ReminderRecord {
    pub fn new(linkage: &Linkage, target: &Target, reminder: &Reminder, due_shards: u32) -> Self {
        let (org, customer, program) = (linkage.org_id, linkage.customer_id, linkage.partner_program_id);
        let Key { pk, sk } = keys::expiry_reminder(org, customer, program, target.expires_at, reminder.days_before);
        let (due_pk, due_sk) = keys::due_keys(reminder.due_at, org, customer, program, due_shards);
        ReminderRecord {
            pk,
            sk,
            entity: ENTITY.into(),
            due_pk,
            due_sk,
            org_id: org,
            customer_id: customer,
            partner_program_id: program,
            partner_program_name: linkage.partner_program_name.clone(),
            kind: target.kind.as_str().into(),
            expires_at: target.expires_at,
            days_before: reminder.days_before,
            due_at: reminder.due_at,
            tier_number: target.tier_number,
            tier_name: target.tier_name.clone(),
        }
    }

    pub fn reminder_kind(&self) -> Option<ReminderKind> {
        ReminderKind::parse(&self.kind)
    }

    fn key(&self) -> Key {
        Key { pk: self.pk.clone(), sk: self.sk.clone() }
    }
}

/// `entity` of the record of a sent reminder.
pub const SENT_ENTITY: &str = "REMINDER_SENT";
/// Days a sent-reminder record outlives the expiry it announced before DynamoDB's TTL tidies it.
const SENT_KEPT_DAYS: i64 = 400;

/// A reminder the sweep sent: what it announced and when it went, kept beside the linkage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentReminderRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub org_id: OrgId,
    pub customer_id: CustomerId,
    pub partner_program_id: ProgramId,
    pub kind: String,
    pub expires_at: DateTime<Utc>,
    pub days_before: u32,
    pub sent_at: DateTime<Utc>,
    pub ttl: i64,
}

impl SentReminderRecord {
    pub fn new(r: &ReminderRecord, sent_at: DateTime<Utc>) -> Self {
        let Key { pk, sk } =
            keys::sent_reminder(r.org_id, r.customer_id, r.partner_program_id, r.expires_at, r.days_before);
        SentReminderRecord {
            pk,
            sk,
            entity: SENT_ENTITY.into(),
            org_id: r.org_id,
            customer_id: r.customer_id,
            partner_program_id: r.partner_program_id,
            kind: r.kind.clone(),
            expires_at: r.expires_at,
            days_before: r.days_before,
            sent_at,
            ttl: (r.expires_at + chrono::Duration::days(SENT_KEPT_DAYS)).timestamp(),
        }
    }

    pub fn reminder_kind(&self) -> Option<ReminderKind> {
        ReminderKind::parse(&self.kind)
    }
}

/// One linkage's reminders: those armed (still to be sent), and the records of those sent.
pub async fn reminders_of(
    store: &Store,
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
) -> Result<(Vec<ReminderRecord>, Vec<SentReminderRecord>), StoreError> {
    let pk = keys::customer_pk(org, customer);
    let (armed_prefix, sent_prefix) = (keys::expiry_reminder_prefix(program), keys::sent_reminder_prefix(program));
    let (armed, sent) =
        futures::try_join!(store.query_prefix(&pk, &armed_prefix), store.query_prefix(&pk, &sent_prefix))?;
    let armed = armed.into_iter().map(|i| Ok(from_item::<ReminderRecord>(i)?)).collect::<Result<_, StoreError>>()?;
    let sent = sent.into_iter().map(|i| Ok(from_item::<SentReminderRecord>(i)?)).collect::<Result<_, StoreError>>()?;
    Ok((armed, sent))
}

/// The items a change from `before` to `after` adds to its transaction: Puts of the reminders of a
/// new expiry, Deletes of those of the expiry it replaced. Empty when the expiry did not move.
pub fn rearm_items(
    table: &str,
    before: Option<&Linkage>,
    after: &Linkage,
    program: &PartnerProgram,
    tz: &Zone,
    now: DateTime<Utc>,
    due_shards: u32,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    let change = reminders::rearm(before, after, &program.expiry_reminder_days, tz, now);
    let mut items = Vec::new();
    if let Some((target, days)) = &change.disarm {
        for d in days {
            let k =
                keys::expiry_reminder(after.org_id, after.customer_id, after.partner_program_id, target.expires_at, *d);
            items.push(tx::delete(table, &k)?);
        }
    }
    if let Some((target, due)) = &change.arm {
        for r in due {
            items.push(tx::put(table, to_item(&ReminderRecord::new(after, target, r, due_shards))?)?);
        }
    }
    Ok(items)
}

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Service { operation: "build", message: e.to_string(), throttled: false })
}

/// A date as the linkage item stores it (the same serializer, so equality in a condition holds).
fn stored_date(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::S(serde_json::to_value(at).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default())
}

/// The linkage still has the expiry `r` announces: linked, in a status where it will expire, with
/// that expiry instant (and, for a tier, that tier).
fn check_target(table: &str, r: &ReminderRecord, kind: ReminderKind) -> Result<TransactWriteItem, StoreError> {
    let k = keys::linkage(r.org_id, r.customer_id, r.partner_program_id);
    let b = ConditionCheck::builder()
        .table_name(table)
        .set_key(Some(k.to_item()))
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":yes", AttributeValue::Bool(true))
        .expression_attribute_values(":active", AttributeValue::S("ACTIVE".into()))
        .expression_attribute_values(":exp", stored_date(r.expires_at));
    let b = match (kind, r.tier_number) {
        (ReminderKind::MembershipEnd, _) => b
            .condition_expression("linked = :yes AND #status IN (:active, :pending) AND membershipEndDate = :exp")
            .expression_attribute_values(":pending", AttributeValue::S("PENDING".into())),
        (ReminderKind::TierExpiry, Some(n)) => b
            .condition_expression(
                "linked = :yes AND #status = :active AND tierExpiryDate = :exp AND tierNumber = :tier",
            )
            .expression_attribute_values(":tier", AttributeValue::N(n.to_string())),
        (ReminderKind::TierExpiry, None) => b.condition_expression(
            "linked = :yes AND #status = :active AND tierExpiryDate = :exp AND attribute_not_exists(tierNumber)",
        ),
    };
    Ok(TransactWriteItem::builder().condition_check(built(b.build())?).build())
}

/// Deletes the reminder if it is still the one read (still due under the same key).
pub fn cancel_item(table: &str, r: &ReminderRecord) -> Result<TransactWriteItem, StoreError> {
    let d = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(r.key().to_item()))
            .condition_expression("DUE_SK = :sk")
            .expression_attribute_values(":sk", AttributeValue::S(r.due_sk.clone()))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().delete(d).build())
}

/// Index of the linkage check in `send_items` (its failure: the reminder is stale).
pub const SEND_CHECK: usize = 0;
/// Index of the reminder's delete in `send_items` (its failure: another run took it).
pub const SEND_TAKE: usize = 1;

/// The transaction that sends one reminder: linkage check, reminder delete, outbox event, and
/// the record that it was sent.
pub fn send_items(
    table: &str,
    r: &ReminderRecord,
    kind: ReminderKind,
    program: &PartnerProgram,
    tz: &Zone,
    now: DateTime<Utc>,
) -> Result<Vec<TransactWriteItem>, StoreError> {
    Ok(vec![
        check_target(table, r, kind)?,
        cancel_item(table, r)?,
        tx::put_new(table, to_item(&event(r, kind, program, tz, now))?)?,
        tx::put(table, to_item(&SentReminderRecord::new(r, now))?)?,
    ])
}

/// The reminder event, shaped like Capillary's (`customerIdentifiers`, `loyaltyProgramId`,
/// `partnerProgramId`, `partnerProgramName`, `scheduledExpiryDate` as `yyyy-MM-dd` in the org's
/// zone; the tier for a tier reminder) in the outbox envelope every event uses. Ours beside them:
/// `entityInformation`, `partnerProgramType`, `scheduledExpiryDateInMillis`, `reminderDaysBefore`.
/// Like every sweep event it names the customer by id only.
pub fn event(
    r: &ReminderRecord,
    kind: ReminderKind,
    program: &PartnerProgram,
    tz: &Zone,
    at: DateTime<Utc>,
) -> EventRecord {
    let mut data = serde_json::Map::new();
    data.insert("customerIdentifiers".into(), json!({"customerId": r.customer_id}));
    data.insert("entityInformation".into(), json!({"entityType": "USER", "entityId": r.customer_id}));
    data.insert("loyaltyProgramId".into(), json!(program.loyalty_program_id));
    data.insert("partnerProgramId".into(), json!(program.partner_program_id));
    data.insert("partnerProgramName".into(), json!(program.partner_program_name));
    data.insert("partnerProgramType".into(), json!(program.partner_program_type));
    data.insert("scheduledExpiryDate".into(), json!(reminders::local_day(r.expires_at, tz)));
    data.insert("scheduledExpiryDateInMillis".into(), json!(r.expires_at.timestamp_millis()));
    data.insert("reminderDaysBefore".into(), json!(r.days_before));
    if kind == ReminderKind::TierExpiry {
        if let Some(n) = r.tier_number {
            data.insert("partnerTierNumber".into(), json!(n));
        }
        if let Some(name) = &r.tier_name {
            data.insert("partnerTierName".into(), json!(name));
        }
    }
    let name = match kind {
        ReminderKind::MembershipEnd => EventName::SupplementaryMembershipExpiryReminder,
        ReminderKind::TierExpiry => EventName::PartnerTierExpiryReminder,
    };
    outbox_record(name, r.org_id, r.customer_id, serde_json::Value::Object(data), at)
}

/// A reminder as the expiry preview lists it.
pub fn preview_step(r: &ReminderRecord, kind: ReminderKind, tz: &Zone) -> serde_json::Value {
    json!({
        "action": kind.action(),
        "eventName": kind.event_name(),
        "at": format_utc(r.due_at),
        "daysBefore": r.days_before,
        "scheduledExpiryDate": reminders::local_day(r.expires_at, tz),
        "expiresAt": format_utc(r.expires_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Dated {
        d: DateTime<Utc>,
    }

    #[test]
    fn dates_in_conditions_are_written_as_the_linkage_item_stores_them() {
        for raw in ["2031-03-20T18:29:59.250Z", "2031-03-20T18:29:59Z", "2031-03-20T18:29:59.123456789Z"] {
            let d = DateTime::parse_from_rfc3339(raw).unwrap().with_timezone(&Utc);
            let item = to_item(&Dated { d }).unwrap();
            assert_eq!(item.get("d"), Some(&stored_date(d)), "{raw}");
        }
    }
}
