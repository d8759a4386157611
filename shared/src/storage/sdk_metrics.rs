//! What the DynamoDB client did, as metrics (`crate::metrics`): an SDK interceptor sees every
//! operation and every attempt of it, including the retries the SDK makes on its own, which no
//! caller of `Store` sees. Throttles and failed conditions are told apart by the error type in the
//! body of a 400 answer (DynamoDB's JSON protocol), never by anything the request carried.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::retries::RequestAttempts;

/// The error types DynamoDB answers when it throttles a call.
const THROTTLES: [&str; 3] = ["ThrottlingException", "ProvisionedThroughputExceededException", "RequestLimitExceeded"];

/// Counts `DynamoDbCalls`, `DynamoDbRetries`, `DynamoDbThrottles` and `DynamoDbConditionalCheckFailed`.
#[derive(Debug, Default)]
pub struct SdkMetrics;

impl Intercept for SdkMetrics {
    fn name(&self) -> &'static str {
        "SdkMetrics"
    }

    fn read_before_execution(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        crate::metrics::count("DynamoDbCalls", 1);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<RequestAttempts>().is_some_and(|a| a.attempts() > 1) {
            crate::metrics::count("DynamoDbRetries", 1);
        }
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(response) = context.response().filter(|r| r.status().as_u16() == 400) else {
            return Ok(());
        };
        let body = response.body().bytes().map(String::from_utf8_lossy).unwrap_or_default();
        match classify(&body) {
            Some(Refusal::Throttled) => crate::metrics::count_with_total("DynamoDbThrottles", 1),
            Some(Refusal::ConditionFailed) => crate::metrics::count("DynamoDbConditionalCheckFailed", 1),
            None => {}
        }
        Ok(())
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    Throttled,
    ConditionFailed,
}

/// What a 400 answer's body says: a throttle, a failed condition (of a write, or of an item of a
/// cancelled transaction), or something else.
fn classify(body: &str) -> Option<Refusal> {
    let error_type = body.split("\"__type\"").nth(1).and_then(|rest| rest.split('"').nth(1)).unwrap_or_default();
    if THROTTLES.iter().any(|t| error_type.ends_with(t)) {
        return Some(Refusal::Throttled);
    }
    let failed = error_type.ends_with("ConditionalCheckFailedException")
        || (error_type.ends_with("TransactionCanceledException") && body.contains("\"ConditionalCheckFailed\""));
    failed.then_some(Refusal::ConditionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_tell_throttles_from_failed_conditions() {
        let typed = |t: &str| format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{t}","message":"m"}}"#);
        assert_eq!(classify(&typed("ThrottlingException")), Some(Refusal::Throttled));
        assert_eq!(classify(&typed("ProvisionedThroughputExceededException")), Some(Refusal::Throttled));
        assert_eq!(classify(&typed("ConditionalCheckFailedException")), Some(Refusal::ConditionFailed));
        let cancelled = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "CancellationReasons":[{"Code":"None"},{"Code":"ConditionalCheckFailed"}]}"#;
        assert_eq!(classify(cancelled), Some(Refusal::ConditionFailed));
        let conflict =
            r#"{"__type":"x#TransactionCanceledException","CancellationReasons":[{"Code":"TransactionConflict"}]}"#;
        assert_eq!(classify(conflict), None);
        assert_eq!(classify(&typed("ValidationException")), None);
        assert_eq!(classify("not json"), None);
    }
}
