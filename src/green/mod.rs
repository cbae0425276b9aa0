//! Green threads as users see them: spawning ([`spawn`], [`Builder`],
//! `go!`), joining ([`JoinHandle`]), scoped green threads ([`scope`]), and
//! the calls a green thread makes about itself ([`current`],
//! [`yield_now`], [`sleep`]).
//!
//! Invariant: every green thread's closure runs inside `Stage::run`, which
//! catches its panic and always stores a result, so a joiner never waits
//! for a result that cannot come.

pub(crate) mod gate;
mod join;
mod scope;

pub use self::join::JoinHandle;
pub(crate) use self::join::Stage;
pub use self::scope::{Scope, ScopedJoinHandle, scope};

use std::io;
use std::panic;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use crate::runtime::Shared;
use crate::runtime::parking;
use crate::runtime::task::{GreenId, WaitReason};
use crate::runtime::worker;

/// Spawns `f` on `shared`.
pub(crate) fn spawn_on<F, T>(
    shared: &Arc<Shared>,
    name: Option<String>,
    stack_size: Option<usize>,
    f: F,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let name = name.map(Arc::<str>::from);
    // SAFETY: `F` and `T` are 'static.
    let task = unsafe { crate::runtime::spawn_task(shared, name, stack_size, f)? };
    // SAFETY: the closure returns `T`.
    Ok(unsafe { JoinHandle::new(task) })
}

/// Spawns a green thread running `f` and returns its [`JoinHandle`].
///
/// On a green thread it joins the caller's runtime; elsewhere it uses the
/// global runtime, started on first use. `go!` is the macro form.
///
/// # Panics
/// If no stack can be mapped for it (see [`Builder::spawn`] for the
/// fallible form).
///
/// ```
/// let h = goro::spawn(|| "hello from a green thread");
/// assert_eq!(h.join().unwrap(), "hello from a green thread");
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match spawn_on(&crate::runtime::current_shared(), None, None, f) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

/// Configures one green thread before spawning it, like
/// [`std::thread::Builder`].
///
/// ```
/// let h = goro::Builder::new()
///     .name("parser".to_string())
///     .stack_size(1 << 20)
///     .spawn(|| goro::current().unwrap().name().map(String::from))
///     .unwrap();
/// assert_eq!(h.join().unwrap().as_deref(), Some("parser"));
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the runtime's default stack size.
    ///
    /// ```
    /// let h = goro::Builder::new().spawn(|| 1).unwrap();
    /// assert_eq!(h.join().unwrap(), 1);
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the green thread (shown in panic messages, stack-overflow
    /// reports and `Runtime::dump`).
    ///
    /// ```
    /// let h = goro::Builder::new().name("io".into()).spawn(|| ()).unwrap();
    /// assert_eq!(h.name(), Some("io"));
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the green thread's usable stack size in bytes (rounded up to
    /// whole pages; between 16 KiB and 1 GiB). Only touched pages cost
    /// memory.
    ///
    /// ```
    /// let h = goro::Builder::new().stack_size(4 << 20).spawn(|| {
    ///     let big = [1u8; 1 << 20]; // 1 MiB on the stack
    ///     big.iter().map(|&b| b as usize).sum::<usize>()
    /// });
    /// assert_eq!(h.unwrap().join().unwrap(), 1 << 20);
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns the green thread.
    ///
    /// # Errors
    /// `InvalidInput` for a stack size out of range; `OutOfMemory` when no
    /// stack can be mapped (the message names `vm.max_map_count` when that
    /// limit is the cause).
    ///
    /// ```
    /// let err = goro::Builder::new().stack_size(1).spawn(|| ()).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        spawn_on(
            &crate::runtime::current_shared(),
            self.name,
            self.stack_size,
            f,
        )
    }
}

/// A handle to the running green thread, from [`current`].
///
/// ```
/// let h = goro::Builder::new().name("me".into()).spawn(|| {
///     let g = goro::current().unwrap();
///     (g.id(), g.name().map(String::from))
/// }).unwrap();
/// let id = h.id();
/// assert_eq!(h.join().unwrap(), (id, Some("me".to_string())));
/// ```
#[derive(Debug, Clone)]
pub struct Green {
    id: GreenId,
    name: Option<Arc<str>>,
}

impl Green {
    /// The green thread's identifier.
    ///
    /// ```
    /// let id = goro::go!(|| goro::current().unwrap().id()).join().unwrap();
    /// assert!(id.as_u64() > 0);
    /// ```
    pub fn id(&self) -> GreenId {
        self.id
    }

    /// The green thread's name, if it has one.
    ///
    /// ```
    /// let n = goro::go!(|| goro::current().unwrap().name().is_none()).join().unwrap();
    /// assert!(n);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

/// The running green thread, or `None` on a plain OS thread.
///
/// ```
/// assert!(goro::current().is_none());
/// assert!(goro::go!(|| goro::current().is_some()).join().unwrap());
/// ```
pub fn current() -> Option<Green> {
    worker::with_current_task(|t| {
        t.map(|t| Green {
            id: t.id,
            name: t.name.clone(),
        })
    })
}

/// Lets the other runnable green threads of this worker run, then
/// continues. On a plain OS thread it calls [`std::thread::yield_now`].
///
/// During a runtime's shutdown it unwinds the green thread instead (see
/// [`crate::runtime::Runtime`]).
///
/// ```
/// goro::run(|| {
///     let h = goro::go!(|| 7);
///     while !h.is_finished() {
///         goro::yield_now();
///     }
///     assert_eq!(h.join().unwrap(), 7);
/// });
/// ```
pub fn yield_now() {
    match worker::yield_current() {
        None => std::thread::yield_now(),
        Some(false) => {}
        Some(true) => parking::unwind_for_shutdown(),
    }
}

/// Blocks the caller for at least `dur`: a green thread parks (its worker
/// runs others meanwhile), an OS thread sleeps. A green thread gives its
/// worker up even for a zero or already elapsed `dur` (it yields), so a
/// loop polling with a tiny sleep (Go's `for !done { time.Sleep(1) }`)
/// lets the other green threads of its worker run.
///
/// ```
/// let t = std::time::Instant::now();
/// goro::go!(|| goro::sleep(std::time::Duration::from_millis(5))).join().unwrap();
/// assert!(t.elapsed() >= std::time::Duration::from_millis(5));
/// ```
pub fn sleep(dur: Duration) {
    match Instant::now().checked_add(dur) {
        Some(deadline) => sleep_until(deadline),
        None => loop {
            parking::park(WaitReason::Sleep);
        },
    }
}

/// Blocks the caller until `deadline`: a green thread parks (or yields, if
/// `deadline` has passed), an OS thread sleeps.
///
/// ```
/// let deadline = std::time::Instant::now() + std::time::Duration::from_millis(5);
/// goro::go!(move || goro::sleep_until(deadline)).join().unwrap();
/// assert!(std::time::Instant::now() >= deadline);
/// ```
pub fn sleep_until(deadline: Instant) {
    if crate::current().is_none() {
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        return;
    }
    if Instant::now() >= deadline {
        crate::yield_now();
        return;
    }
    while Instant::now() < deadline {
        parking::park_until(deadline, WaitReason::Sleep);
    }
}

/// Installs (once per process) a panic hook that reports panics of green
/// threads the way std reports thread panics, naming the green thread, and
/// passes every other panic to the hook that was installed before. A hook
/// the user installed before (not std's default, which would name the
/// worker's OS thread) gets the panics of green threads too, as it would
/// those of std threads, instead of goro's report.
pub(crate) fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let prev = panic::take_hook();
        // `take_hook` leaves std's default hook installed, so this second
        // call returns the default: the same boxed function, so the same
        // address and vtable, exactly when `prev` is the default too.
        let default = panic::take_hook();
        let prev_is_default = std::ptr::eq(&*prev, &*default);
        drop(default);
        panic::set_hook(Box::new(move |info| match crate::current() {
            None => prev(info),
            Some(g) => {
                // This green thread starts unwinding (see
                // `parking::unwinding_here`).
                crate::runtime::worker::with_current_task(|t| {
                    if let Some(t) = t {
                        t.set_unwinding(true);
                    }
                });
                if !prev_is_default {
                    prev(info);
                    return;
                }
                let msg = if let Some(s) = info.payload().downcast_ref::<&str>() {
                    s
                } else if let Some(s) = info.payload().downcast_ref::<String>() {
                    s.as_str()
                } else {
                    "Box<dyn Any>"
                };
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                let name = g.name().unwrap_or("<unnamed>");
                let bt = std::backtrace::Backtrace::capture();
                let bt = match bt.status() {
                    std::backtrace::BacktraceStatus::Captured => format!("stack backtrace:\n{bt}"),
                    _ => "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace"
                        .to_string(),
                };
                eprintln!(
                    "green thread '{name}' (id {}) panicked at {location}:\n{msg}\n{bt}",
                    g.id()
                );
            }
        }));
    });
}
