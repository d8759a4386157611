//! Release-build choices that a dependency bump or a profile edit could silently undo.

use std::path::Path;

#[test]
fn tls_comes_from_rustls_only() {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap();
    for banned in ["openssl-sys", "openssl", "native-tls", "hyper-tls"] {
        assert!(
            !lock.contains(&format!("name = \"{banned}\"")),
            "{banned} is in Cargo.lock: keep TLS on rustls (see docs/tooling.md#the-aws-sdks-features)"
        );
    }
    assert!(lock.contains("name = \"rustls\""), "rustls should provide TLS");
}

/// cargo-lambda applies `panic = "abort"` (and thin LTO, strip, one codegen unit) unless the
/// release profile sets them; unwind keeps a panicking request a 500 instead of a dead sandbox.
#[test]
fn release_profile_sets_unwind_lto_and_strip_explicitly() {
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let profile: Vec<String> = manifest
        .lines()
        .skip_while(|l| l.trim() != "[profile.release]")
        .skip(1)
        .take_while(|l| !l.trim_start().starts_with('['))
        .map(|l| l.split('#').next().unwrap_or_default().replace(' ', ""))
        .collect();
    for setting in ["panic=\"unwind\"", "lto=true", "codegen-units=1", "strip=true"] {
        assert!(profile.iter().any(|l| l == setting), "[profile.release] should say {setting}: {profile:?}");
    }
}

/// A Lambda sandbox hands its process one event at a time, so every function runs on tokio's
/// current-thread runtime: the request's DynamoDB calls still overlap (they wait on I/O), and no
/// idle worker threads with their own stacks and malloc arenas add to each sandbox's memory
/// (docs/tooling.md#one-thread-per-sandbox).
#[test]
fn every_lambda_main_runs_on_the_current_thread_runtime() {
    let bins = Path::new(env!("CARGO_MANIFEST_DIR")).join("functions/src/bin");
    let lambdas = crate::template::functions("table");
    assert!(lambdas.len() >= 14, "template.yaml names its binaries");
    for bin in lambdas.iter().map(|f| &f.binary) {
        let source = std::fs::read_to_string(bins.join(format!("{bin}.rs"))).unwrap();
        assert!(
            source.contains("#[tokio::main(flavor = \"current_thread\")]"),
            "{bin}.rs should start tokio's current-thread runtime"
        );
    }
}
