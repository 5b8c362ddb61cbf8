//! Server benchmark: enrollments per second over real TLS on loopback with K concurrent
//! clients, through the native protocol and through the EST front door (RFC 7030
//! `simpleenroll`), against the bare rustls mTLS handshake rate measured in the same run; and
//! scan records ingested per second for a batch of 10,000 signed records.
//!
//! Run: `cargo bench -p vouch-server --bench enroll` (env: DEVICES, enrollments per front door;
//! CLIENTS, RECORDS, COMMIT_DELAY_US for the server's `storage.commit_delay_us`, and STORE:
//! `sled`, the default; `postgres`, one instance on a throwaway PostgreSQL cluster from
//! `scripts/pg-cluster.sh`; `postgres2`, two instances on that one database, the devices and
//! the record uploads split between them). CPU per enrollment counts the server instances and,
//! on PostgreSQL, the database's processes too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let devices = env_or("DEVICES", 1500);
    let clients = env_or("CLIENTS", 16);
    let records = env_or("RECORDS", 10_000).max(2 * devices);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(devices, clients, records));
}

/// Which store the benchmark runs on.
#[derive(Clone, Copy, PartialEq)]
enum StoreKind {
    Sled,
    Postgres { instances: usize },
}

fn store_kind() -> StoreKind {
    match std::env::var("STORE").as_deref() {
        Err(_) | Ok("sled") => StoreKind::Sled,
        Ok("postgres") => StoreKind::Postgres { instances: 1 },
        Ok("postgres2") => StoreKind::Postgres { instances: 2 },
        Ok(other) => panic!("STORE={other:?}: use sled, postgres or postgres2"),
    }
}

/// User + system CPU seconds of a PostgreSQL cluster's processes (the postmaster and its
/// children: backends, WAL writer, checkpointer) that are alive now.
fn postgres_cpu_seconds(cluster: Option<&vouch_testkit::PgCluster>) -> f64 {
    let Some(cluster) = cluster else { return 0.0 };
    let pid_file = std::fs::read_to_string(cluster.dir().join("data/postmaster.pid")).unwrap();
    let postmaster = pid_file.lines().next().unwrap().trim().to_string();
    let mut total = cpu_seconds(&postmaster);
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let pid = entry.file_name().to_string_lossy().to_string();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat
            .rsplit(')')
            .next()
            .and_then(|f| f.split_whitespace().nth(1));
        if ppid == Some(postmaster.as_str()) {
            total += cpu_seconds(&pid);
        }
    }
    total
}

/// The instances under test and the database they share, if any.
struct Under {
    servers: Vec<Server>,
    cluster: Option<vouch_testkit::PgCluster>,
}

impl Under {
    /// CPU seconds of every instance and of the database.
    fn server_cpu(&self) -> f64 {
        self.servers
            .iter()
            .map(|s| cpu_seconds(&s.pid().to_string()))
            .sum::<f64>()
            + self.database_cpu()
    }

    fn database_cpu(&self) -> f64 {
        postgres_cpu_seconds(self.cluster.as_ref())
    }
}

async fn run(devices: usize, clients: usize, records: usize) {
    let kind = store_kind();
    let cluster = match kind {
        StoreKind::Sled => None,
        StoreKind::Postgres { .. } => Some(vouch_testkit::PgCluster::start()),
    };
    let store_line = match &cluster {
        None => "url = \"\"".to_string(),
        Some(c) => format!("url = \"{}\"", c.url()),
    };
    let delay = format!("commit_delay_us = {}", env_or("COMMIT_DELAY_US", 500));
    let server = Server::start_with_config(&[
        ("url = \"\"", store_line.as_str()),
        ("commit_delay_us = 500", delay.as_str()),
        (
            "auto_approve_trusted = false",
            "auto_approve_trusted = true",
        ),
        (
            "rate_per_address_per_minute = 120",
            "rate_per_address_per_minute = 100000000",
        ),
        (
            "rate_per_serial_per_minute = 12",
            "rate_per_serial_per_minute = 100000000",
        ),
    ]);
    // The server logs at `info`, its default (the test harness sets VOUCH_LOG_LEVEL=info): one
    // line per request, to a file, as in production.
    let mut servers = vec![server];
    if let StoreKind::Postgres { instances: 2 } = kind {
        let dir = tempfile::tempdir().unwrap();
        common::pg::copy_instance_files(servers[0].data(), dir.path());
        servers.push(Server::serve(dir));
    }
    let mut techs = Vec::new();
    for s in &servers {
        techs.push(register_with(s, "technician", "Bench", &["--trusted"]).await);
    }
    let store_name = match kind {
        StoreKind::Sled => "sled, one instance".to_string(),
        StoreKind::Postgres { instances } => format!("PostgreSQL, {instances} instance(s)"),
    };
    println!("vouch-server bench ({store_name}): {devices} enrollments per front door with {clients} concurrent clients, {records} records, {delay}");

    let fleet: Vec<Device> = (0..records)
        .map(|i| Device::new(&format!("SN-{i:06}")))
        .collect();
    // With two instances, one install uploads to each, at the same time (an install's records
    // form one chain, so one install's batches go in order).
    let share = records.div_ceil(servers.len());
    let signed: Vec<Vec<_>> = fleet
        .chunks(share)
        .zip(techs.iter_mut())
        .map(|(part, tech)| part.iter().map(|d| tech.record(&d.text())).collect())
        .collect();
    let started = Instant::now();
    let uploads =
        signed
            .iter()
            .zip(&techs)
            .zip(&servers)
            .map(|((mine, tech), server)| async move {
                for batch in mine.chunks(1000) {
                    let (status, answer) = tech.upload(server, batch).await;
                    assert_eq!(status, 200, "{answer}");
                    assert!(
                        answer["results"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .all(|r| r["outcome"] == "accepted"),
                        "{answer}"
                    );
                }
            });
    futures::future::join_all(uploads).await;
    let ingest = started.elapsed();
    println!("ingest: {records} records in {:.2} s = {:.0} records/s (batches of 1000, one commit per batch, {} uploading install(s) at once)", ingest.as_secs_f64(), records as f64 / ingest.as_secs_f64(), servers.len());
    let tech = &techs[0];

    // Device-side work that does not depend on the server (the CSR, loading the key) is done
    // before the clock starts, as a device does it before it connects.
    let mut fleet = fleet.into_iter().take(2 * devices).map(Simulated::new);
    let native_fleet: Vec<Simulated> = fleet.by_ref().take(devices).collect();
    let est_fleet: Vec<Simulated> = fleet.collect();
    let (resumed_rate, _) = bare_handshakes(&servers[0], tech, clients, Handshake::Resumed).await;
    let (before_rate, _) = bare_handshakes(&servers[0], tech, clients, Handshake::Full).await;
    let under = Arc::new(Under { servers, cluster });
    let enroll_rate = enroll_fleet(&under, native_fleet, clients, Door::Native).await;
    let est_rate = enroll_fleet(&under, est_fleet, clients, Door::Est).await;
    let server = &under.servers[0];
    // The bare handshake rate is measured just before and just after the enrollments and
    // averaged, so that load from other processes affects both figures alike.
    let cpu_before = cpu_seconds("self");
    let (after_rate, handshakes) = bare_handshakes(server, tech, clients, Handshake::Full).await;
    println!(
        "  CPU per bare handshake (both ends, one process): {:.2} ms",
        (cpu_seconds("self") - cpu_before) * 1000.0 / handshakes as f64
    );
    let handshake_rate = (before_rate + after_rate) / 2.0;
    println!("  bare full handshakes before {before_rate:.0}/s, after {after_rate:.0}/s");
    println!("  (for comparison: resumed mTLS handshakes, session tickets, {resumed_rate:.0}/s)");
    println!("bare rustls mTLS full handshakes (same certificates, {clients} clients, loopback): {handshake_rate:.0}/s");
    println!(
        "ratio enrollments / bare handshakes = {:.2} (goal >= 0.5)",
        enroll_rate / handshake_rate
    );
    println!(
        "EST simpleenroll {est_rate:.0}/s, native {enroll_rate:.0}/s: ratio EST / native = {:.2} (goal >= 0.8)",
        est_rate / enroll_rate
    );
}

/// Which front door the simulated devices enroll through.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Door {
    /// Challenge and completion (PROTOCOL.md 6, 11.6, 11.7), channel-bound.
    Native,
    /// EST `simpleenroll` (PROTOCOL.md 12.3): one request.
    Est,
}

/// Enrolls the whole fleet through `door` with `clients` concurrent clients, each enrollment
/// on a new TLS connection (a first contact never resumes); prints and returns the rate.
async fn enroll_fleet(
    under: &Arc<Under>,
    fleet: Vec<Simulated>,
    clients: usize,
    door: Door,
) -> f64 {
    let devices = fleet.len();
    let fleet = Arc::new(fleet);
    let next = Arc::new(AtomicUsize::new(0));
    // A device builds its TLS configuration (the pinned CA) once at boot.
    let mut device_tls = tls_config(&under.servers[0].ca_pem(), None);
    device_tls.resumption = rustls::client::Resumption::disabled();
    let device_tls = Arc::new(device_tls);
    println!("enrolling ({door:?})...");
    let storage_before = storage_counts(&under.servers).await;
    let cpu_before = (
        cpu_seconds("self"),
        under.server_cpu(),
        under.database_cpu(),
    );
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (fleet, under, next, tls) = (
            fleet.clone(),
            under.clone(),
            next.clone(),
            device_tls.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(device) = fleet.get(i) else { break };
                // With two instances, devices alternate between them (a TCP balancer's share).
                let server = &under.servers[i % under.servers.len()];
                let (status, body) = match door {
                    Door::Native => device.enroll(server, tls.clone()).await,
                    Door::Est => device.enroll_est(server, tls.clone()).await,
                };
                assert_eq!(status, 200, "{body}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let enroll_time = started.elapsed();
    let client_cpu = cpu_seconds("self") - cpu_before.0;
    let server_cpu = under.server_cpu() - cpu_before.1;
    let database_cpu = under.database_cpu() - cpu_before.2;
    let rate = devices as f64 / enroll_time.as_secs_f64();
    let storage_after = storage_counts(&under.servers).await;
    let what = match door {
        Door::Native => "new TLS connection, challenge, completion, CA signature, fsync each",
        Door::Est => "new TLS connection, simpleenroll, CA signature, fsync each",
    };
    println!(
        "{door:?} enroll: {devices} devices in {:.2} s = {rate:.0} enrollments/s ({what})",
        enroll_time.as_secs_f64()
    );
    println!(
        "  CPU per enrollment: server instances (+ PostgreSQL) {:.2} ms, simulated devices {:.2} ms",
        server_cpu * 1000.0 / devices as f64,
        client_cpu * 1000.0 / devices as f64
    );
    if under.cluster.is_some() {
        println!(
            "  of which PostgreSQL's processes {:.2} ms",
            database_cpu * 1000.0 / devices as f64
        );
    }
    let syncs = (storage_after.1 - storage_before.1).max(1.0);
    println!(
        "  storage: {:.0} commits in {syncs:.0} disk syncs ({:.2} commits per flush + fsync)",
        storage_after.0 - storage_before.0,
        (storage_after.0 - storage_before.0) / syncs
    );
    rate
}

/// Which handshakes the bare clients make.
#[derive(Clone, Copy, PartialEq)]
enum Handshake {
    /// Every connection a full handshake: certificates sent and verified both ways (as a
    /// device's first contact is). The baseline of the goal.
    Full,
    /// Clients keep the server's session tickets and resume (no certificates on the wire).
    Resumed,
}

/// Handshakes per second (for 3 s) against a bare tokio-rustls acceptor using the server's own
/// TLS configuration, with the client presenting a staff certificate (mTLS), one byte each way.
async fn bare_handshakes(
    server: &Server,
    staff: &Staff,
    clients: usize,
    kind: Handshake,
) -> (f64, usize) {
    let duration = Duration::from_secs(3);
    let data = server.data();
    let read = |p: &str| std::fs::read_to_string(data.join(p)).unwrap();
    let ca_der = pem_der(&read("ca/ca.pem"));
    let config = vouch_server::tls::server_config(
        &ca_der,
        &read("tls/server.pem"),
        &read("tls/server.key.pem"),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server_task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                break;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    assert!(
                        tls.get_ref().1.peer_certificates().is_some(),
                        "client certificate presented"
                    );
                    let _ = tls.write_all(b"k").await;
                    let _ = tls.flush().await;
                }
            });
        }
    });
    let mut client_config = tls_config(&server.ca_pem(), Some((&staff.cert_pem, &staff.key_pem)));
    if kind == Handshake::Full {
        client_config.resumption = rustls::client::Resumption::disabled();
    }
    let client_config = Arc::new(client_config);
    let done = Arc::new(AtomicUsize::new(0));
    let resumed = Arc::new(AtomicUsize::new(0));
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (config, done, resumed) = (client_config.clone(), done.clone(), resumed.clone());
        tasks.push(tokio::spawn(async move {
            let connector = tokio_rustls::TlsConnector::from(config);
            while Instant::now() < deadline {
                let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                let mut tls = connector
                    .connect(ServerName::try_from("localhost").unwrap(), tcp)
                    .await
                    .unwrap();
                let mut byte = [0u8; 1];
                tls.read_exact(&mut byte).await.unwrap();
                if tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                    resumed.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let started = Instant::now();
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    server_task.abort();
    let count = done.load(Ordering::Relaxed);
    let resumed = resumed.load(Ordering::Relaxed);
    assert!(
        (kind == Handshake::Full) == (resumed == 0),
        "{resumed} of {count} handshakes resumed"
    );
    (count as f64 / elapsed.as_secs_f64(), count)
}

/// The (commits, disk syncs) counters of every instance, summed, from their /metrics.
async fn storage_counts(servers: &[Server]) -> (f64, f64) {
    let mut total = (0.0, 0.0);
    for server in servers {
        let (commits, syncs) = instance_storage_counts(server).await;
        total = (total.0 + commits, total.1 + syncs);
    }
    total
}

async fn instance_storage_counts(server: &Server) -> (f64, f64) {
    let client = http(server, None);
    let text = client
        .get(format!("{}/metrics", server.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} missing from /metrics"))
    };
    (
        value("vouch_storage_commits_total "),
        value("vouch_storage_syncs_total "),
    )
}

/// User + system CPU seconds of a process (`self` or a pid), from /proc.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after_comm = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| {
        f.iter().filter_map(|v| v.parse::<f64>().ok()).sum()
    });
    ticks / 100.0
}

/// A simulated device: its CSR made in advance, its label key loaded into ring for signing.
struct Simulated {
    device: Device,
    csr: Vec<u8>,
    signer: ring::signature::EcdsaKeyPair,
}

impl Simulated {
    fn new(device: Device) -> Self {
        use vouch_protocol::p256::pkcs8::EncodePrivateKey;
        let pkcs8 = device.key.to_pkcs8_der().unwrap();
        let rng = ring::rand::SystemRandom::new();
        let signer = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_bytes(),
            &rng,
        )
        .unwrap();
        let csr = csr_for(&device.key, device.serial());
        Self {
            device,
            csr,
            signer,
        }
    }

    /// EST `simpleenroll` over one new TLS connection: the CSR (made in advance, as for the
    /// native enrollment), base64; the answer's certificate checked to be there.
    async fn enroll_est(
        &self,
        server: &Server,
        config: Arc<rustls::ClientConfig>,
    ) -> (u16, serde_json::Value) {
        let mut conn = Conn::open_with(server, config).await;
        let body = data_encoding::BASE64.encode(&self.csr);
        let (status, _, answer) = conn
            .send(
                "POST",
                "/.well-known/est/simpleenroll",
                "application/pkcs10",
                body.as_bytes(),
            )
            .await;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        if status == 200 {
            assert!(answer.starts_with("MII"), "{answer}");
        }
        (status, serde_json::Value::String(answer))
    }

    /// Challenge and completion over one new TLS connection, channel-bound.
    async fn enroll(
        &self,
        server: &Server,
        config: Arc<rustls::ClientConfig>,
    ) -> (u16, serde_json::Value) {
        use vouch_protocol::enroll::{
            encode_base64, ChannelBinding, EnrollMode, EnrollRequest, EnrollmentMessage, Nonce,
        };
        let mut conn = Conn::open_with(server, config).await;
        let (status, challenge) = conn
            .request(
                "POST",
                "/v1/enroll/challenge",
                &serde_json::json!({"serial": self.device.serial()}),
            )
            .await;
        assert_eq!(status, 200, "{challenge}");
        let nonce = challenge["nonce"].as_str().unwrap();
        let message = EnrollmentMessage {
            mode: EnrollMode::SameKey,
            nonce: Nonce::from_hex(nonce).unwrap(),
            serial: self.device.label.serial(),
            csr_der: &self.csr,
            channel_binding: Some(conn.exporter()),
        };
        let signature = self
            .signer
            .sign(&ring::rand::SystemRandom::new(), &message.signed_bytes())
            .unwrap();
        let request = EnrollRequest {
            serial: self.device.serial().to_string(),
            nonce: nonce.to_string(),
            mode: EnrollMode::SameKey,
            csr: encode_base64(&self.csr),
            channel_binding: ChannelBinding::TlsExporter,
            signature: vouch_protocol::key::hex(signature.as_ref()),
        };
        conn.request(
            "POST",
            "/v1/enroll/complete",
            &serde_json::to_value(request).unwrap(),
        )
        .await
    }
}
