//! Where a service's jobs live and how they are read, as data: one [`ServiceApi`] per service
//! prefix, in one table ([`Service::api`]).
//!
//! The job APIs of these clouds differ by host name (per cloud: OTC serves bare metal servers
//! from the ECS host), by path (`/v1/{project_id}/jobs/{job_id}` for the classic shape, other
//! paths and query forms for the database, container, cache, file and backup services), and by
//! the shape of their documents. Describing each as a table entry keeps that knowledge in one
//! place: adding a service is an entry here plus a fixture, not code spread over endpoints, the
//! wire model and the verdict.

use url::Url;

use super::endpoint::{Cloud, Service};
use super::wire::{Job, JobStatus, CLASSIC_STATUSES};

/// How a job document of a service is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{status, job_id, job_type, begin_time, end_time, error_code, fail_reason, entities:
    /// {sub_jobs, …}}` with upper-case statuses (ECS, EVS, BMS, IMS, VPC, DeH, SDRS, classic ELB).
    Classic,
    /// The database task center's `{"job": {id, name, status: Running|Completed|Failed, created,
    /// ended, process|progress, instance: {id, name}, entities, fail_reason}}` (RDS, DDS, GaussDB,
    /// GaussDB for MySQL), read into the same [`Job`] model ([`super::shapes`]).
    RdsJob,
    /// GeminiDB's task list, `{"total_count", "jobs": [{id, name, status, start_time, end_time,
    /// progress, instance, fail_reason}]}`: the task center's job in a list (empty: no such job).
    NosqlJobs,
    /// CCE's Kubernetes-style `{kind: Job, metadata: {uid, creationTimestamp, updateTimestamp},
    /// spec: {type, clusterUID, subJobs: [...]}, status: {phase, reason}}`, sub-jobs of the same
    /// shape, read into the same [`Job`] model ([`super::shapes`]).
    CceJob,
    /// DCS: the classic fields without entities, `begin_time`/`end_time` as epoch-millisecond
    /// strings.
    DcsJob,
    /// SFS Turbo: the classic fields with lower-case statuses (`waiting`, `running`, `success`,
    /// `failed`), `sub_jobs` at the top level, times as `2016-01-02 15:04:05` (UTC).
    SfsTurboJob,
    /// ELB v3: `{"job": {status, job_id, job_type, begin_time, end_time, error_code, error_msg,
    /// resource_id, sub_jobs: [...]}, "request_id"}`.
    ElbJob,
    /// CBR: `{"operation_log": {id, operation_type, status, started_at, ended_at, error_info:
    /// {code, message}, extra_info: {backup: {backup_id}, common: {progress}, …}}}`.
    CbrOperationLog,
}

/// Why a 2xx body is no job document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DocumentError {
    /// Not a document of the shape (said without echoing the body): retried, then an error.
    Unreadable(String),
    /// A well-formed answer that holds no such job (GeminiDB's empty task list): an unknown id,
    /// judged under `not_found_grace` like a 404.
    Absent(String),
}

/// The status words of a shape, as the service writes them, by what they mean for the wait
/// (grouped from [`Shape::statuses`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusWords {
    pub success: Vec<&'static str>,
    pub failure: Vec<&'static str>,
    pub pending: Vec<&'static str>,
}

impl Shape {
    /// A 2xx body of this shape as a job document.
    pub fn parse(self, body: &[u8]) -> Result<Job, DocumentError> {
        use super::shapes;
        let unreadable = DocumentError::Unreadable;
        match self {
            Shape::Classic => Job::from_slice(body).map_err(unreadable),
            Shape::RdsJob => shapes::rds_job(body).map_err(unreadable),
            Shape::NosqlJobs => shapes::nosql_jobs(body)
                .map_err(unreadable)?
                .ok_or_else(|| {
                    DocumentError::Absent("no such job: the task list is empty".to_owned())
                }),
            Shape::CceJob => shapes::cce_job(body).map_err(unreadable),
            Shape::DcsJob => shapes::dcs_job(body).map_err(unreadable),
            Shape::SfsTurboJob => shapes::sfs_turbo_job(body).map_err(unreadable),
            Shape::ElbJob => shapes::elb_job(body).map_err(unreadable),
            Shape::CbrOperationLog => shapes::cbr_operation_log(body).map_err(unreadable),
        }
    }

    /// Whether its documents list sub-jobs (the task centers', DCS's and CBR's do not).
    pub fn has_sub_jobs(self) -> bool {
        match self {
            Shape::Classic | Shape::CceJob | Shape::SfsTurboJob | Shape::ElbJob => true,
            Shape::RdsJob | Shape::NosqlJobs | Shape::DcsJob | Shape::CbrOperationLog => false,
        }
    }

    /// The documented status words, as the service writes them, each with its meaning: the one
    /// table the shape's reader looks words up in (in any case, except the classic shape's,
    /// which are upper case) and `validate` shows, so what is shown is what is read. Any other
    /// word is unknown and follows `success.unknown_status`.
    pub fn statuses(self) -> &'static [(&'static str, JobStatus)] {
        use super::shapes;
        match self {
            Shape::Classic => CLASSIC_STATUSES,
            // The classic words in any case (`PENDING_PAYMENT` too), but DCS documents these.
            Shape::DcsJob => &CLASSIC_STATUSES[..4],
            Shape::RdsJob | Shape::NosqlJobs => shapes::TASK_CENTER_STATUSES,
            Shape::CceJob => shapes::CCE_STATUSES,
            Shape::SfsTurboJob => shapes::SFS_TURBO_STATUSES,
            Shape::ElbJob => shapes::ELB_STATUSES,
            Shape::CbrOperationLog => shapes::CBR_STATUSES,
        }
    }

    /// [`Shape::statuses`] by what they mean for the wait, for `validate`.
    pub fn words(self) -> StatusWords {
        let mut words = StatusWords {
            success: Vec::new(),
            failure: Vec::new(),
            pending: Vec::new(),
        };
        for (word, status) in self.statuses() {
            match status {
                JobStatus::Success => words.success.push(*word),
                JobStatus::Fail => words.failure.push(*word),
                _ => words.pending.push(*word),
            }
        }
        words
    }
}

/// One service's job API.
#[derive(Debug)]
pub struct ServiceApi {
    /// The `{service}` label of its host on every cloud, when it is not the prefix.
    label: Option<&'static str>,
    /// The `{service}` label of its host, when a cloud's host differs from the prefix.
    hosts: &'static [(Cloud, &'static str)],
    /// The clouds whose documentation has no job API of this service: a plan-time error on
    /// their preset ([`super::endpoint::Endpoints::undocumented`]).
    pub undocumented: &'static [Cloud],
    /// Whether Huawei Cloud's European region serves it under `myhuaweicloud.eu`
    /// ([`super::endpoint::HUAWEI_EU_REGIONS`]).
    pub huawei_eu: bool,
    /// Where a job is, under the service's base URL: `/`-separated segments with
    /// `{project_id}` and `{job_id}` placeholders, optionally `?name={placeholder}`.
    pub path: &'static str,
    pub shape: Shape,
    /// The entity kinds its jobs create (`server_id`…): their `<kind>s` outputs exist, empty
    /// when nothing was created, whenever a job of the service is waited on.
    pub kinds: &'static [&'static str],
}

/// The classic job path.
pub const CLASSIC: &str = "/v1/{project_id}/jobs/{job_id}";

/// The database task center's job path: "Obtaining Information About a Task with a Specified
/// ID" in the RDS (`rds_13_0003`), DDS (`dds_api_0118`), GaussDB (openGauss), TaurusDB and
/// GeminiDB ("Querying Tasks and Details") API references.
pub const TASK_CENTER: &str = "/v3/{project_id}/jobs?id={job_id}";

/// CCE's job path: "Reading Job Progress" (`cce_02_0247`) in the CCE API reference, for cluster
/// and node creation and deletion jobs.
pub const CCE: &str = "/api/v3/projects/{project_id}/jobs/{job_id}";

/// DCS's: "Querying the Job Execution Result of a Tenant" (`ShowJobInfo`).
pub const DCS: &str = "/v2/{project_id}/jobs/{job_id}";

/// SFS Turbo's: "Querying the Status of a Task" (`ShowJobDetail`).
pub const SFS_TURBO: &str = "/v1/{project_id}/sfs-turbo/jobs/{job_id}";

/// Classic ELB's (v1.0), on the `elb` host.
pub const ELB_CLASSIC: &str = "/v1.0/{project_id}/jobs/{job_id}";

/// ELB v3's `ShowJob` (the official SDKs' `GET /v3/{project_id}/elb/jobs/{job_id}`).
pub const ELB: &str = "/v3/{project_id}/elb/jobs/{job_id}";

/// CBR's "Querying a Single Task" (`ShowOpLog`).
pub const CBR: &str = "/v3/{project_id}/operation-logs/{job_id}";

impl Service {
    /// This service's job API.
    pub fn api(self) -> &'static ServiceApi {
        const fn api(
            path: &'static str,
            shape: Shape,
            kinds: &'static [&'static str],
        ) -> ServiceApi {
            ServiceApi {
                label: None,
                hosts: &[],
                undocumented: &[],
                huawei_eu: false,
                path,
                shape,
                kinds,
            }
        }
        const fn classic(kinds: &'static [&'static str]) -> ServiceApi {
            api(CLASSIC, Shape::Classic, kinds)
        }
        static ECS: ServiceApi = classic(&["server_id"]);
        static EVS: ServiceApi = classic(&["volume_id"]);
        // OTC has no `bms.` host: bare metal servers are served by the ECS endpoint.
        static BMS: ServiceApi = ServiceApi {
            hosts: &[(Cloud::Otc, "ecs")],
            ..classic(&["server_id"])
        };
        static IMS: ServiceApi = classic(&["image_id"]);
        // OTC's VPC and DeH API references document no job API (EIPs and dedicated hosts are
        // answered synchronously there).
        static VPC: ServiceApi = ServiceApi {
            undocumented: &[Cloud::Otc],
            ..classic(&["publicip_id"])
        };
        // Their job documents' entity names are not documented well enough to promise a key.
        static DEH: ServiceApi = ServiceApi {
            undocumented: &[Cloud::Otc],
            ..classic(&[])
        };
        static SDRS: ServiceApi = classic(&[]);
        // The task center names the DB instance a job works on (`job.instance.id`).
        static RDS: ServiceApi = ServiceApi {
            huawei_eu: true,
            ..api(TASK_CENTER, Shape::RdsJob, &["instance_id"])
        };
        // openGauss: `gaussdb-opengauss.` on Huawei Cloud (SDK `gaussdbforopengauss`),
        // `gaussdb.` on OTC (its API reference's examples); Flexible Engine documents neither.
        static GAUSSDB: ServiceApi = ServiceApi {
            hosts: &[(Cloud::Huaweicloud, "gaussdb-opengauss")],
            undocumented: &[Cloud::Flexibleengine],
            ..api(TASK_CENTER, Shape::RdsJob, &["instance_id"])
        };
        // TaurusDB: `gaussdb.` on Huawei Cloud (SDK `gaussdb`; a few regions use
        // `gaussdbformysql.`, reached with `endpoints.gaussdb-mysql`), `gaussdb-mysql.` on OTC.
        static GAUSSDB_MYSQL: ServiceApi = ServiceApi {
            hosts: &[(Cloud::Huaweicloud, "gaussdb")],
            undocumented: &[Cloud::Flexibleengine],
            ..api(TASK_CENTER, Shape::RdsJob, &["instance_id"])
        };
        // GeminiDB: `gaussdb-nosql.` (SDK `gaussdbfornosql`).
        static GAUSSDB_NOSQL: ServiceApi = ServiceApi {
            undocumented: &[Cloud::Flexibleengine],
            ..api(TASK_CENTER, Shape::NosqlJobs, &["instance_id"])
        };
        // A CCE job names the cluster it works on (`spec.clusterUID`).
        static CCE_API: ServiceApi = ServiceApi {
            huawei_eu: true,
            ..api(CCE, Shape::CceJob, &["cluster_id"])
        };
        // DCS and SFS Turbo documents name no resource: no entity kind to promise.
        static DCS_API: ServiceApi = api(DCS, Shape::DcsJob, &[]);
        static SFS_TURBO_API: ServiceApi = ServiceApi {
            huawei_eu: true,
            ..api(SFS_TURBO, Shape::SfsTurboJob, &[])
        };
        // Classic ELB: the ECS shape, `entities.elb_id`, on the `elb` host.
        static ELB_CLASSIC_API: ServiceApi = ServiceApi {
            label: Some("elb"),
            ..api(ELB_CLASSIC, Shape::Classic, &["elb_id"])
        };
        static ELB_API: ServiceApi = api(ELB, Shape::ElbJob, &["elb_id"]);
        static CBR_API: ServiceApi = ServiceApi {
            huawei_eu: true,
            ..api(CBR, Shape::CbrOperationLog, &["backup_id"])
        };
        match self {
            Service::Ecs => &ECS,
            Service::Evs => &EVS,
            Service::Bms => &BMS,
            Service::Ims => &IMS,
            Service::Vpc => &VPC,
            Service::Deh => &DEH,
            Service::Sdrs => &SDRS,
            Service::Rds | Service::Dds => &RDS,
            Service::Gaussdb => &GAUSSDB,
            Service::GaussdbMysql => &GAUSSDB_MYSQL,
            Service::GaussdbNosql => &GAUSSDB_NOSQL,
            Service::Cce => &CCE_API,
            Service::Dcs => &DCS_API,
            Service::SfsTurbo => &SFS_TURBO_API,
            Service::ElbClassic => &ELB_CLASSIC_API,
            Service::Elb => &ELB_API,
            Service::Cbr => &CBR_API,
        }
    }

    /// The `{service}` label of this service's host on `cloud` (the prefix, unless the service
    /// or the cloud names the host otherwise; `elb-classic` is on the `elb` host).
    pub fn host_label(self, cloud: Option<Cloud>) -> &'static str {
        cloud
            .and_then(|c| {
                self.api()
                    .hosts
                    .iter()
                    .find(|(hc, _)| *hc == c)
                    .map(|(_, h)| *h)
            })
            .or(self.api().label)
            .unwrap_or(self.as_str())
    }
}

impl ServiceApi {
    /// The URL of job `job_id` of project `project_id` under `base`, path segments and query
    /// values encoded (an id can never add a segment or a parameter).
    pub fn url(&self, base: &Url, project_id: &str, job_id: &str) -> Url {
        fill_path(self.path, base, project_id, job_id)
    }
}

/// `path` (`/`-separated segments with `{project_id}` and `{job_id}` placeholders, optionally
/// `?name={placeholder}`) under `base`, placeholders filled in, path segments and query values
/// encoded (an id can never add a segment or a parameter).
pub(super) fn fill_path(path: &str, base: &Url, project_id: &str, job_id: &str) -> Url {
    let fill = |part: &str| -> String {
        match part {
            "{project_id}" => project_id.to_owned(),
            "{job_id}" => job_id.to_owned(),
            other => other.to_owned(),
        }
    };
    let (path, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The words `validate` shows and the words each reader acts on are two tables; this holds
    /// them together: every documented word of every shape, read back by the shape's own
    /// reader, lands in the class `validate` names (in any case, except the classic upper-case
    /// words), and a word outside them is unknown.
    #[test]
    fn every_shown_status_word_reads_as_its_class() {
        let body = |shape: Shape, word: &str| -> String {
            let w = serde_json::Value::String(word.to_owned());
            match shape {
                Shape::Classic | Shape::DcsJob | Shape::SfsTurboJob => {
                    format!(r#"{{"status":{w}}}"#)
                }
                Shape::RdsJob | Shape::ElbJob => format!(r#"{{"job":{{"id":"j","status":{w}}}}}"#),
                Shape::NosqlJobs => format!(r#"{{"jobs":[{{"id":"j","status":{w}}}]}}"#),
                Shape::CceJob => format!(
                    r#"{{"kind":"Job","metadata":{{"uid":"j"}},"spec":{{"type":"t"}},"status":{{"phase":{w}}}}}"#
                ),
                Shape::CbrOperationLog => {
                    format!(r#"{{"operation_log":{{"id":"j","status":{w}}}}}"#)
                }
            }
        };
        let shapes = [
            Shape::Classic,
            Shape::RdsJob,
            Shape::NosqlJobs,
            Shape::CceJob,
            Shape::DcsJob,
            Shape::SfsTurboJob,
            Shape::ElbJob,
            Shape::CbrOperationLog,
        ];
        for shape in shapes {
            let words = shape.words();
            let classes = [
                (&words.success, "success"),
                (&words.failure, "failure"),
                (&words.pending, "pending"),
            ];
            for (list, class) in classes {
                for word in list {
                    let mut spellings = vec![word.to_string()];
                    if shape != Shape::Classic {
                        spellings.push(word.to_uppercase());
                        spellings.push(word.to_lowercase());
                    }
                    for spelling in spellings {
                        let status = shape
                            .parse(body(shape, &spelling).as_bytes())
                            .unwrap_or_else(|e| panic!("{shape:?} {spelling}: {e:?}"))
                            .status;
                        let read = match status {
                            JobStatus::Success => "success",
                            JobStatus::Fail => "failure",
                            JobStatus::Unknown(_) => "unknown",
                            _ => "pending",
                        };
                        assert_eq!(read, class, "{shape:?} reads {spelling:?} as {status:?}");
                    }
                }
            }
            let status = shape
                .parse(body(shape, "NOT_A_WORD").as_bytes())
                .unwrap()
                .status;
            assert!(
                matches!(status, JobStatus::Unknown(_)),
                "{shape:?}: {status:?}"
            );
        }
    }

    fn endpoints(cloud: Cloud, region: &str) -> super::super::endpoint::Endpoints {
        super::super::endpoint::Endpoints {
            template: None,
            cloud: Some(cloud),
            region: Some(region.to_owned()),
            overrides: Default::default(),
            described: Default::default(),
            iam: None,
        }
    }

    /// Every service's host on every cloud, from the clouds' endpoint tables and the official
    /// SDKs' region files; `None` where the cloud documents no job API of the service.
    #[test]
    fn hosts_per_cloud_as_a_table() {
        use Service::*;
        let table: &[(Service, &str, Option<&str>, Option<&str>)] = &[
            // (service, Huawei Cloud ap-southeast-1, OTC eu-de, Flexible Engine eu-west-0)
            (Ecs, "ecs", Some("ecs"), Some("ecs")),
            (Evs, "evs", Some("evs"), Some("evs")),
            (Bms, "bms", Some("ecs"), Some("bms")),
            (Ims, "ims", Some("ims"), Some("ims")),
            (Vpc, "vpc", None, Some("vpc")),
            (Deh, "deh", None, Some("deh")),
            (Sdrs, "sdrs", Some("sdrs"), Some("sdrs")),
            (Rds, "rds", Some("rds"), Some("rds")),
            (Dds, "dds", Some("dds"), Some("dds")),
            (Cce, "cce", Some("cce"), Some("cce")),
            (Gaussdb, "gaussdb-opengauss", Some("gaussdb"), None),
            (GaussdbMysql, "gaussdb", Some("gaussdb-mysql"), None),
            (GaussdbNosql, "gaussdb-nosql", Some("gaussdb-nosql"), None),
            (Dcs, "dcs", Some("dcs"), Some("dcs")),
            (SfsTurbo, "sfs-turbo", Some("sfs-turbo"), Some("sfs-turbo")),
            (ElbClassic, "elb", Some("elb"), Some("elb")),
            (Elb, "elb", Some("elb"), Some("elb")),
            (Cbr, "cbr", Some("cbr"), Some("cbr")),
        ];
        assert_eq!(
            table.len(),
            Service::ALL.len(),
            "every service is in the table"
        );
        for (service, hw, otc, fe) in table {
            let hw_url = endpoints(Cloud::Huaweicloud, "ap-southeast-1").base(*service);
            assert_eq!(
                hw_url.unwrap().as_str(),
                format!("https://{hw}.ap-southeast-1.myhuaweicloud.com/"),
                "{service}"
            );
            for (cloud, region, label, domain) in [
                (Cloud::Otc, "eu-de", otc, "otc.t-systems.com"),
                (
                    Cloud::Flexibleengine,
                    "eu-west-0",
                    fe,
                    "prod-cloud-ocb.orange-business.com",
                ),
            ] {
                let e = endpoints(cloud, region);
                match label {
                    Some(label) => {
                        assert_eq!(e.undocumented(*service), None, "{service} {cloud:?}");
                        assert_eq!(
                            e.base(*service).unwrap().as_str(),
                            format!("https://{label}.{region}.{domain}/"),
                            "{service}"
                        );
                    }
                    None => {
                        let why = e.undocumented(*service).expect("undocumented");
                        assert!(why.contains(&format!("no job API for {service}")), "{why}");
                        assert!(why.contains(&format!("endpoints.{service}")), "{why}");
                    }
                }
            }
            // In a template, `{service}` is the host label (no cloud: the service's own).
            let label = service.host_label(None);
            match service {
                ElbClassic => assert_eq!(label, "elb"),
                _ => assert_eq!(label, service.as_str()),
            }
        }
    }

    /// Huawei Cloud's European region serves some services under `myhuaweicloud.eu`, the others
    /// (and every other region) under `.com`; its IAM is under `.eu` too.
    #[test]
    fn huawei_cloud_europe_splits_its_hosts_between_two_domains() {
        let e = endpoints(Cloud::Huaweicloud, "eu-west-101");
        for service in Service::ALL {
            let url = e.base(service).unwrap();
            let eu = matches!(
                service,
                Service::Cce | Service::Rds | Service::Dds | Service::SfsTurbo | Service::Cbr
            );
            let domain = if eu { "eu" } else { "com" };
            assert_eq!(
                url.host_str().unwrap(),
                format!(
                    "{}.eu-west-101.myhuaweicloud.{domain}",
                    service.host_label(Some(Cloud::Huaweicloud))
                ),
                "{service}"
            );
        }
        assert_eq!(
            e.iam_base().unwrap().as_str(),
            "https://iam.eu-west-101.myhuaweicloud.eu/"
        );
        let paris = endpoints(Cloud::Huaweicloud, "eu-west-0");
        assert_eq!(
            paris.base(Service::Cce).unwrap().as_str(),
            "https://cce.eu-west-0.myhuaweicloud.com/"
        );
    }

    #[test]
    fn flexible_engine_iam_is_one_host_for_every_region() {
        for region in ["eu-west-0", "eu-west-1", "na-east-0"] {
            assert_eq!(
                endpoints(Cloud::Flexibleengine, region)
                    .iam_base()
                    .unwrap()
                    .as_str(),
                "https://iam.eu-west-0.prod-cloud-ocb.orange-business.com/"
            );
        }
    }

    /// An explicit `endpoints.<prefix>` or a template is the user's own host: no cloud's
    /// documentation stands in its way.
    #[test]
    fn an_override_or_template_reaches_an_undocumented_service() {
        let mut e = endpoints(Cloud::Otc, "eu-de");
        assert!(e.undocumented(Service::Vpc).is_some());
        e.overrides
            .insert(Service::Vpc, "https://vpc.example".into());
        assert_eq!(e.undocumented(Service::Vpc), None);
        let t = super::super::endpoint::Endpoints {
            template: Some("https://{service}.example".into()),
            ..endpoints(Cloud::Otc, "eu-de")
        };
        assert_eq!(t.undocumented(Service::Deh), None);
        assert_eq!(
            t.base(Service::ElbClassic).unwrap().as_str(),
            "https://elb.example/"
        );
    }

    #[test]
    fn paths_and_shapes_per_service() {
        for service in Service::ALL {
            let (path, shape) = match service {
                Service::Rds | Service::Dds | Service::Gaussdb | Service::GaussdbMysql => {
                    (TASK_CENTER, Shape::RdsJob)
                }
                Service::GaussdbNosql => (TASK_CENTER, Shape::NosqlJobs),
                Service::Cce => (CCE, Shape::CceJob),
                Service::Dcs => (DCS, Shape::DcsJob),
                Service::SfsTurbo => (SFS_TURBO, Shape::SfsTurboJob),
                Service::ElbClassic => (ELB_CLASSIC, Shape::Classic),
                Service::Elb => (ELB, Shape::ElbJob),
                Service::Cbr => (CBR, Shape::CbrOperationLog),
                _ => (CLASSIC, Shape::Classic),
            };
            assert_eq!(service.api().path, path, "{service}");
            assert_eq!(service.api().shape, shape, "{service}");
            let words = shape.words();
            assert!(!words.success.is_empty() && !words.failure.is_empty());
        }
        let base = Url::parse("https://x.example/").unwrap();
        for (service, want) in [
            (Service::Dcs, "https://x.example/v2/p/jobs/j"),
            (Service::SfsTurbo, "https://x.example/v1/p/sfs-turbo/jobs/j"),
            (Service::ElbClassic, "https://x.example/v1.0/p/jobs/j"),
            (Service::Elb, "https://x.example/v3/p/elb/jobs/j"),
            (Service::Cbr, "https://x.example/v3/p/operation-logs/j"),
            (Service::GaussdbNosql, "https://x.example/v3/p/jobs?id=j"),
        ] {
            assert_eq!(service.api().url(&base, "p", "j").as_str(), want);
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
            label: None,
            hosts: &[],
            undocumented: &[],
            huawei_eu: false,
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
            described: Default::default(),
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
