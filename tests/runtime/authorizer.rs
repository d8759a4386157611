//! The HTTP API's Lambda authorizer, as API Gateway invokes it with `tests/events/authorizer.json`
//! (payload 2.0, simple responses): valid credentials → allowed with `orgId`, `role`, `clientKey`
//! (and `displayName` when the client has one) in the context; the file's placeholder credentials → denied; an unreadable event → `/error`.

use crate::fixtures::{demo_org, event, state, table_name, Sandbox};
use crate::policies::check_recorded;
use crate::template::{functions, Kind};
use serde_json::{json, Value};
use shared::domain::model::Role;

fn with_authorization(mut event: Value, header: &str) -> Value {
    event["identitySource"] = json!([header]);
    event["headers"]["authorization"] = json!(header);
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorizer_allows_real_credentials_and_denies_others() {
    let authorizers: Vec<_> = functions(&table_name()).into_iter().filter(|f| f.kind == Kind::Authorizer).collect();
    assert_eq!(authorizers.len(), 1, "expected one Lambda authorizer in template.yaml");
    let f = &authorizers[0];
    let file = event(&format!("{}.json", f.binary)).unwrap();
    let state = state().await;
    let org = demo_org(&state).await;
    let sandbox = Sandbox::start(f).await;

    sandbox.expect_error(b"not json").await.unwrap();

    let allowed = sandbox.respond(&with_authorization(file.clone(), &org.api.basic_header())).await.unwrap();
    let api_context = json!({"orgId": org.org_id, "role": "api", "clientKey": org.api.client_key});
    assert_eq!(allowed, json!({"isAuthorized": true, "context": api_context}));
    let admin = sandbox.respond(&with_authorization(file.clone(), &org.admin.basic_header())).await.unwrap();
    assert_eq!(admin["context"]["role"], "admin");
    let agent = shared::http::auth::create_named_client(&state.store, org.org_id, Role::Agent, Some("Asha Rao".into()))
        .await
        .unwrap();
    let agent_allowed = sandbox.respond(&with_authorization(file.clone(), &agent.basic_header())).await.unwrap();
    let agent_context =
        json!({"orgId": org.org_id, "role": "agent", "clientKey": agent.client_key, "displayName": "Asha Rao"});
    assert_eq!(agent_allowed, json!({"isAuthorized": true, "context": agent_context}));

    let placeholder = sandbox.respond(&file).await.unwrap();
    assert_eq!(placeholder["isAuthorized"], false, "the file's placeholder credentials must not work: {placeholder}");
    let wrong_secret = format!("{}x", org.api.basic_header());
    let denied = sandbox.respond(&with_authorization(file.clone(), &wrong_secret)).await.unwrap();
    assert_eq!(denied, json!({"isAuthorized": false, "context": {}}));

    crate::metrics::documents(&sandbox.process.log).unwrap();
    check_recorded(f, &sandbox.recorder).unwrap();
}
