//! A job's service as the plan holds it: a built-in prefix ([`Service`], its API in
//! [`super::service`]) or a service described in the spec ([`DescribedApi`]). Everything the
//! rest of the program asks of a job's service — its name, the URL of a job, how to read an
//! answer, the entity kinds it promises, its status words, its base URL — is asked here, once,
//! whichever kind it is.

use std::sync::Arc;

use url::Url;

use super::described::DescribedApi;
use super::endpoint::{Endpoints, Service};
use super::service::DocumentError;
use super::wire::Job;

/// A job's service: a built-in prefix, or a service described in the spec (`services.<name>`,
/// which may also stand in for a built-in prefix's API). Compared, ordered and written by name.
#[derive(Debug, Clone)]
pub enum ServiceRef {
    Builtin(Service),
    Described(Arc<DescribedApi>),
}

impl ServiceRef {
    /// The base URL that serves this service: a description named as a built-in prefix stands
    /// in for its API, not its host, so it is served where the prefix is; another name is its
    /// own `endpoints.<name>`, or its name as the template's `{service}`.
    pub fn base(&self, endpoints: &Endpoints) -> Result<Url, String> {
        let name = self.name();
        match name.parse::<Service>() {
            Ok(builtin) => endpoints.base(builtin),
            Err(_) => endpoints.resolve(
                name,
                endpoints.described.get(name),
                |_| name,
                |cloud, region| cloud.template(region),
            ),
        }
    }

    /// The `SERVICE:` prefix.
    pub fn name(&self) -> &str {
        match self {
            ServiceRef::Builtin(s) => s.as_str(),
            ServiceRef::Described(api) => api.name(),
        }
    }

    /// The URL of job `job_id` of project `project_id` under `base`.
    pub fn url(&self, base: &Url, project_id: &str, job_id: &str) -> Url {
        match self {
            ServiceRef::Builtin(s) => s.api().url(base, project_id, job_id),
            ServiceRef::Described(api) => api.url(base, project_id, job_id),
        }
    }

    /// Where a job is under the base URL, as a template.
    pub fn path(&self) -> &str {
        match self {
            ServiceRef::Builtin(s) => s.api().path,
            ServiceRef::Described(api) => &api.description().path,
        }
    }

    /// A 2xx body as a job document.
    pub fn read(&self, body: &[u8]) -> Result<Job, DocumentError> {
        match self {
            ServiceRef::Builtin(s) => s.api().shape.parse(body),
            ServiceRef::Described(api) => api.parse(body),
        }
    }

    /// The entity kinds whose `<kind>s` outputs always exist when a job of the service is waited
    /// on (a described service promises none: its entities are whatever its documents hold).
    pub fn kinds(&self) -> &'static [&'static str] {
        match self {
            ServiceRef::Builtin(s) => s.api().kinds,
            ServiceRef::Described(_) => &[],
        }
    }

    /// Whether its documents list sub-jobs.
    pub fn has_sub_jobs(&self) -> bool {
        match self {
            ServiceRef::Builtin(s) => s.api().shape.has_sub_jobs(),
            ServiceRef::Described(api) => api.has_sub_jobs(),
        }
    }

    /// `success …; failure …; pending …`: the status words by what they mean, for `validate`.
    pub fn words(&self) -> String {
        match self {
            ServiceRef::Builtin(s) => {
                let w = s.api().shape.words();
                format!(
                    "success {}; failure {}; pending {}",
                    w.success.join(", "),
                    w.failure.join(", "),
                    w.pending.join(", ")
                )
            }
            ServiceRef::Described(api) => {
                let (success, failure, pending) = api.words();
                format!(
                    "success {}; failure {}; pending {}",
                    success.join(", "),
                    failure.join(", "),
                    match pending {
                        Some(p) =>
                            format!("{} (other words: success.unknown_status)", p.join(", ")),
                        None => "any other word".to_owned(),
                    }
                )
            }
        }
    }
}

impl From<Service> for ServiceRef {
    fn from(service: Service) -> ServiceRef {
        ServiceRef::Builtin(service)
    }
}

impl PartialEq for ServiceRef {
    fn eq(&self, other: &ServiceRef) -> bool {
        self.name() == other.name()
    }
}

impl Eq for ServiceRef {}

impl std::hash::Hash for ServiceRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name().hash(state)
    }
}

impl PartialOrd for ServiceRef {
    fn partial_cmp(&self, other: &ServiceRef) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ServiceRef {
    fn cmp(&self, other: &ServiceRef) -> std::cmp::Ordering {
        self.name().cmp(other.name())
    }
}

impl std::fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for ServiceRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
impl schemars::JsonSchema for ServiceRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ServiceName".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // A built-in prefix, or the name of a service described in the spec.
        #[allow(dead_code)]
        #[derive(schemars::JsonSchema)]
        #[serde(untagged)]
        enum Name {
            Builtin(Service),
            Described(String),
        }
        <Name as schemars::JsonSchema>::json_schema(generator)
    }
}
