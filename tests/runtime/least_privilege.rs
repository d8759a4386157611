//! Each function's template policy grants exactly the DynamoDB, S3 and SQS actions its code path calls
//! (`policies::code_paths`), and no more: no Scan, no wildcard, no SAM CRUD template. The Runtime
//! API tests check the other half, that the binaries call nothing beyond `code_paths`.

use crate::fixtures::table_name;
use crate::policies::{code_paths, declared_grants};
use crate::template::{functions, intrinsic};
use std::path::Path;

#[test]
fn every_policy_grants_exactly_what_its_code_path_calls() {
    let mut problems = Vec::new();
    for f in functions(&table_name()) {
        let Some(uses) = code_paths(&f) else {
            problems.push(format!(
                "{} ({}): add its code path to tests/runtime/policies.rs code_paths",
                f.logical_id, f.binary
            ));
            continue;
        };
        let declared = declared_grants(&uses);
        let missing: Vec<String> = declared.difference(&f.policy).map(ToString::to_string).collect();
        let extra: Vec<String> = f.policy.difference(&declared).map(ToString::to_string).collect();
        if !missing.is_empty() || !extra.is_empty() {
            problems.push(format!("{}: policy lacks {missing:?}; grants unused {extra:?}", f.logical_id));
        }
    }
    assert!(problems.is_empty(), "template.yaml policies differ from the code paths:\n{}", problems.join("\n"));
}

#[test]
fn no_policy_grants_scan_wildcards_or_sam_crud_templates() {
    for f in functions(&table_name()) {
        for g in &f.policy {
            assert!(!g.action.contains("Scan") && !g.action.contains('*'), "{}: {g}", f.logical_id);
            assert!(!g.action.starts_with("policy:"), "{}: SAM policy template or managed policy {g}", f.logical_id);
            let known = g.resource == "table"
                || g.resource.starts_with("table/index/")
                || g.resource.starts_with("queue/")
                || ["bucket/incoming/*", "bucket/work/*", "bucket/results/*"].contains(&g.resource.as_str());
            assert!(known, "{}: {g} (S3 grants name one prefix of the files bucket)", f.logical_id);
        }
    }
}

fn scan_calls(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            scan_calls(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.contains(".scan()") {
                found.push(path.display().to_string());
            }
        }
    }
}

#[test]
fn no_code_scans_the_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    scan_calls(&root.join("shared/src"), &mut found);
    scan_calls(&root.join("functions/src"), &mut found);
    assert!(found.is_empty(), "Scan calls in {found:?}: query a key or an index instead");
}

/// The pipe delivers exactly the outbox items (INSERTs with entity = EVENT) and reads only
/// attributes an outbox item has, with their DynamoDB types.
#[test]
fn outbox_pipe_reads_the_attributes_outbox_items_have() {
    let doc = crate::template::document();
    let pipes: Vec<_> =
        doc["Resources"].as_mapping().unwrap().values().filter(|r| r["Type"] == "AWS::Pipes::Pipe").collect();
    assert_eq!(pipes.len(), 1, "expected one AWS::Pipes::Pipe");
    let props = &pipes[0]["Properties"];
    assert!(matches!(intrinsic(&props["Source"]), Some((f, v))
            if f == "GetAtt" && v.as_str().is_some_and(|s| s.ends_with(".StreamArn"))));
    let filters = props["SourceParameters"]["FilterCriteria"]["Filters"].as_sequence().unwrap();
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value = serde_json::from_str(filters[0]["Pattern"].as_str().unwrap()).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["EVENT"]}}}})
    );
    assert!(
        props["SourceParameters"]["DynamoDBStreamParameters"]["DeadLetterConfig"]["Arn"] != serde_yaml::Value::Null,
        "no DLQ"
    );

    let record = shared::storage::records::EventRecord {
        pk: "p".into(),
        sk: "s".into(),
        entity: "EVENT".into(),
        event_name: "partnerProgramLinked".into(),
        event_id: "e".into(),
        org_id: 1,
        ref_id: "r".into(),
        created_at: "2026-01-01T00:00:00Z".into(),
        payload: "{}".into(),
        ttl: 0,
    };
    let item = shared::storage::records::to_item(&record).unwrap();
    let text = format!(
        "{} {}",
        props["TargetParameters"]["InputTemplate"].as_str().unwrap(),
        props["TargetParameters"]["EventBridgeEventBusParameters"]["DetailType"].as_str().unwrap()
    );
    let mut refs = 0;
    for part in text.split("$.dynamodb.NewImage.").skip(1) {
        let path: String = part.chars().take_while(|c| c.is_alphanumeric() || *c == '.' || *c == '_').collect();
        let (attr, ty) = path.split_once('.').unwrap();
        let value = item.get(attr).unwrap_or_else(|| panic!("outbox items have no attribute {attr}"));
        let actual = if value.is_s() {
            "S"
        } else if value.is_n() {
            "N"
        } else {
            "?"
        };
        assert_eq!(actual, ty, "attribute {attr} is {actual}, the pipe reads it as {ty}");
        refs += 1;
    }
    assert!(refs >= 6, "the pipe should pass eventName, eventId, orgId, refId, createdAt and payload");
}
