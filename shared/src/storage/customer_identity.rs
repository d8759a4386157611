//! Customer identification in requests: `{id?, mobile?, email?, externalId?}`, empty strings
//! ignored, `mobile` as JSON number or string, every identifier given must name the same customer.

use crate::domain::error_catalog::ItemStatus;
use crate::domain::limits::{
    check_text, LimitError, MAX_EMAIL_CHARS, MAX_EXTERNAL_ID_CHARS, MOBILE_MAX_DIGITS, MOBILE_MIN_DIGITS,
};
use crate::domain::model::{Customer, CustomerId, OrgId};
use crate::storage::keys::IdentifierKind;
use crate::storage::store::{Store, StoreError};
use serde_json::{Map, Value};

/// Identifiers as a client gave them, normalised for lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identifiers {
    pub id: Option<CustomerId>,
    pub mobile: Option<String>,
    pub email: Option<String>,
    pub external_id: Option<String>,
    /// Why these identifiers cannot name any customer (an `id` that is not a positive integer, an
    /// identifier over its limit), naming the field; checked before any key is built.
    pub problem: Option<String>,
}

pub fn normalize_mobile(raw: &str) -> String {
    raw.chars().filter(|c| c.is_ascii_digit()).collect()
}

pub fn normalize_email(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// The limits every stored identifier meets (`limits`), so a lookup by a longer one can answer
/// "no such customer" without building a key DynamoDB would refuse.
pub fn check_mobile(mobile: &str) -> Result<(), LimitError> {
    let n = mobile.len();
    if !(MOBILE_MIN_DIGITS..=MOBILE_MAX_DIGITS).contains(&n) {
        return Err(LimitError::new(
            "mobile",
            format!("must have {MOBILE_MIN_DIGITS} to {MOBILE_MAX_DIGITS} digits ({n} given)"),
        ));
    }
    Ok(())
}

pub fn check_email(email: &str) -> Result<(), LimitError> {
    check_text("email", email, MAX_EMAIL_CHARS)?;
    if !email.contains('@') {
        return Err(LimitError::new("email", "is not an email address"));
    }
    Ok(())
}

pub fn check_external_id(external_id: &str) -> Result<(), LimitError> {
    check_text("externalId", external_id, MAX_EXTERNAL_ID_CHARS)
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(crate::domain::text::value_as_text)
}

impl Identifiers {
    pub fn from_json(obj: &Map<String, Value>) -> Self {
        let raw_id = text(obj.get("id"));
        let id = raw_id.as_deref().and_then(|s| s.parse::<CustomerId>().ok()).filter(|n| *n > 0);
        let mobile = text(obj.get("mobile")).map(|m| normalize_mobile(&m)).filter(|m| !m.is_empty());
        let email = text(obj.get("email")).map(|e| normalize_email(&e));
        let external_id = text(obj.get("externalId"));
        let problem = if raw_id.is_some() && id.is_none() {
            Some("`id` must be a positive integer".to_string())
        } else {
            let checks = [
                mobile.as_deref().map(check_mobile),
                email.as_deref().map(check_email),
                external_id.as_deref().map(check_external_id),
            ];
            checks.into_iter().flatten().find_map(Result::err).map(|e| e.to_string())
        };
        Identifiers { id, mobile, email, external_id, problem }
    }

    /// From the read APIs' `identifierName`/`identifierValue` pair.
    pub fn from_query(name: &str, value: &str) -> Option<Self> {
        let mut obj = Map::new();
        let key = match name.to_ascii_lowercase().as_str() {
            "id" => "id",
            "mobile" => "mobile",
            "email" => "email",
            "externalid" => "externalId",
            _ => return None,
        };
        obj.insert(key.into(), Value::String(value.to_string()));
        Some(Identifiers::from_json(&obj))
    }

    pub fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.mobile.is_none()
            && self.email.is_none()
            && self.external_id.is_none()
            && self.problem.is_none()
    }

    /// The identifiers as logs may show them: mobile, email and externalId masked.
    pub fn masked(&self) -> String {
        let mut parts = Vec::new();
        if let Some(id) = self.id {
            parts.push(format!("id={id}"));
        }
        if let Some(m) = &self.mobile {
            parts.push(format!("mobile={}", crate::domain::text::mask(m)));
        }
        if let Some(e) = &self.email {
            parts.push(format!("email={}", crate::domain::text::mask(e)));
        }
        if let Some(x) = &self.external_id {
            parts.push(format!("externalId={}", crate::domain::text::mask(x)));
        }
        parts.join(" ")
    }

    fn by_value(&self) -> Vec<(IdentifierKind, &str)> {
        let mut v = Vec::new();
        if let Some(m) = &self.mobile {
            v.push((IdentifierKind::Mobile, m.as_str()));
        }
        if let Some(e) = &self.email {
            v.push((IdentifierKind::Email, e.as_str()));
        }
        if let Some(x) = &self.external_id {
            v.push((IdentifierKind::ExternalId, x.as_str()));
        }
        v
    }
}

#[derive(Debug)]
pub enum Resolution {
    Found(Customer),
    /// 8015, with a detail saying why in words.
    NotFound(String),
}

impl Resolution {
    pub fn status(&self) -> ItemStatus {
        match self {
            Resolution::Found(_) => ItemStatus::customer_found(),
            Resolution::NotFound(detail) => {
                ItemStatus { detail: Some(detail.clone()), ..ItemStatus::customer_not_found() }
            }
        }
    }
}

/// Finds the one customer every given identifier names.
pub async fn resolve(store: &Store, org: OrgId, ids: &Identifiers) -> Result<Resolution, StoreError> {
    Ok(resolve_with_linkages(store, org, ids).await?.0)
}

/// Finds the customer and reads its linkages with it: the identifier lookups (in parallel), then
/// one Query for the profile and every linkage — two round trips by mobile, email or externalId,
/// one by `id`.
pub async fn resolve_with_linkages(
    store: &Store,
    org: OrgId,
    ids: &Identifiers,
) -> Result<(Resolution, Vec<crate::domain::model::Linkage>), StoreError> {
    if let Some(problem) = &ids.problem {
        return Ok((Resolution::NotFound(problem.clone()), Vec::new()));
    }
    if ids.is_empty() {
        return Ok((
            Resolution::NotFound("no customer identifier given: send id, mobile, email or externalId".into()),
            Vec::new(),
        ));
    }
    let not_found = |why: String| Ok((Resolution::NotFound(why), Vec::new()));
    let lookups = ids.by_value();
    let found =
        futures::future::try_join_all(lookups.iter().map(|(kind, value)| store.customer_id_by(org, *kind, value)))
            .await?;
    let mut candidate: Option<(CustomerId, &'static str)> = ids.id.map(|id| (id, "id"));
    for ((kind, _), hit) in lookups.iter().zip(found) {
        let Some(cid) = hit else {
            return not_found(format!("no customer has this {}", kind.as_str()));
        };
        match candidate {
            Some((other, other_kind)) if other != cid => {
                return not_found(format!(
                    "the identifiers name different customers: {other_kind} and {} do not belong to the same customer",
                    kind.as_str()
                ));
            }
            _ => candidate = Some((cid, kind.as_str())),
        }
    }
    let Some((cid, _)) = candidate else {
        return not_found("no customer identifier given".into());
    };
    match store.customer_with_linkages(org, cid).await? {
        Some((c, linkages)) => Ok((Resolution::Found(c), linkages)),
        None => not_found("no customer has this id".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(v: Value) -> Identifiers {
        Identifiers::from_json(v.as_object().unwrap())
    }

    #[test]
    fn mobile_as_number_equals_mobile_as_string() {
        assert_eq!(ids(json!({"mobile": 919740000000u64})).mobile, ids(json!({"mobile": "+91 97400 00000"})).mobile);
    }

    #[test]
    fn empty_strings_count_as_absent() {
        let i = ids(json!({"mobile": "", "email": "  ", "externalId": "C-1", "id": ""}));
        assert_eq!(i, Identifiers { external_id: Some("C-1".into()), ..Default::default() });
        assert!(ids(json!({"mobile": ""})).is_empty());
    }

    #[test]
    fn ids_must_be_positive_integers() {
        assert!(ids(json!({"id": "abc"})).problem.is_some());
        assert_eq!(ids(json!({"id": "42"})).id, Some(42));
        assert_eq!(ids(json!({"id": 42})).id, Some(42));
    }

    #[test]
    fn masked_form_never_shows_mobile_or_email_in_clear() {
        let m = ids(json!({"mobile": "919740000012", "email": "jane.doe@example.com", "id": 7})).masked();
        assert!(!m.contains("919740000012") && !m.contains("jane.doe"), "{m}");
        assert!(m.contains("id=7"));
    }

    #[test]
    fn identifiers_over_their_limits_are_a_problem_naming_the_field() {
        for (field, v) in [
            ("externalId", json!("x".repeat(129))),
            ("email", json!(format!("{}@x.io", "a".repeat(260)))),
            ("mobile", json!("9".repeat(16))),
        ] {
            let problem = ids(json!({ field: v })).problem.unwrap_or_default();
            assert!(problem.starts_with(field), "{field}: {problem}");
        }
        assert!(ids(json!({"externalId": "C-1\u{0}"})).problem.is_some());
        assert!(ids(json!({"externalId": "x".repeat(128), "mobile": "919740000000"})).problem.is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_identifier_text_is_usable_within_its_limits_or_a_problem(text in "\\PC{0,300}", name in "\\PC{0,12}") {
            for field in ["mobile", "email", "externalId", "id"] {
                let i = ids(json!({ field: text.clone() }));
                if i.problem.is_none() {
                    proptest::prop_assert!(i.mobile.as_ref().is_none_or(|m| m.len() <= MOBILE_MAX_DIGITS));
                    proptest::prop_assert!(i.email.as_ref().is_none_or(|e| e.chars().count() <= MAX_EMAIL_CHARS));
                    proptest::prop_assert!(i.external_id.as_ref().is_none_or(
                        |x| x.chars().count() <= MAX_EXTERNAL_ID_CHARS && !x.chars().any(char::is_control)
                    ));
                }
            }
            let _ = Identifiers::from_query(&name, &text);
        }
    }

    #[test]
    fn emails_are_case_insensitive() {
        assert_eq!(ids(json!({"email": "A@Example.COM"})).email.as_deref(), Some("a@example.com"));
    }
}
