//! Reads by key of the catalog (org, programs, API clients) and of customers and their linkages.

use super::{Store, StoreError};
use crate::domain::model::*;
use crate::storage::admission::Patience;
use crate::storage::keys::{self, IdentifierKind};
use crate::storage::records::*;
use aws_sdk_dynamodb::types::AttributeValue;

impl Store {
    pub async fn org(&self, org: OrgId) -> Result<Option<Org>, StoreError> {
        Ok(self.get::<OrgRecord>(&keys::org(org)).await?.map(|r| r.org))
    }

    pub async fn client_record(&self, client_key: &str) -> Result<Option<ClientRecord>, StoreError> {
        self.get(&keys::client(client_key)).await
    }

    pub async fn loyalty_programs(&self, org: OrgId) -> Result<Vec<LoyaltyProgram>, StoreError> {
        let items = self.query_prefix(&keys::org_pk(org), keys::LOYALTY_PROGRAM_PREFIX).await?;
        items.into_iter().map(|i| Ok(from_item::<LoyaltyProgramRecord>(i)?.program)).collect()
    }

    pub async fn partner_programs(&self, org: OrgId) -> Result<Vec<PartnerProgram>, StoreError> {
        let items = self.query_prefix(&keys::org_pk(org), keys::PARTNER_PROGRAM_PREFIX).await?;
        items.into_iter().map(|i| Ok(from_item::<PartnerProgramRecord>(i)?.program)).collect()
    }

    pub async fn customer(&self, org: OrgId, id: CustomerId) -> Result<Option<Customer>, StoreError> {
        Ok(self.get::<CustomerRecord>(&keys::customer_profile(org, id)).await?.map(|r| r.customer))
    }

    pub async fn customer_id_by(
        &self,
        org: OrgId,
        kind: IdentifierKind,
        value: &str,
    ) -> Result<Option<CustomerId>, StoreError> {
        Ok(self.get::<IdentifierRecord>(&keys::identifier(org, kind, value)).await?.map(|r| r.customer_id))
    }

    /// A customer's profile and all its linkages in one Query: they share the customer's partition,
    /// where `LINK#…` and `PROFILE` sort after the history (`HIST#…`), so one key range (sort key
    /// from `LINK#` on) holds both and nothing else of size.
    pub async fn customer_with_linkages(
        &self,
        org: OrgId,
        id: CustomerId,
    ) -> Result<Option<(Customer, Vec<Linkage>)>, StoreError> {
        let items = self.query_all("PK = :pk AND SK >= :sk", &keys::customer_pk(org, id), keys::LINKAGE_PREFIX).await?;
        let mut customer = None;
        let mut linkages = Vec::new();
        for item in items {
            match item.get("entity").and_then(|e| e.as_s().ok()).map(String::as_str) {
                Some("CUSTOMER") => customer = Some(from_item::<CustomerRecord>(item)?.customer),
                Some("LINKAGE") => linkages.push(from_item::<LinkageRecord>(item)?.linkage),
                _ => {}
            }
        }
        Ok(customer.map(|c| (c, linkages)))
    }

    pub async fn linkages(&self, org: OrgId, customer: CustomerId) -> Result<Vec<Linkage>, StoreError> {
        let items = self.query_prefix(&keys::customer_pk(org, customer), keys::LINKAGE_PREFIX).await?;
        items.into_iter().map(|i| Ok(from_item::<LinkageRecord>(i)?.linkage)).collect()
    }

    /// The program holding the customer's one-subscription guard, if any.
    pub async fn subscription(
        &self,
        org: OrgId,
        customer: CustomerId,
    ) -> Result<Option<SubscriptionRecord>, StoreError> {
        self.get(&keys::subscription_guard(org, customer)).await
    }

    /// Turns the org's one-subscription rule on or off; `Ok(false)` when the org does not exist.
    pub async fn set_one_supplementary_per_customer(&self, org: OrgId, on: bool) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::org(org).to_item()))
            .update_expression("SET oneSupplementaryPerCustomer = :on")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":on", AttributeValue::Bool(on));
        self.update_if(update).await
    }

    pub async fn linkage(
        &self,
        org: OrgId,
        customer: CustomerId,
        program: ProgramId,
    ) -> Result<Option<Linkage>, StoreError> {
        self.linkage_within(org, customer, program, self.patience()).await
    }

    /// `linkage`, waiting for a turn as long as `patience` allows.
    pub async fn linkage_within(
        &self,
        org: OrgId,
        customer: CustomerId,
        program: ProgramId,
        patience: Patience,
    ) -> Result<Option<Linkage>, StoreError> {
        let record: Option<LinkageRecord> = self.get_within(&keys::linkage(org, customer, program), patience).await?;
        Ok(record.map(|r| r.linkage))
    }
}
