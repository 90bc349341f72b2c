//! One change feed per distinct live query, shared by every subscription to it.
//!
//! ```text
//!  subscribe ─► LiveHubs::join(key = table, columns, filter, owner)
//!                 ├ a hub runs for the key ─► its join queue
//!                 └ none ─► spawn a hub: Feed::open (push query, snapshot)
//!  hub task: join ─► (snapshot now, a receiver of the frames after it)
//!            feed ─► changes ─► each run of one kind encoded once (ChangeFrame)
//!                 ─► broadcast ring of LIVE_HUB_FRAMES_MAX frames ─► every subscriber
//!            no subscriber for HUB_IDLE_CHECK_MS ─► the hub leaves the registry and stops
//! ```
//!
//! Why a hub: with a push query, a key → row table and a JSON encoding per subscription,
//! 1,000 subscribers to one table cost 1,000 times one; now they cost one feed and a copy
//! of each frame with the subscription's id put in.
//!
//! A joiner's snapshot and its first change meet exactly: the hub answers joins between
//! two batches of its feed, taking the snapshot and subscribing to the ring at the same
//! point. The ring is bounded and a hub never waits for a subscriber: one that falls more
//! than [`LIVE_HUB_FRAMES_MAX`] frames behind (a client not reading) is told so with an
//! error frame and resubscribes from the last `_seq` it has, which KalamDB's SDK does. The
//! subscribers who keep up never wait for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sluice_protocol::kalamdb::envelope::SchemaField;
use sluice_protocol::kalamdb::live::{ChangeFrame, LiveSql, Row};
use tokio::sync::{broadcast, mpsc, oneshot};

use super::live_feed::{failure, Change, Failure, Feed};
use sluice_engine::Engine;

/// Change frames a subscriber may trail its hub by before it is dropped (each frame is a
/// run of up to 256 changes of one kind). The ring holds this many frames whoever reads.
pub const LIVE_HUB_FRAMES_MAX: usize = 1_024;

/// How often a hub looks whether anyone still follows it.
pub const HUB_IDLE_CHECK_MS: u64 = 1_000;

/// Joins queued at one hub (joiners wait for room).
const JOINS_QUEUED_MAX: usize = 256;

/// Times a join retries a hub that stopped as it arrived (then it starts one itself).
const JOIN_ATTEMPTS_MAX: usize = 3;

/// The running hubs, by live query.
#[derive(Debug, Default)]
pub struct LiveHubs {
    hubs: Mutex<HashMap<String, Hub>>,
    /// Numbers hubs so a stopping hub removes itself, not its successor.
    next_id: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Clone)]
struct Hub {
    id: u64,
    joins: mpsc::Sender<Join>,
}

type Join = oneshot::Sender<Result<Joined, Failure>>;

/// What a subscription gets from its hub.
pub(super) struct Joined {
    pub(super) schema: Vec<SchemaField>,
    /// The rows at the moment of joining, oldest `_seq` first.
    pub(super) snapshot: Vec<(i64, Row)>,
    /// Every change frame after the snapshot.
    pub(super) changes: broadcast::Receiver<Arc<ChangeFrame>>,
    /// Why the hub stopped, once it has.
    pub(super) stopped: Arc<Mutex<Option<Failure>>>,
}

impl LiveHubs {
    /// Joins the hub of this live query (over `owner`'s rows only, for a USER or STREAM
    /// table; a snapshot without the rows older than `ttl_ms`, for a STREAM table with a
    /// TTL), starting it if none runs.
    pub(super) async fn join(
        self: &Arc<Self>,
        engine: &Arc<Engine>,
        sql: &LiveSql,
        owner: Option<&str>,
        ttl_ms: Option<i64>,
    ) -> Result<Joined, Failure> {
        let key = format!(
            "{}\n{}\n{:?}\n{:?}\n{:?}\n{:?}",
            sql.namespace, sql.table, sql.projection, sql.filter, owner, ttl_ms
        );
        let followed = Followed {
            sql: sql.clone(),
            owner: owner.map(str::to_owned),
            ttl_ms,
        };
        for _ in 0..JOIN_ATTEMPTS_MAX {
            let hub = self.hub_for(&key, engine, &followed);
            let (reply, answer) = oneshot::channel();
            if hub.joins.send(reply).await.is_err() {
                self.forget(&key, hub.id);
                continue;
            }
            match answer.await {
                Ok(joined) => return joined,
                // The hub stopped with the join queued: start over.
                Err(_) => self.forget(&key, hub.id),
            }
        }
        Err(failure(
            sluice_protocol::kalamdb::live::code::SUBSCRIPTION_FAILED,
            "the live query's feed kept stopping; try again",
        ))
    }

    fn hub_for(self: &Arc<Self>, key: &str, engine: &Arc<Engine>, followed: &Followed) -> Hub {
        let mut hubs = self.hubs.lock().expect("hub registry lock");
        if let Some(hub) = hubs.get(key).filter(|h| !h.joins.is_closed()) {
            return hub.clone();
        }
        let (joins, queue) = mpsc::channel(JOINS_QUEUED_MAX);
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let hub = Hub { id, joins };
        hubs.insert(key.to_owned(), hub.clone());
        tokio::spawn(run(
            Arc::clone(self),
            Arc::clone(engine),
            key.to_owned(),
            id,
            followed.clone(),
            queue,
        ));
        hub
    }

    /// Takes hub `id` out of the registry (not a newer hub under the same key).
    fn forget(&self, key: &str, id: u64) {
        let mut hubs = self.hubs.lock().expect("hub registry lock");
        if hubs.get(key).is_some_and(|h| h.id == id) {
            hubs.remove(key);
        }
    }

    /// Leaves the registry if nobody follows the hub and nobody is joining; true if it left.
    fn retire(&self, key: &str, id: u64, followers: usize, joins: &mpsc::Receiver<Join>) -> bool {
        let mut hubs = self.hubs.lock().expect("hub registry lock");
        if followers > 0 || !joins.is_empty() {
            return false;
        }
        if hubs.get(key).is_some_and(|h| h.id == id) {
            hubs.remove(key);
        }
        true
    }

    /// Live queries with a running hub.
    pub fn running(&self) -> usize {
        self.hubs.lock().expect("hub registry lock").len()
    }
}

/// What a hub follows: the live query, whose rows, and how long rows stay visible.
#[derive(Clone)]
struct Followed {
    sql: LiveSql,
    owner: Option<String>,
    ttl_ms: Option<i64>,
}

/// A hub's task: opens the feed, then answers joins and fans its changes out until nobody
/// follows it or the feed ends.
async fn run(
    hubs: Arc<LiveHubs>,
    engine: Arc<Engine>,
    key: String,
    id: u64,
    followed: Followed,
    mut joins: mpsc::Receiver<Join>,
) {
    let Followed { sql, owner, ttl_ms } = followed;
    let mut feed = match Feed::open(&engine, &sql, owner.as_deref()).await {
        Ok(feed) => feed,
        Err(f) => {
            // Joins that arrive later start a new hub, which tries again.
            hubs.forget(&key, id);
            joins.close();
            while let Some(join) = joins.recv().await {
                let _ = join.send(Err(f.clone()));
            }
            return;
        }
    };
    let (frames, _) = broadcast::channel(LIVE_HUB_FRAMES_MAX);
    let stopped = Arc::new(Mutex::new(None));
    let mut idle = tokio::time::interval(Duration::from_millis(HUB_IDLE_CHECK_MS));
    idle.tick().await;
    let failure = loop {
        tokio::select! {
            Some(join) = joins.recv() => {
                let _ = join.send(Ok(Joined {
                    schema: feed.layout.schema.clone(),
                    snapshot: feed.snapshot(ttl_ms.map(|ttl| engine.now_ms().saturating_sub(ttl))),
                    changes: frames.subscribe(),
                    stopped: Arc::clone(&stopped),
                }));
            }
            changes = feed.next_changes() => match changes {
                Ok(changes) => publish(&frames, changes),
                Err(f) => break f,
            },
            _ = idle.tick() => {
                if hubs.retire(&key, id, frames.receiver_count(), &joins) {
                    return;
                }
            }
        }
    };
    hubs.forget(&key, id);
    *stopped.lock().expect("hub stop lock") = Some(failure.clone());
    // Followers read the frames still in the ring, then learn why it stopped.
    drop(frames);
    joins.close();
    while let Some(join) = joins.recv().await {
        let _ = join.send(Err(failure.clone()));
    }
}

/// Each run of one kind of change is one frame, encoded once for every follower.
fn publish(frames: &broadcast::Sender<Arc<ChangeFrame>>, changes: Vec<Change>) {
    let mut changes = changes.into_iter().peekable();
    while let Some(first) = changes.next() {
        let kind = first.kind;
        let (mut rows, mut old) = (Vec::new(), Vec::new());
        let mut take = |c: Change| {
            rows.extend(c.row);
            old.extend(c.old);
        };
        take(first);
        while let Some(c) = changes.next_if(|c| c.kind == kind) {
            take(c);
        }
        // No follower (between the last one leaving and the idle check) drops the frame.
        let _ = frames.send(Arc::new(ChangeFrame::new(kind, &rows, &old)));
    }
}
