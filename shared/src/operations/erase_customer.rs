//! `DELETE /v2/customers/{id}` (admin): erasure keeping the ledger (docs/contract.md#deviations).
//! The profile goes first, so no new link can commit, then each linkage in its own versioned
//! transaction: a repeat after a crash finishes the job and changes nothing already clean.

use crate::domain::catalog::OrgCatalog;
use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::model::activity_for;
use crate::domain::model::EventName;
use crate::domain::model::*;
use crate::http::api::{require_admin, ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::http::wire::ErasedCustomer;
use crate::state::linkage_write::{change_linkage, ItemWrite, Prepared, StorageFailure};
use crate::state::AppState;
use crate::storage::linkage_items;
use crate::storage::outbox;
use crate::storage::store::{StoreError, TransactError};
use chrono::{DateTime, Utc};

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    require_admin(&req)?;
    let raw = req.path_params.get("id").map(String::as_str).unwrap_or("");
    let Some(id) = raw.trim().parse::<CustomerId>().ok().filter(|n| *n > 0) else {
        return Err(ApiError::bad_request("id must be a customer's numeric id (a positive integer)"));
    };
    let erasure = erase(state, &req.auth.actor(), req.auth.org_id, id).await?.ok_or(ApiError::CustomerNotFound)?;
    Ok(ApiResponse::json(200, &erasure))
}

/// Erases customer `id` of `org` at the request of `actor` (named on the delinks it records);
/// `None` when the org has no such customer.
pub async fn erase(
    state: &AppState,
    actor: &Actor,
    org: OrgId,
    id: CustomerId,
) -> Result<Option<ErasedCustomer>, StoreError> {
    let Some(customer) = state.store.customer(org, id).await? else {
        return Ok(None);
    };
    let catalog = state.catalog(org).await?;
    let now = state.now();
    let erased = match customer.erased_at {
        Some(_) => customer.erased(now),
        None => erase_profile(state, actor, org, &customer, now).await?,
    };
    let mut delinked = Vec::new();
    for linkage in state.store.linkages(org, id).await? {
        if let Some(name) = scrub_linkage(state, actor, &catalog, &erased, linkage.partner_program_id).await? {
            delinked.push(name);
        }
    }
    // Last, once no linkage holds an id: a membership id identifies a person, so its trail goes too.
    let trail = state.store.delete_membership_id_trail(org, id).await?;
    tracing::info!(org, customer = id, delinked = delinked.len(), trail, "customer erased");
    Ok(Some(ErasedCustomer::new(&erased, delinked)))
}

/// Profile without identifiers or enrolments, identifier lookup items deleted, `customerErased`
/// emitted: one transaction. A concurrent erasure that won is read back.
async fn erase_profile(
    state: &AppState,
    actor: &Actor,
    org: OrgId,
    customer: &Customer,
    now: DateTime<Utc>,
) -> Result<Customer, StoreError> {
    let erased = customer.erased(now);
    let mut event = outbox::customer_erased(org, &erased, now);
    outbox::stamp_provenance(&mut event, Some(actor), None);
    match state.store.erase_customer_profile(org, customer, &erased, &event).await {
        Ok(()) => Ok(erased),
        Err(e @ TransactError::Cancelled { .. }) if e.condition_failed_at(0) => {
            let again = state.store.customer(org, customer.customer_id).await?;
            Ok(again.map_or(erased, |c| c.erased(now)))
        }
        Err(TransactError::Cancelled { reasons }) => Err(StoreError::Service {
            operation: "TransactWriteItems",
            message: format!("erasure refused: {reasons:?}"),
            throttled: false,
        }),
        Err(TransactError::Store(e)) => Err(e),
    }
}

/// Makes one linkage hold no partner membership id and no pending relink, delinking it (with its
/// DELINK activity and event) when active. Returns the program's name when it was delinked.
async fn scrub_linkage(
    state: &AppState,
    actor: &Actor,
    catalog: &OrgCatalog,
    customer: &Customer,
    program_id: ProgramId,
) -> Result<Option<String>, StoreError> {
    let org = catalog.org.org_id;
    let table = state.store.table().to_string();
    let mut was_linked = None;
    let item = ItemWrite::fresh().by(actor.clone());
    let outcome = change_linkage(state, &item, org, customer.customer_id, program_id, |current, now| {
        let Some(cur) = current else { return Err(ItemStatus::success()) };
        if !cur.linked && cur.pending_relink.is_none() {
            // Nothing to delink; clearing its ids is not a membership change (no activity).
            was_linked = Some(false);
            return Err(ItemStatus::success());
        }
        was_linked = Some(cur.linked);
        // An active membership is delinked; an ended one loses the relink it had scheduled.
        let (kind, event_name) = match cur.linked {
            true => (ActivityType::Delink, EventName::Delinked),
            false => (ActivityType::MembershipRelinkingCancelled, EventName::Updated),
        };
        let mut after = cur.clone();
        if cur.linked {
            after.linked = false;
            after.status = LinkageStatus::Delinked;
        }
        after.pending_relink = None;
        after.partner_membership_id = None;
        after.holds_subscription = false;
        after.version = cur.version + 1;
        after.last_activity = kind;
        after.last_updated = now;
        let extras = released_items(&table, org, cur).map_err(|e| {
            tracing::error!(error = %e, "could not build a transaction item");
            refused()
        })?;
        let event = catalog
            .partner_program_by_id(program_id)
            .map(|p| outbox::event(event_name, "CUSTOMER_ERASED", org, customer, p, &after, now, catalog.zone()));
        Ok(Prepared {
            activity: activity_for(Some(cur), &after, kind, now),
            event,
            expected_version: Some(cur.version),
            after,
            extras,
        })
    })
    .await
    .map_err(StorageFailure::into_store_error)?;
    if !outcome.status {
        return Err(StoreError::Service {
            operation: "TransactWriteItems",
            message: format!("delink refused: {}", outcome.code),
            throttled: false,
        });
    }
    // `Some(true)`: delinked now; `Some(false)` with no change written: only ids to clear.
    match was_linked {
        Some(true) => Ok(catalog
            .partner_program_by_id(program_id)
            .map(|p| p.partner_program_name.clone())
            .or(Some(program_id.to_string()))),
        Some(false) => {
            clear_ids(state, org, customer.customer_id, program_id).await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

fn refused() -> ItemStatus {
    ErrorCode::CannotProcess.with_detail("erasure could not release an item the linkage held")
}

/// The uniqueness items and guard a linkage held, deleted in its transaction.
fn released_items(
    table: &str,
    org: OrgId,
    cur: &Linkage,
) -> Result<Vec<(aws_sdk_dynamodb::types::TransactWriteItem, ItemStatus)>, StoreError> {
    let mut ids: Vec<&String> = cur.partner_membership_id.iter().collect();
    if let Some(p) = cur.pending_relink.as_ref().and_then(|p| p.partner_membership_id.as_ref()) {
        if !ids.contains(&p) {
            ids.push(p);
        }
    }
    let mut items = Vec::new();
    for mid in ids {
        let item = linkage_items::release_membership_id_of(table, org, cur.partner_program_id, mid, cur.customer_id)?;
        items.push((item, refused()));
    }
    if cur.holds_subscription {
        items.push((linkage_items::release_subscription(table, org, cur.customer_id)?, refused()));
    }
    Ok(items)
}

/// An ended linkage: drop its partner membership ids (and any pending relink with its claim),
/// conditioned on the version read, retried when another writer got there first.
async fn clear_ids(
    state: &AppState,
    org: OrgId,
    customer: CustomerId,
    program_id: ProgramId,
) -> Result<(), StoreError> {
    // Bounded like the write path's contention loop: another writer winning this often is news.
    for _ in 0..8 {
        let Some(cur) = state.store.linkage(org, customer, program_id).await? else { return Ok(()) };
        if cur.linked {
            return Err(StoreError::Service {
                operation: "TransactWriteItems",
                message: "linked again during erasure".into(),
                throttled: false,
            });
        }
        if cur.partner_membership_id.is_none() && cur.pending_relink.is_none() && !cur.holds_subscription {
            return Ok(());
        }
        let table = state.store.table();
        let mut after = cur.clone();
        after.partner_membership_id = None;
        after.pending_relink = None;
        after.holds_subscription = false;
        after.version = cur.version + 1;
        let mut items = vec![linkage_items::linkage(table, after, state.config.due_shards, Some(cur.version))?];
        items.extend(released_items(table, org, &cur)?.into_iter().map(|(i, _)| i));
        match state.store.transact(items).await {
            Ok(()) => return Ok(()),
            Err(e @ TransactError::Cancelled { .. }) if e.condition_failed_at(0) || e.is_conflict() => continue,
            Err(TransactError::Cancelled { reasons }) => {
                return Err(StoreError::Service {
                    operation: "TransactWriteItems",
                    message: format!("{reasons:?}"),
                    throttled: false,
                })
            }
            Err(TransactError::Store(e)) => return Err(e),
        }
    }
    Err(StoreError::Service {
        operation: "TransactWriteItems",
        message: "linkage kept changing during erasure".into(),
        throttled: false,
    })
}
