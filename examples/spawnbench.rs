fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(1_000_000);
    let rt = goro::runtime::Builder::new().build().unwrap();
    for _ in 0..3 {
        let t = std::time::Instant::now();
        rt.block_on(|| {
            let hs: Vec<_> = (0..n).map(|i| goro::go!(move || i)).collect();
            for h in hs {
                h.join().unwrap();
            }
        });
        println!(
            "spawn+join {n}: {:?} per green thread",
            t.elapsed() / n as u32
        );
    }
}
