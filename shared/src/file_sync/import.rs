//! The import: an object under `incoming/<org>/<program>/<file>` becomes a file. Its header is
//! checked from its first bytes; its content is claimed by its ETag (an upload of the same
//! content again is applied once); its rows are cut into chunks as it streams by, and each chunk
//! goes to the queue. A file that cannot be read at all gets a results file that says why.

use super::apply::RowResult;
use super::aws::AwsError;
use super::chunk::{ChunkMessage, ChunkSpan, Chunker};
use super::json_lines::{self, Format, JsonLinesReader};
use super::reader::{FileError, FileReader, RowCursor};
use super::{results, worker, FileSync};
use crate::domain::dates::format_utc;
use crate::domain::error_catalog::ErrorCode;
use crate::domain::model::OrgId;
use crate::storage::partner_files::{FileStatus, NewFile, PartnerFileRecord};
use crate::storage::store::{FileClaim, StoreError};

/// The header must be within the object's first 64 KiB.
const HEADER_WINDOW: u64 = 64 << 10;

/// The org, program and file an incoming key names; the org comes from the key, never the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingKey {
    pub org: OrgId,
    pub program: String,
    pub file_name: String,
}

/// `incoming/<org>/<program>/<file>`, with `<file>` any non-empty rest.
pub fn parse_key(key: &str) -> Option<IncomingKey> {
    let mut parts = key.strip_prefix("incoming/")?.splitn(3, '/');
    let org = parts.next()?.parse::<OrgId>().ok()?;
    let program = parts.next().filter(|p| !p.is_empty())?.to_string();
    let file_name = parts.next().filter(|f| !f.is_empty())?.to_string();
    Some(IncomingKey { org, program, file_name })
}

/// What the import did with an object (the import function's answer).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "SCREAMING_SNAKE_CASE", rename_all_fields = "camelCase")]
pub enum ImportOutcome {
    /// Its chunks are queued (or it had no row and is done).
    Started { file_id: String, rows: u64, chunks: u64 },
    /// The same content was claimed before by `file_id` (another upload, or this event again).
    Duplicate { file_id: String },
    /// It cannot be applied at all; its results file says why.
    Rejected { why: String },
    /// Not a partner file: a key outside `incoming/<org>/<program>/<file>`, or an org that does not exist.
    Ignored { why: String },
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("the file could not be read to its end: {0}")]
    Read(String),
    #[error("FILES_QUEUE_URL is not set: the import cannot queue chunks")]
    NoQueue,
    #[error("the file's chunks are counted but it could not be finished: {0}")]
    Finish(#[from] worker::WorkError),
}

/// Imports the object `key` at `etag`, `size` bytes (as the S3 event gives them).
pub async fn import_object(fs: &FileSync, key: &str, etag: &str, size: u64) -> Result<ImportOutcome, ImportError> {
    let Some(incoming) = parse_key(key) else {
        crate::metrics::count("FilesRejected", 1);
        tracing::warn!(key, "an object outside incoming/<org>/<program>/<file> is not a partner file");
        return Ok(ImportOutcome::Ignored { why: "not an incoming/<org>/<program>/<file> key".into() });
    };
    let org = incoming.org;
    if fs.state.store.org(org).await?.is_none() {
        crate::metrics::count("FilesRejected", 1);
        tracing::warn!(org, "an incoming file names an org that does not exist");
        return Ok(ImportOutcome::Ignored { why: format!("no org {org}") });
    }
    let now = format_utc(fs.state.now());
    let file_id = uuid::Uuid::now_v7().simple().to_string();
    let catalog = fs.state.catalog(org).await?;
    let program_id = catalog.partner_program(&incoming.program).map(|p| p.partner_program_id);
    let new = NewFile {
        org,
        file_id: &file_id,
        program: &incoming.program,
        program_id,
        object_key: key,
        file_name: &incoming.file_name,
        etag,
        size_bytes: size,
        created_at: now,
    };
    let Some(program_id) = program_id else {
        let why = ErrorCode::UnknownPartnerProgram
            .with_detail(format!("no partner program named {:?} in org {org}", incoming.program));
        return reject(fs, &new, why.into()).await;
    };
    if size > fs.settings.max_file_bytes {
        let detail = format!("the file is {size} bytes, over the limit of {} bytes", fs.settings.max_file_bytes);
        return reject(fs, &new, ErrorCode::CannotProcess.with_detail(detail).into()).await;
    }
    let format = Format::of_name(&incoming.file_name);
    let header = match read_head(fs, key, etag, size, format).await? {
        Ok(header) => header,
        Err(e) => return reject(fs, &new, file_error(&e)).await,
    };
    let record = PartnerFileRecord::new(&new, FileStatus::Importing, None);
    let file_id = match fs.state.store.claim_partner_file(&record, program_id).await? {
        FileClaim::New => file_id,
        FileClaim::Already(earlier) => match resumable(fs, org, &earlier, key).await? {
            true => earlier,
            false => return duplicate(fs, &incoming, key, earlier).await,
        },
    };
    crate::metrics::count("FilesClaimed", 1);
    let message = ChunkMessage {
        org_id: org,
        partner_program_name: incoming.program.clone(),
        file_id: file_id.clone(),
        object_key: key.to_string(),
        etag: etag.to_string(),
        chunk: 0,
        start: 0,
        end: 0,
        first_row: 0,
        rows: 0,
        header,
        format,
    };
    let (rows, chunks) = split(fs, &message).await?;
    fs.state.store.start_partner_file(org, &file_id, rows, chunks, &format_utc(fs.state.now())).await?;
    tracing::info!(org, file_id = %file_id, rows, chunks, "partner file queued");
    worker::finish_if_complete(fs, org, &file_id).await?;
    Ok(ImportOutcome::Started { file_id, rows, chunks })
}

/// The file's first bytes checked: a CSV header (returned), or a JSON Lines first object.
async fn read_head(
    fs: &FileSync,
    key: &str,
    etag: &str,
    size: u64,
    format: Format,
) -> Result<Result<Vec<String>, FileError>, AwsError> {
    let head = fs.objects.range(key, etag, 0, size.min(HEADER_WINDOW)).await?;
    Ok(match format {
        Format::Csv => FileReader::new(&head[..]).map(|mut reader| reader.header()),
        Format::JsonLines => json_lines::check_head(&head).map(|()| Vec::new()),
    })
}

/// A file read before under `earlier` is taken up again only when it is this object and its
/// import stopped before every chunk was queued (the import failed and is retried).
async fn resumable(fs: &FileSync, org: OrgId, earlier: &str, key: &str) -> Result<bool, StoreError> {
    let file = fs.state.store.partner_file(org, earlier).await?;
    Ok(file.is_some_and(|f| f.object_key == key && f.status == FileStatus::Importing))
}

/// The same content again: applied once. Another object gets a results file that says so; the
/// same object (its event delivered again) changes nothing.
async fn duplicate(
    fs: &FileSync,
    incoming: &IncomingKey,
    key: &str,
    earlier: String,
) -> Result<ImportOutcome, ImportError> {
    crate::metrics::count("FilesDuplicate", 1);
    let first = fs.state.store.partner_file(incoming.org, &earlier).await?;
    if first.as_ref().is_some_and(|f| f.object_key != key) {
        let detail = format!(
            "the same content was applied as file {earlier} ({}); nothing was applied again",
            first.map(|f| f.object_key).unwrap_or_default()
        );
        let why: RowResult = ErrorCode::CannotProcess.with_detail(detail).into();
        let results_key = results::results_key(incoming.org, &incoming.program, &incoming.file_name);
        fs.objects.put(&results_key, results::refused(&why)).await?;
    }
    tracing::info!(org = incoming.org, file_id = %earlier, "partner file content seen before: not applied again");
    Ok(ImportOutcome::Duplicate { file_id: earlier })
}

/// A file that cannot be applied at all: its item says why, and so does its results file.
async fn reject(fs: &FileSync, new: &NewFile<'_>, why: RowResult) -> Result<ImportOutcome, ImportError> {
    crate::metrics::count("FilesRejected", 1);
    let reason = why.detail.clone().unwrap_or_else(|| why.message.clone());
    let mut record = PartnerFileRecord::new(new, FileStatus::Rejected, Some(reason.clone()));
    let results_key = results::results_key(new.org, new.program, new.file_name);
    fs.objects.put(&results_key, results::refused(&why)).await?;
    record.results_key = Some(results_key);
    record.finished_at = Some(record.created_at.clone());
    fs.state.store.save_partner_file(&record).await?;
    tracing::warn!(org = new.org, file_id = new.file_id, reason = %reason, "partner file rejected");
    Ok(ImportOutcome::Rejected { why: reason })
}

fn file_error(e: &FileError) -> RowResult {
    ErrorCode::CannotProcess.with_detail(e.to_string()).into()
}

/// Streams the object once on a blocking thread, cutting chunks at row boundaries, and queues
/// them ten at a time as they are cut. Returns (rows, chunks).
async fn split(fs: &FileSync, file: &ChunkMessage) -> Result<(u64, u64), ImportError> {
    let queue = fs.queue.as_ref().ok_or(ImportError::NoQueue)?;
    let source = fs.objects.reader(&file.object_key, &file.etag).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<ChunkSpan>(64);
    let (max_rows, max_bytes, format) = (fs.settings.chunk_rows, fs.settings.chunk_bytes, file.format);
    let cutter = tokio::task::spawn_blocking(move || match format {
        Format::Csv => {
            let reader = FileReader::new(source).map_err(|e| ImportError::Read(e.to_string()))?;
            cut(reader, max_rows, max_bytes, &tx)
        }
        Format::JsonLines => cut(JsonLinesReader::new(std::io::BufReader::new(source), 1), max_rows, max_bytes, &tx),
    });
    let mut batch = Vec::with_capacity(10);
    let mut rows = 0;
    while let Some(span) = rx.recv().await {
        rows += span.rows;
        batch.push(ChunkMessage {
            chunk: span.chunk,
            start: span.start,
            end: span.end,
            first_row: span.first_row,
            rows: span.rows,
            ..file.clone()
        });
        if batch.len() == 10 {
            queue.send(&batch).await?;
            crate::metrics::count("FileChunksSent", 10);
            batch.clear();
        }
    }
    if !batch.is_empty() {
        queue.send(&batch).await?;
        crate::metrics::count("FileChunksSent", batch.len() as u64);
    }
    let chunks = cutter.await.map_err(|e| ImportError::Read(e.to_string()))??;
    Ok((rows, chunks))
}

/// The blocking half of `split`: steps through the rows to the end and sends each chunk's span.
fn cut(
    mut reader: impl RowCursor,
    max_rows: u64,
    max_bytes: u64,
    tx: &tokio::sync::mpsc::Sender<ChunkSpan>,
) -> Result<u64, ImportError> {
    let mut chunker = Chunker::new(max_rows, max_bytes, reader.offset());
    while reader.skip_row() {
        if let Some(span) = chunker.row(reader.offset()) {
            tx.blocking_send(span).map_err(|e| ImportError::Read(e.to_string()))?;
        }
    }
    if let Some(span) = chunker.finish(reader.offset()) {
        tx.blocking_send(span).map_err(|e| ImportError::Read(e.to_string()))?;
    }
    Ok(chunker.chunks())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_org_and_program_come_from_the_key() {
        let k = parse_key("incoming/7/SkyMiles/2026-12/tiers.csv").unwrap();
        assert_eq!((k.org, k.program.as_str(), k.file_name.as_str()), (7, "SkyMiles", "2026-12/tiers.csv"));
        for bad in ["incoming/x/SkyMiles/a.csv", "incoming/7/SkyMiles/", "incoming/7//a.csv", "results/7/S/a.csv"] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_file_is_cut_at_row_boundaries_even_where_a_quoted_field_spans_lines() {
        let file = "partnerMembershipId,action,partnerTierName,partnerTierExpiryDate\n\
                    M1,UPDATE,Gold,2030-01-01\n\"M\n2\",UPDATE,Gold,2030-01-01\nM3,UPDATE,Gold,2030-01-01\n";
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        let chunks = cut(FileReader::new(file.as_bytes()).unwrap(), 2, 1 << 20, &tx).unwrap();
        drop(tx);
        let mut spans = Vec::new();
        while let Ok(s) = rx.try_recv() {
            spans.push(s);
        }
        assert_eq!(chunks, 2);
        let second = &file[spans[1].start as usize..spans[1].end as usize];
        assert_eq!(second, "M3,UPDATE,Gold,2030-01-01\n");
        let first = &file[spans[0].start as usize..spans[0].end as usize];
        assert!(first.starts_with("M1,") && first.ends_with("2\",UPDATE,Gold,2030-01-01\n"), "{first:?}");
        assert_eq!((spans[0].first_row, spans[0].rows, spans[1].first_row), (1, 2, 3));
    }
}
