//! The default stack (256 KiB) is large enough for ordinary Rust code, in
//! the debug build too, whose frames are several times larger than an
//! optimised build's: serde_json at its deepest nesting (its recursion
//! limit is 128), pretty-printing and `{:#?}` of the result, and a regex
//! compiled and matched, all on one green thread that sets no stack size.
//!
//! A smaller default would not be: measured in the debug build of this
//! workload, 192 KiB overflows and 224 KiB is the least that fits. An
//! overflow aborts the process (with a message naming the green thread and
//! `Builder::stack_size`), so this file holds nothing else: an abort here
//! fails this test binary alone.

/// JSON nested `depth` deep, alternating arrays and objects, with `1` at
/// the bottom.
fn nested_json(depth: usize) -> String {
    let mut s = String::new();
    for i in 0..depth {
        s.push_str(if i % 2 == 0 { "[" } else { "{\"k\":" });
    }
    s.push('1');
    for i in (0..depth).rev() {
        s.push(if i % 2 == 0 { ']' } else { '}' });
    }
    s
}

/// serde_json, formatting and regex, as a green thread's body would use
/// them; returns what it checked, so the caller sees it ran to the end.
fn ordinary_work() -> (usize, String) {
    // serde_json refuses nesting past 128 levels: 127 is as deep as a user
    // can go without changing its limit.
    let text = nested_json(127);
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let pretty = serde_json::to_string_pretty(&value).expect("serialisable");
    let compact = serde_json::to_string(&value).expect("serialisable");
    assert_eq!(compact, text, "a round trip changes nothing");
    let debug = format!("{value:#?}");
    assert!(debug.contains("Number(1)"), "{debug:.200}");

    let email = regex::Regex::new(
        r"(?i)^(?P<user>[a-z0-9._%+-]+)@(?P<host>[a-z0-9.-]+\.[a-z]{2,})(?:\s+\((?P<name>[^)]*)\))?$",
    )
    .expect("a valid pattern");
    let caps = email
        .captures("John.Doe@Example.com (John Doe)")
        .expect("it matches");
    let unicode = regex::Regex::new(r"\b\w+\b(?:\s+\w+){0,20}\s+\p{Greek}+").unwrap();
    assert!(unicode.is_match("one two three αβγ"));
    assert!(!unicode.is_match("one two three"));
    (pretty.len(), caps["host"].to_string())
}

#[test]
fn ordinary_rust_code_fits_the_default_stack_in_a_debug_build() {
    let (pretty_len, host) = goro::run(|| goro::go!(ordinary_work).join().unwrap());
    assert!(pretty_len > nested_json(127).len());
    assert_eq!(host, "Example.com");
}

#[test]
fn ordinary_rust_code_fits_the_default_stack_of_a_runtime() {
    let rt = goro::runtime::Builder::new().workers(1).build().unwrap();
    let (_, host) = rt.spawn(ordinary_work).join().unwrap();
    assert_eq!(host, "Example.com");
}
