//! The demo org the local server seeds (`make run`): two loyalty programs, an EXTERNAL tier-based
//! program, a SUPPLEMENTARY one and a few customers, written through the same validated operations
//! the API runs. A dev tool: no Lambda links it.

use shared::admin::{create_org, AdminError};
use shared::domain::model::{Org, OrgId};
use shared::http::auth::{create_client, create_named_client, IssuedCredentials};
use shared::state::AppState;
use shared::storage::keys;

pub struct DemoSeed {
    pub org: Org,
    pub admin: IssuedCredentials,
    pub api: IssuedCredentials,
    /// A person's client for the console (`agent`, display name "Demo Agent").
    pub agent: IssuedCredentials,
    pub sample_mobile: String,
    /// True when the database already had the demo org and only new credentials were issued.
    pub reused: bool,
}

/// A demo org: two loyalty programs, an EXTERNAL tier-based program (3 tiers, 2 benefits), a
/// SUPPLEMENTARY program (30 days) and a few enrolled customers.
pub async fn seed_demo(state: &AppState) -> Result<DemoSeed, AdminError> {
    use shared::domain::model::*;
    use shared::operations::register_customer::{register, RegisterCustomer};
    let marker = keys::demo_marker();
    // A persisted local database keeps its demo org; a restart only issues fresh credentials,
    // since secrets are stored as digests and cannot be shown again.
    if let Some(existing) = state.store.get::<serde_json::Value>(&marker).await? {
        if let Some(org) = existing.get("orgId").and_then(serde_json::Value::as_u64) {
            if let Some(org) = state.store.org(org).await? {
                let admin = create_client(&state.store, org.org_id, Role::Admin).await?;
                let api = create_client(&state.store, org.org_id, Role::Api).await?;
                let agent = demo_agent(state, org.org_id).await?;
                return Ok(DemoSeed { org, admin, api, agent, sample_mobile: "919740000001".into(), reused: true });
            }
        }
    }
    let org = create_org(&state.store, "Demo Org", "Asia/Kolkata").await?;
    let admin = create_client(&state.store, org.org_id, Role::Admin).await?;
    let api = create_client(&state.store, org.org_id, Role::Api).await?;
    let agent = demo_agent(state, org.org_id).await?;
    let other = |e: &dyn std::fmt::Display| AdminError::Other(e.to_string());
    let rewards = shared::operations::create_loyalty_program::create_loyalty_program(
        state,
        org.org_id,
        shared::domain::model::LoyaltyProgram::named("Demo Rewards"),
    )
    .await
    .map_err(|e| other(&e))?
    .ok_or_else(|| AdminError::Other("Demo Rewards exists".into()))?;
    let _plus = shared::operations::create_loyalty_program::create_loyalty_program(
        state,
        org.org_id,
        shared::domain::model::LoyaltyProgram::named("Demo Plus"),
    )
    .await
    .map_err(|e| other(&e))?;
    for p in demo_programs(rewards.program_id) {
        put_partner_program(state, org.org_id, p).await?;
    }
    let people = [
        ("919740000001", "asha@example.com", "C-1001"),
        ("919740000002", "ravi@example.com", "C-1002"),
        ("919740000003", "meera@example.com", "C-1003"),
    ];
    for (mobile, email, ext) in people {
        register(
            state,
            org.org_id,
            RegisterCustomer {
                mobile: Some(serde_json::Value::String(mobile.into())),
                email: Some(email.into()),
                external_id: Some(ext.into()),
                program_ids: vec![rewards.program_id],
                ..Default::default()
            },
        )
        .await
        .map_err(|e| other(&e))?;
    }
    state.invalidate(org.org_id);
    seed_demo_files(state, org.org_id).await?;
    let mut item = marker.to_item();
    item.insert("entity".into(), aws_sdk_dynamodb::types::AttributeValue::S("DEMO".into()));
    item.insert("orgId".into(), aws_sdk_dynamodb::types::AttributeValue::N(org.org_id.to_string()));
    state.store.put(item).await?;
    Ok(DemoSeed { org, admin, api, agent, sample_mobile: people[0].0.into(), reused: false })
}

/// SkyMiles (EXTERNAL, 3 tiers, 2 benefits) and FlexiPass (SUPPLEMENTARY, 30 days) in loyalty
/// program `rewards`.
fn demo_programs(rewards: shared::domain::model::ProgramId) -> [shared::domain::model::PartnerProgram; 2] {
    use shared::domain::model::*;
    let tier = |n, name: &str| Tier { tier_number: n, tier_name: name.into() };
    [
        PartnerProgram {
            partner_program_id: 0,
            partner_program_name: "SkyMiles".into(),
            loyalty_program_id: rewards,
            partner_program_type: PartnerProgramType::External,
            description: "Airline partner".into(),
            tier_based: true,
            tiers: vec![tier(1, "Silver"), tier(2, "Gold"), tier(3, "Platinum")],
            benefits: vec![
                Benefit {
                    name: "LoungeAccess".into(),
                    benefit_type: "LOUNGE".into(),
                    maximum_available_in_cycle: Some(4),
                },
                Benefit {
                    name: "PriorityBoarding".into(),
                    benefit_type: "BOARDING".into(),
                    maximum_available_in_cycle: None,
                },
            ],
            points_exchange_rate: Some(serde_json::Number::from(2)),
            membership_period_type: None,
            membership_period_value: None,
            expiry_date: None,
            backup_partner_program_name: None,
            on_tier_expiry: OnTierExpiry::DowngradeOneTier,
            tier_grace_period_days: 7,
            // No reminders on SkyMiles: `make bench` links to it beside a peer that arms none;
            // FlexiPass shows them.
            expiry_reminder_days: vec![],
        },
        PartnerProgram {
            partner_program_id: 0,
            partner_program_name: "FlexiPass".into(),
            loyalty_program_id: rewards,
            partner_program_type: PartnerProgramType::Supplementary,
            description: "30-day supplementary membership".into(),
            tier_based: false,
            tiers: vec![],
            benefits: vec![],
            points_exchange_rate: None,
            membership_period_type: Some(PeriodType::Days),
            membership_period_value: Some(30),
            expiry_date: None,
            backup_partner_program_name: None,
            on_tier_expiry: OnTierExpiry::ExpireTier,
            tier_grace_period_days: 0,
            expiry_reminder_days: vec![7, 1],
        },
    ]
}

/// Writes a partner program through the same validated API path an admin uses.
async fn put_partner_program(
    state: &AppState,
    org: OrgId,
    p: shared::domain::model::PartnerProgram,
) -> Result<(), AdminError> {
    let mut body = serde_json::to_value(&p).map_err(|e| AdminError::Other(e.to_string()))?;
    if let Some(obj) = body.as_object_mut() {
        for k in ["partnerProgramId", "partnerProgramName", "loyaltyProgramId", "description", "tiers"] {
            obj.remove(k);
        }
        obj.insert("programId".into(), p.loyalty_program_id.into());
        obj.insert("partnerProgramDescription".into(), p.description.clone().into());
        obj.insert("partnerProgramTiers".into(), serde_json::to_value(&p.tiers).unwrap_or_default());
    }
    let config = serde_json::from_value(body).map_err(|e| AdminError::Other(e.to_string()))?;
    shared::operations::put_partner_program::configure(state, org, &p.partner_program_name, config)
        .await
        .map_err(|e| AdminError::Other(format!("seeding {} failed: {e}", p.partner_program_name)))?;
    Ok(())
}

/// The demo's member-care agent, "Demo Agent", for signing in to the console.
async fn demo_agent(state: &AppState, org: OrgId) -> Result<IssuedCredentials, AdminError> {
    let role = shared::domain::model::Role::Agent;
    Ok(create_named_client(&state.store, org, role, Some("Demo Agent".into())).await?)
}

/// The demo's partner tier files, as the import and worker leave them: one done an hour ago
/// (`demo-1`, the id `tests/events/partner-files.v1.json` reads) and one running since three minutes.
async fn seed_demo_files(state: &AppState, org: OrgId) -> Result<(), AdminError> {
    use shared::storage::partner_files::FileStatus;
    let now = state.now();
    let at = |minutes_ago: i64| shared::domain::dates::format_utc(now - chrono::Duration::minutes(minutes_ago));
    let mut done = demo_file(org, "demo-1", "skymiles-tiers-february.csv", FileStatus::Done, at(62));
    (done.rows_total, done.rows_done, done.applied, done.refused, done.chunks_total, done.chunks_done) =
        (13, 13, 8, 5, 1, 1);
    (done.started_at, done.updated_at, done.finished_at) = (Some(at(62)), Some(at(61)), Some(at(61)));
    done.results_key = Some(format!("results/{org}/SkyMiles/{}.csv", done.file_name));
    let mut running = demo_file(org, "demo-2", "skymiles-tiers-march.csv", FileStatus::Running, at(3));
    (running.rows_total, running.rows_done, running.applied, running.refused) = (10_000, 4_000, 3_950, 50);
    (running.chunks_total, running.chunks_done) = (10, 4);
    (running.started_at, running.updated_at) = (Some(at(3)), Some(at(0)));
    for f in [done, running] {
        state.store.save_partner_file(&f).await?;
    }
    Ok(())
}

fn demo_file(
    org: OrgId,
    id: &str,
    name: &str,
    status: shared::storage::partner_files::FileStatus,
    created_at: String,
) -> shared::storage::partner_files::PartnerFileRecord {
    use shared::storage::partner_files::{NewFile, PartnerFileRecord};
    let key = format!("incoming/{org}/SkyMiles/{name}");
    let new = NewFile {
        org,
        file_id: id,
        program: "SkyMiles",
        program_id: None,
        object_key: &key,
        file_name: name,
        etag: id,
        size_bytes: 1_200,
        created_at,
    };
    PartnerFileRecord::new(&new, status, None)
}

/// A done file of 3 rows named `name` for the demo org, newer than the demo's own files
/// (`local-server --seed-partner-file NAME`: the browser tests' file names, markup included).
pub async fn seed_partner_file(state: &AppState, org: OrgId, name: &str) -> Result<String, AdminError> {
    use shared::storage::partner_files::FileStatus;
    let now = shared::domain::dates::format_utc(state.now());
    let id = format!("local-{}-{}", shared::domain::dates::key_time(state.now()), uuid::Uuid::new_v4().simple());
    let mut f = demo_file(org, &id, name, FileStatus::Done, now.clone());
    (f.rows_total, f.rows_done, f.applied, f.refused, f.chunks_total, f.chunks_done) = (3, 3, 2, 1, 1, 1);
    (f.started_at, f.updated_at, f.finished_at) = (Some(now.clone()), Some(now.clone()), Some(now));
    f.results_key = Some(format!("results/{org}/SkyMiles/{name}.csv"));
    state.store.save_partner_file(&f).await?;
    Ok(id)
}
