//! Starts a compiled function binary the way Lambda starts `bootstrap`: a clean environment with
//! the variables a `provided.al2023` sandbox sets, plus the function's own from the template.

use crate::template::Function;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, SystemTime};

/// Where the binaries are: `LAMBDA_BIN_DIR` (the init benchmark points it at `target/release`),
/// else `target/debug`, which `make test` builds before running the tests.
pub fn bin_dir() -> PathBuf {
    match std::env::var_os("LAMBDA_BIN_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/debug"),
    }
}

fn newest_source(dir: &Path) -> Option<SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let t = if path.is_dir() { newest_source(&path) } else { entry.metadata().ok()?.modified().ok() };
        newest = newest.max(t);
    }
    newest
}

/// The binary's path; panics with the fix when it was never built. A binary older than the
/// sources gets a warning only: others may be editing while the suite runs.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap_or_else(|_| {
        panic!("{} is missing: run `cargo build --workspace --bins` first (`make test` does)", path.display())
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let newest = [root.join("shared/src"), root.join("functions/src")].iter().filter_map(|d| newest_source(d)).max();
    if newest.is_some_and(|n| n > built) && std::env::var_os("LAMBDA_BIN_DIR").is_none() {
        eprintln!("warning: {} is older than the sources; run `cargo build --workspace --bins`", path.display());
    }
    path
}

pub struct LambdaProcess {
    pub child: tokio::process::Child,
    pub log: PathBuf,
    pub started: std::time::Instant,
}

/// The environment Lambda gives the function (`runtime_api` is `AWS_LAMBDA_RUNTIME_API`),
/// with DynamoDB reached through `dynamodb_endpoint`.
pub fn lambda_environment(f: &Function, runtime_api: &str, dynamodb_endpoint: &str) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("AWS_LAMBDA_RUNTIME_API", runtime_api),
        ("AWS_LAMBDA_FUNCTION_NAME", f.logical_id.as_str()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/test"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/01/[$LATEST]0123456789abcdef"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
        ("_HANDLER", "bootstrap"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("TZ", ":UTC"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "local"),
        ("AWS_SECRET_ACCESS_KEY", "local"),
        ("AWS_SESSION_TOKEN", "local"),
        ("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    env.extend(f.environment.clone());
    env
}

impl LambdaProcess {
    pub fn start(binary: &str, env: &BTreeMap<String, String>) -> LambdaProcess {
        let path = self::binary(binary);
        let logs = Path::new(env!("CARGO_TARGET_TMPDIR")).join("runtime-logs");
        std::fs::create_dir_all(&logs).expect("log dir");
        let log = logs.join(format!("{binary}-{}.log", uuid::Uuid::new_v4().simple()));
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let started = std::time::Instant::now();
        let child = tokio::process::Command::new(&path)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", path.display()));
        LambdaProcess { child, log, started }
    }

    /// The exit status if the process ends within `timeout`.
    pub async fn exited(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait()).await.ok().and_then(Result::ok)
    }

    pub fn still_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// What the function logged (stdout and stderr), for failure messages.
    pub fn logs(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}
