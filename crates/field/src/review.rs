//! Supervisor review over the server's API: list devices, show one with its evidence, approve,
//! reject or revoke, and accept a scanner's chain gap. Only an install registered as a supervisor may; a technician gets
//! [`crate::Error::NotSupervisor`] before anything is sent (and the server would refuse too).

use serde_json::Value;

use crate::error::{Error, Result};
use crate::net::Api;

pub use vouch_protocol::wire::{Decision, DeviceState, DeviceSummary};
use vouch_protocol::wire::{DeviceList, ImportRequest, ReasonRequest};

pub use vouch_protocol::wire::ImportAnswer;

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

pub(crate) async fn list(api: &Api, state: Option<&str>) -> Result<Vec<DeviceSummary>> {
    let path = match state.map(|s| (s, DeviceState::parse(s))) {
        None => "/v1/devices".to_string(),
        Some((_, Some(s))) => format!("/v1/devices?state={s}"),
        Some((s, None)) => {
            let names: Vec<&str> = DeviceState::ALL.iter().map(|s| s.as_str()).collect();
            return Err(Error::BadArgument(format!(
                "there is no device state {s:?}; use one of {}",
                names.join(", ")
            )));
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

pub(crate) async fn import_manifest(
    api: &Api,
    manifest: &str,
    source: Option<&str>,
    reason: &str,
) -> Result<ImportAnswer> {
    let body = ImportRequest {
        manifest: manifest.to_string(),
        reason: reason.to_string(),
        source: source.map(str::to_string),
    };
    api.post_json("/v1/manifests", &body)
        .await
        .map_err(|f| f.error)
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
    let body = ReasonRequest {
        reason: reason.to_string(),
    };
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
