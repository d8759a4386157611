//! The bench's world: a fresh table in DynamoDB Local, `make run`'s demo org (so the event files
//! fit), the local server in process on an instrumented SDK client, and customers registered and
//! linked through the public API, so the data has whatever shape the current code writes.

use crate::ddb_timing::{Book, DynamoDbTiming};
use crate::http_client::{call, Conn, Req};
use crate::Error;
use futures::StreamExt;
use serde_json::{json, Value};
use shared::state::AppState;
use shared::storage::store::Store;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub const LINK: &str = "/v2/partnerProgram/linkCustomer";
pub const REGISTER: &str = "/v2/customers";
pub const EXPIRY: &str = "2099-12-31T23:59:59+05:30";

#[derive(Debug, Clone)]
pub struct Customer {
    pub id: u64,
    pub mobile: String,
}

pub struct World {
    pub book: Arc<Book>,
    pub addr: SocketAddr,
    pub table: String,
    pub org: u64,
    pub admin: String,
    pub api: String,
    /// Basic credentials of the api client, for the authorizer's event.
    pub api_basic: String,
    pub loyalty_program: u64,
    next_customer: AtomicU64,
}

/// The instrumented SDK client: the binaries' configuration plus the timing interceptor.
pub async fn instrumented_client(book: Arc<Book>) -> aws_sdk_dynamodb::Client {
    let sdk = shared::state::sdk_config().await;
    let conf = aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(DynamoDbTiming::new(book)).build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

impl World {
    pub async fn start(book: Arc<Book>) -> Result<World, Error> {
        World::start_with(book, None).await
    }

    /// `start`, with the storage admission bound (`STORAGE_CONCURRENCY`) when given.
    pub async fn start_with(book: Arc<Book>, storage_concurrency: Option<usize>) -> Result<World, Error> {
        if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
            return Err(
                "AWS_ENDPOINT_URL_DYNAMODB is not set: run through `make bench` (it starts DynamoDB Local)".into()
            );
        }
        let client = instrumented_client(book.clone()).await;
        let table = format!("pp-bench-{}", uuid::Uuid::new_v4().simple());
        let def = devtools::table_definition::parse(devtools::table_definition::TEMPLATE)?;
        devtools::table_definition::create_table(&client, &table, &def).await?;
        // A warm container's view: the org's catalog stays cached for the whole run (Lambda
        // re-reads it every CONFIG_CACHE_SECONDS, 30 by default: once per thousands of requests).
        let config = shared::config::Config::from_lookup(|k| match k {
            "TABLE_NAME" => Some(table.clone()),
            "CONFIG_CACHE_SECONDS" => Some("3600".into()),
            "STORAGE_CONCURRENCY" => storage_concurrency.map(|n| n.to_string()),
            _ => None,
        })
        .map_err(|e| e.to_string())?;
        let admission = shared::storage::admission::Admission::new(config.storage_concurrency);
        let store = Store::with_admission(client, table.clone(), admission);
        let state = Arc::new(AppState::new(store, config, Arc::new(chrono::Utc::now)));
        let seed = devtools::demo::seed_demo(&state).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server_state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = devtools::local_server::serve(server_state, listener).await {
                eprintln!("local server stopped: {e}");
            }
        });
        let programs = call(addr, &seed.api.basic_header(), &Req::get("/v2/organization/programs".into()), 200).await?;
        let loyalty_program =
            find_loyalty_program(&programs, "Demo Rewards").ok_or("Demo Rewards is missing from the program list")?;
        Ok(World {
            book,
            addr,
            table,
            org: seed.org.org_id,
            admin: seed.admin.basic_header(),
            api: seed.api.basic_header(),
            api_basic: seed.api.basic_header(),
            loyalty_program,
            next_customer: AtomicU64::new(1),
        })
    }

    /// Registers `n` new customers (enrolled in Demo Rewards) through `POST /v2/customers`.
    pub async fn register(&self, n: usize) -> Result<Vec<Customer>, Error> {
        let first = self.next_customer.fetch_add(n as u64, Ordering::SeqCst);
        let numbers: Vec<u64> = (first..first + n as u64).collect();
        let chunks: Vec<Vec<u64>> = numbers.chunks(n.div_ceil(16).max(1)).map(<[u64]>::to_vec).collect();
        let results = futures::future::try_join_all(chunks.into_iter().map(|chunk| async move {
            let mut conn = Conn::open(self.addr, &self.admin).await?;
            let mut out = Vec::with_capacity(chunk.len());
            for k in chunk {
                let mobile = format!("9198{k:08}");
                let req = Req::post(
                    REGISTER,
                    json!({"mobile": mobile, "externalId": format!("BENCH-{k}"), "programIds": [self.loyalty_program]}),
                );
                let resp = conn.send(&req).await?;
                if resp.status != 201 {
                    return Err::<_, Error>(
                        format!("register answered {}: {}", resp.status, String::from_utf8_lossy(&resp.body)).into(),
                    );
                }
                let v: Value = serde_json::from_slice(&resp.body)?;
                let id = v.pointer("/customer/id").and_then(Value::as_u64).ok_or("register: no customer id")?;
                out.push(Customer { id, mobile });
            }
            Ok(out)
        }))
        .await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// Links every customer to each of `programs` (50 customers per request, 4 requests at a time).
    pub async fn link(&self, customers: &[Customer], programs: &[&str]) -> Result<(), Error> {
        let bodies: Vec<Value> = customers
            .chunks(50)
            .map(|chunk| link_body(chunk.iter().map(|c| json!({"mobile": c.mobile})), programs))
            .collect();
        let results: Vec<Result<Value, Error>> = futures::stream::iter(bodies)
            .map(|b| async move { call(self.addr, &self.api, &Req::post(LINK, b), 200).await })
            .buffer_unordered(4)
            .collect()
            .await;
        for r in results {
            r?;
        }
        Ok(())
    }
}

/// A linkCustomer body for these customers, each linked to every program in `programs`
/// (SkyMiles at tier Gold with a membership id).
pub fn link_body(customers: impl Iterator<Item = Value>, programs: &[&str]) -> Value {
    let entries: Vec<Value> = customers
        .map(|c| {
            let links: Vec<Value> = programs.iter().map(|p| program_entry(p, &c)).collect();
            json!({"customer": c, "linkToPartnerPrograms": links})
        })
        .collect();
    json!({ "linkCustomers": entries })
}

fn program_entry(program: &str, customer: &Value) -> Value {
    if program == "SkyMiles" {
        let key = customer
            .get("mobile")
            .or_else(|| customer.get("id"))
            .map(|v| v.to_string().replace('"', ""))
            .unwrap_or_default();
        json!({"partnerProgramName": "SkyMiles", "customerPartnerReference": {
            "partnerMembershipId": format!("SM-{key}"), "partnerTierName": "Gold", "partnerTierExpiryDate": EXPIRY}})
    } else {
        json!({"partnerProgramName": program})
    }
}

fn find_loyalty_program(list: &Value, name: &str) -> Option<u64> {
    fn walk(v: &Value, name: &str) -> Option<u64> {
        match v {
            Value::Object(m) => {
                if m.get("programName").and_then(Value::as_str) == Some(name) {
                    if let Some(id) = m.get("programId").and_then(Value::as_u64) {
                        return Some(id);
                    }
                }
                m.values().find_map(|x| walk(x, name))
            }
            Value::Array(a) => a.iter().find_map(|x| walk(x, name)),
            _ => None,
        }
    }
    walk(list, name)
}
