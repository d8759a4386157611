//! The scheduled tier-expiry sweep (docs/architecture.md#the-sweep): `run` controls a run (deadline,
//! item budget, stop reason, tally), `due_index` finds the work, `commit` and `program_expiry` write
//! it, `due_reminders` sends reminders; its settings are `config::sweep`.

mod commit;
mod due_index;
pub mod due_reminders;
mod program_expiry;
mod run;

pub use crate::config::sweep::{SweepSettings, SweepSettingsError};
pub use due_index::{day_string, due_sk_upper, first_unfinished_day, DuePosition, DueWalk, WalkPage};
pub use run::{handle_scheduled, record_metrics, run, BeforeWrite, StopReason, SweepOptions, SweepSummary};
use run::{Outcome, Run};
