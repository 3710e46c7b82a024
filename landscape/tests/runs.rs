//! The runs behind `llv surface`, `interpolate`, `hessian` and `plot`,
//! called from Rust: what the command line does, a Rust caller can do.

use landscape::figures::{self, FigureKind, FigureRequest};
use landscape::plan::{Around, DirectionSource};
use landscape::slice::{self, DirectionsChoice, SurfaceOutcome, SurfaceRequest};
use landscape::spectrum::{self, Eigensolver, SpectrumRequest};
use landscape::{interpolation, model_data::ProbeConfig, EvalConfig, LandscapeError, Quiet, Results, Split};
use std::path::PathBuf;

fn lenet() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../nn/tests/fixtures/weights/lenet.safetensors"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("llv-runs-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn eval(limit: usize) -> EvalConfig {
    EvalConfig { batch_size: 50, ..EvalConfig::new("lenet", "mnist", Some(limit)) }
}

fn surface(out: PathBuf) -> SurfaceRequest {
    SurfaceRequest { x: "-1:1:3".parse().unwrap(), seed: 3, size: (400, 300), ..SurfaceRequest::new(eval(20), lenet(), out) }
}

fn field(r: Result<impl std::fmt::Debug, LandscapeError>) -> &'static str {
    match r {
        Err(LandscapeError::Config { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn surface_run_writes_a_resumable_results_file() {
    let out = tmp("surface");
    let req = surface(out.clone());
    let SurfaceOutcome::Surface { results, points, written } = slice::run(&req, &Quiet).unwrap() else { panic!("one surface") };
    assert_eq!(points, 3);
    assert!(written.iter().any(|p| p.ends_with("line.png")) && out.join("directions.safetensors").exists());
    let (r, _) = Results::read(&results, false).unwrap();
    assert_eq!(r.plan.kind(), "surface1d");
    assert!(matches!(&r.plan.around, Around::Slice(s) if s.source == DirectionSource::Normalized(landscape::Norm::Filter)));
    let center = r.column("test_loss", 3).unwrap()[1];
    assert!(center.is_finite() && center > 0.0);

    // Resuming recomputes nothing; another plan is refused, naming the field.
    let again = slice::run(&SurfaceRequest { resume: true, ..req.clone() }, &Quiet).unwrap();
    assert!(matches!(again, SurfaceOutcome::Surface { points: 3, .. }));
    let e = slice::run(&SurfaceRequest { resume: true, eval: eval(30), ..req.clone() }, &Quiet).unwrap_err().to_string();
    assert!(e.contains("plans differ") && e.contains("limit"), "{e}");

    // Figures of the results: a line draws, a contour of a line is a field error.
    figures::draw(&r, &FigureRequest::new(FigureKind::Line, (400, 300))).unwrap();
    assert_eq!(field(figures::draw(&r, &FigureRequest::new(FigureKind::Contour, (400, 300)))), "kind");
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn bad_requests_name_the_field_before_touching_out() {
    let out = tmp("bad");
    let req = surface(out.clone());
    assert_eq!(field(slice::run(&SurfaceRequest { repeats: 0, ..req.clone() }, &Quiet)), "repeats");
    assert_eq!(field(slice::run(&SurfaceRequest { repeats: 2, y: req.x.into(), ..req.clone() }, &Quiet)), "repeats");
    let through = DirectionsChoice::Through(vec![lenet(), lenet()]);
    assert_eq!(field(slice::run(&SurfaceRequest { directions: through, ..req.clone() }, &Quiet)), "through");
    assert_eq!(field(slice::run(&SurfaceRequest { eval: EvalConfig { batch_size: 0, ..eval(5) }, ..req.clone() }, &Quiet)), "batch_size");
    let inverted = landscape::Range { start: 1.0, end: -1.0, num: 3 };
    assert_eq!(field(slice::run(&SurfaceRequest { x: inverted, ..req.clone() }, &Quiet)), "x");
    assert_eq!(field(slice::run(&SurfaceRequest { size: (10, 600), ..req.clone() }, &Quiet)), "size");
    assert!(!out.exists(), "invalid requests leave no folder");
    assert_eq!(field(slice::run(&SurfaceRequest { weights: "/no/such.safetensors".into(), ..req }, &Quiet)), "weights");

    let line = interpolation::InterpolationRequest {
        eval: eval(10),
        from: lenet(),
        to: lenet(),
        range: "0:1:2".parse().unwrap(),
        resume: false,
        force: true,
        size: (400, 300),
        out: tmp("line"),
    };
    let e = interpolation::run(&line, &Quiet).unwrap_err();
    assert!(e.to_string().contains("zero norm"), "{e}");
    assert_eq!(field(Err::<(), _>(e)), "to");
}

#[test]
fn spectrum_run_reports_the_top_eigenvalue() {
    let out = tmp("spectrum");
    let req = SpectrumRequest {
        probe: ProbeConfig { eval: EvalConfig { split: Split::Train, ..eval(10) }, weights: lenet() },
        seed: 0,
        top_k: 1,
        method: Eigensolver::Lanczos,
        steps: Some(5),
        tol: 1e-4,
        min: false,
        trace_samples: None,
        density: None,
        curvature_map: None,
        force: false,
        size: (400, 300),
        out: out.clone(),
    };
    assert_eq!(field(spectrum::run(&SpectrumRequest { top_k: 0, ..req.clone() }, &Quiet)), "top_k");
    let r = spectrum::run(&req, &Quiet).unwrap();
    assert_eq!(r.top.len(), 1);
    assert!(r.top[0].is_finite() && r.products >= 5);
    let json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&r.report).unwrap()).unwrap();
    assert_eq!(json["top_eigenvalues"][0].as_f64().unwrap(), r.top[0]);
    assert!(out.join("hessian-directions.safetensors").exists());
    let _ = std::fs::remove_dir_all(out);
}
