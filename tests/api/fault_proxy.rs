//! A fault-injecting HTTP proxy between the service's DynamoDB client and DynamoDB Local. DynamoDB
//! Local never throttles, never fails and never loses an answer; this proxy makes it do so on a
//! seeded schedule, on the wire, so the SDK's own retries and the service's handling of what
//! survives them are exercised as in a region:
//! - delays, connection resets, HTTP 500, `ThrottlingException`,
//!   `ProvisionedThroughputExceededException`, `InternalServerError`, and transaction conflicts
//!   (`TransactionCanceledException` with `TransactionConflict` reasons);
//! - each either *before* forwarding (DynamoDB never sees the request) or *after* (DynamoDB applied
//!   it and its answer is lost: the client sees the fault instead).

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    Delay,
    Reset,
    Http500,
    Throttling,
    ProvisionedThroughputExceeded,
    InternalServerError,
    TransactionConflict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum When {
    Before,
    After,
}

/// What to inject: a rate, the kinds to choose from, and the seed of the schedule.
#[derive(Clone)]
pub struct Schedule {
    pub rate: f64,
    pub kinds: Vec<Fault>,
    pub seed: u64,
    /// Only requests whose `X-Amz-Target` ends with one of these (e.g. `TransactWriteItems`), or
    /// all when empty.
    pub targets: Vec<&'static str>,
}

impl Schedule {
    pub fn every_kind(rate: f64, seed: u64) -> Self {
        use Fault::*;
        Schedule {
            rate,
            kinds: vec![
                Delay,
                Reset,
                Http500,
                Throttling,
                ProvisionedThroughputExceeded,
                InternalServerError,
                TransactionConflict,
            ],
            seed,
            targets: vec![],
        }
    }
}

#[derive(Default)]
struct State {
    rng: Option<StdRng>,
    /// Faults for the next matching requests, in order, before the random schedule applies
    /// (`None`: that request passes untouched).
    script: std::collections::VecDeque<Option<(Fault, When)>>,
    injected: BTreeMap<(Fault, When), u64>,
    forwarded: u64,
}

pub struct FaultProxy {
    pub url: String,
    schedule: Mutex<Schedule>,
    state: Mutex<State>,
    enabled: AtomicBool,
    upstream: String,
}

impl FaultProxy {
    /// Starts the proxy on a free loopback port in front of `upstream` (DynamoDB Local's URL).
    pub async fn start(upstream: &str, schedule: Schedule) -> Arc<FaultProxy> {
        let (listener, addr) = devtools::loopback::bind().await.unwrap();
        let proxy = Arc::new(FaultProxy {
            url: format!("http://{addr}"),
            state: Mutex::new(State { rng: Some(StdRng::seed_from_u64(schedule.seed)), ..State::default() }),
            schedule: Mutex::new(schedule),
            enabled: AtomicBool::new(true),
            upstream: upstream.trim_start_matches("http://").trim_end_matches('/').to_string(),
        });
        let p = proxy.clone();
        // Serves as long as the test process runs (the server holds the proxy).
        let _server = devtools::loopback::serve(listener, move |req| {
            let p = p.clone();
            async move { p.handle(req).await }
        });
        proxy
    }

    /// Faults stop (or start again): for reading the final state through the same path.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::SeqCst);
    }

    pub fn set_schedule(&self, schedule: Schedule) {
        let mut st = self.state.lock().unwrap();
        st.rng = Some(StdRng::seed_from_u64(schedule.seed));
        *self.schedule.lock().unwrap() = schedule;
    }

    /// The next requests whose target ends with `target` get these faults, in order.
    pub fn script(&self, target: &'static str, faults: Vec<Option<(Fault, When)>>) {
        let mut st = self.state.lock().unwrap();
        st.script = faults.into();
        self.schedule.lock().unwrap().targets = vec![target];
    }

    /// Faults injected so far, by kind and moment.
    pub fn injected(&self) -> BTreeMap<(Fault, When), u64> {
        self.state.lock().unwrap().injected.clone()
    }

    pub fn forwarded(&self) -> u64 {
        self.state.lock().unwrap().forwarded
    }

    fn decide(&self, target: &str) -> Option<(Fault, When)> {
        if !self.enabled.load(Ordering::SeqCst) {
            return None;
        }
        let schedule = self.schedule.lock().unwrap().clone();
        if !schedule.targets.is_empty() && !schedule.targets.iter().any(|t| target.ends_with(t)) {
            return None;
        }
        let mut st = self.state.lock().unwrap();
        if let Some(next) = st.script.pop_front() {
            if let Some(f) = next {
                *st.injected.entry(f).or_default() += 1;
            }
            return next;
        }
        let rng = st.rng.as_mut()?;
        if schedule.kinds.is_empty() || !rng.random_bool(schedule.rate.clamp(0.0, 1.0)) {
            return None;
        }
        let mut kind = schedule.kinds[rng.random_range(0..schedule.kinds.len())];
        if kind == Fault::TransactionConflict && !target.ends_with("TransactWriteItems") {
            kind = Fault::Throttling;
        }
        // A delay is harmless either way; the others are split before / after forwarding.
        let when = if kind == Fault::Delay || rng.random_bool(0.5) { When::Before } else { When::After };
        *st.injected.entry((kind, when)).or_default() += 1;
        Some((kind, when))
    }

    async fn handle(&self, req: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
        let (parts, body) = req.into_parts();
        let body = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
        let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
        let fault = self.decide(&target);
        if let Some((kind, When::Before)) = fault {
            if kind == Fault::Delay {
                tokio::time::sleep(Duration::from_millis(150)).await;
            } else {
                return fault_response(kind, &body);
            }
        }
        let answer = devtools::loopback::forward(&self.upstream, &parts, body.clone()).await?;
        self.state.lock().unwrap().forwarded += 1;
        match fault {
            // Applied by DynamoDB, answer lost: the client sees the fault instead.
            Some((kind, When::After)) => fault_response(kind, &body),
            _ => Ok(answer),
        }
    }
}

/// The answer DynamoDB gives for `kind` (JSON protocol 1.0), or a reset connection.
fn fault_response(kind: Fault, request: &Bytes) -> Result<hyper::Response<Full<Bytes>>, std::io::Error> {
    let json = |status: u16, body: String| {
        Ok(hyper::Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amzn-requestid", "fault-proxy")
            .body(Full::new(Bytes::from(body)))
            .unwrap())
    };
    let typed =
        |t: &str, msg: &str| format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{t}","message":"{msg}"}}"#);
    match kind {
        Fault::Delay => unreachable!("a delay forwards the request"),
        // An error from the service closes the connection without an answer.
        Fault::Reset => Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault proxy: reset")),
        Fault::Http500 => json(500, String::new()),
        Fault::Throttling => {
            json(400, typed("ThrottlingException", "Rate of requests exceeds the allowed throughput."))
        }
        Fault::ProvisionedThroughputExceeded => json(
            400,
            typed(
                "ProvisionedThroughputExceededException",
                "The level of configured provisioned throughput for the table was exceeded.",
            ),
        ),
        Fault::InternalServerError => json(500, typed("InternalServerError", "Internal server error")),
        Fault::TransactionConflict => {
            let n = serde_json::from_slice::<serde_json::Value>(request)
                .ok()
                .and_then(|v| v["TransactItems"].as_array().map(Vec::len))
                .unwrap_or(1);
            let reasons: Vec<serde_json::Value> = (0..n)
                .map(|i| {
                    if i == 0 {
                        serde_json::json!({
                            "Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"
                        })
                    } else {
                        serde_json::json!({"Code": "None"})
                    }
                })
                .collect();
            let body = serde_json::json!({
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled, please refer cancellation reasons for specific \
                            reasons [TransactionConflict]",
                "CancellationReasons": reasons
            });
            json(400, body.to_string())
        }
    }
}
