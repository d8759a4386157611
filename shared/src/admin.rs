//! Bootstrap operations: an org has no API (it is created directly in the table), its clients are
//! created by `ppadmin` or by an admin through `POST /v2/organization/clients`, both with the rules
//! of `client_spec`. Demo data lives in the dev tools (`devtools/`).

use crate::domain::limits::{display_name, LimitError};
use crate::domain::model::{Org, OrgId, Role};
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

/// A new client's role and display name as sent (`ppadmin create-client`, `POST
/// /v2/organization/clients`), validated: the role one of `agent`, `api`, `admin`; the display
/// name trimmed, 1 to 80 characters without control characters, and required for an agent (the
/// history shows it as who acted).
pub fn client_spec(role: &str, name: Option<&str>) -> Result<(Role, Option<String>), LimitError> {
    let role = Role::parse(role).ok_or_else(|| LimitError::new("role", "must be one of agent, api, admin"))?;
    let name = name.map(display_name).transpose()?;
    if role == Role::Agent && name.is_none() {
        return Err(LimitError::new("displayName", "is required for an agent"));
    }
    Ok((role, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_spec_names_its_role_and_an_agent_has_a_name() {
        assert_eq!(client_spec("agent", Some(" Asha Rao ")).unwrap(), (Role::Agent, Some("Asha Rao".into())));
        assert_eq!(client_spec("api", None).unwrap(), (Role::Api, None));
        assert_eq!(client_spec("admin", Some("Ops")).unwrap(), (Role::Admin, Some("Ops".into())));
        assert_eq!(client_spec("root", None).unwrap_err().to_string(), "role must be one of agent, api, admin");
        assert_eq!(client_spec("agent", None).unwrap_err().to_string(), "displayName is required for an agent");
        assert_eq!(client_spec("api", Some(" ")).unwrap_err().to_string(), "displayName is empty");
    }
}
