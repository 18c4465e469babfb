use std::sync::Arc;
use eventmap_benches::*;
fn main() {
    let which = std::env::args().nth(1).unwrap();
    let case: usize = std::env::args().nth(2).unwrap().parse().unwrap();
    let mut events = ordering::sample_events("order-1");
    events.push(wide::sample_event("a").into_dyn());
    let ev = std::slice::from_ref(&events[case]);
    let g = generated_dispatcher(Arc::new(NullPublisher));
    let h = hand::HandDispatcher::new(Arc::new(NullPublisher));
    let n: u32 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let t = std::time::Instant::now();
    for _ in 0..n {
        if which == "g" { run_ready(g.publish(std::hint::black_box(ev))).unwrap() } else { run_ready(h.publish(std::hint::black_box(ev))).unwrap() }
    }
    eprintln!("{which} {case}: {:?}/iter", t.elapsed() / n);
}
