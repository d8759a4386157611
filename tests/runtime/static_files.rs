//! The console's function (no authorizer, no table) answers an HTTP API event for one of its files
//! with the file, its content type and the console's security headers, and calls nothing else.

use crate::fixtures::{event, table_name, Sandbox};
use crate::policies::check_recorded;
use crate::template::{functions, Kind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_function_serves_its_files_with_their_headers() {
    let statics: Vec<_> = functions(&table_name()).into_iter().filter(|f| f.kind == Kind::Static).collect();
    assert_eq!(statics.len(), 1, "one function serves the console");
    let f = &statics[0];
    let sandbox = Sandbox::start(f).await;
    let resp = sandbox.respond(&event(&format!("{}.v2.json", f.binary)).unwrap()).await.unwrap();
    assert_eq!(resp["statusCode"], 200, "{resp}");
    let headers = &resp["headers"];
    assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(headers["content-security-policy"], shared::http::console::CONTENT_SECURITY_POLICY);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["etag"].as_str().is_some_and(|e| e.starts_with('"')), "{headers}");
    assert!(resp["body"].as_str().unwrap().contains("sessionStorage"), "the body is the console's script");
    check_recorded(f, &sandbox.recorder).unwrap();
}
