//! The configuration users already keep, through the real binary against the simulator's IAM: a
//! `clouds.yaml` entry selected by `OS_CLOUD` (with its `secure.yaml`) is enough for a password
//! login and the project lookup; its values sit above `OS_*` and below `JOBWAIT_*`; credentials
//! never travel to an IAM URL from another source (a planted clouds.yaml's server sees no
//! request); a broken or missing entry is exit 2 naming the file and the key.

use std::path::PathBuf;

use crate::support::*;

const PASSWORD: &str = "s3cret-pw";
/// The id IAM gives the project named `eu-de` (the jobs are in `eu-de_sub`, [`PROJECT`]).
const OTHER: &str = "fedcba9876543210fedcba9876543210";

async fn iam_sim() -> jobwait::sim::SimHandle {
    sim(&format!(
        "project_id: {PROJECT}\niam: {{ user: alice, password: {PASSWORD}, domain: dom, \
         projects: {{ eu-de: {OTHER}, eu-de_sub: {PROJECT} }} }}\n\
         jobs:\n  - {{ id: j, status: SUCCESS }}\n"
    ))
    .await
}

/// A home for the test: `work/` (the working directory) and `xdg/openstack/` (the user's
/// configuration, found through `XDG_CONFIG_HOME`).
struct Home {
    _dir: tempfile::TempDir,
    work: PathBuf,
    xdg: PathBuf,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().expect("a temp dir");
        let work = dir.path().join("work");
        let xdg = dir.path().join("xdg");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(xdg.join("openstack")).unwrap();
        Home {
            _dir: dir,
            work,
            xdg,
        }
    }

    fn user_file(&self, name: &str, text: &str) -> PathBuf {
        write_file(&self.xdg.join("openstack"), name, text)
    }

    fn work_file(&self, name: &str, text: &str) -> PathBuf {
        write_file(&self.work, name, text)
    }

    /// `OS_CLOUD=otc`, the user's configuration directory, and the job on `base`.
    fn env<'a>(&'a self, base: &'a str) -> Vec<(&'a str, &'a str)> {
        vec![
            ("OS_CLOUD", "otc"),
            ("XDG_CONFIG_HOME", s(&self.xdg)),
            ("JOBWAIT_JOBS", "j"),
            ("JOBWAIT_ENDPOINT", base),
        ]
    }
}

/// The entry a console hands out, pointed at `iam`: the password is in secure.yaml.
fn entry(iam: &str, extra_auth: &str) -> String {
    format!(
        "clouds:\n  otc:\n    region_name: eu-de\n    auth:\n      auth_url: {iam}/v3\n      \
         username: alice\n      user_domain_name: dom\n      project_name: eu-de_sub\n{extra_auth}"
    )
}

fn secure() -> String {
    format!("clouds:\n  otc:\n    auth:\n      password: {PASSWORD}\n")
}

fn wait_json() -> [&'static str; 4] {
    ["wait", "--output", "json", "-q"]
}

#[tokio::test]
async fn a_clouds_yaml_entry_and_its_secure_yaml_log_in_and_find_the_project() {
    let sim = iam_sim().await;
    let base = sim.base_url();
    let home = Home::new();
    let clouds = home.user_file("clouds.yaml", &entry(&base, ""));
    let secure = home.user_file("secure.yaml", &secure());
    let env = home.env(&base);

    let out = run_in(&home.work, &wait_json(), &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["jobs"][0]["outcome"], "succeeded");
    let stats = sim.stats();
    assert_eq!((stats.tokens_issued, stats.rejected_auth), (1, 0));
    assert!(!out.all().contains(PASSWORD));

    let validate = run_in(&home.work, &["validate"], &env).await;
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    for wanted in [
        format!(
            "looked up in IAM as the project named eu-de_sub at the start (`project_name`, \
             clouds.yaml {}, entry otc, key auth.project_name)",
            clouds.display()
        ),
        format!(
            "IAM password of user alice in domain dom (secure.yaml {}, entry otc)",
            secure.display()
        ),
    ] {
        assert!(
            validate.stdout.contains(&wanted),
            "{wanted}\n{}",
            validate.stdout
        );
    }
    assert!(!validate.all().contains(PASSWORD));
}

/// Flags and `JOBWAIT_*` win over the entry; the entry wins over an openrc's `OS_*`; `--os-cloud`
/// picks the entry over `OS_CLOUD`.
#[tokio::test]
async fn the_entry_sits_below_jobwait_variables_and_above_os_variables() {
    let sim = iam_sim().await;
    let base = sim.base_url();
    let home = Home::new();
    let clouds = home.user_file("clouds.yaml", &entry(&base, ""));
    home.user_file("secure.yaml", &secure());
    let mut env = home.env(&base);
    env.extend([("OS_PROJECT_NAME", "eu-de"), ("OS_REGION_NAME", "eu-nl")]);

    let validate = run_in(&home.work, &["validate"], &env).await;
    assert_eq!(validate.code, 0, "{}", validate.stderr);
    let by_entry = format!(
        "project named eu-de_sub at the start (`project_name`, clouds.yaml {}, entry otc, key auth.project_name)",
        clouds.display()
    );
    assert!(validate.stdout.contains(&by_entry), "{}", validate.stdout);

    // A wait with the openrc's variables set too: the entry's project is the one looked up.
    let out = run_in(&home.work, &wait_json(), &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    env.push(("JOBWAIT_PROJECT_NAME", "eu-de"));
    let validate = run_in(&home.work, &["validate"], &env).await;
    assert!(
        validate.stdout.contains(
            "project named eu-de at the start (`project_name`, environment variable JOBWAIT_PROJECT_NAME)"
        ),
        "{}",
        validate.stdout
    );

    // `--os-cloud` over `OS_CLOUD`, which names no entry.
    let mut env = home.env(&base);
    env[0] = ("OS_CLOUD", "nowhere");
    let out = run_in(
        &home.work,
        &["wait", "--os-cloud", "otc", "--output", "json", "-q"],
        &env,
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let out = run_in(&home.work, &wait_json(), &env).await;
    assert_usage_error(
        &out,
        &[
            "there is no entry `nowhere` under `clouds` (selected by environment variable OS_CLOUD)",
            s(&clouds),
        ],
    );
}

/// The working directory's clouds.yaml is read first, so a repository can plant one: credentials
/// from the environment never go to its `auth_url`, and the planted server sees no request.
#[tokio::test]
async fn environment_credentials_never_go_to_a_clouds_yaml_auth_url() {
    let sim = iam_sim().await;
    let planted = iam_sim().await;
    let base = sim.base_url();
    let home = Home::new();
    let file = home.work_file(
        "clouds.yaml",
        &format!(
            "clouds:\n  otc:\n    auth:\n      auth_url: {}/v3\n      project_name: eu-de_sub\n",
            planted.base_url()
        ),
    );
    let mut env = home.env(&base);
    env.extend([
        ("OS_USERNAME", "alice"),
        ("OS_PASSWORD", PASSWORD),
        ("OS_DOMAIN_NAME", "dom"),
    ]);
    let out = run_in(&home.work, &wait_json(), &env).await;
    assert_usage_error(
        &out,
        &[
            "the credentials from the environment (OS_USERNAME/OS_PASSWORD) would be sent to IAM at",
            &format!("(clouds.yaml {}, entry otc, key auth.auth_url)", file.display()),
            "credentials from the environment never go to a clouds.yaml's auth_url",
        ],
    );
    assert!(!out.all().contains(PASSWORD));
    assert_eq!(planted.stats().requests, 0, "the planted IAM was asked");
    assert_eq!(sim.stats().requests, 0);

    // Said by `validate` too, before any wait.
    let validate = run_in(&home.work, &["validate"], &env).await;
    assert_usage_error(&validate, &["never go to a clouds.yaml's auth_url"]);

    // AK/SK for the project lookup are refused the same way.
    let mut env = home.env(&base);
    env.extend(aksk_env());
    let out = run_in(&home.work, &wait_json(), &env).await;
    assert_usage_error(
        &out,
        &[
            "HUAWEICLOUD_SDK_AK/SK",
            "never go to a clouds.yaml's auth_url",
        ],
    );
    assert_eq!(planted.stats().requests, 0);
}

/// A clouds.yaml password goes only to its own entry's `auth_url`: not to one a higher layer
/// sets, and not to a working directory's clouds.yaml laid under the user's secure.yaml.
#[tokio::test]
async fn entry_credentials_go_only_to_their_own_auth_url() {
    let sim = iam_sim().await;
    let planted = iam_sim().await;
    let base = sim.base_url();
    let planted_base = planted.base_url();

    // A higher layer points IAM elsewhere.
    let home = Home::new();
    let secure_file = home.user_file("secure.yaml", &secure());
    home.user_file("clouds.yaml", &entry(&base, ""));
    let mut env = home.env(&base);
    env.push(("JOBWAIT_ENDPOINTS__IAM", &planted_base));
    let out = run_in(&home.work, &wait_json(), &env).await;
    assert_usage_error(
        &out,
        &[
            &format!(
                "the credentials of secure.yaml {}, entry otc would be sent to IAM at",
                secure_file.display()
            ),
            "(environment variable JOBWAIT_ENDPOINTS__IAM): they go only to their entry's auth.auth_url",
        ],
    );

    // The same URL, repeated by a higher layer, is the entry's own.
    let same = format!("{base}/");
    let mut env = home.env(&base);
    env.push(("JOBWAIT_ENDPOINTS__IAM", &same));
    let out = run_in(&home.work, &wait_json(), &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);

    // A planted clouds.yaml in the working directory, over the user's secure.yaml.
    home.work_file("clouds.yaml", &entry(&planted_base, ""));
    let out = run_in(&home.work, &wait_json(), &home.env(&base)).await;
    assert_usage_error(
        &out,
        &[
            "its auth.auth_url is from",
            s(&home.work.join("clouds.yaml")),
            "another directory than the credentials",
        ],
    );
    assert!(!out.all().contains(PASSWORD));
    assert_eq!(planted.stats().requests, 0, "the planted IAM was asked");
}

#[tokio::test]
async fn a_malformed_or_missing_entry_is_exit_2_naming_the_file_and_the_key() {
    let home = Home::new();
    let base = "http://127.0.0.1:9";
    let env = home.env(base);
    let cases: [(&str, &[&str]); 5] = [
        (
            "clouds:\n  otc:\n    auth: [x]\n",
            &["key `clouds.otc.auth` must be a mapping"],
        ),
        (
            "clouds:\n  otc:\n    auth: { password: { a: 1 } }\n",
            &["key `clouds.otc.auth.password` must be a single value"],
        ),
        (
            "clouds:\n  otc:\n    auth: { ak: A }\n",
            &["key `clouds.otc.auth.ak` is set but `auth.sk` is not"],
        ),
        (
            "clouds:\n  other: {}\n",
            &["there is no entry `otc` under `clouds`"],
        ),
        ("clouds: [otc\n", &["not YAML"]),
    ];
    for (text, needles) in cases {
        let file = home.user_file("clouds.yaml", text);
        let out = run_in(&home.work, &["validate"], &env).await;
        let shown = format!("clouds.yaml {}", file.display());
        assert_usage_error(&out, &[needles, &[shown.as_str()][..]].concat());
    }
    let deep = format!("clouds: {}{}", "[".repeat(300), "]".repeat(300));
    home.user_file("clouds.yaml", &deep);
    let out = run_in(&home.work, &["validate"], &env).await;
    assert_usage_error(&out, &["nested more than"]);
    // No clouds.yaml anywhere.
    std::fs::remove_file(home.xdg.join("openstack/clouds.yaml")).unwrap();
    let out = run_in(&home.work, &["validate"], &env).await;
    assert_usage_error(
        &out,
        &["environment variable OS_CLOUD selects the clouds.yaml entry `otc`, but there is no clouds.yaml"],
    );
}

/// The rule refuses only what it must: an entry without `auth_url` next to an openrc's
/// `OS_AUTH_URL` and password (the environment's credentials, the environment's IAM) logs in.
#[tokio::test]
async fn environment_credentials_go_to_the_environments_iam_url_beside_an_entry() {
    let sim = iam_sim().await;
    let base = sim.base_url();
    let home = Home::new();
    home.work_file(
        "clouds.yaml",
        "clouds:\n  otc:\n    region_name: eu-de\n    auth:\n      project_name: eu-de_sub\n",
    );
    let auth_url = format!("{base}/v3");
    let mut env = home.env(&base);
    env.extend([
        ("OS_AUTH_URL", auth_url.as_str()),
        ("OS_USERNAME", "alice"),
        ("OS_PASSWORD", PASSWORD),
        ("OS_USER_DOMAIN_NAME", "dom"),
    ]);
    let out = run_in(&home.work, &wait_json(), &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["jobs"][0]["outcome"], "succeeded");
    assert_eq!(sim.stats().tokens_issued, 1);
}
