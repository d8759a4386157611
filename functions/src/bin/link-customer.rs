//! Lambda for `LinkCustomerFunction` in template.yaml: runs `shared::operations::link_customer::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::link_customer::handle).await
}
