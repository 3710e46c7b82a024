//! The communicator: what a job needs from its processes.

/// A message tag: what a point-to-point message is about.
pub type Tag = u16;

/// The processes of a job. Rank 0 is the root: it reads and writes files.
/// Calls are collective where documented (every rank must make them, in the
/// same order) and must all come from the thread that made the communicator.
pub trait Comm {
    /// This process's rank, `0..size`.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn size(&self) -> usize;
    /// Collective: afterwards every rank's `bytes` holds rank `root`'s.
    fn broadcast(&self, root: usize, bytes: &mut Vec<u8>);
    /// Collective: every rank's `bytes`, in rank order, on rank `root`
    /// (an empty list elsewhere).
    fn gather(&self, root: usize, bytes: &[u8]) -> Vec<Vec<u8>>;
    /// Sends `bytes` to rank `to` with `tag`.
    fn send(&self, to: usize, tag: Tag, bytes: &[u8]);
    /// A message with `tag` from any rank, if one has arrived: `(from, bytes)`.
    fn try_receive(&self, tag: Tag) -> Option<(usize, Vec<u8>)>;
    /// Waits for a message with `tag` from rank `from`.
    fn receive(&self, from: usize, tag: Tag) -> Vec<u8>;
    /// Ends every process of the job with exit status `code` (after the
    /// caller printed why, naming this rank).
    fn abort(&self, code: i32) -> !;
}

/// A job of one process: collectives are copies, and there is nobody to
/// send to.
#[derive(Clone, Copy, Debug, Default)]
pub struct Local;

impl Comm for Local {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn broadcast(&self, _root: usize, _bytes: &mut Vec<u8>) {}
    fn gather(&self, _root: usize, bytes: &[u8]) -> Vec<Vec<u8>> {
        vec![bytes.to_vec()]
    }
    fn send(&self, to: usize, _tag: Tag, _bytes: &[u8]) {
        panic!("Local::send: a one-process job has no rank {to}");
    }
    fn try_receive(&self, _tag: Tag) -> Option<(usize, Vec<u8>)> {
        None
    }
    fn receive(&self, from: usize, _tag: Tag) -> Vec<u8> {
        panic!("Local::receive: a one-process job has no rank {from}");
    }
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}
