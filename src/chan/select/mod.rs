//! Waiting on several channel operations at once: [`Select`] (built at run
//! time, crossbeam-channel's shape) and the `select!` / `select_biased!`
//! macros over the same engine (`engine.rs`).
//!
//! Invariants: exactly one operation of a select completes (or none, on a
//! timeout or `default`); a send case's value is built only once that case
//! is chosen; a [`SelectedOperation`] must be completed with the handle of
//! its case, and dropping it uncompleted releases whatever it reserved
//! (then panics, as in crossbeam-channel).

mod engine;
pub(crate) use self::engine::shuffle;
pub(crate) mod macros;

use std::fmt;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use self::engine::{Case, Operand, RecvCell, Token, Wait};
use super::channel::{Channel, Fail};
use super::slot::Slot;
use super::{Receiver, RecvError, SendError, Sender};

/// A set of channel operations to wait on, built at run time; the dynamic
/// form of [`select!`](crate::select!).
///
/// Each `send`/`recv` adds a case and returns its index. [`Select::select`]
/// waits until one case can proceed and returns it as a
/// [`SelectedOperation`], which must then be completed with the same
/// handle. When several are ready, one is chosen uniformly at random.
/// Like crossbeam-channel's, a `Select` is `Send`, `Sync` and `Clone` (a
/// clone waits on the same cases, with the same indices); so the messages
/// of its channels must be `Send`.
///
/// ```
/// let (tx1, rx1) = goro::bounded::<i32>(1);
/// let (_tx2, rx2) = goro::bounded::<i32>(1);
/// tx1.send(10).unwrap();
///
/// let mut sel = goro::Select::new();
/// let i1 = sel.recv(&rx1);
/// let i2 = sel.recv(&rx2);
/// let oper = sel.select();
/// match oper.index() {
///     i if i == i1 => assert_eq!(oper.recv(&rx1), Ok(10)),
///     i if i == i2 => panic!("rx2 is empty"),
///     _ => unreachable!(),
/// }
/// ```
pub struct Select<'a> {
    cases: Vec<Case<'a>>,
    /// The index `send`/`recv` returned for each case.
    indices: Vec<usize>,
    /// The receive cells this `Select` allocated, freed on drop.
    cells: Vec<OwnedCell>,
    next: usize,
    biased: bool,
}

// SAFETY: every operand was added with `T: Send` (`Select::send`,
// `Select::recv`), so its channel is `Send + Sync`, and a receive cell
// (owned by this `Select`, moving with it) holds a message of such a `T`
// between a select and its completion. A shared `&Select` only reads the
// case list (`Clone`, `Debug`): every operation takes `&mut self`.
unsafe impl Send for Select<'_> {}
// SAFETY: as above.
unsafe impl Sync for Select<'_> {}

/// Another `Select` over the same cases, with the same indices, and cells
/// of its own (as crossbeam-channel's `Select` clones).
///
/// ```
/// let (tx, rx) = goro::bounded::<i32>(1);
/// let mut sel = goro::Select::new();
/// let i = sel.recv(&rx);
/// let mut other = sel.clone();
/// tx.send(7).unwrap();
/// let oper = other.select();
/// assert_eq!(oper.index(), i);
/// assert_eq!(oper.recv(&rx), Ok(7));
/// ```
impl Clone for Select<'_> {
    fn clone(&self) -> Self {
        let mut cells = Vec::with_capacity(self.cells.len());
        let cases = self
            .cases
            .iter()
            .map(|case| {
                let mut case = *case;
                if !case.cell.is_null() {
                    let owned = self
                        .cells
                        .iter()
                        .find(|c| c.ptr == case.cell)
                        .expect("a receive case's cell is owned by its Select");
                    let fresh = OwnedCell {
                        ptr: (owned.alloc)(),
                        alloc: owned.alloc,
                        free: owned.free,
                    };
                    case.cell = fresh.ptr;
                    cells.push(fresh);
                }
                case
            })
            .collect();
        Select {
            cases,
            indices: self.indices.clone(),
            cells,
            next: self.next,
            biased: self.biased,
        }
    }
}

/// A `Box<RecvCell<T>>`, type-erased.
struct OwnedCell {
    ptr: *mut (),
    /// A new empty `Box<RecvCell<T>>` of the same `T`, for `Clone`.
    alloc: fn() -> *mut (),
    free: unsafe fn(*mut ()),
}

/// A new empty receive cell for messages of `T`, type-erased.
fn alloc_cell<T>() -> *mut () {
    Box::into_raw(Box::new(RecvCell::<T>::new())).cast::<()>()
}

impl Drop for OwnedCell {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `Box::into_raw` of the type `free` knows,
        // and is freed once, here.
        unsafe { (self.free)(self.ptr) }
    }
}

/// # Safety
/// `p` came from `Box::<RecvCell<T>>::into_raw`.
unsafe fn free_cell<T>(p: *mut ()) {
    // SAFETY: the caller's contract.
    drop(unsafe { Box::from_raw(p.cast::<RecvCell<T>>()) });
}

impl<'a> Select<'a> {
    /// An empty set of operations; ready cases are chosen at random.
    ///
    /// ```
    /// let sel = goro::Select::new();
    /// # drop(sel);
    /// ```
    pub fn new() -> Select<'a> {
        Select {
            cases: Vec::new(),
            indices: Vec::new(),
            cells: Vec::new(),
            next: 0,
            biased: false,
        }
    }

    /// Like [`Select::new`], but among ready cases the first added wins
    /// (the dynamic form of [`select_biased!`](crate::select_biased!)).
    ///
    /// ```
    /// let (tx1, rx1) = goro::bounded::<i32>(1);
    /// let (tx2, rx2) = goro::bounded::<i32>(1);
    /// tx1.send(1).unwrap();
    /// tx2.send(2).unwrap();
    /// let mut sel = goro::Select::new_biased();
    /// let first = sel.recv(&rx1);
    /// sel.recv(&rx2);
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), first);
    /// assert_eq!(oper.recv(&rx1), Ok(1));
    /// ```
    pub fn new_biased() -> Select<'a> {
        Select {
            biased: true,
            ..Select::new()
        }
    }

    /// Adds a send case; returns its index.
    ///
    /// ```
    /// let (tx, rx) = goro::bounded(1);
    /// let mut sel = goro::Select::new();
    /// let i = sel.send(&tx);
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), i);
    /// oper.send(&tx, 5).unwrap();
    /// assert_eq!(rx.recv(), Ok(5));
    /// ```
    pub fn send<T: Send>(&mut self, s: &'a Sender<T>) -> usize {
        self.push(Case {
            op: &*s.chan as &dyn Operand,
            send: true,
            cell: std::ptr::null_mut(),
        })
    }

    /// Adds a receive case; returns its index.
    ///
    /// ```
    /// let (tx, rx) = goro::unbounded();
    /// tx.send("hi").unwrap();
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Ok("hi"));
    /// ```
    pub fn recv<T: Send>(&mut self, r: &'a Receiver<T>) -> usize {
        let cell = alloc_cell::<T>();
        self.cells.push(OwnedCell {
            ptr: cell,
            alloc: alloc_cell::<T>,
            free: free_cell::<T>,
        });
        self.push(Case {
            op: &*r.chan as &dyn Operand,
            send: false,
            cell,
        })
    }

    fn push(&mut self, case: Case<'a>) -> usize {
        let i = self.next;
        self.next += 1;
        self.cases.push(case);
        self.indices.push(i);
        i
    }

    /// Removes the case with index `index`.
    ///
    /// # Panics
    /// If there is no such case (never added, or already removed).
    ///
    /// ```
    /// let (tx, rx) = goro::bounded::<i32>(1);
    /// let (_tx2, rx2) = goro::bounded::<i32>(1);
    /// tx.send(1).unwrap();
    /// let mut sel = goro::Select::new();
    /// let i = sel.recv(&rx);
    /// let j = sel.recv(&rx2);
    /// sel.remove(i);
    /// assert!(sel.try_select().is_err());
    /// # let _ = j;
    /// ```
    pub fn remove(&mut self, index: usize) {
        let pos = self
            .indices
            .iter()
            .position(|&i| i == index)
            .expect("no operation with this index to remove");
        self.cases.remove(pos);
        self.indices.remove(pos);
    }

    fn run(&mut self, wait: Wait) -> Option<SelectedOperation<'_>> {
        let (pos, token) = engine::select(&self.cases, self.biased, wait)?;
        Some(SelectedOperation {
            index: self.indices[pos],
            case: self.cases[pos],
            token: Some(token),
            _borrow: PhantomData,
        })
    }

    /// Waits until one case can proceed and returns it.
    ///
    /// # Panics
    /// If there are no cases (it would wait forever).
    ///
    /// ```
    /// let (tx, rx) = goro::bounded(0);
    /// goro::go!(move || tx.send(1).unwrap());
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Ok(1));
    /// ```
    pub fn select(&mut self) -> SelectedOperation<'_> {
        assert!(!self.cases.is_empty(), "Select::select with no operations");
        self.run(Wait::Forever).expect("waits until ready")
    }

    /// Returns a case that can proceed now, without waiting.
    ///
    /// ```
    /// let (_tx, rx) = goro::bounded::<i32>(1);
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_select().is_err());
    /// ```
    pub fn try_select(&mut self) -> Result<SelectedOperation<'_>, TrySelectError> {
        self.run(Wait::Never).ok_or(TrySelectError)
    }

    /// Like [`Select::select`], giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (_tx, rx) = goro::bounded::<i32>(1);
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.select_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn select_timeout(
        &mut self,
        timeout: Duration,
    ) -> Result<SelectedOperation<'_>, SelectTimeoutError> {
        self.run(wait_for(timeout)).ok_or(SelectTimeoutError)
    }

    /// Like [`Select::select`], giving up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (_tx, rx) = goro::bounded::<i32>(1);
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// let r = sel.select_deadline(Instant::now() + Duration::from_millis(5));
    /// assert!(r.is_err());
    /// ```
    pub fn select_deadline(
        &mut self,
        deadline: Instant,
    ) -> Result<SelectedOperation<'_>, SelectTimeoutError> {
        self.run(Wait::Until(deadline)).ok_or(SelectTimeoutError)
    }

    fn run_ready(&mut self, wait: Wait) -> Option<usize> {
        let probes: Vec<Case<'a>> = self
            .cases
            .iter()
            .map(|c| Case {
                cell: std::ptr::null_mut(),
                ..*c
            })
            .collect();
        engine::ready(&probes, wait).map(|pos| self.indices[pos])
    }

    /// Waits until one case could proceed and returns its index, without
    /// performing it (another thread may get there first: re-check).
    ///
    /// # Panics
    /// If there are no cases.
    ///
    /// ```
    /// let (tx, rx) = goro::bounded(1);
    /// tx.send(1).unwrap();
    /// let mut sel = goro::Select::new();
    /// let i = sel.recv(&rx);
    /// assert_eq!(sel.ready(), i);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn ready(&mut self) -> usize {
        assert!(!self.cases.is_empty(), "Select::ready with no operations");
        self.run_ready(Wait::Forever).expect("waits until ready")
    }

    /// The index of a case that could proceed now, if any.
    ///
    /// ```
    /// let (_tx, rx) = goro::bounded::<i32>(1);
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert!(sel.try_ready().is_err());
    /// ```
    pub fn try_ready(&mut self) -> Result<usize, TryReadyError> {
        self.run_ready(Wait::Never).ok_or(TryReadyError)
    }

    /// Like [`Select::ready`], giving up after `timeout`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let (tx, _rx) = goro::bounded::<i32>(0);
    /// let mut sel = goro::Select::new();
    /// sel.send(&tx);
    /// assert!(sel.ready_timeout(Duration::from_millis(5)).is_err());
    /// ```
    pub fn ready_timeout(&mut self, timeout: Duration) -> Result<usize, ReadyTimeoutError> {
        self.run_ready(wait_for(timeout)).ok_or(ReadyTimeoutError)
    }

    /// Like [`Select::ready`], giving up at `deadline`.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let (tx, _rx) = goro::bounded::<i32>(0);
    /// let mut sel = goro::Select::new();
    /// sel.send(&tx);
    /// assert!(sel.ready_deadline(Instant::now() + Duration::from_millis(5)).is_err());
    /// ```
    pub fn ready_deadline(&mut self, deadline: Instant) -> Result<usize, ReadyTimeoutError> {
        self.run_ready(Wait::Until(deadline))
            .ok_or(ReadyTimeoutError)
    }
}

fn wait_for(timeout: Duration) -> Wait {
    match Instant::now().checked_add(timeout) {
        Some(d) => Wait::Until(d),
        None => Wait::Forever,
    }
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.indices)
            .finish_non_exhaustive()
    }
}

/// The case a select chose; complete it with [`SelectedOperation::recv`]
/// or [`SelectedOperation::send`] on the same handle.
///
/// # Panics
/// Dropping it without completing panics. What a send case reserved is
/// released first, so no peer waits on it; a message a receive case took
/// is dropped.
///
/// ```
/// let (tx, rx) = goro::bounded(1);
/// let mut sel = goro::Select::new();
/// sel.send(&tx);
/// let oper = sel.select();
/// oper.send(&tx, "done").unwrap();
/// assert_eq!(rx.recv(), Ok("done"));
/// ```
#[must_use = "a selected operation must be completed with `send` or `recv`"]
pub struct SelectedOperation<'a> {
    index: usize,
    case: Case<'a>,
    token: Option<Token>,
    _borrow: PhantomData<&'a mut ()>,
}

impl SelectedOperation<'_> {
    /// The index the chosen case got from [`Select::send`] or
    /// [`Select::recv`] (for the macros: its position among the channel
    /// cases).
    ///
    /// ```
    /// let (tx, rx) = goro::bounded(1);
    /// tx.send(()).unwrap();
    /// let mut sel = goro::Select::new();
    /// let i = sel.recv(&rx);
    /// let oper = sel.select();
    /// assert_eq!(oper.index(), i);
    /// oper.recv(&rx).unwrap();
    /// ```
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes a chosen receive: the message, or `RecvError` if the
    /// channel was closed and drained.
    ///
    /// # Panics
    /// If `r` is not the receiver of the chosen case.
    ///
    /// ```
    /// let (tx, rx) = goro::bounded::<i32>(1);
    /// tx.close();
    /// let mut sel = goro::Select::new();
    /// sel.recv(&rx);
    /// assert_eq!(sel.select().recv(&rx), Err(goro::RecvError));
    /// ```
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Result<T, RecvError> {
        assert!(
            !self.case.send && std::ptr::eq(engine::addr(self.case.op), chan_addr(&r.chan)),
            "passed a receiver that wasn't selected"
        );
        self.token = None;
        // SAFETY: a receive case's cell is a `RecvCell` of its channel's
        // `T`, and the assertion says that channel is `r`'s; the select is
        // over, so nobody else touches the cell.
        let cell = unsafe { &mut *self.case.cell.cast::<RecvCell<T>>() };
        cell.take().ok_or(RecvError)
    }

    /// Completes a chosen send with `msg`; fails, handing it back, if the
    /// channel was closed.
    ///
    /// # Panics
    /// If `s` is not the sender of the chosen case.
    ///
    /// ```
    /// let (tx, rx) = goro::bounded::<i32>(1);
    /// drop(rx);
    /// let mut sel = goro::Select::new();
    /// sel.send(&tx);
    /// assert_eq!(sel.select().send(&tx, 3), Err(goro::SendError(3)));
    /// ```
    pub fn send<T>(mut self, s: &Sender<T>, msg: T) -> Result<(), SendError<T>> {
        assert!(
            self.case.send && std::ptr::eq(engine::addr(self.case.op), chan_addr(&s.chan)),
            "passed a sender that wasn't selected"
        );
        let token = self.token.take().expect("not completed yet");
        // SAFETY: the token came from this send case, whose channel is
        // `s`'s (asserted above).
        let ready = unsafe { Channel::<T>::send_ready(token) };
        let mut slot = Slot::new(msg);
        match s.chan.complete_send(ready, &mut slot) {
            Ok(()) => Ok(()),
            Err(Fail::Closed | Fail::Full | Fail::Timeout) => Err(SendError(slot.take())),
        }
    }
}

fn chan_addr<T>(chan: &Channel<T>) -> *const () {
    (chan as *const Channel<T>).cast()
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        let Some(token) = self.token.take() else {
            return;
        };
        if self.case.send {
            // SAFETY: the token came from this case's channel, used once.
            unsafe { self.case.op.abort(token) };
        } else {
            // The message (if any) is dropped: the operation was never
            // completed (crossbeam-channel loses it too).
            // SAFETY: the case's cell, of its channel's type; the select
            // is over.
            unsafe { self.case.op.clear(self.case.cell) };
        }
        if !crate::runtime::parking::panicking() {
            panic!("dropped `SelectedOperation` without completing the operation");
        }
    }
}

impl fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

macro_rules! unit_error {
    ($(#[$doc:meta])* $name:ident, $msg:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name;

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($msg)
            }
        }

        impl std::error::Error for $name {}
    };
}

unit_error!(
    /// [`Select::try_select`] found no case ready.
    ///
    /// ```
    /// assert_eq!(goro::TrySelectError.to_string(), "all operations in select would block");
    /// ```
    TrySelectError,
    "all operations in select would block"
);
unit_error!(
    /// [`Select::select_timeout`] ran out of time.
    ///
    /// ```
    /// assert_eq!(goro::SelectTimeoutError.to_string(), "timed out waiting on select");
    /// ```
    SelectTimeoutError,
    "timed out waiting on select"
);
unit_error!(
    /// [`Select::try_ready`] found no case ready.
    ///
    /// ```
    /// assert_eq!(goro::TryReadyError.to_string(), "all operations in select would block");
    /// ```
    TryReadyError,
    "all operations in select would block"
);
unit_error!(
    /// [`Select::ready_timeout`] ran out of time.
    ///
    /// ```
    /// assert_eq!(goro::ReadyTimeoutError.to_string(), "timed out waiting on ready");
    /// ```
    ReadyTimeoutError,
    "timed out waiting on ready"
);

/// What the `select!` macros expand to; not public API.
#[doc(hidden)]
pub mod __private {
    use std::time::Duration;

    use super::engine::{self, Operand};
    use super::{Case, SelectedOperation, Wait, wait_for};
    use crate::chan::{Receiver, Sender};

    pub use super::engine::RecvCell;
    /// One case of a macro select.
    pub type MacroCase<'a> = Case<'a>;

    /// An empty cell for `r`'s messages.
    pub fn recv_cell<T>(_r: &Receiver<T>) -> RecvCell<T> {
        RecvCell::new()
    }

    /// A receive case into `cell`.
    pub fn recv_case<'a, T>(r: &'a Receiver<T>, cell: &'a mut RecvCell<T>) -> Case<'a> {
        Case {
            op: &*r.chan as &dyn Operand,
            send: false,
            cell: (cell as *mut RecvCell<T>).cast(),
        }
    }

    /// A send case.
    pub fn send_case<'a, T>(s: &'a Sender<T>) -> Case<'a> {
        Case {
            op: &*s.chan as &dyn Operand,
            send: true,
            cell: std::ptr::null_mut(),
        }
    }

    fn run<'a>(cases: &'a [Case<'a>], biased: bool, wait: Wait) -> Option<SelectedOperation<'a>> {
        let (pos, token) = engine::select(cases, biased, wait)?;
        Some(SelectedOperation {
            index: pos,
            case: cases[pos],
            token: Some(token),
            _borrow: std::marker::PhantomData,
        })
    }

    /// A select without `default`: waits (forever, with no cases).
    pub fn select<'a>(cases: &'a [Case<'a>], biased: bool) -> SelectedOperation<'a> {
        match run(cases, biased, Wait::Forever) {
            Some(op) => op,
            None => unreachable!("a select without timeout returns a case"),
        }
    }

    /// A select with `default`.
    pub fn try_select<'a>(cases: &'a [Case<'a>], biased: bool) -> Option<SelectedOperation<'a>> {
        run(cases, biased, Wait::Never)
    }

    /// A select with `default(timeout)`.
    pub fn select_timeout<'a>(
        cases: &'a [Case<'a>],
        biased: bool,
        timeout: Duration,
    ) -> Option<SelectedOperation<'a>> {
        run(cases, biased, wait_for(timeout))
    }
}
