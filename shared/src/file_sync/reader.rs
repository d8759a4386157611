//! The file's reader: a header checked once, then one row at a time from any `std::io::Read`.
//! It holds one record (reused) and the `csv` crate's fixed buffer, never the file.

use super::apply::RowResult;
use crate::domain::error_catalog::ErrorCode;
use std::io::Read;

/// What the file asks for a row (docs/file-sync.md#what-each-row-becomes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Link,
    Delink,
    /// One of `UPDATE`, `RENEW`, `UPGRADE`, `DOWNGRADE`: the update API's `updateType`.
    Update(&'static str),
}

impl Action {
    pub fn parse(raw: &str) -> Option<Action> {
        match raw.trim().to_ascii_uppercase().as_str() {
            "LINK" => Some(Action::Link),
            "DELINK" => Some(Action::Delink),
            "UPDATE" => Some(Action::Update("UPDATE")),
            "RENEW" => Some(Action::Update("RENEW")),
            "UPGRADE" => Some(Action::Update("UPGRADE")),
            "DOWNGRADE" => Some(Action::Update("DOWNGRADE")),
            _ => None,
        }
    }
}

/// One row as read: every value trimmed, an empty one absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileRow {
    pub partner_membership_id: Option<String>,
    pub identifier_name: Option<String>,
    pub identifier_value: Option<String>,
    pub action: Option<String>,
    pub partner_tier_name: Option<String>,
    pub partner_tier_expiry_date: Option<String>,
    pub membership_start_date: Option<String>,
}

/// A file that cannot be applied at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("the header lacks {0}")]
    MissingColumns(String),
    #[error("the header cannot be read: {0}")]
    UnreadableHeader(String),
    #[error("the file is not UTF-8: {0}")]
    Encoding(String),
}

/// Where each column is in a row.
#[derive(Debug, Clone, Copy)]
struct Columns {
    membership_id: Option<usize>,
    identifier_name: Option<usize>,
    identifier_value: Option<usize>,
    action: usize,
    tier: usize,
    expiry: usize,
    start: Option<usize>,
}

impl Columns {
    fn of(header: &csv::StringRecord) -> Result<Columns, FileError> {
        let at = |name: &str| header.iter().position(|h| h.trim() == name);
        let (membership_id, identifier_name, identifier_value) =
            (at("partnerMembershipId"), at("identifierName"), at("identifierValue"));
        let mut missing = Vec::new();
        if membership_id.is_none() && (identifier_name.is_none() || identifier_value.is_none()) {
            let pair = match (identifier_name, identifier_value) {
                (Some(_), None) => "identifierValue",
                (None, Some(_)) => "identifierName",
                _ => "partnerMembershipId (or identifierName and identifierValue)",
            };
            missing.push(pair.to_string());
        }
        let mut required = |name: &str| {
            let found = at(name);
            if found.is_none() {
                missing.push(name.to_string());
            }
            found.unwrap_or(0)
        };
        let (action, tier, expiry) =
            (required("action"), required("partnerTierName"), required("partnerTierExpiryDate"));
        if !missing.is_empty() {
            return Err(FileError::MissingColumns(format!("the column(s) {}", missing.join(", "))));
        }
        let start = at("membershipStartDate");
        Ok(Columns { membership_id, identifier_name, identifier_value, action, tier, expiry, start })
    }

    fn row(&self, record: &csv::StringRecord) -> FileRow {
        let value = |i: Option<usize>| {
            i.and_then(|i| record.get(i)).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
        };
        FileRow {
            partner_membership_id: value(self.membership_id),
            identifier_name: value(self.identifier_name),
            identifier_value: value(self.identifier_value),
            action: value(Some(self.action)),
            partner_tier_name: value(Some(self.tier)),
            partner_tier_expiry_date: value(Some(self.expiry)),
            membership_start_date: value(self.start),
        }
    }
}

/// The rows of one file, in file order, numbered from 1 (the first row after the header). A row
/// that cannot be read is its own `Err` (code 2001) and the next row is read; an I/O failure of
/// the source ends the file after its row.
pub struct FileReader<R: Read> {
    csv: csv::Reader<R>,
    columns: Columns,
    /// Fields in the header: a row with another number is malformed. Checked here rather than by
    /// the `csv` crate, which measures against the first record it reads, not a chunk's header.
    width: usize,
    record: csv::StringRecord,
    skipped: csv::ByteRecord,
    row_no: u64,
    ended: bool,
}

impl<R: Read> FileReader<R> {
    /// Reads and checks the header: a missing column is a file-level error naming it, a header
    /// that is not UTF-8 (a UTF-16 file, Latin-1) an encoding error.
    pub fn new(source: R) -> Result<FileReader<R>, FileError> {
        let mut csv = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(source);
        let header = match csv.headers() {
            Ok(header) => header.clone(),
            Err(e) if matches!(e.kind(), csv::ErrorKind::Utf8 { .. }) => {
                return Err(FileError::Encoding(e.to_string()));
            }
            Err(e) => return Err(FileError::UnreadableHeader(e.to_string())),
        };
        if header.iter().any(|h| h.contains('\u{FFFD}') || h.contains('\0')) {
            return Err(FileError::Encoding("the header holds bytes that are not UTF-8 text".into()));
        }
        let columns = Columns::of(&header)?;
        Ok(FileReader::over(csv, columns, header.len(), 0))
    }

    fn over(csv: csv::Reader<R>, columns: Columns, width: usize, row_no: u64) -> FileReader<R> {
        let (record, skipped) = (csv::StringRecord::new(), csv::ByteRecord::new());
        FileReader { csv, columns, width, record, skipped, row_no, ended: false }
    }

    /// A part of a file that starts at a row boundary (a chunk), read with the file's `header`;
    /// its rows are numbered from `first_row`.
    pub fn chunk(source: R, header: &[String], first_row: u64) -> Result<FileReader<R>, FileError> {
        let columns = Columns::of(&csv::StringRecord::from(header.to_vec()))?;
        let csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(source);
        Ok(FileReader::over(csv, columns, header.len(), first_row.saturating_sub(1)))
    }

    /// The header's column names, as read.
    pub fn header(&mut self) -> Vec<String> {
        self.csv.headers().map(|h| h.iter().map(str::to_string).collect()).unwrap_or_default()
    }
}

/// Steps over rows without reading their fields, and says where the next one starts: what the
/// import needs to cut a file into chunks (CSV here, JSON Lines in `json_lines`).
pub trait RowCursor {
    /// Steps over the next row: `false` at the end of the source.
    fn skip_row(&mut self) -> bool;
    /// Where the next row starts: the byte offset from the start of the source.
    fn offset(&self) -> u64;
}

impl<R: Read> RowCursor for FileReader<R> {
    /// Counts rows as `next` does, so a chunk's boundaries are found at the cost of the parse alone.
    fn skip_row(&mut self) -> bool {
        if self.ended {
            return false;
        }
        match self.csv.read_byte_record(&mut self.skipped) {
            Ok(false) => false,
            Ok(true) => {
                self.row_no += 1;
                true
            }
            Err(e) => {
                self.ended = matches!(e.kind(), csv::ErrorKind::Io(_));
                self.row_no += 1;
                !self.ended
            }
        }
    }

    fn offset(&self) -> u64 {
        self.csv.position().byte()
    }
}

impl<R: Read> Iterator for FileReader<R> {
    type Item = (u64, Result<FileRow, RowResult>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended {
            return None;
        }
        let read = self.csv.read_record(&mut self.record);
        let row = match read {
            Ok(false) => return None,
            Ok(true) if self.record.len() != self.width => {
                let detail = format!("malformed row: {} fields where the header has {}", self.record.len(), self.width);
                Err(RowResult::from(ErrorCode::CannotProcess.with_detail(detail)))
            }
            Ok(true) => Ok(self.columns.row(&self.record)),
            Err(e) => {
                self.ended = matches!(e.kind(), csv::ErrorKind::Io(_));
                Err(RowResult::from(ErrorCode::CannotProcess.with_detail(format!("malformed row: {e}"))))
            }
        };
        self.row_no += 1;
        Some((self.row_no, row))
    }
}
