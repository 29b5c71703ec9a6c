//! Step 1: `/health` and the Origin/Host guard, composed as `src/bin/step1.rs` composes them.

use mcp_auth_steps::http::health::Health;
use mcp_auth_steps::http::origin_guard::{GuardArgs, OriginGuard};
use mcp_auth_steps::http::service::HttpService;
use reqwest::StatusCode;
use serde_json::json;

use crate::spawn;

fn app(guard: &GuardArgs) -> impl HttpService {
    let guard = OriginGuard::from_args(guard).expect("valid guard flags");
    guard.protect(Health::new(1).router())
}

#[tokio::test]
async fn health_answers_healthy() {
    // Arrange
    let server = spawn(app(&GuardArgs::default())).await;

    // Act
    let reply = server.request("GET", "/health", &[]).await;

    // Assert
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-type"), "application/json");
    assert_eq!(reply.json, json!({"status": "healthy", "step": 1}));
}

#[tokio::test]
async fn health_is_outside_the_guard() {
    let server = spawn(app(&GuardArgs::default())).await;

    let reply = server
        .request(
            "GET",
            "/health",
            &[("origin", "http://evil.com"), ("host", "evil.com")],
        )
        .await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json["status"], "healthy");
}

#[tokio::test]
async fn step_one_has_no_mcp_endpoint() {
    let server = spawn(app(&GuardArgs::default())).await;

    let reply = server
        .post_mcp(json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .await;

    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(reply.text, "");
}

#[tokio::test]
async fn loopback_origins_pass_the_guard() {
    let server = spawn(app(&GuardArgs::default())).await;

    for origin in [
        "http://localhost:6274",
        "http://127.0.0.1:1",
        "http://[::1]:3000",
        "https://localhost",
    ] {
        let reply = server.request("GET", "/mcp", &[("origin", origin)]).await;

        // Past the guard, the router has no /mcp: 404, not 403.
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "Origin {origin}");
    }
}

#[tokio::test]
async fn foreign_null_and_malformed_origins_are_refused_with_a_json_rpc_error() {
    let server = spawn(app(&GuardArgs::default())).await;

    for origin in [
        "http://localhost.evil.com",
        "null",
        "localhost:9000",
        "http://evil.com",
    ] {
        let reply = server.request("GET", "/mcp", &[("origin", origin)]).await;

        assert_eq!(reply.status, StatusCode::FORBIDDEN, "Origin {origin}");
        assert_eq!(reply.header("content-type"), "application/json");
        assert_eq!(reply.json["jsonrpc"], "2.0");
        assert!(reply.json.get("id").is_none(), "no id: {}", reply.text);
        assert_eq!(reply.json["error"]["code"], -32001);
        let message = reply.json["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("Forbidden: Origin") && message.contains(origin),
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_foreign_host_is_refused_even_without_origin() {
    let server = spawn(app(&GuardArgs::default())).await;

    let reply = server.request("GET", "/mcp", &[("host", "evil.com")]).await;

    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.json.get("id").is_none());
    assert_eq!(
        reply.json["error"]["message"],
        "Forbidden: Host \"evil.com\" rejected (not a loopback or allowed host)"
    );
}

#[tokio::test]
async fn allow_lists_admit_exactly_what_they_name() {
    let server = spawn(app(&GuardArgs {
        allow_origins: vec!["https://app.example.com".into()],
        allow_hosts: vec!["mcp.example.com".into()],
    }))
    .await;

    let allowed_origin = server
        .request("GET", "/mcp", &[("origin", "https://app.example.com")])
        .await;
    let other_scheme = server
        .request("GET", "/mcp", &[("origin", "http://app.example.com")])
        .await;
    let allowed_host = server
        .request("GET", "/mcp", &[("host", "mcp.example.com:8443")])
        .await;
    let other_host = server
        .request("GET", "/mcp", &[("host", "app.example.com")])
        .await;

    assert_eq!(allowed_origin.status, StatusCode::NOT_FOUND);
    assert_eq!(other_scheme.status, StatusCode::FORBIDDEN);
    assert_eq!(allowed_host.status, StatusCode::NOT_FOUND);
    assert_eq!(other_host.status, StatusCode::FORBIDDEN);
}

#[test]
fn a_bad_allow_list_entry_stops_start() {
    let err = OriginGuard::from_args(&GuardArgs {
        allow_origins: vec!["localhost:9000".into()],
        allow_hosts: vec![],
    })
    .unwrap_err();

    assert!(
        err.to_string()
            .starts_with("ALLOWED_ORIGINS / --allow-origin: \"localhost:9000\" is not valid"),
        "{err}"
    );
}

/// Sends `GET /health` on `stream` (kept alive) and returns the answer's head, lower-cased.
async fn health_on(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // The body is small JSON: the answer is complete once its closing brace has arrived.
    while !answer.ends_with(b"}") {
        let n = stream.read(&mut buf).await.expect("read");
        assert!(n > 0, "the connection closed before the answer");
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).to_ascii_lowercase()
}

/// Serves step 1 with `--shutdown-delay delay`; returns its address, a trigger for the shutdown
/// signal and the serve task.
async fn spawn_with_delay(
    delay: u64,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = mcp_auth_steps::http::connection::Limits {
        shutdown_delay: delay,
        ..Default::default()
    };
    let task = tokio::spawn(mcp_auth_steps::http::server::serve_with(
        listener,
        app(&GuardArgs::default()),
        async move {
            let _ = stopped.await;
        },
        limits,
    ));
    (addr, stop, task)
}

#[tokio::test]
async fn during_the_shutdown_delay_new_connections_are_refused_and_kept_alive_ones_served_with_connection_close()
 {
    use tokio::io::AsyncReadExt;
    // Arrange: a kept-alive connection, answered once before the signal.
    let (addr, stop, task) = spawn_with_delay(2).await;
    let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
    let before = health_on(&mut kept).await;
    assert!(before.starts_with("http/1.1 200"), "{before}");
    assert!(!before.contains("connection: close"), "{before}");

    // Act: the shutdown signal.
    stop.send(()).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // Assert: the listener is closed, the kept-alive connection is still served, with
    // Connection: close, and then closed by the server; the server exits after the delay.
    let refused = tokio::net::TcpStream::connect(addr).await;
    assert!(
        refused.is_err(),
        "a new connection was accepted after the signal"
    );
    let during = health_on(&mut kept).await;
    assert!(during.starts_with("http/1.1 200"), "{during}");
    assert!(during.contains("\r\nconnection: close\r\n"), "{during}");
    let mut rest = [0u8; 16];
    assert_eq!(
        kept.read(&mut rest).await.unwrap(),
        0,
        "not closed after Connection: close"
    );
    let started = std::time::Instant::now();
    task.await.unwrap().unwrap();
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500));
}

#[tokio::test]
async fn without_a_shutdown_delay_the_drain_closes_an_idle_connection_at_once() {
    use tokio::io::AsyncReadExt;
    let (addr, stop, task) = spawn_with_delay(0).await;
    let mut kept = tokio::net::TcpStream::connect(addr).await.unwrap();
    let before = health_on(&mut kept).await;
    assert!(before.starts_with("http/1.1 200"), "{before}");

    let started = std::time::Instant::now();
    stop.send(()).unwrap();
    let mut rest = [0u8; 16];
    let read = tokio::time::timeout(std::time::Duration::from_secs(2), kept.read(&mut rest)).await;

    assert_eq!(read.expect("closed within 2 s").unwrap(), 0);
    task.await.unwrap().unwrap();
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}
