//! Where a service's jobs live and how they are read, as data: one [`ServiceApi`] per service
//! prefix, in one table ([`Service::api`]).
//!
//! The job APIs of these clouds differ by host name (per cloud: OTC serves bare metal servers
//! from the ECS host), by path (`/v1/{project_id}/jobs/{job_id}` for the classic shape, other
//! paths and query forms for the database, container, cache, file and backup services), and by
//! the shape of their documents. Describing each as a table entry keeps that knowledge in one
//! place: adding a service is an entry here plus a fixture, not code spread over endpoints, the
//! wire model and the verdict.

use std::borrow::Cow;

use url::Url;

use super::endpoint::{Cloud, Service};
use super::wire::Job;

/// How a job document of a service is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{status, job_id, job_type, begin_time, end_time, error_code, fail_reason, entities:
    /// {sub_jobs, …}}` with upper-case statuses (ECS, EVS, BMS, IMS, VPC, DeH, SDRS).
    Classic,
    /// The database task center's `{"job": {id, name, status: Running|Completed|Failed, created,
    /// ended, process|progress, instance: {id, name}, entities, fail_reason}}` (RDS, DDS), read
    /// into the same [`Job`] model ([`super::shapes`]).
    RdsJob,
    /// CCE's Kubernetes-style `{kind: Job, metadata: {uid, creationTimestamp, updateTimestamp},
    /// spec: {type, clusterUID, subJobs: [...]}, status: {phase, reason}}`, sub-jobs of the same
    /// shape, read into the same [`Job`] model ([`super::shapes`]).
    CceJob,
}

impl Shape {
    /// A 2xx body of this shape as a job document (the error says why it is not one, without
    /// echoing the body).
    pub fn parse(self, body: &[u8]) -> Result<Job, String> {
        match self {
            Shape::Classic => Job::from_slice(body),
            Shape::RdsJob => super::shapes::rds_job(body),
            Shape::CceJob => super::shapes::cce_job(body),
        }
    }

    /// Whether its documents list sub-jobs (the task center's do not).
    pub fn has_sub_jobs(self) -> bool {
        match self {
            Shape::Classic | Shape::CceJob => true,
            Shape::RdsJob => false,
        }
    }
}

/// One service's job API.
#[derive(Debug)]
pub struct ServiceApi {
    /// The `{service}` label of its host, when a cloud's host differs from the prefix.
    hosts: &'static [(Cloud, &'static str)],
    /// Where a job is, under the service's base URL: `/`-separated segments with
    /// `{project_id}` and `{job_id}` placeholders, optionally `?name={placeholder}`.
    pub path: &'static str,
    pub shape: Shape,
    /// The entity kinds its jobs create (`server_id`…): their `<kind>s` outputs exist, empty
    /// when nothing was created, whenever a job of the service is waited on.
    pub kinds: &'static [&'static str],
}

/// The classic job path.
const CLASSIC: &str = "/v1/{project_id}/jobs/{job_id}";

/// The database task center's job path: "Obtaining Information About a Task with a Specified
/// ID" in the RDS (`rds_13_0003`) and DDS (`dds_api_0118`) API references.
const TASK_CENTER: &str = "/v3/{project_id}/jobs?id={job_id}";

/// CCE's job path: "Reading Job Progress" (`cce_02_0247`) in the CCE API reference, for cluster
/// and node creation and deletion jobs.
const CCE: &str = "/api/v3/projects/{project_id}/jobs/{job_id}";

impl Service {
    /// This service's job API.
    pub fn api(self) -> &'static ServiceApi {
        const fn classic(
            hosts: &'static [(Cloud, &'static str)],
            kinds: &'static [&'static str],
        ) -> ServiceApi {
            ServiceApi {
                hosts,
                path: CLASSIC,
                shape: Shape::Classic,
                kinds,
            }
        }
        static ECS: ServiceApi = classic(&[], &["server_id"]);
        static EVS: ServiceApi = classic(&[], &["volume_id"]);
        // OTC has no `bms.` host: bare metal servers are served by the ECS endpoint.
        static BMS: ServiceApi = classic(&[(Cloud::Otc, "ecs")], &["server_id"]);
        static IMS: ServiceApi = classic(&[], &["image_id"]);
        static VPC: ServiceApi = classic(&[], &["publicip_id"]);
        // Their job documents' entity names are not documented well enough to promise a key.
        static DEH: ServiceApi = classic(&[], &[]);
        static SDRS: ServiceApi = classic(&[], &[]);
        // The task center names the DB instance a job works on (`job.instance.id`).
        static TASK_CENTER_API: ServiceApi = ServiceApi {
            hosts: &[],
            path: TASK_CENTER,
            shape: Shape::RdsJob,
            kinds: &["instance_id"],
        };
        // A CCE job names the cluster it works on (`spec.clusterUID`).
        static CCE_API: ServiceApi = ServiceApi {
            hosts: &[],
            path: CCE,
            shape: Shape::CceJob,
            kinds: &["cluster_id"],
        };
        match self {
            Service::Ecs => &ECS,
            Service::Evs => &EVS,
            Service::Bms => &BMS,
            Service::Ims => &IMS,
            Service::Vpc => &VPC,
            Service::Deh => &DEH,
            Service::Sdrs => &SDRS,
            Service::Rds | Service::Dds => &TASK_CENTER_API,
            Service::Cce => &CCE_API,
        }
    }

    /// The `{service}` label of this service's host on `cloud` (the prefix, unless the cloud
    /// names the host otherwise).
    pub fn host_label(self, cloud: Option<Cloud>) -> &'static str {
        cloud
            .and_then(|c| {
                self.api()
                    .hosts
                    .iter()
                    .find(|(hc, _)| *hc == c)
                    .map(|(_, h)| *h)
            })
            .unwrap_or(self.as_str())
    }
}

impl ServiceApi {
    /// The URL of job `job_id` of project `project_id` under `base`, path segments and query
    /// values encoded (an id can never add a segment or a parameter).
    pub fn url(&self, base: &Url, project_id: &str, job_id: &str) -> Url {
        let fill = |part: &'static str| -> Cow<'_, str> {
            match part {
                "{project_id}" => Cow::Owned(project_id.to_owned()),
                "{job_id}" => Cow::Owned(job_id.to_owned()),
                other => Cow::Borrowed(other),
            }
        };
        let (path, query) = match self.path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (self.path, None),
        };
        let mut url = base.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            for part in path.split('/').filter(|p| !p.is_empty()) {
                segments.push(&fill(part));
            }
        }
        if let Some(query) = query {
            let mut pairs = url.query_pairs_mut();
            for pair in query.split('&') {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                pairs.append_pair(name, &fill(value));
            }
        }
        url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_an_api_and_a_host_label_per_cloud() {
        for service in Service::ALL {
            let (path, shape) = match service {
                Service::Rds | Service::Dds => (TASK_CENTER, Shape::RdsJob),
                Service::Cce => (CCE, Shape::CceJob),
                _ => (CLASSIC, Shape::Classic),
            };
            assert_eq!(service.api().path, path, "{service}");
            assert_eq!(service.api().shape, shape, "{service}");
            for cloud in [Cloud::Huaweicloud, Cloud::Otc, Cloud::Flexibleengine] {
                let label = service.host_label(Some(cloud));
                let want = match (service, cloud) {
                    (Service::Bms, Cloud::Otc) => "ecs",
                    _ => service.as_str(),
                };
                assert_eq!(label, want, "{service} on {}", cloud.as_str());
            }
            assert_eq!(service.host_label(None), service.as_str());
        }
    }

    #[test]
    fn urls_encode_ids_and_keep_the_base_path() {
        let base = Url::parse("https://ecs.eu-de.otc.t-systems.com/prefix/").unwrap();
        let url = Service::Ecs.api().url(&base, "p1", "j/../x?y");
        assert_eq!(
            url.as_str(),
            "https://ecs.eu-de.otc.t-systems.com/prefix/v1/p1/jobs/j%2F..%2Fx%3Fy"
        );
        let query = ServiceApi {
            hosts: &[],
            path: "/v3/{project_id}/jobs?id={job_id}",
            shape: Shape::Classic,
            kinds: &[],
        };
        let url = query.url(&base, "p1", "a&b=c");
        assert_eq!(
            url.as_str(),
            "https://ecs.eu-de.otc.t-systems.com/prefix/v3/p1/jobs?id=a%26b%3Dc"
        );
    }

    #[test]
    fn database_jobs_are_asked_for_by_query() {
        let base = Url::parse("https://rds.eu-de.otc.t-systems.com/").unwrap();
        for service in [Service::Rds, Service::Dds] {
            assert_eq!(service.api().kinds, ["instance_id"]);
            let url = service.api().url(&base, "p1", "a9767ede-fe0f");
            assert_eq!(
                url.as_str(),
                "https://rds.eu-de.otc.t-systems.com/v3/p1/jobs?id=a9767ede-fe0f"
            );
        }
    }

    #[test]
    fn cce_jobs_are_under_api_v3_projects() {
        assert_eq!(Service::Cce.api().kinds, ["cluster_id"]);
        for cloud in [Cloud::Huaweicloud, Cloud::Otc, Cloud::Flexibleengine] {
            assert_eq!(Service::Cce.host_label(Some(cloud)), "cce");
        }
        let base = Url::parse("https://cce.eu-de.otc.t-systems.com/").unwrap();
        let url = Service::Cce.api().url(&base, "p1", "354331b2c-229a/..");
        assert_eq!(
            url.as_str(),
            "https://cce.eu-de.otc.t-systems.com/api/v3/projects/p1/jobs/354331b2c-229a%2F.."
        );
    }

    #[test]
    fn otc_serves_bare_metal_jobs_from_the_ecs_host() {
        let e = super::super::endpoint::Endpoints {
            template: None,
            cloud: Some(Cloud::Otc),
            region: Some("eu-de".to_owned()),
            overrides: Default::default(),
            iam: None,
        };
        assert_eq!(
            e.base(Service::Bms).unwrap().as_str(),
            "https://ecs.eu-de.otc.t-systems.com/"
        );
        let hw = super::super::endpoint::Endpoints {
            cloud: Some(Cloud::Huaweicloud),
            ..e
        };
        assert_eq!(
            hw.base(Service::Bms).unwrap().as_str(),
            "https://bms.eu-de.myhuaweicloud.com/"
        );
    }
}
