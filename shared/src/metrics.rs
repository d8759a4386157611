//! Metrics in CloudWatch's embedded metric format (EMF), through the `metrics` facade and
//! `metrics_cloudwatch_embedded` (docs/tooling.md#metrics): counters and timings recorded where
//! the work happens, one flush per Lambda invocation (per request in the local server) to stdout,
//! the function's log, with the invocation's trace id as the `traceId` property.
//!
//! Dimensions are `Function` (the binary), `Operation` and, for batch items, the result `Code`;
//! never a customer, an org or a client. The names, units and dimension sets are `METRICS`
//! (docs/operations.md describes each). Outside an initialised process (tests, tools) every
//! recording is a no-op.

use metrics::{Label, Unit};
use metrics_cloudwatch_embedded::Collector;
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// One metric this service publishes: its name, CloudWatch unit, dimension sets and meaning.
pub struct MetricDef {
    pub name: &'static str,
    pub unit: &'static str,
    pub dimensions: &'static [&'static [&'static str]],
    pub description: &'static str,
}

const FO: &[&str] = &["Function", "Operation"];
const FO_AND_NONE: &[&[&str]] = &[FO, &[]];

macro_rules! metric {
    ($name:literal, $unit:literal, $dims:expr, $description:literal) => {
        MetricDef { name: $name, unit: $unit, dimensions: $dims, description: $description }
    };
}

/// Every metric the code emits (namespace `METRICS_NAMESPACE`, default `PartnerPrograms`).
pub const METRICS: &[MetricDef] = &[
    metric!("Requests", "Count", &[FO], "HTTP requests handled, whatever their status."),
    metric!("Responses4xx", "Count", &[FO], "Requests answered with a 4xx status."),
    metric!("Responses5xx", "Count", FO_AND_NONE, "Requests answered with a 5xx status."),
    metric!("Latency", "Milliseconds", &[FO], "Handler time per request, from decoding to the response."),
    metric!(
        "BatchItems",
        "Count",
        &[&["Function", "Operation", "Code"], &["Code"]],
        "Items of batch requests by result code (200, 2003, 2010, 8015, ...)."
    ),
    metric!("IdempotentReplays", "Count", &[FO], "Requests answered by replaying a stored Idempotency-Key response."),
    metric!(
        "IdempotencyInFlight",
        "Count",
        &[FO],
        "409 answers to a request whose Idempotency-Key is still in flight."
    ),
    metric!("DynamoDbCalls", "Count", &[FO], "DynamoDB operations the SDK made (each with its own retries)."),
    metric!("DynamoDbRetries", "Count", &[FO], "DynamoDB attempts the SDK retried (beyond each operation's first)."),
    metric!("DynamoDbThrottles", "Count", FO_AND_NONE, "DynamoDB attempts answered with a throttling error."),
    metric!(
        "DynamoDbConditionalCheckFailed",
        "Count",
        &[FO],
        "DynamoDB writes whose condition failed (a lost race or a business rule)."
    ),
    metric!(
        "ContentionRetries",
        "Count",
        &[FO],
        "Retries of committed linkage writes after losing to a concurrent writer (per write: / CommittedWrites)."
    ),
    metric!("CommittedWrites", "Count", &[FO], "Linkage writes committed by batch items."),
    metric!("OutboxItemsWritten", "Count", &[FO], "Outbox (change event) items written with committed changes."),
    metric!("ColdStarts", "Count", &[&["Function"]], "Containers started (one per init)."),
    metric!("AuthorizerAllowed", "Count", &[FO], "Authorizer decisions that allowed the request."),
    metric!("AuthorizerDenied", "Count", &[FO], "Authorizer decisions that denied the request."),
    metric!("AuthorizerErrors", "Count", &[FO], "Authorizer invocations that failed (storage errors)."),
    metric!("SweepLinkagesDue", "Count", &[FO], "Due-index items the sweep run looked at."),
    metric!("SweepLinkagesChanged", "Count", &[FO], "Changes the sweep run committed."),
    metric!("SweepLinkagesSkipped", "Count", &[FO], "Due items the run left alone: another writer changed them first."),
    metric!("SweepLinkagesFailed", "Count", &[FO], "Due items the run could not process; retried by the next run."),
    metric!("SweepRemindersSent", "Count", &[FO], "Expiry reminders the run sent."),
    metric!(
        "SweepLagSeconds",
        "Seconds",
        &[FO],
        "Age of the oldest due item the run read but did not settle (0 when none)."
    ),
    metric!("SweepDurationMs", "Milliseconds", &[FO], "How long the sweep run took."),
    metric!("FilesClaimed", "Count", &[FO], "Partner files claimed by the import (new content, or an import resumed)."),
    metric!(
        "FilesRejected",
        "Count",
        &[FO],
        "Partner files refused as a whole: a bad key or org, an unknown program, over the size limit, a bad header."
    ),
    metric!("FilesDuplicate", "Count", &[FO], "Uploads whose content was applied before: not applied again."),
    metric!("FileChunksSent", "Count", &[FO], "Chunks the import queued."),
    metric!("FileChunksProcessed", "Count", &[FO], "Chunks the worker applied and counted (once per chunk)."),
    metric!("FileRowsApplied", "Count", &[FO], "Rows of partner files applied (item status true)."),
    metric!("FileRowsRefused", "Count", &[FO], "Rows of partner files refused, each with its code in the results."),
    metric!("FilesCompleted", "Count", &[FO], "Partner files done: results written, partnerFileProcessed sent."),
];

/// The function and operation metrics are recorded for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    pub function: &'static str,
    pub operation: &'static str,
}

impl Scope {
    /// The scope of an operation named by its handler's path (`shared::operations::link_customer::handle`,
    /// `link_customer::handle`): function `link-customer`, operation `linkCustomer`. Names are kept
    /// for the process's life: there is one per route.
    pub fn of_handler(path: &str) -> Scope {
        static KNOWN: Mutex<Vec<(String, Scope)>> = Mutex::new(Vec::new());
        let Ok(mut known) = KNOWN.lock() else {
            return Scope { function: "unknown", operation: "unknown" };
        };
        if let Some((_, scope)) = known.iter().find(|(p, _)| p == path) {
            return *scope;
        }
        let segments: Vec<&str> = path.split("::").collect();
        let module = segments.len().checked_sub(2).and_then(|i| segments.get(i)).unwrap_or(&path);
        let function: &'static str = Box::leak(module.replace('_', "-").into_boxed_str());
        let scope = Scope { function, operation: Box::leak(camel_case(module).into_boxed_str()) };
        known.push((path.to_string(), scope));
        scope
    }
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' | '-' => upper = true,
            c if upper => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            c => out.push(c),
        }
    }
    out
}

struct Process {
    collector: &'static Collector,
    /// The scope outside any `within` (a Lambda runs one operation).
    default: Option<Scope>,
}

static PROCESS: OnceLock<Process> = OnceLock::new();

tokio::task_local! {
    static SCOPE: Scope;
}

/// The namespace: `METRICS_NAMESPACE` (the template's `MetricsNamespace`), else `PartnerPrograms`.
pub fn namespace() -> String {
    std::env::var("METRICS_NAMESPACE").ok().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "PartnerPrograms".into())
}

/// Installs the EMF recorder for a Lambda running `scope` and counts its cold start; later calls
/// (and a process with another recorder) change nothing.
pub fn init(scope: Scope) {
    if install(Some(scope)) {
        metrics::counter!("ColdStarts", "Function" => scope.function).increment(1);
    }
}

/// Installs the EMF recorder for a process serving many operations (the local server): each
/// request names its own with `within`.
pub fn init_server() {
    install(None);
}

fn install(default: Option<Scope>) -> bool {
    if PROCESS.get().is_some() {
        return false;
    }
    let collector = match metrics_cloudwatch_embedded::Builder::new().cloudwatch_namespace(namespace()).init() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "metrics recorder not installed");
            return false;
        }
    };
    for m in METRICS {
        metrics::describe_counter!(m.name, unit(m.unit), m.description);
    }
    PROCESS.set(Process { collector, default }).is_ok()
}

fn unit(name: &str) -> Unit {
    match name {
        "Milliseconds" => Unit::Milliseconds,
        "Seconds" => Unit::Seconds,
        _ => Unit::Count,
    }
}

/// Runs `fut` with its metrics recorded for `scope` (a local server's request).
pub async fn within<F: Future>(scope: Scope, fut: F) -> F::Output {
    SCOPE.scope(scope, fut).await
}

fn current() -> Option<Scope> {
    PROCESS.get()?;
    SCOPE.try_with(|s| *s).ok().or_else(|| PROCESS.get().and_then(|p| p.default))
}

fn labels(scope: Scope) -> [Label; 2] {
    [Label::new("Function", scope.function), Label::new("Operation", scope.operation)]
}

/// Adds `n` to the counter `name` of the current function and operation.
pub fn count(name: &'static str, n: u64) {
    if let Some(scope) = current() {
        metrics::counter!(name, labels(scope).to_vec()).increment(n);
    }
}

/// Adds `n` to `name` by function and operation and without dimensions (an alarm on the service).
pub fn count_with_total(name: &'static str, n: u64) {
    if let Some(scope) = current() {
        metrics::counter!(name, labels(scope).to_vec()).increment(n);
        metrics::counter!(name).increment(n);
    }
}

/// One value of `name` (an array in the document when several are recorded before a flush).
pub fn record(name: &'static str, value: f64) {
    if let Some(scope) = current() {
        metrics::histogram!(name, labels(scope).to_vec()).record(value);
    }
}

/// Sets `name` to `value` (a run's figure: repeated at each flush until set again).
pub fn gauge(name: &'static str, value: f64) {
    if let Some(scope) = current() {
        metrics::gauge!(name, labels(scope).to_vec()).set(value);
    }
}

/// One batch item answered `code`, by function and operation and by code alone.
pub fn batch_item(code: u32) {
    if let Some(scope) = current() {
        let [f, o] = labels(scope);
        let code = Label::new("Code", code.to_string());
        metrics::counter!("BatchItems", vec![f, o, code.clone()]).increment(1);
        metrics::counter!("BatchItems", vec![code]).increment(1);
    }
}

/// One HTTP request answered `status` after `elapsed`.
pub fn request(status: u16, elapsed: Duration) {
    count("Requests", 1);
    match status {
        400..=499 => count("Responses4xx", 1),
        500..=599 => count_with_total("Responses5xx", 1),
        _ => {}
    }
    record("Latency", elapsed.as_secs_f64() * 1000.0);
}

/// Writes what was recorded since the last flush to stdout, one EMF document per dimension set,
/// with `trace_id` (the X-Ray trace header of the invocation) as the `traceId` property.
pub fn flush(trace_id: Option<&str>) {
    let Some(process) = PROCESS.get() else { return };
    match trace_id.filter(|t| !t.is_empty()) {
        Some(t) => process.collector.set_property("traceId", t),
        None => process.collector.remove_property("traceId"),
    };
    if let Err(e) = process.collector.flush(std::io::stdout().lock()) {
        tracing::warn!(error = %e, "metrics not written");
    }
}

/// The trace id Lambda set for the current invocation (`_X_AMZN_TRACE_ID`), if any.
pub fn lambda_trace_id() -> Option<String> {
    std::env::var("_X_AMZN_TRACE_ID").ok().filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handler_path_names_its_function_and_operation() {
        let s = Scope::of_handler("shared::operations::link_customer::handle");
        assert_eq!((s.function, s.operation), ("link-customer", "linkCustomer"));
        let s = Scope::of_handler("customer_activity_histories::handle");
        assert_eq!((s.function, s.operation), ("customer-activity-histories", "customerActivityHistories"));
        let s = Scope::of_handler("whoami::handle");
        assert_eq!((s.function, s.operation), ("whoami", "whoami"));
        assert_eq!(camel_case("tier-expiry-sweep"), "tierExpirySweep");
    }

    #[test]
    fn a_binarys_handler_type_names_its_operation() {
        // `run_http` names its scope from the handler's type: the path of the operation's function.
        fn name_of<T>(_: T) -> &'static str {
            std::any::type_name::<T>()
        }
        let s = Scope::of_handler(name_of(crate::operations::link_customer::handle));
        assert_eq!((s.function, s.operation), ("link-customer", "linkCustomer"));
    }

    #[test]
    fn the_table_names_each_metric_once_with_a_cloudwatch_unit() {
        let mut names: Vec<&str> = METRICS.iter().map(|m| m.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), METRICS.len());
        for m in METRICS {
            assert!(["Count", "Milliseconds", "Seconds"].contains(&m.unit), "{}", m.name);
            assert!(m.dimensions.iter().all(|d| d.len() <= 30));
        }
    }
}
