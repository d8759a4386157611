//! Bulk data for the sweep's local runs, benchmark and large tests: an org with a tiered EXTERNAL
//! program and N linkages of which M are due, written with BatchWriteItem straight into the table,
//! since the API would take minutes for 100,000 linkages.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use chrono::{DateTime, Duration, Utc};
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::json;
use shared::domain::model::*;
use shared::state::AppState;
use shared::storage::keys;
use shared::storage::records::{to_item, CustomerRecord, Item, LinkageRecord};
use shared::storage::store::StoreError;
use std::collections::HashMap;

/// Name of the program the seeder creates.
pub const SEED_PROGRAM: &str = "BenchMiles";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub struct SeedSpec {
    pub linkages: u64,
    pub due: u64,
    /// Also write a customer profile (enrolled in the loyalty program) per linkage, so the API can
    /// address the seeded customers.
    pub with_profiles: bool,
    /// BatchWriteItem calls in flight.
    pub concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct SeedReport {
    pub org_id: OrgId,
    pub program: PartnerProgram,
    pub linkages: u64,
    pub due: u64,
    pub items_written: u64,
}

/// An org ("Sweep Bench", UTC) with loyalty program "Bench Rewards" and the EXTERNAL program
/// `SEED_PROGRAM` (tiers Silver/Gold/Platinum, `EXPIRE_TIER`), configured through the admin API path.
pub async fn seed_org(state: &AppState) -> Result<(OrgId, ProgramId, PartnerProgram), SeedError> {
    let org = shared::admin::create_org(&state.store, "Sweep Bench", "UTC")
        .await
        .map_err(|e| SeedError::Other(e.to_string()))?;
    let lp = shared::operations::create_loyalty_program::create_loyalty_program(
        state,
        org.org_id,
        shared::domain::model::LoyaltyProgram::named("Bench Rewards"),
    )
    .await
    .map_err(|e| SeedError::Other(e.to_string()))?
    .ok_or_else(|| SeedError::Other("loyalty program exists already".into()))?;
    let body = json!({
        "programId": lp.program_id,
        "partnerProgramType": "EXTERNAL",
        "partnerProgramDescription": "Seeded for the expiry sweep",
        "tierBased": true,
        "partnerProgramTiers": [
            {"tierNumber": 1, "tierName": "Silver"},
            {"tierNumber": 2, "tierName": "Gold"},
            {"tierNumber": 3, "tierName": "Platinum"}
        ],
        "onTierExpiry": "EXPIRE_TIER"
    });
    let config = serde_json::from_value(body).map_err(|e| SeedError::Other(e.to_string()))?;
    shared::operations::put_partner_program::configure(state, org.org_id, SEED_PROGRAM, config)
        .await
        .map_err(|e| SeedError::Other(format!("creating {SEED_PROGRAM} failed: {e}")))?;
    state.invalidate(org.org_id);
    let program = state
        .catalog(org.org_id)
        .await?
        .partner_program(SEED_PROGRAM)
        .cloned()
        .ok_or_else(|| SeedError::Other(format!("{SEED_PROGRAM} not found after creating it")))?;
    Ok((org.org_id, lp.program_id, program))
}

/// An ACTIVE linkage of `customer` in the tiered EXTERNAL `program`, tier Gold, expiring at `expiry`.
/// Built from JSON so the seeder keeps compiling as the model gains optional fields.
pub fn external_linkage(
    org: OrgId,
    customer: CustomerId,
    program: &PartnerProgram,
    expiry: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Linkage, SeedError> {
    let tier = program.tier_by_name("Gold").or_else(|| program.lowest_tier());
    let linkage = json!({
        "orgId": org,
        "customerId": customer,
        "partnerProgramId": program.partner_program_id,
        "partnerProgramName": program.partner_program_name,
        "partnerProgramType": program.partner_program_type,
        "tierNumber": tier.map(|t| t.tier_number),
        "tierName": tier.map(|t| t.tier_name.clone()),
        "tierExpiryDate": expiry,
        "membershipStartDate": now - Duration::days(30),
        "status": "ACTIVE",
        "linked": true,
        "version": 1,
        "lastActivity": "ENROLLMENT",
        "lastUpdated": now - Duration::days(30),
    });
    serde_json::from_value(linkage).map_err(|e| SeedError::Other(format!("seed linkage does not match the model: {e}")))
}

/// Customer `i` of a seed of `n` with `m` due: due ones spread evenly through the id range.
fn is_due(i: u64, n: u64, m: u64) -> bool {
    n > 0 && (i * m) / n != ((i - 1) * m) / n
}

/// Seeds `spec` into a new org; `progress` is told how many linkages each finished batch held.
pub async fn seed(
    state: &AppState,
    spec: &SeedSpec,
    now: DateTime<Utc>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SeedReport, SeedError> {
    if spec.due > spec.linkages {
        return Err(SeedError::Other("more due linkages than linkages".into()));
    }
    let (org, loyalty_program, program) = seed_org(state).await?;
    let (n, m) = (spec.linkages, spec.due);
    let per_batch: u64 = if spec.with_profiles { 12 } else { 25 };
    let batches = n.div_ceil(per_batch);
    let shards = state.config.due_shards;
    let program = &program;
    let written: Vec<u64> = stream::iter(0..batches)
        .map(|b| async move {
            let mut items = Vec::new();
            let first = b * per_batch + 1;
            let last = ((b + 1) * per_batch).min(n);
            for i in first..=last {
                let expiry = if is_due(i, n, m) {
                    // Due within the last six hours.
                    now - Duration::seconds(1 + (i as i64 * 7919) % 21_600)
                } else {
                    // Due some day within the next year.
                    now + Duration::days(1) + Duration::seconds((i as i64 * 104_729) % (365 * 86_400))
                };
                let linkage = external_linkage(org, i, program, expiry, now)?;
                items.push(to_item(&LinkageRecord::new(linkage, shards)).map_err(StoreError::from)?);
                if spec.with_profiles {
                    let customer: Customer = serde_json::from_value(json!({
                        "customerId": i, "externalId": format!("SEED-{i}"),
                        "enrollments": serde_json::Map::from_iter([
                            (loyalty_program.to_string(), json!(now - Duration::days(60)))
                        ]),
                        "createdAt": now - Duration::days(60)
                    }))
                    .map_err(|e| SeedError::Other(format!("seed customer does not match the model: {e}")))?;
                    items.push(to_item(&CustomerRecord::new(org, customer)).map_err(StoreError::from)?);
                }
            }
            write_batch(state, items).await?;
            let count = last + 1 - first;
            progress(count);
            Ok::<u64, SeedError>(count)
        })
        .buffer_unordered(spec.concurrency.max(1))
        .try_collect()
        .await?;
    if spec.with_profiles {
        set_sequence(state, org, "customer", n).await?;
    }
    let linkages: u64 = written.iter().sum();
    Ok(SeedReport {
        org_id: org,
        program: program.clone(),
        linkages,
        due: m,
        items_written: if spec.with_profiles { linkages * 2 } else { linkages },
    })
}

/// Writes linkages (up to 25 per call, `concurrency` calls in flight); for tests and tools.
pub async fn write_linkages(state: &AppState, linkages: Vec<Linkage>, concurrency: usize) -> Result<u64, SeedError> {
    let shards = state.config.due_shards;
    let items = linkages
        .into_iter()
        .map(|l| to_item(&LinkageRecord::new(l, shards)).map_err(StoreError::from))
        .collect::<Result<Vec<Item>, StoreError>>()?;
    let n = items.len() as u64;
    let chunks: Vec<Vec<Item>> = items.chunks(25).map(<[Item]>::to_vec).collect();
    stream::iter(chunks)
        .map(|c| write_batch(state, c))
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await?;
    Ok(n)
}

/// One BatchWriteItem of at most 25 puts, retrying unprocessed items with backoff.
pub async fn write_batch(state: &AppState, items: Vec<Item>) -> Result<(), StoreError> {
    let table = state.store.table().to_string();
    let mut pending: Vec<WriteRequest> = items
        .into_iter()
        .map(|item| {
            PutRequest::builder().set_item(Some(item)).build().map(|p| WriteRequest::builder().put_request(p).build())
        })
        .collect::<Result<_, _>>()
        .map_err(|e| StoreError::Service { operation: "BatchWriteItem", message: e.to_string(), throttled: false })?;
    for attempt in 0..10u32 {
        if pending.is_empty() {
            return Ok(());
        }
        let out = state
            .store
            .client()
            .batch_write_item()
            .request_items(&table, std::mem::take(&mut pending))
            .send()
            .await
            .map_err(|e| StoreError::Service {
                operation: "BatchWriteItem",
                message: DisplayErrorContext(&e).to_string(),
                throttled: false,
            })?;
        pending = out.unprocessed_items.and_then(|mut u| u.remove(&table)).unwrap_or_default();
        if !pending.is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(10 << attempt.min(6))).await;
        }
    }
    if pending.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Service {
            operation: "BatchWriteItem",
            message: "items left unprocessed after retries".into(),
            throttled: true,
        })
    }
}

/// Moves a per-org id sequence past the ids the seeder used, so the API allocates new ones.
async fn set_sequence(state: &AppState, org: OrgId, kind: &str, value: u64) -> Result<(), StoreError> {
    let mut item: HashMap<String, AttributeValue> = keys::sequence(Some(org), kind).to_item();
    item.insert("value".into(), AttributeValue::N(value.to_string()));
    item.insert("entity".into(), AttributeValue::S("SEQUENCE".into()));
    state.store.put(item).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_m_of_n_are_due() {
        for (n, m) in [(10_000u64, 1_000u64), (100_000, 1_000), (7, 3), (5, 5), (5, 0)] {
            assert_eq!((1..=n).filter(|i| is_due(*i, n, m)).count() as u64, m, "{n} {m}");
        }
    }
}
