//! Every function behind the HTTP API answers API Gateway HTTP API (payload 2.0) and REST API
//! (payload 1.0) proxy events with the caller taken from the authorizer context, reports events it
//! cannot read to `/error` and keeps serving, and calls exactly the DynamoDB actions its policy has.

use crate::fixtures::{demo_org, event, for_org, link_demo_customer, state, table_name, DemoOrg, Sandbox};
use crate::policies::check_recorded;
use crate::template::{functions, Function, Kind};
use serde_json::Value;

/// Any `{"status": false, ...}` item or non-empty `errors` array in a response body.
fn failures(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if m.get("status") == Some(&Value::Bool(false)) {
                out.push(format!("{path}: {v}"));
            }
            if let Some(Value::Array(errors)) = m.get("errors") {
                if !errors.is_empty() {
                    out.push(format!("{path}.errors: {errors:?}"));
                }
            }
            for (k, child) in m {
                failures(child, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, c)| failures(c, &format!("{path}[{i}]"), out)),
        _ => {}
    }
}

/// Checks the proxy response `resp` to a `kind` ("v2"/"v1") event; returns its JSON body.
pub fn successful_body(name: &str, kind: &str, resp: &Value) -> Result<Value, String> {
    let status = resp["statusCode"].as_u64().ok_or_else(|| format!("{name} {kind}: no statusCode in {resp}"))?;
    // lambda_http answers in the format of the request: only HTTP API (v2) responses have cookies.
    if (kind == "v2") != resp.get("cookies").is_some() {
        return Err(format!("{name} {kind}: response is not in the {kind} format: {resp}"));
    }
    let raw = resp["body"].as_str().unwrap_or_default();
    let body: Value = serde_json::from_str(raw).map_err(|e| format!("{name} {kind}: body is not JSON ({e}): {raw}"))?;
    if !(200..=201).contains(&status) {
        return Err(format!("{name} {kind}: status {status}, body {body}"));
    }
    // v1 responses carry their headers in multiValueHeaders.
    let content_type = resp["headers"]["content-type"]
        .as_str()
        .or_else(|| resp["multiValueHeaders"]["content-type"][0].as_str())
        .unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(format!("{name} {kind}: content-type {content_type:?}"));
    }
    let mut bad = Vec::new();
    failures(&body, "body", &mut bad);
    if !bad.is_empty() {
        return Err(format!("{name} {kind}: items failed against the demo data: {bad:?}"));
    }
    Ok(body)
}

async fn exercise(f: &Function) -> Result<(), String> {
    let v2 = event(&format!("{}.v2.json", f.binary))?;
    let v1 = event(&format!("{}.v1.json", f.binary))?;
    let state = state().await;
    let orgs: Vec<DemoOrg> = vec![demo_org(&state).await, demo_org(&state).await];
    let links = f.routes.iter().any(|(_, p)| p == "/v2/partnerProgram/linkCustomer");
    if !links {
        for org in &orgs {
            link_demo_customer(&state, org.org_id).await;
        }
    }
    let mut sandbox = Sandbox::start(f).await;

    // Not an API Gateway event at all, then not even JSON: each reported to /error, and the
    // function keeps polling for the next event (no crash loop).
    sandbox.expect_error(br#"{"hello": "world"}"#).await?;
    sandbox.expect_error(br#"{"truncated": "#).await?;

    let v2_event = for_org(v2, orgs[0].org_id);
    let resp = sandbox.respond(&v2_event).await?;
    successful_body(&f.binary, "v2", &resp)?;
    if v2_event["headers"].get("idempotency-key").is_some() {
        // The same request again is a replay through the idempotency layer, header and all.
        let again = sandbox.respond(&v2_event).await?;
        if again["headers"]["idempotent-replayed"].as_str() != Some("true") || again["body"] != resp["body"] {
            return Err(format!("{}: repeating the v2 event did not replay the first response: {again}", f.binary));
        }
    }
    let resp = sandbox.respond(&for_org(v1, orgs[1].org_id)).await?;
    successful_body(&f.binary, "v1", &resp)?;

    if !sandbox.process.still_running() {
        return Err(format!("{}: the process exited\n{}", f.binary, sandbox.process.logs()));
    }
    if f.binary == "erase-customer" {
        // The demo customer it erased (see admin::seed_demo) appears in no log line, in clear.
        let logs = sandbox.process.logs();
        if let Some(value) = ["919740000001", "asha@example.com", "C-1001"].into_iter().find(|v| logs.contains(v)) {
            return Err(format!("{}: a log line holds the erased value {value:?}\n{logs}", f.binary));
        }
    }
    // Every metric document it wrote is valid EMF with no customer identifier in it.
    crate::metrics::documents(&sandbox.process.log).map_err(|e| format!("{}: {e}", f.binary))?;
    check_recorded(f, &sandbox.recorder)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_http_function_answers_v2_and_v1_events_and_reports_bad_ones() {
    let http: Vec<Function> = functions(&table_name()).into_iter().filter(|f| f.kind == Kind::Http).collect();
    assert!(!http.is_empty(), "template.yaml has no HTTP functions");
    let results = futures::future::join_all(http.iter().map(exercise)).await;
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failed.is_empty(), "{} of {} HTTP functions failed:\n\n{}", failed.len(), http.len(), failed.join("\n\n"));
}
