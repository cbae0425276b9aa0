//! TEMPORARY STUB
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
pub(crate) const LOCAL_QUEUE_CAPACITY: usize = 256;
pub(crate) struct Local<T>(Arc<Mutex<VecDeque<T>>>);
pub(crate) struct Steal<T>(Arc<Mutex<VecDeque<T>>>);
impl<T> std::fmt::Debug for Steal<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Steal")
    }
}
pub(crate) fn local<T>() -> (Steal<T>, Local<T>) {
    let a = Arc::new(Mutex::new(VecDeque::new()));
    (Steal(a.clone()), Local(a))
}
impl<T> Local<T> {
    pub(crate) fn push_back_or_overflow(
        &mut self,
        task: T,
        overflow: impl FnOnce(std::vec::Drain<'_, T>),
    ) {
        let mut q = self.0.lock().unwrap();
        if q.len() >= LOCAL_QUEUE_CAPACITY {
            let mut v: Vec<T> = q.drain(..LOCAL_QUEUE_CAPACITY / 2).collect();
            v.push(task);
            overflow(v.drain(..));
        } else {
            q.push_back(task);
        }
    }
    pub(crate) fn pop(&mut self) -> Option<T> {
        self.0.lock().unwrap().pop_front()
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
    pub(crate) fn remaining_slots(&self) -> usize {
        LOCAL_QUEUE_CAPACITY - self.0.lock().unwrap().len()
    }
}
impl<T> Steal<T> {
    pub(crate) fn steal_into(&self, dst: &mut Local<T>) -> Option<T> {
        let mut q = self.0.lock().unwrap();
        let n = (q.len() + 1) / 2;
        if n == 0 {
            return None;
        }
        let mut v: Vec<T> = q.drain(..n).collect();
        drop(q);
        let first = v.remove(0);
        let mut d = dst.0.lock().unwrap();
        d.extend(v);
        Some(first)
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.lock().unwrap().is_empty()
    }
}
