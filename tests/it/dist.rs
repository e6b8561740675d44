//! Distribution: the release archive `scripts/dist` makes, and every channel that installs it.
//!
//! Always: the Dockerfile's rules (an empty image holding the binary `scripts/dist` leaves for
//! it, a numeric non-root user, OCI labels), the release workflow's shape (it builds with
//! `scripts/dist`, attests, every third-party action pinned by commit) and the one placeholder
//! owner shared by the crate, the image, the installer and the Kubernetes examples.
//!
//! With the archive (`#[ignore = "needs the release archive"]`; `.ci/run` builds it once with
//! `scripts/dist` and passes its path as `DIST_ARCHIVE`): its checksum, contents, a static binary
//! of at most 10 MiB that runs `--version` and `demo` in an empty chroot; the container image
//! built from it by buildah (`#[ignore = "needs buildah and the release archive"]`: one layer
//! holding only the binary, which runs as the image's user); `install.sh` installing
//! it from a local release server and refusing a tampered one; and, under act, the action
//! downloading, verifying and running it without compiling, and failing on a tampered one or on
//! a version asked for that has no release.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const ARCHIVE_ENV: &str = "DIST_ARCHIVE";

/// The archive `scripts/dist` made, from `DIST_ARCHIVE`; a test asked to run without it fails.
fn archive() -> PathBuf {
    let path = std::env::var_os(ARCHIVE_ENV).unwrap_or_else(|| {
        panic!("{ARCHIVE_ENV} is not set: run `scripts/dist` and set {ARCHIVE_ENV} to the path it prints (.ci/run does)")
    });
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "{ARCHIVE_ENV}={} is not a file",
        path.display()
    );
    path
}

fn file_name(path: &Path) -> &str {
    path.file_name()
        .and_then(|n| n.to_str())
        .expect("a UTF-8 file name")
}

/// `jobwait-<version>-<platform>` for an archive `jobwait-<version>-<platform>.tar.gz`.
fn stem(archive: &Path) -> &str {
    file_name(archive)
        .strip_suffix(".tar.gz")
        .expect("a .tar.gz archive")
}

/// The crate's version, the one the archives, the action's default and the image tag carry.
fn version() -> String {
    let manifest: toml_like::Manifest = toml_like::read(&repo_root().join("Cargo.toml"));
    manifest.version
}

/// Just enough of Cargo.toml, read by line (the tests have no TOML parser of their own).
mod toml_like {
    pub(super) struct Manifest {
        pub version: String,
        pub repository: String,
    }
    pub(super) fn read(path: &std::path::Path) -> Manifest {
        let text = std::fs::read_to_string(path).unwrap();
        let package = text
            .split("\n[")
            .find(|t| t.starts_with("[package]") || t.starts_with("package]"))
            .expect("a [package] table");
        let value = |key: &str| {
            package
                .lines()
                .find_map(|l| l.strip_prefix(key)?.trim_start().strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_owned())
                .unwrap_or_else(|| panic!("no {key} in [package]"))
        };
        Manifest {
            version: value("version"),
            repository: value("repository"),
        }
    }
}

fn sh(program: &str, args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} does not run: {e}"))
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Unpacks the archive into `into`, returning the directory it holds.
fn unpack(archive: &Path, into: &Path) -> PathBuf {
    let out = sh(
        "tar",
        &["-xzf", archive.to_str().unwrap(), "-C", s(into)],
        into,
    );
    assert!(out.status.success(), "tar: {}", text(&out));
    into.join(stem(archive))
}

// ---------------------------------------------------------------------------------------------
// The archive

#[test]
#[ignore = "needs the release archive"]
fn the_archive_verifies_holds_everything_and_its_static_binary_runs_in_an_empty_chroot() {
    let archive = archive();
    let dir = archive.parent().unwrap();
    let name = file_name(&archive);
    let expected = format!("jobwait-{}-x86_64-linux.tar.gz", version());
    assert_eq!(name, expected, "the host (x86_64 Linux) archive's name");

    // The checksum file is in `sha256sum` format and verifies.
    let check = sh("sha256sum", &["--check", &format!("{name}.sha256")], dir);
    assert!(
        check.status.success(),
        "sha256sum --check: {}",
        text(&check)
    );

    let work = tempfile::tempdir().unwrap();
    let root = unpack(&archive, work.path());
    for member in [
        "jobwait",
        "README.md",
        "LICENSE",
        "completions/jobwait.bash",
        "completions/_jobwait",
        "completions/jobwait.fish",
        "completions/_jobwait.ps1",
        "man/jobwait.1",
    ] {
        let path = root.join(member);
        let len = std::fs::metadata(&path)
            .unwrap_or_else(|_| panic!("{member} is not in {name}"))
            .len();
        assert!(len > 0, "{member} is empty");
    }
    assert!(std::fs::read_to_string(root.join("LICENSE"))
        .unwrap()
        .contains("Apache License"));
    assert!(std::fs::read_to_string(root.join("man/jobwait.1"))
        .unwrap()
        .starts_with(".ie"));

    let binary = root.join("jobwait");
    let size = std::fs::metadata(&binary).unwrap().len();
    assert!(
        size <= 10 << 20,
        "the binary is {size} bytes, more than 10 MiB"
    );
    let kind = text(&sh("file", &["-b", s(&binary)], work.path()));
    assert!(
        kind.contains("statically linked") || kind.contains("static-pie linked"),
        "not static: {kind}"
    );

    // A root holding only the binary: no libc, no NSS modules, no /etc, no CA bundle.
    let jail = work.path().join("jail");
    std::fs::create_dir(&jail).unwrap();
    std::fs::copy(&binary, jail.join("jobwait")).unwrap();
    let in_jail = |args: &[&str]| {
        // chroot needs root; elsewhere a user namespace maps the caller to root.
        let mut cmd = if is_root() {
            Command::new("chroot")
        } else {
            let mut c = Command::new("unshare");
            c.args(["-r", "chroot"]);
            c
        };
        let out = cmd
            .arg(&jail)
            .arg("/jobwait")
            .args(args)
            .env_clear()
            // Only to find chroot/unshare here; nothing in the jail reads it.
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .expect("chroot runs");
        (out.status.code(), text(&out))
    };
    let (code, out) = in_jail(&["--version"]);
    assert_eq!(code, Some(0), "--version in an empty chroot: {out}");
    assert_eq!(out.trim(), format!("jobwait {}", version()));
    let (code, out) = in_jail(&["demo"]);
    assert_eq!(code, Some(0), "demo in an empty chroot: {out}");
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

// ---------------------------------------------------------------------------------------------
// The container image, built by buildah (no Docker engine runs here; `FROM scratch` needs no pull)

#[test]
#[ignore = "needs buildah and the release archive"]
fn the_image_holds_only_the_binary_and_runs_as_its_non_root_user() {
    require_tool("buildah");
    let archive = archive();
    let work = tempfile::tempdir().unwrap();
    let unpacked = unpack(&archive, work.path());
    // The build context as scripts/dist leaves it, with the repository's Dockerfile.
    let ctx = work.path().join("ctx");
    std::fs::create_dir_all(ctx.join("target/dist/linux-amd64")).unwrap();
    std::fs::copy(
        unpacked.join("jobwait"),
        ctx.join("target/dist/linux-amd64/jobwait"),
    )
    .unwrap();
    for file in ["Dockerfile", ".dockerignore"] {
        std::fs::copy(repo_root().join(file), ctx.join(file)).unwrap();
    }
    let store = work.path().join("store");
    let buildah = |args: &[&str]| {
        let out = Command::new("buildah")
            .arg("--root")
            .arg(store.join("root"))
            .arg("--runroot")
            .arg(store.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("buildah runs");
        assert!(out.status.success(), "buildah {args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let version_arg = format!("VERSION={}", version());
    buildah(&[
        "bud",
        "--isolation",
        "chroot",
        "--build-arg",
        &version_arg,
        "-t",
        "localhost/jobwait:test",
        s(&ctx),
    ]);

    let inspect = crate::support::json(&buildah(&[
        "inspect",
        "--type",
        "image",
        "localhost/jobwait:test",
    ]));
    let config = &inspect["OCIv1"]["config"];
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/jobwait"]));
    assert_eq!(
        config["Labels"]["org.opencontainers.image.version"],
        version().as_str()
    );
    assert_eq!(inspect["OCIv1"]["architecture"], "amd64");

    // The image's one layer, unpacked: the binary alone, which runs as the image's user.
    let oci = work.path().join("oci");
    buildah(&[
        "push",
        "localhost/jobwait:test",
        &format!("oci:{}", s(&oci)),
    ]);
    let blob = |digest: &str| {
        oci.join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index = crate::support::json(&std::fs::read_to_string(oci.join("index.json")).unwrap());
    let manifest = crate::support::json(
        &std::fs::read_to_string(blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap(),
    );
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "one layer: {manifest}");
    let layer = blob(layers[0]["digest"].as_str().unwrap());
    let listing = text(&sh("tar", &["-tf", s(&layer)], work.path()));
    assert_eq!(
        listing.trim(),
        "jobwait",
        "the image holds more than the binary"
    );
    let rootfs = work.path().join("rootfs");
    std::fs::create_dir(&rootfs).unwrap();
    let out = sh("tar", &["-xf", s(&layer), "-C", s(&rootfs)], work.path());
    assert!(out.status.success(), "{}", text(&out));
    for args in [&["--version"][..], &["demo"]] {
        let out = Command::new("chroot")
            .args(["--userspec=65532:65532", s(&rootfs), "/jobwait"])
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .expect("chroot runs");
        assert!(
            out.status.success(),
            "/jobwait {args:?} in the image's root as 65532: {}",
            text(&out)
        );
    }
}

/// Panics unless `name --version` runs (the test was asked for and must not pass without it).
fn require_tool(name: &str) {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "`{name} --version` did not run: .ci/run installs {name} (apt-get install {name})"
    );
}

// ---------------------------------------------------------------------------------------------
// A release server on loopback

/// Serves `root`'s files over HTTP on a free loopback port (404 for anything else); returns its URL.
async fn serve(root: PathBuf) -> String {
    use axum::http::{StatusCode, Uri};
    use axum::response::IntoResponse;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let root = root.clone();
        async move {
            let rel = uri.path().trim_start_matches('/');
            if rel
                .split('/')
                .any(|p| p.is_empty() || p == "." || p == "..")
            {
                return StatusCode::NOT_FOUND.into_response();
            }
            match std::fs::read(root.join(rel)) {
                Ok(body) => (StatusCode::OK, body).into_response(),
                Err(_) => StatusCode::NOT_FOUND.into_response(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// A release tree `<root>/v<version>/<archive>{,.sha256}`; `tamper` appends a byte to the
/// archive (its `.sha256` stays the genuine one).
fn releases(root: &Path, archive: &Path, tamper: bool) {
    let dir = root.join(format!("v{}", version()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = file_name(archive);
    let mut bytes = std::fs::read(archive).unwrap();
    if tamper {
        bytes.push(0);
    }
    std::fs::write(dir.join(name), bytes).unwrap();
    std::fs::copy(
        archive.with_file_name(format!("{name}.sha256")),
        dir.join(format!("{name}.sha256")),
    )
    .unwrap();
}

// ---------------------------------------------------------------------------------------------
// install.sh

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release archive"]
async fn install_sh_installs_the_verified_release_and_refuses_a_tampered_one() {
    let archive = archive();
    let work = tempfile::tempdir().unwrap();
    for tamper in [false, true] {
        let served = work.path().join(format!("served-{tamper}"));
        releases(&served, &archive, tamper);
        let url = serve(served).await;
        let to = work.path().join(format!("bin-{tamper}"));
        let version = version();
        let args = [
            s(&repo_root().join("install.sh")).to_owned(),
            "--version".into(),
            version.clone(),
            "--release-url".into(),
            url,
            "--to".into(),
            s(&to).to_owned(),
        ];
        let out = tokio::task::spawn_blocking(move || {
            Command::new("sh")
                .args(args)
                .env("HOME", "/nonexistent")
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        let log = text(&out);
        let installed = to.join("jobwait");
        if tamper {
            assert!(
                !out.status.success(),
                "a tampered archive installed:\n{log}"
            );
            assert!(log.contains("SHA-256 mismatch"), "{log}");
            assert!(!installed.exists(), "something was installed:\n{log}");
        } else {
            assert!(out.status.success(), "install.sh failed:\n{log}");
            let v = Command::new(&installed).arg("--version").output().unwrap();
            assert_eq!(text(&v).trim(), format!("jobwait {version}"), "{log}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The action, under act

/// A git repository holding the action's files (action.yml, its installer, Cargo.toml for the
/// default version) and `workflow`; runs `act push` in it and returns (success, log).
async fn act(work: &Path, workflow: &str) -> (bool, String) {
    let repo = work.join("repo");
    std::fs::create_dir_all(repo.join(".github/workflows")).unwrap();
    std::fs::create_dir_all(repo.join(".github/action")).unwrap();
    for file in ["action.yml", ".github/action/install.sh", "Cargo.toml"] {
        std::fs::copy(repo_root().join(file), repo.join(file)).unwrap();
    }
    std::fs::write(repo.join(".github/workflows/t.yml"), workflow).unwrap();
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.email=ci@example.invalid",
            "-c",
            "user.name=ci",
            "commit",
            "-qm",
            "t",
        ],
    ] {
        let out = sh("git", args, &repo);
        assert!(out.status.success(), "git {args:?}: {}", text(&out));
    }
    let out = tokio::task::spawn_blocking(move || {
        sh(
            "act",
            &[
                "push",
                "-P",
                "ubuntu-latest=-self-hosted",
                "--action-offline-mode",
            ],
            &repo,
        )
    })
    .await
    .unwrap();
    (out.status.success(), text(&out))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs act and the release archive"]
async fn act_runs_the_downloaded_release_and_fails_on_a_tampered_or_missing_one() {
    let sim = sim_with_auth(
        "- { id: web, job_type: createServer, status: SUCCESS, entities: { server_id: srv-1 } }\n",
    )
    .await;
    let archive = archive();
    // An unreleased version asked for by name fails too: the build fallback is for the default.
    for (tamper, asked) in [
        (false, version()),
        (true, version()),
        (false, "9.9.9".into()),
    ] {
        let unreleased = asked != version();
        let work = tempfile::tempdir().unwrap();
        let served = work.path().join("served");
        releases(&served, &archive, tamper);
        let url = serve(served).await;
        let cache = work.path().join("toolcache");
        let seen = work.path().join("seen.txt");
        // The first use names the version; the second takes the default (the action's
        // Cargo.toml) and finds it in the tool cache.
        let step = |id: &str, version: &str| {
            format!(
                "      - id: {id}\n        uses: ./\n        with:\n{version}          release_url: {url}\n          \
                 endpoint: {sim}\n          project_id: {PROJECT}\n          jobs: ecs:web\n          timeout: 30s\n        \
                 env:\n          JOBWAIT_TOKEN: {TOKEN}\n          RUNNER_TOOL_CACHE: {cache}\n",
                sim = sim.base_url(),
                cache = cache.display(),
            )
        };
        let workflow = format!(
            "name: t\non: push\njobs:\n  wait:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n{}{}      \
             - env:\n          A: ${{{{ steps.first.outputs.result }}}}\n          B: ${{{{ steps.second.outputs.server_ids }}}}\n        \
             run: echo \"$A $B\" > {seen}\n",
            step("first", &format!("          version: {asked}\n")),
            step("second", ""),
            seen = seen.display(),
        );
        let (ok, log) = act(work.path(), &workflow).await;
        assert!(
            !log.contains("building jobwait from source"),
            "the build fallback ran:\n{log}"
        );
        assert!(!log.contains(TOKEN), "the token leaked into the runner log");
        if unreleased {
            assert!(!ok, "act succeeded with an unreleased version:\n{log}");
            assert!(
                log.contains("::error title=jobwait action::no release v9.9.9 at"),
                "no clear error:\n{log}"
            );
        } else if tamper {
            assert!(!ok, "act succeeded with a tampered archive:\n{log}");
            assert!(
                log.contains("::error title=jobwait action::") && log.contains("SHA-256 mismatch"),
                "no clear error:\n{log}"
            );
            assert!(!seen.exists(), "a step after the failure ran:\n{log}");
        } else {
            assert!(ok, "act failed:\n{log}");
            assert!(log.contains("SHA-256 verified"), "{log}");
            assert!(log.contains("from the tool cache"), "{log}");
            let used = format!("jobwait: using {}", cache.join("jobwait").display());
            assert_eq!(
                log.matches(&used).count(),
                2,
                "both steps ran the download:\n{log}"
            );
            assert_eq!(
                std::fs::read_to_string(&seen).unwrap().trim(),
                "success srv-1",
                "{log}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Always: the Dockerfile, the release workflow, one placeholder owner

/// The Dockerfile's instructions of its final stage, as (INSTRUCTION, rest) with continuation
/// lines joined.
fn final_stage() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current += &format!("{head} "),
            None => {
                current += line;
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    let start = joined
        .iter()
        .rposition(|l| l.to_ascii_uppercase().starts_with("FROM "))
        .expect("a FROM");
    joined[start..]
        .iter()
        .map(|l| {
            let (i, rest) = l.split_once(' ').unwrap_or((l, ""));
            (i.to_ascii_uppercase(), rest.trim().to_owned())
        })
        .collect()
}

#[test]
fn the_image_is_the_dist_binary_alone_run_by_a_numeric_non_root_user() {
    let stage = final_stage();
    let get = |i: &str| -> Vec<&str> {
        stage
            .iter()
            .filter(|(k, _)| k == i)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    assert_eq!(get("FROM"), ["scratch"], "the final stage is empty");
    assert!(get("RUN").is_empty(), "a scratch stage has no shell to RUN");
    // What scripts/dist leaves for the image, and nothing else from the context.
    assert_eq!(
        get("COPY"),
        ["target/dist/linux-${TARGETARCH}/jobwait /jobwait"]
    );
    let dist = std::fs::read_to_string(repo_root().join("scripts/dist")).unwrap();
    assert!(
        dist.contains("$out_dir/linux-$arch/jobwait"),
        "scripts/dist no longer leaves the image's binary"
    );
    let ignore = std::fs::read_to_string(repo_root().join(".dockerignore")).unwrap();
    assert!(
        ignore.lines().any(|l| l == "*")
            && ignore.lines().any(|l| l == "!target/dist/linux-*/jobwait")
    );
    assert_eq!(
        get("ENTRYPOINT"),
        [r#"["/jobwait"]"#],
        "exec form, the binary"
    );
    let user = get("USER");
    assert_eq!(user.len(), 1, "one USER");
    let uid: u32 = user[0]
        .split(':')
        .next()
        .unwrap()
        .parse()
        .expect("a numeric user (runAsNonRoot checks the number)");
    assert_ne!(uid, 0, "not root");
    let labels = get("LABEL").join(" ");
    for key in [
        "org.opencontainers.image.title",
        "org.opencontainers.image.source",
        "org.opencontainers.image.licenses",
        "org.opencontainers.image.version",
    ] {
        assert!(labels.contains(&format!("{key}=")), "label {key} missing");
    }
}

#[test]
fn one_placeholder_owner_names_the_crate_image_installer_and_examples() {
    let manifest = toml_like::read(&repo_root().join("Cargo.toml"));
    let repo = manifest
        .repository
        .strip_prefix("https://github.com/")
        .expect("a GitHub repository");
    let image = format!("ghcr.io/{repo}:{}", manifest.version);
    for file in [
        "examples/kubernetes/init-container.yaml",
        "examples/kubernetes/indexed-job.yaml",
    ] {
        let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
        assert!(
            text.contains(&format!("image: {image}")),
            "{file} does not use {image}"
        );
    }
    let source = format!(
        "org.opencontainers.image.source=\"{}\"",
        manifest.repository
    );
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains(&source), "Dockerfile: {source}");
    let installer = std::fs::read_to_string(repo_root().join("install.sh")).unwrap();
    assert!(
        installer.contains(&format!("repo=\"{repo}\"")),
        "install.sh: {repo}"
    );
}

#[test]
fn the_release_workflow_ships_what_scripts_dist_makes_with_pinned_actions() {
    let root = repo_root();
    let release = std::fs::read_to_string(root.join(".github/workflows/release.yml")).unwrap();
    let doc: serde_json::Value = serde_saphyr::from_str(&release).unwrap();
    assert_eq!(doc["on"]["push"]["tags"][0], "v*");
    for needle in [
        "archive=\"$(scripts/dist \"$TARGET\")\"",
        "SHA256SUMS",
        "actions/attest-build-provenance@",
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "platforms: linux/amd64,linux/arm64",
    ] {
        assert!(release.contains(needle), "release.yml lacks {needle}");
    }
    // Every `uses:` of every workflow and of the action: local, or pinned by a full commit SHA.
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(".github/workflows"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.push(root.join("action.yml"));
    for file in files {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let Some(uses) = line.trim().trim_start_matches("- ").strip_prefix("uses: ") else {
                continue;
            };
            let uses = uses.split_whitespace().next().unwrap_or_default();
            if uses.starts_with("./") {
                continue;
            }
            let sha = uses.rsplit_once('@').map(|(_, r)| r).unwrap_or_default();
            assert!(
                sha.len() == 40 && sha.bytes().all(|b| b.is_ascii_hexdigit()),
                "{}: {uses} is not pinned by commit SHA",
                file.display()
            );
        }
    }
}
