//! A Slurm job array's task as a shard: `--shard auto`.
//!
//! `sbatch --array=MIN-MAX:STEP` starts `SLURM_ARRAY_TASK_COUNT` tasks with
//! ids `MIN, MIN+STEP, …`; task id `t` is shard `k = (t − MIN)/STEP` of
//! `N = COUNT`. Arrays that are not such a progression (`--array=1,4,9`)
//! cannot be mapped and are refused.

/// `(k, N)` with `0 ≤ k < N` for this array task, from the variables `var`
/// returns (`std::env::var(..).ok()` in a real job). Errors say what is
/// missing or does not fit.
pub fn slurm_array_shard(var: impl Fn(&str) -> Option<String>) -> Result<(usize, usize), String> {
    let get = |name: &str| -> Result<Option<usize>, String> {
        match var(name) {
            None => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| format!("{name}={v:?} is not a whole number")),
        }
    };
    let id =
        get("SLURM_ARRAY_TASK_ID")?.ok_or("--shard auto: SLURM_ARRAY_TASK_ID is not set (not a Slurm job array task; use --shard k/N)")?;
    let count = get("SLURM_ARRAY_TASK_COUNT")?.ok_or("--shard auto: SLURM_ARRAY_TASK_COUNT is not set")?;
    let min = get("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
    let step = get("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
    let max = get("SLURM_ARRAY_TASK_MAX")?;
    if count == 0 || step == 0 {
        return Err(format!("--shard auto: SLURM_ARRAY_TASK_COUNT={count}, SLURM_ARRAY_TASK_STEP={step}: need both at least 1"));
    }
    if let Some(max) = max {
        if max != min + (count - 1) * step {
            return Err(format!(
                "--shard auto: the array {min}-{max} with {count} tasks is not MIN-MAX:STEP (e.g. --array=1,4,9); use --shard k/N"
            ));
        }
    }
    if id < min || !(id - min).is_multiple_of(step) {
        return Err(format!("--shard auto: task {id} is not MIN {min} plus a multiple of STEP {step}"));
    }
    let k = (id - min) / step;
    if k >= count {
        return Err(format!("--shard auto: task {id} is shard {} but the array has only {count} tasks", k + 1));
    }
    Ok((k, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn arrays_map_to_shards() {
        let a =
            [("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_MIN", "0"), ("SLURM_ARRAY_TASK_MAX", "3")];
        assert_eq!(slurm_array_shard(env(&a)), Ok((3, 4)));
        // --array=1-9:2 → ids 1, 3, 5, 7, 9.
        let b = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_COUNT", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "9"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ];
        assert_eq!(slurm_array_shard(env(&b)), Ok((2, 5)));
    }

    #[test]
    fn what_does_not_map_is_refused_with_a_reason() {
        let e = slurm_array_shard(env(&[])).unwrap_err();
        assert!(e.contains("SLURM_ARRAY_TASK_ID is not set"), "{e}");
        // --array=1,4,9: three tasks, MIN 1, MAX 9, no progression.
        let list =
            [("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_COUNT", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_MAX", "9")];
        assert!(slurm_array_shard(env(&list)).unwrap_err().contains("not MIN-MAX:STEP"));
        let off =
            [("SLURM_ARRAY_TASK_ID", "4"), ("SLURM_ARRAY_TASK_COUNT", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_STEP", "2")];
        assert!(slurm_array_shard(env(&off)).unwrap_err().contains("multiple of STEP"));
        let bad = [("SLURM_ARRAY_TASK_ID", "x"), ("SLURM_ARRAY_TASK_COUNT", "3")];
        assert!(slurm_array_shard(env(&bad)).unwrap_err().contains("not a whole number"));
    }
}
