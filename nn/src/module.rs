//! The `Module` trait: a layer or a model with named tensors in PyTorch's
//! `state_dict` order.
//!
//! A module owns its parameters (trainable, `Kind::Parameter`), buffers
//! (e.g. batch-norm running statistics, `Kind::Buffer`) and counters
//! (`num_batches_tracked`, `Kind::Counter`, an integer in PyTorch files).
//! Everything generic (listing, counting, replacing parameters, checkpoints,
//! the optimizers) goes through one visitor, [`Module::visit_mut`], so a
//! new layer implements three small methods and gets the rest.
//!
//! Parameters are immutable [`Tensor`]s held by value: an optimizer step or
//! a landscape probe *replaces* them ([`ModuleExt::set_parameters`]). To
//! differentiate a loss with respect to the parameters, set them to leaves
//! that require a gradient (`requires_grad_()`), run `forward`, and call
//! `autodiff::grad` with the same leaves.

use autodiff::Tensor;

/// What a named tensor of a module is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Trainable weight: optimizers update it, directions perturb it.
    Parameter,
    /// State that is not trained by gradients (batch-norm running mean/var).
    Buffer,
    /// An integer counter stored as a 0-d f32 tensor (PyTorch's i64
    /// `num_batches_tracked`).
    Counter,
}

/// A layer or model.
pub trait Module: Send {
    /// Runs the module. Image models take `[n, c, h, w]`; token models take
    /// token ids as an f32 tensor `[batch, seq]` (exact for ids below 2²⁴).
    /// In training mode, batch norm updates its running statistics, hence
    /// `&mut self`.
    fn forward(&mut self, x: &Tensor) -> Tensor;

    /// Calls `f(full_name, tensor, kind)` for every tensor, in PyTorch
    /// `state_dict` order, with names prefixed by `prefix` (e.g.
    /// `"layer1.0."`; empty at the top).
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind));

    /// Switches training mode (batch statistics, dropout) on or off, for
    /// this module and its children.
    fn set_training(&mut self, training: bool);
}

/// A named copy of one tensor of a module.
#[derive(Clone, Debug)]
pub struct Named {
    /// Full PyTorch name, e.g. `layer1.0.conv1.weight`.
    pub name: String,
    /// The tensor (shares storage with the module's).
    pub tensor: Tensor,
    /// Parameter, buffer or counter.
    pub kind: Kind,
}

/// Conveniences every module gets from [`Module::visit_mut`].
pub trait ModuleExt: Module {
    /// Every tensor with its name and kind, in `state_dict` order.
    fn state(&mut self) -> Vec<Named> {
        let mut out = Vec::new();
        self.visit_mut("", &mut |name, t, kind| out.push(Named { name: name.to_string(), tensor: t.clone(), kind }));
        out
    }

    /// The trainable parameters with their names, in `state_dict` order.
    fn named_parameters(&mut self) -> Vec<(String, Tensor)> {
        self.state().into_iter().filter(|n| n.kind == Kind::Parameter).map(|n| (n.name, n.tensor)).collect()
    }

    /// The trainable parameters, in `state_dict` order.
    fn parameters(&mut self) -> Vec<Tensor> {
        self.named_parameters().into_iter().map(|(_, t)| t).collect()
    }

    /// Number of trainable scalars.
    fn num_parameters(&mut self) -> usize {
        self.parameters().iter().map(|t| t.numel()).sum()
    }

    /// Replaces the parameters, in `state_dict` order. Panics when the count
    /// or a shape differs (a programmer error; checkpoints are checked by
    /// `checkpoint::load` with a proper error).
    fn set_parameters(&mut self, params: &[Tensor]) {
        let mut it = params.iter();
        self.visit_mut("", &mut |name, t, kind| {
            if kind == Kind::Parameter {
                let new = it.next().unwrap_or_else(|| panic!("set_parameters: too few tensors, none left for {name}"));
                assert_eq!(new.shape(), t.shape(), "set_parameters: {name} has shape {:?}, got {:?}", t.shape(), new.shape());
                *t = new.clone();
            }
        });
        assert!(it.next().is_none(), "set_parameters: more tensors than parameters");
    }

    /// Copies of every buffer and counter (everything but the parameters),
    /// in `state_dict` order: what a pass that must not update batch-norm
    /// statistics saves first.
    fn buffers(&mut self) -> Vec<Tensor> {
        self.state().into_iter().filter(|n| n.kind != Kind::Parameter).map(|n| n.tensor).collect()
    }

    /// Restores what [`ModuleExt::buffers`] returned. Panics when the count
    /// differs (a programmer error).
    fn set_buffers(&mut self, saved: &[Tensor]) {
        let mut it = saved.iter();
        self.visit_mut("", &mut |name, t, kind| {
            if kind != Kind::Parameter {
                *t = it.next().unwrap_or_else(|| panic!("set_buffers: no tensor left for {name}")).clone();
            }
        });
    }

    /// Replaces every named tensor (parameters, buffers, counters), in
    /// `state_dict` order. Panics when the count or a shape differs.
    fn set_state(&mut self, state: &[Tensor]) {
        let mut it = state.iter();
        self.visit_mut("", &mut |name, t, _| {
            let new = it.next().unwrap_or_else(|| panic!("set_state: no tensor left for {name}"));
            assert_eq!(new.shape(), t.shape(), "set_state: {name} has shape {:?}, got {:?}", t.shape(), new.shape());
            *t = new.clone();
        });
        assert!(it.next().is_none(), "set_state: more tensors than the module has");
    }

    /// Makes every parameter a fresh leaf that requires a gradient and
    /// returns them (in `state_dict` order), ready for `autodiff::grad`.
    fn parameters_requiring_grad(&mut self) -> Vec<Tensor> {
        let leaves: Vec<Tensor> = self.parameters().iter().map(|p| p.detach().requires_grad_()).collect();
        self.set_parameters(&leaves);
        leaves
    }
}

impl<M: Module + ?Sized> ModuleExt for M {}

impl Module for Box<dyn Module> {
    fn forward(&mut self, x: &Tensor) -> Tensor {
        (**self).forward(x)
    }
    fn visit_mut(&mut self, prefix: &str, f: &mut dyn FnMut(&str, &mut Tensor, Kind)) {
        (**self).visit_mut(prefix, f)
    }
    fn set_training(&mut self, training: bool) {
        (**self).set_training(training)
    }
}
