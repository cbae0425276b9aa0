//! The three flavors of channel buffer, dispatched by one enum (the wait
//! queues and the close protocol are shared, in `channel.rs`):
//!
//! * `Zero`: no buffer (`bounded(0)`); every send is a rendezvous with a
//!   receiver.
//! * `Array`: a ring of fixed capacity (`bounded(n)`, n >= 1), allocated
//!   once.
//! * `List`: unbounded (`unbounded()`). It grows as needed and gives memory
//!   back as it drains: once it holds under a quarter of its capacity its
//!   storage shrinks, so a channel that once held a million messages holds
//!   a small allocation when drained.
//!
//! Accessed only under the channel's lock.

use std::collections::VecDeque;

/// Below this capacity an unbounded buffer never shrinks.
const LIST_MIN_CAPACITY: usize = 32;

pub(crate) enum Buffer<T> {
    Zero,
    Array { queue: VecDeque<T>, cap: usize },
    List(VecDeque<T>),
}

impl<T> Buffer<T> {
    pub(crate) fn bounded(cap: usize) -> Buffer<T> {
        if cap == 0 {
            Buffer::Zero
        } else {
            Buffer::Array {
                queue: VecDeque::with_capacity(cap),
                cap,
            }
        }
    }

    pub(crate) fn unbounded() -> Buffer<T> {
        Buffer::List(VecDeque::new())
    }

    /// `None` for unbounded.
    pub(crate) fn capacity(&self) -> Option<usize> {
        match self {
            Buffer::Zero => Some(0),
            Buffer::Array { cap, .. } => Some(*cap),
            Buffer::List(_) => None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Buffer::Zero => 0,
            Buffer::Array { queue, .. } | Buffer::List(queue) => queue.len(),
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        match self {
            Buffer::Zero => true,
            Buffer::Array { queue, cap } => queue.len() == *cap,
            Buffer::List(_) => false,
        }
    }

    /// Appends `msg`; the caller checked `!is_full()`.
    pub(crate) fn push(&mut self, msg: T) {
        match self {
            Buffer::Zero => unreachable!("push to a zero-capacity buffer"),
            Buffer::Array { queue, .. } | Buffer::List(queue) => queue.push_back(msg),
        }
    }

    pub(crate) fn pop(&mut self) -> Option<T> {
        match self {
            Buffer::Zero => None,
            Buffer::Array { queue, .. } => queue.pop_front(),
            Buffer::List(queue) => {
                let msg = queue.pop_front();
                let cap = queue.capacity();
                if cap > LIST_MIN_CAPACITY && queue.len() < cap / 4 {
                    queue.shrink_to((cap / 2).max(LIST_MIN_CAPACITY));
                }
                msg
            }
        }
    }

    /// Takes every buffered message out (to drop them outside the lock).
    pub(crate) fn take_all(&mut self) -> VecDeque<T> {
        match self {
            Buffer::Zero => VecDeque::new(),
            Buffer::Array { queue, .. } => std::mem::take(queue),
            Buffer::List(queue) => std::mem::take(queue),
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn list_gives_memory_back_after_a_burst() {
        let mut b = Buffer::unbounded();
        for i in 0..1_000_000 {
            b.push(i);
        }
        for i in 0..1_000_000 {
            assert_eq!(b.pop(), Some(i));
        }
        let Buffer::List(q) = &b else { unreachable!() };
        assert!(q.capacity() <= 4 * LIST_MIN_CAPACITY, "{}", q.capacity());
    }

    #[test]
    fn array_is_bounded_and_zero_is_always_full() {
        let mut b = Buffer::bounded(2);
        assert!(!b.is_full());
        b.push(1);
        b.push(2);
        assert!(b.is_full());
        assert_eq!(b.pop(), Some(1));
        assert_eq!(Buffer::<u8>::bounded(0).capacity(), Some(0));
        assert!(Buffer::<u8>::bounded(0).is_full());
    }
}
