//! The project id of the project named `project_name` (else the region), from IAM, at the
//! start of a wait whose spec gave no `project_id` — under the same deadline, retry policy and
//! signals as the polls.
//!
//! And under the same unreachable rule as the engine's hosts: an IAM URL that never answers is
//! as much a wrong endpoint as a service's, and waiting the whole deadline on "(no answer yet)"
//! hides it. Only connection-level failures count (a slow or failing answer proves the host is
//! there), the clock starts at the first request, the one `cannot reach HOST` warning is the
//! engine's, and after `retry.unreachable_after` every job ends as errored with the cause.

use tokio::sync::watch;
use tokio::time::Instant;

use crate::exit::Signal;
use crate::spec::Plan;
use crate::{cloud, sanitize, wait};

/// The project id of the project named `name`, from IAM, under the same rules as a poll:
/// retryable errors are retried on the poll back-off (honouring `Retry-After`), the overall
/// deadline bounds it, and a signal stops it. `Err` is every job's outcome and reason.
pub(super) async fn find_project(
    plan: &Plan,
    client: &cloud::client::Client,
    iam: &url::Url,
    name: &str,
    start: Instant,
    mut interrupts: watch::Receiver<Option<Signal>>,
) -> Result<Option<String>, (wait::Outcome, String)> {
    use cloud::client::ErrorClass;
    let deadline = start + plan.timeout;
    let mut backoff = wait::backoff::Backoff::new(plan.poll, fastrand::u64(..));
    let mut last_error = None;
    let host = cloud::auth::host_header(iam);
    // The clock of `retry.unreachable_after` starts with the first request; `None` once IAM
    // has answered anything.
    let mut cut_off = Some(
        Instant::now()
            .checked_add(plan.unreachable_after)
            .unwrap_or(deadline),
    );
    let mut warned = false;
    loop {
        let timeout = plan
            .request_timeout
            .min(deadline.saturating_duration_since(Instant::now()));
        let attempt = tokio::select! {
            biased;
            _ = interrupts.wait_for(Option::is_some) => None,
            () = tokio::time::sleep_until(deadline) => Some(None),
            found = client.discover_project(iam, name, timeout) => Some(Some(found)),
        };
        let failed = match attempt {
            None => {
                let reason = interrupts
                    .borrow()
                    .map(wait::cancelled_by)
                    .unwrap_or_default();
                return Err((wait::Outcome::Cancelled, reason));
            }
            Some(None) => None,
            Some(Some(Ok(id))) => {
                tracing::info!(project_id = %sanitize::Clean(&id), project_name = %sanitize::Clean(name), "project found in IAM");
                return Ok(Some(id));
            }
            Some(Some(Err(e))) => Some(e),
        };
        let waited =
            humantime::format_duration(std::time::Duration::from_secs(start.elapsed().as_secs()));
        let place = format!(
            "project discovery from IAM ({})",
            cloud::endpoint::redacted(iam)
        );
        let Some(err) = failed else {
            let last = last_error.map_or_else(String::new, |e| format!(" (last error: {e})"));
            return Err((
                wait::Outcome::Errored,
                format!("no verdict after {waited}: {place} did not finish{last}"),
            ));
        };
        // As in the engine: any answer proves the host is there; a slow reply is neither proof
        // nor a sign that it is unreachable.
        if err.answered() {
            cut_off = None;
        } else if !err.reached() && cut_off.is_some() {
            if !warned {
                wait::warn_unreachable(&host, &err, plan.unreachable_after);
                warned = true;
            }
            if cut_off.is_some_and(|at| Instant::now() >= at) {
                let reason = wait::unreachable_reason(&host, Some(&err), plan.unreachable_after);
                return Err((wait::Outcome::Errored, format!("{place}: {reason}")));
            }
        }
        match err.class() {
            ErrorClass::Retryable | ErrorClass::Throttled => {
                if err.reached() {
                    tracing::warn!(error = %sanitize::Clean(&err.to_string()), "{place} failed; trying again");
                } else {
                    // Said once, by the `cannot reach` warning.
                    tracing::debug!(error = %sanitize::Clean(&err.to_string()), "{place} failed; trying again");
                }
                let delay = backoff.next().unwrap_or(plan.poll.max_interval);
                let delay = err.retry_after().map_or(delay, |r| r.max(delay));
                last_error = Some(err);
                // A host that never answered is tried again at its cut-off at the latest, so
                // its failure there ends the wait on time.
                let wake = Instant::now()
                    .checked_add(delay)
                    .unwrap_or(deadline)
                    .min(deadline)
                    .min(cut_off.unwrap_or(deadline));
                tokio::select! {
                    biased;
                    _ = interrupts.wait_for(Option::is_some) => {}
                    () = tokio::time::sleep_until(wake) => {}
                }
            }
            ErrorClass::NotFound | ErrorClass::CredentialsRejected | ErrorClass::Fatal => {
                return Err((wait::Outcome::Errored, format!("{place}: {err}")));
            }
        }
    }
}
