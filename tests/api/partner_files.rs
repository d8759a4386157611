//! The partner files routes (docs/contract.md#partner-files): one file's progress with the time it
//! should still take, and the org's files newest first, for admins only and never another org's.
//! The file items are written here as the import and worker write them (`Store::save_partner_file`).

use crate::support::*;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use shared::storage::partner_files::{FileStatus, NewFile, PartnerFileRecord};
use std::sync::Arc;

const NOW: &str = "2031-03-10T10:05:00Z";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW).unwrap().with_timezone(&Utc)
}

async fn clocked_app() -> TestApp {
    TestApp::start_with_clock(Arc::new(now)).await
}

/// A file of `org` for SkyMiles as the import creates it, with `status`.
fn file(org: u64, id: &str, name: &str, status: FileStatus) -> PartnerFileRecord {
    let key = format!("incoming/{org}/SkyMiles/{name}");
    let new = NewFile {
        org,
        file_id: id,
        program: "SkyMiles",
        program_id: Some(7),
        object_key: &key,
        file_name: name,
        etag: "9b2cf535f27731c974343645a3985328",
        size_bytes: 48_213,
        created_at: "2031-03-10T09:59:58.120Z".into(),
    };
    PartnerFileRecord::new(&new, status, None)
}

/// A running file: 300 of 1,000 rows done in the 300 s since it started (at 10:00:00 UTC).
fn running(org: u64, id: &str, name: &str) -> PartnerFileRecord {
    let mut f = file(org, id, name, FileStatus::Running);
    (f.rows_total, f.rows_done, f.applied, f.refused) = (1000, 300, 280, 20);
    (f.chunks_total, f.chunks_done) = (10, 3);
    f.started_at = Some("2031-03-10T15:30:00.000+05:30".into());
    f.updated_at = Some("2031-03-10T10:04:59.900Z".into());
    f
}

fn done(org: u64, id: &str, name: &str) -> PartnerFileRecord {
    let mut f = file(org, id, name, FileStatus::Done);
    (f.rows_total, f.rows_done, f.applied, f.refused) = (13, 13, 8, 5);
    (f.chunks_total, f.chunks_done) = (1, 1);
    f.started_at = Some("2031-03-10T10:00:00Z".into());
    f.updated_at = Some("2031-03-10T10:00:04Z".into());
    f.finished_at = Some("2031-03-10T10:00:04Z".into());
    f.results_key = Some(format!("results/{org}/SkyMiles/{name}.csv"));
    f
}

fn rejected(org: u64, id: &str, name: &str) -> PartnerFileRecord {
    let mut f = file(org, id, name, FileStatus::Rejected);
    f.error = Some("the header has no column partnerTierName".into());
    f.results_key = Some(format!("results/{org}/SkyMiles/{name}.csv"));
    f
}

async fn save(app: &TestApp, files: &[PartnerFileRecord]) {
    for f in files {
        app.state.store.save_partner_file(f).await.unwrap();
    }
}

fn path(id: &str) -> String {
    format!("/v2/partnerProgram/partnerFiles/{id}")
}

#[tokio::test]
async fn an_admin_reads_a_files_counts_and_the_time_left_at_the_pace_so_far() {
    let app = clocked_app().await;
    let org = app.org("Asia/Kolkata").await;
    let id = org.org_id;
    save(&app, &[running(id, "f-run", "tiers-march.csv"), done(id, "f-done", "tiers-feb.csv")]).await;
    save(&app, &[rejected(id, "f-bad", "tiers-jan.csv")]).await;

    let r = org.get(&org.admin, &path("f-run")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // 700 rows left at 300 rows per 300 s: 700 s.
    let expected = json!({
        "fileId": "f-run", "partnerProgramName": "SkyMiles", "fileName": "tiers-march.csv",
        "objectKey": format!("incoming/{id}/SkyMiles/tiers-march.csv"), "status": "RUNNING",
        "sizeBytes": 48_213, "rowsTotal": 1000, "rowsDone": 300, "applied": 280, "refused": 20,
        "chunksTotal": 10, "chunksDone": 3, "createdAt": "2031-03-10T09:59:58Z",
        "startedAt": "2031-03-10T10:00:00Z", "updatedAt": "2031-03-10T10:04:59Z",
        "estimatedSecondsLeft": 700, "warnings": [], "errors": []
    });
    assert_eq!(r.body, expected);

    let r = org.get(&org.admin, &path("f-done")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let expected = json!({
        "fileId": "f-done", "partnerProgramName": "SkyMiles", "fileName": "tiers-feb.csv",
        "objectKey": format!("incoming/{id}/SkyMiles/tiers-feb.csv"), "status": "DONE",
        "sizeBytes": 48_213, "rowsTotal": 13, "rowsDone": 13, "applied": 8, "refused": 5,
        "chunksTotal": 1, "chunksDone": 1, "createdAt": "2031-03-10T09:59:58Z",
        "startedAt": "2031-03-10T10:00:00Z", "updatedAt": "2031-03-10T10:00:04Z",
        "finishedAt": "2031-03-10T10:00:04Z", "resultsKey": format!("results/{id}/SkyMiles/tiers-feb.csv.csv"),
        "estimatedSecondsLeft": 0, "warnings": [], "errors": []
    });
    assert_eq!(r.body, expected);

    // A file refused as a whole says why, with no estimate (null, not absent).
    let r = org.get(&org.admin, &path("f-bad")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!((r.body["status"].as_str(), r.body["rowsDone"].as_u64()), (Some("REJECTED"), Some(0)));
    assert_eq!(r.body["error"], "the header has no column partnerTierName");
    assert_eq!(r.body.get("estimatedSecondsLeft"), Some(&Value::Null), "{}", r.text);
    assert!(r.body.get("startedAt").is_none() && r.body.get("finishedAt").is_none(), "{}", r.text);
}

#[tokio::test]
async fn the_estimate_follows_the_clock_and_waits_for_a_first_row() {
    let app = clocked_app().await;
    let org = app.org("UTC").await;
    // 3 rows in 1 s: 7 left take 2.33 s, said as 3.
    let mut f = running(org.org_id, "f-slow", "a.csv");
    (f.rows_total, f.rows_done) = (10, 3);
    f.started_at = Some("2031-03-10T10:04:59Z".into());
    // Started, no row done yet: no estimate.
    let mut g = running(org.org_id, "f-new", "b.csv");
    (g.rows_done, g.applied, g.refused, g.chunks_done) = (0, 0, 0, 0);
    save(&app, &[f, g]).await;
    assert_eq!(org.get(&org.admin, &path("f-slow")).await.body["estimatedSecondsLeft"], 3);
    let r = org.get(&org.admin, &path("f-new")).await;
    assert_eq!(r.body.get("estimatedSecondsLeft"), Some(&Value::Null), "{}", r.text);
}

#[tokio::test]
async fn files_are_listed_newest_first_in_pages_of_limit_and_never_another_orgs() {
    let app = clocked_app().await;
    let (a, b) = (app.org("Asia/Kolkata").await, app.org("UTC").await);
    // File ids sort by when the import saw the file, as the import makes them.
    save(
        &app,
        &[
            done(a.org_id, "20310310T0800-a", "one.csv"),
            rejected(a.org_id, "20310310T0900-b", "two.csv"),
            running(a.org_id, "20310310T1000-c", "three.csv"),
            done(b.org_id, "20310310T1100-d", "theirs.csv"),
        ],
    )
    .await;

    let r = a.get(&a.admin, "/v2/partnerProgram/partnerFiles").await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|f| f["fileId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["20310310T1000-c", "20310310T0900-b", "20310310T0800-a"]);
    assert_eq!(r.body["pagination"], json!({"limit": 20}), "one page holds them all: no cursor");
    assert_eq!((r.body["warnings"].clone(), r.body["errors"].clone()), (json!([]), json!([])));
    // Each entry is the file as its own route shows it.
    let one = a.get(&a.admin, &path("20310310T1000-c")).await.body;
    let mut listed = r.body["data"][0].clone();
    listed["warnings"] = json!([]);
    listed["errors"] = json!([]);
    assert_eq!(listed, one);

    let r = a.get(&a.admin, "/v2/partnerProgram/partnerFiles?limit=2").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["data"][1]["fileId"], "20310310T0900-b");
    let cursor = r.body["pagination"]["nextCursor"].as_str().unwrap().to_string();
    assert_eq!(r.body["pagination"]["limit"], 2);
    assert!(!cursor.contains("20310310"), "the cursor is opaque: {cursor}");
    let r = a.get(&a.admin, &format!("/v2/partnerProgram/partnerFiles?limit=2&cursor={cursor}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|f| f["fileId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["20310310T0800-a"]);
    assert_eq!(r.body["pagination"], json!({"limit": 2}), "the last page has no cursor");

    let r = b.get(&b.admin, "/v2/partnerProgram/partnerFiles").await;
    let ids: Vec<&str> = r.body["data"].as_array().unwrap().iter().map(|f| f["fileId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["20310310T1100-d"]);
    // Another org's cursor only moves within the caller's own files.
    let r = b.get(&b.admin, &format!("/v2/partnerProgram/partnerFiles?cursor={cursor}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["data"], json!([]));
    // An org without files gets an empty page.
    let c = app.org("UTC").await;
    let r = c.get(&c.admin, "/v2/partnerProgram/partnerFiles").await;
    assert_eq!(r.body, json!({"data": [], "pagination": {"limit": 20}, "warnings": [], "errors": []}));
}

#[tokio::test]
async fn partner_files_are_for_admins_and_another_orgs_file_is_unknown() {
    let app = clocked_app().await;
    let f = fixture(&app).await;
    let other = app.org("UTC").await;
    save(&app, &[done(f.org.org_id, "f-ours", "ours.csv")]).await;
    let asha = crate::agents::agent(&f.org, "Asha Rao").await;
    for who in [&f.org.api, &asha] {
        for p in ["/v2/partnerProgram/partnerFiles".to_string(), path("f-ours"), path("f-none")] {
            let r = f.org.get(who, &p).await;
            assert_eq!(r.status, 403, "{p}: {}", r.text);
            assert_eq!(r.body["errors"][0]["code"], 403, "{}", r.text);
        }
    }
    let unknown = json!({"errors": [{"status": false, "code": 404, "message": "No partner file with the given id"}],
        "warnings": []});
    // Another org's admin asking for this org's file: the same answer as for an id never given.
    for (org, id) in [(&other, "f-ours".to_string()), (&f.org, "f-none".to_string()), (&f.org, "x".repeat(201))] {
        let r = org.get(&org.admin, &path(&id)).await;
        assert_eq!(r.status, 404, "{}", r.text);
        assert_eq!(r.body, unknown);
    }
    assert_eq!(f.org.get(&f.org.admin, &path("f-ours")).await.status, 200);
}

#[tokio::test]
async fn a_limit_or_cursor_the_api_did_not_give_is_a_400_naming_it() {
    let app = clocked_app().await;
    let org = app.org("UTC").await;
    for (query, says) in [
        ("limit=0", "limit must be an integer from 1 to 100"),
        ("limit=101", "limit must be an integer from 1 to 100"),
        ("limit=ten", "limit must be an integer from 1 to 100"),
        ("cursor=not*base64", "cursor is not one this API returned"),
        ("cursor=AQI", "cursor is not one this API returned"),
    ] {
        let r = org.get(&org.admin, &format!("/v2/partnerProgram/partnerFiles?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert_eq!(r.body["errors"][0], json!({"status": false, "code": 400, "message": says}), "{query}");
    }
    let r = org.get(&org.admin, "/v2/partnerProgram/partnerFiles?limit=100").await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// openapi.yaml writes a file's fields twice (a list entry, and one file with `warnings` and
/// `errors`): both say the same.
#[test]
fn the_one_file_schema_is_the_listed_file_with_warnings_and_errors() {
    let doc: Value = serde_yaml::from_str(crate::openapi::DOCUMENT).unwrap();
    let (file, one) =
        (&doc["components"]["schemas"]["PartnerFile"], &doc["components"]["schemas"]["PartnerFileResponse"]);
    let mut props = file["properties"].as_object().unwrap().clone();
    props.insert("warnings".into(), json!({"$ref": "#/components/schemas/Warnings"}));
    props.insert("errors".into(), json!({"type": "array", "maxItems": 0}));
    assert_eq!(one["properties"].as_object().unwrap(), &props);
    let mut required = file["required"].as_array().unwrap().clone();
    required.extend([json!("warnings"), json!("errors")]);
    assert_eq!(one["required"].as_array().unwrap(), &required);
}
