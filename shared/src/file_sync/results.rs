//! The results file (docs/file-sync.md#the-results-file): one CSV line per row, `row,status,code,
//! message,detail`, as the API would answer the row. Each chunk writes its lines as a part under
//! `work/`; when every chunk is done the parts are joined, in order, into `results/`.

use super::apply::RowResult;
use super::aws::{AwsError, Objects};
use crate::storage::partner_files::PartnerFileRecord;
use bytes::Bytes;

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

/// Joins the file's parts, in order, into the results file `key`. The parts stream through one
/// `PutObject` of the length the chunks counted, a part at a time, so memory does not grow with
/// the file; should that fail (a part rewritten to another length by a duplicate delivery), they
/// are joined again through an upload in 8 MiB parts.
pub async fn join_parts(objects: &Objects, file: &PartnerFileRecord, key: &str) -> Result<(), JoinError> {
    let (org, file_id, chunks) = (file.org_id, file.file_id.as_str(), file.chunks_total);
    let length = HEADER.len() as u64 + file.result_bytes;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, String>>(2);
    let feeder = async move {
        if tx.send(Ok(Bytes::from_static(HEADER.as_bytes()))).await.is_err() {
            return;
        }
        for chunk in 0..chunks {
            let part = match objects.get(&part_key(org, file_id, chunk)).await {
                Ok(Some(part)) => Ok(part),
                Ok(None) => Err(format!("the results of chunk {chunk} are missing")),
                Err(e) => Err(e.to_string()),
            };
            let failed = part.is_err();
            if tx.send(part).await.is_err() || failed {
                return;
            }
        }
    };
    let (streamed, ()) = tokio::join!(objects.put_stream(key, length, rx), feeder);
    match streamed {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::warn!(error = %e, "results not streamed in one piece; joining them in parts");
            join_in_parts(objects, org, file_id, chunks, key).await
        }
    }
}

async fn join_in_parts(objects: &Objects, org: u64, file_id: &str, chunks: u64, key: &str) -> Result<(), JoinError> {
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
