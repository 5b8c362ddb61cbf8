//! The CA key in a PKCS#11 token (issue 17): the key is made inside the token, marked sensitive
//! and never extractable, and every CA signature is asked of the token.
//!
//! The key is named by an RFC 7512 URI (`pkcs11:token=...;object=...`), kept in the data folder
//! (`ca/ca.key.uri`); how to reach the token (the module, where the PIN comes from) is the
//! configuration's `[pkcs11]` section. The PIN is read from a file or an environment variable,
//! never from the command line, and never logged.
//!
//! Signing uses raw `CKM_ECDSA`, which every token that has P-256 offers (the combined
//! `CKM_ECDSA_SHA256` is optional): the message is hashed here with SHA-256 and the token's
//! `r || s` answer is re-encoded as the DER `ECDSA-Sig-Value` X.509 wants.
//!
//! One session is kept and shared behind a lock. When a signature fails (the token was pulled,
//! the module lost it), the session is dropped and the next signature opens a new one, so the
//! server recovers by itself once the token is back.

use std::sync::{Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use rcgen::{PublicKeyData, SignatureAlgorithm, SigningKey};

use crate::config::Pkcs11Config;
use crate::error::{Failure, ServerError};

/// DER of the named curve P-256 (OID 1.2.840.10045.3.1.7), the `CKA_EC_PARAMS` of our keys.
const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// The parts of an RFC 7512 PKCS#11 URI that name the CA key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUri {
    /// The token's label (`token=`).
    pub token: String,
    /// The key's label (`object=`).
    pub object: String,
    /// The key's `CKA_ID` (`id=`), when given.
    pub id: Option<Vec<u8>>,
    text: String,
}

impl KeyUri {
    /// Parses `pkcs11:token=...;object=...[;id=...][;type=private]`. Refuses a PIN in the URI
    /// (`pin-value`, `pin-source`): URIs end up in shell histories and process lists.
    pub fn parse(text: &str) -> Result<Self, ServerError> {
        let bad = |why: String| {
            ServerError::Config(Failure::new(format!("--ca-key-uri {text:?}: {why}")))
        };
        let rest = text
            .strip_prefix("pkcs11:")
            .ok_or_else(|| bad("a PKCS#11 URI starts with \"pkcs11:\" (RFC 7512)".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if let Some(attr) = query.split('&').find(|a| !a.is_empty()) {
            let name = attr.split_once('=').map_or(attr, |(n, _)| n);
            return Err(bad(if name.starts_with("pin-") {
                "the PIN never goes in the URI: name a file or an environment variable in \
                 config.toml [pkcs11] (pin_file, pin_env)"
                    .into()
            } else {
                format!("query attribute {name:?} is not supported (the module is [pkcs11] module in config.toml)")
            }));
        }
        let (mut token, mut object, mut id) = (None, None, None);
        for attr in path.split(';').filter(|a| !a.is_empty()) {
            let (name, value) = attr
                .split_once('=')
                .ok_or_else(|| bad(format!("{attr:?} is not name=value")))?;
            let value =
                percent_decode(value).ok_or_else(|| bad(format!("bad %-escape in {attr:?}")))?;
            match name {
                "token" => {
                    token = Some(utf8(value).ok_or_else(|| bad("token is not UTF-8".into()))?)
                }
                "object" => {
                    object = Some(utf8(value).ok_or_else(|| bad("object is not UTF-8".into()))?)
                }
                "id" => id = Some(value),
                "type" if value == b"private" => {}
                "type" => {
                    return Err(bad(
                        "the CA key is a private key: type must be \"private\"".into()
                    ))
                }
                other => {
                    return Err(bad(format!(
                        "attribute {other:?} is not supported (use token, object, id)"
                    )))
                }
            }
        }
        match (token, object) {
            (Some(token), Some(object)) if !token.is_empty() && !object.is_empty() => Ok(Self {
                token,
                object,
                id,
                text: text.to_string(),
            }),
            _ => Err(bad("both token= and object= are needed".into())),
        }
    }

    /// The URI as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

fn utf8(bytes: Vec<u8>) -> Option<String> {
    String::from_utf8(bytes).ok()
}

/// RFC 3986 percent-decoding (RFC 7512 values are percent-encoded bytes).
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Reads the token's user PIN from `pin_file` if set, else from the variable `pin_env`.
fn read_pin(config: &Pkcs11Config) -> Result<AuthPin, ServerError> {
    let pin = if config.pin_file.as_os_str().is_empty() {
        std::env::var(&config.pin_env).map_err(|_| {
            ServerError::Config(Failure::new(format!(
                "the token's PIN: set the environment variable {} (config.toml [pkcs11] pin_env), \
                 or name a file in [pkcs11] pin_file",
                config.pin_env
            )))
        })?
    } else {
        let path = config.pin_file.as_path();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServerError::io("reading the PIN file", path, e))?;
        text.lines().next().unwrap_or_default().to_string()
    };
    if pin.is_empty() {
        return Err(ServerError::Config(Failure::new(
            "the token's PIN is empty",
        )));
    }
    Ok(AuthPin::from(pin))
}

/// Loads and initialises the PKCS#11 module.
fn load_module(path: &str) -> Result<Pkcs11, ServerError> {
    let pkcs11 = Pkcs11::new(path).map_err(|e| {
        ServerError::Authority(Failure::new(format!(
            "cannot load the PKCS#11 module {path}: {e} (install it, or set [pkcs11] module in \
             config.toml)"
        )))
    })?;
    match pkcs11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        // Another part of this process (a test, a second authority) may have initialised it.
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(pkcs11),
        Err(e) => Err(ServerError::Authority(Failure::caused(
            format!("the PKCS#11 module {path}"),
            e,
        ))),
    }
}

/// The slot holding the token labelled `label`.
fn find_slot(pkcs11: &Pkcs11, label: &str) -> Result<Slot, ServerError> {
    let slots = pkcs11
        .get_slots_with_initialized_token()
        .map_err(|e| ServerError::Authority(Failure::caused("listing the PKCS#11 tokens", e)))?;
    let mut seen = Vec::new();
    for slot in slots {
        let Ok(info) = pkcs11.get_token_info(slot) else {
            continue;
        };
        if info.label().trim_end() == label {
            return Ok(slot);
        }
        seen.push(format!("{:?}", info.label().trim_end()));
    }
    Err(ServerError::Authority(Failure::new(format!(
        "no PKCS#11 token labelled {label:?} (tokens present: {})",
        if seen.is_empty() {
            "none".to_string()
        } else {
            seen.join(", ")
        }
    ))))
}

/// Opens a session on the URI's token and logs the user in.
fn open_session(
    pkcs11: &Pkcs11,
    uri: &KeyUri,
    pin: &AuthPin,
    rw: bool,
) -> Result<Session, ServerError> {
    let slot = find_slot(pkcs11, &uri.token)?;
    let session = if rw {
        pkcs11.open_rw_session(slot)
    } else {
        pkcs11.open_ro_session(slot)
    }
    .map_err(|e| {
        ServerError::Authority(Failure::caused(
            format!("opening a session on token {:?}", uri.token),
            e,
        ))
    })?;
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(CkError::Pkcs11(RvError::PinIncorrect, _)) => {
            Err(ServerError::Authority(Failure::new(format!(
                "wrong PIN for token {:?} (the token counts failed logins and may lock the PIN)",
                uri.token
            ))))
        }
        Err(e) => Err(ServerError::Authority(Failure::caused(
            format!("logging in to token {:?}", uri.token),
            e,
        ))),
    }
}

/// The template that finds the URI's key objects of `class`.
fn template(uri: &KeyUri, class: ObjectClass) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(class),
        Attribute::KeyType(KeyType::EC),
        Attribute::Label(uri.object.as_bytes().to_vec()),
    ];
    if let Some(id) = &uri.id {
        t.push(Attribute::Id(id.clone()));
    }
    t
}

/// The one object of `class` the URI names, if any.
fn find_one(
    session: &Session,
    uri: &KeyUri,
    class: ObjectClass,
) -> Result<Option<ObjectHandle>, ServerError> {
    let found = session.find_objects(&template(uri, class)).map_err(|e| {
        ServerError::Authority(Failure::caused(
            format!("searching token {:?}", uri.token),
            e,
        ))
    })?;
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(*one)),
        _ => Err(ServerError::Authority(Failure::new(format!(
            "{} EC keys are labelled {:?} in token {:?}: add id= to the URI to choose one",
            found.len(),
            uri.object,
            uri.token
        )))),
    }
}

/// The private key the URI names; a clear error when there is none.
fn find_private_key(session: &Session, uri: &KeyUri) -> Result<ObjectHandle, ServerError> {
    find_one(session, uri, ObjectClass::PRIVATE_KEY)?.ok_or_else(|| {
        ServerError::Authority(Failure::new(format!(
            "no EC private key labelled {:?} in token {:?} (init --new-ca-key makes one)",
            uri.object, uri.token
        )))
    })
}

/// The uncompressed P-256 point of the URI's public key object.
fn public_point(session: &Session, uri: &KeyUri) -> Result<Vec<u8>, ServerError> {
    let handle = find_one(session, uri, ObjectClass::PUBLIC_KEY)?.ok_or_else(|| {
        ServerError::Authority(Failure::new(format!(
            "no EC public key labelled {:?} in token {:?} beside the private key",
            uri.object, uri.token
        )))
    })?;
    let attrs = session
        .get_attributes(handle, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(|e| ServerError::Authority(Failure::caused("reading the public key", e)))?;
    let (mut params, mut point) = (None, None);
    for attr in attrs {
        match attr {
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    if params.as_deref() != Some(&P256_PARAMS[..]) {
        return Err(ServerError::Authority(Failure::new(format!(
            "the key {:?} is not a P-256 key",
            uri.object
        ))));
    }
    point.and_then(|p| unwrap_ec_point(&p)).ok_or_else(|| {
        ServerError::Authority(Failure::new(format!(
            "the key {:?} has no readable P-256 point",
            uri.object
        )))
    })
}

/// `CKA_EC_POINT` is the DER OCTET STRING of the point (PKCS#11 2.40); some modules give the
/// bare point. Either way, the 65-byte uncompressed point.
fn unwrap_ec_point(value: &[u8]) -> Option<Vec<u8>> {
    match value {
        [0x04, 65, rest @ ..] if rest.len() == 65 && rest[0] == 0x04 => Some(rest.to_vec()),
        [0x04, ..] if value.len() == 65 => Some(value.to_vec()),
        _ => None,
    }
}

/// Refuses a key the token would let out: the point of a token is that the key stays in it.
fn check_protected(session: &Session, key: ObjectHandle, uri: &KeyUri) -> Result<(), ServerError> {
    let attrs = session
        .get_attributes(key, &[AttributeType::Sensitive, AttributeType::Extractable])
        .map_err(|e| ServerError::Authority(Failure::caused("reading the key's attributes", e)))?;
    let protected = attrs.iter().all(|a| match a {
        Attribute::Sensitive(s) => *s,
        Attribute::Extractable(x) => !*x,
        _ => true,
    }) && attrs.len() == 2;
    if protected {
        Ok(())
    } else {
        Err(ServerError::Authority(Failure::new(format!(
            "the key {:?} in token {:?} is not marked sensitive and non-extractable: its value \
             could be read out of the token; make a new one (init --new-ca-key)",
            uri.object, uri.token
        ))))
    }
}

/// Makes a P-256 key pair in the token: private half sensitive, never extractable, sign only.
fn generate(session: &Session, uri: &KeyUri) -> Result<(), ServerError> {
    if find_one(session, uri, ObjectClass::PRIVATE_KEY)?.is_some() {
        return Err(ServerError::Authority(Failure::new(format!(
            "token {:?} already holds a key labelled {:?}: refusing to make another (drop \
             --new-ca-key to use it)",
            uri.token, uri.object
        ))));
    }
    let id = match &uri.id {
        Some(id) => id.clone(),
        None => super::random_serial()?.to_vec(),
    };
    let label = uri.object.as_bytes().to_vec();
    let public = [
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Verify(true),
        Attribute::Encrypt(false),
        Attribute::Wrap(false),
        Attribute::EcParams(P256_PARAMS.to_vec()),
        Attribute::Label(label.clone()),
        Attribute::Id(id.clone()),
    ];
    let private = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
        Attribute::Label(label),
        Attribute::Id(id),
    ];
    session
        .generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .map_err(|e| {
            ServerError::Authority(Failure::caused(
                format!("making a P-256 key in token {:?}", uri.token),
                e,
            ))
        })?;
    Ok(())
}

/// An open, logged-in session and the key's handle in it.
struct Open {
    session: Session,
    key: ObjectHandle,
}

/// The CA's private key, held by a PKCS#11 token; signs through it (rcgen's [`SigningKey`]).
pub struct TokenKey {
    pkcs11: Pkcs11,
    uri: KeyUri,
    pin: AuthPin,
    point: Vec<u8>,
    open: Mutex<Option<Open>>,
    last_error: Mutex<String>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKey")
            .field("uri", &self.uri.text)
            .finish_non_exhaustive()
    }
}

impl TokenKey {
    /// Opens the key the URI names (with `new_key`, first makes it: refused if one exists).
    /// Checks that it is a sensitive, non-extractable P-256 key.
    pub fn open(config: &Pkcs11Config, uri: KeyUri, new_key: bool) -> Result<Self, ServerError> {
        let pin = read_pin(config)?;
        let pkcs11 = load_module(&config.module)?;
        let session = open_session(&pkcs11, &uri, &pin, new_key)?;
        if new_key {
            generate(&session, &uri)?;
        }
        let key = find_private_key(&session, &uri)?;
        check_protected(&session, key, &uri)?;
        let point = public_point(&session, &uri)?;
        Ok(Self {
            pkcs11,
            uri,
            pin,
            point,
            open: Mutex::new(Some(Open { session, key })),
            last_error: Mutex::new(String::new()),
        })
    }

    /// The key's URI.
    pub fn uri(&self) -> &KeyUri {
        &self.uri
    }

    /// Why the last signature failed (empty if none did).
    pub fn last_error(&self) -> String {
        lock(&self.last_error).clone()
    }

    /// A new session after a failure. The module is finalised and initialised again first: a
    /// module that lost its token may not see it come back otherwise (SoftHSM2 answers
    /// CKR_GENERAL_ERROR until then). Only this key uses the module, and it holds no other
    /// session, so nothing else is cut off.
    fn reopen(&self) -> Result<Open, ServerError> {
        let _ = self.pkcs11.clone().finalize();
        match self
            .pkcs11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        {
            Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
            Err(e) => {
                return Err(ServerError::Authority(Failure::caused(
                    "re-initialising the PKCS#11 module",
                    e,
                )))
            }
        }
        let session = open_session(&self.pkcs11, &self.uri, &self.pin, false)?;
        let key = find_private_key(&session, &self.uri)?;
        Ok(Open { session, key })
    }

    /// One signature of a SHA-256 digest. A session that fails (it may have gone stale while
    /// the token was away) is dropped and one new session tried at once; when that fails too,
    /// the error goes back and the next signature tries again.
    fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, ServerError> {
        let mut open = lock(&self.open);
        if let Some(o) = open.as_ref() {
            match o.session.sign(&Mechanism::Ecdsa, o.key, digest) {
                Ok(raw) => return raw_to_der(&raw),
                Err(e) => {
                    tracing::warn!(error = %e, "the CA key's token session failed: re-opening it");
                    *open = None;
                }
            }
        }
        let o = self.reopen()?;
        let raw = o
            .session
            .sign(&Mechanism::Ecdsa, o.key, digest)
            .map_err(|e| {
                ServerError::Authority(Failure::caused(
                    format!("token {:?} could not sign", self.uri.token),
                    e,
                ))
            })?;
        *open = Some(o);
        raw_to_der(&raw)
    }
}

/// A lock that survives a panic elsewhere (the data under it stays consistent: a session or
/// none, a message).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The DER `ECDSA-Sig-Value` of a raw P-256 `r || s` signature (checks both are in range).
fn raw_to_der(raw: &[u8]) -> Result<Vec<u8>, ServerError> {
    let signature = vouch_protocol::p256::ecdsa::Signature::from_slice(raw).map_err(|_| {
        ServerError::Authority(Failure::new(format!(
            "the token's signature is not a P-256 r||s ({} bytes)",
            raw.len()
        )))
    })?;
    Ok(signature.to_der().as_bytes().to_vec())
}

impl PublicKeyData for TokenKey {
    fn der_bytes(&self) -> &[u8] {
        &self.point
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for TokenKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        let digest = vouch_protocol::key::sha256(msg);
        self.sign_digest(&digest).map_err(|e| {
            tracing::error!(error = %e, "CA signature failed");
            *lock(&self.last_error) = e.to_string();
            rcgen::Error::RemoteKeyError
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_and_pins_in_them_are_refused() {
        let uri =
            KeyUri::parse("pkcs11:token=Vouch%20CA;object=ca;id=%01%02;type=private").unwrap();
        assert_eq!(
            (uri.token.as_str(), uri.object.as_str()),
            ("Vouch CA", "ca")
        );
        assert_eq!(uri.id, Some(vec![1, 2]));
        for bad in [
            "token=a;object=b",
            "pkcs11:token=a",
            "pkcs11:token=a;object=b?pin-value=1234",
            "pkcs11:token=a;object=b?module-path=/x.so",
            "pkcs11:token=a;object=b;type=cert",
            "pkcs11:token=a;object=b;slot-id=1",
            "pkcs11:token=a%2;object=b",
        ] {
            assert!(KeyUri::parse(bad).is_err(), "{bad}");
        }
        let err = KeyUri::parse("pkcs11:token=a;object=b?pin-value=1234")
            .unwrap_err()
            .to_string();
        assert!(err.contains("PIN never goes in the URI"), "{err}");
    }

    #[test]
    fn raw_signatures_become_der() {
        let mut raw = [0u8; 64];
        raw[31] = 1;
        raw[63] = 0x80;
        let der = raw_to_der(&raw).unwrap();
        assert_eq!(der, [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80]);
        assert!(raw_to_der(&[0u8; 64]).is_err());
        assert!(raw_to_der(&[1u8; 63]).is_err());
    }
}
