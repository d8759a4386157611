//! Code, configuration and docs cite only files that are in the repository: every `docs/<name>.md`
//! (with an optional `#anchor`) written in a source, manifest, template or Markdown file names a file
//! that exists and, when an anchor is given, a heading of that file. Relative Markdown links
//! (`[text](other.md#anchor)`, `[text](#anchor)`) are held to the same rule. And no file points to
//! the specification files the project was started from, which are not in the repository.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Directories that are not the project's sources (build output, tools, local data).
const SKIPPED_DIRS: &[&str] = &["target", ".git", ".venv", "node_modules", ".local", "out"];
const EXTENSIONS: &[&str] = &["rs", "toml", "yaml", "yml", "md"];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn wanted(path: &Path) -> bool {
    path.extension().and_then(|e| e.to_str()).is_some_and(|e| EXTENSIONS.contains(&e))
}

/// The files to check: what git tracks plus new files it does not ignore; without git, a walk of the
/// tree that skips `SKIPPED_DIRS`.
fn files() -> Vec<PathBuf> {
    let root = root();
    let listed = Command::new("git")
        .args(["ls-files", "--cached", "--others", "--exclude-standard", "-z"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|o| o.status.success() && !o.stdout.is_empty());
    let mut out: Vec<PathBuf> = match listed {
        Some(o) => String::from_utf8_lossy(&o.stdout)
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(|p| root.join(p))
            .filter(|p| p.is_file())
            .collect(),
        None => {
            let mut found = Vec::new();
            walk(&root, &mut found);
            found
        }
    };
    out.retain(|p| wanted(p));
    out.sort();
    out
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if path.is_dir() {
            if !SKIPPED_DIRS.contains(&name.as_str()) {
                walk(&path, found);
            }
        } else {
            found.push(path);
        }
    }
}

/// GitHub's anchor for a heading: lower case, spaces to `-`, punctuation other than `-` and `_`
/// dropped (backticks, dots, parentheses, ...).
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors a Markdown text offers: one per heading outside code fences, a repeated heading
/// getting `-1`, `-2`, ... as on GitHub.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let hashes = trimmed.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            let base = slug(trimmed[hashes..].trim_end_matches('#'));
            let mut anchor = base.clone();
            let mut n = 0;
            while seen.contains(&anchor) {
                n += 1;
                anchor = format!("{base}-{n}");
            }
            seen.insert(anchor);
        }
    }
    seen
}

/// Characters a file name or an anchor is made of in a citation.
fn citation_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'
}

/// Every `docs/<name>.md[#anchor]` in `text`, as (file relative to the root, anchor). A path that
/// merely ends in `docs/` (`other/docs/x.md`) is not a citation of ours.
fn citations(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("docs/").map(|i| from + i) {
        from = at + "docs/".len();
        let before = text[..at].chars().next_back();
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '/' || c == '_' || c == '-' || c == '.') {
            continue;
        }
        let name: String = text[from..].chars().take_while(|c| citation_char(*c)).collect();
        let Some(name) = name.strip_suffix(".md").map(|n| format!("{n}.md")).or_else(|| {
            // A citation that ends a sentence: `….md.`
            name.strip_suffix(".md.").map(|n| format!("{n}.md"))
        }) else {
            continue;
        };
        let rest = &text[from + name.len()..];
        let anchor = rest
            .strip_prefix('#')
            .map(|a| a.chars().take_while(|c| c.is_alphanumeric() || *c == '-' || *c == '_').collect::<String>());
        out.push((format!("docs/{name}"), anchor.filter(|a| !a.is_empty())));
    }
    out
}

/// Relative Markdown links of a Markdown file, `](target)`, as (target path or empty for the same
/// file, anchor). Links with a scheme (`https:`, `mailto:`) are not ours to check.
fn markdown_links(text: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices("](") {
        let target: String = text[i + 2..].chars().take_while(|c| *c != ')' && !c.is_whitespace()).collect();
        if target.is_empty() || target.contains(':') {
            continue;
        }
        let (path, anchor) = match target.split_once('#') {
            Some((p, a)) => (p.to_string(), Some(a.to_string())),
            None => (target, None),
        };
        out.push((path, anchor));
    }
    out
}

fn check_target(problems: &mut Vec<String>, source: &str, file: &Path, shown: &str, anchor: Option<&str>) {
    if !file.is_file() {
        problems.push(format!("{source}: cites {shown}, which does not exist"));
        return;
    }
    if let Some(anchor) = anchor.filter(|_| file.extension().is_some_and(|e| e == "md")) {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !anchors(&text).contains(anchor) {
            problems.push(format!("{source}: cites {shown}#{anchor}, which has no such heading"));
        }
    }
}

#[test]
fn every_in_repo_file_cited_in_code_exists() {
    let root = root();
    // Spelled in parts so this file does not cite them itself.
    let outside: Vec<String> = ["PRODUCT", "DESIGN", "TOOLING", "STYLE"].iter().map(|n| format!("{n}.md")).collect();
    let files = files();
    assert!(files.iter().any(|f| f.ends_with("README.md")), "no files found under {}", root.display());
    let mut problems = Vec::new();
    let mut cited = 0;
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        let rel = file.strip_prefix(&root).unwrap_or(file).display().to_string();
        for (n, line) in text.lines().enumerate() {
            for name in &outside {
                if line.contains(name.as_str()) {
                    problems.push(format!("{rel}:{}: cites {name}, which is not in the repository", n + 1));
                }
            }
            for (path, anchor) in citations(line) {
                cited += 1;
                check_target(&mut problems, &format!("{rel}:{}", n + 1), &root.join(&path), &path, anchor.as_deref());
            }
        }
        if wanted(file) && file.extension().is_some_and(|e| e == "md") {
            let dir = file.parent().unwrap_or(&root);
            for (path, anchor) in markdown_links(&text) {
                let target = if path.is_empty() { file.clone() } else { dir.join(&path) };
                let shown = if path.is_empty() { rel.clone() } else { path.clone() };
                check_target(&mut problems, &rel, &target, &shown, anchor.as_deref());
            }
        }
    }
    assert!(problems.is_empty(), "{} broken citations:\n{}", problems.len(), problems.join("\n"));
    assert!(cited > 0, "no docs/ citation found at all: the scan is broken");
}

#[test]
fn anchors_and_citations_are_read_as_github_does() {
    let md = "# Top\n## Batch writes\n```\n# not a heading\n```\n## `Idempotency-Key` (POST)\n## Batch writes\n";
    let a = anchors(md);
    assert!(a.contains("top") && a.contains("batch-writes") && a.contains("batch-writes-1"), "{a:?}");
    assert!(a.contains("idempotency-key-post"), "{a:?}");
    assert!(!a.contains("not-a-heading"));
    // Built at run time, so the scan of this file does not take the examples for citations.
    let d = "docs/";
    let c = citations(&format!("see `{d}contract.md#batch-writes`, {d}tooling.md. and x/{d}other.md, {d}"));
    assert_eq!(
        c,
        vec![(format!("{d}contract.md"), Some("batch-writes".to_string())), (format!("{d}tooling.md"), None)]
    );
    let l = markdown_links("[a](architecture.md#the-sweep) [b](https://x.y/z.md) [c](#limits)");
    assert_eq!(
        l,
        vec![
            ("architecture.md".to_string(), Some("the-sweep".to_string())),
            (String::new(), Some("limits".to_string()))
        ]
    );
}
