//! The Capillary Partner Program error catalog (docs/contract.md#error-catalog), byte for byte, as one list,
//! and the per-item status object every batch response carries.

use serde::Serialize;

/// Defines `ErrorCode` and its catalog from one list, so a code cannot exist without its number
/// and message, `ErrorCode::ALL` cannot miss a variant, and `entry` is an exhaustive `match`.
macro_rules! catalog {
    ($($variant:ident => ($code:literal, $message:literal),)+) => {
        /// One entry of the catalog. 2005 has two meanings, told apart by variant (and message).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($variant,)+
        }

        impl ErrorCode {
            /// Every code, in catalog order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)+];

            /// The code's number and exact message.
            pub const fn entry(self) -> (u16, &'static str) {
                match self {
                    $(ErrorCode::$variant => ($code, $message),)+
                }
            }
        }
    };
}

// The Capillary Partner Program catalog (docs/contract.md#error-catalog), byte for byte: messages as the
// entity page has them with the Markdown backticks removed.
catalog! {
    CannotProcess => (2001, "Cannot process the partner program event."),
    EmptyRequiredField => (2002, "Cannot proceed if updateDetails, updatedTierName, or \
                                  partnerProgramName is empty or null."),
    PastTierExpiry => (2003, "Partner tier expiry date should not be a past date."),
    NotLinked => (2004, "Link the customer with the partner program."),
    AlreadyLinked => (2005, "Customer is already linked with the partner program."),
    NotEnrolled => (2005, "Enroll the customer in the Loyalty Program."),
    UnknownPartnerProgram => (2006, "Cannot find the partner program."),
    UnknownTier => (2007, "Cannot find the partner program tier."),
    BatchLimit => (2008, "Cannot process if partner program limit is more than 50."),
    UnsupportedUpdateType => (2009, "updateType supports only UPDATE, RENEW, DOWNGRADE."),
    QueuedForCustomer => (2010, "Partner program events are presented in a queue for the user."),
    NoActivity => (2011, "Cannot find partner program activity for the customer."),
    ActivityFetchFailed => (2012, "Cannot fetch partner program activity."),
    IntervalTooLong => (2013, "Input time interval should be less than a year for activity history."),
    InvalidActivityType => (2014, "Invalid input. Activity type passed should be LINKINGUPDATES or BENEFITSAVAILED."),
    DateWithLinkingUpdates => (2015, "Cannot allow the date parameter if activityType = linkingUpdates."),
    IncorrectBenefitName => (2016, "Incorrect benefit name."),
    NonPositiveBenefitCount => (2017, "Benefits count should be more than 0."),
    BenefitsOnSupplementary => (2018, "Cannot add benefits to supplementary membership."),
}

impl ErrorCode {
    pub const fn code(self) -> u16 {
        self.entry().0
    }

    pub const fn message(self) -> &'static str {
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
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ItemStatus {
    pub status: bool,
    pub code: u16,
    pub message: String,
    #[serde(default)]
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

    #[test]
    fn every_code_and_message_pair_is_distinct() {
        // 19 entries, one per catalog row of the entity page; 2005 is the only number used twice.
        assert_eq!(ErrorCode::ALL.len(), 19);
        let mut pairs: Vec<_> = ErrorCode::ALL.iter().map(|c| c.entry()).collect();
        pairs.sort();
        pairs.dedup();
        assert_eq!(pairs.len(), ErrorCode::ALL.len());
        let twice: Vec<u16> = ErrorCode::ALL
            .iter()
            .map(|c| c.code())
            .filter(|n| ErrorCode::ALL.iter().filter(|c| c.code() == *n).count() > 1)
            .collect();
        assert_eq!(twice, [2005, 2005]);
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
        let ours: Vec<(u16, String)> = ErrorCode::ALL.iter().map(|c| (c.code(), c.message().to_string())).collect();
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
