//! Deadlock detection (DESIGN.md "Deadlock"), with its own `main`
//! (`harness = false`): the detector must never fire while another thread
//! of the process could act, and libtest runs every test on a thread of
//! its own while its main thread waits. So `main` re-runs this binary once
//! per scenario with `GORO_TEST_CHILD=<scenario>`, and the child runs the
//! scenario on its main thread, the only thread besides goro's.

mod common;

use std::io::Read;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

#[path = "../examples/deadlock.rs"]
#[allow(dead_code, unreachable_pub)]
mod example;

const MESSAGE: &str = "all green threads are asleep - deadlock!";

/// What a scenario's child must show.
enum Expect {
    /// Reported: non-zero exit, the message and these lines on stderr.
    Deadlock(&'static [&'static str]),
    /// Not reported: success, no message.
    Completes,
}

struct Scenario {
    name: &'static str,
    run: fn(),
    expect: Expect,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "unbuffered_recv_from_the_root",
        run: unbuffered_recv_from_the_root,
        expect: Expect::Deadlock(&["green thread 1 'main' [parked: chan recv]"]),
    },
    Scenario {
        name: "two_green_threads_waiting_on_each_other",
        run: two_green_threads_waiting_on_each_other,
        expect: Expect::Deadlock(&[
            "'a' [parked: chan recv]",
            "'b' [parked: chan recv]",
            "'main' [parked: join]",
        ]),
    },
    Scenario {
        name: "the_deadlock_example",
        run: example::deadlock,
        expect: Expect::Deadlock(&[
            "'main' [parked: chan recv]",
            "'stuck-sender' [parked: chan send]",
        ]),
    },
    Scenario {
        name: "block_on_reports_and_shuts_the_runtime_down",
        run: block_on_reports_and_shuts_the_runtime_down,
        expect: Expect::Deadlock(&["'main' [parked: chan send]", "dropped: 1"]),
    },
    Scenario {
        name: "an_os_thread_that_blocks_in_goro_last",
        run: an_os_thread_that_blocks_in_goro_last,
        expect: Expect::Deadlock(&["'main' [parked: chan recv]"]),
    },
    Scenario {
        name: "a_cancelled_context_deadline_does_not_silence_it",
        run: a_cancelled_context_deadline_does_not_silence_it,
        expect: Expect::Deadlock(&["'main' [parked: chan recv]"]),
    },
    Scenario {
        name: "a_timed_wait_that_ended_early_in_a_green_thread_that_exited",
        run: a_timed_wait_that_ended_early_in_a_green_thread_that_exited,
        expect: Expect::Deadlock(&["'main' [parked: chan recv]"]),
    },
    Scenario {
        name: "dead_timers_on_the_global_timer_thread_do_not_silence_it",
        run: dead_timers_on_the_global_timer_thread_do_not_silence_it,
        expect: Expect::Deadlock(&["'main' [parked: chan recv]"]),
    },
    Scenario {
        name: "after_the_global_runtime_started",
        run: after_the_global_runtime_started,
        expect: Expect::Deadlock(&["'main' [parked: chan recv]"]),
    },
    Scenario {
        name: "beside_another_runtime_whose_green_threads_are_blocked",
        run: beside_another_runtime_whose_green_threads_are_blocked,
        expect: Expect::Deadlock(&["'main' [parked: chan recv]"]),
    },
    Scenario {
        name: "a_green_thread_of_the_global_runtime_that_will_send",
        run: a_green_thread_of_the_global_runtime_that_will_send,
        expect: Expect::Completes,
    },
    Scenario {
        name: "a_green_thread_of_another_runtime_that_will_send",
        run: a_green_thread_of_another_runtime_that_will_send,
        expect: Expect::Completes,
    },
    Scenario {
        name: "an_os_thread_that_will_send",
        run: an_os_thread_that_will_send,
        expect: Expect::Completes,
    },
    Scenario {
        name: "a_sleeping_green_thread_that_will_send",
        run: a_sleeping_green_thread_that_will_send,
        expect: Expect::Completes,
    },
    Scenario {
        name: "a_pending_timer",
        run: a_pending_timer,
        expect: Expect::Completes,
    },
    Scenario {
        name: "an_os_thread_blocked_in_goro_then_woken_by_a_timer",
        run: an_os_thread_blocked_in_goro_then_woken_by_a_timer,
        expect: Expect::Completes,
    },
    Scenario {
        name: "another_thread_alive_silences_the_detector",
        run: another_thread_alive_silences_the_detector,
        expect: Expect::Completes,
    },
];

fn unbuffered_recv_from_the_root() {
    goro::run(|| {
        let (tx, rx) = goro::bounded::<i32>(0);
        let _keep = tx;
        rx.recv().unwrap()
    });
}

fn two_green_threads_waiting_on_each_other() {
    goro::run(|| {
        let (tx_a, rx_a) = goro::bounded::<i32>(0);
        let (tx_b, rx_b) = goro::bounded::<i32>(0);
        let a = goro::Builder::new()
            .name("a".into())
            .spawn(move || {
                let v = rx_b.recv().unwrap();
                tx_a.send(v).unwrap();
            })
            .unwrap();
        let b = goro::Builder::new()
            .name("b".into())
            .spawn(move || {
                let v = rx_a.recv().unwrap();
                tx_b.send(v).unwrap();
            })
            .unwrap();
        a.join().unwrap();
        b.join().unwrap();
    });
}

/// `Runtime::block_on` reports too; the root (which borrows from the
/// caller) is unwound before the panic, so its destructors have run.
fn block_on_reports_and_shuts_the_runtime_down() {
    struct Loud;
    impl Drop for Loud {
        fn drop(&mut self) {
            eprintln!("dropped: 1");
        }
    }
    let rt = common::rt(2);
    let loud = Loud;
    rt.block_on(|| {
        let _borrow = &loud;
        let _guard = Loud;
        let (tx, _rx) = goro::bounded::<i32>(0);
        tx.send(1).unwrap();
    });
}

/// The runtime goes idle while an OS thread is still sleeping (so no
/// report then); the deadlock completes only when that thread blocks in a
/// goro `recv` for good, which the workers' periodic re-check finds.
fn an_os_thread_that_blocks_in_goro_last() {
    let (tx, rx) = goro::bounded::<i32>(0);
    let (_tx_b, rx_b) = goro::bounded::<i32>(0);
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let _keep = tx;
        rx_b.recv().unwrap();
    });
    goro::run(move || rx.recv().unwrap());
}

/// The global runtime (started by a `go!` outside any runtime) lives on
/// with its workers idle: they are goro's own and at rest, so they do not
/// silence the report.
fn after_the_global_runtime_started() {
    assert_eq!(goro::go!(|| 1).join().unwrap(), 1);
    goro::run(|| {
        let (_tx, rx) = goro::bounded::<i32>(0);
        rx.recv().unwrap()
    });
}

/// Another runtime whose only green thread waits for a message that the
/// root of `run` holds the sender of, while the root waits for a message
/// that never comes: the whole process is stuck.
fn beside_another_runtime_whose_green_threads_are_blocked() {
    let other = goro::runtime::Builder::new().workers(1).build().unwrap();
    let (tx, rx) = goro::bounded::<i32>(0);
    let waiter = other.spawn(move || rx.recv());
    goro::run(move || {
        let _keep = tx;
        let (_never_tx, never_rx) = goro::bounded::<i32>(0);
        never_rx.recv().unwrap()
    });
    drop(waiter);
}

/// A green thread of the global runtime sleeps, then sends to the root of
/// `run`: a pending timer of another runtime, never a report.
fn a_green_thread_of_the_global_runtime_that_will_send() {
    let (tx, rx) = goro::bounded::<i32>(0);
    let sender = goro::go!(move || {
        goro::sleep(Duration::from_millis(100));
        tx.send(11).unwrap();
    });
    assert_eq!(goro::run(move || rx.recv().unwrap()), 11);
    sender.join().unwrap();
}

/// As above, from a runtime of its own whose green thread first waits on
/// a channel that an OS thread feeds a little later.
fn a_green_thread_of_another_runtime_that_will_send() {
    let other = goro::runtime::Builder::new().workers(1).build().unwrap();
    let (kick_tx, kick_rx) = goro::bounded::<()>(0);
    let (tx, rx) = goro::bounded::<i32>(0);
    let relay = other.spawn(move || {
        kick_rx.recv().unwrap();
        tx.send(12).unwrap();
    });
    let kicker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        kick_tx.send(()).unwrap();
    });
    assert_eq!(goro::run(move || rx.recv().unwrap()), 12);
    relay.join().unwrap();
    kicker.join().unwrap();
}

fn an_os_thread_that_will_send() {
    let (tx, rx) = goro::bounded::<i32>(0);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        tx.send(7).unwrap();
    });
    assert_eq!(goro::run(move || rx.recv().unwrap()), 7);
    t.join().unwrap();
}

fn a_sleeping_green_thread_that_will_send() {
    let v = goro::run(|| {
        let (tx, rx) = goro::bounded::<i32>(0);
        goro::go!(move || {
            goro::sleep(Duration::from_millis(100));
            tx.send(8).unwrap();
        });
        rx.recv().unwrap()
    });
    assert_eq!(v, 8);
}

/// A context whose deadline is an hour away, cancelled at once: its timer
/// is dead (Go stops it), so it does not hold off the report for an hour.
fn a_cancelled_context_deadline_does_not_silence_it() {
    use goro::context::{self, Context};
    goro::run(|| {
        let (_ctx, cancel) =
            context::with_timeout(&Context::background(), Duration::from_secs(3600));
        cancel.cancel();
        let (_tx, rx) = goro::bounded::<()>(0);
        let _ = rx.recv();
    });
}

/// A green thread's hour-long `recv_timeout` ends early and the green
/// thread exits: its wake-up timer is stale (its task is done) and must
/// not hold off the report for an hour.
fn a_timed_wait_that_ended_early_in_a_green_thread_that_exited() {
    goro::run(|| {
        let (tx, rx) = goro::bounded::<i32>(0);
        let h = goro::go!(move || {
            rx.recv_timeout(Duration::from_secs(3600)).unwrap();
        });
        goro::sleep(Duration::from_millis(50));
        tx.send(1).unwrap();
        h.join().unwrap();
        let (_keep, rx) = goro::bounded::<i32>(0);
        let _ = rx.recv();
    });
}

/// An hour-long context deadline cancelled at once and an hour-long
/// `after` dropped unreceived, both made on a plain OS thread (so on the
/// global timer thread): dead, they must not hold off the report.
fn dead_timers_on_the_global_timer_thread_do_not_silence_it() {
    use goro::context::{self, Context};
    let (_ctx, cancel) = context::with_timeout(&Context::background(), Duration::from_secs(3600));
    cancel.cancel();
    drop(goro::after(Duration::from_secs(3600)));
    goro::run(|| {
        let (_keep, rx) = goro::bounded::<i32>(0);
        let _ = rx.recv();
    });
}

fn a_pending_timer() {
    goro::run(|| {
        goro::after(Duration::from_millis(100)).recv().unwrap();
    });
}

/// An OS thread parked in a goro `recv` (counted as blocked) is fed by a
/// timer of the global timer thread: pending, so no report.
fn an_os_thread_blocked_in_goro_then_woken_by_a_timer() {
    let (tx, rx) = goro::bounded::<i32>(0);
    let t = std::thread::spawn(move || {
        goro::after(Duration::from_millis(100)).recv().unwrap();
        tx.send(9).unwrap();
    });
    assert_eq!(goro::run(move || rx.recv().unwrap()), 9);
    t.join().unwrap();
}

/// A thread that is neither goro's nor parked in goro (here: waiting on a
/// std channel) could act: never reported, even though the root waits
/// until that thread sends after a good while.
fn another_thread_alive_silences_the_detector() {
    let (std_tx, std_rx) = std::sync::mpsc::channel::<()>();
    let (tx, rx) = goro::bounded::<i32>(0);
    let t = std::thread::spawn(move || {
        // Blocks outside goro until the timer thread below says go.
        std_rx.recv().unwrap();
        tx.send(10).unwrap();
    });
    let kick = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        std_tx.send(()).unwrap();
    });
    assert_eq!(goro::run(move || rx.recv().unwrap()), 10);
    t.join().unwrap();
    kick.join().unwrap();
}

/// A child that neither reports nor completes by then has hung: failed.
const CHILD_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs scenario `name` in a child; `None` if it had to be killed.
fn run_scenario(exe: &std::path::Path, name: &str) -> Option<std::process::Output> {
    let mut child = Command::new(exe)
        .env(common::CHILD_ENV, name)
        .env("GORO_WORKERS", "2")
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child");
    // Read stderr on a helper thread so a chatty child cannot block on a
    // full pipe while we poll for its exit.
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait for child").is_some() {
            break;
        }
        if start.elapsed() > CHILD_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut out = child.wait_with_output().expect("child output");
    out.stderr = reader.join().expect("stderr reader");
    Some(out)
}

fn main() -> ExitCode {
    if let Some(role) = common::child_role() {
        let s = SCENARIOS
            .iter()
            .find(|s| s.name == role)
            .unwrap_or_else(|| panic!("unknown scenario {role}"));
        (s.run)();
        return ExitCode::SUCCESS;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let exe = std::env::current_exe().expect("current_exe");
    let mut failed = 0;
    for s in SCENARIOS {
        if !filter.is_empty() && !filter.iter().any(|f| s.name.contains(f.as_str())) {
            continue;
        }
        let Some(out) = run_scenario(&exe, s.name) else {
            failed += 1;
            println!(
                "test {} ... FAILED (no result within {CHILD_TIMEOUT:?})",
                s.name
            );
            continue;
        };
        let stderr = String::from_utf8_lossy(&out.stderr);
        let ok = match s.expect {
            Expect::Deadlock(lines) => {
                !out.status.success()
                    && stderr.contains(MESSAGE)
                    && lines.iter().all(|l| stderr.contains(l))
            }
            Expect::Completes => out.status.success() && !stderr.contains(MESSAGE),
        };
        if ok {
            println!("test {} ... ok", s.name);
        } else {
            failed += 1;
            println!(
                "test {} ... FAILED (status {:?})\n--- stderr ---\n{stderr}",
                s.name, out.status
            );
        }
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
