//! Stacks for green threads, carved from `mmap`'d slabs and recycled through a
//! two-level pool.
//!
//! # Layout
//!
//! A slab is one anonymous mapping (`PROT_READ | PROT_WRITE`, `MAP_PRIVATE |
//! MAP_ANONYMOUS | MAP_NORESERVE`) of about [`SLAB_BYTES`], cut into `n >= 1`
//! stacks of one usable size. Each stack is a guard page followed by its
//! usable bytes:
//!
//! ```text
//! slab base                                                        slab end
//! |<-page->|<---- size ---->|<-page->|<---- size ---->|     |<---- size ---->|
//! +--------+----------------+--------+----------------+ ... +----------------+
//! | guard0 |     stack 0    | guard1 |     stack 1    |     |   stack n-1    |
//! +--------+----------------+--------+----------------+ ... +----------------+
//!          ^bottom0         ^top0
//! ```
//!
//! One stack, seen from a green thread running on it:
//!
//! ```text
//!   high addresses
//!   top ---------> +--------------------------+ one past the highest usable byte,
//!                  | entry frame              | page-aligned (so 16-aligned)
//!                  | ...                      | the stack grows down from `top`
//!                  | v                        |
//!   bottom ------> +--------------------------+ lowest usable byte
//!                  | guard page: any access   | a frame that grows past `bottom`
//!                  | faults (SIGSEGV)         | faults here; overflow.rs reports it
//!   guard.start -> +--------------------------+
//!   low addresses
//! ```
//!
//! The guard of stack `i + 1` also sits just above `top` of stack `i`, so a
//! write above `top` faults too (except above the last stack of a slab).
//!
//! # Guard pages
//!
//! On Linux 6.13+ a guard is installed with `madvise(MADV_GUARD_INSTALL)`: a
//! marker in the page tables, not a new memory mapping (VMA), so a million
//! stacks stay far below the kernel's default `vm.max_map_count` of 65530.
//! A fresh slab's guards go in together, through vectored
//! `process_madvise` calls on the calling thread's own pidfd, when the
//! kernel takes them. If
//! the kernel answers `EINVAL` (older kernel; `EPERM`/`ENOSYS` from a sandbox
//! are treated alike), the process switches for good to `mprotect(PROT_NONE)`
//! guards, which split the slab's mapping: two mappings per stack, hence a
//! limit of roughly 32,000 stacks with the default `vm.max_map_count`, and an
//! error naming that sysctl when it is reached. Setting the environment
//! variable `GORO_STACK_GUARD=mprotect` (read once, when the first slab is
//! carved) forces the `mprotect` mode; other values are ignored. Platforms
//! other than Linux always use `mprotect`.
//!
//! # Invariants
//!
//! 1. Every stack ever handed out has its guard page installed; the guard is
//!    installed once, when the slab is carved, and never removed: slabs are
//!    never unmapped (they are reused through the pool), and `MADV_DONTNEED`
//!    covers a guard page only in `MADV_GUARD_INSTALL` mode, where the guard
//!    survives it (runs of adjacent free stacks are scrubbed at once); an
//!    `mprotect` guard is never touched.
//! 2. Each stack is in exactly one place (the warm tier counts as part of the
//!    global pool): a live [`Stack`] (counted by
//!    [`live_stacks`]), one thread's local cache, or the global pool.
//! 3. All stacks in one bin of the pool have that bin's usable size.
//! 4. Stacks in the global pool hold no resident pages unless they were never
//!    touched: they are `MADV_DONTNEED`'d on their way there. Stacks in a
//!    local cache or in the global warm tier (`WARM`, capped at
//!    `WARM_FORCED_BYTES` of estimated resident bytes, [`warm_cost`]) may
//!    still hold dirty pages; they are reused warm.
//!
//! # Pool protocol
//!
//! `acquire(size)`:
//! 1. pop from this thread's local cache (no syscall, no lock, no allocation);
//! 2. else take up to [`BATCH`] stacks from the warm tier, else from the
//!    global pool, under its lock; keep one, put the rest in the local cache;
//! 3. else carve a new slab: keep its first stack, put up to [`BATCH`] more in
//!    the local cache and the rest in the global pool.
//!
//! `release(stack)`:
//! 1. push onto this thread's local cache;
//! 2. if that size's local bin now holds more than [`LOCAL_HIGH_WATERMARK`]
//!    stacks, move its [`BATCH`] oldest stacks out: untouched ones to the
//!    global pool, touched ones to the warm tier. Once a scavenging
//!    interval ([`SCAVENGE_AGE`]) is over, the stacks worth what sat in the
//!    tier unused through all of it, beyond its soft budget, are scrubbed
//!    (sorted, adjacent stacks merged into runs, one `MADV_DONTNEED` per
//!    run) into the global pool; past `WARM_FORCED_BYTES`, all of it.
//!
//! `trim()`, called by idle workers, scrubs the warm tier the same way once
//! nobody has used it for [`SCAVENGE_AGE`] (Go's scavenger returns freed
//! stack memory lazily too), or once an interval is over. Never in the
//! middle of a burst: a program that spawns a burst of green threads again
//! and again reuses their warm stacks instead of faulting their pages in
//! each time, and a `close` that wakes a million green threads pays no
//! `MADV_DONTNEED` (a TLB shootdown across the workers) while they finish.
//!
//! When a thread exits, its local cache is `MADV_DONTNEED`'d and moved to the
//! global pool. If the local cache is unavailable (during thread-local
//! destruction), both operations go straight to the global pool.

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::ffi::c_void;
use std::fmt;
use std::io;
use std::ops::Range;
use std::ptr::{self, NonNull};
// This module is not loom-modelled (it is compiled out under `cfg(loom)`), so
// it uses std and parking_lot directly rather than the `crate::loom` facade.
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

/// Usable bytes of a green thread's stack unless the user picks a size; the
/// guard page comes on top.
pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;
/// Smallest usable stack size accepted by [`validate_size`].
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;
/// Largest usable stack size accepted by [`validate_size`]: 1 GiB, Go's limit.
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

/// Target size of one slab: `SLAB_BYTES / (size + page)` stacks, at least one
/// and at most [`SLAB_STACKS`]. 64 MiB gives 252 default-size stacks per
/// `mmap`; with `MAP_NORESERVE` it costs address space only until pages are
/// touched. Fewer, larger slabs matter when green threads are spawned by
/// the hundred thousand: a new mapping next to the last one extends its
/// memory area, which waits for every page fault in flight there (the
/// other workers touching their new stacks), so each `mmap` costs far more
/// than its own work.
const SLAB_BYTES: usize = 64 << 20;
/// Most stacks in one slab (the guards of a slab are all installed when it
/// is carved: this bounds that first spawn's work for small stacks).
const SLAB_STACKS: usize = 256;
/// Most free stacks of one size a thread keeps in its local cache; one more
/// release spills [`BATCH`] of them to the global pool.
const LOCAL_HIGH_WATERMARK: usize = 64;
/// Stacks moved at once between a local cache and the global pool.
const BATCH: usize = LOCAL_HIGH_WATERMARK / 2;

/// Environment variable that forces `mprotect` guard pages when set to
/// `mprotect`.
const GUARD_ENV: &str = "GORO_STACK_GUARD";
/// `madvise` advice of Linux 6.13+: make the range fault on any access,
/// without a new VMA (not in every `libc` release yet).
#[cfg(any(target_os = "linux", target_os = "android"))]
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// [`GUARD_MODE`]: nobody has carved a slab yet.
const MODE_UNDECIDED: u8 = 0;
/// [`GUARD_MODE`]: guards are `madvise(MADV_GUARD_INSTALL)` markers.
const MODE_GUARD_INSTALL: u8 = 1;
/// [`GUARD_MODE`]: guards are `mprotect(PROT_NONE)` pages (two VMAs a stack).
const MODE_MPROTECT: u8 = 2;

/// How guard pages are installed, process-wide. Moves only forward:
/// `UNDECIDED -> GUARD_INSTALL -> MPROTECT` or `UNDECIDED -> MPROTECT`.
/// Relaxed is enough: every value is a complete answer on its own.
static GUARD_MODE: AtomicU8 = AtomicU8::new(MODE_UNDECIDED);
/// The page size, 0 until first read from `sysconf`.
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
/// Number of [`Stack`]s handed out by [`acquire`] and not yet [`release`]d,
/// in shards: each thread counts in its own (see [`live_shard`]), so the
/// spawning worker and the one finishing the green thread do not pass one
/// cache line back and forth at every spawn. A shard may go negative (a
/// stack acquired on one thread and released on another); the sum is the
/// count.
static LIVE: [CachePadded<AtomicIsize>; LIVE_SHARDS] =
    [const { CachePadded::new(AtomicIsize::new(0)) }; LIVE_SHARDS];
/// Shards of [`LIVE`]: threads beyond this many share them.
const LIVE_SHARDS: usize = 8;
/// Hands shards of [`LIVE`] to threads in turn.
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's shard of [`LIVE`], picked at first use.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard of [`LIVE`] (the first shard during thread-local
/// destruction).
fn live_shard() -> &'static AtomicIsize {
    let i = SHARD
        .try_with(|s| {
            if s.get() == usize::MAX {
                s.set(NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % LIVE_SHARDS);
            }
            s.get()
        })
        .unwrap_or(0);
    &LIVE[i]
}
/// Free stacks shared by all threads. Never dropped, so usable at any point
/// of process exit. Lock order: a thread's local cache is borrowed (if at
/// all) before this lock is taken; no syscall runs under it.
static GLOBAL: Mutex<Bins> = Mutex::new(Bins::new());
/// Free stacks that may still hold touched pages, passed between threads
/// without `MADV_DONTNEED` (a green thread spawned on one worker and
/// finished on another moves its stack this way in every spawn-heavy
/// program). Holds at most [`WARM_FORCED_BYTES`] of estimated resident
/// bytes. Lock order: after the local cache, never together with
/// [`GLOBAL`].
static WARM: Mutex<Warm> = Mutex::new(Warm::new());

/// The global warm tier. Its budgets are parameters, so unit tests can
/// exercise them on a value of their own.
struct Warm {
    /// Touched free stacks.
    bins: Bins,
    /// The sum of their [`warm_cost`]s.
    cost: usize,
    /// When a stack last went in or out, `None` once scrubbed.
    last_used: Option<Instant>,
    /// When the current scavenging interval began (the first `put` into an
    /// empty tier, then each [`Warm::scavenge`]); `None` while empty.
    mark: Option<Instant>,
    /// The least `cost` since `mark`: what sat in the tier, unused, for the
    /// whole interval.
    low: usize,
}

/// What [`Warm::trim`] decided.
enum Trim {
    /// Within the soft budget: nothing to do.
    Keep,
    /// Over it but used recently: ask again at this instant.
    Wait(Instant),
    /// Over it and unused for [`SCAVENGE_AGE`]: these stacks (the whole
    /// tier, now empty) are to be scrubbed.
    Scrub(Bins),
}

impl Warm {
    const fn new() -> Warm {
        Warm {
            bins: Bins::new(),
            cost: 0,
            last_used: None,
            mark: None,
            low: 0,
        }
    }

    /// Takes up to `out.len()` stacks of usable `size` into `out`; how many.
    fn take(&mut self, size: usize, out: &mut [usize], now: Instant) -> usize {
        let n = self.bins.take(size, out);
        if n > 0 {
            // Every stack here is touched (`put` takes only those).
            self.cost -= n * warm_cost(size);
            self.low = self.low.min(self.cost);
            self.last_used = Some(now);
        }
        n
    }

    /// Adds touched stacks of usable `size`. Returns stacks for the caller
    /// to scrub: everything past the `forced` budget (a safety net: the
    /// tier only ever holds stacks that were live together, see
    /// [`WARM_FORCED_BYTES`]), else, once a scavenging interval is over,
    /// what sat unused through it ([`Warm::scavenge`], at most once per
    /// [`SCAVENGE_AGE`]: a busy program that churns green threads below an
    /// old peak gives the difference back without ever idling).
    fn put(
        &mut self,
        size: usize,
        touched: impl Iterator<Item = usize>,
        now: Instant,
        soft: usize,
        forced: usize,
    ) -> Option<Bins> {
        if self.mark.is_none() {
            (self.mark, self.low) = (Some(now), self.cost);
        }
        let bin = self.bins.bin_mut(size, 0);
        let before = bin.len();
        bin.extend(touched);
        self.cost += (bin.len() - before) * warm_cost(size);
        self.last_used = Some(now);
        if self.cost > forced {
            return Some(self.empty());
        }
        self.scavenge(now, soft)
    }

    /// Whether to scrub at `now`, with the `soft` budget: everything once
    /// the tier has sat unused for [`SCAVENGE_AGE`], or what sat unused
    /// through a whole scavenging interval beyond `soft`
    /// ([`Warm::scavenge`]). Never during a burst: stacks that finish
    /// together stay warm (a `close` waking a million green threads spent
    /// two thirds of its time in `MADV_DONTNEED` when a budget forced it).
    fn trim(&mut self, now: Instant, soft: usize) -> Trim {
        if self.cost <= soft {
            return Trim::Keep;
        }
        if self
            .last_used
            .is_some_and(|used| now >= used + SCAVENGE_AGE)
        {
            return Trim::Scrub(self.empty());
        }
        if let Some(bins) = self.scavenge(now, soft) {
            return Trim::Scrub(bins);
        }
        self.due(soft).map_or(Trim::Keep, Trim::Wait)
    }

    /// When [`Warm::trim`] may next find something to give back with the
    /// `soft` budget: the end of the scavenging interval or of a second
    /// unused, whichever comes first; `None` within the soft budget.
    fn due(&self, soft: usize) -> Option<Instant> {
        if self.cost <= soft {
            return None;
        }
        let used = self.last_used? + SCAVENGE_AGE;
        Some(self.mark.map_or(used, |mark| used.min(mark + SCAVENGE_AGE)))
    }

    /// Ends the scavenging interval if it is [`SCAVENGE_AGE`] old: takes
    /// out the oldest stacks worth what sat unused through all of it
    /// (`low`) beyond `soft`, for the caller to scrub, and starts the next
    /// interval. `None` if the interval is not over or nothing is due.
    fn scavenge(&mut self, now: Instant, soft: usize) -> Option<Bins> {
        let mark = self.mark?;
        if now < mark + SCAVENGE_AGE {
            return None;
        }
        let due = self.low.saturating_sub(soft);
        let out = self.bins.take_oldest(due);
        self.cost -= out.1;
        (self.mark, self.low) = (Some(now), self.cost);
        (out.1 > 0).then_some(out.0)
    }

    /// Takes every stack out.
    fn empty(&mut self) -> Bins {
        self.cost = 0;
        self.last_used = None;
        (self.mark, self.low) = (None, 0);
        std::mem::replace(&mut self.bins, Bins::new())
    }
}

/// Bit 0 of a pool entry: the stack may hold touched pages. Entries are
/// page-aligned `bottom` addresses, so the bit is free.
const TOUCHED: usize = 1;

/// What a touched free stack is assumed to hold resident: most green
/// threads touch only their stack's top page or two, whatever its size.
/// A stack used deeper holds more until it is reused or scrubbed; those
/// pages were resident while it ran, and [`trim`] bounds how long the
/// pool keeps them.
const WARM_STACK_ESTIMATE: usize = 8 << 10;
/// Soft budget of the global warm tier, in estimated resident bytes
/// ([`warm_cost`]; 8,192 default-size stacks): what the pool keeps warm
/// beyond the local caches through a scavenging interval
/// ([`Warm::scavenge`]) while it is in use; once no worker has used it for
/// [`SCAVENGE_AGE`], [`trim`] scrubs it all.
const WARM_BYTES: usize = 64 << 20;
/// Past this many estimated resident bytes (2,097,152 default-size stacks)
/// the spilling thread scrubs the whole warm tier at once, however recent
/// its use. A safety net only: the tier holds stacks that were live
/// together (a new green thread takes a warm stack before a clean one), so
/// it never holds more than a past peak of the program did, and it gives
/// that back within one or two [`SCAVENGE_AGE`]s once the peak is over.
const WARM_FORCED_BYTES: usize = 256 * WARM_BYTES;
/// The length of a scavenging interval: the warm tier gives back, past its
/// soft budget, what sat unused through a whole interval, and all of it
/// once unused for this long ([`trim`]).
const SCAVENGE_AGE: Duration = Duration::from_secs(1);

/// A touched free stack's share of the warm tier's budgets.
fn warm_cost(size: usize) -> usize {
    size.min(WARM_STACK_ESTIMATE)
}

thread_local! {
    /// This thread's free stacks. Its destructor hands them to [`GLOBAL`].
    static LOCAL: RefCell<LocalCache> = const { RefCell::new(LocalCache(Bins::new())) };
}

/// Checks a requested usable stack size and rounds it up to whole pages.
///
/// Returns `ErrorKind::InvalidInput` below [`MIN_STACK_SIZE`] or above
/// [`MAX_STACK_SIZE`].
pub(crate) fn validate_size(size: usize) -> io::Result<usize> {
    if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&size) {
        return Err(size_error(size));
    }
    // MAX_STACK_SIZE is a multiple of any page size up to 1 GiB, so this stays
    // within bounds.
    Ok(size.next_multiple_of(page_size()))
}

/// The error of a size outside `[MIN_STACK_SIZE, MAX_STACK_SIZE]`, or (from
/// `acquire`) not a page multiple.
#[cold]
fn size_error(size: usize) -> io::Error {
    let mut message = format!(
        "invalid green thread stack size of {size} bytes: it must be between \
         {MIN_STACK_SIZE} bytes (16 KiB) and {MAX_STACK_SIZE} bytes (1 GiB)"
    );
    if (MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&size) {
        message.push_str(", rounded up to whole pages by validate_size");
    }
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

// ===== impl Stack =====

/// One green thread stack, owned until it is passed to [`release`].
///
/// Dropping a `Stack` instead leaks it (it stays mapped and counted by
/// [`live_stacks`]): freeing memory a coroutine may still run on is not
/// something a safe `drop` can decide.
#[derive(Debug)]
pub(crate) struct Stack {
    /// Lowest usable byte, page-aligned. The guard page is the page just
    /// below; the pointer carries the provenance of the slab's mapping.
    bottom: NonNull<u8>,
    /// Usable bytes from `bottom` up to `top`: a page multiple within
    /// `[MIN_STACK_SIZE, MAX_STACK_SIZE]`.
    size: usize,
    /// Whether the stack may hold touched pages (something ran on it since
    /// it was last mapped or discarded). Untouched stacks never need
    /// `MADV_DONTNEED`.
    touched: bool,
}

// SAFETY: a `Stack` is the only handle to its memory (invariant 2: a stack is
// in exactly one place), which is plain anonymous memory with no affinity to
// the thread that mapped it. Moving the handle to another thread therefore
// moves sole ownership of the range, as moving a `Box<[u8]>` would. What runs
// on the stack is the coroutine's business (it is pinned to its worker once
// started); the handle itself holds no thread-bound state.
unsafe impl Send for Stack {}

impl Stack {
    /// Wraps the free stack whose lowest usable byte is at `bottom`.
    ///
    /// The caller has just removed it from the pool (or carved it), so this
    /// value becomes its one owner (invariant 2).
    fn from_pool(entry: usize, size: usize) -> Stack {
        let touched = entry & TOUCHED != 0;
        let bottom = ptr::with_exposed_provenance_mut::<u8>(entry & !TOUCHED);
        // A usable range starts one page above its slab's base, never at 0.
        let Some(bottom) = NonNull::new(bottom) else {
            unreachable!("a pooled stack at address 0")
        };
        Stack {
            bottom,
            size,
            touched,
        }
    }

    /// The pool entry for this stack: its bottom address, tagged.
    fn entry(&self) -> usize {
        self.bottom.as_ptr().expose_provenance() | usize::from(self.touched)
    }

    /// One past the highest usable byte; page-aligned, hence 16-aligned.
    pub(crate) fn top(&self) -> *mut u8 {
        // `wrapping_add` stays within the slab's mapping (one past the usable
        // range), so this is the same pointer `add` would give.
        self.bottom.as_ptr().wrapping_add(self.size)
    }

    /// Lowest usable byte; the guard page is just below.
    pub(crate) fn bottom(&self) -> *mut u8 {
        self.bottom.as_ptr()
    }

    /// Usable size in bytes (`top - bottom`), a page multiple.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// The address range of the guard page just below [`Stack::bottom`].
    pub(crate) fn guard(&self) -> Range<usize> {
        let bottom = self.bottom.as_ptr().addr();
        bottom - page_size()..bottom
    }
}

// ===== pool =====

/// Takes a stack of exactly `size` usable bytes from the pool, mapping a new
/// slab if needed.
///
/// `size` must come from [`validate_size`] (a page multiple within bounds);
/// anything else is `ErrorKind::InvalidInput`. Mapping failures are
/// `ErrorKind::OutOfMemory`, with a message naming the size (and
/// `vm.max_map_count` when that limit is the likely cause) and the OS error
/// as `source`.
pub(crate) fn acquire(size: usize) -> io::Result<Stack> {
    if size & (page_size() - 1) != 0 || !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&size) {
        return Err(size_error(size));
    }
    let cached = LOCAL
        .try_with(|local| local.try_borrow_mut().ok()?.0.pop(size))
        .ok()
        .flatten();
    let bottom = match cached {
        Some(bottom) => bottom,
        None => acquire_slow(size)?,
    };
    live_shard().fetch_add(1, Ordering::Relaxed);
    Ok(Stack::from_pool(bottom, size))
}

/// Steps 2 and 3 of `acquire`: the local cache has no stack of `size`.
#[cold]
fn acquire_slow(size: usize) -> io::Result<usize> {
    let mut batch = [0usize; BATCH];
    let now = Instant::now();
    let mut taken = WARM.lock().take(size, &mut batch, now);
    if taken == 0 {
        taken = GLOBAL.lock().take(size, &mut batch);
    }
    if let Some((&first, rest)) = batch[..taken].split_first() {
        stash(size, rest.iter().copied());
        return Ok(first);
    }
    carve(size)
}

/// Gives a stack back to the pool.
///
/// # Safety
///
/// No frame on the stack is live, and nothing will ever again run on it
/// through a context that predates this call: the pool may hand the stack to
/// another green thread, or discard its contents with `MADV_DONTNEED`.
pub(crate) unsafe fn release(mut stack: Stack) {
    stack.touched = true;
    // SAFETY: forwarded contract.
    unsafe { release_unused(stack) }
}

/// Gives back a stack that nothing ran on since [`acquire`] returned it; it
/// keeps its touched flag, so an untouched stack goes back without a
/// syscall.
///
/// # Safety
///
/// No code ever ran on the stack since `acquire`, and no context made on it
/// will ever be resumed.
pub(crate) unsafe fn release_unused(stack: Stack) {
    let (entry, size) = (stack.entry(), stack.size);
    live_shard().fetch_sub(1, Ordering::Relaxed);
    let cached = LOCAL
        .try_with(|local| {
            let Ok(mut local) = local.try_borrow_mut() else {
                return false;
            };
            let bin = local.0.bin_mut(size, LOCAL_HIGH_WATERMARK + 1);
            bin.push(entry);
            if bin.len() > LOCAL_HIGH_WATERMARK {
                spill(size, bin);
            }
            true
        })
        .unwrap_or(false);
    if !cached {
        let clean = discard_pages(entry, size);
        GLOBAL.lock().bin_mut(size, 0).push(clean);
    }
}

/// Trades a never-run stack for a touched one of the same size from this
/// thread's local cache, if its most recently released stack is touched.
///
/// A worker calls this just before a green thread's first resume: the stack
/// it runs on is then one whose top pages are already resident (most often
/// the stack of the green thread that just finished here), and the
/// untouched stack goes back to the pool at no cost. So spawn-heavy
/// programs reuse a few hot stacks instead of faulting in fresh pages.
pub(crate) fn swap_for_hot(stack: Stack) -> Stack {
    if stack.touched {
        return stack;
    }
    let size = stack.size;
    let hot = LOCAL
        .try_with(|local| {
            let mut local = local.try_borrow_mut().ok()?;
            let bin = local.0.bin_mut(size, LOCAL_HIGH_WATERMARK + 1);
            match bin.last_mut() {
                Some(top) if *top & TOUCHED != 0 => Some(std::mem::replace(top, stack.entry())),
                _ => None,
            }
        })
        .ok()
        .flatten();
    match hot {
        // The cache now holds `stack`'s entry: forget the handle (a
        // `Stack` has no destructor; ownership moved to the pool).
        Some(entry) => Stack::from_pool(entry, size),
        None => stack,
    }
}

/// Stacks handed out by [`acquire`] and not yet [`release`]d (for leak tests).
pub(crate) fn live_stacks() -> usize {
    let sum: isize = LIVE.iter().map(|s| s.load(Ordering::Relaxed)).sum();
    sum.max(0) as usize
}

/// Step 2 of `release`: moves the [`BATCH`] oldest stacks of a local `bin`
/// (all of usable `size`) out: untouched ones to the global pool as they
/// are, touched ones to the warm tier. The spilling thread scrubs what
/// `Warm::put` hands back ([`scrub`]).
#[cold]
fn spill(size: usize, bin: &mut Vec<usize>) {
    let mut batch = [0usize; BATCH];
    for (slot, entry) in batch.iter_mut().zip(bin.drain(..BATCH)) {
        *slot = entry;
    }
    let touched = batch.iter().filter(|&&e| e & TOUCHED != 0).count();
    if touched < BATCH {
        GLOBAL
            .lock()
            .bin_mut(size, 0)
            .extend(batch.iter().filter(|&&e| e & TOUCHED == 0));
    }
    if touched == 0 {
        return;
    }
    let warm = batch.iter().copied().filter(|&e| e & TOUCHED != 0);
    let now = Instant::now();
    let due = with_warm(|w| w.put(size, warm, now, WARM_BYTES, WARM_FORCED_BYTES));
    if let Some(bins) = due {
        scrub(bins);
    }
}

/// Runs `f` on the warm tier under its lock, then publishes when it is
/// next due ([`SCAVENGE_DUE`]). `put` and `trim` go through here; a
/// `take` only lowers the cost, which at worst leaves an early value.
fn with_warm<R>(f: impl FnOnce(&mut Warm) -> R) -> R {
    let mut warm = WARM.lock();
    let r = f(&mut warm);
    let due = warm.due(WARM_BYTES).map_or(u64::MAX, nanos_since_epoch);
    SCAVENGE_DUE.store(due, Ordering::Relaxed);
    r
}

/// When the warm tier may next have stacks to give back ([`Warm::due`]),
/// in nanoseconds since [`epoch`]; `u64::MAX` while it holds no more than
/// its soft budget. Published under the `WARM` lock ([`with_warm`]);
/// read without it by busy workers ([`trim_if_due`]). A stale value only
/// costs an early [`trim`] call, which publishes a fresh one.
static SCAVENGE_DUE: AtomicU64 = AtomicU64::new(u64::MAX);

/// The origin of [`SCAVENGE_DUE`]'s clock.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX - 1)
}

/// For a worker that keeps finding work (so never reaches [`trim`] on its
/// way to sleep), called every 61 picks (the worker's global poll): trims
/// the warm tier if it is due. Without it, a program whose workers stay
/// busy and start or end no green thread kept a past burst's stacks for
/// good. One relaxed load while the tier is within its soft budget.
#[inline]
pub(crate) fn trim_if_due() {
    let due = SCAVENGE_DUE.load(Ordering::Relaxed);
    if due != u64::MAX && nanos_since_epoch(Instant::now()) >= due {
        trim_now();
    }
}

#[cold]
#[inline(never)]
fn trim_now() {
    let _ = trim();
}

/// Scrubs the warm tier when it is due ([`Warm::trim`]): all of it once
/// unused for [`SCAVENGE_AGE`], or what sat unused through a scavenging
/// interval past the soft budget. Workers call it when they run out of
/// work, before they sleep; if the tier is over its soft budget but in use,
/// it returns when to call again.
pub(crate) fn trim() -> Option<Instant> {
    match with_warm(|w| w.trim(Instant::now(), WARM_BYTES)) {
        Trim::Keep => None,
        Trim::Wait(due) => Some(due),
        Trim::Scrub(bins) => {
            scrub(bins);
            None
        }
    }
}

/// Drops the pages of every touched stack in `bins` and moves them all to
/// the global pool. Stacks carved from one slab are adjacent, so after a
/// sort most of them merge into long runs: one `MADV_DONTNEED` (one TLB
/// shootdown) per run instead of one per stack. A run spans the guard pages
/// between its stacks only in `MADV_GUARD_INSTALL` mode, where guards
/// survive `MADV_DONTNEED`; in the `mprotect` mode every stack is its own
/// run (invariant 1).
fn scrub(mut bins: Bins) {
    let page = page_size();
    let merge = guard_mode() == MODE_GUARD_INSTALL;
    for bin in &mut bins.bins {
        bin.free.sort_unstable();
        let stride = bin.size + page;
        let mut run: Option<(usize, usize)> = None; // (first bottom, length)
        for &entry in bin.free.iter().filter(|&&e| e & TOUCHED != 0) {
            let bottom = entry & !TOUCHED;
            run = match run {
                Some((start, len)) if merge && start + len + page == bottom => {
                    Some((start, len + stride))
                }
                Some((start, len)) => {
                    discard_range(start, len);
                    Some((bottom, bin.size))
                }
                None => Some((bottom, bin.size)),
            };
        }
        if let Some((start, len)) = run {
            discard_range(start, len);
        }
        for entry in &mut bin.free {
            *entry &= !TOUCHED;
        }
    }
    let mut global = GLOBAL.lock();
    for bin in bins.bins.drain(..) {
        global.bin_mut(bin.size, 0).extend(bin.free);
    }
}

/// Puts free stacks of usable `size` in this thread's local cache, or in the
/// global pool if the local cache is unavailable.
fn stash(size: usize, bottoms: impl Iterator<Item = usize>) {
    let mut bottoms = Some(bottoms);
    let _ = LOCAL.try_with(|local| {
        if let Ok(mut local) = local.try_borrow_mut() {
            if let Some(bottoms) = bottoms.take() {
                local
                    .0
                    .bin_mut(size, LOCAL_HIGH_WATERMARK + 1)
                    .extend(bottoms);
            }
        }
    });
    if let Some(bottoms) = bottoms {
        GLOBAL.lock().bin_mut(size, 0).extend(bottoms);
    }
}

/// Releases the physical pages of a pooled stack's usable range if it is
/// touched (the guard page below `bottom` is left alone); returns the entry
/// of the now clean stack.
fn discard_pages(entry: usize, size: usize) -> usize {
    let bottom = entry & !TOUCHED;
    if entry & TOUCHED != 0 {
        discard_range(bottom, size);
    }
    bottom
}

/// `MADV_DONTNEED` on `[start, start + len)`: usable ranges of free stacks,
/// and in `MADV_GUARD_INSTALL` mode the guard pages between adjacent ones.
fn discard_range(bottom: usize, size: usize) {
    // SAFETY: `[bottom, bottom + size)` covers usable ranges of stacks that
    // are in the pool or on their way there (and, in `MADV_GUARD_INSTALL`
    // mode only, the guard pages between them, which survive this advice):
    // mapped (slabs are never unmapped), and by `release`'s contract nothing
    // runs on them or reads them any more, so replacing their contents with
    // zero pages is unobservable. An `mprotect` guard is never inside the
    // range (invariant 1). A failure only means the pages stay resident.
    unsafe {
        libc::madvise(
            ptr::with_exposed_provenance_mut::<c_void>(bottom),
            size,
            libc::MADV_DONTNEED,
        );
    }
}

/// Free stacks grouped by usable size: one bin per size, a handful of sizes
/// in practice, so lookups scan linearly.
struct Bins {
    /// Each bin's `free` holds the `bottom` addresses of free stacks of
    /// exactly `size` usable bytes, oldest first (invariant 3).
    bins: Vec<Bin>,
}

/// The free stacks of one usable size.
struct Bin {
    /// Usable bytes of every stack in `free`.
    size: usize,
    /// Entries, oldest first: `bottom` addresses (exposed provenance), with
    /// bit 0 ([`TOUCHED`]) set when the stack may hold touched pages.
    free: Vec<usize>,
}

impl Bins {
    const fn new() -> Bins {
        Bins { bins: Vec::new() }
    }

    /// Pops the most recently added stack of `size`.
    fn pop(&mut self, size: usize) -> Option<usize> {
        self.bins
            .iter_mut()
            .find(|bin| bin.size == size)?
            .free
            .pop()
    }

    /// Moves up to `out.len()` of the most recently added stacks of `size`
    /// into `out`; returns how many.
    fn take(&mut self, size: usize, out: &mut [usize]) -> usize {
        let Some(bin) = self.bins.iter_mut().find(|bin| bin.size == size) else {
            return 0;
        };
        let n = bin.free.len().min(out.len());
        let rest = bin.free.len() - n;
        out[..n].copy_from_slice(&bin.free[rest..]);
        bin.free.truncate(rest);
        n
    }

    /// Moves the oldest stacks out, bin by bin, until their [`warm_cost`]
    /// reaches `budget` (or none is left); returns them and their cost.
    fn take_oldest(&mut self, budget: usize) -> (Bins, usize) {
        let mut out = Bins::new();
        let mut cost = 0;
        for bin in &mut self.bins {
            if cost >= budget {
                break;
            }
            let each = warm_cost(bin.size);
            let n = (budget - cost).div_ceil(each).min(bin.free.len());
            out.bin_mut(bin.size, n).extend(bin.free.drain(..n));
            cost += n * each;
        }
        (out, cost)
    }

    /// The bin of `size`, created with room for `capacity` stacks if missing.
    #[inline]
    fn bin_mut(&mut self, size: usize, capacity: usize) -> &mut Vec<usize> {
        let index = match self.bins.iter().position(|bin| bin.size == size) {
            Some(index) => index,
            None => self.add_bin(size, capacity),
        };
        &mut self.bins[index].free
    }

    /// [`Bins::bin_mut`] for a size without a bin yet: adds an empty one,
    /// returns its index.
    #[cold]
    #[inline(never)]
    fn add_bin(&mut self, size: usize, capacity: usize) -> usize {
        self.bins.push(Bin {
            size,
            free: Vec::with_capacity(capacity),
        });
        self.bins.len() - 1
    }
}

/// A thread's local cache; on thread exit it hands its stacks to [`GLOBAL`].
struct LocalCache(Bins);

impl Drop for LocalCache {
    fn drop(&mut self) {
        scrub(std::mem::replace(&mut self.0, Bins::new()));
    }
}

// ===== slabs =====

/// Step 3 of `acquire`: maps a slab of stacks of usable `size`, installs every
/// guard, keeps the first stack for the caller and pools the others.
///
/// If a guard cannot be installed (the `mprotect` mode at the map count
/// limit), the stacks guarded so far are kept, the unguarded tail of the slab
/// is unmapped, and the error is returned only if not even the first stack
/// could be guarded.
#[cold]
fn carve(size: usize) -> io::Result<usize> {
    let page = page_size();
    let stride = page + size;
    let (base, count) = map_slab(size, stride)?;
    let mut guarded = install_guards_batched(base, stride, page, count);
    let failure = loop {
        if guarded == count {
            break None;
        }
        if let Err(err) = install_guard(base + guarded * stride, page) {
            break Some(err);
        }
        guarded += 1;
    };
    if let Some(err) = failure {
        // SAFETY: the tail `[base + guarded * stride, base + count * stride)`
        // belongs to the mapping made above and none of its stacks was handed
        // out or pooled, so nothing refers to it. Unmapping the end of a
        // mapping does not split it, so this needs no new VMA; if it fails
        // anyway the tail stays mapped and unused (address space only).
        unsafe {
            libc::munmap(
                ptr::with_exposed_provenance_mut::<c_void>(base + guarded * stride),
                (count - guarded) * stride,
            );
        }
        if guarded == 0 {
            return Err(err);
        }
    }
    // Stack `i` starts with its guard at `base + i * stride`.
    let bottom = |i: usize| base + i * stride + page;
    let local = guarded.min(BATCH + 1);
    stash(size, (1..local).map(bottom));
    if local < guarded {
        GLOBAL
            .lock()
            .bin_mut(size, 0)
            .extend((local..guarded).map(bottom));
    }
    Ok(bottom(0))
}

/// Maps a slab of about [`SLAB_BYTES`] for stacks of usable `size` (`stride =
/// page + size` bytes each), or of one stack if that fails. Returns the base
/// address and the number of stacks.
fn map_slab(size: usize, stride: usize) -> io::Result<(usize, usize)> {
    let count = (SLAB_BYTES / stride).clamp(1, SLAB_STACKS);
    match map_anonymous(count * stride) {
        Ok(base) => Ok((base, count)),
        Err(_) if count > 1 => match map_anonymous(stride) {
            Ok(base) => Ok((base, 1)),
            Err(err) => Err(map_error(size, stride, err)),
        },
        Err(err) => Err(map_error(size, stride, err)),
    }
}

/// `mmap`s `len` fresh bytes of private, read-write, unreserved memory and
/// returns their address (with exposed provenance).
fn map_anonymous(len: usize) -> io::Result<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // MAP_STACK: on Linux 6.7+ it also keeps transparent huge pages away.
    let extra = libc::MAP_NORESERVE | libc::MAP_STACK;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let extra = 0;
    // SAFETY: a new anonymous mapping at an address of the kernel's choosing
    // (null hint, no MAP_FIXED) cannot overlap any memory Rust code uses.
    let addr = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANON | extra,
            -1,
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: advice on the mapping just made, which nothing uses yet; it only
    // changes how future page faults are served (a 4 KiB touch must not cost
    // a 2 MiB huge page). A failure is harmless and ignored.
    unsafe {
        libc::madvise(addr, len, libc::MADV_NOHUGEPAGE);
    }
    Ok(addr.expose_provenance())
}

/// Makes the page at `guard` fault on any access, in the process's
/// [`GUARD_MODE`].
fn install_guard(guard: usize, page: usize) -> io::Result<()> {
    let addr = ptr::with_exposed_provenance_mut::<c_void>(guard);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if guard_mode() == MODE_GUARD_INSTALL {
        // SAFETY: `[guard, guard + page)` is the guard slot of a stack in a
        // slab `carve` has just mapped; no stack of that slab has been handed
        // out, so no Rust object lives there and making it fault is sound.
        if unsafe { libc::madvise(addr, page, MADV_GUARD_INSTALL) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            // Unknown advice (kernel < 6.13) or refused by a sandbox: switch
            // this and every later stack to mprotect.
            Some(libc::EINVAL | libc::EPERM | libc::ENOSYS) => {
                GUARD_MODE.store(MODE_MPROTECT, Ordering::Relaxed);
            }
            _ => {
                return Err(os_error(
                    "cannot install a guard page for a green thread stack \
                     (madvise MADV_GUARD_INSTALL)"
                        .to_owned(),
                    err,
                ));
            }
        }
    }
    // SAFETY: as above, the page is a guard slot of a fresh slab that no Rust
    // object occupies, so revoking access to it is sound.
    if unsafe { libc::mprotect(addr, page, libc::PROT_NONE) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    let context = if err.raw_os_error() == Some(libc::ENOMEM) {
        format!(
            "cannot install a guard page for a green thread stack: the process has \
             reached the kernel's limit on memory mappings ({MAP_COUNT_HINT}); raise \
             it with `sysctl vm.max_map_count=...`"
        )
    } else {
        "cannot install a guard page for a green thread stack (mprotect)".to_owned()
    };
    Err(os_error(context, err))
}

/// `process_madvise`'s pidfd for the calling thread (Linux 6.13+): the
/// advice applies to the caller's own address space, in a forked child
/// too.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PIDFD_SELF_THREAD: libc::c_int = -10000;
/// Guards one `process_madvise` call installs at most (its `iovec` array
/// lives on the caller's stack, which may be a green thread's).
#[cfg(any(target_os = "linux", target_os = "android"))]
const GUARD_BATCH: usize = 64;
/// Cleared for good once `process_madvise` turns out unusable here (older
/// kernel, no `PIDFD_SELF_THREAD`, a sandbox): guards are then installed
/// one `madvise` at a time.
#[cfg(any(target_os = "linux", target_os = "android"))]
static BATCHED_GUARDS: AtomicBool = AtomicBool::new(true);

/// Installs the guards of a fresh slab's first stacks with vectored
/// `process_madvise(MADV_GUARD_INSTALL)` calls, up to [`GUARD_BATCH`] per
/// system call instead of one `madvise` per stack (each call walks the
/// page tables either way; the system call itself was 40% of the cost
/// here). Returns how many leading guards are installed: `count`, or fewer
/// when the batched call is unavailable or fails, and [`install_guard`]
/// then takes over at that stack (it also decides the fallbacks and
/// reports errors).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn install_guards_batched(base: usize, stride: usize, page: usize, count: usize) -> usize {
    if count < 2 || guard_mode() != MODE_GUARD_INSTALL || !BATCHED_GUARDS.load(Ordering::Relaxed) {
        return 0;
    }
    let mut done = 0;
    while done < count {
        let n = (count - done).min(GUARD_BATCH);
        let mut iov = [libc::iovec {
            iov_base: ptr::null_mut(),
            iov_len: 0,
        }; GUARD_BATCH];
        for (i, v) in iov[..n].iter_mut().enumerate() {
            v.iov_base = ptr::with_exposed_provenance_mut::<c_void>(base + (done + i) * stride);
            v.iov_len = page;
        }
        // SAFETY: each range is the guard slot of a stack in the slab
        // `carve` has just mapped; no stack of it has been handed out, so no
        // Rust object lives there and making it fault is sound (as for
        // `install_guard`). `iov[..n]` is initialised and outlives the call;
        // the pidfd names the calling thread's own address space.
        let r = unsafe {
            libc::syscall(
                libc::SYS_process_madvise,
                PIDFD_SELF_THREAD,
                iov.as_ptr(),
                n,
                MADV_GUARD_INSTALL,
                0,
            )
        };
        if r < 0 {
            let err = io::Error::last_os_error().raw_os_error();
            if matches!(
                err,
                Some(libc::EINVAL | libc::EBADF | libc::ENOSYS | libc::EPERM | libc::ESRCH)
            ) {
                BATCHED_GUARDS.store(false, Ordering::Relaxed);
            }
            return done;
        }
        // The ranges are advised in order; a short count means the call
        // stopped at a range (whole pages, one range per page).
        let advised = (r as usize / page).min(n);
        done += advised;
        if advised < n {
            return done;
        }
    }
    done
}

/// Elsewhere guards are installed one at a time by [`install_guard`].
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn install_guards_batched(_base: usize, _stride: usize, _page: usize, _count: usize) -> usize {
    0
}

/// Why `mprotect` guards run out of mappings, for error messages.
const MAP_COUNT_HINT: &str = "vm.max_map_count, 65530 by default; each stack needs two \
                              mappings when MADV_GUARD_INSTALL is unavailable";

/// The process-wide guard mode, deciding it on first use.
fn guard_mode() -> u8 {
    match GUARD_MODE.load(Ordering::Relaxed) {
        MODE_UNDECIDED => {
            let forced = std::env::var_os(GUARD_ENV).is_some_and(|mode| mode == "mprotect");
            let mode = if forced || !cfg!(any(target_os = "linux", target_os = "android")) {
                MODE_MPROTECT
            } else {
                MODE_GUARD_INSTALL
            };
            // A concurrent downgrade to MPROTECT wins over this first guess.
            match GUARD_MODE.compare_exchange(
                MODE_UNDECIDED,
                mode,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => mode,
                Err(current) => current,
            }
        }
        mode => mode,
    }
}

/// The page size in bytes (a power of two).
fn page_size() -> usize {
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions; _SC_PAGESIZE is always supported.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = usize::try_from(page)
        .ok()
        .filter(|page| page.is_power_of_two())
        .unwrap_or(4096);
    PAGE_SIZE.store(page, Ordering::Relaxed);
    page
}

// ===== errors =====

/// An OS error with what goro was doing when it happened; the OS error stays
/// reachable through `Error::source`.
#[derive(Debug)]
struct StackError {
    /// What failed, for humans.
    context: String,
    /// The error the OS reported.
    os: io::Error,
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.os)
    }
}

impl Error for StackError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.os)
    }
}

/// An `OutOfMemory` error if the OS said `ENOMEM`, else of the OS error's kind.
fn os_error(context: String, os: io::Error) -> io::Error {
    let kind = if os.raw_os_error() == Some(libc::ENOMEM) {
        io::ErrorKind::OutOfMemory
    } else {
        os.kind()
    };
    io::Error::new(kind, StackError { context, os })
}

/// The error of a failed slab `mmap` for stacks of usable `size`; `len` is
/// the smallest mapping that was tried.
#[cold]
fn map_error(size: usize, len: usize, os: io::Error) -> io::Error {
    let mut context = format!(
        "cannot map memory for a green thread stack of {} ({} with its guard page)",
        Bytes(size),
        Bytes(len)
    );
    if os.raw_os_error() == Some(libc::ENOMEM) && guard_mode() == MODE_MPROTECT {
        context.push_str(
            "; besides memory or address space, the cause may be the kernel's limit \
             on memory mappings (",
        );
        context.push_str(MAP_COUNT_HINT);
        context.push_str("); raise it with `sysctl vm.max_map_count=...`");
    }
    io::Error::new(io::ErrorKind::OutOfMemory, StackError { context, os })
}

/// A byte count shown in the largest binary unit that divides it exactly.
struct Bytes(usize);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => write!(f, "0 bytes"),
            n if n % (1 << 30) == 0 => write!(f, "{} GiB", n >> 30),
            n if n % (1 << 20) == 0 => write!(f, "{} MiB", n >> 20),
            n if n % (1 << 10) == 0 => write!(f, "{} KiB", n >> 10),
            n => write!(f, "{n} bytes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Output};
    use std::thread;

    /// Set in a child process re-running one test of this module.
    const CHILD_ENV: &str = "GORO_STACK_TEST_CHILD";

    fn in_child() -> bool {
        std::env::var_os(CHILD_ENV).is_some()
    }

    /// Re-runs test `name` of this module alone in a child process, with
    /// `env` added to the environment, and waits for it.
    fn run_child(name: &str, env: &[(&str, &str)]) -> Output {
        let module = module_path!()
            .split_once("::")
            .map_or(module_path!(), |(_, path)| path);
        let exe = std::env::current_exe().expect("path of the test binary");
        let mut command = Command::new(exe);
        command
            .args(["--exact", &format!("{module}::{name}"), "--nocapture"])
            .env(CHILD_ENV, "1")
            .env_remove(GUARD_ENV)
            .envs(env.iter().copied());
        command.output().expect("spawn the child test process")
    }

    fn describe(output: &Output) -> String {
        format!(
            "child {:?}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    /// Asserts the child ran its test to completion and printed `CHILD OK`.
    fn assert_child_ok(output: &Output) {
        assert!(output.status.success(), "{}", describe(output));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("CHILD OK"), "{}", describe(output));
    }

    /// Asserts the child was killed by a memory fault.
    fn assert_child_faulted(output: &Output) {
        let signal = output.status.signal();
        assert!(
            matches!(signal, Some(libc::SIGSEGV | libc::SIGBUS)),
            "expected death by SIGSEGV/SIGBUS; {}",
            describe(output)
        );
    }

    /// Keeps a child that is about to fault from writing a core dump.
    fn disable_core_dumps() {
        let limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: setrlimit reads a valid rlimit; lowering RLIMIT_CORE only
        // affects core dumps of this (child) process.
        unsafe { libc::setrlimit(libc::RLIMIT_CORE, &limit) };
    }

    fn map_count() -> usize {
        std::fs::read_to_string("/proc/self/maps")
            .expect("read /proc/self/maps")
            .lines()
            .count()
    }

    fn mode_name() -> &'static str {
        match guard_mode() {
            MODE_GUARD_INSTALL => "MADV_GUARD_INSTALL",
            MODE_MPROTECT => "mprotect",
            _ => "undecided",
        }
    }

    /// Touches the byte just below `bottom`, in the guard page. Never returns.
    fn touch_guard(stack: &Stack) -> ! {
        println!("touching the guard page ({})", mode_name());
        disable_core_dumps();
        let below = stack.bottom().wrapping_sub(1);
        // SAFETY: not sound to run to completion: this write is meant to
        // fault, and the child process running it to die of the fault.
        unsafe { below.write_volatile(1) };
        unreachable!("writing to the guard page did not fault");
    }

    /// Writes the first and last usable byte of `stack` and reads them back.
    fn write_ends(stack: &Stack) {
        let (first, last) = (stack.bottom(), stack.top().wrapping_sub(1));
        // SAFETY: both bytes are usable bytes of a stack we own, and nothing
        // runs on it.
        unsafe {
            first.write_volatile(0xa5);
            last.write_volatile(0x5a);
            assert_eq!(first.read_volatile(), 0xa5);
            assert_eq!(last.read_volatile(), 0x5a);
        }
    }

    #[test]
    fn validate_size_bounds() {
        let page = page_size();
        for bad in [0, 1, MIN_STACK_SIZE - 1, MAX_STACK_SIZE + 1, usize::MAX] {
            let err = validate_size(bad).expect_err("out-of-range size accepted");
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
            let message = err.to_string();
            assert!(message.contains("16 KiB"), "{message}");
            assert!(message.contains("1 GiB"), "{message}");
        }
        assert_eq!(validate_size(MIN_STACK_SIZE).unwrap(), MIN_STACK_SIZE);
        assert_eq!(
            validate_size(MIN_STACK_SIZE + 1).unwrap(),
            MIN_STACK_SIZE + page
        );
        assert_eq!(
            validate_size(DEFAULT_STACK_SIZE).unwrap(),
            DEFAULT_STACK_SIZE
        );
        assert_eq!(validate_size(MAX_STACK_SIZE).unwrap(), MAX_STACK_SIZE);
        let err = acquire(MIN_STACK_SIZE + 1).expect_err("unaligned size accepted");
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn usable_range_is_writable() {
        let stack = acquire(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(stack.size(), DEFAULT_STACK_SIZE);
        assert_eq!(
            stack.top().addr() - stack.bottom().addr(),
            DEFAULT_STACK_SIZE
        );
        assert_eq!(stack.top().addr() % 16, 0);
        let bottom = stack.bottom().addr();
        assert_eq!(stack.guard(), bottom - page_size()..bottom);
        write_ends(&stack);
        // SAFETY: nothing ran on the stack.
        unsafe { release(stack) };
    }

    #[test]
    fn local_cache_reuses_the_last_released_stack() {
        let first = acquire(DEFAULT_STACK_SIZE).unwrap();
        let bottom = first.bottom();
        // SAFETY: nothing ran on the stack.
        unsafe { release(first) };
        let again = acquire(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(again.bottom(), bottom);
        // SAFETY: nothing ran on the stack.
        unsafe { release(again) };
    }

    #[test]
    fn live_count() {
        if !in_child() {
            return assert_child_ok(&run_child("live_count", &[]));
        }
        assert_eq!(live_stacks(), 0);
        let a = acquire(MIN_STACK_SIZE).unwrap();
        let b = acquire(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(live_stacks(), 2);
        // SAFETY: nothing ran on the stacks.
        unsafe { release(a) };
        assert_eq!(live_stacks(), 1);
        // SAFETY: as above.
        unsafe { release(b) };
        assert_eq!(live_stacks(), 0);
        println!("CHILD OK");
    }

    /// Past the local watermark, a release moves the oldest touched
    /// stacks to the warm tier with their pages; the rest stay warm in the
    /// local cache.
    #[test]
    fn release_spills_past_the_watermark() {
        // A size no other test uses, so its bins are this test's alone.
        let size = validate_size(20 << 10).unwrap();
        let n = LOCAL_HIGH_WATERMARK + 2 * BATCH;
        let stacks: Vec<Stack> = (0..n).map(|_| acquire(size).unwrap()).collect();
        let bottoms: Vec<usize> = stacks.iter().map(|s| s.bottom().addr()).collect();
        for stack in stacks {
            // SAFETY: a usable byte of a stack we own.
            unsafe { stack.bottom().write_volatile(7) };
            // SAFETY: nothing runs on the stack.
            unsafe { release(stack) };
        }
        let untag = |v: Vec<usize>| v.into_iter().map(|e| e & !TOUCHED).collect::<Vec<_>>();
        let local = untag(LOCAL.with(|local| local.borrow_mut().0.bin_mut(size, 0).clone()));
        let warm = untag(WARM.lock().bins.bin_mut(size, 0).clone());
        assert!(local.len() <= LOCAL_HIGH_WATERMARK, "{}", local.len());
        assert!(!warm.is_empty(), "nothing spilled to the warm tier");
        for bottom in &bottoms {
            assert!(
                local.contains(bottom) || warm.contains(bottom),
                "a released stack left both the local cache and the warm tier"
            );
            // SAFETY: pooled stacks stay mapped and readable; nobody else
            // uses this size. The warm tier is scrubbed only after it sat
            // unused for a second, or past its soft budget (this test's bin
            // is not the oldest), or past its forced one.
            let byte = unsafe { ptr::with_exposed_provenance::<u8>(*bottom).read_volatile() };
            assert_eq!(byte, 7, "a warm stack lost its pages");
        }
    }

    /// Fake pool entries: touched stacks at page-aligned addresses (the
    /// warm tier's bookkeeping never reads them).
    fn fake_entries(n: usize) -> impl Iterator<Item = usize> {
        (1..=n).map(|i| (i << 20) | TOUCHED)
    }

    fn entries(bins: &mut Bins, size: usize) -> Vec<usize> {
        bins.bin_mut(size, 0).clone()
    }

    #[test]
    fn a_burst_stays_warm_until_the_tier_sits_unused() {
        let size = DEFAULT_STACK_SIZE;
        let mut warm = Warm::new();
        let (soft, forced) = (4 * warm_cost(size), usize::MAX);
        let t0 = Instant::now();
        let age = SCAVENGE_AGE;
        assert!(warm.put(size, fake_entries(10), t0, soft, forced).is_none());
        assert!(
            matches!(warm.trim(t0 + age / 2, soft), Trim::Wait(d) if d == t0 + age),
            "in use: wait"
        );
        assert!(
            warm.put(size, fake_entries(10), t0 + age / 2, soft, forced)
                .is_none()
        );
        // The first interval is over, but the tier was empty at its start:
        // nothing sat unused through it, so nothing goes.
        assert!(matches!(warm.trim(t0 + age, soft), Trim::Wait(d) if d == t0 + age / 2 + age));
        assert_eq!(warm.cost, 20 * warm_cost(size));
        match warm.trim(t0 + age / 2 + age, soft) {
            Trim::Scrub(mut bins) => assert_eq!(entries(&mut bins, size).len(), 20),
            _ => panic!("a tier unused for SCAVENGE_AGE is scrubbed"),
        }
        assert_eq!(warm.cost, 0);
        assert!(matches!(warm.trim(t0 + 3 * age, soft), Trim::Keep));
    }

    #[test]
    fn a_tier_in_use_gives_back_what_sat_unused_through_an_interval() {
        let size = DEFAULT_STACK_SIZE;
        let mut warm = Warm::new();
        let (soft, forced) = (4 * warm_cost(size), usize::MAX);
        let t0 = Instant::now();
        let age = SCAVENGE_AGE;
        assert!(warm.put(size, fake_entries(20), t0, soft, forced).is_none());
        // End of the first interval (empty at its start): nothing is due.
        assert!(
            warm.put(size, fake_entries(0), t0 + age, soft, forced)
                .is_none()
        );
        // Churn: 3 taken (the newest), 2 put back; 17 never moved.
        let mut out = [0usize; 3];
        assert_eq!(warm.take(size, &mut out, t0 + age + age / 4), 3);
        let back: Vec<usize> = (100..102).map(|i| (i << 20) | TOUCHED).collect();
        assert!(
            warm.put(size, back.into_iter(), t0 + age + age / 2, soft, forced)
                .is_none()
        );
        // End of the second interval: the 17 that sat unused through it,
        // beyond the soft budget of 4, go: the 13 oldest.
        let mut gone = warm
            .put(size, fake_entries(0), t0 + 2 * age, soft, forced)
            .expect("what sat unused through the interval is given back");
        let oldest: Vec<usize> = fake_entries(13).collect();
        assert_eq!(entries(&mut gone, size), oldest);
        assert_eq!(warm.cost, (19 - 13) * warm_cost(size));
        // The next interval starts from here.
        assert!(
            warm.put(size, fake_entries(0), t0 + 2 * age + age / 2, soft, forced)
                .is_none()
        );
    }

    #[test]
    fn due_is_the_next_time_trim_may_give_something_back() {
        let size = DEFAULT_STACK_SIZE;
        let mut warm = Warm::new();
        let (soft, forced) = (4 * warm_cost(size), usize::MAX);
        let t0 = Instant::now();
        let age = SCAVENGE_AGE;
        assert_eq!(warm.due(soft), None, "empty");
        assert!(warm.put(size, fake_entries(3), t0, soft, forced).is_none());
        assert_eq!(warm.due(soft), None, "within the soft budget");
        assert!(
            warm.put(size, fake_entries(3), t0 + age / 2, soft, forced)
                .is_none()
        );
        // The interval began at t0; the last use was at t0 + age / 2.
        assert_eq!(warm.due(soft), Some(t0 + age));
        assert!(matches!(warm.trim(t0 + age, soft), Trim::Wait(_)));
        // A new interval began at t0 + age: next, a second unused.
        assert_eq!(warm.due(soft), Some(t0 + age / 2 + age));
    }

    #[test]
    fn past_the_forced_budget_the_tier_is_emptied_at_once() {
        let size = DEFAULT_STACK_SIZE;
        let mut warm = Warm::new();
        let (soft, forced) = (warm_cost(size), 10 * warm_cost(size));
        let now = Instant::now();
        assert!(
            warm.put(size, fake_entries(10), now, soft, forced)
                .is_none()
        );
        let mut all = warm
            .put(size, fake_entries(1), now, soft, forced)
            .expect("one stack past the forced budget empties the tier");
        assert_eq!(entries(&mut all, size).len(), 11);
        assert_eq!(warm.cost, 0);
        assert!(warm.bins.bin_mut(size, 0).is_empty());
    }

    #[test]
    fn thread_exit_moves_its_cache_to_the_global_pool() {
        // A size no other test uses, so the global bin is this test's alone.
        let size = MIN_STACK_SIZE + 3 * page_size();
        let bottom = thread::spawn(move || {
            let stack = acquire(size).unwrap();
            // SAFETY: a usable byte of a stack we own.
            unsafe { stack.bottom().write_volatile(7) };
            let bottom = stack.bottom().addr();
            // SAFETY: nothing ran on the stack.
            unsafe { release(stack) };
            bottom
        })
        .join()
        .unwrap();
        assert!(GLOBAL.lock().bin_mut(size, 0).contains(&bottom));
        // SAFETY: pooled stacks stay mapped and readable.
        let byte = unsafe { ptr::with_exposed_provenance::<u8>(bottom).read_volatile() };
        assert_eq!(byte, 0, "the exiting thread's cache kept its pages");
    }

    #[test]
    fn guard_page_faults() {
        if !in_child() {
            return assert_child_faulted(&run_child("guard_page_faults", &[]));
        }
        let stack = acquire(MIN_STACK_SIZE).unwrap();
        write_ends(&stack);
        touch_guard(&stack);
    }

    /// A stack deep in a fresh slab (its guard installed by a later
    /// batch of `install_guards_batched` than the first stack's) is
    /// guarded too.
    #[test]
    fn a_guard_deep_in_a_slab_faults() {
        if !in_child() {
            return assert_child_faulted(&run_child("a_guard_deep_in_a_slab_faults", &[]));
        }
        let stacks: Vec<Stack> = (0..150).map(|_| acquire(MIN_STACK_SIZE).unwrap()).collect();
        let last = stacks.last().unwrap();
        write_ends(last);
        touch_guard(last);
    }

    /// Scrubbing merges adjacent free stacks into one `MADV_DONTNEED` run
    /// that spans their guard pages: the guards must survive it.
    #[test]
    fn guard_survives_a_scrub() {
        if !in_child() {
            return assert_child_faulted(&run_child("guard_survives_a_scrub", &[]));
        }
        let stacks: Vec<Stack> = (0..40).map(|_| acquire(MIN_STACK_SIZE).unwrap()).collect();
        let mut bins = Bins::new();
        for stack in &stacks {
            write_ends(stack);
            bins.bin_mut(MIN_STACK_SIZE, 0)
                .push(stack.bottom().addr() | TOUCHED);
        }
        scrub(bins);
        // The pages are gone (zero again), the guards are not.
        // SAFETY: the usable range stays mapped; nothing else uses it.
        assert_eq!(unsafe { stacks[20].bottom().read_volatile() }, 0);
        touch_guard(&stacks[20]);
    }

    #[test]
    fn guard_install_adds_no_mapping() {
        if !in_child() {
            return assert_child_ok(&run_child("guard_install_adds_no_mapping", &[]));
        }
        let mut stacks = Vec::with_capacity(200);
        let before = map_count();
        stacks.extend((0..200).map(|_| acquire(MIN_STACK_SIZE).unwrap()));
        let after = map_count();
        if guard_mode() == MODE_GUARD_INSTALL {
            assert!(after <= before + 4, "{before} -> {after} mappings");
        } else {
            println!("note: MADV_GUARD_INSTALL unavailable, guards use mprotect");
        }
        println!("CHILD OK");
    }

    #[test]
    fn mprotect_fallback() {
        if !in_child() {
            let output = run_child("mprotect_fallback", &[(GUARD_ENV, "mprotect")]);
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                stdout.contains("mprotect checks passed"),
                "{}",
                describe(&output)
            );
            return assert_child_faulted(&output);
        }
        let mut stacks = Vec::with_capacity(200);
        let before = map_count();
        stacks.extend((0..200).map(|_| acquire(MIN_STACK_SIZE).unwrap()));
        let after = map_count();
        assert_eq!(guard_mode(), MODE_MPROTECT);
        assert!(after >= before + 2 * 200, "{before} -> {after} mappings");
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        for stack in &stacks {
            write_ends(stack);
            let guard = stack.guard();
            let line = format!("{:x}-{:x} ---p", guard.start, guard.end);
            assert!(maps.contains(&line), "no {line} in\n{maps}");
        }
        println!("mprotect checks passed");
        touch_guard(&stacks[100]);
    }

    #[test]
    fn mprotect_map_count_limit_is_an_error() {
        if !in_child() {
            let limit = std::fs::read_to_string("/proc/sys/vm/max_map_count")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok());
            if limit.is_none_or(|limit| limit > 200_000) {
                println!("note: skipped, vm.max_map_count is {limit:?} (above 200000)");
                return;
            }
            let output = run_child(
                "mprotect_map_count_limit_is_an_error",
                &[(GUARD_ENV, "mprotect")],
            );
            return assert_child_ok(&output);
        }
        // Reserved up front: at the limit, even growing this Vec could fail.
        let mut stacks = Vec::with_capacity(40_000);
        let err = loop {
            match acquire(MIN_STACK_SIZE) {
                Ok(stack) if stacks.len() < 40_000 => stacks.push(stack),
                Ok(_) => panic!("40,000 stacks did not reach vm.max_map_count"),
                Err(err) => break err,
            }
        };
        let message = err.to_string();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{message}");
        assert!(message.contains("vm.max_map_count"), "{message}");
        println!("after {} stacks: {message}", stacks.len());
        println!("CHILD OK");
    }

    #[test]
    fn mmap_failure_is_out_of_memory() {
        if !in_child() {
            return assert_child_ok(&run_child("mmap_failure_is_out_of_memory", &[]));
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let vm_kib: usize = status
            .lines()
            .find_map(|line| line.strip_prefix("VmSize:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmSize in /proc/self/status");
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes to a valid rlimit.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) }, 0);
        limit.rlim_cur = (vm_kib * 1024 + (64 << 20)) as libc::rlim_t;
        // SAFETY: setrlimit reads a valid rlimit; it only limits this child.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
        let err = acquire(512 << 20).expect_err("a 512 MiB stack under a 64 MiB margin");
        let message = err.to_string();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{message}");
        assert!(message.contains("512 MiB"), "{message}");
        let os = err
            .get_ref()
            .and_then(|inner| inner.source())
            .expect("OS error as source");
        let os = os.downcast_ref::<io::Error>().expect("an io::Error source");
        assert_eq!(os.raw_os_error(), Some(libc::ENOMEM), "{message}");
        println!("{message}");
        println!("CHILD OK");
    }
}
