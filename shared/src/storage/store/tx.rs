//! Builders for the items of a transaction, each with the condition its write needs.

use super::StoreError;
use crate::domain::model::{CustomerId, OrgId, ProgramId};
use crate::storage::keys::{self, Key};
use crate::storage::records::Item;
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put};

fn built<T, E: std::fmt::Display>(r: Result<T, E>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Service { operation: "build", message: e.to_string(), throttled: false })
}

/// Put that must create the item.
pub fn put_new(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = built(
        Put::builder().table_name(table).set_item(Some(item)).condition_expression("attribute_not_exists(PK)").build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Put of a linkage that either creates it or replaces exactly the version read.
pub fn put_versioned(table: &str, item: Item, expected_version: Option<u64>) -> Result<TransactWriteItem, StoreError> {
    let mut b = Put::builder().table_name(table).set_item(Some(item));
    b = match expected_version {
        None => b.condition_expression("attribute_not_exists(PK)"),
        Some(v) => b
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", AttributeValue::N(v.to_string())),
    };
    Ok(TransactWriteItem::builder().put(built(b.build())?).build())
}

/// Puts a unique item that must be free or already held by `holder` (its numeric attribute
/// `holder_attribute`).
fn claim(table: &str, item: Item, holder_attribute: &str, holder: u64) -> Result<TransactWriteItem, StoreError> {
    let put = built(
        Put::builder()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK) OR #holder = :holder")
            .expression_attribute_names("#holder", holder_attribute)
            .expression_attribute_values(":holder", AttributeValue::N(holder.to_string()))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Claims a unique item for `customer`, or accepts it when that customer already holds it.
pub fn claim_for_customer(table: &str, item: Item, customer: CustomerId) -> Result<TransactWriteItem, StoreError> {
    claim(table, item, "customerId", customer)
}

/// Claims the customer's one-subscription guard for `program`: free, or already held by it.
pub fn claim_subscription(table: &str, item: Item, program: ProgramId) -> Result<TransactWriteItem, StoreError> {
    claim(table, item, "partnerProgramId", program)
}

/// Unconditional put (an item this transaction's linkage owns, e.g. a guard it hands over).
pub fn put(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    let put = built(Put::builder().table_name(table).set_item(Some(item)).build())?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Put that must find `condition` true (a condition with no expression values).
pub fn put_where(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
    let put = built(Put::builder().table_name(table).set_item(Some(item)).condition_expression(condition).build())?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Deletes an item that `customer` holds (its `customerId`), or nothing if it is gone.
pub fn delete_held_by(table: &str, key: &Key, customer: CustomerId) -> Result<TransactWriteItem, StoreError> {
    let d = built(
        Delete::builder()
            .table_name(table)
            .set_key(Some(key.to_item()))
            .condition_expression("attribute_not_exists(PK) OR customerId = :cid")
            .expression_attribute_values(":cid", AttributeValue::N(customer.to_string()))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().delete(d).build())
}

pub fn delete(table: &str, key: &Key) -> Result<TransactWriteItem, StoreError> {
    let d = built(Delete::builder().table_name(table).set_key(Some(key.to_item())).build())?;
    Ok(TransactWriteItem::builder().delete(d).build())
}

/// Replaces a configuration item that must still be the same program (same id).
pub fn put_versioned_config(
    table: &str,
    item: Item,
    program_id: Option<ProgramId>,
) -> Result<TransactWriteItem, StoreError> {
    let mut b = Put::builder().table_name(table).set_item(Some(item));
    if let Some(id) = program_id {
        b = b
            .condition_expression("partnerProgramId = :id")
            .expression_attribute_values(":id", AttributeValue::N(id.to_string()));
    }
    Ok(TransactWriteItem::builder().put(built(b.build())?).build())
}

/// The customer is (still) enrolled in `program` when the transaction commits.
pub fn check_enrolled(
    table: &str,
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
) -> Result<TransactWriteItem, StoreError> {
    let c = built(
        ConditionCheck::builder()
            .table_name(table)
            .set_key(Some(keys::customer_profile(org, customer).to_item()))
            .condition_expression("attribute_exists(enrollments.#lp)")
            .expression_attribute_names("#lp", program.to_string())
            .build(),
    )?;
    Ok(TransactWriteItem::builder().condition_check(c).build())
}
