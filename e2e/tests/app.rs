//! End to end, in a real window (Xvfb), against the real `vouch-server`:
//!
//! 1. a technician joins by invite, imports a photo of a label made by `vouch-device label`,
//!    sees it queued; a mistyped label and a repeated scan are refused; a second label with the
//!    same serial and another key is queued with a warning; sync fails while the server is
//!    down and succeeds with progress once it is back; review is refused to them;
//! 2. a supervisor (joined by the invite given at launch) sees the device in conflict with the
//!    two scans side by side, approves it (its first key); the device enrolls with
//!    `vouch-device`; "enrolled" is in the timeline;
//! 3. with a (simulated) camera, three labels in view are outlined, a tap takes the one meant,
//!    it is shown on the card and queued (dark theme, then phone width);
//! 4. batch mode: a simulated camera sweeping eleven frames (ten labels, then three labels in
//!    one frame) queues each label once, in order, with the batch's site; an undo takes one
//!    back; a clashing and a bad label stop the flow; a synced record cannot be undone.
//! 5. a supervisor imports a manifest of expected devices on the review screen; a manifest
//!    with a bad line is refused naming it;
//! 6. the app in German: switched in Settings, the scan and queue screens with German words and
//!    dates, a failed sync explained in German from its error code, the choice kept.
//!
//! Run with `VOUCH_E2E=1 xvfb-run -a cargo test -p vouch-e2e` after building the app, the
//! server and the device agent (`scripts/test.sh` does all of it). Screenshots of each screen
//! go to `target/screenshots/` (`VOUCH_SCREENSHOTS` to change).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use vouch_e2e::{enabled, run_ok, App, DeviceFixture, Launch, Server};

fn skip() -> bool {
    if !enabled() {
        eprintln!("skipped: set VOUCH_E2E=1 and run under xvfb-run (scripts/test.sh does)");
    }
    !enabled()
}

/// The manual-entry line of a compact label, with one character of its second key group
/// changed (a typo its group check catches).
fn mistyped_manual_line(compact: &str) -> Result<String> {
    let label = vouch_protocol::Label::parse(compact)?;
    let manual = label.to_manual()?;
    let mut tokens: Vec<String> = manual.split(' ').map(str::to_string).collect();
    ensure!(tokens.len() > 5, "short manual line {manual}");
    let group = &mut tokens[4];
    let first = if group.starts_with('A') { "B" } else { "A" };
    group.replace_range(0..1, first);
    Ok(tokens.join(" "))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_is_scanned_synced_approved_and_enrolled() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let mut server = Server::start()?;
    let device = DeviceFixture::new("ACME-T1", "SN-E2E-1")?;
    // A second device printed with the same serial (a swapped or forged label): a conflict.
    let clone = DeviceFixture::new("ACME-T1", "SN-E2E-1")?;
    let tech_data = tempfile::tempdir()?;
    let sup_data = tempfile::tempdir()?;

    let invite = server.invite("technician", "Tess Tech")?;
    let app = App::launch(
        Launch {
            data: Some(tech_data.path()),
            ..Launch::default()
        },
        "technician",
    )
    .await?;
    let outcome = technician(&app, &mut server, &device, &clone, &invite).await;
    app.finish(outcome).await?;

    let invite = server.invite("supervisor", "Sam Super")?;
    let app = App::launch(
        Launch {
            data: Some(sup_data.path()),
            invite: Some(&invite),
            ..Launch::default()
        },
        "supervisor",
    )
    .await?;
    let outcome = supervisor(&app, &server, &device).await;
    app.finish(outcome).await
}

async fn technician(
    app: &App,
    server: &mut Server,
    device: &DeviceFixture,
    clone: &DeviceFixture,
    invite: &str,
) -> Result<()> {
    // First run: join by pasting the invite.
    app.el("invite-input").await?;
    app.shot("01-join").await?;
    app.type_into("invite-input", invite).await?;
    app.click("join-btn").await?;
    app.wait_text("identity-name", "Tess Tech", 30).await?;
    app.wait_text("identity-role", "technician", 5).await?;
    let fingerprint = app.el("identity-fingerprint").await?.text().await?;
    ensure!(fingerprint.len() == 19, "fingerprint {fingerprint:?}");
    app.shot("02-joined").await?;
    app.click("join-continue").await?;

    // The scan screen opens the camera; this machine has none, or a simulated one.
    app.el("camera-card").await?;
    app.wait_attr_not("camera-status", "data-state", "starting", 20)
        .await?;
    app.shot("03-scan").await?;

    // Import the photo of the label.
    let png = device.png.display().to_string();
    app.type_into("photo-path", &png).await?;
    app.click("photo-read").await?;
    app.wait_text("label-serial", "SN-E2E-1", 30).await?;
    app.wait_text("label-model", "ACME-T1", 5).await?;
    app.type_into("site-input", "WO-1001 Plant 3").await?;
    app.type_into("note-input", "left of the door").await?;
    app.shot("04-label-card").await?;
    app.click("confirm-scan").await?;
    app.wait_text("scan-result", "SN-E2E-1", 20).await?;
    app.shot("05-queued").await?;

    // A mistyped manual line: the group check points at the typo; the card refuses it.
    let typo = mistyped_manual_line(&device.label)?;
    app.type_into("manual-input", &typo).await?;
    app.wait_text("manual-feedback", "Group 2", 10).await?;
    app.wait_attr("group-2", "class", "group bad", 5).await?;
    app.shot_at("06-manual-typo", "manual-card").await?;
    app.click("manual-use").await?;
    app.wait_text("label-error", "not a valid label", 10)
        .await?;
    app.shot_at("07-bad-label", "label-card").await?;
    app.click("discard-scan").await?;

    // The same photo again: the card warns; confirming is refused as a repeat.
    app.type_into("photo-path", &png).await?;
    app.click("photo-read").await?;
    app.wait_text("repeat-warning", "already in this tablet's queue", 30)
        .await?;
    app.click("confirm-scan").await?;
    app.wait_text("repeat-refused", "scanned last", 20).await?;
    app.shot_at("08-repeat", "repeat-refused").await?;
    app.click("discard-scan").await?;

    // The other label with the same serial: the card warns, and it is queued (another key).
    app.type_into("photo-path", &clone.png.display().to_string())
        .await?;
    app.click("photo-read").await?;
    app.wait_text("repeat-warning", "already in this tablet's queue", 30)
        .await?;
    app.click("confirm-scan").await?;
    app.wait_text("scan-result", "record #2", 20).await?;

    // The queue shows the records, waiting.
    app.click("nav-queue").await?;
    app.wait_attr("queue-row-1", "data-state", "queued", 20)
        .await?;
    app.wait_attr("queue-row-2", "data-state", "queued", 5)
        .await?;
    app.wait_text("queue-state-1", "Waiting", 5).await?;
    app.shot("09-queue").await?;

    // Server down: sync fails, says offline, keeps the records.
    server.stop();
    app.click("sync-btn").await?;
    app.wait_text("sync-error", "offline", 90).await?;
    app.wait_text("online-status", "Offline", 30).await?;
    app.wait_attr("queue-row-1", "data-state", "queued", 5)
        .await?;
    app.shot("10-offline").await?;

    // Server back: sync with progress.
    server.restart()?;
    app.click("sync-btn").await?;
    app.wait_attr("sync-progress", "data-total", "2", 30)
        .await?;
    app.wait_attr("sync-progress", "data-done", "2", 30).await?;
    app.wait_attr("queue-row-1", "data-state", "accepted", 20)
        .await?;
    app.wait_attr("queue-row-2", "data-state", "accepted", 5)
        .await?;
    app.wait_text("queue-state-1", "Synced", 5).await?;
    app.wait_text("last-sync", "2 accepted", 10).await?;
    app.wait_text("online-status", "Online", 30).await?;
    app.shot("11-synced").await?;

    // Review is for supervisors.
    app.click("nav-review").await?;
    app.wait_text("review-denied", "supervisor", 20).await?;
    app.shot("12-review-refused").await?;
    Ok(())
}

async fn supervisor(app: &App, server: &Server, device: &DeviceFixture) -> Result<()> {
    // The invite given at launch is redeemed at once.
    app.wait_text("identity-name", "Sam Super", 30).await?;
    app.wait_text("identity-role", "supervisor", 5).await?;
    app.click("join-continue").await?;

    // Two keys under one serial: a conflict, the two scans side by side.
    app.click("nav-review").await?;
    app.click("filter-conflicts").await?;
    app.click("device-SN-E2E-1").await?;
    app.wait_text("scan-0", "Tess Tech", 20).await?;
    app.wait_text("scan-0", "WO-1001 Plant 3", 5).await?;
    app.wait_attr("device-detail", "data-state", "conflict", 5)
        .await?;
    app.wait_attr("scan-1", "class", "scan differs", 5).await?;
    app.wait_text("scan-1", "a different key", 5).await?;
    app.shot_at("01-conflict", "device-scans").await?;

    app.type_into("reason-input", "label checked on site")
        .await?;
    app.click("approve-btn").await?;
    app.wait_attr("device-detail", "data-state", "approved", 20)
        .await?;
    app.css("#timeline [data-event='approved']", 10).await?;
    app.shot_at("02-approved", "device-state").await?;

    // The device proves its key and gets its certificate.
    device.enroll(server)?;
    app.click("device-refresh").await?;
    app.css("#timeline [data-event='enrolled']", 20).await?;
    app.wait_attr("device-detail", "data-state", "enrolled", 10)
        .await?;
    app.wait_text("timeline", "Enrolled", 5).await?;
    app.wait_text("timeline", "you (Sam Super)", 5).await?;
    app.shot_at("03-enrolled", "timeline").await?;

    // Its certificate "expired in storage": let the label key enroll once more, then revoke.
    app.type_into("reason-input", "certificate expired in storage")
        .await?;
    app.click("reenroll-btn").await?;
    app.wait_attr("device-detail", "data-state", "approved", 20)
        .await?;
    app.css("#timeline [data-event='reenrollment_allowed']", 10)
        .await?;
    device.enroll_with(server, &["--again"])?;
    app.click("device-refresh").await?;
    app.wait_attr("device-detail", "data-state", "enrolled", 20)
        .await?;
    app.type_into("reason-input", "decommissioned").await?;
    app.click("revoke-btn").await?;
    app.wait_attr("device-detail", "data-state", "revoked", 20)
        .await?;
    app.css("#timeline [data-event='revoked']", 10).await?;

    accept_a_gap(app, server).await?;

    app.click("nav-settings").await?;
    app.wait_text("app-version", env!("CARGO_PKG_VERSION"), 10)
        .await?;
    app.wait_text("identity-server", &server.url(), 5).await?;
    app.shot("04-settings").await?;
    Ok(())
}

/// A label of a throw-away device key, as a factory prints it.
fn gap_label(i: u64) -> Result<String> {
    use vouch_protocol::p256::ecdsa::SigningKey;
    let mut seed = [7u8; 32];
    seed[24..].copy_from_slice(&i.to_be_bytes());
    let key = SigningKey::from_slice(&seed)?;
    let label = vouch_protocol::Label::new(
        vouch_protocol::Model::new("ACME-T1")?,
        vouch_protocol::Serial::new(&format!("SN-GAP-{i}"))?,
        vouch_protocol::key::public_key_of(&key),
    );
    Ok(label.to_compact()?)
}

/// Another technician's tablet loses a scan (deleted from its queue on disk), so its later
/// scans are held; the supervisor accepts the gap in the app and the held scan goes through.
async fn accept_a_gap(app: &App, server: &Server) -> Result<()> {
    let data = tempfile::tempdir()?;
    let field = vouch_field::Field::open(data.path())?;
    field
        .register(&server.invite("technician", "Gale Gap")?)
        .await?;
    for i in 1..=3 {
        let options = vouch_field::ScanOptions {
            site: "WO-2002",
            ..Default::default()
        };
        field.scan_text(&gap_label(i)?, &options)?;
    }
    drop(field);
    {
        let db = sled::open(data.path().join("queue"))?;
        for tree in ["records", "states"] {
            db.open_tree(tree)?.remove(2u64.to_be_bytes())?;
        }
        db.flush()?;
    }
    let field = vouch_field::Field::open(data.path())?;
    let none = |_: &vouch_field::SyncProgress| {};
    let report = field.sync(&none).await?;
    anyhow::ensure!(report.held == 1, "scan 3 is held: {report:?}");

    app.click("nav-review").await?;
    app.click("filter-all").await?;
    app.click("device-SN-GAP-1").await?;
    app.wait_text(
        "scanner-problems",
        "Gale Gap's tablet: scan 2 never reached",
        20,
    )
    .await?;
    app.type_into("gap-reason", "tablet queue wiped by mistake")
        .await?;
    app.shot_at("05-gap-open", "scanner-problems").await?;
    app.click("accept-gap-2").await?;
    app.wait_text(
        "scanner-problems",
        "Accepted as lost by you (Sam Super)",
        20,
    )
    .await?;
    app.shot_at("06-gap-accepted", "scanner-problems").await?;

    let report = field.sync(&none).await?;
    anyhow::ensure!(
        report.accepted == 1 && report.held == 0,
        "the held scan goes through after the acceptance: {report:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_label_in_front_of_the_camera_is_read_and_queued() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let server = Server::start()?;
    let device = DeviceFixture::new("ACME-T2", "SN-CAM-1")?;
    let left = DeviceFixture::new("ACME-T2", "SN-CAM-0")?;
    let right = DeviceFixture::new("ACME-T2", "SN-CAM-2")?;
    // Three labels in view, the one meant in the middle.
    let three = left.dir.path().join("three.png");
    side_by_side(&[&left.png, &device.png, &right.png], &three)?;
    let data = tempfile::tempdir()?;
    let invite = server.invite("technician", "Cam Tech")?;
    let app = App::launch(
        Launch {
            data: Some(data.path()),
            invite: Some(&invite),
            fake_camera: Some(&three),
            dark: true,
        },
        "camera",
    )
    .await?;
    let outcome = async {
        app.click("join-continue").await?;
        app.wait_attr("camera-status", "data-state", "running", 30)
            .await?;
        // The picture comes as binary on the preview protocol, at the width shown.
        let started = std::time::Instant::now();
        loop {
            let loaded = app
                .driver
                .execute(
                    "const img = document.getElementById('camera-preview'); \
                     return img ? [img.getAttribute('src'), img.complete ? img.naturalWidth : 0] : null;",
                    vec![],
                )
                .await?;
            let loaded = loaded.json();
            if loaded[0].as_str().is_some_and(|s| s.contains("preview"))
                && loaded[1].as_u64().is_some_and(|w| w > 0 && w <= 1350)
            {
                break;
            }
            ensure!(
                started.elapsed() < Duration::from_secs(20),
                "the preview picture: {loaded}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The loop reads a code on its own: beep, flash, and the card.
        app.wait_text("label-serial", "SN-CAM-", 30).await?;
        // Each label in view is outlined; a tap on one takes it.
        for serial in ["SN-CAM-0", "SN-CAM-2", "SN-CAM-1"] {
            app.css(&format!("#camera-card polygon[data-serial='{serial}']"), 20)
                .await?;
        }
        app.css("#camera-card polygon[data-serial='SN-CAM-1']", 5)
            .await?
            .click()
            .await?;
        app.wait_text("label-serial", "SN-CAM-1", 10).await?;
        app.type_into("site-input", "Depot 4").await?;
        app.shot("01-camera-read").await?;
        app.shot_at("02-camera-preview", "camera-card").await?;
        app.click("confirm-scan").await?;
        app.wait_text("scan-result", "SN-CAM-1", 20).await?;
        // Phone width: the navigation moves to the bottom, the cards stack.
        app.driver.set_window_rect(0, 0, 400, 860).await?;
        app.shot("03-phone").await?;
        app.click("camera-stop").await?;
        app.wait_attr("camera-status", "data-state", "stopped", 10)
            .await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Photos chosen, dropped and pasted (issue 18): the command that reads several chosen files
/// (the picker itself is a native GTK dialog, which WebDriver cannot drive: the shell's
/// `choose_photos` is one line over the same read), files dropped on the window, an image
/// pasted; each label of several is shown for confirmation, the site stays between scans, the
/// queue says how many records wait and since when, and the last sync survives a restart.
#[tokio::test(flavor = "multi_thread")]
async fn photos_are_chosen_dropped_and_pasted_and_the_last_sync_is_kept() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let server = Server::start()?;
    let devices = [
        DeviceFixture::new("ACME-T3", "SN-PIC-1")?,
        DeviceFixture::new("ACME-T3", "SN-PIC-2")?,
        DeviceFixture::new("ACME-T3", "SN-PIC-3")?,
    ];
    let data = tempfile::tempdir()?;
    let invite = server.invite("technician", "Pia Photo")?;
    let launch = || Launch {
        data: Some(data.path()),
        invite: Some(&invite),
        ..Launch::default()
    };
    let app = App::launch(launch(), "photos").await?;
    let outcome = photos(&app, &devices).await;
    app.finish(outcome).await?;
    // The first app lets go of its data folder a moment after its session ends: the restart
    // must not race it for the queue's lock (it would sit at "Starting…").
    wait_until_data_is_free(data.path()).await?;

    // Restarted: the last sync is still known.
    let app = App::launch(launch(), "photos-restart").await?;
    let outcome = async {
        app.click("nav-queue").await?;
        app.wait_text("last-sync", "3 accepted", 20).await?;
        app.wait_attr("queue-waiting", "data-count", "0", 5).await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

async fn photos(app: &App, devices: &[DeviceFixture; 3]) -> Result<()> {
    app.click("join-continue").await?;
    app.el("photo-choose").await?;

    // The picker: the platform's own dialog, opened by the button. WebDriver sees only the
    // page, so the whole screen is taken (ImageMagick's `import`); Escape cancels it, and a
    // cancelled picker reads nothing.
    app.click("photo-choose").await?;
    app.wait_text("photo-choose", "Reading", 5).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let shot = vouch_e2e::screenshot_dir().join("photos-00-picker.png");
    run_ok(
        Command::new(vouch_testkit::external_tool("import"))
            .args(["-window", "root"])
            .arg(&shot),
    )?;
    run_ok(Command::new(vouch_testkit::external_tool("xdotool")).args(["key", "Escape"]))?;
    app.wait_text("photo-choose", "Choose photos", 20).await?;

    // The command behind the picker: several files, each read on its own, labels first.
    let reads = app
        .run_async(
            "const [paths, done] = arguments; \
             window.__TAURI__.core.invoke('read_photos', { paths }) \
               .then(done, e => done({ error: e }));",
            vec![serde_json::json!([
                devices[0].png.display().to_string(),
                "/nonexistent/label.png"
            ])],
        )
        .await?;
    ensure!(
        reads[0]["labels"] == 1 && reads[0]["codes"][0] == devices[0].label.as_str(),
        "the first photo's label: {reads}"
    );
    ensure!(reads[1]["error"].is_string(), "a missing file: {reads}");

    // Two photos dropped on the window: two labels, confirmed one after the other.
    app.drop_files(&[&devices[0].png, &devices[1].png]).await?;
    app.wait_text("label-serial", "SN-PIC-1", 30).await?;
    app.wait_attr("labels-waiting", "data-count", "1", 5)
        .await?;
    app.type_into("site-input", "Yard 7").await?;
    app.shot("01-several-labels").await?;
    app.click("confirm-scan").await?;
    app.wait_text("scan-result", "SN-PIC-1", 20).await?;
    app.wait_text("site-kept", "Yard 7", 5).await?;
    // The next card: the second label, with the site kept.
    app.wait_text("label-serial", "SN-PIC-2", 10).await?;
    let site = app.value_of("site-input").await?;
    ensure!(site == "Yard 7", "the site is kept between scans: {site:?}");
    app.click("confirm-scan").await?;
    app.wait_text("scan-result", "SN-PIC-2", 20).await?;

    // An image pasted from the clipboard.
    app.paste_image(&devices[2].png).await?;
    app.wait_text("label-serial", "SN-PIC-3", 30).await?;
    app.click("confirm-scan").await?;
    app.wait_text("scan-result", "SN-PIC-3", 20).await?;

    // The queue: how many wait, and since when; then a sync.
    app.click("nav-queue").await?;
    app.wait_attr("queue-waiting", "data-count", "3", 20)
        .await?;
    app.wait_text("queue-waiting", "oldest since", 5).await?;
    app.shot("02-waiting").await?;
    app.click("sync-btn").await?;
    app.wait_text("last-sync", "3 accepted", 30).await?;
    app.wait_attr("queue-waiting", "data-count", "0", 10)
        .await?;
    Ok(())
}

/// The app in German (issue 18): the language switched in Settings, whose own words follow;
/// a photo read and queued in German words; the queue screen with German states, a German
/// date and a German sync report; a failed sync explained in German from its error code;
/// the activity log in German; a data folder held by another program explained in German;
/// and the choice kept after a restart.
#[tokio::test(flavor = "multi_thread")]
async fn the_app_speaks_german_when_chosen() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let mut server = Server::start()?;
    let device = DeviceFixture::new("ACME-T4", "SN-DE-1")?;
    let data = tempfile::tempdir()?;
    let invite = server.invite("technician", "Greta Groß")?;
    let launch = || Launch {
        data: Some(data.path()),
        invite: Some(&invite),
        ..Launch::default()
    };
    let app = App::launch(launch(), "german").await?;
    let outcome = async {
        app.click("join-continue").await?;
        german_settings(&app).await?;
        german_scan(&app, &device).await?;
        german_queue(&app, &mut server).await?;
        german_activity(&app).await
    }
    .await;
    app.finish(outcome).await?;

    // The data folder held by another program: the problem in German, in Settings and in the
    // activity log.
    wait_until_data_is_free(data.path()).await?;
    let held = vouch_field::Field::open(data.path())?;
    let app = App::launch(
        Launch {
            data: Some(data.path()),
            ..Launch::default()
        },
        "german-busy",
    )
    .await?;
    let outcome = german_busy(&app).await;
    app.finish(outcome).await?;
    drop(held);

    // The choice is kept; switching back to English works.
    let app = App::launch(launch(), "german-restart").await?;
    let outcome = async {
        app.wait_text("nav-scan", "Scannen", 30).await?;
        app.click("nav-settings").await?;
        app.wait_text("settings-page", "Sprache", 10).await?;
        app.click("lang-en").await?;
        app.wait_text("nav-queue", "Queue", 10).await?;
        app.wait_text("nav-settings", "Settings", 5).await?;
        app.wait_text("settings-page", "Who this tablet is", 5)
            .await?;
        Ok(())
    }
    .await;
    app.finish(outcome).await
}

/// Settings: the switch, then the screen's own words in German.
async fn german_settings(app: &App) -> Result<()> {
    app.click("nav-settings").await?;
    app.wait_text("language-card", "Deutsch", 10).await?;
    app.click("lang-de").await?;
    app.wait_text("nav-scan", "Scannen", 10).await?;
    app.wait_text("language-card", "Sprache", 5).await?;
    app.wait_text("settings-page", "Wer dieses Tablet ist", 5)
        .await?;
    app.wait_text("identity-card", "Schlüssel-Fingerabdruck", 5)
        .await?;
    app.wait_text("identity-role", "Techniker", 5).await?;
    app.wait_text("about", "Über Vouch", 5).await?;
    app.wait_text("about", "Datenordner", 5).await?;
    // The certificate's expiry, a German date: day.month.year.
    let card = app
        .wait_text("identity-card", "Zertifikat gültig bis", 5)
        .await?;
    ensure!(has_german_date(&card), "a German date: {card:?}");
    app.shot("03-settings").await?;
    Ok(())
}

/// The activity log in German: the join, the start, and (once the queue was synced) the
/// failed and the finished sync, each with a German date.
async fn german_activity(app: &App) -> Result<()> {
    app.click("nav-settings").await?;
    let log = app
        .wait_text("activity-log", "Beitritt zum Server: erledigt", 10)
        .await?;
    ensure!(has_german_date(&log), "a German date: {log:?}");
    app.wait_text("activity-log", "die Ansicht „Scannen“ war", 5)
        .await?;
    app.wait_text(
        "activity-log",
        "Abgleich: Der Server ist nicht erreichbar",
        5,
    )
    .await?;
    let log = app
        .wait_text("activity-log", "Abgleich: erledigt", 5)
        .await?;
    // The failed sync's line: German words, then only the facts (the address and the
    // system's reason), not the engine's English advice.
    ensure!(
        !log.contains("done") && !log.contains("register") && !log.contains("Nothing was lost"),
        "English in the activity log: {log:?}"
    );
    ensure!(
        log.contains("(https://localhost:"),
        "the failed sync names the server: {log:?}"
    );
    app.shot_at("07-activity", "activity-log").await?;
    Ok(())
}

/// The app started while another program holds its data folder: the problem in German.
async fn german_busy(app: &App) -> Result<()> {
    app.wait_text(
        "startup-error",
        "Der Datenordner wird von einem anderen Programm benutzt",
        30,
    )
    .await?;
    app.click("nav-settings").await?;
    app.wait_text(
        "open-problem",
        "Der Datenordner wird von einem anderen Programm benutzt",
        10,
    )
    .await?;
    app.wait_text(
        "activity-log",
        "Öffnen des Datenordners: Der Datenordner wird von einem anderen Programm benutzt",
        5,
    )
    .await?;
    Ok(())
}

/// The scan screen: a photo read, the card, queued, all in German.
async fn german_scan(app: &App, device: &DeviceFixture) -> Result<()> {
    app.click("nav-scan").await?;
    app.wait_text("photo-card", "Foto importieren", 10).await?;
    app.wait_text("manual-card", "Etikett eintippen", 5).await?;
    app.shot("01-scan").await?;
    app.type_into("photo-path", &device.png.display().to_string())
        .await?;
    app.click("photo-read").await?;
    app.wait_text("label-serial", "SN-DE-1", 30).await?;
    app.wait_text("label-card", "Etikett prüfen", 5).await?;
    app.wait_text("label-card", "Seriennummer", 5).await?;
    app.type_into("site-input", "Halle 2").await?;
    app.shot("02-label-card").await?;
    app.click("confirm-scan").await?;
    app.wait_text("scan-result", "steht als Eintrag #1", 20)
        .await?;
    app.wait_text("site-kept", "Halle 2", 5).await?;
    Ok(())
}

/// The queue screen: German states and dates; a sync while the server is down fails with
/// German words for its error code; once it is back the sync report is German too.
async fn german_queue(app: &App, server: &mut Server) -> Result<()> {
    app.click("nav-queue").await?;
    let waiting = app
        .wait_text("queue-waiting", "wartet auf den Abgleich, seit", 20)
        .await?;
    ensure!(has_german_date(&waiting), "a German date: {waiting:?}");
    app.wait_text("queue-state-1", "Wartet auf Abgleich", 5)
        .await?;
    app.wait_text("queue-row-1", "Standort: Halle 2", 5).await?;
    app.wait_text("queue-counts", "wartend", 5).await?;
    app.wait_text("sync-btn", "Jetzt abgleichen", 5).await?;
    app.shot("04-queue").await?;

    server.stop();
    app.click("sync-btn").await?;
    app.wait_text("sync-error", "Abgleich fehlgeschlagen: offline", 90)
        .await?;
    app.wait_text("sync-error", "Der Server ist nicht erreichbar", 5)
        .await?;
    app.wait_text("online-status", "Offline", 30).await?;
    app.shot("05-offline").await?;

    server.restart()?;
    app.click("sync-btn").await?;
    app.wait_attr("queue-row-1", "data-state", "accepted", 60)
        .await?;
    app.wait_text("queue-state-1", "Abgeglichen", 5).await?;
    let report = app.wait_text("last-sync", "1 angenommen", 20).await?;
    ensure!(
        report.starts_with("Letzter Abgleich") && has_german_date(&report),
        "a German sync report: {report:?}"
    );
    app.wait_text("queue-waiting", "Nichts wartet", 10).await?;
    app.shot("06-synced").await?;
    Ok(())
}

/// Whether `text` holds a date as German writes it: `2.12.2026` (day.month.year; the
/// element's text may run it into the word before).
fn has_german_date(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let number = |from: usize| {
        let len = chars[from..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        (len, from + len)
    };
    (0..chars.len()).any(|start| {
        if start > 0 && (chars[start - 1].is_ascii_digit() || chars[start - 1] == '.') {
            return false;
        }
        let (day, at) = number(start);
        if !(1..=2).contains(&day) || chars.get(at) != Some(&'.') {
            return false;
        }
        let (month, at) = number(at + 1);
        if !(1..=2).contains(&month) || chars.get(at) != Some(&'.') {
            return false;
        }
        number(at + 1).0 == 4
    })
}

/// Waits (up to 30 s) until the field engine can open `data`, i.e. no other app holds it.
async fn wait_until_data_is_free(data: &std::path::Path) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        match vouch_field::Field::open(data) {
            Ok(field) => {
                drop(field);
                return Ok(());
            }
            Err(e) if started.elapsed() > Duration::from_secs(30) => {
                anyhow::bail!("the data folder stayed in use: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Puts label images side by side into one image (ImageMagick's `convert +append`).
fn side_by_side(images: &[&Path], out: &Path) -> Result<()> {
    let convert = vouch_testkit::external_tool("convert");
    let mut cmd = Command::new(convert);
    cmd.args(images).arg("+append").arg(out);
    run_ok(&mut cmd).map(drop)
}

/// The camera's image files, each held for `frames` frames, separated as `VOUCH_FAKE_CAMERA`
/// takes them (like `PATH`).
fn camera_sequence(images: &[&Path], frames: usize) -> Result<std::ffi::OsString> {
    let held = images.iter().flat_map(|p| std::iter::repeat_n(*p, frames));
    std::env::join_paths(held).context("joining the camera's image paths")
}

/// Batch scanning (issue 18, point 2): the site set once; a simulated camera sweeping ten labels
/// and then one frame with three labels queues each label once, in the order read, with the
/// batch's site, although every label comes back into view at each sweep; an undo takes one
/// back out of the durable queue (and the batch skips it from then on); a label with a clashing
/// key and a code that is no label stop the flow with their reason; once synced, no undo.
#[tokio::test(flavor = "multi_thread")]
async fn a_rack_is_scanned_in_one_batch_and_an_undo_takes_one_back() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let server = Server::start()?;
    let devices: Vec<DeviceFixture> = (1..=13)
        .map(|i| DeviceFixture::new("ACME-R9", &format!("SN-BATCH-{i:02}")))
        .collect::<Result<_>>()?;
    // Another device printed with the serial of the third: a clash.
    let clash = DeviceFixture::new("ACME-R9", "SN-BATCH-03")?;
    let three = devices[0].dir.path().join("three.png");
    side_by_side(
        &[&devices[10].png, &devices[11].png, &devices[12].png],
        &three,
    )?;
    let mut frames: Vec<&Path> = devices[..10].iter().map(|d| d.png.as_path()).collect();
    frames.push(&three);
    let sequence = camera_sequence(&frames, 10)?;
    let data = tempfile::tempdir()?;
    let invite = server.invite("technician", "Rita Rack")?;
    let app = App::launch(
        Launch {
            data: Some(data.path()),
            invite: Some(&invite),
            fake_camera: Some(Path::new(&sequence)),
            ..Launch::default()
        },
        "batch",
    )
    .await?;
    let outcome = batch(&app, &clash).await;
    app.finish(outcome).await
}

async fn batch(app: &App, clash: &DeviceFixture) -> Result<()> {
    app.click("join-continue").await?;
    app.wait_attr("camera-status", "data-state", "running", 30)
        .await?;
    app.click("mode-batch").await?;
    app.wait_attr("scan-mode", "data-mode", "batch", 5).await?;
    // Stop the camera so that the sweep starts at the first label once the batch runs.
    app.click("camera-stop").await?;
    app.wait_attr("camera-status", "data-state", "stopped", 10)
        .await?;
    app.type_into("batch-site", "Rack 9").await?;
    app.click("batch-start").await?;
    app.wait_attr("batch-count", "data-count", "0", 10).await?;
    app.wait_text("batch-site-shown", "Rack 9", 5).await?;
    app.click("camera-start").await?;
    app.wait_attr("camera-status", "data-state", "running", 30)
        .await?;
    // Ten labels and three in one frame: thirteen, each once.
    app.wait_attr("batch-count", "data-count", "13", 120)
        .await?;
    app.shot("01-batch").await?;
    // Undo the middle label of the three (queued a moment ago).
    app.click("undo-SN-BATCH-12").await?;
    app.wait_attr("batch-count", "data-count", "12", 10).await?;
    app.wait_attr("batch-item-SN-BATCH-13", "data-sequence", "12", 5)
        .await?;
    // A whole sweep later, nothing more was queued: repeats ignored, the undone label skipped.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let count = app.el("batch-count").await?.attr("data-count").await?;
    ensure!(
        count.as_deref() == Some("12"),
        "after another sweep: {count:?}"
    );

    // A label whose serial was queued with another key stops the flow, and says so.
    emit_code(app, &clash.label).await?;
    app.wait_text("batch-stopped", "SN-BATCH-03", 10).await?;
    app.shot("02-batch-stopped").await?;
    app.click("batch-resume").await?;
    // A code that is no Vouch label stops it too.
    emit_code(app, "https://example.com/not-a-label").await?;
    app.wait_text("batch-stopped", "VOUCH1", 10).await?;
    app.click("batch-resume").await?;
    app.click("batch-end").await?;
    app.el("batch-start").await?;

    // The durable queue: exactly the labels read, in order, with the batch's site.
    let queue = app
        .run_async(
            "const [done] = arguments; \
             window.__TAURI__.core.invoke('queue').then(done, e => done({ error: e }));",
            vec![],
        )
        .await?;
    let listed: Vec<(u64, String, String)> = queue
        .as_array()
        .context("the queue")?
        .iter()
        .map(|e| {
            (
                e["sequence"].as_u64().unwrap_or(0),
                e["serial"].as_str().unwrap_or_default().to_string(),
                e["site"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expected: Vec<(u64, String, String)> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13]
        .iter()
        .zip(1u64..)
        .map(|(i, seq)| (seq, format!("SN-BATCH-{i:02}"), "Rack 9".to_string()))
        .collect();
    ensure!(listed == expected, "the queue: {listed:?}");

    // Synced, a record can no longer be undone.
    app.click("nav-queue").await?;
    app.click("sync-btn").await?;
    app.wait_text("last-sync", "12 accepted", 30).await?;
    let refused = app
        .run_async(
            "const [done] = arguments; \
             window.__TAURI__.core.invoke('batch_undo', { sequence: 12 }) \
               .then(v => done({ ok: v }), e => done(e));",
            vec![],
        )
        .await?;
    ensure!(
        refused["code"] == "undo_refused",
        "undo after sync: {refused}"
    );
    Ok(())
}

/// A code read by the camera, as the shell reports one (its `camera-code` event): for labels
/// no printer would make on purpose.
async fn emit_code(app: &App, text: &str) -> Result<()> {
    let ret = app
        .run_async(
            "const [text, done] = arguments; \
             window.__TAURI__.event \
               .emit('camera-code', { text, label: null, corners: [[0, 0], [1, 0], [1, 1], [0, 1]] }) \
               .then(() => done(null), e => done(String(e)));",
            vec![serde_json::json!(text)],
        )
        .await?;
    ensure!(ret.is_null(), "the code event was not emitted: {ret}");
    Ok(())
}

/// A supervisor imports a manifest of expected devices through the review screen's form
/// (issue 17): the device it lists shows as expected from that import; a manifest with a bad
/// line is refused naming the line, and nothing of it is imported.
#[tokio::test(flavor = "multi_thread")]
async fn a_supervisor_imports_a_manifest_on_the_review_screen() -> Result<()> {
    if skip() {
        return Ok(());
    }
    let server = Server::start()?;
    let listed = DeviceFixture::new("ACME-M1", "SN-MAN-1")?;
    let unlisted = DeviceFixture::new("ACME-M1", "SN-MAN-2")?;
    let files = tempfile::tempdir()?;
    let good = files.path().join("factory-batch-7.csv");
    std::fs::write(&good, format!("label,batch\n{},B7\n", listed.label))?;
    let bad = files.path().join("factory-batch-8.csv");
    std::fs::write(
        &bad,
        format!("label,batch\n{},B8\nnot a label,B8\n", unlisted.label),
    )?;

    let data = tempfile::tempdir()?;
    let invite = server.invite("supervisor", "Sam Super")?;
    let app = App::launch(
        Launch {
            data: Some(data.path()),
            invite: Some(&invite),
            ..Launch::default()
        },
        "manifest",
    )
    .await?;
    let outcome = async {
        app.wait_text("identity-role", "supervisor", 30).await?;
        app.click("join-continue").await?;
        app.click("nav-review").await?;
        app.click("manifest-import-open").await?;

        app.choose_file("manifest-file", &good).await?;
        app.type_into("manifest-reason", "factory shipment 7")
            .await?;
        app.click("manifest-import-button").await?;
        let done = app
            .wait_text("manifest-result", "1 newly expected", 20)
            .await?;
        let import = done
            .strip_prefix("Import ")
            .and_then(|rest| rest.split(':').next())
            .unwrap_or_default()
            .to_string();
        ensure!(!import.is_empty(), "no import id in {done:?}");

        // The list follows the import: the device is expected, from that import.
        app.click("filter-expected").await?;
        app.wait_text(
            "manifest-SN-MAN-1",
            &format!("Expected: manifest {import}"),
            20,
        )
        .await?;
        app.shot_at("01-imported", "review-page").await?;

        // A technician scans it (another tablet, the field engine): listed among all devices,
        // its key matching that import's.
        let tablet = tempfile::tempdir()?;
        let field = vouch_field::Field::open(tablet.path())?;
        field
            .register(&server.invite("technician", "Tess Tech")?)
            .await?;
        field.scan_text(&listed.label, &vouch_field::ScanOptions::default())?;
        let report = field.sync(&|_: &vouch_field::SyncProgress| {}).await?;
        ensure!(report.accepted == 1, "the scan is accepted: {report:?}");
        app.click("filter-all").await?;
        app.wait_text(
            "manifest-SN-MAN-1",
            &format!("Manifest {import}: key matches"),
            20,
        )
        .await?;
        app.shot_at("02-scanned-matches", "review-page").await?;

        // One bad line: refused naming it, nothing imported (not even the good line above it).
        app.choose_file("manifest-file", &bad).await?;
        app.type_into("manifest-reason", "factory shipment 8")
            .await?;
        app.click("manifest-import-button").await?;
        let refusal = app.wait_text("manifest-result", "line 3", 20).await?;
        app.wait_attr("manifest-result", "class", "bad", 5).await?;
        app.shot_at("03-bad-line", "manifest-import").await?;
        // SN-MAN-1 is scanned now, so nothing is expected and unscanned: not SN-MAN-2 either.
        app.click("filter-expected").await?;
        app.wait_text("review-empty", "No device is expected", 20)
            .await?;
        app.click("filter-all").await?;
        let list = app.wait_text("review-list", "SN-MAN-1", 20).await?;
        ensure!(
            !list.contains("SN-MAN-2"),
            "a refused manifest imported a device ({refusal:?}): {list}"
        );
        Ok(())
    }
    .await;
    app.finish(outcome).await
}
