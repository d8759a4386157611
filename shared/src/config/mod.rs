//! Settings read once per container from the environment; every missing or bad variable is
//! reported together so a misconfigured deployment fails at init with one clear message.

pub mod file_sync;
pub mod sweep;

use std::time::Duration;
use sweep::SweepSettings;

/// DynamoDB calls one process has in flight when `STORAGE_CONCURRENCY` is not set (measured with
/// `make burst`, docs/architecture.md#backpressure).
pub const DEFAULT_STORAGE_CONCURRENCY: usize = 32;

#[derive(Debug, Clone)]
pub struct Config {
    /// The single DynamoDB table (TABLE_NAME).
    pub table_name: String,
    /// Write shards of the due-date index (DUE_SHARDS, default 8).
    pub due_shards: u32,
    /// How long a container trusts its cached partner-program configuration (CONFIG_CACHE_SECONDS, default 30).
    pub config_cache_ttl: Duration,
    /// Customers of one batch processed at once (BATCH_CONCURRENCY, default 50: a whole batch, so
    /// 50 customers take about as many sequential round trips as one; lower it to spread a
    /// batch's load on a table with little provisioned capacity).
    pub batch_concurrency: usize,
    /// DynamoDB calls one process has in flight at most, across all its requests
    /// (STORAGE_CONCURRENCY, default `DEFAULT_STORAGE_CONCURRENCY`; docs/architecture.md#backpressure).
    pub storage_concurrency: usize,
    /// How long one item keeps retrying a write it lost to concurrent writers before it gets 2010
    /// (WRITE_CONTENTION_BUDGET_MS, default 4000; docs/contract.md#concurrency).
    pub write_contention_budget: Duration,
    /// After this long no write of a request starts another attempt (WRITE_REQUEST_BUDGET_MS,
    /// default 18000). In Lambda the invocation's own deadline tightens it
    /// (`lambda_adapter::write_deadline`), so the last read and write still finish in time.
    pub write_request_budget: Duration,
    /// The tier-expiry sweep's settings (SWEEP_*), which the expiry preview shares.
    pub sweep: SweepSettings,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .problems.join("; "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut problems = Vec::new();
        let table_name = match lookup("TABLE_NAME") {
            Some(v) if !v.trim().is_empty() => v,
            _ => {
                problems.push("TABLE_NAME is not set".to_string());
                String::new()
            }
        };
        let due_shards = parse_number(&lookup, "DUE_SHARDS", 8, 1, 1000, &mut problems) as u32;
        let cache = parse_number(&lookup, "CONFIG_CACHE_SECONDS", 30, 0, 3600, &mut problems);
        let batch_concurrency = parse_number(&lookup, "BATCH_CONCURRENCY", 50, 1, 50, &mut problems) as usize;
        let storage_concurrency =
            parse_number(&lookup, "STORAGE_CONCURRENCY", DEFAULT_STORAGE_CONCURRENCY as u64, 1, 1024, &mut problems)
                as usize;
        let contention = parse_number(&lookup, "WRITE_CONTENTION_BUDGET_MS", 4000, 0, 60_000, &mut problems);
        let request = parse_number(&lookup, "WRITE_REQUEST_BUDGET_MS", 18_000, 0, 600_000, &mut problems);
        let sweep = SweepSettings::read(&lookup, &mut problems);
        if problems.is_empty() {
            Ok(Config {
                table_name,
                due_shards,
                config_cache_ttl: Duration::from_secs(cache),
                batch_concurrency,
                storage_concurrency,
                write_contention_budget: Duration::from_millis(contention),
                write_request_budget: Duration::from_millis(request),
                sweep,
            })
        } else {
            Err(ConfigError { problems })
        }
    }
}

/// An integer setting within `min..=max`, `default` when unset; a bad value is added to `problems`.
pub(crate) fn parse_number(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
    problems: &mut Vec<String>,
) -> u64 {
    match lookup(name) {
        None => default,
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                problems.push(format!("{name} must be an integer from {min} to {max}, got {raw:?}"));
                default
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_problem_at_once() {
        let err = Config::from_lookup(|n| (n == "DUE_SHARDS").then(|| "zero".to_string())).unwrap_err();
        assert_eq!(err.problems.len(), 2, "{err}");
        assert!(err.to_string().contains("TABLE_NAME is not set"));
        assert!(err.to_string().contains("DUE_SHARDS"));
    }

    #[test]
    fn a_bad_sweep_setting_is_a_configuration_error() {
        let err = Config::from_lookup(|n| match n {
            "TABLE_NAME" => Some("t".to_string()),
            "SWEEP_CONCURRENCY" => Some("lots".to_string()),
            _ => None,
        })
        .unwrap_err();
        assert_eq!(err.problems.len(), 1, "{err}");
        assert!(err.to_string().contains("SWEEP_CONCURRENCY"), "{err}");
        let c = Config::from_lookup(|n| match n {
            "TABLE_NAME" => Some("t".to_string()),
            "SWEEP_PAGE_SIZE" => Some("25".to_string()),
            _ => None,
        })
        .unwrap();
        assert_eq!((c.sweep.page_size, c.sweep.concurrency), (25, 16));
    }

    #[test]
    fn defaults_apply() {
        let c = Config::from_lookup(|n| (n == "TABLE_NAME").then(|| "t".to_string())).unwrap();
        assert_eq!((c.due_shards, c.batch_concurrency, c.config_cache_ttl.as_secs()), (8, 50, 30));
        assert_eq!(c.storage_concurrency, DEFAULT_STORAGE_CONCURRENCY);
        assert_eq!((c.write_contention_budget.as_millis(), c.write_request_budget.as_millis()), (4000, 18_000));
    }
}
