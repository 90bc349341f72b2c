// Expected: the SQL lexer and parser run at ≥ 50 MiB/s on every input shape, and the
// rate does not fall as the input grows: each size below is 4× the one before, so a
// quadratic spot would show as a rate falling 4× per step. Typical statements parse in a
// few µs; rejecting the 120,000-term OR chain of issue 9 (finding 5; 8.7 s before) costs one
// lexing pass over its 1 MiB plus 512 terms of parsing.
// Measured: see the numbers in the commit that added this bench and in later ones.
//
// Stage: `engine/sql` (lexer → parser → AST), the first step of every `/ksql`, `/query` and
// `/query-stream` request, over seeded statements and the adversarial shapes that used to
// be quadratic: long operator chains, long IN lists, long lines of strings, unterminated
// comments and `${` runs inside strings.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use sluice_engine::sql::{parse, parse_expression, substitute_variables};

/// Sizes of each adversarial shape, in terms; each 4× the previous.
const TERMS: [usize; 3] = [6_000, 24_000, 96_000];

/// A small LCG, so every run parses the same statements.
struct Seeded(u64);

impl Seeded {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) as usize) % below
    }
}

/// Statements of the kinds clients send: DDL, persistent and push queries, inserts.
fn typical_statements(count: usize) -> Vec<String> {
    let mut rng = Seeded(0x5EED);
    (0..count)
        .map(|i| match rng.next(4) {
            0 => format!(
                "CREATE STREAM s{i} (id BIGINT KEY, name STRING, tags ARRAY<STRING>, \
                 loc STRUCT<lat DOUBLE, lon DOUBLE>) WITH (kafka_topic='t{i}', \
                 value_format='JSON', partitions={});",
                1 + rng.next(8)
            ),
            1 => format!(
                "CREATE STREAM out{i} AS SELECT id, UCASE(name) AS n, loc->lat * 2 AS lat2, \
                 CASE WHEN id > {} THEN 'big' ELSE 'small' END AS bucket FROM s{i} \
                 WHERE name LIKE 'a%' AND id BETWEEN 1 AND {} EMIT CHANGES;",
                rng.next(1_000),
                rng.next(100_000)
            ),
            2 => format!(
                "SELECT id, TRANSFORM(tags, t => CONCAT(t, '!')) FROM s{i} \
                 WHERE id IN ({}, {}, {}) OR name IS NULL EMIT CHANGES LIMIT {};",
                rng.next(100),
                rng.next(100),
                rng.next(100),
                1 + rng.next(50)
            ),
            _ => format!(
                "INSERT INTO s{i} (id, name, tags) VALUES ({}, 'n{}', ARRAY['a', 'b']);",
                rng.next(1_000_000),
                rng.next(1_000)
            ),
        })
        .collect()
}

fn typical(c: &mut Criterion) {
    let statements = typical_statements(256);
    let script = statements.join("\n");
    let mut group = c.benchmark_group("sql_parser/typical");
    group.throughput(Throughput::Bytes(script.len() as u64));
    group.bench_function("256_statements", |b| {
        b.iter(|| {
            let parsed = parse(black_box(&script)).expect("valid statements");
            assert_eq!(parsed.len(), statements.len());
        })
    });
    group.finish();
}

/// Each adversarial shape at each size: the rate in bytes/s should not fall with size.
fn shapes(c: &mut Criterion) {
    type Shape = (&'static str, fn(usize) -> String, bool);
    let shapes: [Shape; 5] = [
        // Rejected at the depth limit after lexing the whole input.
        (
            "or_chain_rejected",
            |n| format!("SELECT * FROM s WHERE {};", vec!["a = 1"; n].join(" OR ")),
            false,
        ),
        (
            "in_list",
            |n| format!("SELECT * FROM s WHERE a IN ({});", vec!["1"; n].join(", ")),
            true,
        ),
        (
            "strings_on_one_line",
            |n| format!("SELECT {} FROM s;", vec!["'ébc'"; n].join(", ")),
            true,
        ),
        (
            "many_short_chains",
            |n| {
                // 47 expression nodes per item, so the largest size stays under the limit.
                let terms = ["a + 1 > b"; 8].join(" AND ");
                let items = vec![format!("({terms})"); n / 48];
                format!("SELECT {} FROM s;", items.join(", "))
            },
            true,
        ),
        ("unterminated_comments", |n| "/* ".repeat(n), false),
    ];
    for (name, make, parses) in shapes {
        let mut group = c.benchmark_group(format!("sql_parser/{name}"));
        for terms in TERMS {
            let sql = make(terms);
            group.throughput(Throughput::Bytes(sql.len() as u64));
            group.bench_with_input(BenchmarkId::from_parameter(terms), &sql, |b, sql| {
                b.iter(|| assert_eq!(parse(black_box(sql)).is_ok(), parses))
            });
        }
        group.finish();
    }
}

fn expression_and_display(c: &mut Criterion) {
    let mut group = c.benchmark_group("sql_parser/in_list_display_round_trip");
    for terms in TERMS {
        let text = format!("a IN ({})", vec!["'v'"; terms].join(", "));
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(terms), &text, |b, text| {
            b.iter(|| {
                let expr = parse_expression(black_box(text)).expect("valid");
                let printed = expr.to_string();
                assert_eq!(parse_expression(&printed).expect("reparses"), expr);
            })
        });
    }
    group.finish();
}

fn substitution(c: &mut Criterion) {
    let vars: HashMap<String, String> = [("x".to_string(), "'value'".to_string())].into();
    let mut group = c.benchmark_group("sql_parser/substitute_variables");
    for terms in TERMS {
        // References in identifier position and inside strings, and `${` runs with no `}`.
        let sql = format!(
            "SELECT {} FROM s WHERE a = '{}';",
            vec!["${x}"; terms].join(", "),
            "${".repeat(terms)
        );
        group.throughput(Throughput::Bytes(sql.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(terms), &sql, |b, sql| {
            b.iter(|| substitute_variables(black_box(sql), &vars).expect("defined"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = typical, shapes, expression_and_display, substitution
}
criterion_main!(benches);
