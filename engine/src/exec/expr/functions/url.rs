//! TODO family.

use super::FunctionDef;

pub(super) static FUNCTIONS: &[FunctionDef] = &[];
