//! Spawning, joining, naming and configuring green threads and runtimes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::rt;

#[test]
fn run_returns_the_root_value() {
    assert_eq!(goro::run(|| 7 * 6), 42);
}

#[test]
fn run_may_borrow_from_the_caller() {
    let v: Vec<u32> = (1..=10).collect();
    let sum = goro::run(|| v.iter().sum::<u32>());
    assert_eq!(sum, 55);
    assert_eq!(v.len(), 10);
}

#[test]
fn run_resumes_the_root_panic() {
    let r = std::panic::catch_unwind(|| goro::run(|| panic!("root failed")));
    let payload = r.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"root failed"));
}

#[test]
fn many_green_threads_each_return_their_own_value() {
    for workers in 1..=4 {
        let got = rt(workers).block_on(|| {
            let hs: Vec<_> = (0..2000u64).map(|i| goro::go!(move || i * 3)).collect();
            hs.into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        let want: Vec<u64> = (0..2000).map(|i| i * 3).collect();
        assert_eq!(got, want, "workers = {workers}");
    }
}

#[test]
fn go_block_form_moves_captures_and_yields_its_value() {
    let s = String::from("moved");
    let h = goro::go! {
        let mut s = s;
        s.push('!');
        s
    };
    assert_eq!(h.join().unwrap(), "moved!");
}

#[test]
fn go_closure_and_path_forms() {
    fn seven() -> i32 {
        7
    }
    let x = 5;
    assert_eq!(goro::go!(move || x + 1).join().unwrap(), 6);
    assert_eq!(goro::go!(seven).join().unwrap(), 7);
    assert_eq!(goro::go!().join().unwrap(), ());
}

#[test]
fn spawn_outside_a_runtime_uses_the_global_runtime() {
    assert!(goro::current().is_none());
    let h = goro::spawn(|| goro::current().map(|g| g.id()));
    let id = h.id();
    assert_eq!(h.join().unwrap(), Some(id));
}

#[test]
fn a_panic_is_returned_by_join_and_the_runtime_goes_on() {
    let r = rt(2);
    let (err, after) = r.block_on(|| {
        let n = std::hint::black_box(1);
        let bad = goro::go!(move || -> u32 { panic!("bad {n}") });
        let err = bad.join().unwrap_err();
        let after = goro::go!(|| 5).join().unwrap();
        (err.downcast_ref::<String>().cloned(), after)
    });
    assert_eq!(err.as_deref(), Some("bad 1"));
    assert_eq!(after, 5);
    assert_eq!(r.block_on(|| 1), 1);
}

#[test]
fn builder_names_and_sizes_green_threads() {
    let h = goro::Builder::new()
        .name("sized".into())
        .stack_size(2 << 20)
        .spawn(|| {
            // Use most of a 2 MiB stack.
            let buf = [7u8; 1536 * 1024];
            let n = std::hint::black_box(&buf)
                .iter()
                .map(|&b| b as usize)
                .sum::<usize>();
            (goro::current().unwrap().name().map(String::from), n)
        })
        .unwrap();
    assert_eq!(h.name(), Some("sized"));
    assert_eq!(h.join().unwrap(), (Some("sized".into()), 7 * 1536 * 1024));
}

#[test]
fn runtime_stack_size_is_the_default_for_its_green_threads() {
    let r = goro::runtime::Builder::new()
        .workers(1)
        .stack_size(4 << 20)
        .build()
        .unwrap();
    let n = r.block_on(|| {
        goro::go!(|| {
            let buf = [1u8; 3 << 20];
            std::hint::black_box(&buf)
                .iter()
                .map(|&b| b as usize)
                .sum::<usize>()
        })
        .join()
        .unwrap()
    });
    assert_eq!(n, 3 << 20);
}

#[test]
fn bad_configuration_is_a_clear_error() {
    let e = goro::runtime::Builder::new()
        .workers(0)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("workers"), "{e}");

    let e = goro::runtime::Builder::new()
        .stack_size(100)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("stack"), "{e}");

    let e = goro::runtime::Builder::new()
        .stack_size(usize::MAX / 2)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);

    let e = goro::Builder::new()
        .stack_size(1024)
        .spawn(|| ())
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = goro::Builder::new()
        .stack_size(1 << 40)
        .spawn(|| ())
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn goro_workers_env_is_read_and_checked() {
    if let Some(role) = common::child_role() {
        let r = goro::runtime::Builder::new().build();
        match role.as_str() {
            "three" => assert_eq!(r.unwrap().workers(), 3),
            "bad" => {
                let e = r.unwrap_err();
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
                assert!(e.to_string().contains("GORO_WORKERS"), "{e}");
            }
            _ => unreachable!(),
        }
        return;
    }
    let test = "goro_workers_env_is_read_and_checked";
    let out = common::run_child(test, "three", &[("GORO_WORKERS", "3")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = common::run_child(test, "bad", &[("GORO_WORKERS", "many")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn block_on_from_a_green_thread_panics() {
    let r = Arc::new(rt(1));
    let r2 = r.clone();
    let res = goro::go!(move || r2.block_on(|| 1)).join();
    assert!(res.is_err());
    drop(r);
}

#[test]
fn join_handle_reports_finished() {
    let r = rt(2);
    r.block_on(|| {
        let h = goro::go!(|| ());
        while !h.is_finished() {
            goro::yield_now();
        }
        assert!(h.is_finished());
        h.join().unwrap();
    });
}

#[test]
fn nested_spawn_tree_completes() {
    fn tree(depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        let l = goro::go!(move || tree(depth - 1));
        let r = goro::go!(move || tree(depth - 1));
        l.join().unwrap() + r.join().unwrap()
    }
    assert_eq!(rt(2).block_on(|| tree(12)), 1 << 12);
}

#[test]
fn runtime_spawn_from_an_os_thread() {
    let r = rt(2);
    let hits = Arc::new(AtomicUsize::new(0));
    let hs: Vec<_> = (0..100)
        .map(|_| {
            let hits = hits.clone();
            r.spawn(move || hits.fetch_add(1, Ordering::SeqCst))
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    assert_eq!(hits.load(Ordering::SeqCst), 100);
}

#[test]
fn sleep_parks_the_green_thread_not_the_worker() {
    // One worker: while one green thread sleeps, another must run.
    let r = rt(1);
    let order = r.block_on(|| {
        let log = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let l1 = log.clone();
        let sleeper = goro::go!(move || {
            goro::sleep(Duration::from_millis(30));
            l1.lock().push("sleeper");
        });
        let l2 = log.clone();
        let quick = goro::go!(move || l2.lock().push("quick"));
        quick.join().unwrap();
        sleeper.join().unwrap();
        log.lock().clone()
    });
    assert_eq!(order, ["quick", "sleeper"]);
}

#[test]
fn scope_borrows_and_joins_everything() {
    let mut data = vec![0u32; 64];
    rt(2).block_on(|| {
        goro::scope(|s| {
            for (i, x) in data.iter_mut().enumerate() {
                s.spawn(move || {
                    goro::yield_now();
                    *x = i as u32 * 2;
                });
            }
        })
    });
    assert!(data.iter().enumerate().all(|(i, &x)| x == i as u32 * 2));
}

#[test]
fn scope_panics_when_a_child_panicked_unjoined() {
    let r = std::panic::catch_unwind(|| {
        goro::scope(|s| {
            s.spawn(|| panic!("child"));
        })
    });
    // std::thread::scope's message, for tests ported from std.
    let payload = r.expect_err("the scope panics");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"a scoped thread panicked")
    );
}

/// A result nobody joined is dropped by `scope`; if its `Drop` spawns
/// another scoped green thread (it may hold the `&Scope`), `scope` waits
/// for that one too before returning, as `std::thread::scope` does (std's
/// test_scoped_threads_drop_result_before_join). It returned early before,
/// leaving a green thread that borrows the caller's stack running.
#[test]
fn scope_waits_for_green_threads_spawned_by_dropping_a_result() {
    struct SpawnOnDrop<'scope, 'env>(&'scope goro::Scope<'scope, 'env>, &'env AtomicUsize);
    impl Drop for SpawnOnDrop<'_, '_> {
        fn drop(&mut self) {
            let done = self.1;
            self.0.spawn(move || {
                goro::sleep(Duration::from_millis(20));
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
    }
    let done = AtomicUsize::new(0);
    goro::scope(|s| {
        let done = &done;
        s.spawn(move || SpawnOnDrop(s, done));
    });
    assert_eq!(done.load(Ordering::SeqCst), 1, "scope returned first");
}

#[test]
fn dump_lists_parked_green_threads() {
    let r = rt(1);
    let h = r.spawn(|| goro::sleep(Duration::from_secs(3600)));
    // Wait until the sleeper is parked.
    while !r.dump().contains("sleep") {
        std::thread::yield_now();
    }
    let dump = r.dump();
    assert!(
        dump.contains(&format!("green thread {} ", h.id())),
        "{dump}"
    );
    assert!(dump.contains("parked: sleep"), "{dump}");
    drop(r); // unwinds the sleeper
    assert!(
        h.join().is_err(),
        "a green thread unwound by shutdown reports Err"
    );
}

#[test]
fn a_ping_pong_pair_does_not_starve_a_third_green_thread() {
    // On one worker, two green threads that keep waking each other always
    // have the next one in the LIFO slot; a third, runnable all along, must
    // still get its turn (the slot's streak is bounded).
    let r = rt(1);
    let rounds = r.block_on(|| {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx1, rx1) = goro::bounded::<u64>(0);
        let (tx2, rx2) = goro::bounded::<u64>(0);
        let s = stop.clone();
        let ping = goro::go!(move || {
            let mut n = 0u64;
            while !s.load(Ordering::Relaxed) {
                tx1.send(n).unwrap();
                n = rx2.recv().unwrap();
            }
            n
        });
        let pong = goro::go!(move || {
            for v in rx1.iter() {
                if tx2.send(v + 1).is_err() {
                    break;
                }
            }
        });
        // Spawned after the pair started: runnable behind them.
        goro::yield_now();
        let s = stop.clone();
        let third = goro::go!(move || s.store(true, Ordering::Relaxed));
        third.join().unwrap();
        let n = ping.join().unwrap();
        pong.join().unwrap();
        n
    });
    assert!(rounds > 0);
}
