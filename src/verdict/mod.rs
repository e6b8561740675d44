//! The verdict on one job document: pure functions, no I/O, no clocks.
//!
//! [`judge`] decides succeeded / failed / still pending from the main status, the sub-jobs and
//! the criteria, deciding as early as the outcome is certain (an `all` policy fails at the first
//! failed sub-job, before the main job ends). [`aggregate`] collects what the report shows:
//! sub-job counts, entity ids by key, and the failed sub-jobs.

use std::time::Duration;

use indexmap::{IndexMap, IndexSet};
#[cfg(test)]
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

mod criteria;

pub use criteria::{PendingPayment, SubJobPolicy, UnknownStatus};

use crate::cloud::wire::{Job, JobStatus};
use crate::sanitize::{cap, MAX_TEXT};

/// What counts as success for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Criteria {
    pub sub_jobs: SubJobPolicy,
    pub pending_payment: PendingPayment,
    /// How long an id the API does not know counts as pending (the engine applies it).
    pub not_found_grace: Duration,
    pub unknown_status: UnknownStatus,
    /// Terminal reads in a row required before a verdict is final (the engine applies it).
    pub confirm: u32,
    /// The expected `job_type`, when the spec names one.
    pub job_type: Option<String>,
}

/// The criteria of a job whose spec says nothing about success: the plan starts from these and
/// overrides key by key, so they are written here only.
impl Default for Criteria {
    fn default() -> Self {
        Criteria {
            sub_jobs: SubJobPolicy::All,
            pending_payment: PendingPayment::Wait,
            not_found_grace: Duration::from_secs(30),
            unknown_status: UnknownStatus::Wait,
            confirm: 1,
            job_type: None,
        }
    }
}

/// Where a job stands after one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Pending,
    Succeeded,
    Failed,
    /// The document is not the job the spec meant (another `job_type`).
    Errored,
}

/// A decision and the one line that explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub decision: Decision,
    pub reason: String,
}

/// Sub-jobs by status. `total` is the larger of `sub_jobs_total` and the list's length.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub struct SubJobCounts {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Not terminal yet (including those announced by `sub_jobs_total` but not listed).
    pub running: u64,
}

impl SubJobCounts {
    pub fn of(job: &Job) -> SubJobCounts {
        let subs = &job.entities.sub_jobs;
        let succeeded = subs
            .iter()
            .filter(|s| s.status == JobStatus::Success)
            .count() as u64;
        let failed = subs.iter().filter(|s| s.status == JobStatus::Fail).count() as u64;
        let total = job
            .entities
            .sub_jobs_total
            .unwrap_or(0)
            .max(subs.len() as u64);
        SubJobCounts {
            total,
            succeeded,
            failed,
            running: total - succeeded - failed,
        }
    }
}

/// Decides one job from one document.
pub fn judge(criteria: &Criteria, job: &Job) -> Verdict {
    if let (Some(want), Some(got)) = (&criteria.job_type, &job.job_type) {
        if want != got {
            return verdict(
                Decision::Errored,
                format!("job type is {got}, not the expected {want} (success.job_type): is the job id right?"),
            );
        }
    }
    let counts = SubJobCounts::of(job);
    let status = &job.status;
    if let (JobStatus::Unknown(s), UnknownStatus::Fail) = (status, criteria.unknown_status) {
        return verdict(
            Decision::Failed,
            format!("{s}: not a documented job status (unknown_status: fail)"),
        );
    }
    match status {
        JobStatus::PendingPayment => match criteria.pending_payment {
            PendingPayment::Wait => pending("PENDING_PAYMENT: the order is not paid yet"),
            PendingPayment::Success => verdict(
                Decision::Succeeded,
                "PENDING_PAYMENT: order not paid yet, counted as success (pending_payment: success)".into(),
            ),
            PendingPayment::Fail => verdict(
                Decision::Failed,
                "PENDING_PAYMENT: the order is not paid (pending_payment: fail)".into(),
            ),
        },
        JobStatus::Success | JobStatus::Fail => on_terminal(criteria.sub_jobs, job, counts),
        JobStatus::Init | JobStatus::Running | JobStatus::Unknown(_) => {
            match cannot_succeed(criteria.sub_jobs, counts) {
                true => verdict(
                    Decision::Failed,
                    explain(status, criteria.sub_jobs, counts, job, "no longer possible"),
                ),
                false if counts.total > 0 => pending(&format!(
                    "{status}, {}/{} sub-jobs done",
                    counts.succeeded + counts.failed,
                    counts.total
                )),
                false => pending(status.as_str()),
            }
        }
    }
}

fn on_terminal(policy: SubJobPolicy, job: &Job, c: SubJobCounts) -> Verdict {
    let main_ok = job.status == JobStatus::Success;
    let decide = |ok: bool| {
        if ok {
            Decision::Succeeded
        } else {
            Decision::Failed
        }
    };
    let decision = match policy {
        SubJobPolicy::None => decide(main_ok),
        SubJobPolicy::All if c.failed > 0 || !main_ok => Decision::Failed,
        // A SUCCESS whose sub-jobs are still listed as running is not final yet.
        SubJobPolicy::All if c.running > 0 => Decision::Pending,
        SubJobPolicy::All => Decision::Succeeded,
        // Without sub-jobs, the policies that count them fall back to the main status: a
        // spec-wide `at_least` must not fail a volume job, which has no sub-jobs.
        SubJobPolicy::Any | SubJobPolicy::AtLeast(_) | SubJobPolicy::Ratio(_) if c.total == 0 => {
            decide(main_ok)
        }
        _ if meets(policy, c) => Decision::Succeeded,
        _ if c.running > 0 && !cannot_succeed(policy, c) => Decision::Pending,
        _ => Decision::Failed,
    };
    let note = match decision {
        Decision::Pending => "waiting for the remaining sub-jobs",
        _ => "",
    };
    verdict(decision, explain(&job.status, policy, c, job, note))
}

/// The policy is met by the sub-jobs that succeeded so far.
fn meets(policy: SubJobPolicy, c: SubJobCounts) -> bool {
    match policy {
        SubJobPolicy::All => c.failed == 0 && c.running == 0,
        SubJobPolicy::Any => c.succeeded >= 1,
        SubJobPolicy::None => true,
        SubJobPolicy::AtLeast(n) => c.succeeded >= u64::from(n),
        // As a quotient: `r * total` in f64 misses exact hits (0.55 * 100.0 > 55).
        SubJobPolicy::Ratio(r) => c.total > 0 && c.succeeded as f64 / c.total as f64 >= r,
    }
}

/// Even if every sub-job not yet terminal succeeded, the policy could not be met.
fn cannot_succeed(policy: SubJobPolicy, c: SubJobCounts) -> bool {
    let best = c.total - c.failed;
    match policy {
        SubJobPolicy::None => false,
        SubJobPolicy::All => c.failed > 0,
        SubJobPolicy::Any => c.total > 0 && best == 0,
        SubJobPolicy::AtLeast(n) => c.total > 0 && best < u64::from(n),
        SubJobPolicy::Ratio(r) => c.total > 0 && (best as f64 / c.total as f64) < r,
    }
}

/// `FAIL, 9/10 sub-jobs succeeded (at_least 8): Ecs.0013 Insufficient EIP quota`.
fn explain(
    status: &JobStatus,
    policy: SubJobPolicy,
    c: SubJobCounts,
    job: &Job,
    note: &str,
) -> String {
    let mut out = status.as_str().to_owned();
    if c.total > 0 && policy != SubJobPolicy::None {
        out += &format!(", {}/{} sub-jobs succeeded", c.succeeded, c.total);
        match policy {
            SubJobPolicy::All => {}
            SubJobPolicy::Any => out += " (any)",
            SubJobPolicy::AtLeast(n) => out += &format!(" (at_least {n})"),
            SubJobPolicy::Ratio(r) => out += &format!(" (ratio {r})"),
            SubJobPolicy::None => {}
        }
    }
    if !note.is_empty() {
        out += &format!(", {note}");
    }
    if let Some(why) = first_failure_text(job) {
        out += &format!(": {why}");
    }
    out
}

/// The main job's error, else the first failed sub-job's (and how many more failed).
fn first_failure_text(job: &Job) -> Option<String> {
    let text = |j: &Job| {
        let parts = failure_words([
            j.error_code.as_deref(),
            j.fail_reason.as_deref(),
            errorcode_message(j),
        ]);
        (!parts.is_empty()).then(|| parts.join(" "))
    };
    if job.status == JobStatus::Fail {
        if let Some(t) = text(job) {
            return Some(t);
        }
    }
    let failed: Vec<&Job> = job
        .entities
        .sub_jobs
        .iter()
        .filter(|s| s.status == JobStatus::Fail)
        .collect();
    let first = failed.first()?;
    let mut out = text(first).unwrap_or_else(|| "a sub-job failed".to_owned());
    if let Some(id) = &first.job_id {
        out += &format!(" (sub-job {id})");
    }
    if failed.len() > 1 {
        out += &format!(" and {} more", failed.len() - 1);
    }
    Some(out)
}

/// The non-empty texts among code, reason and message, each once (ECS often repeats the reason
/// as `errorcode_message`).
pub fn failure_words<const N: usize>(texts: [Option<&str>; N]) -> Vec<&str> {
    let mut words: Vec<&str> = Vec::with_capacity(N);
    for t in texts.into_iter().flatten() {
        if !t.is_empty() && !words.contains(&t) {
            words.push(t);
        }
    }
    words
}

fn errorcode_message(job: &Job) -> Option<&str> {
    job.entities
        .get("errorcode_message")
        .and_then(Value::as_str)
}

fn pending(reason: &str) -> Verdict {
    verdict(Decision::Pending, reason.to_owned())
}

fn verdict(decision: Decision, reason: String) -> Verdict {
    Verdict { decision, reason }
}

/// Entity ids by key (`server_id` → [...]), in API order, without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(transparent)]
pub struct EntityIds(pub IndexMap<String, Vec<String>>);

impl EntityIds {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Builds [`EntityIds`] in time linear in the ids seen (a batch job can list tens of thousands
/// of sub-jobs): a set per key while collecting, plain lists once done.
#[derive(Debug, Default)]
pub struct EntityCollector(IndexMap<String, IndexSet<String>>);

/// The longest entity key and id kept (real ones are a few dozen characters; longer text is
/// not an id, and is left out rather than cut into a wrong one).
const MAX_ENTITY_TEXT: usize = 1024;

impl EntityCollector {
    fn add(&mut self, key: &str, id: &str) {
        if key.len() > MAX_ENTITY_TEXT || id.len() > MAX_ENTITY_TEXT {
            return;
        }
        match self.0.get_mut(key) {
            Some(ids) => {
                if !ids.contains(id) {
                    ids.insert(id.to_owned());
                }
            }
            None => {
                self.0
                    .insert(key.to_owned(), IndexSet::from([id.to_owned()]));
            }
        }
    }

    /// Every `*_id` string field of one `entities` object.
    fn add_fields(&mut self, job: &Job) {
        for (key, value) in &job.entities.other {
            if let (true, Some(id)) = (key.ends_with("_id"), value.as_str()) {
                if !id.is_empty() {
                    self.add(key, id);
                }
            }
        }
    }

    /// Every id of `ids`, after those collected so far.
    pub fn merge(&mut self, ids: &EntityIds) {
        for (key, list) in &ids.0 {
            for id in list {
                self.add(key, id);
            }
        }
    }

    pub fn finish(self) -> EntityIds {
        // Kept until the report: no spare room in ten thousand of them.
        let mut map: IndexMap<String, Vec<String>> = self
            .0
            .into_iter()
            .map(|(key, ids)| (key, ids.into_iter().collect()))
            .collect();
        map.shrink_to_fit();
        EntityIds(map)
    }
}

/// A failed sub-job, for the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(JsonSchema))]
pub struct Failure {
    pub job_id: Option<String>,
    pub job_type: Option<String>,
    pub error_code: Option<String>,
    pub fail_reason: Option<String>,
    /// ECS puts a readable message for a failed sub-job in `entities.errorcode_message`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errorcode_message: Option<String>,
    pub entities: EntityIds,
}

/// What the report shows of one job document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    pub sub_jobs: SubJobCounts,
    pub entities: EntityIds,
    pub failures: Vec<Failure>,
}

/// Collects ids from the job (unless it failed) and its successful sub-jobs, recursively (EIP
/// sub-jobs nest), and lists every failed sub-job at any depth.
pub fn aggregate(job: &Job) -> Aggregate {
    let mut entities = EntityCollector::default();
    let mut failures = Vec::new();
    if job.status != JobStatus::Fail {
        entities.add_fields(job);
    }
    collect_sub_jobs(job, &mut entities, &mut failures);
    failures.shrink_to_fit();
    Aggregate {
        sub_jobs: SubJobCounts::of(job),
        entities: entities.finish(),
        failures,
    }
}

fn collect_sub_jobs(job: &Job, entities: &mut EntityCollector, failures: &mut Vec<Failure>) {
    for sub in &job.entities.sub_jobs {
        match sub.status {
            JobStatus::Success => {
                entities.add_fields(sub);
                collect_sub_jobs(sub, entities, failures);
            }
            JobStatus::Fail => {
                let mut own = EntityCollector::default();
                own.add_fields(sub);
                failures.push(Failure {
                    job_id: sub.job_id.clone(),
                    job_type: sub.job_type.clone(),
                    error_code: sub.error_code.clone(),
                    fail_reason: sub.fail_reason.clone(),
                    errorcode_message: errorcode_message(sub).map(|m| cap(m.to_owned(), MAX_TEXT)),
                    entities: own.finish(),
                });
                collect_sub_jobs(sub, entities, failures);
            }
            // A running sub-job's own sub-jobs may already have failed (EIP batches nest).
            _ => collect_sub_jobs(sub, entities, failures),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::sample::select;
    use serde_json::{json, Map};

    use SubJobPolicy::{All, Any, AtLeast, Ratio};

    fn parse(value: Value) -> Job {
        Job::from_slice(&serde_json::to_vec(&value).unwrap()).unwrap()
    }

    fn criteria(policy: SubJobPolicy) -> Criteria {
        Criteria {
            sub_jobs: policy,
            ..Criteria::default()
        }
    }

    /// A main job (`job_id` "main") with sub-jobs of these statuses, named s1, s2, ...
    fn job_with(status: &str, subs: &[&str], total: Option<u64>) -> Job {
        let subs: Vec<Value> = subs
            .iter()
            .enumerate()
            .map(|(i, s)| json!({"status": s, "job_id": format!("s{}", i + 1)}))
            .collect();
        let mut entities = json!({ "sub_jobs": subs });
        if let Some(total) = total {
            entities["sub_jobs_total"] = json!(total);
        }
        parse(json!({"status": status, "job_id": "main", "entities": entities}))
    }

    fn judged(policy: SubJobPolicy, job: &Job) -> Verdict {
        judge(&criteria(policy), job)
    }

    /// `n` successful sub-jobs then `m` failed ones (the failed ones carry an ECS error).
    fn ok_then_failed(main: Value, n: usize, m: usize) -> Job {
        let mut subs: Vec<Value> = (0..n)
            .map(|i| json!({"status": "SUCCESS", "job_id": format!("s{}", i + 1)}))
            .collect();
        subs.extend((0..m).map(|i| {
            json!({"status": "FAIL", "job_id": format!("s{}", n + i + 1),
                   "error_code": "Ecs.0013", "fail_reason": "Insufficient EIP quota",
                   "entities": {"errorcode_message": "Insufficient EIP quota"}})
        }));
        let mut main = main;
        main["entities"] = json!({"sub_jobs_total": n + m, "sub_jobs": subs});
        parse(main)
    }

    // -----------------------------------------------------------------------------------------
    // judge: the table
    // -----------------------------------------------------------------------------------------

    const MAINS: [&str; 6] = [
        "INIT",
        "RUNNING",
        "SUCCESS",
        "FAIL",
        "PENDING_PAYMENT",
        "ROLLING_BACK",
    ];

    const MIXES: [(&str, &[&str]); 6] = [
        ("no sub-jobs", &[]),
        ("all succeeded", &["SUCCESS", "SUCCESS", "SUCCESS"]),
        ("one failed", &["SUCCESS", "FAIL", "SUCCESS"]),
        ("some running", &["SUCCESS", "RUNNING", "INIT"]),
        ("all failed", &["FAIL", "FAIL"]),
        ("failed and running", &["FAIL", "RUNNING"]),
    ];

    #[test]
    fn judge_table_every_policy_by_main_status_by_sub_job_mix() {
        // One string per mix, one letter per main status in MAINS order: Pending, Succeeded,
        // Failed; `.` is covered by its own test. PENDING_PAYMENT is `wait` (the default).
        let table: [(SubJobPolicy, [&str; 6]); 5] = [
            (
                All,
                ["PPSFPP", "PPSFPP", "FFFFPF", "PPPFPP", "FFFFPF", "FFFFPF"],
            ),
            (
                Any,
                ["PPSFPP", "PPSSPP", "PPSSPP", "PPSSPP", "FFFFPF", "PPPPPP"],
            ),
            (SubJobPolicy::None, ["PPSFPP"; 6]),
            (
                AtLeast(2),
                ["PP.FPP", "PPSSPP", "PPSSPP", "PPPPPP", "FFFFPF", "FFFFPF"],
            ),
            (
                Ratio(0.5),
                ["PPSFPP", "PPSSPP", "PPSSPP", "PPPPPP", "FFFFPF", "PPPPPP"],
            ),
        ];
        let mut checked = 0;
        for (policy, rows) in table {
            for ((mix, subs), row) in MIXES.iter().zip(rows) {
                for (main, want) in MAINS.iter().zip(row.chars()) {
                    let want = match want {
                        'P' => Decision::Pending,
                        'S' => Decision::Succeeded,
                        'F' => Decision::Failed,
                        _ => continue,
                    };
                    let v = judged(policy, &job_with(main, subs, None));
                    assert_eq!(
                        v.decision, want,
                        "{policy:?}, main {main}, {mix}: reason {:?}",
                        v.reason
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 5 * 6 * 6 - 1);
    }

    #[test]
    fn pending_payment_follows_its_own_setting_whatever_the_sub_jobs() {
        let cases = [
            (
                PendingPayment::Wait,
                Decision::Pending,
                "PENDING_PAYMENT: the order is not paid yet",
            ),
            (
                PendingPayment::Success,
                Decision::Succeeded,
                "PENDING_PAYMENT: order not paid yet, counted as success (pending_payment: success)",
            ),
            (
                PendingPayment::Fail,
                Decision::Failed,
                "PENDING_PAYMENT: the order is not paid (pending_payment: fail)",
            ),
        ];
        for (setting, decision, reason) in cases {
            for policy in [All, Any, SubJobPolicy::None, AtLeast(2), Ratio(0.5)] {
                for (mix, subs) in MIXES {
                    let c = Criteria {
                        sub_jobs: policy,
                        pending_payment: setting,
                        ..Criteria::default()
                    };
                    let v = judge(&c, &job_with("PENDING_PAYMENT", subs, None));
                    assert_eq!(v.decision, decision, "{setting:?} {policy:?} {mix}");
                    assert_eq!(v.reason, reason);
                    assert!(v.reason.contains("not paid"));
                }
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // judge: the headline cases and their reasons
    // -----------------------------------------------------------------------------------------

    #[test]
    fn all_fails_early_while_running_at_the_first_failed_sub_job() {
        let job = parse(json!({
            "status": "RUNNING", "job_id": "main",
            "entities": {"sub_jobs_total": 3, "sub_jobs": [
                {"status": "SUCCESS", "job_id": "s1"},
                {"status": "FAIL", "job_id": "s2", "error_code": "Ecs.0013",
                 "fail_reason": "Insufficient EIP quota",
                 "entities": {"errorcode_message": "Insufficient EIP quota"}},
                {"status": "RUNNING", "job_id": "s3"}]}
        }));
        let v = judged(All, &job);
        assert_eq!(v.decision, Decision::Failed);
        assert_eq!(
            v.reason,
            "RUNNING, 1/3 sub-jobs succeeded, no longer possible: Ecs.0013 Insufficient EIP quota (sub-job s2)"
        );
        // The same document is still pending for the lenient policies.
        for policy in [Any, SubJobPolicy::None, AtLeast(2), Ratio(0.5)] {
            assert_eq!(
                judged(policy, &job).decision,
                Decision::Pending,
                "{policy:?}"
            );
        }
    }

    #[test]
    fn at_least_8_of_10_with_9_succeeded_and_the_main_job_failed_succeeds() {
        let main = json!({"status": "FAIL", "job_id": "main",
                          "error_code": "Ecs.0013", "fail_reason": "Insufficient EIP quota"});
        let v = judged(AtLeast(8), &ok_then_failed(main, 9, 1));
        assert_eq!(v.decision, Decision::Succeeded);
        assert_eq!(
            v.reason,
            "FAIL, 9/10 sub-jobs succeeded (at_least 8): Ecs.0013 Insufficient EIP quota"
        );
        // Without the main job's own error, the first failed sub-job explains.
        let v = judged(AtLeast(8), &ok_then_failed(json!({"status": "FAIL"}), 9, 1));
        assert_eq!(
            v.reason,
            "FAIL, 9/10 sub-jobs succeeded (at_least 8): Ecs.0013 Insufficient EIP quota (sub-job s10)"
        );
        // One more failure and the threshold is missed.
        let v = judged(AtLeast(8), &ok_then_failed(json!({"status": "FAIL"}), 7, 3));
        assert_eq!(v.decision, Decision::Failed);
        assert_eq!(
            v.reason,
            "FAIL, 7/10 sub-jobs succeeded (at_least 8): Ecs.0013 Insufficient EIP quota (sub-job s8) and 2 more"
        );
    }

    #[test]
    fn at_least_fails_early_once_it_can_no_longer_be_met() {
        let running = |subs: &[&str]| job_with("RUNNING", subs, Some(10));
        // 10 announced, 2 failed: 8 can still succeed.
        let v = judged(
            AtLeast(8),
            &running(&["SUCCESS", "SUCCESS", "FAIL", "FAIL"]),
        );
        assert_eq!(v.decision, Decision::Pending);
        assert_eq!(v.reason, "RUNNING, 4/10 sub-jobs done");
        // A third failure: at most 7 can succeed.
        let v = judged(
            AtLeast(8),
            &running(&["SUCCESS", "SUCCESS", "FAIL", "FAIL", "FAIL"]),
        );
        assert_eq!(v.decision, Decision::Failed);
        assert_eq!(
            v.reason,
            "RUNNING, 2/10 sub-jobs succeeded (at_least 8), no longer possible: a sub-job failed (sub-job s3) and 2 more"
        );
        // More than there are sub-jobs can never be met.
        let v = judged(AtLeast(5), &job_with("INIT", &["RUNNING"; 3], Some(3)));
        assert_eq!(v.decision, Decision::Failed);
    }

    #[test]
    fn ratio_fails_early_and_succeeds_at_the_threshold() {
        let v = judged(
            Ratio(0.8),
            &job_with("RUNNING", &["FAIL", "FAIL", "FAIL"], Some(10)),
        );
        assert_eq!(v.decision, Decision::Failed);
        assert!(v
            .reason
            .starts_with("RUNNING, 0/10 sub-jobs succeeded (ratio 0.8), no longer possible"));
        let v = judged(
            Ratio(0.8),
            &ok_then_failed(json!({"status": "SUCCESS"}), 8, 2),
        );
        assert_eq!(v.decision, Decision::Succeeded);
        assert_eq!(
            v.reason,
            "SUCCESS, 8/10 sub-jobs succeeded (ratio 0.8): Ecs.0013 Insufficient EIP quota (sub-job s9) and 1 more"
        );
    }

    #[test]
    fn any_succeeds_with_one_sub_job_and_fails_when_all_failed() {
        let v = judged(Any, &job_with("FAIL", &["FAIL", "SUCCESS"], None));
        assert_eq!(v.decision, Decision::Succeeded);
        assert_eq!(
            v.reason,
            "FAIL, 1/2 sub-jobs succeeded (any): a sub-job failed (sub-job s1)"
        );
        let v = judged(Any, &job_with("RUNNING", &["FAIL", "FAIL"], None));
        assert_eq!(v.decision, Decision::Failed);
    }

    #[test]
    fn none_ignores_sub_jobs_but_still_explains_a_failure() {
        let v = judged(
            SubJobPolicy::None,
            &job_with("SUCCESS", &["FAIL", "FAIL"], None),
        );
        assert_eq!(v.decision, Decision::Succeeded);
        assert_eq!(
            v.reason,
            "SUCCESS: a sub-job failed (sub-job s1) and 1 more"
        );
        let v = judged(SubJobPolicy::None, &job_with("FAIL", &["SUCCESS"], None));
        assert_eq!(v.decision, Decision::Failed);
        assert_eq!(v.reason, "FAIL");
    }

    #[test]
    fn unlisted_sub_jobs_announced_by_sub_jobs_total_count_as_running() {
        let job = job_with("SUCCESS", &["SUCCESS", "SUCCESS"], Some(3));
        assert_eq!(
            SubJobCounts::of(&job),
            SubJobCounts {
                total: 3,
                succeeded: 2,
                failed: 0,
                running: 1
            }
        );
        let v = judged(All, &job);
        assert_eq!(v.decision, Decision::Pending);
        assert_eq!(
            v.reason,
            "SUCCESS, 2/3 sub-jobs succeeded, waiting for the remaining sub-jobs"
        );
        assert_eq!(judged(AtLeast(3), &job).decision, Decision::Pending);
        assert_eq!(judged(Ratio(1.0), &job).decision, Decision::Pending);
        assert_eq!(judged(Ratio(0.5), &job).decision, Decision::Succeeded);
        assert_eq!(
            judged(All, &job_with("RUNNING", &["SUCCESS"], Some(4))).reason,
            "RUNNING, 1/4 sub-jobs done"
        );
        // A total smaller than the list is ignored: the list is what is known.
        let job = job_with("SUCCESS", &["SUCCESS", "SUCCESS"], Some(1));
        assert_eq!(SubJobCounts::of(&job).total, 2);
        assert_eq!(judged(All, &job).decision, Decision::Succeeded);
    }

    /// An IMS batch job (OVA import) whose `entities.sub_jobs_result` lists one failed sub-job
    /// of two, as the IMS job API reports it.
    fn ims_job_with_a_failed_sub_jobs_result() -> Job {
        parse(json!({
            "job_id": "ims-main", "job_type": "imsImportOvaImageJob", "status": "SUCCESS",
            "begin_time": "2024-11-06T07:39:45.814Z", "end_time": "2024-11-06T07:49:45.814Z",
            "error_code": null, "fail_reason": null,
            "entities": {
                "sub_jobs_result": [
                    {"job_id": "ims-s1", "job_type": "imsImportImageJob", "status": "SUCCESS",
                     "error_code": null, "fail_reason": null,
                     "entities": {"image_name": "sys", "image_id": "img-1"}},
                    {"job_id": "ims-s2", "job_type": "imsImportDataImageJob", "status": "FAIL",
                     "error_code": "IMS.0010", "fail_reason": "the image file is damaged",
                     "entities": {"image_name": "data", "image_id": "img-2"}}],
                "sub_jobs_list": ["ims-s1", "ims-s2"]}
        }))
    }

    #[test]
    fn an_ims_job_with_a_failed_sub_jobs_result_fails_under_all_and_passes_at_least_one() {
        let job = ims_job_with_a_failed_sub_jobs_result();
        let v = judged(All, &job);
        assert_eq!(v.decision, Decision::Failed, "{}", v.reason);
        assert!(v.reason.contains("ims-s2"), "{}", v.reason);
        assert_eq!(judged(AtLeast(1), &job).decision, Decision::Succeeded);
        assert_eq!(judged(AtLeast(2), &job).decision, Decision::Failed);

        let agg = aggregate(&job);
        assert_eq!(
            agg.sub_jobs,
            SubJobCounts {
                total: 2,
                succeeded: 1,
                failed: 1,
                running: 0
            }
        );
        assert_eq!(ids(&agg), [("image_id", vec!["img-1"])]);
        assert_eq!(agg.failures.len(), 1);
        let failure = &agg.failures[0];
        assert_eq!(failure.job_id.as_deref(), Some("ims-s2"));
        assert_eq!(failure.error_code.as_deref(), Some("IMS.0010"));
        assert_eq!(
            failure.entities.0.get("image_id").unwrap(),
            &vec!["img-2".to_owned()]
        );
    }

    #[test]
    fn ims_results_members_are_judged_and_aggregated_as_sub_jobs() {
        let job = parse(json!({
            "job_id": "ims-members", "job_type": "imsAddImageMembersJob", "status": "SUCCESS",
            "entities": {"results": [
                {"image_id": "img-1", "project_id": "p1", "status": "success"},
                {"image_id": "img-2", "project_id": "p2", "status": "failed"},
                {"image_id": "img-3", "project_id": "p3", "status": "SUCCESS"}]}
        }));
        assert_eq!(judged(All, &job).decision, Decision::Failed);
        assert_eq!(judged(AtLeast(2), &job).decision, Decision::Succeeded);
        let agg = aggregate(&job);
        assert_eq!(ids(&agg), [("image_id", vec!["img-1", "img-3"])]);
        assert_eq!(agg.sub_jobs.failed, 1);
        assert_eq!(agg.failures.len(), 1);
    }

    #[test]
    fn an_eip_batch_job_with_empty_sub_jobs_succeeds_under_all() {
        let job = Job::from_slice(
            br#"{"job_id":"ff808082843684110184e155fdb36461","job_type":"createBatchPublicip",
                 "begin_time":"2022-12-05T08:10:19.951Z","end_time":"2022-12-05T08:10:21.864Z",
                 "status":"SUCCESS","error_code":null,"fail_reason":null,
                 "entities":{"sub_jobs":[]}}"#,
        )
        .unwrap();
        let v = judged(All, &job);
        assert_eq!(v.decision, Decision::Succeeded);
        assert_eq!(v.reason, "SUCCESS");
        for policy in [Any, SubJobPolicy::None, Ratio(0.8), AtLeast(0)] {
            assert_eq!(
                judged(policy, &job).decision,
                Decision::Succeeded,
                "{policy:?}"
            );
        }
    }

    #[test]
    fn unknown_statuses_are_pending_like_running() {
        let v = judged(All, &job_with("ROLLING_BACK", &[], None));
        assert_eq!(v.decision, Decision::Pending);
        assert_eq!(v.reason, "ROLLING_BACK");
        let v = judged(
            All,
            &job_with("ROLLING_BACK", &["SUCCESS", "RUNNING"], None),
        );
        assert_eq!(v.reason, "ROLLING_BACK, 1/2 sub-jobs done");
    }

    #[test]
    fn failure_words_drop_empty_and_repeated_texts() {
        assert_eq!(
            failure_words([
                Some("Ecs.0013"),
                Some(""),
                None,
                Some("quota"),
                Some("quota")
            ]),
            ["Ecs.0013", "quota"]
        );
        assert!(failure_words([None, Some("")]).is_empty());
    }

    #[test]
    fn ratio_threshold_is_exact_for_two_decimal_ratios() {
        // Every ratio a user writes with two decimals, against every split of up to 100
        // sub-jobs at the threshold: succeeded/total >= k/100 means succeeded*100 >= k*total.
        let sub = |status: &str| parse(json!({ "status": status }));
        let (ok_sub, failed_sub) = (sub("SUCCESS"), sub("FAIL"));
        let mut wrong = Vec::new();
        for k in 0..=100u64 {
            let r: f64 = format!("{}.{:02}", k / 100, k % 100).parse().unwrap();
            for total in 1..=100u64 {
                let least = (k * total).div_ceil(100);
                for ok in [least.saturating_sub(1), least] {
                    let mut job = sub("SUCCESS");
                    job.entities.sub_jobs = vec![ok_sub.clone(); ok as usize];
                    job.entities
                        .sub_jobs
                        .extend(vec![failed_sub.clone(); (total - ok) as usize]);
                    let got = judged(Ratio(r), &job).decision == Decision::Succeeded;
                    if got != (ok * 100 >= k * total) {
                        wrong.push(format!("ratio {r}: {ok}/{total} -> {got}"));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{} wrong: {wrong:?}", wrong.len());
        // The simplest of them: ratio 0.55 with 55 of 100 sub-jobs succeeded (0.55 * 100.0 is
        // 55.00000000000001 in f64).
        let job = ok_then_failed(json!({"status": "SUCCESS"}), 55, 45);
        let v = judged(Ratio(0.55), &job);
        assert_eq!(v.decision, Decision::Succeeded, "{}", v.reason);
    }

    #[test]
    fn at_least_without_sub_jobs_falls_back_to_the_main_status_like_any() {
        // on_terminal: "Without sub-jobs, the policies that count them fall back to the main
        // status" — `any` (= at_least 1) and `ratio` do; `at_least` fails a SUCCESS instead.
        let eip = job_with("SUCCESS", &[], None);
        assert_eq!(judged(Any, &eip).decision, Decision::Succeeded);
        assert_eq!(
            judged(AtLeast(1), &eip).decision,
            judged(Any, &eip).decision
        );
        assert_eq!(judged(AtLeast(2), &eip).decision, Decision::Succeeded);
    }

    // -----------------------------------------------------------------------------------------
    // aggregate
    // -----------------------------------------------------------------------------------------

    fn ids(agg: &Aggregate) -> Vec<(&str, Vec<&str>)> {
        agg.entities
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
            .collect()
    }

    #[test]
    fn aggregate_groups_ids_by_key_in_api_order_without_duplicates() {
        let job = parse(json!({
            "status": "SUCCESS", "job_id": "main", "job_type": "createServer",
            "entities": {"sub_jobs_total": 4, "sub_jobs": [
                {"status": "SUCCESS", "entities": {"server_id": "srv-1", "nic_id": "nic-1"}},
                {"status": "SUCCESS", "entities": {"nic_id": "nic-2", "server_id": "srv-2"}},
                {"status": "RUNNING", "entities": {"server_id": "srv-3"}},
                {"status": "SUCCESS", "entities": {"server_id": "srv-1", "volume_id": ""}}]}
        }));
        let agg = aggregate(&job);
        assert_eq!(
            ids(&agg),
            [
                ("server_id", vec!["srv-1", "srv-2"]),
                ("nic_id", vec!["nic-1", "nic-2"])
            ]
        );
        assert_eq!(
            agg.sub_jobs,
            SubJobCounts {
                total: 4,
                succeeded: 3,
                failed: 0,
                running: 1
            }
        );
        assert!(agg.failures.is_empty());
    }

    #[test]
    fn aggregate_includes_the_jobs_own_ids_unless_it_failed() {
        let evs = |status: &str| {
            parse(json!({"status": status, "job_id": "j",
                "entities": {"volume_id": "vol-1", "volume_type": "SSD", "size": 10, "name": "data"}}))
        };
        for status in ["SUCCESS", "RUNNING", "INIT"] {
            assert_eq!(
                ids(&aggregate(&evs(status))),
                [("volume_id", vec!["vol-1"])],
                "{status}"
            );
        }
        assert!(aggregate(&evs("FAIL")).entities.is_empty());
    }

    #[test]
    fn aggregate_lists_failed_sub_jobs_with_their_errors() {
        let job = parse(json!({
            "status": "FAIL", "job_id": "main", "error_code": "Ecs.0013",
            "entities": {"server_id": "never-made", "sub_jobs": [
                {"status": "SUCCESS", "job_id": "s1", "entities": {"server_id": "srv-1"}},
                {"status": "FAIL", "job_id": "s2", "job_type": "createSingleServer",
                 "error_code": "Ecs.0013", "fail_reason": "Insufficient EIP quota",
                 "entities": {"server_id": "srv-2", "errorcode_message": "EIP quota exceeded"}},
                {"status": "FAIL", "job_id": "s3"}]}
        }));
        let agg = aggregate(&job);
        // The failed main job's own id is left out; its successful sub-job's is kept.
        assert_eq!(ids(&agg), [("server_id", vec!["srv-1"])]);
        let srv2 = EntityIds([("server_id".to_owned(), vec!["srv-2".to_owned()])].into());
        assert_eq!(
            agg.failures,
            [
                Failure {
                    job_id: Some("s2".into()),
                    job_type: Some("createSingleServer".into()),
                    error_code: Some("Ecs.0013".into()),
                    fail_reason: Some("Insufficient EIP quota".into()),
                    errorcode_message: Some("EIP quota exceeded".into()),
                    entities: srv2,
                },
                Failure {
                    job_id: Some("s3".into()),
                    job_type: None,
                    error_code: None,
                    fail_reason: None,
                    errorcode_message: None,
                    entities: EntityIds::default(),
                },
            ]
        );
    }

    #[test]
    fn aggregate_recurses_into_nested_eip_sub_jobs() {
        let job = parse(json!({
            "status": "SUCCESS", "job_id": "a", "job_type": "createBatchPublicip",
            "entities": {"sub_jobs": [
                {"status": "SUCCESS", "job_id": "b", "entities": {"bandwidth_id": "bw-1", "sub_jobs": [
                    {"status": "SUCCESS", "job_id": "c", "entities": {"publicip_id": "p1"}},
                    {"status": "FAIL", "job_id": "d", "error_code": "VPC.0501",
                     "entities": {"publicip_id": "p2"}}]}},
                {"status": "FAIL", "job_id": "e", "entities": {"sub_jobs": [
                    {"status": "SUCCESS", "job_id": "f", "entities": {"publicip_id": "p3"}},
                    {"status": "SUCCESS", "job_id": "g", "entities": {"publicip_id": "p1"}}]}}]}
        }));
        let agg = aggregate(&job);
        assert_eq!(
            ids(&agg),
            [
                ("bandwidth_id", vec!["bw-1"]),
                ("publicip_id", vec!["p1", "p3"])
            ]
        );
        let failed: Vec<_> = agg.failures.iter().map(|f| f.job_id.as_deref()).collect();
        assert_eq!(failed, [Some("d"), Some("e")]);
        assert_eq!(agg.failures[0].error_code.as_deref(), Some("VPC.0501"));
        assert_eq!(
            agg.failures[0].entities.0["publicip_id"],
            vec!["p2".to_owned()]
        );
        // Counts are of the direct sub-jobs.
        assert_eq!(
            agg.sub_jobs,
            SubJobCounts {
                total: 2,
                succeeded: 1,
                failed: 1,
                running: 0
            }
        );
    }

    #[test]
    fn aggregate_lists_failed_sub_jobs_at_any_depth_under_running_ones() {
        // The doc: "lists every failed sub-job at any depth". A timed-out EIP batch job's last
        // document can hold a running sub-job whose own sub-jobs already failed.
        let job = parse(json!({
            "status": "RUNNING", "job_id": "a",
            "entities": {"sub_jobs": [
                {"status": "RUNNING", "job_id": "b", "entities": {"sub_jobs": [
                    {"status": "FAIL", "job_id": "c", "error_code": "VPC.0501"}]}}]}
        }));
        let failed: Vec<_> = aggregate(&job)
            .failures
            .iter()
            .map(|f| f.job_id.clone())
            .collect();
        assert_eq!(failed, [Some("c".to_owned())]);
    }

    // -----------------------------------------------------------------------------------------
    // Properties
    // -----------------------------------------------------------------------------------------

    const NON_TERMINAL: [&str; 3] = ["INIT", "RUNNING", "ROLLING_BACK"];

    fn sub_status() -> impl Strategy<Value = &'static str> {
        select(vec!["INIT", "RUNNING", "SUCCESS", "FAIL", "ROLLING_BACK"])
    }

    fn main_status() -> impl Strategy<Value = &'static str> {
        select(vec![
            "INIT",
            "RUNNING",
            "SUCCESS",
            "FAIL",
            "PENDING_PAYMENT",
            "ROLLING_BACK",
        ])
    }

    fn policy() -> impl Strategy<Value = SubJobPolicy> {
        prop_oneof![
            Just(All),
            Just(Any),
            Just(SubJobPolicy::None),
            (0u32..12).prop_map(AtLeast),
            (0u32..=100).prop_map(|k| Ratio(f64::from(k) / 100.0)),
        ]
    }

    fn pending_payment() -> impl Strategy<Value = PendingPayment> {
        select(vec![
            PendingPayment::Wait,
            PendingPayment::Success,
            PendingPayment::Fail,
        ])
    }

    /// Moves a non-terminal status forward by `step`: 0 stays, 1 succeeds, 2 fails.
    fn progress(status: &'static str, step: u8) -> &'static str {
        match (NON_TERMINAL.contains(&status), step) {
            (true, 1) => "SUCCESS",
            (true, 2) => "FAIL",
            _ => status,
        }
    }

    proptest! {
        /// Once final, a verdict stays final (and the same) while the main job and its sub-jobs
        /// only progress: non-terminal to SUCCESS/FAIL, and announced sub-jobs being listed.
        #[test]
        fn a_final_verdict_never_returns_to_pending_as_jobs_progress(
            policy in policy(),
            pending_payment in pending_payment(),
            main in main_status(),
            subs in prop::collection::vec(sub_status(), 0..10),
            announce in any::<bool>(),
            unlisted in 0usize..4,
            main_step in 0u8..3,
            steps in prop::collection::vec(0u8..3, 10),
            appended in prop::collection::vec(sub_status(), 0..4),
        ) {
            let criteria = Criteria { sub_jobs: policy, pending_payment, ..Criteria::default() };
            // Without sub_jobs_total nothing is unlisted, so nothing may be appended.
            let (total, appended) = match announce {
                true => (Some((subs.len() + unlisted) as u64), &appended[..appended.len().min(unlisted)]),
                false => (None, &appended[..0]),
            };
            let before = judge(&criteria, &job_with(main, &subs, total));
            let mut later: Vec<&str> = subs.iter().zip(&steps).map(|(s, n)| progress(s, *n)).collect();
            later.extend(appended);
            let after = judge(&criteria, &job_with(progress(main, main_step), &later, total));
            if before.decision != Decision::Pending {
                prop_assert_ne!(after.decision, Decision::Pending,
                    "{:?} became pending: {:?} -> {:?}", policy, before.reason, after.reason);
                prop_assert_eq!(after.decision, before.decision,
                    "{:?} changed: {:?} -> {:?}", policy, before.reason, after.reason);
            }
        }

        /// at_least / ratio on a finished main job with every sub-job finished: succeeded
        /// exactly when the counts meet the threshold. Ratios are multiples of 1/64, which
        /// floating point holds exactly (two-decimal ratios: see the ignored test above).
        #[test]
        fn at_least_and_ratio_succeed_iff_the_threshold_is_met(
            main in select(vec!["SUCCESS", "FAIL"]),
            ok in 0usize..30,
            failed in 0usize..30,
            announce in any::<bool>(),
            at_least in prop::option::of(0u32..40),
            ratio_64ths in 0u32..=64,
        ) {
            prop_assume!(ok + failed > 0);
            let total = ok + failed;
            let mut subs = vec!["SUCCESS"; ok];
            subs.extend(vec!["FAIL"; failed]);
            let job = job_with(main, &subs, announce.then_some(total as u64));
            let (policy, met) = match at_least {
                Some(n) => (AtLeast(n), ok as u64 >= u64::from(n)),
                None => (
                    Ratio(f64::from(ratio_64ths) / 64.0),
                    ok as u64 * 64 >= u64::from(ratio_64ths) * total as u64,
                ),
            };
            let want = if met { Decision::Succeeded } else { Decision::Failed };
            let v = judged(policy, &job);
            prop_assert_eq!(v.decision, want, "{:?} {}/{}: {}", policy, ok, total, v.reason);
        }

        /// aggregate keeps every distinct `*_id` of the job (unless it failed) and of its
        /// successful sub-jobs, in API order, once each; failed sub-jobs go to `failures`.
        #[test]
        fn aggregate_neither_drops_nor_duplicates_an_id(
            main in main_status(),
            own in prop::collection::vec((0usize..3, 0usize..5), 0..3),
            subs in prop::collection::vec(
                (sub_status(), prop::collection::vec((0usize..3, 0usize..5), 0..4)),
                0..8,
            ),
        ) {
            const KEYS: [&str; 3] = ["server_id", "nic_id", "volume_id"];
            const IDS: [&str; 5] = ["a", "b", "c", "d", ""];
            // One entities object: first value per key wins, plus fields that are not ids.
            let entities = |fields: &[(usize, usize)]| {
                let mut map = Map::new();
                map.insert("size".into(), json!(10));
                for (k, i) in fields {
                    map.entry(KEYS[*k]).or_insert(json!(IDS[*i]));
                }
                map.insert("name".into(), json!("x"));
                map
            };
            let mut expected: Vec<(String, Vec<String>)> = Vec::new();
            let mut expect = |map: &Map<String, Value>| {
                for (key, id) in map.iter().filter(|(k, _)| k.ends_with("_id")) {
                    let id = id.as_str().unwrap();
                    if id.is_empty() {
                        continue;
                    }
                    let pos = expected.iter().position(|(k, _)| k == key).unwrap_or_else(|| {
                        expected.push((key.clone(), Vec::new()));
                        expected.len() - 1
                    });
                    if !expected[pos].1.iter().any(|x| x == id) {
                        expected[pos].1.push(id.to_owned());
                    }
                }
            };
            let mut main_entities = entities(&own);
            if main != "FAIL" {
                expect(&main_entities);
            }
            let mut sub_docs = Vec::new();
            let mut failed_ids = Vec::new();
            for (i, (status, fields)) in subs.iter().enumerate() {
                let e = entities(fields);
                match *status {
                    "SUCCESS" => expect(&e),
                    "FAIL" => failed_ids.push(Some(format!("s{i}"))),
                    _ => {}
                }
                sub_docs.push(json!({"status": status, "job_id": format!("s{i}"), "entities": e}));
            }
            main_entities.insert("sub_jobs".into(), json!(sub_docs));
            let job = parse(json!({"status": main, "job_id": "main", "entities": main_entities}));

            let agg = aggregate(&job);

            let got: Vec<(String, Vec<String>)> =
                agg.entities.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            prop_assert_eq!(got, expected);
            let got_failed: Vec<Option<String>> = agg.failures.iter().map(|f| f.job_id.clone()).collect();
            prop_assert_eq!(got_failed, failed_ids);
        }
    }

    /// Regression: ids were de-duplicated by scanning a list, so 50,000 sub-jobs took 8 s and
    /// 200,000 minutes, with the single-threaded runtime blocked (a SIGTERM went unheard). The
    /// bound is generous on purpose: the old quadratic code needs minutes here, linear code well
    /// under a second even unoptimised.
    #[test]
    fn aggregation_is_linear_in_the_sub_jobs() {
        let n = 100_000;
        let subs: Vec<Value> = (0..n)
            .map(|i| {
                json!({"status": if i % 10 == 0 { "FAIL" } else { "SUCCESS" },
                       "job_id": format!("s{i}"),
                       "entities": {"server_id": format!("srv-{i}"), "nic_id": format!("nic-{}", i % 7)}})
            })
            .collect();
        let job = parse(json!({"status": "FAIL", "entities": {"sub_jobs": subs}}));
        let started = std::time::Instant::now();
        let agg = aggregate(&job);
        let took = started.elapsed();
        assert_eq!(agg.entities.0["server_id"].len(), n * 9 / 10);
        assert_eq!(agg.entities.0["nic_id"].len(), 7, "duplicates collapse");
        assert_eq!(agg.failures.len(), n / 10);
        assert_eq!(agg.entities.0["server_id"][0], "srv-1", "API order is kept");
        assert!(took < Duration::from_secs(30), "aggregation took {took:?}");
    }
}
