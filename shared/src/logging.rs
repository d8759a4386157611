//! Structured JSON logs with the request id on every line (the Lambda runtime's span carries
//! `requestId`; the local server opens a span with the same field), and masking for customer
//! identifiers, which never appear in clear.

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::{fmt, prelude::*, Registry};

/// The JSON layer every binary uses: one object per line, current span fields flattened in.
fn json_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer)
}

/// The level of every binary's logs: `LOG_LEVEL` (the template's `LogLevel`: error, warn, info,
/// debug or trace; `off` as well), else `RUST_LOG` when it is one of those, else info. A level, not
/// per-module directives: `EnvFilter` would put a regex engine in every bootstrap.
fn level(log_level: Option<String>, rust_log: Option<String>) -> LevelFilter {
    [log_level, rust_log].into_iter().flatten().find_map(|v| v.trim().parse().ok()).unwrap_or(LevelFilter::INFO)
}

/// Installs the subscriber once; later calls are no-ops (tests, local server).
pub fn init() {
    let filter = level(std::env::var("LOG_LEVEL").ok(), std::env::var("RUST_LOG").ok());
    let _ = Registry::default().with(filter).with(json_layer(std::io::stdout)).try_init();
    // A panic (a bug; `router::dispatch` turns it into a 500) is one JSON line with its message and
    // place, not the default hook's plain-text backtrace in the middle of the JSON log.
    std::panic::set_hook(Box::new(|info| {
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %message, at = %at, "panicked");
    }));
}

/// Installs the JSON subscriber writing to `writer` instead of stdout (tests read what production
/// would log); a no-op when a subscriber is already installed.
pub fn init_with_writer<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = Registry::default().with(LevelFilter::INFO).with(json_layer(writer)).try_init();
}

pub use crate::domain::text::mask;

/// Masks an API client key for logs: its `ck_` prefix and last four characters, enough to tell
/// keys apart in an investigation without handing out a working key name.
pub fn mask_key(key: &str) -> String {
    let n = key.chars().count();
    if n <= 10 {
        return "*".repeat(n);
    }
    let head: String = key.chars().take(3).collect();
    let tail: String = key.chars().skip(n - 4).collect();
    format!("{head}***{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_level_comes_from_log_level_then_rust_log_then_info() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(level(s("debug"), s("error")), LevelFilter::DEBUG);
        assert_eq!(level(s(" WARN "), None), LevelFilter::WARN);
        assert_eq!(level(s("off"), None), LevelFilter::OFF);
        assert_eq!(level(None, s("trace")), LevelFilter::TRACE);
        assert_eq!(level(s("verbose"), s("error")), LevelFilter::ERROR, "an unknown LOG_LEVEL falls back to RUST_LOG");
        assert_eq!(level(s("verbose"), s("shared=debug")), LevelFilter::INFO, "directives are not levels");
        assert_eq!(level(None, None), LevelFilter::INFO);
    }

    #[test]
    fn masks_hide_identifiers() {
        assert_eq!(mask("919740000012"), "**********12");
        assert_eq!(mask("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask("123"), "***");
        assert_eq!(mask("C-77-EXTERNAL"), "***********AL");
        assert_eq!(mask_key("ck_abcdefghijklmnop"), "ck_***mnop");
        assert_eq!(mask_key("short"), "*****");
    }

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl<'a> MakeWriter<'a> for Buf {
        type Writer = Buf;
        fn make_writer(&'a self) -> Buf {
            self.clone()
        }
    }

    #[test]
    fn every_line_is_json_with_the_request_id() {
        let buf = Buf::default();
        let subscriber = Registry::default().with(json_layer(buf.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("Lambda runtime invoke", requestId = "req-123");
            let _g = span.enter();
            tracing::info!(status = 200, "request handled");
            tracing::warn!("second line");
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        for line in lines {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["span"]["requestId"], "req-123", "{line}");
        }
    }
}
