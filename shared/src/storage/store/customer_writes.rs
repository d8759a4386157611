//! Writes of customers: a registration (its profile and one lookup item per identifier, each
//! unique within the org) and an erasure, each one transaction.

use super::{tx, Store, StoreError, TransactError};
use crate::domain::model::{Customer, OrgId};
use crate::storage::keys::{self, IdentifierKind};
use crate::storage::records::{to_item, CustomerRecord, EventRecord, IdentifierRecord};

/// How a registration ended, when storage answered.
pub enum Registration {
    /// Written, or found written by this same registration (`change`) earlier.
    Registered(Customer),
    /// Another customer holds this identifier.
    Duplicate(IdentifierKind),
}

impl Store {
    /// Writes `customer`'s profile (carrying the registration's `change` id) and its identifier
    /// items, each of which must be free.
    pub async fn register_customer(
        &self,
        org: OrgId,
        customer: &Customer,
        change: &str,
    ) -> Result<Registration, TransactError> {
        let record =
            CustomerRecord { change_id: Some(change.to_string()), ..CustomerRecord::new(org, customer.clone()) };
        let mut items = vec![tx::put_new(self.table(), to_item(&record).map_err(StoreError::from)?)?];
        let mut kinds = Vec::new();
        for (kind, value) in identifiers(customer) {
            let k = keys::identifier(org, kind, value);
            let rec =
                IdentifierRecord { pk: k.pk, sk: k.sk, entity: "IDENTIFIER".into(), customer_id: customer.customer_id };
            items.push(tx::put_new(self.table(), to_item(&rec).map_err(StoreError::from)?)?);
            kinds.push(kind);
        }
        match self.transact(items).await {
            Ok(()) => Ok(Registration::Registered(customer.clone())),
            Err(TransactError::Store(e)) if e.is_refused_value() => Err(TransactError::Store(e)),
            Err(e) => {
                if let Some(own) = self.own_registration(org, customer, change).await {
                    tracing::info!(
                        customer_id = own.customer_id,
                        "registration found already applied; reporting its customer"
                    );
                    return Ok(Registration::Registered(own));
                }
                match kinds.iter().enumerate().find(|(i, _)| e.condition_failed_at(i + 1)) {
                    Some((_, kind)) => Ok(Registration::Duplicate(*kind)),
                    None => Err(e),
                }
            }
        }
    }

    /// Erases `customer` (its profile becomes `erased`) and deletes the lookup items its
    /// identifiers held, with `event`, in one transaction; the profile's put (item 0) fails when
    /// another erasure came first.
    pub async fn erase_customer_profile(
        &self,
        org: OrgId,
        customer: &Customer,
        erased: &Customer,
        event: &EventRecord,
    ) -> Result<(), TransactError> {
        let profile = to_item(&CustomerRecord::new(org, erased.clone())).map_err(StoreError::from)?;
        let mut items = vec![tx::put_where(self.table(), profile, "attribute_not_exists(erasedAt)")?];
        for (kind, value) in identifiers(customer) {
            items.push(tx::delete_held_by(self.table(), &keys::identifier(org, kind, value), customer.customer_id)?);
        }
        items.push(tx::put_new(self.table(), to_item(event).map_err(StoreError::from)?)?);
        self.transact(items).await
    }

    /// The customer this registration (`change`) already wrote, if the first of its identifiers
    /// names one: an earlier attempt whose answer was lost, or an earlier run of the same keyed
    /// request.
    async fn own_registration(&self, org: OrgId, customer: &Customer, change: &str) -> Option<Customer> {
        let (kind, value) = identifiers(customer).next()?;
        let ident: IdentifierRecord = self.get(&keys::identifier(org, kind, value)).await.ok()??;
        let profile: CustomerRecord = self.get(&keys::customer_profile(org, ident.customer_id)).await.ok()??;
        (profile.change_id.as_deref() == Some(change)).then_some(profile.customer)
    }
}

/// The identifiers `customer` has, in the order their items are written.
fn identifiers(customer: &Customer) -> impl Iterator<Item = (IdentifierKind, &String)> {
    [
        (IdentifierKind::Mobile, &customer.mobile),
        (IdentifierKind::Email, &customer.email),
        (IdentifierKind::ExternalId, &customer.external_id),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
}
