//! `functions/src/bin/link-customer.rs` line for line, built in this package so that it keeps its
//! symbols (`[profile.release.package.partner-bench] strip = false`) while every other release
//! setting is the Lambdas' own: what `make bench` profiles under callgrind when a goal is missed.
//! Never deployed.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::link_customer::handle).await
}
