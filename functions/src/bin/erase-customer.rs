//! Lambda for `EraseCustomerFunction` in template.yaml: runs `shared::operations::erase_customer::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::erase_customer::handle).await
}
