//! Step 11 for callers without a person: an agent in CI, a scheduled job, a backend service (the
//! grants are `client::agent_grant`). No browser, no registration, nothing kept on disk: the
//! client was registered out of band, and each run asks the authorization server for a token
//! with a grant that needs no user. Step-up follows the same rule as a browser client
//! (SEP-2350): the scope held so far plus the 403 challenge's, asked for with the same grant.

use reqwest::header::ACCEPT;
use url::Url;

use crate::client::agent_grant::{
    AgentGrant, GRANT_JWT_BEARER, GRANT_TOKEN_EXCHANGE, TOKEN_TYPE_ID_JAG, TOKEN_TYPE_ID_TOKEN,
    id_jag_from,
};
use crate::client::challenge::BearerChallenge;
use crate::client::discovery::Discovery;
use crate::client::host::{HostError, MAX_AUTHORIZATIONS, McpHost};
use crate::client::registration::{ClientCredentials, now, oauth_error_text};
use crate::client::token_endpoint::{self, AUTH_PRIVATE_KEY_JWT, OAuthAnswer};
use crate::client::tokens::StoredTokens;
use crate::client::trace::{Trace, redact};

/// A client that authenticates with its key (`private_key_jwt`).
pub fn with_key(mut client: ClientCredentials) -> ClientCredentials {
    client.token_endpoint_auth_method = AUTH_PRIVATE_KEY_JWT.to_string();
    client
}

impl McpHost {
    /// One token for an agent: discovery (once), the scope, the grant, no browser. Replaces the
    /// authorization code round of `client::login` when `--client-credentials`,
    /// `--workload-token-file` or `--enterprise-idp` is given.
    pub(super) async fn agent_authorize(
        &mut self,
        trace: &mut Trace,
        grant: &AgentGrant,
        challenge: Option<&BearerChallenge>,
        step_up: bool,
    ) -> Result<(), HostError> {
        let discovery = self.discovery(trace, challenge).await?;
        // The same scope selection as a browser login, without offline_access: no refresh here.
        let (scope, _) = self.scope_for(&discovery, challenge, step_up);
        let dpop = self.dpop_signer(trace, &discovery)?;
        let auth = &discovery.auth_server;
        let client_id = self.opts.client_id.clone().unwrap_or_default();
        let mut client = ClientCredentials::pre_registered(
            &auth.issuer,
            &client_id,
            self.opts.client_secret.as_deref(),
            auth.token_endpoint_auth_methods_supported.as_deref(),
        );
        if self.assertion_key.is_some() {
            client = with_key(client);
        }
        self.authorizations += 1;
        trace.step(format_args!(
            "{} {} {} of at most {MAX_AUTHORIZATIONS}, no browser: client_id {}, client auth {}, scope {}, resource {}",
            grant.name(),
            if step_up { "step-up" } else { "token request" },
            self.authorizations,
            if client_id.is_empty() { "(none)" } else { &client_id },
            client.token_endpoint_auth_method,
            scope.as_deref().map_or("(none)".into(), |s| format!("{s:?}")),
            discovery.resource
        ));
        let form = self
            .grant_form(trace, grant, &discovery, scope.as_deref())
            .await?;
        let key = self.assertion_key.clone();
        let token = token_endpoint::token_request(
            &self.http,
            &auth.token_endpoint,
            &client,
            key.as_deref(),
            form,
            dpop.as_deref(),
        )
        .await?;
        trace.step(format_args!(
            "POST {} ({}, resource{}, client auth {}{}) → 200: {}{}",
            auth.token_endpoint,
            grant.name(),
            if scope.is_some() { ", scope" } else { "" },
            client.token_endpoint_auth_method,
            key.as_ref().map_or(String::new(), |k| format!(
                " (an {} assertion signed now)",
                k.alg()
            )),
            token.summary(),
            if token.refresh_token.is_some() {
                ", a refresh token (not kept)"
            } else {
                ""
            }
        ));
        let mut tokens = StoredTokens::from_response(
            &auth.issuer,
            &client_id,
            &discovery.resource,
            scope.as_deref(),
            &token,
            now(),
            None,
        );
        tokens.dpop_jkt = dpop
            .as_ref()
            .filter(|_| token.is_dpop())
            .map(|d| d.thumbprint());
        trace.detail(
            "kept in memory only: an agent asks again on its next run (nothing on disk, no refresh)",
        );
        let bound = dpop.filter(|_| tokens.dpop_jkt.is_some());
        self.mcp.set_token(tokens.access_token.clone(), bound);
        self.tokens = Some(tokens);
        self.access_rejected = false;
        self.scope = scope;
        Ok(())
    }

    /// The token request's form for `grant`: `grant_type` and what it needs (for an enterprise
    /// login, the ID-JAG from the IdP first), `resource`, and `scope` when there is one.
    async fn grant_form(
        &self,
        trace: &mut Trace,
        grant: &AgentGrant,
        discovery: &Discovery,
        scope: Option<&str>,
    ) -> Result<Vec<(&'static str, String)>, HostError> {
        let auth = &discovery.auth_server;
        let mut form: Vec<(&'static str, String)> = Vec::new();
        match grant {
            AgentGrant::ClientCredentials => {
                form.push(("grant_type", "client_credentials".into()));
            }
            AgentGrant::Workload { assertion } => {
                form.push(("grant_type", GRANT_JWT_BEARER.into()));
                form.push(("assertion", assertion.clone()));
            }
            AgentGrant::Enterprise {
                idp_token_endpoint,
                idp_client_id,
                id_token,
            } => {
                let id_jag = self
                    .exchange_for_id_jag(
                        trace,
                        (idp_token_endpoint, idp_client_id, id_token),
                        &auth.issuer,
                        &discovery.resource,
                        scope,
                    )
                    .await?;
                form.push(("grant_type", GRANT_JWT_BEARER.into()));
                form.push(("assertion", id_jag));
            }
        }
        form.push(("resource", discovery.resource.clone()));
        if let Some(scope) = scope {
            form.push(("scope", scope.to_string()));
        }
        Ok(form)
    }

    /// SEP-990 step 1: the person's ID token for an ID-JAG at the enterprise IdP (RFC 8693).
    async fn exchange_for_id_jag(
        &self,
        trace: &mut Trace,
        (endpoint, idp_client_id, id_token): (&Url, &str, &str),
        audience: &str,
        resource: &str,
        scope: Option<&str>,
    ) -> Result<String, HostError> {
        let mut form = vec![
            ("grant_type", GRANT_TOKEN_EXCHANGE.to_string()),
            ("requested_token_type", TOKEN_TYPE_ID_JAG.to_string()),
            ("audience", audience.to_string()),
            ("resource", resource.to_string()),
            ("subject_token", id_token.to_string()),
            ("subject_token_type", TOKEN_TYPE_ID_TOKEN.to_string()),
            ("client_id", idp_client_id.to_string()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope.to_string()));
        }
        let request = self
            .http
            .post(endpoint.clone())
            .header(ACCEPT, "application/json")
            .form(&form);
        let answer = OAuthAnswer::of(endpoint, request).await?;
        if !answer.status.is_success() {
            return Err(answer.refused(oauth_error_text(&answer.body)).into());
        }
        let id_jag = id_jag_from(&answer.body).map_err(|e| answer.refused(e))?;
        trace.step(format_args!(
            "POST {endpoint} (RFC 8693 token exchange at the enterprise IdP: subject_token the ID token {}, requested_token_type id-jag, audience {audience}, resource) → 200: ID-JAG {}",
            redact(id_token),
            redact(&id_jag)
        ));
        Ok(id_jag)
    }
}
