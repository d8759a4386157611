//! How a call to the table fails: `StoreError` for one call, `TransactError` for a transaction
//! (whose cancellation reasons are reported per item).

use crate::storage::records::RecordError;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB refused or failed the call (after the SDK's own retries).
    #[error("dynamodb {operation} failed: {message}")]
    Service { operation: &'static str, message: String, throttled: bool },
    /// DynamoDB refused a value the request carried (ValidationException: a key or item too
    /// large, a number it cannot keep). A client error, never worth retrying. `limits` keeps
    /// requests from getting here; this is the backstop that keeps it from looking like an outage.
    #[error("dynamodb {operation} refused a value: {message}")]
    Refused { operation: &'static str, message: String },
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The call was never made: this process's storage calls in flight stayed at their bound
    /// (`admission`) until the request's deadline. Nothing was sent, so nothing was applied.
    #[error("dynamodb {operation} not started: no turn among this process's storage calls within {waited:?}")]
    Busy { operation: &'static str, waited: std::time::Duration },
    /// A write held back because the request's `Idempotency-Key` was not claimed (`WriteContext::may_write`).
    #[error("write not sent: the request's Idempotency-Key was not claimed")]
    NotClaimed,
}

impl StoreError {
    pub(crate) fn from_sdk<E, R>(operation: &'static str, err: SdkError<E, R>) -> Self
    where
        E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        if err.code() == Some("ValidationException") {
            return StoreError::Refused { operation, message: err.message().unwrap_or("invalid value").to_string() };
        }
        let throttled = matches!(
            err.code(),
            Some("ThrottlingException" | "ProvisionedThroughputExceededException" | "RequestLimitExceeded")
        );
        StoreError::Service { operation, message: DisplayErrorContext(&err).to_string(), throttled }
    }

    /// True when the call was refused by our own admission, never sent.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy { .. })
    }

    /// True when the call was never sent (no turn, or the request may not write).
    pub fn is_unsent(&self) -> bool {
        matches!(self, StoreError::Busy { .. } | StoreError::NotClaimed)
    }

    pub fn is_throttled(&self) -> bool {
        matches!(self, StoreError::Service { throttled: true, .. })
    }

    /// True when the request carried something DynamoDB will never accept (a client error).
    pub fn is_refused_value(&self) -> bool {
        matches!(self, StoreError::Refused { .. })
    }
}

/// Why a transaction did not commit.
#[derive(Debug, thiserror::Error)]
pub enum TransactError {
    /// One or more conditions failed; `reasons[i]` is the cancellation code of item `i`
    /// (`None` where that item was fine), e.g. `ConditionalCheckFailed`, `TransactionConflict`.
    #[error("transaction cancelled: {reasons:?}")]
    Cancelled { reasons: Vec<Option<String>> },
    #[error(transparent)]
    Store(#[from] StoreError),
}

const CHECK_FAILED: &str = "ConditionalCheckFailed";

impl TransactError {
    /// True when item `index` failed its condition.
    pub fn condition_failed_at(&self, index: usize) -> bool {
        let failed =
            |reasons: &[Option<String>]| reasons.get(index).is_some_and(|r| r.as_deref() == Some(CHECK_FAILED));
        matches!(self, TransactError::Cancelled { reasons } if failed(reasons))
    }

    /// True when the cancellation came from a concurrent writer rather than a business condition.
    pub fn is_conflict(&self) -> bool {
        let conflict = |r: &Option<String>| r.as_deref() == Some("TransactionConflict");
        matches!(self, TransactError::Cancelled { reasons } if reasons.iter().any(conflict))
    }
}
