//! template.yaml and the local server serve the same operations: every HTTP function in the
//! template has its route in the router, and every route has its function.

use std::collections::BTreeSet;

#[test]
fn every_template_function_has_a_local_route_and_vice_versa() {
    let doc: serde_yaml::Value = serde_yaml::from_str(shared::table_definition::TEMPLATE).unwrap();
    let mut template = BTreeSet::new();
    for (id, res) in doc["Resources"].as_mapping().unwrap() {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = res["Properties"]["Events"].as_mapping() else { continue };
        for (_, ev) in events {
            if ev["Type"].as_str() == Some("HttpApi") {
                let p = &ev["Properties"];
                template.insert((
                    id.as_str().unwrap().to_string(),
                    p["Method"].as_str().unwrap().to_uppercase(),
                    p["Path"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    let routes: BTreeSet<(String, String, String)> = shared::router::routes()
        .iter()
        .map(|r| (r.function.to_string(), r.method.to_string(), r.path.to_string()))
        .collect();
    assert!(!routes.is_empty());
    assert_eq!(template, routes, "template.yaml HttpApi events and shared::router::routes() differ");
}

#[test]
fn every_function_binary_named_in_the_template_exists() {
    let doc: serde_yaml::Value = serde_yaml::from_str(shared::table_definition::TEMPLATE).unwrap();
    for (id, res) in doc["Resources"].as_mapping().unwrap() {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let bin =
            res["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{id:?} has no Binary"));
        let path = format!("{}/functions/src/bin/{bin}.rs", env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path} missing"));
        assert!(
            source.contains(id.as_str().unwrap()) || bin == "authorizer" || bin == "tier-expiry-sweep",
            "{bin} does not serve {id:?}"
        );
    }
}
