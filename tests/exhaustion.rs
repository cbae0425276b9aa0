//! Running out of memory or of memory mappings is a clear error, never a
//! hang or a crash: `Builder::spawn` returns the `io::Error`, `go!` panics
//! with the same message. Each case runs in a child process, since it
//! changes process-wide limits or the guard-page mode.

mod common;

use std::time::Duration;

fn vm_size_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

fn set_address_space_limit(bytes: u64) {
    let lim = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads the struct we pass; no memory is shared.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

#[test]
fn mmap_failure_is_an_error_from_spawn_and_a_panic_from_go() {
    if common::child_role().as_deref() == Some("enomem") {
        let rt = common::rt(1);
        // Warm up: the runtime and the test harness have what they need.
        rt.block_on(|| goro::go!(|| ()).join().unwrap());
        set_address_space_limit(vm_size_bytes() + (8 << 20));
        let err = rt.block_on(|| {
            goro::Builder::new()
                .stack_size(512 << 20)
                .spawn(|| ())
                .unwrap_err()
        });
        assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory, "{err}");
        let msg = err.to_string();
        // go! with the default size: exhaust the pool until mapping fails.
        let panic = rt.block_on(|| {
            let mut keep = Vec::new();
            loop {
                match std::panic::catch_unwind(|| {
                    goro::go!(|| goro::sleep(Duration::from_secs(3600)))
                }) {
                    Ok(h) => keep.push(h),
                    Err(p) => break p,
                }
            }
        });
        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            text.contains("stack"),
            "go! panic message: {text:?} (spawn said {msg:?})"
        );
        println!("CHILD-OK");
        return;
    }
    let out = common::run_child(
        "mmap_failure_is_an_error_from_spawn_and_a_panic_from_go",
        "enomem",
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD-OK"),
        "status {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mprotect_fallback_reports_the_map_count_limit() {
    if common::child_role().as_deref() == Some("mapcount") {
        let max: u64 = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        if max > 200_000 {
            println!("CHILD-OK (skipped: vm.max_map_count is {max})");
            return;
        }
        let rt = common::rt(2);
        let err = rt.block_on(|| {
            let mut keep = Vec::new();
            loop {
                match goro::Builder::new()
                    .stack_size(16 * 1024)
                    .spawn(|| goro::sleep(Duration::from_secs(3600)))
                {
                    Ok(h) => keep.push(h),
                    Err(e) => break e,
                }
                assert!(keep.len() < 200_000, "the mapping limit never hit");
            }
        });
        assert!(err.to_string().contains("vm.max_map_count"), "{err}");
        // The runtime still works, and shuts down cleanly.
        assert_eq!(rt.block_on(|| 5), 5);
        drop(rt);
        println!("CHILD-OK");
        return;
    }
    let out = common::run_child(
        "mprotect_fallback_reports_the_map_count_limit",
        "mapcount",
        &[("GORO_STACK_GUARD", "mprotect")],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CHILD-OK"),
        "status {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn mprotect_fallback_runs_green_threads() {
    if common::child_role().as_deref() == Some("fallback") {
        let sum = goro::run(|| {
            let hs: Vec<_> = (0..2000u64).map(|i| goro::go!(move || i)).collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
        });
        assert_eq!(sum, 1999 * 2000 / 2);
        println!("CHILD-OK");
        return;
    }
    let out = common::run_child(
        "mprotect_fallback_runs_green_threads",
        "fallback",
        &[("GORO_STACK_GUARD", "mprotect")],
    );
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("CHILD-OK"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
