//! Lambda for `RegisterCustomerFunction` in template.yaml: runs `shared::operations::register_customer::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::register_customer::handle).await
}
