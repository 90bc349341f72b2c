//! The Nexmark queries as ksqlDB persistent queries, each as close to the reference SQL
//! (the Flink-based nexmark project's `q*.sql`) as ksqlDB's dialect allows, and the three
//! source streams they read.
//!
//! The sources are three streams, `PERSON`, `AUCTION` and `BID`, with the reference's
//! columns; `DATETIME` (ms since the epoch) is each row's event time (`timestamp=`), so
//! windows and `WITHIN` follow the generator's event time rather than ingest time.
//!
//! Not expressible in ksqlDB's SQL, so left out:
//! - q6: per-seller averages of each seller's last 10 closing prices need an `OVER (ROWS
//!   BETWEEN 10 PRECEDING …)` window, which ksqlDB has not (q4's `AVG` over all closing
//!   prices is written as two tables);
//! - q5, q7: the hot item / highest bid compare each window's rows with the window's
//!   maximum, a join of an aggregate back with its input (ksqlDB joins no windowed tables
//!   to streams); only their first stage (counts per auction per hopping window, max price
//!   per tumbling window) can be written;
//! - q9, q18, q19: `ROW_NUMBER() OVER (PARTITION BY … ORDER BY …)` top-N; ksqlDB has no
//!   window functions;
//! - q10 writes files to a filesystem sink (no SQL sink of that kind in ksqlDB);
//! - q12 windows by processing time (`PROCTIME()`); ksqlDB windows by `ROWTIME` only.
//!
//! q13's bounded side input (a file in the reference) is the table `NEXMARK_SIDE_INPUT`,
//! [`SIDE_INPUT_ROWS`] rows `(key, value) = (v, 'v')` as RisingWave's q13 fills it, loaded
//! through `/inserts-stream` before the query starts; the reference's lookup `FOR
//! SYSTEM_TIME AS OF PROCTIME()` is a stream-table join.
//!
//! ksqlDB documents its `COUNT_DISTINCT` as approximate (a HyperLogLog);
//! Sluice's is exact for a group's first 512 distinct values and a HyperLogLog estimate
//! after that, so q15's and q16's reference checks use a run small enough to stay exact.

/// A Nexmark query as Sluice runs it.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    /// The reference's name (`q0`, `q1`, …).
    pub name: &'static str,
    /// What it computes, one line.
    pub about: &'static str,
    /// The stream or table it writes (created by `sql`).
    pub sink: &'static str,
    /// The persistent queries, in order (a CSAS, or a CSAS then a CTAS over it).
    pub sql: &'static str,
}

/// The queries Sluice runs, in the reference's order.
pub const QUERIES: &[Query] = &[
    Query {
        name: "q0",
        about: "passthrough: every bid, unchanged",
        sink: "NEXMARK_Q0",
        sql: "CREATE STREAM nexmark_q0 AS SELECT auction, bidder, price, dateTime, extra \
              FROM bid EMIT CHANGES;",
    },
    Query {
        name: "q1",
        about: "currency conversion: each bid's price in euros",
        sink: "NEXMARK_Q1",
        sql: "CREATE STREAM nexmark_q1 AS SELECT auction, bidder, 0.908 * price AS price, \
              dateTime, extra FROM bid EMIT CHANGES;",
    },
    Query {
        name: "q2",
        about: "selection: bids on auctions whose id is a multiple of 123",
        sink: "NEXMARK_Q2",
        // The reference's MOD(auction, 123) is `%` in ksqlDB.
        sql: "CREATE STREAM nexmark_q2 AS SELECT auction, price FROM bid \
              WHERE auction % 123 = 0 EMIT CHANGES;",
    },
    Query {
        name: "q3",
        about: "local item suggestion: sellers in OR, ID or CA of category-10 auctions",
        sink: "NEXMARK_Q3",
        // The reference is an unbounded regular join; a stream-stream join with a WITHIN
        // longer than any run gives the same pairs. ksqlDB requires the join key in the
        // projection, hence the extra SELLER column.
        sql: "CREATE STREAM nexmark_q3 AS SELECT P.id AS seller, P.name AS name, \
              P.city AS city, P.state AS state, A.id AS id \
              FROM auction A JOIN person P WITHIN 7 DAYS ON A.seller = P.id \
              WHERE A.category = 10 AND (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA') \
              EMIT CHANGES;",
    },
    Query {
        name: "q4",
        about: "average closing price per category: AVG over each auction's MAX bid",
        sink: "NEXMARK_Q4",
        // The reference's nested GROUP BY as two tables: the winning (maximum) bid of each
        // auction among the bids between its start and its expiry, then the average of those
        // per category (AVG over a table undoes an auction's old maximum when it rises). The
        // reference's unbounded join is a WITHIN longer than any run, as in q3.
        sql: "CREATE TABLE nexmark_q4_max WITH (key_format='JSON') AS \
              SELECT A.id AS id, A.category AS category, MAX(B.price) AS final \
              FROM auction A JOIN bid B WITHIN 7 DAYS ON A.id = B.auction \
              WHERE B.dateTime BETWEEN A.dateTime AND A.expires \
              GROUP BY A.id, A.category EMIT CHANGES; \
              CREATE TABLE nexmark_q4 AS SELECT category, AVG(final) AS avg_final \
              FROM nexmark_q4_max GROUP BY category EMIT CHANGES;",
    },
    Query {
        name: "q8",
        about: "monitor new users: people who opened an auction in the 10 s window they joined",
        sink: "NEXMARK_Q8",
        // The reference joins two aggregates over the same 10-second tumbling windows. Here:
        // a stream-stream join whose WHERE keeps the pairs in the same tumbling window (so
        // WITHIN 10 SECONDS holds every such pair), then a GROUP BY that leaves one row per
        // (person, window), as the reference's GROUP BY does; AUCTIONS counts the pairs. A key
        // of several columns needs a JSON key (ksqlDB's KAFKA key format holds one).
        sql: "CREATE STREAM nexmark_q8_pairs AS SELECT P.id AS id, P.name AS name, \
              (P.dateTime / 10000) * 10000 AS starttime \
              FROM person P JOIN auction A WITHIN 10 SECONDS ON P.id = A.seller \
              WHERE P.dateTime / 10000 = A.dateTime / 10000 EMIT CHANGES; \
              CREATE TABLE nexmark_q8 WITH (key_format='JSON') AS SELECT id, name, starttime, COUNT(*) AS auctions \
              FROM nexmark_q8_pairs GROUP BY id, name, starttime EMIT CHANGES;",
    },
    Query {
        name: "q11",
        about: "user sessions: bids per bidder per 10 s session window",
        sink: "NEXMARK_Q11",
        sql: "CREATE TABLE nexmark_q11 AS SELECT bidder, COUNT(*) AS bid_count \
              FROM bid WINDOW SESSION (10 SECONDS) GROUP BY bidder EMIT CHANGES;",
    },
    Query {
        name: "q13",
        about: "bounded side input join: each bid with the side input's value for auction % 10000",
        sink: "NEXMARK_Q13",
        // ksqlDB requires the join key in the projection: the side input's KEY, which the
        // ON clause makes equal to the reference's MOD(auction, 10000).
        sql: "CREATE STREAM nexmark_q13 AS SELECT S.`KEY` AS `KEY`, B.auction AS auction, \
              B.bidder AS bidder, B.price AS price, B.dateTime AS dateTime, \
              S.`VALUE` AS `VALUE` \
              FROM bid B JOIN nexmark_side_input S ON B.auction % 10000 = S.`KEY` \
              EMIT CHANGES;",
    },
    Query {
        name: "q14",
        about: "calculation: converted prices in a band, time-of-day class, 'c's in extra",
        sink: "NEXMARK_Q14",
        // HOUR(dateTime) is the UTC hour from TIMESTAMPTOSTRING; the reference's
        // count_char UDF is the length lost by removing the character.
        sql: "CREATE STREAM nexmark_q14 AS SELECT auction, bidder, 0.908 * price AS price, \
              CASE \
                WHEN CAST(TIMESTAMPTOSTRING(dateTime, 'HH', 'UTC') AS INT) >= 8 \
                 AND CAST(TIMESTAMPTOSTRING(dateTime, 'HH', 'UTC') AS INT) <= 18 THEN 'dayTime' \
                WHEN CAST(TIMESTAMPTOSTRING(dateTime, 'HH', 'UTC') AS INT) <= 6 \
                 OR CAST(TIMESTAMPTOSTRING(dateTime, 'HH', 'UTC') AS INT) >= 20 THEN 'nightTime' \
                ELSE 'otherTime' END AS bidTimeType, \
              dateTime, extra, LEN(extra) - LEN(REPLACE(extra, 'c', '')) AS c_counts \
              FROM bid WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000 \
              EMIT CHANGES;",
    },
    Query {
        name: "q15",
        about: "bidding statistics per day: bids, bidders and auctions by price rank",
        sink: "NEXMARK_Q15",
        // The reference's `count(DISTINCT x) FILTER (WHERE …)` is COUNT_DISTINCT of a CASE
        // that is NULL outside the filter (COUNT_DISTINCT skips NULLs); its day is the UTC
        // date, as in q17.
        sql: "CREATE TABLE nexmark_q15 AS SELECT \
              TIMESTAMPTOSTRING(dateTime, 'yyyy-MM-dd', 'UTC') AS day, \
              COUNT(*) AS total_bids, \
              SUM(CASE WHEN price < 10000 THEN 1 ELSE 0 END) AS rank1_bids, \
              SUM(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 ELSE 0 END) AS rank2_bids, \
              SUM(CASE WHEN price >= 1000000 THEN 1 ELSE 0 END) AS rank3_bids, \
              COUNT_DISTINCT(bidder) AS total_bidders, \
              COUNT_DISTINCT(CASE WHEN price < 10000 THEN bidder END) AS rank1_bidders, \
              COUNT_DISTINCT(CASE WHEN price >= 10000 AND price < 1000000 THEN bidder END) \
                AS rank2_bidders, \
              COUNT_DISTINCT(CASE WHEN price >= 1000000 THEN bidder END) AS rank3_bidders, \
              COUNT_DISTINCT(auction) AS total_auctions, \
              COUNT_DISTINCT(CASE WHEN price < 10000 THEN auction END) AS rank1_auctions, \
              COUNT_DISTINCT(CASE WHEN price >= 10000 AND price < 1000000 THEN auction END) \
                AS rank2_auctions, \
              COUNT_DISTINCT(CASE WHEN price >= 1000000 THEN auction END) AS rank3_auctions \
              FROM bid GROUP BY TIMESTAMPTOSTRING(dateTime, 'yyyy-MM-dd', 'UTC') EMIT CHANGES;",
    },
    Query {
        name: "q16",
        about: "channel statistics per day: q15's figures per channel, with the day's last minute",
        sink: "NEXMARK_Q16",
        // q15 grouped by channel too; the reference's max(DATE_FORMAT(dateTime, 'HH:mm')) is
        // the MAX of the UTC 'HH:mm' string (zero-padded, so string order is time order).
        sql: "CREATE TABLE nexmark_q16 WITH (key_format='JSON') AS SELECT channel, \
              TIMESTAMPTOSTRING(dateTime, 'yyyy-MM-dd', 'UTC') AS day, \
              MAX(TIMESTAMPTOSTRING(dateTime, 'HH:mm', 'UTC')) AS minute, \
              COUNT(*) AS total_bids, \
              SUM(CASE WHEN price < 10000 THEN 1 ELSE 0 END) AS rank1_bids, \
              SUM(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 ELSE 0 END) AS rank2_bids, \
              SUM(CASE WHEN price >= 1000000 THEN 1 ELSE 0 END) AS rank3_bids, \
              COUNT_DISTINCT(bidder) AS total_bidders, \
              COUNT_DISTINCT(CASE WHEN price < 10000 THEN bidder END) AS rank1_bidders, \
              COUNT_DISTINCT(CASE WHEN price >= 10000 AND price < 1000000 THEN bidder END) \
                AS rank2_bidders, \
              COUNT_DISTINCT(CASE WHEN price >= 1000000 THEN bidder END) AS rank3_bidders, \
              COUNT_DISTINCT(auction) AS total_auctions, \
              COUNT_DISTINCT(CASE WHEN price < 10000 THEN auction END) AS rank1_auctions, \
              COUNT_DISTINCT(CASE WHEN price >= 10000 AND price < 1000000 THEN auction END) \
                AS rank2_auctions, \
              COUNT_DISTINCT(CASE WHEN price >= 1000000 THEN auction END) AS rank3_auctions \
              FROM bid GROUP BY channel, TIMESTAMPTOSTRING(dateTime, 'yyyy-MM-dd', 'UTC') \
              EMIT CHANGES;",
    },
    Query {
        name: "q17",
        about: "auction statistics: bids per auction per day by price rank, min/max/avg/sum",
        sink: "NEXMARK_Q17",
        // The reference's `count(*) FILTER (WHERE …)` is a SUM of a CASE; its day is the UTC
        // date of the bid.
        sql: "CREATE TABLE nexmark_q17 WITH (key_format='JSON') AS SELECT auction, \
              TIMESTAMPTOSTRING(dateTime, 'yyyy-MM-dd', 'UTC') AS day, \
              COUNT(*) AS total_bids, \
              SUM(CASE WHEN price < 10000 THEN 1 ELSE 0 END) AS rank1_bids, \
              SUM(CASE WHEN price >= 10000 AND price < 1000000 THEN 1 ELSE 0 END) AS rank2_bids, \
              SUM(CASE WHEN price >= 1000000 THEN 1 ELSE 0 END) AS rank3_bids, \
              MIN(price) AS min_price, MAX(price) AS max_price, AVG(price) AS avg_price, \
              SUM(price) AS sum_price \
              FROM bid GROUP BY auction, TIMESTAMPTOSTRING(dateTime, 'yyyy-MM-dd', 'UTC') \
              EMIT CHANGES;",
    },
    Query {
        name: "q20",
        about: "expand bid with auction: bids on category-10 auctions with the auction's columns",
        sink: "NEXMARK_Q20",
        // An unbounded join in the reference, a WITHIN longer than any run here (as q3).
        // Both sides are keyed by the auction id, so the join reads them co-partitioned.
        sql: "CREATE STREAM nexmark_q20 AS SELECT B.auction AS auction, B.bidder AS bidder, \
              B.price AS price, B.channel AS channel, B.url AS url, \
              B.dateTime AS bid_datetime, B.extra AS bid_extra, A.itemName AS itemname, \
              A.description AS description, A.initialBid AS initialbid, \
              A.reserve AS reserve, A.dateTime AS auction_datetime, A.expires AS expires, \
              A.seller AS seller, A.category AS category, A.extra AS auction_extra \
              FROM bid B JOIN auction A WITHIN 7 DAYS ON B.auction = A.id \
              WHERE A.category = 10 EMIT CHANGES;",
    },
    Query {
        name: "q21",
        about: "add channel id: the known channels' ids, or the URL's channel_id",
        sink: "NEXMARK_Q21",
        sql: "CREATE STREAM nexmark_q21 AS SELECT auction, bidder, price, channel, \
              CASE WHEN LCASE(channel) = 'apple' THEN '0' \
                   WHEN LCASE(channel) = 'google' THEN '1' \
                   WHEN LCASE(channel) = 'facebook' THEN '2' \
                   WHEN LCASE(channel) = 'baidu' THEN '3' \
                   ELSE REGEXP_EXTRACT('(&|^)channel_id=([^&]*)', url, 2) END AS channel_id \
              FROM bid WHERE REGEXP_EXTRACT('(&|^)channel_id=([^&]*)', url, 2) IS NOT NULL \
              OR LCASE(channel) IN ('apple', 'google', 'facebook', 'baidu') EMIT CHANGES;",
    },
    Query {
        name: "q22",
        about: "get URL directories: the first three path segments of each bid's URL",
        sink: "NEXMARK_Q22",
        // The reference's SPLIT_INDEX(url, '/', 3) (0-based) is SPLIT(url, '/')[4].
        sql: "CREATE STREAM nexmark_q22 AS SELECT auction, bidder, price, channel, \
              SPLIT(url, '/')[4] AS dir1, SPLIT(url, '/')[5] AS dir2, \
              SPLIT(url, '/')[6] AS dir3 FROM bid EMIT CHANGES;",
    },
];

/// The query named `name` (`q0`, …), if Sluice runs it.
pub fn find(name: &str) -> Option<&'static Query> {
    QUERIES.iter().find(|q| q.name.eq_ignore_ascii_case(name))
}

/// Rows of q13's side input (the reference's side input file has one per MOD(auction,
/// 10000) value).
pub const SIDE_INPUT_ROWS: u64 = 10_000;

/// The table q13's side input is loaded into.
pub const SIDE_INPUT: &str = "NEXMARK_SIDE_INPUT";

/// The `/inserts-stream` body loading the side input: its target line, then one row per key.
pub fn side_input_body() -> String {
    let mut body = format!("{{\"target\":\"{SIDE_INPUT}\"}}\n");
    for v in 0..SIDE_INPUT_ROWS {
        body.push_str(&format!(
            "{{\"KEY\":{v},\"VALUE\":\"{v}\",\"DATETIME\":0}}\n"
        ));
    }
    body
}

/// The statements creating the three source streams with `partitions` partitions each,
/// and q13's side-input table (as many partitions: q13's join repartitions the bids by
/// `auction % 10000` into as many). The side input's rows are stamped with event time 0
/// (its `dateTime`): they hold from before any event, so a join that takes its inputs in
/// timestamp order sees the whole side input before the first bid, as the reference's
/// lookup of a preloaded file does.
pub fn create_sources_sql(partitions: u32) -> String {
    format!(
        "CREATE TABLE {SIDE_INPUT} (`KEY` BIGINT PRIMARY KEY, `VALUE` STRING, \
         dateTime BIGINT) WITH (kafka_topic='nexmark_side_input', value_format='JSON', \
         partitions={partitions}, timestamp='dateTime'); \
         CREATE STREAM person (id BIGINT KEY, name STRING, emailAddress STRING, \
         creditCard STRING, city STRING, state STRING, dateTime BIGINT, extra STRING) \
         WITH (kafka_topic='person', value_format='JSON', partitions={partitions}, \
         timestamp='dateTime'); \
         CREATE STREAM auction (id BIGINT KEY, itemName STRING, description STRING, \
         initialBid BIGINT, reserve BIGINT, dateTime BIGINT, expires BIGINT, seller BIGINT, \
         category BIGINT, extra STRING) \
         WITH (kafka_topic='auction', value_format='JSON', partitions={partitions}, \
         timestamp='dateTime'); \
         CREATE STREAM bid (auction BIGINT KEY, bidder BIGINT, price BIGINT, channel STRING, \
         url STRING, dateTime BIGINT, extra STRING) \
         WITH (kafka_topic='bid', value_format='JSON', partitions={partitions}, \
         timestamp='dateTime');"
    )
}

/// The stream each event kind goes to.
pub fn source_stream(kind: super::generator::EventKind) -> &'static str {
    match kind {
        super::generator::EventKind::Person => "PERSON",
        super::generator::EventKind::Auction => "AUCTION",
        super::generator::EventKind::Bid => "BID",
    }
}
