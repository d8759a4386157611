//! Partner tier files (docs/file-sync.md): a streaming reader of a partner's CSV status file
//! (`reader`); the application of one row through the same operation, rules, codes, history
//! and events as the write APIs, exactly once per (file, row) (`apply`); and the AWS path around
//! them: the import of an object into chunks (`import`), the worker that applies a chunk
//! (`worker`), their results file (`results`), over S3 and SQS (`aws`). Beside `operations`:
//! it runs their handlers.

pub mod apply;
pub mod aws;
pub mod chunk;
pub mod import;
pub mod json_lines;
pub mod lambda;
pub mod reader;
pub mod results;
pub mod worker;

pub use apply::{apply_row, RowResult};
pub use reader::{Action, FileError, FileReader, FileRow};

use crate::config::file_sync::FileSyncSettings;
use crate::state::AppState;
use std::sync::Arc;

/// What the import and the worker run on: the app state (the table), the bucket, the queue.
#[derive(Clone)]
pub struct FileSync {
    pub state: Arc<AppState>,
    pub objects: aws::Objects,
    pub queue: Option<aws::ChunkQueue>,
    pub settings: FileSyncSettings,
}

impl FileSync {
    /// The bucket and queue of `settings`, with clients from the standard AWS chain (which
    /// honours `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL_SQS`: moto locally).
    pub async fn new(state: Arc<AppState>, settings: FileSyncSettings) -> FileSync {
        let objects = aws::Objects::from_env(&settings.bucket).await;
        let queue = match &settings.queue_url {
            Some(url) => Some(aws::ChunkQueue::from_env(url).await),
            None => None,
        };
        FileSync { state, objects, queue, settings }
    }
}
