//! A panic hook the user installs before goro's first runtime starts gets
//! the panics of green threads too, as it gets those of std threads (goro
//! then prints nothing of its own for them); with std's default hook in
//! place, goro reports a green thread's panic itself, naming it. goro wraps
//! the hook it finds when the first runtime of the process starts, so no
//! other test of this process may start one: the second test does so in a
//! child process.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

static CALLS: AtomicUsize = AtomicUsize::new(0);
static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[test]
fn a_hook_installed_before_the_first_runtime_sees_green_thread_panics() {
    std::panic::set_hook(Box::new(|info| {
        CALLS.fetch_add(1, Ordering::SeqCst);
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default();
        MESSAGES.lock().unwrap().push(msg);
    }));
    let joined = goro::run(|| {
        goro::go!(|| {
            panic!("boom in a green thread");
        })
        .join()
    });
    let payload = joined.expect_err("the panic reaches join");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"boom in a green thread")
    );
    assert_eq!(
        CALLS.load(Ordering::SeqCst),
        1,
        "the user's hook saw the panic"
    );
    assert_eq!(*MESSAGES.lock().unwrap(), ["boom in a green thread"]);

    // Panics of std threads still reach it as well.
    std::thread::spawn(|| panic!("boom in a std thread"))
        .join()
        .expect_err("it panicked");
    assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    let _ = std::panic::take_hook();
}

#[test]
fn with_the_default_hook_a_panic_report_names_the_green_thread() {
    if common::child_role().as_deref() == Some("report") {
        let r = goro::run(|| {
            goro::Builder::new()
                .name("crasher".into())
                .spawn(|| panic!("boom, reported"))
                .unwrap()
                .join()
        });
        assert!(r.is_err());
        return;
    }
    let out = common::run_child(
        "with_the_default_hook_a_panic_report_names_the_green_thread",
        "report",
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("green thread 'crasher' (id ") && stderr.contains(") panicked at "),
        "{stderr}"
    );
    assert!(stderr.contains("boom, reported"), "{stderr}");
    assert!(
        !stderr.contains("goro-worker"),
        "names the OS thread: {stderr}"
    );
}
