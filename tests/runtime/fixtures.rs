//! Shared set-up: the process's table (created from template.yaml in DynamoDB Local), demo orgs
//! seeded by the same code as `make run` (so the event files fit both), and a sandbox that runs one
//! function binary against the Runtime API emulator and the DynamoDB recorder.

use crate::dynamodb_recorder::DynamoDbRecorder;
use crate::lambda_process::{lambda_environment, LambdaProcess};
use crate::runtime_api::{Outcome, RuntimeApi};
use crate::template::Function;
use serde_json::Value;
use shared::domain::model::{AuthContext, Role};
use shared::http::api::ApiRequest;
use shared::http::auth::IssuedCredentials;
use shared::state::AppState;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(20);
static SEEDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// The table, DynamoDB Local and the state over them are the API suite's too.
pub use crate::common::{dynamodb_endpoint, state, table_name};

pub struct DemoOrg {
    pub org_id: u64,
    pub admin: IssuedCredentials,
    pub api: IssuedCredentials,
}

/// A fresh org with `make run`'s demo data (programs SkyMiles/FlexiPass, customers
/// 919740000001..3). `seed_demo` reuses the org its marker names, so the marker goes first.
pub async fn demo_org(state: &AppState) -> DemoOrg {
    let _one_at_a_time = SEEDING.lock().await;
    let marker = shared::storage::keys::demo_marker();
    state
        .store
        .client()
        .delete_item()
        .table_name(state.store.table())
        .set_key(Some(marker.to_item()))
        .send()
        .await
        .unwrap();
    let seed = Box::pin(devtools::demo::seed_demo(state)).await.unwrap();
    DemoOrg { org_id: seed.org.org_id, admin: seed.admin, api: seed.api }
}

pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/events")
}

/// `tests/events/<name>` as JSON.
pub fn event(name: &str) -> Result<Value, String> {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path).map_err(|_| format!("{} is missing", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// The event with the authorizer context naming `org` (v2: `authorizer.lambda`, v1: `authorizer`,
/// where API Gateway REST passes context values as strings).
pub fn for_org(mut event: Value, org: u64) -> Value {
    if let Some(ctx) = event.pointer_mut("/requestContext/authorizer/lambda") {
        ctx["orgId"] = org.into();
    } else if let Some(ctx) = event.pointer_mut("/requestContext/authorizer") {
        ctx["orgId"] = org.to_string().into();
    }
    event
}

/// The (decoded) body of an API Gateway proxy event.
pub fn body_of(event: &Value) -> Vec<u8> {
    use base64::Engine;
    let raw = event["body"].as_str().unwrap_or_default();
    if event["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD.decode(raw).unwrap_or_default()
    } else {
        raw.as_bytes().to_vec()
    }
}

/// Links the demo customer as `tests/events/link-customer.v2.json` does, in process (the state
/// most other operations need: something to update, delink, avail or list).
pub async fn link_demo_customer(state: &AppState, org: u64) {
    let link = event("link-customer.v2.json").unwrap();
    link_in_process(state, org, body_of(&link)).await;
}

/// Sends a linkCustomer body through the router in process, as an `api` client of `org`.
pub async fn link_in_process(state: &AppState, org: u64, body: Vec<u8>) {
    let Some(route) =
        shared::operations::routes::routes().into_iter().find(|r| r.path == "/v2/partnerProgram/linkCustomer")
    else {
        panic!("no linkCustomer route")
    };
    let req = ApiRequest {
        method: "POST".into(),
        path: route.path.into(),
        path_params: HashMap::new(),
        query: HashMap::new(),
        headers: HashMap::from([("content-type".to_string(), "application/json".to_string())]),
        body,
        auth: AuthContext { org_id: org, role: Role::Api, client_key: "ck_fixture".into(), display_name: None },
        request_id: "fixture".into(),
    };
    // Boxed: this runs inside the test's own future, which #[tokio::test] keeps on the thread's stack.
    let resp = Box::pin(shared::http::router::dispatch(state, route.handler, req, None)).await;
    assert_eq!(resp.status, 200, "fixture link failed: {}", resp.body);
}

/// One function binary running against its own Runtime API and DynamoDB recorder.
pub struct Sandbox {
    pub name: String,
    pub api: RuntimeApi,
    pub recorder: DynamoDbRecorder,
    pub process: LambdaProcess,
}

impl Sandbox {
    pub async fn start(f: &Function) -> Sandbox {
        Self::start_with(f, |_| {}).await
    }

    /// Starts `f` with its Lambda environment changed by `edit` first.
    pub async fn start_with(f: &Function, edit: impl FnOnce(&mut BTreeMap<String, String>)) -> Sandbox {
        let api = RuntimeApi::start(&f.logical_id).await;
        let recorder = DynamoDbRecorder::start(&dynamodb_endpoint()).await;
        let mut env = lambda_environment(f, &api.host_port(), &recorder.endpoint);
        edit(&mut env);
        let process = LambdaProcess::start(&f.binary, &env);
        Sandbox { name: f.binary.clone(), api, recorder, process }
    }

    pub async fn invoke(&self, payload: impl Into<Vec<u8>>) -> Result<Outcome, String> {
        self.api
            .invoke(payload, INVOKE_TIMEOUT)
            .await
            .map_err(|e| format!("{}: {e}\n--- log ---\n{}", self.name, self.process.logs()))
    }

    /// Invokes and expects a `/response` holding JSON.
    pub async fn respond(&self, event: &Value) -> Result<Value, String> {
        match self.invoke(event.to_string()).await? {
            Outcome::Response(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| format!("{}: response is not JSON: {e}", self.name))
            }
            Outcome::Error { error_type, body } => Err(format!(
                "{}: expected a response, got /error {error_type:?} {body}\n--- log ---\n{}",
                self.name,
                self.process.logs()
            )),
        }
    }

    /// Invokes with something that is not the function's event and expects an `/error` report.
    pub async fn expect_error(&self, payload: &[u8]) -> Result<(), String> {
        match self.invoke(payload.to_vec()).await? {
            Outcome::Error { body, .. } if body.get("errorMessage").is_some() => Ok(()),
            other => Err(format!(
                "{}: {:?} should have been reported to /error, got {other:?}",
                self.name,
                String::from_utf8_lossy(payload)
            )),
        }
    }
}
