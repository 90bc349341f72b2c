//! The Nexmark event generator, written from the behaviour of the reference generators
//! (Beam's `NexmarkGenerator` and the Flink-based nexmark project's port of it).
//!
//! Every event is a pure function of `(config, event number)`: the reference reseeds its
//! random source from the event id for each event, and so does this generator (from the
//! seed and the event id). The three streams' producers therefore generate their own events
//! independently and still agree with each other and with the test's reference computation.
//!
//! What follows the reference:
//! - the mix: in every 50 events, event 0 is a person, 1–3 are auctions and 4–49 are bids;
//! - id spaces: person and auction ids start at 1000 and are derived from the event number
//!   (`last_base0_person_id`, `last_base0_auction_id`), so ids are dense and increasing;
//! - references to recent people and auctions (`next_base0_person_id`: one of the last 1000
//!   people or up to 10 not yet created; `next_base0_auction_id`: one of the last 100
//!   auctions or up to 10 ahead), and the hot ratios (half of the bids go to a hot auction,
//!   3 in 4 to a hot bidder, 3 in 4 auctions to a hot seller);
//! - `next_price`: `round(10^(6u) * 100)` cents for a uniform `u`, a log-uniform price;
//! - the auction length: up to twice the event-time span in which 100 auctions start;
//! - event time: event `n` happens at `base_time_ms + n * (1e6 / rate) µs`;
//! - strings: lower-case words with about one space in 13 characters, and an `extra`
//!   column padding people, auctions and bids to about 200, 500 and 100 bytes.
//!
//! What differs: the random source (splitmix64 instead of `java.util.Random`, so the same
//! seed does not give Java's exact values), and the bid's URL, drawn per bid rather than
//! from the reference's cached table of channel URLs (same shape: three directories, a
//! `channel_id` parameter on most non-hot channels).

/// Events per cycle of the mix, and each kind's share of it (the reference's proportions).
pub const PROPORTION_DENOMINATOR: u64 = 50;
pub const PERSON_PROPORTION: u64 = 1;
pub const AUCTION_PROPORTION: u64 = 3;
pub const BID_PROPORTION: u64 = 46;

/// The first person and auction ids, and the first category (the reference's constants).
pub const FIRST_PERSON_ID: u64 = 1000;
pub const FIRST_AUCTION_ID: u64 = 1000;
pub const FIRST_CATEGORY_ID: u64 = 10;
/// Categories: few, so the category queries find results on small runs.
pub const CATEGORIES: u64 = 5;

/// People a bid or an auction may refer to (the most recent ones), and how far past the last
/// person created a reference may look (a bid by someone not yet seen).
const ACTIVE_PEOPLE: u64 = 1000;
const PERSON_ID_LEAD: u64 = 10;
/// Auctions a bid may refer to (the most recent ones), and the same look-ahead.
const IN_FLIGHT_AUCTIONS: u64 = 100;
const AUCTION_ID_LEAD: u64 = 10;

/// Hot auctions, bidders and sellers: ids rounded down to a multiple of 100 (the
/// reference's `HOT_*_RATIO`), chosen for all but 1 in `HOT_*S_RATIO` events.
const HOT_GROUP: u64 = 100;
const HOT_AUCTIONS_RATIO: u64 = 2;
const HOT_BIDDERS_RATIO: u64 = 4;
const HOT_SELLERS_RATIO: u64 = 4;

/// Average sizes the `extra` column pads events to, in bytes.
const PERSON_BYTES_AVG: usize = 200;
const AUCTION_BYTES_AVG: usize = 500;
const BID_BYTES_AVG: usize = 100;

/// The reference's channels: four hot ones get half the bids, the rest spread over 10,000.
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
const CHANNELS: u64 = 10_000;

const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];

/// What a run's events depend on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorConfig {
    /// Seeds every event's random source (mixed with the event id).
    pub seed: u64,
    /// Events per second of event time: event `n` is `n / rate` seconds after the base.
    pub events_per_s: f64,
    /// Event time of event 0, ms since the Unix epoch.
    pub base_time_ms: i64,
}

impl GeneratorConfig {
    /// µs of event time between consecutive events.
    pub fn inter_event_delay_us(&self) -> f64 {
        1e6 / self.events_per_s
    }

    /// Event time of event `n`, ms since the Unix epoch.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
    pub fn timestamp_ms(&self, n: u64) -> i64 {
        self.base_time_ms + (n as f64 * self.inter_event_delay_us()) as i64 / 1000
    }
}

/// The three kinds of event, one stream each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Person,
    Auction,
    Bid,
}

impl EventKind {
    pub const ALL: [EventKind; 3] = [EventKind::Person, EventKind::Auction, EventKind::Bid];

    /// Which kind event `n` is.
    pub fn of(n: u64) -> EventKind {
        let rem = n % PROPORTION_DENOMINATOR;
        if rem < PERSON_PROPORTION {
            EventKind::Person
        } else if rem < PERSON_PROPORTION + AUCTION_PROPORTION {
            EventKind::Auction
        } else {
            EventKind::Bid
        }
    }

    /// Events of this kind in each cycle of 50.
    pub fn proportion(self) -> u64 {
        match self {
            EventKind::Person => PERSON_PROPORTION,
            EventKind::Auction => AUCTION_PROPORTION,
            EventKind::Bid => BID_PROPORTION,
        }
    }

    /// The event number of the `k`-th event of this kind (k from 0).
    pub fn event_number(self, k: u64) -> u64 {
        let first = match self {
            EventKind::Person => 0,
            EventKind::Auction => PERSON_PROPORTION,
            EventKind::Bid => PERSON_PROPORTION + AUCTION_PROPORTION,
        };
        let p = self.proportion();
        (k / p) * PROPORTION_DENOMINATOR + first + k % p
    }

    /// How many of the events `0..events` are of this kind.
    pub fn count_in(self, events: u64) -> u64 {
        let full = events / PROPORTION_DENOMINATOR * self.proportion();
        let rest = events % PROPORTION_DENOMINATOR;
        let partial = (0..rest).filter(|r| EventKind::of(*r) == self).count() as u64;
        full + partial
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: u64,
    pub name: String,
    pub email_address: String,
    pub credit_card: String,
    pub city: String,
    pub state: String,
    pub date_time: i64,
    pub extra: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auction {
    pub id: u64,
    pub item_name: String,
    pub description: String,
    pub initial_bid: u64,
    pub reserve: u64,
    pub date_time: i64,
    pub expires: i64,
    pub seller: u64,
    pub category: u64,
    pub extra: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bid {
    pub auction: u64,
    pub bidder: u64,
    pub price: u64,
    pub channel: String,
    pub url: String,
    pub date_time: i64,
    pub extra: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Person(Person),
    Auction(Auction),
    Bid(Bid),
}

impl Event {
    /// The row for the event's stream, as `/inserts-stream` takes it (upper-case column
    /// names, the key column included), without a newline.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        use std::io::Write as _;
        let result = match self {
            Event::Person(p) => write!(
                out,
                "{{\"ID\":{},\"NAME\":\"{}\",\"EMAILADDRESS\":\"{}\",\"CREDITCARD\":\"{}\",\
                 \"CITY\":\"{}\",\"STATE\":\"{}\",\"DATETIME\":{},\"EXTRA\":\"{}\"}}",
                p.id, p.name, p.email_address, p.credit_card, p.city, p.state, p.date_time, p.extra
            ),
            Event::Auction(a) => write!(
                out,
                "{{\"ID\":{},\"ITEMNAME\":\"{}\",\"DESCRIPTION\":\"{}\",\"INITIALBID\":{},\
                 \"RESERVE\":{},\"DATETIME\":{},\"EXPIRES\":{},\"SELLER\":{},\"CATEGORY\":{},\
                 \"EXTRA\":\"{}\"}}",
                a.id,
                a.item_name,
                a.description,
                a.initial_bid,
                a.reserve,
                a.date_time,
                a.expires,
                a.seller,
                a.category,
                a.extra
            ),
            Event::Bid(b) => write!(
                out,
                "{{\"AUCTION\":{},\"BIDDER\":{},\"PRICE\":{},\"CHANNEL\":\"{}\",\"URL\":\"{}\",\
                 \"DATETIME\":{},\"EXTRA\":\"{}\"}}",
                b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra
            ),
        };
        // Every string is built here from letters, digits, spaces and `@.-/:?=` (no quote
        // or backslash), so none needs JSON escaping.
        result.expect("writing to a Vec cannot fail");
    }
}

/// Event `n` of a run.
pub fn event(config: &GeneratorConfig, n: u64) -> Event {
    let mut rng = Rng::for_event(config.seed, n);
    let timestamp = config.timestamp_ms(n);
    match EventKind::of(n) {
        EventKind::Person => Event::Person(next_person(&mut rng, n, timestamp)),
        EventKind::Auction => Event::Auction(next_auction(config, &mut rng, n, timestamp)),
        EventKind::Bid => Event::Bid(next_bid(&mut rng, n, timestamp)),
    }
}

/// The last person created by event `n` (0-based, before adding `FIRST_PERSON_ID`).
pub fn last_base0_person_id(n: u64) -> u64 {
    let epoch = n / PROPORTION_DENOMINATOR;
    let offset = n % PROPORTION_DENOMINATOR;
    // An auction or a bid: the cycle's last person.
    let offset = if offset >= PERSON_PROPORTION {
        PERSON_PROPORTION - 1
    } else {
        offset
    };
    epoch * PERSON_PROPORTION + offset
}

/// The last auction created by event `n` (0-based). Before the first auction the reference
/// computes -1; bids only come after an epoch's auctions, so this clamps at 0.
pub fn last_base0_auction_id(n: u64) -> u64 {
    let epoch = n / PROPORTION_DENOMINATOR;
    let offset = n % PROPORTION_DENOMINATOR;
    if offset < PERSON_PROPORTION {
        // A person event: the previous cycle's last auction.
        (epoch * AUCTION_PROPORTION).saturating_sub(1)
    } else if offset >= PERSON_PROPORTION + AUCTION_PROPORTION {
        epoch * AUCTION_PROPORTION + AUCTION_PROPORTION - 1
    } else {
        epoch * AUCTION_PROPORTION + offset - PERSON_PROPORTION
    }
}

/// A person for a new bid or auction to refer to: one of the most recent, or a few ahead.
fn next_base0_person_id(rng: &mut Rng, n: u64) -> u64 {
    let people = last_base0_person_id(n) + 1;
    let active = people.min(ACTIVE_PEOPLE);
    people - active + rng.below(active + PERSON_ID_LEAD)
}

/// An auction for a new bid to refer to: one of the most recent, or a few ahead.
fn next_base0_auction_id(rng: &mut Rng, n: u64) -> u64 {
    let max = last_base0_auction_id(n);
    let min = max.saturating_sub(IN_FLIGHT_AUCTIONS);
    min + rng.below(max - min + 1 + AUCTION_ID_LEAD)
}

/// A log-uniform price in cents between 1 and 100,000,000 (the reference's `nextPrice`).
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]
pub fn next_price(rng: &mut Rng) -> u64 {
    (10f64.powf(rng.next_f64() * 6.0) * 100.0).round() as u64
}

fn next_person(rng: &mut Rng, n: u64, timestamp: i64) -> Person {
    let id = last_base0_person_id(n) + FIRST_PERSON_ID;
    let name = format!(
        "{} {}",
        FIRST_NAMES[rng.index(FIRST_NAMES.len())],
        LAST_NAMES[rng.index(LAST_NAMES.len())]
    );
    let email_address = format!("{}@{}.com", rng.string(7), rng.string(5));
    let credit_card = (0..4)
        .map(|_| format!("{:04}", rng.below(10_000)))
        .collect::<Vec<_>>()
        .join(" ");
    let city = US_CITIES[rng.index(US_CITIES.len())].to_string();
    let state = US_STATES[rng.index(US_STATES.len())].to_string();
    let size = 8 + name.len() + email_address.len() + credit_card.len() + city.len() + state.len();
    let extra = rng.extra(size, PERSON_BYTES_AVG);
    Person {
        id,
        name,
        email_address,
        credit_card,
        city,
        state,
        date_time: timestamp,
        extra,
    }
}

fn next_auction(config: &GeneratorConfig, rng: &mut Rng, n: u64, timestamp: i64) -> Auction {
    let id = last_base0_auction_id(n) + FIRST_AUCTION_ID;
    let seller = if rng.below(HOT_SELLERS_RATIO) > 0 {
        (last_base0_person_id(n) / HOT_GROUP) * HOT_GROUP
    } else {
        next_base0_person_id(rng, n)
    } + FIRST_PERSON_ID;
    let category = FIRST_CATEGORY_ID + rng.below(CATEGORIES);
    let initial_bid = next_price(rng);
    let expires = timestamp + next_auction_length_ms(config, rng, n, timestamp);
    let item_name = rng.string(20);
    let description = rng.string(100);
    let reserve = initial_bid + next_price(rng);
    let size = 8 * 6 + item_name.len() + description.len();
    let extra = rng.extra(size, AUCTION_BYTES_AVG);
    Auction {
        id,
        item_name,
        description,
        initial_bid,
        reserve,
        date_time: timestamp,
        expires,
        seller,
        category,
        extra,
    }
}

/// An auction lasts up to twice the event time in which `IN_FLIGHT_AUCTIONS` auctions start,
/// so about that many are open at once (the reference's `nextAuctionLengthMs`).
fn next_auction_length_ms(config: &GeneratorConfig, rng: &mut Rng, n: u64, timestamp: i64) -> i64 {
    let events_for_auctions = IN_FLIGHT_AUCTIONS * PROPORTION_DENOMINATOR / AUCTION_PROPORTION;
    let future = config.timestamp_ms(n + events_for_auctions);
    let horizon_ms = u64::try_from(future - timestamp).unwrap_or(0);
    1 + i64::try_from(rng.below((horizon_ms * 2).max(1))).expect("a horizon fits an i64")
}

fn next_bid(rng: &mut Rng, n: u64, timestamp: i64) -> Bid {
    let auction = if rng.below(HOT_AUCTIONS_RATIO) > 0 {
        (last_base0_auction_id(n) / HOT_GROUP) * HOT_GROUP
    } else {
        next_base0_auction_id(rng, n)
    } + FIRST_AUCTION_ID;
    let bidder = if rng.below(HOT_BIDDERS_RATIO) > 0 {
        (last_base0_person_id(n) / HOT_GROUP) * HOT_GROUP + 1
    } else {
        next_base0_person_id(rng, n)
    } + FIRST_PERSON_ID;
    let price = next_price(rng);
    // The reference's channels and URLs: a hot channel (half the bids) has a plain URL
    // three directories deep; another channel's URL carries its id, except 1 in 10.
    let dirs = format!(
        "https://www.nexmark.com/{}/{}/{}/item.htm?query=1",
        rng.word(5),
        rng.word(5),
        rng.word(5)
    );
    let (channel, url) = if rng.below(2) > 0 {
        (
            HOT_CHANNELS[rng.index(HOT_CHANNELS.len())].to_string(),
            dirs,
        )
    } else {
        let c = rng.below(CHANNELS);
        let url = if rng.below(10) > 0 {
            format!("{dirs}&channel_id={c}")
        } else {
            dirs
        };
        (format!("channel-{c}"), url)
    };
    let extra = rng.extra(32 + channel.len() + url.len(), BID_BYTES_AVG);
    Bid {
        auction,
        bidder,
        price,
        channel,
        url,
        date_time: timestamp,
        extra,
    }
}

/// splitmix64: small, fast, and a pure function of its seed, so event `n`'s values depend
/// only on `(seed, n)`.
#[derive(Debug, Clone)]
pub struct Rng {
    state: u64,
}

impl Rng {
    fn for_event(seed: u64, n: u64) -> Rng {
        let mut rng = Rng {
            state: seed ^ n.wrapping_mul(0xA076_1D64_78BD_642F),
        };
        rng.next_u64();
        rng
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    #[allow(clippy::cast_precision_loss)]
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `0..n` (`n > 0`), by Lemire's multiply-shift (bias below 2^-32 here).
    #[allow(clippy::cast_possible_truncation)]
    fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0, "below(0) has no values");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).expect("an index fits a usize")
    }

    /// 3 to `max_len - 1` characters, lower-case letters with about one space in 13, trimmed
    /// (the reference's `nextString`).
    fn string(&mut self, max_len: u64) -> String {
        let len = 3 + self.below(max_len - 3);
        let s = self.exact_string(len);
        s.trim().to_string()
    }

    /// `len` lower-case letters (URL path segments).
    fn word(&mut self, len: u64) -> String {
        (0..len)
            .map(|_| char::from(b'a' + u8::try_from(self.below(26)).expect("below 26")))
            .collect()
    }

    fn exact_string(&mut self, len: u64) -> String {
        (0..len)
            .map(|_| {
                if self.below(13) == 0 {
                    ' '
                } else {
                    char::from(b'a' + u8::try_from(self.below(26)).expect("below 26"))
                }
            })
            .collect()
    }

    /// Padding that brings an event of `size` bytes to about `average` bytes, ±20 %
    /// (the reference's `nextExtra`).
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    fn extra(&mut self, size: usize, average: usize) -> String {
        if size > average {
            return String::new();
        }
        let desired = (average - size) as u64;
        let delta = (desired as f64 * 0.2).round() as u64;
        let min = desired - delta;
        let len = min + if delta > 0 { self.below(2 * delta) } else { 0 };
        self.exact_string(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GeneratorConfig {
        GeneratorConfig {
            seed: 7,
            events_per_s: 10_000.0,
            base_time_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn the_mix_is_1_person_3_auctions_46_bids() {
        let mut counts = [0u64; 3];
        for n in 0..5_000 {
            counts[EventKind::ALL
                .iter()
                .position(|k| *k == EventKind::of(n))
                .expect("a kind")] += 1;
        }
        assert_eq!(counts, [100, 300, 4_600]);
        for kind in EventKind::ALL {
            assert_eq!(kind.count_in(5_000), counts[kind as usize]);
            assert_eq!(
                kind.count_in(7),
                (0..7).filter(|n| EventKind::of(*n) == kind).count() as u64
            );
            // The k-th event of a kind is the k-th in event order.
            let numbers: Vec<u64> = (0..500).filter(|n| EventKind::of(*n) == kind).collect();
            for (k, n) in numbers.iter().enumerate() {
                assert_eq!(kind.event_number(k as u64), *n);
            }
        }
    }

    #[test]
    fn ids_are_dense_and_start_at_1000() {
        let c = config();
        let mut person_ids = Vec::new();
        let mut auction_ids = Vec::new();
        for n in 0..1_000 {
            match event(&c, n) {
                Event::Person(p) => person_ids.push(p.id),
                Event::Auction(a) => auction_ids.push(a.id),
                Event::Bid(b) => {
                    // A bid refers to an auction at most 10 ahead of the last one created.
                    assert!(b.auction <= last_base0_auction_id(n) + FIRST_AUCTION_ID + 10);
                    assert!(b.bidder >= FIRST_PERSON_ID);
                }
            }
        }
        assert_eq!(person_ids, (1000..1020).collect::<Vec<_>>());
        assert_eq!(auction_ids, (1000..1060).collect::<Vec<_>>());
    }

    #[test]
    fn events_are_deterministic_and_seeded() {
        let c = config();
        assert_eq!(event(&c, 123), event(&c, 123));
        let other = GeneratorConfig { seed: 8, ..c };
        assert_ne!(event(&c, 123), event(&other, 123));
    }

    #[test]
    fn event_time_follows_the_rate() {
        let c = config();
        assert_eq!(c.timestamp_ms(0), c.base_time_ms);
        assert_eq!(c.timestamp_ms(10_000), c.base_time_ms + 1_000);
        assert_eq!(c.timestamp_ms(15), c.base_time_ms + 1);
    }

    #[test]
    fn prices_are_log_uniform_and_bids_about_100_bytes() {
        let c = config();
        let mut rng = Rng::for_event(1, 1);
        let prices: Vec<u64> = (0..10_000).map(|_| next_price(&mut rng)).collect();
        assert!(prices.iter().all(|p| (100..=100_000_000).contains(p)));
        // Log-uniform over 6 decades: about a sixth below 10^3 cents.
        let low = prices.iter().filter(|p| **p < 1_000).count();
        assert!((1_400..2_000).contains(&low), "{low}");
        let mut bytes = 0;
        let mut bids = 0;
        let mut hot = 0;
        for n in (0..5_000).filter(|n| EventKind::of(*n) == EventKind::Bid) {
            let e = event(&c, n);
            let mut row = Vec::new();
            e.write_json(&mut row);
            let _: serde_json::Value = serde_json::from_slice(&row).expect("valid JSON");
            bytes += row.len();
            bids += 1;
            if let Event::Bid(b) = e {
                hot += usize::from((b.auction - FIRST_AUCTION_ID).is_multiple_of(HOT_GROUP));
            }
        }
        // Half the bids go to a hot auction (plus the few others whose id is a multiple).
        assert!(
            hot * 100 / bids >= 48 && hot * 100 / bids <= 56,
            "{hot}/{bids}"
        );
        assert!((150..300).contains(&(bytes / bids)), "{}", bytes / bids);
    }
}
