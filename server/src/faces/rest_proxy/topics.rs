//! The raw-record face, shaped after Confluent REST Proxy v2:
//!
//! ```text
//!  GET    /topics                                  names, sorted
//!  POST   /topics                                  create {"name","partitions"}
//!  GET    /topics/{t}                              partitions with start and end offsets
//!  POST   /topics/{t}                              produce ─► durable ─► offsets
//!  DELETE /topics/{t}                              delete (streams over it then read nothing)
//!  GET    /topics/{t}/partitions/{p}/records       committed records now, no waiting
//! ```
//!
//! Deleting a topic that a stream still reads is allowed, as `kafka-topics --delete` is
//! under ksqlDB: push queries over it end, and later reads and inserts find no topic.

use http::{Method, StatusCode, Uri};
use hyper::body::Incoming;
use sluice_engine::{Engine, TopicDescription};
use sluice_protocol::ksqldb::errors::ErrorResponse;
use sluice_protocol::rest_proxy::produce_request::{decode_produce, EmbeddedFormat};
use sluice_protocol::rest_proxy::produce_response::encode_produce_response;
use sluice_protocol::rest_proxy::records_response::{encode_records, RecordsQuery};
use sluice_protocol::rest_proxy::rest_error::{
    self, code, from_engine, from_protocol, partition_not_found, topic_not_found,
};
use sluice_protocol::rest_proxy::topic_metadata::{
    encode_topic, encode_topic_list, CreateTopicRequest, PartitionRange,
};
use sluice_protocol::rest_proxy::{PRODUCE_BODY_BYTES_MAX, REST_V2_JSON};
use sluice_protocol::ProtocolError;

use crate::body::frames_in::{read_to_limit, ReadError};
use crate::body::frames_out::ResponseBody;
use crate::response::HttpResponse;

/// Largest `POST /topics` (create) body: a name and a number.
const CREATE_BODY_BYTES_MAX: usize = 64 * 1024;

pub async fn handle(
    engine: &Engine,
    method: &Method,
    uri: &Uri,
    content_type: Option<&str>,
    body: Incoming,
) -> HttpResponse {
    let segments: Vec<&str> = uri.path().trim_start_matches('/').split('/').collect();
    let result = match (method, segments.as_slice()) {
        (&Method::GET, ["topics"]) => Ok(list(engine)),
        (&Method::POST, ["topics"]) => create(engine, body).await,
        (&Method::GET, ["topics", name]) => describe(engine, name),
        (&Method::POST, ["topics", name]) => produce(engine, name, content_type, body).await,
        (&Method::DELETE, ["topics", name]) => delete(engine, name),
        (&Method::GET, ["topics", name, "partitions", partition, "records"]) => {
            read(engine, name, partition, uri.query()).await
        }
        (_, ["topics"] | ["topics", _] | ["topics", _, "partitions", _, "records"]) => Err(
            rest_error::rest_error(code::METHOD_NOT_ALLOWED, "HTTP 405 Method Not Allowed"),
        ),
        _ => Err(rest_error::rest_error(404, "HTTP 404 Not Found")),
    };
    result.unwrap_or_else(rest_response)
}

fn list(engine: &Engine) -> HttpResponse {
    ok(StatusCode::OK, encode_topic_list(engine.topic_names()))
}

async fn create(engine: &Engine, mut body: Incoming) -> Result<HttpResponse, ErrorResponse> {
    let bytes = read_body(&mut body, CREATE_BODY_BYTES_MAX).await?;
    let request = CreateTopicRequest::decode(&bytes).map_err(|e| from_protocol(&e))?;
    let topic = engine
        .create_topic(&request.name, request.partitions)
        .map_err(|e| from_engine(&e))?;
    Ok(ok(StatusCode::OK, describe_topic(&topic)))
}

fn describe(engine: &Engine, name: &str) -> Result<HttpResponse, ErrorResponse> {
    let topic = engine.describe_topic(name).ok_or_else(topic_not_found)?;
    Ok(ok(StatusCode::OK, describe_topic(&topic)))
}

fn describe_topic(topic: &TopicDescription) -> Vec<u8> {
    let partitions: Vec<PartitionRange> = topic
        .partitions
        .iter()
        .map(|p| PartitionRange {
            partition: p.partition,
            start_offset: p.start_offset,
            end_offset: p.end_offset,
        })
        .collect();
    encode_topic(&topic.name, &partitions)
}

/// Decode every record first, so a bad one rejects the whole request before anything is
/// appended; then append and answer once all are durable.
async fn produce(
    engine: &Engine,
    name: &str,
    content_type: Option<&str>,
    mut body: Incoming,
) -> Result<HttpResponse, ErrorResponse> {
    let format = EmbeddedFormat::from_content_type(content_type).map_err(|e| from_protocol(&e))?;
    if engine.describe_topic(name).is_none() {
        return Err(topic_not_found());
    }
    let bytes = read_body(&mut body, PRODUCE_BODY_BYTES_MAX).await?;
    let records = decode_produce(&bytes, format, engine.now_ms()).map_err(|e| from_protocol(&e))?;
    let produced = engine
        .produce(name, records)
        .await
        .map_err(|e| from_engine(&e))?;
    Ok(ok(StatusCode::OK, encode_produce_response(&produced)))
}

fn delete(engine: &Engine, name: &str) -> Result<HttpResponse, ErrorResponse> {
    engine.delete_topic(name).map_err(|e| from_engine(&e))?;
    Ok(http::Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(ResponseBody::empty())
        .expect("static response is valid"))
}

async fn read(
    engine: &Engine,
    name: &str,
    partition: &str,
    query: Option<&str>,
) -> Result<HttpResponse, ErrorResponse> {
    if engine.describe_topic(name).is_none() {
        return Err(topic_not_found());
    }
    let partition: u32 = partition.parse().map_err(|_| partition_not_found())?;
    let query = RecordsQuery::parse(query).map_err(|e| from_protocol(&e))?;
    let (records, next) = engine
        .read_records(name, partition, query.offset, query.limit)
        .await
        .map_err(|e| from_engine(&e))?;
    Ok(ok(StatusCode::OK, encode_records(&records, next)))
}

async fn read_body(body: &mut Incoming, limit_bytes: usize) -> Result<bytes::Bytes, ErrorResponse> {
    read_to_limit(body, limit_bytes).await.map_err(|e| match e {
        ReadError::TooLarge(e) => from_protocol(&e),
        ReadError::Disconnected => from_protocol(&ProtocolError::InvalidJson(
            "The request body was cut off".into(),
        )),
    })
}

fn ok(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, REST_V2_JSON)
        .body(ResponseBody::full(body))
        .expect("static status and header are valid")
}

fn rest_response(err: ErrorResponse) -> HttpResponse {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    ok(status, err.body)
}
