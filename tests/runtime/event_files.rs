//! `tests/events/` holds one event per function and payload kind, for `sam local invoke`,
//! `cargo lambda invoke` and these tests. They follow the template: a renamed route or a new
//! function without its events fails here, before any binary runs.

use crate::fixtures::{event, events_dir, table_name};
use crate::template::{functions, Function, Kind};
use serde_json::Value;

/// The event files a function needs, by kind.
pub fn required_files(f: &Function) -> Vec<String> {
    match f.kind {
        Kind::Http => vec![format!("{}.v2.json", f.binary), format!("{}.v1.json", f.binary)],
        Kind::Authorizer => vec![format!("{}.json", f.binary)],
        Kind::Scheduled => vec![format!("{}.schedule.json", f.binary)],
        Kind::Static => vec![format!("{}.v2.json", f.binary)],
        Kind::ObjectCreated => vec![format!("{}.s3.json", f.binary)],
        Kind::QueueConsumer => vec![format!("{}.sqs.json", f.binary)],
    }
}

fn check(f: &Function, name: &str, ev: &Value) -> Result<(), String> {
    let routes: Vec<String> = f.routes.iter().map(|(m, p)| format!("{m} {p}")).collect();
    let fail = |what: &str| Err(format!("tests/events/{name}: {what}"));
    if name.ends_with(".v2.json") {
        let route_key = ev["routeKey"].as_str().unwrap_or_default();
        if ev["version"] != "2.0" || !routes.iter().any(|r| r == route_key) {
            return fail(&format!("version must be 2.0 and routeKey one of {routes:?}, got {route_key:?}"));
        }
        if ev.pointer("/requestContext/http/method").and_then(Value::as_str) != route_key.split(' ').next() {
            return fail("requestContext.http.method differs from routeKey");
        }
        if f.kind == Kind::Static {
            // No authorizer on these routes: the event carries no caller.
            return match ev.pointer("/requestContext/authorizer") {
                None => Ok(()),
                Some(_) => fail("a route without the authorizer gets no requestContext.authorizer"),
            };
        }
        let ctx = ev.pointer("/requestContext/authorizer/lambda").ok_or("no requestContext.authorizer.lambda")?;
        if !ctx["orgId"].is_u64() || ctx["role"].as_str().is_none() || ctx["clientKey"].as_str().is_none() {
            return fail("requestContext.authorizer.lambda needs orgId (number), role and clientKey");
        }
    } else if name.ends_with(".v1.json") {
        let route = format!(
            "{} {}",
            ev["httpMethod"].as_str().unwrap_or_default(),
            ev["resource"].as_str().unwrap_or_default()
        );
        if !routes.contains(&route) {
            return fail(&format!("httpMethod + resource must be one of {routes:?}, got {route:?}"));
        }
        let ctx = ev.pointer("/requestContext/authorizer").ok_or("no requestContext.authorizer")?;
        if !ctx["orgId"].is_string() || ctx["role"].as_str().is_none() || ctx["clientKey"].as_str().is_none() {
            return fail("requestContext.authorizer needs orgId (a string, as REST APIs pass it), role and clientKey");
        }
    } else if name.ends_with(".schedule.json") {
        if ev["detail-type"] != "Scheduled Event" || ev["source"] != "aws.events" {
            return fail("not an EventBridge scheduled event");
        }
    } else if name.ends_with(".s3.json") {
        let record = &ev["Records"][0];
        let key = record.pointer("/s3/object/key").and_then(Value::as_str).unwrap_or_default();
        if record["eventSource"] != "aws:s3"
            || !key.starts_with("incoming/")
            || record["s3"]["object"]["eTag"].is_null()
        {
            return fail("not an S3 ObjectCreated event of an incoming/ key with its eTag");
        }
    } else if name.ends_with(".sqs.json") {
        let record = &ev["Records"][0];
        let body: Value = serde_json::from_str(record["body"].as_str().unwrap_or_default()).unwrap_or_default();
        if record["eventSource"] != "aws:sqs" || record.pointer("/attributes/MessageGroupId").is_none() {
            return fail("not an SQS FIFO event (eventSource aws:sqs, attributes.MessageGroupId)");
        }
        if serde_json::from_value::<shared::file_sync::chunk::ChunkMessage>(body).is_err() {
            return fail("its body is not a chunk message (shared::file_sync::chunk::ChunkMessage)");
        }
    } else if ev["type"] != "REQUEST" || ev["version"] != "2.0" || !ev["identitySource"].is_array() {
        return fail("not an HTTP API authorizer request event (payload 2.0)");
    }
    Ok(())
}

#[test]
fn every_function_has_event_files_that_match_its_routes() {
    let mut problems = Vec::new();
    for f in functions(&table_name()) {
        for name in required_files(&f) {
            match event(&name) {
                Ok(ev) => problems.extend(check(&f, &name, &ev).err()),
                Err(e) => problems.push(format!("{} ({:?}): {e}", f.logical_id, f.kind)),
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_event_file_belongs_to_a_function() {
    let wanted: Vec<String> = functions(&table_name()).iter().flat_map(required_files).collect();
    let mut orphans = Vec::new();
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if name.ends_with(".json") && !wanted.contains(&name) {
            orphans.push(name);
        }
    }
    assert!(orphans.is_empty(), "event files no function in template.yaml uses: {orphans:?}");
}

/// `cargo lambda watch` serves the template's routes: the router in the workspace metadata of
/// Cargo.toml names the same (method, path, binary) triples as the HttpApi events.
#[test]
fn cargo_lambda_watch_router_matches_the_template() {
    let manifest =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut router = std::collections::BTreeSet::new();
    for line in manifest
        .lines()
        .skip_while(|l| l.trim() != "[workspace.metadata.lambda.watch.router]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| l.starts_with('"'))
    {
        let (path, routes) = line.split_once(" = ").unwrap();
        for route in routes.split('{').skip(1) {
            let field = |name: &str| {
                route.split(&format!("{name} = \"")).nth(1).and_then(|r| r.split('"').next()).unwrap().to_string()
            };
            router.insert((field("method"), path.trim_matches('"').to_string(), field("function")));
        }
    }
    let template: std::collections::BTreeSet<(String, String, String)> = functions(&table_name())
        .iter()
        .flat_map(|f| f.routes.iter().map(|(m, p)| (m.clone(), p.clone(), f.binary.clone())))
        .collect();
    assert_eq!(router, template, "[workspace.metadata.lambda.watch.router] in Cargo.toml differs from template.yaml");
}
