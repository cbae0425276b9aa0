//! `go!`: Go's `go` statement, a thin front-end over [`crate::spawn`].
//!
//! Two forms: a closure (`go!(|| ..)`, `go!(move || ..)`) or a function
//! path (`go!(worker)`) is spawned as is; anything else is a block of
//! statements (`go! { ..; value }`) that becomes a `move` closure, so it
//! takes ownership of what it captures, and its value is the green thread's
//! result. To spawn a closure computed by an expression, call
//! [`crate::spawn`].

/// Spawns a green thread, Go's `go` statement; returns its
/// [`JoinHandle`](crate::JoinHandle).
///
/// The closure form takes a closure or a function path; the block form
/// takes statements, moves what they capture, and yields their value.
/// Outside any runtime, both start the lazily built global runtime.
///
/// # Panics
/// If no stack can be mapped for the green thread (the message is that of
/// the `io::Error` that [`Builder::spawn`](crate::Builder::spawn) returns).
///
/// ```
/// let name = String::from("gopher");
/// let a = goro::go!(|| 1 + 1);
/// let b = goro::go! { format!("hello, {name}") }; // moves `name`
/// fn answer() -> u32 { 42 }
/// let c = goro::go!(answer);
/// assert_eq!(a.join().unwrap(), 2);
/// assert_eq!(b.join().unwrap(), "hello, gopher");
/// assert_eq!(c.join().unwrap(), 42);
/// ```
#[macro_export]
macro_rules! go {
    (move || $($body:tt)*) => {
        $crate::spawn(move || $($body)*)
    };
    (|| $($body:tt)*) => {
        $crate::spawn(|| $($body)*)
    };
    (move |$($args:tt)*) => {
        ::core::compile_error!("go!: a green thread's closure takes no arguments")
    };
    (|$($args:tt)*) => {
        ::core::compile_error!("go!: a green thread's closure takes no arguments")
    };
    ($($segment:ident)::+) => {
        $crate::spawn($($segment)::+)
    };
    () => {
        $crate::spawn(move || {})
    };
    ($($body:tt)*) => {
        $crate::spawn(move || { $($body)* })
    };
}
