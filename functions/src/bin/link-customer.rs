//! Lambda for `LinkCustomerFunction` in template.yaml: runs `shared::operations::link_customer::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::link_customer::handle).await
}
