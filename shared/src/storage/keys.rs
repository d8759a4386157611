//! Every DynamoDB key the service builds, in one place (docs/architecture.md#access-patterns).
//! Changing a key shape here changes it everywhere; nothing else formats `PK`/`SK` strings.

use crate::domain::dates::{key_day, key_time};
use crate::domain::model::{CustomerId, OrgId, ProgramId};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const DUE_PK: &str = "DUE_PK";
pub const DUE_SK: &str = "DUE_SK";
pub const PROG_PK: &str = "PROG_PK";
pub const PROG_SK: &str = "PROG_SK";
pub const TTL: &str = "ttl";
pub const MID_PK: &str = "MID_PK";
pub const MID_SK: &str = "MID_SK";
pub const DUE_INDEX: &str = "DueIndex";
pub const PROGRAM_MEMBERS_INDEX: &str = "ProgramMembers";
pub const MEMBERSHIP_IDS_INDEX: &str = "MembershipIds";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    fn new(pk: String, sk: impl Into<String>) -> Self {
        Key { pk, sk: sk.into() }
    }

    pub fn to_item(&self) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_string(), AttributeValue::S(self.pk.clone())),
            (SK.to_string(), AttributeValue::S(self.sk.clone())),
        ])
    }
}

/// Identifier kinds that can address a customer by value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentifierKind {
    Mobile,
    Email,
    ExternalId,
}

impl IdentifierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifierKind::Mobile => "mobile",
            IdentifierKind::Email => "email",
            IdentifierKind::ExternalId => "externalId",
        }
    }
}

pub fn org(org: OrgId) -> Key {
    Key::new(format!("ORG#{org}"), "ORG")
}

pub fn org_pk(org: OrgId) -> String {
    format!("ORG#{org}")
}

pub fn client(client_key: &str) -> Key {
    Key::new(format!("CLIENT#{client_key}"), "CLIENT")
}

/// A partner file of the org (docs/file-sync.md): one partition per org, file ids time-ordered,
/// so the newest files are a descending query.
pub fn partner_file(org: OrgId, file_id: &str) -> Key {
    Key::new(partner_files_pk(org), format!("FILE#{file_id}"))
}

pub fn partner_files_pk(org: OrgId) -> String {
    format!("ORG#{org}#PFILE")
}

/// The marker of one chunk of a file counted as done: it makes the count exactly once.
pub fn partner_file_chunk(org: OrgId, file_id: &str, chunk: u64) -> Key {
    Key::new(format!("ORG#{org}#PFILE#{file_id}"), format!("CHUNK#{chunk:08}"))
}

/// The claim of one file content (its ETag) for one program: a second upload finds it.
pub fn partner_file_claim(org: OrgId, program: ProgramId, etag: &str) -> Key {
    Key::new(format!("ORG#{org}#PFILECLAIM#{program}#{etag}"), "CLAIM")
}

/// Global sequence (org ids) or per-org sequence (customer and program ids).
pub fn sequence(org: Option<OrgId>, kind: &str) -> Key {
    match org {
        Some(o) => Key::new(org_pk(o), format!("SEQ#{kind}")),
        None => Key::new("GLOBAL".to_string(), format!("SEQ#{kind}")),
    }
}

/// Marks the demo org of a local database (`make run`).
pub fn demo_marker() -> Key {
    Key::new("GLOBAL".to_string(), "DEMO")
}

pub const LOYALTY_PROGRAM_PREFIX: &str = "LP#";
pub const PARTNER_PROGRAM_PREFIX: &str = "PP#";

pub fn loyalty_program(org: OrgId, id: ProgramId) -> Key {
    Key::new(org_pk(org), format!("{LOYALTY_PROGRAM_PREFIX}{id:010}"))
}

pub fn loyalty_program_name(org: OrgId, name: &str) -> Key {
    Key::new(org_pk(org), format!("LPNAME#{}", name.to_lowercase()))
}

pub fn partner_program(org: OrgId, name: &str) -> Key {
    Key::new(org_pk(org), format!("{PARTNER_PROGRAM_PREFIX}{name}"))
}

pub fn partner_program_id(org: OrgId, id: ProgramId) -> Key {
    Key::new(org_pk(org), format!("PPID#{id:010}"))
}

pub fn customer_pk(org: OrgId, customer: CustomerId) -> String {
    format!("ORG#{org}#CUST#{customer}")
}

pub fn customer_profile(org: OrgId, customer: CustomerId) -> Key {
    Key::new(customer_pk(org, customer), "PROFILE")
}

pub fn identifier(org: OrgId, kind: IdentifierKind, value: &str) -> Key {
    Key::new(format!("ORG#{org}#IDENT#{}#{value}", kind.as_str()), "IDENT")
}

pub const LINKAGE_PREFIX: &str = "LINK#";

pub fn linkage(org: OrgId, customer: CustomerId, program: ProgramId) -> Key {
    Key::new(customer_pk(org, customer), format!("{LINKAGE_PREFIX}{program:010}"))
}

/// Activity kinds inside history keys: `L` linking updates, `B` benefits availed.
pub fn activity_kind_letter(benefit: bool) -> char {
    if benefit {
        'B'
    } else {
        'L'
    }
}

pub fn activity_sk_prefix(program: ProgramId, benefit: bool) -> String {
    format!("HIST#{program:010}#{}#", activity_kind_letter(benefit))
}

/// A linking record: keyed by the linkage version its transaction committed (and its step within
/// that transaction), so the key order is the commit order (docs/contract.md#concurrency).
pub fn linking_activity(org: OrgId, customer: CustomerId, program: ProgramId, version: u64, step: u32) -> Key {
    Key::new(
        customer_pk(org, customer),
        format!("{}{}", activity_sk_prefix(program, false), linking_sk_suffix(version, step)),
    )
}

/// The version part of a linking record's sort key (fixed width, so it sorts numerically).
pub fn linking_sk_suffix(version: u64, step: u32) -> String {
    format!("{version:020}#{step:03}")
}

/// A benefits-availed record: keyed by when the benefit was availed (the history's time window).
pub fn benefit_activity(org: OrgId, customer: CustomerId, program: ProgramId, at: DateTime<Utc>, unique: &str) -> Key {
    Key::new(customer_pk(org, customer), format!("{}{}#{unique}", activity_sk_prefix(program, true), key_time(at)))
}

/// The customer's one-subscription guard: present while one SUPPLEMENTARY linkage
/// holds it, naming that program; claimed and released inside the linkage's own transactions.
pub fn subscription_guard(org: OrgId, customer: CustomerId) -> Key {
    Key::new(customer_pk(org, customer), "SUBSCRIPTION")
}

/// An expiry reminder: one per linkage, expiry instant and reminder day, so a write that
/// sets the same expiry again addresses the same items and one that moves it addresses others.
pub fn expiry_reminder(
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    expires_at: DateTime<Utc>,
    days_before: u32,
) -> Key {
    reminder_key(org, customer, expiry_reminder_prefix(program), expires_at, days_before)
}

/// Sort-key prefix of one linkage's armed reminders (`expiry_reminder`).
pub fn expiry_reminder_prefix(program: ProgramId) -> String {
    format!("REMIND#{program:010}#")
}

/// The record that the sweep sent reminder `days_before` of an expiry (written in the sending
/// transaction, which deletes the armed reminder), so a member's preview can say it was sent.
pub fn sent_reminder(
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    expires_at: DateTime<Utc>,
    days_before: u32,
) -> Key {
    reminder_key(org, customer, sent_reminder_prefix(program), expires_at, days_before)
}

/// A reminder item's key under `prefix` (armed or sent): the expiry instant, then the day.
fn reminder_key(org: OrgId, customer: CustomerId, prefix: String, expires_at: DateTime<Utc>, days: u32) -> Key {
    Key::new(customer_pk(org, customer), format!("{prefix}{}#{days:03}", key_time(expires_at)))
}

/// Sort-key prefix of one linkage's sent-reminder records.
pub fn sent_reminder_prefix(program: ProgramId) -> String {
    format!("REMINDSENT#{program:010}#")
}

pub fn membership_id(org: OrgId, program: ProgramId, membership_id: &str) -> Key {
    Key::new(format!("ORG#{org}#PP#{program}#MID#{membership_id}"), "MID")
}

pub const MEMBERSHIP_ID_TRAIL_PREFIX: &str = "MIDTRAIL#";

/// The customer's record of having held membership id `mid` in `program` (kept when the
/// membership ends, deleted by erasure): how an ended membership id still finds its member.
pub fn membership_id_trail(org: OrgId, customer: CustomerId, program: ProgramId, mid: &str) -> Key {
    Key::new(customer_pk(org, customer), format!("{MEMBERSHIP_ID_TRAIL_PREFIX}{program:010}#{mid}"))
}

/// `MembershipIds` index keys of a trail item: one partition per org and membership id, sorted by
/// program, then customer.
pub fn membership_id_trail_index_keys(
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    mid: &str,
) -> (String, String) {
    (membership_ids_pk(org, mid), format!("{}CUST#{customer:012}", membership_ids_sk_prefix(program)))
}

pub fn membership_ids_pk(org: OrgId, mid: &str) -> String {
    format!("ORG#{org}#MID#{mid}")
}

/// The `MembershipIds` sort-key prefix of one program.
pub fn membership_ids_sk_prefix(program: ProgramId) -> String {
    format!("PP#{program:010}#")
}

/// The program and customer a `MembershipIds` sort key names.
pub fn parse_membership_ids_sk(sk: &str) -> Option<(ProgramId, CustomerId)> {
    let rest = sk.strip_prefix("PP#")?;
    let (program, customer) = rest.split_once("#CUST#")?;
    Some((program.parse().ok()?, customer.parse().ok()?))
}

pub fn event(org: OrgId, event_id: &str) -> Key {
    Key::new(format!("ORG#{org}#EVT#{event_id}"), "EVT")
}

pub fn idempotency(org: OrgId, key: &str) -> Key {
    Key::new(format!("ORG#{org}#IDEM#{key}"), "IDEM")
}

/// Write shard of a customer in the due index: stable across runs and processes.
pub fn due_shard(org: OrgId, customer: CustomerId, shards: u32) -> u32 {
    let digest = Sha256::digest(format!("{org}#{customer}").as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    n % shards.max(1)
}

pub fn due_pk(day: &str, shard: u32) -> String {
    format!("DUE#{day}#{shard:03}")
}

/// Due-index keys of something due at `at`.
pub fn due_keys(
    at: DateTime<Utc>,
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    shards: u32,
) -> (String, String) {
    let pk = due_pk(&key_day(at), due_shard(org, customer, shards));
    let sk = format!("{}#{org}#{customer}#{program}", key_time(at));
    (pk, sk)
}

/// The sweep's watermark: the oldest due-index day that may still hold due work.
pub fn sweep_watermark() -> Key {
    Key::new("SWEEP".to_string(), "WATERMARK")
}

/// Program-members index keys of a linkage (program expiry finds every member through it).
pub fn program_member_keys(org: OrgId, program: ProgramId, customer: CustomerId) -> (String, String) {
    (format!("ORG#{org}#PP#{program}"), format!("CUST#{customer:012}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn benefit_keys_sort_by_time_and_linking_keys_by_version() {
        let t1 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let t2 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00.5Z").unwrap().with_timezone(&Utc);
        let a = benefit_activity(1, 2, 3, t1, "z");
        let b = benefit_activity(1, 2, 3, t2, "a");
        assert!(a.sk < b.sk);
        assert!(a.sk.starts_with(&activity_sk_prefix(3, true)));
        assert_ne!(activity_sk_prefix(3, false), activity_sk_prefix(3, true));
        let v9 = linking_activity(1, 2, 3, 9, 0);
        let v10 = linking_activity(1, 2, 3, 10, 0);
        let v10b = linking_activity(1, 2, 3, 10, 1);
        assert!(v9.sk < v10.sk && v10.sk < v10b.sk, "{} {} {}", v9.sk, v10.sk, v10b.sk);
        assert!(linking_activity(1, 2, 3, u64::MAX, 999).sk.starts_with(&activity_sk_prefix(3, false)));
    }

    #[test]
    fn shards_spread_and_stay_stable() {
        let mut seen = std::collections::HashSet::new();
        for c in 0..200 {
            let s = due_shard(7, c, 8);
            assert!(s < 8);
            assert_eq!(s, due_shard(7, c, 8));
            seen.insert(s);
        }
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn membership_id_trail_keys_name_their_program_and_customer() {
        let (pk, sk) = membership_id_trail_index_keys(7, 42, 3, "SM#1");
        assert_eq!(pk, "ORG#7#MID#SM#1");
        assert!(sk.starts_with(&membership_ids_sk_prefix(3)));
        assert_eq!(parse_membership_ids_sk(&sk), Some((3, 42)));
        assert_eq!(parse_membership_ids_sk("PP#x#CUST#1"), None);
        assert_ne!(membership_ids_pk(1, "A"), membership_ids_pk(11, "A"));
        assert!(membership_id_trail(7, 42, 3, "SM#1").sk.starts_with(MEMBERSHIP_ID_TRAIL_PREFIX));
    }

    #[test]
    fn tenants_never_share_a_partition() {
        assert_ne!(customer_profile(1, 12).pk, customer_profile(11, 2).pk);
        assert_ne!(identifier(1, IdentifierKind::Email, "a@b").pk, identifier(2, IdentifierKind::Email, "a@b").pk);
    }
}
