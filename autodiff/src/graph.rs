//! Reverse mode: the recorded graph, gradient computation and the no-grad
//! switch.
//!
//! Every op output that requires a gradient holds a `GradNode`: the op's
//! backward rule and its input tensors. [`grad`] walks the graph from the
//! outputs in reverse topological order and calls each rule. Rules are
//! written with the public tensor ops, so:
//!
//! * with `create_graph = true` recording stays on while rules run, the
//!   returned gradients are graph nodes themselves, and differentiating them
//!   again is exact (this is how [`hvp`] works);
//! * with `create_graph = false` rules run with recording off: first-order
//!   training builds no graph for its gradients and pays nothing extra.
//!
//! **Accumulation.** Within one call, a tensor used several times receives
//! the sum of its gradients. Across calls nothing accumulates: there is no
//! `.grad` field; each call returns fresh tensors. To accumulate over
//! micro-batches, add the returned gradients yourself
//! ([`Gradients::accumulate`]).

use crate::tensor::{Tensor, TensorId};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};

/// A backward rule. `backward` receives the op's inputs, its output and the
/// gradient flowing into the output, and returns one gradient per input
/// (`None` where no gradient flows, e.g. into a constant mask). Rules must be
/// written with tensor ops so that they can be differentiated again.
pub trait Backward: Send + Sync {
    /// The op's name, shown in `Debug` output and panics.
    fn name(&self) -> &'static str;
    /// Gradients with respect to each input.
    fn backward(&self, inputs: &[Tensor], output: &Tensor, grad: &Tensor) -> Vec<Option<Tensor>>;
}

/// How a recorded tensor was made: its rule and its inputs.
pub(crate) struct GradNode {
    pub(crate) op: Box<dyn Backward>,
    pub(crate) inputs: Vec<Tensor>,
}

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops record a graph on this thread right now.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

/// Restores the previous recording state when dropped.
#[must_use = "recording is switched back when the guard is dropped"]
pub struct GradModeGuard {
    previous: bool,
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

fn set_grad_mode(enabled: bool) -> GradModeGuard {
    let previous = GRAD_ENABLED.with(|g| g.replace(enabled));
    GradModeGuard { previous }
}

/// Turns recording off on this thread until the guard is dropped: the fast
/// path for evaluation (no graph, no saved inputs).
///
/// ```
/// let w = autodiff::Tensor::ones(&[2]).requires_grad_();
/// let _guard = autodiff::no_grad();
/// assert!(!w.mul(&w).requires_grad());
/// ```
pub fn no_grad() -> GradModeGuard {
    set_grad_mode(false)
}

/// Turns recording on until the guard is dropped (e.g. inside a `no_grad`
/// region, to compute one gradient).
pub fn enable_grad() -> GradModeGuard {
    set_grad_mode(true)
}

/// Nodes reachable from `outputs` through tensors that require grad, in
/// post order (every node after all of its inputs).
fn topological_order(outputs: &[Tensor]) -> Vec<Tensor> {
    let mut order = Vec::new();
    let mut seen: HashSet<TensorId> = HashSet::new();
    // Iterative DFS: (tensor, whether its inputs were already pushed).
    let mut stack: Vec<(Tensor, bool)> = outputs.iter().filter(|t| t.requires_grad()).map(|t| (t.clone(), false)).collect();
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !seen.insert(t.id()) {
            continue;
        }
        let inputs: Vec<Tensor> = match &t.0.node {
            Some(node) => node.inputs.iter().filter(|i| i.requires_grad() && !seen.contains(&i.id())).cloned().collect(),
            None => Vec::new(),
        };
        stack.push((t, true));
        for i in inputs {
            stack.push((i, false));
        }
    }
    order
}

fn accumulate(map: &mut HashMap<TensorId, Tensor>, id: TensorId, g: Tensor) {
    match map.remove(&id) {
        Some(prev) => {
            map.insert(id, prev.add(&g));
        }
        None => {
            map.insert(id, g);
        }
    }
}

/// Gradients of `Σ_i <seeds_i, outputs_i>` with respect to `inputs`.
///
/// `seeds[i]` has the shape of `outputs[i]` (for a scalar loss, a one).
/// Inputs the outputs do not depend on get zeros. See [`grad`].
pub fn grad_with_seeds(outputs: &[Tensor], seeds: &[Tensor], inputs: &[Tensor], create_graph: bool) -> Vec<Tensor> {
    assert_eq!(outputs.len(), seeds.len(), "grad: {} outputs but {} seeds", outputs.len(), seeds.len());
    let _mode = set_grad_mode(create_graph);
    let order = topological_order(outputs);

    // Only nodes from which a requested input is reachable need a rule run.
    let wanted: HashSet<TensorId> = inputs.iter().map(|t| t.id()).collect();
    let mut needed: HashSet<TensorId> = HashSet::new();
    for t in &order {
        let leads = wanted.contains(&t.id()) || t.0.node.as_ref().is_some_and(|n| n.inputs.iter().any(|i| needed.contains(&i.id())));
        if leads {
            needed.insert(t.id());
        }
    }

    let mut grads: HashMap<TensorId, Tensor> = HashMap::new();
    for (o, s) in outputs.iter().zip(seeds) {
        assert_eq!(o.shape(), s.shape(), "grad: seed shape {:?} differs from output shape {:?}", s.shape(), o.shape());
        if o.requires_grad() {
            accumulate(&mut grads, o.id(), s.clone());
        }
    }

    let mut result: HashMap<TensorId, Tensor> = HashMap::new();
    for t in order.iter().rev() {
        if !needed.contains(&t.id()) {
            continue;
        }
        let Some(g) = grads.remove(&t.id()) else { continue };
        if wanted.contains(&t.id()) {
            result.insert(t.id(), g.clone());
        }
        let Some(node) = &t.0.node else { continue };
        let input_grads = node.op.backward(&node.inputs, t, &g);
        assert_eq!(input_grads.len(), node.inputs.len(), "{}: rule returned a wrong number of gradients", node.op.name());
        for (inp, gi) in node.inputs.iter().zip(input_grads) {
            let Some(gi) = gi else { continue };
            if !needed.contains(&inp.id()) {
                continue;
            }
            assert_eq!(
                gi.shape(),
                inp.shape(),
                "{}: rule returned a gradient of shape {:?} for an input of shape {:?}",
                node.op.name(),
                gi.shape(),
                inp.shape()
            );
            accumulate(&mut grads, inp.id(), gi);
        }
    }
    inputs.iter().map(|i| result.remove(&i.id()).unwrap_or_else(|| i.zeros_like())).collect()
}

/// Gradients of the sum of scalar `outputs` with respect to `inputs`.
///
/// With `create_graph = true` the returned gradients are recorded and can
/// be differentiated again (exact higher derivatives); with `false` they are
/// constants and computing them records nothing.
///
/// ```
/// use autodiff::{grad, Tensor};
/// let x = Tensor::from_vec(vec![3.0], &[1]).requires_grad_();
/// let y = x.mul(&x).mul(&x).sum_all(); // x³
/// let g = grad(&[y], &[x.clone()], true).remove(0); // 3x² = 27
/// let h = grad(&[g.sum_all()], &[x], false).remove(0); // 6x = 18
/// assert_eq!(h.item(), 18.0);
/// ```
pub fn grad(outputs: &[Tensor], inputs: &[Tensor], create_graph: bool) -> Vec<Tensor> {
    for o in outputs {
        assert_eq!(o.numel(), 1, "grad: output of shape {:?} is not a scalar; use grad_with_seeds", o.shape());
    }
    let seeds: Vec<Tensor> = outputs.iter().map(|o| Tensor::ones(o.shape())).collect();
    grad_with_seeds(outputs, &seeds, inputs, create_graph)
}

/// Gradients of a scalar with respect to every leaf that requires one,
/// looked up by tensor ([`Gradients::get`]).
#[derive(Default)]
pub struct Gradients {
    map: HashMap<TensorId, Tensor>,
}

impl Gradients {
    /// The gradient for `t`, if `t` was a leaf reached by the backward pass.
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.map.get(&t.id())
    }

    /// Adds `other`'s gradients into these (sums where both have one).
    pub fn accumulate(&mut self, other: Gradients) {
        for (id, g) in other.map {
            accumulate(&mut self.map, id, g);
        }
    }

    /// Number of leaves with a gradient.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no leaf received a gradient.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Tensor {
    /// First-order gradients of this scalar with respect to every leaf that
    /// requires a gradient (rules run without recording).
    pub fn backward(&self) -> Gradients {
        let leaves: Vec<Tensor> = topological_order(std::slice::from_ref(self)).into_iter().filter(|t| t.is_leaf()).collect();
        let gs = grad(std::slice::from_ref(self), &leaves, false);
        Gradients { map: leaves.iter().map(|l| l.id()).zip(gs).collect() }
    }
}

/// Exact Hessian-vector product of a scalar function at `params`.
///
/// Computes `L = f(params)`, `g = ∇L` with `create_graph = true`, then
/// `Hv = ∇ Σ_i <g_i, v_i>`: double backward, no finite differences.
/// `params` are taken by value (fresh leaves sharing their storage), `v[i]`
/// has the shape of `params[i]`. Returns `(L, Hv)`.
pub fn hvp(f: impl FnOnce(&[Tensor]) -> Tensor, params: &[Tensor], v: &[Tensor]) -> (f32, Vec<Tensor>) {
    assert_eq!(params.len(), v.len(), "hvp: {} parameters but {} vectors", params.len(), v.len());
    for (p, d) in params.iter().zip(v) {
        assert_eq!(p.shape(), d.shape(), "hvp: vector shape {:?} differs from parameter shape {:?}", d.shape(), p.shape());
    }
    let _mode = enable_grad();
    let leaves: Vec<Tensor> = params.iter().map(|p| p.requires_grad_()).collect();
    let loss = f(&leaves);
    let g = grad(std::slice::from_ref(&loss), &leaves, true);
    let mut dot = Tensor::scalar(0.0);
    for (gi, vi) in g.iter().zip(v) {
        dot = dot.add(&gi.mul(vi).sum_all());
    }
    let hv = grad(&[dot], &leaves, false);
    (loss.item(), hv)
}
