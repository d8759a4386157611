//! The HTTP envelope every operation shares, independent of how the request arrived (API Gateway
//! v1/v2 through `lambda_http`, or the local server): body checks (415/413/400), the Capillary
//! error body, and the status rules of batch responses.

use crate::domain::error_catalog::ErrorCode;
use crate::domain::model::{AuthContext, Role};
use crate::http::error::ApiError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

/// Bodies above this are refused with 413 (docs/contract.md#requests).
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: String,
    pub path: String,
    pub path_params: HashMap<String, String>,
    pub query: HashMap<String, String>,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub auth: AuthContext,
    pub request_id: String,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str).filter(|v| !v.trim().is_empty())
    }

    /// An optional Extension flag in the query: absent (or blank) is false, `true` is true, and any
    /// other value is a 400 naming it.
    pub fn query_flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.query_param(name) {
            None => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(ApiError::bad_request(format!("{name} must be true when given"))),
        }
    }
}

/// What a response that could not be built is replaced with (a 500 in the request-level envelope).
pub const UNBUILDABLE_RESPONSE: &str = concat!(
    r#"{"errors":[{"status":false,"code":500,"#,
    r#""message":"Internal server error: the response could not be built"}],"warnings":[]}"#
);

#[derive(Debug, Clone, PartialEq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl ApiResponse {
    /// A JSON response. A body that cannot be serialized is a bug, never a success: it becomes a
    /// 500 (logged), whatever `status` was asked for.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        let (status, body) = match serde_json::to_string(body) {
            Ok(body) => (status, body),
            Err(e) => {
                tracing::error!(error = %e, "response body could not be serialized");
                (500, UNBUILDABLE_RESPONSE.to_string())
            }
        };
        ApiResponse { status, headers: vec![("content-type".into(), "application/json".into())], body }
    }

    /// A response whose body is `body` as it is (the console's files).
    pub fn text(status: u16, content_type: &str, body: &str) -> Self {
        ApiResponse { status, headers: vec![("content-type".into(), content_type.into())], body: body.to_string() }
    }

    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// As an HTTP response whose body is `body(text)`, for the Lambda adapter and the local server
    /// alike. One that cannot be built (a status or header value HTTP does not allow: a bug) is a
    /// 500 in the request-level envelope, never an empty success.
    pub fn into_http<B>(self, body: impl Fn(String) -> B) -> http::Response<B> {
        let mut builder = http::Response::builder().status(self.status);
        for (k, v) in &self.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        builder.body(body(self.body)).unwrap_or_else(|e| {
            tracing::error!(error = %e, "response could not be built");
            let mut fallback = http::Response::new(body(UNBUILDABLE_RESPONSE.to_string()));
            *fallback.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
            fallback
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
            fallback
        })
    }
}

pub fn require_admin(req: &ApiRequest) -> Result<(), ApiError> {
    if req.auth.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// The caller's role is one of `allowed` (else 403).
pub fn require_role(req: &ApiRequest, allowed: &[Role]) -> Result<(), ApiError> {
    if allowed.contains(&req.auth.role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Checks content type and size and parses the JSON body; errors name the position and field.
pub fn parse_json_body<T: DeserializeOwned>(req: &ApiRequest) -> Result<T, ApiError> {
    parse_json_body_with(req, std::marker::PhantomData::<T>)
}

/// `parse_json_body` with a seed that knows how to read the body (the batch APIs' array names).
pub fn parse_json_body_with<T, S>(req: &ApiRequest, seed: S) -> Result<T, ApiError>
where
    S: for<'de> serde::de::DeserializeSeed<'de, Value = T>,
{
    let content_type = req.header("content-type").unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if media != "application/json" {
        let sent = if content_type.is_empty() { "nothing" } else { content_type };
        return Err(ApiError::UnsupportedMediaType(sent.to_string()));
    }
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut de = serde_json::Deserializer::from_slice(&req.body);
    let mut track = serde_path_to_error::Track::new();
    let value = seed.deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track)).map_err(|inner| {
        let path = track.path().to_string();
        let field = if path == "." || path.is_empty() { String::new() } else { format!(" at field `{path}`") };
        ApiError::BadRequest(format!(
            "Malformed JSON{field} (line {}, column {}): {}",
            inner.line(),
            inner.column(),
            strip_position(&inner.to_string())
        ))
    })?;
    // One JSON document and nothing after it but whitespace: trailing bytes are refused, not ignored.
    de.end().map_err(|e| {
        ApiError::BadRequest(format!(
            "Malformed JSON (line {}, column {}): trailing characters after the JSON document",
            e.line(),
            e.column()
        ))
    })?;
    Ok(value)
}

fn strip_position(msg: &str) -> &str {
    msg.find(" at line ").map_or(msg, |i| &msg[..i])
}

/// HTTP status of a batch write: 200 all succeeded, 201 at least one item failed (Capillary's meaning).
pub fn batch_status(statuses: impl IntoIterator<Item = bool>) -> u16 {
    if statuses.into_iter().all(|ok| ok) {
        200
    } else {
        201
    }
}

/// Batch limits shared by every write API (docs/contract.md#batch-writes), defined in `limits`.
pub use crate::domain::limits::{MAX_CUSTOMERS_PER_REQUEST, MAX_ENTRIES_PER_CUSTOMER};

pub fn check_batch_size(len: usize) -> Result<(), ApiError> {
    if len > MAX_CUSTOMERS_PER_REQUEST {
        Err(ApiError::Catalog {
            status: 400,
            item: ErrorCode::BatchLimit
                .with_detail(format!("{len} customers in one request; send at most {MAX_CUSTOMERS_PER_REQUEST}")),
        })
    } else {
        Ok(())
    }
}

/// At most `MAX_ENTRIES_PER_CUSTOMER` program entries under each customer (2008 too, naming the
/// customer by its position); `counts` are the entries of each customer in request order.
pub fn check_entries_per_customer(counts: impl IntoIterator<Item = usize>) -> Result<(), ApiError> {
    match counts.into_iter().enumerate().find(|(_, n)| *n > MAX_ENTRIES_PER_CUSTOMER) {
        Some((i, n)) => Err(ApiError::Catalog {
            status: 400,
            item: ErrorCode::BatchLimit.with_detail(format!(
                "customer {} of the request has {n} partner program entries; send at most \
                 {MAX_ENTRIES_PER_CUSTOMER} per customer",
                i + 1
            )),
        }),
        None => Ok(()),
    }
}

/// A batch-array field may be absent or null; anything else must be an array.
pub fn empty_batch(name: &str) -> ApiError {
    ApiError::BadRequest(format!("`{name}` must be a non-empty array"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(ct: Option<&str>, body: &str) -> ApiRequest {
        let mut headers = HashMap::new();
        if let Some(ct) = ct {
            headers.insert("content-type".into(), ct.into());
        }
        ApiRequest {
            method: "POST".into(),
            path: "/".into(),
            path_params: HashMap::new(),
            query: HashMap::new(),
            headers,
            body: body.as_bytes().to_vec(),
            auth: AuthContext { org_id: 1, role: Role::Api, client_key: "ck_test".into(), display_name: None },
            request_id: "r".into(),
        }
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        items: Vec<Inner>,
    }
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    #[test]
    fn malformed_json_names_field_and_position() {
        let r = parse_json_body::<Body>(&req(Some("application/json"), r#"{"items":[{"count":"x"}]}"#))
            .err()
            .map(ApiResponse::from)
            .unwrap();
        assert_eq!(r.status, 400);
        assert!(r.body.contains("items[0].count"), "{}", r.body);
        assert!(r.body.contains("column"), "{}", r.body);
        let r = parse_json_body::<Body>(&req(Some("application/json"), "{\"items\": ["))
            .err()
            .map(ApiResponse::from)
            .unwrap();
        assert_eq!(r.status, 400);
    }

    #[test]
    fn content_type_and_size_are_checked_first() {
        assert_eq!(parse_json_body::<Body>(&req(None, "{}")).err().map(ApiResponse::from).unwrap().status, 415);
        assert_eq!(
            parse_json_body::<Body>(&req(Some("text/plain"), "{}")).err().map(ApiResponse::from).unwrap().status,
            415
        );
        let big = format!("{{\"items\":[],\"pad\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(
            parse_json_body::<Body>(&req(Some("application/json; charset=utf-8"), &big))
                .err()
                .map(ApiResponse::from)
                .unwrap()
                .status,
            413
        );
    }

    #[test]
    fn trailing_characters_after_the_document_are_refused() {
        let ok = r#" {"items":[{"count":1}]} "#;
        assert!(parse_json_body::<Body>(&req(Some("application/json"), ok)).is_ok());
        for bad in [r#"{"items":[]} x"#, r#"{"items":[]}{}"#, r#"{"items":[]},"#] {
            let r = parse_json_body::<Body>(&req(Some("application/json"), bad)).err().map(ApiResponse::from).unwrap();
            assert_eq!(r.status, 400, "{bad}");
            assert!(r.body.contains("trailing characters"), "{}", r.body);
        }
    }

    #[test]
    fn entries_per_customer_are_limited_naming_the_customer() {
        assert!(check_entries_per_customer([1, 50, 0]).is_ok());
        let r = check_entries_per_customer([1, 51]).err().map(ApiResponse::from).unwrap();
        assert_eq!(r.status, 400);
        assert!(r.body.contains("2008") && r.body.contains("customer 2 of the request has 51"), "{}", r.body);
    }

    #[test]
    fn batch_status_is_201_when_any_item_failed() {
        assert_eq!(batch_status([true, true]), 200);
        assert_eq!(batch_status([true, false]), 201);
    }
}
