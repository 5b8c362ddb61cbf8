//! Unauthenticated endpoints: health, metrics, OpenAPI, the CA certificate and the CRL.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::{blocking, ApiError, AppState};

/// The OpenAPI document.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// `GET /healthz`.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    state.metrics.set_storage(state.store.sync_stats());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// `GET /openapi.json`.
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

/// `GET /v1/ca`.
pub async fn ca(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        state.authority.chain_pem().to_string(),
    )
}

/// `GET /v1/crl`: a freshly signed CRL of every revoked certificate.
pub async fn crl(State(state): State<Arc<AppState>>) -> Result<impl IntoResponse, ApiError> {
    blocking(move || {
        let revoked = state.store.revoked_certificates()?;
        // Milliseconds: a later CRL always has a larger number.
        let number = state.now_ms();
        let der = state.authority.crl(&revoked, number)?;
        Ok(([(header::CONTENT_TYPE, "application/pkix-crl")], der))
    })
    .await
}
