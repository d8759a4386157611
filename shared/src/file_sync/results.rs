//! The results file (docs/file-sync.md#the-results-file): one CSV line per row, `row,status,code,
//! message,detail`, as the API would answer the row. Each chunk writes its lines as a part under
//! `work/`; when every chunk is done the parts are joined, in order, into `results/`.

use super::apply::RowResult;
use super::aws::{AwsError, Objects};

pub const HEADER: &str = "row,status,code,message,detail\n";

/// Where a file's results go: `results/<org>/<program>/<file>.csv`.
pub fn results_key(org: u64, program: &str, file_name: &str) -> String {
    format!("results/{org}/{program}/{file_name}.csv")
}

/// Where chunk `chunk`'s lines wait for the others.
pub fn part_key(org: u64, file_id: &str, chunk: u64) -> String {
    format!("work/{org}/{file_id}/{chunk:08}.csv")
}

/// The CSV lines of `rows` (no header).
pub fn lines<'a>(rows: impl IntoIterator<Item = (String, &'a RowResult)>) -> Vec<u8> {
    let mut csv = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
    for (row, r) in rows {
        let code = r.code.to_string();
        let status = if r.applied { "true" } else { "false" };
        // Writing to a Vec cannot fail but for a bug in the csv crate; such a line is dropped.
        let _ = csv.write_record([row.as_str(), status, &code, &r.message, r.detail.as_deref().unwrap_or("")]);
    }
    csv.into_inner().unwrap_or_default()
}

/// The results file of a file refused as a whole: the header and one `file` line saying why.
pub fn refused(why: &RowResult) -> Vec<u8> {
    let mut out = HEADER.as_bytes().to_vec();
    out.extend(lines([("file".to_string(), why)]));
    out
}

/// Joins the parts of `chunks` chunks, in order, into the results file `key`.
pub async fn join_parts(objects: &Objects, org: u64, file_id: &str, chunks: u64, key: &str) -> Result<(), JoinError> {
    let mut upload = objects.upload(key);
    upload.write(HEADER.as_bytes()).await?;
    for chunk in 0..chunks {
        let part = objects.get(&part_key(org, file_id, chunk)).await?.ok_or(JoinError::MissingPart(chunk))?;
        upload.write(&part).await?;
    }
    upload.finish().await?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the results of chunk {0} are missing")]
    MissingPart(u64),
}
