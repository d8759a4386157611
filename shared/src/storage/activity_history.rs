//! Reading a customer's activity history page by page (docs/architecture.md#activity-history): one
//! key-range stream per (partner program, kind), merged newest first; the opaque cursor carries
//! every stream's position and the first page's bounds, so pages never repeat or skip a record.

use crate::domain::dates::key_time;
use crate::domain::model::{Activity, CustomerId, OrgId, ProgramId};
use crate::storage::keys;
use crate::storage::records::{from_item, ActivityRecord};
use crate::storage::store::{KeyRange, Store, StoreError};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};

/// Largest page one stream reads from DynamoDB at a time.
const MAX_FETCH: usize = 200;

/// Which activity kinds a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kinds {
    LinkingUpdates,
    BenefitsAvailed,
    Both,
}

impl Kinds {
    /// `LINKINGUPDATES` / `BENEFITSAVAILED`, case- and underscore-insensitive.
    pub fn parse(raw: &str) -> Option<Kinds> {
        let norm: String = raw.chars().filter(|c| *c != '_').collect::<String>().to_ascii_uppercase();
        match norm.trim() {
            "LINKINGUPDATES" => Some(Kinds::LinkingUpdates),
            "BENEFITSAVAILED" => Some(Kinds::BenefitsAvailed),
            _ => None,
        }
    }

    fn letters(self) -> &'static [bool] {
        match self {
            Kinds::LinkingUpdates => &[false],
            Kinds::BenefitsAvailed => &[true],
            Kinds::Both => &[false, true],
        }
    }
}

/// What one history read covers: the streams, and the window they are bounded by.
#[derive(Debug, Clone)]
pub struct Plan {
    pub org: OrgId,
    pub customer: CustomerId,
    /// Digest of the request's filters; a cursor only continues the query it came from.
    pub fingerprint: String,
    pub programs: Vec<ProgramId>,
    pub kinds: Kinds,
    /// Benefits availed from this instant (linking updates have no lower bound).
    pub benefits_from: DateTime<Utc>,
    /// Nothing after this instant (the first page's "now" or the requested end).
    pub to: DateTime<Utc>,
    /// Linking records up to this linkage version per program (the version the first page read).
    pub link_versions: BTreeMap<ProgramId, u64>,
}

impl Plan {
    fn streams(&self) -> Vec<(ProgramId, bool)> {
        self.programs.iter().flat_map(|p| self.kinds.letters().iter().map(move |b| (*p, *b))).collect()
    }

    fn bounds(&self, program: ProgramId, benefit: bool) -> (String, String) {
        let prefix = keys::activity_sk_prefix(program, benefit);
        if !benefit {
            // Every step of the bounding version: `~` sorts after the step digits.
            let version = self.link_versions.get(&program).copied().unwrap_or(0);
            return (prefix.clone(), format!("{prefix}{version:020}#~"));
        }
        let lo = format!("{prefix}{}", key_time(self.benefits_from));
        // `~` sorts after every character of the unique id suffix, so `to` itself is included.
        let hi = format!("{prefix}{}#~", key_time(self.to));
        (lo, hi)
    }
}

/// A digest of the filters that define a history query (not the paging parameters).
pub fn fingerprint(parts: &[&str]) -> String {
    let digest = Sha256::digest(parts.join("\u{1f}").as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Where the next page starts. Serialised as base64url JSON; clients treat it as opaque.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    v: u8,
    /// Customer the cursor belongs to.
    c: CustomerId,
    /// Fingerprint of the query.
    f: String,
    /// Absolute offset of the next page's first record.
    o: u64,
    /// Total computed by the first page.
    #[serde(default)]
    t: Option<u64>,
    /// Window, epoch milliseconds.
    from: i64,
    to: i64,
    s: Vec<StreamPos>,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct StreamPos {
    p: ProgramId,
    b: bool,
    /// Sort key of the last record returned from this stream.
    #[serde(default)]
    a: Option<String>,
    /// Nothing left in this stream.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    d: bool,
    /// Linking streams: the linkage version the first page bounded them by.
    #[serde(default)]
    h: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("cursor is not valid for this query: {0}")]
pub struct CursorError(pub &'static str);

impl Cursor {
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
    }

    pub fn decode(raw: &str) -> Result<Cursor, CursorError> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim().trim_end_matches('='))
            .map_err(|_| CursorError("not a cursor this API issued"))?;
        let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| CursorError("not a cursor this API issued"))?;
        if c.v != CURSOR_VERSION {
            return Err(CursorError("cursor version is not supported"));
        }
        Ok(c)
    }

    /// The window the first page fixed.
    pub fn window(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        Some((DateTime::from_timestamp_millis(self.from)?, DateTime::from_timestamp_millis(self.to)?))
    }

    /// True when the cursor continues this customer's query with these filters.
    pub fn belongs_to(&self, customer: CustomerId, fingerprint: &str) -> bool {
        self.c == customer && self.f == fingerprint
    }

    pub fn offset(&self) -> u64 {
        self.o
    }

    /// The linking-record bounds the first page fixed, per program.
    pub fn link_versions(&self) -> BTreeMap<ProgramId, u64> {
        self.s.iter().filter(|s| !s.b).map(|s| (s.p, s.h.unwrap_or(0))).collect()
    }
}

/// Version 2: linking streams are keyed by linkage version and bounded by `h`.
const CURSOR_VERSION: u8 = 2;

/// One page of history, newest first.
#[derive(Debug)]
pub struct Page {
    pub activities: Vec<Activity>,
    /// Absolute position of the first record of this page.
    pub offset: u64,
    pub total: Option<u64>,
    pub next: Option<Cursor>,
}

struct Stream {
    program: ProgramId,
    benefit: bool,
    prefix_len: usize,
    lo: String,
    hi: String,
    /// Last sort key handed out (the cursor position).
    consumed: Option<String>,
    /// Where the next fetch continues (at or after `consumed`).
    fetch_after: Option<String>,
    buf: VecDeque<(String, Activity)>,
    exhausted: bool,
}

impl Stream {
    async fn fill(&mut self, store: &Store, pk: &str, want: usize) -> Result<(), StoreError> {
        while self.buf.is_empty() && !self.exhausted {
            let range = KeyRange { pk, lo: &self.lo, hi: &self.hi };
            let limit = i32::try_from(want.clamp(1, MAX_FETCH)).unwrap_or(1);
            let page = store.query_range_page(&range, true, limit, self.fetch_after.as_deref()).await?;
            for item in page.items {
                let rec: ActivityRecord = from_item(item)?;
                self.buf.push_back((rec.sk, rec.activity));
            }
            match page.last_sk {
                Some(sk) => self.fetch_after = Some(sk),
                None => self.exhausted = true,
            }
        }
        Ok(())
    }

    /// Merge order: the record's time, then its key (total and stable). Within a stream the
    /// key order stands, so a linking stream stays in commit order whatever its times say.
    fn head_key(&self) -> Option<(DateTime<Utc>, &str)> {
        self.buf.front().map(|(sk, a)| (a.activity_date, sk.get(self.prefix_len..).unwrap_or(sk.as_str())))
    }
}

/// Fetches, side by side, the next records of every stream that has none buffered and more to
/// give: enough for the records still to skip and to take, and one more to tell whether a next
/// page exists.
async fn fill_empty_streams(
    streams: &mut [Stream],
    store: &Store,
    pk: &str,
    skip: u64,
    take: usize,
) -> Result<(), StoreError> {
    let want = usize::try_from(skip).unwrap_or(usize::MAX).saturating_add(take).saturating_add(1);
    futures::future::try_join_all(
        streams.iter_mut().filter(|s| s.buf.is_empty() && !s.exhausted).map(|s| s.fill(store, pk, want)),
    )
    .await?;
    Ok(())
}

/// Reads one page: `offset` records skipped (first page only; a cursor carries its own position),
/// then up to `limit` records, newest first across every stream of the plan.
pub async fn read_page(
    store: &Store,
    plan: &Plan,
    cursor: Option<&Cursor>,
    limit: usize,
    offset: u64,
) -> Result<Page, StoreError> {
    let pk = keys::customer_pk(plan.org, plan.customer);
    let mut streams = open_streams(plan, cursor);
    let (start, mut skip) = match cursor {
        Some(c) => (c.o, 0u64),
        None => (offset, offset),
    };
    // A first page counts its streams for `total` beside its first reads, not before them.
    let ranges: Vec<(String, String)> = streams.iter().map(|s| (s.lo.clone(), s.hi.clone())).collect();
    let count = total_of(store, &pk, &ranges, cursor);
    let (total, ()) = futures::try_join!(count, fill_empty_streams(&mut streams, store, &pk, skip, limit))?;

    let mut activities = Vec::with_capacity(limit);
    loop {
        fill_empty_streams(&mut streams, store, &pk, skip, limit - activities.len()).await?;
        if activities.len() == limit {
            break;
        }
        let Some((_, activity)) = take_newest(&mut streams) else { break };
        if skip > 0 {
            skip -= 1;
        } else {
            activities.push(activity);
        }
    }
    let more = streams.iter().any(|s| !s.buf.is_empty());
    let next = more.then(|| cursor_after(plan, &streams, start.saturating_add(activities.len() as u64), total));
    Ok(Page { activities, offset: start, total, next })
}

/// The plan's streams (one per program and kind), each where `cursor` left it.
fn open_streams(plan: &Plan, cursor: Option<&Cursor>) -> Vec<Stream> {
    plan.streams()
        .into_iter()
        .map(|(program, benefit)| {
            let (lo, hi) = plan.bounds(program, benefit);
            let pos = cursor.and_then(|c| c.s.iter().find(|s| s.p == program && s.b == benefit));
            let after = pos.and_then(|p| p.a.clone());
            Stream {
                program,
                benefit,
                prefix_len: keys::activity_sk_prefix(program, benefit).len(),
                lo,
                hi,
                consumed: after.clone(),
                fetch_after: after,
                buf: VecDeque::new(),
                exhausted: pos.is_some_and(|p| p.d),
            }
        })
        .collect()
}

/// The whole result's size: the cursor's, or the streams' key ranges counted (on a first page).
async fn total_of(
    store: &Store,
    pk: &str,
    ranges: &[(String, String)],
    cursor: Option<&Cursor>,
) -> Result<Option<u64>, StoreError> {
    if let Some(c) = cursor {
        return Ok(c.t);
    }
    let counts =
        futures::future::try_join_all(ranges.iter().map(|(lo, hi)| store.count_range(KeyRange { pk, lo, hi }))).await?;
    Ok(Some(counts.iter().fold(0u64, |acc, n| acc.saturating_add(*n))))
}

/// The newest buffered record across the streams, taken out of its stream.
fn take_newest(streams: &mut [Stream]) -> Option<(String, Activity)> {
    let next = streams
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.head_key().map(|k| (i, k)))
        .max_by(|a, b| a.1.cmp(&b.1))
        .map(|(i, _)| i)?;
    let stream = streams.get_mut(next)?;
    let (sk, activity) = stream.buf.pop_front()?;
    stream.consumed = Some(sk.clone());
    Some((sk, activity))
}

/// Where the next page starts: each stream's position, the page's offset and the total.
fn cursor_after(plan: &Plan, streams: &[Stream], offset: u64, total: Option<u64>) -> Cursor {
    Cursor {
        v: CURSOR_VERSION,
        c: plan.customer,
        f: plan.fingerprint.clone(),
        o: offset,
        t: total,
        from: plan.benefits_from.timestamp_millis(),
        to: plan.to.timestamp_millis(),
        s: streams
            .iter()
            .map(|s| StreamPos {
                p: s.program,
                b: s.benefit,
                a: s.consumed.clone(),
                d: s.exhausted && s.buf.is_empty(),
                h: (!s.benefit).then(|| plan.link_versions.get(&s.program).copied().unwrap_or(0)),
            })
            .collect(),
    }
}

/// Checks a cursor's positions lie inside the plan's streams (a client can only move within its
/// own customer's partition, but a position outside the range would make DynamoDB refuse the query).
pub fn check_cursor(plan: &Plan, cursor: &Cursor) -> Result<(), CursorError> {
    if !cursor.belongs_to(plan.customer, &plan.fingerprint) {
        return Err(CursorError("it was issued for another customer or other filters"));
    }
    for pos in &cursor.s {
        if let Some(after) = &pos.a {
            let (lo, hi) = plan.bounds(pos.p, pos.b);
            if after.as_str() < lo.as_str() || after.as_str() > hi.as_str() {
                return Err(CursorError("position out of range"));
            }
        }
    }
    Ok(())
}

/// Benefit units availed per benefit name in `(since, until]`, summed from the `BENEFITSAVAILED`
/// records of one program (a key range of at most the window, read a page at a time).
pub async fn benefits_availed(
    store: &Store,
    org: OrgId,
    customer: CustomerId,
    program: ProgramId,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<BTreeMap<String, u64>, StoreError> {
    let pk = keys::customer_pk(org, customer);
    let prefix = keys::activity_sk_prefix(program, true);
    let lo = format!("{prefix}{}", key_time(since));
    let hi = format!("{prefix}{}#~", key_time(until));
    let range = KeyRange { pk: &pk, lo: &lo, hi: &hi };
    let mut sums = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.query_range_page(&range, false, 500, after.as_deref()).await?;
        for item in page.items {
            let rec: ActivityRecord = from_item(item)?;
            add_benefit_counts(&mut sums, rec.activity.benefit_details.as_ref());
        }
        match page.last_sk {
            Some(sk) => after = Some(sk),
            None => return Ok(sums),
        }
    }
}

/// Adds `{"benefits": [{"name", "count"}]}` of one record to the sums.
fn add_benefit_counts(sums: &mut BTreeMap<String, u64>, details: Option<&serde_json::Value>) {
    let Some(list) = details.and_then(|d| d.get("benefits")).and_then(|b| b.as_array()) else { return };
    for b in list {
        let (Some(name), Some(count)) =
            (b.get("name").and_then(|n| n.as_str()), b.get("count").and_then(|c| c.as_u64()))
        else {
            continue;
        };
        // Saturating: no stored record may make a read fail (writes bound each count anyway).
        let sum = sums.entry(name.to_string()).or_default();
        *sum = count.saturating_add(*sum);
    }
}

/// The default history window: the last 365 days.
pub fn default_window(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    (now - Duration::days(365), now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    proptest::proptest! {
        #[test]
        fn activity_type_spellings_never_panic_and_only_the_two_names_pass(raw in "\\PC{0,30}") {
            let norm: String = raw.chars().filter(|c| *c != '_').collect::<String>().to_ascii_uppercase();
            let expected = match norm.trim() {
                "LINKINGUPDATES" => Some(Kinds::LinkingUpdates),
                "BENEFITSAVAILED" => Some(Kinds::BenefitsAvailed),
                _ => None,
            };
            proptest::prop_assert_eq!(Kinds::parse(&raw), expected);
        }

        #[test]
        fn any_cursor_text_is_refused_or_decoded_without_panic(raw in "\\PC{0,200}") {
            if let Ok(c) = Cursor::decode(&raw) {
                let _ = check_cursor(&plan(), &c);
                let _ = c.window();
            }
        }
    }

    #[test]
    fn activity_types_are_case_and_underscore_insensitive() {
        for raw in ["LINKINGUPDATES", "linkingUpdates", "linking_updates", "Linking_Updates"] {
            assert_eq!(Kinds::parse(raw), Some(Kinds::LinkingUpdates), "{raw}");
        }
        for raw in ["BENEFITSAVAILED", "benefitsAvailed", "BENEFITS_AVAILED"] {
            assert_eq!(Kinds::parse(raw), Some(Kinds::BenefitsAvailed), "{raw}");
        }
        for raw in ["benefits", "linking", "", "LINKING-UPDATES"] {
            assert_eq!(Kinds::parse(raw), None, "{raw}");
        }
    }

    fn plan() -> Plan {
        let to = DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().with_timezone(&Utc);
        let link_versions = BTreeMap::from([(3, 12), (4, 1)]);
        Plan {
            org: 1,
            customer: 2,
            fingerprint: "f".into(),
            programs: vec![3, 4],
            kinds: Kinds::Both,
            benefits_from: to - Duration::days(30),
            to,
            link_versions,
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let p = plan();
        let (lo, _) = p.bounds(3, true);
        let c = Cursor {
            v: CURSOR_VERSION,
            c: 2,
            f: "f".into(),
            o: 10,
            t: Some(25),
            from: 1,
            to: 2,
            s: vec![
                StreamPos { p: 3, b: true, a: Some(format!("{lo}x")), d: false, h: None },
                StreamPos { p: 3, b: false, a: None, d: false, h: Some(12) },
            ],
        };
        let decoded = Cursor::decode(&c.encode()).unwrap();
        assert_eq!(decoded, c);
        assert!(check_cursor(&p, &decoded).is_ok());
        assert!(Cursor::decode("not-a-cursor").is_err());
        let other = Cursor { c: 9, ..c.clone() };
        assert!(check_cursor(&p, &other).is_err());
        assert_eq!(decoded.link_versions(), BTreeMap::from([(3, 12)]));
        let outside = Cursor {
            s: vec![StreamPos { p: 3, b: true, a: Some("HIST#0000000003#B#2000".into()), d: false, h: None }],
            ..c
        };
        assert!(check_cursor(&p, &outside).is_err());
    }

    #[test]
    fn streams_cover_each_program_and_kind_with_time_bounds() {
        let p = plan();
        assert_eq!(p.streams(), vec![(3, false), (3, true), (4, false), (4, true)]);
        let (lo, hi) = p.bounds(3, false);
        assert_eq!(lo, "HIST#0000000003#L#");
        assert_eq!(hi, "HIST#0000000003#L#00000000000000000012#~");
        assert!(keys::linking_activity(1, 2, 3, 12, 2).sk.as_str() <= hi.as_str());
        assert!(keys::linking_activity(1, 2, 3, 13, 0).sk.as_str() > hi.as_str());
        let (lo, _) = p.bounds(3, true);
        assert_eq!(lo, "HIST#0000000003#B#2026-05-02T00:00:00.000Z");
    }

    #[test]
    fn benefit_counts_sum_by_name_and_ignore_malformed_entries() {
        let mut sums = BTreeMap::new();
        add_benefit_counts(
            &mut sums,
            Some(&json!({"benefits": [{"name": "Lounge", "count": 2}, {"name": "Lounge", "count": 1}, {"name": "X"}]})),
        );
        add_benefit_counts(&mut sums, Some(&json!({"billNumber": "B1"})));
        add_benefit_counts(&mut sums, None);
        assert_eq!(sums, BTreeMap::from([("Lounge".to_string(), 3)]));
        // Stored counts at the limit of u64 saturate instead of overflowing (a read never fails).
        add_benefit_counts(
            &mut sums,
            Some(&json!({"benefits": [{"name": "Lounge", "count": u64::MAX}, {"name": "Lounge", "count": u64::MAX}]})),
        );
        assert_eq!(sums["Lounge"], u64::MAX);
    }
}
