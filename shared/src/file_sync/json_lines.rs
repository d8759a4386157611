//! JSON Lines files (docs/file-sync.md#json-lines): one object per line with the CSV's column
//! names as keys. A line is read, parsed and dropped; blank lines are not rows. The CSV reader
//! and this one give the import the same two things: where each row ends (`RowCursor`) and rows.

use super::apply::RowResult;
use super::reader::{FileError, FileRow, RowCursor};
use crate::domain::error_catalog::ErrorCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::BufRead;

/// How a file's rows are written, told by its name: `.jsonl` or `.ndjson` is JSON Lines,
/// anything else CSV.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Format {
    #[default]
    Csv,
    JsonLines,
}

impl Format {
    pub fn of_name(name: &str) -> Format {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
            Format::JsonLines
        } else {
            Format::Csv
        }
    }
}

/// The rows of a JSON Lines file or chunk, in order, numbered from `first_row`.
pub struct JsonLinesReader<R: BufRead> {
    source: R,
    line: Vec<u8>,
    row_no: u64,
    offset: u64,
}

impl<R: BufRead> JsonLinesReader<R> {
    pub fn new(source: R, first_row: u64) -> Self {
        JsonLinesReader { source, line: Vec::new(), row_no: first_row.saturating_sub(1), offset: 0 }
    }

    /// The next non-blank line into `self.line`: `false` at the end (or a read error, which ends
    /// the source as the CSV reader's does).
    fn next_line(&mut self) -> bool {
        loop {
            self.line.clear();
            match self.source.read_until(b'\n', &mut self.line) {
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    self.offset += n as u64;
                    if !self.line.iter().all(u8::is_ascii_whitespace) {
                        self.row_no += 1;
                        return true;
                    }
                }
            }
        }
    }
}

impl<R: BufRead> RowCursor for JsonLinesReader<R> {
    fn skip_row(&mut self) -> bool {
        self.next_line()
    }

    fn offset(&self) -> u64 {
        self.offset
    }
}

impl<R: BufRead> Iterator for JsonLinesReader<R> {
    type Item = (u64, Result<FileRow, RowResult>);

    fn next(&mut self) -> Option<Self::Item> {
        if !self.next_line() {
            return None;
        }
        Some((self.row_no, parse_row(&self.line)))
    }
}

fn malformed(detail: String) -> RowResult {
    ErrorCode::CannotProcess.with_detail(format!("malformed row: {detail}")).into()
}

/// One line as a row: an object whose values are strings (numbers taken as written, null and an
/// empty string as absent); unknown keys are ignored, as unknown CSV columns are.
fn parse_row(line: &[u8]) -> Result<FileRow, RowResult> {
    let object: Map<String, Value> = serde_json::from_slice(line).map_err(|e| malformed(e.to_string()))?;
    let mut row = FileRow::default();
    for (key, value) in object {
        let slot = match key.as_str() {
            "partnerMembershipId" => &mut row.partner_membership_id,
            "identifierName" => &mut row.identifier_name,
            "identifierValue" => &mut row.identifier_value,
            "action" => &mut row.action,
            "partnerTierName" => &mut row.partner_tier_name,
            "partnerTierExpiryDate" => &mut row.partner_tier_expiry_date,
            "membershipStartDate" => &mut row.membership_start_date,
            _ => continue,
        };
        *slot = match value {
            Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Value::Number(n) => Some(n.to_string()),
            Value::Null => None,
            _ => return Err(malformed(format!("{key} is not a string"))),
        };
    }
    Ok(row)
}

/// The import's check of a JSON Lines file's first bytes: its first line must be an object.
pub fn check_head(head: &[u8]) -> Result<(), FileError> {
    let first = head.split(|b| *b == b'\n').find(|l| !l.iter().all(u8::is_ascii_whitespace));
    let is_object = first.is_some_and(|l| serde_json::from_slice::<Map<String, Value>>(l).is_ok());
    // A first line longer than the window read cannot be judged here; its row will be.
    let whole_window = first.is_some_and(|l| l.len() == head.len() && head.len() >= 64 << 10);
    if is_object || whole_window {
        Ok(())
    } else if std::str::from_utf8(first.unwrap_or_default()).is_err() {
        Err(FileError::Encoding("the first line is not UTF-8 text".into()))
    } else {
        Err(FileError::UnreadableHeader("the first line is not a JSON object".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_told_by_the_name() {
        assert_eq!(Format::of_name("tiers.JSONL"), Format::JsonLines);
        assert_eq!(Format::of_name("tiers.ndjson"), Format::JsonLines);
        assert_eq!(Format::of_name("tiers.csv"), Format::Csv);
        assert_eq!(Format::of_name("tiers"), Format::Csv);
    }

    #[test]
    fn each_non_blank_line_is_a_row_and_a_bad_line_is_its_own_2001() {
        let file = b"{\"partnerMembershipId\": \"SM-1\", \"action\": \"UPDATE\", \"partnerTierName\": \" Gold \"}\n\
                     \n\
                     {\"identifierName\": \"mobile\", \"identifierValue\": 919800000001, \"extra\": [1]}\n\
                     not json\n\
                     {\"action\": true}\n";
        let rows: Vec<_> = JsonLinesReader::new(&file[..], 1).collect();
        assert_eq!(rows.iter().map(|(n, _)| *n).collect::<Vec<_>>(), [1, 2, 3, 4], "blank lines are not rows");
        let first = rows[0].1.as_ref().unwrap();
        assert_eq!(first.partner_tier_name.as_deref(), Some("Gold"));
        let second = rows[1].1.as_ref().unwrap();
        assert_eq!(second.identifier_value.as_deref(), Some("919800000001"), "a number as written");
        for (_, bad) in &rows[2..] {
            let bad = bad.as_ref().unwrap_err();
            assert_eq!(bad.code, 2001);
            assert!(bad.detail.as_deref().unwrap_or("").starts_with("malformed row"), "{bad:?}");
        }
    }

    #[test]
    fn the_cursor_ends_each_row_after_its_line() {
        let file = b"{\"a\":1}\n\n{\"a\":2}\n";
        let mut cursor = JsonLinesReader::new(&file[..], 1);
        assert!(cursor.skip_row());
        assert_eq!(cursor.offset(), 8);
        assert!(cursor.skip_row());
        assert_eq!(cursor.offset(), file.len() as u64, "the blank line goes with the next row");
        assert!(!cursor.skip_row());
    }

    #[test]
    fn a_file_whose_first_line_is_not_an_object_cannot_be_read() {
        assert!(check_head(b"{\"action\": \"LINK\"}\nrest").is_ok());
        assert!(matches!(check_head(b"action,partnerTierName\n"), Err(FileError::UnreadableHeader(_))));
        assert!(matches!(check_head(b"\xff\xfe{\x00\n"), Err(FileError::Encoding(_))));
        assert!(matches!(check_head(b""), Err(FileError::UnreadableHeader(_))));
        assert!(matches!(check_head(b"not json"), Err(FileError::UnreadableHeader(_))), "one short line");
    }
}
