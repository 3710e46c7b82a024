//! Exporting grids for other tools: NPY (numpy's `np.load`) and legacy
//! VTK rectilinear grids (ParaView; warp by a scalar to see a surface).

use crate::error::{LandscapeError, Result};
use std::path::Path;

/// Writes a float64 array of `shape` (C order) as an NPY version 1.0 file.
pub fn write_npy(path: &Path, shape: &[usize], data: &[f64]) -> Result<()> {
    if shape.iter().product::<usize>() != data.len() {
        return Err(LandscapeError::Invalid(format!("npy: {} values for shape {shape:?}", data.len())));
    }
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if shape.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + length (2) + header, padded to a multiple of 64, ending in '\n'.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut bytes = Vec::with_capacity(10 + header.len() + 8 * data.len());
    bytes.extend_from_slice(b"\x93NUMPY\x01\x00");
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in data {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &bytes)
}

/// Writes a legacy ASCII VTK rectilinear grid with coordinates `x`, `y`
/// (z = 0) and one point scalar per `(name, values)` field, values in
/// row-major `[y][x]` order; NaN (missing points) is written as NaN.
pub fn write_vtk(path: &Path, x: &[f64], y: &[f64], fields: &[(&str, &[f64])]) -> Result<()> {
    let n = x.len() * y.len();
    let mut s = String::from("# vtk DataFile Version 3.0\nllv loss landscape\nASCII\nDATASET RECTILINEAR_GRID\n");
    s.push_str(&format!("DIMENSIONS {} {} 1\n", x.len(), y.len()));
    for (axis, vals) in [("X", x), ("Y", y)] {
        s.push_str(&format!("{axis}_COORDINATES {} double\n", vals.len()));
        s.push_str(&vals.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(" "));
        s.push('\n');
    }
    s.push_str("Z_COORDINATES 1 double\n0\n");
    s.push_str(&format!("POINT_DATA {n}\n"));
    for (name, vals) in fields {
        if vals.len() != n {
            return Err(LandscapeError::Invalid(format!("vtk: field {name} has {} values for {n} points", vals.len())));
        }
        s.push_str(&format!("SCALARS {name} double 1\nLOOKUP_TABLE default\n"));
        for chunk in vals.chunks(x.len().max(1)) {
            s.push_str(&chunk.iter().map(|v| if v.is_nan() { "nan".to_string() } else { v.to_string() }).collect::<Vec<_>>().join(" "));
            s.push('\n');
        }
    }
    write_atomic(path, s.as_bytes())
}

/// Writes `v` as pretty JSON (with a final newline) atomically.
pub fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(v).expect("JSON");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Writes `bytes` to `path` atomically (a temporary file, then a rename), so
/// a killed run never leaves a half-written file behind.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| LandscapeError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| LandscapeError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_header_is_aligned_and_data_follows() {
        let dir = std::env::temp_dir().join("llv-npy");
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        write_npy(&p, &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.5]).unwrap();
        let b = std::fs::read(&p).unwrap();
        assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        let header = std::str::from_utf8(&b[10..10 + hlen]).unwrap();
        assert!(header.contains("'shape': (2, 3)") && header.ends_with('\n'));
        let last = f64::from_le_bytes(b[b.len() - 8..].try_into().unwrap());
        assert_eq!(last, 6.5);
        assert!(write_npy(&p, &[4], &[1.0]).is_err());
        let v = dir.join("a.vtk");
        write_vtk(&v, &[0.0, 1.0], &[0.0, 1.0, 2.0], &[("loss", &[1.0, 2.0, 3.0, f64::NAN, 5.0, 6.0])]).unwrap();
        let t = std::fs::read_to_string(&v).unwrap();
        assert!(t.contains("DIMENSIONS 2 3 1") && t.contains("POINT_DATA 6") && t.contains("3 nan"));
    }
}
