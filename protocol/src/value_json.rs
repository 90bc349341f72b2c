//! SQL values rendered as JSON the way ksqlDB query results show them.
