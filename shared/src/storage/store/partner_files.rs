//! The partner file item's reads and writes: the claim of a file's content, its start, each
//! chunk counted exactly once, its one finish (with its event), and the newest files of an org.

use super::{tx, Store, StoreError, TransactError};
use crate::domain::model::{OrgId, ProgramId};
use crate::storage::keys::{self, Key};
use crate::storage::partner_files::{ChunkCounts, FileStatus, PartnerFileRecord};
use crate::storage::records::{from_item, to_item, EventRecord};
use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};
use std::collections::HashMap;

/// What claiming a file's content found.
#[derive(Debug, PartialEq)]
pub enum FileClaim {
    /// This file is new: its item is written.
    New,
    /// The same content for the same program was claimed before, by this file.
    Already(String),
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_string())
}

fn build_error(e: impl std::fmt::Display) -> StoreError {
    StoreError::Service { operation: "build", message: e.to_string(), throttled: false }
}

impl Store {
    /// Runs `items` as one transaction: `Ok(false)` when item `guard`'s condition failed (the
    /// change was made before), any other failure an error.
    async fn transact_unless_done(&self, items: Vec<TransactWriteItem>, guard: usize) -> Result<bool, StoreError> {
        match self.transact(items).await {
            Ok(()) => Ok(true),
            Err(e) if e.condition_failed_at(guard) => Ok(false),
            Err(TransactError::Store(e)) => Err(e),
            Err(e) => {
                Err(StoreError::Service { operation: "TransactWriteItems", message: e.to_string(), throttled: false })
            }
        }
    }

    /// Writes `file` with the claim of its content (`etag`) for `program`, unless the content was
    /// claimed before: then the earlier file's id.
    pub async fn claim_partner_file(
        &self,
        file: &PartnerFileRecord,
        program: ProgramId,
    ) -> Result<FileClaim, StoreError> {
        let claim = keys::partner_file_claim(file.org_id, program, &file.etag);
        let mut claim_item = claim.to_item();
        claim_item.insert("entity".into(), s("PFILECLAIM"));
        claim_item.insert("fileId".into(), s(&file.file_id));
        let items = vec![tx::put_new(&self.table, claim_item)?, tx::put_new(&self.table, to_item(file)?)?];
        if self.transact_unless_done(items, 0).await? {
            return Ok(FileClaim::New);
        }
        let held: Option<HashMap<String, String>> = self.get_consistent(&claim).await?;
        Ok(FileClaim::Already(held.and_then(|h| h.get("fileId").cloned()).unwrap_or_default()))
    }

    /// A file refused as a whole: written as it is, never claimed.
    pub async fn save_partner_file(&self, file: &PartnerFileRecord) -> Result<(), StoreError> {
        self.put(to_item(file)?).await
    }

    /// The file as last written (a strongly consistent read: counts decide who finishes it).
    pub async fn partner_file(&self, org: OrgId, file_id: &str) -> Result<Option<PartnerFileRecord>, StoreError> {
        self.get_consistent(&keys::partner_file(org, file_id)).await
    }

    async fn get_consistent<T: serde::de::DeserializeOwned>(&self, key: &Key) -> Result<Option<T>, StoreError> {
        let get = self.client.get_item().table_name(&self.table).set_key(Some(key.to_item())).consistent_read(true);
        let out = self.call("GetItem", || get.send()).await?.map_err(|e| StoreError::from_sdk("GetItem", e))?;
        match out.item {
            Some(item) => Ok(Some(from_item(item)?)),
            None => Ok(None),
        }
    }

    /// Every chunk of the file is sent: it runs, with its totals. Once only: a second import of
    /// the same file finds it running and changes nothing.
    pub async fn start_partner_file(
        &self,
        org: OrgId,
        file_id: &str,
        rows_total: u64,
        chunks_total: u64,
        now: &str,
    ) -> Result<bool, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(keys::partner_file(org, file_id).to_item()))
            .update_expression(
                "SET #st = :running, rowsTotal = :rows, chunksTotal = :chunks, startedAt = :now, updatedAt = :now",
            )
            .condition_expression("#st = :importing")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":running", s(FileStatus::Running.as_str()))
            .expression_attribute_values(":importing", s(FileStatus::Importing.as_str()))
            .expression_attribute_values(":rows", n(rows_total))
            .expression_attribute_values(":chunks", n(chunks_total))
            .expression_attribute_values(":now", s(now));
        self.update_if(update).await
    }

    /// Adds chunk `chunk`'s counts to its file, exactly once: its marker and the counts are one
    /// transaction, and a chunk counted before (`Ok(false)`) adds nothing.
    pub async fn complete_partner_file_chunk(
        &self,
        org: OrgId,
        file_id: &str,
        chunk: u64,
        counts: ChunkCounts,
        now: &str,
    ) -> Result<bool, StoreError> {
        let mut marker = keys::partner_file_chunk(org, file_id, chunk).to_item();
        marker.insert("entity".into(), s("PFILECHUNK"));
        marker.insert("rows".into(), n(counts.rows));
        let add = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::partner_file(org, file_id).to_item()))
            .update_expression(
                "ADD chunksDone :one, rowsDone :rows, applied :applied, refused :refused, resultBytes :bytes \
                 SET updatedAt = :now",
            )
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":rows", n(counts.rows))
            .expression_attribute_values(":applied", n(counts.applied))
            .expression_attribute_values(":refused", n(counts.refused))
            .expression_attribute_values(":bytes", n(counts.bytes))
            .expression_attribute_values(":now", s(now))
            .build()
            .map_err(build_error)?;
        let items = vec![tx::put_new(&self.table, marker)?, TransactWriteItem::builder().update(add).build()];
        self.transact_unless_done(items, 0).await
    }

    /// Whether chunk `chunk` of the file was counted (its marker written).
    pub async fn partner_file_chunk_counted(&self, org: OrgId, file_id: &str, chunk: u64) -> Result<bool, StoreError> {
        let marker: Option<HashMap<String, serde_json::Value>> =
            self.get_consistent(&keys::partner_file_chunk(org, file_id, chunk)).await?;
        Ok(marker.is_some())
    }

    /// The file is done: its results are written, every chunk counted. Once only, with its event
    /// in the same transaction; `Ok(false)` when another finisher did it first.
    pub async fn finish_partner_file(
        &self,
        org: OrgId,
        file_id: &str,
        results_key: &str,
        now: &str,
        event: &EventRecord,
    ) -> Result<bool, StoreError> {
        let done = Update::builder()
            .table_name(&self.table)
            .set_key(Some(keys::partner_file(org, file_id).to_item()))
            .update_expression("SET #st = :done, finishedAt = :now, updatedAt = :now, resultsKey = :results")
            .condition_expression("#st = :running AND chunksDone = chunksTotal")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":done", s(FileStatus::Done.as_str()))
            .expression_attribute_values(":running", s(FileStatus::Running.as_str()))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":results", s(results_key))
            .build()
            .map_err(build_error)?;
        let items = vec![TransactWriteItem::builder().update(done).build(), tx::put_new(&self.table, to_item(event)?)?];
        self.transact_unless_done(items, 0).await
    }

    /// The org's newest files first, `limit` of them, after file id `after` when paging.
    pub async fn recent_partner_files(
        &self,
        org: OrgId,
        limit: i32,
        after: Option<&str>,
    ) -> Result<(Vec<PartnerFileRecord>, Option<String>), StoreError> {
        let pk = keys::partner_files_pk(org);
        let range = super::KeyRange { pk: &pk, lo: "FILE#", hi: "FILE#~" };
        let start = after.map(|id| keys::partner_file(org, id).sk);
        let page = self.query_range_page(&range, true, limit, start.as_deref()).await?;
        let files = page.items.into_iter().map(from_item).collect::<Result<Vec<PartnerFileRecord>, _>>()?;
        let next = page.last_sk.and_then(|sk| sk.strip_prefix("FILE#").map(str::to_string));
        Ok((files, next))
    }
}
