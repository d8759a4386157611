//! Lambda for `EraseCustomerFunction` in template.yaml; the operation itself lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda_adapter::run_http("EraseCustomerFunction").await
}
