//! What the command-line dev tools (`ppsweep`, `ppimport`) share: flags and a progress bar.

use indicatif::{ProgressBar, ProgressStyle};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The value after flag `name`.
pub fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// The number after flag `name` (`_` allowed as a separator), or `default`.
pub fn number(args: &[String], name: &str, default: u64) -> Result<u64, Error> {
    match arg(args, name) {
        Some(v) => Ok(v.replace('_', "").parse().map_err(|_| format!("{name} must be a number, got {v:?}"))?),
        None => Ok(default),
    }
}

/// A bar of `len` steps counting `what`, with its rate and time left.
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    let template =
        format!("{{elapsed_precise}} [{{bar:40}}] {{human_pos}}/{{human_len}} {what} ({{per_sec}}, eta {{eta}})");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
