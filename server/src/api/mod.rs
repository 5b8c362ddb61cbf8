//! The HTTP API: one router over the application state; handlers are thin and call the
//! authority, the enrollment logic and the store traits.

mod admin;
mod device;
mod enroll;
mod est;
mod public;
mod review;
mod staff;

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::de::DeserializeOwned;
use vouch_protocol::wire::{ErrorBody, ErrorCode};

use crate::authority::operator::OperatorCredential;
use crate::authority::Authority;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::Role;
use crate::error::{Failure, ServerError};
use crate::metrics::{FrontDoor, Metrics};
use crate::store::{Latency, Store};
use crate::tls::ConnInfo;

pub use enroll::Refusal;
pub use est::{csr_from_body, EST_PATHS};

/// Everything handlers share.
pub struct AppState {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The CA.
    pub authority: Authority,
    /// Configuration.
    pub config: Config,
    /// Prometheus metrics.
    pub metrics: Metrics,
    /// Which operator certificate is current.
    pub operator: OperatorCredential,
    /// The clock every handler reads the time from.
    pub clock: Arc<dyn Clock>,
    by_address: DefaultKeyedRateLimiter<String>,
    by_serial: DefaultKeyedRateLimiter<String>,
}

impl AppState {
    /// Builds the state.
    pub fn new(
        store: Arc<dyn Store>,
        authority: Authority,
        config: Config,
        operator: OperatorCredential,
    ) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            by_address: RateLimiter::keyed(per_minute(
                config.enrollment.rate_per_address_per_minute,
            )),
            by_serial: RateLimiter::keyed(per_minute(config.enrollment.rate_per_serial_per_minute)),
            store,
            authority,
            config,
            metrics: Metrics::new(),
            operator,
            clock: Arc::new(SystemClock),
        }
    }

    /// The same state on `clock`.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Milliseconds since the Unix epoch, by the state's clock.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// Forgets rate-limit state of keys that have been quiet (called periodically).
    pub fn forget_quiet_clients(&self) {
        self.by_address.retain_recent();
        self.by_serial.retain_recent();
    }

    fn rate_limit(&self, address: &str, key: RateKey<'_>) -> Result<(), ApiError> {
        self.rate_limit_at(FrontDoor::Native, address, key)
    }

    /// The rate limits, counting a refusal as `door`'s.
    fn rate_limit_at(
        &self,
        door: FrontDoor,
        address: &str,
        key: RateKey<'_>,
    ) -> Result<(), ApiError> {
        let bucket = key.bucket();
        for (limiter, bucket, what) in [
            (&self.by_address, address, "address"),
            (&self.by_serial, bucket.as_str(), key.kind()),
        ] {
            if let Err(not_until) = limiter.check_key(&bucket.to_string()) {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(limiter.clock()));
                // The serial is logged; an invite code is a secret (PROTOCOL.md 7), so neither
                // it nor its hash is.
                let serial = key.loggable();
                tracing::warn!(
                    address,
                    serial = serial.as_deref(),
                    limit = what,
                    "rate limit hit"
                );
                self.metrics.refusal(door, ErrorCode::RateLimited.as_str());
                return Err(ApiError::rate_limited(wait.as_secs().max(1)));
            }
        }
        Ok(())
    }
}

/// What the second rate limiter is keyed by, besides the client's address.
#[derive(Clone, Copy)]
enum RateKey<'a> {
    /// A device serial, as sent (enrollment).
    Serial(&'a str),
    /// A device key, compressed SEC1 hex, as a CSR carries it (EST enrollment, which names no
    /// serial: the key stands for the device).
    DeviceKey(&'a str),
    /// An invite code, as sent (registration): a secret, so it is bucketed by a hash.
    Invite(&'a str),
}

impl RateKey<'_> {
    /// The limiter's key. Keys are bounded: a serial is at most 32 characters, so longer input
    /// is cut to 64; an invite is keyed by 128 bits of the SHA-256 of its trimmed code (the
    /// code itself is never kept), with a prefix no serial has.
    fn bucket(self) -> String {
        match self {
            RateKey::Serial(serial) => serial.chars().take(64).collect(),
            RateKey::DeviceKey(key) => format!("key:{}", key.chars().take(66).collect::<String>()),
            RateKey::Invite(code) => {
                let digest = vouch_protocol::key::sha256(code.trim().as_bytes());
                format!("invite:{}", vouch_protocol::key::hex(&digest[..16]))
            }
        }
    }

    /// The limit's name in the log.
    fn kind(self) -> &'static str {
        match self {
            RateKey::Serial(_) => "serial",
            RateKey::DeviceKey(_) => "device_key",
            RateKey::Invite(_) => "invite",
        }
    }

    /// What the log may say about the key: a serial (cut to 64 characters), never an invite.
    fn loggable(self) -> Option<String> {
        match self {
            RateKey::Serial(serial) => Some(serial.chars().take(64).collect()),
            RateKey::DeviceKey(key) => {
                Some(format!("key {}", key.chars().take(66).collect::<String>()))
            }
            RateKey::Invite(_) => None,
        }
    }
}

/// Builds the router.
pub fn router(state: Arc<AppState>) -> Router {
    let body_limit = state.config.limits.max_body_bytes;
    let records = Router::new()
        .route("/v1/records", post(staff::upload_records))
        .layer(DefaultBodyLimit::max(body_limit.saturating_mul(8)));
    let manifests = Router::new()
        .route("/v1/manifests", post(review::import))
        .layer(DefaultBodyLimit::max(
            state.config.limits.max_manifest_bytes,
        ));
    Router::new()
        .route("/healthz", get(public::healthz))
        .route("/metrics", get(public::metrics))
        .route("/openapi.json", get(public::openapi))
        .route("/v1/ca", get(public::ca))
        .route("/v1/crl", get(public::crl))
        .route("/v1/staff/register", post(staff::register))
        .route("/v1/me", get(staff::me))
        .route("/v1/staff/renew", post(staff::renew))
        .route("/v1/enroll/challenge", post(enroll::challenge))
        .route("/v1/enroll/complete", post(enroll::complete))
        .route("/v1/device/hello", get(device::hello))
        .route("/v1/device/renew", post(device::renew))
        .route(est::CACERTS, get(est::cacerts))
        .route(est::SIMPLEENROLL, post(est::simpleenroll))
        .route(est::SIMPLEREENROLL, post(est::simplereenroll))
        .route(est::CSRATTRS, get(est::csrattrs))
        .route("/v1/devices", get(review::list))
        .route("/v1/devices/{serial}", get(review::show))
        .route("/v1/devices/{serial}/{decision}", post(review::decide))
        .route("/v1/admin/invites", post(admin::invite))
        .route("/v1/admin/staff", get(admin::staff_list))
        .route("/v1/admin/staff/{key_id}/revoke", post(admin::staff_revoke))
        .route(
            "/v1/admin/staff/{key_id}/accept-gap",
            post(admin::staff_accept_gap),
        )
        .route("/v1/admin/operator/rotate", post(admin::operator_rotate))
        .route("/v1/admin/audit", get(admin::audit_export))
        .route("/v1/admin/audit/verify", get(admin::audit_verify))
        .route("/v1/admin/backup", get(admin::backup))
        .layer(DefaultBodyLimit::max(body_limit))
        .merge(records)
        .merge(manifests)
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such endpoint") })
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn observe(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let started = Instant::now();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    state
        .metrics
        .observe(&path, &EST_PATHS, response.status().as_u16(), elapsed);
    tracing::info!(%method, %path, status = response.status().as_u16(), ms = elapsed.as_secs_f64() * 1000.0, "request");
    response
}

/// An error answer: a stable code (which carries its status, [`ErrorCode::status`]) and a
/// message, sent as [`ErrorBody`].
#[derive(Debug)]
pub struct ApiError {
    body: ErrorBody,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            body: ErrorBody::new(code, message),
            retry_after: None,
        }
    }

    /// The uniform enrollment refusal.
    pub fn refused() -> Self {
        Self::new(ErrorCode::Refused, "enrollment refused")
    }

    fn rate_limited(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorCode::RateLimited, "too many requests: retry later")
        }
    }

    fn too_slow(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RequestTimeout, message)
    }

    fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    fn internal(e: &ServerError) -> Self {
        tracing::error!(error = %e, "internal error");
        Self::new(
            ErrorCode::Internal,
            "internal server error (see the server log)",
        )
    }

    /// The answer's status: the code's ([`ErrorCode::status`]); a code without one (only
    /// record refusals, which never reach here) would be our bug, so `500`.
    fn status(&self) -> StatusCode {
        self.body
            .code
            .status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

impl From<ServerError> for ApiError {
    fn from(e: ServerError) -> Self {
        match e.code() {
            ErrorCode::Internal => Self::internal(&e),
            ErrorCode::CaUnavailable => {
                tracing::error!(error = %e, "the CA cannot sign");
                Self::new(ErrorCode::CaUnavailable, e.to_string())
            }
            code => Self::new(code, e.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status(), Json(self.body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(value) = secs.to_string().parse() {
                response.headers_mut().insert("retry-after", value);
            }
        }
        response
    }
}

/// A JSON body whose rejections become [`ApiError`]s with stable codes.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

fn json_rejection(rejection: &JsonRejection) -> ApiError {
    if let Some(slow) = too_slow_cause(rejection) {
        return ApiError::too_slow(slow);
    }
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(ErrorCode::BodyTooLarge, "the request body is too large");
    }
    let code = match rejection {
        JsonRejection::MissingJsonContentType(_) => ErrorCode::BadContentType,
        _ => ErrorCode::BadJson,
    };
    ApiError::new(code, rejection.body_text())
}

/// The message of a [`ServerError::Refusal`] with `request_timeout` behind a body error (the request body's deadline,
/// `conn::TimedBody`), found through the error's sources.
fn too_slow_cause(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(ServerError::Refusal {
            code: ErrorCode::RequestTimeout,
            message,
        }) = e.downcast_ref::<ServerError>()
        {
            return Some(message.clone());
        }
        next = e.source();
    }
    None
}

/// A query string whose rejections become [`ApiError`]s: `400 bad_query` in the JSON error
/// shape (a parameter given twice, a value that does not decode), never axum's plain text.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError::new(ErrorCode::BadQuery, rejection.body_text())),
        }
    }
}

/// Path parameters whose rejections become [`ApiError`]s: `400 bad_path` in the JSON error
/// shape (e.g. percent-encoding that is not UTF-8).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(Self(v)),
            // A route whose pattern and extractor disagree: our bug, not the caller's.
            Err(rejection) if rejection.status().is_server_error() => Err(ApiError::internal(
                &ServerError::refuse(ErrorCode::BadRequest, rejection.body_text()),
            )),
            Err(rejection) => Err(ApiError::new(ErrorCode::BadPath, rejection.body_text())),
        }
    }
}

/// Who a client certificate says the caller is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// An enrolled device.
    Device {
        /// Its serial.
        serial: String,
        /// The certificate's serial number (hex).
        certificate: String,
    },
    /// A registered app install.
    Staff {
        /// Its role.
        role: Role,
        /// Its key id (hex).
        key_id: String,
        /// Its name.
        name: String,
    },
    /// The operator credential.
    Operator,
}

impl Identity {
    /// How the audit log names this caller.
    pub fn actor(&self) -> String {
        match self {
            Identity::Device { serial, .. } => format!("device:{serial}"),
            Identity::Staff { key_id, .. } => format!("staff:{key_id}"),
            Identity::Operator => "operator".into(),
        }
    }
}

/// The identity URI and serial number of a client certificate.
pub(crate) fn certificate_identity(der: &[u8]) -> Option<(String, String)> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let serial = vouch_protocol::key::hex(cert.raw_serial());
    let san = cert.subject_alternative_name().ok()??;
    let uri = san.value.general_names.iter().find_map(|n| match n {
        x509_parser::extensions::GeneralName::URI(u) => Some(u.to_string()),
        _ => None,
    })?;
    Some((uri, serial))
}

/// Identifies the caller by its verified client certificate, refusing revoked or superseded ones.
pub fn identify(state: &AppState, conn: &ConnInfo) -> Result<Identity, ApiError> {
    let Some(der) = &conn.client_cert else {
        return Err(ApiError::new(
            ErrorCode::ClientCertificateRequired,
            "this endpoint needs a client certificate",
        ));
    };
    let unknown = || ApiError::forbidden("this client certificate is not valid here");
    let (uri, serial) = certificate_identity(der).ok_or_else(unknown)?;
    if uri == crate::authority::OPERATOR_URI {
        // The current one by this instance's files, and not revoked in the store: a rotation
        // made at another instance sharing the store revokes the old credential here at once.
        let revoked = || -> Result<bool, ApiError> {
            Ok(state
                .store
                .certificate(&serial)?
                .is_some_and(|c| c.revoked_at_ms.is_some()))
        };
        if state.operator.is_current(&serial) && !revoked()? {
            return Ok(Identity::Operator);
        }
        tracing::warn!(peer = %conn.peer, %serial, "operator certificate superseded by a rotation");
        return Err(ApiError::forbidden("this client certificate is revoked"));
    }
    let cert = state.store.certificate(&serial)?;
    if cert
        .as_ref()
        .is_none_or(|c| c.revoked_at_ms.is_some() || c.subject != uri)
    {
        tracing::warn!(peer = %conn.peer, %uri, %serial, "client certificate revoked or unknown");
        return Err(ApiError::forbidden("this client certificate is revoked"));
    }
    if let Some(rest) = uri.strip_prefix(crate::authority::DEVICE_URI_PREFIX) {
        let device = state.store.device(rest)?.ok_or_else(unknown)?;
        let current = device
            .certificate
            .as_ref()
            .is_some_and(|c| c.serial == serial);
        if device.state != crate::domain::DeviceState::Enrolled || !current {
            tracing::warn!(peer = %conn.peer, serial = rest, state = device.state.as_str(), "device certificate no longer current");
            return Err(ApiError::forbidden(
                "this device certificate is revoked or superseded",
            ));
        }
        return Ok(Identity::Device {
            serial: rest.to_string(),
            certificate: serial,
        });
    }
    let mut parts = uri
        .strip_prefix(crate::authority::STAFF_URI_PREFIX)
        .ok_or_else(unknown)?
        .splitn(2, '/');
    let (role, key_id) = (parts.next().and_then(Role::parse), parts.next());
    let (Some(role), Some(key_id)) = (role, key_id) else {
        return Err(unknown());
    };
    let member = state.store.staff(key_id)?.ok_or_else(unknown)?;
    if member.revoked_at_ms.is_some() || member.certificate_serial != serial {
        tracing::warn!(peer = %conn.peer, key_id, "revoked staff member tried to connect");
        return Err(ApiError::forbidden("this staff member is revoked"));
    }
    Ok(Identity::Staff {
        role,
        key_id: key_id.to_string(),
        name: member.name,
    })
}

/// Requires a supervisor or the operator.
fn require_reviewer(state: &AppState, conn: &ConnInfo) -> Result<Identity, ApiError> {
    let id = identify(state, conn)?;
    match &id {
        Identity::Operator
        | Identity::Staff {
            role: Role::Supervisor,
            ..
        } => Ok(id),
        _ => Err(ApiError::forbidden("this needs a supervisor")),
    }
}

/// A reason as reviewers give it: trimmed, 1 to 500 characters, one line.
pub(crate) fn checked_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.len() > 500 || reason.chars().any(char::is_control) {
        return Err(ApiError::new(
            ErrorCode::BadReason,
            "give a reason of 1 to 500 characters, on one line",
        ));
    }
    Ok(reason.to_string())
}

/// A CSR sent in standard base64 by a caller that proves possession with it (staff
/// registration and renewal, device renewal): its DER and its checked key; `400 bad_csr`
/// saying what is wrong otherwise.
pub(crate) fn csr_from_base64(
    text: &str,
) -> Result<(Vec<u8>, crate::authority::checks::VerifiedCsr), ApiError> {
    let der = vouch_protocol::enroll::decode_base64(text, "csr")
        .map_err(|e| ApiError::new(ErrorCode::BadCsr, e.to_string()))?;
    let csr = crate::authority::checks::verify_csr(&der)
        .map_err(|p| ApiError::new(ErrorCode::BadCsr, p.0))?;
    Ok((der, csr))
}

/// Runs store work where the store's latency allows: inline on the async worker for a store
/// that answers from this process's memory (the enrollment path's reads and commits take
/// microseconds there, and a thread hop would cost more), on the blocking pool for one that
/// may wait on a network or a disk.
async fn on_store<T, E>(
    state: &Arc<AppState>,
    f: impl FnOnce(Arc<AppState>) -> Result<T, E> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<ServerError> + Send + 'static,
{
    if state.store.latency() == Latency::InProcess {
        return f(state.clone());
    }
    let state = state.clone();
    tokio::task::spawn_blocking(move || f(state))
        .await
        .map_err(|e| E::from(ServerError::Storage(Failure::caused("worker failed", e))))?
}

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::internal(&ServerError::Storage(Failure::caused("worker failed", e)))
    })?
}
