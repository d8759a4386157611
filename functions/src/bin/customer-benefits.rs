//! Lambda for `CustomerBenefitsFunction` in template.yaml; the operation itself lives in `shared`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::lambda_adapter::run_http("CustomerBenefitsFunction").await
}
