//! Memory for green threads' cells (header and body): per-thread caches of
//! fixed-size blocks, exchanged in batches through a global pool.
//!
//! A green thread is allocated by the thread that spawns it and freed by
//! whichever thread drops its last reference, usually another worker. With
//! a general-purpose allocator that pattern is a cross-thread free per
//! green thread (contended arena locks in glibc). Here a freed block goes
//! to the freeing thread's cache, batches of surplus blocks move to the
//! global pool, and a thread whose cache runs dry takes a batch back: in a
//! steady state spawning allocates nothing.
//!
//! Invariants:
//! 1. A block of class `c` was allocated from the global allocator with
//!    `class_layout(c)` and is returned to it with that same layout.
//! 2. A cached block is owned by exactly one cache (a thread's or the
//!    global pool) and by no live cell.
//! 3. Layouts larger than the biggest class, or more aligned than
//!    `CLASS_ALIGN`, bypass the caches.

use std::alloc::{self, Layout};
use std::cell::RefCell;
use std::ptr::NonNull;

use parking_lot::Mutex;

/// Granularity of the size classes.
const CLASS_BYTES: usize = 64;
/// Alignment of every class block: what `malloc` gives without the costly
/// aligned path; cells needing more bypass the caches.
const CLASS_ALIGN: usize = 16;
/// Classes of 64, 128, ... 1024 bytes.
const CLASSES: usize = 16;
/// Blocks a thread keeps per class before moving a batch to the pool.
const LOCAL_MAX: usize = 256;
/// Blocks moved between a thread's cache and the global pool at once.
const BATCH: usize = 64;
/// Blocks the global pool keeps per class; beyond that they are freed.
const GLOBAL_MAX: usize = 16 * 1024;

/// A free block (invariant 2 makes moving it between threads sound).
struct Block(NonNull<u8>);

// SAFETY: a free block is plain memory owned by whichever cache holds it;
// no thread-bound state is attached to it.
unsafe impl Send for Block {}

type Lists = [Vec<Block>; CLASSES];

static GLOBAL: Mutex<Lists> = Mutex::new([const { Vec::new() }; CLASSES]);

thread_local! {
    static LOCAL: RefCell<LocalCache> = const { RefCell::new(LocalCache([const { Vec::new() }; CLASSES])) };
}

struct LocalCache(Lists);

impl Drop for LocalCache {
    fn drop(&mut self) {
        for (class, list) in self.0.iter_mut().enumerate() {
            give_back(class, list.drain(..));
        }
    }
}

fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > CLASS_ALIGN || layout.size() > CLASS_BYTES * CLASSES {
        return None;
    }
    Some(layout.size().max(1).div_ceil(CLASS_BYTES) - 1)
}

fn class_layout(class: usize) -> Layout {
    // The size is a non-zero multiple of the (power of two) alignment.
    Layout::from_size_align((class + 1) * CLASS_BYTES, CLASS_ALIGN).expect("valid class layout")
}

/// Moves free blocks of `class` to the global pool, freeing those beyond
/// its cap.
fn give_back(class: usize, blocks: impl Iterator<Item = Block>) {
    let mut global = GLOBAL.lock();
    for b in blocks {
        if global[class].len() < GLOBAL_MAX {
            global[class].push(b);
        } else {
            // SAFETY: invariant 1.
            unsafe { alloc::dealloc(b.0.as_ptr(), class_layout(class)) };
        }
    }
}

/// Allocates memory for `layout` (non-zero size).
pub(crate) fn allocate(layout: Layout) -> NonNull<u8> {
    let Some(class) = class_of(layout) else {
        return raw_alloc(layout);
    };
    let cached = LOCAL
        .try_with(|local| {
            let mut local = local.try_borrow_mut().ok()?;
            let list = &mut local.0[class];
            if list.is_empty() {
                let mut global = GLOBAL.lock();
                let g = &mut global[class];
                let n = g.len().min(BATCH);
                list.extend(g.drain(g.len() - n..));
            }
            list.pop()
        })
        .ok()
        .flatten();
    match cached {
        Some(b) => b.0,
        None => raw_alloc(class_layout(class)),
    }
}

fn raw_alloc(layout: Layout) -> NonNull<u8> {
    debug_assert!(layout.size() > 0);
    // SAFETY: callers pass layouts of non-zero size (cells have a header).
    let p = unsafe { alloc::alloc(layout) };
    NonNull::new(p).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// Frees memory from [`allocate`].
///
/// # Safety
/// `ptr` came from `allocate(layout)` with this same `layout` and is not
/// used afterwards.
pub(crate) unsafe fn deallocate(ptr: NonNull<u8>, layout: Layout) {
    let Some(class) = class_of(layout) else {
        // SAFETY: allocated with exactly `layout` (invariant 3).
        unsafe { alloc::dealloc(ptr.as_ptr(), layout) };
        return;
    };
    let block = Block(ptr);
    let overflow = LOCAL.try_with(|local| {
        let Ok(mut local) = local.try_borrow_mut() else {
            return Some(block);
        };
        let list = &mut local.0[class];
        list.push(block);
        if list.len() > LOCAL_MAX {
            let start = list.len() - BATCH;
            give_back(class, list.drain(start..));
        }
        None
    });
    match overflow {
        Ok(None) => {}
        Ok(Some(block)) => give_back(class, std::iter::once(block)),
        // The thread's cache is gone (thread exit): straight to the pool.
        Err(_) => give_back(class, std::iter::once(Block(ptr))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_and_big_or_overaligned_layouts_bypass() {
        assert_eq!(class_of(Layout::from_size_align(1, 1).unwrap()), Some(0));
        assert_eq!(class_of(Layout::from_size_align(64, 8).unwrap()), Some(0));
        assert_eq!(class_of(Layout::from_size_align(65, 8).unwrap()), Some(1));
        assert_eq!(
            class_of(Layout::from_size_align(1024, 16).unwrap()),
            Some(15)
        );
        assert_eq!(class_of(Layout::from_size_align(1025, 8).unwrap()), None);
        assert_eq!(class_of(Layout::from_size_align(64, 32).unwrap()), None);
    }

    #[test]
    fn blocks_are_reused_and_cross_threads() {
        let layout = Layout::from_size_align(200, 16).unwrap();
        let a = allocate(layout);
        // SAFETY: from `allocate(layout)`, unused afterwards.
        unsafe { deallocate(a, layout) };
        let b = allocate(layout);
        assert_eq!(a, b, "the last freed block comes back first");
        // Free on another thread, many times over the local cap: the blocks
        // reach the pool and can be taken back here.
        let blocks: Vec<usize> = (0..2 * LOCAL_MAX)
            .map(|_| allocate(layout).as_ptr() as usize)
            .collect();
        std::thread::spawn(move || {
            for p in blocks {
                let p = NonNull::new(p as *mut u8).unwrap();
                // SAFETY: each came from `allocate(layout)` and is freed once.
                unsafe { deallocate(p, layout) };
            }
        })
        .join()
        .unwrap();
        let again: Vec<NonNull<u8>> = (0..2 * LOCAL_MAX).map(|_| allocate(layout)).collect();
        for p in again {
            // SAFETY: as above.
            unsafe { deallocate(p, layout) };
        }
        // SAFETY: as above.
        unsafe { deallocate(b, layout) };
    }
}
