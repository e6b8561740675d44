//! HTTPS end to end: the real binary against a tiny HTTPS job API whose certificate comes from a
//! private CA made at test time.
//!
//! Why: every other test talks plain HTTP to the simulator, so nothing else proves that
//! - a certificate the roots do not vouch for ends the job at once, `errored`, with a reason that
//!   names the cause and the fix (`SSL_CERT_FILE`), instead of being retried to the deadline — a
//!   TLS error reaches us wrapped by hyper-util/hyper-rustls/reqwest, and a classification that
//!   misses it turns a config mistake into a silent wait of `--timeout`;
//! - `SSL_CERT_FILE` and `SSL_CERT_DIR` (read by rustls-native-certs through reqwest's
//!   `rustls-tls-native-roots`) make a private CA trusted, as the error message promises.
//!
//! The binary runs with a cleared environment, so only the variables a test passes choose the
//! roots. The server offers ALPN `http/1.1` only, answers every GET with one fixed job document
//! and closes the connection; it counts TLS handshakes begun (connections) and requests answered.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::support::{aksk_env, job, json, run, s, wait_args, write_file};

/// The one answer of the HTTPS job API.
const JOB: &str = r#"{"status":"SUCCESS","job_id":"j1","job_type":"createServer","entities":{"server_id":"srv-1"}}"#;

/// The longest request head the server reads.
const MAX_HEAD: usize = 64 * 1024;

/// A private CA and the server configuration of a certificate it issued for `127.0.0.1` and
/// `localhost`.
struct Pki {
    /// The CA certificate, PEM: what `SSL_CERT_FILE` / `SSL_CERT_DIR` point at.
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn private_pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate().expect("generate the CA key");
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA certificate parameters");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "jobwait test private CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca = ca_params
        .self_signed(&ca_key)
        .expect("self-sign the CA certificate");

    let server_key = rcgen::KeyPair::generate().expect("generate the server key");
    // An address that parses as an IP becomes an IP SAN: the endpoint is https://127.0.0.1:PORT.
    let mut server_params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("server certificate parameters");
    server_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    server_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = server_params
        .signed_by(&server_key, &ca, &ca_key)
        .expect("the CA signs the server certificate");

    let chain: Vec<CertificateDer<'static>> = vec![server_cert.der().clone(), ca.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    // ring, explicitly: the provider reqwest uses (no process-wide default is installed).
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .expect("the server certificate and key match");
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    Pki {
        ca_pem: ca.pem(),
        server: Arc::new(server),
    }
}

/// The running HTTPS job API: its base URL and what it saw.
struct HttpsApi {
    url: String,
    /// TLS handshakes begun (one per connection), completed or not.
    handshakes: Arc<AtomicU64>,
    /// Requests answered with [`JOB`].
    requests: Arc<AtomicU64>,
}

/// Starts the HTTPS job API on a free loopback port; it stops with the test's runtime.
async fn https_api(config: Arc<rustls::ServerConfig>) -> HttpsApi {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the HTTPS job API");
    let url = format!(
        "https://{}",
        listener.local_addr().expect("the listener's address")
    );
    let handshakes = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let (seen, answered) = (handshakes.clone(), requests.clone());
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            let (acceptor, answered) = (acceptor.clone(), answered.clone());
            tokio::spawn(async move {
                // A refused certificate ends the handshake here with the client's alert.
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                if !read_head(&mut tls).await {
                    return;
                }
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{JOB}",
                    JOB.len()
                );
                if tls.write_all(response.as_bytes()).await.is_ok() {
                    answered.fetch_add(1, Ordering::SeqCst);
                }
                let _ = tls.shutdown().await;
            });
        }
    });
    HttpsApi {
        url,
        handshakes,
        requests,
    }
}

/// Reads a request head (a GET has no body); `false` when the client went away first or the head
/// is too long.
async fn read_head<R: AsyncReadExt + Unpin>(stream: &mut R) -> bool {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > MAX_HEAD {
            return false;
        }
    }
    true
}

/// Waits on job `j1` at `api` with `env` added to the credentials; the job must succeed.
async fn assert_trusted(api: &HttpsApi, env: &[(&str, &str)]) {
    let args = wait_args(&api.url, &["ecs:j1"], "60s", &[]);
    let mut all = aksk_env();
    all.extend_from_slice(env);
    let out = run(&args, &all).await;

    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let report = json(&out.stdout);
    assert_eq!(report["result"], "success", "{report:#}");
    let j1 = job(&report, "j1");
    assert_eq!(j1["outcome"], "succeeded", "{j1:#}");
    assert_eq!(j1["entities"], json!({ "server_id": ["srv-1"] }), "{j1:#}");
    assert_eq!(report["entities"], json!({ "server_id": ["srv-1"] }));
    assert_eq!(
        api.requests.load(Ordering::SeqCst),
        1,
        "one poll, one request"
    );
}

/// A directory with the CA certificate in it, as a file of any name.
fn ca_dir(parent: &Path, ca_pem: &str) -> std::path::PathBuf {
    let dir = parent.join("certs");
    std::fs::create_dir(&dir).expect("create the certificate directory");
    write_file(&dir, "jobwait-test-ca.pem", ca_pem);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_ends_the_job_at_once_with_the_cause() {
    let pki = private_pki();
    let api = https_api(pki.server.clone()).await;
    // No SSL_CERT_FILE / SSL_CERT_DIR: the system's and the bundled roots, none of them ours.
    let args = wait_args(&api.url, &["ecs:j1"], "60s", &[]);
    let out = run(&args, &aksk_env()).await;

    assert_eq!(
        out.code, 3,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    let report = json(&out.stdout);
    assert_eq!(report["result"], "error", "{report:#}");
    let j1 = job(&report, "j1");
    assert_eq!(j1["outcome"], "errored", "{j1:#}");
    let reason = j1["reason"].as_str().expect("an errored job has a reason");
    for needle in ["certificate", "SSL_CERT_FILE"] {
        assert!(
            reason.contains(needle),
            "the reason does not say {needle:?}: {reason}"
        );
    }
    // Not retried: one poll, one handshake, and no request ever reached the server. (A retried
    // error would keep handshaking until the 60 s deadline, far past the run's 30 s limit.)
    assert_eq!(j1["polls"], 1, "{j1:#}");
    assert_eq!(api.handshakes.load(Ordering::SeqCst), 1, "TLS handshakes");
    assert_eq!(api.requests.load(Ordering::SeqCst), 0, "requests answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_cert_file_trusts_a_private_ca() {
    let pki = private_pki();
    let api = https_api(pki.server.clone()).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let ca = write_file(dir.path(), "private-ca.pem", &pki.ca_pem);
    assert_trusted(&api, &[("SSL_CERT_FILE", s(&ca))]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ssl_cert_dir_trusts_a_private_ca() {
    // rustls-native-certs 0.8 reads every regular file in the directory (following the
    // symlinks `openssl rehash` makes), so no subject-hash name is needed.
    let pki = private_pki();
    let api = https_api(pki.server.clone()).await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let certs = ca_dir(dir.path(), &pki.ca_pem);
    assert_trusted(&api, &[("SSL_CERT_DIR", s(&certs))]).await;
}
