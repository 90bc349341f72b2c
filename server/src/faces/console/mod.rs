//! The web console: `GET /` for browsers and `GET /console/<asset>`.
//!
//! The console is plain HTML, CSS and ES modules (no build step) in `server/assets/console/`,
//! embedded in the binary so a fresh clone's `cargo run -- serve` serves it with no files at
//! run time. It talks to Sluice only through the public ksqlDB API (`/ksql`, `/query-stream`,
//! `/close-query`), like any other client.
//!
//! `/` keeps answering non-browser clients with ksqlDB's redirect to `/info`; only a request
//! whose `Accept` prefers `text/html` gets the console. Asset names are looked up in a fixed
//! table: nothing a client sends becomes a path.

use http::{header, HeaderMap, HeaderValue, Method, Response, StatusCode};
use sluice_protocol::ksqldb::errors::{code, ErrorResponse};

use crate::body::frames_out::ResponseBody;
use crate::response::{error, json, HttpResponse};

/// Where the assets are served from; the router sends every path under it here.
pub const ASSET_PREFIX: &str = "/console/";

/// One embedded file.
struct Asset {
    /// The name after [`ASSET_PREFIX`].
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// A strong validator over the bytes, computed at compile time.
    etag_hash: u64,
}

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../../assets/console/", $name)),
            etag_hash: fnv1a(include_bytes!(concat!("../../../assets/console/", $name))),
        }
    };
}

/// The page itself, served at `/` (and at `/console/index.html`).
const INDEX: Asset = asset!("index.html", HTML);

/// Every asset the page loads. Each module's imports name files listed here.
const ASSETS: &[Asset] = &[
    INDEX,
    asset!("style.css", CSS),
    asset!("icon.svg", SVG),
    asset!("app.js", JAVASCRIPT),
    asset!("api.js", JAVASCRIPT),
    asset!("dom.js", JAVASCRIPT),
    asset!("chart.js", JAVASCRIPT),
    asset!("rates.js", JAVASCRIPT),
    asset!("editor.js", JAVASCRIPT),
    asset!("sources.js", JAVASCRIPT),
    asset!("queries.js", JAVASCRIPT),
    asset!("results.js", JAVASCRIPT),
];

/// The page may load only its own assets and talk only to this server: no CDN, no inline
/// script, nothing a statement's result could smuggle in as markup would run.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Answers the console's requests, or `None` when the request is not the console's (so the
/// router goes on: `/` without an HTML preference still redirects to `/info`).
pub fn handle(method: &Method, path: &str, headers: &HeaderMap) -> Option<HttpResponse> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let asset = if path == "/" {
        if !prefers_html(accept) || !is_read(method) {
            return None;
        }
        &INDEX
    } else if let Some(name) = path.strip_prefix(ASSET_PREFIX) {
        if !is_read(method) {
            return Some(json(
                StatusCode::METHOD_NOT_ALLOWED,
                ErrorResponse::generic(40500, "Method not allowed").body,
            ));
        }
        match ASSETS.iter().find(|a| a.name == name) {
            Some(asset) => asset,
            None => {
                return Some(error(ErrorResponse::generic(
                    code::NOT_FOUND,
                    &format!("Path not found: {path}"),
                )))
            }
        }
    } else {
        return None;
    };
    Some(serve(asset, method, headers))
}

fn is_read(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

/// The asset, or 304 when the client's cached copy is this one. `no-cache` makes browsers
/// revalidate every time, so a new binary's console is seen at once, at the cost of one
/// small round trip per asset.
fn serve(asset: &Asset, method: &Method, headers: &HeaderMap) -> HttpResponse {
    let etag = format!("\"{:016x}\"", asset.etag_hash);
    let cached = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| etag_matches(tags, &etag));
    let builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if cached {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(ResponseBody::empty())
            .expect("static status and valid headers");
    }
    // HEAD gets GET's headers and no body: hyper's HTTP/2 side would send a body's DATA
    // frames even for HEAD, which clients reject as a protocol error.
    let body = if method == Method::HEAD {
        ResponseBody::empty()
    } else {
        ResponseBody::full(asset.bytes)
    };
    let mut response = builder
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, asset.content_type)
        .header(header::CONTENT_LENGTH, asset.bytes.len())
        .body(body)
        .expect("static status and valid headers");
    if asset.content_type == HTML {
        response.headers_mut().insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
    response
}

/// `If-None-Match` compares weakly (RFC 9110 §13.1.2): a `W/` prefix does not matter.
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// True when the client would rather have HTML than JSON: `text/html` (or `text/*`) is
/// listed with a q-value above zero and at least that of any JSON type it lists.
///
/// Browsers navigating send `text/html,…,*/*;q=0.8`; curl sends `*/*` and ksqlDB clients
/// send JSON types, and those keep ksqlDB's `/` → `/info` redirect. A bare `*/*` names no
/// preference, so it is not taken as one for HTML.
pub fn prefers_html(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let mut html_q = 0.0_f32;
    let mut json_q = 0.0_f32;
    for range in accept.split(',') {
        let mut params = range.split(';');
        let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = params
            .filter_map(|p| p.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, value)| value.trim().parse::<f32>().ok())
            .filter(|q| (0.0..=1.0).contains(q))
            .unwrap_or(0.0);
        match media.as_str() {
            "text/html" | "application/xhtml+xml" | "text/*" => html_q = html_q.max(q),
            "application/json" | "application/*" => json_q = json_q.max(q),
            m if m.starts_with("application/vnd.ksql") => json_q = json_q.max(q),
            _ => {}
        }
    }
    html_q > 0.0 && html_q >= json_q
}

/// 64-bit FNV-1a: a fixed, dependency-free hash, good enough to tell one build's asset
/// from another's (it is a cache validator, not a security check).
const fn fnv1a(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(PRIME);
        i += 1;
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROMIUM: &str =
        "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
    const FIREFOX: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

    #[test]
    fn browsers_prefer_html() {
        assert!(prefers_html(Some(CHROMIUM)));
        assert!(prefers_html(Some(FIREFOX)));
        assert!(prefers_html(Some("text/html")));
        assert!(prefers_html(Some("TEXT/HTML; charset=utf-8")));
        assert!(prefers_html(Some(
            "text/html;q=0.9, application/json;q=0.5"
        )));
    }

    #[test]
    fn api_clients_keep_the_redirect() {
        assert!(!prefers_html(None));
        assert!(!prefers_html(Some("")));
        assert!(!prefers_html(Some("*/*")));
        assert!(!prefers_html(Some("application/json")));
        assert!(!prefers_html(Some("application/vnd.ksql.v1+json")));
        assert!(!prefers_html(Some("application/json, text/html;q=0.5")));
        assert!(!prefers_html(Some("text/html;q=0")));
        assert!(!prefers_html(Some("text/html;q=nonsense")));
        assert!(!prefers_html(Some("text/html;q=2")));
    }

    #[test]
    fn etags_compare_weakly_and_in_lists() {
        assert!(etag_matches("\"ab\"", "\"ab\""));
        assert!(etag_matches("W/\"ab\"", "\"ab\""));
        assert!(etag_matches("\"x\", \"ab\"", "\"ab\""));
        assert!(etag_matches("*", "\"ab\""));
        assert!(!etag_matches("\"abc\"", "\"ab\""));
    }

    #[test]
    fn asset_names_are_unique_and_plain() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(
                !a.name.contains('/') && !a.name.starts_with('.'),
                "{}",
                a.name
            );
            assert!(
                ASSETS[i + 1..].iter().all(|b| b.name != a.name),
                "{}",
                a.name
            );
            assert!(!a.bytes.is_empty(), "{} is empty", a.name);
        }
    }

    #[test]
    fn unknown_and_traversing_names_are_not_found() {
        let headers = HeaderMap::new();
        for path in [
            "/console/nope.js",
            "/console/../Cargo.toml",
            "/console/",
            "/console/app.js/",
        ] {
            let response = handle(&Method::GET, path, &headers).expect("console path");
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        }
        assert!(handle(&Method::GET, "/", &headers).is_none());
        assert!(handle(&Method::GET, "/info", &headers).is_none());
    }

    #[test]
    fn the_hash_is_fnv1a() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
