//! Step 9: `--apply` against a local double of Keycloak's Admin REST API that records every request
//! and checks it against the documented paths and bodies:
//! - `POST /realms/master/protocol/openid-connect/token` (form: `grant_type=password`,
//!   `client_id=admin-cli`, `username`, `password`) → `{"access_token": …}`
//! - `GET /admin/realms/{realm}` (Bearer) → 404 while missing, 200 once created
//! - `POST /admin/realms` (Bearer, `Content-Type: application/json`, a RealmRepresentation) → 201

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use mcp_auth_steps::keycloak::realm::{self, AdminCredentials, Applied};
use mcp_auth_steps::keycloak::settings::{self, KeycloakConfig};
use serde_json::{Value, json};

#[derive(Clone, Default)]
struct AdminDouble {
    requests: Arc<Mutex<Vec<String>>>,
    realms: Arc<Mutex<HashMap<String, Value>>>,
    problems: Arc<Mutex<Vec<String>>>,
}

const ADMIN_TOKEN: &str = "double-admin-token";

impl AdminDouble {
    fn record(&self, line: String) {
        self.requests.lock().unwrap().push(line);
    }
    fn problem(&self, what: String) {
        self.problems.lock().unwrap().push(what);
    }
    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers.get("authorization").and_then(|v| v.to_str().ok())
            == Some(&format!("Bearer {ADMIN_TOKEN}"))
    }
}

async fn token(
    State(d): State<AdminDouble>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, axum::Json<Value>) {
    d.record("POST /realms/master/protocol/openid-connect/token".into());
    if headers.get("content-type").and_then(|v| v.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        d.problem("token request is not form-encoded".into());
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    for (key, want) in [("grant_type", "password"), ("client_id", "admin-cli")] {
        if form.get(key).map(String::as_str) != Some(want) {
            d.problem(format!("token request {key} = {:?}", form.get(key)));
        }
    }
    if form.get("username").map(String::as_str) == Some("admin")
        && form.get("password").map(String::as_str) == Some("admin")
    {
        (
            StatusCode::OK,
            axum::Json(
                json!({"access_token": ADMIN_TOKEN, "token_type": "Bearer", "expires_in": 60}),
            ),
        )
    } else {
        (
            StatusCode::UNAUTHORIZED,
            axum::Json(
                json!({"error": "invalid_grant", "error_description": "Invalid user credentials"}),
            ),
        )
    }
}

async fn get_realm(
    State(d): State<AdminDouble>,
    Path(realm): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, axum::Json<Value>) {
    d.record(format!("GET /admin/realms/{realm}"));
    if !d.authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "HTTP 401 Unauthorized"})),
        );
    }
    match d.realms.lock().unwrap().get(&realm) {
        Some(r) => (StatusCode::OK, axum::Json(r.clone())),
        None => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "Realm not found."})),
        ),
    }
}

async fn create_realm(State(d): State<AdminDouble>, headers: HeaderMap, body: Bytes) -> StatusCode {
    d.record("POST /admin/realms".into());
    if !d.authorized(&headers) {
        return StatusCode::UNAUTHORIZED;
    }
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        d.problem("realm creation is not application/json".into());
    }
    let Ok(representation) = serde_json::from_slice::<Value>(&body) else {
        d.problem("realm body is not JSON".into());
        return StatusCode::BAD_REQUEST;
    };
    let Some(name) = representation
        .get("realm")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        d.problem("RealmRepresentation without realm".into());
        return StatusCode::BAD_REQUEST;
    };
    let mut realms = d.realms.lock().unwrap();
    if realms.contains_key(&name) {
        return StatusCode::CONFLICT;
    }
    realms.insert(name, representation);
    StatusCode::CREATED
}

async fn start_double() -> (String, AdminDouble) {
    let double = AdminDouble::default();
    let app = Router::new()
        .route("/realms/master/protocol/openid-connect/token", post(token))
        .route("/admin/realms/{realm}", get(get_realm))
        .route("/admin/realms", post(create_realm))
        .with_state(double.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, double)
}

fn realm_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("env/keycloak/mcp-realm.json")
}

fn config(url: &str) -> KeycloakConfig {
    KeycloakConfig {
        keycloak_url: url.to_string(),
        realm: "mcp-realm".into(),
        issuer: format!("{url}/realms/mcp-realm"),
        audience: "echo-mcp-server".into(),
    }
}

fn admin(password: &str) -> AdminCredentials {
    AdminCredentials {
        username: "admin".into(),
        password: password.into(),
    }
}

#[tokio::test]
async fn apply_creates_a_missing_realm_from_the_file_then_leaves_it_alone() {
    let (url, double) = start_double().await;
    let client = settings::http_client();

    let first = realm::apply_realm(&client, &config(&url), &admin("admin"), &realm_file()).await;
    assert_eq!(first, Ok(Applied::Created));
    assert_eq!(
        *double.requests.lock().unwrap(),
        vec![
            "POST /realms/master/protocol/openid-connect/token",
            "GET /admin/realms/mcp-realm",
            "POST /admin/realms",
        ]
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(realm_file()).unwrap()).unwrap();
    assert_eq!(
        double.realms.lock().unwrap()["mcp-realm"],
        file,
        "the file is sent unchanged"
    );

    double.requests.lock().unwrap().clear();
    let second = realm::apply_realm(&client, &config(&url), &admin("admin"), &realm_file()).await;
    assert_eq!(second, Ok(Applied::AlreadyPresent));
    assert_eq!(
        *double.requests.lock().unwrap(),
        vec![
            "POST /realms/master/protocol/openid-connect/token",
            "GET /admin/realms/mcp-realm"
        ],
        "an existing realm is never posted again"
    );
    assert!(
        double.problems.lock().unwrap().is_empty(),
        "{:?}",
        double.problems.lock().unwrap()
    );
}

#[tokio::test]
async fn apply_with_wrong_admin_credentials_says_which_variables_to_check() {
    let (url, double) = start_double().await;
    let err = realm::apply_realm(
        &settings::http_client(),
        &config(&url),
        &admin("wrong"),
        &realm_file(),
    )
    .await
    .unwrap_err();
    assert!(err.contains("admin login failed (HTTP 401"), "{err}");
    assert!(
        err.contains("KEYCLOAK_ADMIN_USER / KEYCLOAK_ADMIN_PASSWORD"),
        "{err}"
    );
    assert!(
        !err.contains("wrong"),
        "the password must not be echoed: {err}"
    );
    assert!(double.realms.lock().unwrap().is_empty());
}

#[tokio::test]
async fn apply_refuses_a_file_for_another_realm_or_a_missing_file() {
    let (url, double) = start_double().await;
    let mut other = config(&url);
    other.realm = "other-realm".into();
    let err = realm::apply_realm(
        &settings::http_client(),
        &other,
        &admin("admin"),
        &realm_file(),
    )
    .await
    .unwrap_err();
    assert!(
        err.contains("defines realm \"mcp-realm\", but KEYCLOAK_REALM is \"other-realm\""),
        "{err}"
    );
    let missing = PathBuf::from("/nonexistent/realm.json");
    let err = realm::apply_realm(
        &settings::http_client(),
        &config(&url),
        &admin("admin"),
        &missing,
    )
    .await
    .unwrap_err();
    assert!(
        err.starts_with("realm file /nonexistent/realm.json:"),
        "{err}"
    );
    assert!(
        double.requests.lock().unwrap().is_empty(),
        "nothing is sent before the file is read"
    );
}
