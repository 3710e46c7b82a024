//! Sums across ranks in a fixed order.
//!
//! MPI's own all-reduce may add contributions in any order (and differently
//! on different ranks), so its result can change with timing and topology.
//! Here every rank's vector goes to rank 0, which adds them in rank order in
//! f64 and broadcasts the sum: the same bits on every rank, for a given
//! number of ranks. (Different numbers of ranks split the data differently,
//! so results then agree up to float rounding.)

use crate::comm::Comm;

/// `f64`s as little-endian bytes.
pub fn encode_f64s(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// The inverse of [`encode_f64s`]; `None` if the length is not a multiple of 8.
pub fn decode_f64s(bytes: &[u8]) -> Option<Vec<f64>> {
    if !bytes.len().is_multiple_of(8) {
        return None;
    }
    Some(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
}

/// Collective: replaces `values` on every rank by the elementwise sum over
/// ranks, added in rank order. Every rank must pass the same length.
pub fn sum_in_rank_order(comm: &dyn Comm, values: &mut [f64]) {
    if comm.size() == 1 {
        return;
    }
    let parts = comm.gather(0, &encode_f64s(values));
    let mut bytes = Vec::new();
    if comm.rank() == 0 {
        let mut sum = vec![0.0f64; values.len()];
        for (rank, part) in parts.iter().enumerate() {
            let part = decode_f64s(part).filter(|p| p.len() == values.len());
            let part = part.unwrap_or_else(|| panic!("sum_in_rank_order: rank {rank} sent a vector of another length"));
            for (s, v) in sum.iter_mut().zip(part) {
                *s += v;
            }
        }
        bytes = encode_f64s(&sum);
    }
    comm.broadcast(0, &mut bytes);
    values.copy_from_slice(&decode_f64s(&bytes).expect("the root's sum"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Local;

    #[test]
    fn bytes_round_trip_and_reject_ragged_input() {
        let v = [1.5, -0.0, f64::MAX, 1e-300];
        assert_eq!(decode_f64s(&encode_f64s(&v)).unwrap(), v);
        assert!(decode_f64s(&[0; 7]).is_none());
    }

    #[test]
    fn one_process_sum_is_the_vector_itself() {
        let mut v = [0.1, 0.2];
        sum_in_rank_order(&Local, &mut v);
        assert_eq!(v, [0.1, 0.2]);
    }
}
