//! Lambda for `MembershipLookupFunction` in template.yaml: runs
//! `shared::operations::membership_lookup::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::membership_lookup::handle).await
}
