//! Where statements end: the protocol crate's splitter (shared with the DeltaStream face,
//! which splits `;`-separated batches the same way).

pub(crate) use sluice_protocol::statement_split::{code_words, is_blank, split};
