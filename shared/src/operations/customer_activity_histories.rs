//! `GET /v2/partnerProgram/customerActivityHistories` (and `…/customerActivityHistory`,
//! docs/contract.md#reads): one page of the customer's history (`activity_history`), grouped per
//! partner program with its current details and benefits summary.

use crate::domain::catalog::OrgCatalog;
use crate::domain::dates::{format_utc, parse_history_date};
use crate::domain::error_catalog::{ErrorCode, ItemStatus};
use crate::domain::limits::MAX_HISTORY_OFFSET;
use crate::domain::model::{Activity, CustomerId, Linkage, OrgId, PartnerProgram, PartnerProgramType, ProgramId};
use crate::domain::zone::Zone;
use crate::http::api::{ApiRequest, ApiResponse};
use crate::http::router::Answer;
use crate::http::wire::{ActivityEntry, BenefitSummary, PartnerProgramDetails};
use crate::state::AppState;
use crate::storage::activity_history::{self, check_cursor, default_window, fingerprint, Cursor, Kinds, Plan};
use crate::storage::customer_identity::{resolve_with_linkages, Identifiers, Resolution};
use crate::storage::store::StoreError;
use chrono::{DateTime, Duration, Months, Utc};
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 100;

/// The query parameters, checked before anything is read.
struct Params {
    ids: Identifiers,
    kinds: Kinds,
    start: Option<String>,
    end: Option<String>,
    program_id: Option<ProgramId>,
    program_type: Option<PartnerProgramType>,
    limit: usize,
    offset: u64,
    cursor: Option<Cursor>,
    warnings: Vec<Value>,
}

/// A response of this API: the envelope is the same whatever happened.
fn envelope(
    status: u16,
    limit: usize,
    offset: u64,
    data: Vec<Value>,
    warnings: Vec<Value>,
    errors: Vec<ItemStatus>,
) -> ApiResponse {
    ApiResponse::json(
        status,
        &json!({
            "pagination": {"limit": limit, "offset": offset}, "data": data, "warnings": warnings, "errors": errors
        }),
    )
}

fn invalid(status: ItemStatus) -> ApiResponse {
    envelope(400, DEFAULT_LIMIT, 0, vec![], vec![], vec![status])
}

fn bad_request(message: impl Into<String>) -> ApiResponse {
    let message = message.into();
    ApiResponse::json(
        400,
        &json!({"pagination": {"limit": DEFAULT_LIMIT, "offset": 0}, "data": [],
                "errors": [{"status": false, "code": 400, "message": message}], "warnings": []}),
    )
}

fn parse_params(req: &ApiRequest) -> Result<Params, ApiResponse> {
    let (Some(name), Some(value)) = (req.query_param("identifierName"), req.query_param("identifierValue")) else {
        return Err(bad_request("identifierName and identifierValue are required"));
    };
    let Some(ids) = Identifiers::from_query(name, value) else {
        return Err(bad_request("identifierName must be one of mobile, email, externalId, id"));
    };
    if let Some(problem) = &ids.problem {
        return Err(bad_request(format!("identifierValue: {problem}")));
    }
    let kinds = match req.query_param("activityType") {
        None => Kinds::Both,
        Some(raw) => Kinds::parse(raw).ok_or_else(|| {
            invalid(
                ErrorCode::InvalidActivityType
                    .with_detail(format!("activityType {raw:?} is neither LINKINGUPDATES nor BENEFITSAVAILED")),
            )
        })?,
    };
    let start = req.query_param("startDate").map(str::to_string);
    let end = req.query_param("endDate").map(str::to_string);
    if (start.is_some() || end.is_some()) && kinds != Kinds::BenefitsAvailed {
        return Err(invalid(ErrorCode::DateWithLinkingUpdates.with_detail(
            "startDate and endDate filter benefits availed only: send activityType=BENEFITSAVAILED with them",
        )));
    }
    let mut warnings = Vec::new();
    let limit = match req.query_param("limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if n >= 1 => {
                if n > MAX_LIMIT {
                    warnings.push(json!({
                        "message": format!("limit {n} is above the maximum; {MAX_LIMIT} records per page are returned")
                    }));
                }
                n.min(MAX_LIMIT)
            }
            _ => return Err(bad_request(format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
        },
    };
    let offset = match req.query_param("offset") {
        None => 0,
        Some(raw) => raw.trim().parse::<u64>().ok().filter(|o| *o <= MAX_HISTORY_OFFSET).ok_or_else(|| {
            bad_request(format!(
                "offset must be an integer from 0 to {MAX_HISTORY_OFFSET}; page further with nextCursor"
            ))
        })?,
    };
    let program_id = match req.query_param("partnerProgramId") {
        None => None,
        Some(raw) => {
            Some(raw.trim().parse::<ProgramId>().map_err(|_| bad_request("partnerProgramId must be a number"))?)
        }
    };
    let program_type = match req.query_param("partnerProgramType").map(|t| t.trim().to_ascii_uppercase()) {
        None => None,
        Some(t) if t == "EXTERNAL" => Some(PartnerProgramType::External),
        Some(t) if t == "SUPPLEMENTARY" => Some(PartnerProgramType::Supplementary),
        Some(_) => return Err(bad_request("partnerProgramType must be EXTERNAL or SUPPLEMENTARY")),
    };
    let cursor = match req.query_param("cursor") {
        None => None,
        Some(raw) => Some(Cursor::decode(raw).map_err(|e| bad_request(e.to_string()))?),
    };
    Ok(Params { ids, kinds, start, end, program_id, program_type, limit, offset, cursor, warnings })
}

/// The benefits window a request asks for, checked against the one-year rule (2013).
fn window(p: &Params, tz: &Zone, now: DateTime<Utc>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiResponse> {
    let end = match &p.end {
        Some(raw) => parse_history_date("endDate", raw, tz, true).map_err(|e| bad_request(e.to_string()))?,
        None => now,
    };
    let Some(raw_start) = &p.start else {
        // No start: the default window, the 365 days up to the end.
        return Ok((default_window(end).0, end));
    };
    let start = parse_history_date("startDate", raw_start, tz, false).map_err(|e| bad_request(e.to_string()))?;
    if end < start {
        return Err(bad_request("endDate must not be before startDate"));
    }
    // "Under one year" in the org's calendar: a window reaching the same wall-clock time a year on is refused.
    let local_start = start.with_timezone(tz);
    let year_later = local_start.checked_add_months(Months::new(12)).map(|t| t.with_timezone(&Utc));
    if year_later.is_none_or(|limit| end >= limit) {
        return Err(invalid(ErrorCode::IntervalTooLong.with_detail(format!(
            "from {} to {} is a year or more; ask for less than a year at a time",
            format_utc(start),
            format_utc(end)
        ))));
    }
    Ok((start, end))
}

fn storage_failed(e: &StoreError, p_limit: usize, request_id: &str) -> ApiResponse {
    if e.is_refused_value() {
        return bad_request("identifierValue cannot be looked up (too large or invalid)");
    }
    tracing::error!(error = %e, request_id, "activity history read failed");
    envelope(503, p_limit, 0, vec![], vec![], vec![ErrorCode::ActivityFetchFailed.status()])
        .with_header("retry-after", "2")
}

/// Why a history request ends early. Every answer of this API is its own envelope
/// (`envelope`), a storage failure included (2012), so its refusals are answers.
enum Refusal {
    Answer(ApiResponse),
    Storage(StoreError),
}

impl From<ApiResponse> for Refusal {
    fn from(r: ApiResponse) -> Self {
        Refusal::Answer(r)
    }
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Self {
        Refusal::Storage(e)
    }
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    let p = match parse_params(&req) {
        Ok(p) => p,
        Err(resp) => return Ok(resp),
    };
    let limit = p.limit;
    Ok(match history(state, &req, p).await {
        Ok(resp) | Err(Refusal::Answer(resp)) => resp,
        Err(Refusal::Storage(e)) => storage_failed(&e, limit, &req.request_id),
    })
}

async fn history(state: &AppState, req: &ApiRequest, mut p: Params) -> Result<ApiResponse, Refusal> {
    let org = req.auth.org_id;
    let now = state.now();
    // The customer and its linkages in two round trips (one by id), the catalog alongside.
    let ((resolution, linkages), catalog) =
        futures::try_join!(resolve_with_linkages(&state.store, org, &p.ids), state.catalog(org))?;
    let (benefits_from, to) = window(&p, catalog.zone(), now)?;
    let Resolution::Found(customer) = resolution else {
        return Ok(envelope(200, p.limit, 0, vec![], std::mem::take(&mut p.warnings), vec![resolution.status()]));
    };
    let linkages: BTreeMap<ProgramId, Linkage> = linkages
        .into_iter()
        .filter(|l| p.program_id.is_none_or(|id| id == l.partner_program_id))
        .filter(|l| p.program_type.is_none_or(|t| t == l.partner_program_type))
        .map(|l| (l.partner_program_id, l))
        .collect();

    let plan = read_plan(&p, org, customer.customer_id, &linkages, (benefits_from, to))?;
    // The benefits summary of every program the page may show is read beside the page itself.
    let page_read = activity_history::read_page(&state.store, &plan, p.cursor.as_ref(), p.limit, p.offset);
    let summaries_read = futures::future::try_join_all(linkages.iter().map(|(id, l)| {
        let program = catalog.partner_program_by_id(*id);
        async move {
            Ok::<_, StoreError>((*id, benefits_summary(state, org, customer.customer_id, program, Some(l), now).await?))
        }
    }));
    let (page, mut all_summaries) = futures::try_join!(page_read, summaries_read)?;
    if page.activities.is_empty() {
        return Ok(envelope(
            200,
            p.limit,
            page.offset,
            vec![],
            std::mem::take(&mut p.warnings),
            vec![ErrorCode::NoActivity.status()],
        ));
    }

    let groups = by_program(&page.activities);
    let summaries: Vec<Vec<BenefitSummary>> = groups
        .iter()
        .map(|(id, _)| {
            all_summaries.iter_mut().find(|(p, _)| p == id).map(|(_, s)| std::mem::take(s)).unwrap_or_default()
        })
        .collect();
    let notes = (p.kinds != Kinds::LinkingUpdates).then(|| {
        format!(
            "Benefits availed from {} to {}; linking updates over the whole membership.",
            format_utc(plan.benefits_from),
            format_utc(plan.to)
        )
    });
    let data = program_entries(&groups, summaries, &linkages, &catalog, notes.as_deref(), now);
    let pagination = pagination(p.limit, &page);
    Ok(ApiResponse::json(200, &json!({"pagination": pagination, "data": data, "warnings": p.warnings, "errors": []})))
}

/// What the pages of this query read: the programs and kinds asked for, the window, and the
/// linkage versions the first page saw (a cursor carries them to later pages; one that does not
/// match this query is a 400).
fn read_plan(
    p: &Params,
    org: OrgId,
    customer: CustomerId,
    linkages: &BTreeMap<ProgramId, Linkage>,
    window: (DateTime<Utc>, DateTime<Utc>),
) -> Result<Plan, ApiResponse> {
    let fp = fingerprint(&[
        &customer.to_string(),
        &format!("{:?}", p.kinds),
        &format!("{:?}", p.program_id),
        &format!("{:?}", p.program_type),
        p.start.as_deref().unwrap_or(""),
        p.end.as_deref().unwrap_or(""),
    ]);
    let mut plan = Plan {
        org,
        customer,
        fingerprint: fp,
        programs: linkages.keys().copied().collect(),
        kinds: p.kinds,
        benefits_from: window.0,
        to: window.1,
        link_versions: linkages.iter().map(|(id, l)| (*id, l.version)).collect(),
    };
    if let Some(c) = &p.cursor {
        // Later pages read the window and the versions the first page fixed.
        if let Some((from, to)) = c.window() {
            plan.benefits_from = from;
            plan.to = to;
        }
        plan.link_versions = c.link_versions();
        if let Err(e) = check_cursor(&plan, c) {
            return Err(bad_request(e.to_string()));
        }
    }
    Ok(plan)
}

/// The page's activities per program, programs ordered by their newest activity on the page.
fn by_program(activities: &[Activity]) -> Vec<(ProgramId, Vec<&Activity>)> {
    let mut groups: Vec<(ProgramId, Vec<&Activity>)> = Vec::new();
    for a in activities {
        match groups.iter_mut().find(|(id, _)| *id == a.partner_program_id) {
            Some((_, list)) => list.push(a),
            None => groups.push((a.partner_program_id, vec![a])),
        }
    }
    groups
}

/// One `data` entry per program: its details (with the benefits summary when it has benefits),
/// its activities, and the window note.
fn program_entries(
    groups: &[(ProgramId, Vec<&Activity>)],
    summaries: Vec<Vec<BenefitSummary>>,
    linkages: &BTreeMap<ProgramId, Linkage>,
    catalog: &OrgCatalog,
    notes: Option<&str>,
    now: DateTime<Utc>,
) -> Vec<Value> {
    groups
        .iter()
        .zip(summaries)
        .map(|((id, list), summary)| {
            let mut details = match linkages.get(id) {
                Some(l) => {
                    serde_json::to_value(PartnerProgramDetails::in_catalog(catalog, l, now)).unwrap_or(Value::Null)
                }
                None => json!({"partnerProgramId": id}),
            };
            // A program without benefits has no summary (omitted, as the docs' examples do).
            if let (Some(obj), false) = (details.as_object_mut(), summary.is_empty()) {
                obj.insert("benefitsSummary".into(), json!(summary));
            }
            let history: Vec<ActivityEntry> = list.iter().flat_map(|a| ActivityEntry::of(a)).collect();
            let mut entry = json!({"partnerProgramDetails": details, "customerActivityHistory": history});
            if let (Some(obj), Some(n)) = (entry.as_object_mut(), notes) {
                obj.insert("notes".into(), json!(n));
            }
            entry
        })
        .collect()
}

fn pagination(limit: usize, page: &activity_history::Page) -> Value {
    let mut pagination = json!({"limit": limit, "offset": page.offset});
    if let Some(obj) = pagination.as_object_mut() {
        if let Some(total) = page.total {
            obj.insert("total".into(), json!(total));
        }
        if let Some(next) = &page.next {
            obj.insert("nextCursor".into(), json!(next.encode()));
        }
    }
    pagination
}

/// Every configured benefit with its use in the current cycle (the linkage's counter) and over
/// the last 365 days (summed from the benefit records of that window); the member read shows the
/// same with `includeBenefits=true`.
pub(crate) async fn benefits_summary(
    state: &AppState,
    org: u64,
    customer: u64,
    program: Option<&PartnerProgram>,
    linkage: Option<&Linkage>,
    now: DateTime<Utc>,
) -> Result<Vec<BenefitSummary>, StoreError> {
    let Some(program) = program.filter(|p| !p.benefits.is_empty()) else {
        return Ok(Vec::new());
    };
    let last_year = activity_history::benefits_availed(
        &state.store,
        org,
        customer,
        program.partner_program_id,
        now - Duration::days(365),
        now,
    )
    .await?;
    Ok(program
        .benefits
        .iter()
        .map(|b| {
            let in_cycle = linkage.and_then(|l| l.benefit_counters.get(&b.name)).map_or(0, |c| c.count_in_cycle);
            BenefitSummary {
                name: b.name.clone(),
                benefit_type: b.benefit_type.clone(),
                maximum_available_in_cycle: b.maximum_available_in_cycle,
                count_availed_in_current_cycle: in_cycle,
                count_availed_in_last365_days: last_year.get(&b.name).copied().unwrap_or(0),
                current_cycle_start_date: linkage.map(|l| format_utc(l.benefit_cycle_start())),
            }
        })
        .collect())
}

#[cfg(test)]
mod rule_tests {
    //! The query rules: which parameters are refused with which code, and the one-year window (2013).
    use super::*;
    use crate::domain::model::{AuthContext, Role};
    use crate::operations::rule_fixtures::{at, now};

    fn request(query: &[(&str, &str)]) -> ApiRequest {
        ApiRequest {
            method: "GET".into(),
            path: "/v2/partnerProgram/customerActivityHistories".into(),
            path_params: Default::default(),
            query: query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            headers: Default::default(),
            body: vec![],
            auth: AuthContext { org_id: 1, role: Role::Api, client_key: "ck_test".into(), display_name: None },
            request_id: "test".into(),
        }
    }

    fn params(extra: &[(&str, &str)]) -> Result<Params, ApiResponse> {
        let mut q = vec![("identifierName", "mobile"), ("identifierValue", "919740000001")];
        q.extend_from_slice(extra);
        parse_params(&request(&q))
    }

    /// The status and the first error's code of a refusal.
    fn refusal(r: Result<Params, ApiResponse>) -> (u16, u64) {
        let resp = r.err().expect("refused");
        let body: Value = serde_json::from_str(&resp.body).unwrap();
        (resp.status, body["errors"][0]["code"].as_u64().unwrap())
    }

    #[test]
    fn the_identifier_is_required_and_must_be_a_known_kind() {
        assert_eq!(refusal(parse_params(&request(&[("identifierName", "mobile")]))), (400, 400));
        let unknown = [("identifierName", "phone"), ("identifierValue", "1")];
        assert_eq!(refusal(parse_params(&request(&unknown))), (400, 400));
        assert!(params(&[]).is_ok());
    }

    #[test]
    fn activity_type_and_dates_follow_2014_and_2015() {
        assert_eq!(refusal(params(&[("activityType", "PURCHASES")])), (400, 2014));
        assert_eq!(refusal(params(&[("startDate", "2026-01-01")])), (400, 2015), "dates need BENEFITSAVAILED");
        let linking = [("activityType", "LINKINGUPDATES"), ("endDate", "2026-01-01")];
        assert_eq!(refusal(params(&linking)), (400, 2015));
        assert!(params(&[("activityType", "BENEFITSAVAILED"), ("startDate", "2026-01-01")]).is_ok());
    }

    #[test]
    fn a_limit_above_the_maximum_is_capped_with_a_warning_and_zero_is_refused() {
        let p = params(&[]).ok().unwrap();
        assert_eq!((p.limit, p.offset, p.warnings.len()), (DEFAULT_LIMIT, 0, 0));
        let p = params(&[("limit", "500")]).ok().unwrap();
        assert_eq!((p.limit, p.warnings.len()), (MAX_LIMIT, 1));
        for bad in ["0", "-1", "ten"] {
            assert_eq!(refusal(params(&[("limit", bad)])), (400, 400), "{bad}");
        }
        let too_far = (MAX_HISTORY_OFFSET + 1).to_string();
        assert_eq!(refusal(params(&[("offset", too_far.as_str())])), (400, 400));
        let at_limit = MAX_HISTORY_OFFSET.to_string();
        assert_eq!(params(&[("offset", at_limit.as_str())]).ok().unwrap().offset, MAX_HISTORY_OFFSET);
    }

    #[test]
    fn program_filters_are_a_number_and_a_known_type() {
        let p = params(&[("partnerProgramId", "7"), ("partnerProgramType", "supplementary")]).ok().unwrap();
        assert_eq!((p.program_id, p.program_type), (Some(7), Some(PartnerProgramType::Supplementary)));
        assert_eq!(refusal(params(&[("partnerProgramId", "x")])), (400, 400));
        assert_eq!(refusal(params(&[("partnerProgramType", "PARTNER")])), (400, 400));
        assert_eq!(refusal(params(&[("cursor", "not-a-cursor")])), (400, 400));
    }

    fn window_of(start: Option<&str>, end: Option<&str>) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiResponse> {
        let mut q = vec![("activityType", "BENEFITSAVAILED")];
        q.extend(start.map(|s| ("startDate", s)));
        q.extend(end.map(|e| ("endDate", e)));
        window(&params(&q).ok().unwrap(), &Zone::named("Asia/Kolkata").unwrap(), now())
    }

    #[test]
    fn without_dates_the_window_is_the_365_days_up_to_now() {
        assert_eq!(window_of(None, None).ok().unwrap(), (now() - Duration::days(365), now()));
        // An end alone: the 365 days up to its end of day (23:59:59 in the org's zone).
        let (start, end) = window_of(None, Some("2026-03-01")).ok().unwrap();
        assert_eq!((start, end), (at("2026-03-01T18:29:59Z") - Duration::days(365), at("2026-03-01T18:29:59Z")));
    }

    #[test]
    fn a_window_of_a_year_or_more_is_2013_and_an_inverted_one_is_400() {
        let code = |start, end| {
            let resp = window_of(Some(start), Some(end)).err().unwrap();
            let body: Value = serde_json::from_str(&resp.body).unwrap();
            (resp.status, body["errors"][0]["code"].as_u64().unwrap())
        };
        // A bare start date is the start of that day; a bare end date its end.
        assert_eq!(
            window_of(Some("2025-06-02"), Some("2026-06-01")).ok().unwrap(),
            (at("2025-06-01T18:30:00Z"), at("2026-06-01T18:29:59Z"))
        );
        assert_eq!(code("2025-06-01", "2026-06-01"), (400, 2013), "a year and a day");
        assert_eq!(code("2025-06-01T00:00:00+05:30", "2026-06-01T00:00:00+05:30"), (400, 2013), "exactly a year");
        assert!(window_of(Some("2025-06-01T00:00:00+05:30"), Some("2026-05-31T23:59:59+05:30")).is_ok());
        assert_eq!(code("2026-02-01", "2026-01-01"), (400, 400));
    }
}
