//! proptest: random spawn trees with yields, sleeps and joins, over 1-4
//! workers, always complete with every result correct.

mod common;

use proptest::prelude::*;
use std::time::Duration;

#[derive(Debug, Clone)]
struct Node {
    value: u64,
    yields: u8,
    sleep: bool,
    /// Join children in reverse spawn order instead of spawn order.
    reverse_join: bool,
    children: Vec<Node>,
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = (any::<u16>(), 0u8..4, any::<bool>()).prop_map(|(v, y, s)| Node {
        value: v as u64,
        yields: y,
        sleep: s,
        reverse_join: false,
        children: Vec::new(),
    });
    leaf.prop_recursive(4, 64, 6, |inner| {
        (
            any::<u16>(),
            0u8..4,
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(inner, 0..6),
        )
            .prop_map(|(v, y, s, r, c)| Node {
                value: v as u64,
                yields: y,
                sleep: s,
                reverse_join: r,
                children: c,
            })
    })
}

fn expected(n: &Node) -> u64 {
    n.value + n.children.iter().map(expected).sum::<u64>() * 3
}

fn run_node(n: Node) -> u64 {
    let handles: Vec<_> = n
        .children
        .into_iter()
        .map(|c| goro::go!(move || run_node(c)))
        .collect();
    for _ in 0..n.yields {
        goro::yield_now();
    }
    if n.sleep {
        goro::sleep(Duration::from_micros(10));
    }
    let mut results: Vec<u64> = if n.reverse_join {
        let mut v: Vec<u64> = handles
            .into_iter()
            .rev()
            .map(|h| h.join().unwrap())
            .collect();
        v.reverse();
        v
    } else {
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    };
    results.iter_mut().for_each(|r| *r *= 3);
    n.value + results.into_iter().sum::<u64>()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn spawn_trees_complete_with_correct_results(tree in node(), workers in 1usize..=4) {
        let want = expected(&tree);
        let rt = common::rt(workers);
        let got = rt.block_on(move || run_node(tree));
        prop_assert_eq!(got, want);
    }
}
