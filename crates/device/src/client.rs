//! Enrollment, the mTLS `hello`, and renewal.
//!
//! # Enrollment, step by step
//!
//! 1. Open **one** TLS connection, verifying the server against the Vouch CA only
//!    ([`Session::open`]).
//! 2. `POST /v1/enroll/challenge {"serial"}` → a nonce ([`request_challenge`]).
//! 3. Make a CSR: for the label key itself ([`EnrollMode::SameKey`]), or for a fresh
//!    operational key ([`EnrollMode::Rekey`]); sign the enrollment message (mode, nonce,
//!    serial, SHA-256 of the CSR, and this connection's `tls-exporter` value) with the label key
//!    ([`answer_challenge`]).
//! 4. `POST /v1/enroll/complete` on the same connection ([`submit_answer`]).
//! 5. Check that the certificate is for the key we asked for, then install key (when re-keyed),
//!    chain and certificate in the device directory (crash-safe; see [`crate::store`]).
//!
//! [`enroll`] does all of it; the step functions are public so that tests and firmware ports
//! can run, inspect or replay one step.
//!
//! # A lost answer
//!
//! [`enroll`] and [`renew`] store the CSR and its new key in the device directory
//! ([`crate::store::Pending`]) *before* sending it, and send that same CSR on every attempt
//! until its answer is stored. If the server committed a certificate but the answer never
//! arrived (a dropped connection, a crash, a power cut), the retry is the identical CSR, which
//! the server answers with the certificate it already issued (docs/PROTOCOL.md 11.7.4 and
//! 11.8.3) instead of refusing it as a second enrollment or as a superseded certificate.

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use p256::ecdsa::SigningKey;
use rand_core::RngCore;
use serde::{Deserialize, Serialize};
use vouch_protocol::enroll::{
    encode_base64, CertificateResponse, Challenge, ChallengeRequest, ChannelBinding, EnrollMode,
    EnrollRequest, EnrollmentMessage, CHANNEL_BINDING_LEN,
};
use vouch_support::retry::Backoff;

use crate::cert::{check_issued, make_csr, CertInfo};
use crate::error::{Error, Result};
use crate::net::{Server, Session};
use crate::store::{self, Device, NewIdentity, Operation, Pending};

/// The challenge endpoint.
pub const CHALLENGE_PATH: &str = "/v1/enroll/challenge";
/// The enrollment completion endpoint.
pub const COMPLETE_PATH: &str = "/v1/enroll/complete";
/// The mTLS hello endpoint.
pub const HELLO_PATH: &str = "/v1/device/hello";
/// The mTLS renewal endpoint.
pub const RENEW_PATH: &str = "/v1/device/renew";
/// **Test only.** Set to `1`, [`enroll`] and [`renew`] drop the server's answer when it has
/// arrived, before storing anything, and fail as if the connection had been lost at that
/// moment: the server has committed the certificate, the device has not got it. The tests use
/// it to prove that the next attempt recovers. It can do no harm beyond what a network failure
/// does, which the agent must survive anyway.
pub const TEST_LOSE_ANSWER_ENV: &str = "VOUCH_DEVICE_TEST_LOSE_ANSWER";

/// How to enroll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnrollOptions {
    /// Certificate for the label key ([`EnrollMode::SameKey`], the default) or for a fresh
    /// operational key bound by the label key's signature ([`EnrollMode::Rekey`]).
    pub mode: EnrollMode,
    /// Bind the TLS channel ([`ChannelBinding::TlsExporter`], the default). `None` exists to
    /// imitate a device whose TLS stack has no exporter.
    pub channel_binding: ChannelBinding,
    /// Enroll although the device holds a certificate: a supervisor let it enroll again
    /// (`vouch-server device reenroll`, e.g. its certificate expired unrenewed). The current
    /// certificate is replaced only if the new enrollment succeeds.
    pub again: bool,
}

impl Default for EnrollOptions {
    fn default() -> Self {
        Self {
            mode: EnrollMode::SameKey,
            channel_binding: ChannelBinding::TlsExporter,
            again: false,
        }
    }
}

/// A signed answer to a challenge, ready to send.
#[derive(Clone)]
pub struct Answer {
    /// The `POST /v1/enroll/complete` body.
    pub request: EnrollRequest,
    /// The CSR's DER bytes.
    pub csr_der: Vec<u8>,
    /// The fresh operational key, in re-key mode.
    pub operational_key: Option<SigningKey>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

/// The result of a successful enrollment or renewal.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The server's answer.
    pub response: CertificateResponse,
    /// What the certificate says.
    pub cert: CertInfo,
}

/// Asks for a challenge nonce.
pub async fn request_challenge(
    session: &mut Session,
    serial: &vouch_protocol::Serial,
) -> Result<Challenge> {
    session
        .post_json(
            CHALLENGE_PATH,
            &ChallengeRequest {
                serial: serial.as_str().to_string(),
            },
        )
        .await?
        .json()
}

/// Builds and signs the answer to `challenge` for a new CSR (see the module documentation).
/// `channel_binding` is the session's exporter value; it is required unless
/// `options.channel_binding` is [`ChannelBinding::None`].
pub fn answer_challenge(
    device: &Device,
    challenge: &Challenge,
    channel_binding: Option<[u8; CHANNEL_BINDING_LEN]>,
    options: &EnrollOptions,
) -> Result<Answer> {
    let new = new_enrollment(device, options.mode)?;
    let request = sign_answer(
        device,
        options.mode,
        new.csr_der(),
        challenge,
        channel_binding,
        options.channel_binding,
    )?;
    Ok(Answer {
        request,
        csr_der: new.csr_der().to_vec(),
        operational_key: new.key().cloned(),
    })
}

/// A new enrollment request: a fresh operational key in re-key mode, and the CSR.
fn new_enrollment(device: &Device, mode: EnrollMode) -> Result<Pending> {
    let key = match mode {
        EnrollMode::SameKey => None,
        EnrollMode::Rekey => Some(SigningKey::random(&mut rand_core::OsRng)),
    };
    let csr_der = make_csr(key.as_ref().unwrap_or(device.label_key()), device.serial())?;
    Ok(Pending::new(Operation::Enroll(mode), csr_der, key))
}

/// Signs the enrollment message for `csr_der` with the label key and builds the request.
fn sign_answer(
    device: &Device,
    mode: EnrollMode,
    csr_der: &[u8],
    challenge: &Challenge,
    exporter: Option<[u8; CHANNEL_BINDING_LEN]>,
    channel_binding: ChannelBinding,
) -> Result<EnrollRequest> {
    let binding = match channel_binding {
        ChannelBinding::None => None,
        ChannelBinding::TlsExporter => Some(exporter.ok_or_else(|| {
            Error::Crypto("the TLS connection offers no exporter for channel binding".into())
        })?),
    };
    let message = EnrollmentMessage {
        mode,
        nonce: challenge.nonce,
        serial: device.serial(),
        csr_der,
        channel_binding: binding,
    };
    let signature = message.sign(device.label_key());
    Ok(EnrollRequest {
        serial: device.serial().as_str().to_string(),
        nonce: challenge.nonce.to_hex(),
        mode,
        csr: encode_base64(csr_der),
        channel_binding,
        signature: signature.to_hex(),
    })
}

/// Sends a signed answer.
pub async fn submit_answer(
    session: &mut Session,
    request: &EnrollRequest,
) -> Result<CertificateResponse> {
    session.post_json(COMPLETE_PATH, request).await?.json()
}

/// Enrolls the device in `dir` with the server (one attempt): challenge, signed answer and
/// certificate over one TLS connection, then stores the certificate (and, in re-key mode,
/// `operational.key.pem`). Refuses with [`Error::AlreadyEnrolled`] if `cert.pem` exists, unless
/// [`EnrollOptions::again`]. An enrollment left pending by an earlier attempt is finished with
/// its own CSR, in the mode it began with (module documentation, "A lost answer").
pub async fn enroll(dir: &Path, server: &Server, options: &EnrollOptions) -> Result<Issued> {
    let device = store::load(dir)?;
    if let Some(issued) = finished_by_loading(&device, options)? {
        return Ok(issued);
    }
    let (mode, pending) = pending_enrollment(&device, options)?;
    let mut session = Session::open(server, None).await?;
    let challenge = request_challenge(&mut session, device.serial()).await?;
    let request = sign_answer(
        &device,
        mode,
        pending.csr_der(),
        &challenge,
        session.channel_binding(),
        options.channel_binding,
    )?;
    let response = submit_answer(&mut session, &request).await?;
    drop(session);
    lose_answer_in_tests(server)?;
    install(&device, &pending, response)
}

/// The enrollment an earlier run of `enroll` had stored but not finished installing, which
/// loading the device just finished (that run was cut off between storing the server's answer
/// and moving it into place): running the same command again succeeds with it, as the crate's
/// README promises, rather than find the device "already enrolled" (finishing it also dropped
/// the request it answered). `None` otherwise, and always with [`EnrollOptions::again`] (which
/// asks for a new enrollment).
fn finished_by_loading(device: &Device, options: &EnrollOptions) -> Result<Option<Issued>> {
    if options.again || !device.finished_an_interrupted_enrollment() {
        return Ok(None);
    }
    let identity = device.identity()?;
    let cert = identity.cert().clone();
    let response = CertificateResponse {
        certificate_pem: identity.certificate_pem.clone(),
        chain_pem: identity.chain_pem.clone(),
        not_after_ms: cert.not_after_ms,
    };
    Ok(Some(Issued { response, cert }))
}

/// The enrollment request to send: the pending one if an earlier attempt left one (only that
/// CSR can be answered again), else a new one, stored durably before anything is sent.
fn pending_enrollment(device: &Device, options: &EnrollOptions) -> Result<(EnrollMode, Pending)> {
    let dir = device.dir();
    let earlier = store::pending(dir)?;
    if let Some(pending) = &earlier {
        if let Operation::Enroll(mode) = pending.operation() {
            return Ok((mode, pending.clone()));
        }
    }
    if device.is_enrolled() && !options.again {
        return Err(Error::AlreadyEnrolled {
            dir: dir.to_path_buf(),
        });
    }
    if earlier.is_some() {
        // A renewal overtaken by a supervisor's `reenroll`, which dropped the certificate it
        // was made with: the server can no longer answer it.
        store::discard_pending(dir)?;
    }
    let pending = store::begin(dir, new_enrollment(device, options.mode)?)?;
    Ok((options.mode, pending))
}

/// Checks that the answer certifies the pending request's key, then installs it; the same
/// commit drops the pending request.
fn install(device: &Device, pending: &Pending, response: CertificateResponse) -> Result<Issued> {
    let key = pending.key().unwrap_or(device.label_key());
    let cert = check_issued(&response.certificate_pem, key)?;
    store::commit(
        device.dir(),
        &NewIdentity {
            key: pending.key(),
            certificate_pem: &response.certificate_pem,
            chain_pem: &response.chain_pem,
        },
    )?;
    Ok(Issued { response, cert })
}

/// The fault of [`TEST_LOSE_ANSWER_ENV`].
fn lose_answer_in_tests(server: &Server) -> Result<()> {
    if std::env::var_os(TEST_LOSE_ANSWER_ENV).is_some_and(|v| v == "1") {
        return Err(Error::Unreachable {
            server: server.url().to_string(),
            reason: format!("the answer was dropped on purpose ({TEST_LOSE_ANSWER_ENV}=1)"),
        });
    }
    Ok(())
}

/// How `enroll --wait` retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitPolicy {
    /// Give up (returning the last error) when the next attempt would start after this.
    pub deadline: Duration,
    /// The first backoff ceiling.
    pub initial: Duration,
    /// The largest backoff ceiling.
    pub cap: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(900),
            initial: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        }
    }
}

impl WaitPolicy {
    /// The shared backoff with this policy's bounds; a rate limit's `retry-after` is honoured
    /// whatever its length (the deadline still ends the wait).
    pub fn backoff(&self) -> Backoff {
        Backoff {
            base: self.initial,
            cap: self.cap,
            max_retry_after: Duration::MAX,
        }
    }

    /// The ceiling before retry number `attempt` (0-based): `min(cap, initial · 2^attempt)`.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.backoff().ceiling(attempt)
    }

    /// "Full jitter": a delay drawn uniformly from `[0, ceiling(attempt)]` using `random`.
    pub fn delay(&self, attempt: u32, random: u64) -> Duration {
        self.backoff().delay(attempt, random, None)
    }
}

/// [`enroll`], retried while the error is retryable ([`Error::is_retryable`]: not yet approved,
/// rate limited, unreachable) with exponential backoff and full jitter, until the policy's
/// deadline. `on_retry` is told each error and the delay before the next attempt. A rate limit's
/// `retry-after` is honoured as a lower bound.
pub async fn enroll_wait(
    dir: &Path,
    server: &Server,
    options: &EnrollOptions,
    policy: &WaitPolicy,
    mut on_retry: impl FnMut(&Error, Duration),
) -> Result<Issued> {
    let start = Instant::now();
    let mut attempt = 0u32;
    loop {
        let error = match enroll(dir, server, options).await {
            Ok(issued) => return Ok(issued),
            Err(e) if e.is_retryable() => e,
            Err(e) => return Err(e),
        };
        let retry_after = match &error {
            Error::RateLimited { retry_after } => *retry_after,
            _ => None,
        };
        let delay = policy
            .backoff()
            .delay(attempt, rand_core::OsRng.next_u64(), retry_after);
        if start.elapsed().saturating_add(delay) > policy.deadline {
            return Err(error);
        }
        on_retry(&error, delay);
        tokio::time::sleep(delay).await;
        attempt = attempt.saturating_add(1);
    }
}

/// What the server says about the device (`GET /v1/device/hello`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The serial in the certificate.
    pub serial: String,
    /// The device model, if known.
    #[serde(default)]
    pub model: Option<String>,
    /// The device's state (`enrolled`, ...).
    pub state: String,
    /// The fingerprint of the vouched label key.
    pub key_fingerprint: String,
    /// The serial number of the certificate presented.
    pub certificate_serial: String,
    /// The presented certificate's notAfter, milliseconds since the Unix epoch.
    pub not_after_ms: u64,
    /// From when the server would like the device to renew (its `renew_before_days` before
    /// `not_after_ms`); absent from older servers.
    #[serde(default)]
    pub renew_after_ms: Option<u64>,
    /// Anything else the server adds.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// Calls `GET /v1/device/hello` over mTLS with the device's certificate.
pub async fn hello(dir: &Path, server: &Server) -> Result<Hello> {
    let device = store::load(dir)?;
    let identity = device.identity()?;
    let mut session = Session::open(server, Some(&identity)).await?;
    session.get(HELLO_PATH).await?.json()
}

/// `POST /v1/device/renew` body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// The PKCS#10 CSR for the new key, DER, standard base64 with padding.
    pub csr: String,
}

/// Whether the device's certificate expires within `within` (or already has).
pub fn renewal_due(dir: &Path, within: Duration) -> Result<bool> {
    let identity = store::load(dir)?.identity()?;
    Ok(identity.cert().remaining(SystemTime::now()) <= within)
}

/// Whether a renewal was sent (or about to be) and its answer is not stored yet: [`renew`]
/// then finishes it, and should be run soon, whatever the certificate's expiry says, because
/// the server may already have superseded the certificate in `cert.pem`.
pub fn renewal_pending(dir: &Path) -> Result<bool> {
    Ok(store::pending(dir)?.is_some_and(|p| p.operation() == Operation::Renew))
}

/// Renews over mTLS: a fresh key, a CSR for it, `POST /v1/device/renew` authenticated by the
/// current certificate; on success the new key, chain and certificate replace the old ones
/// (crash-safe; on any failure the old identity stays as it was). A renewal left pending by an
/// earlier attempt is finished with its own CSR and key instead of a new one (module
/// documentation, "A lost answer").
pub async fn renew(dir: &Path, server: &Server) -> Result<Issued> {
    let device = store::load(dir)?;
    let identity = device.identity()?;
    let pending = match store::pending(dir)? {
        Some(pending) if pending.operation() == Operation::Renew => pending,
        Some(_) => {
            return Err(Error::EnrollmentPending {
                dir: dir.to_path_buf(),
            })
        }
        None => {
            let key = SigningKey::random(&mut rand_core::OsRng);
            let csr_der = make_csr(&key, device.serial())?;
            store::begin(dir, Pending::new(Operation::Renew, csr_der, Some(key)))?
        }
    };
    let mut session = Session::open(server, Some(&identity)).await?;
    let response: CertificateResponse = session
        .post_json(
            RENEW_PATH,
            &RenewRequest {
                csr: encode_base64(pending.csr_der()),
            },
        )
        .await?
        .json()?;
    drop(session);
    lose_answer_in_tests(server)?;
    install(&device, &pending, response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_and_jitters_below_it() {
        let policy = WaitPolicy::default();
        assert_eq!(policy.ceiling(0), Duration::from_secs(1));
        assert_eq!(policy.ceiling(3), Duration::from_secs(8));
        assert_eq!(policy.ceiling(6), Duration::from_secs(60));
        assert_eq!(policy.ceiling(200), Duration::from_secs(60));
        for random in [0, 1, 999, 1000, 1001, u64::MAX] {
            assert!(policy.delay(2, random) <= Duration::from_secs(4));
        }
        assert_eq!(policy.delay(0, 0), Duration::ZERO);
    }
}
