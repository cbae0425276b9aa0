//! Property test of `select!` and `Select` against a sequential model
//! (`tests/common/select_ops.rs`, the same code the `select_ops` fuzz
//! target runs): random programs of sends, closes and selects over three
//! buffered or unbounded channels; the chosen case must be ready in the
//! model, `default` must run only when none is, receives are FIFO, and a
//! send value is built only for the chosen case.

#[path = "common/select_ops.rs"]
mod select_ops;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn select_programs_match_the_model(data in proptest::collection::vec(any::<u8>(), 3..200)) {
        select_ops::run_bytes(&data);
    }
}
