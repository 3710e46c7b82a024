//! # landscape: directions, surfaces, trajectories, Hessian tools, figures
//!
//! Filled by the "Landscape" and "Hessian" issues: parameter-space directions
//! (filter-normalized, PCA), 1-D / 2-D surfaces with resumable result files,
//! Hessian spectra and sharpness metrics, and the PNG renderer.
