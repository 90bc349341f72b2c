//! Unit and property tests of the aggregate functions.

use super::*;
use proptest::prelude::*;

fn udaf(name: &str, types: &[SqlType], constants: &[Option<Value>]) -> Udaf {
    Udaf::resolve(name, types, constants, false, UdafConfig::default()).unwrap()
}

fn run(f: &Udaf, rows: &[Value]) -> Value {
    let mut acc = f.init();
    for r in rows {
        f.add(&mut acc, std::slice::from_ref(r)).unwrap();
    }
    f.result(&acc)
}

/// Merging two sessions' accumulators gives what one accumulator over both sessions'
/// rows gives (order-insensitive functions; "latest" prefers the later session).
#[test]
fn merge_equals_one_pass_over_both_sessions() {
    let int = |i: i32| Value::Integer(i);
    let d = |f: f64| Value::Double(f);
    let cases: Vec<(Udaf, Vec<Value>, Vec<Value>)> = vec![
        (udaf("COUNT", &[SqlType::Integer], &[None]), vec![int(1), Value::Null], vec![int(2)]),
        (udaf("SUM", &[SqlType::Integer], &[None]), vec![int(1), int(5)], vec![int(2)]),
        (udaf("AVG", &[SqlType::Double], &[None]), vec![d(1.0)], vec![d(2.0), d(6.0)]),
        (udaf("MAX", &[SqlType::Integer], &[None]), vec![int(7)], vec![int(3)]),
        (udaf("STDDEV_POP", &[SqlType::Double], &[None]), vec![d(1.0), d(4.0)], vec![d(9.0)]),
        (udaf("COLLECT_LIST", &[SqlType::Integer], &[None]), vec![int(1)], vec![int(2)]),
        (udaf("LATEST_BY_OFFSET", &[SqlType::Integer], &[None]), vec![int(1)], vec![int(2)]),
        (udaf("EARLIEST_BY_OFFSET", &[SqlType::Integer], &[None]), vec![int(1)], vec![int(2)]),
    ];
    for (f, older, newer) in cases {
        let fold = |rows: &[Value]| {
            let mut acc = f.init();
            for r in rows {
                f.add(&mut acc, std::slice::from_ref(r)).unwrap();
            }
            acc
        };
        let mut merged = f.init();
        f.merge(&mut merged, &fold(&older)).unwrap();
        f.merge(&mut merged, &fold(&newer)).unwrap();
        let all: Vec<Value> = older.iter().chain(&newer).cloned().collect();
        let want = f.result(&fold(&all));
        match (f.result(&merged), want) {
            (Value::Double(a), Value::Double(b)) => assert!((a - b).abs() < 1e-9, "{}", f.name()),
            (got, want) => assert_eq!(got, want, "{}", f.name()),
        }
    }
}

#[test]
fn results_follow_ksqldb() {
    let int = |i: i32| Value::Integer(i);
    let d = |f: f64| Value::Double(f);
    let count = udaf("count", &[SqlType::Integer], &[None]);
    assert_eq!(run(&count, &[int(1), Value::Null, int(2)]), Value::BigInt(2));
    let sum = udaf("SUM", &[SqlType::Integer], &[None]);
    assert_eq!(run(&sum, &[]), int(0));
    assert_eq!(run(&sum, &[int(i32::MAX), int(1)]), int(i32::MIN));
    let avg = udaf("AVG", &[SqlType::Double], &[None]);
    assert_eq!(run(&avg, &[d(-1.8), d(9223372036854.775)]), d(4_611_686_018_426.487));
    let var = udaf("STDDEV_SAMP", &[SqlType::Double], &[None]);
    assert_eq!(run(&var, &[d(10.0), d(12.0)]), d(2.0));
    let topk = udaf("TOPK", &[SqlType::Integer, SqlType::Integer], &[None, Some(int(3))]);
    assert_eq!(
        run(&topk, &[int(0), int(100), int(99), int(7), int(100)]),
        Value::Array(vec![int(100), int(100), int(99)])
    );
    let attr = udaf("ATTR", &[SqlType::String], &[None]);
    assert_eq!(run(&attr, &[Value::Null, Value::String("2".into())]), Value::Null);
    let earliest = udaf(
        "EARLIEST_BY_OFFSET",
        &[SqlType::Integer, SqlType::Boolean],
        &[None, Some(Value::Boolean(false))],
    );
    assert_eq!(run(&earliest, &[Value::Null, int(13)]), Value::Null);
    let latest2 = udaf(
        "LATEST_BY_OFFSET",
        &[SqlType::Integer, SqlType::Integer],
        &[None, Some(int(2))],
    );
    assert_eq!(
        run(&latest2, &[int(1), Value::Null, int(2), int(3)]),
        Value::Array(vec![int(2), int(3)])
    );
}

#[test]
fn wrong_arguments_are_statement_errors() {
    let err = Udaf::resolve("SUM", &[SqlType::String], &[None], false, UdafConfig::default())
        .unwrap_err();
    assert!(err.to_string().contains("SUM"), "{err}");
    let err = Udaf::resolve(
        "TOPK",
        &[SqlType::Integer, SqlType::Integer],
        &[None, None],
        false,
        UdafConfig::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("literal"), "{err}");
}

fn undoable() -> Vec<Udaf> {
    vec![
        udaf("COUNT", &[SqlType::BigInt], &[None]),
        udaf("SUM", &[SqlType::BigInt], &[None]),
        udaf("AVG", &[SqlType::BigInt], &[None]),
        udaf("COLLECT_LIST", &[SqlType::BigInt], &[None]),
        udaf("COLLECT_SET", &[SqlType::BigInt], &[None]),
        udaf("VAR_POP", &[SqlType::BigInt], &[None]),
        udaf("STDDEV_SAMPLE", &[SqlType::BigInt], &[None]),
        udaf("ATTR", &[SqlType::BigInt], &[None]),
    ]
}

fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Double(x), Value::Double(y)) => (x - y).abs() <= 1e-6 * (1.0 + x.abs()),
        _ => a == b,
    }
}

proptest! {
    /// Adding rows then undoing some leaves what adding only the rest gives (up to
    /// element order for the list functions, whose undo removes the first equal value).
    #[test]
    fn undo_cancels_add(
        kept in proptest::collection::vec(proptest::option::of(-1000i64..1000), 0..20),
        removed in proptest::collection::vec(proptest::option::of(-1000i64..1000), 0..20),
    ) {
        let val = |o: &Option<i64>| o.map_or(Value::Null, Value::BigInt);
        for f in undoable() {
            let removed_unique = removed
                .iter()
                .enumerate()
                .all(|(i, r)| !kept.contains(r) && !removed[..i].contains(r));
            if matches!(f.kind, Kind::CollectSet { .. }) && !removed_unique {
                // A set keeps one copy of a value: undoing it removes the value even if
                // another row still holds it (so does ksqlDB's COLLECT_SET).
                continue;
            }
            let mut acc = f.init();
            for r in removed.iter().chain(&kept) {
                f.add(&mut acc, &[val(r)]).unwrap();
            }
            for r in &removed {
                f.undo(&mut acc, &[val(r)]).unwrap();
            }
            let mut want = f.init();
            for r in &kept {
                f.add(&mut want, &[val(r)]).unwrap();
            }
            let (got, want) = (f.result(&acc), f.result(&want));
            let sorted = |v: Value| match v {
                Value::Array(mut xs) => {
                    xs.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
                    Value::Array(xs)
                }
                other => other,
            };
            let (got, want) = (sorted(got), sorted(want));
            prop_assert!(close(&got, &want), "{:?}: {:?} vs {:?}", f.kind, got, want);
        }
    }
}
