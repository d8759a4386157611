//! What a hostile client (or a burst of clients) tried, and must never achieve: overflow a
//! counter into a failing read, smuggle bytes through path or query decoding, make a key too large
//! for DynamoDB, send numbers or dates the service cannot keep, hide in the logs. One test per
//! defect class; each failed before its fix.

use crate::support::*;
use crate::update_partner_program::{assert_code, detail, linked_gold, M2001};
use serde_json::{json, Value};
use std::time::Duration;

const HISTORY: &str = "/v2/partnerProgram/customerActivityHistories";
const M2008: &str = "Cannot process if partner program limit is more than 50.";
const M2017: &str = "Benefits count should be more than 0.";

fn benefits_status(r: &Resp) -> Value {
    first_status(r, "customerBenefits", "partnerProgramBenefits", "benefitStatus")
}

fn link_status(r: &Resp) -> Value {
    first_status(r, "linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus")
}

fn priority_boarding(mobile: &str, count: Value) -> Value {
    json!({"customerBenefits": [{"customer": {"mobile": mobile}, "partnerProgramBenefits": [
        {"partnerProgramName": "SkyMiles", "benefits": [{"name": "PriorityBoarding", "count": count}]}]}]})
}

fn error_message(r: &Resp) -> String {
    r.body["errors"][0]["message"].as_str().unwrap_or_default().to_string()
}

/// A count near 2^63 twice overflowed the history summary (a panic, then a 500 on every
/// later read of that customer). Counts are bounded at write time; reads saturate anyway.
#[tokio::test]
async fn benefit_counts_are_bounded_and_a_customers_history_never_fails() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let mobile = "919790000001";
    let id = linked_gold(&f, mobile, 30).await;
    let avail =
        |count: Value| f.org.post(&f.org.api, "/v2/partnerProgram/customerBenefits", priority_boarding(mobile, count));
    let huge = [avail(json!(9223372036854775808u64)).await, avail(json!(9223372036854775808u64)).await];
    let read = f.org.get(&f.org.api, &format!("{HISTORY}?identifierName=mobile&identifierValue={mobile}")).await;
    assert_eq!(read.status, 200, "history after two huge counts: {}", read.text);
    for r in &huge {
        let s = benefits_status(r);
        assert_code(&s, 2017, M2017);
        assert!(detail(&s).contains("1000000"), "{s}");
    }
    // The documented maximum per benefit and request is accepted and counted exactly.
    let r = avail(json!(1_000_000)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = avail(json!(1_000_001)).await;
    assert_code(&benefits_status(&r), 2017, M2017);

    // Whatever is stored (here: counters and records at u64::MAX, as no write accepts), a read
    // saturates instead of failing.
    let client = app.state.store.client();
    let linkage = stored(&app.state, f.org.org_id, id, "LINK#").await[0].clone();
    let history = stored(&app.state, f.org.org_id, id, "HIST#").await;
    let record = history.iter().find(|i| i["SK"].as_s().unwrap().contains("#B#")).unwrap().clone();
    use aws_sdk_dynamodb::types::AttributeValue as Av;
    let max = Av::N(u64::MAX.to_string());
    let mut l = linkage.clone();
    let mut counters = l["benefitCounters"].as_m().unwrap().clone();
    counters.insert("PriorityBoarding".into(), Av::M([("countInCycle".to_string(), max.clone())].into()));
    l.insert("benefitCounters".into(), Av::M(counters));
    client.put_item().table_name(app.state.store.table()).set_item(Some(l)).send().await.unwrap();
    for suffix in ["x1", "x2"] {
        let mut r = record.clone();
        r.insert("SK".into(), Av::S(format!("{}{suffix}", record["SK"].as_s().unwrap())));
        let details = json!({"benefits": [{"name": "PriorityBoarding", "type": "BOARDING", "count": u64::MAX}]});
        r.insert("benefitDetails".into(), serde_dynamo::to_attribute_value(&details).unwrap());
        client.put_item().table_name(app.state.store.table()).set_item(Some(r)).send().await.unwrap();
    }
    let read = f.org.get(&f.org.api, &format!("{HISTORY}?identifierName=mobile&identifierValue={mobile}")).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let summary = &read.body["data"][0]["partnerProgramDetails"]["benefitsSummary"];
    let pb = summary.as_array().unwrap().iter().find(|b| b["name"] == "PriorityBoarding").unwrap();
    assert_eq!(pb["countAvailedInLast365Days"], json!(u64::MAX), "{pb}");
    assert_eq!(pb["countAvailedInCurrentCycle"], json!(u64::MAX), "{pb}");
}

/// Parallel mixed updates left the newest linking record describing an older state.
/// Each record now carries the state it changed `from` and the state it left (`to`), in commit order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mixed_updates_leave_the_history_in_commit_order() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let mobile = "919790000002";
    linked_gold(&f, mobile, 30).await;
    let kinds = [
        ("UPGRADE", "Platinum"),
        ("DOWNGRADE", "Silver"),
        ("UPDATE", "Gold"),
        ("UPDATE", "Platinum"),
        ("UPDATE", "Silver"),
    ];
    let bodies: Vec<Value> = (0..20)
        .map(|i| {
            let (kind, tier) = kinds[i % kinds.len()];
            crate::update_partner_program::update_body(
                json!({"mobile": mobile}),
                "SkyMiles",
                kind,
                Some(json!({"updatedTierName": tier, "updatedTierExpiryDate": future_date(40 + i as i64)})),
            )
        })
        .collect();
    futures::future::join_all(
        bodies.into_iter().map(|b| f.org.post(&f.org.api, "/v2/partnerProgram/customerPartnerProgramUpdate", b)),
    )
    .await;
    let read = f
        .org
        .get(
            &f.org.api,
            &format!("{HISTORY}?identifierName=mobile&identifierValue={mobile}&activityType=LINKINGUPDATES&limit=100"),
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    let details = &read.body["data"][0]["partnerProgramDetails"];
    let records = read.body["data"][0]["customerActivityHistory"].as_array().unwrap().clone();
    let newest = &records[0];
    assert_eq!(newest["partnerTierName"], details["partnerTierName"], "newest record vs state: {}", read.text);
    assert_eq!(newest["partnerTierExpiryDate"], details["partnerTierExpiryDate"], "{}", read.text);
    assert_commit_order(&records);
}

/// Oldest to newest, each record's `from` is the `to` of the one before, and the first is the
/// enrollment from nothing.
pub fn assert_commit_order(newest_first: &[Value]) {
    let oldest_first: Vec<&Value> = newest_first.iter().rev().collect();
    assert_eq!(oldest_first[0]["activityType"], "ENROLLMENT", "{:?}", oldest_first[0]);
    assert!(oldest_first[0]["from"].is_null(), "{}", oldest_first[0]);
    for pair in oldest_first.windows(2) {
        assert!(pair[1]["from"].is_object(), "no from state: {}", pair[1]);
        assert_eq!(pair[1]["from"], pair[0]["to"], "impossible step from {} to {}", pair[0], pair[1]);
    }
    let last = oldest_first[oldest_first.len() - 1];
    assert_eq!(last["to"]["partnerTierName"], last["partnerTierName"], "{last}");
}

/// The path parameter went through a query-string decoder (a raw `&` cut the name,
/// invalid UTF-8 became U+FFFD, `%00` a NUL), and `post` was routed like `POST`.
#[tokio::test]
async fn path_and_query_parameters_are_decoded_strictly() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let admin = [("authorization", f.org.admin.as_str()), ("content-type", "application/json")];
    let victim =
        json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "partnerProgramDescription": "original"});
    f.org.partner_program("Victim", victim.clone()).await;
    let mut attack = victim.clone();
    attack["partnerProgramDescription"] = json!("replaced");
    for raw in ["Victim&x=1", "Bad%FF", "Bad%C0%AF", "Bad%00", "Bad%0A", "Bad%2", "Bad%zz"] {
        let r = request(
            &app.base,
            "PUT",
            &format!("/v2/organization/partnerPrograms/{raw}"),
            &admin,
            attack.to_string().into_bytes(),
        )
        .await;
        assert_eq!(r.status, 400, "{raw}: {}", r.text);
        assert!(error_message(&r).contains("partnerProgramName"), "{raw}: {}", r.text);
    }
    let listing = f.org.get(&f.org.api, "/v2/organization/programs").await;
    assert!(listing.text.contains("original") && !listing.text.contains("replaced"), "{}", listing.text);
    assert!(!listing.text.contains('\u{fffd}') && !listing.text.contains("\\u0000"), "{}", listing.text);
    // Percent-encoding is how a name carries such characters.
    let r = request(
        &app.base,
        "PUT",
        "/v2/organization/partnerPrograms/Sky%20%26%20Sea",
        &admin,
        victim.to_string().into_bytes(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["partnerProgramName"], "Sky & Sea");

    // Methods are case-sensitive (RFC 9110): `post` is not POST.
    let api = [("authorization", f.org.api.as_str()), ("content-type", "application/json")];
    let r = request(&app.base, "post", "/v2/partnerProgram/linkCustomer", &api, b"{}".to_vec()).await;
    assert_eq!(r.status, 405, "{}", r.text);

    // Query values: the same strictness, naming the parameter.
    f.enrolled("919790000003").await;
    for (query, name) in [
        ("identifierName=mobile&identifierValue=%FF", "identifierValue"),
        ("identifierName=mobile&identifierValue=91979%000003", "identifierValue"),
        ("identifierName=mob%ile&identifierValue=919790000003", "identifierName"),
        ("identifierName=mobile&identifierName=email&identifierValue=919790000003", "identifierName"),
    ] {
        let r = f.org.get(&f.org.api, &format!("/v2/partnerProgram/customerPartnerPrograms?{query}")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
        assert!(error_message(&r).contains(name), "{query}: {}", r.text);
    }
    let r = f
        .org
        .get(
            &f.org.api,
            "/v2/partnerProgram/customerPartnerPrograms?identifierName=mobile&identifierValue=%2B91%209790000003",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// An identifier over DynamoDB's key size was reported as a storage outage (503, or 2001
/// "retry the item"); registering one was a 500. Limits are checked before any key is built.
#[tokio::test]
async fn identifiers_too_long_for_a_key_are_client_errors_naming_the_field() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let long = "x".repeat(3000);
    for (field, value) in [
        ("externalId", json!(long)),
        ("email", json!(format!("{long}@example.com"))),
        ("mobile", json!("9".repeat(3000))),
    ] {
        let r = f.org.link(link_body(json!({ field: value }), "FlexiPass", json!({}))).await;
        assert_eq!(r.status, 201, "{field}: {}", r.text);
        let c = &r.body["linkCustomers"][0]["customer"]["status"];
        assert_eq!(c["code"], 8015, "{field}: {}", r.text);
        assert!(c["detail"].as_str().unwrap_or_default().contains(field), "{field}: {}", r.text);
    }
    let r = f.org.post(&f.org.admin, "/v2/customers", json!({"externalId": long, "programIds": [f.rewards]})).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(error_message(&r).contains("externalId"), "{}", r.text);
    for path in ["/v2/partnerProgram/customerPartnerPrograms", HISTORY] {
        let r = f.org.get(&f.org.api, &format!("{path}?identifierName=externalId&identifierValue={long}")).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        assert!(error_message(&r).contains("identifierValue"), "{path}: {}", r.text);
    }
    f.enrolled("919790000004").await;
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919790000004"}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerMembershipId": long}),
        ))
        .await;
    let s = link_status(&r);
    assert_code(&s, 2001, M2001);
    assert!(detail(&s).contains("partnerMembershipId"), "{s}");
    let r = f
        .org
        .post(
            &f.org.api,
            "/v2/partnerProgram/customerBenefits",
            json!({
                "customerBenefits": [{
                    "customer": {"mobile": "919790000004"},
                    "partnerProgramBenefits": [{
                        "partnerProgramName": "SkyMiles", "benefits": [{"name": "PriorityBoarding", "count": 1}],
                        "storeName": "s".repeat(5000)
                    }]
                }]
            }),
        )
        .await;
    assert_ne!(r.status, 503, "{}", r.text);
}

/// A number DynamoDB cannot store (1e308) was a 500.
#[tokio::test]
async fn points_exchange_rates_out_of_range_are_400_naming_the_field() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    for rate in ["1e308", "-1", "1e-200", "123456789012345678901234567890123456789012"] {
        let body = format!(
            r#"{{"programId": {}, "partnerProgramType": "EXTERNAL", "pointsExchangeRate": {rate}}}"#,
            f.rewards
        );
        let r = request(
            &app.base,
            "PUT",
            "/v2/organization/partnerPrograms/Rated",
            &[("authorization", &f.org.admin), ("content-type", "application/json")],
            body.into_bytes(),
        )
        .await;
        assert_eq!(r.status, 400, "{rate}: {}", r.text);
        assert!(error_message(&r).contains("pointsExchangeRate"), "{rate}: {}", r.text);
    }
    let r = f
        .org
        .put(
            &f.org.admin,
            "/v2/organization/partnerPrograms/Rated",
            json!({"programId": f.rewards, "partnerProgramType": "EXTERNAL", "pointsExchangeRate": 0.25}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.body["pointsExchangeRate"], json!(0.25));
}

/// Anything after the first JSON document was ignored.
#[tokio::test]
async fn trailing_garbage_after_the_json_body_is_400() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let h = [("authorization", f.org.admin.as_str()), ("content-type", "application/json")];
    for body in [
        &br#"{"programName":"x"} garbage"#[..],
        br#"{"programName":"x"}{"programName":"y"}"#,
        br#"{"programName":"x"},"#,
    ] {
        let r = request(&app.base, "POST", "/v2/organization/programs", &h, body.to_vec()).await;
        assert_eq!(r.status, 400, "{}: {}", String::from_utf8_lossy(body), r.text);
    }
    let r = request(&app.base, "POST", "/v2/organization/programs", &h, b" {\"programName\":\"x\"} \n".to_vec()).await;
    assert_eq!(r.status, 201, "whitespace around the document is fine: {}", r.text);
}

/// Dates outside years 1–9999 and with stray whitespace were accepted, and a stored
/// year-10000 instant came back as `+10000-…`.
#[tokio::test]
async fn dates_outside_years_1_to_9999_or_with_stray_whitespace_are_refused() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919790000005").await;
    for raw in [
        "+99999-01-01",
        "0000-01-01",
        "2030-01-01\n",
        " 2030-01-01",
        "2030-01-01T10:00:00+05:30 ",
        "9999-12-31T23:59:59-05:00",
        "10000-01-01",
    ] {
        let r = f
            .org
            .link(link_body(
                json!({"mobile": "919790000005"}),
                "SkyMiles",
                json!({"partnerTierName": "Gold", "partnerTierExpiryDate": raw}),
            ))
            .await;
        let s = link_status(&r);
        assert_code(&s, 2001, M2001);
        assert!(detail(&s).contains("partnerTierExpiryDate"), "{raw:?}: {s}");
    }
    // The latest date there is works, and what is derived from it never prints a fifth digit.
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919790000005"}),
            "FlexiPass",
            json!({"membershipStartDate": "9999-12-20T00:00:00Z"}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919790000005"}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "9999-12-31"}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let read = f.org.linked_programs("mobile", "919790000005").await;
    assert!(!read.text.contains("+10000") && !read.text.contains("\"10000-"), "{}", read.text);
    let flexi = read.body["linkedPartnerPrograms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partnerProgramName"] == "FlexiPass")
        .unwrap();
    assert_eq!(flexi["partnerProgramMembershipEndDate"], "9999-12-31T23:59:59Z", "{flexi}");
    let sky = read.body["linkedPartnerPrograms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partnerProgramName"] == "SkyMiles")
        .unwrap();
    assert_eq!(sky["partnerTierExpiryDate"], "9999-12-31T18:29:59Z", "end of day in Asia/Kolkata: {sky}");
    let history = f.org.get(&f.org.api, &format!("{HISTORY}?identifierName=mobile&identifierValue=919790000005")).await;
    assert_eq!(history.status, 200, "{}", history.text);
    assert!(!history.text.contains("+10000"), "{}", history.text);
}

/// The form of Capillary's older docs, with a space before the offset, is accepted.
#[tokio::test]
async fn dates_with_a_space_before_the_offset_are_accepted() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919790000006").await;
    let r = f
        .org
        .link(link_body(
            json!({"mobile": "919790000006"}),
            "SkyMiles",
            json!({"partnerTierName": "Gold", "partnerTierExpiryDate": "2030-11-30 17:55:00 +05:30"}),
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let read = f.org.linked_programs("mobile", "919790000006").await;
    assert_eq!(read.body["linkedPartnerPrograms"][0]["partnerTierExpiryDate"], "2030-11-30T12:25:00Z", "{}", read.text);
}

/// 51 program entries under one customer were all processed (only customers were counted).
#[tokio::test]
async fn more_than_50_program_entries_for_one_customer_is_2008() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    f.enrolled("919790000007").await;
    let entries: Vec<Value> = (0..51).map(|_| json!({"partnerProgramName": "FlexiPass"})).collect();
    let r = f
        .org
        .link(json!({"linkCustomers": [{"customer": {"mobile": "919790000007"}, "linkToPartnerPrograms": entries}]}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.body["errors"][0]["code"], 2008, "{}", r.text);
    assert_eq!(r.body["errors"][0]["message"], M2008);
    assert!(r.body["errors"][0]["detail"].as_str().unwrap().contains("51"), "{}", r.text);
    let read = f.org.linked_programs("mobile", "919790000007").await;
    assert_eq!(read.body["linkedPartnerPrograms"], json!([]), "nothing was processed: {}", read.text);
}

/// `externalId` was logged in clear, and refused requests (401/403/404/405) left no line.
#[tokio::test]
async fn logs_mask_external_ids_and_record_every_refused_request() {
    let logs = captured_logs();
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let secret_ext = format!("EXT-{marker}");
    let r = f.org.link(link_body(json!({"externalId": secret_ext}), "FlexiPass", json!({}))).await;
    assert_eq!(r.body["linkCustomers"][0]["customer"]["status"]["code"], 8015);
    let r = f
        .org
        .get(
            &f.org.api,
            &format!(
                "/v2/partnerProgram/customerPartnerPrograms?identifierName=externalId&identifierValue={secret_ext}"
            ),
        )
        .await;
    assert_eq!(r.status, 200);

    let probe_key = format!("ck_{marker}");
    let probe_secret = format!("secret-{marker}");
    let r = request(
        &app.base,
        "GET",
        "/v2/organization/programs",
        &[("authorization", &basic_raw(&probe_key, &probe_secret))],
        vec![],
    )
    .await;
    assert_eq!(r.status, 401);
    let r = f.org.post(&f.org.api, &format!("/v2/organization/programs?m={marker}"), json!({"programName": "X"})).await;
    assert_eq!(r.status, 403);
    let missing = format!("/v2/nothing-{marker}");
    assert_eq!(f.org.get(&f.org.api, &missing).await.status, 404);
    assert_eq!(
        request(&app.base, "DELETE", &format!("/v2/customers?m={marker}"), &[("authorization", &f.org.api)], vec![])
            .await
            .status,
        405
    );

    // Lines are written as the response goes out; give the writer a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let text = logs.text();
    assert!(!text.contains(&secret_ext), "externalId in clear in the logs");
    assert!(!text.contains(&probe_secret), "a secret in the logs");
    let lines = logs.lines();
    let unauthorized = lines
        .iter()
        .find(|l| {
            l["status"] == 401
                && l["clientKey"].as_str().is_some_and(|k| k.ends_with(&probe_key[probe_key.len() - 4..]))
        })
        .unwrap_or_else(|| panic!("no 401 line with the masked client key"));
    assert!(!unauthorized.to_string().contains(&probe_key), "client key in clear: {unauthorized}");
    assert_eq!(unauthorized["method"], "GET", "{unauthorized}");
    assert_eq!(unauthorized["path"], "/v2/organization/programs", "{unauthorized}");
    assert!(lines.iter().any(|l| l["status"] == 404 && l["path"] == missing.as_str()), "no 404 line");
    assert!(
        lines.iter().any(|l| l["status"] == 405 && l["method"] == "DELETE" && l["path"] == "/v2/customers"),
        "no 405 line"
    );
    assert!(
        lines.iter().any(|l| l["status"] == 403 && l["method"] == "POST" && l["path"] == "/v2/organization/programs"),
        "no 403 line"
    );
}

/// The local server kept idle and half-sent connections open for ever.
#[tokio::test]
async fn the_local_server_closes_idle_and_half_sent_connections() {
    let app = TestApp::start().await;
    let f = fixture(&app).await;
    let wait = Duration::from_secs(40);
    let auth = f.org.api.clone();
    let complete = format!("GET /v2/organization/programs HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\n\r\n");
    let half_body = format!(
        "POST /v2/organization/programs HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Type: \
         application/json\r\nContent-Length: 100\r\n\r\n{{\"progr"
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("nothing sent", Vec::new()),
        ("half the headers", b"GET /v2/organization/programs HTTP/1.1\r\nHost: x\r\n".to_vec()),
        ("half the body", half_body.into_bytes()),
        ("idle after a complete request", complete.into_bytes()),
    ];
    let results = futures::future::join_all(cases.iter().map(|(_, bytes)| raw_exchange(&app.base, bytes, wait))).await;
    for ((name, _), got) in cases.iter().zip(results) {
        let got = got.unwrap_or_else(|| panic!("{name}: the connection was still open after {wait:?}"));
        if *name == "idle after a complete request" {
            assert!(got.starts_with("HTTP/1.1 200"), "{name}: {got}");
        }
        if *name == "half the body" {
            assert!(got.is_empty() || got.starts_with("HTTP/1.1 408"), "{name}: {got}");
        }
    }
}
