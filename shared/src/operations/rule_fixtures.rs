//! Test-only builders for the unit tests of the operations' pure rules: one org (Asia/Kolkata) with
//! the API tests' programs (SkyMiles, EXTERNAL and tiered, and FlexiPass, SUPPLEMENTARY, in loyalty
//! program 10; OtherMiles in 20), a customer enrolled in 10, and linkages to them.

use crate::domain::catalog::OrgCatalog;
use crate::domain::model::*;
use chrono::{DateTime, Duration, Utc};
use std::collections::BTreeMap;

pub const REWARDS: ProgramId = 10;
pub const OTHER: ProgramId = 20;
pub const SKYMILES: ProgramId = 100;
pub const FLEXIPASS: ProgramId = 101;
pub const OTHER_MILES: ProgramId = 102;

/// The instant every rule is evaluated at: 2026-06-01T00:00:00Z.
pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-06-01T00:00:00Z").unwrap().with_timezone(&Utc)
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn program(id: ProgramId, name: &str, loyalty: ProgramId, kind: PartnerProgramType) -> PartnerProgram {
    PartnerProgram {
        partner_program_id: id,
        partner_program_name: name.into(),
        loyalty_program_id: loyalty,
        partner_program_type: kind,
        description: String::new(),
        tier_based: false,
        tiers: vec![],
        benefits: vec![],
        points_exchange_rate: None,
        membership_period_type: None,
        membership_period_value: None,
        expiry_date: None,
        backup_partner_program_name: None,
        on_tier_expiry: OnTierExpiry::ExpireTier,
        tier_grace_period_days: 0,
        expiry_reminder_days: vec![],
    }
}

pub fn skymiles() -> PartnerProgram {
    let tier = |n, name: &str| Tier { tier_number: n, tier_name: name.into() };
    let benefit = |name: &str, kind: &str, max| Benefit {
        name: name.into(),
        benefit_type: kind.into(),
        maximum_available_in_cycle: max,
    };
    PartnerProgram {
        tier_based: true,
        tiers: vec![tier(1, "Silver"), tier(2, "Gold"), tier(3, "Platinum")],
        benefits: vec![benefit("LoungeAccess", "LOUNGE", Some(4)), benefit("PriorityBoarding", "BOARDING", None)],
        ..program(SKYMILES, "SkyMiles", REWARDS, PartnerProgramType::External)
    }
}

pub fn flexipass() -> PartnerProgram {
    PartnerProgram {
        membership_period_type: Some(PeriodType::Days),
        membership_period_value: Some(30),
        ..program(FLEXIPASS, "FlexiPass", REWARDS, PartnerProgramType::Supplementary)
    }
}

pub fn other_miles() -> PartnerProgram {
    program(OTHER_MILES, "OtherMiles", OTHER, PartnerProgramType::External)
}

/// The org with `programs` (usually some of the three above).
pub fn catalog(programs: Vec<PartnerProgram>) -> OrgCatalog {
    OrgCatalog::new(
        Org {
            org_id: 1,
            name: "Test Org".into(),
            time_zone: "Asia/Kolkata".into(),
            one_supplementary_per_customer: false,
        },
        vec![
            LoyaltyProgram { program_id: REWARDS, ..LoyaltyProgram::named("Rewards") },
            LoyaltyProgram { program_id: OTHER, ..LoyaltyProgram::named("Other") },
        ],
        programs,
    )
}

pub fn standard_catalog() -> OrgCatalog {
    catalog(vec![skymiles(), flexipass(), other_miles()])
}

/// Customer 7, enrolled in Rewards (10) only.
pub fn customer() -> Customer {
    Customer {
        customer_id: 7,
        mobile: Some("919740000001".into()),
        email: None,
        external_id: None,
        first_name: None,
        last_name: None,
        enrollments: BTreeMap::from([(REWARDS.to_string(), now() - Duration::days(100))]),
        created_at: now() - Duration::days(100),
        erased_at: None,
    }
}

/// An active linkage of customer 7 to `program`, started 10 days ago, at version 3; for a
/// tier-based program at `tier` (its number in `program`) expiring in a year.
pub fn linkage(program: &PartnerProgram, tier: Option<&str>) -> Linkage {
    let tier = tier.and_then(|t| program.tier_by_name(t)).cloned();
    let start = now() - Duration::days(10);
    let end = program.period().map(|_| start + Duration::days(30));
    Linkage {
        org_id: 1,
        customer_id: 7,
        partner_program_id: program.partner_program_id,
        partner_program_name: program.partner_program_name.clone(),
        partner_program_type: program.partner_program_type,
        partner_membership_id: None,
        tier_number: tier.as_ref().map(|t| t.tier_number),
        tier_name: tier.as_ref().map(|t| t.tier_name.clone()),
        tier_expiry_date: tier.as_ref().map(|_| now() + Duration::days(365)),
        membership_start_date: start,
        membership_end_date: end,
        status: LinkageStatus::Active,
        linked: true,
        version: 3,
        last_activity: ActivityType::Enrollment,
        last_updated: start,
        pending_relink: None,
        benefit_counters: BTreeMap::new(),
        grace_ends_at: None,
        recent_changes: vec![],
        holds_subscription: false,
        pause: None,
    }
}
