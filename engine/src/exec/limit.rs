//! LIMIT: passes the first `rows_max` rows and then ends the query.
//!
//! A projection maps rows one to one, so the physical pipeline runs LIMIT just before the
//! terminal that projects, which gives the same rows as limiting after projecting.

use super::operator::{Flow, Next, Operator, Row};

pub(crate) struct Limit {
    rows_max: u64,
    passed: u64,
}

impl Limit {
    pub(crate) fn new(rows_max: u64) -> Limit {
        Limit {
            rows_max,
            passed: 0,
        }
    }
}

impl Operator for Limit {
    fn push(&mut self, row: Row<'_>, next: &mut Next<'_>) -> Flow {
        if self.exhausted() {
            return Flow::Stop;
        }
        self.passed += 1;
        let flow = next(row);
        if self.exhausted() {
            Flow::Stop
        } else {
            flow
        }
    }

    fn exhausted(&self) -> bool {
        self.passed >= self.rows_max
    }
}
