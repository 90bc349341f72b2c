//! DeltaStream's `GET /v2/download/{resourceType}/{organizationID}/{resourceName}` against a
//! real server: a file attached to `CREATE FUNCTION_SOURCE` / `CREATE DESCRIPTOR_SOURCE`
//! (multipart `attachments`, as the real clients send them) comes back byte for byte, with
//! DeltaStream's 400/403/404 `{message, traceID}` errors. The real Python client's upload
//! and download calls run in `scripts/clients/deltastream_client.py`.

mod support;

use std::sync::Arc;

use http::StatusCode;
use serde_json::Value as Json;
use sluice_server::auth::{Auth, CredentialStore};
use sluice_server::ServerOptions;
use support::{json as parse, Client, TestServer};

const TOKEN: &str = "tok-fred";
const ORG: &str = "5a1ce000-0000-4000-8000-000000000001";
/// Bytes no text decoding would keep intact: the download must be the upload, exactly.
const JAR: &[u8] = b"PK\x03\x04\x00\xff\r\n--B\r\nnot a boundary\x80\x81";

async fn server() -> TestServer {
    let tokens = CredentialStore::parse(&format!("fred: {TOKEN}\n")).expect("valid");
    TestServer::start_with(ServerOptions {
        auth: Arc::new(Auth::from_stores(None, Some(tokens), &[], None)),
        ..ServerOptions::default()
    })
    .await
}

/// `POST /v2/statements` as multipart: the `request` part (no part content type, as the
/// Python client sends it) and one attachment per `(filename, bytes)`.
async fn submit(client: &mut Client, sql: &str, files: &[(&str, &[u8])]) -> (StatusCode, Json) {
    let mut form = Vec::new();
    let request = serde_json::json!({ "statement": sql }).to_string();
    form.extend_from_slice(b"--XB\r\nContent-Disposition: form-data; name=\"request\"\r\n\r\n");
    form.extend_from_slice(request.as_bytes());
    for (name, bytes) in files {
        form.extend_from_slice(
            format!(
                "\r\n--XB\r\nContent-Disposition: form-data; name=\"attachments\"; \
                 filename=\"{name}\"\r\nContent-Type: application/java-archive\r\n\r\n"
            )
            .as_bytes(),
        );
        form.extend_from_slice(bytes);
    }
    form.extend_from_slice(b"\r\n--XB--\r\n");
    let auth = format!("Bearer {TOKEN}");
    let (status, _, bytes) = client
        .send(
            "POST",
            "/v2/statements",
            &[
                ("authorization", &auth),
                ("content-type", "multipart/form-data; boundary=XB"),
            ],
            &form,
        )
        .await;
    (status, parse(&bytes))
}

async fn download(client: &mut Client, path: &str) -> (StatusCode, http::HeaderMap, Vec<u8>) {
    let auth = format!("Bearer {TOKEN}");
    let (status, headers, bytes) = client
        .send("GET", path, &[("authorization", &auth)], b"")
        .await;
    (status, headers, bytes.to_vec())
}

#[tokio::test]
async fn an_attached_source_downloads_byte_for_byte() {
    let server = server().await;
    let mut client = server.h2().await;
    let (status, body) = submit(
        &mut client,
        "CREATE FUNCTION_SOURCE \"My Udfs\" WITH ('file' = 'udfs.jar', 'language' = 'java');\
         CREATE DESCRIPTOR_SOURCE pb WITH ('file' = 'pb.desc');",
        &[("udfs.jar", JAR), ("pb.desc", b"descriptor")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sqlState"], "00000", "{body}");

    let path = format!("/v2/download/function_source/{ORG}/My%20Udfs");
    let (status, headers, bytes) = download(&mut client, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/octet-stream");
    assert_eq!(bytes, JAR);
    let path = format!("/v2/download/descriptor_source/{ORG}/pb");
    assert_eq!(download(&mut client, &path).await.2, b"descriptor");
    // Kinds are separate namespaces.
    let path = format!("/v2/download/function_source/{ORG}/pb");
    assert_eq!(download(&mut client, &path).await.0, StatusCode::NOT_FOUND);

    // Dropped: gone.
    let (status, body) = submit(&mut client, "DROP DESCRIPTOR_SOURCE pb;", &[]).await;
    assert_eq!(
        (status, &body["sqlState"]),
        (StatusCode::OK, &"00000".into())
    );
    let path = format!("/v2/download/descriptor_source/{ORG}/pb");
    let (status, _, bytes) = download(&mut client, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let error = parse(&bytes);
    assert!(error["message"].as_str().expect("message").contains("pb"));
    assert_eq!(error["traceID"].as_str().map(str::len), Some(36));
    server.stop().await;
}

#[tokio::test]
async fn source_statements_fail_in_the_200_body() {
    let server = server().await;
    let mut client = server.h2().await;
    // The file the statement names is not attached: a SQL error, not an HTTP one.
    let (status, body) = submit(
        &mut client,
        "CREATE FUNCTION_SOURCE f WITH ('file' = 'missing.jar');",
        &[("other.jar", JAR)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(body["sqlState"], "00000", "{body}");
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("missing.jar"));

    let create = "CREATE FUNCTION_SOURCE f WITH ('file' = 'f.jar');";
    let (_, body) = submit(&mut client, create, &[("f.jar", JAR)]).await;
    assert_eq!(body["sqlState"], "00000", "{body}");
    // A name taken is DeltaStream's duplicate-object class.
    let (_, body) = submit(&mut client, create, &[("f.jar", JAR)]).await;
    assert!(
        body["sqlState"].as_str().expect("state").starts_with("42"),
        "{body}"
    );
    // Without a 'file' option, and dropping what does not exist.
    let (_, body) = submit(&mut client, "CREATE FUNCTION_SOURCE g;", &[]).await;
    assert_eq!(body["sqlState"], "42601", "{body}");
    let (_, body) = submit(&mut client, "DROP FUNCTION_SOURCE nosuch;", &[]).await;
    assert!(
        body["sqlState"].as_str().expect("state").starts_with("3D"),
        "{body}"
    );
    server.stop().await;
}

#[tokio::test]
async fn download_errors_have_deltastreams_shape() {
    let server = server().await;
    let mut client = server.h2().await;
    let cases = [
        (
            format!("/v2/download/jar/{ORG}/f"),
            StatusCode::BAD_REQUEST,
            "resourceType",
        ),
        (
            "/v2/download/function_source/not-a-uuid/f".to_string(),
            StatusCode::BAD_REQUEST,
            "organization",
        ),
        (
            format!("/v2/download/function_source/{ORG}/nosuch"),
            StatusCode::NOT_FOUND,
            "nosuch",
        ),
        (
            format!("/v2/download/function_source/{ORG}"),
            StatusCode::NOT_FOUND,
            "path not found",
        ),
    ];
    for (path, want, says) in cases {
        let (status, _, bytes) = download(&mut client, &path).await;
        let body = parse(&bytes);
        assert_eq!(status, want, "{path}: {body}");
        assert!(
            body["message"].as_str().expect("message").contains(says),
            "{path}: {body}"
        );
    }
    // A bad token is 403, as on every DeltaStream route.
    let (status, _, bytes) = client
        .send(
            "GET",
            &format!("/v2/download/function_source/{ORG}/f"),
            &[("authorization", "Bearer wrong")],
            b"",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(parse(&bytes)["message"].is_string());
    server.stop().await;
}
