//! Which host answers for which service: cloud presets, templates and per-service overrides.
//!
//! Every service in [`Service`] serves jobs at `GET /v1/{project_id}/jobs/{job_id}`; only the host
//! differs. A job's URL is resolved once, while planning, so a wrong template is a usage error
//! (exit 2) before any request is sent.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use url::Url;

/// A cloud service whose jobs live at `/v1/{project_id}/jobs/{job_id}`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
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
}

impl Service {
    pub const ALL: [Service; 7] = [
        Service::Ecs,
        Service::Evs,
        Service::Bms,
        Service::Ims,
        Service::Vpc,
        Service::Deh,
        Service::Sdrs,
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
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Service {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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

/// How to build a service's base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// A template with `{service}` / `{region}`, or one fixed URL for every service.
    pub template: Option<String>,
    pub cloud: Option<Cloud>,
    pub region: Option<String>,
    pub overrides: BTreeMap<Service, String>,
    /// `endpoints.iam`: where IAM tokens and project ids come from.
    pub iam: Option<String>,
}

impl Endpoints {
    /// The base URL (scheme, host, optional port and path prefix) that serves `service`.
    pub fn base(&self, service: Service) -> Result<Url, String> {
        let (source, raw) = if let Some(url) = self.overrides.get(&service) {
            (format!("endpoints.{service}"), url.clone())
        } else if let Some(template) = &self.template {
            ("endpoint".to_owned(), self.fill(template, service)?)
        } else if let Some(cloud) = self.cloud {
            let region = self.region.as_deref().unwrap_or_default();
            (
                format!("cloud {}", cloud.as_str()),
                self.fill(cloud.template(region), service)?,
            )
        } else {
            return Err(format!(
                "no endpoint for service {service}: set `cloud` and `region`, `endpoint`, or `endpoints.{service}`"
            ));
        };
        let url = Url::parse(&raw).map_err(|e| format!("{source}: `{raw}` is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "{source}: `{raw}` must be an http(s) URL with a host"
            ));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{source}: `{raw}` must not have a query or fragment"
            ));
        }
        Ok(url)
    }

    /// The IAM base URL: `endpoints.iam`, else the template or cloud preset with service `iam`
    /// (OTC's Swiss region has its own IAM host).
    pub fn iam_base(&self) -> Result<Url, String> {
        let raw = if let Some(url) = &self.iam {
            url.clone()
        } else if let Some(template) = &self.template {
            self.fill_name(template, "iam")?
        } else if let Some(cloud) = self.cloud {
            match (cloud, self.region.as_deref()) {
                (Cloud::Otc, Some("eu-ch2")) => {
                    "https://iam-pub.eu-ch2.sc.otc.t-systems.com".to_owned()
                }
                _ => self.fill_name(
                    cloud.template(self.region.as_deref().unwrap_or_default()),
                    "iam",
                )?,
            }
        } else {
            return Err(
                "no IAM endpoint: set `cloud` and `region`, `endpoint`, or `endpoints.iam`"
                    .to_owned(),
            );
        };
        let url =
            Url::parse(&raw).map_err(|e| format!("IAM endpoint `{raw}` is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "IAM endpoint `{raw}` must be an http(s) URL with a host"
            ));
        }
        Ok(url)
    }

    fn fill(&self, template: &str, service: Service) -> Result<String, String> {
        self.fill_name(template, service.as_str())
    }

    fn fill_name(&self, template: &str, service: &str) -> Result<String, String> {
        let mut out = template.replace("{service}", service);
        if out.contains("{region}") {
            let region = self.region.as_deref().ok_or_else(|| {
                format!("endpoint template `{template}` needs `region`, which is not set")
            })?;
            out = out.replace("{region}", region);
        }
        Ok(out)
    }

    /// The URL of one job: base + `/v1/{project_id}/jobs/{job_id}`, path segments encoded.
    pub fn job_url(&self, service: Service, project_id: &str, job_id: &str) -> Result<Url, String> {
        Ok(job_url(&self.base(service)?, project_id, job_id))
    }
}

/// A URL as it may be shown (messages, `validate`): a password in it is replaced by `***`.
pub fn shown(url: &Url) -> String {
    if url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    let _ = shown.set_password(Some("***"));
    shown.to_string()
}

/// `base` + `/v1/{project_id}/jobs/{job_id}`, path segments encoded.
pub fn job_url(base: &Url, project_id: &str, job_id: &str) -> Url {
    let mut url = base.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments
            .pop_if_empty()
            .extend(["v1", project_id, "jobs", job_id]);
    }
    url
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
        assert_eq!(
            e.job_url(Service::Ecs, "p1", "j1").unwrap().as_str(),
            "http://127.0.0.1:8080/prefix/v1/p1/jobs/j1"
        );
        assert_eq!(
            e.job_url(Service::Evs, "p1", "j/2").unwrap().as_str(),
            "https://evs.example:8443/v1/p1/jobs/j%2F2"
        );
        let t = endpoints(
            None,
            Some("eu-de"),
            Some("https://{service}.{region}.example.com"),
        );
        assert_eq!(
            t.job_url(Service::Ims, "p", "j").unwrap().as_str(),
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

    #[test]
    fn service_and_cloud_parse() {
        assert_eq!("EVS".parse::<Service>().unwrap(), Service::Evs);
        assert!("rds".parse::<Service>().unwrap_err().contains("known: ecs"));
        assert_eq!("OTC".parse::<Cloud>().unwrap(), Cloud::Otc);
        assert!("aws".parse::<Cloud>().is_err());
    }
}
