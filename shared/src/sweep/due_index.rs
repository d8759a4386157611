//! The walk through the due index (docs/architecture.md#the-sweep): day by day, every write shard,
//! page by page, never a Scan; the sweep walks it from the watermark day to today, the expiry
//! preview up to its `until` for one org, from a cursor.

use super::{Outcome, Run, StopReason, SweepSettings};
use crate::domain::dates::key_time;
use crate::domain::model::OrgId;
use crate::storage::keys;
use crate::storage::records::Item;
use crate::storage::store::{DueQuery, Store, StoreError};
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Exclusive upper bound of due-index sort keys due at or before `now`.
pub fn due_sk_upper(now: DateTime<Utc>) -> String {
    // Sort keys are `{key_time}#...`; '$' sorts right after '#', so everything due at `now` is below.
    format!("{}$", key_time(now))
}

pub fn day_string(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// The oldest due-index day that may hold unfinished work, and the items read to learn it.
pub async fn first_unfinished_day(
    store: &Store,
    settings: &SweepSettings,
    today: NaiveDate,
) -> Result<(NaiveDate, u64), StoreError> {
    let lookback = today - Duration::days(i64::from(settings.lookback_days));
    Ok(match store.sweep_watermark().await? {
        Some(day) => (day.min(today), 1),
        None => (lookback, 0),
    })
}

/// Where a walk stands: the next page is read from `day`'s `shard`-th partition of the walk
/// (counted from the walk's first shard), after `start` (`None`: from the partition's beginning).
#[derive(Debug, Clone)]
pub struct DuePosition {
    pub day: NaiveDate,
    pub shard: u32,
    pub start: Option<Item>,
}

impl DuePosition {
    pub fn start_of(day: NaiveDate) -> Self {
        DuePosition { day, shard: 0, start: None }
    }
}

/// One page of the walk, from `day`'s partition `due_pk`; `ends_day` when it was the last page of
/// that day's last partition.
pub struct WalkPage {
    pub day: NaiveDate,
    pub due_pk: String,
    pub items: Vec<Item>,
    pub capacity: f64,
    pub ends_day: bool,
}

/// A walk through the due index up to `last_day` (inclusive), reading items due before a bound.
pub struct DueWalk<'a> {
    store: &'a Store,
    upper: String,
    shards: u32,
    /// The shard each day starts at; the day's other shards follow, wrapping around.
    first_shard: u32,
    last_day: NaiveDate,
    org: Option<OrgId>,
    forward: bool,
    /// The next page to read.
    pub at: DuePosition,
}

impl<'a> DueWalk<'a> {
    /// A walk from `at` to `last_day`, over `shards` shards a day, of items due before `upper`
    /// (`due_sk_upper`): every org's, oldest due first, each day from shard 0.
    pub fn new(store: &'a Store, shards: u32, upper: String, at: DuePosition, last_day: NaiveDate) -> Self {
        DueWalk { store, upper, shards: shards.max(1), first_shard: 0, last_day, org: None, forward: true, at }
    }

    /// Each day starts at shard `shard` (concurrent runs start on different shards).
    pub fn starting_at_shard(mut self, shard: u32) -> Self {
        self.first_shard = shard % self.shards;
        self
    }

    /// Only `org`'s items.
    pub fn of_org(mut self, org: OrgId) -> Self {
        self.org = Some(org);
        self
    }

    /// Through each partition oldest due first (`true`) or newest first.
    pub fn forward(mut self, forward: bool) -> Self {
        self.forward = forward;
        self
    }

    /// True when every partition up to `last_day` has been read.
    pub fn finished(&self) -> bool {
        self.at.day > self.last_day
    }

    /// The partition the next page comes from.
    pub fn partition(&self) -> String {
        self.partition_at(&self.at)
    }

    fn partition_at(&self, at: &DuePosition) -> String {
        keys::due_pk(&day_string(at.day), (self.first_shard + at.shard) % self.shards)
    }

    /// Reads the next page (at most `limit` items) and moves past it; `None` once finished.
    pub async fn next_page(&mut self, limit: i32) -> Result<Option<WalkPage>, StoreError> {
        if self.finished() {
            return Ok(None);
        }
        let mut page = self.read(self.at.clone(), limit).await?;
        self.take(&mut page);
        Ok(Some(page.page))
    }

    /// The next page of each of up to `width` partitions, read at once: the page the walk stands
    /// at, then the first page of each partition after it, up to `last_day`, in walk order. The
    /// walk does not move; its caller `take`s the pages it keeps, in order, and stops taking after
    /// a page that does not end its partition (the partition's next page comes first).
    pub async fn read_ahead(&self, limit: i32, width: usize) -> Result<Vec<AheadPage>, StoreError> {
        let mut positions = Vec::with_capacity(width);
        let mut at = self.at.clone();
        while positions.len() < width.max(1) && at.day <= self.last_day {
            positions.push(at.clone());
            self.step(&mut at, None);
        }
        futures::future::try_join_all(positions.into_iter().map(|at| self.read(at, limit))).await
    }

    /// Moves the walk past `page`, which must be the page it stands at (the first of `read_ahead`
    /// or the one after the last taken); `page.page.ends_day` is set as it turns out.
    pub fn take(&mut self, page: &mut AheadPage) {
        let mut at = self.at.clone();
        page.page.ends_day = self.step(&mut at, page.last_key.take());
        self.at = at;
    }

    async fn read(&self, at: DuePosition, limit: i32) -> Result<AheadPage, StoreError> {
        let due_pk = self.partition_at(&at);
        let query = DueQuery { due_pk: &due_pk, upper: &self.upper, limit, org: self.org, forward: self.forward };
        let page = self.store.query_due_page(&query, at.start).await?;
        let ends_partition = page.last_key.is_none();
        Ok(AheadPage {
            page: WalkPage { day: at.day, due_pk, items: page.items, capacity: page.capacity, ends_day: false },
            last_key: page.last_key,
            ends_partition,
        })
    }

    /// Moves `at` past a page that ended at `last_key`: on within the partition while there is
    /// more, else to the day's next shard, and after its last shard to the next day (then true).
    fn step(&self, at: &mut DuePosition, last_key: Option<Item>) -> bool {
        if last_key.is_some() {
            at.start = last_key;
            return false;
        }
        at.start = None;
        at.shard += 1;
        if at.shard < self.shards {
            return false;
        }
        *at = DuePosition::start_of(at.day + Duration::days(1));
        true
    }
}

/// A page read by `DueWalk::read_ahead`, not yet taken.
pub struct AheadPage {
    pub page: WalkPage,
    last_key: Option<Item>,
    /// No more of its partition follows.
    pub ends_partition: bool,
}

/// The sweep's walk: every due item from the watermark day to today, and the watermark moved past
/// the days it finished.
impl Run<'_> {
    pub(super) async fn walk_due_index(&self) {
        let today = self.now.date_naive();
        let first = match first_unfinished_day(&self.state.store, self.settings, today).await {
            Ok((first, read)) => {
                self.tally(|t| {
                    t.items_read += read;
                    t.first_day = day_string(first);
                    t.watermark = day_string(first);
                });
                first
            }
            Err(e) => {
                tracing::error!(error = %e, "sweep watermark read failed");
                self.set_stop(StopReason::StorageError);
                return;
            }
        };
        let shards = self.state.config.due_shards.max(1);
        // Concurrent runs start on different shards, so they mostly work on different items.
        let mut walk = DueWalk::new(&self.state.store, shards, self.upper.clone(), DuePosition::start_of(first), today)
            .starting_at_shard(rand::random::<u32>() % shards)
            .forward(self.forward);
        let (mut watermark, mut finished_so_far, mut day_settled) = (first, true, true);
        while !self.stopping() {
            let Some(settled) = self.sweep_page(&mut walk).await else { break };
            day_settled &= settled.all_settled;
            if settled.ends_day && !self.stopping() {
                // A past day is finished when every item in it was settled: nothing can fall due
                // there any more (writers only add due dates after their own now).
                finished_so_far &= day_settled && settled.day < today;
                if finished_so_far {
                    watermark = settled.day + Duration::days(1);
                }
                day_settled = true;
            }
        }
        if watermark > first {
            self.advance_watermark(watermark).await;
        }
    }

    /// Reads the walk's next page and acts on every item in it; `None` when the walk is finished
    /// or its query failed (which stops the run).
    async fn sweep_page(&self, walk: &mut DueWalk<'_>) -> Option<PageDone> {
        let page = match walk.next_page(self.settings.page_size).await {
            Ok(page) => page?,
            Err(e) => {
                tracing::error!(error = %e, partition = walk.partition(), "due index query failed");
                self.count(Outcome::Failed);
                self.set_stop(StopReason::StorageError);
                return None;
            }
        };
        self.tally(|t| {
            t.last_day = day_string(page.day);
            t.queries += 1;
            t.items_read += page.items.len() as u64;
            t.due += page.items.len() as u64;
            t.read_capacity_units += page.capacity;
        });
        let outcomes = self.each(page.items, |item| self.process_due_item(item)).await;
        Some(PageDone { day: page.day, ends_day: page.ends_day, all_settled: outcomes.iter().all(|o| o.settled()) })
    }

    async fn advance_watermark(&self, day: NaiveDate) {
        let day = day_string(day);
        match self.state.store.advance_sweep_watermark(&day).await {
            Ok(true) => self.tally(|t| t.watermark = day),
            // A concurrent run moved it further already.
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "sweep watermark update failed"),
        }
    }
}

/// What the sweep made of one page of the walk.
struct PageDone {
    day: NaiveDate,
    ends_day: bool,
    /// Every item on the page was settled (a later query of its partition will not see it again).
    all_settled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::dates::key_day;

    #[test]
    fn upper_bound_includes_everything_due_at_now_and_nothing_later() {
        let now = DateTime::parse_from_rfc3339("2031-03-10T12:00:00Z").unwrap().with_timezone(&Utc);
        let upper = due_sk_upper(now);
        let (_, at_now) = keys::due_keys(now, 7, 99, 3, 8);
        let (_, later) = keys::due_keys(now + Duration::milliseconds(1), 7, 1, 3, 8);
        assert!(at_now < upper);
        assert!(later > upper);
    }

    fn offline_store() -> Store {
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
            .region(aws_sdk_dynamodb::config::Region::new("eu-west-1"))
            .build();
        Store::new(aws_sdk_dynamodb::Client::from_conf(conf), "t")
    }

    fn move_past(walk: &mut DueWalk<'_>, last_key: Option<Item>) -> bool {
        let mut at = walk.at.clone();
        let ends_day = walk.step(&mut at, last_key);
        walk.at = at;
        ends_day
    }

    #[test]
    fn the_walk_visits_every_shard_of_a_day_from_its_first_shard_then_the_next_day() {
        let store = offline_store();
        let day = NaiveDate::from_ymd_opt(2031, 3, 9).unwrap();
        let last_day = day + Duration::days(1);
        let mut walk = DueWalk::new(&store, 3, "x".into(), DuePosition::start_of(day), last_day).starting_at_shard(2);
        let more = Some(Item::from([("PK".to_string(), aws_sdk_dynamodb::types::AttributeValue::S("p".into()))]));
        let mut seen = Vec::new();
        while !walk.finished() {
            let partition = walk.partition();
            // Each partition has two pages: the first leaves a key to go on from.
            let ends_first = move_past(&mut walk, more.clone());
            assert_eq!((ends_first, walk.partition()), (false, partition.clone()), "a partition's next page");
            let ends_day = move_past(&mut walk, None);
            seen.push((partition, ends_day));
        }
        let expected: Vec<(String, bool)> = [("2031-03-09", 2), ("2031-03-09", 0), ("2031-03-09", 1)]
            .into_iter()
            .chain([("2031-03-10", 2), ("2031-03-10", 0), ("2031-03-10", 1)])
            .enumerate()
            .map(|(i, (d, s))| (keys::due_pk(d, s), i % 3 == 2))
            .collect();
        assert_eq!(seen, expected);
        assert_eq!(walk.at.day, last_day + Duration::days(1));
    }

    #[test]
    fn days_render_as_index_partitions() {
        let d = NaiveDate::from_ymd_opt(2031, 3, 9).unwrap();
        assert_eq!(day_string(d), key_day(d.and_hms_opt(0, 0, 0).unwrap().and_utc()));
    }
}
