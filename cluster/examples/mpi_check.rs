//! Checks the MPI communicator under `mpirun` (run by `cluster/tests/mpi.rs`):
//! `mpirun -n 3 mpi_check [ok|fail|die]`. Prints `ok` on rank 0 when the
//! fixed-order sum and the distribution of 500 items agree with a one-process
//! computation; `fail` makes rank 1 fail on its first item (it prints the error
//! and aborts the job); `die` makes the last rank kill itself on its first.

use cluster::{distribute, sum_in_rank_order, Comm, Distribution, Mpi};

fn value(i: usize) -> Vec<f64> {
    let x = i as f64;
    vec![(x * 0.37).sin(), x.sqrt(), 1.0 / (1.0 + x)]
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_else(|| "ok".into());
    let comm = Mpi::init().expect("MPI");
    let (rank, size) = (comm.rank(), comm.size());

    let mut v: Vec<f64> = (0..5).map(|k| 0.1 * (rank + 1) as f64 + k as f64).collect();
    sum_in_rank_order(&comm, &mut v);
    let mut want = vec![0.0f64; 5];
    for r in 0..size {
        for (k, w) in want.iter_mut().enumerate() {
            *w += 0.1 * (r + 1) as f64 + k as f64;
        }
    }
    assert_eq!(v, want, "rank {rank}: the sum differs from rank order");

    let mut delivered = Vec::new();
    let result = distribute(
        &comm,
        Distribution { items: 500, chunk: 7 },
        &|| (),
        &|_, i| {
            if mode == "fail" && rank == 1 {
                return Err(format!("item {i}: failed on purpose"));
            }
            if mode == "die" && rank == size - 1 {
                std::process::abort();
            }
            // Rank 1 is slow: the others must take more chunks.
            if rank == 1 {
                std::thread::sleep(std::time::Duration::from_micros(300));
            }
            Ok(value(i))
        },
        &mut |i, v| {
            delivered.push((i, v));
            Ok(())
        },
    );
    if let Err(e) = result {
        eprintln!("rank {rank}: {e}");
        comm.abort(3);
    }
    if rank == 0 {
        let want: Vec<(usize, Vec<f64>)> = (0..500).map(|i| (i, value(i))).collect();
        assert_eq!(delivered, want, "delivered results differ from a one-process run");
        println!("ok");
    }
}
