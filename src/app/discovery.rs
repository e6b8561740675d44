//! The project id of the project named `project_name` (else the region), from IAM, at the
//! start of a wait whose spec gave no `project_id` — under the same deadline, retry policy and signals as the polls.

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
        match err.class() {
            ErrorClass::Retryable | ErrorClass::Throttled => {
                tracing::warn!(error = %sanitize::Clean(&err.to_string()), "{place} failed; trying again");
                let delay = backoff.next().unwrap_or(plan.poll.max_interval);
                let delay = err.retry_after().map_or(delay, |r| r.max(delay));
                last_error = Some(err);
                let wake = Instant::now()
                    .checked_add(delay)
                    .unwrap_or(deadline)
                    .min(deadline);
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
