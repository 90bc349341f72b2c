//! TLS on the listening port, with real TLS clients against a certificate chain generated
//! here (a CA and a leaf for `localhost`): hyper's HTTP/2 client over tokio-rustls with
//! ALPN `h2`, HTTP/1.1 over TLS, and the system `curl` with `--cacert` — each creating a
//! stream, streaming rows into `/inserts-stream` and reading them back from a push query.
//! Cleartext clients on the TLS port fail cleanly, a silent client is cut at the handshake
//! timeout, and bad certificate files are refused at start with the file named.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use serde_json::json;
use sluice_server::{ConnectionLimits, ServerOptions, TlsConfig, TlsError};
use support::{LineReader, TestServer, WAIT};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

/// A CA, a leaf for localhost signed by it, and the files the server and clients read.
struct Pki {
    _dir: tempfile::TempDir,
    ca_der: CertificateDer<'static>,
    ca_file: PathBuf,
    chain_file: PathBuf,
    key_file: PathBuf,
    /// A key that belongs to no certificate here.
    stranger_key_file: PathBuf,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "Sluice test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key"))
        .expect("ca cert");
    let leaf_key = KeyPair::generate().expect("leaf key");
    let leaf = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("leaf params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf cert");
    let write = |name: &str, contents: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, contents).expect("write pem");
        path
    };
    Pki {
        ca_der: ca.der().clone(),
        ca_file: write("ca.pem", ca.pem()),
        // The chain as servers serve it: leaf first, then its issuer.
        chain_file: write("chain.pem", format!("{}{}", leaf.pem(), ca.pem())),
        key_file: write("key.pem", leaf_key.serialize_pem()),
        stranger_key_file: write(
            "stranger.pem",
            KeyPair::generate().expect("key").serialize_pem(),
        ),
        _dir: dir,
    }
}

async fn tls_server(pki: &Pki, limits: ConnectionLimits) -> TestServer {
    let tls = TlsConfig::from_pem_files(&pki.chain_file, &pki.key_file).expect("tls config");
    TestServer::start_with(ServerOptions {
        limits,
        tls: Some(tls),
        ..ServerOptions::default()
    })
    .await
}

fn client_config(pki: &Pki, alpn: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_der.clone()).expect("trust the test CA");
    #[allow(deprecated)] // ring has no post-quantum key exchange; fine for a test client
    let provider = ring::default_provider();
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

/// A TLS connection to the server as `localhost`, and the ALPN protocol it agreed.
async fn tls_connect(
    pki: &Pki,
    addr: SocketAddr,
    alpn: &[u8],
) -> (tokio_rustls::client::TlsStream<TcpStream>, Option<Vec<u8>>) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let connector = TlsConnector::from(client_config(pki, alpn));
    let name = ServerName::try_from("localhost").expect("server name");
    let stream = tokio::time::timeout(WAIT, connector.connect(name, tcp))
        .await
        .expect("handshake in time")
        .expect("TLS handshake");
    let agreed = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    (stream, agreed)
}

type Body = Full<Bytes>;

enum TlsClient {
    H2(hyper::client::conn::http2::SendRequest<Body>),
    H1(hyper::client::conn::http1::SendRequest<Body>),
}

impl TlsClient {
    async fn connect(pki: &Pki, addr: SocketAddr, alpn: &[u8]) -> TlsClient {
        let (stream, agreed) = tls_connect(pki, addr, alpn).await;
        assert_eq!(
            agreed.as_deref(),
            Some(alpn),
            "ALPN agreed on what was offered"
        );
        let io = TokioIo::new(stream);
        if alpn == b"h2" {
            let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .expect("h2 handshake");
            tokio::spawn(conn);
            TlsClient::H2(send)
        } else {
            let (send, conn) = hyper::client::conn::http1::handshake(io)
                .await
                .expect("h1 handshake");
            tokio::spawn(conn);
            TlsClient::H1(send)
        }
    }

    async fn send(&mut self, method: &str, path: &str, body: String) -> http::Response<Incoming> {
        let req = Request::builder()
            .method(method)
            .uri(format!("https://localhost{path}"))
            .header("host", "localhost")
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        let fut = async {
            match self {
                TlsClient::H2(s) => {
                    s.ready().await.expect("ready");
                    s.send_request(req).await
                }
                TlsClient::H1(s) => {
                    s.ready().await.expect("ready");
                    s.send_request(req).await
                }
            }
        };
        tokio::time::timeout(WAIT, fut)
            .await
            .expect("response in time")
            .expect("response")
    }

    async fn text(&mut self, method: &str, path: &str, body: String) -> (StatusCode, String) {
        let resp = self.send(method, path, body).await;
        let status = resp.status();
        let bytes = tokio::time::timeout(WAIT, resp.into_body().collect())
            .await
            .expect("body in time")
            .expect("body")
            .to_bytes();
        (status, String::from_utf8(bytes.to_vec()).expect("utf8"))
    }
}

fn create(stream: &str) -> String {
    json!({"ksql": format!(
        "CREATE STREAM {stream} (k STRING KEY, v INT) WITH (kafka_topic='{stream}', value_format='JSON', partitions=1);"
    ), "streamsProperties": {}})
    .to_string()
}

fn push_query(stream: &str) -> String {
    json!({"sql": format!("SELECT * FROM {stream} EMIT CHANGES;"), "properties": {}}).to_string()
}

/// Creates a stream, starts a push query on it, inserts two rows, and reads them from the
/// query — everything over `client`.
async fn round_trip(client: &mut TlsClient, server: &TestServer, stream: &str) {
    let (status, body) = client.text("POST", "/ksql", create(stream)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let before = server.engine.push_query_count();
    let resp = client
        .send("POST", "/query-stream", push_query(stream))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut rows = LineReader::new(resp.into_body());
    let header = rows.next_line().await.expect("query header");
    assert!(header.contains("queryId"), "{header}");
    assert_eq!(server.engine.push_query_count(), before + 1);

    // A second connection for the inserts, as the query holds this one (on HTTP/1.1).
    let inserts = format!(
        "{}\n{}\n{}\n",
        json!({"target": stream}),
        json!({"K": "x", "V": 1}),
        json!({"K": "y", "V": 2})
    );
    let (status, acks) = another_like(client, server)
        .await
        .text("POST", "/inserts-stream", inserts)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        acks,
        "{\"status\":\"ok\",\"seq\":0}\n{\"status\":\"ok\",\"seq\":1}\n"
    );
    assert_eq!(rows.next_line().await.as_deref(), Some(r#"["x",1]"#));
    assert_eq!(rows.next_line().await.as_deref(), Some(r#"["y",2]"#));
}

/// Another connection of the same kind as `client`, to the same server.
async fn another_like(client: &TlsClient, server: &TestServer) -> TlsClient {
    let pki = shared_pki();
    let alpn: &[u8] = match client {
        TlsClient::H2(_) => b"h2",
        TlsClient::H1(_) => b"http/1.1",
    };
    TlsClient::connect(pki, server.addr, alpn).await
}

/// One PKI for every test in this file (key generation is the slow part).
static PKI: std::sync::OnceLock<Pki> = std::sync::OnceLock::new();

fn shared_pki() -> &'static Pki {
    PKI.get_or_init(pki)
}

#[tokio::test]
async fn http2_over_tls_with_alpn_h2_ingests_and_queries() {
    let pki = shared_pki();
    let server = tls_server(pki, ConnectionLimits::default()).await;
    let mut client = TlsClient::connect(pki, server.addr, b"h2").await;
    let (status, info) = client.text("GET", "/info", String::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(info.contains("KsqlServerInfo"), "{info}");
    round_trip(&mut client, &server, "over_h2").await;
    server.stop().await;
}

#[tokio::test]
async fn http1_over_tls_ingests_and_queries() {
    let pki = shared_pki();
    let server = tls_server(pki, ConnectionLimits::default()).await;
    let mut client = TlsClient::connect(pki, server.addr, b"http/1.1").await;
    round_trip(&mut client, &server, "over_h1").await;
    server.stop().await;
}

/// Runs the system curl against `url` with the test CA, feeding `stdin`, off the async
/// threads; `None` if curl is not installed.
async fn curl(args: &[&str], url: String, stdin: String) -> Option<std::process::Output> {
    let pki = shared_pki();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let mut child = match Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&pki.ca_file)
            .args(&args)
            .arg(&url)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("running curl: {e}"),
        };
        // Written, then closed by the drop, so curl sends the whole body and ends it.
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), stdin.as_bytes())
            .expect("curl stdin");
        Some(child.wait_with_output().expect("curl output"))
    })
    .await
    .expect("join")
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn curl_with_cacert_streams_inserts_and_a_push_query() {
    let pki = shared_pki();
    let server = tls_server(pki, ConnectionLimits::default()).await;
    let base = format!("https://localhost:{}", server.addr.port());
    // The certificate is for localhost; pin it to the address the server listens on.
    let resolve = format!("localhost:{}:127.0.0.1", server.addr.port());
    let h2 = ["--http2", "--resolve", &resolve];

    let Some(probe) = curl(
        &[&h2[..], &["-w", "\n%{http_version}"]].concat(),
        format!("{base}/info"),
        String::new(),
    )
    .await
    else {
        eprintln!("SKIPPED curl_with_cacert_streams_inserts_and_a_push_query: no `curl` on PATH");
        server.stop().await;
        return;
    };
    let info = stdout(&probe);
    assert!(info.ends_with("\n2"), "curl agreed HTTP/2 by ALPN: {info}");

    let created = curl(
        &[&h2[..], &["--data-binary", "@-"]].concat(),
        format!("{base}/ksql"),
        create("by_curl"),
    )
    .await
    .expect("curl");
    assert!(stdout(&created).contains("Stream created"));

    // A push query (LIMIT 2) over HTTP/2, fed by curl's /inserts-stream over HTTP/1.1, so
    // both protocols go through TLS.
    let query = {
        let args = [&h2[..], &["--data-binary", "@-"]].concat();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let url = format!("{base}/query-stream");
        let body = json!({"sql": "SELECT * FROM by_curl EMIT CHANGES LIMIT 2;", "properties": {}})
            .to_string();
        tokio::spawn(async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            curl(&args, url, body).await.expect("curl")
        })
    };
    let deadline = Instant::now() + WAIT;
    while server.engine.push_query_count() != 1 {
        assert!(Instant::now() < deadline, "the push query started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let inserts = format!(
        "{}\n{}\n{}\n",
        json!({"target": "by_curl"}),
        json!({"K": "c", "V": 7}),
        json!({"K": "d", "V": 8})
    );
    let acked = curl(
        &["--http1.1", "--resolve", &resolve, "--data-binary", "@-"],
        format!("{base}/inserts-stream"),
        inserts,
    )
    .await
    .expect("curl");
    assert_eq!(
        stdout(&acked),
        "{\"status\":\"ok\",\"seq\":0}\n{\"status\":\"ok\",\"seq\":1}\n"
    );
    let rows = stdout(&query.await.expect("join"));
    let lines: Vec<&str> = rows.lines().collect();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].contains("queryId"), "{lines:?}");
    assert_eq!(&lines[1..], [r#"["c",7]"#, r#"["d",8]"#]);
    server.stop().await;
}

#[tokio::test]
async fn cleartext_clients_on_the_tls_port_fail_cleanly() {
    let pki = shared_pki();
    let server = tls_server(pki, ConnectionLimits::default()).await;

    // HTTP/1.1 in cleartext gets a readable 400 in ksqlDB's shape, then the close.
    let mut raw = TcpStream::connect(server.addr).await.expect("connect");
    raw.write_all(b"GET /info HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .expect("request");
    let mut got = Vec::new();
    tokio::time::timeout(WAIT, raw.read_to_end(&mut got))
        .await
        .expect("closed in time")
        .expect("read");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    let body = &text[text.find("\r\n\r\n").expect("head end") + 4..];
    let body = support::json(body.as_bytes());
    assert_eq!(body["@type"], "generic_error");
    assert_eq!(body["error_code"], 40000);
    assert!(
        body["message"].as_str().expect("message").contains("TLS"),
        "{body}"
    );

    // A cleartext HTTP/2 client (prior knowledge) fails its handshake or first request.
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let attempt = async {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await?;
        tokio::spawn(conn);
        let req = Request::get("http://localhost/info")
            .body(Full::new(Bytes::new()))
            .expect("request");
        send.send_request(req).await.map(|r| r.status())
    };
    let result = tokio::time::timeout(WAIT, attempt)
        .await
        .expect("the cleartext h2 client fails in time, not hangs");
    assert!(
        result.is_err(),
        "cleartext h2 on a TLS port must fail: {result:?}"
    );

    // The server is unharmed.
    let mut client = TlsClient::connect(pki, server.addr, b"h2").await;
    assert_eq!(
        client.text("GET", "/healthcheck", String::new()).await.0,
        StatusCode::OK
    );
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_handshake_is_cut() {
    let pki = shared_pki();
    let timeout = Duration::from_millis(500);
    let server = tls_server(
        pki,
        ConnectionLimits {
            tls_handshake_timeout: timeout,
            ..ConnectionLimits::default()
        },
    )
    .await;
    for opening in [&b""[..], &[0x16, 0x03, 0x01][..]] {
        let mut raw = TcpStream::connect(server.addr).await.expect("connect");
        let started = Instant::now();
        raw.write_all(opening).await.expect("opening bytes");
        let mut got = Vec::new();
        let _ = tokio::time::timeout(WAIT, raw.read_to_end(&mut got))
            .await
            .expect("closed within WAIT");
        let elapsed = started.elapsed();
        assert!(
            elapsed + Duration::from_millis(50) >= timeout
                && elapsed <= timeout + Duration::from_millis(3_000),
            "opening {opening:?}: closed after {elapsed:?}"
        );
    }
    server.stop().await;
}

#[test]
fn bad_certificate_files_are_refused_with_the_file_named() {
    let pki = shared_pki();
    let missing = pki.ca_file.with_file_name("missing.pem");

    let err = TlsConfig::from_pem_files(&missing, &pki.key_file).expect_err("missing cert");
    assert!(matches!(err, TlsError::Read { .. }), "{err}");
    assert!(err.to_string().contains("missing.pem"), "{err}");

    // A certificate file where the key should be: no private key in it.
    let err = TlsConfig::from_pem_files(&pki.chain_file, &pki.ca_file).expect_err("no key");
    assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
    assert!(err.to_string().contains("ca.pem"), "{err}");

    // A key from another pair.
    let err = TlsConfig::from_pem_files(&pki.chain_file, &pki.stranger_key_file)
        .expect_err("mismatched key");
    assert!(matches!(err, TlsError::Refused { .. }), "{err}");

    // A key file where the certificate should be.
    let err = TlsConfig::from_pem_files(&pki.key_file, &pki.key_file).expect_err("no cert");
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
}

#[test]
fn sluice_serve_exits_with_a_clear_message_for_a_bad_certificate() {
    let pki = shared_pki();
    let data = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .arg("--tls-cert")
        .arg(&pki.chain_file)
        .env("SLUICE_TLS_KEY", &pki.stranger_key_file)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run sluice");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cannot be used together"), "{stderr}");
    assert!(stderr.contains("stranger.pem"), "{stderr}");
    // The data directory was not touched: certificates are checked first.
    assert_eq!(std::fs::read_dir(data.path()).expect("dir").count(), 0);

    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(&pki.chain_file)
        .output()
        .expect("run sluice");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--tls-key"),
        "a cert without a key is a usage error"
    );
}
