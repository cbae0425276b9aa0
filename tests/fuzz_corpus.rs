//! Replays the checked-in cargo-fuzz corpora (`fuzz/corpus/chan_ops/` and
//! `fuzz/corpus/select_ops/`) through the same decoders and models as the
//! fuzz targets (`tests/common/ops.rs`, `tests/common/select_ops.rs`), so plain `cargo test` covers it without
//! cargo-fuzz: every file must decode to a program or plan that matches its
//! model.

#[path = "common/ops.rs"]
mod ops;
#[path = "common/select_ops.rs"]
mod select_ops;

use std::path::PathBuf;

fn corpus() -> Vec<(String, Vec<u8>)> {
    corpus_of("chan_ops")
}

fn corpus_of(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.is_file())
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("a corpus file"))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_replays_against_the_models() {
    let files = corpus();
    assert!(files.len() >= 10, "only {} corpus files", files.len());
    let mut failed = Vec::new();
    for (name, data) in &files {
        if std::panic::catch_unwind(|| ops::run_bytes(data)).is_err() {
            failed.push(name.clone());
        }
    }
    assert!(failed.is_empty(), "corpus files failing: {failed:?}");
}

#[test]
fn corpus_covers_both_kinds_and_every_capacity() {
    let files = corpus();
    let mut seq_caps = Vec::new();
    let mut plan_caps = Vec::new();
    for (_, data) in &files {
        let Some((&b0, rest)) = data.split_first() else {
            continue;
        };
        if b0 & 0x80 != 0 {
            plan_caps.push(ops::Plan::decode(rest).cap);
        } else if !rest.is_empty() {
            seq_caps.push(ops::Program::decode(b0, rest).cap);
        }
    }
    for cap in ops::CAPS {
        assert!(
            seq_caps.contains(&cap),
            "no single-threaded program for {cap:?}"
        );
        assert!(plan_caps.contains(&cap), "no concurrent plan for {cap:?}");
    }
}

#[test]
fn select_corpus_replays_against_the_model() {
    let files = corpus_of("select_ops");
    assert!(files.len() >= 10, "only {} corpus files", files.len());
    let mut failed = Vec::new();
    for (name, data) in &files {
        if std::panic::catch_unwind(|| select_ops::run_bytes(data)).is_err() {
            failed.push(name.clone());
        }
    }
    assert!(failed.is_empty(), "select corpus files failing: {failed:?}");
}
