//! Test harness: one table per test process (created from template.yaml in DynamoDB Local), one
//! local server per test on a free loopback port, one org per test, real HTTP with JSON bodies.

#![allow(dead_code)]

use base64::Engine;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{json, Value};
use shared::config::Config;
use shared::domain::model::Role;
use shared::http::auth::IssuedCredentials;
use shared::state::{AppState, Clock};
use shared::storage::store::Store;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

// The table, the DynamoDB Local client and the config are the runtime suite's too.
use crate::common::dynamodb_endpoint;
pub use crate::common::{sdk_client, table_name, test_config};

pub struct TestApp {
    pub base: String,
    pub state: Arc<AppState>,
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with_clock(Arc::new(chrono::Utc::now)).await
    }

    /// A server whose handlers see `clock` as "now".
    pub async fn start_with_clock(clock: Clock) -> TestApp {
        Self::serve(sdk_client().await, clock).await
    }

    /// A server whose DynamoDB client runs `interceptor`: how tests inject faults DynamoDB Local
    /// cannot produce (the emulator is never unavailable).
    pub async fn start_with_interceptor(interceptor: impl aws_sdk_dynamodb::config::Intercept + 'static) -> TestApp {
        let _ = dynamodb_endpoint();
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(interceptor).build();
        Self::serve(aws_sdk_dynamodb::Client::from_conf(conf), Arc::new(chrono::Utc::now)).await
    }

    /// A server whose DynamoDB traffic goes through `proxy` (tests/api/fault_proxy.rs). The SDK
    /// retries as the Lambdas' does (`state::sdk_limits`: attempts and backoff), without their 1 s
    /// attempt timeout, which a test machine busy with parallel tests would turn into faults of its own.
    pub async fn start_through(proxy: &crate::fault_proxy::FaultProxy) -> TestApp {
        Self::start_through_with(proxy, |_| {}).await
    }

    /// As `start_through`, with settings of its own (`edit` changes the test config).
    pub async fn start_through_with(proxy: &crate::fault_proxy::FaultProxy, edit: impl FnOnce(&mut Config)) -> TestApp {
        let _ = dynamodb_endpoint();
        use shared::state::sdk_limits;
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let retries = aws_config::retry::RetryConfig::standard()
            .with_max_attempts(sdk_limits::MAX_ATTEMPTS)
            .with_initial_backoff(sdk_limits::INITIAL_BACKOFF)
            .with_max_backoff(sdk_limits::MAX_BACKOFF);
        let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).endpoint_url(&proxy.url).retry_config(retries).build();
        let mut config = test_config(&table_name());
        edit(&mut config);
        Self::serve_with(aws_sdk_dynamodb::Client::from_conf(conf), Arc::new(chrono::Utc::now), config).await
    }

    /// A server on the Lambdas' own SDK configuration (`state::sdk_config`: the 1 s attempt
    /// timeout, 2 s per operation, 3 attempts), for tests of what that timeout does under load.
    pub async fn start_like_lambda() -> TestApp {
        let _ = dynamodb_endpoint();
        Self::serve(aws_sdk_dynamodb::Client::new(&shared::state::sdk_config().await), Arc::new(chrono::Utc::now)).await
    }

    /// The DynamoDB Local URL the tests run against.
    pub fn dynamodb_url() -> String {
        dynamodb_endpoint()
    }

    async fn serve(client: aws_sdk_dynamodb::Client, clock: Clock) -> TestApp {
        Self::serve_with(client, clock, test_config(&table_name())).await
    }

    /// A server with settings of its own (`edit` changes the test config).
    pub async fn start_with_config(edit: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = test_config(&table_name());
        edit(&mut config);
        Self::serve_with(sdk_client().await, Arc::new(chrono::Utc::now), config).await
    }

    async fn serve_with(client: aws_sdk_dynamodb::Client, clock: Clock, config: Config) -> TestApp {
        let table = table_name();
        let admission = shared::storage::admission::Admission::new(config.storage_concurrency);
        let store = Store::with_admission(client, table.clone(), admission);
        let state = Arc::new(AppState::new(store, config, clock));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(devtools::local_server::serve(state.clone(), listener));
        TestApp { base, state }
    }

    /// A new org with an admin and an api client.
    pub async fn org(&self, time_zone: &str) -> TestOrg {
        let org = shared::admin::create_org(&self.state.store, "Test Org", time_zone).await.unwrap();
        let admin = shared::http::auth::create_client(&self.state.store, org.org_id, Role::Admin).await.unwrap();
        let api = shared::http::auth::create_client(&self.state.store, org.org_id, Role::Api).await.unwrap();
        TestOrg { org_id: org.org_id, admin: admin.basic_header(), api: api.basic_header(), base: self.base.clone() }
    }
}

/// A server on a table of its own (created from template.yaml), whose clock the test moves: for
/// tests that walk the whole due index or scan their table. The sweep and reminder tests wrap it.
pub struct ClockedApp {
    pub app: TestApp,
    pub now: Arc<Mutex<DateTime<Utc>>>,
    pub table: String,
}

impl ClockedApp {
    /// `prefix` names the table (`{prefix}-{uuid}`).
    pub async fn start(prefix: &str) -> ClockedApp {
        let client = sdk_client().await;
        let table = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
        let def = devtools::table_definition::parse(devtools::table_definition::TEMPLATE).unwrap();
        devtools::table_definition::create_table(&client, &table, &def).await.unwrap();
        let now = Arc::new(Mutex::new(Utc::now()));
        let clock_now = now.clone();
        let config = test_config(&table);
        let store = Store::new(client, table.clone());
        let state = Arc::new(AppState::new(store, config, Arc::new(move || *clock_now.lock().unwrap())));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(devtools::local_server::serve(state.clone(), listener));
        ClockedApp { app: TestApp { base, state }, now, table }
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.now.lock().unwrap() = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.now.lock().unwrap() += by;
    }

    /// Another container on the same table and clock (its own catalog cache).
    pub fn second_state(&self) -> AppState {
        let now = self.now.clone();
        AppState::new(
            self.app.state.store.clone(),
            (*self.app.state.config).clone(),
            Arc::new(move || *now.lock().unwrap()),
        )
    }
}

pub fn basic(creds: &IssuedCredentials) -> String {
    creds.basic_header()
}

pub fn basic_raw(key: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}")))
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Value,
    pub text: String,
}

/// One HTTP/1.1 request over a fresh loopback connection.
pub async fn request(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Resp {
    let authority = base.trim_start_matches("http://").to_string();
    let mut b = hyper::Request::builder().method(method).uri(path).header("host", &authority);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let resp = devtools::loopback::send(&authority, b.body(Full::new(Bytes::from(body))).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    let bytes = resp.into_body();
    let text = String::from_utf8_lossy(&bytes).to_string();
    // Every response of the suite must be what openapi.yaml documents.
    let content_type = headers_content_type(&headers);
    crate::openapi::check_response(method, path, status, content_type.as_deref(), &text);
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Resp { status, headers, body, text }
}

fn headers_content_type(headers: &HashMap<String, String>) -> Option<String> {
    headers.get("content-type").map(|v| v.split(';').next().unwrap_or_default().trim().to_string())
}

pub struct TestOrg {
    pub org_id: u64,
    pub admin: String,
    pub api: String,
    pub base: String,
}

impl TestOrg {
    pub async fn post(&self, auth: &str, path: &str, body: Value) -> Resp {
        request(
            &self.base,
            "POST",
            path,
            &[("authorization", auth), ("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
    }

    /// A POST as the api client with an `Idempotency-Key`.
    pub async fn post_keyed(&self, path: &str, key: &str, body: &Value) -> Resp {
        let headers =
            [("authorization", self.api.as_str()), ("content-type", "application/json"), ("idempotency-key", key)];
        request(&self.base, "POST", path, &headers, body.to_string().into_bytes()).await
    }

    pub async fn put(&self, auth: &str, path: &str, body: Value) -> Resp {
        request(
            &self.base,
            "PUT",
            path,
            &[("authorization", auth), ("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await
    }

    pub async fn get(&self, auth: &str, path: &str) -> Resp {
        request(&self.base, "GET", path, &[("authorization", auth)], vec![]).await
    }

    pub async fn loyalty_program(&self, name: &str) -> u64 {
        let r = self.post(&self.admin, "/v2/organization/programs", json!({"programName": name})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["programId"].as_u64().unwrap()
    }

    pub async fn partner_program(&self, name: &str, config: Value) -> Value {
        let r = self.put(&self.admin, &format!("/v2/organization/partnerPrograms/{name}"), config).await;
        assert!(r.status == 201 || r.status == 200, "{}", r.text);
        r.body
    }

    pub async fn customer(&self, body: Value) -> u64 {
        let r = self.post(&self.admin, "/v2/customers", body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["customer"]["id"].as_u64().unwrap()
    }

    pub async fn link(&self, body: Value) -> Resp {
        self.post(&self.api, "/v2/partnerProgram/linkCustomer", body).await
    }

    pub async fn delink(&self, body: Value) -> Resp {
        self.post(&self.api, "/v2/partnerProgram/deLinkCustomer", body).await
    }

    pub async fn linked_programs(&self, name: &str, value: &str) -> Resp {
        self.get(
            &self.api,
            &format!("/v2/partnerProgram/customerPartnerPrograms?identifierName={name}&identifierValue={value}"),
        )
        .await
    }
}

/// A standard org for API tests: loyalty program "Rewards" with SkyMiles (EXTERNAL, tiers
/// Silver/Gold/Platinum, 2 benefits) and FlexiPass (SUPPLEMENTARY, 30 days), and a second
/// loyalty program "Other" with OtherMiles, in which the customers are not enrolled.
pub struct Fixture {
    pub org: TestOrg,
    pub rewards: u64,
    pub other: u64,
}

pub async fn fixture(app: &TestApp) -> Fixture {
    let org = app.org("Asia/Kolkata").await;
    let rewards = org.loyalty_program("Rewards").await;
    let other = org.loyalty_program("Other").await;
    org.partner_program("SkyMiles", skymiles(rewards)).await;
    org.partner_program(
        "FlexiPass",
        json!({"programId": rewards, "partnerProgramType": "SUPPLEMENTARY", "tierBased": false,
               "membershipPeriodType": "DAYS", "membershipPeriodValue": 30}),
    )
    .await;
    org.partner_program(
        "OtherMiles",
        json!({"programId": other, "partnerProgramType": "EXTERNAL", "tierBased": false}),
    )
    .await;
    Fixture { org, rewards, other }
}

pub fn skymiles(program_id: u64) -> Value {
    json!({
        "programId": program_id,
        "partnerProgramType": "EXTERNAL",
        "partnerProgramDescription": "Airline",
        "tierBased": true,
        "partnerProgramTiers": [
            {"tierNumber": 1, "tierName": "Silver"},
            {"tierNumber": 2, "tierName": "Gold"},
            {"tierNumber": 3, "tierName": "Platinum"}
        ],
        "benefits": [
            {"name": "LoungeAccess", "type": "LOUNGE", "maximumAvailableInCycle": 10},
            {"name": "PriorityBoarding", "type": "BOARDING"}
        ],
        "pointsExchangeRate": 2,
        "onTierExpiry": "EXPIRE_TIER"
    })
}

impl Fixture {
    /// Registers and enrols a customer in Rewards; returns its id.
    pub async fn enrolled(&self, mobile: &str) -> u64 {
        self.org
            .customer(json!({
                "mobile": mobile, "email": format!("{mobile}@example.com"), "externalId": format!("X-{mobile}"),
                "programIds": [self.rewards]
            }))
            .await
    }
}

/// The single program status of a one-customer, one-program batch response.
pub fn first_status(r: &Resp, batch: &str, programs: &str, status: &str) -> Value {
    r.body[batch][0][programs][0][status].clone()
}

pub fn link_body(customer: Value, program: &str, reference: Value) -> Value {
    json!({
        "linkCustomers": [{
            "customer": customer,
            "linkToPartnerPrograms": [{"partnerProgramName": program, "customerPartnerReference": reference}]
        }]
    })
}

pub fn future_date(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}

/// Raw items of a customer's partition with a sort-key prefix (for checking what was stored).
pub async fn stored(
    state: &AppState,
    org: u64,
    customer: u64,
    prefix: &str,
) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    state.store.query_prefix(&shared::storage::keys::customer_pk(org, customer), prefix).await.unwrap()
}

/// Every item of one entity in the test table, of one org when `org` is given (a test-only Scan
/// with a filter, following every page; production code never scans).
pub async fn scan_entities(
    state: &AppState,
    entity: &str,
    org: Option<u64>,
) -> Vec<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let mut scan = state
            .store
            .client()
            .scan()
            .table_name(state.store.table())
            .expression_attribute_values(":e", AttributeValue::S(entity.into()));
        scan = match org {
            Some(o) => scan
                .filter_expression("entity = :e AND orgId = :o")
                .expression_attribute_values(":o", AttributeValue::N(o.to_string())),
            None => scan.filter_expression("entity = :e"),
        };
        let page = scan.set_exclusive_start_key(start).send().await.unwrap();
        out.extend(page.items.unwrap_or_default());
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return out,
        }
    }
}

/// Every log line the process writes from the first call on, as production formats them (JSON, one
/// object per line): installed once as the global subscriber, so the servers of every test write
/// here. Tests search it for lines of their own (unique values), never for "no other line".
pub fn captured_logs() -> &'static LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = LogBuffer::default();
        shared::logging::init_with_writer(buf.clone());
        buf
    })
}

#[derive(Clone, Default)]
pub struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    /// The lines written so far, parsed.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8_lossy(&bytes).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_string()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> LogBuffer {
        self.clone()
    }
}

/// Writes `bytes` on a fresh connection and returns everything the server sends until it closes
/// the connection, or `None` when it is still open after `wait` (the test then fails).
pub async fn raw_exchange(base: &str, bytes: &[u8], wait: std::time::Duration) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let authority = base.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|_| String::from_utf8_lossy(&out).to_string())
}

/// A dev tool's debug binary (`ppsweep`, `ppimport`), built by `make test` before the tests
/// (`cargo build --workspace --bins`).
pub fn debug_bin(name: &str) -> std::path::PathBuf {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .map_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), Into::into);
    let bin = dir.join("debug").join(name);
    assert!(
        bin.exists(),
        "{} is missing: make test builds the binaries first (cargo build --workspace --bins)",
        bin.display()
    );
    bin
}
