//! Which host answers for which service: cloud presets, templates and per-service overrides.
//!
//! The service a job id belongs to picks its host here; where on that host the job lives and how
//! its document reads is the service's entry in [`super::service`]. A job's URL is resolved once,
//! while planning, so a wrong template is a usage error (exit 2) before any request is sent.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

#[cfg(test)]
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// A cloud service with a job API (its path and document shape: [`Service::api`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// Elastic Cloud Server.
    Ecs,
    /// Elastic Volume Service (jobs on v1 even though volumes are v2/v3).
    Evs,
    /// Bare Metal Server.
    Bms,
    /// Image Management Service.
    Ims,
    /// VPC endpoint: EIP batch jobs.
    Vpc,
    /// Dedicated Host.
    Deh,
    /// Storage Disaster Recovery Service.
    Sdrs,
    /// Relational Database Service: task center jobs at `/v3/{project_id}/jobs?id=`.
    Rds,
    /// Document Database Service: the same task center API as RDS.
    Dds,
    /// Cloud Container Engine: cluster and node jobs at `/api/v3/projects/{project_id}/jobs/{job_id}`.
    Cce,
    /// GaussDB (openGauss): the database task center, as RDS.
    Gaussdb,
    /// GaussDB for MySQL (TaurusDB): the database task center, as RDS.
    #[serde(rename = "gaussdb-mysql", alias = "gaussdb_mysql")]
    GaussdbMysql,
    /// GaussDB NoSQL (GeminiDB): the task list at `/v3/{project_id}/jobs?id=`.
    #[serde(rename = "gaussdb-nosql", alias = "gaussdb_nosql")]
    GaussdbNosql,
    /// Distributed Cache Service: `/v2/{project_id}/jobs/{job_id}`.
    Dcs,
    /// SFS Turbo: `/v1/{project_id}/sfs-turbo/jobs/{job_id}`.
    #[serde(rename = "sfs-turbo", alias = "sfs_turbo")]
    SfsTurbo,
    /// Classic (shared) load balancers: `/v1.0/{project_id}/jobs/{job_id}` on the `elb` host.
    #[serde(rename = "elb-classic", alias = "elb_classic")]
    ElbClassic,
    /// Dedicated load balancers (ELB v3): `/v3/{project_id}/elb/jobs/{job_id}`.
    Elb,
    /// Cloud Backup and Recovery: tasks (operation logs) at `/v3/{project_id}/operation-logs/{id}`.
    Cbr,
}

impl Service {
    pub const ALL: [Service; 18] = [
        Service::Ecs,
        Service::Evs,
        Service::Bms,
        Service::Ims,
        Service::Vpc,
        Service::Deh,
        Service::Sdrs,
        Service::Rds,
        Service::Dds,
        Service::Cce,
        Service::Gaussdb,
        Service::GaussdbMysql,
        Service::GaussdbNosql,
        Service::Dcs,
        Service::SfsTurbo,
        Service::ElbClassic,
        Service::Elb,
        Service::Cbr,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Service::Ecs => "ecs",
            Service::Evs => "evs",
            Service::Bms => "bms",
            Service::Ims => "ims",
            Service::Vpc => "vpc",
            Service::Deh => "deh",
            Service::Sdrs => "sdrs",
            Service::Rds => "rds",
            Service::Dds => "dds",
            Service::Cce => "cce",
            Service::Gaussdb => "gaussdb",
            Service::GaussdbMysql => "gaussdb-mysql",
            Service::GaussdbNosql => "gaussdb-nosql",
            Service::Dcs => "dcs",
            Service::SfsTurbo => "sfs-turbo",
            Service::ElbClassic => "elb-classic",
            Service::Elb => "elb",
            Service::Cbr => "cbr",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A service name as written: case is ignored, and `_` stands for `-` (environment variable
/// names cannot hold a `-`: `JOBWAIT_ENDPOINTS__SFS_TURBO`).
impl FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase().replace('_', "-");
        Service::ALL
            .into_iter()
            .find(|svc| svc.as_str() == lower)
            .ok_or_else(|| {
                let known: Vec<_> = Service::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown service `{s}` (known: {})", known.join(", "))
            })
    }
}

/// A cloud, which picks the endpoint domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(test, derive(JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Cloud {
    /// Huawei Cloud: `{service}.{region}.myhuaweicloud.com`.
    Huaweicloud,
    /// Open Telekom Cloud: `{service}.{region}.otc.t-systems.com`.
    Otc,
    /// Orange Flexible Engine: `{service}.{region}.prod-cloud-ocb.orange-business.com`.
    Flexibleengine,
}

impl Cloud {
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Huaweicloud => "huaweicloud",
            Cloud::Otc => "otc",
            Cloud::Flexibleengine => "flexibleengine",
        }
    }

    /// How the cloud is called in messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Cloud::Huaweicloud => "Huawei Cloud",
            Cloud::Otc => "OTC",
            Cloud::Flexibleengine => "Flexible Engine",
        }
    }

    /// The public regions known when this list was written, to warn about a typo before the
    /// first request goes to a host that does not exist. Never a reason to refuse a region:
    /// clouds open new ones.
    ///
    /// Sources: OTC — the `opentelekomcloud-docs/regions-and-endpoints` page (eu-de, eu-nl) and
    /// the Swiss region this preset already serves (eu-ch2, `sc.otc.t-systems.com`). Huawei
    /// Cloud — the regions of ECS in the official Go SDK (`huaweicloud-sdk-go-v3`,
    /// `services/ecs/v2/region/region.go`). Flexible Engine — the IAM endpoints page of its API
    /// documentation (eu-west-0, eu-west-1, na-east-0); eu-west-2 is listed from memory, not
    /// confirmed by a source at hand.
    pub fn known_regions(self) -> &'static [&'static str] {
        match self {
            Cloud::Otc => &["eu-de", "eu-nl", "eu-ch2"],
            Cloud::Huaweicloud => &[
                "af-north-1",
                "af-south-1",
                "ae-ad-1",
                "ap-southeast-1",
                "ap-southeast-2",
                "ap-southeast-3",
                "ap-southeast-4",
                "ap-southeast-5",
                "cn-east-2",
                "cn-east-3",
                "cn-east-4",
                "cn-east-5",
                "cn-north-1",
                "cn-north-2",
                "cn-north-4",
                "cn-north-9",
                "cn-north-11",
                "cn-north-12",
                "cn-south-1",
                "cn-south-2",
                "cn-south-4",
                "cn-southwest-2",
                "cn-southwest-3",
                "eu-west-0",
                "eu-west-101",
                "la-north-2",
                "la-south-2",
                "me-east-1",
                "my-kualalumpur-1",
                "na-mexico-1",
                "ru-moscow-1",
                "sa-brazil-1",
                "tr-west-1",
            ],
            Cloud::Flexibleengine => &["eu-west-0", "eu-west-1", "eu-west-2", "na-east-0"],
        }
    }

    /// Whether `region` is one of [`known_regions`](Self::known_regions) (case as written:
    /// region names are lower case in host names).
    pub fn knows_region(self, region: &str) -> bool {
        self.known_regions().contains(&region)
    }

    /// The cloud whose domain `host` is in (`iam.eu-de.otc.t-systems.com` is OTC), for an IAM
    /// URL users already have (`OS_AUTH_URL`) to pick the preset; `None` for any other host.
    /// Matched on whole labels, so `evilotc.t-systems.com.example` is no cloud.
    pub fn of_host(host: &str) -> Option<Cloud> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let under = |domain: &str| {
            host.strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
        };
        if under("otc.t-systems.com") {
            Some(Cloud::Otc)
        } else if under("myhuaweicloud.com") || under("myhuaweicloud.eu") {
            Some(Cloud::Huaweicloud)
        } else if under("orange-business.com") {
            Some(Cloud::Flexibleengine)
        } else {
            None
        }
    }

    /// The URL template of `service` on this cloud in `region`: [`template`](Self::template),
    /// except in Huawei Cloud's European region, where the services that say so
    /// ([`ServiceApi::huawei_eu`](super::service::ServiceApi)) live under `myhuaweicloud.eu`.
    pub fn service_template(self, region: &str, service: Service) -> &'static str {
        if self == Cloud::Huaweicloud
            && HUAWEI_EU_REGIONS.contains(&region)
            && service.api().huawei_eu
        {
            return "https://{service}.{region}.myhuaweicloud.eu";
        }
        self.template(region)
    }

    /// The URL template of this cloud. OTC's Swiss region lives under `sc.otc.t-systems.com`.
    pub fn template(self, region: &str) -> &'static str {
        match self {
            Cloud::Huaweicloud => "https://{service}.{region}.myhuaweicloud.com",
            Cloud::Otc if region == "eu-ch2" => "https://{service}.{region}.sc.otc.t-systems.com",
            Cloud::Otc => "https://{service}.{region}.otc.t-systems.com",
            Cloud::Flexibleengine => {
                "https://{service}.{region}.prod-cloud-ocb.orange-business.com"
            }
        }
    }
}

impl FromStr for Cloud {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "huaweicloud" => Ok(Cloud::Huaweicloud),
            "otc" => Ok(Cloud::Otc),
            "flexibleengine" => Ok(Cloud::Flexibleengine),
            _ => Err(format!(
                "unknown cloud `{s}` (known: huaweicloud, otc, flexibleengine)"
            )),
        }
    }
}

/// Huawei Cloud's regions in Europe whose hosts are split between two domains: the official
/// SDKs' region files (`huaweicloud-sdk-go-v3`, `services/*/region/region.go`) put CCE, RDS, DDS,
/// SFS Turbo, CBR, DMS and IAM at `{service}.eu-west-101.myhuaweicloud.eu`, and ECS, EVS, IMS,
/// VPC, DCS and ELB at `….myhuaweicloud.com`.
pub const HUAWEI_EU_REGIONS: &[&str] = &["eu-west-101"];

/// Flexible Engine's IAM host: one for every region (its API documentation's IAM endpoints
/// page, and every published `auth_url`).
const FLEXIBLE_ENGINE_IAM: &str = "https://iam.eu-west-0.prod-cloud-ocb.orange-business.com";

/// How to build a service's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// A template with `{service}` / `{region}`, or one fixed URL for every service.
    pub template: Option<String>,
    pub cloud: Option<Cloud>,
    pub region: Option<String>,
    pub overrides: BTreeMap<Service, String>,
    /// `endpoints.<name>` of the services described in the spec (not built-in prefixes).
    pub described: BTreeMap<String, String>,
    /// `endpoints.iam`: where IAM tokens and project ids come from.
    pub iam: Option<String>,
}

impl Endpoints {
    /// The base URL (scheme, host, optional port and path prefix) that serves `service`.
    pub fn base(&self, service: Service) -> Result<Url, String> {
        self.resolve(
            service.as_str(),
            self.overrides.get(&service),
            |cloud| service.host_label(cloud),
            |cloud, region| cloud.service_template(region, service),
        )
    }

    /// The base URL of the service `name`: `given` (its `endpoints.<name>`), else the
    /// template, else the cloud preset's `cloud_template`, with its host `label`.
    pub(super) fn resolve<'a>(
        &self,
        name: &str,
        given: Option<&String>,
        label: impl Fn(Option<Cloud>) -> &'a str,
        cloud_template: impl Fn(Cloud, &str) -> &'static str,
    ) -> Result<Url, String> {
        let (source, url) = if let Some(url) = given {
            let source = format!("endpoints.{name}");
            let url = http_url(&source, url)?;
            (source, url)
        } else if let Some(template) = &self.template {
            let source = "endpoint".to_owned();
            let url = self.filled(&source, template, label(self.cloud))?;
            (source, url)
        } else if let Some(cloud) = self.cloud {
            let source = format!("cloud {}", cloud.as_str());
            let region = self.region.as_deref().unwrap_or_default();
            let url = self.filled(&source, cloud_template(cloud, region), label(Some(cloud)))?;
            (source, url)
        } else {
            return Err(format!(
                "no endpoint for service {name}: set `cloud` and `region`, `endpoint`, or `endpoints.{name}`"
            ));
        };
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{source}: `{}` must not have a query or fragment",
                redacted(&url)
            ));
        }
        Ok(url)
    }

    /// Why `service` has no job API on the cloud preset, when the preset gives its URL (no
    /// `endpoints.<prefix>`, no `endpoint` template) and that cloud's documentation has none:
    /// a wait would only ever see 404s.
    pub fn undocumented(&self, service: Service) -> Option<String> {
        let cloud = self.cloud?;
        if self.overrides.contains_key(&service) || self.template.is_some() {
            return None;
        }
        service.api().undocumented.contains(&cloud).then(|| {
            format!(
                "{} documents no job API for {service}; set `endpoints.{service}` to use one anyway",
                cloud.display_name()
            )
        })
    }

    /// The IAM base URL: `endpoints.iam`, else the template or cloud preset with service `iam`
    /// (OTC's Swiss region has its own IAM host, Flexible Engine one for every region, Huawei
    /// Cloud's European region one under `myhuaweicloud.eu`).
    pub fn iam_base(&self) -> Result<Url, String> {
        if let Some(url) = &self.iam {
            http_url("endpoints.iam", url)
        } else if let Some(template) = &self.template {
            self.filled("endpoint (for IAM)", template, "iam")
        } else if let Some(cloud) = self.cloud {
            let source = format!("cloud {} (for IAM)", cloud.as_str());
            match (cloud, self.region.as_deref()) {
                (Cloud::Otc, Some("eu-ch2")) => {
                    http_url(&source, "https://iam-pub.eu-ch2.sc.otc.t-systems.com")
                }
                (Cloud::Flexibleengine, _) => http_url(&source, FLEXIBLE_ENGINE_IAM),
                (Cloud::Huaweicloud, Some(region)) if HUAWEI_EU_REGIONS.contains(&region) => self
                    .filled(
                        &source,
                        "https://{service}.{region}.myhuaweicloud.eu",
                        "iam",
                    ),
                (_, region) => {
                    self.filled(&source, cloud.template(region.unwrap_or_default()), "iam")
                }
            }
        } else {
            Err(
                "no IAM endpoint: set `cloud` and `region`, `endpoint`, or `endpoints.iam`"
                    .to_owned(),
            )
        }
    }

    /// `template` with `{service}` and `{region}` filled in, as a URL whose host and port are
    /// exactly the template's own with the placeholders filled in as text. A `region` holding
    /// `@`, `/` or `:` would otherwise move the request (and the credentials it carries) to
    /// another host.
    fn filled(&self, source: &str, template: &str, service: &str) -> Result<Url, String> {
        let url = http_url(source, &self.fill_name(template, service)?)?;
        let after_scheme = template
            .split_once("://")
            .map_or(template, |(_, rest)| rest);
        let authority = after_scheme
            .find(['/', '?', '#', '\\'])
            .map_or(after_scheme, |end| &after_scheme[..end]);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let expected = self.fill_name(host_port, service)?;
        let same = !expected.contains(['@', '/', '?', '#', '\\'])
            && Url::parse(&format!("{}://{expected}/", url.scheme()))
                .is_ok_and(|e| e.host() == url.host() && e.port() == url.port());
        if !same {
            return Err(format!(
                "{source}: filling in `{}` gives the host `{}`, not `{expected}` (check `region`)",
                redacted_text(template),
                &url[url::Position::BeforeHost..url::Position::AfterPort]
            ));
        }
        Ok(url)
    }

    fn fill_name(&self, template: &str, service: &str) -> Result<String, String> {
        let mut out = template.replace("{service}", service);
        if out.contains("{region}") {
            let region = self.region.as_deref().ok_or_else(|| {
                format!(
                    "endpoint template `{}` needs `region`, which is not set",
                    redacted_text(template)
                )
            })?;
            out = out.replace("{region}", region);
        }
        Ok(out)
    }
}

/// `raw` (from `source`) as an http(s) URL with a host.
fn http_url(source: &str, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw)
        .map_err(|e| format!("{source}: `{}` is not a URL ({e})", redacted_text(raw)))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!(
            "{source}: `{}` must be an http(s) URL with a host",
            redacted(&url)
        ));
    }
    Ok(url)
}

/// `url` as shown to people (`validate`, messages): a password in it becomes `***`.
pub fn redacted(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    // Only fails for URLs that cannot have a password, and this one has one.
    let _ = shown.set_password(Some("***"));
    shown.to_string()
}

/// A URL as written (it may not even parse), as shown to people: a password between `://` and
/// the last `@` becomes `***` (`https://user:***@host`).
pub fn redacted_text(text: &str) -> Cow<'_, str> {
    let Some((scheme, rest)) = text.split_once("://") else {
        return Cow::Borrowed(text);
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return Cow::Borrowed(text);
    };
    match userinfo.split_once(':') {
        Some((user, _)) => Cow::Owned(format!("{scheme}://{user}:***@{host}")),
        None => Cow::Borrowed(text),
    }
}

/// `text` (a message) with the password of every URL in it shown as `***`: a URL runs from its
/// scheme to the next space or quote.
pub fn redacted_in(text: &str) -> Cow<'_, str> {
    if !text.contains("://") {
        return Cow::Borrowed(text);
    }
    let bound = |c: char| c.is_whitespace() || "\"'`()".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let start = rest[..at]
            .char_indices()
            .rev()
            .find(|(_, c)| bound(*c))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let end = rest[at..].find(bound).map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..start]);
        out.push_str(&redacted_text(&rest[start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// What [`is_region`] accepts, for messages.
pub const REGION_RULE: &str =
    "lowercase letters and digits in parts joined by -, e.g. eu-de or ap-southeast-1; at most 64 characters";
/// What [`is_project_id`] accepts, for messages.
pub const PROJECT_ID_RULE: &str = "letters, digits, - and _ only; at most 64 characters";
/// What [`is_job_id`] accepts, for messages.
pub const JOB_ID_RULE: &str = "letters, digits, -, _ and . only; not . or ..";

/// A region name as the clouds spell them (`eu-de`, `eu-ch2`, `ap-southeast-1`): it is pasted
/// into host names, so nothing that could end or move a host gets through.
pub fn is_region(region: &str) -> bool {
    region.len() <= 64
        && region.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A project id: a path segment of every job URL (real ones are 32 hex digits).
pub fn is_project_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A job id: opaque, but a path segment, so only the characters real ids use and never a
/// segment that means "here" or "up" (`.`, `..`).
pub fn is_job_id(id: &str) -> bool {
    !matches!(id, "" | "." | "..")
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The URL of job `job_id` of `service` under `base` (see [`super::service::ServiceApi::url`]).
pub fn job_url(base: &Url, service: Service, project_id: &str, job_id: &str) -> Url {
    service.api().url(base, project_id, job_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(cloud: Option<Cloud>, region: Option<&str>, template: Option<&str>) -> Endpoints {
        Endpoints {
            template: template.map(str::to_owned),
            cloud,
            region: region.map(str::to_owned),
            overrides: BTreeMap::new(),
            described: BTreeMap::new(),
            iam: None,
        }
    }

    #[test]
    fn cloud_presets() {
        let cases = [
            (Cloud::Otc, "eu-de", "https://evs.eu-de.otc.t-systems.com/"),
            (
                Cloud::Otc,
                "eu-ch2",
                "https://evs.eu-ch2.sc.otc.t-systems.com/",
            ),
            (
                Cloud::Huaweicloud,
                "ap-southeast-1",
                "https://evs.ap-southeast-1.myhuaweicloud.com/",
            ),
            (
                Cloud::Flexibleengine,
                "eu-west-0",
                "https://evs.eu-west-0.prod-cloud-ocb.orange-business.com/",
            ),
        ];
        for (cloud, region, want) in cases {
            let e = endpoints(Some(cloud), Some(region), None);
            assert_eq!(e.base(Service::Evs).unwrap().as_str(), want);
        }
    }

    #[test]
    fn job_url_from_template_fixed_url_and_override() {
        let mut e = endpoints(None, Some("eu-de"), Some("http://127.0.0.1:8080/prefix/"));
        e.overrides
            .insert(Service::Evs, "https://evs.example:8443".into());
        let url = |e: &Endpoints, service, project, job| {
            job_url(&e.base(service).unwrap(), service, project, job).to_string()
        };
        assert_eq!(
            url(&e, Service::Ecs, "p1", "j1"),
            "http://127.0.0.1:8080/prefix/v1/p1/jobs/j1"
        );
        assert_eq!(
            url(&e, Service::Evs, "p1", "j/2"),
            "https://evs.example:8443/v1/p1/jobs/j%2F2"
        );
        let t = endpoints(
            None,
            Some("eu-de"),
            Some("https://{service}.{region}.example.com"),
        );
        assert_eq!(
            url(&t, Service::Ims, "p", "j"),
            "https://ims.eu-de.example.com/v1/p/jobs/j"
        );
    }

    #[test]
    fn errors_name_what_is_missing() {
        let none = endpoints(None, None, None);
        assert!(none
            .base(Service::Ecs)
            .unwrap_err()
            .contains("`cloud` and `region`"));
        let no_region = endpoints(Some(Cloud::Otc), None, None);
        assert!(no_region
            .base(Service::Ecs)
            .unwrap_err()
            .contains("needs `region`"));
        let bad = endpoints(None, None, Some("ftp://x"));
        assert!(bad.base(Service::Ecs).unwrap_err().contains("http(s)"));
    }

    /// A region (or any placeholder value) that would move the host is an error naming the key
    /// that built the URL, for services and for IAM alike.
    #[test]
    fn filled_templates_keep_the_templates_host() {
        for region in [
            "x@127.0.0.1:1/",
            "x@127.0.0.1",
            "eu-de.evil.example/",
            "eu-de:8080",
            "a/b",
            "a?b",
            "a#b",
            "a\\b",
        ] {
            let cloud = endpoints(Some(Cloud::Otc), Some(region), None);
            let err = cloud.base(Service::Ecs).unwrap_err();
            assert!(err.starts_with("cloud otc: "), "{region}: {err}");
            let err = cloud.iam_base().unwrap_err();
            assert!(err.starts_with("cloud otc (for IAM): "), "{region}: {err}");
            let template = endpoints(
                None,
                Some(region),
                Some("https://u:pw@{service}.{region}.example.com:8443/x"),
            );
            let err = template.base(Service::Evs).unwrap_err();
            assert!(err.starts_with("endpoint: "), "{region}: {err}");
            assert!(!err.contains("pw"), "{err}");
            assert!(template.iam_base().is_err(), "{region}");
        }
        // Placeholders in the path, a port and userinfo in the template are fine.
        let ok = endpoints(
            None,
            Some("eu-de"),
            Some("http://u:pw@{service}.{region}.example:8080/{region}/"),
        );
        assert_eq!(
            ok.base(Service::Ims).unwrap().as_str(),
            "http://u:pw@ims.eu-de.example:8080/eu-de/"
        );
        assert_eq!(
            ok.iam_base().unwrap().as_str(),
            "http://u:pw@iam.eu-de.example:8080/eu-de/"
        );
        // Upper case in the template is the same host (URLs lower-case it).
        let upper = endpoints(
            None,
            Some("eu-de"),
            Some("https://{service}.Example.COM:443"),
        );
        assert_eq!(
            upper.base(Service::Ecs).unwrap().as_str(),
            "https://ecs.example.com/"
        );
    }

    #[test]
    fn known_regions_are_region_names_and_each_cloud_knows_its_own() {
        for cloud in [Cloud::Otc, Cloud::Huaweicloud, Cloud::Flexibleengine] {
            for region in cloud.known_regions() {
                assert!(is_region(region), "{cloud:?} {region}");
            }
        }
        assert!(Cloud::Otc.knows_region("eu-ch2"));
        assert!(!Cloud::Otc.knows_region("eu-west-101"));
        assert!(Cloud::Huaweicloud.knows_region("cn-north-4"));
        assert!(!Cloud::Flexibleengine.knows_region("eu-de"));
    }

    #[test]
    fn ids_and_regions() {
        for good in [
            "eu-de",
            "eu-ch2",
            "ap-southeast-1",
            "la-south-2",
            "cn-north-4",
        ] {
            assert!(is_region(good), "{good}");
        }
        for bad in [
            "",
            "EU-DE",
            "eu_de",
            "eu-",
            "-eu",
            "eu--de",
            "eu.de",
            "x@127.0.0.1:1/",
            "eu de",
            &"a".repeat(65),
        ] {
            assert!(!is_region(bad), "{bad}");
        }
        assert!(is_project_id("0123456789abcdef0123456789abcdef"));
        assert!(is_project_id("A_b-1"));
        for bad in ["", ".", "..", "a.b", "a/b", "a%2e", &"a".repeat(65)] {
            assert!(!is_project_id(bad), "{bad}");
        }
        for good in [
            "ff80808288d41e1b018a0b1c2d3e4f50",
            "a.b",
            "...",
            "a_b-c",
            ".a",
        ] {
            assert!(is_job_id(good), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "a b", "a%2F"] {
            assert!(!is_job_id(bad), "{bad}");
        }
        assert!(JOB_ID_RULE.contains(", _ and . only"));
    }

    #[test]
    fn passwords_in_urls_are_redacted() {
        let url = Url::parse("https://user:s3cret@h.example/v1/p/jobs/j").unwrap();
        assert_eq!(redacted(&url), "https://user:***@h.example/v1/p/jobs/j");
        let plain = Url::parse("https://user@h.example/").unwrap();
        assert_eq!(redacted(&plain), "https://user@h.example/");
        assert_eq!(
            redacted_text("https://u:s3/c@ret@{service}.x:99999"),
            "https://u:***@{service}.x:99999"
        );
        assert_eq!(redacted_text("not a url"), "not a url");
        assert_eq!(
            redacted_in("invalid type: string \"http://u:pw@h\", expected `https://a:b@c/x` (ok)"),
            "invalid type: string \"http://u:***@h\", expected `https://a:***@c/x` (ok)"
        );
        assert_eq!(redacted_in("no url here"), "no url here");
        assert_eq!(
            redacted_in("é\u{a0}http://u:pw@h\u{a0}é"),
            "é\u{a0}http://u:***@h\u{a0}é"
        );
        assert_eq!(redacted_text("http://h/a@b"), "http://h/a@b");
        // In errors, too: an unparseable endpoint and one that is not http(s).
        let mut e = endpoints(None, None, Some("https://u:s3cret@h.example:99999"));
        e.overrides
            .insert(Service::Evs, "ftp://u:s3cret@h.example".into());
        e.iam = Some("https://u:s3cret@".into());
        for err in [
            e.base(Service::Ecs).unwrap_err(),
            e.base(Service::Evs).unwrap_err(),
            e.iam_base().unwrap_err(),
        ] {
            assert!(err.contains("u:***@") && !err.contains("s3cret"), "{err}");
        }
    }

    #[test]
    fn the_cloud_of_a_host_is_its_domain_by_whole_labels() {
        for (host, cloud) in [
            ("iam.eu-de.otc.t-systems.com", Some(Cloud::Otc)),
            ("iam-pub.eu-ch2.sc.otc.t-systems.com", Some(Cloud::Otc)),
            ("IAM.EU-NL.OTC.T-SYSTEMS.COM.", Some(Cloud::Otc)),
            (
                "iam.ap-southeast-1.myhuaweicloud.com",
                Some(Cloud::Huaweicloud),
            ),
            ("iam.eu-west-101.myhuaweicloud.eu", Some(Cloud::Huaweicloud)),
            (
                "iam.eu-west-0.prod-cloud-ocb.orange-business.com",
                Some(Cloud::Flexibleengine),
            ),
            ("otc.t-systems.com", None),
            ("evilotc.t-systems.com", None),
            ("iam.otc.t-systems.com.example", None),
            ("127.0.0.1", None),
        ] {
            assert_eq!(Cloud::of_host(host), cloud, "{host}");
        }
    }

    #[test]
    fn service_and_cloud_parse() {
        assert_eq!("EVS".parse::<Service>().unwrap(), Service::Evs);
        assert_eq!("rds".parse::<Service>().unwrap(), Service::Rds);
        assert_eq!(" DDS".parse::<Service>().unwrap(), Service::Dds);
        assert_eq!("SFS_TURBO".parse::<Service>().unwrap(), Service::SfsTurbo);
        assert_eq!(
            "gaussdb-mysql".parse::<Service>().unwrap(),
            Service::GaussdbMysql
        );
        assert!("mongo"
            .parse::<Service>()
            .unwrap_err()
            .contains("known: ecs"));
        assert_eq!("OTC".parse::<Cloud>().unwrap(), Cloud::Otc);
        assert!("aws".parse::<Cloud>().is_err());
    }
}
