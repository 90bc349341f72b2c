//! `PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]`: tail a topic's raw records.
//!
//! ```text
//!  cursor[p] ─► every INTERVAL-th record ─► caller (protocol::query::print_encoder) ─► until LIMIT
//! ```
//!
//! Unlike a query, PRINT decodes nothing: it hands out stored records as they are, and the
//! wire layer guesses their formats for display, as ksqlDB's `TopicStreamWriter` does. It is
//! not registered as a query (ksqlDB's SHOW QUERIES does not list PRINT either).

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{EngineError, Result};
use crate::log::{LogStore, PartitionCursor, PartitionId, StartPosition, StoredRecord, TopicLog};
use crate::query::transient::{EndReason, READ_BATCH_RECORDS_MAX};
use crate::sql::{self, ast::Statement};

/// A parsed PRINT statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrintPlan {
    pub topic: String,
    /// Earliest when `FROM BEGINNING`, else latest (ksqlDB's PRINT documentation).
    pub start: StartPosition,
    /// Print every `interval`-th record; at least 1.
    pub interval: u64,
    /// Stop after this many printed records.
    pub limit: Option<u64>,
    /// The statement text, for error bodies.
    pub sql: String,
}

/// Cheap test before parsing: does `sql` start with the PRINT keyword? Lets the query
/// endpoints parse a SELECT only once (in `plan_query`).
pub fn looks_like_print(sql: &str) -> bool {
    let head = sql.trim_start().as_bytes();
    head.len() > 5
        && head[..5].eq_ignore_ascii_case(b"PRINT")
        && matches!(head[5], b' ' | b'\t' | b'\r' | b'\n' | b'\'' | b'`' | b'"')
}

/// Parses `sql` as exactly one PRINT statement. `Ok(None)` when it is some other statement.
pub fn plan_print(
    sql_text: &str,
    session_variables: &HashMap<String, String>,
) -> Result<Option<PrintPlan>> {
    // PRINT names a topic and no type.
    let parsed = sql::parse_one(sql_text, session_variables, &sql::TypeRegistry::new())?;
    let Statement::Print {
        topic,
        from_beginning,
        interval,
        limit,
    } = parsed.statement
    else {
        return Ok(None);
    };
    let interval = interval.unwrap_or(1);
    if interval < 1 {
        // ksqlDB's TopicStreamWriter refuses the same way (its text says "greater than one").
        return Err(EngineError::statement(format!(
            "INTERVAL must be greater than one, but was: {interval}"
        )));
    }
    Ok(Some(PrintPlan {
        topic,
        start: if from_beginning {
            StartPosition::Earliest
        } else {
            StartPosition::Latest
        },
        interval,
        limit,
        sql: parsed.text,
    }))
}

/// A running PRINT: round-robin over the topic's partitions, so one busy partition cannot
/// starve the others, reading only as fast as the caller asks.
pub struct PrintStream {
    plan: PrintPlan,
    topic: Arc<dyn TopicLog>,
    cursors: Vec<Box<dyn PartitionCursor>>,
    next_cursor: usize,
    /// Records read so far (printed or skipped by INTERVAL).
    polled: u64,
    /// Records handed out so far (counted against LIMIT).
    printed: u64,
    scratch: Vec<StoredRecord>,
}

impl PrintStream {
    pub fn start(log: &dyn LogStore, plan: PrintPlan) -> Result<PrintStream> {
        let topic = log.topic(&plan.topic).ok_or_else(|| {
            // ksqlDB's wording when PRINT names a topic it cannot see.
            EngineError::statement(format!(
                "Could not find topic '{}', or the KSQL user does not have permissions to list \
                 the topic. Topic names are case-sensitive.",
                plan.topic
            ))
        })?;
        let cursors = (0..topic.partition_count())
            .map(|p| topic.cursor(PartitionId(p), plan.start))
            .collect::<Result<Vec<_>>>()?;
        Ok(PrintStream {
            plan,
            topic,
            cursors,
            next_cursor: 0,
            polled: 0,
            printed: 0,
            scratch: Vec::new(),
        })
    }

    pub fn plan(&self) -> &PrintPlan {
        &self.plan
    }

    /// Waits until at least one record is to be printed, then appends up to `max_records`
    /// of them to `out`. `Some(reason)` once PRINT has ended (records may still have been
    /// added). Cancel-safe: it only waits while `out` is untouched and no record is held.
    pub async fn next_records(
        &mut self,
        out: &mut Vec<StoredRecord>,
        max_records: usize,
    ) -> Result<Option<EndReason>> {
        let ready = self.topic.data_ready();
        loop {
            if self.limit_reached() {
                return Ok(Some(EndReason::LimitReached));
            }
            // Register before reading so an append between the read and the wait still
            // wakes us.
            let notified = ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let read = self.poll(out, max_records)?;
            if self.limit_reached() {
                return Ok(Some(EndReason::LimitReached));
            }
            if !out.is_empty() {
                return Ok(None);
            }
            if read > 0 {
                // Everything read was skipped by INTERVAL; more may be waiting.
                continue;
            }
            if self.topic.is_deleted() {
                return Ok(Some(EndReason::Completed));
            }
            // Like an idle query, an idle PRINT holds no read buffers while it waits.
            self.scratch = Vec::new();
            for cursor in &mut self.cursors {
                cursor.release_buffers();
            }
            notified.await;
        }
    }

    fn limit_reached(&self) -> bool {
        self.plan.limit.is_some_and(|l| self.printed >= l)
    }

    /// One pass over the partitions without waiting; returns how many records were read.
    fn poll(&mut self, out: &mut Vec<StoredRecord>, max_records: usize) -> Result<usize> {
        let mut read = 0;
        let partitions = self.cursors.len();
        for _ in 0..partitions {
            let i = self.next_cursor;
            self.next_cursor = (self.next_cursor + 1) % partitions;
            // Read no more than fits in `out` after INTERVAL skips (records past LIMIT may be
            // read, but PRINT ends there anyway).
            let interval = usize::try_from(self.plan.interval).unwrap_or(usize::MAX);
            let budget = max_records
                .saturating_sub(out.len())
                .saturating_mul(interval)
                .min(READ_BATCH_RECORDS_MAX);
            if budget == 0 {
                return Ok(read);
            }
            self.scratch.clear();
            match self.cursors[i].read(&mut self.scratch, budget) {
                Ok(n) => read += n,
                // A deleted topic ends PRINT (the caller sees `is_deleted`).
                Err(_) if self.topic.is_deleted() => return Ok(read),
                Err(e) => return Err(e),
            }
            let limit = self.plan.limit.unwrap_or(u64::MAX);
            for record in self.scratch.drain(..) {
                // `interval >= 1` (checked when planned), so the remainder always exists.
                let take = self.polled.checked_rem(self.plan.interval) == Some(0);
                self.polled += 1;
                if take {
                    self.printed += 1;
                    out.push(record);
                    if self.printed >= limit {
                        return Ok(read);
                    }
                }
            }
        }
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_print() {
        assert!(looks_like_print("  print 'x';"));
        assert!(looks_like_print("PRINT x FROM BEGINNING;"));
        assert!(!looks_like_print("PRINTX;"));
        assert!(!looks_like_print("SELECT * FROM s;"));
        let plan = plan_print(
            "PRINT 'my-topic' FROM BEGINNING INTERVAL 2 LIMIT 3;",
            &HashMap::new(),
        )
        .expect("parses")
        .expect("a PRINT");
        assert_eq!(plan.topic, "my-topic");
        assert_eq!(plan.start, StartPosition::Earliest);
        assert_eq!((plan.interval, plan.limit), (2, Some(3)));
        assert!(plan_print("SELECT * FROM s;", &HashMap::new())
            .expect("parses")
            .is_none());
        assert!(plan_print("PRINT x INTERVAL 0;", &HashMap::new()).is_err());
    }
}
