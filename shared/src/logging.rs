//! Structured JSON logs with the Lambda request id on every line (the runtime's span carries
//! `requestId`), and masking for customer identifiers, which never appear in clear.

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// Installs the JSON subscriber once; later calls are no-ops (tests, local server).
pub fn init() {
    let filter = EnvFilter::try_from_env("LOG_LEVEL")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let layer = fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .without_time();
    let _ = tracing_subscriber::registry().with(filter).with(layer).try_init();
}

/// Masks a mobile number or email for logs: keeps the shape, hides what identifies the person.
pub fn mask(value: &str) -> String {
    if let Some((local, domain)) = value.split_once('@') {
        let first: String = local.chars().take(1).collect();
        return format!("{first}***@{domain}");
    }
    let n = value.chars().count();
    if n <= 4 {
        return "*".repeat(n);
    }
    let tail: String = value.chars().skip(n - 2).collect();
    format!("{}{tail}", "*".repeat(n - 2))
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn masks_hide_identifiers() {
        assert_eq!(mask("919740000012"), "**********12");
        assert_eq!(mask("jane.doe@example.com"), "j***@example.com");
        assert_eq!(mask("123"), "***");
    }
}
