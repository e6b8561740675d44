//! The driver: one future that runs every job of the plan.
//!
//! A task per job would cost each waiting job a task cell of kilobytes and every poll its own
//! wake-up. Here a waiting job is a [`JobState`] of a few hundred bytes plus an entry in one
//! timer queue, and the driver loops: fire due timers (deadlines end jobs, poll wake-ups queue
//! them for their host), hand out request slots (in-flight limit, then the host's pacer), then
//! sleep until the next timer, a response or a stop. Poll wake-ups are rounded up to a
//! grid ([`poll_tick`]) so that polls due within a few milliseconds of each other leave together,
//! and the pacer lends slots up to [`LEND_AHEAD`] early for the same reason: on a busy run the
//! process wakes a few dozen times a second, not once per request.
//!
//! A job's poll can also move sooner: when a job of some `job_type` ends sooner than any before
//! it, the waiting jobs of that type that are now inside its range of durations poll at the next
//! tick ([`Driver::sooner_for`]); their old timers stay in the queue, stale (a timer fires only
//! at the instant its job's `poll_at` names).
//!
//! The loop checks for a stop before anything else, so a signal or fail-fast cancels every job
//! that has no verdict in the same instant, and requests in flight are dropped with the driver.
//!
//! A host that has never answered — every request refused, unresolvable, reset or timed out
//! before any HTTP response — is almost always a wrong endpoint or a network that does not let
//! the run out, not a cloud having a bad minute. Left to the deadline, that would show as
//! "(no answer yet)" for half an hour. So the host's first connection failure prints one warning,
//! and `retry.unreachable_after` after the host's first request every job on it ends as errored
//! with the connection error. The check runs when a connection failure comes back; a job on such
//! a host polls again no later than the cut-off, so no timer kind of its own is needed. An answer
//! of any kind (a 5xx, a 429) proves the endpoint right: from then on only the deadline ends it.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::job::{cancelled_reason, JobState, Next, Phase, Seen};
use super::pacer::Pacer;
use super::schedule::{time_left, Estimate, TypeDurations};
use super::{End, Event, JobResult, JobSource, Outcome, RunOutcome, Signal, Stop};
use crate::cloud::client::{ErrorClass, FetchError};
use crate::cloud::wire::Job;
use crate::report::JobReport;
use crate::sanitize::{cap, MAX_TEXT};
use crate::spec::{Plan, PollPolicy};

/// The grid poll wake-ups are rounded up to (from the start of the wait): 1 % of `interval`,
/// between 1 and 25 ms. It adds at most that to a poll's delay and lets polls due together
/// share a wake-up.
pub(super) fn poll_tick(poll: &PollPolicy) -> Duration {
    (poll.interval / 100).clamp(Duration::from_millis(1), Duration::from_millis(25))
}

/// How early the pacer may lend a slot to a request that is due now. Well inside the pacer's
/// dispatch margin, so the rate limit holds at the server.
pub(super) const LEND_AHEAD: Duration = Duration::from_millis(10);

type Fetch<'a> = Pin<Box<dyn Future<Output = (usize, Result<Job, FetchError>)> + Send + 'a>>;

/// A timer queue entry. At equal times a deadline comes before a poll: a poll due exactly at
/// the deadline is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Timer {
    at: Instant,
    kind: TimerKind,
    job: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    Deadline,
    Poll,
}

/// One endpoint host: its pacer, the jobs queued for its slots, and whether it was ever reached.
struct Host {
    /// The `Host` header (host and port): how the host is named in messages. Never the URL,
    /// which may carry a password.
    name: String,
    pacer: Pacer,
    ready: VecDeque<u32>,
    /// When the first request to this host left: `retry.unreachable_after` counts from here.
    first_request_at: Option<Instant>,
    /// Whether the host ever answered (any HTTP response, an error status included).
    answered_once: bool,
    /// The latest connection-level failure (no answer at all), the cause shown when it is cut off.
    last_connection_error: Option<FetchError>,
}

impl Host {
    fn new(name: String, rate_limit: f64) -> Host {
        Host {
            name,
            pacer: Pacer::new(rate_limit),
            ready: VecDeque::new(),
            first_request_at: None,
            answered_once: false,
            last_connection_error: None,
        }
    }

    /// When this host's jobs end for want of any answer: `None` once it has answered (or before
    /// its first request, or when the instant would not fit).
    fn cut_off(&self, after: Duration) -> Option<Instant> {
        if self.answered_once {
            return None;
        }
        self.first_request_at.and_then(|t| t.checked_add(after))
    }
}

/// A connection-level failure's text without the `network error:` prefix of its display.
fn connection_text(err: &FetchError) -> String {
    match err {
        FetchError::Transport(text) => text.clone(),
        other => other.to_string(),
    }
}

/// The one `cannot reach HOST` warning, printed at a host's first connection-level failure
/// (by the driver for service hosts, by the project lookup for IAM).
pub(crate) fn warn_unreachable(host: &str, err: &FetchError, after: Duration) {
    crate::diagnostics::warning(&format!(
        "cannot reach {host}: {} (every job on this host waits; they end as errored after retry.unreachable_after={} unless it answers)",
        connection_text(err),
        humantime::format_duration(after),
    ));
}

/// Why the jobs waiting on a host that never answered within `after` end as errored.
pub(crate) fn unreachable_reason(host: &str, last: Option<&FetchError>, after: Duration) -> String {
    let cause = last.map_or_else(|| "no answer".to_owned(), connection_text);
    cap(
        format!(
            "{host} never answered within {} (retry.unreachable_after): {cause}; check the endpoint and the network",
            humantime::format_duration(after),
        ),
        MAX_TEXT,
    )
}

/// One job of the plan: its wait while it lasts, then its report entry. One slot each, so a
/// finished job's entry takes the place of its wait instead of adding to it, and the entries
/// become the report's list where they are.
enum Slot {
    Open(JobState),
    Done(JobReport),
}

pub(super) struct Driver<'a, S> {
    plan: &'a Plan,
    source: &'a S,
    /// See [`poll_tick`].
    tick: Duration,
    start: Instant,
    /// The wall clock at `start`: the adaptive schedule compares it with the API's times.
    wall_start: SystemTime,
    types: TypeDurations,
    /// Every job of the plan, in plan order: its wait, then its report entry.
    slots: Vec<Slot>,
    /// Each job's endpoint host (its index in `hosts`), outside its slot: an answer that comes
    /// after its job ended still teaches the host's pace.
    host_of: Vec<u32>,
    unfinished: usize,
    timers: BinaryHeap<Reverse<Timer>>,
    hosts: Vec<Host>,
    in_flight: FuturesUnordered<Fetch<'a>>,
    /// Signals from outside (SIGINT/SIGTERM); closed when the sender is gone.
    interrupts: watch::Receiver<Option<Signal>>,
    /// Why the wait stopped early, once it did (a signal, or `fail_fast`).
    stop: Option<Stop>,
    events: Option<mpsc::UnboundedSender<Event>>,
}

impl<'a, S: JobSource> Driver<'a, S> {
    pub(super) fn new(
        plan: &'a Plan,
        source: &'a S,
        start: Instant,
        interrupts: watch::Receiver<Option<Signal>>,
        events: Option<mpsc::UnboundedSender<Event>>,
        types: TypeDurations,
    ) -> Driver<'a, S> {
        let overall = start + plan.timeout;
        let mut host_ids: HashMap<String, u32> = HashMap::new();
        let mut hosts = Vec::new();
        let mut slots = Vec::with_capacity(plan.jobs.len());
        let mut host_of = Vec::with_capacity(plan.jobs.len());
        let mut timers = BinaryHeap::with_capacity(plan.jobs.len() * 2);
        for (index, job) in plan.jobs.iter().enumerate() {
            let host_header = crate::cloud::auth::host_header(&job.base);
            let host = *host_ids.entry(host_header.clone()).or_insert_with(|| {
                hosts.push(Host::new(host_header, plan.rate_limit));
                (hosts.len() - 1) as u32
            });
            let deadline = job.timeout.map_or(overall, |t| (start + t).min(overall));
            timers.push(Reverse(Timer {
                at: deadline,
                kind: TimerKind::Deadline,
                job: index as u32,
            }));
            // Every job is due at once; the pacer spreads the first polls.
            hosts[host as usize].ready.push_back(index as u32);
            slots.push(Slot::Open(JobState::new(
                deadline,
                plan.poll,
                fastrand::u64(..),
            )));
            host_of.push(host);
        }
        Driver {
            plan,
            source,
            tick: poll_tick(&plan.poll),
            start,
            wall_start: SystemTime::now()
                .checked_sub(start.elapsed())
                .unwrap_or_else(SystemTime::now),
            types,
            unfinished: plan.jobs.len(),
            slots,
            host_of,
            timers,
            hosts,
            in_flight: FuturesUnordered::new(),
            interrupts,
            stop: None,
            events,
        }
    }

    /// Runs every job to its result; also returns the durations learned (for the cache).
    pub(super) async fn run(mut self) -> (RunOutcome, TypeDurations) {
        let sleep = tokio::time::sleep_until(self.start);
        tokio::pin!(sleep);
        let mut interrupts_open = true;
        loop {
            let signal = *self.interrupts.borrow_and_update();
            if let (Some(sig), None) = (signal, &self.stop) {
                self.stop = Some(Stop::Signal(sig));
            }
            if let Some(stop) = self.stop.clone() {
                self.cancel_all(&stop);
            }
            if self.unfinished == 0 {
                break;
            }
            let now = Instant::now();
            self.fire_timers(now);
            self.dispatch(now);
            if self.unfinished == 0 {
                break;
            }
            let wake_at = self.next_wake(now);
            if let Some(at) = wake_at {
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
            }
            // A signal or a timer only needs the next turn of the loop; an answer is handled.
            let answer = tokio::select! {
                biased;
                changed = self.interrupts.changed(), if interrupts_open => {
                    interrupts_open = changed.is_ok();
                    None
                }
                Some(answer) = self.in_flight.next(), if !self.in_flight.is_empty() => Some(answer),
                () = &mut sleep, if wake_at.is_some() => None,
            };
            if let Some((job, fetched)) = answer {
                self.on_fetched(job, fetched);
            }
        }
        let start = self.start;
        let end = match self.stop {
            None => End::Completed,
            Some(Stop::Signal(sig)) => End::Interrupted(sig),
            Some(Stop::FailFast(label)) => End::FailFast(label),
        };
        let jobs = &self.plan.jobs;
        // Collected in place (a slot is at least the size of an entry): no second list of ten
        // thousand entries next to the first.
        let results = self
            .slots
            .into_iter()
            .enumerate()
            .map(|(index, slot)| match slot {
                Slot::Done(entry) => entry,
                Slot::Open(_) => JobResult::unpolled(
                    Outcome::Errored,
                    "internal error: the wait ended without a result for this job".to_owned(),
                    start.elapsed(),
                )
                .into_report(&jobs[index]),
            })
            .collect();
        (RunOutcome { results, end }, self.types)
    }

    /// Ends jobs whose deadline passed and queues jobs whose poll is due.
    fn fire_timers(&mut self, now: Instant) {
        while let Some(Reverse(timer)) = self.timers.peek().copied() {
            if timer.at > now {
                break;
            }
            self.timers.pop();
            let index = timer.job as usize;
            // Stale: the job has ended.
            let Slot::Open(state) = &mut self.slots[index] else {
                continue;
            };
            match timer.kind {
                TimerKind::Deadline => {
                    let waited = now - self.start;
                    let (outcome, reason) = state.at_deadline(&self.plan.jobs[index], waited);
                    self.finish(index, outcome, reason);
                }
                // A waiting job has one live poll in the queue: this one (an earlier timer of
                // a job whose poll was moved sooner is stale).
                TimerKind::Poll if state.phase == Phase::Waiting && state.poll_at == timer.at => {
                    state.phase = Phase::Ready;
                    self.hosts[self.host_of[index] as usize]
                        .ready
                        .push_back(timer.job);
                }
                // Stale: a poll that was moved sooner.
                TimerKind::Poll => {}
            }
        }
    }

    /// Sends the requests that have an in-flight permit and a pacer slot, taking turns between
    /// hosts so that one host's queue does not hold up another's.
    fn dispatch(&mut self, now: Instant) {
        loop {
            let mut sent = false;
            for host in 0..self.hosts.len() {
                if self.in_flight.len() >= self.plan.max_in_flight {
                    return;
                }
                let Some(index) = self.next_ready(host) else {
                    continue;
                };
                if !self.hosts[host].pacer.try_take(now, LEND_AHEAD) {
                    continue;
                }
                self.hosts[host].ready.pop_front();
                self.send(index as usize, now);
                sent = true;
            }
            if !sent {
                return;
            }
        }
    }

    /// The first job queued for `host` that still waits for a slot (dropping ended ones).
    fn next_ready(&mut self, host: usize) -> Option<u32> {
        let ready = &mut self.hosts[host].ready;
        while let Some(&index) = ready.front() {
            if matches!(&self.slots[index as usize], Slot::Open(s) if s.phase == Phase::Ready) {
                return Some(index);
            }
            ready.pop_front();
        }
        None
    }

    fn send(&mut self, index: usize, now: Instant) {
        let Slot::Open(state) = &mut self.slots[index] else {
            return;
        };
        state.phase = Phase::InFlight;
        // A request never outlives the job's deadline.
        let timeout = self
            .plan
            .request_timeout
            .min(state.deadline.saturating_duration_since(now));
        self.hosts[self.host_of[index] as usize]
            .first_request_at
            .get_or_insert(now);
        let source: &'a S = self.source;
        let fetch = source.fetch(&self.plan.jobs[index], timeout);
        self.in_flight
            .push(Box::pin(async move { (index, fetch.await) }));
    }

    /// When the driver must wake without a response: the next timer, or the next pacer slot of
    /// a host with queued jobs (if a permit is free; otherwise a response frees one).
    fn next_wake(&mut self, now: Instant) -> Option<Instant> {
        let timer = self.timers.peek().map(|Reverse(t)| t.at);
        let permits_left = self.in_flight.len() < self.plan.max_in_flight;
        let mut wake = timer;
        for host in 0..self.hosts.len() {
            if permits_left && self.next_ready(host).is_some() {
                let slot = self.hosts[host].pacer.next_slot(now);
                wake = Some(wake.map_or(slot, |w| w.min(slot)));
            }
        }
        wake
    }

    fn on_fetched(&mut self, index: usize, fetched: Result<Job, FetchError>) {
        let now = Instant::now();
        // Deadlines first: an answer that comes with the deadline (a request cut short by it)
        // does not count, as if the deadline had been noticed first.
        self.fire_timers(now);
        let host_index = self.host_of[index] as usize;
        let host = &mut self.hosts[host_index];
        // The host's pace learns from every answer, even one that comes after the job ended.
        match &fetched {
            Err(e) if e.class() == ErrorClass::Throttled => {
                host.answered_once = true;
                host.pacer.throttled(now, e.retry_after());
            }
            // Slow replies reached the host: neither an answer for the pace nor a sign that the
            // host is unreachable.
            Err(e) if e.reached() && !e.answered() => {}
            Err(e) if !e.reached() => {
                if host.last_connection_error.is_none() && !host.answered_once {
                    warn_unreachable(&host.name, e, self.plan.unreachable_after);
                }
                host.last_connection_error = Some(e.clone());
                if host
                    .cut_off(self.plan.unreachable_after)
                    .is_some_and(|at| now >= at)
                {
                    self.unreachable(host_index);
                    return;
                }
            }
            _ => {
                host.answered_once = true;
                host.pacer.answered();
            }
        }
        let Slot::Open(state) = &mut self.slots[index] else {
            return;
        };
        if state.phase != Phase::InFlight {
            return;
        }
        if let Err(e) = &fetched {
            if e.class() == ErrorClass::CredentialsRejected {
                // Every job uses the same credentials: asking again, for any of them, only
                // brings the gateway's lock-out closer.
                self.reject_all(e);
                return;
            }
        }
        let job = &self.plan.jobs[index];
        let seen = Seen {
            now: self.wall_start + (now - self.start),
            types: &self.types,
        };
        let mut change = None;
        let next = state.on_fetched(
            self.plan,
            job,
            &seen,
            fetched,
            now - self.start,
            &mut change,
        );
        if let (Some((status, sub_jobs)), Some(tx)) = (change, &self.events) {
            let _ = tx.send(Event::Changed {
                index,
                status,
                sub_jobs,
            });
        }
        match next {
            Next::Verdict(outcome, reason) => self.finish(index, outcome, reason),
            Next::PollIn(delay) => {
                // Delays are bounded, but a time from the network is never trusted to add up.
                let wake = now
                    .checked_add(delay)
                    .map_or(state.deadline, |t| on_tick(self.start, self.tick, t));
                // A host that never answered is tried again at its cut-off, whose failure ends
                // its jobs on time (a longer back-off would let them outlive it).
                let cut_off = self.hosts[host_index].cut_off(self.plan.unreachable_after);
                let wake = cut_off.map_or(wake, |at| wake.min(at));
                state.phase = Phase::Waiting;
                state.poll_at = wake;
                // At or after the deadline, the deadline's timer ends the job instead.
                if wake < state.deadline {
                    self.timers.push(Reverse(Timer {
                        at: wake,
                        kind: TimerKind::Poll,
                        job: index as u32,
                    }));
                }
            }
        }
    }

    fn finish(&mut self, index: usize, outcome: Outcome, reason: String) {
        let job = &self.plan.jobs[index];
        let waited = self.start.elapsed();
        // A job ends once.
        let Slot::Open(state) = &mut self.slots[index] else {
            return;
        };
        if let Some(tx) = &self.events {
            let _ = tx.send(Event::Finished {
                index,
                outcome,
                reason: reason.clone(),
            });
        }
        // Learn from the document before `finish` drops its entities (they are not needed).
        let news = state.last_doc().is_some_and(|doc| self.types.record(doc));
        let entry = state.finish(job, outcome, reason, waited).into_report(job);
        let kind = entry.job_type.clone().filter(|_| news);
        // The entry takes the place of the wait.
        self.slots[index] = Slot::Done(entry);
        if let Some(kind) = kind {
            self.sooner_for(&kind);
        }
        self.unfinished -= 1;
        if outcome == Outcome::Failed && self.plan.fail_fast && self.stop.is_none() {
            self.stop = Some(Stop::FailFast(job.label()));
        }
    }

    /// A job of type `kind` ended sooner than any before it: the waiting jobs of that type that
    /// are now inside its range (or closer to its start than planned) poll at the next tick or
    /// at the range's start, instead of sleeping out a back-off chosen without it. Jobs started
    /// together end together: without this, half of a cohort polled just before its first job
    /// was seen to end would sleep through the densest part of the range.
    fn sooner_for(&mut self, kind: &str) {
        if self.plan.poll.schedule != crate::spec::raw::PollSchedule::Adaptive {
            return;
        }
        let now = Instant::now();
        let wall = self.wall_start + (now - self.start);
        for index in 0..self.slots.len() {
            let Slot::Open(state) = &self.slots[index] else {
                continue;
            };
            if state.phase != Phase::Waiting {
                continue;
            }
            let Some(doc) = state.last_doc() else {
                continue;
            };
            if doc.job_type.as_deref() != Some(kind) {
                continue;
            }
            // Only a poll planned later than the dense rule would have it moves: with a short
            // `max_interval` (or an `interval` equal to it) nothing does, and no request is
            // added for nothing.
            let (at, dense) = match time_left(doc, wall, &self.types, &self.plan.poll) {
                Some(Estimate::Likely(period)) => (now, period.max(self.plan.poll.interval)),
                Some(Estimate::NotBefore(left)) => (
                    now.checked_add(left).unwrap_or(state.poll_at),
                    self.plan.poll.interval,
                ),
                _ => continue,
            };
            let at = on_tick(self.start, self.tick, at);
            if at
                .checked_add(dense)
                .is_none_or(|later| later >= state.poll_at)
            {
                continue;
            }
            if let Slot::Open(state) = &mut self.slots[index] {
                state.poll_at = at;
            }
            self.timers.push(Reverse(Timer {
                at,
                kind: TimerKind::Poll,
                job: index as u32,
            }));
        }
    }

    /// Ends every job that has no verdict yet as errored: the credentials were refused.
    fn reject_all(&mut self, err: &FetchError) {
        let reason = cap(
            format!(
                "authentication rejected: {err}; every job stops (retrying rejected credentials locks them)"
            ),
            MAX_TEXT,
        );
        for index in 0..self.slots.len() {
            if matches!(self.slots[index], Slot::Open(_)) {
                self.finish(index, Outcome::Errored, reason.clone());
            }
        }
    }

    /// Ends every job on `host` that has no verdict yet as errored: the host never answered
    /// within `retry.unreachable_after`.
    fn unreachable(&mut self, host: usize) {
        let h = &self.hosts[host];
        let reason = unreachable_reason(
            &h.name,
            h.last_connection_error.as_ref(),
            self.plan.unreachable_after,
        );
        tracing::info!(host = %crate::sanitize::Clean(&h.name), "unreachable: its jobs end");
        for index in 0..self.slots.len() {
            if self.host_of[index] as usize == host && matches!(self.slots[index], Slot::Open(_)) {
                self.finish(index, Outcome::Errored, reason.clone());
            }
        }
    }

    /// Ends every job that has no verdict yet.
    fn cancel_all(&mut self, stop: &Stop) {
        let reason = cancelled_reason(stop);
        for index in 0..self.slots.len() {
            if matches!(self.slots[index], Slot::Open(_)) {
                self.finish(index, Outcome::Cancelled, reason.clone());
            }
        }
    }
}

/// `t` rounded up to the grid of `tick` that starts at `start` (`t` itself where the grid
/// point would not fit an `Instant`).
fn on_tick(start: Instant, tick: Duration, t: Instant) -> Instant {
    let since = t.saturating_duration_since(start);
    let tick = tick.as_nanos().max(1);
    let ticks = since.as_nanos().div_ceil(tick);
    u64::try_from(ticks.saturating_mul(tick))
        .ok()
        .and_then(|nanos| start.checked_add(Duration::from_nanos(nanos)))
        .unwrap_or(t)
}
