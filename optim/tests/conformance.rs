//! What every registered optimizer must do, checked for each entry of the
//! registry (a new optimizer gets these tests by registering): defaults
//! that build, a state round trip that resumes bit for bit, a learning
//! rate that reads back, descent on a quadratic, the configuration errors,
//! and (for gradient-step optimizers) use as SAM's base.

use autodiff::Tensor;
use optim::registry::{self, Hypers, OptimizerSpec};
use optim::{FnObjective, Kind, Optimizer, OptimizerState};

/// `½·Σ aᵢ·xᵢ²` over a matrix and a vector parameter (so both parameter
/// groups are exercised), curvatures `aᵢ` in [0.5, 2].
fn quadratic(p: &[Tensor]) -> Tensor {
    let curv = |t: &Tensor, seed| Tensor::rand_uniform(t.shape(), 0.5, 2.0, seed);
    p[0].mul(&p[0]).mul(&curv(&p[0], 7)).sum_all().add(&p[1].mul(&p[1]).mul(&curv(&p[1], 8)).sum_all()).mul_scalar(0.5)
}

fn start() -> Vec<Tensor> {
    vec![Tensor::rand_uniform(&[3, 4], -1.0, 1.0, 1), Tensor::rand_uniform(&[4], -1.0, 1.0, 2)]
}

fn names() -> Vec<String> {
    vec!["layer.weight".to_string(), "layer.bias".to_string()]
}

fn build(h: &Hypers) -> Box<dyn Optimizer> {
    h.build().unwrap_or_else(|e| panic!("{}: defaults do not build: {e}", h.spec.name))
}

/// Every registration and, for SAM, one per possible base.
fn configurations() -> Vec<(String, Hypers)> {
    let mut out = Vec::new();
    for spec in registry::all() {
        out.push((spec.name.to_string(), with_seed(Hypers::defaults(spec))));
        if spec.params.iter().any(|h| matches!(h.kind, Kind::Base)) {
            for base in registry::all().iter().filter(|b| b.is_gradient_step()) {
                let h = registry::resolve(spec.name, &[("base".into(), base.name.into())]).unwrap();
                out.push((format!("{} base={}", spec.name, base.name), with_seed(h)));
            }
        }
    }
    out
}

fn with_seed(mut h: Hypers) -> Hypers {
    h.seed = 3;
    h
}

fn steps(opt: &mut dyn Optimizer, params: &mut [Tensor], n: usize) {
    let mut obj = FnObjective::new(quadratic);
    for _ in 0..n {
        opt.step(params, &mut obj);
    }
}

fn bits(ts: &[Tensor]) -> Vec<u32> {
    ts.iter().flat_map(|t| t.data().iter().map(|v| v.to_bits())).collect()
}

/// The state as text: slot names with their tensors' bits, and counters.
fn state_bits(s: &OptimizerState) -> String {
    format!("{:?} {:?}", s.slots.iter().map(|(k, ts)| (k, bits(ts))).collect::<Vec<_>>(), s.counters)
}

/// Saving the state (through its checkpoint form, keyed by parameter
/// name), loading it into a fresh optimizer and stepping on gives the
/// same parameters and state, bit for bit, as stepping on without the
/// interruption. An optimizer that forgot part of its state fails here.
#[test]
fn state_round_trip_resumes_bit_for_bit() {
    for (name, h) in configurations() {
        let mut a = build(&h);
        let mut pa = start();
        steps(a.as_mut(), &mut pa, 3);
        let named = a.state().to_named(&names()).unwrap();
        let params: Vec<(String, Tensor)> = names().into_iter().zip(pa.iter().cloned()).collect();
        let loaded = OptimizerState::from_named(&named, &params).unwrap();
        let mut b = build(&h);
        b.load_state(&loaded).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut pb = pa.clone();
        steps(a.as_mut(), &mut pa, 2);
        steps(b.as_mut(), &mut pb, 2);
        assert_eq!(bits(&pa), bits(&pb), "{name}: a resumed optimizer moves differently");
        assert_eq!(state_bits(&a.state()), state_bits(&b.state()), "{name}: state differs after resuming");
    }
}

/// An optimizer whose steps depend on its history keeps that history in
/// its state: a fresh optimizer started from the same point moves
/// differently, so the state must not be empty.
#[test]
fn history_is_in_the_state() {
    for (name, h) in configurations() {
        let mut a = build(&h);
        let mut pa = start();
        steps(a.as_mut(), &mut pa, 3);
        let (mut fresh, mut pf) = (build(&h), pa.clone());
        steps(a.as_mut(), &mut pa, 1);
        steps(fresh.as_mut(), &mut pf, 1);
        if bits(&pa) != bits(&pf) {
            assert!(!a.state().is_empty(), "{name}: depends on its history but saves no state");
        }
    }
}

/// The learning rate reads back what was set, and the defaults' rate is
/// the declared `lr` (where there is one).
#[test]
fn learning_rate_set_and_get() {
    for (name, h) in configurations() {
        let mut opt = build(&h);
        if h.spec.param("lr").is_some() {
            assert_eq!(opt.learning_rate(), h.f32("lr"), "{name}");
        }
        opt.set_learning_rate(0.125);
        assert_eq!(opt.learning_rate(), 0.125, "{name}");
    }
}

/// With its defaults, every optimizer lowers a convex quadratic.
#[test]
fn descends_on_a_quadratic() {
    for (name, h) in configurations() {
        let mut opt = build(&h);
        let mut p = start();
        let before = quadratic(&p).item();
        steps(opt.as_mut(), &mut p, 30);
        let after = quadratic(&p).item();
        assert!(after < before, "{name}: loss {before} -> {after}");
    }
}

/// Every declared default parses and lies in its range (building checks
/// the ranges), help exists, keys are unique, and names are unique.
#[test]
fn declarations_are_consistent() {
    let specs: &[&OptimizerSpec] = registry::all();
    for (i, s) in specs.iter().enumerate() {
        assert!(specs[..i].iter().all(|o| o.name != s.name), "{} registered twice", s.name);
        assert!(!s.about.is_empty() && optim::Schedule::parse(s.schedule).is_ok(), "{}", s.name);
        for (j, p) in s.params.iter().enumerate() {
            assert!(s.params[..j].iter().all(|q| q.key != p.key), "{}: key {} twice", s.name, p.key);
            assert!(!p.help.is_empty(), "{}: {} has no help", s.name, p.key);
        }
        assert_eq!(build(&Hypers::defaults(s)).name(), s.name);
        assert!(registry::describe().contains(&format!("{}: ", s.name)));
    }
}

/// Unknown keys, another optimizer's keys, bad values and out-of-range
/// values are errors naming the key.
#[test]
fn configuration_errors_name_the_key() {
    for spec in registry::all() {
        let e = registry::resolve(spec.name, &[("nosuch".into(), "1".into())]).err().expect("unknown key");
        assert_eq!(e.key(), Some("nosuch"), "{}", spec.name);
        assert!(e.to_string().contains(spec.params[0].key), "{}: {e}", spec.name);
        for p in spec.params {
            let bad = match p.kind {
                Kind::Float(_) | Kind::Int(_) => "-1e40",
                Kind::Bool => "maybe",
                Kind::Base => "nosuch",
            };
            let r = registry::resolve(spec.name, &[(p.key.into(), bad.into())]).and_then(|h| h.build().map(|_| ()));
            let e = r.err().unwrap_or_else(|| panic!("{}: {}={bad} accepted", spec.name, p.key));
            assert_eq!(e.key(), Some(p.key), "{}: {e}", spec.name);
        }
    }
    let e = registry::resolve("sgd", &[("lr".into(), "1".into()), ("lr".into(), "2".into())]).err().expect("repeated");
    assert_eq!(e.key(), Some("lr"));
    assert!(registry::resolve("nosuch", &[]).is_err());
}
