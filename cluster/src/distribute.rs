//! Dynamic hand-out of work: items go out in chunks as ranks finish their
//! previous ones, so a slow node takes fewer and nobody idles while work is
//! left. Rank 0 is the only one that delivers results, in item order, so
//! what it writes does not depend on the number of ranks or on timing.
//!
//! Rank 0 computes too: a thread of its own pulls chunks from the same
//! queue, while rank 0's main thread answers the other ranks (so only that
//! thread calls the communicator). Every other rank keeps two chunks in
//! hand: it asks for the next while computing the current one, so it never
//! waits for rank 0 between chunks.

use crate::comm::{Comm, Tag};
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Mutex};

const ASSIGN: Tag = 1;
const RESULT: Tag = 2;
/// Chunks each worker rank holds at once.
const IN_HAND: usize = 2;

/// What to distribute: items `0..items` in chunks of `chunk` (the last may
/// be shorter). Every rank must pass the same values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Distribution {
    /// Number of items.
    pub items: usize,
    /// Items per chunk (at least 1).
    pub chunk: usize,
}

/// The computation of one item: `(worker state, item) -> values`.
pub type Work<'a, S, E> = dyn Fn(&mut S, usize) -> Result<Vec<f64>, E> + Sync + 'a;

/// The queue of chunks not yet handed out.
struct Queue {
    next: Mutex<usize>,
    d: Distribution,
}

impl Queue {
    fn take(&self) -> Option<Range<usize>> {
        let mut next = self.next.lock().expect("queue lock");
        let start = *next;
        if start >= self.d.items {
            return None;
        }
        *next = (start + self.d.chunk.max(1)).min(self.d.items);
        Some(start..*next)
    }
}

fn encode_range(r: &Range<usize>) -> Vec<u8> {
    [r.start as u64, r.end as u64].iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn read_u64(bytes: &[u8], at: &mut usize) -> u64 {
    let v = u64::from_le_bytes(bytes[*at..*at + 8].try_into().expect("8 bytes"));
    *at += 8;
    v
}

/// A chunk's results: start, count, then per item its length and values.
fn encode_results(start: usize, results: &[Vec<f64>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend((start as u64).to_le_bytes());
    out.extend((results.len() as u64).to_le_bytes());
    for r in results {
        out.extend((r.len() as u64).to_le_bytes());
        out.extend(crate::encode_f64s(r));
    }
    out
}

fn decode_results(bytes: &[u8]) -> (usize, Vec<Vec<f64>>) {
    let mut at = 0;
    let start = read_u64(bytes, &mut at) as usize;
    let count = read_u64(bytes, &mut at) as usize;
    let mut results = Vec::with_capacity(count);
    for _ in 0..count {
        let len = read_u64(bytes, &mut at) as usize;
        results.push(crate::decode_f64s(&bytes[at..at + 8 * len]).expect("whole f64s"));
        at += 8 * len;
    }
    (start, results)
}

/// Collective: computes `work(state, item)` for every item of `d` on all
/// ranks (each worker's `state` made once by `init`, e.g. a model) and, on
/// rank 0, calls `deliver(item, values)` for every item in ascending order.
///
/// An error from `work` or `deliver` is returned on the rank where it
/// happened; the other ranks are then still waiting, so the caller must end
/// the job (`Comm::abort`, after printing the rank and the error).
pub fn distribute<S, E>(
    comm: &dyn Comm,
    d: Distribution,
    init: &(dyn Fn() -> S + Sync),
    work: &Work<'_, S, E>,
    deliver: &mut dyn FnMut(usize, Vec<f64>) -> Result<(), E>,
) -> Result<(), E>
where
    E: Send,
{
    if comm.rank() != 0 {
        return serve_chunks(comm, init, work);
    }
    let queue = Queue { next: Mutex::new(0), d };
    // The other ranks get their first chunks before rank 0 starts its own.
    let mut done_sent = vec![false; comm.size()];
    for to in 1..comm.size() {
        for _ in 0..IN_HAND {
            assign(comm, &queue, to, &mut done_sent);
        }
    }
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<Result<(usize, Vec<f64>), E>>();
    std::thread::scope(|scope| {
        // Rank 0's own share, computed off the main thread.
        let (queue, stop) = (&queue, &stop);
        scope.spawn(move || {
            let mut state = init();
            while let Some(chunk) = queue.take() {
                for i in chunk {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let r = work(&mut state, i).map(|v| (i, v));
                    let failed = r.is_err();
                    if tx.send(r).is_err() || failed {
                        return;
                    }
                }
            }
        });
        let result = coordinate(comm, queue, &mut done_sent, &rx, deliver);
        stop.store(true, Ordering::Relaxed);
        result
    })
}

/// Sends rank `to` its next chunk or, once none is left, the (single) stop.
fn assign(comm: &dyn Comm, queue: &Queue, to: usize, done_sent: &mut [bool]) {
    match queue.take() {
        Some(chunk) => comm.send(to, ASSIGN, &encode_range(&chunk)),
        None if !done_sent[to] => {
            comm.send(to, ASSIGN, &[]);
            done_sent[to] = true;
        }
        None => {}
    }
}

/// Rank 0's main thread: collects results from the other ranks (handing
/// each its next chunk) and from its own thread, and delivers them in order.
fn coordinate<E>(
    comm: &dyn Comm,
    queue: &Queue,
    done_sent: &mut [bool],
    local: &mpsc::Receiver<Result<(usize, Vec<f64>), E>>,
    deliver: &mut dyn FnMut(usize, Vec<f64>) -> Result<(), E>,
) -> Result<(), E> {
    let mut waiting: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    let mut next = 0;
    while next < queue.d.items {
        let mut progressed = false;
        while let Some((from, bytes)) = comm.try_receive(RESULT) {
            let (start, results) = decode_results(&bytes);
            waiting.extend(results.into_iter().enumerate().map(|(k, v)| (start + k, v)));
            assign(comm, queue, from, done_sent);
            progressed = true;
        }
        while let Ok(r) = local.try_recv() {
            let (i, v) = r?;
            waiting.insert(i, v);
            progressed = true;
        }
        while let Some(v) = waiting.remove(&next) {
            deliver(next, v)?;
            next += 1;
        }
        if !progressed && next < queue.d.items {
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
    }
    for (to, sent) in done_sent.iter().enumerate().skip(1) {
        if !sent {
            comm.send(to, ASSIGN, &[]);
        }
    }
    Ok(())
}

/// A rank other than 0: computes the chunks it is given until told to stop.
fn serve_chunks<S, E>(comm: &dyn Comm, init: &(dyn Fn() -> S + Sync), work: &Work<S, E>) -> Result<(), E> {
    let mut state = init();
    loop {
        let msg = comm.receive(0, ASSIGN);
        if msg.is_empty() {
            return Ok(());
        }
        let mut at = 0;
        let (start, end) = (read_u64(&msg, &mut at) as usize, read_u64(&msg, &mut at) as usize);
        let results = (start..end).map(|i| work(&mut state, i)).collect::<Result<Vec<_>, E>>()?;
        comm.send(0, RESULT, &encode_results(start, &results));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Local;

    #[test]
    fn one_process_delivers_every_item_in_order() {
        for (items, chunk) in [(0, 1), (1, 1), (10, 3), (100, 7), (5, 100)] {
            let mut got = Vec::new();
            let r: Result<(), String> = distribute(
                &Local,
                Distribution { items, chunk },
                &|| 10.0,
                &|s: &mut f64, i| Ok(vec![*s + i as f64, i as f64 * 0.5]),
                &mut |i, v| {
                    got.push((i, v));
                    Ok(())
                },
            );
            r.unwrap();
            let want: Vec<(usize, Vec<f64>)> = (0..items).map(|i| (i, vec![10.0 + i as f64, i as f64 * 0.5])).collect();
            assert_eq!(got, want, "{items} items in chunks of {chunk}");
        }
    }

    #[test]
    fn errors_reach_the_caller() {
        let r = distribute(
            &Local,
            Distribution { items: 20, chunk: 4 },
            &|| (),
            &|_, i| if i == 13 { Err(format!("item {i} failed")) } else { Ok(vec![]) },
            &mut |_, _| Ok(()),
        );
        assert_eq!(r.unwrap_err(), "item 13 failed");
        let mut delivered = 0;
        let r = distribute(&Local, Distribution { items: 20, chunk: 4 }, &|| (), &|_, _| Ok(vec![1.0]), &mut |i, _| {
            delivered += 1;
            if i == 5 {
                Err("disk full".to_string())
            } else {
                Ok(())
            }
        });
        assert_eq!(r.unwrap_err(), "disk full");
        assert_eq!(delivered, 6);
    }

    #[test]
    fn result_messages_round_trip() {
        let results = vec![vec![1.0, 2.0], vec![], vec![f64::NAN.copysign(1.0), -3.5, 4.0]];
        let (start, back) = decode_results(&encode_results(42, &results));
        assert_eq!(start, 42);
        assert_eq!(back.len(), 3);
        assert_eq!(back[0], results[0]);
        assert!(back[1].is_empty());
        assert_eq!(back[2][1..], results[2][1..]);
    }
}
