//! template.yaml and the local server serve the same operations: every HTTP function in the
//! template has its route in the router (or is the console's), and every route has its function;
//! only the console's routes go without the authorizer.

use std::collections::BTreeSet;

#[test]
fn every_template_function_has_a_local_route_and_vice_versa() {
    let doc: serde_yaml::Value = serde_yaml::from_str(devtools::table_definition::TEMPLATE).unwrap();
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
    let mut routes: BTreeSet<(String, String, String)> = shared::operations::routes::routes()
        .iter()
        .map(|r| (r.function.to_string(), r.method.to_string(), r.path.to_string()))
        .collect();
    let console = shared::http::console::ROUTES.iter();
    routes.extend(console.map(|(m, p)| (shared::http::console::FUNCTION.to_string(), m.to_string(), p.to_string())));
    assert!(!routes.is_empty());
    assert_eq!(template, routes, "template.yaml HttpApi events and shared::operations::routes::routes() differ");
}

/// The console serves files and no data, so its routes alone opt out of the authorizer; every
/// other route keeps the API's default one.
#[test]
fn only_the_console_routes_go_without_the_authorizer() {
    let doc: serde_yaml::Value = serde_yaml::from_str(devtools::table_definition::TEMPLATE).unwrap();
    let mut open = BTreeSet::new();
    for (id, res) in doc["Resources"].as_mapping().unwrap() {
        for (_, ev) in res["Properties"]["Events"].as_mapping().cloned().unwrap_or_default() {
            if ev["Type"].as_str() == Some("HttpApi") && !ev["Properties"]["Auth"]["Authorizer"].is_null() {
                assert_eq!(ev["Properties"]["Auth"]["Authorizer"].as_str(), Some("NONE"));
                open.insert((id.as_str().unwrap().to_string(), ev["Properties"]["Path"].as_str().unwrap().to_string()));
            }
        }
    }
    let console: BTreeSet<_> = shared::http::console::ROUTES
        .iter()
        .map(|(_, p)| (shared::http::console::FUNCTION.to_string(), p.to_string()))
        .collect();
    assert_eq!(open, console);
    let console = &doc["Resources"][shared::http::console::FUNCTION]["Properties"];
    assert!(console["Policies"].is_null(), "the console needs no access to the table");
}

/// The operation a binary's `main` passes to `run_http` (comments skipped), if any.
fn operation_run_by(source: &str) -> Option<String> {
    let code: String = source.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    let start = code.find("run_http(shared::operations::")? + "run_http(shared::operations::".len();
    let len = code[start..].find(')')?;
    Some(code[start..start + len].trim().to_string())
}

#[test]
fn every_function_binary_runs_the_operation_its_routes_name() {
    let doc: serde_yaml::Value = serde_yaml::from_str(devtools::table_definition::TEMPLATE).unwrap();
    let routes = shared::operations::routes::routes();
    let mut http_functions = 0;
    for (id, res) in doc["Resources"].as_mapping().unwrap() {
        if res["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap();
        let bin = res["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{id} has no Binary"));
        let path = format!("{}/functions/src/bin/{bin}.rs", env!("CARGO_MANIFEST_DIR"));
        let source = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path} missing"));
        let ran = operation_run_by(&source);
        match routes.iter().find(|r| r.function == id) {
            Some(route) => {
                http_functions += 1;
                assert_eq!(ran.as_deref(), Some(route.operation), "{bin} does not run the operation routed to {id}");
            }
            None => assert_eq!(ran, None, "{bin} ({id}) has no route but runs an HTTP operation"),
        }
    }
    // Every routed function is in the template (and each template function ran its route above).
    let routed: std::collections::BTreeSet<&str> = routes.iter().map(|r| r.function).collect();
    assert_eq!(http_functions, routed.len(), "HTTP functions in template.yaml: {routed:?}");
}

#[test]
fn the_binary_check_sees_the_operation_and_not_a_comment() {
    let named_in_comment = "//! runs `run_http(shared::operations::link_customer::handle)`\nfn main() {}";
    assert_eq!(operation_run_by(named_in_comment), None);
    let real =
        "fn main() {\n    shared::http::lambda_adapter::run_http(shared::operations::link_customer::handle).await\n}";
    assert_eq!(operation_run_by(real).as_deref(), Some("link_customer::handle"));
}

/// A CreateTable attempt that timed out may have created the table before the SDK retried it:
/// creating the template's table again under that name finds it and goes on, while a table of
/// that name with other keys is refused (the bench failed on the first case once).
#[tokio::test]
async fn creating_the_table_twice_reuses_it_only_with_the_templates_keys() {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let client = crate::common::sdk_client().await;
    let def = devtools::table_definition::parse(devtools::table_definition::TEMPLATE).unwrap();
    let name = format!("pp-twice-{}", uuid::Uuid::new_v4().simple());
    devtools::table_definition::create_table(&client, &name, &def).await.unwrap();
    devtools::table_definition::create_table(&client, &name, &def).await.unwrap();

    let other = format!("pp-other-keys-{}", uuid::Uuid::new_v4().simple());
    client
        .create_table()
        .table_name(&other)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("id").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("id").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();
    let err = devtools::table_definition::create_table(&client, &other, &def).await.unwrap_err();
    assert!(err.contains("exists with keys") && err.contains("\"id\""), "{err}");
    for t in [name, other] {
        client.delete_table().table_name(t).send().await.unwrap();
    }
}
