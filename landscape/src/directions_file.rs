//! The directions file: the one or two directions of a surface, saved next
//! to its results so the surface can be resumed, sharded, extended or
//! probed again (`llv hessian --curvature-map`).
//!
//! A safetensors file with one tensor `x.<name>` per entry of the model's
//! state (and `y.<name>` for planes). Loading checks every parameter is
//! present with its shape; absent buffers and counters are zero.

use crate::direction::Direction;
use crate::error::{LandscapeError, Result};
use crate::fingerprint::directions_fingerprint;
use autodiff::Tensor;
use nn::{checkpoint, Named};
use std::path::Path;

/// The directions of a line (`x`) or a plane (`x`, `y`).
#[derive(Clone, Debug)]
pub struct DirectionsFile {
    /// The x direction.
    pub x: Direction,
    /// The y direction of a plane.
    pub y: Option<Direction>,
}

impl DirectionsFile {
    /// Writes the directions to `path` (safetensors).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut named: Vec<(String, Tensor)> =
            self.x.names.iter().zip(&self.x.tensors).map(|(n, t)| (format!("x.{n}"), t.clone())).collect();
        if let Some(y) = &self.y {
            named.extend(y.names.iter().zip(&y.tensors).map(|(n, t)| (format!("y.{n}"), t.clone())));
        }
        checkpoint::save_named(&named, path).map_err(|e| LandscapeError::format(path, e.to_string()))
    }

    /// Reads directions for a model with state `center`; with `need_y` the
    /// file must hold a plane. Errors name the file and the first missing or
    /// mis-shaped tensor; a zero direction is refused.
    pub fn load(path: &Path, center: &[Named], need_y: bool) -> Result<DirectionsFile> {
        let named = checkpoint::load_named(path).map_err(|e| LandscapeError::format(path, e.to_string()))?;
        let get = |axis: &str| -> Result<Direction> {
            let mut d = Direction::zeros(center);
            for (i, n) in center.iter().enumerate() {
                let key = format!("{axis}.{}", n.name);
                match named.iter().find(|(k, _)| *k == key) {
                    Some((_, t)) if t.shape() == n.tensor.shape() => d.tensors[i] = t.clone(),
                    Some((_, t)) => {
                        return Err(LandscapeError::format(
                            path,
                            format!("{key} has shape {:?}, the model's {} has {:?}", t.shape(), n.name, n.tensor.shape()),
                        ))
                    }
                    None if n.kind == nn::Kind::Parameter => {
                        return Err(LandscapeError::format(path, format!("no tensor {key} for parameter {}", n.name)))
                    }
                    None => {}
                }
            }
            d.check_nonzero(&format!("the {axis} direction in {}", path.display()))?;
            Ok(d)
        };
        let x = get("x")?;
        let y = if need_y { Some(get("y")?) } else { None };
        Ok(DirectionsFile { x, y })
    }

    /// The fingerprint a results plan records for these directions.
    pub fn fingerprint(&self) -> String {
        directions_fingerprint(&self.x, self.y.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::direction::DirectionOptions;
    use nn::Kind;

    fn state(shape: &[usize]) -> Vec<Named> {
        let n = shape.iter().product();
        vec![
            Named { name: "w".into(), tensor: Tensor::from_vec((0..n).map(|i| 1.0 + i as f32).collect(), shape), kind: Kind::Parameter },
            Named { name: "running_mean".into(), tensor: Tensor::from_vec(vec![0.0; 2], &[2]), kind: Kind::Buffer },
        ]
    }

    #[test]
    fn round_trip_keeps_values_and_fingerprint() {
        let dir = std::env::temp_dir().join("llv-directions-file");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("directions.safetensors");
        let center = state(&[2, 3]);
        let x = Direction::random(&center, DirectionOptions::default(), 1).unwrap();
        let y = Direction::random(&center, DirectionOptions::default(), 2).unwrap();
        let file = DirectionsFile { x, y: Some(y) };
        file.save(&path).unwrap();
        let back = DirectionsFile::load(&path, &center, true).unwrap();
        assert_eq!(back.x.tensors[0].data(), file.x.tensors[0].data());
        assert_eq!(back.fingerprint(), file.fingerprint());
        let line = DirectionsFile::load(&path, &center, false).unwrap();
        assert!(line.y.is_none());
        assert_ne!(line.fingerprint(), file.fingerprint(), "a line and a plane have different fingerprints");

        let e = DirectionsFile::load(&path, &state(&[3, 2]), true).unwrap_err().to_string();
        assert!(e.contains("x.w has shape [2, 3]") && e.contains("directions.safetensors"), "{e}");
        DirectionsFile { x: file.x.clone(), y: None }.save(&path).unwrap();
        let e = DirectionsFile::load(&path, &center, true).unwrap_err().to_string();
        assert!(e.contains("no tensor y.w"), "{e}");
        DirectionsFile { x: Direction::zeros(&center), y: None }.save(&path).unwrap();
        assert!(DirectionsFile::load(&path, &center, false).unwrap_err().to_string().contains("zero norm"));
    }
}
