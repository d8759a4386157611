//! `openapi.yaml` kept true: every route of `template.yaml` is in the document and back, and every
//! response the API suite receives is validated against it (see `support::request`), so no test
//! can see an undocumented status or shape without failing.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

pub const DOCUMENT: &str = include_str!("../../openapi.yaml");

fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_yaml::from_str(DOCUMENT).expect("openapi.yaml is valid YAML"))
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The path template of the document that `path` matches, if any.
fn template_for(path: &str) -> Option<String> {
    let got: Vec<&str> = path.trim_matches('/').split('/').collect();
    document()["paths"]
        .as_object()?
        .keys()
        .find(|t| {
            let pat: Vec<&str> = t.trim_matches('/').split('/').collect();
            pat.len() == got.len() && pat.iter().zip(&got).all(|(p, g)| (p.starts_with('{') && !g.is_empty()) || p == g)
        })
        .cloned()
}

/// JSON pointer (within the document) of the schema of the response to `method path` with `status`.
fn schema_pointer(method: &str, path: &str, status: u16) -> Result<String, String> {
    let doc = document();
    let response = match template_for(path) {
        None => "/components/responses/NotFound".to_string(),
        Some(t) => {
            let op = format!("/paths/{}/{}", escape(&t), method.to_ascii_lowercase());
            // Methods are case-sensitive: `post` is not the documented `POST`.
            if method != method.to_ascii_uppercase() || doc.pointer(&op).is_none() {
                "/components/responses/MethodNotAllowed".to_string()
            } else {
                let r = format!("{op}/responses/{status}");
                let resp = doc
                    .pointer(&r)
                    .ok_or_else(|| format!("{method} {t} answered {status}, which openapi.yaml does not document"))?;
                match resp.get("$ref").and_then(Value::as_str) {
                    Some(target) => target.trim_start_matches('#').to_string(),
                    None => r,
                }
            }
        }
    };
    Ok(format!("{response}/content/application~1json/schema"))
}

fn validator(pointer: &str) -> Arc<jsonschema::Validator> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<jsonschema::Validator>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(pointer) {
        return v.clone();
    }
    // The whole document is the schema's resource, so `#/components/...` references resolve.
    let mut schema = document().clone();
    // A URI fragment: braces of path templates percent-encoded.
    schema["$ref"] = Value::String(format!("#{}", pointer.replace('{', "%7B").replace('}', "%7D")));
    let v = Arc::new(
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("openapi.yaml schema at {pointer} does not compile: {e}")),
    );
    cache.lock().unwrap().insert(pointer.to_string(), v.clone());
    v
}

/// Panics unless the response is JSON that conforms to what openapi.yaml says `method path`
/// answers with `status`.
pub fn check_response(method: &str, path_and_query: &str, status: u16, content_type: Option<&str>, text: &str) {
    let path = path_and_query.split('?').next().unwrap_or_default();
    let pointer = schema_pointer(method, path, status).unwrap_or_else(|e| panic!("{e}\nbody: {text}"));
    assert_eq!(content_type, Some("application/json"), "{method} {path} → {status} is not JSON: {text}");
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{method} {path} → {status}: body is not JSON ({e}): {text}"));
    let v = validator(&pointer);
    let errors: Vec<String> = v.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} → {status} does not conform to openapi.yaml ({pointer}):\n{}\nbody: {text}",
        errors.join("\n")
    );
    record(method, path, status);
}

/// One line per validated response in `$OPENAPI_VALIDATION_LOG` (scripts/test.sh counts them).
fn record(method: &str, path: &str, status: u16) {
    let Ok(file) = std::env::var("OPENAPI_VALIDATION_LOG") else { return };
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(file) {
        let _ = writeln!(f, "{method} {path} {status}");
    }
}

/// The API's routes in template.yaml: every HttpApi event but the console's, which serve its files
/// (HTML, CSS, JavaScript), not the JSON API (docs/console.md describes them).
fn template_routes() -> BTreeSet<(String, String)> {
    let doc: serde_yaml::Value = serde_yaml::from_str(devtools::table_definition::TEMPLATE).unwrap();
    let mut routes = BTreeSet::new();
    for (id, res) in doc["Resources"].as_mapping().unwrap() {
        if id.as_str() == Some(shared::http::console::FUNCTION) {
            continue;
        }
        let Some(events) = res["Properties"]["Events"].as_mapping() else { continue };
        for (_, ev) in events {
            if ev["Type"].as_str() == Some("HttpApi") {
                let p = &ev["Properties"];
                routes.insert((
                    p["Method"].as_str().unwrap().to_ascii_lowercase(),
                    p["Path"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    routes
}

#[test]
fn every_template_route_is_in_openapi_and_back() {
    let mut documented = BTreeSet::new();
    for (path, item) in document()["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                documented.insert((method.to_string(), path.clone()));
            }
        }
    }
    let template = template_routes();
    assert!(template.len() >= 12, "{template:?}");
    assert_eq!(documented, template, "openapi.yaml paths and template.yaml HttpApi routes differ");
}

#[test]
fn every_documented_response_schema_compiles_and_names_existing_components() {
    let doc = document();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for status in op["responses"].as_object().unwrap().keys() {
                let pointer = schema_pointer(method, path, status.parse().unwrap()).unwrap();
                assert!(doc.pointer(&pointer).is_some(), "{method} {path} {status}: {pointer} missing");
                validator(&pointer);
                checked += 1;
            }
        }
    }
    assert!(checked > 80, "{checked}");
}

#[test]
fn the_validator_rejects_an_undocumented_field_and_a_wrong_type() {
    // The check can fail: a status object with an extra field, or a code as a string, is refused.
    let ok = r#"{"errors":[{"status":false,"code":2008,"message":"m"}],"warnings":[]}"#;
    check_response("POST", "/v2/partnerProgram/linkCustomer", 400, Some("application/json"), ok);
    for bad in [
        r#"{"errors":[{"status":false,"code":2008,"message":"m","extra":1}],"warnings":[]}"#,
        r#"{"errors":[{"status":false,"code":"2008","message":"m"}],"warnings":[]}"#,
        r#"{"errors":[],"warnings":[]}"#,
    ] {
        let r = std::panic::catch_unwind(|| {
            check_response("POST", "/v2/partnerProgram/linkCustomer", 400, Some("application/json"), bad)
        });
        assert!(r.is_err(), "accepted {bad}");
    }
    let r = std::panic::catch_unwind(|| {
        check_response("POST", "/v2/partnerProgram/linkCustomer", 418, Some("application/json"), ok)
    });
    assert!(r.is_err(), "an undocumented status passed");
}

/// Every status a linkage can have, as the API writes it. The match is exhaustive, so a status
/// added to `LinkageStatus` does not compile until it is listed here (and so checked below).
fn linkage_statuses() -> BTreeSet<String> {
    use shared::domain::model::LinkageStatus::{self, *};
    let all = [Pending, Active, InGrace, TierExpired, Delinked, Expired, Paused];
    let listed = |s: LinkageStatus| match s {
        Pending | Active | InGrace | TierExpired | Delinked | Expired | Paused => s,
    };
    all.into_iter().map(|s| serde_json::to_value(listed(s)).unwrap().as_str().unwrap().to_string()).collect()
}

/// Every `enum` of the document with its JSON pointer.
fn enums<'a>(v: &'a Value, at: String, out: &mut Vec<(String, &'a Vec<Value>)>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(values)) = m.get("enum") {
                out.push((at.clone(), values));
            }
            for (k, child) in m {
                enums(child, format!("{at}/{}", escape(k)), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                enums(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The schema at `pointer`, its `$ref` followed.
fn resolved(pointer: &str) -> &'static Value {
    let mut schema = document().pointer(pointer).unwrap_or_else(|| panic!("openapi.yaml has no {pointer}"));
    while let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        schema = document().pointer(target.trim_start_matches('#')).unwrap_or_else(|| panic!("{target} missing"));
    }
    schema
}

#[test]
fn every_enum_that_carries_a_linkage_status_carries_every_status_the_code_can_emit() {
    let statuses = linkage_statuses();
    let mut all = Vec::new();
    enums(document(), String::new(), &mut all);
    let mut carrying = 0;
    for (at, values) in all {
        let values: BTreeSet<String> = values.iter().filter_map(Value::as_str).map(str::to_string).collect();
        if values.is_disjoint(&statuses) {
            continue;
        }
        carrying += 1;
        let missing: Vec<&String> = statuses.difference(&values).collect();
        assert!(missing.is_empty(), "openapi.yaml {at} lists linkage statuses but not {missing:?}");
    }
    assert!(carrying >= 1, "no enum of openapi.yaml lists the linkage statuses");
    // Each place the API shows a linkage's status is such an enum.
    let preview = "/components/schemas/ExpiryPreviewResponse";
    for pointer in [
        "/components/schemas/PartnerProgramDetails/properties/status".to_string(),
        "/components/schemas/LinkState/properties/status".to_string(),
        format!("{preview}/properties/data/items/properties/currentStatus"),
        format!("{preview}/properties/data/items/properties/resultingStatus"),
    ] {
        let listed: BTreeSet<String> = resolved(&pointer)["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{pointer} is not an enum"))
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        assert_eq!(listed, statuses, "{pointer}");
    }
}
