//! `GET /v2/partnerProgram/expiryPreview` (admin or agent, docs/contract.md#scheduled-expiry): what
//! the next sweeps will do up to `until`, read by the sweep's own walk of the due index, or for one
//! member from its linkages, and planned by the sweep's rules (`expiry_rules`); it writes nothing.

use crate::domain::catalog::OrgCatalog;
use crate::domain::dates::{format_utc, parse_request_date};
use crate::domain::expiry_rules::{self, SweepAction};
use crate::domain::model::{Linkage, PartnerProgram, Role};
use crate::domain::reminders::{self, ReminderKind};
use crate::http::api::{require_role, ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::state::AppState;
use crate::storage::customer_identity::{resolve_with_linkages, Identifiers, Resolution};
use crate::storage::keys;
use crate::storage::records::{from_item, Item, LinkageRecord, PartnerProgramRecord};
use crate::storage::reminder_items;
use crate::storage::store::StoreError;
use crate::sweep::{day_string, due_sk_upper, first_unfinished_day, DuePosition, DueWalk};
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

pub const MAX_DAYS_AHEAD: i64 = 92;
/// How far ahead one member's preview may look (10 years), and looks when `until` is not given.
pub const MAX_MEMBER_DAYS_AHEAD: i64 = 3653;
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 500;
/// Index queries one page may spend (empty partitions included) before it returns a cursor.
const QUERY_BUDGET: u32 = 400;
/// Partitions read at once when the walk stands at a partition's start: a day's worth with the
/// default `DUE_SHARDS` (8). Each read in flight holds its request and answer buffers: 16 at once
/// raised the function's peak RSS by 0.9 MB (`make bench`) for half the round trips of 8.
const READ_AHEAD: u32 = 8;

/// Where the next page starts: a day, a shard, and the index position within it.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Cursor {
    d: String,
    s: u32,
    #[serde(default)]
    k: Option<BTreeMap<String, String>>,
}

const CURSOR_KEYS: [&str; 4] = ["DUE_PK", "DUE_SK", "PK", "SK"];

impl Cursor {
    fn encode(&self) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(raw: &str, shards: u32) -> Option<Cursor> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
        let c: Cursor = serde_json::from_slice(&bytes).ok()?;
        NaiveDate::parse_from_str(&c.d, "%Y-%m-%d").ok()?;
        if c.s >= shards {
            return None;
        }
        if let Some(k) = &c.k {
            let well_formed = k.len() == CURSOR_KEYS.len()
                && CURSOR_KEYS.iter().all(|n| k.contains_key(*n))
                && k.get("DUE_PK").map(String::as_str) == Some(keys::due_pk(&c.d, c.s).as_str());
            if !well_formed {
                return None;
            }
        }
        Some(c)
    }

    /// Where the walk resumes (the walk's shards counted from 0, so `s` is the shard itself).
    fn position(&self, fallback_day: NaiveDate) -> DuePosition {
        let start = self
            .k
            .as_ref()
            .map(|k| k.iter().map(|(n, v)| (n.clone(), AttributeValue::S(v.clone()))).collect::<HashMap<_, _>>());
        let day = NaiveDate::parse_from_str(&self.d, "%Y-%m-%d").unwrap_or(fallback_day);
        DuePosition { day, shard: self.s, start }
    }

    fn at(position: &DuePosition) -> Cursor {
        Cursor { d: day_string(position.day), s: position.shard, k: position.start.as_ref().map(key_strings) }
    }
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    require_role(&req, &[Role::Admin, Role::Agent])?;
    let catalog = state.catalog(req.auth.org_id).await?;
    let now = state.now();
    let member = member_filter(&req)?;
    let (max_days, default_until) = match member {
        Some(_) => (MAX_MEMBER_DAYS_AHEAD, now + Duration::days(MAX_MEMBER_DAYS_AHEAD)),
        None => (MAX_DAYS_AHEAD, now),
    };
    let until = match req.query_param("until") {
        Some(raw) => {
            parse_request_date("until", raw, catalog.zone()).map_err(|e| ApiError::bad_request(e.to_string()))?
        }
        None => default_until,
    };
    if until > now + Duration::days(max_days) {
        return Err(ApiError::bad_request(format!("until: at most {max_days} days ahead")));
    }
    let limit = match req.query_param("limit").map(|l| l.trim().parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return Err(ApiError::bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
    };
    if let Some(ids) = member {
        if req.query_param("cursor").is_some() {
            return Err(ApiError::bad_request("cursor does not apply to one member's preview"));
        }
        return Ok(ApiResponse::json(200, &member_preview(state, &catalog, &ids, until, limit).await?));
    }
    let shards = state.config.due_shards.max(1);
    let cursor = match req.query_param("cursor") {
        Some(raw) => Some(
            Cursor::decode(raw, shards).ok_or_else(|| ApiError::bad_request("cursor is not one this API returned"))?,
        ),
        None => None,
    };
    Ok(ApiResponse::json(200, &preview(state, &catalog, until, limit, cursor).await?))
}

/// The member a preview is filtered to (`identifierName`/`identifierValue`, as customerPartnerPrograms
/// takes them), if any.
fn member_filter(req: &ApiRequest) -> Result<Option<Identifiers>, ApiError> {
    let (name, value) = (req.query_param("identifierName"), req.query_param("identifierValue"));
    let (name, value) = match (name, value) {
        (None, None) => return Ok(None),
        (Some(n), Some(v)) => (n, v),
        _ => return Err(ApiError::bad_request("identifierName and identifierValue go together")),
    };
    let Some(ids) = Identifiers::from_query(name, value) else {
        return Err(ApiError::bad_request("identifierName must be one of mobile, email, externalId, id"));
    };
    if let Some(problem) = &ids.problem {
        return Err(ApiError::bad_request(format!("identifierValue: {problem}")));
    }
    Ok(Some(ids))
}

/// One member's preview: each of its linkages with something due by `until`, planned by the
/// sweep's rules from the linkage itself (not the due index), with its expiry reminders.
async fn member_preview(
    state: &AppState,
    catalog: &OrgCatalog,
    ids: &Identifiers,
    until: DateTime<Utc>,
    limit: usize,
) -> Result<Value, StoreError> {
    let (resolution, mut linkages) = resolve_with_linkages(&state.store, catalog.org.org_id, ids).await?;
    let mut actions: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut errors = Vec::new();
    if !matches!(resolution, Resolution::Found(_)) {
        errors.push(resolution.status());
    }
    linkages.sort_by_key(|l| l.partner_program_id);
    let due: Vec<(&Linkage, &PartnerProgram, Value)> = linkages
        .iter()
        .filter_map(|l| {
            let program = catalog.partner_program_by_id(l.partner_program_id)?;
            Some((l, program, linkage_entry(l, program, until, &mut actions)?))
        })
        .collect();
    let now = state.now();
    let data = futures::future::try_join_all(due.into_iter().map(|(l, program, mut entry)| async move {
        let reminders = member_reminders(state, l, program, now).await?;
        entry["reminders"] = Value::Array(reminders);
        Ok::<_, StoreError>(entry)
    }))
    .await?;
    let reminders: usize = data.iter().map(|e| e["reminders"].as_array().map_or(0, Vec::len)).sum();
    Ok(json!({
        "until": format_utc(until), "data": data,
        "summary": {"linkages": data.len(), "actions": actions, "programExpiries": 0, "reminders": reminders},
        "pagination": {"limit": limit}, "warnings": [], "errors": errors
    }))
}

/// The expiry reminders of `l`'s current expiry: those the sweep sent (`SENT`, at when it sent
/// them) and those armed that it will send (`QUEUED`, at when they fall due), oldest first.
async fn member_reminders(
    state: &AppState,
    l: &Linkage,
    program: &PartnerProgram,
    now: DateTime<Utc>,
) -> Result<Vec<Value>, StoreError> {
    let Some(target) = reminders::target(l) else { return Ok(Vec::new()) };
    let (armed, sent) =
        reminder_items::reminders_of(&state.store, l.org_id, l.customer_id, l.partner_program_id).await?;
    let view = |kind: ReminderKind, at, days: u32, state: &str| {
        let expires = format_utc(target.expires_at);
        (
            at,
            json!({
                "kind": kind.action(), "at": format_utc(at), "state": state, "daysBefore": days, "expiresAt": expires
            }),
        )
    };
    let mut out: Vec<(DateTime<Utc>, Value)> = sent
        .iter()
        .filter(|r| r.expires_at == target.expires_at && r.reminder_kind() == Some(target.kind))
        .map(|r| view(target.kind, r.sent_at, r.days_before, "SENT"))
        .collect();
    // Armed ones the sweep would drop unsent (the program no longer reminds that day) are left out.
    out.extend(
        armed
            .iter()
            .filter(|r| r.expires_at == target.expires_at && r.reminder_kind() == Some(target.kind))
            .filter(|r| program.expiry_reminder_days.contains(&r.days_before) && r.expires_at > now)
            .map(|r| view(target.kind, r.due_at, r.days_before, "QUEUED")),
    );
    out.sort_by_key(|(at, _)| *at);
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

async fn preview(
    state: &AppState,
    catalog: &OrgCatalog,
    until: DateTime<Utc>,
    limit: usize,
    cursor: Option<Cursor>,
) -> Result<Value, StoreError> {
    let from = match cursor {
        Some(c) => c.position(until.date_naive()),
        None => {
            let today = state.now().date_naive();
            DuePosition::start_of(first_unfinished_day(&state.store, &state.config.sweep, today).await?.0)
        }
    };
    let shards = state.config.due_shards.max(1);
    let mut walk =
        DueWalk::new(&state.store, shards, due_sk_upper(until), from, until.date_naive()).of_org(catalog.org.org_id);
    let mut data = Vec::new();
    let mut actions: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut program_expiries = 0u64;
    let mut reminders = 0u64;
    let mut queries = 0u32;
    let mut next: Option<Cursor> = None;
    while !walk.finished() {
        let remaining = limit - data.len();
        if remaining == 0 || queries >= QUERY_BUDGET {
            next = Some(Cursor::at(&walk.at));
            break;
        }
        // Mid-partition, only its next page can come next; at a partition's start, the partitions
        // after it are read beside it (most are empty: a day has `shards` of them).
        let width = if walk.at.start.is_some() { 1 } else { READ_AHEAD.min(QUERY_BUDGET - queries) };
        let pages = walk.read_ahead(remaining.min(100) as i32, width as usize).await?;
        queries += pages.len() as u32;
        for mut page in pages {
            // A page read beside an earlier one may no longer fit the limit: it is read again.
            if page.page.items.len() > limit - data.len() {
                break;
            }
            walk.take(&mut page);
            for item in std::mem::take(&mut page.page.items) {
                // Expiry reminders are listed beside the transitions.
                if item.get("entity").and_then(|v| v.as_s().ok()).map(String::as_str)
                    == Some(crate::storage::reminder_items::ENTITY)
                {
                    if let Some(entry) = crate::sweep::due_reminders::describe(item, catalog, until, &mut actions) {
                        reminders += 1;
                        data.push(entry);
                    }
                    continue;
                }
                if let Some(entry) = describe(item, catalog, until, &mut actions, &mut program_expiries) {
                    data.push(entry);
                }
            }
            if !page.ends_partition {
                break;
            }
        }
    }
    let mut pagination = json!({"limit": limit});
    if let Some(c) = next {
        pagination["nextCursor"] = json!(c.encode());
    }
    Ok(json!({
        "until": format_utc(until), "data": data,
        "summary": {
            "linkages": data.len() as u64 - program_expiries - reminders, "actions": actions,
            "programExpiries": program_expiries, "reminders": reminders
        },
        "pagination": pagination, "warnings": [], "errors": []
    }))
}

fn key_strings(k: &Item) -> BTreeMap<String, String> {
    k.iter().filter_map(|(n, v)| Some((n.clone(), v.as_s().ok()?.clone()))).collect()
}

/// A linkage's transitions up to `until` as the preview shows them (counted in `actions`), or
/// `None` when nothing will happen to it by then.
fn linkage_entry(
    linkage: &Linkage,
    program: &PartnerProgram,
    until: DateTime<Utc>,
    actions: &mut BTreeMap<&'static str, u64>,
) -> Option<Value> {
    let plan = expiry_rules::plan(linkage, program, until);
    if plan.is_empty() {
        return None;
    }
    let mut steps: Vec<Value> = plan
        .steps
        .iter()
        .map(|s| json!({"action": s.action.as_str(), "activityType": s.activity.as_str(), "at": format_utc(s.at)}))
        .collect();
    for s in &plan.steps {
        *actions.entry(s.action.as_str()).or_default() += 1;
    }
    if let (Some(backup), Some(at)) = (&plan.migrate_to_backup, plan.early_expiry_at()) {
        let a = SweepAction::BackupMembershipStarted.as_str();
        steps.push(json!({"action": a, "activityType": a, "at": format_utc(at), "partnerProgramName": backup}));
        *actions.entry(a).or_default() += 1;
    }
    Some(crate::http::wire::without_nulls(json!({
        "customerId": linkage.customer_id,
        "partnerProgramId": linkage.partner_program_id,
        "partnerProgramName": linkage.partner_program_name,
        "partnerProgramType": linkage.partner_program_type,
        "partnerTierName": linkage.tier_name,
        "dueAt": plan.steps.first().map(|s| format_utc(s.at)),
        "currentStatus": linkage.status,
        "actions": steps,
        "resultingStatus": plan.after.status,
        "resultingTierName": plan.after.tier_name,
        "linked": plan.after.linked,
    })))
}

/// One due item as the preview shows it, or `None` when nothing will happen to it by `until`.
fn describe(
    item: Item,
    catalog: &OrgCatalog,
    until: DateTime<Utc>,
    actions: &mut BTreeMap<&'static str, u64>,
    program_expiries: &mut u64,
) -> Option<Value> {
    let entity = item.get("entity").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    match entity.as_str() {
        "LINKAGE" => {
            let linkage = from_item::<LinkageRecord>(item).ok()?.linkage;
            let program = catalog.partner_program_by_id(linkage.partner_program_id)?;
            linkage_entry(&linkage, program, until, actions)
        }
        "PARTNER_PROGRAM" => {
            let record = from_item::<PartnerProgramRecord>(item).ok()?;
            // The current configuration decides (the index item may be an older one).
            let program = catalog.partner_program_by_id(record.program.partner_program_id)?;
            let expiry = program.expiry_date.filter(|e| *e <= until)?;
            *program_expiries += 1;
            let a = SweepAction::ProgramEarlyExpiry.as_str();
            let mut steps = vec![
                json!({"action": a, "activityType": a, "at": format_utc(expiry), "appliesTo": "EVERY_LINKED_MEMBER"}),
            ];
            if let Some(backup) = &program.backup_partner_program_name {
                let b = SweepAction::BackupMembershipStarted.as_str();
                steps.push(json!({
                    "action": b, "activityType": b, "at": format_utc(expiry), "partnerProgramName": backup,
                    "appliesTo": "EVERY_LINKED_MEMBER"
                }));
            }
            Some(json!({
                "partnerProgramId": program.partner_program_id,
                "partnerProgramName": program.partner_program_name,
                "partnerProgramType": program.partner_program_type,
                "dueAt": format_utc(expiry),
                "actions": steps,
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_tampering() {
        let k: BTreeMap<String, String> = [
            ("DUE_PK".to_string(), keys::due_pk("2031-03-10", 2)),
            ("DUE_SK".to_string(), "x".to_string()),
            ("PK".to_string(), "p".to_string()),
            ("SK".to_string(), "s".to_string()),
        ]
        .into();
        let c = Cursor { d: "2031-03-10".into(), s: 2, k: Some(k.clone()) };
        assert_eq!(Cursor::decode(&c.encode(), 8), Some(c));
        let other_partition = Cursor { d: "2031-03-11".into(), s: 2, k: Some(k) };
        assert_eq!(Cursor::decode(&other_partition.encode(), 8), None);
        assert_eq!(Cursor::decode(&Cursor { d: "2031-03-10".into(), s: 9, k: None }.encode(), 8), None);
        assert_eq!(Cursor::decode("not-a-cursor", 8), None);
    }
}
