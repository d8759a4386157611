//! Domain types: orgs, loyalty and partner programs, customers, linkages and activities.
//! Storage records (keys, `entity`) live in `records.rs`; these carry only meaning.

use crate::domain::zone::Zone;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;

pub type OrgId = u64;
pub type CustomerId = u64;
pub type ProgramId = u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Api,
    Admin,
    /// A person in member care: reads members and acts on them (everything `api` may), but does not
    /// configure programs, register or erase customers (what `require_admin` guards).
    Agent,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "api" => Some(Role::Api),
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Api => "api",
            Role::Admin => "admin",
            Role::Agent => "agent",
        }
    }
}

/// Who is calling, as established by the authorizer — never by the request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthContext {
    pub org_id: OrgId,
    pub role: Role,
    /// The API client that signed the request (never its secret): who acted, on every record a
    /// write leaves (`Actor`).
    pub client_key: String,
    /// The client's display name, when its admin gave it one (an agent's always has one).
    pub display_name: Option<String>,
}

impl AuthContext {
    /// Who acted, as the records of a write name them.
    pub fn actor(&self) -> Actor {
        Actor { client_key: self.client_key.clone(), display_name: self.display_name.clone(), role: self.role }
    }
}

/// The API client behind a write, as history records and events carry it: an identifier of a
/// client of the org, not of a customer (the sweep's records carry none: the system acted).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub client_key: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub role: Role,
}

/// Why an agent made a change, as a write's program entry may say (`reason`, Extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReasonCode {
    CustomerRequest,
    PartnerCorrection,
    Goodwill,
    DataCorrection,
    Other,
}

impl ReasonCode {
    pub const ALL: [ReasonCode; 5] = [
        ReasonCode::CustomerRequest,
        ReasonCode::PartnerCorrection,
        ReasonCode::Goodwill,
        ReasonCode::DataCorrection,
        ReasonCode::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::CustomerRequest => "CUSTOMER_REQUEST",
            ReasonCode::PartnerCorrection => "PARTNER_CORRECTION",
            ReasonCode::Goodwill => "GOODWILL",
            ReasonCode::DataCorrection => "DATA_CORRECTION",
            ReasonCode::Other => "OTHER",
        }
    }
}

/// A change's reason: a code and an optional note (free text about the change, which
/// docs/contract.md#who-and-why asks to keep free of personal data).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    pub code: ReasonCode,
    #[serde(default)]
    pub note: Option<String>,
}

impl Reason {
    /// A program entry's `reason` as sent: `{"code": one of `ReasonCode`, "note"?: text}`, the note
    /// trimmed (empty counts as absent), at most `MAX_REASON_NOTE_CHARS` characters, no control
    /// characters but line breaks. The error names the field (`reason.code`, `reason.note`).
    pub fn from_request(v: &serde_json::Value) -> Result<Reason, crate::domain::limits::LimitError> {
        use crate::domain::limits::{LimitError, MAX_REASON_NOTE_CHARS};
        let fields = v.as_object().ok_or_else(|| LimitError::new("reason", "must be an object with code and note"))?;
        if let Some(other) = fields.keys().find(|k| *k != "code" && *k != "note") {
            return Err(LimitError::new("reason", format!("has no field {other:?} (only code and note)")));
        }
        let codes = ReasonCode::ALL.map(ReasonCode::as_str).join(", ");
        let code = fields
            .get("code")
            .and_then(serde_json::Value::as_str)
            .and_then(|c| ReasonCode::ALL.into_iter().find(|k| k.as_str() == c))
            .ok_or_else(|| LimitError::new("reason.code", format!("must be one of {codes}")))?;
        let note = match fields.get("note") {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(n)) => Some(n.trim().replace("\r\n", "\n")).filter(|n| !n.is_empty()),
            Some(_) => return Err(LimitError::new("reason.note", "must be text")),
        };
        if let Some(n) = &note {
            let chars = n.chars().count();
            if chars > MAX_REASON_NOTE_CHARS {
                let says = format!("is longer than {MAX_REASON_NOTE_CHARS} characters ({chars})");
                return Err(LimitError::new("reason.note", says));
            }
            if n.chars().any(|c| c.is_control() && c != '\n') {
                return Err(LimitError::new("reason.note", "contains control characters other than line breaks"));
            }
        }
        Ok(Reason { code, note })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Org {
    pub org_id: OrgId,
    pub name: String,
    pub time_zone: String,
    /// With it on, a customer holds at most one active SUPPLEMENTARY membership at a time;
    /// set by an admin with `ppadmin set-org`. Off unless set.
    #[serde(default, skip_serializing_if = "is_false")]
    pub one_supplementary_per_customer: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Org {
    pub fn tz(&self) -> Zone {
        Zone::named(&self.time_zone).unwrap_or_else(Zone::utc)
    }
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LoyaltyProgram {
    pub program_id: ProgramId,
    pub program_name: String,
    #[serde(default)]
    pub program_description: String,
    /// Points to currency ratio; 1.0 when not configured.
    #[serde(default)]
    pub points_to_currency_ratio: Option<serde_json::Number>,
}

impl LoyaltyProgram {
    /// A program to create: its id is assigned on creation.
    pub fn named(name: &str) -> Self {
        LoyaltyProgram {
            program_id: 0,
            program_name: name.to_string(),
            program_description: String::new(),
            points_to_currency_ratio: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PartnerProgramType {
    External,
    Supplementary,
}

impl PartnerProgramType {
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerProgramType::External => "EXTERNAL",
            PartnerProgramType::Supplementary => "SUPPLEMENTARY",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PeriodType {
    Days,
    Months,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipPeriod {
    pub period_type: PeriodType,
    pub value: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OnTierExpiry {
    #[default]
    ExpireTier,
    DowngradeOneTier,
    DowngradeToLowestTier,
    Delink,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    pub tier_number: u32,
    pub tier_name: String,
}

#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Benefit {
    pub name: String,
    #[serde(rename = "type")]
    pub benefit_type: String,
    #[serde(default)]
    pub maximum_available_in_cycle: Option<u32>,
}

/// A partner program's validated configuration.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerProgram {
    pub partner_program_id: ProgramId,
    pub partner_program_name: String,
    pub loyalty_program_id: ProgramId,
    pub partner_program_type: PartnerProgramType,
    #[serde(default)]
    pub description: String,
    pub tier_based: bool,
    #[serde(default)]
    pub tiers: Vec<Tier>,
    #[serde(default)]
    pub benefits: Vec<Benefit>,
    #[serde(default)]
    pub points_exchange_rate: Option<serde_json::Number>,
    #[serde(default)]
    pub membership_period_type: Option<PeriodType>,
    #[serde(default)]
    pub membership_period_value: Option<u32>,
    #[serde(default)]
    pub expiry_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub backup_partner_program_name: Option<String>,
    #[serde(default)]
    pub on_tier_expiry: OnTierExpiry,
    #[serde(default)]
    pub tier_grace_period_days: u32,
    /// Days before an expiry the sweep reminds the member (`domain::reminders`), furthest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expiry_reminder_days: Vec<u32>,
}

impl PartnerProgram {
    pub fn tier_by_name(&self, name: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.tier_name.eq_ignore_ascii_case(name.trim()))
    }

    pub fn lowest_tier(&self) -> Option<&Tier> {
        self.tiers.iter().min_by_key(|t| t.tier_number)
    }

    pub fn period(&self) -> Option<MembershipPeriod> {
        match (self.membership_period_type, self.membership_period_value) {
            (Some(period_type), Some(value)) => Some(MembershipPeriod { period_type, value }),
            _ => None,
        }
    }

    pub fn is_expired_at(&self, now: DateTime<Utc>) -> bool {
        self.expiry_date.is_some_and(|e| e <= now)
    }

    pub fn grace(&self) -> Duration {
        Duration::days(i64::from(self.tier_grace_period_days))
    }
}

/// A registered customer; identifiers are normalised (see `customer_identity`).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub customer_id: CustomerId,
    #[serde(default)]
    pub mobile: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    /// Loyalty program id (as a string map key, which a DynamoDB condition can address) → enrolment time.
    #[serde(default)]
    pub enrollments: BTreeMap<String, DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Set by `DELETE /v2/customers/{id}`: identifiers and enrolments are gone, the numeric id
    /// keeps the history.
    #[serde(default)]
    pub erased_at: Option<DateTime<Utc>>,
}

impl Customer {
    /// The customer as erasure leaves it (and as events about an erased customer name it): the id only.
    pub fn erased(&self, at: DateTime<Utc>) -> Customer {
        Customer {
            customer_id: self.customer_id,
            mobile: None,
            email: None,
            external_id: None,
            first_name: None,
            last_name: None,
            enrollments: BTreeMap::new(),
            created_at: self.created_at,
            erased_at: Some(self.erased_at.unwrap_or(at)),
        }
    }
}

impl Customer {
    pub fn is_enrolled_in(&self, program: ProgramId) -> bool {
        self.enrollments.contains_key(&program.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LinkageStatus {
    Pending,
    Active,
    InGrace,
    TierExpired,
    Delinked,
    Expired,
    /// A SUPPLEMENTARY membership paused for a window: it does not expire meanwhile.
    Paused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActivityType {
    Enrollment,
    Upgrade,
    Downgrade,
    Renew,
    Update,
    Delink,
    TierGraceStarted,
    TierExpired,
    SupplementaryMembershipStarted,
    SupplementaryMembershipExpired,
    PartnerProgramEarlyExpiry,
    BackupSupplementaryMembershipStarted,
    MembershipRelinkingScheduled,
    MembershipRelinkingCancelled,
    /// A link whose membership starts later: recorded when linked; the start itself
    /// (`SUPPLEMENTARY_MEMBERSHIP_STARTED` / `ENROLLMENT`) is recorded by the sweep when it comes.
    MembershipStartScheduled,
    MembershipPaused,
    MembershipResumed,
    Benefitsavailed,
}

impl ActivityType {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::Enrollment => "ENROLLMENT",
            ActivityType::Upgrade => "UPGRADE",
            ActivityType::Downgrade => "DOWNGRADE",
            ActivityType::Renew => "RENEW",
            ActivityType::Update => "UPDATE",
            ActivityType::Delink => "DELINK",
            ActivityType::TierGraceStarted => "TIER_GRACE_STARTED",
            ActivityType::TierExpired => "TIER_EXPIRED",
            ActivityType::SupplementaryMembershipStarted => "SUPPLEMENTARY_MEMBERSHIP_STARTED",
            ActivityType::SupplementaryMembershipExpired => "SUPPLEMENTARY_MEMBERSHIP_EXPIRED",
            ActivityType::PartnerProgramEarlyExpiry => "PARTNER_PROGRAM_EARLY_EXPIRY",
            ActivityType::BackupSupplementaryMembershipStarted => "BACKUP_SUPPLEMENTARY_MEMBERSHIP_STARTED",
            ActivityType::MembershipRelinkingScheduled => "MEMBERSHIP_RELINKING_SCHEDULED",
            ActivityType::MembershipRelinkingCancelled => "MEMBERSHIP_RELINKING_CANCELLED",
            ActivityType::MembershipStartScheduled => "MEMBERSHIP_START_SCHEDULED",
            ActivityType::MembershipPaused => "MEMBERSHIP_PAUSED",
            ActivityType::MembershipResumed => "MEMBERSHIP_RESUMED",
            ActivityType::Benefitsavailed => "BENEFITSAVAILED",
        }
    }

    pub fn is_benefit(self) -> bool {
        self == ActivityType::Benefitsavailed
    }
}

/// A SUPPLEMENTARY relink waiting for its start date (activated by the sweep).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRelink {
    pub membership_start_date: DateTime<Utc>,
    pub membership_end_date: DateTime<Utc>,
    #[serde(default)]
    pub partner_membership_id: Option<String>,
    #[serde(default)]
    pub tier_number: Option<u32>,
    #[serde(default)]
    pub tier_name: Option<String>,
    #[serde(default)]
    pub tier_expiry_date: Option<DateTime<Utc>>,
    pub scheduled_at: DateTime<Utc>,
}

/// The pause window of a SUPPLEMENTARY membership (the current one, or the last one once resumed).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipPause {
    pub paused_from: DateTime<Utc>,
    /// When the sweep resumes it, unless resumed earlier.
    pub paused_until: DateTime<Utc>,
    /// The membership end once the whole window has passed: the end moved by the window's length
    /// in the org's calendar (computed at pause time, when the org's zone is at hand).
    pub end_after_window: DateTime<Utc>,
    #[serde(default)]
    pub resumed_at: Option<DateTime<Utc>>,
}

/// Benefit use within the current cycle (a cycle starts at link/renewal).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct BenefitCounter {
    pub count_in_cycle: u64,
    #[serde(default)]
    pub cycle_start: Option<DateTime<Utc>>,
}

/// A customer's membership in one partner program, current state only.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linkage {
    pub org_id: OrgId,
    pub customer_id: CustomerId,
    pub partner_program_id: ProgramId,
    pub partner_program_name: String,
    pub partner_program_type: PartnerProgramType,
    #[serde(default)]
    pub partner_membership_id: Option<String>,
    #[serde(default)]
    pub tier_number: Option<u32>,
    #[serde(default)]
    pub tier_name: Option<String>,
    #[serde(default)]
    pub tier_expiry_date: Option<DateTime<Utc>>,
    pub membership_start_date: DateTime<Utc>,
    #[serde(default)]
    pub membership_end_date: Option<DateTime<Utc>>,
    pub status: LinkageStatus,
    pub linked: bool,
    pub version: u64,
    pub last_activity: ActivityType,
    pub last_updated: DateTime<Utc>,
    #[serde(default)]
    pub pending_relink: Option<PendingRelink>,
    #[serde(default)]
    pub benefit_counters: BTreeMap<String, BenefitCounter>,
    #[serde(default)]
    pub grace_ends_at: Option<DateTime<Utc>>,
    /// Ids of the latest changes committed to this linkage (`change_id`), oldest first: how a
    /// retried write recognises that it was already applied.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub recent_changes: Vec<String>,
    /// This linkage holds the customer's one-subscription guard (`keys::subscription_guard`);
    /// whatever ends its membership releases the guard in the same transaction.
    #[serde(default, skip_serializing_if = "is_false")]
    pub holds_subscription: bool,
    #[serde(default)]
    pub pause: Option<MembershipPause>,
}

impl Linkage {
    /// This linkage as it stands at `now`, for reads and for the decisions of `PAUSE` and
    /// `RESUME`: a pause whose window has ended counts as resumed at its end, exactly as the sweep
    /// will record it (`resume_at_window_end`). Borrowed when nothing lapsed.
    pub fn as_of(&self, now: DateTime<Utc>) -> Cow<'_, Linkage> {
        self.lapsed_pause_resumed(now).map_or(Cow::Borrowed(self), Cow::Owned)
    }

    /// When this linkage is still recorded as paused although its window ended by `now` (the
    /// sweep has not run since): the linkage resumed at the window's end. None otherwise.
    pub fn lapsed_pause_resumed(&self, now: DateTime<Utc>) -> Option<Linkage> {
        let lapsed = self.linked
            && self.status == LinkageStatus::Paused
            && self.pause.as_ref().is_some_and(|p| p.paused_until <= now);
        lapsed.then(|| {
            let mut resumed = self.clone();
            resumed.resume_at_window_end();
            resumed
        })
    }

    /// Resumes a paused membership when its window ends (the sweep's `MEMBERSHIP_RESUMED`): `ACTIVE`
    /// again from `pausedUntil`, its end moved by the whole window (`end_after_window`).
    pub fn resume_at_window_end(&mut self) {
        if let Some(p) = &self.pause {
            let (at, end) = (p.paused_until, p.end_after_window);
            self.resume(at, end);
        }
    }

    /// Resumes a paused membership at `at` with its end moved to `end`, dated `at`.
    pub fn resume(&mut self, at: DateTime<Utc>, end: DateTime<Utc>) {
        self.status = LinkageStatus::Active;
        self.membership_end_date = Some(end);
        if let Some(p) = &mut self.pause {
            p.resumed_at = Some(at);
        }
        self.last_activity = ActivityType::MembershipResumed;
        self.last_updated = at;
    }

    /// The status a reader should see at `now`: a tier past its expiry (and past grace) reads as
    /// expired, a pending start whose time has come as active, and a pause whose window has ended
    /// as resumed (`as_of`), even before the sweep has run (docs/contract.md#reads).
    pub fn effective_status(&self, now: DateTime<Utc>, program: Option<&PartnerProgram>) -> LinkageStatus {
        self.as_of(now).derived_status(now, program)
    }

    fn derived_status(&self, now: DateTime<Utc>, program: Option<&PartnerProgram>) -> LinkageStatus {
        if !self.linked {
            return self.status;
        }
        // A program past its expiry date has ended for every member, whatever their tier says.
        if program.is_some_and(|p| p.is_expired_at(now)) {
            return LinkageStatus::Expired;
        }
        match self.status {
            LinkageStatus::Active if self.partner_program_type == PartnerProgramType::Supplementary => {
                match self.membership_end_date {
                    Some(end) if end <= now => LinkageStatus::Expired,
                    _ => LinkageStatus::Active,
                }
            }
            LinkageStatus::Active => match self.tier_expiry_date {
                Some(exp) if exp <= now => {
                    let grace = program.map(PartnerProgram::grace).unwrap_or_else(Duration::zero);
                    if grace > Duration::zero() && exp + grace > now {
                        LinkageStatus::InGrace
                    } else {
                        LinkageStatus::TierExpired
                    }
                }
                _ => LinkageStatus::Active,
            },
            LinkageStatus::InGrace => match self.grace_ends_at {
                Some(end) if end <= now => LinkageStatus::TierExpired,
                _ => LinkageStatus::InGrace,
            },
            LinkageStatus::Pending => match self.pending_start() {
                Some(start) if start <= now => LinkageStatus::Active,
                _ => LinkageStatus::Pending,
            },
            other => other,
        }
    }

    /// When the benefit cycle that `countAvailedInCurrentCycle` counts began: the latest counter's
    /// start (a renewal restarts every counter), else the membership's start (a new membership, a
    /// relink or a backup membership starts with no counters).
    pub fn benefit_cycle_start(&self) -> DateTime<Utc> {
        self.benefit_counters.values().filter_map(|c| c.cycle_start).max().unwrap_or(self.membership_start_date)
    }

    fn pending_start(&self) -> Option<DateTime<Utc>> {
        Some(self.membership_start_date)
    }

    /// When the sweep next has something to do for this linkage, if ever: the earliest of tier
    /// expiry, grace end, membership end/start and a pending relink's start.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        if !self.linked && self.pending_relink.is_none() {
            return None;
        }
        let mut due: Vec<DateTime<Utc>> = Vec::new();
        match self.status {
            LinkageStatus::Pending => due.push(self.membership_start_date),
            LinkageStatus::Active => {
                if self.partner_program_type == PartnerProgramType::Supplementary {
                    due.extend(self.membership_end_date);
                } else {
                    due.extend(self.tier_expiry_date);
                }
            }
            LinkageStatus::InGrace => due.extend(self.grace_ends_at),
            LinkageStatus::Paused => due.extend(self.pause.as_ref().map(|p| p.paused_until)),
            _ => {}
        }
        if let Some(p) = &self.pending_relink {
            due.push(p.membership_start_date);
        }
        due.into_iter().min()
    }
}

/// What a linking record says a linkage was before and after its change (no partner membership
/// id: the history outlives an erasure, identifiers must not): the fields a linking update can
/// move (not benefit counters, which benefits records account for). Each record's `from` is the
/// `to` of the record before it, because both are taken from the version the committing
/// transaction was conditioned on (docs/contract.md#concurrency).
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkState {
    pub linked: bool,
    pub status: LinkageStatus,
    #[serde(default)]
    pub tier_number: Option<u32>,
    #[serde(default)]
    pub tier_name: Option<String>,
    #[serde(default)]
    pub tier_expiry_date: Option<DateTime<Utc>>,
    pub membership_start_date: DateTime<Utc>,
    #[serde(default)]
    pub membership_end_date: Option<DateTime<Utc>>,
}

impl LinkState {
    pub fn of(l: &Linkage) -> Self {
        LinkState {
            linked: l.linked,
            status: l.status,
            tier_number: l.tier_number,
            tier_name: l.tier_name.clone(),
            tier_expiry_date: l.tier_expiry_date,
            membership_start_date: l.membership_start_date,
            membership_end_date: l.membership_end_date,
        }
    }
}

/// An immutable history record.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    pub activity_id: String,
    pub org_id: OrgId,
    pub customer_id: CustomerId,
    pub partner_program_id: ProgramId,
    pub partner_program_name: String,
    pub activity_type: ActivityType,
    pub activity_date: DateTime<Utc>,
    #[serde(default)]
    pub tier_name: Option<String>,
    #[serde(default)]
    pub tier_expiry_date: Option<DateTime<Utc>>,
    #[serde(default)]
    pub benefit_details: Option<serde_json::Value>,
    /// The linkage version the change produced: linking records are keyed by it (with `step`), so
    /// the history reads in commit order whatever the clocks of concurrent writers said.
    #[serde(default)]
    pub version: u64,
    /// Position among the records of one transaction (a sweep applies several transitions at once).
    #[serde(default)]
    pub step: u32,
    /// Linking records: the state before (absent for a first link) and after the change.
    #[serde(default)]
    pub from: Option<LinkState>,
    #[serde(default)]
    pub to: Option<LinkState>,
    /// The client whose request made the change; none for the sweep's records (the system).
    #[serde(default)]
    pub actor: Option<Actor>,
    /// Why, when the request's program entry said so.
    #[serde(default)]
    pub reason: Option<Reason>,
}

/// The Capillary-shaped events the outbox carries (docs/contract.md#events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    Linked,
    Updated,
    Delinked,
    TierExpired,
    SupplementaryMembershipExpired,
    BenefitsAvailed,
    CustomerErased,
    SupplementaryMembershipExpiryReminder,
    PartnerTierExpiryReminder,
    PartnerFileProcessed,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::Linked => "partnerProgramLinked",
            EventName::Updated => "partnerProgramUpdated",
            EventName::Delinked => "partnerProgramDelinked",
            EventName::TierExpired => "partnerProgramTierExpired",
            EventName::SupplementaryMembershipExpired => "supplementaryMembershipExpired",
            EventName::BenefitsAvailed => "partnerProgramBenefitsAvailed",
            EventName::CustomerErased => "customerErased",
            EventName::SupplementaryMembershipExpiryReminder => "supplementaryMembershipExpiryReminder",
            EventName::PartnerTierExpiryReminder => "partnerTierExpiryReminder",
            EventName::PartnerFileProcessed => "partnerFileProcessed",
        }
    }
}

/// The history record of a change from `before` (none for a first link) to `after`, at `at`.
/// Linking records carry both states; benefit records leave them out (they change no state).
pub fn activity_for(before: Option<&Linkage>, after: &Linkage, kind: ActivityType, at: DateTime<Utc>) -> Activity {
    let linking = !kind.is_benefit();
    Activity {
        activity_id: uuid::Uuid::now_v7().to_string(),
        org_id: after.org_id,
        customer_id: after.customer_id,
        partner_program_id: after.partner_program_id,
        partner_program_name: after.partner_program_name.clone(),
        activity_type: kind,
        activity_date: at,
        tier_name: after.tier_name.clone(),
        tier_expiry_date: after.tier_expiry_date,
        benefit_details: None,
        version: after.version,
        step: 0,
        from: before.filter(|_| linking).map(LinkState::of),
        to: linking.then(|| LinkState::of(after)),
        actor: None,
        reason: None,
    }
}
