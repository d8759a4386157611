//! The metric documents the Lambdas write to their log (CloudWatch embedded metric format), read
//! from the processes' stdout under the Runtime API harness: each one valid by the EMF
//! specification, none holding a customer identifier, and faults producing the metric they should
//! (a throttle through the fault proxy, 2010 under contention, a sweep failure).

use crate::fault_proxy::{Fault, FaultProxy, Schedule, When};
use crate::fixtures::{demo_org, dynamodb_endpoint, event, for_org, link_in_process, state, table_name, Sandbox};
use crate::template::{functions, Function, Kind};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// CloudWatch's units (MetricDatum.Unit).
const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The values a demo customer can be found by (mobiles, emails, external ids, membership ids).
const CUSTOMER_IDENTIFIERS: [&str; 11] = [
    "919740000001",
    "919740000002",
    "919740000003",
    "asha@example.com",
    "C-1001",
    "C-1002",
    "C-1003",
    "SM-1001",
    "SM-1234",
    "919800000",
    "@example.com",
];

/// Checks one document against the EMF specification: `_aws.Timestamp` (ms), one or more
/// `CloudWatchMetrics` directives with a `Namespace`, `Dimensions` (sets of at most 30 names, each a
/// top-level string member) and `Metrics` (each named metric a top-level number or array of at most
/// 100 numbers, its unit one of CloudWatch's).
pub fn check_document(doc: &Value) -> Result<(), String> {
    let aws = doc.get("_aws").ok_or("no _aws")?;
    let ts = aws["Timestamp"].as_u64().ok_or("_aws.Timestamp is not an integer")?;
    if ts < 1_600_000_000_000 {
        return Err(format!("_aws.Timestamp {ts} is not epoch milliseconds"));
    }
    let directives = aws["CloudWatchMetrics"].as_array().filter(|d| !d.is_empty()).ok_or("no CloudWatchMetrics")?;
    for d in directives {
        let ns = d["Namespace"].as_str().filter(|n| !n.is_empty() && n.len() <= 255).ok_or("bad Namespace")?;
        if ns.starts_with("AWS/") || ns.chars().any(|c| c == ':') {
            return Err(format!("namespace {ns:?} is not allowed"));
        }
        for set in d["Dimensions"].as_array().ok_or("Dimensions is not an array")? {
            let set = set.as_array().ok_or("a dimension set is not an array")?;
            if set.len() > 30 {
                return Err(format!("{} dimensions in one set", set.len()));
            }
            for name in set {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                if !doc[name].is_string() {
                    return Err(format!("dimension {name} is not a top-level string member"));
                }
            }
        }
        let metrics = d["Metrics"].as_array().filter(|m| !m.is_empty() && m.len() <= 100).ok_or("bad Metrics")?;
        for m in metrics {
            let name = m["Name"].as_str().filter(|n| !n.is_empty()).ok_or("a metric has no Name")?;
            if let Some(unit) = m.get("Unit") {
                let unit = unit.as_str().unwrap_or_default();
                if !UNITS.contains(&unit) {
                    return Err(format!("{name}: unit {unit:?} is not a CloudWatch unit"));
                }
            }
            match &doc[name] {
                Value::Number(_) => {}
                Value::Array(values) if !values.is_empty() && values.len() <= 100 => {
                    if !values.iter().all(Value::is_number) {
                        return Err(format!("{name}: a value is not a number"));
                    }
                }
                other => return Err(format!("{name}: value {other} is not a number or an array of 1-100 numbers")),
            }
        }
    }
    Ok(())
}

/// The EMF documents in a process's log, each checked, none holding a customer identifier or
/// secret.
pub fn documents(log: &std::path::Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut docs = Vec::new();
    for line in text.lines().filter(|l| l.contains("\"_aws\"")) {
        let doc: Value = serde_json::from_str(line).map_err(|e| format!("an EMF line is not JSON ({e}): {line}"))?;
        check_document(&doc).map_err(|e| format!("{}: {e}: {line}", log.display()))?;
        if let Some(id) = CUSTOMER_IDENTIFIERS.iter().find(|id| line.contains(**id)) {
            return Err(format!("a metric document holds the customer identifier {id:?}: {line}"));
        }
        if line.contains("ck_") || line.contains("orgId") || line.contains("OrgId") {
            return Err(format!("a metric document names a client or an org: {line}"));
        }
        docs.push(doc);
    }
    Ok(docs)
}

/// The sum of metric `name` over the documents whose dimensions are exactly `dims` (name, value).
pub fn total(docs: &[Value], name: &str, dims: &[(&str, &str)]) -> f64 {
    docs.iter()
        .filter(|d| {
            let set = d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0].as_array().cloned().unwrap_or_default();
            set.len() == dims.len() && dims.iter().all(|(k, v)| d[*k] == *v)
        })
        .map(|d| match &d[name] {
            Value::Number(n) => n.as_f64().unwrap_or(0.0),
            Value::Array(a) => a.iter().filter_map(Value::as_f64).sum(),
            _ => 0.0,
        })
        .sum()
}

fn function(binary: &str) -> Function {
    functions(&table_name()).into_iter().find(|f| f.binary == binary).unwrap()
}

/// Starts `binary` with its DynamoDB calls going through a fault proxy on `schedule`.
async fn behind_proxy(binary: &str, schedule: Schedule) -> (Sandbox, std::sync::Arc<FaultProxy>) {
    behind_proxy_on(&function(binary), schedule).await
}

async fn behind_proxy_on(f: &Function, schedule: Schedule) -> (Sandbox, std::sync::Arc<FaultProxy>) {
    let proxy = FaultProxy::start(&dynamodb_endpoint(), schedule).await;
    let url = proxy.url.clone();
    let sandbox = Sandbox::start_with(f, |env| {
        env.insert("AWS_ENDPOINT_URL_DYNAMODB".into(), url);
        env.insert("WRITE_CONTENTION_BUDGET_MS".into(), "300".into());
    })
    .await;
    (sandbox, proxy)
}

fn link_event(org: u64, mobile: &str, key: &str) -> Value {
    let mut e = for_org(event("link-customer.v2.json").unwrap(), org);
    let body = json!({"linkCustomers": [{"customer": {"mobile": mobile}, "linkToPartnerPrograms": [{
        "partnerProgramName": "SkyMiles",
        "customerPartnerReference": {"partnerTierName": "Gold", "partnerTierExpiryDate": "2099-12-31T23:59:59+05:30"}
    }]}]});
    e["body"] = body.to_string().into();
    e["headers"]["idempotency-key"] = key.into();
    e
}

const LINK: [(&str, &str); 2] = [("Function", "link-customer"), ("Operation", "linkCustomer")];

/// A link, its replay with the same key, and the same key sent to two containers at once (one
/// of them answers 409 while the other's write, slowed by the proxy, is in flight).
async fn write_scenario() -> Vec<Value> {
    let state = state().await;
    let org = demo_org(&state).await;
    let sandbox = Sandbox::start(&function("link-customer")).await;
    let key = uuid::Uuid::new_v4().to_string();
    let resp = sandbox.respond(&link_event(org.org_id, "919740000001", &key)).await.unwrap();
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let again = sandbox.respond(&link_event(org.org_id, "919740000001", &key)).await.unwrap();
    assert_eq!(again["headers"]["idempotent-replayed"], "true", "{again}");
    let docs = documents(&sandbox.process.log).unwrap();
    assert_eq!(total(&docs, "Requests", &LINK), 2.0, "{docs:#?}");
    assert_eq!(total(&docs, "ColdStarts", &[("Function", "link-customer")]), 1.0, "{docs:#?}");
    assert!(total(&docs, "Latency", &LINK) > 0.0, "{docs:#?}");
    let ok = [("Function", "link-customer"), ("Operation", "linkCustomer"), ("Code", "200")];
    assert_eq!(total(&docs, "BatchItems", &ok), 1.0, "the replay runs no item: {docs:#?}");
    assert_eq!(total(&docs, "BatchItems", &[("Code", "200")]), 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "IdempotentReplays", &LINK), 1.0, "{docs:#?}");
    assert!(total(&docs, "DynamoDbConditionalCheckFailed", &LINK) >= 1.0, "the replay's claim: {docs:#?}");
    assert!(total(&docs, "DynamoDbCalls", &LINK) >= 3.0, "{docs:#?}");
    assert!(total(&docs, "OutboxItemsWritten", &LINK) >= 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "CommittedWrites", &LINK), 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "ContentionRetries", &LINK), 0.0, "{docs:#?}");
    assert_eq!(total(&docs, "Responses5xx", &[]), 0.0);
    // One flush per invocation, each with the invocation's trace id (the harness sends one).
    for d in &docs {
        assert!(d["traceId"].as_str().is_some_and(|t| t.starts_with("Root=1-")), "no traceId: {d}");
        assert_eq!(d["_aws"]["CloudWatchMetrics"][0]["Namespace"], "PartnerPrograms");
    }
    // Every log line written during an invocation carries the trace id too.
    let text = std::fs::read_to_string(&sandbox.process.log).unwrap();
    for line in text.lines().filter(|l| l.contains("\"requestId\"")) {
        assert!(line.contains("\"xrayTraceId\":\"Root=1-"), "a log line without the trace id: {line}");
    }
    [docs, in_flight_scenario(org.org_id).await].concat()
}

/// The same new key to two containers at once, each write slowed: one answers 409.
async fn in_flight_scenario(org: u64) -> Vec<Value> {
    let schedule = Schedule { rate: 1.0, kinds: vec![Fault::Delay], seed: 1, targets: vec!["TransactWriteItems"] };
    let (a, _pa) = behind_proxy("link-customer", schedule.clone()).await;
    let (b, _pb) = behind_proxy("link-customer", schedule).await;
    let key = uuid::Uuid::new_v4().to_string();
    let event = link_event(org, "919740000002", &key);
    let (ra, rb) = tokio::join!(a.respond(&event), b.respond(&event));
    let statuses = [ra.unwrap()["statusCode"].clone(), rb.unwrap()["statusCode"].clone()];
    assert!(statuses.contains(&json!(409)), "{statuses:?}");
    let docs = [documents(&a.process.log).unwrap(), documents(&b.process.log).unwrap()].concat();
    assert_eq!(total(&docs, "IdempotencyInFlight", &LINK), 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "Responses4xx", &LINK), 1.0, "{docs:#?}");
    docs
}

/// Every call throttled: the SDK retries, then the customer lookup fails and the request is a 503.
async fn throttle_scenario() -> Vec<Value> {
    let state = state().await;
    let org = demo_org(&state).await;
    let schedule = Schedule { rate: 1.0, kinds: vec![Fault::Throttling], seed: 7, targets: vec![] };
    let (sandbox, proxy) = behind_proxy("link-customer", schedule).await;
    let resp = sandbox.respond(&link_event(org.org_id, "919740000002", &uuid::Uuid::new_v4().to_string())).await;
    let resp = resp.unwrap();
    assert!(!proxy.injected().is_empty(), "no fault was injected");
    assert_eq!(resp["statusCode"], 503, "{resp}");
    let docs = documents(&sandbox.process.log).unwrap();
    assert!(total(&docs, "DynamoDbThrottles", &LINK) >= 1.0, "{resp}\n{docs:#?}");
    assert!(total(&docs, "DynamoDbThrottles", &[]) >= 1.0, "{docs:#?}");
    assert!(total(&docs, "DynamoDbRetries", &LINK) >= 1.0, "the SDK retries a throttle: {docs:#?}");
    assert_eq!(total(&docs, "Responses5xx", &LINK), 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "Responses5xx", &[]), 1.0, "{docs:#?}");
    docs
}

/// Every transaction loses to a concurrent writer until the item's budget is spent: 2010.
async fn contention_scenario() -> Vec<Value> {
    let state = state().await;
    let org = demo_org(&state).await;
    let kinds = vec![Fault::TransactionConflict];
    let schedule = Schedule { rate: 1.0, kinds, seed: 11, targets: vec!["TransactWriteItems"] };
    let (sandbox, proxy) = behind_proxy("link-customer", schedule).await;
    // Every transaction refused before DynamoDB sees it (none applied with its answer lost).
    proxy.script("TransactWriteItems", vec![Some((Fault::TransactionConflict, When::Before)); 200]);
    let resp = sandbox.respond(&link_event(org.org_id, "919740000003", &uuid::Uuid::new_v4().to_string())).await;
    let body: Value = serde_json::from_str(resp.unwrap()["body"].as_str().unwrap()).unwrap();
    let code = body.pointer("/linkCustomers/0/linkToPartnerPrograms/0/partnerLinkStatus/code");
    assert_eq!(code, Some(&json!(2010)), "{body}");
    let docs = documents(&sandbox.process.log).unwrap();
    let dims = [("Function", "link-customer"), ("Operation", "linkCustomer"), ("Code", "2010")];
    assert_eq!(total(&docs, "BatchItems", &dims), 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "BatchItems", &[("Code", "2010")]), 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "CommittedWrites", &LINK), 0.0, "{docs:#?}");
    // Lost once, then committed: one contention retry for one committed write.
    proxy.set_schedule(Schedule { rate: 0.0, kinds: vec![], seed: 11, targets: vec![] });
    proxy.script("TransactWriteItems", vec![Some((Fault::TransactionConflict, When::Before))]);
    let resp = sandbox.respond(&link_event(org.org_id, "919740000003", &uuid::Uuid::new_v4().to_string())).await;
    assert_eq!(resp.unwrap()["statusCode"], 200);
    let docs = documents(&sandbox.process.log).unwrap();
    assert_eq!(total(&docs, "ContentionRetries", &LINK), 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "CommittedWrites", &LINK), 1.0, "{docs:#?}");
    docs
}

/// Links demo customer `mobile` to SkyMiles with a tier that expires `secs` from now.
async fn link_expiring(state: &shared::state::AppState, org: u64, mobile: &str, secs: i64) {
    let expiry = (chrono::Utc::now() + chrono::Duration::seconds(secs)).format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let body = json!({"linkCustomers": [{"customer": {"mobile": mobile}, "linkToPartnerPrograms": [{
        "partnerProgramName": "SkyMiles",
        "customerPartnerReference": {"partnerTierName": "Gold", "partnerTierExpiryDate": expiry}
    }]}]});
    link_in_process(state, org, body.to_string().into_bytes()).await;
}

/// A run whose commits are all throttled (the due linkage fails and stays due: lag), then a run
/// without faults that processes it.
async fn sweep_scenario() -> Vec<Value> {
    // A table of its own: another test's sweep would process (or fail) this one's due item.
    let table = format!("pp-metrics-sweep-{}", uuid::Uuid::new_v4().simple());
    let def = devtools::table_definition::parse(devtools::table_definition::TEMPLATE).unwrap();
    devtools::table_definition::create_table(&crate::common::sdk_client().await, &table, &def).await.unwrap();
    let store = shared::storage::store::Store::new(crate::common::sdk_client().await, table.clone());
    let config = crate::common::test_config(&table);
    let state = shared::state::AppState::new(store, config, std::sync::Arc::new(chrono::Utc::now));
    let org = demo_org(&state).await;
    // Three seconds ahead (the expiry is written to the second, so one could be past on arrival
    // under load: a 2003), then waited out.
    link_expiring(&state, org.org_id, "919740000001", 3).await;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let sweep = functions(&table).into_iter().find(|f| f.kind == Kind::Scheduled).unwrap();
    let schedule_event = event(&format!("{}.schedule.json", sweep.binary)).unwrap();
    let schedule = Schedule { rate: 1.0, kinds: vec![Fault::Throttling], seed: 5, targets: vec!["TransactWriteItems"] };
    let (sandbox, proxy) = behind_proxy_on(&sweep, schedule).await;
    let failed = sandbox.respond(&schedule_event).await.unwrap();
    assert!(failed["failed"].as_u64() >= Some(1), "{failed}");
    proxy.set_enabled(false);
    let done = sandbox.respond(&schedule_event).await.unwrap();
    assert!(done["changed"].as_u64() >= Some(1), "{done}");
    let docs = documents(&sandbox.process.log).unwrap();
    let dims = [("Function", "tier-expiry-sweep"), ("Operation", "tierExpirySweep")];
    let runs: Vec<&Value> = docs.iter().filter(|d| d["SweepDurationMs"].is_number()).collect();
    assert_eq!(runs.len(), 2, "one document of run figures per invocation: {docs:#?}");
    assert!(runs[0]["SweepLinkagesFailed"].as_f64() >= Some(1.0), "{:#}", runs[0]);
    assert!(runs[0]["SweepLagSeconds"].as_f64() >= Some(1.0), "the failed item is still due: {:#}", runs[0]);
    assert!(runs[0]["SweepLinkagesDue"].as_f64() >= Some(1.0), "{:#}", runs[0]);
    assert!(runs[1]["SweepLinkagesChanged"].as_f64() >= Some(1.0), "{:#}", runs[1]);
    assert_eq!(runs[1]["SweepLinkagesFailed"].as_f64(), Some(0.0), "{:#}", runs[1]);
    assert!(total(&docs, "DynamoDbThrottles", &dims) >= 1.0, "{docs:#?}");
    docs
}

/// Denied, allowed, then an error (every DynamoDB call throttled).
async fn authorizer_scenario() -> Vec<Value> {
    let f = functions(&table_name()).into_iter().find(|f| f.kind == Kind::Authorizer).unwrap();
    let state = state().await;
    let org = demo_org(&state).await;
    let schedule = Schedule { rate: 1.0, kinds: vec![Fault::Throttling], seed: 2, targets: vec!["GetItem"] };
    let (sandbox, proxy) = behind_proxy(&f.binary, schedule).await;
    proxy.set_enabled(false);
    let mut file = event(&format!("{}.json", f.binary)).unwrap();
    sandbox.respond(&file).await.unwrap();
    file["identitySource"] = json!([org.api.basic_header()]);
    file["headers"]["authorization"] = json!(org.api.basic_header());
    sandbox.respond(&file).await.unwrap();
    proxy.set_enabled(true);
    sandbox.invoke(file.to_string()).await.unwrap();
    let docs = documents(&sandbox.process.log).unwrap();
    let dims = [("Function", "authorizer"), ("Operation", "authorize")];
    assert_eq!(total(&docs, "AuthorizerAllowed", &dims), 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "AuthorizerDenied", &dims), 1.0, "{docs:#?}");
    assert_eq!(total(&docs, "AuthorizerErrors", &dims), 1.0, "{docs:#?}");
    docs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_emits_its_request_item_and_storage_metrics_with_the_trace_id() {
    write_scenario().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttle_through_the_fault_proxy_is_counted() {
    throttle_scenario().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_that_keeps_losing_to_contention_is_a_2010_item() {
    contention_scenario().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_run_reports_its_figures_and_a_failure() {
    sweep_scenario().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_counts_its_decisions_and_errors() {
    authorizer_scenario().await;
}

/// A file through the import and the worker (a file of three chunks, its event again, a file for
/// an unknown program): the file metrics.
async fn file_scenario() -> Vec<Value> {
    let run = crate::partner_files::file_run().await;
    let mut docs = documents(&run.importer.process.log).unwrap();
    docs.extend(documents(&run.applier.process.log).unwrap());
    for (name, want) in
        [("FilesClaimed", 1.0), ("FilesDuplicate", 1.0), ("FilesRejected", 1.0), ("FileChunksSent", 3.0)]
    {
        assert_eq!(
            total(&docs, name, &[("Function", "partner-file-import"), ("Operation", "partnerFileImport")]),
            want,
            "{name}: {docs:#?}"
        );
    }
    for (name, want) in
        [("FileChunksProcessed", 3.0), ("FileRowsApplied", 4.0), ("FileRowsRefused", 1.0), ("FilesCompleted", 1.0)]
    {
        assert_eq!(
            total(&docs, name, &[("Function", "partner-file-worker"), ("Operation", "partnerFileWorker")]),
            want,
            "{name}: {docs:#?}"
        );
    }
    docs
}

/// Every metric of `shared::metrics::METRICS` is emitted by some scenario of this module, and
/// every metric emitted is in the table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_in_the_table_is_seen_in_some_document() {
    let docs = [
        write_scenario().await,
        throttle_scenario().await,
        contention_scenario().await,
        sweep_scenario().await,
        authorizer_scenario().await,
        file_scenario().await,
    ]
    .concat();
    let seen: BTreeSet<String> = docs
        .iter()
        .flat_map(|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m["Name"].as_str().map(str::to_string))
        .collect();
    let table: BTreeSet<String> = shared::metrics::METRICS.iter().map(|m| m.name.to_string()).collect();
    let missing: Vec<&String> = table.difference(&seen).collect();
    assert!(missing.is_empty(), "never emitted under the harness: {missing:?}");
    let unlisted: Vec<&String> = seen.difference(&table).collect();
    assert!(unlisted.is_empty(), "emitted but not in shared::metrics::METRICS: {unlisted:?}");
}

#[test]
fn the_specification_check_refuses_what_cloudwatch_would() {
    let good = json!({"_aws": {"Timestamp": 1_780_000_000_000u64, "CloudWatchMetrics": [{"Namespace": "N",
        "Dimensions": [["Function"]], "Metrics": [{"Name": "Requests", "Unit": "Count"}]}]},
        "Function": "f", "Requests": 1});
    check_document(&good).unwrap();
    let mut bad = good.clone();
    bad["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = "Counts".into();
    assert!(check_document(&bad).is_err());
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("Function");
    assert!(check_document(&bad).is_err());
    let mut bad = good.clone();
    bad["Requests"] = "1".into();
    assert!(check_document(&bad).is_err());
    let mut bad = good.clone();
    bad["Requests"] = json!((0..101).collect::<Vec<_>>());
    assert!(check_document(&bad).is_err());
    let mut bad = good;
    bad["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([(0..31).map(|i| format!("D{i}")).collect::<Vec<_>>()]);
    assert!(check_document(&bad).is_err());
}
