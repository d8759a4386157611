//! One chunk of a file, as the import sends it and the worker takes it: a byte range that starts
//! and ends at row boundaries, its first row's number and the file's header.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkMessage {
    pub org_id: u64,
    pub partner_program_name: String,
    pub file_id: String,
    pub object_key: String,
    /// The object's ETag when it was imported: a replaced object is not read as this file.
    pub etag: String,
    /// Numbered from 0, in file order.
    pub chunk: u64,
    /// Bytes `[start, end)` of the object.
    pub start: u64,
    pub end: u64,
    pub first_row: u64,
    pub rows: u64,
    /// The file's CSV header (empty for JSON Lines).
    pub header: Vec<String>,
    #[serde(default)]
    pub format: super::json_lines::Format,
}

/// Cuts a file into chunks as its rows go by: at most `max_rows` rows and about `max_bytes`
/// bytes each (a chunk closes at the first row boundary past either).
pub struct Chunker {
    max_rows: u64,
    max_bytes: u64,
    start: u64,
    first_row: u64,
    rows: u64,
    next: u64,
}

/// Where a chunk lies, before it becomes a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSpan {
    pub chunk: u64,
    pub start: u64,
    pub end: u64,
    pub first_row: u64,
    pub rows: u64,
}

impl Chunker {
    /// Rows start at byte `start` (after the header).
    pub fn new(max_rows: u64, max_bytes: u64, start: u64) -> Chunker {
        Chunker { max_rows, max_bytes, start, first_row: 1, rows: 0, next: 0 }
    }

    /// A row ended at byte `end`: the chunk it closes, if it closes one.
    pub fn row(&mut self, end: u64) -> Option<ChunkSpan> {
        self.rows += 1;
        (self.rows >= self.max_rows || end - self.start >= self.max_bytes).then(|| self.close(end))
    }

    /// The last chunk, at the end of the file (none when no row is left).
    pub fn finish(&mut self, end: u64) -> Option<ChunkSpan> {
        (self.rows > 0).then(|| self.close(end))
    }

    fn close(&mut self, end: u64) -> ChunkSpan {
        let span = ChunkSpan { chunk: self.next, start: self.start, end, first_row: self.first_row, rows: self.rows };
        self.next += 1;
        self.start = end;
        self.first_row += self.rows;
        self.rows = 0;
        span
    }

    /// Chunks closed so far.
    pub fn chunks(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_close_at_the_row_limit_or_the_byte_limit_and_cover_every_row_once() {
        let mut c = Chunker::new(3, 100, 10);
        let mut spans = Vec::new();
        for end in [20, 30, 40, 50, 160, 170] {
            spans.extend(c.row(end));
        }
        spans.extend(c.finish(170));
        let got: Vec<(u64, u64, u64, u64)> = spans.iter().map(|s| (s.start, s.end, s.first_row, s.rows)).collect();
        assert_eq!(got, vec![(10, 40, 1, 3), (40, 160, 4, 2), (160, 170, 6, 1)]);
        assert_eq!(c.chunks(), 3);
        assert_eq!(c.finish(170), None, "nothing left");
    }
}
