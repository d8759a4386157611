//! The Capillary Partner Program error catalog (docs/contract.md#error-catalog), byte for byte, as one table,
//! and the per-item status object every batch response carries.

use serde::Serialize;

/// One entry of the catalog. 2005 has two meanings, told apart by variant (and message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    CannotProcess,
    EmptyRequiredField,
    PastTierExpiry,
    NotLinked,
    AlreadyLinked,
    NotEnrolled,
    UnknownPartnerProgram,
    UnknownTier,
    BatchLimit,
    UnsupportedUpdateType,
    QueuedForCustomer,
    NoActivity,
    ActivityFetchFailed,
    IntervalTooLong,
    InvalidActivityType,
    DateWithLinkingUpdates,
    IncorrectBenefitName,
    NonPositiveBenefitCount,
    BenefitsOnSupplementary,
}

/// The catalog: every code with its exact message (Markdown backticks removed, docs/contract.md#error-catalog).
pub const CATALOG: &[(ErrorCode, u16, &str)] = &[
    (ErrorCode::CannotProcess, 2001, "Cannot process the partner program event."),
    (
        ErrorCode::EmptyRequiredField,
        2002,
        "Cannot proceed if updateDetails, updatedTierName, or partnerProgramName is empty or null.",
    ),
    (ErrorCode::PastTierExpiry, 2003, "Partner tier expiry date should not be a past date."),
    (ErrorCode::NotLinked, 2004, "Link the customer with the partner program."),
    (ErrorCode::AlreadyLinked, 2005, "Customer is already linked with the partner program."),
    (ErrorCode::NotEnrolled, 2005, "Enroll the customer in the Loyalty Program."),
    (ErrorCode::UnknownPartnerProgram, 2006, "Cannot find the partner program."),
    (ErrorCode::UnknownTier, 2007, "Cannot find the partner program tier."),
    (ErrorCode::BatchLimit, 2008, "Cannot process if partner program limit is more than 50."),
    (ErrorCode::UnsupportedUpdateType, 2009, "updateType supports only UPDATE, RENEW, DOWNGRADE."),
    (ErrorCode::QueuedForCustomer, 2010, "Partner program events are presented in a queue for the user."),
    (ErrorCode::NoActivity, 2011, "Cannot find partner program activity for the customer."),
    (ErrorCode::ActivityFetchFailed, 2012, "Cannot fetch partner program activity."),
    (ErrorCode::IntervalTooLong, 2013, "Input time interval should be less than a year for activity history."),
    (
        ErrorCode::InvalidActivityType,
        2014,
        "Invalid input. Activity type passed should be LINKINGUPDATES or BENEFITSAVAILED.",
    ),
    (ErrorCode::DateWithLinkingUpdates, 2015, "Cannot allow the date parameter if activityType = linkingUpdates."),
    (ErrorCode::IncorrectBenefitName, 2016, "Incorrect benefit name."),
    (ErrorCode::NonPositiveBenefitCount, 2017, "Benefits count should be more than 0."),
    (ErrorCode::BenefitsOnSupplementary, 2018, "Cannot add benefits to supplementary membership."),
];

impl ErrorCode {
    fn entry(self) -> (u16, &'static str) {
        CATALOG
            .iter()
            .find(|(c, _, _)| *c == self)
            .map(|(_, n, m)| (*n, *m))
            // Every variant is in CATALOG; the unit test `every_variant_is_in_the_catalog` guards it.
            .unwrap_or((2001, "Cannot process the partner program event."))
    }

    pub fn code(self) -> u16 {
        self.entry().0
    }

    pub fn message(self) -> &'static str {
        self.entry().1
    }

    /// A failed per-item status for this code, without detail.
    pub fn status(self) -> ItemStatus {
        ItemStatus { status: false, code: self.code(), message: self.message().to_string(), detail: None }
    }

    /// A failed per-item status for this code, with a `detail` saying why in words.
    pub fn with_detail(self, detail: impl Into<String>) -> ItemStatus {
        ItemStatus { detail: Some(detail.into()), ..self.status() }
    }
}

/// Capillary's per-item status object; `detail` is our addition and is omitted when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ItemStatus {
    pub status: bool,
    pub code: u16,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

impl ItemStatus {
    pub fn success() -> Self {
        ItemStatus { status: true, code: 200, message: "Success".into(), detail: None }
    }

    pub fn customer_found() -> Self {
        ItemStatus { status: true, code: 1000, message: "Customer successfully retrieved".into(), detail: None }
    }

    pub fn customer_not_found() -> Self {
        ItemStatus {
            status: false,
            code: 8015,
            message: "No customer found with the given identifier".into(),
            detail: None,
        }
    }

    pub fn is_success(&self) -> bool {
        self.status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [ErrorCode; 19] = [
        ErrorCode::CannotProcess,
        ErrorCode::EmptyRequiredField,
        ErrorCode::PastTierExpiry,
        ErrorCode::NotLinked,
        ErrorCode::AlreadyLinked,
        ErrorCode::NotEnrolled,
        ErrorCode::UnknownPartnerProgram,
        ErrorCode::UnknownTier,
        ErrorCode::BatchLimit,
        ErrorCode::UnsupportedUpdateType,
        ErrorCode::QueuedForCustomer,
        ErrorCode::NoActivity,
        ErrorCode::ActivityFetchFailed,
        ErrorCode::IntervalTooLong,
        ErrorCode::InvalidActivityType,
        ErrorCode::DateWithLinkingUpdates,
        ErrorCode::IncorrectBenefitName,
        ErrorCode::NonPositiveBenefitCount,
        ErrorCode::BenefitsOnSupplementary,
    ];

    #[test]
    fn every_variant_is_in_the_catalog_once() {
        for code in ALL {
            assert_eq!(CATALOG.iter().filter(|(c, _, _)| *c == code).count(), 1, "{code:?}");
        }
        assert_eq!(CATALOG.len(), 19);
    }

    #[test]
    fn catalog_matches_the_entity_page_without_backticks() {
        // The seed's texts with Markdown backticks stripped and runs of spaces collapsed.
        let page = include_str!("../../../tests/fixtures/entity-page-error-codes.md");
        let mut rows = Vec::new();
        for line in page.lines().filter(|l| l.starts_with("| 20")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let code: u16 = cells[1].parse().unwrap();
            let msg = cells[2].replace('`', "").split_whitespace().collect::<Vec<_>>().join(" ");
            rows.push((code, msg));
        }
        let ours: Vec<(u16, String)> = CATALOG.iter().map(|(_, n, m)| (*n, m.to_string())).collect();
        assert_eq!(ours, rows);
    }

    #[test]
    fn detail_is_omitted_when_absent() {
        let json = serde_json::to_string(&ErrorCode::NotLinked.status()).unwrap();
        assert_eq!(json, r#"{"status":false,"code":2004,"message":"Link the customer with the partner program."}"#);
        let json = serde_json::to_value(ErrorCode::NotEnrolled.with_detail("x")).unwrap();
        assert_eq!(json["detail"], "x");
        assert_eq!(json["code"], 2005);
    }
}
