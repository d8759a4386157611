//! The sweep's settings: read from the environment once, with the rest of the configuration, when
//! the app state is built (`Config::sweep`); a bad value is an init error like any other setting.

use super::parse_number;
use std::time::Duration;

/// How the sweep walks the due index and how much it does at once.
#[derive(Debug, Clone)]
pub struct SweepSettings {
    /// Days looked back on a table that has no watermark yet (SWEEP_LOOKBACK_DAYS, default 30).
    pub lookback_days: u32,
    /// Due-index items per Query page (SWEEP_PAGE_SIZE, default 100).
    pub page_size: i32,
    /// Changes in flight at once (SWEEP_CONCURRENCY, default 16).
    pub concurrency: usize,
    /// No new work starts this close to the deadline (SWEEP_DEADLINE_MARGIN_SECONDS, default 10).
    pub deadline_margin: Duration,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings { lookback_days: 30, page_size: 100, concurrency: 16, deadline_margin: Duration::from_secs(10) }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid sweep configuration: {}", .0.join("; "))]
pub struct SweepSettingsError(pub Vec<String>);

impl SweepSettings {
    /// Reads the settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SweepSettingsError> {
        let mut problems = Vec::new();
        let settings = Self::read(&lookup, &mut problems);
        if problems.is_empty() {
            Ok(settings)
        } else {
            Err(SweepSettingsError(problems))
        }
    }

    /// The settings `lookup` gives, defaults where unset; each bad value is added to `problems`
    /// (so `Config` reports them together with its own).
    pub(crate) fn read(lookup: &impl Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> Self {
        let mut number =
            |name: &str, default: u64, min: u64, max: u64| parse_number(lookup, name, default, min, max, problems);
        let d = SweepSettings::default();
        let lookback_days = number("SWEEP_LOOKBACK_DAYS", u64::from(d.lookback_days), 0, 3660) as u32;
        let page_size = number("SWEEP_PAGE_SIZE", d.page_size as u64, 1, 1000) as i32;
        let concurrency = number("SWEEP_CONCURRENCY", d.concurrency as u64, 1, 256) as usize;
        let margin = number("SWEEP_DEADLINE_MARGIN_SECONDS", d.deadline_margin.as_secs(), 0, 600);
        SweepSettings { lookback_days, page_size, concurrency, deadline_margin: Duration::from_secs(margin) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_defaults_and_errors() {
        let s = SweepSettings::from_lookup(|_| None).unwrap();
        assert_eq!((s.lookback_days, s.page_size, s.concurrency), (30, 100, 16));
        let e = SweepSettings::from_lookup(|n| (n == "SWEEP_PAGE_SIZE").then(|| "0".into())).unwrap_err();
        assert!(e.to_string().contains("SWEEP_PAGE_SIZE"));
    }
}
