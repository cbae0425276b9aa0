//! `select!` and `select_biased!`: thin front ends over one internal
//! macro, `__select_internal!`, which parses the cases into a list (each
//! with a label from a fixed supply, as crossbeam-channel does), then
//! emits: the channel operands, evaluated once each in source order; a
//! receive cell per receive case; an array of cases; one call into the
//! engine; and a `match` that completes the chosen case, building a send
//! case's value only then.

/// Waits on several channel operations and runs the arm of the one that
/// completes, in crossbeam-channel's syntax:
///
/// - `recv(receiver) -> result => body`: `result` is a pattern for
///   `Result<T, RecvError>` (`Err` once the channel is closed and drained);
/// - `send(sender, value) -> result => body`: `result` is a pattern for
///   `Result<(), SendError<T>>`; `value` is evaluated only if this case is
///   chosen;
/// - `default => body`: runs if no case is ready now;
/// - `default(timeout) => body`: runs if no case is ready within `timeout`.
///
/// Operands are any expression giving a `Receiver`/`Sender` or a reference
/// to one, evaluated once each, in source order. Among ready cases one is
/// chosen uniformly at random (Go's rule); without a `default` the caller
/// parks on all the channels at once. A closed channel's `recv` case is
/// ready (with `Err`), and so is a closed channel's `send` case (handing
/// the value back). [`never`](crate::chan) receivers are never ready, like
/// Go's nil channel.
///
/// ```
/// use std::time::Duration;
/// let (tx1, rx1) = goro::bounded::<i32>(1);
/// let (tx2, rx2) = goro::bounded::<&str>(1);
/// tx2.send("two").unwrap();
/// goro::select! {
///     recv(rx1) -> msg => panic!("rx1 is empty: {msg:?}"),
///     recv(rx2) -> msg => assert_eq!(msg, Ok("two")),
///     default(Duration::from_secs(1)) => panic!("rx2 was ready"),
/// }
/// goro::select! {
///     send(tx1, 5) -> res => res.unwrap(),
///     default => panic!("room in tx1"),
/// }
/// assert_eq!(rx1.recv(), Ok(5));
/// # drop(tx2);
/// ```
///
/// Misuse is a compile error naming the problem: two `default` cases,
///
/// ```compile_fail
/// let (_tx, rx) = goro::bounded::<i32>(0);
/// goro::select! {
///     recv(rx) -> _ => {},
///     default => {},
///     default => {},
/// }
/// ```
///
/// a case that is not `recv`, `send` or `default`,
///
/// ```compile_fail
/// let (_tx, rx) = goro::bounded::<i32>(0);
/// goro::select! {
///     receive(rx) -> _ => {},
/// }
/// ```
///
/// or a case without its `-> pattern`:
///
/// ```compile_fail
/// let (_tx, rx) = goro::bounded::<i32>(0);
/// goro::select! {
///     recv(rx) => {},
/// }
/// ```
#[macro_export]
macro_rules! select {
    ($($case:tt)*) => {
        $crate::__select_internal!(@start false $($case)*)
    };
}

/// Like [`select!`], but when several cases are ready the first in source
/// order wins.
///
/// ```
/// let (tx1, rx1) = goro::bounded::<i32>(1);
/// let (tx2, rx2) = goro::bounded::<i32>(1);
/// tx1.send(1).unwrap();
/// tx2.send(2).unwrap();
/// goro::select_biased! {
///     recv(rx1) -> v => assert_eq!(v, Ok(1)),
///     recv(rx2) -> _ => panic!("rx1 comes first"),
/// }
/// ```
#[macro_export]
macro_rules! select_biased {
    ($($case:tt)*) => {
        $crate::__select_internal!(@start true $($case)*)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __select_internal {
    // Entry: a supply of labels (index, handle, cell), one per case.
    (@start $biased:tt $($case:tt)*) => {
        $crate::__select_internal!(
            @parse $biased ($($case)*) () ()
            ((0 __h0 __c0) (1 __h1 __c1) (2 __h2 __c2) (3 __h3 __c3)
             (4 __h4 __c4) (5 __h5 __c5) (6 __h6 __c6) (7 __h7 __c7)
             (8 __h8 __c8) (9 __h9 __c9) (10 __h10 __c10) (11 __h11 __c11)
             (12 __h12 __c12) (13 __h13 __c13) (14 __h14 __c14) (15 __h15 __c15)
             (16 __h16 __c16) (17 __h17 __c17) (18 __h18 __c18) (19 __h19 __c19)
             (20 __h20 __c20) (21 __h21 __c21) (22 __h22 __c22) (23 __h23 __c23)
             (24 __h24 __c24) (25 __h25 __c25) (26 __h26 __c26) (27 __h27 __c27)
             (28 __h28 __c28) (29 __h29 __c29) (30 __h30 __c30) (31 __h31 __c31))
        )
    };

    // ---- parsing: (@parse biased (tokens left) (cases) (default) (labels)) ----
    (@parse $b:tt () ($($cases:tt)*) ($($def:tt)*) $labels:tt) => {
        $crate::__select_internal!(@emit $b ($($cases)*) ($($def)*))
    };
    (@parse $b:tt (, $($rest:tt)*) $cases:tt $def:tt $labels:tt) => {
        $crate::__select_internal!(@parse $b ($($rest)*) $cases $def $labels)
    };
    // default
    (@parse $b:tt (default $($rest:tt)*) $cases:tt ($($def:tt)+) $labels:tt) => {
        compile_error!("`select!` takes at most one `default` case")
    };
    (@parse $b:tt (default() => $($rest:tt)*) $cases:tt () $labels:tt) => {
        $crate::__select_internal!(@parse $b (default => $($rest)*) $cases () $labels)
    };
    (@parse $b:tt (default => $body:block $($rest:tt)*) $cases:tt () $labels:tt) => {
        $crate::__select_internal!(@parse $b ($($rest)*) $cases (now ($body)) $labels)
    };
    (@parse $b:tt (default => $body:expr $(, $($rest:tt)*)?) $cases:tt () $labels:tt) => {
        $crate::__select_internal!(@parse $b ($($($rest)*)?) $cases (now ($body)) $labels)
    };
    (@parse $b:tt (default($t:expr $(,)?) => $body:block $($rest:tt)*) $cases:tt () $labels:tt) => {
        $crate::__select_internal!(@parse $b ($($rest)*) $cases (timeout ($t) ($body)) $labels)
    };
    (@parse $b:tt (default($t:expr $(,)?) => $body:expr $(, $($rest:tt)*)?) $cases:tt () $labels:tt) => {
        $crate::__select_internal!(@parse $b ($($($rest)*)?) $cases (timeout ($t) ($body)) $labels)
    };
    (@parse $b:tt (default $($rest:tt)*) $cases:tt () $labels:tt) => {
        compile_error!("invalid `default` case: expected `default => body` or `default(timeout) => body`")
    };
    // too many cases
    (@parse $b:tt ($kw:ident $($rest:tt)*) $cases:tt $def:tt ()) => {
        compile_error!("`select!` supports at most 32 channel cases")
    };
    // recv
    (@parse $b:tt (recv($r:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) ($($cases:tt)*) $def:tt
        (($i:tt $h:ident $c:ident) $($labels:tt)*)) => {
        $crate::__select_internal!(@parse $b ($($rest)*)
            ($($cases)* [$i $h $c recv ($r) () ($p) ($body)]) $def ($($labels)*))
    };
    (@parse $b:tt (recv($r:expr $(,)?) -> $p:pat => $body:expr $(, $($rest:tt)*)?) ($($cases:tt)*) $def:tt
        (($i:tt $h:ident $c:ident) $($labels:tt)*)) => {
        $crate::__select_internal!(@parse $b ($($($rest)*)?)
            ($($cases)* [$i $h $c recv ($r) () ($p) ($body)]) $def ($($labels)*))
    };
    (@parse $b:tt (recv $($rest:tt)*) $cases:tt $def:tt $labels:tt) => {
        compile_error!("invalid `recv` case: expected `recv(receiver) -> pattern => body`")
    };
    // send
    (@parse $b:tt (send($s:expr, $v:expr $(,)?) -> $p:pat => $body:block $($rest:tt)*) ($($cases:tt)*)
        $def:tt (($i:tt $h:ident $c:ident) $($labels:tt)*)) => {
        $crate::__select_internal!(@parse $b ($($rest)*)
            ($($cases)* [$i $h $c send ($s) ($v) ($p) ($body)]) $def ($($labels)*))
    };
    (@parse $b:tt (send($s:expr, $v:expr $(,)?) -> $p:pat => $body:expr $(, $($rest:tt)*)?) ($($cases:tt)*)
        $def:tt (($i:tt $h:ident $c:ident) $($labels:tt)*)) => {
        $crate::__select_internal!(@parse $b ($($($rest)*)?)
            ($($cases)* [$i $h $c send ($s) ($v) ($p) ($body)]) $def ($($labels)*))
    };
    (@parse $b:tt (send $($rest:tt)*) $cases:tt $def:tt $labels:tt) => {
        compile_error!("invalid `send` case: expected `send(sender, value) -> pattern => body`")
    };
    (@parse $b:tt ($other:tt $($rest:tt)*) $cases:tt $def:tt $labels:tt) => {
        compile_error!(concat!(
            "`select!` expected a `recv`, `send` or `default` case, found `",
            stringify!($other),
            "`"
        ))
    };

    // ---- code generation ----
    // Each operand is the scrutinee of a `match` nesting the rest, so the
    // temporaries it makes (`recv(opt.unwrap_or(&never()))`) live until the
    // select has completed, as in crossbeam-channel's macro.
    (@emit $b:tt $cases:tt $def:tt) => {
        $crate::__select_internal!(@bind $cases $cases $b $def)
    };
    (@bind () ($([$i:tt $h:ident $c:ident $kind:ident $op:tt $v:tt $p:tt $body:tt])*)
        $b:tt $def:tt) => {{
        let __cases = [ $( $crate::__select_internal!(@case $kind $h $c) ),* ];
        $crate::__select_internal!(@run $b __cases __op $def
            { match __op.index() {
                $( $i => $crate::__select_internal!(@complete $kind __op $h $v $p $body), )*
                _ => ::core::unreachable!(),
            } })
    }};
    // The operand is evaluated with no expected type first (so that `if`
    // and `match` operands giving `&Receiver` type-check branch by
    // branch), then coerced: `&Receiver`, `&&Receiver`, `&*arc`... all
    // deref to `&Receiver`.
    (@bind ([$i:tt $h:ident $c:ident recv ($op:expr) $v:tt $p:tt $body:tt] $($rest:tt)*)
        $all:tt $b:tt $def:tt) => {
        match &$op {
            $h => {
                let $h: &$crate::Receiver<_> = $h;
                let mut $c = $crate::__private::select::recv_cell($h);
                $crate::__select_internal!(@bind ($($rest)*) $all $b $def)
            }
        }
    };
    (@bind ([$i:tt $h:ident $c:ident send ($op:expr) $v:tt $p:tt $body:tt] $($rest:tt)*)
        $all:tt $b:tt $def:tt) => {
        match &$op {
            $h => {
                let $h: &$crate::Sender<_> = $h;
                $crate::__select_internal!(@bind ($($rest)*) $all $b $def)
            }
        }
    };
    (@case recv $h:ident $c:ident) => {
        $crate::__private::select::recv_case($h, &mut $c)
    };
    (@case send $h:ident $c:ident) => {
        $crate::__private::select::send_case($h)
    };
    (@complete recv $op:ident $h:ident () ($p:pat) ($body:expr)) => {{
        let $p = $op.recv($h);
        $body
    }};
    (@complete send $op:ident $h:ident ($v:expr) ($p:pat) ($body:expr)) => {{
        let $p = $op.send($h, $v);
        $body
    }};

    (@run $b:tt $cases:ident $op:ident () $complete:block) => {{
        let $op = $crate::__private::select::select(&$cases, $b);
        $complete
    }};
    (@run $b:tt $cases:ident $op:ident (now ($body:expr)) $complete:block) => {
        match $crate::__private::select::try_select(&$cases, $b) {
            ::core::option::Option::Some($op) => $complete,
            ::core::option::Option::None => $body,
        }
    };
    (@run $b:tt $cases:ident $op:ident (timeout ($t:expr) ($body:expr)) $complete:block) => {
        match $crate::__private::select::select_timeout(&$cases, $b, $t) {
            ::core::option::Option::Some($op) => $complete,
            ::core::option::Option::None => $body,
        }
    };
}
