//! Coarse-to-fine order of a grid's points, so that a run stopped at any
//! level boundary holds a complete coarser grid.
//!
//! An axis of `n` points (indices `0..n`) has nested levels: level `ℓ` holds
//! the `2^ℓ + 1` indices `round(j·(n−1)/2^ℓ)`, `j = 0..=2^ℓ`, for every `ℓ`
//! with `2^ℓ < n − 1`, and the last level holds all `n`. Even `j` of level
//! `ℓ + 1` give back level `ℓ`, so each level contains the one before; for
//! `n = 2^k + 1` they are the familiar 3, 5, 9, 17, … points. Level 0 is the
//! two ends (or the single point of an axis of one).
//!
//! A 2-D grid's level `ℓ` is the product of its axes' levels (an axis that
//! has fewer levels stays at its last one). Points are listed level by level,
//! each level's new points in row-major order (x fastest), so the order is
//! fixed by the grid's size alone. Flat indices are `iy·nx + ix`, as in
//! [`crate::SurfaceJob::coords`].

/// The order a grid's points are computed in (recorded in the plan as
/// `"order"`; files from before it have none and were row-major).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointOrder {
    /// Flat index order: row by row, x fastest.
    RowMajor,
    /// Level by level ([`GridOrder`]): every level boundary leaves a complete coarser grid.
    CoarseToFine,
}

impl PointOrder {
    /// The name in a plan: `row-major` or `coarse-to-fine`.
    pub fn as_str(self) -> &'static str {
        match self {
            PointOrder::RowMajor => "row-major",
            PointOrder::CoarseToFine => "coarse-to-fine",
        }
    }

    /// Every flat index of an `nx × ny` grid in this order.
    pub fn points(self, nx: usize, ny: usize) -> Vec<usize> {
        match self {
            PointOrder::RowMajor => (0..nx * ny).collect(),
            PointOrder::CoarseToFine => GridOrder::new(nx, ny).order,
        }
    }
}

impl std::str::FromStr for PointOrder {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<PointOrder, String> {
        match s {
            "row-major" => Ok(PointOrder::RowMajor),
            "coarse-to-fine" => Ok(PointOrder::CoarseToFine),
            _ => Err(format!("{s:?}: expected row-major or coarse-to-fine")),
        }
    }
}

/// The indices of an axis of `n` points at each of its levels, coarsest first.
pub fn axis_levels(n: usize) -> Vec<Vec<usize>> {
    if n <= 2 {
        return vec![(0..n).collect()];
    }
    let mut levels = Vec::new();
    let mut parts = 1usize;
    while parts < n - 1 {
        // round(j·(n−1)/parts) in integers: (2·j·(n−1) + parts) / (2·parts).
        levels.push((0..=parts).map(|j| (2 * j * (n - 1) + parts) / (2 * parts)).collect());
        parts *= 2;
    }
    levels.push((0..n).collect());
    levels
}

/// The coarse-to-fine order of an `nx × ny` grid (`ny = 1` for a line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GridOrder {
    /// Flat point indices in the order they are computed.
    pub order: Vec<usize>,
    /// `ends[ℓ]`: the number of leading entries of `order` that make up
    /// level `ℓ` (the last equals the number of points).
    pub ends: Vec<usize>,
    /// Points per axis at each level: `(x points, y points)`.
    pub shapes: Vec<(usize, usize)>,
}

impl GridOrder {
    /// The order of an `nx × ny` grid.
    pub fn new(nx: usize, ny: usize) -> GridOrder {
        let (lx, ly) = (axis_levels(nx), axis_levels(ny));
        let num_levels = lx.len().max(ly.len());
        let mut seen = vec![false; nx * ny];
        let (mut order, mut ends, mut shapes) = (Vec::with_capacity(nx * ny), Vec::new(), Vec::new());
        for l in 0..num_levels {
            let xs = &lx[l.min(lx.len() - 1)];
            let ys = &ly[l.min(ly.len() - 1)];
            for &iy in ys {
                for &ix in xs {
                    let i = iy * nx + ix;
                    if !std::mem::replace(&mut seen[i], true) {
                        order.push(i);
                    }
                }
            }
            ends.push(order.len());
            shapes.push((xs.len(), ys.len()));
        }
        GridOrder { order, ends, shapes }
    }

    /// The level each flat index first appears in.
    pub fn level_of_points(&self) -> Vec<usize> {
        let mut level = vec![0; self.order.len()];
        let mut start = 0;
        for (l, &end) in self.ends.iter().enumerate() {
            self.order[start..end].iter().for_each(|&i| level[i] = l);
            start = end;
        }
        level
    }

    /// Number of levels.
    pub fn num_levels(&self) -> usize {
        self.ends.len()
    }

    /// The finest level all of whose points `done` says are computed, with
    /// its shape; `None` if not even level 0 is complete. Works on any set
    /// of finished points (a resumed, sharded or merged run), not only on a
    /// prefix of the order.
    pub fn finest_complete(&self, done: impl Fn(usize) -> bool) -> Option<(usize, (usize, usize))> {
        let mut best = None;
        let mut start = 0;
        for (l, &end) in self.ends.iter().enumerate() {
            if !self.order[start..end].iter().all(|&i| done(i)) {
                break;
            }
            best = Some((l, self.shapes[l]));
            start = end;
        }
        best
    }

    /// The flat indices of level `ℓ`'s grid in row-major order, with its
    /// shape: what a figure of that level draws.
    pub fn level_points(&self, level: usize, nx: usize, ny: usize) -> (Vec<usize>, (usize, usize)) {
        let (lx, ly) = (axis_levels(nx), axis_levels(ny));
        let xs = &lx[level.min(lx.len() - 1)];
        let ys = &ly[level.min(ly.len() - 1)];
        (ys.iter().flat_map(|&iy| xs.iter().map(move |&ix| iy * nx + ix)).collect(), (xs.len(), ys.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_of_two_plus_one_give_the_familiar_levels() {
        let sizes: Vec<usize> = axis_levels(17).iter().map(Vec::len).collect();
        assert_eq!(sizes, [2, 3, 5, 9, 17]);
        assert_eq!(axis_levels(5)[1], [0, 2, 4]);
    }

    #[test]
    fn levels_are_nested_sorted_and_end_with_every_index() {
        for n in 1..200 {
            let levels = axis_levels(n);
            assert_eq!(levels.last().unwrap(), &(0..n).collect::<Vec<_>>(), "n = {n}");
            for w in levels.windows(2) {
                assert!(w[0].iter().all(|i| w[1].contains(i)), "n = {n}: {:?} not in {:?}", w[0], w[1]);
                assert!(w[1].windows(2).all(|p| p[0] < p[1]), "n = {n}: {:?}", w[1]);
            }
            assert!(levels[0].windows(2).all(|p| p[0] < p[1]));
        }
    }

    #[test]
    fn order_is_a_permutation_and_every_level_prefix_is_a_complete_grid() {
        for (nx, ny) in [(1, 1), (2, 1), (5, 1), (51, 1), (9, 9), (41, 41), (51, 31), (7, 100), (3, 2)] {
            let g = GridOrder::new(nx, ny);
            let mut sorted = g.order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..nx * ny).collect::<Vec<_>>(), "{nx}×{ny}");
            for l in 0..g.num_levels() {
                let prefix: std::collections::HashSet<usize> = g.order[..g.ends[l]].iter().copied().collect();
                let (points, shape) = g.level_points(l, nx, ny);
                assert_eq!(shape, g.shapes[l]);
                assert_eq!(points.len(), g.ends[l], "{nx}×{ny} level {l}");
                assert!(points.iter().all(|p| prefix.contains(p)), "{nx}×{ny} level {l}");
                assert_eq!(g.finest_complete(|i| prefix.contains(&i)).map(|(l, _)| l), Some(l));
            }
        }
    }

    #[test]
    fn point_orders_parse_and_list_every_point() {
        for o in [PointOrder::RowMajor, PointOrder::CoarseToFine] {
            assert_eq!(o.as_str().parse::<PointOrder>().unwrap(), o);
            let mut p = o.points(7, 5);
            p.sort_unstable();
            assert_eq!(p, (0..35).collect::<Vec<_>>());
        }
        assert!("spiral".parse::<PointOrder>().is_err());
        let g = GridOrder::new(9, 9);
        let level = g.level_of_points();
        assert_eq!((level[0], level[4], level[2], level[1]), (0, 1, 2, 3));
    }

    #[test]
    fn finest_complete_on_scattered_points() {
        let g = GridOrder::new(9, 9);
        assert_eq!(g.finest_complete(|_| false), None);
        // The 3×3 level plus one missing corner of the 5×5 one.
        let (five, _) = g.level_points(2, 9, 9);
        let done = |i: usize| five.contains(&i) && i != 2 * 9 + 2;
        assert_eq!(g.finest_complete(done), Some((1, (3, 3))));
        assert_eq!(g.finest_complete(|_| true), Some((g.num_levels() - 1, (9, 9))));
    }
}
