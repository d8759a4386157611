//! Bootstrap tool: creates orgs (there is no API for them) and API clients directly in the table
//! and prints each secret once. Uses the standard AWS credential chain and TABLE_NAME.
//!
//!   ppadmin create-org --name "Acme" [--time-zone Asia/Kolkata]   (also creates an admin client)
//!   ppadmin create-client --org 7 --role agent|api|admin [--name "Asha Rao"]
//!       (--name: the display name, required for an agent; as POST /v2/organization/clients)
//!   ppadmin set-org --org 7 --one-supplementary-per-customer true|false
//!       (org settings; containers see them within CONFIG_CACHE_SECONDS)

use shared::domain::model::Role;
use shared::state::AppState;

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let state = AppState::from_env().await?;
    match args.first().map(String::as_str) {
        Some("create-org") => {
            let name = arg(&args, "--name").ok_or("--name is required")?;
            let tz = arg(&args, "--time-zone").unwrap_or("UTC");
            let org = shared::admin::create_org(&state.store, name, tz).await?;
            let creds = shared::http::auth::create_client(&state.store, org.org_id, Role::Admin).await?;
            println!("org {} created ({}, time zone {})", org.org_id, org.name, org.time_zone);
            println!(
                "admin client key: {}\nadmin secret:     {}   (shown once; only its SHA-256 is stored)",
                creds.client_key, creds.secret
            );
        }
        Some("create-client") => {
            let org: u64 = arg(&args, "--org").ok_or("--org is required")?.parse()?;
            // The rules of POST /v2/organization/clients: an agent needs --name.
            let (role, name) = shared::admin::client_spec(arg(&args, "--role").unwrap_or("api"), arg(&args, "--name"))
                .map_err(|e| e.to_string())?;
            if state.store.org(org).await?.is_none() {
                return Err(format!("org {org} does not exist").into());
            }
            let creds = shared::http::auth::create_named_client(&state.store, org, role, name.clone()).await?;
            let named = name.map(|n| format!(" ({n})")).unwrap_or_default();
            println!(
                "{} client{named} key: {}\nsecret: {}   (shown once)",
                role.as_str(),
                creds.client_key,
                creds.secret
            );
        }
        Some("set-org") => {
            let org: u64 = arg(&args, "--org").ok_or("--org is required")?.parse()?;
            let on = match arg(&args, "--one-supplementary-per-customer") {
                Some("true") => true,
                Some("false") => false,
                _ => return Err("--one-supplementary-per-customer must be true or false".into()),
            };
            if !state.store.set_one_supplementary_per_customer(org, on).await? {
                return Err(format!("org {org} does not exist").into());
            }
            println!("org {org}: oneSupplementaryPerCustomer = {on}");
        }
        _ => {
            eprintln!(
                "usage: ppadmin create-org --name NAME [--time-zone TZ] | \
                 create-client --org ID --role agent|api|admin [--name NAME] | \
                 set-org --org ID --one-supplementary-per-customer true|false"
            );
            std::process::exit(2);
        }
    }
    Ok(())
}
