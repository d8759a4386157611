//! The items a change to a linkage writes beside it, in the domain's words: the enrolment it
//! needs, the membership id (and its trail) and one-subscription guard it claims or gives back,
//! its history record and its event. Operations ask for these; only storage builds transaction items.

use crate::domain::model::{Activity, CustomerId, Linkage, OrgId, PartnerProgram, ProgramId};
use crate::storage::keys;
use crate::storage::records::{
    to_item, ActivityRecord, EventRecord, LinkageRecord, MembershipIdRecord, MembershipIdTrailRecord,
    SubscriptionRecord,
};
use crate::storage::store::{tx, StoreError};
use aws_sdk_dynamodb::types::TransactWriteItem;

/// The linkage after a change, replacing exactly version `expected` (`None`: it must not exist).
pub fn linkage(table: &str, after: Linkage, due_shards: u32, expected: Option<u64>) -> Item {
    tx::put_versioned(table, to_item(&LinkageRecord::new(after, due_shards))?, expected)
}

/// The customer is still enrolled in `loyalty_program` when the change commits.
pub fn enrollment(table: &str, org: OrgId, customer: CustomerId, loyalty_program: ProgramId) -> Item {
    tx::check_enrolled(table, org, customer, loyalty_program)
}

/// Claims membership id `mid` of `program` for `customer`: free, or already the customer's.
pub fn claim_membership_id(table: &str, org: OrgId, program: ProgramId, mid: &str, customer: CustomerId) -> Item {
    let k = keys::membership_id(org, program, mid);
    let record = MembershipIdRecord { pk: k.pk, sk: k.sk, entity: "MEMBERSHIP_ID".into(), customer_id: customer };
    tx::claim_for_customer(table, to_item(&record)?, customer)
}

/// Records that `customer` holds membership id `mid` of `program`, in the transaction that claims
/// it: the trail outlives the claim, so the id still finds the member after the membership ends.
pub fn membership_id_trail(table: &str, org: OrgId, program: ProgramId, mid: &str, customer: CustomerId) -> Item {
    tx::put(table, to_item(&MembershipIdTrailRecord::new(org, customer, program, mid))?)
}

/// Gives back membership id `mid` of `program`.
pub fn release_membership_id(table: &str, org: OrgId, program: ProgramId, mid: &str) -> Item {
    tx::delete(table, &keys::membership_id(org, program, mid))
}

/// Gives back membership id `mid` of `program` if `customer` holds it (nothing if it is gone).
pub fn release_membership_id_of(table: &str, org: OrgId, program: ProgramId, mid: &str, customer: CustomerId) -> Item {
    tx::delete_held_by(table, &keys::membership_id(org, program, mid), customer)
}

/// Claims the customer's one-subscription guard for `program`: free, or already held by it.
pub fn claim_subscription(table: &str, org: OrgId, customer: CustomerId, program: &PartnerProgram) -> Item {
    let record = SubscriptionRecord::new(org, customer, program);
    tx::claim_subscription(table, to_item(&record)?, program.partner_program_id)
}

/// Gives back the customer's one-subscription guard.
pub fn release_subscription(table: &str, org: OrgId, customer: CustomerId) -> Item {
    tx::delete(table, &keys::subscription_guard(org, customer))
}

/// A history record of the change.
pub fn history(table: &str, activity: Activity) -> Item {
    tx::put_new(table, to_item(&ActivityRecord::new(activity))?)
}

/// An outbox event of the change.
pub fn event(table: &str, event: &EventRecord) -> Item {
    tx::put_new(table, to_item(event)?)
}

/// One item of the transaction, or why it could not be built.
type Item = Result<TransactWriteItem, StoreError>;
