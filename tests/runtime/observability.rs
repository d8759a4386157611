//! What template.yaml deploys to watch the service (docs/operations.md): every function's own log
//! group and traces; every alarm names a metric the code emits or AWS publishes, with namespace and
//! dimensions spelled exactly, has a threshold parameter, notifies the alarm topic and has its
//! runbook section; the dashboard shows only such metrics; and the runbook's metric table is the
//! code's, name for name and unit for unit.

use crate::template::{document, functions, intrinsic, Kind};
use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The metrics the functions emit as EMF (namespace `MetricsNamespace`): the code's table, which
/// `metrics::every_metric_in_the_table_is_seen_in_some_document` holds to what the binaries write.
use shared::metrics::METRICS as EMITTED;

/// The sweep's `Function` and `Operation` dimension values.
const SWEEP_SCOPE: (&str, &str) = ("tier-expiry-sweep", "tierExpirySweep");

/// What AWS publishes that the alarms and dashboard use: namespace, metric, dimension names.
const AWS_PUBLISHED: &[(&str, &str, &[&str])] = &[
    ("AWS/Lambda", "Errors", &["FunctionName"]),
    ("AWS/Lambda", "Throttles", &["FunctionName"]),
    ("AWS/Lambda", "Invocations", &["FunctionName"]),
    ("AWS/Lambda", "Duration", &["FunctionName"]),
    ("AWS/ApiGateway", "5xx", &["ApiId", "Stage"]),
    ("AWS/ApiGateway", "4xx", &["ApiId", "Stage"]),
    ("AWS/ApiGateway", "Count", &["ApiId", "Stage"]),
    ("AWS/ApiGateway", "Latency", &["ApiId", "Stage"]),
    ("AWS/SQS", "ApproximateNumberOfMessagesVisible", &["QueueName"]),
    ("AWS/SQS", "ApproximateAgeOfOldestMessage", &["QueueName"]),
    ("AWS/DynamoDB", "ThrottledRequests", &["TableName", "Operation"]),
    ("AWS/DynamoDB", "ReadThrottleEvents", &["TableName"]),
    ("AWS/DynamoDB", "WriteThrottleEvents", &["TableName"]),
];

/// The DynamoDB operations of the SDK calls the code makes (`.get_item()` → GetItem, ...).
fn dynamodb_operations_called() -> BTreeSet<String> {
    const CALLS: &[(&str, &str)] = &[
        (".get_item()", "GetItem"),
        (".batch_get_item()", "BatchGetItem"),
        (".query()", "Query"),
        (".scan()", "Scan"),
        (".put_item()", "PutItem"),
        (".update_item()", "UpdateItem"),
        (".delete_item()", "DeleteItem"),
        (".batch_write_item()", "BatchWriteItem"),
        (".transact_write_items()", "TransactWriteItems"),
        (".transact_get_items()", "TransactGetItems"),
    ];
    let mut found = BTreeSet::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut dirs = vec![root.join("shared/src"), root.join("functions/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                found.extend(CALLS.iter().filter(|(call, _)| text.contains(call)).map(|(_, op)| op.to_string()));
            }
        }
    }
    found
}

fn resources_of(doc: &Value, ty: &str) -> BTreeMap<String, Value> {
    doc["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some(ty))
        .map(|(id, r)| (id.as_str().unwrap().to_string(), r.clone()))
        .collect()
}

/// `!Ref X` → X.
fn ref_to(v: &Value) -> Option<String> {
    match intrinsic(v)? {
        (f, Value::String(s)) if f == "Ref" => Some(s),
        _ => None,
    }
}

/// `!GetAtt X.Attr` → (X, Attr).
fn get_att(v: &Value) -> Option<(String, String)> {
    match intrinsic(v)? {
        (f, Value::String(s)) if f == "GetAtt" => s.split_once('.').map(|(a, b)| (a.to_string(), b.to_string())),
        _ => None,
    }
}

/// One metric an alarm reads.
#[derive(Debug)]
struct AlarmMetric {
    namespace: Value,
    name: String,
    dimensions: Vec<(String, Value)>,
}

fn alarm_metric(m: &Value) -> AlarmMetric {
    let dimensions = m["Dimensions"]
        .as_sequence()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| (d["Name"].as_str().unwrap().to_string(), d["Value"].clone()))
        .collect();
    AlarmMetric { namespace: m["Namespace"].clone(), name: m["MetricName"].as_str().unwrap().to_string(), dimensions }
}

/// The metrics an alarm reads: its own (`MetricName`) or its metric math's `MetricStat`s.
fn alarm_metrics(props: &Value) -> Vec<AlarmMetric> {
    if props["MetricName"].is_string() {
        return vec![alarm_metric(props)];
    }
    let math = props["Metrics"].as_sequence().unwrap_or_else(|| panic!("alarm without a metric: {props:?}"));
    math.iter().filter(|m| !m["MetricStat"].is_null()).map(|m| alarm_metric(&m["MetricStat"]["Metric"])).collect()
}

/// Why `metric` is not one the code emits or AWS publishes, spelled as the template spells it.
fn metric_problem(doc: &Value, metric: &AlarmMetric) -> Option<String> {
    let mut names: Vec<&str> = metric.dimensions.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let ours = ref_to(&metric.namespace).as_deref() == Some("MetricsNamespace");
    let known = if ours {
        EMITTED.iter().any(|m| {
            m.name == metric.name
                && m.dimensions.iter().any(|set| {
                    let mut set = set.to_vec();
                    set.sort_unstable();
                    set == names
                })
        })
    } else {
        let ns = metric.namespace.as_str().unwrap_or("?");
        AWS_PUBLISHED.iter().any(|(n, name, dims)| {
            let mut dims = dims.to_vec();
            dims.sort_unstable();
            *n == ns && *name == metric.name && dims == names
        })
    };
    if !known {
        return Some(format!(
            "{} {:?} with {names:?} is neither emitted nor published by AWS",
            metric.name, metric.namespace
        ));
    }
    metric.dimensions.iter().find_map(|(name, value)| dimension_problem(doc, name, value))
}

fn dimension_problem(doc: &Value, name: &str, value: &Value) -> Option<String> {
    let resource_type = |id: &str| doc["Resources"][id]["Type"].as_str().map(str::to_string);
    let ok = match name {
        "FunctionName" => {
            ref_to(value).and_then(|id| resource_type(&id)).as_deref() == Some("AWS::Serverless::Function")
        }
        "QueueName" => get_att(value)
            .is_some_and(|(id, attr)| attr == "QueueName" && resource_type(&id).as_deref() == Some("AWS::SQS::Queue")),
        "TableName" => ref_to(value).and_then(|id| resource_type(&id)).as_deref() == Some("AWS::DynamoDB::Table"),
        "ApiId" => ref_to(value).and_then(|id| resource_type(&id)).as_deref() == Some("AWS::Serverless::HttpApi"),
        "Stage" => ref_to(value).as_deref() == Some("StageName"),
        "Function" => functions("t").iter().any(|f| Some(f.binary.as_str()) == value.as_str()),
        // A DynamoDB operation (AWS/DynamoDB) or an operation of ours (the sweep's, for now).
        "Operation" => {
            value.as_str().is_some_and(|op| dynamodb_operations_called().contains(op) || op == SWEEP_SCOPE.1)
        }
        "Code" => value.as_str().is_some_and(|c| c.parse::<u32>().is_ok()),
        _ => false,
    };
    (!ok).then(|| format!("dimension {name} = {value:?} is not what that dimension holds"))
}

#[test]
fn every_alarm_reads_a_known_metric_has_a_threshold_parameter_and_notifies_the_topic() {
    let doc = document();
    let alarms = resources_of(&doc, "AWS::CloudWatch::Alarm");
    let topics = resources_of(&doc, "AWS::SNS::Topic");
    assert_eq!(topics.len(), 1, "one alarm topic");
    let topic = topics.keys().next().unwrap();
    assert!(alarms.len() >= 10, "{} alarms", alarms.len());
    let mut problems = Vec::new();
    for (id, alarm) in &alarms {
        let props = &alarm["Properties"];
        for metric in alarm_metrics(props) {
            if let Some(p) = metric_problem(&doc, &metric) {
                problems.push(format!("{id}: {p}"));
            }
        }
        for actions in ["AlarmActions", "OKActions"] {
            let targets: Vec<Option<String>> =
                props[actions].as_sequence().cloned().unwrap_or_default().iter().map(ref_to).collect();
            if !targets.contains(&Some(topic.clone())) {
                problems.push(format!("{id}: {actions} does not notify {topic}"));
            }
        }
        let threshold = ref_to(&props["Threshold"]);
        let default = threshold.as_ref().map(|p| &doc["Parameters"][p.as_str()]["Default"]);
        if !default.is_some_and(|d| d.is_number()) {
            problems.push(format!("{id}: Threshold is not a parameter with a numeric default"));
        }
        if !props["AlarmDescription"].as_str().is_some_and(|d| d.contains("docs/operations.md#")) {
            problems.push(format!("{id}: AlarmDescription does not name its runbook section"));
        }
    }
    assert!(problems.is_empty(), "alarms in template.yaml:\n{}", problems.join("\n"));
}

/// The alarm reading `metric` (name) with dimension `dim` = `value`, if any.
fn alarms_on<'a>(
    alarms: &'a BTreeMap<String, Value>,
    metric: &str,
    check: impl Fn(&AlarmMetric) -> bool,
) -> Vec<&'a str> {
    alarms
        .iter()
        .filter(|(_, a)| alarm_metrics(&a["Properties"]).iter().any(|m| m.name == metric && check(m)))
        .map(|(id, _)| id.as_str())
        .collect()
}

fn dimension<'a>(m: &'a AlarmMetric, name: &str) -> Option<&'a Value> {
    m.dimensions.iter().find(|(n, _)| n == name).map(|(_, v)| v)
}

#[test]
fn the_alarms_cover_what_on_call_must_hear_of() {
    let doc = document();
    let alarms = resources_of(&doc, "AWS::CloudWatch::Alarm");
    let mut missing = Vec::new();
    let mut need = |what: String, found: Vec<&str>| {
        if found.is_empty() {
            missing.push(what);
        }
    };
    let on_function =
        |id: String| move |m: &AlarmMetric| dimension(m, "FunctionName").and_then(ref_to) == Some(id.clone());
    for f in functions("t") {
        need(format!("Errors of {}", f.logical_id), alarms_on(&alarms, "Errors", on_function(f.logical_id.clone())));
        need(
            format!("Throttles of {}", f.logical_id),
            alarms_on(&alarms, "Throttles", on_function(f.logical_id.clone())),
        );
        if f.kind == Kind::Scheduled {
            need("sweep not running".into(), alarms_on(&alarms, "Invocations", on_function(f.logical_id.clone())));
        }
    }
    for (queue, q) in resources_of(&doc, "AWS::SQS::Queue") {
        let id = queue.clone();
        let on_queue =
            move |m: &AlarmMetric| dimension(m, "QueueName").and_then(get_att).map(|(id, _)| id) == Some(id.clone());
        if q["Properties"]["RedrivePolicy"].is_null() {
            // A dead-letter queue: anything in it is work that failed.
            need(format!("{queue} not empty"), alarms_on(&alarms, "ApproximateNumberOfMessagesVisible", on_queue));
        } else {
            // A work queue (its failures go to its DLQ): messages waiting too long is the signal.
            need(format!("{queue} oldest message"), alarms_on(&alarms, "ApproximateAgeOfOldestMessage", on_queue));
        }
    }
    let any = |_: &AlarmMetric| true;
    need("HTTP API 5xx".into(), alarms_on(&alarms, "5xx", any));
    need("sweep failures".into(), alarms_on(&alarms, "SweepLinkagesFailed", any));
    need("sweep lag".into(), alarms_on(&alarms, "SweepLagSeconds", any));
    let code_2010 = |m: &AlarmMetric| dimension(m, "Code").and_then(Value::as_str) == Some("2010");
    need("2010 batch items".into(), alarms_on(&alarms, "BatchItems", code_2010));
    assert!(missing.is_empty(), "no alarm on: {missing:?}");

    // The DynamoDB alarm sums ThrottledRequests of every operation the code calls.
    let throttled: BTreeSet<String> = alarms
        .values()
        .flat_map(|a| alarm_metrics(&a["Properties"]))
        .filter(|m| m.name == "ThrottledRequests")
        .filter_map(|m| dimension(&m, "Operation").and_then(Value::as_str).map(str::to_string))
        .collect();
    assert_eq!(throttled, dynamodb_operations_called(), "ThrottledRequests operations vs the SDK calls in the code");

    // The sweep's metrics name the sweep function's binary and operation.
    for metric in ["SweepLinkagesFailed", "SweepLagSeconds"] {
        for m in alarms.values().flat_map(|a| alarm_metrics(&a["Properties"])).filter(|m| m.name == metric) {
            assert_eq!(dimension(&m, "Function").and_then(Value::as_str), Some(SWEEP_SCOPE.0), "{metric}");
            assert_eq!(dimension(&m, "Operation").and_then(Value::as_str), Some(SWEEP_SCOPE.1), "{metric}");
        }
    }
    // The lag alarm fires past 30 minutes by default.
    let lag = &doc["Resources"]["SweepLagAlarm"]["Properties"];
    assert_eq!(doc["Parameters"][ref_to(&lag["Threshold"]).unwrap().as_str()]["Default"].as_u64(), Some(1800));
}

#[test]
fn every_function_logs_to_its_own_group_with_the_retention_parameter_and_is_traced() {
    let doc = document();
    let globals = &doc["Globals"]["Function"];
    assert_eq!(globals["Tracing"].as_str(), Some("Active"), "Globals.Function.Tracing");
    assert_eq!(globals["LoggingConfig"]["LogFormat"].as_str(), Some("JSON"));
    assert_eq!(doc["Parameters"]["LogRetentionDays"]["Default"].as_u64(), Some(30));
    let groups = resources_of(&doc, "AWS::Logs::LogGroup");
    let mut used = BTreeSet::new();
    for f in functions("t") {
        let props = &doc["Resources"][f.logical_id.as_str()]["Properties"];
        let group = ref_to(&props["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{}: LoggingConfig.LogGroup is not a !Ref", f.logical_id));
        let g = groups.get(&group).unwrap_or_else(|| panic!("{}: {group} is not a log group", f.logical_id));
        assert_eq!(ref_to(&g["Properties"]["RetentionInDays"]).as_deref(), Some("LogRetentionDays"), "{group}");
        assert!(used.insert(group.clone()), "{group} serves two functions");
        assert_eq!(
            f.environment.get("METRICS_NAMESPACE").map(String::as_str),
            Some("PartnerPrograms"),
            "{}",
            f.logical_id
        );
    }
    assert_eq!(used.len(), groups.len(), "log groups no function writes to");
    let email = &doc["Resources"]["AlarmEmailSubscription"];
    assert_eq!(email["Condition"].as_str(), Some("HasAlarmEmail"), "the e-mail subscription is optional");
    assert_eq!(doc["Parameters"]["AlarmEmail"]["Default"].as_str(), Some(""));
}

/// The dashboard body with every `${...}` replaced (numbers for the thresholds), as JSON.
fn dashboard_body(doc: &Value) -> serde_json::Value {
    let dashboards = resources_of(doc, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1);
    let body = dashboards.values().next().unwrap()["Properties"]["DashboardBody"].clone();
    let (f, text) = intrinsic(&body).expect("DashboardBody is a !Sub");
    assert_eq!(f, "Sub");
    let mut text = text.as_str().unwrap().to_string();
    while let Some(start) = text.find("${") {
        let end = start + text[start..].find('}').unwrap();
        let name = &text[start + 2..end];
        let value = doc["Parameters"][name]["Default"].as_u64().map_or_else(|| "x".to_string(), |n| n.to_string());
        text.replace_range(start..=end, &value);
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("dashboard body is not JSON once substituted: {e}\n{text}"))
}

#[test]
fn the_dashboard_shows_only_known_metrics_and_every_view_the_runbook_names() {
    let doc = document();
    let body = dashboard_body(&doc);
    let mut shown = BTreeSet::new();
    for widget in body["widgets"].as_array().unwrap() {
        for row in widget["properties"]["metrics"].as_array().unwrap() {
            let row = row.as_array().unwrap();
            if let Some(expr) = row[0]["expression"].as_str() {
                let name = expr.split("MetricName=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
                let ns = expr.split('{').nth(1).and_then(|s| s.split(',').next()).unwrap();
                shown.insert((ns.to_string(), name.to_string()));
            } else {
                shown.insert((row[0].as_str().unwrap().to_string(), row[1].as_str().unwrap().to_string()));
            }
        }
    }
    for (ns, name) in &shown {
        let known = if ns.starts_with("AWS/") {
            AWS_PUBLISHED.iter().any(|(n, m, _)| n == ns && m == name)
        } else {
            EMITTED.iter().any(|m| m.name == name)
        };
        assert!(known, "the dashboard shows {ns} {name}, which nothing emits");
    }
    let names: BTreeSet<&str> = shown.iter().map(|(_, n)| n.as_str()).collect();
    for needed in ["Requests", "Latency", "BatchItems", "SweepLinkagesChanged", "SweepLagSeconds"] {
        assert!(names.contains(needed), "the dashboard does not show {needed}");
    }
    assert!(names.contains("ApproximateNumberOfMessagesVisible"), "the dashboard does not show the DLQs");
    let text = body.to_string();
    assert!(text.contains("'p50'") && text.contains("'p99'"), "latency p50 and p99");
}

fn runbook() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operations.md")).unwrap()
}

/// The rows of the first Markdown table under the `## Metrics` heading: (name, unit).
fn runbook_metrics(text: &str) -> BTreeMap<String, String> {
    let section = text.split("\n## Metrics\n").nth(1).expect("docs/operations.md has ## Metrics");
    let section = section.split("\n## ").next().unwrap();
    let table = section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'));
    table
        .skip(2)
        .map(|row| {
            let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
            (cells[0].trim_matches('`').to_string(), cells[1].trim_matches('`').to_string())
        })
        .collect()
}

#[test]
fn every_alarm_has_its_runbook_section_and_the_runbook_lists_exactly_the_emitted_metrics() {
    let doc = document();
    let text = runbook();
    for id in resources_of(&doc, "AWS::CloudWatch::Alarm").keys() {
        assert!(text.contains(&format!("`{id}`")), "docs/operations.md does not name the alarm {id}");
    }
    let documented = runbook_metrics(&text);
    let emitted: BTreeMap<String, String> = EMITTED.iter().map(|m| (m.name.to_string(), m.unit.to_string())).collect();
    assert_eq!(documented, emitted, "docs/operations.md's metric table vs the metrics the code emits");
}
