//! Per-face ports (`--kalamdb-listen`, `--deltastream-listen`, `--foundry-listen`,
//! `--roe-listen`): a server with extra face listeners on port 0 serves each face on its own
//! port with the main port's auth, answers any other face's path there with the port's face's
//! own 404 body, serves `/healthcheck` everywhere, speaks the main port's TLS, and keeps
//! every face on the main port.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use http::StatusCode;
use serde_json::{json, Value as Json};
use sluice_engine::{Engine, EngineConfig, FsyncPolicy};
use sluice_server::auth::{Auth, CredentialStore};
use sluice_server::{Face, Server, ServerOptions, TlsConfig};
use support::{json as parse, Client, Proto};
use tokio::sync::oneshot;

const TOKEN: &str = "tok-fred";

struct Ports {
    main: SocketAddr,
    faces: Vec<(Face, SocketAddr)>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Ports {
    fn of(&self, face: Face) -> SocketAddr {
        self.faces
            .iter()
            .find(|(f, _)| *f == face)
            .map(|(_, a)| *a)
            .expect("face port")
    }
}

async fn start(faces: &[Face]) -> Ports {
    start_with_tls(faces, None).await
}

async fn start_with_tls(faces: &[Face], tls: Option<TlsConfig>) -> Ports {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = Engine::open(EngineConfig {
        data_dir: dir.path().to_path_buf(),
        fsync: FsyncPolicy::Always,
        limits: Default::default(),
    })
    .expect("engine opens");
    let tokens = CredentialStore::parse(&format!("fred: {TOKEN}\n")).expect("valid");
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let options = ServerOptions {
        auth: Arc::new(Auth::from_stores(None, Some(tokens), &[], None)),
        face_listens: faces.iter().map(|f| (*f, any_port)).collect(),
        tls,
        ..ServerOptions::default()
    };
    let server = Server::bind_with(any_port, engine, options)
        .await
        .expect("bind");
    let main = server.local_addr().expect("main addr");
    let bound = server.face_addrs().expect("face addrs");
    assert_eq!(bound.len(), faces.len());
    assert!(bound.iter().all(|(_, a)| a.port() != 0 && *a != main));
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    Ports {
        main,
        faces: bound,
        stop,
        task,
        _dir: dir,
    }
}

async fn call(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (StatusCode, Json) {
    let mut client = Client::connect(addr, Proto::H1).await;
    let auth = format!("Bearer {TOKEN}");
    let (status, _, bytes) = client
        .send(
            method,
            path,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await;
    (status, parse(&bytes))
}

#[tokio::test]
async fn each_face_port_serves_its_face_and_404s_the_others_in_its_shape() {
    let ports = start(&[Face::KalamDb, Face::DeltaStream, Face::Roe]).await;
    let (kalam, ds, roe) = (
        ports.of(Face::KalamDb),
        ports.of(Face::DeltaStream),
        ports.of(Face::Roe),
    );

    // Each face on its own port.
    let (status, body) = call(kalam, "GET", "/health", b"").await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("healthy")),
        "{body}"
    );
    // Live queries are KalamDB's too: a plain GET (no upgrade) is told to upgrade, not 404.
    let (status, body) = call(kalam, "GET", "/v1/ws", b"").await;
    assert_eq!(status, StatusCode::UPGRADE_REQUIRED, "{body}");
    let (status, body) = call(ds, "GET", "/v2/version", b"").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["major"].is_u64());
    let (status, body) = call(
        roe,
        "POST",
        "/v1/database/query/",
        br#"{"query":"SHOW STREAMS;"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.is_array());

    // Another face's route on a face port: that port's face's 404, whatever the path.
    let (status, body) = call(kalam, "GET", "/v2/version", b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["status"], "error", "KalamDB's envelope: {body}");
    assert_eq!(body["error"]["code"], "INVALID_INPUT");
    let (status, body) = call(
        ds,
        "POST",
        "/v1/database/query/",
        br#"{"query":"SHOW STREAMS;"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("/v1/database/query/"));
    assert_eq!(
        body["traceID"].as_str().map(str::len),
        Some(36),
        "DeltaStream's shape: {body}"
    );
    let (status, body) = call(roe, "POST", "/ksql", br#"{"ksql":"SHOW STREAMS;"}"#).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );
    let (status, body) = call(roe, "GET", "/v1/api/healthcheck", b"").await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Not found."}))
    );

    // The same auth as the main port: DeltaStream's 403 on its own port.
    let mut client = Client::connect(ds, Proto::H2).await;
    let (status, _, bytes) = client
        .send(
            "GET",
            "/v2/version",
            &[("authorization", "Bearer wrong")],
            b"",
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(parse(&bytes)["message"].is_string());

    // Health on every port; every face still on the main port, one engine behind all.
    for addr in [kalam, ds, roe, ports.main] {
        let (status, body) = call(addr, "GET", "/healthcheck", b"").await;
        assert_eq!(
            (status, &body["isHealthy"]),
            (StatusCode::OK, &json!(true)),
            "{addr}"
        );
    }
    let create = json!({"statement": "CREATE STREAM s (k VARCHAR KEY, v INT) WITH ('topic'='s', 'value.format'='json', 'topic.partitions'=1);"});
    let (status, body) = call(ds, "POST", "/v2/statements", create.to_string().as_bytes()).await;
    assert_eq!(
        (status, &body["sqlState"]),
        (StatusCode::OK, &json!("00000")),
        "{body}"
    );
    let (status, body) = call(
        ports.main,
        "POST",
        "/v1/database/query/",
        br#"{"query":"SHOW STREAMS;"}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body[0]["result_rows"][0][0], "S", "{body}");
    let (status, _) = call(ports.main, "GET", "/v2/version", b"").await;
    assert_eq!(status, StatusCode::OK);

    let _ = ports.stop.send(());
    let _ = ports.task.await;
}

#[tokio::test]
async fn foundrys_port_answers_its_conjure_404() {
    let ports = start(&[Face::Foundry]).await;
    let (status, body) = call(ports.of(Face::Foundry), "GET", "/v2/version", b"").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["errorCode"], "NOT_FOUND", "{body}");
    assert_eq!(body["errorName"], "Default:NotFound");
    // Its own route is Foundry's: an unknown function is Foundry's answer, not a 404 path.
    let (status, body) = call(
        ports.of(Face::Foundry),
        "POST",
        "/api/v2/functions/queries/nosuch/streamingExecute",
        b"{}",
    )
    .await;
    assert_ne!(body["errorName"], "Default:NotFound", "{status} {body}");
    let _ = ports.stop.send(());
    let _ = ports.task.await;
}

#[tokio::test]
async fn a_face_port_speaks_the_main_ports_tls() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::crypto::ring;
    use tokio_rustls::rustls::pki_types::ServerName;
    use tokio_rustls::rustls::{ClientConfig, RootCertStore};

    let dir = tempfile::tempdir().expect("temp dir");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("cert");
    let (chain, key_file) = (dir.path().join("chain.pem"), dir.path().join("key.pem"));
    std::fs::write(&chain, cert.pem()).expect("write");
    std::fs::write(&key_file, key.serialize_pem()).expect("write");
    let tls = TlsConfig::from_pem_files(&chain, &key_file).expect("tls config");
    let ports = start_with_tls(&[Face::Roe], Some(tls)).await;

    let mut roots = RootCertStore::empty();
    roots.add(cert.der().clone()).expect("trust it");
    #[allow(deprecated)] // ring has no post-quantum key exchange; fine for a test client
    let provider = ring::default_provider();
    let config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(ports.of(Face::Roe))
        .await
        .expect("connect");
    let mut stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("the face port completes the main port's TLS handshake");
    stream
        .write_all(b"GET /v1/nosuch HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.ends_with(r#"{"detail":"Not found."}"#), "{answer}");
    let _ = ports.stop.send(());
    let _ = ports.task.await;
}
