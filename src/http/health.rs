//! Step 1: `GET /health` — public: never behind auth, and answered even when the Origin guard
//! would refuse the caller.
//!
//! Always `{"status":"healthy", ...}`; later steps add fields that say what is switched on
//! (`"auth_required": true`) or how a dependency is doing (step 10's key cache, the token
//! cache's counters). Those details go only to callers the guard accepts: a probe the guard would
//! have refused ([`Unvetted`]: a page on a foreign origin, as in DNS rebinding, or an unknown
//! Host) gets `{"status":"healthy"}` and nothing else.

use std::sync::Arc;

use axum::extract::Request;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use crate::http::origin_guard::Unvetted;

/// Extra fields computed per request (e.g. the JWKS cache's state).
pub type DynamicFields = Arc<dyn Fn() -> Map<String, Value> + Send + Sync>;

/// What `/health` reports.
#[derive(Clone, Default)]
pub struct Health {
    fields: Map<String, Value>,
    dynamic: Option<DynamicFields>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

impl Health {
    /// `{"status":"healthy","step":N}`.
    pub fn new(step: u8) -> Self {
        let mut fields = Map::new();
        fields.insert("status".into(), "healthy".into());
        fields.insert("step".into(), step.into());
        Self {
            fields,
            dynamic: None,
        }
    }

    /// Adds a fixed field.
    pub fn field(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.insert(key.into(), value.into());
        self
    }

    /// Adds fields computed at each request.
    pub fn dynamic(mut self, fields: DynamicFields) -> Self {
        self.dynamic = Some(fields);
        self
    }

    fn report(&self) -> Value {
        let mut out = self.fields.clone();
        if let Some(dynamic) = &self.dynamic {
            out.extend(dynamic());
        }
        Value::Object(out)
    }

    /// The `/health` route.
    pub fn router(self) -> Router {
        Router::new().route(
            "/health",
            get(move |request: Request| async move {
                if request.extensions().get::<Unvetted>().is_some() {
                    return Json(json!({"status": "healthy"}));
                }
                Json(self.report())
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_fixed_and_dynamic_fields() {
        let h = Health::new(6)
            .field("auth_required", true)
            .dynamic(Arc::new(|| {
                let mut m = Map::new();
                m.insert("keys".into(), "ok".into());
                m
            }));
        assert_eq!(
            h.report(),
            json!({"status": "healthy", "step": 6, "auth_required": true, "keys": "ok"})
        );
    }
}
