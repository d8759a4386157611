//! Bootstrap operations with no API (an org and its clients are created directly in the table);
//! `ppadmin` runs them against a deployed table. Demo data lives in the dev tools (`devtools/`).

use crate::domain::model::{Org, OrgId};
use crate::domain::zone::Zone;
use crate::storage::keys;
use crate::storage::records::{to_item, OrgRecord};
use crate::storage::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("unknown IANA time zone {0:?}")]
    TimeZone(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

/// Creates an org with a fresh numeric id.
pub async fn create_org(store: &Store, name: &str, time_zone: &str) -> Result<Org, AdminError> {
    if Zone::named(time_zone).is_none() {
        return Err(AdminError::TimeZone(time_zone.to_string()));
    }
    let org_id: OrgId = store.next_id(&keys::sequence(None, "org")).await?;
    let org =
        Org { org_id, name: name.to_string(), time_zone: time_zone.to_string(), one_supplementary_per_customer: false };
    if !store.put_new(to_item(&OrgRecord::new(org.clone())).map_err(StoreError::from)?).await? {
        return Err(AdminError::Other(format!("org {org_id} exists already")));
    }
    Ok(org)
}
