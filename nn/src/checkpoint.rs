//! Checkpoints: safetensors files with PyTorch's names, so weights move
//! between llv and PyTorch both ways (`safetensors.torch.load_file` +
//! `load_state_dict(strict=True)` reads what [`save`] writes, and [`load`]
//! reads what `save_file(model.state_dict())` writes).
//!
//! * Parameters and buffers are `F32`; counters (`num_batches_tracked`)
//!   are written as `I64` (PyTorch's dtype) and read from `I64` or `F32`.
//! * [`save`] is atomic: it writes `PATH.tmp` and renames it over `PATH`.
//! * [`load`] checks every name, shape and dtype before touching the
//!   module: a file that does not fit leaves the module unchanged and
//!   the error lists every shape mismatch (`name: expected [..], file has
//!   [..]`), missing and unexpected name.
//! * [`save_named`] / [`load_named`] store free-standing named tensors
//!   (an optimizer's state) the same way.

use crate::{Kind, Module, NnError};
use autodiff::Tensor;
use safetensors::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// One tensor ready to serialize.
struct Owned {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &Owned {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// The module's state as a safetensors file image.
pub fn to_bytes<M: Module + ?Sized>(module: &mut M) -> Result<Vec<u8>, NnError> {
    let mut items: Vec<(String, Owned)> = Vec::new();
    module.visit_mut("", &mut |name, t, kind| {
        let owned = match kind {
            Kind::Counter => Owned {
                dtype: Dtype::I64,
                shape: t.shape().to_vec(),
                data: t.data().iter().flat_map(|&v| (v.round() as i64).to_le_bytes()).collect(),
            },
            Kind::Parameter | Kind::Buffer => {
                Owned { dtype: Dtype::F32, shape: t.shape().to_vec(), data: t.data().iter().flat_map(|v| v.to_le_bytes()).collect() }
            }
        };
        items.push((name.to_string(), owned));
    });
    safetensors::serialize(items.iter().map(|(n, o)| (n.as_str(), o)), None)
        .map_err(|e| NnError::CorruptCheckpoint { path: "<memory>".into(), detail: e.to_string() })
}

/// Writes the module's tensors to `path` (atomically: `PATH.tmp`, then a
/// rename). Errors name the file.
pub fn save<M: Module + ?Sized>(module: &mut M, path: impl AsRef<Path>) -> Result<(), NnError> {
    let path = path.as_ref();
    write_atomic(path, &to_bytes(module)?)
}

/// Writes `bytes` to `PATH.tmp`, then renames it to `path`.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), NnError> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    if let Err(e) = std::fs::write(&tmp, bytes) {
        let _ = std::fs::remove_file(&tmp);
        return Err(NnError::io(&tmp, "write", e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        NnError::io(path, "write", e)
    })
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn i64s_as_f32(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(8).map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as f32).collect()
}

/// Loads a safetensors file image (`source` names it in errors) into the
/// module; see [`load`].
pub fn load_bytes<M: Module + ?Sized>(module: &mut M, bytes: &[u8], source: &Path) -> Result<(), NnError> {
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| NnError::CorruptCheckpoint { path: source.to_path_buf(), detail: e.to_string() })?;
    let file: HashMap<String, safetensors::tensor::TensorView<'_>> = st.tensors().into_iter().collect();

    let mut wanted: Vec<(String, Vec<usize>, Kind)> = Vec::new();
    module.visit_mut("", &mut |name, t, kind| wanted.push((name.to_string(), t.shape().to_vec(), kind)));

    let (mut shapes, mut missing) = (Vec::new(), Vec::new());
    let mut values: Vec<Tensor> = Vec::with_capacity(wanted.len());
    for (name, shape, kind) in &wanted {
        let Some(view) = file.get(name) else {
            missing.push(name.clone());
            continue;
        };
        let data = match (view.dtype(), kind) {
            (Dtype::F32, _) => f32s(view.data()),
            (Dtype::I64, Kind::Counter) => i64s_as_f32(view.data()),
            (d, k) => {
                let expected = if *k == Kind::Counter { "I64 or F32" } else { "F32" };
                return Err(NnError::BadDtype { path: source.to_path_buf(), name: name.clone(), dtype: format!("{d:?}"), expected });
            }
        };
        if view.shape() != shape.as_slice() {
            shapes.push(format!("{name}: expected {shape:?}, file has {:?}", view.shape()));
            continue;
        }
        values.push(Tensor::from_vec(data, shape));
    }
    let known: std::collections::HashSet<&str> = wanted.iter().map(|(n, _, _)| n.as_str()).collect();
    let mut unexpected: Vec<String> = file.keys().filter(|k| !known.contains(k.as_str())).cloned().collect();
    unexpected.sort();
    if !shapes.is_empty() || !missing.is_empty() || !unexpected.is_empty() {
        return Err(NnError::Mismatch { path: source.to_path_buf(), shapes, missing, unexpected });
    }
    let mut it = values.into_iter();
    module.visit_mut("", &mut |_, t, _| *t = it.next().expect("one value per tensor"));
    Ok(())
}

/// Loads the tensors in `path` into the module, by name. Every tensor of
/// the module must be in the file with the same shape, and the file must
/// hold nothing else; `F32` everywhere except counters (`I64` or `F32`).
/// On any error the module is left unchanged. Errors name the file (and
/// the tensor, for dtype and shape problems).
pub fn load<M: Module + ?Sized>(module: &mut M, path: impl AsRef<Path>) -> Result<(), NnError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| NnError::io(path, "read", e))?;
    load_bytes(module, &bytes, path)
}

/// Writes free-standing named tensors (e.g. an optimizer's state) as an
/// `F32` safetensors file, atomically like [`save`].
pub fn save_named(tensors: &[(String, Tensor)], path: impl AsRef<Path>) -> Result<(), NnError> {
    let path = path.as_ref();
    let items: Vec<(String, Owned)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                Owned { dtype: Dtype::F32, shape: t.shape().to_vec(), data: t.data().iter().flat_map(|v| v.to_le_bytes()).collect() },
            )
        })
        .collect();
    let bytes = safetensors::serialize(items.iter().map(|(n, o)| (n.as_str(), o)), None)
        .map_err(|e| NnError::CorruptCheckpoint { path: path.to_path_buf(), detail: e.to_string() })?;
    write_atomic(path, &bytes)
}

/// Reads every tensor of a safetensors file, sorted by name: `F32` as is,
/// `I64` converted to f32; other dtypes are errors naming the tensor.
pub fn load_named(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor)>, NnError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| NnError::io(path, "read", e))?;
    load_named_bytes(&bytes, path)
}

/// [`load_named`] on a file image already in memory (`source` names it in
/// errors).
pub fn load_named_bytes(bytes: &[u8], source: &Path) -> Result<Vec<(String, Tensor)>, NnError> {
    let st =
        SafeTensors::deserialize(bytes).map_err(|e| NnError::CorruptCheckpoint { path: source.to_path_buf(), detail: e.to_string() })?;
    let mut out = Vec::with_capacity(st.len());
    for (name, view) in st.tensors() {
        let data = match view.dtype() {
            Dtype::F32 => f32s(view.data()),
            Dtype::I64 => i64s_as_f32(view.data()),
            d => return Err(NnError::BadDtype { path: source.to_path_buf(), name, dtype: format!("{d:?}"), expected: "F32 or I64" }),
        };
        let t = Tensor::from_vec(data, view.shape());
        out.push((name, t));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
