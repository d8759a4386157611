//! `POST /v2/partnerProgram/customerBenefits`: benefits a linked customer avails, checked in the
//! order of docs/contract.md#check-order. The cycle counters and the `BENEFITSAVAILED` activity
//! commit in one version-conditioned transaction, so concurrent requests never exceed a quota.

use crate::domain::catalog::OrgCatalog;
use crate::domain::dates::{format_utc, parse_request_date};
use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::limits::{check_text, MAX_BENEFIT_COUNT, MAX_COUNT_IN_CYCLE, MAX_TEXT_CHARS};
use crate::domain::model::activity_for;
use crate::domain::model::EventName;
use crate::domain::model::*;
use crate::domain::text::value_as_text;
use crate::domain::zone::Zone;
use crate::http::api::ApiRequest;
use crate::http::batch::{self};
use crate::http::router::Answer;
use crate::state::linkage_write::{change_linkage, ItemWrite, Prepared, StorageFailure};
use crate::state::AppState;
use crate::storage::outbox;
use crate::storage::records::EventRecord;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[serde_with::skip_serializing_none]
#[derive(Deserialize, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BenefitsEntry {
    #[serde(default)]
    partner_program_name: Option<String>,
    #[serde(default)]
    benefits: Option<Vec<BenefitUse>>,
    #[serde(default)]
    bill_number: Option<Value>,
    #[serde(default)]
    store_name: Option<String>,
    #[serde(default)]
    availed_date: Option<String>,
    /// The bill's fields as Capillary's `benefitDetails` names them; stored with the record.
    #[serde(default)]
    bill_id: Option<Value>,
    #[serde(default)]
    bill_date: Option<String>,
    #[serde(default)]
    till_id: Option<Value>,
    #[serde(default)]
    till_name: Option<String>,
    /// Extension: why (`{"code", "note"}`), stored with the change's history record and event.
    #[serde(default)]
    reason: Option<Value>,
}

#[serde_with::skip_serializing_none]
#[derive(Deserialize, Serialize, Clone)]
#[serde(rename_all = "camelCase")]
pub struct BenefitUse {
    #[serde(default)]
    name: Option<String>,
    /// A JSON number or numeric string; anything else is reported as 2017.
    #[serde(default)]
    count: Option<Value>,
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    batch::handle(state, req, &batch::BENEFITS, |catalog, customer, entry: BenefitsEntry, item| async move {
        match item.because(entry.reason.as_ref()) {
            Ok(item) => avail_one(state, &item, &catalog, &customer, &entry).await,
            Err(refused) => Ok(refused),
        }
    })
    .await
}

/// One benefit of the program and how many of it the entry avails (duplicates summed).
struct Availed<'a> {
    benefit: &'a Benefit,
    count: u64,
}

/// What the entry asks for, validated against the program (everything that does not depend on
/// the linkage).
struct AvailPlan<'a> {
    program: &'a PartnerProgram,
    availed: Vec<Availed<'a>>,
    availed_at: DateTime<Utc>,
    bill: Map<String, Value>,
}

/// The most characters a bill number, till or store name may have.
const MAX_BILL_TEXT_CHARS: usize = 200;

/// The bill fields of an entry, checked: ids are non-negative integers (a JSON number or a numeric
/// string), names are bounded text, `billDate` a request date; each kept under its documented name.
fn bill_fields(entry: &BenefitsEntry, tz: &Zone) -> Result<Map<String, Value>, ItemStatus> {
    let mut bill = Map::new();
    for (field, raw) in [
        ("billNumber", entry.bill_number.as_ref().and_then(value_as_text)),
        ("tillName", entry.till_name.clone()),
        ("storeName", entry.store_name.clone()),
    ] {
        let Some(text) = raw.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()) else { continue };
        if text.chars().count() > MAX_BILL_TEXT_CHARS || text.chars().any(char::is_control) {
            return Err(ErrorCode::CannotProcess.with_detail(format!(
                "{field} must be at most {MAX_BILL_TEXT_CHARS} characters without control characters"
            )));
        }
        bill.insert(field.into(), json!(text));
    }
    for (field, raw) in [("billId", &entry.bill_id), ("tillId", &entry.till_id)] {
        let Some(v) = raw.as_ref().filter(|v| !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty())) else {
            continue;
        };
        let id = value_as_text(v).and_then(|t| t.parse::<u64>().ok()).filter(|n| *n <= MAX_SAFE_INTEGER).ok_or_else(
            || {
                ErrorCode::CannotProcess
                    .with_detail(format!("{field} must be a non-negative integer up to {MAX_SAFE_INTEGER} (got {v})"))
            },
        )?;
        bill.insert(field.into(), json!(id));
    }
    if let Some(raw) = entry.bill_date.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let t =
            parse_request_date("billDate", raw, tz).map_err(|e| ErrorCode::CannotProcess.with_detail(e.to_string()))?;
        bill.insert("billDate".into(), json!(format_utc(t)));
    }
    Ok(bill)
}

/// Ids a JavaScript client can hold exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

fn plan<'a>(catalog: &'a OrgCatalog, entry: &BenefitsEntry, now: DateTime<Utc>) -> Result<AvailPlan<'a>, ItemStatus> {
    let name = entry.partner_program_name.as_deref().map(str::trim).unwrap_or("");
    if name.is_empty() {
        return Err(ErrorCode::EmptyRequiredField.with_detail("partnerProgramName is empty"));
    }
    let program = catalog
        .partner_program(name)
        .ok_or_else(|| ErrorCode::UnknownPartnerProgram.with_detail(format!("no partner program named {name:?}")))?;
    if program.partner_program_type == PartnerProgramType::Supplementary {
        return Err(ErrorCode::BenefitsOnSupplementary.with_detail(format!("{name} is a SUPPLEMENTARY program")));
    }
    let uses = entry.benefits.as_deref().unwrap_or_default();
    let mut resolved = Vec::with_capacity(uses.len());
    for u in uses {
        let benefit_name = u.name.as_deref().map(str::trim).unwrap_or("");
        let benefit = program.benefits.iter().find(|b| b.name.eq_ignore_ascii_case(benefit_name)).ok_or_else(|| {
            ErrorCode::IncorrectBenefitName.with_detail(format!("{name} has no benefit named {benefit_name:?}"))
        })?;
        resolved.push((benefit, u));
    }
    if resolved.is_empty() {
        return Err(
            ErrorCode::NonPositiveBenefitCount.with_detail("benefits is empty: name at least one benefit with a count")
        );
    }
    let mut availed: Vec<Availed<'a>> = Vec::new();
    let out_of_range = |name: &str, got: String| {
        ErrorCode::NonPositiveBenefitCount
            .with_detail(format!("count of {name} must be a whole number from 1 to {MAX_BENEFIT_COUNT} (got {got})"))
    };
    for (benefit, u) in resolved {
        let count = u.count.as_ref().and_then(positive_count).ok_or_else(|| {
            out_of_range(&benefit.name, u.count.as_ref().map_or_else(|| "nothing".to_string(), Value::to_string))
        })?;
        match availed.iter_mut().find(|a| a.benefit.name == benefit.name) {
            Some(a) => {
                a.count = a
                    .count
                    .checked_add(count)
                    .filter(|sum| *sum <= MAX_BENEFIT_COUNT)
                    .ok_or_else(|| out_of_range(&benefit.name, "more in total over its lines".to_string()))?;
            }
            None => availed.push(Availed { benefit, count }),
        }
    }
    for (field, text) in [
        ("storeName", entry.store_name.as_deref()),
        ("billNumber", entry.bill_number.as_ref().and_then(value_as_text).as_deref()),
    ] {
        if let Some(t) = text {
            check_text(field, t, MAX_TEXT_CHARS).map_err(|e| ErrorCode::CannotProcess.with_detail(e.to_string()))?;
        }
    }
    let availed_at = match entry.availed_date.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => availed_date(raw, catalog.zone(), now)?,
        None => now,
    };
    let bill = bill_fields(entry, catalog.zone())?;
    Ok(AvailPlan { program, availed, availed_at, bill })
}

/// A count from 1 to `MAX_BENEFIT_COUNT` (a JSON integer or numeric string).
fn positive_count(v: &Value) -> Option<u64> {
    value_as_text(v)?.parse::<u64>().ok().filter(|n| (1..=MAX_BENEFIT_COUNT).contains(n))
}

/// `availedDate` as an instant: a bare date for today (in the org's zone) means now, since its
/// end of day is still ahead; anything later than now is refused.
fn availed_date(raw: &str, tz: &Zone, now: DateTime<Utc>) -> Result<DateTime<Utc>, ItemStatus> {
    let t =
        parse_request_date("availedDate", raw, tz).map_err(|e| ErrorCode::CannotProcess.with_detail(e.to_string()))?;
    if t <= now {
        return Ok(t);
    }
    let today = now.with_timezone(tz).date_naive();
    if NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok_and(|d| d == today) {
        return Ok(now);
    }
    Err(ErrorCode::CannotProcess.with_detail(format!("availedDate {raw} is in the future")))
}

async fn avail_one(
    state: &AppState,
    item: &ItemWrite,
    catalog: &OrgCatalog,
    customer: &Customer,
    entry: &BenefitsEntry,
) -> Result<ItemStatus, StorageFailure> {
    let now = state.now();
    let plan = match plan(catalog, entry, now) {
        Ok(p) => p,
        Err(status) => return Ok(status),
    };
    let org = catalog.org.org_id;
    let program = plan.program;
    let details = benefit_details(&plan);
    change_linkage(state, item, org, customer.customer_id, program.partner_program_id, |current, now| {
        let Some(cur) = current.filter(|l| l.linked) else {
            return Err(ErrorCode::NotLinked.with_detail(format!("not linked to {}", program.partner_program_name)));
        };
        may_avail(cur, program, now)?;
        let mut after = cur.clone();
        count_availed(&mut after, &plan.availed, cur.benefit_cycle_start())?;
        after.version = cur.version + 1;
        let mut activity = activity_for(current, &after, ActivityType::Benefitsavailed, plan.availed_at);
        activity.benefit_details = Some(details.clone());
        let event = outbox::event(
            EventName::BenefitsAvailed,
            ActivityType::Benefitsavailed.as_str(),
            org,
            customer,
            program,
            &after,
            now,
            catalog.zone(),
        );
        Ok(Prepared {
            activity,
            event: Some(with_benefit_details(event, &details)),
            expected_version: Some(cur.version),
            after,
            extras: Vec::new(),
        })
    })
    .await
}

/// Refuses benefits to a membership whose tier has expired past its grace, that has ended, or
/// that has not started.
fn may_avail(cur: &Linkage, program: &PartnerProgram, now: DateTime<Utc>) -> Result<(), ItemStatus> {
    let name = &program.partner_program_name;
    match cur.effective_status(now, Some(program)) {
        LinkageStatus::TierExpired => {
            let tier = cur.tier_name.as_deref().unwrap_or("the tier");
            let at = cur.tier_expiry_date.map(format_utc).unwrap_or_default();
            Err(ErrorCode::CannotProcess.with_detail(format!(
                "{tier} in {name} expired at {at} and its grace has ended; renew or upgrade it first"
            )))
        }
        LinkageStatus::Expired => {
            Err(ErrorCode::CannotProcess.with_detail(format!("{name} has expired; its members get no more benefits")))
        }
        LinkageStatus::Pending => Err(ErrorCode::CannotProcess.with_detail(format!(
            "the membership in {name} starts at {}; no benefits before then",
            format_utc(cur.membership_start_date)
        ))),
        _ => Ok(()),
    }
}

/// Adds what is availed to the linkage's counters of the cycle that began at `cycle_start`,
/// within each benefit's quota and the counters' bound.
fn count_availed(after: &mut Linkage, availed: &[Availed<'_>], cycle_start: DateTime<Utc>) -> Result<(), ItemStatus> {
    for a in availed {
        let counter = after
            .benefit_counters
            .entry(a.benefit.name.clone())
            .or_insert(BenefitCounter { count_in_cycle: 0, cycle_start: Some(cycle_start) });
        let used = counter.count_in_cycle;
        let total = used.saturating_add(a.count);
        if let Some(max) = a.benefit.maximum_available_in_cycle {
            if total > u64::from(max) {
                return Err(ErrorCode::CannotProcess.with_detail(format!(
                    "{} allows {max} per cycle; {used} used, {} more requested",
                    a.benefit.name, a.count
                )));
            }
        }
        if total > MAX_COUNT_IN_CYCLE {
            return Err(ErrorCode::CannotProcess.with_detail(format!(
                "{} would pass {MAX_COUNT_IN_CYCLE} units in this cycle; {used} used, {} more requested",
                a.benefit.name, a.count
            )));
        }
        counter.count_in_cycle = total;
    }
    Ok(())
}

/// The `benefitDetails` of the activity record (and of the event): the benefits with their
/// counts, the bill fields, and when they were availed.
fn benefit_details(plan: &AvailPlan<'_>) -> Value {
    let benefits: Vec<Value> = plan
        .availed
        .iter()
        .map(|a| json!({"name": a.benefit.name, "type": a.benefit.benefit_type, "count": a.count}))
        .collect();
    let mut d = plan.bill.clone();
    d.insert("benefits".into(), Value::Array(benefits));
    d.insert("availedDate".into(), json!(format_utc(plan.availed_at)));
    Value::Object(d)
}

/// Adds what was availed to the event's `data`, so consumers need not read the history.
fn with_benefit_details(mut event: EventRecord, details: &Value) -> EventRecord {
    if let Ok(mut payload) = serde_json::from_str::<Value>(&event.payload) {
        if let Some(data) = payload.get_mut("data").and_then(Value::as_object_mut) {
            data.insert("benefitDetails".into(), details.clone());
            event.payload = payload.to_string();
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_must_be_positive_integers() {
        for (v, expected) in [
            (json!(2), Some(2)),
            (json!(1_000_000), Some(1_000_000)),
            (json!(1_000_001), None),
            (json!(9223372036854775808u64), None),
            (json!("18446744073709551616"), None),
            (json!("3"), Some(3)),
            (json!(0), None),
            (json!(-1), None),
            (json!(1.5), None),
            (json!("x"), None),
            (json!(null), None),
        ] {
            assert_eq!(positive_count(&v), expected, "{v}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_json_number_or_text_count_is_in_range_or_refused(
            n in proptest::num::f64::ANY, i in proptest::num::i128::ANY, t in "\\PC{0,30}"
        ) {
            let candidates = [
                serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null),
                serde_json::from_str::<Value>(&i.to_string()).unwrap_or(Value::Null),
                Value::String(t),
                Value::String(i.to_string()),
            ];
            for v in candidates {
                if let Some(c) = positive_count(&v) {
                    proptest::prop_assert!((1..=MAX_BENEFIT_COUNT).contains(&c));
                }
            }
        }
    }

    #[test]
    fn availed_today_as_bare_date_means_now_and_future_is_refused() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T10:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(availed_date("2026-11-24", &Zone::utc(), now).unwrap(), now);
        assert_eq!(format_utc(availed_date("2026-11-20", &Zone::utc(), now).unwrap()), "2026-11-20T23:59:59Z");
        assert_eq!(availed_date("2026-11-25", &Zone::utc(), now).unwrap_err().code, 2001);
        assert_eq!(availed_date("2026-11-24T11:00:00Z", &Zone::utc(), now).unwrap_err().code, 2001);
        assert_eq!(availed_date("24/11/2026", &Zone::utc(), now).unwrap_err().code, 2001);
    }
}

#[cfg(test)]
mod plan_tests {
    //! `plan` and the bill fields: what a benefits entry asks for, checked against the program in the
    //! documented order (2002, 2006, 2018, 2016, 2017, then the bill and the date).
    use super::*;
    use crate::operations::rule_fixtures::*;
    use chrono::Duration;

    fn entry(v: Value) -> BenefitsEntry {
        serde_json::from_value(v).unwrap()
    }

    fn code(v: Value) -> u16 {
        let catalog = standard_catalog();
        plan(&catalog, &entry(v), now()).map_or_else(|s| s.code, |_| 200)
    }

    fn sky(benefits: Value) -> Value {
        json!({"partnerProgramName": "SkyMiles", "benefits": benefits})
    }

    #[test]
    fn program_checks_come_first_2002_2006_2018() {
        assert_eq!(code(json!({"benefits": [{"name": "LoungeAccess", "count": 1}]})), 2002);
        assert_eq!(code(json!({"partnerProgramName": " ", "benefits": []})), 2002);
        assert_eq!(code(json!({"partnerProgramName": "NoSuch", "benefits": [{"name": "Nope", "count": 0}]})), 2006);
        let s = plan(
            &standard_catalog(),
            &entry(json!({"partnerProgramName": "FlexiPass", "benefits": [{"name": "LoungeAccess", "count": 1}]})),
            now(),
        )
        .err()
        .unwrap();
        assert_eq!((s.code, s.message.as_str()), (2018, "Cannot add benefits to supplementary membership."));
    }

    #[test]
    fn benefit_names_are_checked_before_counts_2016_then_2017() {
        assert_eq!(code(sky(json!([{"name": "Spa", "count": 1}]))), 2016);
        assert_eq!(code(sky(json!([{"name": "Spa", "count": 0}]))), 2016, "the name is checked first");
        assert_eq!(code(sky(json!([{"name": "LoungeAccess", "count": 0}]))), 2017);
        assert_eq!(code(sky(json!([{"name": "LoungeAccess"}]))), 2017);
        assert_eq!(code(sky(json!([]))), 2017, "nothing to avail");
        assert_eq!(code(json!({"partnerProgramName": "SkyMiles"})), 2017);
        assert_eq!(code(sky(json!([{"name": "loungeaccess", "count": "2"}]))), 200, "names match in any case");
    }

    #[test]
    fn repeated_benefits_are_summed_within_the_count_limit() {
        let catalog = standard_catalog();
        let twice = sky(json!([
            {"name": "LoungeAccess", "count": 2}, {"name": "PriorityBoarding", "count": 1},
            {"name": "LOUNGEACCESS", "count": 3}
        ]));
        let p = plan(&catalog, &entry(twice), now()).ok().unwrap();
        let counts: Vec<(&str, u64)> = p.availed.iter().map(|a| (a.benefit.name.as_str(), a.count)).collect();
        assert_eq!(counts, [("LoungeAccess", 5), ("PriorityBoarding", 1)]);
        let over =
            sky(json!([{"name": "LoungeAccess", "count": MAX_BENEFIT_COUNT}, {"name": "LoungeAccess", "count": 1}]));
        assert_eq!(code(over), 2017);
    }

    #[test]
    fn availed_date_defaults_to_now_and_may_not_be_later() {
        let catalog = standard_catalog();
        let p = plan(&catalog, &entry(sky(json!([{"name": "LoungeAccess", "count": 1}]))), now()).ok().unwrap();
        assert_eq!(p.availed_at, now());
        let yesterday = (now() - Duration::days(1)).to_rfc3339();
        let v = json!({
            "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 1}],
            "availedDate": yesterday
        });
        assert_eq!(plan(&catalog, &entry(v), now()).ok().unwrap().availed_at, now() - Duration::days(1));
        let v = json!({
            "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 1}],
            "availedDate": "2026-06-05"
        });
        assert_eq!(code(v), 2001);
    }

    #[test]
    fn bill_fields_are_kept_under_their_names_and_checked() {
        let tz = Zone::named("Asia/Kolkata").unwrap();
        let bill = bill_fields(
            &entry(json!({
                "billNumber": 77, "billId": "78", "tillId": 3, "tillName": " T3-1 ", "storeName": "T3",
                "billDate": "2026-05-20"
            })),
            &tz,
        )
        .unwrap();
        assert_eq!(
            Value::Object(bill),
            json!({
                "billNumber": "77", "tillName": "T3-1", "storeName": "T3", "billId": 78, "tillId": 3,
                "billDate": "2026-05-20T18:29:59Z"
            })
        );
        // Absent, null and blank fields are left out.
        assert!(bill_fields(&entry(json!({"billId": null, "tillId": " ", "storeName": ""})), &tz).unwrap().is_empty());
        for bad in [
            json!({"billId": -1}),
            json!({"billId": 1.5}),
            json!({"tillId": "x"}),
            json!({"billId": MAX_SAFE_INTEGER + 1}),
            json!({"tillName": "a\u{0}b"}),
            json!({"storeName": "s".repeat(MAX_BILL_TEXT_CHARS + 1)}),
            json!({"billDate": "yesterday"}),
        ] {
            assert_eq!(bill_fields(&entry(bad.clone()), &tz).unwrap_err().code, 2001, "{bad}");
        }
        assert!(bill_fields(&entry(json!({"billId": MAX_SAFE_INTEGER})), &tz).is_ok());
    }

    #[test]
    fn the_benefit_cycle_starts_at_the_latest_counter_reset_else_at_membership_start() {
        let mut l = linkage(&skymiles(), Some("Gold"));
        assert_eq!(l.benefit_cycle_start(), l.membership_start_date);
        let counter = |days| BenefitCounter { count_in_cycle: 1, cycle_start: Some(now() - Duration::days(days)) };
        l.benefit_counters.insert("LoungeAccess".into(), counter(5));
        l.benefit_counters.insert("PriorityBoarding".into(), counter(2));
        assert_eq!(l.benefit_cycle_start(), now() - Duration::days(2));
    }

    #[test]
    fn benefit_details_list_each_benefit_with_the_bill_and_the_date() {
        let catalog = standard_catalog();
        let v = json!({
            "partnerProgramName": "SkyMiles", "benefits": [{"name": "LoungeAccess", "count": 2}], "billNumber": "B-1"
        });
        let p = plan(&catalog, &entry(v), now()).ok().unwrap();
        assert_eq!(
            benefit_details(&p),
            json!({
                "billNumber": "B-1", "benefits": [{"name": "LoungeAccess", "type": "LOUNGE", "count": 2}],
                "availedDate": "2026-06-01T00:00:00Z"
            })
        );
    }
}
