//! Single-item conditional writes beyond `Store::put_new`: a Put under any condition that hands
//! back the item it was refused by (one round trip, not a Put and a Get), as the idempotency layer
//! claims and completes its keys, and the warm-up read a container makes at init.

use crate::storage::keys::Key;
use crate::storage::records::Item;
use crate::storage::store::{Store, StoreError};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};

/// A condition expression with its placeholders.
#[derive(Debug, Clone, Default)]
pub struct Condition {
    expression: String,
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
}

impl Condition {
    pub fn new(expression: impl Into<String>) -> Self {
        Condition { expression: expression.into(), ..Default::default() }
    }

    /// `#placeholder` → attribute name.
    pub fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names.push((placeholder.to_string(), attribute.to_string()));
        self
    }

    /// `:placeholder` → value.
    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.push((placeholder.to_string(), value));
        self
    }
}

/// What a conditional Put did.
#[derive(Debug)]
pub enum PutOutcome {
    Written,
    /// The condition failed; `current` is the item that failed it (`None` when there was none, or
    /// when the caller did not ask for it).
    Refused {
        current: Option<Item>,
    },
}

/// What the warm-up read found.
#[derive(Debug)]
pub enum WarmUp {
    Done,
    /// The function's policy has no GetItem: the connection is warm all the same.
    DeniedByPolicy,
}

impl Store {
    /// Puts `item` if `condition` holds. With `return_current`, a refusal carries the item that
    /// refused it (`ReturnValuesOnConditionCheckFailure = ALL_OLD`).
    pub async fn put_if(
        &self,
        item: Item,
        condition: Condition,
        return_current: bool,
    ) -> Result<PutOutcome, StoreError> {
        let mut put = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .condition_expression(condition.expression);
        for (placeholder, attribute) in condition.names {
            put = put.expression_attribute_names(placeholder, attribute);
        }
        for (placeholder, value) in condition.values {
            put = put.expression_attribute_values(placeholder, value);
        }
        if return_current {
            put = put.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        }
        match self.call("PutItem", || put.send()).await? {
            Ok(_) => Ok(PutOutcome::Written),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(c)) => {
                    Ok(PutOutcome::Refused { current: c.item.clone() })
                }
                _ => Err(StoreError::from_sdk("PutItem", e)),
            },
        }
    }

    /// One GetItem of `probe`, to open the connection (credentials, TLS) before the first request.
    pub async fn warm_up(&self, probe: &Key) -> Result<WarmUp, StoreError> {
        let get = self.client().get_item().table_name(self.table()).set_key(Some(probe.to_item()));
        match self.call("GetItem", || get.send()).await? {
            Ok(_) => Ok(WarmUp::Done),
            Err(e) if e.code() == Some("AccessDeniedException") => Ok(WarmUp::DeniedByPolicy),
            Err(e) => Err(StoreError::from_sdk("GetItem", e)),
        }
    }
}
