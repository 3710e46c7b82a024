//! The plan of a results file: what was computed — model, data, grid, and
//! what the grid is around (a slice, a line between checkpoints, a PCA
//! plane) — recorded in the file's first line. A resumed run or a merge
//! compares plans field by field and refuses to mix different computations.

use crate::direction::{DirType, Ignore, Norm};
use crate::error::{LandscapeError, Result};
use crate::grid_order::PointOrder;
use crate::model_data::{EvalConfig, Split};
use crate::surface::{Range, Shard};
use serde_json::{json, Map, Value};

/// What a results file holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Zoo model name.
    pub model: String,
    /// Data set spec (as `llv data` takes it).
    pub data: String,
    /// Which splits are evaluated.
    pub split: Split,
    /// Only the first `limit` examples of each split.
    pub limit: Option<usize>,
    /// Characters per window, for a language model on a text corpus.
    pub seq_len: Option<usize>,
    /// The x grid.
    pub x: Range,
    /// The y grid of a plane.
    pub y: Option<Range>,
    /// What the grid is around.
    pub around: Around,
    /// The order points are computed in (and shards are cut by).
    pub order: PointOrder,
}

/// The geometry of a results file's grid.
#[derive(Clone, Debug, PartialEq)]
pub enum Around {
    /// `center + x·d₁ (+ y·d₂)`: a 1-D or 2-D slice (`llv surface`).
    Slice(Slice),
    /// `from + α·(to − from)`: the line between two checkpoints (`llv interpolate`).
    Line {
        /// Fingerprint of the weights at α = 0.
        from: String,
        /// Fingerprint of the weights at α = 1.
        to: String,
    },
    /// The PCA plane of a training run's checkpoints (`llv trajectory`).
    Trajectory(TrajectoryPlane),
}

/// A slice around a center.
#[derive(Clone, Debug, PartialEq)]
pub struct Slice {
    /// Fingerprint of the center's state.
    pub center: String,
    /// Fingerprint of the directions.
    pub directions: String,
    /// Where the directions come from.
    pub source: DirectionSource,
    /// One-dimensional tensors left out of random directions.
    pub ignore: Ignore,
    /// Which state entries random directions cover.
    pub dir_type: DirType,
    /// Seed of the random direction (recorded by `--repeats` runs).
    pub seed: Option<u64>,
    /// Only this part of the grid.
    pub shard: Option<Shard>,
}

/// Where a slice's directions come from (the plan's `norm` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectionSource {
    /// Random (or loaded) directions with this normalization.
    Normalized(Norm),
    /// Differences to other checkpoints (`--through`), unnormalized.
    Through,
    /// The top Hessian eigenvectors at the center, unit norm.
    Hessian,
}

/// The PCA plane of a trajectory and the path on it.
#[derive(Clone, Debug, PartialEq)]
pub struct TrajectoryPlane {
    /// Fingerprint of the final weights (the plane's origin).
    pub center: String,
    /// Fingerprint of the two principal directions.
    pub directions: String,
    /// One-dimensional tensors left out of the PCA.
    pub ignore: Ignore,
    /// Fraction of the variance each component explains.
    pub explained: [f64; 2],
    /// The same for a random walk of as many steps (a baseline).
    pub random_walk_explained: [f64; 2],
    /// The checkpoints projected on the plane, in epoch order.
    pub path: Vec<PathPoint>,
}

/// A checkpoint on the PCA plane.
#[derive(Clone, Debug, PartialEq)]
pub struct PathPoint {
    /// Its epoch.
    pub epoch: usize,
    /// Coordinate along the first component.
    pub x: f64,
    /// Coordinate along the second component.
    pub y: f64,
    /// Its loss on the first evaluation set.
    pub loss: f64,
    /// The figure's label.
    pub label: String,
}

impl Plan {
    /// The plan of a grid `x` (× `y`) around `around`, evaluated as `eval`
    /// says, computed coarse to fine.
    pub fn new(eval: &EvalConfig, x: Range, y: Option<Range>, around: Around) -> Plan {
        let text = datasets::DataSpec::parse(&eval.data).is_ok_and(|d| d.is_text());
        let seq_len = text.then_some(eval.seq_len);
        let order = PointOrder::CoarseToFine;
        Plan { model: eval.model.clone(), data: eval.data.clone(), split: eval.split, limit: eval.limit, seq_len, x, y, around, order }
    }

    /// The plan's `kind`: `surface1d`, `surface2d`, `interpolation` or `trajectory`.
    pub fn kind(&self) -> &'static str {
        match (&self.around, self.y) {
            (Around::Slice(_), None) => "surface1d",
            (Around::Slice(_), Some(_)) => "surface2d",
            (Around::Line { .. }, _) => "interpolation",
            (Around::Trajectory(_), _) => "trajectory",
        }
    }

    /// The shard of a slice computed in parts.
    pub fn shard(&self) -> Option<Shard> {
        match &self.around {
            Around::Slice(s) => s.shard,
            _ => None,
        }
    }

    /// The same plan for the whole grid (what the shards of a merge share).
    pub fn without_shard(mut self) -> Plan {
        if let Around::Slice(s) = &mut self.around {
            s.shard = None;
        }
        self
    }

    /// Checks the grid fits the geometry: lines are 1-D, trajectories 2-D.
    /// Errors name the field.
    pub fn validate(&self) -> Result<()> {
        match (&self.around, self.y) {
            (Around::Line { .. }, Some(_)) => Err(LandscapeError::config("y", "a line between checkpoints has no y grid")),
            (Around::Trajectory(_), None) => Err(LandscapeError::config("y", "a PCA plane needs a y grid")),
            _ => Ok(()),
        }
    }

    /// The plan as the JSON object of a results file's first line.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        put("kind", json!(self.kind()));
        put("model", json!(self.model));
        put("data", json!(self.data));
        put("split", json!(self.split.as_str()));
        put("limit", json!(self.limit));
        if let Some(l) = self.seq_len {
            put("seq_len", json!(l));
        }
        put("x", json!(self.x.to_string()));
        if self.order != PointOrder::RowMajor {
            put("order", json!(self.order.as_str()));
        }
        match &self.around {
            Around::Slice(s) => {
                put("y", json!(self.y.map(|y| y.to_string())));
                put("center", json!(s.center));
                put("directions", json!(s.directions));
                let norm = match s.source {
                    DirectionSource::Normalized(n) => n.as_str(),
                    DirectionSource::Through => "through",
                    DirectionSource::Hessian => "hessian",
                };
                put("norm", json!(norm));
                put("ignore", json!(s.ignore.as_str()));
                put("dir_type", json!(s.dir_type.as_str()));
                put("shard", json!(s.shard.map(|s| s.to_string())));
                if let Some(seed) = s.seed {
                    put("seed", json!(seed));
                }
            }
            Around::Line { from, to } => {
                put("from", json!(from));
                put("to", json!(to));
            }
            Around::Trajectory(t) => {
                put("y", json!(self.y.map(|y| y.to_string())));
                put("center", json!(t.center));
                put("directions", json!(t.directions));
                put("norm", json!("pca"));
                put("ignore", json!(t.ignore.as_str()));
                put("explained", json!(t.explained));
                put("random_walk_explained", json!(t.random_walk_explained));
                let path: Vec<Value> =
                    t.path.iter().map(|p| json!({"epoch": p.epoch, "x": p.x, "y": p.y, "loss": p.loss, "label": p.label})).collect();
                put("path", Value::Array(path));
            }
        }
        Value::Object(m)
    }

    /// Reads a plan written by [`Plan::to_json`]. Errors name the field.
    pub fn from_json(v: &Value) -> Result<Plan> {
        let text = |field: &'static str| -> Result<String> {
            v[field].as_str().map(String::from).ok_or_else(|| LandscapeError::config(field, "missing or not a string"))
        };
        let parsed = |field: &'static str, s: String| -> Result<Range> { s.parse::<Range>().map_err(|e| LandscapeError::config(field, e)) };
        let limit = match &v["limit"] {
            Value::Null => None,
            l => Some(l.as_u64().ok_or_else(|| LandscapeError::config("limit", "not a whole number"))? as usize),
        };
        let seq_len = match &v["seq_len"] {
            Value::Null => None,
            l => Some(l.as_u64().ok_or_else(|| LandscapeError::config("seq_len", "not a whole number"))? as usize),
        };
        let y = match &v["y"] {
            Value::Null => None,
            Value::String(s) => Some(parsed("y", s.clone())?),
            _ => return Err(LandscapeError::config("y", "not a range")),
        };
        let split = text("split")?.parse::<Split>().map_err(|e| LandscapeError::config("split", e))?;
        let enum_field = |field: &'static str| -> Result<String> { text(field) };
        let kind = text("kind")?;
        let around = match kind.as_str() {
            "surface1d" | "surface2d" => {
                if (kind == "surface2d") != y.is_some() {
                    return Err(LandscapeError::config(
                        "y",
                        format!("a {kind} plan {} a y grid", if y.is_some() { "has" } else { "lacks" }),
                    ));
                }
                let norm = enum_field("norm")?;
                let source = match norm.as_str() {
                    "through" => DirectionSource::Through,
                    "hessian" => DirectionSource::Hessian,
                    n => DirectionSource::Normalized(n.parse().map_err(|e| LandscapeError::config("norm", e))?),
                };
                let shard = match &v["shard"] {
                    Value::Null => None,
                    Value::String(s) => Some(s.parse::<Shard>().map_err(|e| LandscapeError::config("shard", e))?),
                    _ => return Err(LandscapeError::config("shard", "not k/N")),
                };
                let seed = match &v["seed"] {
                    Value::Null => None,
                    s => Some(s.as_u64().ok_or_else(|| LandscapeError::config("seed", "not a whole number"))?),
                };
                Around::Slice(Slice {
                    center: text("center")?,
                    directions: text("directions")?,
                    source,
                    ignore: enum_field("ignore")?.parse().map_err(|e| LandscapeError::config("ignore", e))?,
                    dir_type: enum_field("dir_type")?.parse().map_err(|e| LandscapeError::config("dir_type", e))?,
                    seed,
                    shard,
                })
            }
            "interpolation" => Around::Line { from: text("from")?, to: text("to")? },
            "trajectory" => {
                let pair = |field: &'static str| -> Result<[f64; 2]> {
                    match v[field].as_array().map(|a| a.iter().map(|x| x.as_f64()).collect::<Option<Vec<f64>>>()) {
                        Some(Some(p)) if p.len() == 2 => Ok([p[0], p[1]]),
                        _ => Err(LandscapeError::config(field, "expected two numbers")),
                    }
                };
                let path = v["path"]
                    .as_array()
                    .ok_or_else(|| LandscapeError::config("path", "missing or not a list"))?
                    .iter()
                    .map(|p| {
                        let num = |k: &str| p[k].as_f64().unwrap_or(f64::NAN);
                        Ok(PathPoint {
                            epoch: p["epoch"].as_u64().ok_or_else(|| LandscapeError::config("path", "a point without an epoch"))? as usize,
                            x: num("x"),
                            y: num("y"),
                            loss: num("loss"),
                            label: p["label"].as_str().unwrap_or_default().to_string(),
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                Around::Trajectory(TrajectoryPlane {
                    center: text("center")?,
                    directions: text("directions")?,
                    ignore: enum_field("ignore")?.parse().map_err(|e| LandscapeError::config("ignore", e))?,
                    explained: pair("explained")?,
                    random_walk_explained: pair("random_walk_explained")?,
                    path,
                })
            }
            other => {
                return Err(LandscapeError::config(
                    "kind",
                    format!("{other:?}: expected surface1d, surface2d, interpolation or trajectory"),
                ))
            }
        };
        let order = match &v["order"] {
            Value::Null => PointOrder::RowMajor,
            o => o.as_str().unwrap_or_default().parse().map_err(|e| LandscapeError::config("order", e))?,
        };
        let plan =
            Plan { model: text("model")?, data: text("data")?, split, limit, seq_len, x: parsed("x", text("x")?)?, y, around, order };
        plan.validate()?;
        Ok(plan)
    }

    /// The first field where two plans differ, as `field: a vs b`. The
    /// order is not compared: it changes which points come first, not what
    /// each point holds (a resumed run keeps its file's order).
    pub fn difference(&self, other: &Plan) -> Option<String> {
        let (Value::Object(a), Value::Object(b)) = (self.to_json(), other.to_json()) else { unreachable!("plans are JSON objects") };
        a.keys().chain(b.keys()).filter(|k| *k != "order").find(|k| a.get(*k) != b.get(*k)).map(|k| {
            let show = |m: &Map<String, Value>| m.get(k).map_or("absent".into(), |v| v.to_string());
            format!("{k}: {} vs {}", show(&a), show(&b))
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A 2-D slice plan for tests.
    pub(crate) fn slice_plan() -> Plan {
        Plan {
            model: "lenet".into(),
            data: "mnist".into(),
            split: Split::Test,
            limit: Some(100),
            seq_len: None,
            x: "-1:1:5".parse().unwrap(),
            y: Some("-0.5:0.5:3".parse().unwrap()),
            around: Around::Slice(Slice {
                center: "00ff".into(),
                directions: "abcd".into(),
                source: DirectionSource::Normalized(Norm::Filter),
                ignore: Ignore::BiasBn,
                dir_type: DirType::Weights,
                seed: None,
                shard: Some(Shard { index: 1, count: 2 }),
            }),
            order: PointOrder::CoarseToFine,
        }
    }

    #[test]
    fn order_is_recorded_and_old_files_read_as_row_major() {
        let plan = slice_plan();
        assert_eq!(plan.to_json()["order"], "coarse-to-fine");
        let mut old = plan.to_json();
        old.as_object_mut().unwrap().remove("order");
        let read = Plan::from_json(&old).unwrap();
        assert_eq!(read.order, PointOrder::RowMajor);
        assert_eq!(read.difference(&plan), None, "a resumed old file is the same computation");
        old["order"] = json!("spiral");
        assert!(Plan::from_json(&old).unwrap_err().to_string().contains("order"));
    }

    #[test]
    fn json_round_trip_of_every_kind() {
        let slice = slice_plan();
        let line = Plan { y: None, around: Around::Line { from: "aa".into(), to: "bb".into() }, ..slice.clone() };
        let traj = Plan {
            limit: None,
            around: Around::Trajectory(TrajectoryPlane {
                center: "c".into(),
                directions: "d".into(),
                ignore: Ignore::None,
                explained: [0.75, 0.125],
                random_walk_explained: [0.5, 0.25],
                path: vec![PathPoint { epoch: 3, x: 0.5, y: -0.25, loss: 2.5, label: "ep 3: 2.500".into() }],
            }),
            ..slice.clone()
        };
        let repeat = Plan {
            y: None,
            around: Around::Slice(Slice {
                seed: Some(4),
                shard: None,
                ..match &slice.around {
                    Around::Slice(s) => s.clone(),
                    _ => unreachable!(),
                }
            }),
            ..slice.clone()
        };
        for (plan, kind) in [(slice, "surface2d"), (line, "interpolation"), (traj, "trajectory"), (repeat, "surface1d")] {
            let v = plan.to_json();
            assert_eq!(v["kind"], kind);
            let text = v.to_string();
            let back = Plan::from_json(&serde_json::from_str(&text).unwrap()).unwrap();
            assert_eq!(back, plan, "{text}");
            assert_eq!(back.difference(&plan), None);
        }
    }

    #[test]
    fn the_json_keeps_the_fields_of_earlier_files() {
        let v = slice_plan().to_json();
        assert_eq!(v["x"], "-1:1:5");
        assert_eq!(v["y"], "-0.5:0.5:3");
        assert_eq!(v["norm"], "filter");
        assert_eq!(v["shard"], "2/2");
        assert_eq!(v["dir_type"], "weights");
        assert!(v.get("seed").is_none());
    }

    #[test]
    fn bad_plans_name_the_field() {
        let good = slice_plan().to_json();
        let broken = |key: &str, value: Value| {
            let mut v = good.clone();
            v[key] = value;
            match Plan::from_json(&v) {
                Err(LandscapeError::Config { field, .. }) => field,
                other => panic!("{key}: expected a field error, got {other:?}"),
            }
        };
        assert_eq!(broken("x", json!("1:-1:3")), "x");
        assert_eq!(broken("y", json!(null)), "y");
        assert_eq!(broken("norm", json!("sideways")), "norm");
        assert_eq!(broken("split", json!("validation")), "split");
        assert_eq!(broken("limit", json!(-3)), "limit");
        assert_eq!(broken("kind", json!("histogram")), "kind");
        assert_eq!(broken("shard", json!("3/2")), "shard");
        assert_eq!(broken("model", json!(7)), "model");
        let mut line = Plan { y: None, around: Around::Line { from: "a".into(), to: "b".into() }, ..slice_plan() }.to_json();
        line["y"] = json!("-1:1:3");
        assert!(matches!(Plan::from_json(&line), Err(LandscapeError::Config { field: "y", .. })));
    }

    #[test]
    fn difference_names_the_first_differing_field() {
        let a = slice_plan();
        let b = Plan { limit: Some(60), ..a.clone() };
        assert_eq!(a.difference(&b).unwrap(), "limit: 100 vs 60");
        assert_eq!(a.clone().without_shard().shard(), None);
        assert!(a.difference(&a.clone().without_shard()).unwrap().starts_with("shard"));
    }
}
