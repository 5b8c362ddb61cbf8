//! Batch scanning and undo against the real `vouch-server` and real sled on disk (issue 18,
//! point 2): each new label queued with the batch's site, repeats ignored, clashes refused, a
//! record taken back before it is sent (the records after it signed again, so the server
//! accepts the chain whole), an undone label skipped for the rest of the batch, and undo
//! refused once a record has been sent.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

mod common;

use common::{fast_retries, label, label_text, Server};
use vouch_field::{Batch, BatchStep, Field, ScanOptions, SyncProgress};
use vouch_protocol::key::public_key_of;
use vouch_protocol::p256::ecdsa::SigningKey;
use vouch_protocol::{Label, Model};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn no_progress(_: &SyncProgress) {}

fn queued(step: BatchStep) -> (u64, usize) {
    match step {
        BatchStep::Queued { entry, count } => (entry.sequence, count),
        other => panic!("expected a queued label: {other:?}"),
    }
}

/// `(sequence, serial, site, state)` of every record in the queue.
fn listing(field: &Field) -> Vec<(u64, String, String, &'static str)> {
    field
        .queue()
        .unwrap()
        .into_iter()
        .map(|e| (e.sequence, e.serial, e.site, e.state.name()))
        .collect()
}

#[test]
fn a_batch_queues_each_new_label_and_undo_takes_one_back_before_it_is_sent() {
    let server = Server::start();
    let rt = rt();
    let dir = tempfile::tempdir().unwrap();
    fast_retries(dir.path(), 2);
    let field = Field::open(dir.path()).unwrap();
    rt.block_on(field.register(&server.invite("technician", "Bea Batch")))
        .unwrap();

    let mut batch = Batch::new("Rack 12").unwrap();
    for i in 1..=4 {
        let (sequence, count) = queued(field.batch_scan(&mut batch, &label_text("B", i)).unwrap());
        assert_eq!((sequence, count), (i, usize::try_from(i).unwrap()));
    }
    // A label still in view, read again: nothing written.
    let again = field.batch_scan(&mut batch, &label_text("B", 2)).unwrap();
    assert_eq!(
        again,
        BatchStep::AlreadyQueued {
            serial: "B-00002".into(),
            sequence: 2
        }
    );
    // Not a label, and a label clashing with one of the batch: refused, nothing queued.
    let bad = field.batch_scan(&mut batch, "VOUCH1:nonsense").unwrap_err();
    assert_eq!(bad.code(), "bad_label");
    let other_key = SigningKey::from_slice(&[7; 32]).unwrap();
    let (_, b3) = label("B", 3);
    let clash = Label::new(
        Model::new("ACME-T1").unwrap(),
        b3.serial().clone(),
        public_key_of(&other_key),
    );
    let e = field
        .batch_scan(&mut batch, &clash.to_compact().unwrap())
        .unwrap_err();
    assert_eq!(e.code(), "batch_conflict");
    assert!(e.to_string().contains("B-00003"), "{e}");
    assert_eq!(field.counts().unwrap().total(), 4);

    // Undo the second: it leaves the durable queue, the later ones move up one place.
    let undone = field.undo_scan(2).unwrap();
    assert_eq!(undone.serial, "B-00002");
    assert!(batch.forget(2));
    drop(field);
    let field = Field::open(dir.path()).unwrap();
    let site = || "Rack 12".to_string();
    assert_eq!(
        listing(&field),
        [
            (1, "B-00001".into(), site(), "queued"),
            (2, "B-00003".into(), site(), "queued"),
            (3, "B-00004".into(), site(), "queued"),
        ]
    );
    assert_eq!(field.undo_scan(9).unwrap_err().code(), "undo_refused");
    // Seen again in this batch after its undo: skipped. Scanned on its own, it is queued.
    let skipped = field.batch_scan(&mut batch, &label_text("B", 2)).unwrap();
    assert_eq!(
        skipped,
        BatchStep::Undone {
            serial: "B-00002".into()
        }
    );
    let entry = field
        .scan_text(
            &label_text("B", 2),
            &ScanOptions {
                site: "Bench",
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((entry.sequence, entry.site.as_str()), (4, "Bench"));

    // The server accepts the rebuilt chain whole: no gap, no broken link.
    let report = rt.block_on(field.sync(&no_progress)).unwrap();
    assert_eq!(report.accepted, 4, "{report:?}");
    assert!(report.refused.is_empty(), "{report:?}");
    let serials: Vec<String> = server
        .devices()
        .iter()
        .map(|d| d["serial"].as_str().unwrap_or_default().to_string())
        .collect();
    for s in ["B-00001", "B-00002", "B-00003", "B-00004"] {
        assert!(
            serials.iter().any(|x| x == s),
            "{s} not on the server: {serials:?}"
        );
    }

    // Synced: undo is refused, and the record stays.
    let e = field.undo_scan(3).unwrap_err();
    assert_eq!(e.code(), "undo_refused");
    assert!(e.to_string().contains("already been sent"), "{e}");
    assert_eq!(field.counts().unwrap().accepted, 4);

    // Sent without an answer (here the server is down; after a timeout it may hold it): no
    // undo either.
    let (sequence, count) = queued(field.batch_scan(&mut batch, &label_text("B", 5)).unwrap());
    assert_eq!((sequence, count), (5, 4));
    let mut server = server;
    server.stop();
    let e = rt.block_on(field.sync(&no_progress)).unwrap_err();
    assert_eq!(e.code(), "offline", "{e}");
    let entry = field.queue().unwrap().pop().unwrap();
    assert_eq!(
        (entry.sequence, entry.state.name(), entry.attempts),
        (5, "queued", 1)
    );
    let e = field.undo_scan(5).unwrap_err();
    assert_eq!(e.code(), "undo_refused");
    assert_eq!(field.counts().unwrap().queued, 1);
}
