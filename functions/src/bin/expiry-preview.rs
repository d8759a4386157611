//! Lambda for `ExpiryPreviewFunction` in template.yaml: runs `shared::operations::expiry_preview::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::expiry_preview::handle).await
}
