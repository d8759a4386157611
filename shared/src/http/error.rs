//! Every way a request is refused as a whole (docs/contract.md#http-statuses), as one enum whose
//! `From<ApiError> for ApiResponse` is the only builder of the request-level error body. A batch
//! item's failure is not one of these: it is an `ItemStatus` inside a 200/201.

use crate::domain::error_catalog::ItemStatus;
use crate::http::api::{ApiResponse, MAX_BODY_BYTES};
use crate::storage::store::{StoreError, TransactError};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be read as sent; the message names the field or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no or wrong credentials.
    #[error("Unauthorized: {0}")]
    Unauthorized(String),
    /// 403: the operation needs an admin client.
    #[error("Forbidden: this operation needs an admin client")]
    Forbidden,
    /// 404 with Capillary's customer-not-found code (8015).
    #[error("No customer found with the given identifier")]
    CustomerNotFound,
    /// 404: the org has nothing by this id (an Extension resource: another org's is unknown too).
    #[error("{0}")]
    NotFound(String),
    /// 404: no route for the method and path (the local server; API Gateway answers this itself).
    #[error("No route for {method} {path}")]
    RouteNotFound { method: String, path: String },
    /// 405: the path exists, the method does not.
    #[error("{method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// 408: the body did not arrive in time (the local server; API Gateway has its own limits).
    #[error("Request Timeout: the body did not arrive within {seconds} s")]
    RequestTimeout { seconds: u64 },
    /// 409: the request conflicts with the state (a name taken, a change raced, a key in use).
    #[error("{0}")]
    Conflict(String),
    /// 413: the body is over `MAX_BODY_BYTES`.
    #[error("Payload Too Large: bodies are limited to {} KB", MAX_BODY_BYTES / 1024)]
    PayloadTooLarge,
    /// 415: the body is not declared as JSON; carries the Content-Type that was sent.
    #[error("Unsupported Media Type: send Content-Type: application/json (got {0:?})")]
    UnsupportedMediaType(String),
    /// 422: an `Idempotency-Key` reused for a different request.
    #[error("{0}")]
    Unprocessable(String),
    /// A catalog code that refuses the whole request (2008 → 400), with its item status.
    #[error("{}", .item.message)]
    Catalog { status: u16, item: ItemStatus },
    /// 500: a bug; the details are in the log under the request id.
    #[error("Internal server error (request id {request_id})")]
    Internal { request_id: String },
    /// 503: nothing could be processed because storage is unavailable or throttling.
    #[error("Service temporarily unavailable, retry later (request id {request_id})")]
    Unavailable { request_id: String },
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    pub fn internal(request_id: &str) -> Self {
        ApiError::Internal { request_id: request_id.to_string() }
    }

    pub fn unavailable(request_id: &str) -> Self {
        ApiError::Unavailable { request_id: request_id.to_string() }
    }

    /// The error with the request's id where it names one (a handler's error does not know it;
    /// `router::dispatch` adds it).
    pub fn for_request(self, id: &str) -> Self {
        match self {
            ApiError::Unavailable { request_id } if request_id.is_empty() => ApiError::unavailable(id),
            ApiError::Internal { request_id } if request_id.is_empty() => ApiError::internal(id),
            other => other,
        }
    }

    /// The HTTP status and the `code` of the envelope.
    pub fn status_and_code(&self) -> (u16, u16) {
        match self {
            ApiError::BadRequest(_) => (400, 400),
            ApiError::Unauthorized(_) => (401, 401),
            ApiError::Forbidden => (403, 403),
            ApiError::CustomerNotFound => (404, 8015),
            ApiError::NotFound(_) | ApiError::RouteNotFound { .. } => (404, 404),
            ApiError::MethodNotAllowed { .. } => (405, 405),
            ApiError::RequestTimeout { .. } => (408, 408),
            ApiError::Conflict(_) => (409, 409),
            ApiError::PayloadTooLarge => (413, 413),
            ApiError::UnsupportedMediaType(_) => (415, 415),
            ApiError::Unprocessable(_) => (422, 422),
            ApiError::Catalog { status, item } => (*status, item.code),
            ApiError::Internal { .. } => (500, 500),
            ApiError::Unavailable { .. } => (503, 503),
        }
    }
}

/// A storage failure that ends a request: 503 with `Retry-After` (storage unavailable, throttling,
/// or our own queue busy), or 400 when DynamoDB refused a value the request carried. The one place
/// this mapping is written; handlers use `?`.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_refused_value() {
            tracing::warn!(error = %e, "storage refused a value of the request");
            return ApiError::BadRequest(
                "a value of this request cannot be stored (too large or invalid); check its names and identifiers"
                    .into(),
            );
        }
        tracing::error!(error = %e, "storage failed the request");
        ApiError::Unavailable { request_id: String::new() }
    }
}

/// A transaction that did not commit: a storage failure as above, or a cancellation no rule of
/// the operation explained (a concurrent change), 409.
impl From<TransactError> for ApiError {
    fn from(e: TransactError) -> Self {
        match e {
            TransactError::Store(e) => e.into(),
            TransactError::Cancelled { reasons } => {
                tracing::warn!(?reasons, "transaction cancelled");
                ApiError::Conflict("the change conflicted with another one made meanwhile; retry".into())
            }
        }
    }
}

impl From<ApiError> for ApiResponse {
    fn from(e: ApiError) -> Self {
        let (status, code) = e.status_and_code();
        let error = match &e {
            ApiError::Catalog { item, .. } => json!(item),
            _ => json!({"status": false, "code": code, "message": e.to_string()}),
        };
        let resp = ApiResponse::json(status, &json!({"errors": [error], "warnings": []}));
        match e {
            ApiError::Unauthorized(_) => resp.with_header("www-authenticate", "Basic realm=\"partner-programs\""),
            ApiError::Unavailable { .. } => resp.with_header("retry-after", "2"),
            _ => resp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error_catalog::ErrorCode;
    use serde_json::Value;

    fn body(e: ApiError) -> (u16, Value, Vec<(String, String)>) {
        let r = ApiResponse::from(e);
        (r.status, serde_json::from_str(&r.body).unwrap(), r.headers)
    }

    #[test]
    fn each_error_is_one_envelope_with_its_status_code_and_message() {
        let (status, v, _) = body(ApiError::UnsupportedMediaType("text/plain".into()));
        assert_eq!(status, 415);
        assert_eq!(
            v,
            json!({"errors": [{"status": false, "code": 415,
                "message": "Unsupported Media Type: send Content-Type: application/json (got \"text/plain\")"}],
                "warnings": []})
        );
        let (status, v, _) = body(ApiError::CustomerNotFound);
        assert_eq!((status, v["errors"][0]["code"].as_u64()), (404, Some(8015)));
    }

    #[test]
    fn a_catalog_error_carries_the_item_status_with_its_detail() {
        let item = ErrorCode::BatchLimit.with_detail("51 customers");
        let (status, v, _) = body(ApiError::Catalog { status: 400, item: item.clone() });
        assert_eq!(status, 400);
        assert_eq!(v["errors"][0], serde_json::to_value(&item).unwrap());
        assert_eq!(v["errors"][0]["code"], 2008);
    }

    #[test]
    fn a_storage_failure_is_a_503_named_after_the_request_and_a_refused_value_a_400() {
        let down = StoreError::Service { operation: "Query", message: "timeout".into(), throttled: false };
        let (status, v, headers) = body(ApiError::from(down).for_request("r-9"));
        assert_eq!(status, 503);
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("r-9"), "{v}");
        assert!(headers.iter().any(|(k, _)| k == "retry-after"));
        let busy = StoreError::Busy { operation: "GetItem", waited: std::time::Duration::from_secs(1) };
        assert_eq!(ApiError::from(busy).status_and_code(), (503, 503));
        let refused = StoreError::Refused { operation: "PutItem", message: "key too large".into() };
        let (status, v, _) = body(ApiError::from(refused).for_request("r-9"));
        assert_eq!(status, 400);
        assert!(!v.to_string().contains("key too large"), "no internals leak: {v}");
        // An id given where the error was made stays.
        assert_eq!(ApiError::unavailable("r-1").for_request("r-2"), ApiError::unavailable("r-1"));
    }

    #[test]
    fn unauthorized_asks_for_basic_auth_and_unavailable_says_when_to_retry() {
        let (_, _, headers) = body(ApiError::Unauthorized("bad secret".into()));
        assert!(headers.iter().any(|(k, v)| k == "www-authenticate" && v.starts_with("Basic")));
        let (status, v, headers) = body(ApiError::unavailable("r-1"));
        assert_eq!(status, 503);
        assert!(v["errors"][0]["message"].as_str().unwrap().contains("r-1"));
        assert!(headers.iter().any(|(k, v)| k == "retry-after" && v == "2"));
    }
}
