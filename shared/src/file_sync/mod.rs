//! Partner tier files (docs/file-sync.md): a streaming reader of a partner's CSV status file
//! (`reader`), and the application of one row through the same operation, rules, codes, history
//! and events as the write APIs, exactly once per (file, row) (`apply`). Beside `operations`: it
//! runs their handlers.

pub mod apply;
pub mod reader;

pub use apply::{apply_row, RowResult};
pub use reader::{Action, FileError, FileReader, FileRow};
