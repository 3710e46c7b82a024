//! `llv info`: what this build of llv runs on.

use super::output::print;

/// Runs `llv info`.
pub fn run() {
    let mut text = format!("llv {}\nthreads: {}\n", env!("CARGO_PKG_VERSION"), rayon::current_num_threads());
    #[cfg(target_arch = "x86_64")]
    {
        let yes = |b: bool| if b { "yes" } else { "no" };
        text += &format!("avx2+fma: {}\n", yes(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")));
        text += &format!("avx512f: {}\n", yes(is_x86_feature_detected!("avx512f")));
    }
    print(&text);
}
