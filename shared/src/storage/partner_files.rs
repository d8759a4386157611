//! The partner file item (docs/file-sync.md#progress): one per file the import saw, with its
//! state and the counts the chunks add as they finish. The results themselves live in S3.

use crate::domain::model::{OrgId, ProgramId};
use crate::storage::keys::{self, Key};
use serde::{Deserialize, Serialize};

/// Where a file is: being split into chunks, its chunks running, done, or refused as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FileStatus {
    Importing,
    Running,
    Done,
    Rejected,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Importing => "IMPORTING",
            FileStatus::Running => "RUNNING",
            FileStatus::Done => "DONE",
            FileStatus::Rejected => "REJECTED",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerFileRecord {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
    pub entity: String,
    pub file_id: String,
    pub org_id: OrgId,
    pub partner_program_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_program_id: Option<ProgramId>,
    /// The object's key (`incoming/<org>/<program>/<file>`) and its name (`<file>`).
    pub object_key: String,
    pub file_name: String,
    pub etag: String,
    pub size_bytes: u64,
    pub status: FileStatus,
    /// Why a rejected file could not be read at all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub rows_total: u64,
    #[serde(default)]
    pub chunks_total: u64,
    #[serde(default)]
    pub chunks_done: u64,
    #[serde(default)]
    pub rows_done: u64,
    #[serde(default)]
    pub applied: u64,
    #[serde(default)]
    pub refused: u64,
    /// Bytes of the chunks' result lines so far: the results file's length, less its header.
    #[serde(default)]
    pub result_bytes: u64,
    pub created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_key: Option<String>,
}

/// What a new file is, before any count.
pub struct NewFile<'a> {
    pub org: OrgId,
    pub file_id: &'a str,
    pub program: &'a str,
    pub program_id: Option<ProgramId>,
    pub object_key: &'a str,
    pub file_name: &'a str,
    pub etag: &'a str,
    pub size_bytes: u64,
    pub created_at: String,
}

impl PartnerFileRecord {
    pub fn new(file: &NewFile<'_>, status: FileStatus, error: Option<String>) -> Self {
        let Key { pk, sk } = keys::partner_file(file.org, file.file_id);
        PartnerFileRecord {
            pk,
            sk,
            entity: "PFILE".into(),
            file_id: file.file_id.to_string(),
            org_id: file.org,
            partner_program_name: file.program.to_string(),
            partner_program_id: file.program_id,
            object_key: file.object_key.to_string(),
            file_name: file.file_name.to_string(),
            etag: file.etag.to_string(),
            size_bytes: file.size_bytes,
            status,
            error,
            rows_total: 0,
            chunks_total: 0,
            chunks_done: 0,
            rows_done: 0,
            applied: 0,
            refused: 0,
            result_bytes: 0,
            created_at: file.created_at.clone(),
            started_at: None,
            updated_at: None,
            finished_at: None,
            results_key: None,
        }
    }
}

/// What one chunk adds to its file's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkCounts {
    pub rows: u64,
    pub applied: u64,
    pub refused: u64,
    /// The length of the chunk's result lines.
    pub bytes: u64,
}
