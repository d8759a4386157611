//! Who held a partner membership id: the `MembershipIds` index over the customers' trail items
//! (docs/architecture.md#access-patterns), the live claim of an id, and erasure of a trail.

use super::{Store, StoreError};
use crate::domain::model::{CustomerId, OrgId, ProgramId};
use crate::storage::keys;
use crate::storage::records::{Item, MembershipIdRecord};
use aws_sdk_dynamodb::types::AttributeValue;

impl Store {
    /// Every (program, customer) whose trail holds membership id `mid` in `org` (of `program`
    /// only, when given), from the KEYS_ONLY `MembershipIds` index, every page followed.
    pub async fn membership_id_holders(
        &self,
        org: OrgId,
        mid: &str,
        program: Option<ProgramId>,
    ) -> Result<Vec<(ProgramId, CustomerId)>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::MEMBERSHIP_IDS_INDEX)
                .expression_attribute_values(":pk", AttributeValue::S(keys::membership_ids_pk(org, mid)))
                .set_exclusive_start_key(start);
            query = match program {
                Some(p) => query
                    .key_condition_expression("MID_PK = :pk AND begins_with(MID_SK, :sk)")
                    .expression_attribute_values(":sk", AttributeValue::S(keys::membership_ids_sk_prefix(p))),
                None => query.key_condition_expression("MID_PK = :pk"),
            };
            let out = self.call("Query", || query.send()).await?.map_err(|e| StoreError::from_sdk("Query", e))?;
            let sort_key = |i: &Item| i.get(keys::MID_SK).and_then(|v| v.as_s().ok()).cloned();
            found.extend(
                out.items
                    .unwrap_or_default()
                    .iter()
                    .filter_map(sort_key)
                    .filter_map(|sk| keys::parse_membership_ids_sk(&sk)),
            );
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(found),
            }
        }
    }

    /// The customer whose claim holds membership id `mid` of `program` now, if any.
    pub async fn membership_id_claimant(
        &self,
        org: OrgId,
        program: ProgramId,
        mid: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        let claim: Option<MembershipIdRecord> = self.get(&keys::membership_id(org, program, mid)).await?;
        Ok(claim.map(|c| c.customer_id))
    }

    /// Deletes every trail item of `customer` (erasure: a membership id identifies a person);
    /// returns how many there were.
    pub async fn delete_membership_id_trail(&self, org: OrgId, customer: CustomerId) -> Result<usize, StoreError> {
        let items = self.query_prefix(&keys::customer_pk(org, customer), keys::MEMBERSHIP_ID_TRAIL_PREFIX).await?;
        for item in &items {
            let key = [keys::PK, keys::SK].map(|n| (n.to_string(), item.get(n).cloned()));
            let key = key.into_iter().map(|(n, v)| v.map(|v| (n, v))).collect::<Option<Item>>();
            let Some(key) = key else { continue };
            self.may_write().await?;
            let delete = self.client.delete_item().table_name(&self.table).set_key(Some(key));
            self.call("DeleteItem", || delete.send()).await?.map_err(|e| StoreError::from_sdk("DeleteItem", e))?;
        }
        Ok(items.len())
    }
}
