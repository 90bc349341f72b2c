//! `E = literal` probes: which predicates have one, and which bucket each row goes to.

use super::*;
use crate::expr::{Bucket, IndexKey};

fn probe(predicate: &str) -> Option<crate::expr::EqualityProbe> {
    let e = crate::sql::parse_expression(predicate).expect("parses");
    compiled(&e).equality_probe()
}

#[test]
fn equality_with_a_literal_alone_or_under_and_has_a_probe() {
    let p = probe("C % 100 = 7").expect("a probe");
    assert_eq!(p.key, IndexKey::Int(7));
    let q = probe("7 = C % 100").expect("either side");
    assert_eq!(q.expr_key, p.expr_key, "the same E, whichever side it is on");
    assert_eq!(probe("B = 'x' AND A > 1").expect("and").key, IndexKey::Str("x".into()));
    assert_eq!(probe("A > 1 AND B = 'x'").expect("and").key, IndexKey::Str("x".into()));
    assert_ne!(
        probe("C % 100 = 7").expect("p").expr_key,
        probe("C % 10 = 7").expect("q").expr_key,
        "different Es are different buckets"
    );
}

#[test]
fn shapes_a_bucket_could_miss_rows_of_have_no_probe() {
    for predicate in [
        "B = 'x' OR A > 1",   // a row outside the bucket may pass the other side
        "NOT (B = 'x')",      // negated
        "A <> 1",             // not equality
        "D = 1.5",            // no key for a DOUBLE literal
        "UCASE(B) = 'X'",     // only columns and arithmetic are bucketed
        "1 = 1",              // folded, or constant: nothing to bucket by
        "B IS NOT DISTINCT FROM 'x'",
    ] {
        assert!(probe(predicate).is_none(), "{predicate}");
    }
}

#[test]
fn rows_go_to_their_value_everyone_or_nobody() {
    let p = probe("C % 100 = 7").expect("a probe");
    let mut r = row();
    r[2] = Value::BigInt(1_207);
    assert_eq!(p.bucket(&r), Bucket::Key(IndexKey::Int(7)));
    r[2] = Value::Null;
    assert_eq!(p.bucket(&r), Bucket::Nobody, "NULL = 7 is never true");
    // An INT column and a BIGINT literal: integers of any width share keys.
    let a = probe("A = 3").expect("a probe");
    let mut r = row();
    r[0] = Value::Integer(3);
    assert_eq!(a.bucket(&r), Bucket::Key(a.key.clone()));
    // E whose value is no key (a DOUBLE may equal an integer literal): every filter decides.
    let d = probe("D * 2 = 3").expect("a probe");
    assert_eq!(d.bucket(&row()), Bucket::Everyone);
    // E that fails to evaluate: the filter decides (and logs), as without buckets.
    let z = probe("A / 0 = 1").expect("a probe");
    assert_eq!(z.bucket(&row()), Bucket::Everyone);
}
