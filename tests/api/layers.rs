//! The layers of `shared/` as docs/architecture.md#the-layers states them, low to high: a module
//! names only its own layer and those below it. Read from the source (`use` lines and inline
//! `crate::` paths, test modules left out), so an import that runs up fails here.

use std::path::Path;

/// Low to high. `config` (settings, read once) sits just above `domain`; `logging` beside
/// `http`; `metrics` beside `domain` (every layer records); `admin` (deployment bootstrap) and
/// `file_sync` (partner files, run through the operations) beside `operations`.
const LAYERS: [&str; 7] = ["domain", "config", "storage", "state", "http", "sweep", "operations"];

/// The layer of a top-level module of `shared/src`.
fn layer_of(module: &str) -> Option<usize> {
    let name = match module {
        "logging" => "http",
        "metrics" => "domain",
        "admin" | "file_sync" => "operations",
        other => other,
    };
    LAYERS.iter().position(|l| *l == name)
}

/// The top-level modules `source` names through `crate::` (in `use` trees and inline paths),
/// with the line of each, test modules left out.
fn named_modules(source: &str) -> Vec<(usize, String)> {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    let mut named = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `use crate::{a::x, b}`: the first segment of each top-level entry.
                let inner = group.split('}').next().unwrap_or("");
                for entry in inner.split(',') {
                    let first = entry.trim().split("::").next().unwrap_or("").trim();
                    if !first.is_empty() {
                        named.push((n + 1, first.to_string()));
                    }
                }
            } else {
                let ident: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                named.push((n + 1, ident));
            }
        }
    }
    named
}

/// Every import in `source` (the file of `module`) that names a higher layer, as `path:line: a -> b`.
fn upward_imports(path: &str, module: &str, source: &str) -> Vec<String> {
    let Some(own) = layer_of(module) else { return vec![] };
    named_modules(source)
        .into_iter()
        .filter_map(|(line, named)| {
            let target = layer_of(&named)?;
            (target > own).then(|| format!("{path}:{line}: {} -> {named}", LAYERS[own]))
        })
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_of_shared_imports_from_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("shared/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut checked = 0;
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel.components().next().unwrap().as_os_str().to_str().unwrap().trim_end_matches(".rs");
        if layer_of(module).is_none() {
            assert_eq!(module, "lib", "{} is in no layer: add it to LAYERS", rel.display());
            continue;
        }
        checked += 1;
        let source = std::fs::read_to_string(file).unwrap();
        violations.extend(upward_imports(&format!("shared/src/{}", rel.display()), module, &source));
    }
    assert!(checked > 50, "only {checked} files read");
    assert!(violations.is_empty(), "imports that run up the layers:\n{}", violations.join("\n"));
}

#[test]
fn the_layer_check_catches_an_import_that_runs_up() {
    let source = "use crate::domain::model::Linkage;\n\
                  use crate::{domain::dates, http::api::ApiRequest};\n\
                  fn f() { crate::storage::keys::org(1); }\n\
                  #[cfg(test)]\nmod tests { use crate::operations::routes; }\n";
    assert_eq!(
        upward_imports("shared/src/domain/x.rs", "domain", source),
        ["shared/src/domain/x.rs:2: domain -> http", "shared/src/domain/x.rs:3: domain -> storage"],
        "a grouped `use` and an inline path are read; a test module is not"
    );
    assert!(upward_imports("shared/src/operations/x.rs", "operations", source).is_empty(), "downward is fine");
    let commented = "// crate::http::api is cited here only in a comment\nuse crate::domain::model::Org;\n";
    assert!(upward_imports("shared/src/storage/x.rs", "storage", commented).is_empty());
}
