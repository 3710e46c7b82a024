//! Times `nn::eval::evaluate` on the first 500 embedded MNIST test images
//! (seed-0 weights) for the zoo models named on the command line:
//! `cargo run --release -p nn --example time_eval -- resnet20 vgg9`.
fn main() {
    let set = datasets::embedded::mnist().unwrap().test.first(500);
    let args: Vec<String> = std::env::args().skip(1).collect();
    for m in &args {
        let mut net = nn::zoo::build(m, &nn::zoo::ModelConfig::mnist(), 0).unwrap();
        let t = std::time::Instant::now();
        let bs: usize = std::env::var("BS").ok().and_then(|s| s.parse().ok()).unwrap_or(500);
        let r = nn::eval::evaluate(&mut net, &set, bs);
        println!("{m}: {:?} in {:.2?}", r, t.elapsed());
    }
}
