//! The HTTP contract (PROTOCOL.md section 11), defined once for the server, the field engine,
//! the device agent, the Tauri shell and the UI: the error codes with the status each carries,
//! the error body, staff roles, device states, review decisions, sync outcomes and the request
//! and answer types that are not already enrollment messages ([`crate::enroll`]).
//!
//! Nobody else spells a code as a string: a client parses the body with [`ErrorBody`] and
//! matches on [`ErrorCode`]; the server answers with an [`ErrorCode`] and takes the status
//! from [`ErrorCode::status`]. A code a client does not know stays [`ErrorCode::Unknown`] with
//! its text, so that it can still be shown and passed on (section 11.2: treat it as a generic
//! refusal of its status).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

/// Defines [`ErrorCode`] from one table: variant, wire string, HTTP status (`None` for a code
/// that only travels inside a `200` answer, as a refused record's code).
macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal => $status:expr;)*) => {
        /// A stable, machine-readable error code of the HTTP API (PROTOCOL.md 11), or of a
        /// refused record in a sync answer (11.9.2). It serialises as its snake_case string.
        ///
        /// `#[non_exhaustive]`: new codes may be added; match with a wildcard arm.
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
            /// A protocol core refusal, by its code (PROTOCOL.md 8, [`crate::Error::code`]):
            /// a `400` answer, or a refused record's code (`bad_signature`, `sequence_gap`, ...).
            Protocol(&'static str),
            /// A code this build does not know, kept as sent (an empty string when the body had
            /// no code at all).
            Unknown(String),
        }

        impl ErrorCode {
            /// Every code of the table (not [`ErrorCode::Protocol`] nor
            /// [`ErrorCode::Unknown`]), in the table's order.
            pub const TABLE: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The wire string and status of a table code.
            fn row(&self) -> Option<(&'static str, Option<u16>)> {
                match self {
                    $(ErrorCode::$variant => Some(($text, $status)),)*
                    _ => None,
                }
            }

            /// The table code spelled `text`.
            fn from_table(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// `404`: no such endpoint, device or staff member (also an unknown decision verb).
    NotFound = "not_found" => Some(404);
    /// `400`: a path parameter that cannot be decoded.
    BadPath = "bad_path" => Some(400);
    /// `400`: a query string that cannot be decoded, or a parameter given twice.
    BadQuery = "bad_query" => Some(400);
    /// `400`: a JSON body without a JSON content type.
    BadContentType = "bad_content_type" => Some(400);
    /// `413`: the body is over the limit.
    BodyTooLarge = "body_too_large" => Some(413);
    /// `408`: the body did not arrive in time.
    RequestTimeout = "request_timeout" => Some(408);
    /// `503`: the CA key cannot sign right now (its PKCS#11 token is unreachable); try again.
    CaUnavailable = "ca_unavailable" => Some(503);
    /// `400`: the body is not JSON or not the expected object.
    BadJson = "bad_json" => Some(400);
    /// `429`: too many requests; the answer has `retry-after`.
    RateLimited = "rate_limited" => Some(429);
    /// `401`: the endpoint needs a client certificate.
    ClientCertificateRequired = "client_certificate_required" => Some(401);
    /// `403`: the caller may not do this (revoked, superseded, wrong role).
    Forbidden = "forbidden" => Some(403);
    /// `500`: a storage or CA failure.
    Internal = "internal" => Some(500);
    /// `400`: a request the server cannot act on.
    BadRequest = "bad_request" => Some(400);
    /// `409`: the change conflicts with the current state.
    Conflict = "conflict" => Some(409);
    /// `503`: a bounded resource is full; try again later.
    Busy = "busy" => Some(503);
    /// `403`: the uniform enrollment refusal (11.7.2).
    Refused = "refused" => Some(403);
    /// `409`: proven, but the device waits for a supervisor.
    PendingApproval = "pending_approval" => Some(409);
    /// `409`: proven, but a supervisor rejected the device.
    Rejected = "rejected" => Some(409);
    /// `409`: proven, but the device was revoked.
    Revoked = "revoked" => Some(409);
    /// `409`: proven, but the device is enrolled with another CSR.
    AlreadyEnrolled = "already_enrolled" => Some(409);
    /// `403`: the invite is unknown, used or expired.
    InviteInvalid = "invite_invalid" => Some(403);
    /// `400`: the CSR is unacceptable.
    BadCsr = "bad_csr" => Some(400);
    /// `413`: more records than one upload may hold.
    BatchTooLarge = "batch_too_large" => Some(413);
    /// `400`: not one of the seven device states.
    BadState = "bad_state" => Some(400);
    /// `400`: not a valid serial (the serial rule).
    BadSerial = "bad_serial" => Some(400);
    /// `400`: a reason that is empty, too long or not one line.
    BadReason = "bad_reason" => Some(400);
    /// `400`: an invite's role that is not `technician` or `supervisor`.
    BadRole = "bad_role" => Some(400);
    /// `400`: an invite's name that is empty, too long or has a control character.
    BadName = "bad_name" => Some(400);
    /// `400`: an invite's server URL that is not an `https://` URL.
    BadServerUrl = "bad_server_url" => Some(400);
    /// `400`: a device manifest with a line that cannot be imported (the message names the
    /// line); nothing was imported.
    BadManifest = "bad_manifest" => Some(400);
    /// A refused record: not a valid signed record.
    MalformedRecord = "malformed_record" => None;
    /// A refused record: its install is not registered.
    UnknownInstaller = "unknown_installer" => None;
    /// A refused record: its id is stored with other content.
    RecordIdReused = "record_id_reused" => None;
}

impl ErrorCode {
    /// The code's wire string.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorCode::Protocol(code) => code,
            ErrorCode::Unknown(text) => text,
            known => known.row().map_or("", |(text, _)| text),
        }
    }

    /// Reads a wire string: a table code, a protocol code, or else [`ErrorCode::Unknown`].
    pub fn parse(text: &str) -> Self {
        if let Some(code) = Self::from_table(text) {
            return code;
        }
        match ProtocolCode::parse(text) {
            Some(code) => ErrorCode::Protocol(code.as_str()),
            None => ErrorCode::Unknown(text.to_string()),
        }
    }

    /// The code of a protocol core refusal.
    pub fn of(error: &crate::Error) -> Self {
        ErrorCode::Protocol(error.code())
    }

    /// The HTTP status an answer with this code has: `None` for a code that only travels
    /// inside a `200` sync answer, and for an unknown one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ErrorCode::Protocol(_) => Some(400),
            ErrorCode::Unknown(_) => None,
            known => known.row().and_then(|(_, status)| status),
        }
    }

    /// Whether a record refused with this code is held, not refused: an earlier record of the
    /// install is missing (`sequence_gap`), so the client sends it again at each sync until
    /// the gap is filled or accepted (11.9.2).
    pub fn holds_record(&self) -> bool {
        *self
            == Self::of(&crate::Error::SequenceGap {
                expected: 0,
                found: 0,
            })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for ErrorCode {
    fn from(text: &str) -> Self {
        Self::parse(text)
    }
}

impl From<String> for ErrorCode {
    fn from(text: String) -> Self {
        Self::parse(&text)
    }
}

/// Compares the wire string, so a test can say `assert_eq!(code, "bad_signature")`.
impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as Deserialize>::deserialize(deserializer)?;
        Ok(Self::parse(&text))
    }
}

/// Every HTTP error body: `{"code": "...", "message": "..."}` (11.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The contract.
    pub code: ErrorCode,
    /// Text for people; may change.
    pub message: String,
}

/// How much of a body that is not an error object is kept as the message.
pub const RAW_MESSAGE_CHARS: usize = 300;

impl ErrorBody {
    /// A body with this code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Reads an error answer's body. A body that is not `{"code", "message"}` (a proxy's page,
    /// an empty body) becomes an empty [`ErrorCode::Unknown`] with the start of the text as
    /// its message; a missing field is empty.
    #[cfg(feature = "std")]
    pub fn from_answer(body: &[u8]) -> Self {
        /// Both fields optional, so that a partial body keeps what it has.
        #[derive(Deserialize)]
        struct Loose {
            #[serde(default)]
            code: Option<ErrorCode>,
            #[serde(default)]
            message: Option<String>,
        }
        match serde_json::from_slice::<Loose>(body) {
            Ok(loose) => Self {
                code: loose.code.unwrap_or(ErrorCode::Unknown(String::new())),
                message: loose.message.unwrap_or_default(),
            },
            Err(_) => Self {
                code: ErrorCode::Unknown(String::new()),
                message: String::from_utf8_lossy(body)
                    .chars()
                    .take(RAW_MESSAGE_CHARS)
                    .collect(),
            },
        }
    }
}

/// Defines a fieldless enum that serialises as snake_case strings, with `as_str`, `parse` and
/// `ALL`.
macro_rules! word_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)*
        }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The wire string.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// Reads a wire string.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some($name::$variant),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

word_enum! {
    /// A staff member's role, carried in their client certificate (11.3).
    Role {
        /// Scans labels and syncs.
        Technician = "technician",
        /// Also reviews devices: approve, reject, revoke.
        Supervisor = "supervisor",
    }
}

word_enum! {
    /// Where a device stands (11.10.1).
    DeviceState {
        /// Announced by an imported manifest, not scanned yet: not vouched for, may not
        /// enroll.
        Expected = "expected",
        /// Vouched for by a scan, waiting for approval.
        Scanned = "scanned",
        /// Approved: may enroll.
        Approved = "approved",
        /// Holds a certificate.
        Enrolled = "enrolled",
        /// Refused by a supervisor.
        Rejected = "rejected",
        /// Two scans disagree (serial or key); needs a supervisor.
        Conflict = "conflict",
        /// Revoked after enrollment or approval.
        Revoked = "revoked",
    }
}

word_enum! {
    /// A supervisor's decision on a device, the last segment of
    /// `POST /v1/devices/{serial}/{decision}` (11.10.4).
    Decision {
        /// May enroll.
        Approve = "approve",
        /// May not enroll.
        Reject = "reject",
        /// Certificate (if any) revoked; may not enroll again.
        Revoke = "revoke",
        /// An enrolled device's certificate is revoked and its label key may enroll once more.
        Reenroll = "reenroll",
    }
}

word_enum! {
    /// What became of one uploaded record (11.9.2).
    RecordOutcome {
        /// Stored; the chain head advanced.
        Accepted = "accepted",
        /// Already stored, identical.
        Duplicate = "duplicate",
        /// Not stored; the result's `code` says why.
        Refused = "refused",
    }
}

word_enum! {
    /// An event in a device's timeline (`timeline[].event` in a device's detail, 11.10.2).
    DeviceEvent {
        /// First vouched for by a scan.
        Scanned = "scanned",
        /// Scanned again with the same key.
        Corroborated = "corroborated",
        /// Announced by an imported manifest.
        Expected = "expected",
        /// The first scan's key is the one its manifest announced.
        ManifestMatched = "manifest_matched",
        /// Scanned, and no manifest lists the serial (flagged by policy).
        NotInManifest = "not_in_manifest",
        /// A scan disagreed (serial or key): the device went to `conflict`.
        Conflict = "conflict",
        /// A disagreeing scan of a revoked device, noted without a state change.
        ConflictFlagged = "conflict_flagged",
        /// Approved (by a supervisor, or by policy for a trusted scanner).
        Approved = "approved",
        /// Rejected by a supervisor.
        Rejected = "rejected",
        /// Revoked by a supervisor.
        Revoked = "revoked",
        /// Enrolled: a certificate was issued.
        Enrolled = "enrolled",
        /// The certificate was renewed.
        Renewed = "renewed",
        /// A second enrollment with the label key was refused and flagged.
        DuplicateEnrollment = "duplicate_enrollment",
        /// An enrolled device was let enroll once more.
        ReenrollmentAllowed = "reenrollment_allowed",
    }
}

word_enum! {
    /// Where a record in the field engine's queue stands (the `state` of a queue entry across
    /// the app's IPC, and `vouch-field queue --state`).
    QueueState {
        /// Waiting to be sent.
        Queued = "queued",
        /// Sent; no answer yet.
        Syncing = "syncing",
        /// Held by the server until an earlier record arrives.
        Held = "held",
        /// Stored by the server.
        Accepted = "accepted",
        /// Already stored, identical.
        Duplicate = "duplicate",
        /// Refused by the server.
        Refused = "refused",
    }
}

word_enum! {
    /// A protocol core refusal's code (PROTOCOL.md 8): the fieldless kind of a
    /// [`crate::Error`], carried as [`ErrorCode::Protocol`] on the wire.
    ProtocolCode {
        /// [`crate::Error::Empty`].
        Empty = "empty",
        /// [`crate::Error::TooLong`].
        TooLong = "too_long",
        /// [`crate::Error::BadCharacter`].
        BadCharacter = "bad_character",
        /// [`crate::Error::NotALabel`].
        NotALabel = "not_a_label",
        /// [`crate::Error::UnknownVersion`].
        UnknownVersion = "unknown_version",
        /// [`crate::Error::WrongFieldCount`].
        WrongFieldCount = "wrong_field_count",
        /// [`crate::Error::BadLength`].
        BadLength = "bad_length",
        /// [`crate::Error::OnlyDots`].
        OnlyDots = "only_dots",
        /// [`crate::Error::CheckMismatch`].
        CheckMismatch = "check_mismatch",
        /// [`crate::Error::GroupCheckMismatch`].
        GroupCheckMismatch = "group_check_mismatch",
        /// [`crate::Error::BadEncoding`].
        BadEncoding = "bad_encoding",
        /// [`crate::Error::InvalidKey`].
        InvalidKey = "invalid_key",
        /// [`crate::Error::InvalidDpp`].
        InvalidDpp = "invalid_dpp",
        /// [`crate::Error::InvalidInvite`].
        InvalidInvite = "invalid_invite",
        /// [`crate::Error::Truncated`].
        Truncated = "truncated",
        /// [`crate::Error::TrailingBytes`].
        TrailingBytes = "trailing_bytes",
        /// [`crate::Error::BadText`].
        BadText = "bad_text",
        /// [`crate::Error::LabelMismatch`].
        LabelMismatch = "label_mismatch",
        /// [`crate::Error::InstallerMismatch`].
        InstallerMismatch = "installer_mismatch",
        /// [`crate::Error::BadSignature`].
        BadSignature = "bad_signature",
        /// [`crate::Error::ChainBroken`].
        ChainBroken = "chain_broken",
        /// [`crate::Error::SequenceGap`].
        SequenceGap = "sequence_gap",
        /// [`crate::Error::SequenceReplay`].
        SequenceReplay = "sequence_replay",
        /// [`crate::Error::OutOfRange`].
        OutOfRange = "out_of_range",
    }
}

word_enum! {
    /// The code of an error the Vouch app's field engine, shell or UI reports (the `code` of
    /// an IPC error, `{"code", "message", "detail"}`, and of `vouch-field --json` errors).
    AppErrorCode {
        /// This install has not joined a server yet.
        NotRegistered = "not_registered",
        /// This install already joined a server.
        AlreadyRegistered = "already_registered",
        /// The invite could not be read.
        BadInvite = "bad_invite",
        /// The server's CA is not the invite's.
        CaMismatch = "ca_mismatch",
        /// The server refused the invite.
        InviteRefused = "invite_refused",
        /// The server's certificate is not signed by the pinned CA.
        UntrustedCertificate = "untrusted_certificate",
        /// A label was refused (the protocol code is the error's `detail`).
        BadLabel = "bad_label",
        /// A field of a scan is invalid.
        BadField = "bad_field",
        /// A command-line argument is invalid.
        BadArgument = "bad_argument",
        /// No code was found in an image.
        NoCode = "no_code",
        /// An image could not be read.
        BadImage = "bad_image",
        /// The same label was scanned again.
        RepeatScan = "repeat_scan",
        /// The server cannot be reached.
        Offline = "offline",
        /// TLS failed.
        Tls = "tls",
        /// The server refused the request.
        Refused = "refused",
        /// The caller is not a supervisor.
        NotSupervisor = "not_supervisor",
        /// The server does not know what was named.
        NotFound = "not_found",
        /// The server failed.
        ServerError = "server_error",
        /// A protocol object was invalid.
        Protocol = "protocol",
        /// The local queue's database failed.
        Storage = "storage",
        /// The local queue is damaged.
        QueueDamaged = "queue_damaged",
        /// The data folder is in use by another process.
        Busy = "busy",
        /// Local data is corrupt.
        Corrupt = "corrupt",
        /// A file could not be read or written.
        Io = "io",
        /// The install's key failed.
        Key = "key",
        /// The configuration is invalid.
        Config = "config",
        /// No data folder could be found.
        NoDataDir = "no_data_dir",
        /// A sync is already running.
        SyncRunning = "sync_running",
        /// A batch of scans conflicts with what is queued.
        BatchConflict = "batch_conflict",
        /// An undo was refused.
        UndoRefused = "undo_refused",
        /// There is no batch to act on.
        NoBatch = "no_batch",
        /// No camera is connected.
        NoCamera = "no_camera",
        /// The camera failed.
        Camera = "camera",
        /// On mobile the camera is the barcode-scanner plugin.
        CameraIsPlugin = "camera_is_plugin",
        /// The app shell failed.
        Shell = "shell",
        /// The page is not running inside the app (no IPC bridge).
        NotInTauri = "not_in_tauri",
        /// A command's arguments could not be encoded.
        Encode = "encode",
        /// A command's answer could not be decoded.
        Decode = "decode",
        /// The IPC bridge failed.
        Ipc = "ipc",
    }
}

word_enum! {
    /// What the Vouch app did, for a line of its activity log (the `what` of a log line across
    /// the app's IPC; the UI shows it in the chosen language, and the line's outcome is either
    /// done or an [`AppErrorCode`] error).
    AppActivity {
        /// The data folder was opened when the app started.
        Open = "open",
        /// The scan screen became interactive (the line carries the milliseconds since start).
        Start = "start",
        /// This install joined a server with an invite.
        Register = "register",
        /// A typed or camera-read label was checked and queued.
        Scan = "scan",
        /// A photo's label was checked and queued.
        ScanImage = "scan_image",
        /// A label was queued in a batch.
        BatchScan = "batch_scan",
        /// A batch scan was taken back.
        Undo = "undo",
        /// The queue was written to a file.
        Export = "export",
        /// The queue was sent to the server.
        Sync = "sync",
        /// A supervisor approved a device.
        Approve = "approve",
        /// A supervisor rejected a device.
        Reject = "reject",
        /// A supervisor revoked a device.
        Revoke = "revoke",
        /// A supervisor let an enrolled device enroll once more.
        Reenroll = "reenroll",
        /// A supervisor accepted a scanning tablet's chain gap.
        AcceptGap = "accept_gap",
    }
}

/// A supervisor's decision is logged as the activity of the same name.
impl From<Decision> for AppActivity {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Approve => AppActivity::Approve,
            Decision::Reject => AppActivity::Reject,
            Decision::Revoke => AppActivity::Revoke,
            Decision::Reenroll => AppActivity::Reenroll,
        }
    }
}

/// One record's result in the answer to `POST /v1/records` (11.9.2).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordResult {
    /// The record's id as sent (at most 64 characters; empty if it had none).
    pub record_id: String,
    /// Accepted, duplicate or refused.
    pub outcome: RecordOutcome,
    /// Why it was refused (`null` otherwise; the field is always present).
    #[serde(default)]
    pub code: Option<ErrorCode>,
    /// The refusal in words (`null` otherwise).
    #[serde(default)]
    pub message: Option<String>,
    /// For a `malformed_record` of the right shape: the protocol's own code (section 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_code: Option<ErrorCode>,
}

impl RecordResult {
    /// An accepted or duplicate record.
    pub fn stored(record_id: impl Into<String>, outcome: RecordOutcome) -> Self {
        Self {
            record_id: record_id.into(),
            outcome,
            code: None,
            message: None,
            protocol_code: None,
        }
    }

    /// A refused record.
    pub fn refused(record_id: impl Into<String>, code: ErrorCode, message: String) -> Self {
        Self {
            record_id: record_id.into(),
            outcome: RecordOutcome::Refused,
            code: Some(code),
            message: Some(message),
            protocol_code: None,
        }
    }
}

/// The answer to `POST /v1/records`: one result per record, in the order sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadAnswer {
    /// The results.
    pub results: Vec<RecordResult>,
}

/// A device as `GET /v1/devices` lists it (11.10.2). Fields a client may not need default,
/// so that an older answer still reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceSummary {
    /// The serial.
    pub serial: String,
    /// The model, if the label carried one.
    #[serde(default)]
    pub model: Option<String>,
    /// Where it stands.
    pub state: DeviceState,
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
    /// The manifest import that announced this device (its id); `null`: the device is in no
    /// manifest.
    #[serde(default)]
    pub expected_from: Option<String>,
    /// Whether the scanned label's key is the manifest's: `true` matching, `false` another
    /// key (the device is then in conflict); `null` when in no manifest or not scanned yet.
    #[serde(default)]
    pub manifest_match: Option<bool>,
}

/// `POST /v1/manifests` (11.10.5): a manifest of expected devices, imported whole or not
/// at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The manifest's text: CSV with a header line, or JSON lines.
    pub manifest: String,
    /// Why (recorded in the audit log), one line of 1 to 500 characters.
    pub reason: String,
    /// A name for the manifest shown in the audit log (the file's name), at most 200
    /// characters.
    #[serde(default)]
    pub source: Option<String>,
}

/// The answer to a manifest import.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportAnswer {
    /// The import's id: `m-` and 16 hex digits of the SHA-256 of the manifest's text.
    pub import_id: String,
    /// Device lines read.
    pub lines: usize,
    /// Devices newly expected.
    pub added: usize,
    /// Devices already known (scanned) that the manifest now lists.
    pub updated: usize,
    /// Devices the manifest lists exactly as stored already (a repeated import: all of them).
    pub unchanged: usize,
}

/// The answer to `GET /v1/devices`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceList {
    /// Most recently changed first.
    pub devices: Vec<DeviceSummary>,
}

/// The body of a review decision or a staff revocation: `{"reason": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    /// Why, in one line of 1 to 500 characters.
    pub reason: String,
}

/// `POST /v1/staff/register` (11.5).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// The invite's one-time code.
    pub code: String,
    /// A PKCS#10 CSR, DER, standard base64.
    pub csr: String,
}

/// `POST /v1/staff/renew` and `POST /v1/device/renew`: `{"csr": "..."}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewRequest {
    /// A PKCS#10 CSR, DER, standard base64.
    pub csr: String,
}

/// The answer to a staff registration or renewal (11.5, 11.9.1a).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffCertificate {
    /// The staff certificate, PEM.
    pub certificate_pem: String,
    /// The CA certificate, PEM.
    pub chain_pem: String,
    /// The member's name.
    pub name: String,
    /// The member's role.
    pub role: Role,
    /// The key id of the CSR's key, 64 hex.
    pub key_id: String,
    /// The certificate's notAfter.
    pub not_after_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_string_round_trips() {
        for code in ErrorCode::TABLE {
            let text = code.as_str();
            assert!(!text.is_empty());
            assert_eq!(&ErrorCode::parse(text), code);
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, alloc::format!("\"{text}\""));
            assert_eq!(&serde_json::from_str::<ErrorCode>(&json).unwrap(), code);
        }
        for text in ProtocolCode::ALL.iter().map(|c| c.as_str()) {
            assert_eq!(ErrorCode::parse(text), ErrorCode::Protocol(text));
            assert_eq!(ErrorCode::parse(text).as_str(), text);
        }
        let unknown = ErrorCode::parse("from_a_newer_server");
        assert_eq!(unknown, ErrorCode::Unknown("from_a_newer_server".into()));
        assert_eq!(unknown.as_str(), "from_a_newer_server");
    }

    #[test]
    fn no_code_string_is_defined_twice() {
        let mut all: Vec<&str> = ErrorCode::TABLE.iter().map(ErrorCode::as_str).collect();
        all.extend(ProtocolCode::ALL.iter().map(|c| c.as_str()));
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count);
    }

    /// The status table of PROTOCOL.md 11, row by row.
    #[test]
    fn status_table() {
        let table: &[(&str, Option<u16>)] = &[
            ("not_found", Some(404)),
            ("bad_path", Some(400)),
            ("bad_query", Some(400)),
            ("bad_content_type", Some(400)),
            ("body_too_large", Some(413)),
            ("request_timeout", Some(408)),
            ("ca_unavailable", Some(503)),
            ("bad_json", Some(400)),
            ("rate_limited", Some(429)),
            ("client_certificate_required", Some(401)),
            ("forbidden", Some(403)),
            ("internal", Some(500)),
            ("bad_request", Some(400)),
            ("conflict", Some(409)),
            ("busy", Some(503)),
            ("refused", Some(403)),
            ("pending_approval", Some(409)),
            ("rejected", Some(409)),
            ("revoked", Some(409)),
            ("already_enrolled", Some(409)),
            ("invite_invalid", Some(403)),
            ("bad_csr", Some(400)),
            ("batch_too_large", Some(413)),
            ("bad_state", Some(400)),
            ("bad_serial", Some(400)),
            ("bad_reason", Some(400)),
            ("bad_role", Some(400)),
            ("bad_name", Some(400)),
            ("bad_server_url", Some(400)),
            ("bad_manifest", Some(400)),
            ("malformed_record", None),
            ("unknown_installer", None),
            ("record_id_reused", None),
            ("bad_encoding", Some(400)),
            ("sequence_gap", Some(400)),
            ("never_heard_of_it", None),
        ];
        assert_eq!(table.len(), ErrorCode::TABLE.len() + 3);
        for (text, status) in table {
            assert_eq!(ErrorCode::parse(text).status(), *status, "{text}");
        }
    }

    #[test]
    fn protocol_codes_match_the_errors() {
        use crate::Error;
        let samples = [
            Error::Empty,
            Error::NotALabel,
            Error::CheckMismatch,
            Error::InvalidKey,
            Error::InvalidDpp("x"),
            Error::InvalidInvite("x"),
            Error::LabelMismatch,
            Error::InstallerMismatch,
            Error::BadSignature,
            Error::ChainBroken,
            Error::OutOfRange("x"),
            Error::SequenceGap {
                expected: 1,
                found: 2,
            },
        ];
        for e in samples {
            assert_eq!(ProtocolCode::parse(e.code()), Some(e.protocol_code()));
            assert_eq!(ErrorCode::parse(e.code()), ErrorCode::of(&e));
        }
        assert!(ErrorCode::parse("sequence_gap").holds_record());
        assert!(!ErrorCode::parse("chain_broken").holds_record());
    }

    #[cfg(feature = "std")]
    #[test]
    fn error_bodies_parse_back() {
        let body = ErrorBody::from_answer(br#"{"code":"pending_approval","message":"wait"}"#);
        assert_eq!(body, ErrorBody::new(ErrorCode::PendingApproval, "wait"));
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(json, r#"{"code":"pending_approval","message":"wait"}"#);
        let newer = ErrorBody::from_answer(br#"{"code":"quota","message":"later"}"#);
        assert_eq!(newer.code, ErrorCode::Unknown("quota".into()));
        let proxy = ErrorBody::from_answer(b"<html>bad gateway</html>");
        assert_eq!(proxy.code, ErrorCode::Unknown(String::new()));
        assert_eq!(proxy.message, "<html>bad gateway</html>");
    }

    #[test]
    fn words_round_trip() {
        for s in DeviceState::ALL {
            assert_eq!(DeviceState::parse(s.as_str()), Some(*s));
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, alloc::format!("\"{}\"", s.as_str()));
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(*r));
        }
        for d in Decision::ALL {
            assert_eq!(Decision::parse(d.as_str()), Some(*d));
            // A decision is logged under its own name.
            assert_eq!(AppActivity::from(*d).as_str(), d.as_str());
        }
        for o in RecordOutcome::ALL {
            assert_eq!(RecordOutcome::parse(o.as_str()), Some(*o));
        }
    }

    /// Each word enum's `as_str` is its serde spelling (the macro derives one from the variant
    /// name and takes the other from the table, so a misspelt row would split them).
    #[test]
    fn every_word_serialises_as_its_string() {
        fn check<T: Serialize + Copy + PartialEq + fmt::Debug>(
            all: &[T],
            text: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for w in all {
                let json = serde_json::to_string(w).unwrap();
                assert_eq!(json, alloc::format!("\"{}\"", text(*w)));
                assert_eq!(parse(text(*w)), Some(*w));
            }
        }
        check(DeviceEvent::ALL, DeviceEvent::as_str, DeviceEvent::parse);
        check(QueueState::ALL, QueueState::as_str, QueueState::parse);
        check(ProtocolCode::ALL, ProtocolCode::as_str, ProtocolCode::parse);
        check(AppErrorCode::ALL, AppErrorCode::as_str, AppErrorCode::parse);
        check(AppActivity::ALL, AppActivity::as_str, AppActivity::parse);
        check(Role::ALL, Role::as_str, Role::parse);
        check(Decision::ALL, Decision::as_str, Decision::parse);
        check(
            RecordOutcome::ALL,
            RecordOutcome::as_str,
            RecordOutcome::parse,
        );
    }

    #[test]
    fn record_results_keep_their_shape() {
        let ok = RecordResult::stored("ab", RecordOutcome::Accepted);
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"record_id":"ab","outcome":"accepted","code":null,"message":null}"#
        );
        let mut bad = RecordResult::refused("cd", ErrorCode::MalformedRecord, "no".into());
        bad.protocol_code = Some(ErrorCode::parse("too_long"));
        assert_eq!(
            serde_json::to_string(&bad).unwrap(),
            r#"{"record_id":"cd","outcome":"refused","code":"malformed_record","message":"no","protocol_code":"too_long"}"#
        );
    }
}
