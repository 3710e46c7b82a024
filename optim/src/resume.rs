//! The state a training run needs to continue after an epoch exactly as if
//! it had not stopped: every model tensor, the optimizer's state and the
//! epoch, in one safetensors file.
//!
//! Keys: `model.<name>` for the model's parameters and buffers,
//! `optim.<slot>.<parameter name>` for the optimizer's buffers,
//! `count.<name>` for its counters and `epoch`, `resume_format` as exact
//! integers ([`crate::state::counter_tensor`]).

use crate::optimizer::Optimizer;
use crate::state::{counter_tensor, counter_value, OptimizerState};
use autodiff::Tensor;
use nn::{checkpoint, Module, ModuleExt};
use std::path::Path;

/// Version of the file layout; files without it (or with another) are refused.
const FORMAT: u64 = 2;

/// A run's state after an epoch.
pub struct ResumeState {
    /// The last completed epoch.
    pub epoch: usize,
    /// Every model tensor (parameters and buffers) by name.
    pub model: Vec<(String, Tensor)>,
    /// The optimizer's state.
    pub optimizer: OptimizerState,
    /// The model's parameter names, in parameter order (the optimizer's
    /// state is keyed by them).
    pub parameters: Vec<String>,
}

impl ResumeState {
    /// The state of `model` and `opt` after `epoch`.
    pub fn capture(model: &mut dyn Module, opt: &dyn Optimizer, epoch: usize) -> ResumeState {
        let model_state = model.state().into_iter().map(|n| (n.name, n.tensor)).collect();
        let parameters = model.named_parameters().into_iter().map(|(n, _)| n).collect();
        ResumeState { epoch, model: model_state, optimizer: opt.state(), parameters }
    }

    /// Writes the state to `path` atomically. Errors name the file.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        let mut named: Vec<(String, Tensor)> = self.model.iter().map(|(n, t)| (format!("model.{n}"), t.clone())).collect();
        named.extend(self.optimizer.to_named(&self.parameters).map_err(|e| format!("{}: {e}", path.display()))?);
        named.push(("epoch".to_string(), counter_tensor(self.epoch as u64)));
        named.push(("resume_format".to_string(), counter_tensor(FORMAT)));
        checkpoint::save_named(&named, path).map_err(|e| e.to_string())
    }

    /// Reads the state at `path` for `model` (whose tensors give the names
    /// and shapes expected). Errors name the file and the tensor at fault.
    pub fn load(path: &Path, model: &mut dyn Module) -> Result<ResumeState, String> {
        let at = |e: String| format!("{}: {e}", path.display());
        let named = checkpoint::load_named(path).map_err(|e| e.to_string())?;
        let find = |name: &str| named.iter().find(|(k, _)| k == name).map(|(_, t)| t);
        if find("resume_format").and_then(counter_value) != Some(FORMAT) {
            return Err(at("written by an older llv (optimizer state by index, not by parameter name); start the run again".into()));
        }
        let epoch = find("epoch").and_then(counter_value).ok_or_else(|| at("no epoch".into()))? as usize;
        let mut state = Vec::new();
        for n in model.state() {
            match find(&format!("model.{}", n.name)) {
                Some(t) if t.shape() == n.tensor.shape() => state.push((n.name, t.clone())),
                _ => return Err(at(format!("{} is missing or has the wrong shape", n.name))),
            }
        }
        let params = model.named_parameters();
        let optimizer = OptimizerState::from_named(&named, &params).map_err(at)?;
        Ok(ResumeState { epoch, model: state, optimizer, parameters: params.into_iter().map(|(n, _)| n).collect() })
    }

    /// Puts the state into `model` and `opt` (built as when it was saved).
    pub fn restore(&self, model: &mut dyn Module, opt: &mut dyn Optimizer) -> Result<(), String> {
        let mut it = self.model.iter();
        let mut mismatch = None;
        model.visit_mut("", &mut |name, t, _| match it.next() {
            Some((n, v)) if n == name => *t = v.clone(),
            _ => mismatch = mismatch.take().or(Some(name.to_string())),
        });
        if let Some(name) = mismatch {
            return Err(format!("the saved state does not match the model at {name}"));
        }
        opt.load_state(&self.optimizer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FnObjective, Sgd, SgdConfig};

    #[test]
    fn round_trip_restores_model_and_optimizer() {
        let dir = std::env::temp_dir().join(format!("optim-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("resume.safetensors");
        let mut model = nn::zoo::build("mlp", &nn::zoo::ModelConfig { in_channels: 3, image_size: 1, ..Default::default() }, 1).unwrap();
        let mut opt = Sgd::new(SgdConfig::default());
        let mut params = model.parameters();
        let mut obj = FnObjective::new(|p: &[Tensor]| p.iter().map(|t| t.mul(t).sum_all()).reduce(|a, b| a.add(&b)).unwrap());
        opt.step(&mut params, &mut obj);
        model.set_parameters(&params);
        ResumeState::capture(&mut *model, &opt, 3).save(&path).unwrap();
        let mut fresh = nn::zoo::build("mlp", &nn::zoo::ModelConfig { in_channels: 3, image_size: 1, ..Default::default() }, 2).unwrap();
        let mut opt2 = Sgd::new(SgdConfig::default());
        let s = ResumeState::load(&path, &mut *fresh).unwrap();
        assert_eq!(s.epoch, 3);
        s.restore(&mut *fresh, &mut opt2).unwrap();
        assert_eq!(opt2.steps(), 1);
        assert!(fresh.parameters().iter().zip(&params).all(|(a, b)| a.data() == b.data()));
        assert!(opt2.state().slot("momentum").iter().zip(opt.state().slot("momentum")).all(|(a, b)| a.data() == b.data()));
        // A file of the earlier layout (optimizer state by index) is refused clearly.
        checkpoint::save_named(&[("epoch".to_string(), Tensor::scalar(1.0))], &path).unwrap();
        let e = ResumeState::load(&path, &mut *fresh).err().expect("old layout");
        assert!(e.contains("resume.safetensors") && e.contains("older llv"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
