//! A green thread that overflows its stack hits the guard page; the
//! handler names it and aborts the process (checked in a child process).

mod common;

use std::os::unix::process::ExitStatusExt;

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let buf = std::hint::black_box([depth as u8; 512]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + buf[0] as u64
}

#[test]
fn stack_overflow_names_the_green_thread_and_aborts() {
    if common::child_role().as_deref() == Some("overflow") {
        goro::run(|| {
            goro::Builder::new()
                .name("deep".into())
                .stack_size(64 * 1024)
                .spawn(|| recurse(0))
                .unwrap()
                .join()
                .unwrap();
        });
        unreachable!("the overflow must abort");
    }
    let out = common::run_child(
        "stack_overflow_names_the_green_thread_and_aborts",
        "overflow",
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "stderr: {stderr}");
    assert!(
        stderr.contains("green thread 'deep' (id ")
            && stderr
                .contains("has overflowed its stack (64 KiB); raise it with Builder::stack_size"),
        "stderr: {stderr}"
    );
}

#[test]
fn stack_overflow_is_caught_with_mprotect_guards_too() {
    let out = common::run_child(
        "stack_overflow_names_the_green_thread_and_aborts",
        "overflow",
        &[("GORO_STACK_GUARD", "mprotect")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "stderr: {stderr}");
    assert!(stderr.contains("green thread 'deep'"), "stderr: {stderr}");
}

#[test]
fn other_segfaults_are_not_reported_as_overflow() {
    if common::child_role().as_deref() == Some("segv") {
        goro::run(|| {
            goro::go!(|| {
                // SAFETY: none; this deliberately faults on an unmapped
                // address to check the handler passes it on.
                unsafe { std::ptr::write_volatile(16 as *mut u64, 1) };
            })
            .join()
            .unwrap();
        });
        unreachable!();
    }
    let out = common::run_child("other_segfaults_are_not_reported_as_overflow", "segv", &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), Some(libc::SIGSEGV), "stderr: {stderr}");
    assert!(!stderr.contains("overflowed"), "stderr: {stderr}");
}
