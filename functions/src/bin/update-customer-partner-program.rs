//! Lambda for `UpdateCustomerPartnerProgramFunction` in template.yaml: runs
//! `shared::operations::update_customer_partner_program::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::update_customer_partner_program::handle).await
}
