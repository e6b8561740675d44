//! Engine tests with a scripted job source and paused time.
//!
//! Every test runs on a paused `tokio` clock: sleeps, backoff, deadlines and the pacer advance
//! virtual time only, so hours of waiting take no real time and instants compare exactly.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::cloud::endpoint::Service;
use crate::cloud::wire::ApiErrorBody;
use crate::report::JobReport;
use crate::spec::raw::{FailOn, PollSchedule, SubJobPolicy};
use crate::spec::{OutputFormat, PollPolicy};
use crate::verdict::Criteria;

/// How long a job waited, as its report entry says (to the millisecond).
trait Waited {
    fn waited(&self) -> Duration;
}

impl Waited for JobReport {
    fn waited(&self) -> Duration {
        Duration::from_secs_f64(self.waited_seconds)
    }
}
use tokio::time::Instant;

type Response = Result<Job, FetchError>;

// ---------------------------------------------------------------------------------------------
// The scripted source
// ---------------------------------------------------------------------------------------------

/// One job's script: responses consumed one per fetch (the last one repeated), how long each
/// fetch takes, and what the engine asked.
#[derive(Default)]
struct Script {
    responses: Vec<Response>,
    /// Latency of each fetch, the last one repeated; none means instant.
    latencies: Vec<Duration>,
    next: usize,
    fetches: Vec<Instant>,
    timeouts: Vec<Duration>,
}

#[derive(Default)]
struct Inner {
    scripts: Mutex<HashMap<String, Script>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    /// (start, end) of every fetch that completed.
    spans: Mutex<Vec<(Instant, Instant)>>,
}

/// A [`JobSource`] that plays scripts, shared with the test through an `Arc`.
#[derive(Clone, Default)]
struct FakeSource(Arc<Inner>);

impl FakeSource {
    fn new() -> FakeSource {
        FakeSource::default()
    }

    fn script(self, id: &str, responses: Vec<Response>) -> FakeSource {
        assert!(!responses.is_empty(), "a script needs a response");
        self.0
            .scripts
            .lock()
            .unwrap()
            .entry(id.to_owned())
            .or_default()
            .responses = responses;
        self
    }

    fn latencies(self, id: &str, latencies: Vec<Duration>) -> FakeSource {
        self.0
            .scripts
            .lock()
            .unwrap()
            .entry(id.to_owned())
            .or_default()
            .latencies = latencies;
        self
    }

    /// Every job's fetches take `latency`.
    fn latency_for_all(self, latency: Duration) -> FakeSource {
        for script in self.0.scripts.lock().unwrap().values_mut() {
            script.latencies = vec![latency];
        }
        self
    }

    fn fetches(&self, id: &str) -> Vec<Instant> {
        self.0.scripts.lock().unwrap()[id].fetches.clone()
    }

    fn timeouts(&self, id: &str) -> Vec<Duration> {
        self.0.scripts.lock().unwrap()[id].timeouts.clone()
    }

    fn all_fetches(&self) -> Vec<Instant> {
        let mut all: Vec<Instant> = self
            .0
            .scripts
            .lock()
            .unwrap()
            .values()
            .flat_map(|s| s.fetches.iter().copied())
            .collect();
        all.sort();
        all
    }

    fn fetch_count(&self) -> usize {
        self.all_fetches().len()
    }

    fn max_in_flight(&self) -> usize {
        self.0.max_in_flight.load(Ordering::SeqCst)
    }

    fn spans(&self) -> Vec<(Instant, Instant)> {
        let mut spans = self.0.spans.lock().unwrap().clone();
        spans.sort();
        spans
    }
}

/// Decrements the in-flight count even when the engine drops a fetch half-way.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl JobSource for FakeSource {
    fn fetch(
        &self,
        job: &PlannedJob,
        timeout: Duration,
    ) -> impl Future<Output = Result<Job, FetchError>> + Send {
        let inner = self.0.clone();
        let id = job.id.clone();
        async move {
            let start = Instant::now();
            let (latency, response) = {
                let mut scripts = inner.scripts.lock().unwrap();
                let script = scripts
                    .get_mut(&id)
                    .unwrap_or_else(|| panic!("no script for job {id}"));
                script.fetches.push(start);
                script.timeouts.push(timeout);
                let i = script.next.min(script.responses.len() - 1);
                let latency = match script.latencies.as_slice() {
                    [] => Duration::ZERO,
                    l => l[script.next.min(l.len() - 1)],
                };
                script.next += 1;
                (latency, script.responses[i].clone())
            };
            let now_in = inner.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            inner.max_in_flight.fetch_max(now_in, Ordering::SeqCst);
            let _in_flight = InFlight(&inner.in_flight);
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            inner.spans.lock().unwrap().push((start, Instant::now()));
            response
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Documents, errors, plans
// ---------------------------------------------------------------------------------------------

/// A job document with this status and id, and no sub-jobs.
fn st(id: &str, status: &str) -> Response {
    Ok(Job::from_slice(format!(r#"{{"status":"{status}","job_id":"{id}"}}"#).as_bytes()).unwrap())
}

fn running(id: &str, n: usize) -> Vec<Response> {
    (0..n).map(|_| st(id, "RUNNING")).collect()
}

/// `n` RUNNING documents, then one with status `last`.
fn running_then(id: &str, n: usize, last: &str) -> Vec<Response> {
    let mut out = running(id, n);
    out.push(st(id, last));
    out
}

fn http(status: u16, body: &str) -> Response {
    Err(FetchError::Http {
        status,
        error: ApiErrorBody::parse(body.as_bytes()),
        retry_after: None,
    })
}

fn not_found() -> Response {
    http(
        400,
        r#"{"error":{"code":"Common.0011","message":"The job does not exist"}}"#,
    )
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

fn job_on(host: &str, id: &str) -> PlannedJob {
    PlannedJob {
        id: id.to_owned(),
        service: Service::Ecs.into(),
        name: None,
        base: Arc::new(url::Url::parse(&format!("http://{host}")).unwrap()),
        timeout: None,
        criteria: Criteria::default(),
    }
}

fn job(id: &str) -> PlannedJob {
    job_on("sim.test", id)
}

fn plan(jobs: Vec<PlannedJob>) -> Plan {
    Plan {
        jobs,
        timeout: secs(600),
        poll: PollPolicy {
            interval: secs(1),
            max_interval: secs(10),
            schedule: crate::spec::raw::PollSchedule::Adaptive,
        },
        duration_cache: None,
        // High enough that the pacer never shapes a test that is not about it.
        rate_limit: 1000.0,
        max_in_flight: 64,
        fail_fast: false,
        fail_on: FailOn::Any,
        max_consecutive_errors: None,
        unreachable_after: crate::spec::plan::DEFAULT_UNREACHABLE_AFTER,
        max_response_size: 4 << 20,
        request_timeout: secs(30),
        log_format: crate::spec::raw::LogFormat::Text,
        progress_interval: secs(30),
        shard: None,
        output: OutputFormat::Json,
        report_path: None,
        quiet: true,
        verbose: 0,
        project: crate::spec::plan::Project::Id("p".to_owned()),
        iam: None,
        credentials: None,
        credentials_from_env: true,
        warnings: Vec::new(),
    }
}

async fn run(plan: &Plan, source: &FakeSource) -> Vec<JobReport> {
    let (_signals, interrupts) = watch::channel(None);
    wait_all(plan, source.clone(), interrupts, None)
        .await
        .results
}

fn outcomes(results: &[JobReport]) -> Vec<Outcome> {
    results.iter().map(|r| r.outcome).collect()
}

fn gaps(times: &[Instant]) -> Vec<Duration> {
    times.windows(2).map(|w| w[1] - w[0]).collect()
}

/// The most fetches that fall in any half-open one-second window.
fn busiest_second(times: &[Instant]) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort();
    (0..sorted.len())
        .map(|i| {
            sorted[i..]
                .iter()
                .take_while(|t| **t < sorted[i] + secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Results and outcomes
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn one_result_per_job_in_plan_order_for_a_mix_of_outcomes() {
    let mut forever = job("forever");
    forever.timeout = Some(secs(30));
    // The first job finishes last, the last one first: the order is the plan's, not finishing.
    let plan = plan(vec![
        job("slow"),
        job("fails"),
        job("forbidden"),
        forever,
        job("quick"),
    ]);
    let source = FakeSource::new()
        .script("slow", running_then("slow", 5, "SUCCESS"))
        .script("fails", vec![st("fails", "FAIL")])
        .script("forbidden", vec![http(403, "")])
        .script("forever", running("forever", 1))
        .script("quick", vec![st("quick", "SUCCESS")]);

    let results = run(&plan, &source).await;

    assert_eq!(
        outcomes(&results),
        [
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::Errored,
            Outcome::TimedOut,
            Outcome::Succeeded
        ]
    );
    // The status of each job's last document (none for the job the API never answered).
    let last_status: Vec<Option<&str>> = results.iter().map(|r| r.status.as_deref()).collect();
    assert_eq!(
        last_status,
        [
            Some("SUCCESS"),
            Some("FAIL"),
            None,
            Some("RUNNING"),
            Some("SUCCESS")
        ]
    );
    assert_eq!(results[0].polls, 6);
    assert_eq!(results[1].polls, 1);
    assert_eq!(results[2].polls, 1);
    assert_eq!(results[4].polls, 1);
    assert!(
        results[0].waited() > results[4].waited(),
        "the first job of the plan finished after the last one"
    );
}

#[tokio::test(start_paused = true)]
async fn running_then_success_polls_on_the_backoff_schedule() {
    let mut plan = plan(vec![job("a")]);
    plan.poll = PollPolicy {
        interval: secs(2),
        max_interval: secs(5),
        schedule: crate::spec::raw::PollSchedule::Backoff,
    };
    let source = FakeSource::new().script("a", running_then("a", 6, "SUCCESS"));
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    let r = &results[0];
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert_eq!(r.reason, "SUCCESS");
    assert_eq!(r.polls, 7);
    let fetches = source.fetches("a");
    assert_eq!(fetches.len(), 7, "polls counts fetches");
    assert_eq!(fetches[0], t0, "the first poll is immediate");
    assert_eq!(r.waited(), fetches[6] - t0, "finished at the last fetch");
    // Un-jittered delays: 2 s, ×1.5 each time, capped at 5 s; jitter takes off up to 20 %.
    let schedule = [2000, 3000, 4500, 5000, 5000, 5000].map(millis);
    for (i, (gap, base)) in gaps(&fetches).into_iter().zip(schedule).enumerate() {
        assert!(
            gap >= base.mul_f64(0.8) && gap <= base,
            "gap {i} is {gap:?}, expected within 80..100 % of {base:?}"
        );
        assert!(gap >= plan.poll.interval.mul_f64(0.8));
        assert!(gap <= plan.poll.max_interval);
    }
}

#[tokio::test(start_paused = true)]
async fn fail_status_is_failed_with_the_api_reason() {
    let plan = plan(vec![job("a")]);
    let failed = Ok(Job::from_slice(
        br#"{"status":"FAIL","job_id":"a","error_code":"Ecs.0013","fail_reason":"Insufficient EIP quota"}"#,
    )
    .unwrap());
    let source = FakeSource::new().script("a", vec![st("a", "RUNNING"), failed]);

    let results = run(&plan, &source).await;

    assert_eq!(results[0].outcome, Outcome::Failed);
    assert_eq!(results[0].reason, "FAIL: Ecs.0013 Insufficient EIP quota");
    assert_eq!(results[0].polls, 2);
}

#[tokio::test(start_paused = true)]
async fn overall_timeout_ends_a_running_job_exactly_at_the_deadline() {
    let mut plan = plan(vec![job("a")]);
    plan.timeout = secs(60);
    let source = FakeSource::new().script("a", running("a", 1));
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    let r = &results[0];
    assert_eq!(r.outcome, Outcome::TimedOut);
    assert_eq!(r.waited(), secs(60));
    assert_eq!(
        Instant::now(),
        t0 + secs(60),
        "no time passes after the deadline"
    );
    assert!(r.reason.starts_with("timed out"), "{}", r.reason);
    assert_eq!(r.reason, "timed out after 1m: still RUNNING");
    assert_eq!(r.polls as usize, source.fetches("a").len());
    assert!(source.fetches("a").iter().all(|t| *t < t0 + secs(60)));
}

#[tokio::test(start_paused = true)]
async fn a_shorter_per_job_timeout_is_honoured_while_the_others_go_on() {
    let mut short = job("short");
    short.timeout = Some(secs(20));
    let mut plan = plan(vec![short, job("long")]);
    plan.timeout = secs(120);
    plan.poll = PollPolicy {
        interval: secs(5),
        max_interval: secs(30),
        schedule: crate::spec::raw::PollSchedule::Backoff,
    };
    // Fetches of `long` at about 0, 5, 12, 23, 40 s: it succeeds well after `short` gave up.
    let source = FakeSource::new()
        .script("short", running("short", 1))
        .script("long", running_then("long", 4, "SUCCESS"));
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    assert_eq!(results[0].outcome, Outcome::TimedOut);
    assert_eq!(results[0].waited(), secs(20));
    assert_eq!(results[0].reason, "timed out after 20s: still RUNNING");
    assert!(source.fetches("short").iter().all(|t| *t < t0 + secs(20)));
    assert_eq!(results[1].outcome, Outcome::Succeeded);
    assert!(results[1].waited() > secs(20), "{:?}", results[1].waited());
    assert_eq!(results[1].polls, 5);
}

#[tokio::test(start_paused = true)]
async fn a_per_job_timeout_longer_than_the_overall_one_is_capped() {
    let mut long = job("a");
    long.timeout = Some(secs(600));
    let mut plan = plan(vec![long]);
    plan.timeout = secs(30);
    let source = FakeSource::new().script("a", running("a", 1));

    let results = run(&plan, &source).await;

    assert_eq!(results[0].outcome, Outcome::TimedOut);
    assert_eq!(results[0].waited(), secs(30));
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn retryable_errors_are_retried_until_the_job_succeeds() {
    let plan = plan(vec![job("a")]);
    let source = FakeSource::new().script(
        "a",
        vec![
            http(500, ""),
            http(
                429,
                r#"{"error_code":"APIGW.0308","error_msg":"The throttling threshold has been reached"}"#,
            ),
            Err(FetchError::Transport("connection reset by peer".into())),
            Err(FetchError::Garbled {
                status: 200,
                message: "not JSON: EOF while parsing".into(),
            }),
            st("a", "RUNNING"),
            st("a", "SUCCESS"),
        ],
    );

    let results = run(&plan, &source).await;

    assert_eq!(results[0].outcome, Outcome::Succeeded);
    assert_eq!(results[0].reason, "SUCCESS");
    assert_eq!(results[0].polls, 6);
    assert_eq!(source.fetches("a").len(), 6);
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_429_delays_the_next_fetch() {
    let plan = plan(vec![job("a")]);
    let throttled = Err(FetchError::Http {
        status: 429,
        error: ApiErrorBody::parse(br#"{"error_code":"APIGW.0308","error_msg":"throttled"}"#),
        retry_after: Some(secs(10)),
    });
    let source = FakeSource::new().script("a", vec![throttled, st("a", "SUCCESS")]);

    let results = run(&plan, &source).await;

    assert_eq!(results[0].outcome, Outcome::Succeeded);
    let fetches = source.fetches("a");
    assert_eq!(fetches.len(), 2);
    // The backoff alone would wait at most 1 s; Retry-After wins.
    assert!(fetches[1] - fetches[0] >= secs(10));
    assert_eq!(fetches[1] - fetches[0], secs(10));
}

#[tokio::test(start_paused = true)]
async fn fatal_errors_end_the_job_after_one_fetch_and_spare_the_others() {
    // (A 401 is not among them: rejected credentials stop every job, tested on its own.)
    let plan = plan(vec![job("bad"), job("forbidden"), job("fine")]);
    let source = FakeSource::new()
        .script(
            "bad",
            vec![http(
                400,
                r#"{"error_code":"Ecs.0005","error_msg":"Invalid request","request_id":"r1"}"#,
            )],
        )
        .script(
            "forbidden",
            vec![http(
                403,
                r#"{"error":{"code":"Ecs.0003","message":"Forbidden"}}"#,
            )],
        )
        .script("fine", running_then("fine", 2, "SUCCESS"));
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    assert_eq!(
        outcomes(&results),
        [Outcome::Errored, Outcome::Errored, Outcome::Succeeded]
    );
    assert_eq!(
        results[0].reason,
        "HTTP 400: Ecs.0005: Invalid request (request_id r1)"
    );
    assert_eq!(results[1].reason, "HTTP 403: Ecs.0003: Forbidden");
    for (i, id) in ["bad", "forbidden"].into_iter().enumerate() {
        assert_eq!(source.fetches(id).len(), 1, "{id} was retried");
        assert_eq!(results[i].polls, 1);
        assert_eq!(
            results[i].waited(),
            source.fetches(id)[0] - t0,
            "{id} ended at its first fetch"
        );
        assert!(results[i].status.is_none());
    }
    assert_eq!(results[2].polls, 3);
}

#[tokio::test(start_paused = true)]
async fn not_found_within_the_grace_is_pending_until_the_job_appears() {
    let mut plan = plan(vec![job("a")]);
    plan.poll = PollPolicy {
        interval: secs(5),
        max_interval: secs(60),
        schedule: crate::spec::raw::PollSchedule::Backoff,
    };
    // Default grace: 30 s; the fetches come at about 0, 5, 12.5 and 23.75 s.
    assert_eq!(plan.jobs[0].criteria.not_found_grace, secs(30));
    let source = FakeSource::new().script(
        "a",
        vec![
            not_found(),
            not_found(),
            st("a", "RUNNING"),
            st("a", "SUCCESS"),
        ],
    );
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    assert_eq!(results[0].outcome, Outcome::Succeeded);
    assert_eq!(results[0].polls, 4);
    let fetches = source.fetches("a");
    assert!(
        fetches[1] < t0 + secs(30),
        "the second not-found was in the grace"
    );
}

#[tokio::test(start_paused = true)]
async fn not_found_after_the_grace_is_errored_mentioning_deletion() {
    let mut j = job("a");
    j.criteria.not_found_grace = secs(10);
    let mut plan = plan(vec![j]);
    plan.poll = PollPolicy {
        interval: secs(2),
        max_interval: secs(4),
        schedule: crate::spec::raw::PollSchedule::Backoff,
    };
    let source = FakeSource::new().script("a", vec![not_found()]);
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    let r = &results[0];
    assert_eq!(r.outcome, Outcome::Errored);
    assert!(
        r.reason.contains("deletes finished job records"),
        "{}",
        r.reason
    );
    assert!(r.reason.contains("after 10s"), "{}", r.reason);
    assert!(r.reason.contains("Common.0011"), "{}", r.reason);
    let fetches = source.fetches("a");
    let last = *fetches.last().unwrap();
    assert!(
        last >= t0 + secs(10),
        "ended at the first fetch after the grace"
    );
    assert!(fetches[fetches.len() - 2] < t0 + secs(10));
    assert!(
        r.waited() >= secs(10) && r.waited() <= secs(14),
        "{:?}",
        r.waited()
    );
}

#[tokio::test(start_paused = true)]
async fn only_errors_until_the_deadline_is_errored_not_timed_out() {
    let mut plan = plan(vec![job("e503"), job("transport"), job("never_found")]);
    plan.timeout = secs(20);
    let source = FakeSource::new()
        .script("e503", vec![http(503, "")])
        .script(
            "transport",
            vec![Err(FetchError::Transport("connection refused".into()))],
        )
        // The default 30 s grace outlasts the 20 s deadline.
        .script("never_found", vec![not_found()]);

    let results = run(&plan, &source).await;

    assert_eq!(outcomes(&results), [Outcome::Errored; 3]);
    assert_eq!(
        results[0].reason,
        "no verdict after 20s: last poll failed: HTTP 503"
    );
    assert_eq!(
        results[1].reason,
        "no verdict after 20s: last poll failed: network error: connection refused"
    );
    assert!(results[2].reason.starts_with("no verdict after 20s"));
    for r in &results {
        assert_eq!(r.waited(), secs(20));
        assert!(r.polls > 1, "errors were retried");
    }
}

#[tokio::test(start_paused = true)]
async fn errors_after_a_job_document_end_timed_out_with_the_last_error() {
    let mut plan = plan(vec![job("a")]);
    plan.timeout = secs(20);
    let source = FakeSource::new().script("a", vec![st("a", "RUNNING"), http(502, "")]);

    let results = run(&plan, &source).await;

    assert_eq!(results[0].outcome, Outcome::TimedOut);
    assert_eq!(
        results[0].reason,
        "timed out after 20s: last poll failed: HTTP 502"
    );
    assert_eq!(results[0].status.as_deref(), Some("RUNNING"));
}

#[tokio::test(start_paused = true)]
async fn the_request_timeout_is_bounded_by_the_time_left() {
    let mut near = job("near");
    near.timeout = Some(secs(10));
    let mut plan = plan(vec![near, job("far")]);
    plan.poll = PollPolicy {
        interval: secs(3),
        max_interval: secs(3),
        schedule: crate::spec::raw::PollSchedule::Backoff,
    };
    let source = FakeSource::new()
        .script("near", running("near", 1))
        .script("far", running_then("far", 1, "SUCCESS"));
    let t0 = Instant::now();

    run(&plan, &source).await;

    let fetches = source.fetches("near");
    let timeouts = source.timeouts("near");
    assert_eq!(timeouts[0], secs(10));
    for (at, timeout) in fetches.iter().zip(&timeouts) {
        assert_eq!(*timeout, t0 + secs(10) - *at);
    }
    assert_eq!(source.timeouts("far"), [plan.request_timeout; 2]);
}

// ---------------------------------------------------------------------------------------------
// Fail-fast and stops
// ---------------------------------------------------------------------------------------------

fn fail_fast_plan(fail_fast: bool) -> (Plan, FakeSource) {
    let mut bad = job("bad");
    bad.name = Some("web".to_owned());
    let mut p2 = job("p2");
    p2.timeout = Some(secs(60));
    let mut plan = plan(vec![job("done"), bad, job("p1"), p2]);
    plan.fail_fast = fail_fast;
    plan.poll = PollPolicy {
        interval: secs(2),
        max_interval: secs(10),
        schedule: crate::spec::raw::PollSchedule::Backoff,
    };
    let source = FakeSource::new()
        .script("done", vec![st("done", "SUCCESS")])
        .script("bad", running_then("bad", 2, "FAIL"))
        .script("p1", running_then("p1", 6, "SUCCESS"))
        .script("p2", running("p2", 1));
    (plan, source)
}

#[tokio::test(start_paused = true)]
async fn fail_fast_cancels_the_pending_jobs_naming_the_failed_one() {
    let (plan, source) = fail_fast_plan(true);
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    assert_eq!(
        outcomes(&results),
        [
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::Cancelled,
            Outcome::Cancelled
        ]
    );
    let failed_at = results[1].waited();
    for r in &results[2..] {
        assert_eq!(r.reason, "cancelled: fail_fast after web (ecs:bad) failed");
        assert_eq!(r.waited(), failed_at, "cancelled as soon as `bad` failed");
    }
    for id in ["p1", "p2"] {
        assert!(
            source.fetches(id).iter().all(|t| *t <= t0 + failed_at),
            "{id} was polled after the fail-fast stop"
        );
    }
    assert!(results[2].polls < 7, "p1 did not run to its end");
}

#[tokio::test(start_paused = true)]
async fn without_fail_fast_the_other_jobs_go_on() {
    let (plan, source) = fail_fast_plan(false);

    let results = run(&plan, &source).await;

    assert_eq!(
        outcomes(&results),
        [
            Outcome::Succeeded,
            Outcome::Failed,
            Outcome::Succeeded,
            Outcome::TimedOut
        ]
    );
    assert_eq!(results[2].polls, 7);
    assert_eq!(results[3].waited(), secs(60));
}

#[tokio::test(start_paused = true)]
async fn a_stop_signal_cancels_pending_jobs_at_once_and_keeps_finished_ones() {
    let plan = plan(vec![job("done"), job("p1"), job("hung"), job("p2")]);
    let source = FakeSource::new()
        .script("done", running_then("done", 1, "SUCCESS"))
        .script("p1", running("p1", 1))
        // Its first fetch never answers: the stop must not wait for it.
        .script("hung", vec![st("hung", "SUCCESS")])
        .latencies("hung", vec![secs(3600)])
        .script("p2", running_then("p2", 100, "SUCCESS"));
    let (signals, interrupts) = watch::channel(None);
    let t0 = Instant::now();
    let handle = tokio::spawn({
        let source = source.clone();
        async move { wait_all(&plan, source, interrupts, None).await }
    });

    tokio::time::sleep(secs(30)).await;
    let fetched_before_stop = source.fetch_count();
    signals.send_replace(Some(Signal::Terminate));
    let outcome = handle.await.unwrap();
    assert_eq!(outcome.end, End::Interrupted(Signal::Terminate));
    let results = outcome.results;

    assert_eq!(
        outcomes(&results),
        [
            Outcome::Succeeded,
            Outcome::Cancelled,
            Outcome::Cancelled,
            Outcome::Cancelled
        ]
    );
    assert!(results[0].waited() < secs(30));
    for r in &results[1..] {
        assert_eq!(r.reason, "cancelled by SIGTERM");
        assert_eq!(r.waited(), secs(30), "cancelled promptly");
    }
    assert_eq!(Instant::now(), t0 + secs(30));
    assert_eq!(
        source.fetch_count(),
        fetched_before_stop,
        "no fetch after the stop"
    );
    assert!(source.all_fetches().iter().all(|t| *t <= t0 + secs(30)));
    assert_eq!(source.fetches("hung").len(), 1);
    assert_eq!(results[2].polls, 0, "the hung fetch never completed");
}

#[tokio::test(start_paused = true)]
async fn a_stop_before_the_wait_cancels_everything_without_a_fetch() {
    let plan = plan(vec![job("a"), job("b")]);
    let source = FakeSource::new()
        .script("a", vec![st("a", "SUCCESS")])
        .script("b", vec![st("b", "SUCCESS")]);
    let (_signals, interrupts) = watch::channel(Some(Signal::Interrupt));

    let results = wait_all(&plan, source.clone(), interrupts, None)
        .await
        .results;

    assert_eq!(outcomes(&results), [Outcome::Cancelled; 2]);
    assert!(results.iter().all(|r| r.reason == "cancelled by SIGINT"));
    assert_eq!(source.fetch_count(), 0);
}

// ---------------------------------------------------------------------------------------------
// Pacing and concurrency
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_pacer_holds_one_host_to_rate_limit_requests_per_second() {
    let ids: Vec<String> = (0..30).map(|i| format!("j{i}")).collect();
    let mut plan = plan(ids.iter().map(|id| job(id)).collect());
    plan.rate_limit = 10.0;
    plan.timeout = secs(10);
    plan.poll = PollPolicy {
        interval: secs(1),
        max_interval: secs(2),
        schedule: crate::spec::raw::PollSchedule::Backoff,
    };
    let source = ids
        .iter()
        .fold(FakeSource::new(), |s, id| s.script(id, running(id, 1)));
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    assert_eq!(outcomes(&results), [Outcome::TimedOut; 30]);
    let all = source.all_fetches();
    // 30 jobs wanting a poll every 1-2 s ask for more than 10/s: the pacer is the limit.
    assert_eq!(
        busiest_second(&all),
        10,
        "{:?}",
        all.iter().map(|t| *t - t0).collect::<Vec<_>>()
    );
    assert!(all.len() >= 30 && all.len() <= 100, "{}", all.len());
    // The first round goes out one slot after another: 105 ms apart (10/s with the pacer's
    // 50 ms of slack per second for dispatch jitter).
    let first_round: Vec<Duration> = all[..30].iter().map(|t| *t - t0).collect();
    assert_eq!(
        first_round,
        (0..30).map(|i| millis(105 * i)).collect::<Vec<_>>()
    );
}

#[tokio::test(start_paused = true)]
async fn two_hosts_are_paced_independently() {
    let a: Vec<String> = (0..20).map(|i| format!("a{i}")).collect();
    let b: Vec<String> = (0..20).map(|i| format!("b{i}")).collect();
    let mut jobs: Vec<PlannedJob> = a.iter().map(|id| job_on("a.test", id)).collect();
    jobs.extend(b.iter().map(|id| job_on("b.test:8443", id)));
    let mut plan = plan(jobs);
    plan.rate_limit = 10.0;
    let source = a.iter().chain(&b).fold(FakeSource::new(), |s, id| {
        s.script(id, vec![st(id, "SUCCESS")])
    });
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    assert_eq!(outcomes(&results), [Outcome::Succeeded; 40]);
    let offsets = |ids: &[String]| {
        let mut t: Vec<Duration> = ids.iter().map(|id| source.fetches(id)[0] - t0).collect();
        t.sort();
        t
    };
    let expected: Vec<Duration> = (0..20).map(|i| millis(105 * i)).collect();
    assert_eq!(offsets(&a), expected, "a.test paced at 10/s from t0");
    assert_eq!(
        offsets(&b),
        expected,
        "b.test paced at 10/s from t0, not after a.test"
    );
    assert_eq!(busiest_second(&source.all_fetches()), 20);
}

#[tokio::test(start_paused = true)]
async fn max_in_flight_one_never_overlaps_fetches() {
    let ids = ["a", "b", "c", "d", "e"];
    let mut plan = plan(ids.iter().map(|id| job(id)).collect());
    plan.max_in_flight = 1;
    let source = ids
        .iter()
        .fold(FakeSource::new(), |s, id| {
            s.script(id, running_then(id, 2, "SUCCESS"))
        })
        .latency_for_all(millis(100));

    let results = run(&plan, &source).await;

    assert_eq!(outcomes(&results), [Outcome::Succeeded; 5]);
    assert_eq!(source.max_in_flight(), 1);
    let spans = source.spans();
    assert_eq!(spans.len(), 15);
    for w in spans.windows(2) {
        assert!(w[1].0 >= w[0].1, "fetches overlap: {w:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn without_the_in_flight_limit_the_same_fetches_do_overlap() {
    // The control for the test above: the fake does see overlapping fetches.
    let ids = ["a", "b", "c", "d", "e"];
    let plan = plan(ids.iter().map(|id| job(id)).collect());
    let source = ids
        .iter()
        .fold(FakeSource::new(), |s, id| {
            s.script(id, running_then(id, 2, "SUCCESS"))
        })
        .latency_for_all(millis(100));

    run(&plan, &source).await;

    assert_eq!(source.max_in_flight(), 5);
}

#[tokio::test(start_paused = true)]
async fn the_pacer_still_holds_when_the_in_flight_limit_queues_requests() {
    // One slow request holds the only in-flight permit for 5 s. The others take their pacer
    // slots (100 ms apart) meanwhile, queue on the permit, and then all go at t = 5 s.
    let ids: Vec<String> = (0..20).map(|i| format!("j{i}")).collect();
    let mut jobs = vec![job("hog")];
    jobs.extend(ids.iter().map(|id| job(id)));
    let mut plan = plan(jobs);
    plan.rate_limit = 10.0;
    plan.max_in_flight = 1;
    let source = ids
        .iter()
        .fold(FakeSource::new(), |s, id| {
            s.script(id, vec![st(id, "SUCCESS")])
        })
        .script("hog", vec![st("hog", "SUCCESS")])
        .latencies("hog", vec![secs(5)]);
    let t0 = Instant::now();

    run(&plan, &source).await;

    let all = source.all_fetches();
    assert!(
        busiest_second(&all) <= 10,
        "{} requests to sim.test within one second (rate_limit 10): {:?}",
        busiest_second(&all),
        all.iter().map(|t| *t - t0).collect::<Vec<_>>()
    );
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

fn describe(event: &Event) -> (usize, String) {
    match event {
        Event::Changed {
            index,
            status,
            sub_jobs: c,
        } => (
            *index,
            format!(
                "changed {status} total={} ok={} failed={} running={}",
                c.total, c.succeeded, c.failed, c.running
            ),
        ),
        Event::Finished {
            index,
            outcome,
            reason,
        } => (*index, format!("finished {outcome:?}: {reason}")),
    }
}

#[tokio::test(start_paused = true)]
async fn events_report_each_change_once_and_one_finish_per_job() {
    let doc = |json: &str| Ok(Job::from_slice(json.as_bytes()).unwrap());
    let two_running = doc(
        r#"{"status":"RUNNING","job_id":"a","entities":{"sub_jobs_total":2,"sub_jobs":[
            {"status":"RUNNING","job_id":"s1"},{"status":"INIT","job_id":"s2"}]}}"#,
    );
    let mut slow = job("slow");
    slow.timeout = Some(secs(5));
    let plan = plan(vec![job("a"), job("b"), slow]);
    let source = FakeSource::new()
        .script(
            "a",
            vec![
                st("a", "INIT"),
                st("a", "INIT"),
                two_running.clone(),
                two_running,
                http(503, ""),
                doc(
                    r#"{"status":"RUNNING","job_id":"a","entities":{"sub_jobs_total":2,"sub_jobs":[
                        {"status":"SUCCESS","job_id":"s1"},{"status":"RUNNING","job_id":"s2"}]}}"#,
                ),
                doc(
                    r#"{"status":"SUCCESS","job_id":"a","entities":{"sub_jobs_total":2,"sub_jobs":[
                        {"status":"SUCCESS","job_id":"s1"},{"status":"SUCCESS","job_id":"s2"}]}}"#,
                ),
            ],
        )
        .script("b", vec![st("b", "FAIL")])
        .script("slow", running("slow", 1));
    let (_signals, interrupts) = watch::channel(None);
    let (events_tx, mut events_rx) = mpsc::unbounded_channel();

    let results = wait_all(&plan, source.clone(), interrupts, Some(events_tx))
        .await
        .results;

    let mut by_job: Vec<Vec<String>> = vec![Vec::new(); 3];
    while let Some(event) = events_rx.recv().await {
        let (index, text) = describe(&event);
        by_job[index].push(text);
    }
    assert_eq!(
        by_job[0],
        [
            "changed INIT total=0 ok=0 failed=0 running=0",
            "changed RUNNING total=2 ok=0 failed=0 running=2",
            "changed RUNNING total=2 ok=1 failed=0 running=1",
            "finished Succeeded: SUCCESS, 2/2 sub-jobs succeeded",
        ]
    );
    assert_eq!(by_job[1], ["finished Failed: FAIL"]);
    assert_eq!(
        by_job[2],
        [
            "changed RUNNING total=0 ok=0 failed=0 running=0",
            "finished TimedOut: timed out after 5s: still RUNNING",
        ]
    );
    assert_eq!(results[0].polls, 7);
}

#[tokio::test(start_paused = true)]
async fn criteria_travel_with_each_job() {
    // `any` on one job, the default `all` on the other, the same document for both.
    let mut lenient = job("lenient");
    lenient.criteria.sub_jobs = SubJobPolicy::Any;
    let plan = plan(vec![lenient, job("strict")]);
    let doc = |id: &str| {
        Ok(Job::from_slice(
            format!(
                r#"{{"status":"FAIL","job_id":"{id}","entities":{{"sub_jobs":[
                    {{"status":"SUCCESS"}},{{"status":"FAIL","error_code":"Ecs.0013"}}]}}}}"#
            )
            .as_bytes(),
        )
        .unwrap())
    };
    let source = FakeSource::new()
        .script("lenient", vec![doc("lenient")])
        .script("strict", vec![doc("strict")]);

    let results = run(&plan, &source).await;

    assert_eq!(outcomes(&results), [Outcome::Succeeded, Outcome::Failed]);
}

// ---------------------------------------------------------------------------------------------
// confirm, job_type, unknown_status

#[tokio::test(start_paused = true)]
async fn confirm_requires_the_terminal_status_n_reads_in_a_row() {
    let mut plan = plan(vec![job("a")]);
    plan.poll = PollPolicy {
        interval: secs(2),
        max_interval: secs(30),
        schedule: crate::spec::raw::PollSchedule::Backoff,
    };
    plan.jobs[0].criteria.confirm = 3;
    // SUCCESS, then a lagging RUNNING (the streak restarts), then SUCCESS three times.
    let responses = vec![
        st("a", "RUNNING"),
        st("a", "SUCCESS"),
        st("a", "RUNNING"),
        st("a", "SUCCESS"),
        st("a", "SUCCESS"),
        st("a", "SUCCESS"),
        st("a", "FAIL"),
    ];
    let source = FakeSource::new().script("a", responses);

    let results = run(&plan, &source).await;

    let r = &results[0];
    assert_eq!(r.outcome, Outcome::Succeeded);
    assert_eq!(r.reason, "SUCCESS (read 3 times in a row)");
    let fetches = source.fetches("a");
    assert_eq!(
        fetches.len(),
        6,
        "never reads the FAIL after three SUCCESS in a row"
    );
    // Confirmation reads come at the base interval, not the grown back-off.
    for gap in &gaps(&fetches)[3..] {
        assert_eq!(*gap, secs(2));
    }
}

#[tokio::test(start_paused = true)]
async fn confirm_one_is_immediate() {
    let plan = plan(vec![job("a")]);
    let source = FakeSource::new().script("a", vec![st("a", "SUCCESS")]);
    let results = run(&plan, &source).await;
    assert_eq!(
        (results[0].outcome, results[0].polls),
        (Outcome::Succeeded, 1)
    );
    assert_eq!(results[0].reason, "SUCCESS");
}

#[tokio::test(start_paused = true)]
async fn a_job_type_mismatch_is_errored_not_succeeded() {
    let mut plan = plan(vec![job("a")]);
    plan.jobs[0].criteria.job_type = Some("attachVolume".to_owned());
    let doc = Ok(Job::from_slice(
        br#"{"status":"SUCCESS","job_id":"a","job_type":"createServer"}"#,
    )
    .unwrap());
    let source = FakeSource::new().script("a", vec![doc]);
    let results = run(&plan, &source).await;
    assert_eq!(results[0].outcome, Outcome::Errored);
    assert!(
        results[0]
            .reason
            .contains("job type is createServer, not the expected attachVolume"),
        "{}",
        results[0].reason
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_status_waits_by_default_and_fails_when_asked() {
    let mut plan = plan(vec![job("a"), job("b")]);
    plan.jobs[1].criteria.unknown_status = crate::spec::raw::UnknownStatus::Fail;
    let source = FakeSource::new()
        .script("a", vec![st("a", "ROLLING_BACK"), st("a", "SUCCESS")])
        .script("b", vec![st("b", "ROLLING_BACK"), st("b", "SUCCESS")]);
    let results = run(&plan, &source).await;
    assert_eq!(results[0].outcome, Outcome::Succeeded);
    assert_eq!(results[1].outcome, Outcome::Failed);
    assert_eq!(
        results[1].reason,
        "ROLLING_BACK: not a documented job status (unknown_status: fail)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_budget_of_consecutive_errors_ends_the_job_as_errored() {
    let mut plan = plan(vec![job("a"), job("b")]);
    plan.max_consecutive_errors = Some(3);
    let boom = || Err(FetchError::Transport("connection reset".into()));
    // a: two errors, a document (the count restarts), then errors for good; b: always errors.
    let source = FakeSource::new()
        .script(
            "a",
            vec![
                boom(),
                boom(),
                st("a", "RUNNING"),
                boom(),
                boom(),
                boom(),
                st("a", "SUCCESS"),
            ],
        )
        .script("b", vec![boom()]);
    let results = run(&plan, &source).await;
    assert_eq!(results[0].outcome, Outcome::Errored);
    assert_eq!(
        results[0].polls, 6,
        "the document in between restarted the count"
    );
    assert_eq!(
        results[0].reason,
        "3 errors in a row (retry.max_consecutive_errors); the last: network error: connection reset"
    );
    assert_eq!(
        (results[1].outcome, results[1].polls),
        (Outcome::Errored, 3)
    );
}

fn refused() -> Response {
    Err(FetchError::Transport("connection refused".into()))
}

#[tokio::test(start_paused = true)]
async fn a_host_that_never_answers_ends_its_jobs_errored_at_unreachable_after() {
    // Two jobs on a host that refuses every connection, one on a host that answers and needs
    // longer than the cut-off.
    let mut plan = plan(vec![
        job_on("dead.test:8443", "d1"),
        job_on("sim.test", "live"),
        job_on("dead.test:8443", "d2"),
    ]);
    plan.unreachable_after = secs(30);
    let source = FakeSource::new()
        .script("d1", vec![refused()])
        .script("d2", vec![refused()])
        .script("live", running_then("live", 12, "SUCCESS"));
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    assert_eq!(
        outcomes(&results),
        [Outcome::Errored, Outcome::Succeeded, Outcome::Errored]
    );
    for r in [&results[0], &results[2]] {
        assert_eq!(r.waited(), secs(30), "ended at the cut-off, not later");
        assert_eq!(
            r.reason,
            "dead.test:8443 never answered within 30s (retry.unreachable_after): connection refused; check the endpoint and the network"
        );
        assert!(r.status.is_none());
    }
    for id in ["d1", "d2"] {
        let fetches = source.fetches(id);
        assert!(
            fetches.len() >= 2,
            "retried before the cut-off: {fetches:?}"
        );
        assert!(fetches.iter().all(|t| *t <= t0 + secs(30)), "{fetches:?}");
    }
    assert!(
        results[1].waited() > secs(30),
        "the answering host's job went on: {:?}",
        results[1].waited()
    );
}

#[tokio::test(start_paused = true)]
async fn a_host_that_accepts_connections_but_replies_slowly_is_not_cut_off() {
    // Requests that time out reached the host: a slow reply is not "unreachable", so only the
    // deadline ends the job.
    let mut plan = plan(vec![job_on("slow.test", "s")]);
    plan.unreachable_after = secs(30);
    plan.timeout = secs(120);
    let source = FakeSource::new().script("s", vec![Err(FetchError::Timeout("timed out".into()))]);

    let results = run(&plan, &source).await;

    assert_eq!(results[0].outcome, Outcome::Errored);
    assert_eq!(
        results[0].waited(),
        secs(120),
        "ended by the deadline, not the cut-off"
    );
    assert!(
        results[0].reason.starts_with("no verdict after 2m"),
        "{}",
        results[0].reason
    );
}

#[tokio::test(start_paused = true)]
async fn a_host_that_answered_once_is_left_to_the_deadline() {
    // `seen` got one document, then only connection failures; `busy` only ever got 503s, which
    // are answers too. Neither host is cut off: the deadline ends both.
    let mut plan = plan(vec![job_on("a.test", "seen"), job_on("b.test", "busy")]);
    plan.timeout = secs(120);
    plan.unreachable_after = secs(5);
    let source = FakeSource::new()
        .script("seen", vec![st("seen", "RUNNING"), refused()])
        .script("busy", vec![http(503, "")]);

    let results = run(&plan, &source).await;

    assert_eq!(
        (results[0].outcome, results[0].waited()),
        (Outcome::TimedOut, secs(120))
    );
    assert_eq!(
        results[0].reason,
        "timed out after 2m: last poll failed: network error: connection refused"
    );
    assert_eq!(
        (results[1].outcome, results[1].waited()),
        (Outcome::Errored, secs(120))
    );
    assert!(
        results[1].reason.starts_with("no verdict after 2m"),
        "{}",
        results[1].reason
    );
}

#[tokio::test(start_paused = true)]
async fn the_unreachable_clock_starts_at_the_hosts_first_request() {
    // The wait began 20 s ago (the project lookup took that long): the host's first request
    // leaves now, and its cut-off is `unreachable_after` after that, not after the start.
    let mut plan = plan(vec![job_on("dead.test", "d")]);
    plan.unreachable_after = secs(15);
    let source = FakeSource::new().script("d", vec![refused()]);
    let start = Instant::now().checked_sub(secs(20)).unwrap();
    let (_signals, interrupts) = watch::channel(None);

    let results = wait_all_from(&plan, source.clone(), start, interrupts, None)
        .await
        .results;

    assert_eq!(source.fetches("d")[0], start + secs(20));
    assert_eq!(
        (results[0].outcome, results[0].waited()),
        (Outcome::Errored, secs(35))
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_slows_the_whole_host_and_retry_after_pauses_it() {
    let mut plan = plan((0..4).map(|i| job(&format!("j{i}"))).collect());
    plan.rate_limit = 10.0;
    let throttled = || {
        Err(FetchError::Http {
            status: 429,
            error: None,
            retry_after: Some(secs(3)),
        })
    };
    let source = FakeSource::new()
        .script("j0", vec![throttled(), st("j0", "SUCCESS")])
        .script("j1", vec![st("j1", "RUNNING"), st("j1", "SUCCESS")])
        .script("j2", vec![st("j2", "RUNNING"), st("j2", "SUCCESS")])
        .script("j3", vec![st("j3", "RUNNING"), st("j3", "SUCCESS")]);
    let t0 = Instant::now();
    let results = run(&plan, &source).await;
    assert!(results.iter().all(|r| r.outcome == Outcome::Succeeded));
    // j0's 429 came first (t0); the others' second polls wait for the host's Retry-After too.
    for id in ["j1", "j2", "j3"] {
        let second = source.fetches(id)[1];
        assert!(
            second - t0 >= secs(3),
            "{id} polled again {:?} after the start",
            second - t0
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The adaptive schedule
// ---------------------------------------------------------------------------------------------

/// Jobs that run for a set time from the start of the test and report their progress as IMS
/// does (`process_percent`, `begin_time`); records when each was first seen finished.
#[derive(Clone)]
struct ProgressingJobs {
    t0: Instant,
    begin: String,
    durations: Arc<HashMap<String, Duration>>,
    fetches: Arc<AtomicUsize>,
    seen_done: Arc<Mutex<HashMap<String, Instant>>>,
}

impl ProgressingJobs {
    fn new(durations: &[(String, Duration)]) -> ProgressingJobs {
        ProgressingJobs {
            t0: Instant::now(),
            begin: humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string(),
            durations: Arc::new(durations.iter().cloned().collect()),
            fetches: Arc::default(),
            seen_done: Arc::default(),
        }
    }

    /// Per job: first terminal read minus the job's end.
    fn lags(&self) -> Vec<Duration> {
        let seen = self.seen_done.lock().unwrap();
        self.durations
            .iter()
            .map(|(id, d)| seen[id] - (self.t0 + *d))
            .collect()
    }
}

impl JobSource for ProgressingJobs {
    fn fetch(
        &self,
        job: &PlannedJob,
        _timeout: Duration,
    ) -> impl Future<Output = Result<Job, FetchError>> + Send {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        let took = self.durations[&job.id];
        let elapsed = now - self.t0;
        let doc = if elapsed >= took {
            self.seen_done
                .lock()
                .unwrap()
                .entry(job.id.clone())
                .or_insert(now);
            format!(
                r#"{{"status":"SUCCESS","job_id":"{}","begin_time":"{}"}}"#,
                job.id, self.begin
            )
        } else {
            let percent = (elapsed.as_secs_f64() / took.as_secs_f64() * 100.0) as u32;
            format!(
                r#"{{"status":"RUNNING","job_id":"{}","begin_time":"{}","entities":{{"process_percent":{percent}}}}}"#,
                job.id, self.begin
            )
        };
        std::future::ready(Ok(Job::from_slice(doc.as_bytes()).unwrap()))
    }
}

#[tokio::test(start_paused = true)]
async fn the_adaptive_schedule_needs_fewer_polls_than_the_backoff_within_the_same_lag_bound() {
    let durations: Vec<(String, Duration)> = (0..20)
        .map(|i| (format!("img{i}"), secs(60 + 10 * i)))
        .collect();
    let (mut polls, mut worst_lag) = (HashMap::new(), HashMap::new());
    for schedule in [PollSchedule::Backoff, PollSchedule::Adaptive] {
        let mut plan = plan(durations.iter().map(|(id, _)| job(id)).collect());
        plan.poll = PollPolicy {
            interval: secs(2),
            max_interval: secs(30),
            schedule,
        };
        let source = ProgressingJobs::new(&durations);
        let results = run_with(&plan, source.clone()).await;
        assert_eq!(outcomes(&results), [Outcome::Succeeded; 20]);
        let lags = source.lags();
        let worst = lags.iter().max().unwrap();
        assert!(
            *worst <= plan.poll.max_interval + super::driver::poll_tick(&plan.poll),
            "{schedule:?}: a job was noticed {worst:?} after it ended"
        );
        let fetches = source.fetches.load(Ordering::SeqCst);
        eprintln!("{schedule:?}: {fetches} polls, worst lag {worst:?}");
        polls.insert(schedule.as_str(), fetches);
        worst_lag.insert(schedule.as_str(), *worst);
    }
    // The back-off spends its dense early polls on jobs that have minutes to go, and its sparse
    // late ones when they end; the adaptive schedule reads their progress and lands near the
    // end. (Here: about 156 polls against 230, worst lag 2.4 s against 23 s.)
    assert!(
        polls["adaptive"] * 4 < polls["backoff"] * 3,
        "adaptive should need at least 25 % fewer polls: {polls:?}"
    );
    assert!(
        worst_lag["adaptive"] < worst_lag["backoff"],
        "and notice the ends sooner: {worst_lag:?}"
    );
}

async fn run_with<S: JobSource>(plan: &Plan, source: S) -> Vec<JobReport> {
    let (_signals, interrupts) = watch::channel(None);
    wait_all(plan, source, interrupts, None).await.results
}

#[tokio::test(start_paused = true)]
async fn polls_due_within_a_tick_leave_together_on_the_tick_grid() {
    // 40 jobs whose jittered delays all differ: rounded up to the 10 ms grid, their polls
    // share instants instead of each waking the process on its own.
    let ids: Vec<String> = (0..40).map(|i| format!("j{i}")).collect();
    let mut plan = plan(ids.iter().map(|id| job(id)).collect());
    plan.poll = PollPolicy {
        interval: secs(1),
        max_interval: secs(4),
        schedule: PollSchedule::Backoff,
    };
    let source = ids.iter().fold(FakeSource::new(), |s, id| {
        s.script(id, running_then(id, 6, "SUCCESS"))
    });
    let t0 = Instant::now();

    let results = run(&plan, &source).await;

    assert_eq!(outcomes(&results), [Outcome::Succeeded; 40]);
    // The first round is spread by the pacer; every later poll is on the grid.
    let all: Vec<Instant> = ids
        .iter()
        .flat_map(|id| source.fetches(id).into_iter().skip(1))
        .collect();
    assert_eq!(all.len(), 40 * 6);
    let tick = super::driver::poll_tick(&plan.poll);
    assert_eq!(tick, millis(10), "1 % of the 1-s interval");
    for t in &all {
        let offset = *t - t0;
        assert_eq!(
            offset.as_nanos() % tick.as_nanos(),
            0,
            "a poll at {offset:?} is off the {tick:?} grid"
        );
    }
    let mut instants = all.clone();
    instants.sort();
    instants.dedup();
    assert!(
        instants.len() * 2 < all.len(),
        "{} polls at {} distinct instants",
        all.len(),
        instants.len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_job_cut_by_its_deadline_keeps_its_sub_jobs_summary_and_reason() {
    // While a batch job runs only the summary of its sub-jobs is kept, not the sub-jobs: the
    // result must say the same as the full document would.
    let running = r#"{"status":"RUNNING","job_id":"b","entities":{"sub_jobs_total":3,"sub_jobs":[
        {"status":"SUCCESS","job_id":"s1","entities":{"server_id":"srv-1"}},
        {"status":"FAIL","job_id":"s2","error_code":"Ecs.0013","entities":{}},
        {"status":"RUNNING","job_id":"s3"}]}}"#;
    let full = Job::from_slice(running.as_bytes()).unwrap();
    let mut batch = job("b");
    batch.criteria.sub_jobs = SubJobPolicy::Any;
    batch.timeout = Some(secs(20));
    let plan = plan(vec![batch]);
    let source = FakeSource::new().script("b", vec![Ok(full.clone())]);

    let results = run(&plan, &source).await;

    let r = &results[0];
    assert_eq!(r.outcome, Outcome::TimedOut);
    let expected = crate::verdict::judge(&plan.jobs[0].criteria, &full).reason;
    assert_eq!(r.reason, format!("timed out after 20s: still {expected}"));
    let agg = crate::verdict::aggregate(&full);
    assert_eq!(
        (&r.sub_jobs, &r.entities, &r.failures),
        (&agg.sub_jobs, &agg.entities, &agg.failures)
    );
    assert_eq!(r.sub_jobs.succeeded, 1);
    assert_eq!(r.failures.len(), 1);
    assert_eq!(r.status.as_deref(), Some("RUNNING"));
}

// ---------------------------------------------------------------------------------------------
// Hostile answers: nothing the API sends may panic the engine or lose a job
// ---------------------------------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn rejected_credentials_stop_every_job_at_once() {
    let ids: Vec<String> = (0..20).map(|i| format!("j{i}")).collect();
    let plan = plan(ids.iter().map(|id| job(id)).collect());
    let source = ids.iter().fold(FakeSource::new(), |s, id| {
        let answer = if id == "j0" {
            vec![http(
                401,
                r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information"}"#,
            )]
        } else {
            running(id, 1)
        };
        s.script(id, answer)
    });

    let results = run(&plan, &source).await;

    assert_eq!(outcomes(&results), [Outcome::Errored; 20]);
    for r in &results {
        assert!(
            r.reason
                .starts_with("authentication rejected: HTTP 401: APIGW.0301"),
            "{}",
            r.reason
        );
    }
    for id in &ids {
        assert!(source.fetches(id).len() <= 1, "{id} was polled again");
    }
}

#[tokio::test(start_paused = true)]
async fn an_absurd_retry_after_or_progress_neither_panics_nor_loses_the_job() {
    let mut plan = plan(vec![job("throttled"), job("tiny-progress")]);
    plan.timeout = secs(120);
    let huge = Err(FetchError::Http {
        status: 429,
        error: None,
        retry_after: Some(Duration::MAX),
    });
    let tiny = Job::from_slice(
        br#"{"status":"RUNNING","begin_time":"2000-01-01T00:00:00Z","entities":{"process_percent":1e-20}}"#,
    )
    .unwrap();
    let source = FakeSource::new()
        .script("throttled", vec![huge])
        .script("tiny-progress", vec![Ok(tiny)]);

    let results = run(&plan, &source).await;

    assert_eq!(outcomes(&results), [Outcome::Errored, Outcome::TimedOut]);
}

mod hostile {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn status() -> impl Strategy<Value = Value> {
        prop_oneof![
            prop::sample::select(vec![
                "INIT",
                "RUNNING",
                "SUCCESS",
                "FAIL",
                "PENDING_PAYMENT",
                "",
                "success",
                "ROLLING_BACK",
            ])
            .prop_map(|s| json!(s)),
            ".{0,40}".prop_map(|s| json!(s)),
            any::<i64>().prop_map(|n| json!(n)),
            Just(Value::Null),
        ]
    }

    fn number() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<f64>()
                .prop_filter("JSON has no NaN/inf", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<i64>().prop_map(|n| json!(n)),
            prop::sample::select(vec!["NaN", "inf", "-1e308", "1e-20", "1e308", "50", " 7 "])
                .prop_map(|s| json!(s)),
            Just(json!(1e-20)),
            Just(Value::Null),
        ]
    }

    fn time() -> impl Strategy<Value = Value> {
        prop_oneof![
            (1u32..9999, 1u32..13, 1u32..29)
                .prop_map(|(y, m, d)| json!(format!("{y:04}-{m:02}-{d:02}T00:00:00.000Z"))),
            Just(json!("")),
            Just(json!("9999-12-31T23:59:59Z")),
            Just(json!("0001-01-01T00:00:00Z")),
            ".{0,20}".prop_map(|s| json!(s)),
            Just(Value::Null),
        ]
    }

    fn document(depth: u32) -> BoxedStrategy<Value> {
        let subs = if depth == 0 {
            Just(Value::Null).boxed()
        } else {
            prop::collection::vec(document(depth - 1), 0..4)
                .prop_map(Value::Array)
                .boxed()
        };
        (
            status(),
            time(),
            time(),
            number(),
            number(),
            subs,
            ".{0,30}",
            prop::option::of(".{0,30}"),
        )
            .prop_map(
                |(status, begin, end, percent, total, subs, job_type, reason)| {
                    json!({
                        "status": status, "job_id": "x", "job_type": job_type,
                        "begin_time": begin, "end_time": end, "fail_reason": reason,
                        "entities": {"process_percent": percent, "sub_jobs_total": total,
                                     "sub_jobs": subs, "server_id": "srv"}
                    })
                },
            )
            .boxed()
    }

    fn answer() -> impl Strategy<Value = Response> {
        prop_oneof![
            document(2).prop_map(|doc| Job::from_slice(doc.to_string().as_bytes()).map_err(
                |message| FetchError::Garbled {
                    status: 200,
                    message
                }
            )),
            (
                100u16..600,
                prop::option::of((any::<u64>(), 0u32..1_000_000_000)),
                ".{0,20}"
            )
                .prop_map(|(status, retry, code)| Err(FetchError::Http {
                    status,
                    error: ApiErrorBody::parse(
                        json!({"error_code": code, "error_msg": "m"})
                            .to_string()
                            .as_bytes()
                    ),
                    retry_after: retry.map(|(s, n)| Duration::new(s, n)),
                })),
            Just(Err(FetchError::Transport("reset".into()))),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(96),
            ..ProptestConfig::default()
        })]

        /// Whatever the API answers — statuses, numbers, times, `Retry-After`s — every job of the
        /// plan ends with a result and a reason, and nothing panics.
        #[test]
        fn every_job_gets_a_result_whatever_the_api_says(
            scripts in prop::collection::vec(prop::collection::vec(answer(), 1..6), 1..4),
            confirm in 1u32..3,
            policy in prop::sample::select(vec![SubJobPolicy::All, SubJobPolicy::Any, SubJobPolicy::AtLeast(2), SubJobPolicy::Ratio(0.5)]),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            let ids: Vec<String> = (0..scripts.len()).map(|i| format!("j{i}")).collect();
            let mut jobs: Vec<PlannedJob> = ids.iter().map(|id| job(id)).collect();
            for j in &mut jobs {
                j.criteria.confirm = confirm;
                j.criteria.sub_jobs = policy;
            }
            let mut plan = plan(jobs);
            plan.timeout = secs(300);
            let source = ids
                .iter()
                .zip(scripts)
                .fold(FakeSource::new(), |s, (id, script)| s.script(id, script));
            let results = runtime.block_on(run(&plan, &source));
            prop_assert_eq!(results.len(), ids.len());
            for r in &results {
                prop_assert!(!r.reason.is_empty());
            }
        }
    }
}

/// A token for another project than the URL's (`Common.0018`) ends the job at once, and its
/// reason says what to check, not only the API's "tenantId in token is not the same with in
/// URL.".
#[tokio::test(start_paused = true)]
async fn a_token_for_another_project_says_to_check_the_project() {
    let source = FakeSource::new().script(
        "a",
        vec![http(
            403,
            r#"{"error":{"message":"tenantId in token is not the same with in URL.","code":"Common.0018"}}"#,
        )],
    );

    let results = run(&plan(vec![job("a")]), &source).await;

    let r = &results[0];
    assert_eq!(r.outcome, Outcome::Errored);
    assert!(
        r.reason
            .contains("tenantId in token is not the same with in URL."),
        "{}",
        r.reason
    );
    assert!(
        r.reason
            .contains("the token is scoped to another project than project_id in the job URL (Common.0018): check project_id / project_name"),
        "{}",
        r.reason
    );
    assert_eq!(source.fetch_count(), 1, "not retried");
}

// ---------------------------------------------------------------------------------------------
// Durations per job type (the hazard inside a type's range, and the cache)
// ---------------------------------------------------------------------------------------------

/// Jobs of named types that run for a set time from the start of the test, reporting no
/// progress (only `begin_time`, and `end_time` once done); records when each was first seen
/// finished.
#[derive(Clone)]
struct TypedJobs {
    t0: Instant,
    wall0: std::time::SystemTime,
    jobs: Arc<HashMap<String, (&'static str, Duration)>>,
    fetches: Arc<AtomicUsize>,
    seen_done: Arc<Mutex<HashMap<String, Instant>>>,
}

impl TypedJobs {
    /// The issue's mixed scenario, `n` jobs: volumes 3-6 s, servers 15-30 s, images 40-80 s.
    fn mixed(n: usize, seed: u64) -> TypedJobs {
        let mut rng = fastrand::Rng::with_seed(seed);
        let kinds = [
            ("createVolume", 3_000, 6_000),
            ("createServer", 15_000, 30_000),
            ("createImage", 40_000, 80_000),
        ];
        let jobs = (0..n)
            .map(|i| {
                let (kind, lo, hi) = kinds[i % 3];
                (
                    format!("j{i}"),
                    (kind, Duration::from_millis(rng.u64(lo..=hi))),
                )
            })
            .collect();
        TypedJobs {
            t0: Instant::now(),
            wall0: std::time::SystemTime::now(),
            jobs: Arc::new(jobs),
            fetches: Arc::default(),
            seen_done: Arc::default(),
        }
    }

    fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.jobs.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Per job: first terminal read minus the job's end, sorted.
    fn lags(&self) -> Vec<Duration> {
        let seen = self.seen_done.lock().unwrap();
        let mut lags: Vec<Duration> = self
            .jobs
            .iter()
            .map(|(id, (_, d))| seen[id] - (self.t0 + *d))
            .collect();
        lags.sort();
        lags
    }
}

impl JobSource for TypedJobs {
    fn fetch(
        &self,
        job: &PlannedJob,
        _timeout: Duration,
    ) -> impl Future<Output = Result<Job, FetchError>> + Send {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        let (kind, took) = self.jobs[&job.id];
        let time = |d: Duration| humantime::format_rfc3339_millis(self.wall0 + d).to_string();
        let doc = if now - self.t0 >= took {
            self.seen_done
                .lock()
                .unwrap()
                .entry(job.id.clone())
                .or_insert(now);
            serde_json::json!({"status": "SUCCESS", "job_id": job.id, "job_type": kind,
                "begin_time": time(Duration::ZERO), "end_time": time(took)})
        } else {
            serde_json::json!({"status": "RUNNING", "job_id": job.id, "job_type": kind,
                "begin_time": time(Duration::ZERO), "end_time": ""})
        };
        std::future::ready(Ok(Job::from_slice(doc.to_string().as_bytes()).unwrap()))
    }
}

/// Runs the mixed scenario once; (polls, sorted lags).
async fn mixed_run(
    policy: PollPolicy,
    cache: Option<std::path::PathBuf>,
) -> (usize, Vec<Duration>) {
    let source = TypedJobs::mixed(300, 16);
    let mut plan = plan(source.ids().iter().map(|id| job(id)).collect());
    plan.poll = policy;
    plan.duration_cache = cache;
    let results = run_with(&plan, source.clone()).await;
    assert!(results.iter().all(|r| r.outcome == Outcome::Succeeded));
    (source.fetches.load(Ordering::SeqCst), source.lags())
}

fn mixed_policy(schedule: PollSchedule) -> PollPolicy {
    PollPolicy {
        interval: secs(2),
        max_interval: secs(30),
        schedule,
    }
}

#[tokio::test(start_paused = true)]
async fn jobs_of_a_type_are_polled_densely_where_that_type_ends_and_the_cache_carries_it_over() {
    let fixed = PollPolicy {
        interval: secs(2),
        max_interval: secs(2),
        schedule: PollSchedule::Backoff,
    };
    let (fixed_polls, fixed_lags) = mixed_run(fixed, None).await;
    // With interval = max_interval there is nothing to skip or densify: a job whose type just
    // ended is not polled again early (that cost the side-by-side run 1.3 % more requests).
    let same = PollPolicy {
        schedule: PollSchedule::Adaptive,
        ..fixed
    };
    let (same_polls, _) = mixed_run(same, None).await;
    assert!(same_polls <= fixed_polls, "{same_polls} vs {fixed_polls}");
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("jobwait/durations.json");
    let (cold_polls, cold_lags) =
        mixed_run(mixed_policy(PollSchedule::Adaptive), Some(cache.clone())).await;
    assert!(cache.exists(), "the run's durations are remembered");
    let (warm_polls, warm_lags) =
        mixed_run(mixed_policy(PollSchedule::Adaptive), Some(cache.clone())).await;
    let (backoff_polls, backoff_lags) = mixed_run(mixed_policy(PollSchedule::Backoff), None).await;
    let p = |lags: &[Duration], q: usize| lags[(lags.len() * q).div_ceil(100) - 1];
    for (name, polls, lags) in [
        ("fixed 2 s", fixed_polls, &fixed_lags),
        ("backoff", backoff_polls, &backoff_lags),
        ("adaptive, no cache", cold_polls, &cold_lags),
        ("adaptive, cache", warm_polls, &warm_lags),
    ] {
        eprintln!(
            "{name}: {polls} polls, lag p50 {:?} p99 {:?} max {:?}",
            p(lags, 50),
            p(lags, 99),
            lags.last().unwrap()
        );
    }
    let bound = secs(30) + super::driver::poll_tick(&mixed_policy(PollSchedule::Adaptive));
    for lags in [&cold_lags, &warm_lags] {
        assert!(
            *lags.last().unwrap() <= bound,
            "the lag bound holds: {lags:?}"
        );
    }
    // Counts of a deterministic virtual-time run (only the jitter is random), not timings.
    assert!(
        cold_polls * 10 < fixed_polls * 8,
        "{cold_polls} vs {fixed_polls}"
    );
    assert!(warm_polls < cold_polls, "{warm_polls} vs {cold_polls}");
    assert!(p(&cold_lags, 50) < p(&backoff_lags, 50));
}

#[tokio::test(start_paused = true)]
async fn an_unusable_cache_file_only_costs_requests() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("durations.json");
    std::fs::write(&cache, b"\x00\xffnot json at all").unwrap();
    let (polls, lags) = mixed_run(mixed_policy(PollSchedule::Adaptive), Some(cache.clone())).await;
    assert!(polls > 0 && lags.len() == 300);
    let text = std::fs::read_to_string(&cache).unwrap();
    assert!(
        text.contains("createImage"),
        "rewritten with what this run learned: {text}"
    );
    // A cache path under a file (not a directory): nothing written, the wait unaffected.
    let blocked = dir.path().join("durations.json/below");
    let (_, lags) = mixed_run(mixed_policy(PollSchedule::Adaptive), Some(blocked)).await;
    assert_eq!(lags.len(), 300);
}

#[tokio::test(start_paused = true)]
async fn a_wide_range_of_long_jobs_is_not_polled_every_interval() {
    // 150 volumes of 20-120 s at interval 1 s, max_interval 15 s: inside the range a poll every
    // twentieth of the age, not every second (which cost three times the back-off's polls);
    // about twice the back-off's polls here, for a quarter of its median lag.
    let mut stats = HashMap::new();
    for schedule in [PollSchedule::Backoff, PollSchedule::Adaptive] {
        let mut rng = fastrand::Rng::with_seed(5);
        let jobs: HashMap<String, (&'static str, Duration)> = (0..150)
            .map(|i| {
                let took = Duration::from_millis(rng.u64(20_000..=120_000));
                (format!("v{i}"), ("createVolume", took))
            })
            .collect();
        let source = TypedJobs {
            t0: Instant::now(),
            wall0: std::time::SystemTime::now(),
            jobs: Arc::new(jobs),
            fetches: Arc::default(),
            seen_done: Arc::default(),
        };
        let mut plan = plan(source.ids().iter().map(|id| job(id)).collect());
        plan.poll = PollPolicy {
            interval: secs(1),
            max_interval: secs(15),
            schedule,
        };
        run_with(&plan, source.clone()).await;
        let lags = source.lags();
        let polls = source.fetches.load(Ordering::SeqCst);
        eprintln!(
            "{schedule:?}: {polls} polls, lag p50 {:?}, max {:?}",
            lags[lags.len() / 2],
            lags.last().unwrap()
        );
        assert!(*lags.last().unwrap() <= secs(15) + millis(10));
        stats.insert(schedule.as_str(), (polls, lags[lags.len() / 2]));
    }
    let (backoff, adaptive) = (stats["backoff"], stats["adaptive"]);
    assert!(adaptive.0 * 2 < backoff.0 * 5, "{stats:?}");
    assert!(adaptive.1 < backoff.1, "{stats:?}");
}

/// A document like the last one is dropped and the last one kept in place (long-lived
/// documents replaced at every poll fragment the heap: BENCHMARKS.md, fifth pass); a changed
/// one replaces it.
#[test]
fn a_job_keeps_its_last_document_in_place_while_it_does_not_change() {
    use super::job::{JobState, Seen};
    let plan = plan(vec![job("a")]);
    let types = super::schedule::TypeDurations::default();
    let seen = Seen {
        now: std::time::SystemTime::now(),
        types: &types,
    };
    let mut state = JobState::new(Instant::now() + secs(60), plan.poll, 1);
    let poll = |state: &mut JobState, doc: Response| {
        state.on_fetched(&plan, &plan.jobs[0], &seen, doc, secs(1), &mut None)
    };
    poll(&mut state, st("a", "RUNNING"));
    let first: *const Job = state.last_doc().unwrap();
    poll(&mut state, st("a", "RUNNING"));
    assert!(
        std::ptr::eq(first, state.last_doc().unwrap()),
        "kept in place"
    );
    let changed = Job::from_slice(br#"{"status":"RUNNING","job_id":"a","begin_time":"t"}"#);
    poll(&mut state, Ok(changed.unwrap()));
    assert_eq!(state.last_doc().unwrap().begin_time.as_deref(), Some("t"));
}
