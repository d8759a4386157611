//! The scheduled tier-expiry sweep (docs/architecture.md#the-sweep). It finds due work through the
//! sparse, write-sharded due index only — day by day from the oldest unfinished day (a watermark
//! item) up to now, shard by shard, never a Scan — so its cost follows the work due, not the table.
//!
//! Each due linkage is committed as one transaction (linkage put conditioned on the version the
//! index item showed + one activity and one outbox event per transition, see `expiry_rules`), so
//! the index item is the only read per change. A linkage changed since it was read fails the
//! condition and is counted as skipped: the other writer's state wins and the next run re-reads it
//! if it is still due. Re-runs, concurrent runs and runs killed half-way therefore change nothing
//! twice. A program's own expiry (its configuration item carries due keys) fans out to every member
//! through the ProgramMembers index, one transaction per member, and leaves the index only when all
//! are done. The run stops starting new work at its deadline minus a margin and reports a summary.
//!
//! - `config::sweep`: what the environment sets, read once into `Config::sweep`;
//! - `due_index`: the walk through the due index (shared with the expiry preview) and the watermark;
//! - `commit`: one due linkage's change, written as one conditional transaction;
//! - `program_expiry`: a program's own expiry, carried to every member;
//! - `run`: the run's control (deadline, item budget, stop reason) and its tally.

mod commit;
mod due_index;
pub mod due_reminders;
mod program_expiry;
mod run;

pub use crate::config::sweep::{SweepSettings, SweepSettingsError};
pub use due_index::{day_string, due_sk_upper, first_unfinished_day, DuePosition, DueWalk, WalkPage};
pub use run::{handle_scheduled, run, BeforeWrite, StopReason, SweepOptions, SweepSummary};
use run::{Outcome, Run};
