//! Slow, silent and greedy clients against the real `vouch-server` binary: half-sent heads and
//! bodies are cut off by their deadlines while others are served; connections over the
//! per-address and global limits are refused cleanly (and idle ones make room); a body the
//! server refuses unread gets its answer with `Connection: close` and a clean TLS close; and
//! with few file descriptors the server neither spins nor floods its log, and still answers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rustls::pki_types::ServerName;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_rustls::client::TlsStream;
use vouch_testkit::ServerProcess;

/// Generous slack on every deadline: the machine running the tests may be busy.
const SLACK: Duration = Duration::from_secs(10);

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A TCP connection to `addr` from `source` (any 127.0.0.0/8 address is loopback on Linux).
async fn tcp_from(source: IpAddr, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source, 0)).unwrap();
    socket.connect(addr).await.unwrap()
}

async fn tls_from(server: &ServerProcess, source: IpAddr) -> std::io::Result<TlsStream<TcpStream>> {
    let config = Arc::new(tls_config(&server.ca_pem(), None));
    let tcp = tcp_from(source, server.addr).await;
    tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// Reads until the server closes; the bytes, and whether it closed with a TLS close_notify.
async fn read_to_close(tls: &mut TlsStream<TcpStream>) -> (Vec<u8>, bool) {
    let mut all = Vec::new();
    let mut chunk = [0u8; 16384];
    loop {
        match tls.read(&mut chunk).await {
            Ok(0) => return (all, true),
            Ok(n) => all.extend_from_slice(&chunk[..n]),
            Err(_) => return (all, false),
        }
    }
}

/// An HTTP/1.1 answer: status, lower-cased head, JSON body (or Null).
fn parse_answer(bytes: &[u8]) -> (u16, String, Value) {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return (0, text.to_lowercase(), Value::Null);
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = serde_json::from_str(body).unwrap_or(Value::Null);
    (status, head.to_lowercase(), body)
}

/// `GET /healthz` on a fresh connection from `source`; the status (0: no answer in 10 s).
async fn healthz_from(server: &ServerProcess, source: IpAddr) -> u16 {
    let attempt = async {
        let mut tls = tls_from(server, source).await.ok()?;
        let request = "GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
        tls.write_all(request.as_bytes()).await.ok()?;
        Some(parse_answer(&read_to_close(&mut tls).await.0).0)
    };
    tokio::time::timeout(Duration::from_secs(10), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
}

const HALF_HEAD: &str = "POST /v1/enroll/challenge HTTP/1.1\r\nhost: localhost\r\ncontent-";

fn half_body_head() -> String {
    "POST /v1/enroll/challenge HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
     content-length: 1000\r\n\r\n{\"serial\":"
        .to_string()
}

/// Opens a TLS connection from `source` and sends `partial`; the stream and when it was sent.
async fn send_partial(
    server: &ServerProcess,
    source: IpAddr,
    partial: &str,
) -> (TlsStream<TcpStream>, Instant) {
    let mut tls = tls_from(server, source).await.unwrap();
    tls.write_all(partial.as_bytes()).await.unwrap();
    tls.flush().await.unwrap();
    (tls, Instant::now())
}

/// Watches a slow connection until the server closes it: (seconds it stayed open after the
/// partial request, the answer it got).
fn watch_close(
    mut tls: TlsStream<TcpStream>,
    sent: Instant,
) -> tokio::task::JoinHandle<(f64, Vec<u8>)> {
    tokio::spawn(async move {
        let (bytes, _) = tokio::time::timeout(Duration::from_secs(120), read_to_close(&mut tls))
            .await
            .expect("the server never closed a slow connection");
        (sent.elapsed().as_secs_f64(), bytes)
    })
}

/// Scan, approve and enroll a device over its own connection: the path that must keep working.
async fn enroll_one(server: &Server, serial: &str) {
    let mut tech = register(server, "technician", "T").await;
    let device = Device::new(serial);
    let (status, answer) = tech.scan_and_upload(server, &device.text()).await;
    assert_eq!(status, 200, "{answer}");
    server.admin_ok(&["device", "approve", serial, "--reason", "ok"]);
    let (status, body, _) = enroll(server, &device, &EnrollOptions::default()).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_heads_and_bodies_are_cut_off_while_others_are_served() {
    let server = Server::start_with_config(&[
        ("header_timeout_secs = 10", "header_timeout_secs = 2"),
        ("body_timeout_secs = 60", "body_timeout_secs = 3"),
        ("idle_timeout_secs = 30", "idle_timeout_secs = 5"),
        (
            "max_connections_per_address = 64",
            "max_connections_per_address = 1000",
        ),
    ]);
    let source = loopback(1);
    let mut heads = Vec::new();
    let mut bodies = Vec::new();
    for _ in 0..200 {
        let (tls, sent) = send_partial(&server, source, HALF_HEAD).await;
        heads.push(watch_close(tls, sent));
        let (tls, sent) = send_partial(&server, source, &half_body_head()).await;
        bodies.push(watch_close(tls, sent));
    }
    // While they hang (or are being cut off), others are served.
    assert_eq!(healthz_from(&server, source).await, 200);
    enroll_one(&server, "SN-SLOW-1").await;
    assert_eq!(healthz_from(&server, source).await, 200);

    for head in heads {
        let (open_secs, answer) = head.await.unwrap();
        assert!(
            (1.5..2.0 + SLACK.as_secs_f64()).contains(&open_secs),
            "a half-sent head stayed open {open_secs:.1} s (limit 2 s)"
        );
        assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    }
    for body in bodies {
        let (open_secs, answer) = body.await.unwrap();
        assert!(
            (2.5..3.0 + SLACK.as_secs_f64()).contains(&open_secs),
            "a half-sent body stayed open {open_secs:.1} s (limit 3 s)"
        );
        let (status, head, json) = parse_answer(&answer);
        assert_eq!(
            (status, json["code"].as_str()),
            (408, Some("request_timeout"))
        );
        assert!(head.contains("connection: close"), "{head}");
    }
    assert_eq!(healthz_from(&server, source).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_closed_after_the_idle_timeout() {
    let server = Server::start_with_config(&[("idle_timeout_secs = 30", "idle_timeout_secs = 2")]);
    let mut tls = tls_from(&server, loopback(1)).await.unwrap();
    let opened = Instant::now();
    let (bytes, _) = tokio::time::timeout(SLACK * 2, read_to_close(&mut tls))
        .await
        .expect("an idle connection stayed open");
    let open_secs = opened.elapsed().as_secs_f64();
    assert!(bytes.is_empty());
    assert!(
        (1.5..2.0 + SLACK.as_secs_f64()).contains(&open_secs),
        "{open_secs:.1} s"
    );
}

/// Sends the head of a body the server will not read, then the whole 10 MiB body; the answer.
async fn send_unread_body(server: &Server, content_type: &str) -> (u16, String, Value, bool) {
    let size = 10 * 1024 * 1024;
    let mut tls = tls_from(server, loopback(1)).await.unwrap();
    let head = format!(
        "POST /v1/enroll/challenge HTTP/1.1\r\nhost: localhost\r\ncontent-type: {content_type}\r\n\
         content-length: {size}\r\n\r\n"
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    // The whole body, as a simple client sends it before it reads the answer.
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..size / chunk.len() {
        tls.write_all(&chunk)
            .await
            .expect("the server reset the connection while the body was sent");
    }
    tls.flush().await.unwrap();
    let (bytes, clean) = tokio::time::timeout(SLACK, read_to_close(&mut tls))
        .await
        .expect("no answer");
    let (status, head, json) = parse_answer(&bytes);
    (status, head, json, clean)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_body_is_answered_with_connection_close_and_a_clean_close() {
    let server = Server::start();
    let (status, head, json, clean) = send_unread_body(&server, "application/json").await;
    assert_eq!(
        (status, json["code"].as_str()),
        (413, Some("body_too_large")),
        "{head}"
    );
    assert!(head.contains("connection: close"), "{head}");
    assert!(clean, "no TLS close_notify after the answer");

    let (status, head, json, clean) = send_unread_body(&server, "text/plain").await;
    assert_eq!(
        (status, json["code"].as_str()),
        (400, Some("bad_content_type")),
        "{head}"
    );
    assert!(head.contains("connection: close"), "{head}");
    assert!(clean, "no TLS close_notify after the answer");

    // A body read to its end keeps the connection: the next request on it is answered.
    let mut conn = Conn::open(&server, None).await;
    let body = serde_json::json!({"serial": "SN-KEEP"});
    for _ in 0..2 {
        let (status, _) = conn.request("POST", "/v1/enroll/challenge", &body).await;
        assert_eq!(status, 200);
    }
}

/// Opens a connection from each of `sources` whose request waits for its body (so it counts as
/// busy and cannot be evicted); waits until the server has read their heads.
async fn busy_connections(server: &ServerProcess, sources: &[IpAddr]) -> Vec<TlsStream<TcpStream>> {
    let mut held = Vec::new();
    for &source in sources {
        held.push(send_partial(server, source, &half_body_head()).await.0);
    }
    // Generous: the server needs microseconds to read a head.
    tokio::time::sleep(Duration::from_secs(1)).await;
    held
}

/// Opens a connection that must be refused: it must end cleanly (EOF, not a reset) during the
/// handshake.
async fn assert_refused(server: &ServerProcess, source: IpAddr) {
    let result = tokio::time::timeout(SLACK, tls_from(server, source))
        .await
        .expect("a refused connection hung");
    let Err(error) = result else {
        panic!("a connection over the limit was served");
    };
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
}

fn refusal_lines(server: &ServerProcess) -> usize {
    server
        .log()
        .lines()
        .filter(|l| l.contains("connection refused: limit reached"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_limit_are_refused_and_idle_ones_make_room() {
    let server = Server::start_with_config(&[(
        "max_connections_per_address = 64",
        "max_connections_per_address = 4",
    )]);
    let greedy = loopback(2);
    let held = busy_connections(&server, &[greedy; 4]).await;
    for _ in 0..20 {
        assert_refused(&server, greedy).await;
    }
    // Another address is served, and the busy connections were left alone.
    assert_eq!(healthz_from(&server, loopback(3)).await, 200);
    let lines = refusal_lines(&server);
    assert!(
        (1..=2).contains(&lines),
        "{lines} refusal lines for 20 refusals"
    );
    drop(held);

    // Idle connections (handshake done, no request) are closed, oldest first, to make room.
    let idler = loopback(4);
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(tls_from(&server, idler).await.unwrap());
    }
    assert_eq!(healthz_from(&server, idler).await, 200);
    let (bytes, _) = tokio::time::timeout(SLACK, read_to_close(&mut idle[0]))
        .await
        .expect("the oldest idle connection was not closed");
    assert!(bytes.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_global_connection_limit_holds_until_connections_end() {
    let server = Server::start_with_config(&[
        ("max_connections = 4096", "max_connections = 6"),
        ("body_timeout_secs = 60", "body_timeout_secs = 8"),
    ]);
    let sources: Vec<IpAddr> = (10..16).map(loopback).collect();
    let held = busy_connections(&server, &sources).await;
    for i in 0..5 {
        assert_refused(&server, loopback(20 + i)).await;
    }
    // The body deadline frees the slots; then others are served again.
    for mut tls in held {
        tokio::time::timeout(SLACK, read_to_close(&mut tls))
            .await
            .expect("a half-sent body outlived its deadline");
    }
    assert_eq!(healthz_from(&server, loopback(30)).await, 200);
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name is in parentheses and may hold spaces: count fields after it.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let per_sec = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    ticks / per_sec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_256_descriptors_and_300_idle_sockets_healthz_answers_and_nothing_spins() {
    // The real binary under `prlimit --nofile=256:256` (same process: prlimit execs it).
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("vouch-server-256");
    let prlimit = vouch_testkit::external_tool("prlimit");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} --nofile=256:256 -- {} \"$@\"\n",
            prlimit.display(),
            bin()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let server = ServerProcess::start(Path::new(&wrapper), &[], "info");
    let pid = server.pid().unwrap();
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    assert!(
        limits
            .lines()
            .any(|l| l.starts_with("Max open files") && l.contains(" 256 ")),
        "{limits}"
    );
    let cpu_before = cpu_seconds(pid);

    // 300 silent sockets from 300 addresses (no per-address limit helps), held about 12 s.
    let started = Instant::now();
    let mut idle = Vec::new();
    for i in 0..300u32 {
        let source = IpAddr::V4(Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8));
        idle.push(tcp_from(source, server.addr).await);
    }
    let mut answers = Vec::new();
    while started.elapsed() < Duration::from_secs(12) {
        answers.push(healthz_from(&server, loopback(1)).await);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(idle);
    let cpu = cpu_seconds(pid) - cpu_before;
    let log_bytes = server.log().len();
    eprintln!(
        "under 256 descriptors: {cpu:.2} s CPU in 12 s, log {log_bytes} bytes, healthz {answers:?}"
    );
    // A healthz takes milliseconds; the old accept loop let about four through in 12 s.
    assert!(answers.len() >= 8, "only {} answers in 12 s", answers.len());
    assert!(answers.iter().all(|&s| s == 200), "{answers:?}");
    // 0.1 s measured; the old accept loop spun for 4 to 10 s.
    assert!(cpu < 2.0, "the server used {cpu:.2} s of CPU in 12 s");
    assert!(log_bytes < 100_000, "the server logged {log_bytes} bytes");
}
