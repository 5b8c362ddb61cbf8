//! The admin client: admin commands talk to the running server over mTLS with the operator
//! credential (sled allows one process per database, so they never open it themselves). TLS is
//! the configuration every Vouch client shares (`vouch_support::tls`: the data folder's CA as
//! the only trust anchor, TLS 1.3 or 1.2 with EMS, which the server requires anyway).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use vouch_protocol::wire::ErrorBody;

use crate::authority::files::{pem_to_der, read_text, DataPaths};
use crate::config::Config;
use crate::error::{Failure, ServerError};

/// An mTLS client for the admin API.
pub struct AdminClient {
    http: reqwest::Client,
    base: String,
}

fn client_err(e: impl std::error::Error + Send + Sync + 'static) -> ServerError {
    ServerError::Client(Failure::of(e))
}

impl AdminClient {
    /// Connects using `DATA`'s operator credential, CA and the running server's address.
    pub fn from_data_dir(data_dir: &Path) -> Result<Self, ServerError> {
        let paths = DataPaths::new(data_dir);
        if !paths.operator_key().exists() {
            return Err(ServerError::Client(Failure::new(format!(
                "{} has no operator credential: run `vouch-server init --data {}` first",
                data_dir.display(),
                data_dir.display()
            ))));
        }
        let address = running_address(data_dir)?;
        let ca = CertificateDer::from(pem_to_der(&read_text(&paths.ca_cert())?, "CERTIFICATE")?);
        let cert = CertificateDer::from(pem_to_der(
            &read_text(&paths.operator_cert())?,
            "CERTIFICATE",
        )?);
        let key = PrivateKeyDer::try_from(pem_to_der(
            &read_text(&paths.operator_key())?,
            "PRIVATE KEY",
        )?)
        // rustls says what is wrong with the key in a fixed sentence, not an error type.
        .map_err(|why| ServerError::Client(Failure::new(why)))?;
        let roots = vouch_support::tls::pinned_roots([ca]).map_err(client_err)?;
        let identity = vouch_support::tls::ClientIdentity {
            cert_chain: vec![cert],
            key,
        };
        let tls = vouch_support::tls::pinned_client(Arc::new(roots), Some(identity))
            .map_err(client_err)?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .resolve("localhost", address)
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(client_err)?;
        Ok(Self {
            http,
            base: format!("https://localhost:{}", address.port()),
        })
    }

    /// The base URL used.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends a request and returns the JSON answer, or the server's error message.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ServerError> {
        let text = self.call_text(method, path, body).await?;
        serde_json::from_str(&text).map_err(|e| {
            ServerError::Client(Failure::caused(
                "the server answered something that is not JSON",
                e,
            ))
        })
    }

    /// [`AdminClient::call`] for a request that may take longer than the usual 30 seconds.
    pub async fn call_with_timeout(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        timeout: Duration,
    ) -> Result<Value, ServerError> {
        let text = self.send(method, path, body, Some(timeout)).await?;
        serde_json::from_str(&text).map_err(|e| {
            ServerError::Client(Failure::caused(
                "the server answered something that is not JSON",
                e,
            ))
        })
    }

    /// `GET path` for a large binary answer that may take up to `timeout`.
    pub async fn get_bytes(&self, path: &str, timeout: Duration) -> Result<Vec<u8>, ServerError> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(client_err)?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        Err(ServerError::Refused {
            status: status.as_u16(),
            body: ErrorBody::from_answer(&bytes),
        })
    }

    fn unreachable(&self, e: reqwest::Error) -> ServerError {
        ServerError::Client(Failure::new(format!(
            "cannot reach the server at {}: {e} (is `vouch-server serve` running?)",
            self.base
        )))
    }

    /// Sends a request and returns the answer's text.
    pub async fn call_text(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<String, ServerError> {
        self.send(method, path, body, None).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        timeout: Option<Duration>,
    ) -> Result<String, ServerError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let status = response.status();
        let text = response.text().await.map_err(client_err)?;
        if status.is_success() {
            return Ok(text);
        }
        Err(ServerError::Refused {
            status: status.as_u16(),
            body: ErrorBody::from_answer(text.as_bytes()),
        })
    }
}

/// The address of the server running on `data_dir` (from `server.addr`, else the config).
pub fn running_address(data_dir: &Path) -> Result<SocketAddr, ServerError> {
    let paths = DataPaths::new(data_dir);
    let mut address = match std::fs::read_to_string(paths.address_file()) {
        Ok(text) => text.trim().parse::<SocketAddr>().map_err(|_| {
            ServerError::Client(Failure::new(format!(
                "{} is not an address",
                paths.address_file().display()
            )))
        })?,
        Err(_) => Config::load(data_dir)?.listen,
    };
    if address.ip().is_unspecified() {
        address.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    Ok(address)
}

/// Convenience for callers that have no tokio runtime of their own.
pub fn block_on<T>(future: impl std::future::Future<Output = T>) -> Result<T, ServerError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(client_err)?;
    Ok(runtime.block_on(future))
}
