//! Reports a green thread that overflows its stack, instead of a bare
//! segmentation fault.
//!
//! A green thread's stack has a guard page just below its lowest usable byte
//! (see `stack.rs`). A frame that grows past the bottom touches the guard and
//! the kernel raises SIGSEGV (or SIGBUS) with `rsp` inside the guard, so the
//! handler can only run on an alternate signal stack.
//!
//! # Protocol
//!
//! 1. [`install`] saves the previous SIGSEGV and SIGBUS dispositions, then
//!    installs [`handle_fault`] for both with `SA_SIGINFO | SA_ONSTACK`,
//!    once per process.
//! 2. Each worker thread calls [`ensure_altstack`] once, before running green
//!    threads, so the handler has a stack to run on.
//! 3. Before switching to a green thread, the worker publishes it with
//!    [`set_running`] (and publishes null, or the next one, after switching
//!    back).
//! 4. On a fault, the handler reads this thread's published [`Running`]. If
//!    the faulting address (`si_addr`) lies in its guard range, it writes
//!
//!    ```text
//!    green thread '<name>' (id N) has overflowed its stack (S KiB); raise it with Builder::stack_size
//!    ```
//!
//!    to stderr with one `write(2)` and aborts (SIGABRT).
//! 5. Any other fault goes to the saved previous disposition: a `SA_SIGINFO`
//!    handler is called with the same three arguments, a plain handler with
//!    the signal number (the previous handler's `sa_mask` and flags are not
//!    re-applied). For `SIG_DFL` or `SIG_IGN`, the handler restores `SIG_DFL`
//!    and returns: a fault re-executes the faulting instruction and the
//!    process dies of the signal as it would have without goro; a SIGSEGV or
//!    SIGBUS sent with `kill` is re-raised if the previous disposition was
//!    `SIG_DFL` and dropped if it was `SIG_IGN`. Rust's std installs a
//!    `SA_SIGINFO` handler of its own (it detects main-thread and
//!    `std::thread` stack overflows) before `main`; chaining keeps it working.
//!
//! # Async-signal safety
//!
//! The handler allocates nothing, takes no lock and formats numbers by hand
//! into a stack buffer. It reads:
//! - [`RUNNING`], a `const`-initialised `thread_local!` of a type without
//!   `Drop`: no lazy initialisation and no destructor registration, so an
//!   access is a plain TLS load. That is async-signal-safe in practice (the
//!   static TLS model of executables, or an already allocated dynamic TLS
//!   block), though POSIX promises nothing about TLS in handlers;
//! - the `Running` it points to, which `set_running`'s contract keeps alive;
//! - the saved previous dispositions, in atomics written before the handler
//!   was installed.
//!
//! The handler is not `SA_NODEFER`: while it runs, the signal is blocked, so
//! a fault inside the handler (or inside a chained handler) kills the process
//! with that signal instead of recursing on the alternate stack.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::mem;
use std::ops::Range;
use std::ptr;
use std::sync::Arc;
// This module is not loom-modelled (it is compiled out under `cfg(loom)`), so
// it uses std directly rather than the `crate::loom` facade.
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering, compiler_fence};

use libc::{c_int, siginfo_t};

/// What the handler needs to know about the green thread running on this OS
/// thread.
pub(crate) struct Running {
    /// Address range of the green thread's guard page; a fault in it is an
    /// overflow.
    pub(crate) guard: Range<usize>,
    /// Usable stack size in bytes, reported in KiB.
    pub(crate) stack_size: usize,
    /// Green thread id, reported as is.
    pub(crate) id: u64,
    /// Green thread name, reported as `<unnamed>` when `None`.
    pub(crate) name: Option<Arc<str>>,
}

thread_local! {
    /// The green thread running on this OS thread, or null. Written by
    /// `set_running` on this thread only; read by `handle_fault` on this
    /// thread only.
    static RUNNING: Cell<*const Running> = const { Cell::new(ptr::null()) };
    /// The alternate signal stack `ensure_altstack` mapped for this thread,
    /// if it had to; freed when the thread exits.
    static ALTSTACK: RefCell<Option<AltStack>> = const { RefCell::new(None) };
}

/// Makes [`install`] run its body once per process.
static INSTALL: Once = Once::new();
/// SIGSEGV's disposition before [`install`].
static PREVIOUS_SEGV: Previous = Previous::new();
/// SIGBUS's disposition before [`install`].
static PREVIOUS_BUS: Previous = Previous::new();

/// A saved signal disposition, written by [`install`] before
/// [`handle_fault`] is installed and only read afterwards.
struct Previous {
    /// `sa_sigaction`: `SIG_DFL` (0), `SIG_IGN` (1), or a handler address.
    handler: AtomicUsize,
    /// `sa_flags`; only `SA_SIGINFO` matters (which signature `handler` has).
    flags: AtomicI32,
}

impl Previous {
    const fn new() -> Previous {
        Previous {
            handler: AtomicUsize::new(libc::SIG_DFL),
            flags: AtomicI32::new(0),
        }
    }
}

/// Installs the process-wide SIGSEGV/SIGBUS handler once.
///
/// Idempotent and thread-safe; later calls cost one atomic load. Call it
/// before any worker runs a green thread. A handler someone installs later
/// replaces this one (and should chain to it).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        install_for(libc::SIGSEGV, &PREVIOUS_SEGV);
        install_for(libc::SIGBUS, &PREVIOUS_BUS);
    });
}

/// Saves `signal`'s disposition in `previous`, then installs
/// [`handle_fault`] for it.
fn install_for(signal: c_int, previous: &Previous) {
    // SAFETY: `sigaction` is a plain C struct for which all-zero bytes are a
    // valid value (no handler, no flags, empty mask).
    let mut old: libc::sigaction = unsafe { mem::zeroed() };
    // SAFETY: a null new action only queries; `old` is a valid out-pointer.
    let queried = unsafe { libc::sigaction(signal, ptr::null(), &mut old) };
    debug_assert_eq!(queried, 0, "sigaction({signal}) query failed");
    // Saved before our handler can run, which is the only reader.
    previous.handler.store(old.sa_sigaction, Ordering::Release);
    previous.flags.store(old.sa_flags, Ordering::Release);

    // SAFETY: as above, all-zero is a valid `sigaction`.
    let mut new: libc::sigaction = unsafe { mem::zeroed() };
    let handler: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) = handle_fault;
    new.sa_sigaction = handler as libc::sighandler_t;
    new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `new.sa_mask` is a valid, writable sigset_t.
    unsafe { libc::sigemptyset(&mut new.sa_mask) };
    // SAFETY: `new` is fully initialised and `handle_fault` has the
    // SA_SIGINFO signature; a null old-action pointer is allowed.
    let installed = unsafe { libc::sigaction(signal, &new, ptr::null_mut()) };
    debug_assert_eq!(installed, 0, "sigaction({signal}) install failed");
}

/// Makes sure the calling OS thread has an alternate signal stack, mapping
/// one (`max(SIGSTKSZ, 64 KiB)` plus a guard page) if none is set.
///
/// Call once per worker thread; later calls on the same thread are cheap.
/// A stack mapped here is disabled and unmapped when the thread exits. An
/// alternate stack set by someone else (std sets one on the threads it
/// spawns) is kept. Best effort: if the mapping fails, the thread has no
/// alternate stack and an overflow kills it with a plain SIGSEGV.
pub(crate) fn ensure_altstack() {
    let _ = ALTSTACK.try_with(|slot| {
        let Ok(mut slot) = slot.try_borrow_mut() else {
            return;
        };
        if slot.is_some() || current_altstack().ss_flags & libc::SS_DISABLE == 0 {
            return;
        }
        *slot = AltStack::new();
    });
}

/// Publishes the green thread about to run on this OS thread (null = none).
///
/// # Safety
///
/// If `running` is not null, it must stay valid (not moved, not freed, not
/// mutated) until the next call of `set_running` on this thread: the signal
/// handler may read it at any instruction until then.
#[inline]
pub(crate) unsafe fn set_running(running: *const Running) {
    RUNNING.set(running);
    // The handler runs on this thread: keep the compiler from moving the
    // store past code that may fault.
    compiler_fence(Ordering::SeqCst);
}

/// The record published on this thread by [`set_running`] (null if none).
#[cfg(test)]
pub(crate) fn running_record() -> *const Running {
    RUNNING.get()
}

/// The SIGSEGV/SIGBUS handler (protocol steps 4 and 5).
extern "C" fn handle_fault(signal: c_int, info: *mut siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid `siginfo_t` to an SA_SIGINFO handler;
    // `si_addr` is meaningful for kernel-generated faults (`si_code > 0`),
    // which is the only case where it is used.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr().addr()) };
    if code > 0 {
        let running = RUNNING.try_with(Cell::get).unwrap_or(ptr::null());
        // SAFETY: a non-null published pointer stays valid until this thread
        // publishes another (`set_running`'s contract), and this handler runs
        // on this thread, between two of its instructions.
        if let Some(running) = unsafe { running.as_ref() } {
            if running.guard.contains(&addr) {
                report_overflow(running);
            }
        }
    }
    // SAFETY: these are the handler's own arguments, passed through unchanged.
    unsafe { chain(signal, info, context) };
}

/// Writes the overflow message for `running` to stderr and aborts.
fn report_overflow(running: &Running) -> ! {
    let mut out = StderrBuffer::new();
    out.push(b"green thread '");
    out.push(running.name.as_deref().unwrap_or("<unnamed>").as_bytes());
    out.push(b"' (id ");
    out.push_decimal(running.id);
    out.push(b") has overflowed its stack (");
    out.push_decimal((running.stack_size / 1024) as u64);
    out.push(b" KiB); raise it with Builder::stack_size\n");
    out.flush();
    // `libc::abort` on unix: SIGABRT, no unwinding, no allocation.
    std::process::abort()
}

/// Hands a fault that is not a guard-page hit to the disposition saved by
/// [`install`] (protocol step 5).
///
/// # Safety
///
/// Only for `handle_fault`: `signal`, `info` and `context` are the arguments
/// the kernel passed to it.
unsafe fn chain(signal: c_int, info: *mut siginfo_t, context: *mut c_void) {
    let previous = if signal == libc::SIGBUS {
        &PREVIOUS_BUS
    } else {
        &PREVIOUS_SEGV
    };
    let handler = previous.handler.load(Ordering::Acquire);
    let flags = previous.flags.load(Ordering::Acquire);
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // SAFETY: the kernel passed a valid `siginfo_t`.
        let sent_by_process = unsafe { (*info).si_code } <= 0;
        if sent_by_process && handler == libc::SIG_IGN {
            return;
        }
        restore_default(signal);
        if sent_by_process {
            // The signal is blocked while this handler runs: it stays pending
            // and kills the process, with the default action, on return.
            // SAFETY: raise is async-signal-safe and takes any signal number.
            unsafe { libc::raise(signal) };
        }
        return;
    }
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO, `sa_sigaction` holds the address of a
        // function of this signature, installed by whoever set it; it is
        // called as the kernel would have called it.
        let handler = unsafe {
            mem::transmute::<usize, extern "C" fn(c_int, *mut siginfo_t, *mut c_void)>(handler)
        };
        handler(signal, info, context);
    } else {
        // SAFETY: without SA_SIGINFO, `sa_sigaction` is `sa_handler`: the
        // address of an `extern "C" fn(c_int)`.
        let handler = unsafe { mem::transmute::<usize, extern "C" fn(c_int)>(handler) };
        handler(signal);
    }
}

/// Sets `signal`'s disposition back to `SIG_DFL`, from inside the handler.
fn restore_default(signal: c_int) {
    // SAFETY: all-zero is a valid `sigaction`, and its `sa_sigaction` is
    // SIG_DFL (0) with no flags and an empty mask.
    let default: libc::sigaction = unsafe { mem::zeroed() };
    // SAFETY: sigaction is async-signal-safe; `default` is initialised.
    unsafe { libc::sigaction(signal, &default, ptr::null_mut()) };
}

/// A message for stderr assembled on the stack, so that it usually goes out
/// in one `write(2)` and never allocates.
struct StderrBuffer {
    /// Bytes `[..len]` are pending.
    bytes: [u8; 256],
    /// Number of pending bytes.
    len: usize,
}

impl StderrBuffer {
    fn new() -> StderrBuffer {
        StderrBuffer {
            bytes: [0; 256],
            len: 0,
        }
    }

    /// Appends `data`, writing out the buffer whenever it fills up.
    fn push(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.len == self.bytes.len() {
                self.flush();
            }
            let n = data.len().min(self.bytes.len() - self.len);
            self.bytes[self.len..self.len + n].copy_from_slice(&data[..n]);
            self.len += n;
            data = &data[n..];
        }
    }

    /// Appends `n` in decimal.
    fn push_decimal(&mut self, mut n: u64) {
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        loop {
            start -= 1;
            digits[start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[start..]);
    }

    /// Writes the pending bytes to fd 2, retrying short writes and EINTR,
    /// giving up on any other error.
    fn flush(&mut self) {
        let mut pending = &self.bytes[..self.len];
        while !pending.is_empty() {
            // SAFETY: `pending` is a valid byte slice; write is
            // async-signal-safe.
            let written = unsafe { libc::write(2, pending.as_ptr().cast(), pending.len()) };
            match usize::try_from(written) {
                Ok(0) => break,
                Ok(n) => pending = &pending[n..],
                Err(_) if errno() == libc::EINTR => {}
                Err(_) => break,
            }
        }
        self.len = 0;
    }
}

/// The calling thread's `errno`, read without allocating.
fn errno() -> c_int {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The calling thread's alternate signal stack setting.
fn current_altstack() -> libc::stack_t {
    // SAFETY: all-zero is a valid `stack_t` (null pointer, no flags, size 0).
    let mut current: libc::stack_t = unsafe { mem::zeroed() };
    // SAFETY: a null new stack only queries; `current` is a valid out-pointer.
    unsafe { libc::sigaltstack(ptr::null(), &mut current) };
    current
}

// ===== impl AltStack =====

/// An alternate signal stack mapped by [`ensure_altstack`]:
///
/// ```text
/// base                 base + page                     base + len
/// +--------------------+-------------------------------+
/// | guard (PROT_NONE)  | signal stack (ss_sp, ss_size) |
/// +--------------------+-------------------------------+
/// ```
struct AltStack {
    /// Start of the mapping (the guard page).
    base: *mut c_void,
    /// Length of the mapping: one page plus the usable size.
    len: usize,
    /// `ss_sp` as registered with `sigaltstack`: `base + page`.
    sp: *mut c_void,
}

impl AltStack {
    /// Maps a stack and registers it with `sigaltstack` for this thread.
    fn new() -> Option<AltStack> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|page| page.is_power_of_two())
            .unwrap_or(4096);
        let size = libc::SIGSTKSZ.max(64 * 1024).next_multiple_of(page);
        let len = page + size;
        // SAFETY: a new anonymous mapping at an address of the kernel's
        // choosing cannot overlap memory Rust code uses.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        // SAFETY: the first page of the mapping just made; nothing uses it.
        // If this fails, the stack merely has no guard.
        unsafe { libc::mprotect(base, page, libc::PROT_NONE) };
        let sp = base.wrapping_byte_add(page);
        let stack = libc::stack_t {
            ss_sp: sp,
            ss_flags: 0,
            ss_size: size,
        };
        // SAFETY: `stack` describes `size` writable bytes that stay mapped
        // until `AltStack::drop` has unregistered them.
        if unsafe { libc::sigaltstack(&stack, ptr::null_mut()) } != 0 {
            // SAFETY: the mapping was never registered nor used.
            unsafe { libc::munmap(base, len) };
            return None;
        }
        Some(AltStack { base, len, sp })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let current = current_altstack();
        if current.ss_sp == self.sp && current.ss_flags & libc::SS_DISABLE == 0 {
            let disable = libc::stack_t {
                ss_sp: ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: disabling the alternate stack has no memory
            // preconditions; it fails only while running on it (EPERM).
            if unsafe { libc::sigaltstack(&disable, ptr::null_mut()) } != 0 {
                // Still registered: leak it rather than unmap a live stack.
                return;
            }
        }
        // SAFETY: the mapping is ours and no longer registered as this
        // thread's alternate stack (disabled above or replaced by someone
        // else), so no signal frame can be placed on it.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::hint::black_box;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Output};

    /// Set in a child process re-running one test of this module; its value
    /// selects a variant of the test.
    const CHILD_ENV: &str = "GORO_OVERFLOW_TEST_CHILD";

    fn child_variant() -> Option<String> {
        std::env::var(CHILD_ENV).ok()
    }

    /// Re-runs test `name` of this module alone in a child process, passing
    /// `variant`, and waits for it.
    fn run_child(name: &str, variant: &str) -> Output {
        let module = module_path!()
            .split_once("::")
            .map_or(module_path!(), |(_, path)| path);
        let exe = std::env::current_exe().expect("path of the test binary");
        Command::new(exe)
            .args(["--exact", &format!("{module}::{name}"), "--nocapture"])
            .env(CHILD_ENV, variant)
            .output()
            .expect("spawn the child test process")
    }

    fn describe(output: &Output) -> String {
        format!(
            "child {:?}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    fn assert_signal(output: &Output, signal: c_int) {
        assert_eq!(output.status.signal(), Some(signal), "{}", describe(output));
    }

    /// Keeps a child that is about to crash from writing a core dump.
    fn disable_core_dumps() {
        let limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads a valid rlimit; it only affects this child.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit) };
    }

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap()
    }

    /// Maps one inaccessible page and returns its address range.
    fn inaccessible_page() -> Range<usize> {
        let page = page_size();
        // SAFETY: a fresh anonymous mapping at an address of the kernel's
        // choosing; it is never unmapped (the child dies).
        let addr = unsafe {
            libc::mmap(
                ptr::null_mut(),
                page,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANON,
                -1,
                0,
            )
        };
        assert_ne!(addr, libc::MAP_FAILED);
        addr.addr()..addr.addr() + page
    }

    /// Reads a byte at `addr`, which is meant to fault. Never returns.
    fn touch(addr: usize) -> ! {
        disable_core_dumps();
        // SAFETY: not sound to run to completion: the read is meant to fault
        // and the child process running it to die.
        unsafe { black_box(ptr::with_exposed_provenance::<u8>(addr).read_volatile()) };
        unreachable!("reading an inaccessible page did not fault");
    }

    fn running(guard: Range<usize>, name: Option<&str>) -> Running {
        Running {
            guard,
            stack_size: 256 * 1024,
            id: 42,
            name: name.map(Arc::from),
        }
    }

    #[test]
    fn guard_hit_reports_and_aborts() {
        let Some(variant) = child_variant() else {
            for (variant, name) in [("named", "pinger"), ("unnamed", "<unnamed>")] {
                let output = run_child("guard_hit_reports_and_aborts", variant);
                assert_signal(&output, libc::SIGABRT);
                let expected = format!(
                    "green thread '{name}' (id 42) has overflowed its stack (256 KiB); \
                     raise it with Builder::stack_size\n"
                );
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(stderr.contains(&expected), "{}", describe(&output));
            }
            return;
        };
        install();
        ensure_altstack();
        let guard = inaccessible_page();
        let running = running(guard.clone(), (variant == "named").then_some("pinger"));
        // SAFETY: `running` outlives the rest of this (never returning) test.
        unsafe { set_running(&running) };
        touch(guard.start + 100);
    }

    /// Faults that are not guard-page hits reach the previous disposition:
    /// `(variant, previous SIGSEGV disposition, how the fault comes, expected
    /// end)`, an end being a signal (`Err`) or an exit code (`Ok`).
    const CHAINED: [(&str, &str, Result<i32, c_int>); 7] = [
        ("std", "std's handler; fault", Err(libc::SIGSEGV)),
        ("siginfo", "SA_SIGINFO handler; fault", Ok(42)),
        ("plain", "plain handler; fault", Ok(43)),
        ("default", "SIG_DFL; fault", Err(libc::SIGSEGV)),
        ("ignore", "SIG_IGN; fault", Err(libc::SIGSEGV)),
        (
            "default-raise",
            "SIG_DFL; raise(SIGSEGV)",
            Err(libc::SIGSEGV),
        ),
        ("ignore-raise", "SIG_IGN; raise(SIGSEGV)", Ok(0)),
    ];

    #[test]
    fn fault_outside_the_guard_is_chained() {
        let Some(variant) = child_variant() else {
            for (variant, what, end) in CHAINED {
                let output = run_child("fault_outside_the_guard_is_chained", variant);
                let actual = output
                    .status
                    .code()
                    .ok_or(output.status.signal().unwrap_or(0));
                assert_eq!(actual, end, "{what}: {}", describe(&output));
                let stderr = String::from_utf8_lossy(&output.stderr);
                assert!(
                    !stderr.contains("overflowed"),
                    "{what}: {}",
                    describe(&output)
                );
            }
            return;
        };
        let siginfo: extern "C" fn(c_int, *mut siginfo_t, *mut c_void) = on_fault_siginfo;
        let plain: extern "C" fn(c_int) = on_fault_plain;
        match variant.as_str() {
            "siginfo" => set_previous(siginfo as libc::sighandler_t, libc::SA_SIGINFO),
            "plain" => set_previous(plain as libc::sighandler_t, 0),
            "default" | "default-raise" => set_previous(libc::SIG_DFL, 0),
            "ignore" | "ignore-raise" => set_previous(libc::SIG_IGN, 0),
            _ => {}
        }
        install();
        ensure_altstack();
        let guard = inaccessible_page();
        let running = running(guard, Some("pinger"));
        // SAFETY: `running` outlives every use of it in this test: it is
        // unpublished before it goes out of scope.
        unsafe { set_running(&running) };
        if variant.ends_with("-raise") {
            disable_core_dumps();
            // SAFETY: raise has no memory preconditions.
            unsafe { libc::raise(libc::SIGSEGV) };
            // SAFETY: null unpublishes `running`.
            unsafe { set_running(ptr::null()) };
            return;
        }
        touch(inaccessible_page().start);
    }

    /// Installs `handler` for SIGSEGV, as a program would before goro.
    fn set_previous(handler: libc::sighandler_t, flags: c_int) {
        // SAFETY: all-zero is a valid `sigaction`.
        let mut action: libc::sigaction = unsafe { mem::zeroed() };
        action.sa_sigaction = handler;
        action.sa_flags = flags;
        // SAFETY: `action` is initialised and `handler` has the signature
        // `flags` announces.
        let installed = unsafe { libc::sigaction(libc::SIGSEGV, &action, ptr::null_mut()) };
        assert_eq!(installed, 0);
    }

    extern "C" fn on_fault_siginfo(signal: c_int, info: *mut siginfo_t, _: *mut c_void) {
        // SAFETY: the kernel passed a valid `siginfo_t`.
        let code = unsafe { (*info).si_code };
        let status = if signal == libc::SIGSEGV && code > 0 {
            42
        } else {
            1
        };
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(status) }
    }

    extern "C" fn on_fault_plain(signal: c_int) {
        let status = if signal == libc::SIGSEGV { 43 } else { 1 };
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(status) }
    }

    /// A real overflow of a thread stack: the handler must run on an
    /// alternate stack and recognise the guard. Variant `ours`: the thread's
    /// std-provided alternate stack is disabled first, so only the one
    /// `ensure_altstack` maps can serve; variant `std`: the one std set up
    /// for the thread is kept (what workers spawned by std get).
    #[cfg(target_os = "linux")]
    #[test]
    fn real_overflow_runs_on_the_altstack() {
        let Some(variant) = child_variant() else {
            for variant in ["ours", "std"] {
                let output = run_child("real_overflow_runs_on_the_altstack", variant);
                assert_signal(&output, libc::SIGABRT);
                let stderr = String::from_utf8_lossy(&output.stderr);
                let expected = "green thread 'deep' (id 7) has overflowed its stack (128 KiB)";
                assert!(
                    stderr.contains(expected),
                    "{variant}: {}",
                    describe(&output)
                );
            }
            return;
        };
        install();
        let thread = std::thread::Builder::new()
            .stack_size(128 * 1024)
            .spawn(move || {
                if variant == "ours" {
                    let disable = libc::stack_t {
                        ss_sp: ptr::null_mut(),
                        ss_flags: libc::SS_DISABLE,
                        ss_size: 0,
                    };
                    // SAFETY: disabling has no memory preconditions.
                    let disabled = unsafe { libc::sigaltstack(&disable, ptr::null_mut()) };
                    assert_eq!(disabled, 0);
                }
                let before = current_altstack();
                ensure_altstack();
                let altstack = current_altstack();
                assert_eq!(altstack.ss_flags & libc::SS_DISABLE, 0);
                if variant == "ours" {
                    assert!(altstack.ss_size >= 64 * 1024);
                } else {
                    assert_eq!(altstack.ss_sp, before.ss_sp, "replaced std's altstack");
                }
                ensure_altstack();
                assert_eq!(current_altstack().ss_sp, altstack.ss_sp, "not idempotent");

                let running = Running {
                    guard: thread_guard(),
                    stack_size: 128 * 1024,
                    id: 7,
                    name: Some(Arc::from("deep")),
                };
                // SAFETY: `running` outlives the rest of this (never returning)
                // thread.
                unsafe { set_running(&running) };
                disable_core_dumps();
                recurse(0)
            });
        thread.unwrap().join().unwrap();
        unreachable!("the overflow did not abort");
    }

    /// The guard page range glibc placed below this thread's stack.
    #[cfg(target_os = "linux")]
    fn thread_guard() -> Range<usize> {
        // SAFETY: all-zero is a valid initial value; pthread_getattr_np fills
        // it, and it is destroyed below.
        let mut attr: libc::pthread_attr_t = unsafe { mem::zeroed() };
        let (mut addr, mut size, mut guard) = (ptr::null_mut(), 0, 0);
        // SAFETY: valid out-pointers for the calling thread's attributes.
        unsafe {
            assert_eq!(libc::pthread_getattr_np(libc::pthread_self(), &mut attr), 0);
            assert_eq!(libc::pthread_attr_getstack(&attr, &mut addr, &mut size), 0);
            assert_eq!(libc::pthread_attr_getguardsize(&attr, &mut guard), 0);
            libc::pthread_attr_destroy(&mut attr);
        }
        let guard = guard.max(page_size());
        addr.addr() - guard..addr.addr()
    }

    /// Recurses until the stack overflows.
    fn recurse(depth: u64) -> u64 {
        let frame = black_box([depth; 64]);
        if black_box(true) {
            recurse(depth + 1) + frame[0]
        } else {
            frame[1]
        }
    }

    #[test]
    fn decimal_formatting() {
        let mut out = StderrBuffer::new();
        for n in [0, 7, 10, 1024, u64::MAX] {
            out.push_decimal(n);
            out.push(b",");
        }
        assert_eq!(&out.bytes[..out.len], b"0,7,10,1024,18446744073709551615,");
    }
}
