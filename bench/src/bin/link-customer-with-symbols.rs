//! `functions/src/bin/link-customer.rs` line for line, built in this package so it keeps its
//! symbols (`[profile.release.package.partner-bench] strip = false`) under every other release
//! setting of the Lambdas: what `make bench` profiles under callgrind. Never deployed.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::link_customer::handle).await
}
