//! Learning-rate schedules: a factor of the base rate per step.

/// A schedule maps the step number (from 0) and the total number of steps
/// to a multiplier of the base learning rate.
#[derive(Clone, Debug, PartialEq)]
pub enum Schedule {
    /// Always 1.
    Constant,
    /// Multiply by `gamma` every `every` steps.
    Step {
        /// Steps between decays.
        every: usize,
        /// Decay factor.
        gamma: f32,
    },
    /// Multiply by `gamma` at each of the given steps.
    MultiStep {
        /// Steps at which to decay (ascending).
        milestones: Vec<usize>,
        /// Decay factor.
        gamma: f32,
    },
    /// Cosine annealing from 1 down to `min_factor` over all steps.
    Cosine {
        /// Final factor.
        min_factor: f32,
    },
    /// Linear warm-up from `start_factor` to 1 over `steps`, then `then`.
    Warmup {
        /// Warm-up length in steps.
        steps: usize,
        /// Factor at step 0.
        start_factor: f32,
        /// The schedule after warm-up (its step count starts at 0 after warm-up).
        then: Box<Schedule>,
    },
}

impl Schedule {
    /// The factor at `step` of `total`.
    pub fn factor(&self, step: usize, total: usize) -> f32 {
        match self {
            Schedule::Constant => 1.0,
            Schedule::Step { every, gamma } => gamma.powi((step / (*every).max(1)) as i32),
            Schedule::MultiStep { milestones, gamma } => gamma.powi(milestones.iter().filter(|&&m| step >= m).count() as i32),
            Schedule::Cosine { min_factor } => {
                let t = if total <= 1 { 0.0 } else { step.min(total - 1) as f64 / (total - 1) as f64 };
                let c = 0.5 * (1.0 + (std::f64::consts::PI * t).cos());
                (*min_factor as f64 + (1.0 - *min_factor as f64) * c) as f32
            }
            Schedule::Warmup { steps, start_factor, then } => {
                if step < *steps {
                    start_factor + (1.0 - start_factor) * step as f32 / *steps as f32
                } else {
                    then.factor(step - steps, total.saturating_sub(*steps))
                }
            }
        }
    }

    /// Parses `constant`, `step:EVERY:GAMMA`, `multistep:M1,M2,...:GAMMA`,
    /// `cosine[:MIN]`, `warmup:STEPS:<schedule>`. Steps count optimizer
    /// steps. Errors say what is wrong.
    pub fn parse(s: &str) -> Result<Schedule, String> {
        let bad = |what: &str| format!("schedule {s:?}: {what}");
        let num = |v: &str, what: &str| v.parse::<f32>().map_err(|_| bad(&format!("{what} {v:?} is not a number")));
        let int = |v: &str, what: &str| v.parse::<usize>().map_err(|_| bad(&format!("{what} {v:?} is not a whole number")));
        let (head, rest) = s.split_once(':').unwrap_or((s, ""));
        match head {
            "constant" | "none" if rest.is_empty() => Ok(Schedule::Constant),
            "step" => {
                let (e, g) = rest.split_once(':').ok_or_else(|| bad("expected step:EVERY:GAMMA"))?;
                let every = int(e, "EVERY")?;
                if every == 0 {
                    return Err(bad("EVERY must be positive"));
                }
                Ok(Schedule::Step { every, gamma: num(g, "GAMMA")? })
            }
            "multistep" => {
                let (m, g) = rest.split_once(':').ok_or_else(|| bad("expected multistep:M1,M2,...:GAMMA"))?;
                let milestones = m.split(',').map(|v| int(v, "milestone")).collect::<Result<Vec<_>, _>>()?;
                Ok(Schedule::MultiStep { milestones, gamma: num(g, "GAMMA")? })
            }
            "cosine" => Ok(Schedule::Cosine { min_factor: if rest.is_empty() { 0.0 } else { num(rest, "MIN")? } }),
            "warmup" => {
                let (n, then) = rest.split_once(':').unwrap_or((rest, "constant"));
                Ok(Schedule::Warmup { steps: int(n, "STEPS")?, start_factor: 0.1, then: Box::new(Schedule::parse(then)?) })
            }
            _ => Err(bad("expected constant, step:EVERY:GAMMA, multistep:M1,M2:GAMMA, cosine[:MIN] or warmup:STEPS:<schedule>")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factors() {
        assert_eq!(Schedule::Step { every: 10, gamma: 0.5 }.factor(25, 100), 0.25);
        assert_eq!(Schedule::MultiStep { milestones: vec![5, 8], gamma: 0.1 }.factor(8, 10), 0.1f32.powi(2));
        let c = Schedule::Cosine { min_factor: 0.0 };
        assert_eq!(c.factor(0, 11), 1.0);
        assert!((c.factor(5, 11) - 0.5).abs() < 1e-6);
        assert!(c.factor(10, 11).abs() < 1e-6);
        let w = Schedule::parse("warmup:10:cosine").unwrap();
        assert!((w.factor(0, 110) - 0.1).abs() < 1e-6);
        assert!((w.factor(10, 110) - 1.0).abs() < 1e-6);
        assert!(w.factor(109, 110) < 1e-3);
    }

    #[test]
    fn parse_errors_name_the_problem() {
        assert!(Schedule::parse("step:0:0.5").unwrap_err().contains("EVERY must be positive"));
        assert!(Schedule::parse("step:x:0.5").unwrap_err().contains("\"x\" is not a whole number"));
        assert!(Schedule::parse("bogus").unwrap_err().contains("expected constant"));
        assert_eq!(Schedule::parse("multistep:3,6:0.1").unwrap(), Schedule::MultiStep { milestones: vec![3, 6], gamma: 0.1 });
    }
}
