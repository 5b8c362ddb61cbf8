//! The shared TLS client configuration in real (in-memory) handshakes with a rustls server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::io::{Read, Write};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use vouch_support::tls::{
    client_with_verifier, find_rustls_error, pinned_client, pinned_roots, provider, ClientIdentity,
};
use vouch_support::Error;

struct Ca {
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

/// A CA named `name` (distinct names: a verifier looks the issuer up by name).
fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    Ca {
        der: cert.der().clone(),
        issuer: Issuer::new(params, key),
    }
}

/// A leaf for `name` issued by `ca`: (certificate, PKCS#8 key).
fn leaf(ca: &Ca, name: &str) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec![name.to_string()])
        .unwrap()
        .signed_by(&key, &ca.issuer)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    (cert.der().clone(), key)
}

fn server(
    ca: &Ca,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client_ca: Option<&Ca>,
) -> Arc<ServerConfig> {
    let (cert, key) = leaf(ca, "localhost");
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .unwrap();
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(client_ca) => {
            let mut roots = RootCertStore::empty();
            roots.add(client_ca.der.clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
    };
    Arc::new(builder.with_single_cert(vec![cert], key).unwrap())
}

/// Runs a handshake in memory and one byte of application data; the server's connection on
/// success, the first error either side hit otherwise.
fn handshake(
    client: ClientConfig,
    server: Arc<ServerConfig>,
) -> Result<(ClientConnection, ServerConnection), rustls::Error> {
    let name = ServerName::try_from("localhost").unwrap();
    let mut c = ClientConnection::new(Arc::new(client), name)?;
    let mut s = ServerConnection::new(server)?;
    for _ in 0..20 {
        if !c.is_handshaking() && !s.is_handshaking() {
            break;
        }
        let mut buf = Vec::new();
        c.write_tls(&mut buf).unwrap();
        s.read_tls(&mut &buf[..]).unwrap();
        s.process_new_packets()?;
        let mut buf = Vec::new();
        s.write_tls(&mut buf).unwrap();
        c.read_tls(&mut &buf[..]).unwrap();
        c.process_new_packets()?;
    }
    c.writer().write_all(b"x").unwrap();
    let mut buf = Vec::new();
    c.write_tls(&mut buf).unwrap();
    s.read_tls(&mut &buf[..]).unwrap();
    s.process_new_packets()?;
    let mut got = [0u8; 1];
    s.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"x");
    Ok((c, s))
}

fn roots(ca: &Ca) -> Arc<RootCertStore> {
    Arc::new(pinned_roots([ca.der.clone()]).unwrap())
}

#[test]
fn a_server_of_the_pinned_ca_is_reached_over_tls13_and_tls12() {
    let ca = ca("CA");
    for (versions, expected) in [
        (
            &[&rustls::version::TLS13][..],
            rustls::ProtocolVersion::TLSv1_3,
        ),
        (
            &[&rustls::version::TLS12][..],
            rustls::ProtocolVersion::TLSv1_2,
        ),
    ] {
        let client = pinned_client(roots(&ca), None).unwrap();
        let (c, _) = handshake(client, server(&ca, versions, None)).unwrap();
        assert_eq!(c.protocol_version(), Some(expected));
        // The exporter the device signs works on both (EMS on TLS 1.2).
        c.export_keying_material([0u8; 32], b"EXPORTER-Channel-Binding", Some(&[]))
            .unwrap();
    }
}

#[test]
fn a_server_of_another_ca_is_refused() {
    let (pinned, other) = (ca("pinned CA"), ca("other CA"));
    let client = pinned_client(roots(&pinned), None).unwrap();
    let err = handshake(client, server(&other, rustls::DEFAULT_VERSIONS, None)).unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        ),
        "{err:?}"
    );
}

#[test]
fn a_server_named_otherwise_is_refused() {
    let ca = ca("CA");
    let (cert, key) = leaf(&ca, "elsewhere.example");
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let client = pinned_client(roots(&ca), None).unwrap();
    let err = handshake(client, Arc::new(server)).unwrap_err();
    assert!(
        matches!(
            err,
            rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. }
            )
        ),
        "{err:?}"
    );
}

#[test]
fn every_configuration_requires_ems_and_offers_only_tls13_and_tls12() {
    // rustls' own servers always do EMS, so a server without it cannot be staged here; the
    // flag is what makes rustls refuse one (`Error::PeerIncompatible(ExtendedMasterSecret...)`).
    let ca = ca("CA");
    let pinned = pinned_client(roots(&ca), None).unwrap();
    assert!(pinned.require_ems);
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots(&ca), provider())
            .build()
            .unwrap();
    let custom = client_with_verifier(verifier).unwrap();
    assert!(custom.require_ems);
    let (c, _) = handshake(custom, server(&ca, rustls::DEFAULT_VERSIONS, None)).unwrap();
    assert_eq!(c.protocol_version(), Some(rustls::ProtocolVersion::TLSv1_3));
}

#[test]
fn a_client_certificate_is_presented_when_given() {
    let (server_ca, client_ca) = (ca("server CA"), ca("client CA"));
    let (cert, key) = leaf(&client_ca, "client.example");
    let identity = ClientIdentity {
        cert_chain: vec![cert.clone()],
        key,
    };
    let client = pinned_client(roots(&server_ca), Some(identity)).unwrap();
    let config = server(&server_ca, rustls::DEFAULT_VERSIONS, Some(&client_ca));
    let (_, s) = handshake(client, config.clone()).unwrap();
    assert_eq!(s.peer_certificates().unwrap(), &[cert][..]);

    // Without one, a server that requires it refuses.
    let anonymous = pinned_client(roots(&server_ca), None).unwrap();
    assert!(handshake(anonymous, config).is_err());
}

#[test]
fn a_mismatched_client_key_is_refused_at_setup() {
    let ca = ca("CA");
    let (cert, _) = leaf(&ca, "client.example");
    let (_, other_key) = leaf(&ca, "other.example");
    let identity = ClientIdentity {
        cert_chain: vec![cert],
        key: other_key,
    };
    let err = pinned_client(roots(&ca), Some(identity)).unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err}");
}

#[test]
fn the_trust_store_needs_a_usable_ca() {
    assert!(matches!(pinned_roots([]), Err(Error::NoTrustAnchor)));
    let garbage = CertificateDer::from(vec![0x30, 0x03, 0x02, 0x01, 0x00]);
    assert!(matches!(pinned_roots([garbage]), Err(Error::Tls(_))));
    let empty = Arc::new(RootCertStore::empty());
    assert!(matches!(
        pinned_client(empty, None),
        Err(Error::NoTrustAnchor)
    ));
}

#[derive(Debug)]
struct Wrapper(std::io::Error);

impl std::fmt::Display for Wrapper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("wrapper")
    }
}

impl std::error::Error for Wrapper {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn the_rustls_error_is_found_inside_nested_io_errors() {
    let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
    let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, tls.clone());
    let outer = std::io::Error::other(inner);
    let wrapped = Wrapper(outer);
    assert_eq!(find_rustls_error(&wrapped), Some(&tls));
    assert_eq!(find_rustls_error(&tls), Some(&tls));
    let plain = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
    assert_eq!(find_rustls_error(&plain), None);
}
