//! Proxies through the real binary: reqwest takes `HTTP_PROXY` / `HTTPS_PROXY` / `ALL_PROXY` and
//! `NO_PROXY` from the environment (its system proxy, which `cloud::http` leaves on), and
//! corporate networks often only reach the cloud through one.
//!
//! The endpoint's host is `proxied.invalid`, which never resolves (RFC 6761): only the proxy can
//! serve it, so a success proves the request went through the proxy, and with `NO_PROXY` the
//! direct attempt fails. (reqwest's matcher does not exempt loopback hosts, but a loopback
//! endpoint would prove nothing either way: it answers with or without the proxy.)

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::*;

/// A tiny forward proxy on 127.0.0.1: records the head of every request it gets; answers an
/// absolute-form `GET http://…` with a SUCCESS job document and a `CONNECT` with 502 (it opens
/// no tunnel). Returns its URL and the heads it saw.
async fn proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the proxy");
    let url = format!("http://{}", listener.local_addr().expect("local address"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let heads = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let heads = heads.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 * 1024 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let connect = head.starts_with("CONNECT ");
                heads.lock().unwrap().push(head);
                let answer = if connect {
                    "HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_owned()
                } else {
                    let body = r#"{"status":"SUCCESS","job_id":"j","job_type":"createServer"}"#;
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    )
                };
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, seen)
}

fn args(endpoint: &str) -> Vec<String> {
    [
        "wait",
        "j",
        "--endpoint",
        endpoint,
        "--project-id",
        PROJECT,
        "--timeout",
        "10s",
        "--poll-interval",
        "50ms",
        "--output",
        "json",
        "-q",
    ]
    .map(str::to_owned)
    .to_vec()
}

#[tokio::test]
async fn an_http_endpoint_is_reached_through_http_proxy_and_not_past_no_proxy() {
    let (proxy_url, seen) = proxy().await;
    let env = [
        ("JOBWAIT_TOKEN", TOKEN),
        ("HTTP_PROXY", proxy_url.as_str()),
        ("JOBWAIT_RETRY__UNREACHABLE_AFTER", "1s"),
    ];
    let out = run(&args("http://proxied.invalid"), &env).await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(json(&out.stdout)["jobs"][0]["outcome"], "succeeded");
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0].starts_with(&format!(
            "GET http://proxied.invalid/v1/{PROJECT}/jobs/j HTTP/1.1\r\n"
        )),
        "absolute-form request to the proxy: {heads:?}"
    );
    // Plain http: the proxy sees the token (the README says so).
    assert!(heads[0].contains(TOKEN));

    let no_proxy = [env.as_slice(), &[("NO_PROXY", "proxied.invalid")]].concat();
    let out = run(&args("http://proxied.invalid"), &no_proxy).await;
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert_eq!(json(&out.stdout)["jobs"][0]["outcome"], "errored");
    assert_eq!(seen.lock().unwrap().len(), 1, "NO_PROXY bypassed the proxy");
}

#[tokio::test]
async fn an_https_endpoint_goes_through_a_connect_tunnel_that_carries_no_credential() {
    let (proxy_url, seen) = proxy().await;
    let env = [
        ("JOBWAIT_TOKEN", TOKEN),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("JOBWAIT_RETRY__UNREACHABLE_AFTER", "1s"),
    ];
    let out = run(&args("https://proxied.invalid"), &env).await;
    // The proxy refuses the tunnel: the job cannot be read, but the request went its way.
    assert_ne!(out.code, 0, "{}", out.stdout);
    let heads = seen.lock().unwrap().clone();
    assert!(!heads.is_empty(), "the proxy was asked");
    for head in &heads {
        assert!(
            head.starts_with("CONNECT proxied.invalid:443 HTTP/1.1\r\n"),
            "{head}"
        );
        assert!(
            !head.contains(TOKEN),
            "the token travels only inside the tunnel"
        );
    }
    assert!(!out.all().contains(TOKEN));
}
