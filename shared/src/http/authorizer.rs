//! The API Gateway (HTTP API, payload 2.0, simple responses) Lambda authorizer: verifies Basic
//! credentials and hands `orgId`, `role`, `clientKey` and `displayName` to every handler through
//! the request context.

use crate::domain::model::AuthContext;
use crate::http::auth::{authenticate, AuthError};
use crate::storage::store::Store;
use serde_json::{json, Value};

/// The `Authorization` value of an authorizer event (identity source or headers, any case).
fn authorization(event: &Value) -> Option<&str> {
    if let Some(first) =
        event.get("identitySource").and_then(Value::as_array).and_then(|a| a.first()).and_then(Value::as_str)
    {
        return Some(first);
    }
    if let Some(token) = event.get("authorizationToken").and_then(Value::as_str) {
        return Some(token);
    }
    event
        .get("headers")
        .and_then(Value::as_object)
        .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")))
        .and_then(|(_, v)| v.as_str())
}

/// What the handlers learn of the caller (`lambda_adapter::auth_from_context` reads it back):
/// `orgId`, `role`, `clientKey` and, when the client has one, `displayName`; never the secret.
fn context(ctx: &AuthContext) -> Value {
    let mut context = json!({"orgId": ctx.org_id, "role": ctx.role.as_str(), "clientKey": ctx.client_key});
    if let Some(name) = &ctx.display_name {
        context["displayName"] = json!(name);
    }
    context
}

/// Decides one authorizer event. A storage failure is an error (API Gateway answers 500 and
/// does not cache it) rather than a denial that would be cached for the TTL.
pub async fn authorize(store: &Store, event: &Value) -> Result<Value, AuthError> {
    match authenticate(store, authorization(event)).await {
        Ok(ctx) => {
            crate::metrics::count("AuthorizerAllowed", 1);
            Ok(json!({"isAuthorized": true, "context": context(&ctx)}))
        }
        Err(AuthError::Store(e)) => {
            crate::metrics::count("AuthorizerErrors", 1);
            Err(AuthError::Store(e))
        }
        Err(e) => {
            crate::metrics::count("AuthorizerDenied", 1);
            // One line per refusal (API Gateway answers 401): the masked client key, never the secret.
            let client_key = authorization(event)
                .and_then(|h| crate::http::auth::parse_basic(h).ok())
                .map(|(k, _)| crate::logging::mask_key(&k));
            let method = event.pointer("/requestContext/http/method").and_then(Value::as_str).unwrap_or("");
            let path = event.get("rawPath").and_then(Value::as_str).unwrap_or("");
            tracing::info!(
                status = 401, method, path, clientKey = client_key.as_deref(), reason = %e, "request refused"
            );
            Ok(json!({"isAuthorized": false, "context": {}}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_header_wherever_the_event_puts_it() {
        assert_eq!(authorization(&json!({"identitySource": ["Basic x"]})), Some("Basic x"));
        assert_eq!(authorization(&json!({"headers": {"Authorization": "Basic y"}})), Some("Basic y"));
        assert_eq!(authorization(&json!({"headers": {"authorization": "Basic z"}})), Some("Basic z"));
        assert_eq!(authorization(&json!({})), None);
    }
}
