//! Step 11: one authorization round of the host ([`McpHost`]), read in one place: discovery
//! (once per authorization server), the client identity, the authorization code with PKCE in the
//! browser, the token, and keeping it; and the renewal of a kept token by its refresh token.
//! The session flow that calls these is in `client::host`; the client identity in
//! `client::client_identity`.

use std::sync::Arc;

use crate::client::authorization::{
    self, AuthorizationError, AuthorizationRequest, CallbackListener, CallbackParams, Opened, Pkce,
    check_callback, check_issuer, new_state, select_scope, union_scopes,
};
use crate::client::challenge::BearerChallenge;
use crate::client::discovery::{Discovery, discover};
use crate::client::dpop::{self, DpopSigner};
use crate::client::host::{
    HEADLESS_CALLBACK_TIMEOUT, HostError, MAX_AUTHORIZATIONS, McpHost, OFFLINE_ACCESS,
};
use crate::client::registration::{ClientCredentials, ClientSource, now};
use crate::client::token_endpoint::{self, TokenRequest, TokenResponse};
use crate::client::tokens::StoredTokens;
use crate::client::trace::{Trace, redact};

impl McpHost {
    /// One authorization round: discovery (once), client identity, authorization code + PKCE,
    /// token.
    pub(super) async fn authorize(
        &mut self,
        trace: &mut Trace,
        method: &str,
        challenge: Option<&BearerChallenge>,
        step_up: bool,
    ) -> Result<(), HostError> {
        if self.authorizations >= MAX_AUTHORIZATIONS {
            return Err(HostError::TooManyAuthorizations {
                method: method.into(),
            });
        }
        if let Some(grant) = self.opts.agent.clone() {
            return self
                .agent_authorize(trace, &grant, challenge, step_up)
                .await;
        }
        let discovery = self.discovery(trace, challenge).await?;
        let (scope, why) = self.login_scope(&discovery, challenge, step_up);

        let dpop = self.dpop_signer(trace, &discovery)?;
        let (client, listener) = self
            .client_identity(trace, &discovery, scope.as_deref(), dpop.is_some())
            .await?;
        self.authorizations += 1;
        let auth = &discovery.auth_server;
        let pkce = Pkce::generate();
        let state = new_state();
        let redirect_uri = listener.redirect_uri();
        let fetches = listener.fetch_counter();
        let url = AuthorizationRequest {
            endpoint: &auth.authorization_endpoint,
            client_id: &client.client_id,
            redirect_uri: &redirect_uri,
            scope: scope.as_deref(),
            resource: &discovery.resource,
            state: &state,
            code_challenge: &pkce.challenge,
        }
        .url();
        trace.step(format_args!(
            "authorization request {} of at most {MAX_AUTHORIZATIONS} → {}",
            self.authorizations, auth.authorization_endpoint
        ));
        trace.detail(format_args!(
            "scope {} ({why}), resource {}",
            scope
                .as_deref()
                .map_or("(none)".to_string(), |s| format!("{s:?}")),
            discovery.resource
        ));
        trace.detail(format_args!(
            "client_id {}, redirect_uri {redirect_uri}, code_challenge {} (S256 of verifier {}), state {}",
            client.client_id,
            pkce.challenge,
            redact(pkce.verifier()),
            redact(&state)
        ));

        let params = self
            .wait_for_redirect(trace, &url, listener, &redirect_uri)
            .await?;
        let checked = check_callback(&params, &state).and_then(|code| {
            check_issuer(
                &params,
                &auth.issuer,
                auth.authorization_response_iss_parameter_supported,
            )
            .map(|()| code)
        });
        trace_callback(trace, &params, &checked);
        self.note_document_fetches(trace, &client, &fetches);
        let code = checked?;

        let request = TokenRequest {
            endpoint: &auth.token_endpoint,
            client: &client,
            code: &code,
            pkce: &pkce,
            redirect_uri: &redirect_uri,
            resource: &discovery.resource,
            dpop: dpop.as_deref(),
        };
        self.redeem(trace, &discovery, &request, scope).await
    }

    /// The code for tokens (RFC 6749 §4.1.3), said on the trace, kept; the scope asked for is held
    /// for a later step-up.
    async fn redeem(
        &mut self,
        trace: &mut Trace,
        discovery: &Discovery,
        request: &TokenRequest<'_>,
        scope: Option<String>,
    ) -> Result<(), HostError> {
        let auth = &discovery.auth_server;
        let token = token_endpoint::exchange_code(&self.http, request)
            .await
            .map_err(|e| self.maybe_stale(e))?;
        trace.step(format_args!(
            "POST {} (authorization_code, code {}, code_verifier {}, resource, client auth {}{}) → 200: {}",
            auth.token_endpoint,
            redact(request.code),
            redact(request.pkce.verifier()),
            request.client.token_endpoint_auth_method,
            proof_note(request.dpop, &token),
            token.summary()
        ));
        let mut tokens = StoredTokens::from_response(
            &auth.issuer,
            &request.client.client_id,
            &discovery.resource,
            scope.as_deref(),
            &token,
            now(),
            None,
        );
        tokens.dpop_jkt = bound_to(request.dpop, &token);
        self.keep_tokens(trace, tokens)?;
        self.scope = scope;
        Ok(())
    }

    /// The authorization response: `--headless` follows the URL itself and delivers the redirect
    /// to its own listener; otherwise the browser is opened and the listener waits for it.
    async fn wait_for_redirect(
        &self,
        trace: &mut Trace,
        url: &url::Url,
        listener: CallbackListener,
        redirect_uri: &str,
    ) -> Result<CallbackParams, HostError> {
        if self.opts.headless {
            let waiter = tokio::spawn(listener.wait(HEADLESS_CALLBACK_TIMEOUT));
            if let Err(e) =
                authorization::headless_authorize(&self.http, url, redirect_uri, trace).await
            {
                waiter.abort();
                return Err(self.maybe_stale(e));
            }
            return Ok(waiter
                .await
                .map_err(|e| AuthorizationError::Headless(format!("callback listener: {e}")))??);
        }
        let opened = authorization::open_browser(url);
        trace.detail(format_args!(
            "{} — waiting up to {} s for the redirect to {redirect_uri}:",
            match opened {
                Opened::Browser => "opened the browser (the BROWSER command)",
                Opened::Desktop =>
                    "asked the desktop to open the browser; if none shows up, open this URL yourself",
                Opened::No => "no browser could be started: open this URL yourself",
            },
            self.opts.callback_timeout.as_secs()
        ));
        // The full URL (its state included) only when the person may have to copy it.
        match opened {
            Opened::Browser => trace.detail(authorization::shown_authorization_url(url)),
            Opened::Desktop | Opened::No => trace.detail(url),
        }
        Ok(listener.wait(self.opts.callback_timeout).await?)
    }

    /// [`Self::scope_for`], plus `offline_access` when the authorization server lists it (the
    /// browser login wants a refresh token; SEP-2207).
    fn login_scope(
        &self,
        discovery: &Discovery,
        challenge: Option<&BearerChallenge>,
        step_up: bool,
    ) -> (Option<String>, String) {
        let (scope, why) = self.scope_for(discovery, challenge, step_up);
        let asked = with_offline_access(discovery, scope.as_deref());
        if has_scope(asked.as_deref(), OFFLINE_ACCESS)
            && !has_scope(scope.as_deref(), OFFLINE_ACCESS)
        {
            let why = format!("{why}, plus {OFFLINE_ACCESS}: the authorization server lists it");
            return (asked, why);
        }
        (asked, why.to_string())
    }

    /// With `--publish-client-metadata`: how often the authorization server fetched the document
    /// during this round.
    fn note_document_fetches(
        &self,
        trace: &mut Trace,
        client: &ClientCredentials,
        fetches: &std::sync::atomic::AtomicUsize,
    ) {
        if client.source == ClientSource::MetadataDocument && self.opts.publish_client_metadata {
            let fetched = fetches.load(std::sync::atomic::Ordering::SeqCst);
            trace.detail(format_args!(
                "the authorization server fetched the metadata document {fetched} time(s) during this round{}",
                if fetched == 0 {
                    " (it keeps a copy from an earlier round)"
                } else {
                    ""
                }
            ));
        }
    }

    /// The scope to ask for, and why (for the trace), by MCP's scope selection: on a step-up the
    /// scope held so far plus the 403 challenge's (SEP-2350); else `--scope`, the challenge's
    /// scope, or the PRM's `scopes_supported`. A browser login and an agent use the same rule.
    pub(super) fn scope_for(
        &self,
        discovery: &Discovery,
        challenge: Option<&BearerChallenge>,
        step_up: bool,
    ) -> (Option<String>, &'static str) {
        let challenge_scope = challenge.and_then(BearerChallenge::scope);
        if step_up {
            return (
                union_scopes(self.scope.as_deref(), challenge_scope),
                "step-up: the scope held so far plus the 403 challenge's scope",
            );
        }
        let scope = select_scope(
            self.opts.scope.as_deref(),
            challenge_scope,
            &discovery.scopes_supported,
        );
        let why = if self
            .opts
            .scope
            .as_deref()
            .is_some_and(|s| !s.trim().is_empty())
        {
            "from --scope"
        } else if challenge_scope.is_some() {
            "from the challenge's scope"
        } else if scope.is_some() {
            "from the PRM's scopes_supported"
        } else {
            "left out: neither the challenge nor the PRM names scopes"
        };
        (scope, why)
    }

    /// Discovery: once per run, and again after the server refused a token it was sent. When the
    /// metadata then names another authorization server (SEP-2352, MCP 2026-07-28 "Authorization
    /// Server Binding"), nothing from the old one is used with the new one: not its client
    /// identity, not its tokens. Registered credentials are keyed by issuer, so the new one gets
    /// its own registration; a pre-registered `--client-id` belongs to the old one and stops the
    /// run.
    pub(super) async fn discovery(
        &mut self,
        trace: &mut Trace,
        challenge: Option<&BearerChallenge>,
    ) -> Result<Discovery, HostError> {
        if let Some(d) = &self.discovery
            && !self.rediscover
        {
            return Ok(d.clone());
        }
        if self.rediscover {
            trace.detail("the server refused the token it was sent: reading its metadata again");
        }
        self.rediscover = false;
        let d = discover(&self.http, &self.opts.server, challenge, trace).await?;
        if let Some(before) = self.discovery.replace(d.clone())
            && before.auth_server.issuer != d.auth_server.issuer
        {
            let (from, to) = (before.auth_server.issuer, d.auth_server.issuer.clone());
            if self.opts.client_id.is_some() {
                return Err(HostError::PreRegisteredElsewhere { from, to });
            }
            trace.detail(format_args!(
                "the authorization server changed from {from} to {to} (SEP-2352): its client identity and tokens are not used with {to}"
            ));
            self.client = None;
            self.stored_from = None;
            self.skip_stored_client = false;
            self.tokens = None;
            self.scope = None;
        }
        Ok(d)
    }

    /// The DPoP decision for this authorization server (`client::dpop::decide`), made once per
    /// issuer and said on the trace: `Some` key when this run binds its tokens.
    // ANCHOR: dpop_decision
    pub(super) fn dpop_signer(
        &mut self,
        trace: &mut Trace,
        discovery: &Discovery,
    ) -> Result<Option<Arc<DpopSigner>>, HostError> {
        let issuer = &discovery.auth_server.issuer;
        if let Some((decided_for, signer)) = &self.dpop
            && decided_for == issuer
        {
            return Ok(signer.clone());
        }
        let (bind, why) = dpop::decide(self.opts.dpop, discovery, self.rs_offers_dpop)
            .map_err(HostError::Options)?;
        let signer = if bind {
            let (key, path, created) = dpop::load_or_create(&self.opts.state_dir, issuer)?;
            trace.step(format_args!(
                "DPoP (RFC 9449): {why} → tokens bound to key jkt {} (ES256, {} {}, mode 0600)",
                key.thumbprint(),
                if created {
                    "new, kept in"
                } else {
                    "kept from an earlier run in"
                },
                path.display()
            ));
            Some(Arc::new(DpopSigner::new(key)))
        } else {
            trace.detail(format_args!("DPoP: not used — {why}"));
            None
        };
        self.dpop = Some((issuer.clone(), signer.clone()));
        Ok(signer)
    }
    // ANCHOR_END: dpop_decision

    /// The key a token set is presented with: this run's, when the set is bound to it.
    fn signer_for(&self, tokens: &StoredTokens) -> Option<Arc<DpopSigner>> {
        let (_, signer) = self.dpop.as_ref()?;
        signer
            .clone()
            .filter(|s| tokens.dpop_jkt.as_deref() == Some(s.thumbprint().as_str()))
    }

    /// Saves a new token set (0600, keyed by issuer) and sends its access token from now on. The
    /// scope held (for a step-up) is the caller's: after a login, what it asked for.
    pub(super) fn keep_tokens(
        &mut self,
        trace: &mut Trace,
        tokens: StoredTokens,
    ) -> Result<(), HostError> {
        let path = self.token_store.save(&tokens)?;
        trace.detail(format_args!(
            "tokens kept in {} (mode 0600): access token{}",
            path.display(),
            tokens.refresh_token.as_deref().map_or(
                ", no refresh token issued".to_string(),
                |r| format!(" and refresh token {}", redact(r))
            )
        ));
        self.mcp
            .set_token(tokens.access_token.clone(), self.signer_for(&tokens));
        self.tokens = Some(tokens);
        self.access_rejected = false;
        Ok(())
    }

    /// A token without a login, after a 401: the access token kept from an earlier run while it
    /// is valid and not refused, else the refresh token (RFC 6749 §6). `false` when neither
    /// works: a login follows. A refresh token the AS refuses is deleted.
    pub(super) async fn renew(
        &mut self,
        trace: &mut Trace,
        challenge: Option<&BearerChallenge>,
    ) -> Result<bool, HostError> {
        if self.opts.agent.is_some() {
            // An agent keeps nothing between runs and has no refresh token: it asks again.
            return Ok(false);
        }
        let discovery = self.discovery(trace, challenge).await?;
        let loaded = self.tokens.is_none();
        if loaded && !self.load_kept(trace, &discovery.auth_server.issuer)? {
            return Ok(false);
        }
        let dpop = self.dpop_signer(trace, &discovery)?;
        let Some(client) = self.known_client(trace, &discovery, dpop.is_some())? else {
            return Ok(false);
        };
        let Some(tokens) = self.tokens.clone() else {
            return Ok(false);
        };
        if !self.kept_tokens_fit(trace, &discovery, &client, &tokens, dpop.as_deref()) {
            self.tokens = None;
            return Ok(false);
        }
        let now = now();
        let access = match tokens.seconds_left(now) {
            _ if self.access_rejected => "refused by the server".to_string(),
            None => "lifetime not stated".to_string(),
            Some(left) if left > 0 => format!("valid for another {left} s"),
            Some(left) => format!("expired {} s ago", -left),
        };
        if loaded {
            trace.step(format_args!(
                "tokens kept from an earlier run ({}): access token {access}, scope {}, {}",
                self.token_store
                    .path_for(&discovery.auth_server.issuer)
                    .display(),
                tokens
                    .scope
                    .as_deref()
                    .map_or("(not stated)".into(), |s| format!("{s:?}")),
                tokens.refresh_token.as_deref().map_or(
                    "no refresh token".to_string(),
                    |r| format!("refresh token {}", redact(r))
                )
            ));
        }
        if !self.access_rejected && tokens.access_usable(now) {
            trace.detail("the access token is still valid: sending it, no login");
            self.mcp
                .set_token(tokens.access_token.clone(), self.signer_for(&tokens));
            self.scope = tokens.scope.clone();
            return Ok(true);
        }
        self.refresh_kept(trace, &discovery, &client, &tokens, &access)
            .await
    }

    /// Reads the tokens kept for `issuer`. `false` when there are none, or when the file fails the
    /// checks a fresh token response gets (then it is deleted, and never sent).
    fn load_kept(&mut self, trace: &mut Trace, issuer: &str) -> Result<bool, HostError> {
        let Some(stored) = self.token_store.load(issuer)? else {
            return Ok(false);
        };
        if let Err(why) = stored.check(now()) {
            self.token_store.remove(issuer)?;
            trace.step(format_args!(
                "tokens kept in {} discarded: {why}; deleted, a new login follows",
                self.token_store.path_for(issuer).display()
            ));
            return Ok(false);
        }
        self.tokens = Some(stored);
        self.access_rejected = false;
        Ok(true)
    }

    /// Kept tokens are used only with the client, issuer and resource they were issued for, and
    /// with the key they are bound to (or none); the trace says why not.
    fn kept_tokens_fit(
        &self,
        trace: &mut Trace,
        discovery: &Discovery,
        client: &ClientCredentials,
        tokens: &StoredTokens,
        dpop: Option<&DpopSigner>,
    ) -> bool {
        let path = self.token_store.path_for(&discovery.auth_server.issuer);
        if !tokens.fits(
            &discovery.auth_server.issuer,
            &client.client_id,
            &discovery.resource,
        ) {
            trace.step(format_args!(
                "tokens in {} are for client_id {} and resource {}, not for this client and {}: not used",
                path.display(),
                tokens.client_id,
                tokens.resource,
                discovery.resource
            ));
            return false;
        }
        let this_key = dpop.map(DpopSigner::thumbprint);
        if tokens.dpop_jkt != this_key {
            trace.step(format_args!(
                "tokens in {} are {}, and this run {}: not used",
                path.display(),
                tokens
                    .dpop_jkt
                    .as_deref()
                    .map_or("bearer tokens".into(), |k| format!("bound to DPoP key {k}")),
                this_key
                    .as_deref()
                    .map_or("uses bearer tokens".into(), |k| format!(
                        "uses DPoP key {k}"
                    ))
            ));
            return false;
        }
        true
    }

    /// RFC 6749 §6 with the kept refresh token (and a proof when the tokens are DPoP-bound).
    /// `false` when there is none, or when the authorization server refuses it (then it is
    /// deleted): a login follows.
    async fn refresh_kept(
        &mut self,
        trace: &mut Trace,
        discovery: &Discovery,
        client: &ClientCredentials,
        tokens: &StoredTokens,
        access: &str,
    ) -> Result<bool, HostError> {
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            trace.detail("no refresh token: a new login follows");
            return Ok(false);
        };
        let auth = &discovery.auth_server;
        let dpop = self.dpop_signer(trace, discovery)?;
        let result = token_endpoint::refresh(
            &self.http,
            &auth.token_endpoint,
            client,
            &refresh_token,
            &discovery.resource,
            dpop.as_deref(),
        )
        .await;
        let shown = format!(
            "POST {} (refresh_token grant, the access token {access}; refresh_token {}, resource, client auth {}{})",
            auth.token_endpoint,
            redact(&refresh_token),
            client.token_endpoint_auth_method,
            if dpop.is_some() { ", DPoP proof" } else { "" }
        );
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                trace.step(format_args!("{shown} → {e}"));
                self.token_store.remove(&auth.issuer)?;
                self.tokens = None;
                trace.detail(format_args!(
                    "the refresh token is no longer good: deleted {}; a new login follows",
                    self.token_store.path_for(&auth.issuer).display()
                ));
                return Ok(false);
            }
        };
        trace.step(format_args!("{shown} → 200: {}", response.summary()));
        if response.nonce_retried {
            trace.detail("the authorization server asked for a nonce (400 use_dpop_nonce, DPoP-Nonce): sent again once with it");
        }
        let mut renewed = StoredTokens::from_response(
            &auth.issuer,
            &client.client_id,
            &discovery.resource,
            tokens.scope.as_deref(),
            &response,
            now(),
            Some(tokens),
        );
        renewed.dpop_jkt = bound_to(dpop.as_deref(), &response);
        self.scope = renewed.scope.clone();
        self.keep_tokens(trace, renewed)?;
        self.refreshes += 1;
        Ok(true)
    }
}

/// The callback's trace line: the code (redacted), whether `state` matched, and `iss` (RFC 9207).
fn trace_callback(
    trace: &mut Trace,
    params: &CallbackParams,
    checked: &Result<String, AuthorizationError>,
) {
    trace.step(format_args!(
        "callback {CALLBACK}: code {}, state {}{}",
        params.code.as_deref().map_or("(none)".into(), redact),
        match (checked, &params.error) {
            (Err(AuthorizationError::StateMismatch), _) =>
                "✗ (not the state this client sent)".to_string(),
            (_, Some(error)) => format!("✓, error {error}"),
            _ => "✓ (matches)".to_string(),
        },
        match (checked, &params.iss) {
            (Err(AuthorizationError::IssuerMismatch { .. }), Some(iss)) => format!(", iss {iss} ✗"),
            (Err(AuthorizationError::IssuerMissing), _) => ", iss missing ✗".to_string(),
            (_, Some(iss)) => format!(", iss {iss} ✓"),
            _ => String::new(),
        },
        CALLBACK = authorization::CALLBACK_PATH
    ));
}

/// `scope` plus `offline_access` when the authorization server lists it in `scopes_supported`
/// (MCP SEP-2207: how an OpenID-style server is asked for a refresh token); never otherwise.
pub(super) fn with_offline_access(discovery: &Discovery, scope: Option<&str>) -> Option<String> {
    if discovery
        .auth_server
        .scopes_supported
        .iter()
        .any(|s| s == OFFLINE_ACCESS)
    {
        union_scopes(scope, Some(OFFLINE_ACCESS))
    } else {
        scope.map(str::to_string)
    }
}

/// True when the space-separated `scope` holds `wanted`.
fn has_scope(scope: Option<&str>, wanted: &str) -> bool {
    scope.is_some_and(|s| s.split_whitespace().any(|s| s == wanted))
}

/// What a client registers for (RFC 7591 `scope`, or its metadata document's): `scope` plus the
/// PRM's `scopes_supported`, so that a later step-up asks for scopes the client is registered for.
pub(super) fn registration_scope(discovery: &Discovery, scope: Option<&str>) -> Option<String> {
    union_scopes(scope, Some(&discovery.scopes_supported.join(" ")))
}

/// `, DPoP proof (jkt …)` in a token request's trace line, with the nonce retry when there was
/// one.
fn proof_note(dpop: Option<&DpopSigner>, token: &TokenResponse) -> String {
    match dpop {
        None => String::new(),
        Some(signer) => format!(
            ", DPoP proof (jkt {}){}",
            signer.thumbprint(),
            if token.nonce_retried {
                ", sent again once with the DPoP-Nonce of a 400 use_dpop_nonce"
            } else {
                ""
            }
        ),
    }
}

/// The thumbprint a token response is bound to: the key's, when a proof was sent and the
/// authorization server says `token_type` `DPoP`.
fn bound_to(dpop: Option<&DpopSigner>, token: &TokenResponse) -> Option<String> {
    dpop.filter(|_| token.is_dpop()).map(DpopSigner::thumbprint)
}
