fn main() {
    let t = std::time::Instant::now();
    let n = goro::run(|| {
        let hs: Vec<_> = (0..100_000u64)
            .map(|i| {
                goro::go!(move || {
                    goro::yield_now();
                    i
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum::<u64>()
    });
    println!("sum {n} in {:?}", t.elapsed());
    let r = std::panic::catch_unwind(|| goro::run(|| goro::go!(|| panic!("boom")).join().is_err()));
    println!("{r:?}");
    goro::run(|| {
        goro::go!(|| goro::sleep(std::time::Duration::from_secs(100)));
        goro::sleep(std::time::Duration::from_millis(10));
    });
    println!(
        "shutdown ok, live stacks {}",
        goro::__private::live_stacks()
    );
}
