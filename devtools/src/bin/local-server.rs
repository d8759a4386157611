//! The local API (`local-server [--port 3000] [--seed-demo [--seed-partner-file NAME]...]`): every
//! route of template.yaml and the console on one port, the Lambdas' handlers and authentication,
//! against the DynamoDB that `AWS_ENDPOINT_URL_DYNAMODB` names (DynamoDB Local).

use shared::state::AppState;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    shared::logging::init();
    // The metric documents each request's Lambda would write go into this log (`make metrics`).
    shared::metrics::init_server();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = match args.iter().position(|a| a == "--port") {
        Some(i) => args.get(i + 1).ok_or("--port needs a value")?.parse()?,
        None => 3000,
    };
    let state = Arc::new(AppState::from_env().await?);
    let created = devtools::table_definition::ensure_table(state.store.client(), state.store.table()).await?;
    if created {
        println!("created table {} from template.yaml", state.store.table());
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    // `--port 0` takes a free port; the line below names the one bound (tests read it).
    let base = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    if args.iter().any(|a| a == "--seed-demo") {
        let demo = devtools::demo::seed_demo(&state).await?;
        // Files of the demo org with names of the caller's choosing (the browser tests' markup).
        for (i, _) in args.iter().enumerate().filter(|(_, a)| *a == "--seed-partner-file") {
            let name = args.get(i + 1).ok_or("--seed-partner-file needs a file name")?;
            devtools::demo::seed_partner_file(&state, demo.org.org_id, name).await?;
        }
        let how = if demo.reused { "reused (fresh credentials below)" } else { "seeded" };
        println!(
            "\nDemo org {} ({}) {how}: loyalty programs Demo Rewards and Demo Plus,",
            demo.org.org_id, demo.org.time_zone
        );
        println!(
            "partner programs SkyMiles (EXTERNAL, tiers Silver/Gold/Platinum) and FlexiPass (SUPPLEMENTARY, 30 days),"
        );
        println!("customers with mobiles 919740000001..3.\n");
        println!("admin client: {}  secret: {}", demo.admin.client_key, demo.admin.secret);
        println!("api client:   {}  secret: {}", demo.api.client_key, demo.api.secret);
        println!(
            "agent client: {}  secret: {}   (\"Demo Agent\": sign in to the console with it)\n",
            demo.agent.client_key, demo.agent.secret
        );
        println!("Link a demo customer to SkyMiles:\n");
        println!(
            "curl -s -X POST {base}/v2/partnerProgram/linkCustomer -u '{}:{}' -H 'Content-Type: application/json' \
             \\\n  -d \
             '{{\"linkCustomers\":[{{\"customer\":{{\"mobile\":\"{}\"}},\"linkToPartnerPrograms\":[{{\
             \"partnerProgramName\":\"SkyMiles\",\"customerPartnerReference\":{{\"partnerMembershipId\":\"SM-1234\",\
             \"partnerTierName\":\"Gold\",\"partnerTierExpiryDate\":\"2030-12-29T23:59:59+05:30\"}}}}]}}]}}'\n",
            demo.api.client_key, demo.api.secret, demo.sample_mobile
        );
    }
    println!("The contract of every route (request and response shapes, codes): openapi.yaml at the repo root");
    println!("Member-care console: {base}/console/ (sign in with a client key and secret)");
    println!("Partner Programs API listening on {base} (Ctrl-C stops it)");
    tokio::select! {
        r = devtools::local_server::serve(state, listener) => r?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    Ok(())
}
