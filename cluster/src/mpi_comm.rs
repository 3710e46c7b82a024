//! [`Comm`] over MPI (rsmpi), for jobs started by `mpirun` or `srun`.

use crate::comm::{Comm, Tag};
use mpi::environment::Universe;
use mpi::point_to_point::{Destination, Source};
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::traits::Root;

/// The world communicator of an MPI job. Made once per process, on the main
/// thread, which is then the only thread that calls it (MPI's "funneled"
/// level); MPI is finalized when it is dropped.
pub struct Mpi {
    // Dropped last: finalizes MPI.
    _universe: Universe,
    world: SimpleCommunicator,
}

/// Tag of the point-to-point messages [`Mpi::gather`] is made of.
const GATHER: i32 = 0x7fff;

impl Mpi {
    /// Initializes MPI; an error if it was initialized already or cannot
    /// give the "funneled" threading level.
    pub fn init() -> Result<Mpi, String> {
        let (universe, level) =
            mpi::initialize_with_threading(mpi::Threading::Funneled).ok_or("MPI is initialized already (one communicator per process)")?;
        if level < mpi::Threading::Funneled {
            return Err(format!("the MPI library gives threading level {level:?}; llv needs Funneled"));
        }
        let world = universe.world();
        Ok(Mpi { _universe: universe, world })
    }
}

impl Comm for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn broadcast(&self, root: usize, bytes: &mut Vec<u8>) {
        let root = self.world.process_at_rank(root as i32);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        root.broadcast_into(&mut bytes[..]);
    }
    fn gather(&self, root: usize, bytes: &[u8]) -> Vec<Vec<u8>> {
        if self.rank() != root {
            self.world.process_at_rank(root as i32).send_with_tag(bytes, GATHER);
            return Vec::new();
        }
        (0..self.size())
            .map(|r| if r == root { bytes.to_vec() } else { self.world.process_at_rank(r as i32).receive_vec_with_tag::<u8>(GATHER).0 })
            .collect()
    }
    fn send(&self, to: usize, tag: Tag, bytes: &[u8]) {
        self.world.process_at_rank(to as i32).send_with_tag(bytes, tag as i32);
    }
    fn try_receive(&self, tag: Tag) -> Option<(usize, Vec<u8>)> {
        let status = self.world.any_process().immediate_probe_with_tag(tag as i32)?;
        let from = status.source_rank();
        let (bytes, _) = self.world.process_at_rank(from).receive_vec_with_tag::<u8>(tag as i32);
        Some((from as usize, bytes))
    }
    fn receive(&self, from: usize, tag: Tag) -> Vec<u8> {
        self.world.process_at_rank(from as i32).receive_vec_with_tag::<u8>(tag as i32).0
    }
    fn abort(&self, code: i32) -> ! {
        // Exiting without MPI_Finalize makes mpirun end every other rank and
        // report this one. (MPI_Abort from a non-root rank sometimes left
        // Open MPI 4.1's mpirun hanging or crashing on a loaded machine.)
        use std::io::Write;
        let _ = std::io::stderr().flush();
        std::process::exit(code)
    }
}
