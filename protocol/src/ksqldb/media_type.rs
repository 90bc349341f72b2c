//! `Accept` negotiation for the streaming endpoints (ksqldb-api.md §1, §3).

/// Delimited format: header line, then one JSON array per row. The default.
pub const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";
pub const JSON: &str = "application/json";
/// The old `/query` StreamedRow format, sent by the Java client from 0.28 on.
pub const KSQL_V1_JSON: &str = "application/vnd.ksql.v1+json";
/// The StreamedRow format with each row a protobuf message (`protobufBytes`) and the
/// header carrying the message's `.proto` text (`protoSchema`).
pub const KSQL_V1_PROTOBUF: &str = "application/vnd.ksql.v1+protobuf";

/// How `/query-stream` results (and inserts-stream acks) are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    Delimited,
    JsonArray,
    KsqlV1Json,
    KsqlV1Protobuf,
}

impl ResultFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ResultFormat::Delimited => DELIMITED,
            ResultFormat::JsonArray => JSON,
            ResultFormat::KsqlV1Json => KSQL_V1_JSON,
            ResultFormat::KsqlV1Protobuf => KSQL_V1_PROTOBUF,
        }
    }
}

/// Picks the first acceptable format in the header's order (q-values are ignored, as
/// Vert.x's route matching effectively does). `None` means 406 Not Acceptable.
pub fn negotiate(accept: Option<&str>, allow_v1: bool) -> Option<ResultFormat> {
    let Some(accept) = accept else {
        return Some(ResultFormat::Delimited);
    };
    if accept.trim().is_empty() {
        return Some(ResultFormat::Delimited);
    }
    for part in accept.split(',') {
        let media = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            DELIMITED | "*/*" | "application/*" => return Some(ResultFormat::Delimited),
            JSON => return Some(ResultFormat::JsonArray),
            KSQL_V1_JSON if allow_v1 => return Some(ResultFormat::KsqlV1Json),
            KSQL_V1_PROTOBUF if allow_v1 => return Some(ResultFormat::KsqlV1Protobuf),
            _ => {}
        }
    }
    None
}

/// How the old `/query` endpoint answers (ksqldb-api.md §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OldQueryFormat {
    /// The StreamedRow array, labelled with the requested type (`application/json` or
    /// `application/vnd.ksql.v1+json`). HTTP/1.1 only.
    StreamedRows { content_type: &'static str },
    /// `application/vnd.ksqlapi.delimited.v1`: served as `/query-stream` would.
    Delimited,
    /// `application/vnd.ksql.v1+protobuf`: ksqlDB serves it with `/query-stream`'s writer
    /// (on HTTP/1.1 and HTTP/2 alike), so it is served as `/query-stream` would.
    Protobuf,
}

/// `Accept` on `/query`. A missing Accept or `*/*` gets the StreamedRow array, which is
/// what the endpoint has always answered to plain clients. `None` means 406.
pub fn negotiate_old_query(accept: Option<&str>) -> Option<OldQueryFormat> {
    let rows = |content_type| Some(OldQueryFormat::StreamedRows { content_type });
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return rows(KSQL_V1_JSON);
    };
    for part in accept.split(',') {
        let media = part
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            KSQL_V1_JSON | "*/*" | "application/*" => return rows(KSQL_V1_JSON),
            JSON => return rows(JSON),
            DELIMITED => return Some(OldQueryFormat::Delimited),
            KSQL_V1_PROTOBUF => return Some(OldQueryFormat::Protobuf),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        assert_eq!(negotiate(None, true), Some(ResultFormat::Delimited));
        assert_eq!(negotiate(Some("*/*"), true), Some(ResultFormat::Delimited));
        assert_eq!(
            negotiate(Some("application/json"), true),
            Some(ResultFormat::JsonArray)
        );
        assert_eq!(
            negotiate(Some("application/vnd.ksql.v1+json; q=0.9"), true),
            Some(ResultFormat::KsqlV1Json)
        );
        assert_eq!(negotiate(Some("application/vnd.ksql.v1+json"), false), None);
        assert_eq!(
            negotiate(Some("application/vnd.ksql.v1+protobuf"), true),
            Some(ResultFormat::KsqlV1Protobuf)
        );
        assert_eq!(negotiate(Some(KSQL_V1_PROTOBUF), false), None);
        assert_eq!(negotiate(Some("text/html"), true), None);
    }

    #[test]
    fn old_query_negotiation() {
        let rows = |content_type| Some(OldQueryFormat::StreamedRows { content_type });
        assert_eq!(negotiate_old_query(None), rows(KSQL_V1_JSON));
        assert_eq!(negotiate_old_query(Some("application/json")), rows(JSON));
        assert_eq!(
            negotiate_old_query(Some(DELIMITED)),
            Some(OldQueryFormat::Delimited)
        );
        assert_eq!(
            negotiate_old_query(Some(KSQL_V1_PROTOBUF)),
            Some(OldQueryFormat::Protobuf)
        );
        assert_eq!(negotiate_old_query(Some("text/html")), None);
    }
}
