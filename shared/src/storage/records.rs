//! Storage records: each wraps a domain type with its keys and an `entity` attribute, and maps
//! to and from DynamoDB items through `serde_dynamo`.

use crate::domain::model::*;
use crate::storage::keys::{self, Key};
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::HashMap;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
#[error("stored item does not match its record: {0}")]
pub struct RecordError(#[from] serde_dynamo::Error);

pub fn to_item<T: Serialize>(record: &T) -> Result<Item, RecordError> {
    Ok(serde_dynamo::to_item(record)?)
}

pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, RecordError> {
    Ok(serde_dynamo::from_item(item)?)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OrgRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(flatten)]
    pub org: Org,
}

impl OrgRecord {
    pub fn new(org: Org) -> Self {
        let Key { pk, sk } = keys::org(org.org_id);
        OrgRecord { pk, sk, entity: "ORG".into(), org }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub client_key: String,
    pub org_id: OrgId,
    pub role: Role,
    /// Hex SHA-256 of the secret; the secret itself is never stored.
    pub secret_sha256: String,
    pub created_at: DateTime<Utc>,
    /// Who the client is, for people (an agent's name): shown as who acted in the history.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoyaltyProgramRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(flatten)]
    pub program: LoyaltyProgram,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartnerProgramRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "DUE_PK", default)]
    pub due_pk: Option<String>,
    #[serde(rename = "DUE_SK", default)]
    pub due_sk: Option<String>,
    #[serde(flatten)]
    pub program: PartnerProgram,
}

/// `PPID#{id}` → name, so reads addressed by numeric id find the program in one GetItem.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerProgramIdRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub partner_program_name: String,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomerRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    /// The registration that wrote this profile (`change_id::of_request`): how a registration
    /// whose answer was lost recognises its own customer instead of calling it a duplicate.
    #[serde(rename = "changeId", default)]
    pub change_id: Option<String>,
    #[serde(flatten)]
    pub customer: Customer,
}

impl CustomerRecord {
    pub fn new(org: OrgId, customer: Customer) -> Self {
        let Key { pk, sk } = keys::customer_profile(org, customer.customer_id);
        CustomerRecord { pk, sk, entity: "CUSTOMER".into(), change_id: None, customer }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentifierRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub customer_id: CustomerId,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkageRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "DUE_PK", default)]
    pub due_pk: Option<String>,
    #[serde(rename = "DUE_SK", default)]
    pub due_sk: Option<String>,
    #[serde(rename = "PROG_PK")]
    pub prog_pk: String,
    #[serde(rename = "PROG_SK")]
    pub prog_sk: String,
    #[serde(flatten)]
    pub linkage: Linkage,
}

impl LinkageRecord {
    /// The record of a linkage, with its due-index keys present only when something is due.
    pub fn new(linkage: Linkage, due_shards: u32) -> Self {
        let Key { pk, sk } = keys::linkage(linkage.org_id, linkage.customer_id, linkage.partner_program_id);
        let (due_pk, due_sk) = match linkage.next_due() {
            Some(at) => {
                let (p, s) =
                    keys::due_keys(at, linkage.org_id, linkage.customer_id, linkage.partner_program_id, due_shards);
                (Some(p), Some(s))
            }
            None => (None, None),
        };
        let (prog_pk, prog_sk) =
            keys::program_member_keys(linkage.org_id, linkage.partner_program_id, linkage.customer_id);
        LinkageRecord { pk, sk, entity: "LINKAGE".into(), due_pk, due_sk, prog_pk, prog_sk, linkage }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActivityRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(flatten)]
    pub activity: Activity,
}

impl ActivityRecord {
    pub fn new(activity: Activity) -> Self {
        let a = &activity;
        let Key { pk, sk } = if a.activity_type.is_benefit() {
            keys::benefit_activity(a.org_id, a.customer_id, a.partner_program_id, a.activity_date, &a.activity_id)
        } else {
            keys::linking_activity(a.org_id, a.customer_id, a.partner_program_id, a.version, a.step)
        };
        ActivityRecord { pk, sk, entity: "ACTIVITY".into(), activity }
    }
}

/// Claims a partner membership id for one customer within one program.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipIdRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub customer_id: CustomerId,
}

/// A customer held a partner membership id in one program (now or before): written with every
/// claim of the id, kept when the membership ends, deleted by erasure. Its `MID_PK`/`MID_SK` put it
/// in the `MembershipIds` index, so a membership id finds its members without a Scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipIdTrailRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    #[serde(rename = "MID_PK")]
    pub mid_pk: String,
    #[serde(rename = "MID_SK")]
    pub mid_sk: String,
    pub customer_id: CustomerId,
    pub partner_program_id: ProgramId,
}

impl MembershipIdTrailRecord {
    pub fn new(org: OrgId, customer: CustomerId, program: ProgramId, mid: &str) -> Self {
        let k = keys::membership_id_trail(org, customer, program, mid);
        let (mid_pk, mid_sk) = keys::membership_id_trail_index_keys(org, customer, program, mid);
        MembershipIdTrailRecord {
            pk: k.pk,
            sk: k.sk,
            entity: "MEMBERSHIP_ID_TRAIL".into(),
            mid_pk,
            mid_sk,
            customer_id: customer,
            partner_program_id: program,
        }
    }
}

/// The one-subscription guard of a customer: which SUPPLEMENTARY program holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub customer_id: CustomerId,
    pub partner_program_id: ProgramId,
    pub partner_program_name: String,
}

impl SubscriptionRecord {
    pub fn new(org: OrgId, customer: CustomerId, program: &PartnerProgram) -> Self {
        let Key { pk, sk } = keys::subscription_guard(org, customer);
        SubscriptionRecord {
            pk,
            sk,
            entity: "SUBSCRIPTION".into(),
            customer_id: customer,
            partner_program_id: program.partner_program_id,
            partner_program_name: program.partner_program_name.clone(),
        }
    }
}

/// An outbox event (docs/contract.md#events), carried to EventBridge by the table stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub event_name: String,
    pub event_id: String,
    pub org_id: OrgId,
    pub ref_id: String,
    pub created_at: String,
    /// The Capillary-shaped payload, stored as JSON text so the stream delivers it unchanged.
    pub payload: String,
    pub ttl: i64,
}
