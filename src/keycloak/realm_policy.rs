//! Step 9: what the realm lets a client do, checked from the outside — which clients may register
//! themselves, and the realm settings that bound what a token or a password guess is worth.
//!
//! - [`REGISTRATION_SHAPES`]: one RFC 7591 request per kind of client (loopback with a
//!   `client_uri` on another host, an editor's https redirect, a private-use scheme, …), each
//!   with the answer the realm must give. [`verify_registration`] sends them all, anonymously,
//!   as a client would, and deletes what it registered (RFC 7592).
//! - [`verify_dpop_registration`]: a client that registers with `dpop_bound_access_tokens` is held
//!   to DPoP proofs; one that does not is not (the MCP hosts without DPoP).
//! - [`verify_refresh_rotation`]: a refresh token used twice is refused the second time.
//! - [`verify_agent`]: the demo agent gets a client's token with the client credentials grant.
//! - [`verify_test_client_redirects`]: `mcp-test-client` compares redirect URIs exactly.
//! - [`verify_security_settings`]: brute-force detection and the offline-session limit, read
//!   through the Admin REST API (they cannot be seen from outside without locking an account).
//! - [`verify_introspection_client`]: step 10's introspecting client is accepted by Keycloak.

use serde_json::{Value, json};

use crate::auth::bearer_auth::TokenValidator;
use crate::auth::policy::MCP_SCOPES;
use crate::keycloak::admin::{AdminCredentials, admin_token};
use crate::keycloak::check::Check;
use crate::keycloak::introspection::{CredentialCheck, IntrospectionSettings, Introspector};
use crate::keycloak::settings::{KeycloakConfig, TEST_CLIENT};

/// The host domains whose `https` redirect URIs a self-registered client may use: the realm
/// file's `allow-permitted-domains` (profile `mcp-dcr`). Edit both together.
pub const PERMITTED_DOMAINS: [&str; 2] = ["vscode.dev", "claude.ai"];

/// One kind of registration request and the realm's answer to it.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationShape {
    /// What the shape is, as the table says it.
    pub what: &'static str,
    /// `redirect_uris`.
    pub redirect_uris: &'static [&'static str],
    /// `grant_types` (`response_types` follows: `token` for the implicit grant, else `code`).
    pub grant_types: &'static [&'static str],
    /// `client_uri`, informational (Keycloak keeps it as the client's base URL).
    pub client_uri: Option<&'static str>,
    /// The answer the realm must give: 201 (registered), 403 (a client policy refused it) or 400
    /// (Keycloak's own check of the redirect scheme refused it).
    pub status: u16,
}

const CODE: &[&str] = &["authorization_code", "refresh_token"];

/// Every shape step 9 sends and `scripts/test_step9.sh` replays (docs/step09-keycloak.md has the
/// table with the risk each refusal closes).
pub const REGISTRATION_SHAPES: [RegistrationShape; 11] = [
    RegistrationShape {
        what: "loopback redirect + client_uri on another host",
        redirect_uris: &["http://localhost:33418/oauth/callback"],
        grant_types: CODE,
        client_uri: Some("https://github.com/modelcontextprotocol/inspector"),
        status: 201,
    },
    RegistrationShape {
        what: "https redirect on a permitted domain + loopback",
        redirect_uris: &["https://vscode.dev/redirect", "http://127.0.0.1:33418"],
        grant_types: CODE,
        client_uri: None,
        status: 201,
    },
    RegistrationShape {
        what: "private-use scheme (RFC 8252 7.1)",
        redirect_uris: &["cursor://anysphere.cursor-retrieval/oauth/callback"],
        grant_types: CODE,
        client_uri: None,
        status: 201,
    },
    RegistrationShape {
        what: "https redirect on another domain",
        redirect_uris: &["https://evil.example/callback"],
        grant_types: CODE,
        client_uri: None,
        status: 403,
    },
    RegistrationShape {
        what: "http redirect off loopback",
        redirect_uris: &["http://evil.example/callback"],
        grant_types: CODE,
        client_uri: None,
        status: 403,
    },
    RegistrationShape {
        what: "redirect with a fragment",
        redirect_uris: &["http://127.0.0.1:33418/callback#x"],
        grant_types: CODE,
        client_uri: None,
        status: 403,
    },
    RegistrationShape {
        what: "wildcard redirect",
        redirect_uris: &["http://127.0.0.1/*"],
        grant_types: CODE,
        client_uri: None,
        status: 403,
    },
    RegistrationShape {
        what: "javascript: redirect",
        redirect_uris: &["javascript:alert(1)"],
        grant_types: CODE,
        client_uri: None,
        status: 400,
    },
    RegistrationShape {
        what: "data: redirect",
        redirect_uris: &["data:text/html,hi"],
        grant_types: CODE,
        client_uri: None,
        status: 400,
    },
    RegistrationShape {
        what: "implicit grant",
        redirect_uris: &["http://127.0.0.1:33418/callback"],
        grant_types: &["implicit"],
        client_uri: None,
        status: 403,
    },
    RegistrationShape {
        what: "password grant",
        redirect_uris: &["http://127.0.0.1:33418/callback"],
        grant_types: &["password"],
        client_uri: None,
        status: 403,
    },
];

impl RegistrationShape {
    /// The RFC 7591 request body.
    // ANCHOR: registration_shape_metadata
    pub fn metadata(&self) -> Value {
        let implicit = self.grant_types.contains(&"implicit");
        let mut body = json!({
            "client_name": format!("step9 check: {} (safe to delete)", self.what),
            "redirect_uris": self.redirect_uris,
            "grant_types": self.grant_types,
            "response_types": [if implicit { "token" } else { "code" }],
            "token_endpoint_auth_method": "none",
            "scope": MCP_SCOPES.join(" "),
        });
        if let Some(uri) = self.client_uri {
            body["client_uri"] = json!(uri);
        }
        body
    }
    // ANCHOR_END: registration_shape_metadata
}

/// Sends every [`REGISTRATION_SHAPES`] request and checks the status; deletes each client it
/// registered again (RFC 7592, with the registration access token).
pub async fn verify_registration(client: &reqwest::Client, endpoint: &str) -> Vec<Check> {
    if endpoint.is_empty() {
        return vec![Check::new(
            "registration endpoint",
            "advertised",
            "absent",
            false,
            "use a Keycloak that advertises registration_endpoint",
        )];
    }
    let mut checks = Vec::new();
    for shape in &REGISTRATION_SHAPES {
        let (status, body) = send(client.post(endpoint).json(&shape.metadata())).await;
        delete_registered(client, &body).await;
        let fix = if shape.status == 201 {
            "the realm's client profile mcp-dcr must allow this redirect (secure-redirect-uris-enforcer: loopback, private-use schemes, allow-permitted-domains), and no Trusted Hosts registration policy may check client URIs"
        } else {
            "apply the client policy mcp-dcr (profile mcp-dcr: secure-redirect-uris-enforcer, reject-implicit-grant, reject-ropc-grant) to anonymous registrations, as env/keycloak/mcp-realm.json does"
        };
        let (expected, ok) = (format!("HTTP {}", shape.status), status == shape.status);
        let actual = match body.get("error_description").and_then(Value::as_str) {
            Some(d) if status != 201 => format!("HTTP {status} {d}"),
            _ => format!("HTTP {status}"),
        };
        checks.push(Check::new(
            format!("registration: {}", shape.what),
            expected,
            actual,
            ok,
            fix,
        ));
    }
    checks
}

/// What a DPoP client asks for at registration, and what the MCP hosts without DPoP must still
/// get: a self-registered client with `dpop_bound_access_tokens: true` (RFC 9449 §5.2, what step 11
/// sends when it binds its tokens) is refused a token without a proof; one without it is not held
/// to DPoP. Each is registered anonymously, sent a refresh-token grant with no proof and a refresh
/// token that does not exist, and deleted again: Keycloak checks for the proof before it looks at
/// the grant, so the first answer tells which check ran.
pub async fn verify_dpop_registration(
    client: &reqwest::Client,
    registration_endpoint: &str,
    token_endpoint: &str,
) -> Vec<Check> {
    let mut checks = Vec::new();
    for bound in [true, false] {
        let mut metadata = REGISTRATION_SHAPES[0].metadata();
        metadata["client_name"] = json!("step9 check: DPoP registration (safe to delete)");
        if bound {
            metadata["dpop_bound_access_tokens"] = json!(true);
        }
        let (status, body) = send(client.post(registration_endpoint).json(&metadata)).await;
        let client_id = body["client_id"].as_str().unwrap_or_default().to_string();
        let (token_status, answer) = if status == 201 && !client_id.is_empty() {
            let form = [
                ("grant_type", "refresh_token"),
                ("client_id", client_id.as_str()),
                ("refresh_token", "step9-no-such-refresh-token"),
            ];
            send(client.post(token_endpoint).form(&form)).await
        } else {
            (0, Value::Null)
        };
        delete_registered(client, &body).await;
        let said = |v: &Value| {
            format!(
                "{} {}",
                v["error"].as_str().unwrap_or("-"),
                v["error_description"].as_str().unwrap_or("-")
            )
        };
        let actual = format!("HTTP {status}, then {token_status} {}", said(&answer));
        let (what, expected, fix) = if bound {
            (
                "registration: dpop_bound_access_tokens true",
                "HTTP 201, then 400 invalid_request DPoP proof is missing",
                "Keycloak must keep a registration's dpop_bound_access_tokens (RFC 9449 §5.2) and enforce it: keep the dpop feature on (the default since Keycloak 26.4; not in --features-disabled)",
            )
        } else {
            (
                "registration: without dpop_bound_access_tokens",
                "HTTP 201, then 400 invalid_grant Invalid refresh token",
                "remove the executor dpop-bind-enforcer from the client profile mcp-dcr: it binds every self-registered client, and MCP hosts without DPoP (the Inspector, mcp-remote) could no longer get a token; DPoP clients ask for it with dpop_bound_access_tokens",
            )
        };
        checks.push(Check::new(
            what,
            expected,
            actual.clone(),
            actual == expected,
            fix,
        ));
    }
    checks
}

/// The demo agent that step9 checks: a client with a service account, authenticated by its
/// secret (`client_secret_basic`). DEMO values, as in env/keycloak/mcp-realm.json; step 11's
/// `private_key_jwt` agent, `mcp-agent`, is checked by scripts/test_step11.sh with its key.
pub const DEMO_AGENT: (&str, &str) = ("mcp-agent-basic", "mcp-agent-demo-secret-change-me");

/// A caller without a person: the client credentials grant for [`DEMO_AGENT`], with `resource`
/// (`JWT_AUDIENCE`) and every MCP scope asked for, verified by step 10's own validator. The
/// token must be a client's (`whoami` says `caller: client`), with `mcp:read mcp:tools` and
/// echo-mcp-server's `read-only` and `tools` roles: an agent calls tools, a person uses prompts.
pub async fn verify_agent(
    client: &reqwest::Client,
    token_endpoint: &str,
    validator: &TokenValidator,
    config: &KeycloakConfig,
) -> Check {
    let (id, secret) = DEMO_AGENT;
    let scope = MCP_SCOPES.join(" ");
    let form = [
        ("grant_type", "client_credentials"),
        ("resource", config.audience.as_str()),
        ("scope", scope.as_str()),
    ];
    let (status, body) = send(
        client
            .post(token_endpoint)
            .basic_auth(id, Some(secret))
            .form(&form),
    )
    .await;
    let actual = match body["access_token"].as_str() {
        Some(token) if status == 200 => match validator.validate(token).await {
            Ok(identity) => {
                let mut scopes: Vec<&str> = identity
                    .scopes
                    .iter()
                    .map(String::as_str)
                    .filter(|s| s.starts_with("mcp:"))
                    .collect();
                scopes.sort_unstable();
                let mut roles: Vec<&str> = identity
                    .roles
                    .iter()
                    .map(String::as_str)
                    .filter(|r| ["prompts", "read-only", "tools"].contains(r))
                    .collect();
                roles.sort_unstable();
                format!(
                    "{}; {}; {}",
                    identity.caller.name(),
                    scopes.join(" "),
                    roles.join(" ")
                )
            }
            Err(e) => format!("token refused: {e}"),
        },
        _ => format!(
            "HTTP {status} {}",
            body["error_description"]
                .as_str()
                .or(body["error"].as_str())
                .unwrap_or("-")
        ),
    };
    let expected = "client; mcp:read mcp:tools; read-only tools";
    let fix = if body["error"] == "invalid_target" {
        format!(
            "Keycloak refuses the resource {}: JWT_AUDIENCE must be the resource_url of echo-mcp-server in the realm (RFC 8707)",
            config.audience
        )
    } else {
        "the realm needs the client mcp-agent-basic as env/keycloak/mcp-realm.json has it: a service account holding echo-mcp-server's read-only and tools roles, default client scopes basic, profile, roles, service_account, mcp:read, mcp:tools, and client_credentials.use_refresh_token on (keycloak#50251)".to_string()
    };
    Check::new(
        format!("agent {id}: client_credentials"),
        expected,
        actual.clone(),
        actual == expected,
        fix,
    )
}

/// Deletes a client that an anonymous registration answer (`body`) created (RFC 7592, with its
/// registration access token), so that step9 leaves nothing behind.
async fn delete_registered(client: &reqwest::Client, body: &Value) {
    if let (Some(uri), Some(token)) = (
        body["registration_client_uri"].as_str(),
        body["registration_access_token"].as_str(),
    ) {
        let _ = client.delete(uri).bearer_auth(token).send().await;
    }
}

/// Sends `request`: the status and the JSON body (`null` when it is not JSON), or status 0 and
/// the transport error as `{"error": …}`.
async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    match request.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
        Err(e) => (0, json!({"error": e.to_string()})),
    }
}

/// A refresh token used twice: the second use is refused (OAuth 2.1 §4.3.1: a public client's
/// refresh tokens are rotated). Uses a password grant of `(username, password)` through the
/// test client.
pub async fn verify_refresh_rotation(
    client: &reqwest::Client,
    token_endpoint: &str,
    (username, password): (&str, &str),
) -> Check {
    let grant = |form: Vec<(&'static str, String)>| send(client.post(token_endpoint).form(&form));
    let (_, first) = grant(vec![
        ("grant_type", "password".into()),
        ("client_id", TEST_CLIENT.into()),
        ("username", username.into()),
        ("password", password.into()),
        ("scope", "openid".into()),
    ])
    .await;
    let refresh = first["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let again = |token: String| {
        grant(vec![
            ("grant_type", "refresh_token".into()),
            ("client_id", TEST_CLIENT.into()),
            ("refresh_token", token),
        ])
    };
    let (once, _) = again(refresh.clone()).await;
    let (twice, body) = again(refresh).await;
    let error = body["error"].as_str().unwrap_or("-");
    Check::new(
        "refresh token reused",
        "HTTP 200, then 400 invalid_grant",
        format!("HTTP {once}, then {twice} {error}"),
        once == 200 && twice == 400 && error == "invalid_grant",
        "rotate refresh tokens: revokeRefreshToken true and refreshTokenMaxReuse 0 in the realm",
    )
}

/// `mcp-test-client` takes its loopback redirect on any port (RFC 8252 §7.3) but nothing else:
/// `/callback` is shown the login page, `/other` on the same host is refused.
pub async fn verify_test_client_redirects(
    client: &reqwest::Client,
    authorization_endpoint: &str,
) -> Check {
    let status = |redirect: &'static str| async move {
        let url = reqwest::Url::parse_with_params(
            authorization_endpoint,
            [
                ("client_id", TEST_CLIENT),
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("scope", "openid"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ],
        );
        match url {
            Ok(url) => client
                .get(url)
                .send()
                .await
                .map_or(0, |r| r.status().as_u16()),
            Err(_) => 0,
        }
    };
    let exact = status("http://127.0.0.1:45678/callback").await;
    let other = status("http://127.0.0.1:45678/other").await;
    Check::new(
        format!("{TEST_CLIENT}: redirect URIs exact"),
        "/callback 200, /other 400",
        format!("/callback {exact}, /other {other}"),
        exact == 200 && other == 400,
        format!(
            "give {TEST_CLIENT} exact redirect URIs (http://127.0.0.1/callback, http://[::1]/callback), no wildcards"
        ),
    )
}

/// Realm settings that cannot be observed without harm, read through the Admin REST API:
/// brute-force detection (a lockout after 5 failures) and a limit on offline sessions.
pub async fn verify_security_settings(
    client: &reqwest::Client,
    config: &KeycloakConfig,
    admin: Option<&AdminCredentials>,
) -> Vec<Check> {
    const WHAT: [&str; 2] = ["brute-force detection", "offline sessions limited"];
    let realm = match admin {
        None => Err("no admin credentials".to_string()),
        Some(admin) => match admin_token(client, config, admin).await {
            Ok(token) => {
                let url = format!("{}/admin/realms/{}", config.keycloak_url, config.realm);
                match client.get(&url).bearer_auth(token).send().await {
                    Ok(r) if r.status().is_success() => {
                        r.json::<Value>().await.map_err(|e| e.to_string())
                    }
                    Ok(r) => Err(format!("GET {url}: HTTP {}", r.status().as_u16())),
                    Err(e) => Err(format!("GET {url}: {e}")),
                }
            }
            Err(e) => Err(e),
        },
    };
    let realm = match realm {
        Ok(realm) => realm,
        Err(why) => {
            return WHAT
                .iter()
                .map(|what| {
                    Check::new(
                        *what,
                        "read through the Admin REST API",
                        &why,
                        false,
                        "set KEYCLOAK_ADMIN_USER and KEYCLOAK_ADMIN_PASSWORD (env/keycloak_direct.env has the demo ones) so step9 can read the realm's settings",
                    )
                })
                .collect();
        }
    };
    let number = |key: &str| realm[key].as_i64().unwrap_or(-1);
    let brute = realm["bruteForceProtected"] == json!(true)
        && realm["permanentLockout"] != json!(true)
        && (1..=10).contains(&number("failureFactor"))
        && number("waitIncrementSeconds") > 0;
    let offline = realm["offlineSessionMaxLifespanEnabled"] == json!(true)
        && number("offlineSessionMaxLifespan") > 0;
    vec![
        Check::new(
            WHAT[0],
            "on, lockout after <= 10 failures",
            format!(
                "{}, {} failures, {} s",
                if realm["bruteForceProtected"] == json!(true) {
                    "on"
                } else {
                    "off"
                },
                number("failureFactor"),
                number("waitIncrementSeconds")
            ),
            brute,
            "set bruteForceProtected true, failureFactor 5, waitIncrementSeconds 60, maxFailureWaitSeconds 900 (permanentLockout false) in the realm",
        ),
        Check::new(
            WHAT[1],
            "max lifespan on",
            format!(
                "{}, {} s",
                if realm["offlineSessionMaxLifespanEnabled"] == json!(true) {
                    "on"
                } else {
                    "off"
                },
                number("offlineSessionMaxLifespan")
            ),
            offline,
            "set offlineSessionMaxLifespanEnabled true and offlineSessionMaxLifespan 5184000 (60 days) in the realm",
        ),
    ]
}

/// Step 10's `TOKEN_CHECK=introspection` authenticates as the resource server's confidential
/// client: Keycloak must accept `(client_id, secret)` at its introspection endpoint (a probe
/// token is answered `active: false`).
pub async fn verify_introspection_client(
    config: &KeycloakConfig,
    client_id: &str,
    secret: Option<&str>,
) -> Check {
    let what = format!("introspection client {client_id}");
    let expected = "accepted (probe: active false)";
    let fix = format!(
        "give {client_id} clientAuthenticatorType client-secret and a secret in the realm, and set INTROSPECTION_CLIENT_SECRET to it (env/keycloak_direct.env has the demo one)"
    );
    let Some(secret) = secret else {
        return Check::new(
            what,
            expected,
            "INTROSPECTION_CLIENT_SECRET not set",
            false,
            fix,
        );
    };
    let probe = Introspector::new(
        &config.issuer,
        &config.audience,
        client_id,
        IntrospectionSettings {
            client_id: client_id.to_string(),
            client_secret: secret.to_string(),
            ttl: std::time::Duration::ZERO,
            max_entries: 0,
        },
    );
    let (actual, ok) = match probe.check_credentials().await {
        CredentialCheck::Accepted => ("accepted".to_string(), true),
        CredentialCheck::Refused(why) => (format!("refused: {why}"), false),
        CredentialCheck::Unreachable(why) => (format!("no answer: {why}"), false),
    };
    Check::new(what, expected, actual, ok, fix)
}
