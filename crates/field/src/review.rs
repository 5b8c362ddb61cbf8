//! Supervisor review over the server's API: list devices, show one with its evidence, approve,
//! reject or revoke, and accept a scanner's chain gap. Only an install registered as a supervisor may; a technician gets
//! [`crate::Error::NotSupervisor`] before anything is sent (and the server would refuse too).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::net::Api;

/// A device as `GET /v1/devices` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSummary {
    /// The serial.
    pub serial: String,
    /// The model, if the label carried one.
    #[serde(default)]
    pub model: Option<String>,
    /// `scanned`, `approved`, `enrolled`, `rejected`, `conflict` or `revoked`.
    pub state: String,
    /// The vouched label key's fingerprint.
    #[serde(default)]
    pub key_fingerprint: String,
    /// How many scans name this serial or key.
    #[serde(default)]
    pub scans: usize,
    /// Other keys seen under this serial (a conflict).
    #[serde(default)]
    pub other_keys: usize,
    /// Other serials seen with this key (a conflict).
    #[serde(default)]
    pub other_serials: Vec<String>,
    /// Last change, milliseconds since the Unix epoch.
    #[serde(default)]
    pub updated_at_ms: u64,
    /// First seen.
    #[serde(default)]
    pub created_at_ms: u64,
}

/// A supervisor's decision on a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Let the device enroll.
    Approve,
    /// Refuse it.
    Reject,
    /// Withdraw an approval or a certificate.
    Revoke,
    /// Let an enrolled device enroll again with its label key (its certificate is revoked).
    Reenroll,
}

impl Decision {
    /// The API verb: `approve`, `reject` or `revoke`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
            Decision::Revoke => "revoke",
            Decision::Reenroll => "reenroll",
        }
    }
}

#[derive(Deserialize)]
struct DeviceList {
    devices: Vec<DeviceSummary>,
}

/// Percent-encodes a path segment (everything but unreserved characters).
fn segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The device states `GET /v1/devices?state=` takes.
pub const STATES: [&str; 6] = [
    "scanned", "approved", "enrolled", "rejected", "conflict", "revoked",
];

pub(crate) async fn list(api: &Api, state: Option<&str>) -> Result<Vec<DeviceSummary>> {
    let path = match state {
        None => "/v1/devices".to_string(),
        Some(s) if STATES.contains(&s) => format!("/v1/devices?state={s}"),
        Some(s) => {
            return Err(Error::BadArgument(format!(
                "there is no device state {s:?}; use one of {}",
                STATES.join(", ")
            )))
        }
    };
    let answer: DeviceList = api.get_json(&path).await.map_err(|f| f.error)?;
    Ok(answer.devices)
}

/// A serial as a path segment, after the protocol's serial rule: a serial of dots only would
/// become `.` or `..`, which the HTTP client rewrites into another path.
fn serial_segment(serial: &str) -> Result<String> {
    let serial =
        vouch_protocol::Serial::new(serial).map_err(|e| Error::BadArgument(e.to_string()))?;
    Ok(segment(serial.as_str()))
}

pub(crate) async fn show(api: &Api, serial: &str) -> Result<Value> {
    api.get_json(&format!("/v1/devices/{}", serial_segment(serial)?))
        .await
        .map_err(|f| f.error)
}

pub(crate) async fn decide(
    api: &Api,
    serial: &str,
    decision: Decision,
    reason: &str,
) -> Result<Value> {
    let body = serde_json::json!({ "reason": reason });
    api.post_json(
        &format!(
            "/v1/devices/{}/{}",
            serial_segment(serial)?,
            decision.as_str()
        ),
        &body,
    )
    .await
    .map_err(|f| f.error)
}

pub(crate) async fn accept_gap(
    api: &Api,
    key_id: &str,
    expected: u64,
    reason: &str,
) -> Result<Value> {
    let body = serde_json::json!({ "expected": expected, "reason": reason });
    api.post_json(
        &format!("/v1/admin/staff/{}/accept-gap", segment(key_id)),
        &body,
    )
    .await
    .map_err(|f| f.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_escaped() {
        assert_eq!(segment("SN-0001"), "SN-0001");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn serials_of_dots_never_become_path_segments() {
        assert_eq!(serial_segment("SN.1").unwrap(), "SN.1");
        for serial in [".", "..", "..."] {
            let err = serial_segment(serial).unwrap_err();
            assert_eq!(err.code(), "bad_argument", "{serial}");
            assert!(err.to_string().contains("only of dots"), "{serial}: {err}");
        }
    }
}
