//! The web console's serving (`GET /` for browsers, `/console/<asset>`) over HTTP/1.1 and
//! HTTP/2. What the console does in a browser is tested in `tests/console/` (Chromium).

mod support;

use http::{header, StatusCode};
use support::TestServer;

const CHROMIUM_ACCEPT: &str =
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_get_the_console_at_root_and_api_clients_the_redirect() {
    let server = TestServer::start().await;
    for mut c in [server.h1().await, server.h2().await] {
        let (status, headers, body) = c
            .send("GET", "/", &[("accept", CHROMIUM_ACCEPT)], b"")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let html = std::str::from_utf8(&body).expect("utf-8 page");
        assert!(html.starts_with("<!doctype html>"), "{html}");
        assert!(html.contains("<title>Sluice console</title>"));
        assert!(html.contains(r#"<script type="module" src="/console/app.js">"#));
        let csp = headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("ascii");
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        assert!(csp.contains("script-src 'self'"), "{csp}");

        for accept in [
            None,
            Some("*/*"),
            Some("application/json"),
            Some("application/json, text/html;q=0.5"),
        ] {
            let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
            let (status, response_headers, body) = c.send("GET", "/", &headers, b"").await;
            assert_eq!(status, StatusCode::TEMPORARY_REDIRECT, "Accept: {accept:?}");
            assert_eq!(response_headers[header::LOCATION], "/info");
            assert!(body.is_empty());
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assets_have_their_content_types_and_unknown_ones_404() {
    let server = TestServer::start().await;
    for mut c in [server.h1().await, server.h2().await] {
        for (path, content_type) in [
            ("/console/app.js", "text/javascript; charset=utf-8"),
            ("/console/rates.js", "text/javascript; charset=utf-8"),
            ("/console/style.css", "text/css; charset=utf-8"),
            ("/console/icon.svg", "image/svg+xml"),
            ("/console/index.html", "text/html; charset=utf-8"),
        ] {
            let (status, headers, body) = c.send("GET", path, &[], b"").await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], content_type, "{path}");
            assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(headers[header::CACHE_CONTROL], "no-cache");
            assert!(!body.is_empty(), "{path}");
        }

        // Every module the page imports, and every module they import, is served as
        // JavaScript (one missing would break the page).
        let mut modules = vec!["app.js".to_owned()];
        let mut seen = std::collections::BTreeSet::new();
        while let Some(name) = modules.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let (status, headers, body) =
                c.send("GET", &format!("/console/{name}"), &[], b"").await;
            assert_eq!(status, StatusCode::OK, "{name}");
            assert_eq!(
                headers[header::CONTENT_TYPE],
                "text/javascript; charset=utf-8"
            );
            let source = std::str::from_utf8(&body).expect("utf-8");
            for import in source.lines().filter_map(|l| l.split(" from './").nth(1)) {
                let imported = import.split('\'').next().expect("quoted module name");
                modules.push(imported.to_owned());
            }
        }
        assert_eq!(seen.len(), 9, "modules reached from app.js: {seen:?}");

        for path in [
            "/console/nope.js",
            "/console/",
            "/console/../Cargo.toml",
            "/console/%2e%2e/Cargo.toml",
            "/console/package.json",
            "/console/APP.JS",
        ] {
            let (status, headers, body) = c.send("GET", path, &[], b"").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
            assert_eq!(headers[header::CONTENT_TYPE], "application/json");
            let error = support::json(&body);
            assert_eq!(error["error_code"], 40400, "{path}");
        }

        // HEAD: GET's headers, no body.
        let (_, get_headers, get_body) = c.send("GET", "/console/style.css", &[], b"").await;
        let (status, headers, body) = c.send("HEAD", "/console/style.css", &[], b"").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.is_empty());
        assert_eq!(headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(headers[header::ETAG], get_headers[header::ETAG]);
        assert_eq!(
            headers[header::CONTENT_LENGTH],
            get_body.len().to_string().as_str()
        );

        // Last on this connection: a refused request's unread body may end an HTTP/1.1
        // connection (the server does not drain what it will not use), so nothing follows.
        let (status, _, _) = c.send("POST", "/console/app.js", &[], b"{}").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etags_let_browsers_revalidate_without_the_body() {
    let server = TestServer::start().await;
    for mut c in [server.h1().await, server.h2().await] {
        let (status, headers, _) = c.send("GET", "/console/app.js", &[], b"").await;
        assert_eq!(status, StatusCode::OK);
        let etag = headers[header::ETAG].to_str().expect("ascii").to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

        let (status, headers, body) = c
            .send("GET", "/console/app.js", &[("if-none-match", &etag)], b"")
            .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert_eq!(headers[header::ETAG], etag.as_str());
        assert!(body.is_empty());

        // Another asset's validator does not match this one.
        let (_, css_headers, _) = c.send("GET", "/console/style.css", &[], b"").await;
        assert_ne!(css_headers[header::ETAG], etag.as_str());
        let (status, _, body) = c
            .send(
                "GET",
                "/console/app.js",
                &[("if-none-match", "\"0000000000000000\"")],
                b"",
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(!body.is_empty());
    }
    server.stop().await;
}
