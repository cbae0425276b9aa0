//! A place that holds at most one message, moved between places with a
//! plain copy of its bytes: no message-sized temporary on the stack.
//!
//! A send keeps its message in one [`Slot`] in the caller's frame until it
//! reaches its destination (a receiver's slot or a buffer cell); a receive
//! gets it in one slot too. So sending a large message (a 64 KiB array)
//! costs one copy of it on a green thread's stack, not one per call level.

use std::mem::MaybeUninit;
use std::ptr;

/// Holds a message or nothing.
pub(crate) struct Slot<T> {
    val: MaybeUninit<T>,
    full: bool,
}

impl<T> Slot<T> {
    pub(crate) fn empty() -> Slot<T> {
        Slot {
            val: MaybeUninit::uninit(),
            full: false,
        }
    }

    pub(crate) fn new(msg: T) -> Slot<T> {
        Slot {
            val: MaybeUninit::new(msg),
            full: true,
        }
    }

    /// Takes the message out.
    ///
    /// # Panics
    /// If the slot is empty.
    pub(crate) fn take(&mut self) -> T {
        assert!(self.full, "took a message from an empty slot");
        self.full = false;
        // SAFETY: `full` said the value is initialised; clearing it first
        // hands ownership to the caller exactly once.
        unsafe { self.val.assume_init_read() }
    }

    /// Takes the message out, if there is one.
    pub(crate) fn take_if_full(&mut self) -> Option<T> {
        if self.full { Some(self.take()) } else { None }
    }

    /// Moves the message from `self` into `dst`, which must be empty.
    pub(crate) fn move_to(&mut self, dst: &mut Slot<T>) {
        assert!(
            self.full && !dst.full,
            "moved a message between wrong slots"
        );
        // SAFETY: `self.val` is initialised and `dst.val` is not (the flags
        // say so); the two are distinct objects (two `&mut`). The bytes move
        // and ownership with them: the flags are flipped together.
        unsafe { ptr::copy_nonoverlapping(self.val.as_ptr(), dst.val.as_mut_ptr(), 1) };
        self.full = false;
        dst.full = true;
    }

    /// Moves the message into the uninitialised `cell` (a buffer's).
    ///
    /// # Safety
    /// `cell` is valid for writes and holds no value.
    pub(crate) unsafe fn move_into(&mut self, cell: *mut T) {
        assert!(self.full, "moved a message from an empty slot");
        // SAFETY: as in `move_to`; the caller vouches for `cell`.
        unsafe { ptr::copy_nonoverlapping(self.val.as_ptr(), cell, 1) };
        self.full = false;
    }

    /// Moves the value out of `cell` (a buffer's) into this empty slot.
    ///
    /// # Safety
    /// `cell` holds a value, which the caller treats as moved out.
    pub(crate) unsafe fn move_from(&mut self, cell: *const T) {
        assert!(!self.full, "moved a message into a full slot");
        // SAFETY: the caller vouches for `cell`; `self.val` is free.
        unsafe { ptr::copy_nonoverlapping(cell, self.val.as_mut_ptr(), 1) };
        self.full = true;
    }
}

impl<T> Drop for Slot<T> {
    fn drop(&mut self) {
        if self.full {
            // SAFETY: initialised (flag), dropped once.
            unsafe { self.val.assume_init_drop() };
        }
    }
}
