//! The member-care console's static files (`shared/console/`), embedded in the binary at build
//! time and served under `/console/` by the `console` Lambda and the local server alike. They carry
//! no data and need no credentials: every data call the page makes goes to the API with the
//! agent's own (docs/console.md).
//!
//! Headers: a strict `Content-Security-Policy` (scripts and styles from this origin only, no
//! inline script, `connect-src 'self'`, no framing), `X-Content-Type-Options: nosniff`, and an
//! `ETag` on every file. `index.html` is revalidated on every load (`no-cache`, a 304 when
//! unchanged); it names the script and style sheet with their content hash (`app.js?v=…`), and a
//! request that carries the current hash may be cached for a year (`immutable`).

use crate::http::api::ApiResponse;
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The function in `template.yaml` that serves the console, and its routes (no authorizer).
pub const FUNCTION: &str = "ConsoleFunction";
pub const ROUTES: [(&str, &str); 2] = [("GET", "/console"), ("GET", "/console/{proxy+}")];

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: String,
    /// The first 16 hex digits of the body's SHA-256.
    hash: String,
}

impl Asset {
    fn new(name: &'static str, content_type: &'static str, body: String) -> Self {
        let hash = Sha256::digest(body.as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
        Asset { name, content_type, body, hash }
    }
}

/// The files, `index.html` last: it names the others by their hash.
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let mut assets = vec![
        Asset::new("app.js", "text/javascript; charset=utf-8", include_str!("../../console/app.js").to_string()),
        Asset::new("app.css", "text/css; charset=utf-8", include_str!("../../console/app.css").to_string()),
        Asset::new("favicon.svg", "image/svg+xml", include_str!("../../console/favicon.svg").to_string()),
    ];
    let mut index = include_str!("../../console/index.html").to_string();
    for a in &assets {
        index = index.replace(&format!("\"{}\"", a.name), &format!("\"{}?v={}\"", a.name, a.hash));
    }
    assets.push(Asset::new("index.html", "text/html; charset=utf-8", index));
    assets
});

/// The part of `path` after its `/console` segment (API Gateway may put a stage name before it):
/// `Some("")` for `/console`, `Some("/app.js")` for `/console/app.js`, `None` for any other path.
pub fn console_path(path: &str) -> Option<&str> {
    let at = path.find("/console")?;
    let rest = &path[at + "/console".len()..];
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// The response to `method path` (a path under `/console`), given the request's `If-None-Match`
/// and query string.
pub fn respond(method: &str, path: &str, query: Option<&str>, if_none_match: Option<&str>) -> ApiResponse {
    let Some(rest) = console_path(path) else { return not_found() };
    if method != "GET" && method != "HEAD" {
        return secured(ApiResponse::text(405, "text/plain; charset=utf-8", "method not allowed\n"))
            .with_header("allow", "GET, HEAD");
    }
    if rest.is_empty() {
        // Relative to `/console` (stage prefix and all), so the page's relative links resolve.
        return secured(ApiResponse::text(308, "text/plain; charset=utf-8", "")).with_header("location", "console/");
    }
    let name = match rest.trim_start_matches('/') {
        "" => "index.html",
        other => other,
    };
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else { return not_found() };
    let etag = format!("\"{}\"", asset.hash);
    let versioned = query.is_some_and(|q| q.split('&').any(|p| p == format!("v={}", asset.hash)));
    let cache = if versioned { "public, max-age=31536000, immutable" } else { "no-cache" };
    let fresh = if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let resp = if fresh {
        ApiResponse::text(304, asset.content_type, "")
    } else {
        ApiResponse::text(200, asset.content_type, if method == "HEAD" { "" } else { &asset.body })
    };
    secured(resp).with_header("etag", etag).with_header("cache-control", cache)
}

fn not_found() -> ApiResponse {
    secured(ApiResponse::text(404, "text/plain; charset=utf-8", "not found\n")).with_header("cache-control", "no-cache")
}

fn secured(resp: ApiResponse) -> ApiResponse {
    resp.with_header("content-security-policy", CONTENT_SECURITY_POLICY)
        .with_header("x-content-type-options", "nosniff")
        .with_header("referrer-policy", "no-referrer")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(r: &'a ApiResponse, name: &str) -> Option<&'a str> {
        r.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    #[test]
    fn paths_under_console_with_or_without_a_stage() {
        assert_eq!(console_path("/console"), Some(""));
        assert_eq!(console_path("/prod/console/app.js"), Some("/app.js"));
        assert_eq!(console_path("/consoles"), None);
        assert_eq!(console_path("/v2/customers"), None);
    }

    #[test]
    fn index_names_each_file_by_its_hash_and_is_revalidated() {
        let r = respond("GET", "/console/", None, None);
        assert_eq!(r.status, 200);
        assert_eq!(header(&r, "cache-control"), Some("no-cache"));
        for a in ASSETS.iter().filter(|a| a.name != "index.html") {
            assert!(r.body.contains(&format!("{}?v={}", a.name, a.hash)), "{} not versioned", a.name);
        }
        let etag = header(&r, "etag").unwrap().to_string();
        assert_eq!(respond("GET", "/console/", None, Some(&etag)).status, 304);
    }

    #[test]
    fn a_versioned_file_is_immutable_and_an_unknown_one_is_404() {
        let js = ASSETS.iter().find(|a| a.name == "app.js").unwrap();
        let r = respond("GET", "/console/app.js", Some(&format!("v={}", js.hash)), None);
        assert_eq!(header(&r, "cache-control"), Some("public, max-age=31536000, immutable"));
        assert_eq!(header(&r, "content-type"), Some("text/javascript; charset=utf-8"));
        assert_eq!(
            respond("GET", "/console/app.js", Some("v=old"), None).headers[0].1,
            "text/javascript; charset=utf-8"
        );
        assert_eq!(respond("GET", "/console/../Cargo.toml", None, None).status, 404);
        assert_eq!(respond("POST", "/console/", None, None).status, 405);
        assert_eq!(respond("GET", "/console", None, None).status, 308);
    }
}
