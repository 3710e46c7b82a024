//! Zero-padded image copies, which the stride-1 paths read the im2col
//! matrix from: row `r = (ci, ki, kj)` is the padded image shifted by a
//! fixed offset.

use super::Conv2dGeom;

/// Copies planes of `h × w` (`src`, one after another) into planes of
/// `hp × wp` (`out`) at offset `pad` (rows, columns), zero elsewhere; rows or
/// columns that fall outside `hp × wp` are dropped.
pub(super) fn pad_planes(src: &[f32], (h, w): (usize, usize), pad: (usize, usize), (hp, wp): (usize, usize), out: &mut [f32]) {
    out.fill(0.0);
    if h == 0 || w == 0 {
        return;
    }
    let len = w.min(wp.saturating_sub(pad.1));
    for (plane, dst) in src.chunks_exact(h * w).zip(out.chunks_exact_mut(hp * wp)) {
        for (iy, row) in plane.chunks_exact(w).enumerate().take(hp.saturating_sub(pad.0)) {
            let d = (iy + pad.0) * wp + pad.1;
            dst[d..d + len].copy_from_slice(&row[..len]);
        }
    }
}

/// Offset of im2col row `r = (ci, ki, kj)` in a zero-padded image of planes
/// `plane = hp·wp` elements, rows `wp` wide (stride-1 convolutions): row `r`
/// is that image shifted by `ci·plane + ki·dh·wp + kj·dw`.
pub(super) fn padded_row_offsets(g: &Conv2dGeom, plane: usize, wp: usize) -> Vec<usize> {
    (0..g.k_dim())
        .map(|r| {
            let (ci, ki, kj) = (r / (g.kh * g.kw), (r / g.kw) % g.kh, r % g.kw);
            ci * plane + ki * g.dilation.0 * wp + kj * g.dilation.1
        })
        .collect()
}
