//! Lambda for `CustomerPartnerProgramsFunction` in template.yaml: runs
//! `shared::operations::customer_partner_programs::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::customer_partner_programs::handle).await
}
