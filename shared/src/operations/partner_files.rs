//! `GET /v2/partnerProgram/partnerFiles` and `GET /v2/partnerProgram/partnerFiles/{id}` (admin,
//! Extension, docs/contract.md#partner-files): the org's partner tier files, newest first, and one
//! file's progress with the time it should still take. The import and the worker write the file
//! items (docs/file-sync.md); this reads them and writes nothing. The key of every item starts with
//! the caller's org, so another org's file id is as unknown as an id never given.

use crate::domain::dates::format_utc;
use crate::http::api::{require_admin, ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::state::AppState;
use crate::storage::partner_files::{FileStatus, PartnerFileRecord};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

pub const DEFAULT_LIMIT: i32 = 20;
pub const MAX_LIMIT: i32 = 100;
/// Longer than any file id the import makes: an id past it is unknown without a read.
pub const MAX_ID_CHARS: usize = 200;

/// One file as both routes show it.
#[serde_with::skip_serializing_none]
#[derive(Serialize, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FileView<'a> {
    pub file_id: &'a str,
    pub partner_program_name: &'a str,
    pub file_name: &'a str,
    pub object_key: &'a str,
    pub status: &'static str,
    pub error: Option<&'a str>,
    pub size_bytes: u64,
    pub rows_total: u64,
    pub rows_done: u64,
    pub applied: u64,
    pub refused: u64,
    pub chunks_total: u64,
    pub chunks_done: u64,
    pub created_at: String,
    pub started_at: Option<String>,
    pub updated_at: Option<String>,
    pub finished_at: Option<String>,
    pub results_key: Option<&'a str>,
    /// Sent as `null` when unknown: the one field a client reads to learn whether there is an estimate.
    #[serialize_always]
    pub estimated_seconds_left: Option<u64>,
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    require_admin(&req)?;
    match req.path_params.get("id") {
        Some(id) => one(state, &req, id).await,
        None => list(state, &req).await,
    }
}

async fn one(state: &AppState, req: &ApiRequest, id: &str) -> Answer {
    let unknown = || ApiError::NotFound("No partner file with the given id".into());
    if !plausible_id(id) {
        return Err(unknown());
    }
    let org = req.auth.org_id;
    let file = state.store.partner_file(org, id).await?.filter(|f| f.org_id == org).ok_or_else(unknown)?;
    let mut body = serde_json::to_value(view(&file, state.now())).map_err(|_| ApiError::internal(""))?;
    body["warnings"] = json!([]);
    body["errors"] = json!([]);
    Ok(ApiResponse::json(200, &body))
}

async fn list(state: &AppState, req: &ApiRequest) -> Answer {
    let limit = match req.query_param("limit").map(|l| l.trim().parse::<i32>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return Err(ApiError::bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
    };
    let after = match req.query_param("cursor") {
        Some(raw) => {
            Some(decode_cursor(raw).ok_or_else(|| ApiError::bad_request("cursor is not one this API returned"))?)
        }
        None => None,
    };
    let org = req.auth.org_id;
    // One more than the page: whether there is a next page is known, never an empty last page.
    let (mut files, _) = state.store.recent_partner_files(org, limit + 1, after.as_deref()).await?;
    files.retain(|f| f.org_id == org);
    let more = files.len() > limit as usize;
    files.truncate(limit as usize);
    let now = state.now();
    let data: Vec<FileView<'_>> = files.iter().map(|f| view(f, now)).collect();
    let mut pagination = json!({"limit": limit});
    if let (true, Some(last)) = (more, files.last()) {
        pagination["nextCursor"] = Value::String(encode_cursor(&last.file_id));
    }
    Ok(ApiResponse::json(200, &json!({"data": data, "pagination": pagination, "warnings": [], "errors": []})))
}

/// A file id the import could have made: not empty, not too long, no control characters.
fn plausible_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_ID_CHARS && !id.chars().any(char::is_control)
}

pub fn encode_cursor(file_id: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(file_id)
}

pub fn decode_cursor(raw: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
    String::from_utf8(bytes).ok().filter(|id| plausible_id(id))
}

pub fn view(file: &PartnerFileRecord, now: DateTime<Utc>) -> FileView<'_> {
    FileView {
        file_id: &file.file_id,
        partner_program_name: &file.partner_program_name,
        file_name: &file.file_name,
        object_key: &file.object_key,
        status: file.status.as_str(),
        error: file.error.as_deref(),
        size_bytes: file.size_bytes,
        rows_total: file.rows_total,
        rows_done: file.rows_done,
        applied: file.applied,
        refused: file.refused,
        chunks_total: file.chunks_total,
        chunks_done: file.chunks_done,
        created_at: instant(&file.created_at),
        started_at: file.started_at.as_deref().map(instant),
        updated_at: file.updated_at.as_deref().map(instant),
        finished_at: file.finished_at.as_deref().map(instant),
        results_key: file.results_key.as_deref(),
        estimated_seconds_left: estimated_seconds_left(file, now),
    }
}

/// A stored instant (RFC 3339) as the API's other instants: UTC, seconds, `Z`.
fn instant(raw: &str) -> String {
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) => format_utc(t.with_timezone(&Utc)),
        Err(_) => raw.to_string(),
    }
}

/// Seconds left at the pace so far: the rows not done times the time per row done since the file
/// started, rounded up. 0 once done; unknown (`None`) before a row is done or unless running.
pub fn estimated_seconds_left(file: &PartnerFileRecord, now: DateTime<Utc>) -> Option<u64> {
    match file.status {
        FileStatus::Done => Some(0),
        FileStatus::Running if file.rows_done > 0 => {
            let started = DateTime::parse_from_rfc3339(file.started_at.as_deref()?).ok()?.with_timezone(&Utc);
            // A clock behind the start counts as no time spent.
            let elapsed_ms = u128::try_from((now - started).num_milliseconds()).unwrap_or(0);
            let left = u128::from(file.rows_total.saturating_sub(file.rows_done));
            let seconds = (left * elapsed_ms).div_ceil(u128::from(file.rows_done) * 1000);
            Some(u64::try_from(seconds).unwrap_or(u64::MAX))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::partner_files::NewFile;

    fn file(status: FileStatus, total: u64, done: u64, started: Option<&str>) -> PartnerFileRecord {
        let new = NewFile {
            org: 7,
            file_id: "f1",
            program: "SkyMiles",
            program_id: None,
            object_key: "incoming/7/SkyMiles/a.csv",
            file_name: "a.csv",
            etag: "e",
            size_bytes: 10,
            created_at: "2031-03-10T10:00:00.000Z".into(),
        };
        let mut f = PartnerFileRecord::new(&new, status, None);
        (f.rows_total, f.rows_done, f.started_at) = (total, done, started.map(str::to_string));
        f
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_estimate_is_the_rows_left_at_the_pace_so_far_rounded_up() {
        let started = Some("2031-03-10T10:00:00Z");
        // 250 rows in 100 s: 750 left take 300 s.
        let f = file(FileStatus::Running, 1000, 250, started);
        assert_eq!(estimated_seconds_left(&f, at("2031-03-10T10:01:40Z")), Some(300));
        // 3 rows in 1 s: 7 left take 2.33 s, said as 3.
        let f = file(FileStatus::Running, 10, 3, started);
        assert_eq!(estimated_seconds_left(&f, at("2031-03-10T10:00:01Z")), Some(3));
        // Every row done but not yet finished: nothing left.
        assert_eq!(
            estimated_seconds_left(&file(FileStatus::Running, 5, 5, started), at("2031-03-10T10:00:09Z")),
            Some(0)
        );
        // A clock behind the start: no time spent yet.
        assert_eq!(
            estimated_seconds_left(&file(FileStatus::Running, 5, 1, started), at("2031-03-10T09:00:00Z")),
            Some(0)
        );
    }

    #[test]
    fn there_is_no_estimate_before_a_row_is_done_or_unless_running_and_none_left_once_done() {
        let now = at("2031-03-10T11:00:00Z");
        let started = Some("2031-03-10T10:00:00Z");
        assert_eq!(estimated_seconds_left(&file(FileStatus::Running, 10, 0, started), now), None);
        assert_eq!(estimated_seconds_left(&file(FileStatus::Running, 10, 4, None), now), None);
        assert_eq!(estimated_seconds_left(&file(FileStatus::Importing, 0, 0, None), now), None);
        assert_eq!(estimated_seconds_left(&file(FileStatus::Rejected, 0, 0, None), now), None);
        assert_eq!(estimated_seconds_left(&file(FileStatus::Done, 10, 10, started), now), Some(0));
    }

    #[test]
    fn instants_are_shown_in_utc_to_the_second_and_the_estimate_as_null_when_unknown() {
        let f = file(FileStatus::Running, 10, 0, Some("2031-03-10T15:30:00.250+05:30"));
        let v = serde_json::to_value(view(&f, at("2031-03-10T11:00:00Z"))).unwrap();
        assert_eq!(v["createdAt"], "2031-03-10T10:00:00Z");
        assert_eq!(v["startedAt"], "2031-03-10T10:00:00Z");
        assert!(v["estimatedSecondsLeft"].is_null() && v.get("estimatedSecondsLeft").is_some(), "{v}");
        assert!(v.get("finishedAt").is_none() && v.get("error").is_none(), "{v}");
    }

    #[test]
    fn cursors_round_trip_and_anything_else_is_refused() {
        assert_eq!(decode_cursor(&encode_cursor("01J9ABC")).as_deref(), Some("01J9ABC"));
        assert_eq!(decode_cursor("%%%"), None);
        assert_eq!(decode_cursor(""), None);
        assert_eq!(decode_cursor(&encode_cursor("a\u{1}b")), None);
        assert_eq!(decode_cursor(&encode_cursor(&"x".repeat(MAX_ID_CHARS + 1))), None);
    }
}
