//! Where a request's time goes: an SDK interceptor records every DynamoDB call (operation, target,
//! time on the wire) and a tracing layer ties it to the local server's `request` span (its
//! `requestId`, returned as `x-request-id`). Nothing in `shared` knows about it.

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

/// One DynamoDB call as the SDK made it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The operation and what it addressed, by sort-key family: `GetItem IDENT`, `Query LINK`, `TransactWriteItems×5`.
    pub label: String,
    /// The client lookup of the local server's own authentication (the authorizer's job in AWS).
    pub auth: bool,
    /// Whole SDK call (serialisation, signing, wire, deserialisation).
    pub exec: (Instant, Instant),
    /// Request sent → response received: the time spent waiting on DynamoDB.
    pub wire: Option<(Instant, Instant)>,
}

/// Everything recorded for one request span.
#[derive(Debug, Clone, Default)]
pub struct RequestRecord {
    pub opened: Option<Instant>,
    pub closed: Option<Instant>,
    pub calls: Vec<Call>,
}

/// Calls and request spans, by request id.
#[derive(Debug, Default)]
pub struct Book {
    requests: Mutex<HashMap<Arc<str>, RequestRecord>>,
    /// Calls made outside any request span since the last `drain` (should stay 0 while measuring).
    unattributed: Mutex<usize>,
}

impl Book {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<Arc<str>, RequestRecord>) -> R) -> R {
        let mut guard = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }

    /// Takes every record so far (the caller joins them to its responses) and resets the count
    /// of unattributed calls.
    pub fn drain(&self) -> HashMap<Arc<str>, RequestRecord> {
        *self.unattributed.lock().unwrap_or_else(|p| p.into_inner()) = 0;
        self.with(std::mem::take)
    }

    pub fn unattributed(&self) -> usize {
        *self.unattributed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

// ---- tracing: which request is running --------------------------------------------------------

#[derive(Clone)]
struct RequestTag(Arc<str>);

struct RequestIdVisitor(Option<String>);

impl tracing::field::Visit for RequestIdVisitor {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "requestId" {
            self.0 = Some(value.to_string());
        }
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "requestId" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// Tags the local server's `request` spans with their request id and records when each opened and
/// closed (the server-side time of the request).
pub struct RequestSpans {
    book: Arc<Book>,
}

impl RequestSpans {
    pub fn new(book: Arc<Book>) -> Self {
        RequestSpans { book }
    }
}

impl<S> tracing_subscriber::Layer<S> for RequestSpans
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut visitor = RequestIdVisitor(None);
        attrs.record(&mut visitor);
        let Some(request_id) = visitor.0 else { return };
        let request_id: Arc<str> = request_id.into();
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(RequestTag(request_id.clone()));
        }
        let now = Instant::now();
        self.book.with(|m| m.entry(request_id).or_default().opened = Some(now));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(tag) = span.extensions().get::<RequestTag>().cloned() else { return };
        let now = Instant::now();
        self.book.with(|m| m.entry(tag.0).or_default().closed = Some(now));
    }
}

/// The request id of the innermost `request` span around the running code.
fn current_request() -> Option<Arc<str>> {
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>()?;
            let span = registry.span(id)?;
            let found = span.scope().find_map(|s| s.extensions().get::<RequestTag>().map(|t| t.0.clone()));
            found
        })
        .flatten()
}

// ---- the interceptor --------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct InFlight {
    request: Option<Arc<str>>,
    label: String,
    auth: bool,
    started: Instant,
    sent: Option<Instant>,
    received: Option<Instant>,
}

impl Storable for InFlight {
    type Storer = StoreReplace<Self>;
}

/// Times every call of the client it is installed on and files it under the running request.
#[derive(Debug)]
pub struct DynamoDbTiming {
    book: Arc<Book>,
}

impl DynamoDbTiming {
    pub fn new(book: Arc<Book>) -> Self {
        DynamoDbTiming { book }
    }
}

fn update(cfg: &mut ConfigBag, f: impl FnOnce(&mut InFlight)) {
    if let Some(mut state) = cfg.load::<InFlight>().cloned() {
        f(&mut state);
        cfg.interceptor_state().store_put(state);
    }
}

impl Intercept for DynamoDbTiming {
    fn name(&self) -> &'static str {
        "BenchDynamoDbTiming"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let (label, auth) = describe(context);
        cfg.interceptor_state().store_put(InFlight {
            request: current_request(),
            label,
            auth,
            started: Instant::now(),
            sent: None,
            received: None,
        });
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let now = Instant::now();
        update(cfg, |s| s.sent = Some(now));
        Ok(())
    }

    fn read_after_transmit(
        &self,
        _context: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let now = Instant::now();
        update(cfg, |s| s.received = Some(now));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let ended = Instant::now();
        let Some(state) = cfg.load::<InFlight>().cloned() else { return Ok(()) };
        let call = Call {
            label: state.label,
            auth: state.auth,
            exec: (state.started, ended),
            wire: state.sent.zip(state.received),
        };
        match state.request {
            Some(request) => self.book.with(|m| m.entry(request).or_default().calls.push(call)),
            None => *self.book.unattributed.lock().unwrap_or_else(|p| p.into_inner()) += 1,
        }
        Ok(())
    }
}

/// The family of a sort key or key-condition value: `LINK#0000000001` → `LINK`, `PROFILE` → `PROFILE`.
fn family(sk: &str) -> &str {
    sk.split('#').next().unwrap_or(sk)
}

fn sk_of(key: Option<&HashMap<String, AttributeValue>>) -> String {
    key.and_then(|k| k.get(shared::storage::keys::SK))
        .and_then(|v| v.as_s().ok())
        .map(|s| family(s).to_string())
        .unwrap_or_default()
}

/// The operation with what it addressed (`GetItem IDENT`), and whether it is the local server's
/// client lookup.
fn describe(context: &BeforeSerializationInterceptorContextRef<'_>) -> (String, bool) {
    use aws_sdk_dynamodb::operation::*;
    let input = context.input();
    if let Some(i) = input.downcast_ref::<get_item::GetItemInput>() {
        let f = sk_of(i.key.as_ref());
        let auth = f == "CLIENT";
        return (format!("GetItem {f}"), auth);
    }
    if let Some(i) = input.downcast_ref::<query::QueryInput>() {
        // The sort-key operand of the key condition (`:prefix` or `:lo`) names what is read.
        let values = i.expression_attribute_values.as_ref();
        let f = [":prefix", ":lo", ":sk"]
            .iter()
            .find_map(|k| values.and_then(|v| v.get(*k)).and_then(|v| v.as_s().ok()))
            .map(|s| family(s).to_string())
            .unwrap_or_else(|| i.index_name.clone().unwrap_or_default());
        let count = if i.select == Some(aws_sdk_dynamodb::types::Select::Count) { " (count)" } else { "" };
        return (format!("Query {f}{count}"), false);
    }
    if let Some(i) = input.downcast_ref::<put_item::PutItemInput>() {
        let f = sk_of(i.item.as_ref());
        return (format!("PutItem {f}"), false);
    }
    if let Some(i) = input.downcast_ref::<update_item::UpdateItemInput>() {
        return (format!("UpdateItem {}", sk_of(i.key.as_ref())), false);
    }
    if let Some(i) = input.downcast_ref::<delete_item::DeleteItemInput>() {
        return (format!("DeleteItem {}", sk_of(i.key.as_ref())), false);
    }
    if let Some(i) = input.downcast_ref::<transact_write_items::TransactWriteItemsInput>() {
        let n = i.transact_items.as_ref().map_or(0, Vec::len);
        return (format!("TransactWriteItems×{n}"), false);
    }
    if let Some(i) = input.downcast_ref::<transact_get_items::TransactGetItemsInput>() {
        let n = i.transact_items.as_ref().map_or(0, Vec::len);
        return (format!("TransactGetItems×{n}"), false);
    }
    if let Some(i) = input.downcast_ref::<batch_get_item::BatchGetItemInput>() {
        let n: usize = i.request_items.as_ref().map_or(0, |m| m.values().map(|k| k.keys.len()).sum());
        return (format!("BatchGetItem×{n}"), false);
    }
    if input.downcast_ref::<batch_write_item::BatchWriteItemInput>().is_some() {
        return ("BatchWriteItem".into(), false);
    }
    ("Other".into(), false)
}

/// How many sequential round trips a set of calls took, counted as the round-trip tests count
/// them (`devtools::round_trips`): the longest chain of calls each started after the last.
pub fn sequential_round_trips(calls: &[&Call]) -> usize {
    devtools::round_trips::sequential_round_trips(calls.iter().map(|c| (c.exec.0, Some(c.exec.1))))
}

/// Wall time during which at least one call was waiting on DynamoDB.
pub fn wire_time(calls: &[&Call]) -> std::time::Duration {
    let mut spans: Vec<(Instant, Instant)> = calls.iter().filter_map(|c| c.wire).collect();
    spans.sort();
    let mut total = std::time::Duration::ZERO;
    let mut cur: Option<(Instant, Instant)> = None;
    for (s, e) in spans {
        match cur {
            Some((cs, ce)) if s <= ce => cur = Some((cs, ce.max(e))),
            Some((cs, ce)) => {
                total += ce - cs;
                cur = Some((s, e));
            }
            None => cur = Some((s, e)),
        }
    }
    if let Some((cs, ce)) = cur {
        total += ce - cs;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn call(start_ms: u64, end_ms: u64, base: Instant) -> Call {
        let s = base + Duration::from_millis(start_ms);
        let e = base + Duration::from_millis(end_ms);
        Call { label: "GetItem X".into(), auth: false, exec: (s, e), wire: Some((s, e)) }
    }

    #[test]
    fn overlapping_calls_count_as_one_round_trip() {
        let t = Instant::now();
        let calls = [call(0, 2, t), call(1, 3, t), call(5, 6, t), call(7, 9, t), call(8, 10, t)];
        let refs: Vec<&Call> = calls.iter().collect();
        assert_eq!(sequential_round_trips(&refs), 3);
        assert_eq!(sequential_round_trips(&[]), 0);
    }

    #[test]
    fn wire_time_is_the_union_of_the_calls_on_the_wire() {
        let t = Instant::now();
        let calls = [call(0, 2, t), call(1, 3, t), call(5, 6, t)];
        let refs: Vec<&Call> = calls.iter().collect();
        assert_eq!(wire_time(&refs), Duration::from_millis(4));
    }
}
