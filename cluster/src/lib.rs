//! # cluster: one job over several processes
//!
//! llv's landscape, Hessian and training jobs run on one process or, for
//! clusters, on the ranks of an MPI job (`mpirun`, `srun`). This crate is
//! the part that knows about processes, and nothing else:
//!
//! * [`Comm`]: rank, size, broadcast, gather, tagged messages, abort. Two
//!   implementations: [`Local`] (one process, always there) and, with the
//!   `mpi` feature, `Mpi` (rsmpi). Only the thread that created the
//!   communicator calls it; compute threads never touch MPI.
//! * [`sum_in_rank_order`]: an all-reduce whose result is the same bits on
//!   every rank and depends only on the number of ranks, never on timing.
//! * [`distribute`]: items handed out in chunks as ranks ask for them (fast
//!   and slow nodes both stay busy), results delivered on rank 0 in item
//!   order, whatever the number of ranks.
//! * [`slurm_array_shard`]: a job array's task as shard `k` of `N`.

mod comm;
mod distribute;
#[cfg(feature = "mpi")]
mod mpi_comm;
mod reduce;
mod slurm;

pub use comm::{Comm, Local, Tag};
pub use distribute::{distribute, Distribution, Work};
#[cfg(feature = "mpi")]
pub use mpi_comm::Mpi;
pub use reduce::{decode_f64s, encode_f64s, sum_in_rank_order};
pub use slurm::slurm_array_shard;
