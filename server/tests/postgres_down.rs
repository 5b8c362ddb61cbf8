//! What the API answers while its PostgreSQL database is down, held against the OpenAPI
//! document the server publishes: every `GET` the document says may answer `503` does answer
//! `503 busy` in the JSON error body (called with the operator's certificate, which every one
//! of them accepts), and the endpoints that declare no `503` answer as usual.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::*;
use reqwest::Method;
use vouch_testkit::PgCluster;

/// A path of the document with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{serial}", "SN-DOWN-1")
        .replace("{decision}", "approve")
        .replace("{key_id}", "00")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_get_that_declares_503_answers_busy_while_the_database_is_down() {
    let cluster = PgCluster::start();
    let url = cluster.create_database();
    let server = Server::start_with_config(&[("url = \"\"", &format!("url = \"{url}\""))]);
    let read = |name: &str| std::fs::read_to_string(server.data().join(name)).unwrap();
    let (cert, key) = (
        read("operator/operator.pem"),
        read("operator/operator.key.pem"),
    );
    let operator = http(&server, Some((&cert, &key)));
    let (status, document) = call(&operator, &server, Method::GET, "/openapi.json", None).await;
    assert_eq!(status, 200);

    cluster.stop();
    let mut busy = 0;
    let paths = document["paths"].as_object().unwrap();
    for (path, operations) in paths {
        let Some(get) = operations.get("get") else {
            continue;
        };
        let declares_503 = get["responses"].get("503").is_some();
        let (status, answer) = call(&operator, &server, Method::GET, &concrete(path), None).await;
        if declares_503 {
            assert_eq!(
                (status, answer["code"].as_str()),
                (503, Some("busy")),
                "GET {path}: {answer}"
            );
            assert!(answer["message"].is_string(), "GET {path}: {answer}");
            busy += 1;
        } else {
            assert_eq!(status, 200, "GET {path} needs no database: {answer}");
        }
    }
    // The store-reading GETs of the document: CRL, me, hello, devices, a device, staff, audit,
    // its check, backup.
    assert!(busy >= 9, "only {busy} GETs declare 503");

    // Back without a restart of the server (a pooled connection PostgreSQL closed may still
    // answer busy once: a few tries, no timing asserted).
    cluster.restart();
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..50 {
        last = call(&operator, &server, Method::GET, "/v1/devices", None).await;
        if last.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(last.0, 200, "{}", last.1);
}
