//! What `template.yaml` deploys, read the way the tests need it: every Lambda function with its
//! binary, what invokes it (HTTP API routes, the authorizer, schedules), the environment Lambda
//! gives it, and the IAM grants of its policy. Tests iterate this, never a hard-coded list.

use serde_yaml::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One IAM grant: an action on a resource, the table written `table`, an index `table/index/X`, the
/// files bucket's keys under a prefix `bucket/incoming/*` and a queue `queue/<LogicalId>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    pub action: String,
    pub resource: String,
}

impl Grant {
    pub fn table(action: &str) -> Grant {
        Grant { action: action.to_string(), resource: "table".to_string() }
    }

    pub fn index(action: &str, index: &str) -> Grant {
        Grant { action: action.to_string(), resource: format!("table/index/{index}") }
    }

    /// Any resource, spelled as `Grant`'s resources are.
    pub fn on(action: &str, resource: &str) -> Grant {
        Grant { action: action.to_string(), resource: resource.to_string() }
    }
}

impl std::fmt::Display for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.action, self.resource)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Behind the HTTP API (API Gateway proxy events, v2 and v1).
    Http,
    /// The HTTP API's Lambda authorizer (request events, payload 2.0).
    Authorizer,
    /// Invoked by an EventBridge schedule.
    Scheduled,
    /// Behind the HTTP API without the authorizer, serving files and no data (the console).
    Static,
    /// Invoked by the files bucket's ObjectCreated notifications (the partner file import).
    ObjectCreated,
    /// Polled from an SQS queue (the partner file worker).
    QueueConsumer,
}

#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    pub binary: String,
    pub kind: Kind,
    /// (METHOD, path) of each HttpApi event.
    pub routes: Vec<(String, String)>,
    /// Environment variables from Globals and the function, intrinsics resolved to test values.
    pub environment: BTreeMap<String, String>,
    /// Grants of its policy; SAM policy templates and managed policies appear as `policy:<name>`.
    pub policy: BTreeSet<Grant>,
}

pub fn document() -> Value {
    serde_yaml::from_str(devtools::table_definition::TEMPLATE).expect("template.yaml parses")
}

/// An intrinsic function in either spelling: `!Ref X` (a YAML tag) or `{Ref: X}` / `{Fn::GetAtt: ..}`.
pub fn intrinsic(v: &Value) -> Option<(String, Value)> {
    match v {
        Value::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_string(), t.value.clone())),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, v) = m.iter().next()?;
            let k = k.as_str()?;
            (k == "Ref" || k.starts_with("Fn::")).then(|| (k.trim_start_matches("Fn::").to_string(), v.clone()))
        }
        _ => None,
    }
}

fn table_logical_id(doc: &Value) -> String {
    doc["Resources"]
        .as_mapping()
        .and_then(|r| r.iter().find(|(_, res)| res["Type"].as_str() == Some("AWS::DynamoDB::Table")))
        .and_then(|(id, _)| id.as_str())
        .expect("template has a table")
        .to_string()
}

/// The files bucket's name as template.yaml builds it (a `!Sub` of the stack, account and region).
pub fn bucket_name_sub(doc: &Value) -> Option<String> {
    let resources = doc["Resources"].as_mapping()?;
    let bucket = resources.values().find(|r| r["Type"].as_str() == Some("AWS::S3::Bucket"))?;
    match intrinsic(&bucket["Properties"]["BucketName"])? {
        (f, Value::String(s)) if f == "Sub" => Some(s),
        _ => None,
    }
}

/// A policy `Resource` normalised: the table → `table`, its index → `table/index/X`, keys of the
/// files bucket → `bucket/<pattern>`, a queue's ARN → `queue/<LogicalId>`.
fn resource_name(v: &Value, table: &str) -> String {
    if let Some((f, Value::String(s))) = intrinsic(v) {
        let bucket = bucket_name_sub(&document()).unwrap_or_default();
        let arn = format!("arn:${{AWS::Partition}}:s3:::{bucket}/");
        if f == "Sub" && !bucket.is_empty() {
            if let Some(keys) = s.strip_prefix(&arn) {
                return format!("bucket/{keys}");
            }
        }
        if let Some(queue) = s.strip_suffix(".Arn").filter(|_| f == "GetAtt") {
            if document()["Resources"][queue]["Type"].as_str() == Some("AWS::SQS::Queue") {
                return format!("queue/{queue}");
            }
        }
    }
    match intrinsic(v) {
        Some((f, arg)) if f == "GetAtt" => {
            let target = match &arg {
                Value::String(s) => s.clone(),
                Value::Sequence(seq) => seq.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("."),
                _ => String::new(),
            };
            if target == format!("{table}.Arn") {
                "table".to_string()
            } else {
                format!("GetAtt {target}")
            }
        }
        Some((f, Value::String(s))) if f == "Sub" => s.replace(&format!("${{{table}.Arn}}"), "table"),
        _ => format!("{v:?}"),
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Sequence(s) => s.clone(),
        Value::Null => vec![],
        other => vec![other.clone()],
    }
}

fn policy_grants(policies: &Value, table: &str) -> BTreeSet<Grant> {
    let mut grants = BTreeSet::new();
    for policy in as_list(policies) {
        let statements = match &policy {
            Value::Mapping(m) if m.contains_key("Statement") => as_list(&policy["Statement"]),
            Value::Mapping(m) => {
                // A SAM policy template such as DynamoDBCrudPolicy.
                for (name, _) in m {
                    grants.insert(Grant {
                        action: format!("policy:{}", name.as_str().unwrap_or("?")),
                        resource: "*".into(),
                    });
                }
                continue;
            }
            Value::String(name) => {
                grants.insert(Grant { action: format!("policy:{name}"), resource: "*".into() });
                continue;
            }
            _ => continue,
        };
        for st in statements {
            if st["Effect"].as_str() != Some("Allow") {
                continue;
            }
            for action in as_list(&st["Action"]) {
                for resource in as_list(&st["Resource"]) {
                    grants.insert(Grant {
                        action: action.as_str().unwrap_or("?").to_string(),
                        resource: resource_name(&resource, table),
                    });
                }
            }
        }
    }
    grants
}

fn env_value(v: &Value, doc: &Value, table: &str, table_name: &str) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => match intrinsic(v)? {
            (f, Value::String(name)) if f == "Ref" => {
                if name == table {
                    Some(table_name.to_string())
                } else if let Some(default) = doc["Parameters"][name.as_str()].get("Default") {
                    env_value(default, doc, table, table_name)
                } else {
                    // Another resource: its physical name is not known here; its logical id stands in.
                    Some(name)
                }
            }
            // The files bucket's name: its logical id stands in, as for other resources.
            (f, Value::String(s)) if f == "Sub" && Some(&s) == bucket_name_sub(doc).as_ref() => {
                doc["Resources"].as_mapping().and_then(|r| {
                    r.iter()
                        .find(|(_, r)| r["Type"].as_str() == Some("AWS::S3::Bucket"))?
                        .0
                        .as_str()
                        .map(str::to_string)
                })
            }
            _ => None,
        },
    }
}

/// A function's HttpApi routes (METHOD, path), how many go without the authorizer, and the types
/// of its other events (`Schedule`, `S3`, `SQS`, ...).
fn events_of(props: &Value) -> (Vec<(String, String)>, usize, BTreeSet<String>) {
    let mut routes = Vec::new();
    let mut open_routes = 0;
    let mut others = BTreeSet::new();
    for (_, ev) in props["Events"].as_mapping().cloned().unwrap_or_default() {
        match ev["Type"].as_str() {
            Some("HttpApi") | Some("Api") => {
                open_routes += usize::from(ev["Properties"]["Auth"]["Authorizer"].as_str() == Some("NONE"));
                routes.push((
                    ev["Properties"]["Method"].as_str().unwrap_or("ANY").to_uppercase(),
                    ev["Properties"]["Path"].as_str().unwrap_or("/").to_string(),
                ))
            }
            Some(other) => {
                others.insert(other.to_string());
            }
            None => {}
        }
    }
    (routes, open_routes, others)
}

/// Every `AWS::Serverless::Function`, with `table_name` standing in for the table's `!Ref`.
pub fn functions(table_name: &str) -> Vec<Function> {
    let doc = document();
    let table = table_logical_id(&doc);
    let resources = doc["Resources"].as_mapping().expect("Resources");
    let authorizers: BTreeSet<String> = resources
        .values()
        .filter(|r| r["Type"].as_str() == Some("AWS::Serverless::HttpApi"))
        .flat_map(|api| api["Properties"]["Auth"]["Authorizers"].as_mapping().cloned().unwrap_or_default())
        .filter_map(|(_, a)| match intrinsic(&a["FunctionArn"])? {
            (f, Value::String(s)) if f == "GetAtt" => s.strip_suffix(".Arn").map(str::to_string),
            (f, Value::Sequence(seq)) if f == "GetAtt" => seq.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        })
        .collect();
    let mut out = Vec::new();
    for (id, res) in resources {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let logical_id = id.as_str().expect("logical id").to_string();
        let binary = res["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{logical_id} has no Metadata.BuildProperties.Binary"))
            .to_string();
        let props = &res["Properties"];
        let (routes, open_routes, triggers) = events_of(props);
        let (scheduled, object_created, queue) = (
            triggers.contains("Schedule") || triggers.contains("ScheduleV2"),
            triggers.contains("S3"),
            triggers.contains("SQS"),
        );
        let kind = if authorizers.contains(&logical_id) {
            Kind::Authorizer
        } else if !routes.is_empty() && open_routes == routes.len() {
            Kind::Static
        } else if !routes.is_empty() {
            assert_eq!(open_routes, 0, "{logical_id}: some routes without the authorizer");
            Kind::Http
        } else if scheduled {
            Kind::Scheduled
        } else if object_created {
            Kind::ObjectCreated
        } else if queue {
            Kind::QueueConsumer
        } else {
            panic!(
                "{logical_id}: no HttpApi, authorizer, schedule, S3 or SQS event; teach tests/runtime/template.rs about it"
            )
        };
        let mut environment = BTreeMap::new();
        for vars in [&doc["Globals"]["Function"]["Environment"]["Variables"], &props["Environment"]["Variables"]] {
            for (k, v) in vars.as_mapping().cloned().unwrap_or_default() {
                if let (Some(k), Some(v)) = (k.as_str(), env_value(&v, &doc, &table, table_name)) {
                    environment.insert(k.to_string(), v);
                }
            }
        }
        let policy = policy_grants(&props["Policies"], &table);
        out.push(Function { logical_id, binary, kind, routes, environment, policy });
    }
    out
}
