//! Step 11: the host's client identity for an authorization server ([`McpHost`]): one it
//! already holds (pre-registered, kept from an earlier registration, or a Client ID Metadata
//! Document it publishes), else RFC 7591 dynamic registration; and the loopback listener whose
//! redirect URI goes with it.

use serde_json::json;
use url::Url;

use crate::client::authorization::{AuthorizationError, CallbackListener, METADATA_PATH};
use crate::client::discovery::Discovery;
use crate::client::host::{HostError, McpHost, PUBLISHED_METADATA_PORT};
use crate::client::http_client;
use crate::client::login::{registration_scope, with_offline_access};
use crate::client::registration::{
    AUTH_NONE, ClientCredentials, ClientSource, RegistrationError, RegistrationRequest,
    choose_auth_method, register,
};
use crate::client::trace::{Trace, redact};

impl McpHost {
    /// The client identity for this authorization server, and the listener whose redirect URI
    /// goes with it: a known one ([`Self::known_client`]), else RFC 7591 registration.
    pub(super) async fn client_identity(
        &mut self,
        trace: &mut Trace,
        discovery: &Discovery,
        scope: Option<&str>,
        dpop: bool,
    ) -> Result<(ClientCredentials, CallbackListener), HostError> {
        if let Some(client) = self.known_client(trace, discovery, dpop)? {
            let listener = self.listener_for(trace, &client, discovery).await?;
            return Ok((client, listener));
        }
        let auth = &discovery.auth_server;
        let supported = auth.token_endpoint_auth_methods_supported.as_deref();
        if self.opts.publish_client_metadata {
            trace.detail(
                "--publish-client-metadata: this authorization server does not accept Client ID Metadata Documents (no client_id_metadata_document_supported); registering instead",
            );
        }
        let endpoint = auth
            .registration_endpoint
            .clone()
            .ok_or_else(|| RegistrationError::NoRegistrationEndpoint(auth.issuer.clone()))?;
        let listener = self.any_listener(trace, None).await?;
        let request = RegistrationRequest {
            client_name: self.opts.client_name.clone(),
            redirect_uri: listener.redirect_uri(),
            scope: registration_scope(discovery, scope),
            auth_method: choose_auth_method(supported)?.to_string(),
            dpop_bound: dpop,
        };
        let client = register(&self.http, &endpoint, &auth.issuer, &request, supported).await?;
        let saved = self.store.save(&client)?;
        trace.step(format_args!(
            "POST {endpoint} (RFC 7591: redirect_uris [{}], token_endpoint_auth_method {}, scope {}{}) → client_id {}{}, token endpoint auth {}",
            request.redirect_uri,
            request.auth_method,
            request.scope.as_deref().map_or("(none)".into(), |s| format!("{s:?}")),
            match (dpop, client.dpop_bound) {
                (false, _) => "",
                (true, true) => ", dpop_bound_access_tokens true",
                (true, false) => ", dpop_bound_access_tokens true, which the AS answered false",
            },
            client.client_id,
            client
                .client_secret
                .as_deref()
                .map_or(String::new(), |s| format!(", client_secret {}", redact(s))),
            client.token_endpoint_auth_method
        ));
        trace.detail(format_args!("saved to {} (mode 0600)", saved.display()));
        self.client = Some(client.clone());
        Ok((client, listener))
    }

    /// An authorization or token failure with credentials from an earlier run may mean the AS
    /// forgot that client (a restarted dev Keycloak, a deleted client): say which file to delete.
    pub(super) fn maybe_stale(&self, error: AuthorizationError) -> HostError {
        let about_the_client = match &error {
            AuthorizationError::HeadlessErrorPage { .. } => true,
            AuthorizationError::Token { status, error, .. } => {
                *status == 401
                    || error.starts_with("invalid_client")
                    || error.starts_with("unauthorized_client")
            }
            _ => false,
        };
        match &self.stored_from {
            Some(path) if about_the_client => HostError::StaleClient {
                reason: error.to_string(),
                path: path.display().to_string(),
            },
            _ => error.into(),
        }
    }

    /// A client identity that needs no registration, in the order of MCP "Client Registration
    /// Approaches": `--client-id` (pre-registered); a Client ID Metadata Document
    /// (`--client-metadata-url`, or the one `--publish-client-metadata` serves) when the AS
    /// accepts them; credentials registered earlier with exactly this issuer. `None`: register.
    pub(super) fn known_client(
        &mut self,
        trace: &mut Trace,
        discovery: &Discovery,
        dpop: bool,
    ) -> Result<Option<ClientCredentials>, HostError> {
        if let Some(client) = &self.client
            && (client.source != ClientSource::Registered || client.dpop_bound == dpop)
        {
            return Ok(Some(client.clone()));
        }
        let auth = &discovery.auth_server;
        let supported = auth.token_endpoint_auth_methods_supported.as_deref();
        let client = if let Some(id) = &self.opts.client_id {
            let client = ClientCredentials::pre_registered(
                &auth.issuer,
                id,
                self.opts.client_secret.as_deref(),
                supported,
            );
            trace.step(format_args!(
                "client: pre-registered client_id {id} (token endpoint auth {}), no registration",
                client.token_endpoint_auth_method
            ));
            client
        } else if let Some(doc) = self.metadata_url()
            && auth.client_id_metadata_document_supported
        {
            trace.step(format_args!(
                "client: the AS accepts Client ID Metadata Documents → client_id {doc}, no registration"
            ));
            if self.opts.publish_client_metadata {
                trace.detail(
                    "the document is served by this client on its loopback listener (--publish-client-metadata)",
                );
            }
            ClientCredentials::metadata_document(&auth.issuer, &doc)
        } else if let Some(stored) = self.store.load(&auth.issuer)?
            && !self.skip_stored_client
        {
            if stored.dpop_bound != dpop {
                // A client registered for DPoP gets no token without a proof, and one registered
                // without would never be held to it: each run registers the client it is.
                trace.step(format_args!(
                    "client: client_id {} in {} was registered {} DPoP-bound tokens; this run {}: registering anew",
                    stored.client_id,
                    self.store.path_for(&auth.issuer).display(),
                    if stored.dpop_bound { "for" } else { "without" },
                    if dpop { "binds its tokens" } else { "uses bearer tokens" }
                ));
                self.client = None;
                self.skip_stored_client = true;
                return Ok(None);
            }
            self.stored_from = Some(self.store.path_for(&auth.issuer));
            trace.step(format_args!(
                "client: reusing client_id {} registered earlier with {} ({})",
                stored.client_id,
                auth.issuer,
                self.store.path_for(&auth.issuer).display()
            ));
            stored
        } else {
            return Ok(None);
        };
        self.client = Some(client.clone());
        Ok(Some(client))
    }

    /// The port `--publish-client-metadata` serves on: `--callback-port`, else
    /// [`PUBLISHED_METADATA_PORT`].
    pub(super) fn published_port(&self) -> u16 {
        match self.opts.callback_port {
            0 => PUBLISHED_METADATA_PORT,
            port => port,
        }
    }

    /// The Client ID Metadata Document URL to use as client id, if any.
    pub(super) fn metadata_url(&self) -> Option<String> {
        if self.opts.publish_client_metadata {
            return Some(format!(
                "http://127.0.0.1:{}{METADATA_PATH}",
                self.published_port()
            ));
        }
        self.opts.client_metadata_url.clone()
    }

    /// The listener for a known client. A published metadata document is served by the listener
    /// itself, on exactly [`Self::published_port`] (its URL is the client id): a busy port is an
    /// error, not a reason to take another.
    pub(super) async fn listener_for(
        &self,
        trace: &mut Trace,
        client: &ClientCredentials,
        discovery: &Discovery,
    ) -> Result<CallbackListener, HostError> {
        if !(client.source == ClientSource::MetadataDocument && self.opts.publish_client_metadata) {
            return self.any_listener(trace, Some(client)).await;
        }
        let port = self.published_port();
        let mut listener = CallbackListener::bind(port).await.map_err(|e| {
            HostError::Options(format!(
                "--publish-client-metadata: {e}; the document's URL is this client's id, so its port is fixed: free port {port} or choose another with --callback-port"
            ))
        })?;
        let mut document = RegistrationRequest {
            client_name: self.opts.client_name.clone(),
            redirect_uri: listener.redirect_uri(),
            scope: with_offline_access(discovery, registration_scope(discovery, None).as_deref()),
            auth_method: AUTH_NONE.to_string(),
            dpop_bound: false,
        }
        .body();
        document["client_id"] = json!(client.client_id);
        trace.detail(format_args!(
            "serving {} (client_id = its own URL, redirect_uris [{}], token_endpoint_auth_method none) while the login runs",
            listener.metadata_url(),
            listener.redirect_uri()
        ));
        listener.publish(document);
        Ok(listener)
    }

    /// `--callback-port` when given; else the port of the client's registered redirect URI when
    /// it is free (some ASes match redirect URIs exactly, ports included); else any free port
    /// (RFC 8252 §7.3 requires ASes to accept any port on a loopback redirect URI).
    pub(super) async fn any_listener(
        &self,
        trace: &mut Trace,
        client: Option<&ClientCredentials>,
    ) -> Result<CallbackListener, HostError> {
        if self.opts.callback_port != 0 {
            return Ok(CallbackListener::bind(self.opts.callback_port).await?);
        }
        let registered = client
            .and_then(|c| c.redirect_uris.first())
            .and_then(|r| Url::parse(r).ok())
            .filter(|u| u.scheme() == "http" && http_client::is_loopback(u))
            .and_then(|u| u.port());
        if let Some(port) = registered {
            match CallbackListener::bind(port).await {
                Ok(listener) => return Ok(listener),
                Err(_) => trace.detail(format_args!(
                    "registered callback port {port} is busy; using another loopback port (RFC 8252 §7.3)"
                )),
            }
        }
        Ok(CallbackListener::bind(0).await?)
    }
}
