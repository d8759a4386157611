//! `PUT /v2/organization/partnerPrograms/{partnerProgramName}` (admin): a partner program's whole
//! configuration, validated before anything is written. A PUT whose answer was lost reads back its
//! own configuration and answers success, not 409 or 500 (docs/exactly-once.md).

use crate::domain::dates::parse_request_date;
use crate::domain::limits::*;
use crate::domain::model::*;
use crate::http::api::{parse_json_body, require_admin, ApiRequest, ApiResponse};
use crate::http::error::ApiError;
use crate::http::router::Answer;
use crate::state::AppState;
use crate::storage::keys;
use crate::storage::store::TransactError;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::HashSet;

/// The body of the PUT, as sent (validated by `configure`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgramConfig {
    program_id: ProgramId,
    partner_program_type: PartnerProgramType,
    #[serde(default)]
    partner_program_description: String,
    #[serde(default)]
    tier_based: bool,
    #[serde(default)]
    partner_program_tiers: Vec<Tier>,
    #[serde(default)]
    benefits: Vec<Benefit>,
    #[serde(default)]
    points_exchange_rate: Option<serde_json::Number>,
    #[serde(default)]
    membership_period_type: Option<PeriodType>,
    #[serde(default)]
    membership_period_value: Option<u32>,
    #[serde(default)]
    expiry_date: Option<String>,
    #[serde(default)]
    backup_partner_program_name: Option<String>,
    #[serde(default)]
    on_tier_expiry: Option<OnTierExpiry>,
    #[serde(default)]
    tier_grace_period_days: Option<u32>,
    /// Read as any JSON value, so that a wrong type gets the rule's own message.
    #[serde(default)]
    expiry_reminder_days: Option<serde_json::Value>,
}

pub async fn handle(state: &AppState, req: ApiRequest) -> Answer {
    require_admin(&req)?;
    let body: ProgramConfig = parse_json_body(&req)?;
    let name = req.path_params.get("partnerProgramName").map(String::as_str).unwrap_or_default();
    let (created, program) = configure(state, req.auth.org_id, name, body).await?;
    let view = crate::http::wire::PartnerProgramConfigView::from(&program);
    Ok(ApiResponse::json(if created { 201 } else { 200 }, &view))
}

/// Validates a configuration and writes it: what the PUT does once its body is read. `Ok(true, _)`
/// when the program was created. The dev tools seed demo programs through it. A write whose answer
/// was lost is recognised by reading back exactly this configuration (a created program's id is
/// drawn fresh, so only this request can have stored it under that id).
pub async fn configure(
    state: &AppState,
    org: OrgId,
    name: &str,
    body: ProgramConfig,
) -> Result<(bool, PartnerProgram), ApiError> {
    let name = name.trim().to_string();
    state.invalidate(org);
    let catalog = state.catalog(org).await?;
    let existing = catalog.partner_program(&name).cloned();
    let mut program = validate(&name, body, &catalog)?;
    let created = existing.is_none();
    program.partner_program_id = match &existing {
        Some(e) => e.partner_program_id,
        None => state.store.next_id(&keys::sequence(Some(org), "program")).await?,
    };
    let replacing = existing.as_ref().map(|e| e.partner_program_id);
    let saved = state.store.save_partner_program(org, &program, replacing, state.now(), state.config.due_shards).await;
    state.invalidate(org);
    match saved {
        Ok(()) => Ok((created, program)),
        Err(TransactError::Cancelled { .. }) => {
            Err(ApiError::Conflict(format!("{name} was changed concurrently; retry")))
        }
        Err(TransactError::Store(e)) => Err(e.into()),
    }
}

/// `pointsExchangeRate` as DynamoDB can keep it and reads can print it: 0, or within
/// `MIN_POSITIVE_RATE..=MAX_POINTS_EXCHANGE_RATE`; integers stay as sent, other values are kept as
/// their shortest f64 form (at most 17 significant digits, DynamoDB keeps 38).
fn points_exchange_rate(raw: Option<serde_json::Number>) -> Result<Option<serde_json::Number>, ApiError> {
    let Some(n) = raw else { return Ok(None) };
    let value = n.as_f64().filter(|v| v.is_finite());
    let in_range = value.is_some_and(|v| v == 0.0 || (MIN_POSITIVE_RATE..=MAX_POINTS_EXCHANGE_RATE).contains(&v));
    if !in_range {
        return Err(ApiError::bad_request(format!(
            "pointsExchangeRate must be 0 or from {MIN_POSITIVE_RATE} to {MAX_POINTS_EXCHANGE_RATE} (got {n})"
        )));
    }
    if n.is_u64() {
        return Ok(Some(n));
    }
    Ok(value.and_then(serde_json::Number::from_f64))
}

fn limit(r: Result<(), LimitError>) -> Result<(), ApiError> {
    r.map_err(|e| ApiError::bad_request(e.to_string()))
}

fn validate(
    name: &str,
    c: ProgramConfig,
    catalog: &crate::domain::catalog::OrgCatalog,
) -> Result<PartnerProgram, ApiError> {
    limit(check_name("partnerProgramName (in the path)", name))?;
    limit(check_text("partnerProgramDescription", &c.partner_program_description, MAX_DESCRIPTION_CHARS))?;
    if c.partner_program_tiers.len() > MAX_TIERS || c.benefits.len() > MAX_BENEFITS {
        return Err(ApiError::bad_request(format!(
            "a partner program has at most {MAX_TIERS} tiers and {MAX_BENEFITS} benefits"
        )));
    }
    let points_exchange_rate = points_exchange_rate(c.points_exchange_rate)?;
    if !catalog.loyalty_programs.iter().any(|lp| lp.program_id == c.program_id) {
        return Err(ApiError::bad_request(format!("programId {} is not a loyalty program of this org", c.program_id)));
    }
    check_tiers(c.tier_based, &c.partner_program_tiers)?;
    check_benefits(&c.benefits)?;
    check_period(c.partner_program_type, c.membership_period_type, c.membership_period_value)?;
    let grace = c.tier_grace_period_days.unwrap_or(0);
    if grace > 365 {
        return Err(ApiError::bad_request("tierGracePeriodDays must be from 0 to 365"));
    }
    let expiry_reminder_days =
        crate::domain::reminders::validate_days(c.expiry_reminder_days.as_ref()).map_err(ApiError::bad_request)?;
    let expiry_date = match c.expiry_date.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(raw) => Some(
            parse_request_date("expiryDate", raw, catalog.zone()).map_err(|e| ApiError::bad_request(e.to_string()))?,
        ),
        None => None,
    };
    let backup = c.backup_partner_program_name.map(|b| b.trim().to_string()).filter(|b| !b.is_empty());
    if let Some(b) = &backup {
        check_backup(name, b, expiry_date, catalog)?;
    }
    Ok(PartnerProgram {
        partner_program_id: 0,
        partner_program_name: name.to_string(),
        loyalty_program_id: c.program_id,
        partner_program_type: c.partner_program_type,
        description: c.partner_program_description,
        tier_based: c.tier_based,
        tiers: c
            .partner_program_tiers
            .into_iter()
            .map(|t| Tier { tier_name: t.tier_name.trim().to_string(), ..t })
            .collect(),
        benefits: c
            .benefits
            .into_iter()
            .map(|b| Benefit { name: b.name.trim().to_string(), benefit_type: b.benefit_type.trim().to_string(), ..b })
            .collect(),
        points_exchange_rate,
        membership_period_type: c.membership_period_type,
        membership_period_value: c.membership_period_value,
        expiry_date,
        backup_partner_program_name: backup,
        on_tier_expiry: c.on_tier_expiry.unwrap_or_default(),
        tier_grace_period_days: grace,
        expiry_reminder_days,
    })
}

/// Tier numbers 1..=MAX_TIER_NUMBER, names present, bounded and unique (case-insensitively); tiers
/// exactly when the program is tier based.
fn check_tiers(tier_based: bool, tiers: &[Tier]) -> Result<(), ApiError> {
    let mut numbers = HashSet::new();
    let mut names = HashSet::new();
    for t in tiers {
        if t.tier_number == 0 || t.tier_number > MAX_TIER_NUMBER {
            return Err(ApiError::bad_request(format!(
                "tierNumber starts at 1 (the lowest tier) and is at most {MAX_TIER_NUMBER}"
            )));
        }
        if t.tier_name.trim().is_empty() {
            return Err(ApiError::bad_request("every tier needs a tierName"));
        }
        limit(check_name("tierName", t.tier_name.trim()))?;
        if !numbers.insert(t.tier_number) {
            return Err(ApiError::bad_request(format!("tierNumber {} appears twice", t.tier_number)));
        }
        if !names.insert(t.tier_name.trim().to_lowercase()) {
            return Err(ApiError::bad_request(format!("tierName {:?} appears twice", t.tier_name)));
        }
    }
    if tier_based && tiers.is_empty() {
        return Err(ApiError::bad_request("a tierBased program needs partnerProgramTiers"));
    }
    if !tier_based && !tiers.is_empty() {
        return Err(ApiError::bad_request("partnerProgramTiers given but tierBased is false"));
    }
    Ok(())
}

/// Benefits named and typed, bounded, unique by name, with a cycle maximum in range.
fn check_benefits(benefits: &[Benefit]) -> Result<(), ApiError> {
    let mut benefit_names = HashSet::new();
    for b in benefits {
        if b.name.trim().is_empty() || b.benefit_type.trim().is_empty() {
            return Err(ApiError::bad_request("every benefit needs a name and a type"));
        }
        limit(check_name("benefit name", b.name.trim()))?;
        limit(check_name("benefit type", b.benefit_type.trim()))?;
        if !benefit_names.insert(b.name.trim().to_lowercase()) {
            return Err(ApiError::bad_request(format!("benefit {:?} appears twice", b.name)));
        }
        if b.maximum_available_in_cycle.is_some_and(|m| m == 0 || u64::from(m) > MAX_COUNT_IN_CYCLE) {
            return Err(ApiError::bad_request(format!(
                "benefit {:?}: maximumAvailableInCycle must be from 1 to {MAX_COUNT_IN_CYCLE}",
                b.name
            )));
        }
    }
    Ok(())
}

/// A SUPPLEMENTARY program has a membership period (DAYS or MONTHS, bounded); an EXTERNAL one none.
fn check_period(
    kind: PartnerProgramType,
    period_type: Option<PeriodType>,
    period_value: Option<u32>,
) -> Result<(), ApiError> {
    match (kind, period_type, period_value) {
        (PartnerProgramType::Supplementary, Some(PeriodType::Days), Some(v)) if (1..=MAX_PERIOD_DAYS).contains(&v) => {}
        (PartnerProgramType::Supplementary, Some(PeriodType::Months), Some(v))
            if (1..=MAX_PERIOD_MONTHS).contains(&v) => {}
        (PartnerProgramType::Supplementary, _, _) => {
            return Err(ApiError::bad_request(format!(
                "a SUPPLEMENTARY program needs membershipPeriodType (DAYS or MONTHS) and a membershipPeriodValue from \
                 1 to {MAX_PERIOD_DAYS} days or {MAX_PERIOD_MONTHS} months"
            )))
        }
        (PartnerProgramType::External, None, None) => {}
        (PartnerProgramType::External, _, _) => {
            return Err(ApiError::bad_request("membershipPeriodType/Value apply to SUPPLEMENTARY programs only"))
        }
    }
    Ok(())
}

/// A backup program is another SUPPLEMENTARY program of the org that expires after this one.
fn check_backup(
    name: &str,
    b: &str,
    expiry_date: Option<DateTime<Utc>>,
    catalog: &crate::domain::catalog::OrgCatalog,
) -> Result<(), ApiError> {
    limit(check_name("backupPartnerProgramName", b))?;
    if b == name {
        return Err(ApiError::bad_request("backupPartnerProgramName cannot be the program itself"));
    }
    let Some(bp) = catalog.partner_program(b) else {
        return Err(ApiError::bad_request(format!(
            "backupPartnerProgramName {b:?} is not a partner program of this org"
        )));
    };
    if bp.partner_program_type != PartnerProgramType::Supplementary {
        return Err(ApiError::bad_request(format!(
            "backup program {b:?} must be SUPPLEMENTARY (members get a fresh period there)"
        )));
    }
    let later = match (expiry_date, bp.expiry_date) {
        (_, None) => true,
        (Some(mine), Some(theirs)) => theirs > mine,
        (None, Some(_)) => false,
    };
    if !later {
        return Err(ApiError::bad_request(format!("backup program {b:?} must expire after this program")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn points_exchange_rates_are_kept_in_a_form_dynamodb_takes() {
        let n = |raw: &str| serde_json::from_str::<serde_json::Number>(raw).ok();
        assert_eq!(points_exchange_rate(n("2")).unwrap(), n("2"));
        assert_eq!(points_exchange_rate(n("0.25")).unwrap(), n("0.25"));
        assert_eq!(points_exchange_rate(None).unwrap(), None);
        // 17 significant digits and an exponent: the exponent's digits are not significant ones.
        assert_eq!(points_exchange_rate(n("1.0000000000000002e-6")).unwrap(), n("1.0000000000000002e-6"));
        for bad in ["1e308", "-1", "1e-200", "1000000.5", "123456789012345678901234567890123456789012"] {
            assert!(points_exchange_rate(n(bad)).unwrap_err().to_string().starts_with("pointsExchangeRate"), "{bad}");
        }
    }

    /// Significant digits of a JSON number's text: its mantissa's, without leading or trailing zeros.
    fn significant_digits(text: &str) -> usize {
        let mantissa = text.split(['e', 'E']).next().unwrap_or_default();
        let digits = mantissa.chars().filter(char::is_ascii_digit).collect::<String>();
        digits.trim_start_matches('0').trim_end_matches('0').len()
    }

    #[test]
    fn significant_digits_are_the_mantissas_not_the_exponents() {
        assert_eq!(significant_digits("1.0000000000000002e-6"), 17);
        assert_eq!(significant_digits("0.0250"), 2);
        assert_eq!(significant_digits("-120E+300"), 2);
    }

    proptest! {
        #[test]
        fn any_rate_is_refused_or_kept_with_at_most_17_significant_digits(
            text in "-?[0-9]{1,45}(\\.[0-9]{1,45})?([eE][-+]?[0-9]{1,3})?"
        ) {
            if let Ok(Some(kept)) = points_exchange_rate(serde_json::from_str::<serde_json::Number>(&text).ok()) {
                prop_assert!(significant_digits(&kept.to_string()) <= 17, "{}", kept);
                let v = kept.as_f64().unwrap_or(-1.0);
                prop_assert!(v == 0.0 || (MIN_POSITIVE_RATE..=MAX_POINTS_EXCHANGE_RATE).contains(&v));
            }
        }
    }
}
