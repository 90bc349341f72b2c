//! One live query of `/v1/ws`: the table's current rows in batches the client pulls, then
//! its changes as insert / update / delete, each with the row's `_seq`.
//!
//! ```text
//!  subscribe ─► may the principal read it? (system tables: dba; no SHARED tables)
//!    ─► live_hub: join the feed of this query (table, columns, filter, owner)
//!    ─► snapshot ─► ack + initial batches (one per `next_batch`)
//!    ─► the hub's change frames, each with this subscription's id ─► the bounded queue
//! ```
//!
//! The feed itself (push query, snapshot, key → row for old values) is `live_feed`; the
//! sharing of one feed by every subscription to the same query is `live_hub`.

use std::sync::{Arc, Mutex};

use sluice_protocol::kalamdb::dialect::{source_name, TableKind};
use sluice_protocol::kalamdb::envelope::SchemaField;
use sluice_protocol::kalamdb::live::{
    code, error, initial_data_batch, subscription_ack, BatchControl, BatchStatus, ChangeFrame,
    LiveSql, QuotedId, Row, SubscriptionOptions,
};
use sluice_protocol::kalamdb::wire::WireProtocol;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, mpsc};

use super::live_feed::{ended, failure, Failure};
use super::live_hub::{Joined, LIVE_HUB_FRAMES_MAX};
use crate::auth::Principal;
use crate::services::Services;

/// Largest `change` message a subscriber's waiting frames are merged into (a single frame
/// may be larger: it is sent whole).
pub const CHANGE_MESSAGE_BYTES_MAX: usize = 256 * 1024;

/// A frame for the connection's writer.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// A server message's JSON; the writer encodes it in the negotiated protocol.
    Text(String),
    /// From here on, frames use this protocol (sent right after `auth_success`, which is
    /// always JSON text).
    Protocol(WireProtocol),
    /// Close with a WebSocket close code (RFC 6455 §7.4.1) and a reason.
    Close(u16, String),
}

/// Client requests a running subscription acts on.
#[derive(Debug)]
pub(crate) enum Control {
    NextBatch,
}

/// A subscription as the client asked for it.
pub(crate) struct Subscription {
    pub id: String,
    pub sql: LiveSql,
    pub options: SubscriptionOptions,
    pub principal: Principal,
}

/// Runs a subscription until its client unsubscribes (the task is aborted), the
/// connection's queue closes, or it fails (an `error` frame is its last word).
pub(crate) async fn run(
    services: Arc<Services>,
    sub: Subscription,
    out: mpsc::Sender<Outbound>,
    control: mpsc::Receiver<Control>,
) {
    if let Err(f) = serve(&services, &sub, &out, control).await {
        let _ = out
            .send(Outbound::Text(error(&sub.id, f.code, &f.message)))
            .await;
    }
}

async fn serve(
    services: &Arc<Services>,
    sub: &Subscription,
    out: &mpsc::Sender<Outbound>,
    mut control: mpsc::Receiver<Control>,
) -> Result<(), Failure> {
    let sql = &sub.sql;
    if sql.namespace == "system"
        && services.auth.is_enabled()
        && !(sub.principal.has_role("dba") || sub.principal.has_role("system"))
    {
        return Err(failure(
            code::UNAUTHORIZED,
            "system tables need the dba role",
        ));
    }
    let name = source_name(&sql.namespace, &sql.table);
    // KalamDB serves live queries on USER and STREAM tables; each sees its subscriber's
    // rows only.
    let kind = services.kalamdb.table_kind(&name);
    if kind == Some(TableKind::Shared) {
        return Err(failure(
            code::UNSUPPORTED,
            format!("'{name}' is a SHARED table: live queries subscribe to USER and STREAM tables"),
        ));
    }
    let owner = kind
        .is_some_and(TableKind::is_per_user)
        .then(|| sub.principal.name());
    let Joined {
        schema,
        snapshot,
        mut changes,
        stopped,
    } = services
        .kalamdb_live
        .join(&services.engine, sql, owner, services.kalamdb.ttl_ms(&name))
        .await?;
    let rows = initial_rows(snapshot, &sub.options);
    send_initial(sub, &schema, rows, out, &mut control).await?;
    follow(sub, &mut changes, &stopped, out, &mut control).await
}

/// Sends the hub's change frames, each run of one kind waiting in the ring merged into one
/// message (up to [`CHANGE_MESSAGE_BYTES_MAX`]): a subscriber that fell behind catches up
/// in fewer frames.
async fn follow(
    sub: &Subscription,
    changes: &mut broadcast::Receiver<Arc<ChangeFrame>>,
    stopped: &Mutex<Option<Failure>>,
    out: &mpsc::Sender<Outbound>,
    control: &mut mpsc::Receiver<Control>,
) -> Result<(), Failure> {
    let lagged = || {
        failure(
            code::SUBSCRIPTION_FAILED,
            format!(
                "the subscription fell more than {LIVE_HUB_FRAMES_MAX} change frames behind its \
                 table; subscribe again from the last _seq received"
            ),
        )
    };
    let id = QuotedId::new(&sub.id);
    let mut next: Option<Arc<ChangeFrame>> = None;
    loop {
        let first = match next.take() {
            Some(frame) => frame,
            None => {
                let received = tokio::select! {
                    frame = changes.recv() => frame,
                    // A `next_batch` after `ready` has nothing to send; a closed channel
                    // means the connection is gone.
                    msg = control.recv() => match msg {
                        Some(Control::NextBatch) => continue,
                        None => return Ok(()),
                    },
                };
                match received {
                    Ok(frame) => frame,
                    Err(RecvError::Lagged(_)) => return Err(lagged()),
                    Err(RecvError::Closed) => {
                        let why = stopped.lock().expect("hub stop lock").clone();
                        return Err(why.unwrap_or_else(ended));
                    }
                }
            }
        };
        let mut bytes = first.bytes();
        let mut run = vec![first];
        while bytes < CHANGE_MESSAGE_BYTES_MAX {
            match changes.try_recv() {
                Ok(frame) if frame.kind() == run[0].kind() => {
                    bytes += frame.bytes();
                    run.push(frame);
                }
                Ok(frame) => {
                    next = Some(frame);
                    break;
                }
                Err(TryRecvError::Lagged(_)) => return Err(lagged()),
                // Closed is seen by the next `recv`, after this run is sent.
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        send(out, ChangeFrame::merged(&id, &run)).await?;
    }
}

/// The rows of the initial load: after `from`, else the newest `last_rows`, else all.
fn initial_rows(mut rows: Vec<(i64, Row)>, options: &SubscriptionOptions) -> Vec<(i64, Row)> {
    if let Some(from) = options.from {
        rows.retain(|(seq, _)| *seq > from);
    } else if let Some(n) = options.last_rows {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        rows.drain(..rows.len().saturating_sub(n));
    }
    rows
}

/// The ack, then one batch now and one per `next_batch` until the last (`ready`).
async fn send_initial(
    sub: &Subscription,
    schema: &[SchemaField],
    rows: Vec<(i64, Row)>,
    out: &mpsc::Sender<Outbound>,
    control: &mut mpsc::Receiver<Control>,
) -> Result<(), Failure> {
    let per_batch = sub.options.batch_rows();
    let batches: Vec<&[(i64, Row)]> = if rows.is_empty() {
        vec![&[]]
    } else {
        rows.chunks(per_batch).collect()
    };
    let ack = BatchControl {
        batch_num: 0,
        has_more: batches.len() > 1,
        status: BatchStatus::Loading,
        last_seq_id: None,
    };
    send(out, subscription_ack(&sub.id, rows.len(), &ack, schema)).await?;
    for (i, batch) in batches.iter().enumerate() {
        if i > 0 && control.recv().await.is_none() {
            return Err(gone());
        }
        let has_more = i + 1 < batches.len();
        let control = BatchControl {
            batch_num: u32::try_from(i).unwrap_or(u32::MAX),
            has_more,
            status: match (has_more, i) {
                (false, _) => BatchStatus::Ready,
                (true, 0) => BatchStatus::Loading,
                (true, _) => BatchStatus::LoadingBatch,
            },
            last_seq_id: batch.last().map(|(seq, _)| *seq),
        };
        let rows: Vec<Row> = batch.iter().map(|(_, r)| r.clone()).collect();
        send(out, initial_data_batch(&sub.id, &rows, &control)).await?;
    }
    Ok(())
}

/// Queues a frame, waiting while the client is slow: the connection's queue is bounded
/// (meanwhile the subscription's hub goes on, and the subscription reads its frames later,
/// up to the hub's ring).
async fn send(out: &mpsc::Sender<Outbound>, text: String) -> Result<(), Failure> {
    out.send(Outbound::Text(text)).await.map_err(|_| gone())
}

fn gone() -> Failure {
    failure(code::SUBSCRIPTION_FAILED, "the connection is gone")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_rows_follow_from_then_last_rows() {
        let rows: Vec<(i64, Row)> = (1..=5).map(|s| (s, Row::new())).collect();
        let seqs = |o: SubscriptionOptions| -> Vec<i64> {
            initial_rows(rows.clone(), &o)
                .iter()
                .map(|(s, _)| *s)
                .collect()
        };
        let from = SubscriptionOptions {
            from: Some(3),
            last_rows: Some(1),
            ..SubscriptionOptions::default()
        };
        assert_eq!(seqs(from), [4, 5], "from wins over last_rows");
        let last = SubscriptionOptions {
            last_rows: Some(2),
            ..SubscriptionOptions::default()
        };
        assert_eq!(seqs(last), [4, 5]);
        assert_eq!(seqs(SubscriptionOptions::default()).len(), 5);
    }
}
