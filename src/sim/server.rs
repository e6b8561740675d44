//! The HTTP side of the simulator.
//!
//! One axum fallback handler routes every request by hand, against the job path templates of
//! every service ([`crate::cloud::service`]: `/v1/{project_id}/jobs/{job_id}`,
//! `/v3/{project_id}/jobs?id={job_id}`, `/api/v3/projects/{project_id}/jobs/{job_id}`, DCS's
//! `/v2/…`, SFS Turbo's, classic ELB's `/v1.0/…`, ELB v3's and CBR's), so that anything else but
//! `GET /_sim/stats` gets the gateway's 404 `APIG.0101` (the real gateway answers a wrong method
//! the same way), never axum's own 404/405. Each job is served where its service's API serves
//! it, in that API's document shape ([`Shape`]; the documents of the shapes beyond the classic
//! one, the task center and CCE are in `shapes`), unknown to the other paths, with that API's
//! error body for an unknown id.
//! A job's state at time `t` is computed by [`job_state`] in `timeline`, a pure function of the
//! scenario job and `t`; the handler only formats it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{HeaderValue, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::Router;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::faults::{Fault, Faults, RateWindow};
use super::iam::{TokenCheck, Tokens};
use super::scenario::{Auth, Iam, Job, Scenario};
use super::shapes;
use super::stats::{JobStats, Stats};
use super::timeline::{format_time, is_hidden, job_state, terminal_since, JobState};
use super::verify::verify;
use crate::cloud::service::Shape;
use crate::cloud::service_ref::ServiceRef;

/// Where the statistics are served (no auth, not counted in the statistics).
const STATS_PATH: &str = "/_sim/stats";

/// How long [`SimHandle::shutdown`] waits for open connections before aborting the server task.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Largest request body read (for AK/SK verification); job queries have none.
const MAX_BODY: usize = 1 << 20;

// ---------------------------------------------------------------------------------------------
// The job document

/// The wire form of a job, with the field names of the real API.
#[derive(Serialize)]
struct JobDoc<'a> {
    status: &'a str,
    job_id: &'a str,
    job_type: &'a str,
    begin_time: String,
    end_time: String,
    error_code: Option<&'a str>,
    fail_reason: Option<&'a str>,
    entities: EntitiesDoc<'a>,
}

#[derive(Serialize)]
struct EntitiesDoc<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_jobs_total: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub_jobs: Option<Vec<JobDoc<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    process_percent: Option<u32>,
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
}

fn job_doc<'a>(job: &'a Job, state: &JobState<'a>, wall_start: SystemTime) -> JobDoc<'a> {
    let failed = state.status == "FAIL";
    let entities = EntitiesDoc {
        sub_jobs_total: (!job.sub_jobs.is_empty()).then_some(job.sub_jobs.len()),
        sub_jobs: (!job.sub_jobs.is_empty()).then(|| {
            job.sub_jobs
                .iter()
                .zip(&state.sub_jobs)
                .map(|(sub, sub_state)| job_doc(sub, sub_state, wall_start))
                .collect()
        }),
        process_percent: state.percent,
        extra: &job.entities,
    };
    JobDoc {
        status: state.status,
        job_id: &job.id,
        job_type: &job.job_type,
        begin_time: format_time(wall_start + state.begin),
        end_time: state
            .end
            .map(|end| format_time(wall_start + end))
            .unwrap_or_default(),
        error_code: job.error_code.as_deref().filter(|_| failed),
        fail_reason: job.fail_reason.as_deref().filter(|_| failed),
        entities,
    }
}

/// The database task center's document (RDS "Obtaining Information About a Task with a
/// Specified ID"): `{"job": {id, name, status, created, ended, process, instance, entities,
/// fail_reason}}`, status words `Running`/`Completed`/`Failed` for the timeline's
/// `RUNNING`/`SUCCESS`/`FAIL` (other words as written), times with a `+0000` offset, `ended`
/// only once the job ended, `instance` from `entities.instance_id` (and `instance_name`).
fn task_doc(job: &Job, state: &JobState<'_>, wall_start: SystemTime) -> serde_json::Value {
    let status = match state.status {
        "INIT" | "RUNNING" => "Running",
        "SUCCESS" => "Completed",
        "FAIL" => "Failed",
        other => other,
    };
    let time = |t: SystemTime| {
        let utc = humantime::format_rfc3339_seconds(t).to_string();
        format!("{}+0000", utc.trim_end_matches('Z'))
    };
    let process = match (state.percent, state.end) {
        (Some(p), None) => p.to_string(),
        _ => String::new(),
    };
    let mut entities = job.entities.clone();
    let instance_id = entities.remove("instance_id");
    let instance_name = entities.remove("instance_name");
    let mut doc = serde_json::Map::new();
    doc.insert("id".into(), job.id.clone().into());
    doc.insert("name".into(), job.job_type.clone().into());
    doc.insert("status".into(), status.into());
    doc.insert("created".into(), time(wall_start + state.begin).into());
    if let Some(end) = state.end {
        doc.insert("ended".into(), time(wall_start + end).into());
    }
    doc.insert("process".into(), process.into());
    if let Some(id) = instance_id {
        let name = instance_name.unwrap_or_else(|| "".into());
        doc.insert(
            "instance".into(),
            serde_json::json!({"id": id, "name": name}),
        );
    }
    doc.insert("entities".into(), entities.into());
    if state.status == "FAIL" {
        if let Some(reason) = &job.fail_reason {
            doc.insert("fail_reason".into(), reason.clone().into());
        }
    }
    serde_json::json!({ "job": doc })
}

/// CCE's document ("Reading Job Progress", `cce_02_0247`): `{kind: Job, apiVersion: v3,
/// metadata: {uid, creationTimestamp, updateTimestamp}, spec: {type, clusterUID, resourceID,
/// resourceName, extendParam, subJobs}, status: {phase, reason}}`, phases
/// `Initializing`/`Running`/`Success`/`Failed` for the timeline's `INIT`/`RUNNING`/`SUCCESS`/`FAIL`
/// (other words as written), times as Go prints them (`2020-02-02 08:12:40.672772389 +0000
/// UTC`), `updateTimestamp` the end once the job ended (its begin before), `clusterUID` from
/// `entities.cluster_id` (a sub-job without one names its parent's cluster), `resourceID` and
/// `resourceName` from `entities.resource_id`/`resource_name`, other entities in `extendParam`,
/// sub-jobs as whole CCE jobs, `reason` the `fail_reason` once failed.
fn cce_doc(
    job: &Job,
    state: &JobState<'_>,
    wall_start: SystemTime,
    parent_cluster: Option<&serde_json::Value>,
) -> serde_json::Value {
    let phase = match state.status {
        "INIT" => "Initializing",
        "RUNNING" => "Running",
        "SUCCESS" => "Success",
        "FAIL" => "Failed",
        other => other,
    };
    let time = |t: SystemTime| {
        let utc = humantime::format_rfc3339_nanos(t).to_string();
        format!(
            "{} +0000 UTC",
            utc.trim_end_matches('Z').replacen('T', " ", 1)
        )
    };
    let mut extend = job.entities.clone();
    let cluster = extend
        .remove("cluster_id")
        .or_else(|| parent_cluster.cloned());
    let resource_id = extend.remove("resource_id");
    let resource_name = extend.remove("resource_name");
    let mut spec = serde_json::Map::new();
    spec.insert("type".into(), job.job_type.clone().into());
    if let Some(cluster) = &cluster {
        spec.insert("clusterUID".into(), cluster.clone());
    }
    if let Some(id) = resource_id {
        spec.insert("resourceID".into(), id);
    }
    if let Some(name) = resource_name {
        spec.insert("resourceName".into(), name);
    }
    spec.insert("extendParam".into(), extend.into());
    if !job.sub_jobs.is_empty() {
        let subs: Vec<serde_json::Value> = job
            .sub_jobs
            .iter()
            .zip(&state.sub_jobs)
            .map(|(sub, sub_state)| cce_doc(sub, sub_state, wall_start, cluster.as_ref()))
            .collect();
        spec.insert("subJobs".into(), subs.into());
    }
    let reason = match state.status {
        "FAIL" => job.fail_reason.clone().unwrap_or_default(),
        _ => String::new(),
    };
    serde_json::json!({
        "kind": "Job",
        "apiVersion": "v3",
        "metadata": {
            "uid": job.id,
            "creationTimestamp": time(wall_start + state.begin),
            "updateTimestamp": time(wall_start + state.end.unwrap_or(state.begin)),
        },
        "spec": spec,
        "status": { "phase": phase, "reason": reason },
    })
}

// ---------------------------------------------------------------------------------------------
// Server state

struct JobEntry {
    job: Job,
    requests: AtomicU64,
    /// Microseconds since start of the first response that showed the job terminal;
    /// `u64::MAX` until then (updated with `fetch_min`, so racing responses keep the earliest).
    first_terminal_us: AtomicU64,
}

struct Shared {
    started: Instant,
    wall_start: SystemTime,
    project_id: Option<String>,
    auth: Option<Auth>,
    jobs: HashMap<String, JobEntry>,
    requests: AtomicU64,
    rejected_auth: AtomicU64,
    faults: Faults,
    dice: std::sync::Mutex<fastrand::Rng>,
    window: std::sync::Mutex<RateWindow>,
    faults_injected: AtomicU64,
    iam: Option<Iam>,
    tokens: Tokens,
    /// The job path templates served ([`templates`]).
    templates: Vec<String>,
}

/// Milliseconds as f64 (exact for whole milliseconds).
fn ms(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

impl Shared {
    fn stats(&self) -> Stats {
        let t = self.started.elapsed();
        let jobs = self
            .jobs
            .iter()
            .map(|(id, entry)| {
                let first = entry.first_terminal_us.load(Ordering::Relaxed);
                let stats = JobStats {
                    requests: entry.requests.load(Ordering::Relaxed),
                    terminal_at_ms: terminal_since(&entry.job, t).map(ms),
                    first_terminal_response_ms: (first != u64::MAX)
                        .then(|| ms(Duration::from_micros(first))),
                };
                (id.clone(), stats)
            })
            .collect::<BTreeMap<_, _>>();
        Stats {
            requests: self.requests.load(Ordering::Relaxed),
            rejected_auth: self.rejected_auth.load(Ordering::Relaxed),
            max_requests_per_second: self.window.lock().map(|w| w.peak).unwrap_or_default(),
            faults_injected: self.faults_injected.load(Ordering::Relaxed),
            tokens_issued: self.tokens.count(),
            jobs,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Faults

impl Shared {
    /// Applies the rate window and the fault plan to one request: `Some` is the faulty response
    /// to send instead of the real one.
    async fn inject_fault(&self) -> Option<Response> {
        let admitted = self
            .window
            .lock()
            .map(|mut w| w.admit(Instant::now(), self.faults.rate_limit))
            .unwrap_or(true);
        if !admitted {
            return Some(self.throttled());
        }
        let (roll, variant) = match self.dice.lock() {
            Ok(mut rng) => (rng.f64(), rng.f64()),
            Err(_) => return None,
        };
        match self.faults.pick(roll, variant) {
            Fault::None => None,
            Fault::Throttle => Some(self.throttled()),
            Fault::ServerError(500) => Some(respond_json(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({"error": {"code": "Ecs.0500", "message": "Internal server error."}}),
            )),
            Fault::ServerError(502) => {
                let mut r = respond(
                    StatusCode::BAD_GATEWAY,
                    &request_id(),
                    b"<html><body>502 Bad Gateway</body></html>".to_vec(),
                );
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
                Some(r)
            }
            Fault::ServerError(_) => Some(gateway_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "APIGW.0202",
                "The backend service is unavailable",
            )),
            Fault::Garbage => {
                let bodies: [&[u8]; 3] = [
                    br#"{"status":"RUNNING","job_id":"#,
                    b"<html>maintenance</html>",
                    b"\x00\xff{{",
                ];
                Some(respond(
                    StatusCode::OK,
                    &request_id(),
                    bodies[(variant * 3.0) as usize % 3].to_vec(),
                ))
            }
            Fault::Drop => {
                // A few bytes, a pause (so they leave), then the body fails: hyper aborts the
                // connection mid-response.
                use futures_util::StreamExt;
                let chunks: [Result<bytes::Bytes, std::io::Error>; 2] = [
                    Ok(bytes::Bytes::from_static(br#"{"status":"RUN"#)),
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "fault plan: connection dropped",
                    )),
                ];
                let body = futures_util::stream::iter(chunks).then(|chunk| async move {
                    if chunk.is_err() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    chunk
                });
                let mut r = Response::new(Body::from_stream(body));
                r.headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                Some(r)
            }
            Fault::Hang => {
                // Counted now: a hung request may never be answered (the client gives up).
                self.faults_injected.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(self.faults.hang_for).await;
                None
            }
        }
    }

    fn unauthorized(&self, why: &str) -> Response {
        self.rejected_auth.fetch_add(1, Ordering::Relaxed);
        gateway_error(
            StatusCode::UNAUTHORIZED,
            "APIGW.0301",
            &format!("Incorrect IAM authentication information: {why}"),
        )
    }

    /// The IAM endpoints; `None` when the request is not for IAM.
    async fn serve_iam(&self, iam: &Iam, parts: &Parts, body: Body) -> Option<Response> {
        match (&parts.method, parts.uri.path()) {
            (&Method::POST, "/v3/auth/tokens") => {
                let body = axum::body::to_bytes(body, MAX_BODY)
                    .await
                    .unwrap_or_default();
                Some(match self.tokens.issue(iam, &body) {
                    Ok((token, document)) => {
                        let mut r = respond_json(StatusCode::CREATED, &document);
                        if let Ok(value) = HeaderValue::from_str(&token) {
                            r.headers_mut().insert("x-subject-token", value);
                        }
                        r
                    }
                    Err(document) => {
                        self.rejected_auth.fetch_add(1, Ordering::Relaxed);
                        respond_json(StatusCode::UNAUTHORIZED, &document)
                    }
                })
            }
            (&Method::GET, "/v3/projects") => Some(match authorize(self, parts, body).await {
                Ok(()) => respond_json(
                    StatusCode::OK,
                    &super::iam::projects(iam, parts.uri.query()),
                ),
                Err(why) => self.unauthorized(&why),
            }),
            _ => None,
        }
    }

    fn throttled(&self) -> Response {
        let mut r = gateway_error(
            StatusCode::TOO_MANY_REQUESTS,
            "APIGW.0308",
            "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:5 minute",
        );
        if let Some(secs) = self.faults.retry_after {
            r.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

fn request_id() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

fn respond(status: StatusCode, request_id: &str, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", id);
    }
    response
}

fn respond_json(status: StatusCode, body: &impl Serialize) -> Response {
    let body = serde_json::to_vec(body).expect("responses serialize");
    respond(status, &request_id(), body)
}

/// The API gateway's error form: `{"error_code","error_msg","request_id"}`.
fn gateway_error(status: StatusCode, code: &str, msg: &str) -> Response {
    let id = request_id();
    let body = serde_json::json!({ "error_code": code, "error_msg": msg, "request_id": id });
    respond(status, &id, body.to_string().into_bytes())
}

fn not_found() -> Response {
    gateway_error(
        StatusCode::NOT_FOUND,
        "APIG.0101",
        "The API does not exist or has not been published in the environment",
    )
}

fn job_not_found(job_id: &str) -> Response {
    respond_json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({ "error": {
            "code": "Common.0011",
            "message": format!("Query job failed: job {job_id} does not exist"),
        }}),
    )
}

/// The task center's answer for an id it does not know: "DBS.200543, 400, The job does not
/// exist." (RDS API reference, "Error Codes"), in its `{"error_code","error_msg"}` form.
fn task_not_found() -> Response {
    respond_json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({"error_code": "DBS.200543", "error_msg": "The job does not exist."}),
    )
}

/// The task center's answer for a query without an id ("DBS.200001, 400, Parameter error.").
fn task_bad_request() -> Response {
    respond_json(
        StatusCode::BAD_REQUEST,
        &serde_json::json!({"error_code": "DBS.200001", "error_msg": "Parameter error."}),
    )
}

/// CCE's answer for a job id it does not know: "CCE.01404001, 404, Resource not found." (CCE
/// API reference, "Error Codes", `cce_02_0250`), in its `{"errorCode","errorMessage"}` form.
fn cce_not_found() -> Response {
    respond_json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"errorCode": "CCE.01404001", "errorMessage": "Resource not found."}),
    )
}

/// `path` (and `query`) matched against a job path template of [`crate::cloud::service`]
/// (`/v1/{project_id}/jobs/{job_id}`, `/v3/{project_id}/jobs?id={job_id}`…): `(project_id,
/// job_id)`, the job id `None` when a query template's parameter is missing or empty.
fn match_template<'a>(
    template: &str,
    path: &'a str,
    query: Option<&str>,
) -> Option<(&'a str, Option<String>)> {
    let (template_path, template_query) = match template.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (template, None),
    };
    let mut want = template_path.split('/').filter(|p| !p.is_empty());
    let mut got = path.strip_prefix('/')?.split('/');
    let (mut project, mut job) = (None, None);
    loop {
        match (want.next(), got.next()) {
            (None, None) => break,
            (Some("{project_id}"), Some(p)) if !p.is_empty() => project = Some(p),
            (Some("{job_id}"), Some(j)) if !j.is_empty() => job = Some(j.to_owned()),
            (Some(literal), Some(seg)) if literal == seg => {}
            _ => return None,
        }
    }
    if let Some(q) = template_query {
        let name = q.split_once('=').map_or(q, |(name, _)| name);
        job = task_id(query, name);
    }
    Some((project?, job))
}

/// The job path templates of every built-in service and of the scenario's `jobs` (their
/// described services'), each once (services share them).
fn templates(jobs: &[Job]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let builtin = crate::cloud::endpoint::Service::ALL
        .into_iter()
        .map(|s| s.api().path);
    for path in builtin.chain(jobs.iter().map(|j| j.service.path())) {
        if !out.iter().any(|p| p == path) {
            out.push(path.to_owned());
        }
    }
    out
}

/// What the API at `template` answers for a job id it does not know.
fn unknown_job(template: &str, job_id: &str) -> Response {
    use crate::cloud::service as api;
    match template {
        api::TASK_CENTER => task_not_found(),
        api::CCE => cce_not_found(),
        api::SFS_TURBO => sfs_turbo_not_found(),
        api::CBR => cbr_not_found(),
        api::CLASSIC => job_not_found(job_id),
        // DCS, ELB v3, classic ELB and the scenario's described services.
        _ => undocumented_not_found(template),
    }
}

/// SFS Turbo's answer for an id it does not know: "SFS.TURBO.0019, 404, Invalid Job Id" (SFS
/// Turbo error codes), in its `{"errCode","errMsg"}` form.
fn sfs_turbo_not_found() -> Response {
    respond_json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"errCode": "SFS.TURBO.0019", "errMsg": "Invalid Job Id"}),
    )
}

/// CBR's answer for an id it does not know ("Querying a Single Task", the 404 example).
fn cbr_not_found() -> Response {
    respond_json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error_code": "BackupService.6500",
                            "error_msg": "Operation log does not exist."}),
    )
}

/// DCS, ELB v3 and classic ELB document no answer for an unknown job id (and a described
/// service's is not described): a 404 in the
/// `{"error_code","error_msg"}` form with the simulator's own code `SIM.0404`, so that a test
/// never mistakes it for a documented one.
fn undocumented_not_found(template: &str) -> Response {
    respond_json(
        StatusCode::NOT_FOUND,
        &serde_json::json!({"error_code": "SIM.0404",
            "error_msg": format!("no such job at {template} (the simulator's answer: the API documents none)")}),
    )
}

/// The `name` parameter of a query (the task center's `id`), decoded; `None` when it is
/// missing or empty.
fn task_id(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, id)| id.into_owned())
        .filter(|id| !id.is_empty())
}

/// Checks the request against every credential the scenario accepts: tokens its IAM issued,
/// then its fixed token and AK/SK. `Err` is the reason for the 401.
async fn authorize(shared: &Shared, parts: &Parts, body: Body) -> Result<(), String> {
    if shared.iam.is_some() {
        if let Some(token) = parts
            .headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
        {
            match shared.tokens.check(token) {
                TokenCheck::Valid => return Ok(()),
                TokenCheck::Expired => return Err("the token has expired".to_owned()),
                TokenCheck::Unknown => {}
            }
        }
    }
    match &shared.auth {
        Some(auth) => authenticate(auth, parts, body).await,
        None if shared.iam.is_some() => {
            Err("x-auth-token not found or not issued by IAM".to_owned())
        }
        None => Ok(()),
    }
}

/// Checks the request against the scenario's fixed credentials.
async fn authenticate(auth: &Auth, parts: &Parts, body: Body) -> Result<(), String> {
    let token = parts.headers.get("x-auth-token");
    if let (Some(expected), Some(sent)) = (&auth.token, token) {
        if sent.as_bytes() == expected.expose().as_bytes() {
            return Ok(());
        }
    }
    let authorization = parts.headers.get("authorization");
    if let (Some((ak, sk)), Some(_)) = (&auth.aksk, authorization) {
        let body = axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|e| format!("cannot read the request body: {e}"))?;
        let headers: Vec<(&str, &str)> = parts
            .headers
            .iter()
            .filter_map(|(name, value)| value.to_str().ok().map(|v| (name.as_str(), v)))
            .collect();
        return verify(
            parts.method.as_str(),
            parts.uri.path(),
            parts.uri.query(),
            &headers,
            &body,
            |key| (key == ak).then(|| sk.clone()),
            SystemTime::now(),
        )
        .map(|_| ())
        .map_err(|e| format!("verify aksk signature fail, {e}"));
    }
    Err(match (&auth.token, token, &auth.aksk) {
        (Some(_), Some(_), _) => "decrypt token fail".to_owned(),
        (Some(_), None, None) => "x-auth-token not found".to_owned(),
        (None, _, Some(_)) => "Authorization header not found".to_owned(),
        _ => "neither X-Auth-Token nor Authorization header found".to_owned(),
    })
}

async fn dispatch(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path();
    if path == STATS_PATH && parts.method == Method::GET {
        return respond_json(StatusCode::OK, &shared.stats());
    }
    shared.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(response) = shared.inject_fault().await {
        shared.faults_injected.fetch_add(1, Ordering::Relaxed);
        return response;
    }
    if let Some(iam) = &shared.iam {
        if let Some(response) = shared.serve_iam(iam, &parts, body).await {
            return response;
        }
        return job_response(&shared, parts, Body::empty()).await;
    }
    job_response(&shared, parts, body).await
}

/// A job document, or the error the API gives instead.
async fn job_response(shared: &Shared, parts: Parts, body: Body) -> Response {
    let path = parts.uri.path();
    // Every template the request matches: services share some, and a job is found only at its
    // own service's.
    let routes: Vec<(&str, &str, Option<String>)> = match parts.method {
        Method::GET => shared
            .templates
            .iter()
            .filter_map(|template| {
                match_template(template, path, parts.uri.query())
                    .map(|(project, job)| (template.as_str(), project, job))
            })
            .collect(),
        _ => Vec::new(),
    };
    let Some((first, project, job_id)) = routes.first().cloned() else {
        tracing::debug!(method = %parts.method, path, "simulator: unknown API");
        return not_found();
    };
    if let Err(why) = authorize(shared, &parts, body).await {
        tracing::debug!(job_id, reason = %why, "simulator: rejected");
        return shared.unauthorized(&why);
    }
    let Some(job_id) = job_id else {
        return task_bad_request();
    };
    // A job is found only where its service's API serves it.
    let entry = shared.jobs.get(&job_id).filter(|entry| {
        shared.project_id.as_deref().is_none_or(|p| p == project)
            && routes.iter().any(|(template, _, id)| {
                *template == entry.job.service.path() && id.as_deref() == Some(&job_id)
            })
    });
    let template = entry.map_or(first, |entry| entry.job.service.path());
    let Some(entry) = entry else {
        return unknown_job(template, &job_id);
    };
    entry.requests.fetch_add(1, Ordering::Relaxed);
    let t = shared.started.elapsed();
    if is_hidden(&entry.job, t) {
        // GeminiDB shares the task center's path but answers an id it does not know (yet)
        // with an empty task list.
        if matches!(&entry.job.service, ServiceRef::Builtin(s) if s.api().shape == Shape::NosqlJobs)
        {
            return respond_json(
                StatusCode::OK,
                &serde_json::json!({"total_count": 0, "jobs": []}),
            );
        }
        return unknown_job(template, &job_id);
    }
    let state = job_state(&entry.job, t);
    if state.end.is_some() {
        let us = u64::try_from(t.as_micros()).unwrap_or(u64::MAX - 1);
        entry.first_terminal_us.fetch_min(us, Ordering::Relaxed);
    }
    tracing::trace!(job_id, status = state.status, "simulator: job polled");
    let (job, wall_start) = (&entry.job, shared.wall_start);
    let shape = match &entry.job.service {
        ServiceRef::Builtin(s) => s.api().shape,
        ServiceRef::Described(api) => {
            return respond_json(StatusCode::OK, &shapes::described_doc(api, job, &state))
        }
    };
    match shape {
        Shape::Classic => respond_json(StatusCode::OK, &job_doc(job, &state, wall_start)),
        Shape::RdsJob => respond_json(StatusCode::OK, &task_doc(job, &state, wall_start)),
        Shape::NosqlJobs => {
            respond_json(StatusCode::OK, &shapes::nosql_doc(job, &state, wall_start))
        }
        Shape::CceJob => respond_json(StatusCode::OK, &cce_doc(job, &state, wall_start, None)),
        Shape::DcsJob => respond_json(StatusCode::OK, &shapes::dcs_doc(job, &state, wall_start)),
        Shape::SfsTurboJob => respond_json(
            StatusCode::OK,
            &shapes::sfs_turbo_doc(job, &state, wall_start),
        ),
        Shape::ElbJob => {
            let id = request_id();
            let doc = shapes::elb_doc(job, &state, wall_start, &id);
            respond(StatusCode::OK, &id, doc.to_string().into_bytes())
        }
        Shape::CbrOperationLog => {
            respond_json(StatusCode::OK, &shapes::cbr_doc(job, &state, wall_start))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Start / stop

/// A running simulator. Dropping it asks the server to stop (without waiting).
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl SimHandle {
    /// The address the server listens on (with the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://IP:PORT`, with a loopback IP when the server listens on an unspecified address.
    pub fn base_url(&self) -> String {
        let mut addr = self.addr;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("http://{addr}")
    }

    /// A snapshot of the request counters and terminal times.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops accepting connections, lets open requests finish and awaits the server task (open
    /// connections get a few seconds, then the task is aborted).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(error = %e, "simulator stopped with an error"),
                Ok(Err(e)) => tracing::warn!(error = %e, "simulator task failed"),
                Err(_) => {
                    tracing::warn!("simulator connections still open after shutdown; aborting");
                    task.abort();
                }
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Bind `addr` (port 0 allowed) and serve the scenario in a spawned tokio task.
pub async fn start(scenario: Scenario, addr: SocketAddr) -> std::io::Result<SimHandle> {
    let started = Instant::now();
    let wall_start = SystemTime::now();

    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    // A deep backlog: benchmarks open thousands of connections at once.
    let listener = socket.listen(8192)?;
    let addr = listener.local_addr()?;

    let templates = templates(&scenario.jobs);
    let jobs = scenario
        .jobs
        .into_iter()
        .map(|job| {
            let entry = JobEntry {
                requests: AtomicU64::new(0),
                first_terminal_us: AtomicU64::new(u64::MAX),
                job,
            };
            (entry.job.id.clone(), entry)
        })
        .collect();
    let shared = Arc::new(Shared {
        templates,
        started,
        wall_start,
        project_id: scenario.project_id,
        auth: scenario.auth,
        jobs,
        requests: AtomicU64::new(0),
        rejected_auth: AtomicU64::new(0),
        dice: std::sync::Mutex::new(match scenario.faults.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        }),
        faults: scenario.faults,
        window: std::sync::Mutex::new(RateWindow::default()),
        faults_injected: AtomicU64::new(0),
        iam: scenario.iam,
        tokens: Tokens::default(),
    });

    let app = Router::new()
        .fallback(dispatch)
        .with_state(Arc::clone(&shared));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, app, stopped));
    tracing::info!(%addr, jobs = shared.jobs.len(), "simulator listening");
    Ok(SimHandle {
        addr,
        shared,
        stop: Some(stop),
        task: Some(task),
    })
}

/// Accepts connections until `stopped`, then lets the open ones finish their requests.
///
/// HTTP/1.1 only, by hyper's own connection builder rather than `axum::serve`: that one serves
/// HTTP/2 too (hyper-util's `auto` server), which put a second copy of h2, its server side, in
/// the static binary (issue 15) for a simulator whose clients speak HTTP/1.1 to a plain `http://`
/// address anyway.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    loop {
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                // A connection that went away before it was accepted: the next one.
                Err(e) if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) => continue,
                // Out of file descriptors, most likely (a benchmark's thousands of connections):
                // wait for some to close instead of spinning.
                Err(e) => {
                    tracing::debug!(error = %e, "simulator accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        let _ = tcp.set_nodelay(true);
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(tcp), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::signer;
    use crate::secret::Secret;
    use serde_json::Value;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn scenario(yaml: &str) -> Scenario {
        Scenario::from_yaml(yaml).unwrap()
    }

    /// The JSON document `GET /v1/{project_id}/jobs/{job_id}` returns for `job` at `t`.
    fn job_document(job: &Job, t: Duration, wall_start: SystemTime) -> Value {
        let state = job_state(job, t);
        serde_json::to_value(job_doc(job, &state, wall_start)).unwrap()
    }

    fn job(yaml: &str) -> Job {
        scenario(&format!("jobs: [ {yaml} ]")).jobs.remove(0)
    }

    // ---- the job document ----

    #[test]
    fn progress_reports_process_percent_until_the_end_as_ims_does() {
        let j = job("{ id: img, job_type: createImage, progress: true,
                timeline: [ { status: INIT, for: 2s }, { status: RUNNING, for: 8s }, { status: SUCCESS } ] }");
        let percent = |t: f64| {
            job_document(&j, secs(t), SystemTime::UNIX_EPOCH)["entities"]["process_percent"].clone()
        };
        assert_eq!(percent(0.0), 0);
        assert_eq!(percent(2.5), 25);
        assert_eq!(percent(9.99), 99);
        assert_eq!(percent(10.0), 100);
        let plain =
            job("{ id: v, timeline: [ { status: RUNNING, for: 1s }, { status: SUCCESS } ] }");
        let doc = job_document(&plain, secs(0.5), SystemTime::UNIX_EPOCH);
        assert!(doc["entities"].get("process_percent").is_none(), "{doc}");
        let never_ends =
            Scenario::from_yaml("jobs: [ { id: x, progress: true, status: RUNNING } ]");
        assert_eq!(
            never_ends.unwrap_err().to_string(),
            "invalid scenario: job x: progress: needs a timeline that reaches SUCCESS or FAIL"
        );
    }

    #[test]
    fn task_center_document_for_rds_jobs() {
        let j = job(
            "{ id: t1, service: rds, job_type: CreateMysqlSingleHAInstance, progress: true,
                fail_reason: createVM failed., error_code: Ecs.0013,
                entities: { instance_id: in01, instance_name: db1, public_ip: 10.0.0.1 },
                timeline: [ { status: RUNNING, for: 10s }, { status: FAIL } ] }",
        );
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_533_552_074); // 2018-08-06T10:41:14Z
        let doc =
            |t: f64| serde_json::to_value(task_doc(&j, &job_state(&j, secs(t)), wall)).unwrap();
        let running = doc(6.0);
        let j1 = &running["job"];
        assert_eq!(j1["id"], "t1");
        assert_eq!(j1["name"], "CreateMysqlSingleHAInstance");
        assert_eq!(j1["status"], "Running");
        assert_eq!(j1["created"], "2018-08-06T10:41:14+0000");
        assert!(j1.get("ended").is_none(), "{running}");
        assert_eq!(j1["process"], "60");
        assert_eq!(
            j1["instance"],
            serde_json::json!({"id": "in01", "name": "db1"})
        );
        assert_eq!(j1["entities"], serde_json::json!({"public_ip": "10.0.0.1"}));
        assert!(j1.get("fail_reason").is_none());
        let failed = doc(11.0);
        let j1 = &failed["job"];
        assert_eq!(j1["status"], "Failed");
        assert_eq!(j1["ended"], "2018-08-06T10:41:24+0000");
        assert_eq!(j1["process"], "");
        assert_eq!(j1["fail_reason"], "createVM failed.");
        assert!(j1.get("error_code").is_none(), "the task center has none");
        // What the client reads of it.
        let parsed = crate::cloud::shapes::rds_job(failed.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.end_time(), Some("2018-08-06T10:41:24Z"));
        assert_eq!(parsed.entities.get("instance_id").unwrap(), "in01");
        let ok = job("{ id: t2, service: dds, status: SUCCESS }");
        let done = serde_json::to_value(task_doc(&ok, &job_state(&ok, secs(1.0)), wall)).unwrap();
        assert_eq!(done["job"]["status"], "Completed");
        assert!(done["job"].get("instance").is_none());
        for (yaml, error) in [
            ("{ id: x, service: rds, status: SUCCESS, sub_jobs: [ { id: s, status: SUCCESS } ] }",
             "job x: sub_jobs: the rds job document has no sub-jobs"),
            ("{ id: x, service: mongo, status: SUCCESS }", "job x: service: unknown service `mongo`"),
            ("{ id: x, sub_jobs: [ { id: s, service: rds, status: SUCCESS } ] }",
             "job s: service: only allowed on top-level jobs"),
        ] {
            let err = Scenario::from_yaml(&format!("jobs: [ {yaml} ]")).unwrap_err().to_string();
            assert!(err.contains(error), "{err}");
        }
    }

    #[test]
    fn cce_document_for_cce_jobs() {
        let j = job(
            "{ id: c1, service: cce, job_type: CreateCluster, fail_reason: sub-job failed,
                entities: { cluster_id: cl1, resource_id: r1, flavor: small },
                timeline: [ { status: INIT, for: 1s }, { status: RUNNING, for: 9s }, { status: FAIL } ],
                sub_jobs: [ { id: s1, job_type: InstallMaster, status: SUCCESS },
                            { id: s2, job_type: CreateVM, fail_reason: quota,
                              entities: { cluster_id: other },
                              timeline: [ { status: RUNNING, for: 5s }, { status: FAIL } ] } ] }",
        );
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_580_631_160); // 2020-02-02T08:12:40Z
        let doc = |t: f64| cce_doc(&j, &job_state(&j, secs(t)), wall, None);
        let init = doc(0.5);
        assert_eq!(init["kind"], "Job");
        assert_eq!(init["apiVersion"], "v3");
        assert_eq!(init["metadata"]["uid"], "c1");
        assert_eq!(
            init["metadata"]["creationTimestamp"],
            "2020-02-02 08:12:40.000000000 +0000 UTC"
        );
        assert_eq!(
            init["status"],
            serde_json::json!({"phase": "Initializing", "reason": ""})
        );
        assert_eq!(init["spec"]["type"], "CreateCluster");
        assert_eq!(init["spec"]["clusterUID"], "cl1");
        assert_eq!(init["spec"]["resourceID"], "r1");
        assert_eq!(
            init["spec"]["extendParam"],
            serde_json::json!({"flavor": "small"})
        );
        let subs = init["spec"]["subJobs"].as_array().unwrap();
        assert_eq!(subs[0]["spec"]["clusterUID"], "cl1", "the parent's cluster");
        assert_eq!(subs[0]["status"]["phase"], "Success");
        assert_eq!(subs[1]["spec"]["clusterUID"], "other");
        assert_eq!(subs[1]["status"]["phase"], "Running");
        let failed = doc(11.0);
        assert_eq!(failed["status"]["phase"], "Failed");
        assert_eq!(failed["status"]["reason"], "sub-job failed");
        assert_eq!(
            failed["metadata"]["updateTimestamp"],
            "2020-02-02 08:12:50.000000000 +0000 UTC"
        );
        assert_eq!(failed["spec"]["subJobs"][1]["status"]["reason"], "quota");
        // What the client reads of it.
        let parsed = crate::cloud::shapes::cce_job(failed.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.status.as_str(), "FAIL");
        assert_eq!(parsed.end_time(), Some("2020-02-02T08:12:50.000Z"));
        assert_eq!(parsed.entities.get("cluster_id").unwrap(), "cl1");
        assert_eq!(parsed.entities.sub_jobs.len(), 2);
        assert_eq!(
            parsed.entities.sub_jobs[1].fail_reason.as_deref(),
            Some("quota")
        );
        assert_eq!(doc(6.0)["status"]["phase"], "Running");
    }

    #[test]
    fn document_shape_and_times() {
        let j = job(
            "{ id: p, job_type: createServer, error_code: Ecs.0013, fail_reason: quota, entities: { extra: 1 },
               sub_jobs: [
                 { id: a, job_type: createSingleServer, entities: { server_id: s1, nic_id: n1 },
                   timeline: [ { status: RUNNING, for: 1500ms }, { status: SUCCESS } ] },
                 { id: b, job_type: createSingleServer, error_code: Ecs.0013, fail_reason: quota,
                   timeline: [ { status: RUNNING, for: 2s }, { status: FAIL } ] } ] }",
        );
        let wall = SystemTime::UNIX_EPOCH + Duration::from_millis(1_461_614_674_604); // 2016-04-25T20:04:34.604Z
        let running = job_document(&j, secs(1.0), wall);
        assert_eq!(running["status"], "RUNNING");
        assert_eq!(running["begin_time"], "2016-04-25T20:04:34.604Z");
        assert_eq!(running["end_time"], "");
        assert_eq!(running["error_code"], Value::Null);
        assert_eq!(running["fail_reason"], Value::Null);
        assert_eq!(running["entities"]["sub_jobs_total"], 2);
        assert_eq!(running["entities"]["extra"], 1);
        assert_eq!(
            running["entities"]["sub_jobs"][1]["error_code"],
            Value::Null
        );

        let done = job_document(&j, secs(3.0), wall);
        assert_eq!(done["status"], "FAIL");
        assert_eq!(done["end_time"], "2016-04-25T20:04:36.604Z");
        assert_eq!(done["error_code"], "Ecs.0013");
        assert_eq!(done["fail_reason"], "quota");
        let a = &done["entities"]["sub_jobs"][0];
        assert_eq!(a["status"], "SUCCESS");
        assert_eq!(a["job_id"], "a");
        assert_eq!(a["job_type"], "createSingleServer");
        assert_eq!(a["end_time"], "2016-04-25T20:04:36.104Z");
        assert_eq!(a["entities"]["server_id"], "s1");
        assert_eq!(a["entities"]["nic_id"], "n1");
        assert!(a["entities"].get("sub_jobs").is_none());
        let b = &done["entities"]["sub_jobs"][1];
        assert_eq!(b["error_code"], "Ecs.0013");
        let keys: Vec<&str> = done
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        for key in [
            "status",
            "job_id",
            "job_type",
            "begin_time",
            "end_time",
            "error_code",
            "fail_reason",
            "entities",
        ] {
            assert!(keys.contains(&key), "{key} missing in {done}");
        }
        assert_eq!(keys.len(), 8);
    }

    #[test]
    fn job_paths() {
        use crate::cloud::service::{CBR, CLASSIC, ELB, SFS_TURBO, TASK_CENTER};
        let job = |p: &str| Some(("p", Some(p.to_owned())));
        assert_eq!(match_template(CLASSIC, "/v1/p/jobs/j", None), job("j"));
        for bad in [
            "/v1/p/jobs/j/",
            "/v1/p/jobs/",
            "/v2/p/jobs/j",
            "/v1/p/servers/j",
            "/v1//jobs/j",
            "/v1/p/sfs-turbo/jobs/j",
        ] {
            assert_eq!(match_template(CLASSIC, bad, None), None, "{bad}");
        }
        assert_eq!(
            match_template(SFS_TURBO, "/v1/p/sfs-turbo/jobs/j", None),
            job("j")
        );
        assert_eq!(match_template(ELB, "/v3/p/elb/jobs/j", None), job("j"));
        assert_eq!(match_template(ELB, "/v3/p/jobs", Some("id=j")), None);
        assert_eq!(
            match_template(CBR, "/v3/p/operation-logs/j", None),
            job("j")
        );
        assert_eq!(
            match_template(TASK_CENTER, "/v3/p/jobs", Some("id=a%26b")),
            job("a&b")
        );
        assert_eq!(
            match_template(TASK_CENTER, "/v3/p/jobs", Some("x=1")),
            Some(("p", None))
        );
        assert_eq!(match_template(TASK_CENTER, "/v3/p/elb/jobs/j", None), None);
        // Every service's template is served, and no two overlap.
        let all = templates(&[]);
        for t in &all {
            let filled = t.replace("{project_id}", "p").replace("{job_id}", "j");
            let (path, query) = match filled.split_once('?') {
                Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
                None => (filled.clone(), None),
            };
            let hits: Vec<_> = all
                .iter()
                .filter(|other| match_template(other, &path, query.as_deref()).is_some())
                .collect();
            assert_eq!(hits, [t], "{filled}");
        }
    }

    // ---- HTTP ----

    const PROJECT: &str = "0123456789abcdef0123456789abcdef";

    async fn serve(yaml: &str) -> SimHandle {
        start(scenario(yaml), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap()
    }

    async fn get(
        client: &reqwest::Client,
        url: &str,
        headers: &[(&str, &str)],
    ) -> (u16, String, Value) {
        let mut req = client.get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = resp.text().await.unwrap();
        let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        (status, ctype, json)
    }

    fn job_url(sim: &SimHandle, job: &str) -> String {
        format!("{}/v1/{PROJECT}/jobs/{job}", sim.base_url())
    }

    fn is_request_id(v: &Value) -> bool {
        v.as_str()
            .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    #[tokio::test]
    async fn http_job_document_has_the_api_field_names() {
        let sim = serve(
            "jobs:
  - id: ff80808288d41e1b018a0b1c2d3e4f50
    job_type: createServer
    status: RUNNING
    entities: { volume_id: v1 }
    sub_jobs:
      - { id: s1, job_type: createSingleServer, status: SUCCESS, entities: { server_id: srv, nic_id: nic } }",
        )
        .await;
        assert!(sim.base_url().starts_with("http://127.0.0.1:"));
        assert_eq!(
            sim.base_url(),
            format!("http://127.0.0.1:{}", sim.addr().port())
        );
        let client = reqwest::Client::new();
        let (status, ctype, doc) = get(
            &client,
            &job_url(&sim, "ff80808288d41e1b018a0b1c2d3e4f50"),
            &[],
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(ctype, "application/json");
        assert_eq!(doc["status"], "RUNNING");
        assert_eq!(doc["job_id"], "ff80808288d41e1b018a0b1c2d3e4f50");
        assert_eq!(doc["job_type"], "createServer");
        assert!(doc["begin_time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(doc["begin_time"].as_str().unwrap().len(), 24);
        assert_eq!(doc["end_time"], "");
        assert_eq!(doc["error_code"], Value::Null);
        assert_eq!(doc["fail_reason"], Value::Null);
        assert_eq!(doc["entities"]["volume_id"], "v1");
        assert_eq!(doc["entities"]["sub_jobs_total"], 1);
        let sub = &doc["entities"]["sub_jobs"][0];
        assert_eq!(sub["status"], "SUCCESS");
        assert_eq!(sub["job_id"], "s1");
        assert_eq!(sub["job_type"], "createSingleServer");
        assert_eq!(sub["entities"]["server_id"], "srv");
        assert_eq!(sub["entities"]["nic_id"], "nic");
        assert_eq!(sub["end_time"], sub["begin_time"]);
        assert_eq!(sub["error_code"], Value::Null);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn http_running_then_success_and_stats() {
        // the client first: building it can take a while on a loaded machine
        let client = reqwest::Client::new();
        let sim = serve(
            "jobs:
  - { id: j1, job_type: createVolume, timeline: [ { status: RUNNING, for: 400ms }, { status: SUCCESS } ] }
  - { id: j2, status: RUNNING }",
        )
        .await;
        let url = job_url(&sim, "j1");
        let (status, _, doc) = get(&client, &url, &[]).await;
        assert_eq!((status, doc["status"].as_str()), (200, Some("RUNNING")));
        assert_eq!(doc["end_time"], "");
        let stats = sim.stats();
        assert_eq!(stats.jobs["j1"].terminal_at_ms, None);
        assert_eq!(stats.jobs["j1"].first_terminal_response_ms, None);

        let deadline = Instant::now() + Duration::from_secs(5);
        let doc = loop {
            let (_, _, doc) = get(&client, &url, &[]).await;
            if doc["status"] == "SUCCESS" {
                break doc;
            }
            assert!(Instant::now() < deadline, "never became SUCCESS: {doc}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(doc["end_time"].as_str().unwrap().ends_with('Z'));
        assert!(doc["end_time"].as_str().unwrap() > doc["begin_time"].as_str().unwrap());

        let stats = sim.stats();
        let j1 = &stats.jobs["j1"];
        assert!(j1.requests >= 2);
        assert_eq!(stats.requests, j1.requests);
        assert_eq!(j1.terminal_at_ms, Some(400.0));
        let first = j1.first_terminal_response_ms.unwrap();
        assert!(first >= 400.0, "{first}");
        assert_eq!(stats.jobs["j2"].requests, 0);
        assert_eq!(stats.jobs["j2"].terminal_at_ms, None);

        // the first terminal response stays the first one
        get(&client, &url, &[]).await;
        assert_eq!(
            sim.stats().jobs["j1"].first_terminal_response_ms,
            Some(first)
        );

        // the same over HTTP, not counted as a request
        let before = sim.stats().requests;
        let (status, ctype, json) =
            get(&client, &format!("{}{STATS_PATH}", sim.base_url()), &[]).await;
        assert_eq!((status, ctype.as_str()), (200, "application/json"));
        assert_eq!(json["requests"], before);
        assert_eq!(json["rejected_auth"], 0);
        assert_eq!(json["jobs"]["j1"]["terminal_at_ms"], 400.0);
        // (serde_json's default float parsing may differ in the last bit)
        let over_http = json["jobs"]["j1"]["first_terminal_response_ms"]
            .as_f64()
            .unwrap();
        assert!((over_http - first).abs() < 1e-6, "{over_http} vs {first}");
        assert_eq!(
            json["jobs"]["j2"]["first_terminal_response_ms"],
            Value::Null
        );
        assert_eq!(sim.stats().requests, before);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn http_unknown_job_is_400_common_0011() {
        let sim = serve(&format!(
            "project_id: {PROJECT}\njobs: [ {{ id: known, status: SUCCESS }}, {{ id: late, status: SUCCESS, not_found_for: 1h }} ]"
        ))
        .await;
        let client = reqwest::Client::new();
        for url in [
            job_url(&sim, "nope"),
            job_url(&sim, "late"),
            format!("{}/v1/otherproject/jobs/known", sim.base_url()),
        ] {
            let (status, ctype, body) = get(&client, &url, &[]).await;
            assert_eq!(status, 400, "{url}");
            assert_eq!(ctype, "application/json");
            assert_eq!(body["error"]["code"], "Common.0011", "{body}");
            assert!(body["error"]["message"].is_string());
        }
        let (status, _, _) = get(&client, &job_url(&sim, "known"), &[]).await;
        assert_eq!(status, 200);
        let stats = sim.stats();
        assert_eq!(stats.requests, 4);
        assert_eq!(stats.jobs["late"].requests, 1);
        assert_eq!(stats.jobs["known"].requests, 1);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn http_rds_jobs_are_served_at_the_task_center_path_only() {
        let client = reqwest::Client::new();
        let sim = serve(&format!(
            "project_id: {PROJECT}
jobs:
  - {{ id: classic, status: SUCCESS }}
  - {{ id: \"db/1 &x\", service: rds, status: RUNNING, entities: {{ instance_id: in01 }} }}
  - {{ id: late, service: rds, status: SUCCESS, not_found_for: 1h }}"
        ))
        .await;
        let task = |id: &str| {
            let mut url =
                url::Url::parse(&format!("{}/v3/{PROJECT}/jobs", sim.base_url())).unwrap();
            url.query_pairs_mut().append_pair("id", id);
            url.to_string()
        };
        let (status, _, doc) = get(&client, &task("db/1 &x"), &[]).await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["job"]["status"], "Running");
        assert_eq!(doc["job"]["instance"]["id"], "in01");
        for url in [task("nope"), task("late"), task("classic")] {
            let (status, _, body) = get(&client, &url, &[]).await;
            assert_eq!(status, 400, "{url}");
            assert_eq!(body["error_code"], "DBS.200543", "{body}");
            assert_eq!(body["error_msg"], "The job does not exist.");
        }
        let (status, _, body) = get(&client, &job_url(&sim, "db%2F1%20%26x"), &[]).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &Value::from("Common.0011"))
        );
        let (status, _, body) = get(
            &client,
            &format!("{}/v3/{PROJECT}/jobs", sim.base_url()),
            &[],
        )
        .await;
        assert_eq!(
            (status, &body["error_code"]),
            (400, &Value::from("DBS.200001"))
        );
        let (status, _, doc) = get(&client, &job_url(&sim, "classic"), &[]).await;
        assert_eq!((status, &doc["status"]), (200, &Value::from("SUCCESS")));
        let stats = sim.stats();
        assert_eq!(stats.jobs["db/1 &x"].requests, 1);
        assert_eq!(stats.jobs["late"].requests, 1);
        assert_eq!(stats.jobs["classic"].requests, 1);
        assert_eq!(stats.requests, 7);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn http_cce_jobs_are_served_at_the_cce_path_only() {
        let client = reqwest::Client::new();
        let sim = serve(&format!(
            "project_id: {PROJECT}
jobs:
  - {{ id: classic, status: SUCCESS }}
  - {{ id: c1, service: cce, status: RUNNING, entities: {{ cluster_id: cl1 }} }}
  - {{ id: late, service: cce, status: SUCCESS, not_found_for: 1h }}"
        ))
        .await;
        let cce = |id: &str| format!("{}/api/v3/projects/{PROJECT}/jobs/{id}", sim.base_url());
        let (status, _, doc) = get(&client, &cce("c1"), &[]).await;
        assert_eq!(status, 200, "{doc}");
        assert_eq!(doc["status"]["phase"], "Running");
        assert_eq!(doc["spec"]["clusterUID"], "cl1");
        for url in [cce("nope"), cce("late"), cce("classic")] {
            let (status, _, body) = get(&client, &url, &[]).await;
            assert_eq!(status, 404, "{url}");
            assert_eq!(body["errorCode"], "CCE.01404001", "{body}");
            assert_eq!(body["errorMessage"], "Resource not found.");
        }
        let (status, _, body) = get(&client, &job_url(&sim, "c1"), &[]).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &Value::from("Common.0011"))
        );
        let (status, _, body) = get(
            &client,
            &format!("{}/api/v3/projects/{PROJECT}/jobs", sim.base_url()),
            &[],
        )
        .await;
        assert_eq!(
            (status, &body["error_code"]),
            (404, &Value::from("APIG.0101"))
        );
        let stats = sim.stats();
        assert_eq!(stats.jobs["c1"].requests, 1);
        assert_eq!(stats.jobs["late"].requests, 1);
        assert_eq!(stats.jobs["classic"].requests, 0);
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn http_unknown_path_is_404_apig_0101() {
        let sim = serve("auth: { token: t }\njobs: [ { id: j, status: SUCCESS } ]").await;
        let client = reqwest::Client::new();
        for path in ["/", "/v1/p/servers/j", "/v1/p/jobs/j/extra", "/v3/projects"] {
            let (status, ctype, body) =
                get(&client, &format!("{}{path}", sim.base_url()), &[]).await;
            assert_eq!(status, 404, "{path}");
            assert_eq!(ctype, "application/json");
            assert_eq!(body["error_code"], "APIG.0101");
            assert_eq!(
                body["error_msg"],
                "The API does not exist or has not been published in the environment"
            );
            assert!(is_request_id(&body["request_id"]), "{body}");
        }
        // a wrong method on the job path is the same 404
        let resp = client
            .post(job_url(&sim, "j"))
            .header("x-auth-token", "t")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 404);
        let body: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(body["error_code"], "APIG.0101");
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn http_token_auth() {
        let sim = serve("auth: { token: demo-token }\njobs: [ { id: j, status: SUCCESS } ]").await;
        let client = reqwest::Client::new();
        let url = job_url(&sim, "j");
        let (status, _, doc) = get(&client, &url, &[("X-Auth-Token", "demo-token")]).await;
        assert_eq!((status, doc["status"].as_str()), (200, Some("SUCCESS")));

        for headers in [vec![], vec![("X-Auth-Token", "wrong-token")]] {
            let (status, ctype, body) = get(&client, &url, &headers).await;
            assert_eq!(status, 401);
            assert_eq!(ctype, "application/json");
            assert_eq!(body["error_code"], "APIGW.0301");
            let msg = body["error_msg"].as_str().unwrap();
            assert!(
                msg.starts_with("Incorrect IAM authentication information: "),
                "{msg}"
            );
            assert!(
                !msg.contains("demo-token") && !msg.contains("wrong-token"),
                "{msg}"
            );
            assert!(is_request_id(&body["request_id"]), "{body}");
        }
        let stats = sim.stats();
        assert_eq!((stats.requests, stats.rejected_auth), (3, 2));
        assert_eq!(stats.jobs["j"].requests, 1);
        // the stats endpoint needs no auth
        let (status, _, _) = get(&client, &format!("{}/_sim/stats", sim.base_url()), &[]).await;
        assert_eq!(status, 200);
        sim.shutdown().await;
    }

    async fn signed_get(
        client: &reqwest::Client,
        sim: &SimHandle,
        path: &str,
        ak: &str,
        sk: &str,
    ) -> (u16, Value) {
        let host = format!("127.0.0.1:{}", sim.addr().port());
        let date = signer::sdk_date(SystemTime::now());
        let headers = [("Host", host.as_str()), ("X-Sdk-Date", date.as_str())];
        let signed = signer::sign("GET", path, None, &headers, b"", ak, &Secret::new(sk));
        let resp = client
            .get(format!("{}{path}", sim.base_url()))
            .header("X-Sdk-Date", &date)
            .header("Authorization", &signed.authorization)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (
            status,
            serde_json::from_str(&resp.text().await.unwrap()).unwrap(),
        )
    }

    #[tokio::test]
    async fn http_aksk_auth() {
        let sim = serve(
            "auth: { token: demo-token, ak: AKDEMO, sk: SKDEMO }\njobs: [ { id: j, status: SUCCESS } ]",
        )
        .await;
        let client = reqwest::Client::new();
        let path = format!("/v1/{PROJECT}/jobs/j");
        let (status, doc) = signed_get(&client, &sim, &path, "AKDEMO", "SKDEMO").await;
        assert_eq!(
            (status, doc["status"].as_str()),
            (200, Some("SUCCESS")),
            "{doc}"
        );

        let (status, body) = signed_get(&client, &sim, &path, "AKDEMO", "WRONGSK").await;
        assert_eq!(status, 401);
        assert_eq!(body["error_code"], "APIGW.0301");
        let msg = body["error_msg"].as_str().unwrap();
        assert!(msg.contains("signature"), "{msg}");
        assert!(!msg.contains("SKDEMO") && !msg.contains("WRONGSK"), "{msg}");

        let (status, body) = signed_get(&client, &sim, &path, "AKOTHER", "SKDEMO").await;
        assert_eq!(status, 401);
        assert!(!body["error_msg"].as_str().unwrap().contains("SKDEMO"));

        // the token still works next to AK/SK
        let (status, _, _) = get(
            &client,
            &job_url(&sim, "j"),
            &[("X-Auth-Token", "demo-token")],
        )
        .await;
        assert_eq!(status, 200);
        let stats = sim.stats();
        assert_eq!((stats.requests, stats.rejected_auth), (4, 2));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn http_many_jobs_polled_concurrently() {
        let mut yaml = String::from("jobs:\n");
        for i in 0..2000 {
            yaml.push_str(&format!(
                "  - {{ id: job{i}, timeline: [ {{ status: RUNNING, for: 100ms }}, {{ status: SUCCESS }} ] }}\n"
            ));
        }
        let sim = serve(&yaml).await;
        let client = reqwest::Client::new();
        let base = sim.base_url();
        let tasks: Vec<_> = (0..2000)
            .map(|i| {
                let client = client.clone();
                let url = format!("{base}/v1/p/jobs/job{i}");
                tokio::spawn(async move {
                    let resp = client.get(url).send().await.unwrap();
                    assert_eq!(resp.status().as_u16(), 200);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        let stats = sim.stats();
        assert_eq!(stats.requests, 2000);
        assert!(stats.jobs.values().all(|j| j.requests == 1));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn dropping_the_handle_stops_the_server() {
        let sim = serve("jobs: [ { id: j, status: SUCCESS } ]").await;
        let addr = sim.addr();
        drop(sim);
        let deadline = Instant::now() + Duration::from_secs(5);
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            assert!(Instant::now() < deadline, "still listening");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn fault_sim(faults: &str) -> SimHandle {
        serve(&format!(
            "faults: {faults}\njobs: [{{ id: j1, status: RUNNING }}]"
        ))
        .await
    }

    #[tokio::test]
    async fn http_fault_plan_server_errors_garbage_and_drops() {
        let client = reqwest::Client::new();
        let sim = fault_sim("{ error_5xx: 1.0, seed: 7 }").await;
        for _ in 0..6 {
            let resp = client.get(job_url(&sim, "j1")).send().await.unwrap();
            assert!(
                [500, 502, 503].contains(&resp.status().as_u16()),
                "{}",
                resp.status()
            );
        }
        assert_eq!(sim.stats().faults_injected, 6);

        let sim = fault_sim("{ garbage: 1.0 }").await;
        let resp = client.get(job_url(&sim, "j1")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.bytes().await.unwrap();
        assert!(
            crate::cloud::wire::Job::from_slice(&body).is_err(),
            "{body:?}"
        );

        let sim = fault_sim("{ drop: 1.0 }").await;
        let result = async { client.get(job_url(&sim, "j1")).send().await?.bytes().await }.await;
        assert!(
            result.is_err(),
            "a dropped connection must be an error: {result:?}"
        );
    }

    #[tokio::test]
    async fn http_fault_plan_hangs_past_the_client_timeout() {
        let sim = fault_sim("{ hang: 1.0, hang_for: 5s }").await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let err = client.get(job_url(&sim, "j1")).send().await.unwrap_err();
        assert!(err.is_timeout(), "{err}");
    }

    #[tokio::test]
    async fn http_rate_limit_throttles_with_retry_after_and_measures_the_peak() {
        let client = reqwest::Client::new();
        let sim = fault_sim("{ rate_limit: 5, retry_after: 2 }").await;
        let mut codes = Vec::new();
        for _ in 0..8 {
            let resp = client.get(job_url(&sim, "j1")).send().await.unwrap();
            codes.push(resp.status().as_u16());
            if resp.status() == 429 {
                assert_eq!(resp.headers()["retry-after"], "2");
                let body: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
                assert_eq!(body["error_code"], "APIGW.0308");
            }
        }
        assert_eq!(codes, [200, 200, 200, 200, 200, 429, 429, 429]);
        let stats = sim.stats();
        assert_eq!(
            stats.max_requests_per_second, 5,
            "throttled requests are not admitted"
        );
        assert_eq!(stats.faults_injected, 3);

        let sim = fault_sim("{ throttle: 1.0 }").await;
        let resp = client.get(job_url(&sim, "j1")).send().await.unwrap();
        assert_eq!(resp.status(), 429);
        assert!(resp.headers().get("retry-after").is_none());
    }
}
