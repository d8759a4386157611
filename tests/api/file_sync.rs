//! Partner tier files (docs/file-sync.md): the reader streams any `Read`, checks the header and
//! numbers the rows; each row is applied through the API's own operation, with the API's codes,
//! exactly once per (file, row), in file order, against DynamoDB Local.

use crate::support::*;
use serde_json::{json, Value};
use shared::file_sync::{apply_row, FileError, FileReader, RowResult};
use shared::state::AppState;
use std::collections::BTreeMap;
use std::io::Read;

pub(crate) const SAMPLE: &str = include_str!("../fixtures/partner-file-sample.csv");

/// The code each row of the sample file gets, in order (the table in docs/file-sync.md).
pub(crate) const SAMPLE_CODES: [u16; 13] = [200, 200, 200, 200, 8015, 2007, 2003, 200, 2005, 2009, 2001, 200, 200];

/// Every row of `file` applied in file order, as `file_id` for SkyMiles.
async fn apply_file(state: &AppState, org: u64, file_id: &str, file: &str) -> Vec<(u64, RowResult)> {
    let mut results = Vec::new();
    for (row_no, row) in FileReader::new(file.as_bytes()).unwrap() {
        let result = match row {
            Ok(row) => apply_row(state, org, "SkyMiles", file_id, row_no, &row).await,
            Err(malformed) => malformed,
        };
        results.push((row_no, result));
    }
    results
}

fn codes(results: &[(u64, RowResult)]) -> Vec<u16> {
    results.iter().map(|(_, r)| r.code).collect()
}

/// `v` with every object's keys sorted (stored maps come back in any order).
fn canonical(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let sorted: BTreeMap<String, Value> = map.into_iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(canonical).collect()),
        other => other,
    }
}

/// What the org has stored of its memberships: linkages (with counters and recent changes),
/// history records and events, each item as text, sorted.
async fn snapshot(state: &AppState, org: u64) -> BTreeMap<&'static str, Vec<String>> {
    let mut all = BTreeMap::new();
    for entity in ["LINKAGE", "ACTIVITY", "EVENT"] {
        let mut items: Vec<String> = scan_entities(state, entity, Some(org))
            .await
            .into_iter()
            .map(|item| canonical(serde_dynamo::from_item(item).unwrap()).to_string())
            .collect();
        items.sort();
        all.insert(entity, items);
    }
    all
}

pub(crate) async fn sample_org(app: &TestApp) -> Fixture {
    let f = fixture(app).await;
    for n in 1..=4 {
        f.enrolled(&format!("91980000000{n}")).await;
    }
    f
}

#[tokio::test]
async fn the_sample_file_applied_row_by_row_gives_each_row_its_code_and_a_rerun_changes_nothing() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let org = f.org.org_id;
    let first = apply_file(&app.state, org, "sample-1", SAMPLE).await;
    let rows: Vec<u64> = first.iter().map(|(n, _)| *n).collect();
    assert_eq!(rows, (1..=13).collect::<Vec<_>>(), "rows numbered from 1 after the header");
    assert_eq!(codes(&first), SAMPLE_CODES, "{first:#?}");
    // Bad rows did not stop the file: the rows after them were applied.
    let r = f.org.linked_programs("mobile", "919800000004").await;
    assert_eq!(r.body["linkedPartnerPrograms"][0]["partnerTierName"], "Platinum", "{}", r.text);
    let r = f.org.linked_programs("mobile", "919800000001").await;
    assert_eq!(r.body["linkedPartnerPrograms"][0]["partnerTierName"], "Gold", "{}", r.text);

    let before = snapshot(&app.state, org).await;
    assert!(before.values().all(|items| !items.is_empty()), "{before:?}");
    let again = apply_file(&app.state, org, "sample-1", SAMPLE).await;
    // Applied rows are recognised and answer their first success; a refused row is decided again,
    // on the memberships as they are now: row 7's member was delinked by row 13 (2004, not 2003).
    let mut rerun_codes = SAMPLE_CODES;
    rerun_codes[6] = 2004;
    assert_eq!(codes(&again), rerun_codes, "{again:#?}");
    assert_eq!(snapshot(&app.state, org).await, before, "a rerun writes nothing: history, events, counters");

    // The same file under another id is a new file: its LINK rows find the members linked.
    let other = apply_file(&app.state, org, "sample-2", SAMPLE).await;
    assert_eq!(other[0].1.code, 2005, "{other:#?}");
}

#[tokio::test]
async fn a_missing_column_is_a_file_error_that_names_it() {
    let missing = |header: &str| match FileReader::new(format!("{header}\n").as_bytes()) {
        Err(FileError::MissingColumns(which)) => which,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("{header} accepted"),
    };
    assert!(missing("partnerMembershipId,action,partnerTierName").contains("partnerTierExpiryDate"));
    assert!(missing("partnerMembershipId,partnerTierName,partnerTierExpiryDate").contains("action"));
    let no_value = missing("identifierName,action,partnerTierName,partnerTierExpiryDate");
    assert!(no_value.contains("identifierValue"), "{no_value}");
    let no_customer = missing("action,partnerTierName,partnerTierExpiryDate");
    assert!(no_customer.contains("partnerMembershipId"), "{no_customer}");
    assert!(matches!(FileReader::new(&b""[..]), Err(FileError::MissingColumns(_))), "an empty file has no header");
    let ok = "partnerMembershipId,action,partnerTierName,partnerTierExpiryDate\n";
    assert!(FileReader::new(ok.as_bytes()).is_ok());
}

#[test]
fn a_row_that_cannot_be_read_is_its_own_2001_and_the_next_row_is_read() {
    let mut file = b"\xEF\xBB\xBFpartnerMembershipId,action,partnerTierName,partnerTierExpiryDate\n".to_vec();
    file.extend_from_slice(b"SM-1,UPDATE,Gold\n");
    file.extend_from_slice(b"SM-\xFF\xFE,UPDATE,Gold,2030-12-31\n");
    file.extend_from_slice(b"\"SM-3, quoted\",UPDATE,\"Gold\",2030-12-31\n");
    let rows: Vec<_> = FileReader::new(&file[..]).expect("a byte-order mark before the header is ignored").collect();
    assert_eq!(rows.len(), 3);
    for (n, (row_no, row)) in rows.iter().take(2).enumerate() {
        assert_eq!(*row_no, n as u64 + 1);
        let refused = row.as_ref().unwrap_err();
        assert_eq!(refused.code, 2001, "{refused:?}");
        assert!(refused.detail.as_deref().unwrap_or("").starts_with("malformed row"), "{refused:?}");
    }
    let last = rows[2].1.as_ref().unwrap();
    assert_eq!(last.partner_membership_id.as_deref(), Some("SM-3, quoted"));
    assert_eq!(last.partner_tier_name.as_deref(), Some("Gold"));
}

#[tokio::test]
async fn rows_of_one_customer_apply_in_file_order() {
    let app = TestApp::start().await;
    let f = sample_org(&app).await;
    let file = "identifierName,identifierValue,action,partnerTierName,partnerTierExpiryDate\n\
                mobile,919800000001,LINK,Silver,2030-12-31\n\
                mobile,919800000001,UPGRADE,Platinum,2030-12-31\n\
                mobile,919800000001,DOWNGRADE,Gold,2030-12-31\n\
                mobile,919800000001,UPGRADE,Platinum,2030-12-31\n\
                mobile,919800000001,DOWNGRADE,Silver,2030-12-31\n";
    let results = apply_file(&app.state, f.org.org_id, "order", file).await;
    assert_eq!(codes(&results), [200; 5], "{results:#?}");
    let r = f.org.linked_programs("mobile", "919800000001").await;
    assert_eq!(r.body["linkedPartnerPrograms"][0]["partnerTierName"], "Silver", "the last row wins: {}", r.text);
    let mut history: Vec<Value> = scan_entities(&app.state, "ACTIVITY", Some(f.org.org_id))
        .await
        .iter()
        .map(|item| serde_dynamo::from_item(item.clone()).unwrap())
        .collect();
    history.sort_by_key(|h: &Value| h["version"].as_u64());
    let kinds: Vec<&str> = history.iter().filter_map(|h| h["activityType"].as_str()).collect();
    assert_eq!(kinds, ["ENROLLMENT", "UPGRADE", "DOWNGRADE", "UPGRADE", "DOWNGRADE"], "{history:#?}");
}

/// The API body of one row of `PARITY` (action, mobile, tier, expiry).
pub(crate) fn api_request(row: &[&str; 4]) -> (&'static str, Value) {
    let [action, mobile, tier, expiry] = *row;
    let customer = json!({"mobile": mobile});
    match action {
        "LINK" => (
            "/v2/partnerProgram/linkCustomer",
            link_body(customer, "SkyMiles", json!({"partnerTierName": tier, "partnerTierExpiryDate": expiry})),
        ),
        "DELINK" => (
            "/v2/partnerProgram/deLinkCustomer",
            json!({"deLinkCustomers": [{"customer": customer,
                "deLinkFromPartnerPrograms": [{"partnerProgramName": "SkyMiles"}]}]}),
        ),
        kind => (
            "/v2/partnerProgram/customerPartnerProgramUpdate",
            json!({"customersPartnerUpdates": [{"customer": customer, "partnerProgramUpdates": [{
                "partnerProgramName": "SkyMiles", "updateType": kind,
                "updateDetails": {"updatedTierName": tier, "updatedTierExpiryDate": expiry}}]}]}),
        ),
    }
}

pub(crate) const PARITY: [[&str; 4]; 10] = [
    ["LINK", "919800000001", "Silver", "2030-12-31"],
    ["LINK", "919800000001", "Silver", "2030-12-31"],
    ["LINK", "919800000002", "Bronze", "2030-12-31"],
    ["LINK", "919800000002", "Gold", "2019-12-31"],
    ["LINK", "919800000099", "Gold", "2030-12-31"],
    ["UPGRADE", "919800000001", "Silver", "2031-12-31"],
    ["DOWNGRADE", "919800000003", "Silver", "2031-12-31"],
    ["RENEW", "919800000001", "Silver", "2032-12-31"],
    ["DELINK", "919800000001", "", ""],
    ["DELINK", "919800000001", "", ""],
];

/// The code the API answers each row of `PARITY`, sent one request per row to `by_api`'s org.
pub(crate) async fn parity_api_codes(by_api: &Fixture) -> Vec<u16> {
    let mut api_codes = Vec::new();
    for row in &PARITY {
        let (path, body) = api_request(row);
        let r = by_api.org.post(&by_api.org.api, path, body).await;
        let (batch, programs, status) = match path {
            "/v2/partnerProgram/linkCustomer" => ("linkCustomers", "linkToPartnerPrograms", "partnerLinkStatus"),
            "/v2/partnerProgram/deLinkCustomer" => {
                ("deLinkCustomers", "deLinkFromPartnerPrograms", "partnerDeLinkStatus")
            }
            _ => ("customersPartnerUpdates", "partnerProgramUpdates", "updateStatus"),
        };
        let code = first_status(&r, batch, programs, status)["code"].as_u64().unwrap();
        api_codes.push(u16::try_from(code).unwrap());
    }
    api_codes
}

/// `PARITY` as a file.
pub(crate) fn parity_file() -> String {
    let mut file = String::from("identifierName,identifierValue,action,partnerTierName,partnerTierExpiryDate\n");
    for [action, mobile, tier, expiry] in PARITY {
        file.push_str(&format!("mobile,{mobile},{action},{tier},{expiry}\n"));
    }
    file
}

pub(crate) const PARITY_CODES: [u16; 10] = [200, 2005, 2007, 2003, 8015, 2001, 2004, 200, 200, 2004];

#[tokio::test]
async fn the_same_rows_give_the_same_codes_through_the_api_and_through_a_file() {
    let app = TestApp::start().await;
    let (by_file, by_api) = (sample_org(&app).await, sample_org(&app).await);
    let api_codes = parity_api_codes(&by_api).await;
    let file_codes = codes(&apply_file(&app.state, by_file.org.org_id, "parity", &parity_file()).await);
    assert_eq!(file_codes, api_codes);
    assert_eq!(file_codes, PARITY_CODES);
}

/// A file of `rows` generated rows, produced as it is read: it never exists whole.
struct Generated {
    rows: u64,
    next: u64,
    pending: Vec<u8>,
    /// Bytes handed to the reader so far.
    given: u64,
}

impl Generated {
    const HEADER: &'static str = "partnerMembershipId,action,partnerTierName,partnerTierExpiryDate\n";

    fn new(rows: u64) -> Self {
        Generated { rows, next: 0, pending: Self::HEADER.as_bytes().to_vec(), given: 0 }
    }

    fn row(n: u64) -> String {
        format!("SM-{n:08},UPDATE,Gold,2030-12-31\n")
    }
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() && self.next < self.rows {
            self.next += 1;
            self.pending = Self::row(self.next).into_bytes();
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        self.given += n as u64;
        Ok(n)
    }
}

#[tokio::test]
async fn the_reader_streams_a_file_of_100000_rows_one_record_at_a_time() {
    let source = std::rc::Rc::new(std::cell::RefCell::new(Generated::new(100_000)));
    struct Shared(std::rc::Rc<std::cell::RefCell<Generated>>);
    impl Read for Shared {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().read(buf)
        }
    }
    let mut reader = FileReader::new(Shared(source.clone())).unwrap();
    let row_len = Generated::row(1).len() as u64;
    // The reader's read-ahead: the csv crate's fixed 8 KiB buffer, whatever the file's size.
    let buffer = 8 * 1024;
    let mut count = 0;
    for (row_no, row) in reader.by_ref() {
        count += 1;
        assert_eq!(row_no, count);
        let row = row.unwrap();
        assert_eq!(row.partner_membership_id.as_deref(), Some(format!("SM-{count:08}").as_str()));
        let through_this_row = Generated::HEADER.len() as u64 + count * row_len;
        let given = source.borrow().given;
        assert!(
            given <= through_this_row + buffer,
            "row {count}: {given} bytes read, {through_this_row} needed: the reader reads ahead of its buffer"
        );
    }
    assert_eq!(count, 100_000);
}
