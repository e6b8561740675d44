//! How long jobs of each `job_type` take: learned from the jobs that succeed in this run, and
//! remembered across runs in a small cache file (`poll.cache`).
//!
//! The adaptive schedule polls a job densely while its age is inside the range its type's jobs
//! were seen to end in, and sparsely before it. Within one run that only helps once the first
//! jobs of a type have ended; the cache lets the first cohort of the next run benefit too.
//!
//! The cache is untrusted input like any other file: read with a size cap, every entry checked
//! (name length and characters, durations within a week, shortest ≤ longest), entries older than
//! [`MAX_AGE`] ignored, at most [`MAX_TYPES`] kept. A missing, unreadable, malformed or read-only
//! cache never fails a run: it only costs requests, and is reported at debug level. Nothing in
//! it is secret: job type names and durations. It is written whole to a temporary file next to
//! it and renamed into place, so a concurrent reader sees the old or the new file.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::cloud::wire::{Job, JobStatus};

/// The largest cache file read; a few hundred types fit in a tenth of it.
pub const MAX_FILE: u64 = 64 * 1024;
/// The most job types kept (the most recently seen first).
pub const MAX_TYPES: usize = 256;
/// The longest `job_type` name kept (the API's are a few dozen characters).
pub const MAX_NAME: usize = 64;
/// The longest duration believed: a job type that takes longer is not worth remembering.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// Entries not refreshed for this long are ignored (and dropped on the next write).
pub const MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
const VERSION: u32 = 1;

/// The durations jobs of one type were seen to take (successes only: failures often end early).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub shortest: Duration,
    pub longest: Duration,
}

impl Range {
    fn point(d: Duration) -> Range {
        Range {
            shortest: d,
            longest: d,
        }
    }

    fn union(self, other: Range) -> Range {
        Range {
            shortest: self.shortest.min(other.shortest),
            longest: self.longest.max(other.longest),
        }
    }
}

/// Durations per `job_type`: what the cache said (`prior`) and what this run saw.
#[derive(Debug, Default)]
pub struct TypeDurations {
    prior: HashMap<String, (Range, u64)>,
    seen: HashMap<String, Range>,
}

impl TypeDurations {
    /// Learns from a finished job's document (`begin_time` to `end_time`). True when this is
    /// news for the schedule: the type's first job to end (counting the cache), or one shorter
    /// than any before, so jobs of that type may be in their likely range sooner than planned.
    pub fn record(&mut self, doc: &Job) -> bool {
        if doc.status != JobStatus::Success {
            return false;
        }
        let (Some(kind), Some(begin), Some(end)) = (
            doc.job_type.as_deref(),
            doc.begin_time.as_deref().and_then(parse_time),
            doc.end_time().and_then(parse_time),
        ) else {
            return false;
        };
        let Ok(took) = end.duration_since(begin) else {
            return false;
        };
        if took > MAX_DURATION || !valid_name(kind) {
            return false;
        }
        let before = self.range(kind);
        match self.seen.get_mut(kind) {
            Some(r) => *r = r.union(Range::point(took)),
            None => {
                self.seen.insert(kind.to_owned(), Range::point(took));
            }
        }
        before.is_none_or(|r| took < r.shortest)
    }

    /// The range of durations known for `job_type`, from the cache and this run together.
    pub fn range(&self, job_type: &str) -> Option<Range> {
        let prior = self.prior.get(job_type).map(|(r, _)| *r);
        let seen = self.seen.get(job_type).copied();
        match (prior, seen) {
            (Some(a), Some(b)) => Some(a.union(b)),
            (a, b) => a.or(b),
        }
    }

    /// The cache file's durations, or none when it is absent or unusable (said at debug level).
    pub fn load(path: &Path, now: SystemTime) -> TypeDurations {
        match read_capped(path) {
            Ok(text) => TypeDurations {
                prior: parse(&text, now),
                seen: HashMap::new(),
            },
            Err(e) => {
                tracing::debug!(path = %crate::sanitize::Clean(&path.display().to_string()), error = %e, "no duration cache read");
                TypeDurations::default()
            }
        }
    }

    /// Writes the cache and this run's durations back, when the run learned any. Failures are
    /// said at debug level only: a read-only cache costs the next run requests, nothing more.
    pub fn save(&self, path: &Path, now: SystemTime) {
        if self.seen.is_empty() {
            return;
        }
        let stamp = unix(now);
        let mut merged = self.prior.clone();
        for (kind, range) in &self.seen {
            let entry = merged.entry(kind.clone()).or_insert((*range, stamp));
            *entry = (entry.0.union(*range), stamp);
        }
        let mut entries: Vec<(String, (Range, u64))> = merged.into_iter().collect();
        entries.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then_with(|| a.0.cmp(&b.0)));
        entries.truncate(MAX_TYPES);
        let file = CacheFile {
            version: VERSION,
            types: entries
                .into_iter()
                .map(|(kind, (r, updated))| {
                    (
                        kind,
                        Entry {
                            shortest_ms: millis(r.shortest),
                            longest_ms: millis(r.longest),
                            updated,
                        },
                    )
                })
                .collect(),
        };
        if let Err(e) = write_atomically(path, &file) {
            tracing::debug!(path = %crate::sanitize::Clean(&path.display().to_string()), error = %e, "duration cache not written");
        }
    }
}

#[derive(Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    types: std::collections::BTreeMap<String, Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    shortest_ms: u64,
    longest_ms: u64,
    /// Seconds since the Unix epoch of the last run that saw this type.
    updated: u64,
}

fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut text = Vec::new();
    file.take(MAX_FILE + 1).read_to_end(&mut text)?;
    if text.len() as u64 > MAX_FILE {
        return Err(std::io::Error::other("larger than 64 KiB"));
    }
    Ok(text)
}

/// The usable entries of a cache file; anything unreadable counts as no entry at all.
fn parse(text: &[u8], now: SystemTime) -> HashMap<String, (Range, u64)> {
    let Ok(file) = serde_json::from_slice::<CacheFile>(text) else {
        return HashMap::new();
    };
    if file.version != VERSION {
        return HashMap::new();
    }
    let now = unix(now);
    let mut entries: Vec<(String, (Range, u64))> = file
        .types
        .into_iter()
        .filter(|(kind, e)| {
            valid_name(kind)
                && e.shortest_ms <= e.longest_ms
                && e.longest_ms <= millis(MAX_DURATION)
                && e.updated <= now.saturating_add(24 * 3600)
                && now.saturating_sub(e.updated) <= MAX_AGE.as_secs()
        })
        .map(|(kind, e)| {
            let range = Range {
                shortest: Duration::from_millis(e.shortest_ms),
                longest: Duration::from_millis(e.longest_ms),
            };
            (kind, (range, e.updated.min(now)))
        })
        .collect();
    entries.sort_by(|a, b| b.1 .1.cmp(&a.1 .1).then_with(|| a.0.cmp(&b.0)));
    entries.truncate(MAX_TYPES);
    entries.into_iter().collect()
}

fn write_atomically(path: &Path, file: &CacheFile) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    serde_json::to_writer(&mut tmp, file)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Job type names as the APIs spell them: letters, digits and `_ . : -`, at most [`MAX_NAME`].
fn valid_name(kind: &str) -> bool {
    !kind.is_empty()
        && kind.len() <= MAX_NAME
        && kind
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:-".contains(&b))
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The API's times: RFC 3339 in UTC, with or without fractions of a second.
pub(super) fn parse_time(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(s)
        .or_else(|_| humantime::parse_rfc3339_weak(s))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn done(kind: &str, begin: &str, end: &str) -> Job {
        let json = serde_json::json!({"status": "SUCCESS", "job_type": kind,
            "begin_time": format!("2024-01-01T{begin}Z"), "end_time": format!("2024-01-01T{end}Z")});
        Job::from_slice(json.to_string().as_bytes()).unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn learns_the_range_per_type_and_says_when_it_is_news() {
        let mut t = TypeDurations::default();
        assert!(t.record(&done("createImage", "00:00:00", "00:05:00")));
        assert!(!t.record(&done("createImage", "00:00:00", "00:06:00")));
        assert!(t.record(&done("createImage", "00:01:00", "00:04:30")));
        assert_eq!(
            t.range("createImage"),
            Some(Range {
                shortest: secs(210),
                longest: secs(360)
            })
        );
        let failed = Job::from_slice(
            br#"{"status":"FAIL","job_type":"createImage","begin_time":"2024-01-01T00:00:00Z","end_time":"2024-01-01T00:00:05Z"}"#,
        )
        .unwrap();
        assert!(!t.record(&failed), "failures do not count");
        assert!(!t.record(&done("bad name!", "00:00:00", "00:00:05")));
        assert!(
            !t.record(&done("x", "00:00:05", "00:00:00")),
            "ends before it began"
        );
        assert_eq!(t.range("createServer"), None);
    }

    #[test]
    fn the_cache_round_trips_and_merges_with_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/durations.json");
        let now = SystemTime::now();
        let mut first = TypeDurations::load(&path, now);
        assert_eq!(first.range("createVolume"), None, "no file: nothing known");
        first.record(&done("createVolume", "00:00:00", "00:00:04"));
        first.record(&done("createVolume", "00:00:00", "00:00:06"));
        first.save(&path, now);

        let mut second = TypeDurations::load(&path, now);
        assert_eq!(
            second.range("createVolume"),
            Some(Range {
                shortest: secs(4),
                longest: secs(6)
            })
        );
        assert!(
            !second.record(&done("createVolume", "00:00:00", "00:00:05")),
            "inside the cached range: no news"
        );
        assert!(second.record(&done("createVolume", "00:00:00", "00:00:03")));
        second.save(&path, now);
        let third = TypeDurations::load(&path, now);
        assert_eq!(
            third.range("createVolume"),
            Some(Range {
                shortest: secs(3),
                longest: secs(6)
            })
        );
    }

    #[test]
    fn stale_invalid_oversized_or_foreign_caches_count_as_nothing() {
        let now = UNIX_EPOCH + secs(100 * 24 * 3600);
        let day = 24 * 3600;
        let entry = |kind: &str, s: u64, l: u64, updated: u64| {
            format!(r#""{kind}":{{"shortest_ms":{s},"longest_ms":{l},"updated":{updated}}}"#)
        };
        let file = |entries: &[String]| {
            format!(r#"{{"version":1,"types":{{{}}}}}"#, entries.join(",")).into_bytes()
        };
        let fresh = 99 * day;
        let parsed = parse(
            &file(&[
                entry("ok", 1000, 2000, fresh),
                entry("stale", 1000, 2000, 10 * day),
                entry("future", 1000, 2000, 200 * day),
                entry("inverted", 3000, 2000, fresh),
                entry("forever", 1000, u64::MAX, fresh),
                entry("bad\\nname", 1000, 2000, fresh),
            ]),
            now,
        );
        assert_eq!(parsed.keys().collect::<Vec<_>>(), ["ok"]);
        assert!(parse(b"not json", now).is_empty());
        assert!(parse(br#"{"version":2,"types":{}}"#, now).is_empty());

        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; MAX_FILE as usize + 1]).unwrap();
        assert!(read_capped(&big).is_err());
        let many: Vec<String> = (0..MAX_TYPES + 10)
            .map(|i| entry(&format!("t{i}"), 1, 2, fresh))
            .collect();
        assert_eq!(parse(&file(&many), now).len(), MAX_TYPES);
    }

    #[test]
    fn a_cache_that_cannot_be_written_costs_nothing_but_the_write() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the cache's directory should be.
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let mut t = TypeDurations::default();
        t.record(&done("createVolume", "00:00:00", "00:00:04"));
        t.save(&blocker.join("durations.json"), SystemTime::now());
        assert_eq!(std::fs::read(&blocker).unwrap(), b"x");
    }

    proptest! {
        #[test]
        fn any_cache_bytes_parse_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = parse(&bytes, SystemTime::now());
        }
    }
}
