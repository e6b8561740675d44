//! The plan in words, for `validate` and `wait --dry-run`: what a wait would do, and which
//! layer (file, variable, flag, default) set each value. Never shows a secret.

use super::load::Loaded;
use super::plan::{Plan, Project};

/// The plan in words, for `validate`: every job with its URL and criteria, then the settings
/// with the layer that set each (file, variable, flag or default). Never shows a secret.
pub fn describe_plan(plan: &Plan, loaded: &Loaded) -> String {
    let mut out = Vec::new();
    // Writing to memory does not fail.
    let _ = write_plan(plan, loaded, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`describe_plan`] written as it is made: a hundred thousand jobs are 25 MB of text, which
/// need not all be in memory at once.
pub fn write_plan(
    plan: &Plan,
    loaded: &Loaded,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let from = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| loaded.origin(k))
            .unwrap_or_else(|| "default".to_owned())
    };
    let dur = |d: std::time::Duration| humantime::format_duration(d).to_string();
    let shard = plan
        .shard
        .map(|s| format!(" (shard {}/{})", s.index, s.count))
        .unwrap_or_default();
    writeln!(
        out,
        "{} job(s){shard} from {}",
        plan.jobs.len(),
        from(&["jobs"])
    )?;
    let project = match &plan.project {
        Project::Id(id) => id.clone(),
        Project::Named { .. } => "{project_id}".to_owned(),
    };
    for job in &plan.jobs {
        let c = &job.criteria;
        let timeout = job
            .timeout
            .map(|t| format!("; timeout {}", dur(t)))
            .unwrap_or_default();
        // The `{project_id}` placeholder is shown as written, not percent-encoded.
        // A password in the endpoint is not shown.
        let url = crate::cloud::endpoint::redacted(&job.url(&project))
            .replace("%7Bproject_id%7D", "{project_id}");
        // A job's name, and a described service's words, come from the spec: one harmless line
        // each, like every text output.
        let label = job.label();
        writeln!(out, "  {}\n    GET {url}", crate::sanitize::line(&label))?;
        // The words of the service's API, as it writes them, by what they mean for the wait.
        let words = job.service.words();
        writeln!(out, "    statuses: {}", crate::sanitize::line(&words))?;
        writeln!(
            out,
            "    success: sub_jobs {}, pending_payment {}, unknown_status {}, not_found_grace {}{}{}{timeout}",
            c.sub_jobs,
            c.pending_payment,
            format!("{:?}", c.unknown_status).to_lowercase(),
            dur(c.not_found_grace),
            if c.confirm > 1 { format!(", confirm {}", c.confirm) } else { String::new() },
            c.job_type.as_ref().map(|t| format!(", job_type {t}")).unwrap_or_default(),
        )?;
    }
    let auth = plan.credentials.as_ref().map_or_else(
        || "none found: a wait would stop with exit 2".to_owned(),
        |c| c.describe(),
    );
    let rows = [
        (
            "project",
            match &plan.project {
                Project::Id(id) => format!("{id} ({})", from(&["project_id"])),
                Project::Named { name, by } => format!(
                    "looked up in IAM as the project named {name} at the start (`{by}`, {})",
                    from(&[by])
                ),
            },
        ),
        (
            "endpoint",
            format!(
                "from {}",
                from(&["endpoint", "endpoints", "cloud", "region"])
            ),
        ),
        ("auth", auth),
        (
            "timeout",
            format!("{} ({})", dur(plan.timeout), from(&["timeout"])),
        ),
        (
            "poll",
            format!(
                "every {} growing to {} ({})",
                dur(plan.poll.interval),
                dur(plan.poll.max_interval),
                from(&["poll.interval", "poll.max_interval", "poll"])
            ),
        ),
        (
            "poll schedule",
            format!(
                "{} ({})",
                plan.poll.schedule.as_str(),
                from(&["poll.schedule"])
            ),
        ),
        (
            // Where the adaptive schedule remembers durations per job type across runs.
            "poll cache",
            match (&plan.duration_cache, plan.poll.schedule) {
                (Some(path), crate::spec::raw::PollSchedule::Adaptive) => format!(
                    "{} ({})",
                    crate::sanitize::line(&path.display().to_string()),
                    from(&["poll.cache"])
                ),
                (Some(_), _) => "not used by this schedule".to_owned(),
                (None, _) => match loaded.origin("poll.cache") {
                    Some(origin) => format!("off ({origin})"),
                    None => "off (default: no XDG_CACHE_HOME or HOME to keep it under)".to_owned(),
                },
            },
        ),
        (
            "rate limit",
            format!(
                "{} requests/s per host ({})",
                plan.rate_limit,
                from(&["rate_limit"])
            ),
        ),
        (
            "fail fast",
            format!("{} ({})", plan.fail_fast, from(&["fail_fast"])),
        ),
        (
            "fail on",
            format!("{:?} ({})", plan.fail_on, from(&["fail_on"])).to_lowercase(),
        ),
    ];
    for (name, value) in rows {
        writeln!(out, "{name:<11} {value}")?;
        // IAM right after the endpoint, when it will be asked: where a password or the
        // project lookup goes is worth seeing with its source.
        if name == "endpoint" {
            if let Some(iam) = &plan.iam {
                writeln!(
                    out,
                    "{:<11} {} ({})",
                    "iam",
                    crate::cloud::endpoint::redacted(iam),
                    from(&["endpoints.iam", "endpoint", "cloud", "region"])
                )?;
            }
        }
    }
    Ok(())
}
