//! The functions as Lambda runs them, and the peer baseline, under one Runtime API emulator (the
//! one `tests/runtime` uses): cold starts (process start → first `/invocation/next`, → first
//! response), peak RSS after the first response, and warm invocations side by side.

use crate::fixtures::{link_body, Customer, World, EXPIRY};
use crate::runtime_api::{Outcome, RuntimeApi};
use crate::stats::{ms, summarize, Summary};
use crate::template::{functions, Function, Kind};
use crate::Error;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Settings {
    /// Directory of the x86_64 release binaries (`target/release`).
    pub bin_dir: PathBuf,
    /// The peer's Python interpreter, with awslambdaric and boto3 (`.venv/peer/bin/python`).
    pub python: PathBuf,
    pub starts: usize,
    /// Warm invocations per side and operation.
    pub warm: usize,
    pub logs: PathBuf,
}

/// How a process was started: one of our binaries, or the peer's handler under awslambdaric.
#[derive(Debug, Clone)]
pub enum Program {
    /// `binary` relative to the bin directory (or an absolute path), started through `wrapper`
    /// (e.g. valgrind) when that is not empty.
    Ours {
        binary: String,
        function: Function,
        wrapper: Vec<String>,
    },
    Peer {
        handler: &'static str,
    },
}

impl Program {
    fn name(&self) -> String {
        match self {
            Program::Ours { binary, .. } => {
                Path::new(binary).file_name().map_or(binary.clone(), |n| n.to_string_lossy().into_owned())
            }
            Program::Peer { handler } => format!("peer:{handler}"),
        }
    }
}

fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("peer")
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/events")
}

/// What a `provided.al2023` sandbox sets (as `tests/runtime/lambda_process.rs` does), plus the
/// DynamoDB Local endpoint.
fn sandbox_environment(function_name: &str, runtime_api: &str) -> BTreeMap<String, String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
    [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", function_name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123456789abcdef"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("TZ", ":UTC"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_SESSION_TOKEN", "local"),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub struct Running {
    api: RuntimeApi,
    child: tokio::process::Child,
    started: Instant,
    name: String,
    log: PathBuf,
}

impl Running {
    pub async fn start(program: &Program, world: &World, s: &Settings) -> Result<Running, Error> {
        let name = program.name();
        let api = RuntimeApi::start(&name).await;
        let log = s.logs.join(format!("{}.log", name.replace(':', "-")));
        let out = std::fs::OpenOptions::new().create(true).append(true).open(&log)?;
        let err = out.try_clone()?;
        let mut cmd = match program {
            Program::Ours { binary, function, wrapper } => {
                let mut env = sandbox_environment(&function.logical_id, &api.host_port());
                env.extend(function.environment.clone());
                env.insert("AWS_EXECUTION_ENV".into(), "AWS_Lambda_provided.al2023".into());
                env.insert("_HANDLER".into(), "bootstrap".into());
                env.insert("LAMBDA_TASK_ROOT".into(), "/var/task".into());
                let path = s.bin_dir.join(binary);
                let mut cmd = match wrapper.split_first() {
                    Some((first, rest)) => {
                        let mut c = tokio::process::Command::new(first);
                        c.args(rest).arg(&path);
                        if let Some(p) = std::env::var_os("PATH") {
                            env.insert("PATH".into(), p.to_string_lossy().into_owned());
                        }
                        c
                    }
                    None => tokio::process::Command::new(path),
                };
                cmd.env_clear().envs(env);
                cmd
            }
            Program::Peer { handler } => {
                let mut env = sandbox_environment(&format!("peer-{handler}"), &api.host_port());
                env.insert("TABLE_NAME".into(), world.table.clone());
                env.insert("AWS_EXECUTION_ENV".into(), "AWS_Lambda_python3.11".into());
                env.insert("_HANDLER".into(), (*handler).into());
                env.insert("LAMBDA_TASK_ROOT".into(), peer_dir().display().to_string());
                env.insert("PYTHONPATH".into(), peer_dir().display().to_string());
                // As the Lambda Python runtime does: no .pyc writing, unbuffered output.
                env.insert("PYTHONDONTWRITEBYTECODE".into(), "1".into());
                env.insert("PYTHONUNBUFFERED".into(), "1".into());
                let mut cmd = tokio::process::Command::new(&s.python);
                cmd.env_clear().envs(env).current_dir(peer_dir()).args(["-m", "awslambdaric", handler]);
                cmd
            }
        };
        cmd.stdin(Stdio::null()).stdout(Stdio::from(out)).stderr(Stdio::from(err)).kill_on_drop(true);
        let started = Instant::now();
        let child = cmd.spawn().map_err(|e| format!("cannot start {name}: {e}"))?;
        Ok(Running { api, child, started, name, log })
    }

    pub async fn invoke(&self, event: &Value) -> Result<Value, Error> {
        match self.api.invoke(event.to_string(), TIMEOUT).await.map_err(|e| format!("{}: {e}", self.name))? {
            Outcome::Response(bytes) => {
                Ok(serde_json::from_slice(&bytes).map_err(|e| format!("{}: response is not JSON: {e}", self.name))?)
            }
            Outcome::Error { error_type, body } => {
                Err(format!("{}: /error {error_type:?} {body} (log: {})", self.name, self.log.display()).into())
            }
        }
    }

    /// A `/proc/<pid>/status` field in kB: `VmHWM` (peak resident set so far), `RssAnon` (heap,
    /// stacks), `RssFile` (mapped binary and libraries).
    fn status_kb(&self, field: &str) -> Option<u64> {
        let pid = self.child.id()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(field).and_then(|r| r.strip_prefix(':')))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// CPU time the process's live threads have run so far, in ns (`/proc/<pid>/task/*/schedstat`,
    /// first field: exact, where `stat`'s utime and stime count clock ticks).
    fn cpu_ns(&self) -> Option<u64> {
        let pid = self.child.id()?;
        let mut total = 0;
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
            let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
            total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(total)
    }

    fn peak_rss_kb(&self) -> Option<u64> {
        self.status_kb("VmHWM")
    }

    async fn stop(mut self) {
        // Our own child, by its handle (SIGKILL to that PID only).
        let _ = self.child.kill().await;
    }

    /// Asks the process to end (SIGTERM to its PID: valgrind then writes its profile) and waits.
    pub async fn terminate(mut self) -> Result<(), Error> {
        if let Some(pid) = self.child.id() {
            std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
        }
        match tokio::time::timeout(Duration::from_secs(60), self.child.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(format!("{} did not end on SIGTERM", self.name).into())
            }
        }
    }
}

/// A response counts when the operation succeeded: HTTP 2xx, an authorizer's yes, or the sweep's summary.
pub fn check(kind: Option<Kind>, resp: &Value) -> Result<(), String> {
    let ok = match kind {
        Some(Kind::Authorizer) => resp["isAuthorized"].as_bool() == Some(true),
        Some(Kind::Scheduled) => resp.is_object(),
        _ => resp["statusCode"].as_u64().is_some_and(|s| (200..300).contains(&s)),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("unexpected response: {}", resp.to_string().chars().take(400).collect::<String>()))
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Serialize)]
pub struct ColdStart {
    pub name: String,
    pub starts: usize,
    /// Size of the x86_64 release binary started (ours only).
    pub binary_bytes: Option<u64>,
    /// Process start → first `/invocation/next`.
    pub init_ms: Summary,
    /// Process start → first response (the event was waiting).
    pub first_response_ms: Summary,
    /// `VmHWM` after the first response, MB (10^6 bytes).
    pub peak_rss_mb: Summary,
    /// Resident at that moment: anonymous (heap, stacks) and file-backed (binary, libraries).
    pub rss_anon_mb: Summary,
    pub rss_file_mb: Summary,
}

#[derive(Debug, Serialize)]
pub struct Warm {
    pub name: String,
    pub invocations: usize,
    /// Event queued → response received by the emulator.
    pub latency_ms: Summary,
    /// The process's CPU time over the measured invocations, per invocation (all its threads;
    /// the rest of `latency_ms` is waiting: on DynamoDB, or for a core).
    pub cpu_ms_per_invocation: Option<f64>,
    pub peak_rss_mb: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Comparison {
    pub operation: String,
    pub ours: Warm,
    pub peer: Warm,
}

#[derive(Debug, Serialize)]
pub struct LambdaResults {
    pub cold_starts: Vec<ColdStart>,
    pub peer_cold_starts: Vec<ColdStart>,
    pub warm: Vec<Comparison>,
}

/// `tests/events/<name>` with the org of this world.
pub fn event_file(name: &str, org: u64) -> Result<Value, Error> {
    let path = events_dir().join(name);
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?)?;
    if let Some(ctx) = event.pointer_mut("/requestContext/authorizer/lambda") {
        ctx["orgId"] = org.into();
    }
    if let Some(h) = event.get_mut("headers").and_then(Value::as_object_mut) {
        // A replay would answer from the idempotency record instead of running the operation.
        h.remove("idempotency-key");
    }
    Ok(event)
}

fn with_body(mut event: Value, body: &Value) -> Value {
    event["body"] = Value::String(body.to_string());
    event
}

pub fn link_event(template: &Value, c: &Customer) -> Value {
    with_body(template.clone(), &link_body(std::iter::once(json!({"mobile": c.mobile})), &["SkyMiles"]))
}

fn read_event(template: &Value, c: &Customer) -> Value {
    let mut e = template.clone();
    e["rawQueryString"] = Value::String(format!("identifierName=mobile&identifierValue={}", c.mobile));
    e["queryStringParameters"] = json!({"identifierName": "mobile", "identifierValue": c.mobile});
    e
}

/// Customers each cold start of a write function uses up, so every start does a real write.
struct Pools {
    link: Vec<Customer>,
    linked: Vec<Customer>,
    upgrade: Vec<Customer>,
    benefits: Vec<Customer>,
    readers: Vec<Customer>,
}

/// The event for start `i` of `binary`: the event file, changed where a repeat would not do the same work.
fn cold_event(binary: &str, kind: Kind, i: usize, world: &World, pools: &Pools) -> Result<Value, Error> {
    let org = world.org;
    Ok(match (binary, kind) {
        (_, Kind::Authorizer) => {
            let mut e = event_file("authorizer.json", org)?;
            e["identitySource"] = json!([world.api_basic]);
            e["headers"]["authorization"] = Value::String(world.api_basic.clone());
            e
        }
        (_, Kind::Scheduled) => event_file(&format!("{binary}.schedule.json"), org)?,
        ("link-customer", _) => link_event(&event_file("link-customer.v2.json", org)?, &pools.link[i]),
        ("delink-customer", _) => with_body(
            event_file("delink-customer.v2.json", org)?,
            &json!({
                "deLinkCustomers": [{
                    "customer": {"mobile": pools.linked[i].mobile},
                    "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]
                }]
            }),
        ),
        ("update-customer-partner-program", _) => with_body(
            event_file("update-customer-partner-program.v2.json", org)?,
            &json!({
                "customersPartnerUpdates": [{
                    "customer": {"mobile": pools.upgrade[i].mobile},
                    "partnerProgramUpdates": [{
                        "partnerProgramName": "SkyMiles", "updateType": "UPGRADE",
                        "updateDetails": {"updatedTierName": "Platinum", "updatedTierExpiryDate": EXPIRY}
                    }]
                }]
            }),
        ),
        ("customer-benefits", _) => with_body(
            event_file("customer-benefits.v2.json", org)?,
            &json!({"customerBenefits": [{"customer": {"mobile": pools.benefits[i].mobile}, "partnerProgramBenefits": [{
                "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 1}],
                "billNumber": format!("B-{i}"), "storeName": "T3", "availedDate": "2026-11-20"}]}]}),
        ),
        ("register-customer", _) => with_body(
            event_file("register-customer.v2.json", org)?,
            &json!({
                "mobile": format!("9197{:08}", i + 1), "externalId": format!("COLD-{i}"),
                "programIds": [world.loyalty_program]
            }),
        ),
        ("create-loyalty-program", _) => with_body(
            event_file("create-loyalty-program.v2.json", org)?,
            &json!({"programName": format!("Bench Program {i}")}),
        ),
        ("customer-partner-programs" | "customer-activity-histories", _) => {
            read_event(&event_file(&format!("{binary}.v2.json"), org)?, &pools.readers[i % pools.readers.len()])
        }
        _ => event_file(&format!("{binary}.v2.json"), org)?,
    })
}

async fn cold_start(
    program: &Program,
    kind: Option<Kind>,
    world: &World,
    s: &Settings,
    event: &dyn Fn(usize) -> Result<Value, Error>,
) -> Result<ColdStart, Error> {
    let mut init = Vec::new();
    let mut first = Vec::new();
    let mut rss = Vec::new();
    let mut anon = Vec::new();
    let mut file = Vec::new();
    for i in 0..s.starts {
        let ev = event(i)?;
        let run = Running::start(program, world, s).await?;
        let resp = run.invoke(&ev).await;
        let answered = Instant::now();
        let peak = run.peak_rss_kb();
        let (anon_kb, file_kb) = (run.status_kb("RssAnon"), run.status_kb("RssFile"));
        let polled = run.api.first_poll(Duration::from_secs(1)).await;
        let started = run.started;
        let log = run.log.clone();
        run.stop().await;
        let resp = resp?;
        check(kind, &resp).map_err(|e| format!("{}: {e} (log: {})", program.name(), log.display()))?;
        let polled = polled.ok_or_else(|| format!("{} answered without polling /next", program.name()))?;
        init.push(ms(polled.duration_since(started)));
        first.push(ms(answered.duration_since(started)));
        rss.push(peak.map_or(f64::NAN, |kb| kb as f64 * 1024.0 / 1e6));
        anon.push(anon_kb.map_or(f64::NAN, |kb| kb as f64 * 1024.0 / 1e6));
        file.push(file_kb.map_or(f64::NAN, |kb| kb as f64 * 1024.0 / 1e6));
    }
    let binary_bytes = match program {
        Program::Ours { binary, .. } => std::fs::metadata(s.bin_dir.join(binary)).ok().map(|m| m.len()),
        Program::Peer { .. } => None,
    };
    let r = ColdStart {
        name: program.name(),
        starts: s.starts,
        binary_bytes,
        init_ms: summarize(init),
        first_response_ms: summarize(first),
        peak_rss_mb: summarize(rss),
        rss_anon_mb: summarize(anon),
        rss_file_mb: summarize(file),
    };
    eprintln!(
        "  {:<34} init p50 {:>7.1} ms p90 {:>7.1}   first response p50 {:>7.1} ms   peak RSS {:>5.1} MB",
        r.name, r.init_ms.p50, r.init_ms.p90, r.first_response_ms.p50, r.peak_rss_mb.max
    );
    Ok(r)
}

/// Our function and the peer, both warm, fed `n` events each in alternating rounds.
async fn warm_pair(
    operation: &str,
    ours: &Program,
    peer: &Program,
    world: &World,
    s: &Settings,
    ours_event: &dyn Fn(usize) -> Value,
    peer_event: &dyn Fn(usize) -> Value,
) -> Result<Comparison, Error> {
    let a = Running::start(ours, world, s).await?;
    let b = Running::start(peer, world, s).await?;
    let warmups = 10;
    for i in 0..warmups {
        check(None, &a.invoke(&ours_event(i)).await?)?;
        check(None, &b.invoke(&peer_event(i)).await?)?;
    }
    let mut la = Vec::new();
    let mut lb = Vec::new();
    let cpu_before = (a.cpu_ns(), b.cpu_ns());
    let round = 50;
    let mut i = warmups;
    while la.len() < s.warm {
        for (run, lat, make) in [(&a, &mut la, ours_event), (&b, &mut lb, peer_event)] {
            for k in 0..round.min(s.warm - lat.len()) {
                let ev = make(i + k);
                let t = Instant::now();
                let resp = run.invoke(&ev).await?;
                lat.push(ms(t.elapsed()));
                check(None, &resp).map_err(|e| format!("{}: {e}", run.name))?;
            }
        }
        i += round;
    }
    let per_invocation = |before: Option<u64>, after: Option<u64>, n: usize| {
        Some(after?.checked_sub(before?)? as f64 / 1e6 / n.max(1) as f64)
    };
    let cpu_a = per_invocation(cpu_before.0, a.cpu_ns(), la.len());
    let cpu_b = per_invocation(cpu_before.1, b.cpu_ns(), lb.len());
    let result = Comparison {
        operation: operation.to_string(),
        ours: Warm {
            name: a.name.clone(),
            invocations: la.len(),
            cpu_ms_per_invocation: cpu_a,
            latency_ms: summarize(la),
            peak_rss_mb: a.peak_rss_kb().map(|k| k as f64 * 1024.0 / 1e6),
        },
        peer: Warm {
            name: b.name.clone(),
            invocations: lb.len(),
            cpu_ms_per_invocation: cpu_b,
            latency_ms: summarize(lb),
            peak_rss_mb: b.peak_rss_kb().map(|k| k as f64 * 1024.0 / 1e6),
        },
    };
    a.stop().await;
    b.stop().await;
    eprintln!(
        "  warm {:<26} ours p50 {:>5.2} ms p99 {:>5.2} ms | peer p50 {:>5.2} ms p99 {:>5.2} ms",
        operation,
        result.ours.latency_ms.p50,
        result.ours.latency_ms.p99,
        result.peer.latency_ms.p50,
        result.peer.latency_ms.p99
    );
    Ok(result)
}

/// The peer's two handlers, one per compared operation.
const PEER_LINK: Program = Program::Peer { handler: "handler.link_customer" };
const PEER_READ: Program = Program::Peer { handler: "handler.customer_partner_programs" };

/// The event files the peer runs and the warm comparison share, with this world's org.
struct Templates {
    link: Value,
    read: Value,
}

impl Templates {
    fn read(org: u64) -> Result<Templates, Error> {
        Ok(Templates {
            link: event_file("link-customer.v2.json", org)?,
            read: event_file("customer-partner-programs.v2.json", org)?,
        })
    }
}

/// Registers and links the customers the cold starts use up, and links the demo customer the read
/// event files name.
async fn register_pools(world: &World, n: usize) -> Result<Pools, Error> {
    eprintln!("registering customers for the Lambda runs ...");
    let readers = world.register(32).await?;
    world.link(&readers, &["SkyMiles", "FlexiPass"]).await?;
    let linked = world.register(3 * n).await?;
    world.link(&linked, &["SkyMiles"]).await?;
    let pools = Pools {
        link: world.register(n).await?,
        linked: linked[..n].to_vec(),
        upgrade: linked[n..2 * n].to_vec(),
        benefits: linked[2 * n..].to_vec(),
        readers,
    };
    // The demo customer the read event files name.
    world.link(&[Customer { id: 0, mobile: "919740000001".into() }], &["SkyMiles", "FlexiPass"]).await?;
    Ok(pools)
}

/// Cold starts of every function of template.yaml, in its order.
async fn our_cold_starts(
    fns: &[Function],
    world: &World,
    s: &Settings,
    pools: &Pools,
) -> Result<Vec<ColdStart>, Error> {
    eprintln!("cold starts ({} each) ...", s.starts);
    let mut cold = Vec::new();
    for f in fns {
        let program = Program::Ours { binary: f.binary.clone(), function: f.clone(), wrapper: Vec::new() };
        let kind = f.kind;
        cold.push(cold_start(&program, Some(kind), world, s, &|i| cold_event(&f.binary, kind, i, world, pools)).await?);
    }
    Ok(cold)
}

/// Cold starts of the peer's link (each on a customer of its own) and read handlers.
async fn peer_cold_starts(
    world: &World,
    s: &Settings,
    templates: &Templates,
    link_customers: &[Customer],
    readers: &[Customer],
) -> Result<Vec<ColdStart>, Error> {
    let mut peer_cold = Vec::new();
    peer_cold
        .push(cold_start(&PEER_LINK, None, world, s, &|i| Ok(link_event(&templates.link, &link_customers[i]))).await?);
    peer_cold.push(
        cold_start(&PEER_READ, None, world, s, &|i| Ok(read_event(&templates.read, &readers[i % readers.len()])))
            .await?,
    );
    Ok(peer_cold)
}

/// Our link and read functions against the peer's, warm; links each on a fresh customer.
async fn warm_comparisons(
    fns: &[Function],
    world: &World,
    s: &Settings,
    templates: &Templates,
    readers: &[Customer],
) -> Result<Vec<Comparison>, Error> {
    eprintln!("warm invocations ({} per side, alternating) ...", s.warm);
    let total = s.warm + 10 + 50;
    let ours_fresh = world.register(total).await?;
    let peer_fresh = world.register(total).await?;
    let function = |binary: &str| {
        fns.iter().find(|f| f.binary == binary).cloned().ok_or(format!("{binary} is not in template.yaml"))
    };
    let ours_link =
        Program::Ours { binary: "link-customer".into(), function: function("link-customer")?, wrapper: Vec::new() };
    let ours_read = Program::Ours {
        binary: "customer-partner-programs".into(),
        function: function("customer-partner-programs")?,
        wrapper: Vec::new(),
    };
    let mut warm = Vec::new();
    warm.push(
        warm_pair(
            "link (1 customer by mobile)",
            &ours_link,
            &PEER_LINK,
            world,
            s,
            &|i| link_event(&templates.link, &ours_fresh[i]),
            &|i| link_event(&templates.link, &peer_fresh[i]),
        )
        .await?,
    );
    warm.push(
        warm_pair(
            "customerPartnerPrograms",
            &ours_read,
            &PEER_READ,
            world,
            s,
            &|i| read_event(&templates.read, &readers[i % readers.len()]),
            &|i| read_event(&templates.read, &readers[i % readers.len()]),
        )
        .await?,
    );
    Ok(warm)
}

pub async fn run(world: &World, s: &Settings) -> Result<LambdaResults, Error> {
    std::fs::create_dir_all(&s.logs)?;
    let fns = functions(&world.table);
    let pools = register_pools(world, s.starts).await?;
    let cold = our_cold_starts(&fns, world, s, &pools).await?;
    let peer_link_customers = world.register(s.starts).await?;
    let templates = Templates::read(world.org)?;
    let peer_cold = peer_cold_starts(world, s, &templates, &peer_link_customers, &pools.readers).await?;
    let warm = warm_comparisons(&fns, world, s, &templates, &pools.readers).await?;
    Ok(LambdaResults { cold_starts: cold, peer_cold_starts: peer_cold, warm })
}
