//! The configuration users already have in their environment, as layers below the spec file.
//!
//! Someone who runs Terraform, the official SDKs or the OpenStack client against Huawei Cloud or
//! OTC has already exported a region, a project and an IAM URL (an `openrc`, a CI secret set).
//! Asking them to repeat each value as a `JOBWAIT_*` variable only makes the two drift apart, so
//! these variables are read too — but **below** the spec file, so whatever the user wrote for
//! jobwait (file, `JOBWAIT_*`, flag) still wins over what was exported for another tool.
//!
//! Lowest first: `HW_*` (the Huawei Cloud Terraform provider), `HUAWEICLOUD_SDK_*` (the official
//! SDKs), `OS_*` (an OpenStack `openrc`, which OTC and Huawei Cloud hand out). Only variables
//! their tools document are read; each name below says where it comes from.
//!
//! Each family is its own figment [`Provider`] whose metadata names the exact variable, like
//! [`super::load`]'s `JOBWAIT_*` layer, so `validate` and every problem say
//! `environment variable OS_REGION_NAME` rather than "the environment".
//!
//! The IAM URL also tells the cloud: an `OS_AUTH_URL` on `*.otc.t-systems.com` means OTC. That
//! guess is made only from these variables, never from a spec's `endpoints.iam` (a spec author
//! sets `cloud` next to it; and a spec that works today must not change meaning), and it sits
//! in the same layer, so a `cloud` from the spec file, `JOBWAIT_CLOUD` or `--cloud` wins. Only
//! the IAM URL that wins among these layers is asked: a lower family's URL, overridden, does not
//! pick the cloud.
//!
//! Credentials are not read here: they stay in [`crate::cloud::auth`], which reads the same
//! environment directly (they never enter the spec, so never a message or the report).

use std::collections::BTreeMap;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use crate::cloud::endpoint::Cloud;
use crate::environment::Environment;

/// One variable and the spec key it sets.
struct Var {
    name: &'static str,
    /// Dotted spec key.
    key: &'static str,
}

/// A family of variables one tool reads.
pub struct Family {
    /// How the family is named when no single variable is meant (`OS_*`).
    name: &'static str,
    vars: &'static [Var],
}

/// The key an IAM URL sets; its host may also set `cloud`.
const IAM_KEY: &str = "endpoints.iam";

/// The Huawei Cloud Terraform provider (`huaweicloud/terraform-provider-huaweicloud`,
/// `docs/index.md` "Configuration Reference" and `huaweicloud/config` of the provider: `region`
/// from `HW_REGION_NAME`, `project_id` from `HW_PROJECT_ID`, `project_name` from
/// `HW_PROJECT_NAME`).
pub const HW: Family = Family {
    name: "HW_* environment",
    vars: &[
        Var {
            name: "HW_REGION_NAME",
            key: "region",
        },
        Var {
            name: "HW_PROJECT_ID",
            key: "project_id",
        },
        Var {
            name: "HW_PROJECT_NAME",
            key: "project_name",
        },
    ],
};

/// The official SDKs (`huaweicloud/huaweicloud-sdk-go-v3`, README "Credentials" and
/// `core/auth` `EnvCredentials`: `HUAWEICLOUD_SDK_PROJECT_ID`; "3.3.1.1 Global scope":
/// `HUAWEICLOUD_SDK_IAM_ENDPOINT`). The SDKs document no region variable (only
/// `HUAWEICLOUD_SDK_REGION_{SERVICE}_{REGION}`, an endpoint per service and region), so none
/// is read.
pub const SDK: Family = Family {
    name: "HUAWEICLOUD_SDK_* environment",
    vars: &[
        Var {
            name: "HUAWEICLOUD_SDK_PROJECT_ID",
            key: "project_id",
        },
        Var {
            name: "HUAWEICLOUD_SDK_IAM_ENDPOINT",
            key: IAM_KEY,
        },
    ],
};

/// An OpenStack `openrc` (the variables of python-openstackclient / keystoneauth, which the OTC
/// and Huawei Cloud consoles hand out): `OS_REGION_NAME`, `OS_PROJECT_ID`, `OS_PROJECT_NAME`,
/// `OS_AUTH_URL` (the Keystone v3 URL, `…/v3`).
pub const OS: Family = Family {
    name: "OS_* environment",
    vars: &[
        Var {
            name: "OS_REGION_NAME",
            key: "region",
        },
        Var {
            name: "OS_PROJECT_ID",
            key: "project_id",
        },
        Var {
            name: "OS_PROJECT_NAME",
            key: "project_name",
        },
        Var {
            name: "OS_AUTH_URL",
            key: IAM_KEY,
        },
    ],
};

/// The families, lowest first.
pub const FAMILIES: [&Family; 3] = [&HW, &SDK, &OS];

/// The layers of every family found in `env`, lowest first, then the `OS_CLOUD` entry of a
/// clouds.yaml (see [`super::clouds`]) above them, to be merged below the spec file.
pub fn layers(env: &Environment, entry: Option<FamilyLayer>) -> Figment {
    let mut layers: Vec<FamilyLayer> = FAMILIES.iter().map(|f| FamilyLayer::new(f, env)).collect();
    layers.extend(entry);
    // The cloud from the IAM URL that wins among these layers: the highest that has one.
    if let Some(layer) = layers.iter_mut().rev().find(|l| l.iam.is_some()) {
        layer.infer_cloud();
    }
    layers
        .into_iter()
        .fold(Figment::new(), |figment, layer| figment.merge(layer))
}

/// An IAM URL as the spec's `endpoints.iam` wants it: Keystone clients are given the `/v3`
/// URL (`OS_AUTH_URL=https://iam.eu-de.otc.t-systems.com/v3`), jobwait the base it adds
/// `/v3/…` to.
pub fn iam_base(url: &str) -> &str {
    let url = url.trim_end_matches('/');
    url.strip_suffix("/v3").unwrap_or(url)
}

/// One family's variables found in an environment (or a clouds.yaml entry's values), as a
/// figment layer that names where each value came from.
pub struct FamilyLayer {
    /// How the layer is named when no single value is meant (`OS_* environment`).
    name: String,
    dict: Dict,
    /// How each dotted key set is named in messages.
    names: BTreeMap<String, String>,
    /// The IAM URL set, with how its source is named.
    iam: Option<(String, String)>,
}

impl FamilyLayer {
    /// A layer with no value yet, named `name` where no single value is meant.
    pub fn named(name: impl Into<String>) -> FamilyLayer {
        FamilyLayer {
            name: name.into(),
            dict: Dict::new(),
            names: BTreeMap::new(),
            iam: None,
        }
    }

    /// How the layer is named (figment's metadata name).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn new(family: &'static Family, env: &Environment) -> FamilyLayer {
        let mut layer = FamilyLayer::named(family.name);
        for var in family.vars {
            // Files written by hand (or on Windows) carry stray blanks and `\r`.
            let Some(value) = env.get(var.name).map(str::trim).filter(|v| !v.is_empty()) else {
                continue;
            };
            let shown = format!("environment variable {}", var.name);
            if var.key == IAM_KEY {
                layer.set_iam(value, shown);
            } else {
                layer.set(var.key, value.to_owned(), shown);
            }
        }
        layer
    }

    /// Sets `endpoints.iam` from a Keystone URL (`…/v3` or not), named `shown`.
    pub fn set_iam(&mut self, url: &str, shown: String) {
        let base = iam_base(url).to_owned();
        self.iam = Some((shown.clone(), base.clone()));
        self.set(IAM_KEY, base, shown);
    }

    /// Sets `cloud` from the host of this layer's IAM URL, when the host is a known cloud's.
    fn infer_cloud(&mut self) {
        let Some((name, url)) = &self.iam else {
            return;
        };
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        if let Some(cloud) = host.as_deref().and_then(Cloud::of_host) {
            let shown = format!("the host of {name}");
            self.set("cloud", cloud.as_str().to_owned(), shown);
        }
    }

    /// Sets the dotted `key` to `value`, named `shown` in messages.
    pub fn set(&mut self, key: &str, value: String, shown: String) {
        let keys: Vec<&str> = key.split('.').collect();
        insert(&mut self.dict, &keys, Value::from(value));
        self.names.insert(key.to_owned(), shown);
    }
}

impl Provider for FamilyLayer {
    fn metadata(&self) -> Metadata {
        let names = self.names.clone();
        let family = self.name.clone();
        Metadata::named(family.clone()).interpolater(move |_: &Profile, keys: &[&str]| {
            let key = keys.join(".");
            if let Some(shown) = names.get(&key) {
                return shown.clone();
            }
            // A table (`endpoints`) is named by the variable of a key under it.
            let prefix = format!("{key}.");
            names
                .iter()
                .find(|(k, _)| k.starts_with(&prefix))
                .map_or_else(|| family.clone(), |(_, shown)| shown.clone())
        })
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Profile::Default.collect(self.dict.clone()))
    }
}

/// Sets `keys` (a path) to `value` in a nested dict.
fn insert(dict: &mut Dict, keys: &[&str], value: Value) {
    match keys {
        [] => {}
        [last] => {
            dict.insert((*last).to_owned(), value);
        }
        [first, rest @ ..] => {
            let entry = dict
                .entry((*first).to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}
