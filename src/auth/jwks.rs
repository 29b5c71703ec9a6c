//! Step 5: `GET /.well-known/jwks.json` — the public half of the signing key, as a JWK Set
//! (RFC 7517 §5). Public, cacheable for a few minutes.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;

use crate::auth::keys::PublicKey;

/// The route path.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// How long clients may cache the set.
pub const CACHE_CONTROL: &str = "public, max-age=300";

/// Serves `keys` (built once; every request returns the same bytes).
pub fn router(keys: &[PublicKey]) -> Router {
    let body = json!({"keys": keys.iter().map(PublicKey::jwk).collect::<Vec<_>>()}).to_string();
    Router::new().route(
        JWKS_PATH,
        get(move || {
            let body = body.clone();
            async move {
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        ),
                        (
                            header::CACHE_CONTROL,
                            HeaderValue::from_static(CACHE_CONTROL),
                        ),
                    ],
                    body,
                )
                    .into_response()
            }
        }),
    )
}
