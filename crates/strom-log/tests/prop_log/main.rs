//! Property test: random operation sequences against a real `Log` and a simple in-memory
//! model (the list of appended batches with their offsets). Segment structure is observed
//! from the `.log` files in the directory, so rolls, retention and `delete_records_before`
//! are checked exactly, not just "something happened".

#[path = "../common/mod.rs"]
mod common;

mod checks;
mod model;
mod run;

use proptest::prelude::*;

use model::op_strategy;
use run::run;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        max_shrink_iters: 2000,
        ..ProptestConfig::default()
    })]

    #[test]
    fn log_matches_model(
        ops in prop::collection::vec(op_strategy(), 1..150),
        segment_bytes in prop::sample::select(vec![1024u64, 3000, 8192, 1 << 20]),
        index_interval in prop::sample::select(vec![1u64, 100, 4096]),
        always in prop::bool::weighted(0.15),
    ) {
        run(ops, segment_bytes, index_interval, always);
    }
}
