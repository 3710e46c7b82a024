//! End-to-end: `llv bench` prints one JSON object per case with the
//! contract's fields (the timings themselves are not asserted).

use std::process::Command;

#[test]
fn bench_prints_contract_fields() {
    let o = Command::new(env!("CARGO_BIN_EXE_llv"))
        .args(["bench", "--quick", "--case", "gemm_llv,lenet", "--json", "--threads", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let names: Vec<&str> = lines.iter().map(|v| v["bench"].as_str().unwrap()).collect();
    assert_eq!(names, ["gemm_llv", "gemm_llv", "gemm_llv", "gemm_llv", "lenet.train_step", "lenet.eval", "lenet.eval"]);
    for v in &lines {
        assert_eq!(v["label"], "llv");
        assert_eq!(v["threads"], 1);
        for f in ["median_s", "min_s", "max_s", "mean_s", "reps", "warmup"] {
            assert!(v[f].is_number(), "{f} missing in {v}");
        }
    }
    assert_eq!(lines[4]["params"], 61706, "the zoo LeNet, as torch_ref.py reports it");
    let gflop = lines[5]["fwd_gflop_per_image"].as_f64().unwrap();
    assert!((gflop - 0.00083).abs() < 0.00005, "LeNet forward GFLOP per image {gflop}");
    let bad = Command::new(env!("CARGO_BIN_EXE_llv")).args(["bench", "--case", "nope"]).output().unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("--case"));
}
