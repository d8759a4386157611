//! Lambda for `PartnerFilesFunction` in template.yaml: runs `shared::operations::partner_files::handle`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::lambda_adapter::run_http(shared::operations::partner_files::handle).await
}
