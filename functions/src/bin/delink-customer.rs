//! Lambda for `DelinkCustomerFunction` in template.yaml: runs `shared::operations::delink_customer::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::delink_customer::handle).await
}
