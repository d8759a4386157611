//! `POST /v2/customers` (admin): a customer, its unique identifiers (one guard item each) and its
//! enrolments, in one transaction. It recognises itself by the change id its profile carries, so a
//! retry after a lost answer gets 201 with its own customer, not a 409 (docs/exactly-once.md).

use crate::domain::limits::{check_text, MAX_NAME_CHARS};
use crate::domain::model::{Customer, OrgId, ProgramId};
use crate::domain::text::value_as_text;
use crate::http::api::{parse_json_body, require_admin, ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::state::AppState;
use crate::storage::customer_identity::{
    check_email, check_external_id, check_mobile, normalize_email, normalize_mobile,
};
use crate::storage::keys;
use crate::storage::store::{Registration, StoreError, TransactError};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterCustomer {
    #[serde(default)]
    pub mobile: Option<Value>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub program_ids: Vec<ProgramId>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("{0}")]
    Invalid(String),
    #[error("a customer with this {0} already exists")]
    Duplicate(&'static str),
    #[error(transparent)]
    Store(#[from] TransactError),
}

impl From<StoreError> for RegisterError {
    fn from(e: StoreError) -> Self {
        RegisterError::Store(e.into())
    }
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    require_admin(&req)?;
    let body: RegisterCustomer = parse_json_body(&req)?;
    let customer = match register(state, req.auth.org_id, body).await {
        Ok(c) => c,
        Err(RegisterError::Invalid(m)) => return Err(ApiError::BadRequest(m)),
        Err(e @ RegisterError::Duplicate(_)) => return Err(ApiError::Conflict(e.to_string())),
        Err(RegisterError::Store(e)) => return Err(e.into()),
    };
    let body = serde_json::json!({"customer": crate::http::wire::RegisteredCustomer::from(&customer)});
    Ok(ApiResponse::json(201, &body))
}

/// Registers one customer; shared by the API, the admin tool and the demo seed.
pub async fn register(state: &AppState, org: OrgId, body: RegisterCustomer) -> Result<Customer, RegisterError> {
    let (mobile, email, external_id) = identifiers(&body)?;
    let catalog = state.catalog(org).await?;
    let now = state.now();
    let mut enrollments = BTreeMap::new();
    for id in &body.program_ids {
        if !catalog.loyalty_programs.iter().any(|lp| lp.program_id == *id) {
            return Err(RegisterError::Invalid(format!("programIds: {id} is not a loyalty program of this org")));
        }
        enrollments.insert(id.to_string(), now);
    }
    let customer_id = state.store.next_id(&keys::sequence(Some(org), "customer")).await?;
    let customer = Customer {
        customer_id,
        mobile,
        email,
        external_id,
        first_name: body.first_name,
        last_name: body.last_name,
        enrollments,
        created_at: now,
        erased_at: None,
    };
    let change = state.request_change();
    match state.store.register_customer(org, &customer, &change).await? {
        Registration::Registered(customer) => Ok(customer),
        Registration::Duplicate(kind) => Err(RegisterError::Duplicate(kind.as_str())),
    }
}

/// Mobile, email and externalId, each if given.
type Identifiers = (Option<String>, Option<String>, Option<String>);

/// The customer's identifiers, normalised and held to the limits before any key is built
/// (`limits`); at least one is needed. The names are checked too.
fn identifiers(body: &RegisterCustomer) -> Result<Identifiers, RegisterError> {
    let mobile = body.mobile.as_ref().and_then(value_as_text).map(|m| normalize_mobile(&m)).filter(|m| !m.is_empty());
    let email = body.email.as_deref().map(normalize_email).filter(|e| !e.is_empty());
    let external_id = body.external_id.as_deref().map(|x| x.trim().to_string()).filter(|x| !x.is_empty());
    if mobile.is_none() && email.is_none() && external_id.is_none() {
        return Err(RegisterError::Invalid("give at least one of mobile, email, externalId".into()));
    }
    let invalid = |e: crate::domain::limits::LimitError| RegisterError::Invalid(e.to_string());
    if let Some(m) = &mobile {
        check_mobile(m).map_err(invalid)?;
    }
    if let Some(e) = &email {
        check_email(e).map_err(invalid)?;
    }
    if let Some(x) = &external_id {
        check_external_id(x).map_err(invalid)?;
    }
    for (field, name) in [("firstName", &body.first_name), ("lastName", &body.last_name)] {
        if let Some(n) = name {
            check_text(field, n, MAX_NAME_CHARS).map_err(invalid)?;
        }
    }
    Ok((mobile, email, external_id))
}
