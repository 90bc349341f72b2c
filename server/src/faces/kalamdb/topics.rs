//! `POST /v1/api/topics/consume` and `POST /v1/api/topics/ack`, and the consume and ack
//! both they and the SQL forms (`CONSUME`, `ACK`, in `topic_sql`) run.
//!
//! ```text
//!  headers ─► auth gate (JWT; role service|dba|system) ─► body ─► ConsumeRequest | AckRequest
//!  consume ─► engine topic bounds ─► consumer_groups::claim ─► engine read_records ─► messages
//!  ack ─► engine topic bounds ─► consumer_groups::ack (durable) ─► acknowledged_offset
//!  any failure ─► TopicFailure ─► {"error","code"} (here) | the SQL envelope (topic_sql)
//! ```

use std::sync::Arc;

use http::{HeaderMap, StatusCode};
use hyper::body::Incoming;
use sluice_engine::{EngineError, ErrorCode, StoredRecord};
use sluice_protocol::kalamdb::envelope::code as sql_code;
use sluice_protocol::kalamdb::topic_statement::{valid_topic_name, Start};
use sluice_protocol::kalamdb::topics::{
    ack_body, code, consume_body, key_text, split_op, topic_error_body, AckRequest, ConsumeRequest,
    Message,
};
use sluice_protocol::limits::REQUEST_BODY_BYTES_MAX;

use super::consumer_groups::{Bounds, GroupError, GroupPartition};
use crate::auth::{Action, CredentialKind, Refusal};
use crate::body::frames_in::{read_to_limit, ReadError};
use crate::response::{json, HttpResponse};
use crate::services::Services;

/// What went wrong with a topic call, classified once; each way of answering it (the topic
/// envelope here, the SQL envelope in `topic_sql`) renders the class its own way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicFailure {
    pub kind: FailureKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Unsupported,
    LimitExceeded,
    Internal,
}

impl TopicFailure {
    pub fn new(kind: FailureKind, message: impl Into<String>) -> TopicFailure {
        TopicFailure {
            kind,
            message: message.into(),
        }
    }

    /// The topic endpoints' status and code (KalamDB: `FORBIDDEN`, `NOT_FOUND`,
    /// `INTERNAL_ERROR`, and 400s for bodies it cannot read).
    pub fn topic_status(&self) -> (StatusCode, &'static str) {
        match self.kind {
            FailureKind::BadRequest | FailureKind::Unsupported => {
                (StatusCode::BAD_REQUEST, code::BAD_REQUEST)
            }
            FailureKind::Unauthorized => (StatusCode::UNAUTHORIZED, code::UNAUTHORIZED),
            FailureKind::Forbidden => (StatusCode::FORBIDDEN, code::FORBIDDEN),
            FailureKind::NotFound => (StatusCode::NOT_FOUND, code::NOT_FOUND),
            FailureKind::LimitExceeded => (StatusCode::TOO_MANY_REQUESTS, code::LIMIT_EXCEEDED),
            FailureKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL_ERROR),
        }
    }

    /// The SQL endpoint's status and code for the same failure (its handlers answer
    /// statement errors with 400, permission with 403, faults with 500).
    pub fn sql_status(&self) -> (StatusCode, &'static str) {
        match self.kind {
            FailureKind::BadRequest | FailureKind::Unsupported => {
                (StatusCode::BAD_REQUEST, sql_code::SQL_EXECUTION_ERROR)
            }
            FailureKind::Unauthorized => (StatusCode::UNAUTHORIZED, sql_code::INVALID_CREDENTIALS),
            FailureKind::Forbidden => (StatusCode::FORBIDDEN, sql_code::PERMISSION_DENIED),
            FailureKind::NotFound => (StatusCode::BAD_REQUEST, sql_code::TABLE_NOT_FOUND),
            FailureKind::LimitExceeded => {
                (StatusCode::TOO_MANY_REQUESTS, sql_code::RATE_LIMIT_EXCEEDED)
            }
            FailureKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, sql_code::INTERNAL_ERROR),
        }
    }

    fn response(&self) -> HttpResponse {
        let (status, code) = self.topic_status();
        json(status, topic_error_body(&self.message, code))
    }
}

impl From<EngineError> for TopicFailure {
    fn from(e: EngineError) -> TopicFailure {
        let kind = match e.code() {
            ErrorCode::NotFound | ErrorCode::TopicNotFound | ErrorCode::PartitionNotFound => {
                FailureKind::NotFound
            }
            ErrorCode::Unsupported => FailureKind::Unsupported,
            ErrorCode::ResourceLimit | ErrorCode::PushQueryLimit => FailureKind::LimitExceeded,
            ErrorCode::StorageFull | ErrorCode::Io | ErrorCode::Corrupt | ErrorCode::Internal => {
                FailureKind::Internal
            }
            ErrorCode::Syntax
            | ErrorCode::InvalidStatement
            | ErrorCode::QueryOnStatementEndpoint
            | ErrorCode::BadRequest
            | ErrorCode::InvalidRowJson
            | ErrorCode::Conflict => FailureKind::BadRequest,
        };
        TopicFailure::new(kind, e.message())
    }
}

impl From<GroupError> for TopicFailure {
    fn from(e: GroupError) -> TopicFailure {
        let kind = match e {
            GroupError::TooManyGroups | GroupError::TooManyClaims => FailureKind::LimitExceeded,
            GroupError::Storage(_) => {
                tracing::error!(error = %e, "consumer group offsets could not be saved");
                FailureKind::Internal
            }
        };
        TopicFailure::new(kind, e.to_string())
    }
}

/// One consume's records and where the partition stands after them.
#[derive(Debug)]
pub struct Consumed {
    pub topic: String,
    pub partition: u32,
    pub records: Vec<StoredRecord>,
    pub next_offset: u64,
    pub has_more: bool,
}

impl Consumed {
    /// The records as KalamDB messages, each with the change its route forwarded
    /// (`split_op`: a route names it in the value; another writer's record is an `Insert`,
    /// a tombstone a `Delete` with a JSON `null` payload).
    pub fn messages(&self) -> Vec<Message<'_>> {
        self.records
            .iter()
            .map(|r| {
                let (key, user) = r.record.key.as_deref().map_or((None, None), key_text);
                let (payload, op) = split_op(r.record.value.as_deref());
                Message {
                    topic_id: &self.topic,
                    partition_id: self.partition,
                    offset: r.offset.0,
                    payload,
                    key,
                    user,
                    timestamp_ms: r.record.timestamp_ms,
                    op,
                }
            })
            .collect()
    }
}

/// `POST /v1/api/topics/consume`.
pub async fn consume_endpoint(
    services: &Arc<Services>,
    headers: &HeaderMap,
    body: Incoming,
) -> HttpResponse {
    let consumed = async {
        admit(services, headers)?;
        let request = ConsumeRequest::decode(&read_body(body).await?)
            .map_err(|e| TopicFailure::new(FailureKind::BadRequest, e.to_string()))?;
        consume(
            services,
            &request.topic_id,
            Some(&request.group_id),
            request.partition_id,
            request.start,
            request.limit,
        )
        .await
    }
    .await;
    match consumed {
        Ok(c) => json(
            StatusCode::OK,
            consume_body(&c.messages(), c.next_offset, c.has_more),
        ),
        Err(f) => f.response(),
    }
}

/// `POST /v1/api/topics/ack`.
pub async fn ack_endpoint(
    services: &Arc<Services>,
    headers: &HeaderMap,
    body: Incoming,
) -> HttpResponse {
    let acked = async {
        admit(services, headers)?;
        let request = AckRequest::decode(&read_body(body).await?)
            .map_err(|e| TopicFailure::new(FailureKind::BadRequest, e.to_string()))?;
        ack(
            services,
            &request.topic_id,
            &request.group_id,
            request.partition_id,
            request.upto_offset,
        )
        .await
    }
    .await;
    match acked {
        Ok(offset) => json(StatusCode::OK, ack_body(offset)),
        Err(f) => f.response(),
    }
}

/// The topic endpoints' answer to other methods (405) and unknown topic paths (404).
pub fn no_route(method: &http::Method, path: &str) -> HttpResponse {
    if path == CONSUME_PATH || path == ACK_PATH {
        let message = format!("method {method} is not allowed here; POST");
        return json(
            StatusCode::METHOD_NOT_ALLOWED,
            topic_error_body(&message, code::METHOD_NOT_ALLOWED),
        );
    }
    TopicFailure::new(FailureKind::NotFound, format!("no route {path}")).response()
}

/// The consume endpoint's path.
pub const CONSUME_PATH: &str = "/v1/api/topics/consume";

/// The ack endpoint's path.
pub const ACK_PATH: &str = "/v1/api/topics/ack";

/// The prefix of the topic endpoints.
pub const TOPICS_PREFIX: &str = "/v1/api/topics/";

/// A JWT whose user has a topic role (the auth gate decides both).
fn admit(services: &Services, headers: &HeaderMap) -> Result<(), TopicFailure> {
    let principal = services
        .auth
        .admit(CredentialKind::Jwt, headers)
        .map_err(|refusal| match refusal {
            Refusal::Forbidden => TopicFailure::new(FailureKind::Forbidden, "Forbidden"),
            Refusal::Missing => {
                TopicFailure::new(FailureKind::Unauthorized, "Authentication required")
            }
            Refusal::Malformed | Refusal::Invalid => {
                TopicFailure::new(FailureKind::Unauthorized, "Invalid credentials")
            }
        })?;
    permit(services, &principal)
}

/// The role check every topic call makes, over HTTP or SQL.
pub fn permit(services: &Services, principal: &crate::auth::Principal) -> Result<(), TopicFailure> {
    if services.auth.permits(principal, Action::KalamTopics) {
        Ok(())
    } else {
        Err(TopicFailure::new(
            FailureKind::Forbidden,
            "Topics require the service, dba or system role",
        ))
    }
}

async fn read_body(mut body: Incoming) -> Result<bytes::Bytes, TopicFailure> {
    read_to_limit(&mut body, REQUEST_BODY_BYTES_MAX)
        .await
        .map_err(|e| match e {
            ReadError::TooLarge(e) => TopicFailure::new(FailureKind::BadRequest, e.to_string()),
            ReadError::Disconnected => {
                TopicFailure::new(FailureKind::BadRequest, "the request body was cut off")
            }
        })
}

/// Where partition `partition` of `topic` stands, or `NOT_FOUND`.
fn bounds(services: &Services, topic: &str, partition: u32) -> Result<Bounds, TopicFailure> {
    let not_found = || {
        TopicFailure::new(
            FailureKind::NotFound,
            format!("Topic '{topic}' does not exist"),
        )
    };
    if !valid_topic_name(topic) {
        return Err(not_found());
    }
    let description = services
        .engine
        .describe_topic(topic)
        .ok_or_else(not_found)?;
    let range = description
        .partitions
        .get(partition as usize)
        .ok_or_else(|| {
            TopicFailure::new(
                FailureKind::NotFound,
                format!("Partition {partition} of topic '{topic}' does not exist"),
            )
        })?;
    Ok(Bounds {
        start: range.start_offset,
        end: range.end_offset,
    })
}

/// Up to `limit` messages of one partition: for a group, the next range it claims (so
/// concurrent consumers of the group get disjoint ranges); without one, from `start`.
pub async fn consume(
    services: &Services,
    topic: &str,
    group: Option<&str>,
    partition: u32,
    start: Start,
    limit: u32,
) -> Result<Consumed, TopicFailure> {
    let bounds = bounds(services, topic, partition)?;
    let (from, to, more_redeliveries) = match group {
        Some(group) => {
            let key = GroupPartition {
                topic: topic.to_string(),
                group: group.to_string(),
                partition,
            };
            let now_ms = services.engine.now_ms();
            let c = services
                .kalamdb_topics
                .claim(&key, start, bounds, u64::from(limit), now_ms)?;
            (c.from, c.to, c.more_redeliveries)
        }
        None => {
            let from = match start {
                Start::Earliest => bounds.start,
                Start::Latest => bounds.end,
                Start::Offset(o) => o,
            }
            .clamp(bounds.start, bounds.end.max(bounds.start));
            (
                from,
                bounds.end.min(from.saturating_add(u64::from(limit))),
                false,
            )
        }
    };
    let mut records = Vec::new();
    if to > from {
        let count = usize::try_from(to - from).expect("at most CONSUME_LIMIT_MAX");
        let (read, _) = services
            .engine
            .read_records(topic, partition, Some(from), count)
            .await?;
        records = read;
        records.retain(|r| r.offset.0 < to);
    }
    let next_offset = records.last().map_or(from, |r| r.offset.0 + 1);
    Ok(Consumed {
        topic: topic.to_string(),
        partition,
        has_more: next_offset < bounds.end || more_redeliveries,
        records,
        next_offset,
    })
}

/// Commits `group` on `topic`'s `partition` up to `upto` (inclusive), durably; answers the
/// committed offset, which a lower ack never moves back.
pub async fn ack(
    services: &Services,
    topic: &str,
    group: &str,
    partition: u32,
    upto: u64,
) -> Result<u64, TopicFailure> {
    let bounds = bounds(services, topic, partition)?;
    if upto >= bounds.end {
        return Err(TopicFailure::new(
            FailureKind::BadRequest,
            format!(
                "offset {upto} is past the last message of partition {partition} (next offset {})",
                bounds.end
            ),
        ));
    }
    let key = GroupPartition {
        topic: topic.to_string(),
        group: group.to_string(),
        partition,
    };
    let groups = Arc::clone(&services.kalamdb_topics);
    // The offsets file is written and synced before the ack answers: off the async workers.
    tokio::task::spawn_blocking(move || groups.ack(&key, upto))
        .await
        .map_err(|e| TopicFailure::new(FailureKind::Internal, format!("ack failed: {e}")))?
        .map_err(TopicFailure::from)
}
