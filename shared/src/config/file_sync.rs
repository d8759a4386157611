//! The partner file functions' settings (docs/file-sync.md#limits), read by those functions only:
//! the other functions neither need nor check them.

use super::parse_number;

#[derive(Debug, Clone)]
pub struct FileSyncSettings {
    /// The bucket of `incoming/`, `work/` and `results/` (FILES_BUCKET, required).
    pub bucket: String,
    /// The FIFO queue of chunks (FILES_QUEUE_URL; the import function needs it, the worker not).
    pub queue_url: Option<String>,
    /// Rows per chunk at most (FILE_CHUNK_ROWS, default 1000).
    pub chunk_rows: u64,
    /// Bytes per chunk at most, whichever comes first (FILE_CHUNK_BYTES, default 1 MiB).
    pub chunk_bytes: u64,
    /// A larger file is refused as a whole (FILE_MAX_BYTES, default 2 GiB).
    pub max_file_bytes: u64,
    /// Rows of a chunk applied at once; rows naming the same customer wait for each other
    /// (FILE_ROW_CONCURRENCY, default 16).
    pub row_concurrency: usize,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid partner file configuration: {}", .0.join("; "))]
pub struct FileSyncSettingsError(pub Vec<String>);

impl FileSyncSettings {
    pub fn from_env() -> Result<Self, FileSyncSettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, FileSyncSettingsError> {
        let mut problems = Vec::new();
        let bucket = lookup("FILES_BUCKET").filter(|b| !b.trim().is_empty()).unwrap_or_else(|| {
            problems.push("FILES_BUCKET is not set".to_string());
            String::new()
        });
        let queue_url = lookup("FILES_QUEUE_URL").filter(|q| !q.trim().is_empty());
        let mut number = |name: &str, default: u64, min: u64, max: u64| {
            parse_number(&lookup, name, default, min, max, &mut problems)
        };
        let chunk_rows = number("FILE_CHUNK_ROWS", 1000, 1, 100_000);
        let chunk_bytes = number("FILE_CHUNK_BYTES", 1 << 20, 1024, 64 << 20);
        let max_file_bytes = number("FILE_MAX_BYTES", 2 << 30, 1, 5 << 40);
        let row_concurrency = number("FILE_ROW_CONCURRENCY", 16, 1, 256) as usize;
        let settings = FileSyncSettings { bucket, queue_url, chunk_rows, chunk_bytes, max_file_bytes, row_concurrency };
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(FileSyncSettingsError(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_is_required_and_every_bad_number_is_reported_together() {
        let err = FileSyncSettings::from_lookup(|name| match name {
            "FILE_CHUNK_ROWS" => Some("0".into()),
            "FILE_ROW_CONCURRENCY" => Some("many".into()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(err.0.len(), 3, "{err}");
        assert!(err.0[0].contains("FILES_BUCKET"), "{err}");
    }

    #[test]
    fn defaults_apply_where_unset() {
        let s = FileSyncSettings::from_lookup(|name| (name == "FILES_BUCKET").then(|| "b".to_string())).unwrap();
        assert_eq!((s.chunk_rows, s.chunk_bytes, s.row_concurrency, s.queue_url), (1000, 1 << 20, 16, None));
    }
}
