//! The runner's HTTP/1.1 client: only public endpoints, as ksqlDB's `KsqlRestClient` uses
//! them (rqtt-format.md §3: HTTP/1.1, `Accept: application/json`).

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use super::json::Json;

/// Longest any single non-streaming request may take; a hung server fails the case instead
/// of stalling the run.
pub const REQUEST_TIMEOUT_MS: u64 = 5_000;

/// Content type of Confluent REST Proxy v2 binary produce requests.
const KAFKA_BINARY_V2: &str = "application/vnd.kafka.binary.v2+json";

#[derive(Clone)]
pub struct HttpClient {
    base: String,
    inner: Client<HttpConnector, Full<Bytes>>,
}

/// A reply read to its end.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Result<Json, String> {
        Json::parse(&self.body).map_err(|e| format!("unparsable reply ({e}): {}", clip(&self.body)))
    }
}

/// One record read back from a topic partition.
#[derive(Debug, Clone)]
pub struct TopicRecord {
    pub timestamp: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// One record to produce.
#[derive(Debug, Clone)]
pub struct ProduceRecord {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub partition: Option<u32>,
    pub timestamp: i64,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Shortens text for one-line failure reasons.
pub fn clip(s: &str) -> String {
    const CLIP_CHARS_MAX: usize = 300;
    let one_line = s.replace('\n', " ");
    if one_line.chars().count() > CLIP_CHARS_MAX {
        let cut: String = one_line.chars().take(CLIP_CHARS_MAX).collect();
        format!("{cut}…")
    } else {
        one_line
    }
}

fn b64(bytes: &Option<Vec<u8>>) -> Json {
    match bytes {
        Some(b) => Json::Str(base64::engine::general_purpose::STANDARD.encode(b)),
        None => Json::Null,
    }
}

fn unb64(j: Option<&Json>) -> Result<Option<Vec<u8>>, String> {
    match j.and_then(Json::as_str) {
        None => Ok(None),
        Some(s) => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map(Some)
            .map_err(|e| format!("bad base64 from server: {e}")),
    }
}

impl HttpClient {
    pub fn new(base: &str) -> HttpClient {
        HttpClient {
            base: base.trim_end_matches('/').to_string(),
            inner: Client::builder(TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(30))
                .build_http(),
        }
    }

    /// Sends a request and returns the response head with its body still streaming.
    pub async fn open(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<String>,
    ) -> Result<http::Response<Incoming>, String> {
        self.open_accepting(method, path, "application/json", content_type, body)
            .await
    }

    /// [`HttpClient::open`] with another `Accept` header (the protobuf query mode's).
    pub async fn open_accepting(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        content_type: Option<&str>,
        body: Option<String>,
    ) -> Result<http::Response<Incoming>, String> {
        let mut req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{}", self.base, path))
            .header("Accept", accept);
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let req = req
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| e.to_string())?;
        let send = self.inner.request(req);
        match tokio::time::timeout(Duration::from_millis(REQUEST_TIMEOUT_MS), send).await {
            Err(_) => Err(format!(
                "{method} {path}: no response head in {REQUEST_TIMEOUT_MS} ms"
            )),
            Ok(Err(e)) => Err(format!("{method} {path}: {e}")),
            Ok(Ok(resp)) => Ok(resp),
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<String>,
    ) -> Result<Reply, String> {
        let resp = self.open(method.clone(), path, content_type, body).await?;
        let status = resp.status();
        let collect = resp.into_body().collect();
        let bytes =
            match tokio::time::timeout(Duration::from_millis(REQUEST_TIMEOUT_MS), collect).await {
                Err(_) => {
                    return Err(format!(
                        "{method} {path}: body not complete in {REQUEST_TIMEOUT_MS} ms"
                    ))
                }
                Ok(Err(e)) => return Err(format!("{method} {path}: {e}")),
                Ok(Ok(c)) => c.to_bytes(),
            };
        Ok(Reply {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        })
    }

    /// `POST /ksql` with the body ksqlDB's REST client sends.
    pub async fn ksql(&self, sql: &str, properties: &Json) -> Result<Reply, String> {
        let body = Json::Obj(vec![
            ("ksql".into(), Json::Str(sql.to_string())),
            ("streamsProperties".into(), properties.clone()),
        ]);
        self.call(
            Method::POST,
            "/ksql",
            Some("application/json"),
            Some(body.to_text()),
        )
        .await
    }

    /// `POST /ksql`, insisting on a 200 and a JSON array of entities.
    pub async fn ksql_ok(&self, sql: &str) -> Result<Vec<Json>, String> {
        let reply = self.ksql(sql, &Json::Obj(Vec::new())).await?;
        if reply.status != StatusCode::OK {
            return Err(format!("{sql} → {}: {}", reply.status, clip(&reply.body)));
        }
        Ok(reply.json()?.as_array().to_vec())
    }

    /// Topic names (`GET /topics`); `None` when the server has no raw topic endpoints.
    pub async fn list_topics(&self) -> Result<Option<Vec<String>>, String> {
        let reply = self.call(Method::GET, "/topics", None, None).await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(format!("GET /topics → {}", reply.status));
        }
        Ok(Some(
            reply
                .json()?
                .as_array()
                .iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect(),
        ))
    }

    pub async fn delete_topic(&self, name: &str) -> Result<(), String> {
        let reply = self
            .call(
                Method::DELETE,
                &format!("/topics/{}", path_segment(name)),
                None,
                None,
            )
            .await?;
        if reply.status.is_success() || reply.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(format!(
                "DELETE /topics/{name} → {}: {}",
                reply.status,
                clip(&reply.body)
            ))
        }
    }

    /// Creates a topic. `Ok(false)` when the server has no such endpoint.
    pub async fn create_topic(&self, name: &str, partitions: u32) -> Result<bool, String> {
        let body = format!(
            "{{\"name\":{},\"partitions\":{partitions}}}",
            Json::Str(name.to_string())
        );
        let reply = self
            .call(
                Method::POST,
                "/topics",
                Some("application/json"),
                Some(body),
            )
            .await?;
        match reply.status {
            s if s.is_success() || s == StatusCode::CONFLICT => Ok(true),
            StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED => Ok(false),
            s => Err(format!(
                "creating topic {name} → {s}: {}",
                clip(&reply.body)
            )),
        }
    }

    /// End offset of each partition (`GET /topics/{name}`); `None` if the topic is unknown.
    pub async fn end_offsets(&self, name: &str) -> Result<Option<Vec<(u32, i64)>>, String> {
        let reply = self
            .call(
                Method::GET,
                &format!("/topics/{}", path_segment(name)),
                None,
                None,
            )
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(format!("GET /topics/{name} → {}", reply.status));
        }
        let j = reply.json()?;
        Ok(Some(
            j.get("partitions")
                .map(Json::as_array)
                .unwrap_or(&[])
                .iter()
                .map(|p| {
                    (
                        p.field("partition").and_then(Json::as_i64).unwrap_or(0) as u32,
                        p.field("endOffset").and_then(Json::as_i64).unwrap_or(0),
                    )
                })
                .collect(),
        ))
    }

    /// Appends records in order, in one request.
    pub async fn produce(&self, topic: &str, records: &[ProduceRecord]) -> Result<(), String> {
        let list = records
            .iter()
            .map(|r| {
                let mut o = vec![("key".into(), b64(&r.key)), ("value".into(), b64(&r.value))];
                if let Some(p) = r.partition {
                    o.push(("partition".into(), Json::Num(p.to_string())));
                }
                o.push(("timestamp".into(), Json::Num(r.timestamp.to_string())));
                if !r.headers.is_empty() {
                    let hs = r
                        .headers
                        .iter()
                        .map(|(k, v)| {
                            Json::Obj(vec![
                                ("key".into(), Json::Str(k.clone())),
                                ("value".into(), b64(v)),
                            ])
                        })
                        .collect();
                    o.push(("headers".into(), Json::Arr(hs)));
                }
                Json::Obj(o)
            })
            .collect();
        let body = Json::Obj(vec![("records".into(), Json::Arr(list))]);
        let reply = self
            .call(
                Method::POST,
                &format!("/topics/{}", path_segment(topic)),
                Some(KAFKA_BINARY_V2),
                Some(body.to_text()),
            )
            .await?;
        if reply.status.is_success() {
            Ok(())
        } else {
            Err(format!(
                "producing to {topic} → {}: {}",
                reply.status,
                clip(&reply.body)
            ))
        }
    }

    /// Every record of one partition, from offset 0 to the current end.
    pub async fn read_partition(
        &self,
        topic: &str,
        partition: u32,
    ) -> Result<Vec<TopicRecord>, String> {
        /// Records asked for per request.
        const READ_BATCH_RECORDS: usize = 1_000;
        /// Cases hold a few dozen records; more means a runaway query.
        const READ_RECORDS_MAX: usize = 100_000;
        let mut out = Vec::new();
        let mut offset = 0i64;
        loop {
            let path = format!(
                "/topics/{}/partitions/{partition}/records?offset={offset}&limit={READ_BATCH_RECORDS}",
                path_segment(topic)
            );
            let reply = self.call(Method::GET, &path, None, None).await?;
            if !reply.status.is_success() {
                return Err(format!(
                    "reading {topic}/{partition} → {}: {}",
                    reply.status,
                    clip(&reply.body)
                ));
            }
            let j = reply.json()?;
            let records = j.get("records").map(Json::as_array).unwrap_or(&[]);
            if records.is_empty() {
                return Ok(out);
            }
            for r in records {
                let headers = r
                    .get("headers")
                    .map(Json::as_array)
                    .unwrap_or(&[])
                    .iter()
                    .map(|h| {
                        Ok((
                            h.field("key")
                                .and_then(Json::as_str)
                                .unwrap_or("")
                                .to_string(),
                            unb64(h.get("value"))?,
                        ))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                out.push(TopicRecord {
                    timestamp: r.field("timestamp").and_then(Json::as_i64).unwrap_or(0),
                    key: unb64(r.get("key"))?,
                    value: unb64(r.get("value"))?,
                    headers,
                });
            }
            let next = j
                .field("nextOffset")
                .and_then(Json::as_i64)
                .unwrap_or(offset + records.len() as i64);
            if next <= offset || out.len() > READ_RECORDS_MAX {
                return Ok(out);
            }
            offset = next;
        }
    }

    /// `GET /queries/{id}/progress`: `Some(caught_up)`, or `None` when the server has no such
    /// endpoint (404).
    pub async fn query_caught_up(&self, query_id: &str) -> Result<Option<bool>, String> {
        let reply = self
            .call(
                Method::GET,
                &format!("/queries/{}/progress", path_segment(query_id)),
                None,
                None,
            )
            .await?;
        if reply.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !reply.status.is_success() {
            return Err(format!("progress of {query_id} → {}", reply.status));
        }
        Ok(Some(
            reply
                .json()?
                .field("caughtUp")
                .and_then(Json::as_bool)
                .unwrap_or(false),
        ))
    }
}

/// Percent-encodes a name for use as one path segment.
fn path_segment(name: &str) -> String {
    let mut out = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads a streamed body line by line, however its chunks are cut.
pub struct LineReader {
    body: Incoming,
    pending: Vec<u8>,
    done: bool,
}

impl LineReader {
    pub fn new(body: Incoming) -> LineReader {
        LineReader {
            body,
            pending: Vec::new(),
            done: false,
        }
    }

    /// The next line without its newline; `None` at the end of the body.
    pub async fn next_line(&mut self) -> Result<Option<String>, String> {
        loop {
            if let Some(pos) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=pos).collect();
                return Ok(Some(
                    String::from_utf8_lossy(&line[..line.len() - 1]).into_owned(),
                ));
            }
            if self.done {
                if self.pending.is_empty() {
                    return Ok(None);
                }
                let rest = std::mem::take(&mut self.pending);
                return Ok(Some(String::from_utf8_lossy(&rest).into_owned()));
            }
            match self.body.frame().await {
                None => self.done = true,
                Some(Err(e)) => return Err(format!("reading the stream: {e}")),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}
