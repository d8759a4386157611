//! The worker: one chunk at a time. It reads the chunk's byte range, applies its rows through
//! `apply_row` (up to `row_concurrency` at once, rows naming the same customer one after the
//! other in file order), writes the chunk's result lines, and counts the chunk once. The last
//! chunk counted finishes the file: the results joined in order, the file done, its event.

use super::apply::{apply_row, RowResult};
use super::aws::AwsError;
use super::chunk::ChunkMessage;
use super::json_lines::{Format, JsonLinesReader};
use super::reader::{FileReader, FileRow};
use super::{results, FileSync};
use crate::domain::dates::format_utc;
use crate::domain::model::OrgId;
use crate::storage::outbox::partner_file_processed;
use crate::storage::partner_files::{ChunkCounts, FileStatus};
use crate::storage::store::StoreError;
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::HashMap;

/// What became of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Its rows were applied and counted (`counted` false: another delivery counted it meanwhile).
    Applied { counts: ChunkCounts, counted: bool },
    /// It was counted before (a redelivery): its rows and results stand, nothing is read again.
    Counted,
    /// Its file is done already, or unknown: nothing to do.
    Skipped,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    #[error(transparent)]
    Storage(#[from] StoreError),
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error(transparent)]
    Join(#[from] results::JoinError),
    #[error("the chunk's header is not the file's: {0}")]
    Header(String),
}

/// Applies chunk `msg`. An error leaves it to be delivered again: what it applied is applied once.
pub async fn process_chunk(fs: &FileSync, msg: &ChunkMessage) -> Result<ChunkOutcome, WorkError> {
    let org = msg.org_id;
    let file = fs.state.store.partner_file(org, &msg.file_id).await?;
    let Some(file) = file.filter(|f| matches!(f.status, FileStatus::Importing | FileStatus::Running)) else {
        tracing::info!(org, file_id = %msg.file_id, chunk = msg.chunk, "chunk of a file done or unknown: skipped");
        return Ok(ChunkOutcome::Skipped);
    };
    if fs.state.store.partner_file_chunk_counted(org, &msg.file_id, msg.chunk).await? {
        finish_if_complete(fs, org, &msg.file_id).await?;
        return Ok(ChunkOutcome::Counted);
    }
    let bytes = fs.objects.range(&msg.object_key, &msg.etag, msg.start, msg.end).await?;
    let rows: Vec<(u64, Result<FileRow, RowResult>)> = match msg.format {
        Format::Csv => FileReader::chunk(&bytes[..], &msg.header, msg.first_row)
            .map_err(|e| WorkError::Header(e.to_string()))?
            .collect(),
        Format::JsonLines => JsonLinesReader::new(&bytes[..], msg.first_row).collect(),
    };
    let done = apply_rows(fs, msg, &file.partner_program_name, rows).await;
    let part = results::lines(done.iter().map(|(row, r)| (row.to_string(), r)));
    let counts = ChunkCounts {
        rows: done.len() as u64,
        applied: done.iter().filter(|(_, r)| r.applied).count() as u64,
        refused: done.iter().filter(|(_, r)| !r.applied).count() as u64,
        bytes: part.len() as u64,
    };
    fs.objects.put(&results::part_key(org, &msg.file_id, msg.chunk), part).await?;
    let now = format_utc(fs.state.now());
    let counted = fs.state.store.complete_partner_file_chunk(org, &msg.file_id, msg.chunk, counts, &now).await?;
    if counted {
        crate::metrics::count("FileChunksProcessed", 1);
        crate::metrics::count("FileRowsApplied", counts.applied);
        crate::metrics::count("FileRowsRefused", counts.refused);
    }
    finish_if_complete(fs, org, &msg.file_id).await?;
    Ok(ChunkOutcome::Applied { counts, counted })
}

/// The keys a row names its customer by: rows sharing one are applied one after the other.
fn row_keys(row: &FileRow) -> Vec<String> {
    let mut keys = Vec::with_capacity(2);
    if let Some(mid) = &row.partner_membership_id {
        keys.push(format!("mid:{mid}"));
    }
    if let (Some(name), Some(value)) = (&row.identifier_name, &row.identifier_value) {
        keys.push(format!("{}:{value}", name.to_ascii_lowercase()));
    }
    keys
}

/// Applies `rows` in file order, up to `row_concurrency` at once: a row waits while an earlier
/// row naming any of its keys is in flight. Returns each row's result, in file order.
async fn apply_rows(
    fs: &FileSync,
    msg: &ChunkMessage,
    program: &str,
    rows: Vec<(u64, Result<FileRow, RowResult>)>,
) -> Vec<(u64, RowResult)> {
    let mut done = Vec::with_capacity(rows.len());
    let mut in_flight = FuturesUnordered::new();
    let mut busy: HashMap<String, usize> = HashMap::new();
    let settle = |busy: &mut HashMap<String, usize>, keys: Vec<String>| {
        for key in keys {
            if let Some(n) = busy.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    busy.remove(&key);
                }
            }
        }
    };
    for (row_no, row) in rows {
        let row = match row {
            Ok(row) => row,
            Err(malformed) => {
                done.push((row_no, malformed));
                continue;
            }
        };
        let keys = row_keys(&row);
        while in_flight.len() >= fs.settings.row_concurrency || keys.iter().any(|k| busy.contains_key(k)) {
            let Some((no, held, result)) = in_flight.next().await else { break };
            settle(&mut busy, held);
            done.push((no, result));
        }
        for key in &keys {
            *busy.entry(key.clone()).or_default() += 1;
        }
        let state = &fs.state;
        in_flight.push(async move {
            let result = apply_row(state, msg.org_id, program, &msg.file_id, row_no, &row).await;
            (row_no, keys, result)
        });
    }
    while let Some((no, _, result)) = in_flight.next().await {
        done.push((no, result));
    }
    done.sort_by_key(|(no, _)| *no);
    done
}

/// Finishes the file if every chunk is counted: joins the results, marks it done with its
/// event. Any number of callers may race here; one finishes it, the others find it done.
pub async fn finish_if_complete(fs: &FileSync, org: OrgId, file_id: &str) -> Result<bool, WorkError> {
    let Some(file) = fs.state.store.partner_file(org, file_id).await? else { return Ok(false) };
    if file.status != FileStatus::Running || file.chunks_done < file.chunks_total {
        return Ok(false);
    }
    let key = results::results_key(org, &file.partner_program_name, &file.file_name);
    results::join_parts(&fs.objects, &file, &key).await?;
    let now = fs.state.now();
    let event = partner_file_processed(&file, &key, now);
    let finished = fs.state.store.finish_partner_file(org, file_id, &key, &format_utc(now), &event).await?;
    if finished {
        crate::metrics::count("FilesCompleted", 1);
        tracing::info!(
            org,
            file_id,
            rows = file.rows_done,
            applied = file.applied,
            refused = file.refused,
            "partner file done"
        );
    }
    Ok(finished)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_is_keyed_by_each_name_it_gives_its_customer() {
        let row = FileRow {
            partner_membership_id: Some("M1".into()),
            identifier_name: Some("Mobile".into()),
            identifier_value: Some("919".into()),
            ..FileRow::default()
        };
        assert_eq!(row_keys(&row), vec!["mid:M1".to_string(), "mobile:919".to_string()]);
        assert!(row_keys(&FileRow::default()).is_empty());
    }
}
