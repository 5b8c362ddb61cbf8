# The Vouch app's words, English. Every id here is in de.ftl too (a unit test checks it).

## Shell: header and navigation
app-starting = Starting…
app-cannot-start = Vouch cannot start
nav-scan = Scan
nav-queue = Queue
nav-review = Review
nav-settings = Settings
nav-label = Screens
status-online = Online
status-offline = Offline
status-refused = Refused
status-checking = Checking
status-not-joined = Not joined
status-check-again = Server: { $status }. Check again

## Times
time-just-now = just now

## Scan screen
source-camera = read by the camera
source-photo = read from the photo
source-typed = typed
scan-saved = Saved on this tablet
scan-queued = { $serial } is queued as record #{ $sequence }. It is sent to the server at the next sync.
site-kept = Site “{ $site }” is kept for the next scans until you change it.
scan-not-queued = Not queued
label-card-title = Check the label
labels-waiting = { $count ->
    [one] One more label from these photos waits for confirmation after this one.
   *[other] { $count } more labels from these photos wait for confirmation after this one.
}
label-invalid = This is not a valid label
label-invalid-hint = Nothing was queued. Scan it again, or type the line printed under the code.
label-serial = Serial
label-model = Model
label-key = Device key
label-read-as = Read as
repeat-title = Already scanned
repeat-warning = { $serial } is already in this tablet's queue (record #{ $sequence }, { $ago }, site “{ $site }”). Confirm only if you mean to record it again.
site-label = Site or work order
site-placeholder = e.g. WO-1001, Plant 3 roof
note-label = Note (optional)
note-placeholder = e.g. left of the door
confirm-queue = Confirm and queue
confirm-saving = Saving…
discard = Discard
repeat-refused-title = Same label as the last scan
repeat-refused = This is the label you scanned last, so it was not queued twice by mistake.
repeat-again = Record a second scan anyway
camera-title = Camera
camera-opening = Opening the camera…
camera-point = Point the camera at the label ({ $name })
camera-use = Use the code in view
camera-stop = Stop
camera-off = The camera is off.
camera-start = Start the camera
camera-plugin = The camera opens full screen; it closes by itself when it reads a code.
camera-plugin-start = Scan with the camera
camera-none = No camera
camera-unavailable = Camera unavailable
camera-retry = Try again
camera-waiting = Waiting for the first picture…
camera-preview = Camera preview
photo-title = Import a photo
photo-choose = Choose photos…
photo-reading = Reading…
photo-drop-paste = Or drop photos on this window, or paste one (Ctrl+V).
photo-path-label = Or type the file’s path
photo-read = Read
photo-unreadable = cannot be read as a photo ({ $error })
photo-no-code = no QR code found: take a closer, sharper photo, or type the line printed under the code
manual-title = Type the label
manual-label = The line printed under the code
manual-use = Use this label
manual-check = Check this label

## Queue screen
queue-waiting = { $count ->
    [one] One record is waiting to be synced, since { $since } ({ $ago }).
   *[other] { $count } records are waiting to be synced, the oldest since { $since } ({ $ago }).
}
queue-nothing-waiting = Nothing waits: every scan is on the server.
queue-not-synced = Not synced yet.

## Settings
settings-language = Language
settings-language-hint = The app follows the system's language until you choose one here.

## Labels: why one is refused, and the typed line's checks
label-empty = Nothing was read.
label-not-vouch = This is not a Vouch label: it must start with VOUCH1 (or DPP:).
label-check-mismatch = The check character at the end does not match: a character is mistyped or the label is damaged.
label-group-check-mismatch = One group of the key does not match its check character.
label-wrong-field-count = Parts of the label are missing or extra (was it cut short?).
label-bad-length = A part of the label has the wrong length.
label-bad-character = The label holds a character that is not allowed there.
label-invalid-key = The key on the label is not a valid device key.
label-unknown-version = This label version is not supported by this app.
label-too-long = This is too long to be a label.
label-only-dots = The serial is made only of dots, which no label may have.
label-unreadable = This label cannot be read.
manual-reads-correctly = The label reads correctly.
manual-type-line = Type the line printed under the code, with single spaces.
manual-group-bad = Group { $n } (“{ $token }”) does not match its check character: look for a typo in it.
manual-groups-typed = { $ok } of { $groups } key groups typed, all correct so far.

## Batch scanning
mode-single = One label
mode-batch = Batch (rack, pallet)
batch-title = Batch scan
batch-intro = Set the site once, then sweep the camera along the rack: every new label is checked and queued on its own.
batch-start = Start the batch
batch-running = Site: { $site }. Every new label in view is queued.
batch-count = { $count ->
    [one] One label queued
   *[other] { $count } labels queued
}
batch-stopped-title = Batch stopped
batch-resume = Go on scanning
batch-undo = Undo
batch-end = End the batch
camera-pick = Tap to use this label

review-manifest-none = Not in any manifest
review-manifest-expected = Expected: manifest { $import }
review-manifest-match = Manifest { $import }: key matches
review-manifest-differs = Manifest { $import }: key differs
review-import-title = Import a manifest of expected devices
review-import-help = A CSV file with a header line, or JSON lines: serial, model, key or label, batch, order. One bad line and nothing is imported; importing the same file again changes nothing.
review-import-reason = Why (recorded in the audit log)
review-import-button = Import
review-import-running = Importing…
review-import-no-file = Choose a manifest file first.
review-import-unreadable = This file cannot be read as text.
review-import-done = Import { $import }: { $added } newly expected, { $updated } already scanned now listed, { $unchanged } unchanged.

## Shared
loading = Loading…
refresh = Refresh

## Roles
role-technician = technician
role-supervisor = supervisor

## Identity card
identity-fingerprint = Key fingerprint
identity-server = Server
identity-valid-until = Certificate valid until
identity-key-id = Key id

## Join screen
join-title = Join your team's server
join-intro-before = Ask your supervisor for an invite. It is a QR code and a line of text that starts with{" "}
join-intro-after = . Paste the text here; this tablet then makes its own key and registers it.
join-invite = Invite
join-button = Join
join-running = Joining…
join-failed = Could not join
join-done-title = You have joined
join-done-text = This tablet now has its own key, registered with the server. Every scan you make is signed with it.
join-continue = Start scanning

## Queue screen: counts, sync, records
queue-count-waiting = waiting
queue-count-synced = synced
queue-count-refused = refused
queue-offline = The server cannot be reached. Keep scanning: every scan stays safely on this tablet and is sent at the next sync.
sync-now = Sync now
sync-running = Syncing…
sync-progress = { $step }: { $done } of { $total } answered ({ $accepted } accepted{ $refusals ->
    [0] {""}
   *[other] , { $refusals } refused
})
sync-retrying-in = . Retrying in { $seconds } s: { $reason }
sync-failed = Sync failed
sync-failed-offline = Sync failed: offline
last-sync-report = Last sync { $ago } ({ $at }): { $sent } sent, { $accepted } accepted, { $held } held, { $refusals } refused, { $left } left.
last-sync-failed = Last sync { $ago } ({ $at }) failed: { $error }
last-sync-at = Last sync { $ago } ({ $at }).
queue-unreadable = The queue cannot be read
queue-loading = Loading the queue…
queue-empty-title = Nothing queued yet
queue-empty = Scan a label on the Scan screen. Each scan is saved on this tablet first and waits here until it is synced.
queue-site = Site: { $site }
queue-note = Note: { $note }
queue-server-code = {" "}(server's code: { $code })
queue-server-said = {" "}(the server's own words, which this app has no translation for: “{ $message }”; code: { $code })
record-queued = Waiting to sync
record-syncing = Sending
record-held = Held: an earlier scan is missing
record-accepted = Synced
record-duplicate = Synced (already there)
record-refused = Refused
sync-step-started = Starting
sync-step-sending = Sending
sync-step-retrying = Retrying
sync-step-answered = Server answered
sync-step-finished = Done
sync-step-other = Working

## Why the server refused a record
refusal-other = The server refused this scan. Tell your supervisor.
refusal-reused = The server already holds a different scan under this number. Tell your supervisor.
refusal-not-this-key = The scan was not made by this tablet's registered key. Join again with a new invite.
refusal-revoked = This tablet's registration was revoked. Ask a supervisor for a new invite.
refusal-malformed = The scan could not be read by the server. Scan the label again.
refusal-bad-signature = The scan was changed after it was signed on this tablet, so the server cannot trust it. Scan the label again and tell your supervisor.
refusal-held = An earlier scan from this tablet never reached the server, so this one waits. It is sent again at every sync; if it stays held, tell your supervisor: once they accept the gap, the next sync gets it through.
refusal-chain-broken = This scan does not follow the last one the server accepted from this tablet (scans were lost or changed here). Tell your supervisor.

## Label forms
label-format-qr = QR code
label-format-manual = manual entry
label-format-dpp = DPP code

## Review screen
review-denied = Review is for supervisors
review-filters = Which devices
review-filter-pending = Pending
review-filter-conflicts = Conflicts
review-filter-approved = Approved
review-filter-expected = Expected
review-filter-all = All
review-filter-pending-empty = No device is waiting for review. Devices appear here once a technician's scans are synced.
review-filter-conflicts-empty = No conflicts: no label was seen with two keys or two serials.
review-filter-approved-empty = No device is approved and waiting to enroll.
review-filter-expected-empty = No device is expected and unscanned: import a manifest above, or every device it listed has been scanned (see All).
review-filter-all-empty = The server holds no scanned device yet (a manifest's unscanned devices are under Expected).
review-choose = Choose a device to see who scanned it, where and when, and to approve or reject it.
review-loading = Asking the server…
review-no-answer = The server did not answer
review-device-line = { $model } · { $scans ->
    [one] one scan
   *[other] { $scans } scans
} · { $ago }
review-scans = Scans ({ $count })
conflict-title = Conflicting labels
conflict-text = This serial was read with more than one key, or this key under another serial: a swapped, cloned or forged label. Approving lets only the first key seen ({ $key }) enroll. Check the device on site before you decide.
decision-reason = Reason (recorded in the audit log)
decision-reason-example = e.g. label checked on site
decision-reenroll-example = e.g. certificate expired in storage
decision-approve = Approve
decision-reject = Reject
decision-reason-needed = Write a reason to approve or reject.
decision-reenroll = Let it enroll again
decision-revoke = Revoke
decision-enrolled-hint = Enrolling again revokes its certificate and lets its label key enroll once more (a certificate that expired, a device reset). Revoking ends its certificate for good.
decision-failed = Not recorded
decision-done = Recorded.
timeline-title = Timeline
facts-vouched-key = Vouched key
facts-other-keys = Other keys seen
facts-other-keys-count = { $count ->
    [one] one other key under this serial
   *[other] { $count } other keys under this serial
}
facts-same-key-under = Same key under
facts-certificate = Certificate
facts-certificate-issued = issued
facts-certificate-none = none yet
scan-who = Who
scan-when = When
scan-where = Where
scan-note = Note
scan-key = Key
scan-other-key = a different key
scan-received = Received
actor-you = you ({ $name })
actor-staff = staff { $key }…
actor-device = the device
problems-title = A tablet that scanned this device has problems
problems-text = Scans from it are missing or it was revoked: check its scans with care.
gap-unnamed-tablet = a tablet
gap-scan = scan { $n }
gap-scans = scans { $first } to { $last }
gap-lost = { $name }'s tablet: { $lost } never reached the server.
gap-open = { $name }'s tablet: { $lost } never reached the server; its later scans are held.
gap-accepted = Accepted as lost by { $by }; its held scans go through at its next sync.
gap-accept = Accept as lost
gap-reason = Reason to accept a gap (recorded in the audit log)
gap-reason-example = e.g. tablet restored from a backup

## Device states and timeline events
device-expected = Expected: listed in a manifest, not scanned yet
device-scanned = Waiting for review
device-approved = Approved: may enroll
device-enrolled = Enrolled
device-rejected = Rejected
device-conflict = Conflict: label seen with another key or serial
device-revoked = Revoked
event-other = Event
event-scanned = Scanned
event-corroborated = Scanned again (same key)
event-expected = Listed in a manifest
event-manifest-matched = Key matches the manifest
event-not-in-manifest = Not in any manifest
event-conflict = Conflict found
event-conflict-flagged = Conflicting scan flagged
event-approved = Approved
event-rejected = Rejected
event-revoked = Revoked
event-enrolled = Enrolled
event-renewed = Certificate renewed
event-duplicate-enrollment = Second enrollment attempt refused
event-reenrollment-allowed = Allowed to enroll again

## Settings and about
settings-identity = Who this tablet is
settings-not-joined = Not joined yet: use an invite on the Join screen.
about-title = About Vouch
about-text = Vouch lets a trusted field technician vouch for a device that nobody could sign for at the factory: a scan of its label binds the device's key to its serial, and the server issues its certificate once the device proves it holds that key.
about-version = Version
about-data-folder = Data folder
about-retention = Keep synced scans
about-retention-forever = forever
about-retention-days = { $days ->
    [one] one day after they are synced
   *[other] { $days } days after they are synced
}
about-sync = Sync
about-sync-batches = { $batch } scans per upload, { $attempts } attempts
about-camera = Camera
about-camera-plugin = the platform's barcode scanner
about-camera-simulated = simulated from image files (VOUCH_FAKE_CAMERA)
about-camera-app = read by the app (nokhwa)
about-problem = Problem
export-title = Back up the queue
export-label = Write every scan, signed, to this file (JSON lines)
export-button = Export
export-done = { $count ->
    [one] One scan written.
   *[other] { $count } scans written.
}
activity-title = Activity
activity-empty = Nothing happened yet in this session.
activity-open = Opening the data folder
activity-start = Start
activity-register = Joining the server
activity-scan = Scan
activity-scan-image = Scan from a photo
activity-batch-scan = Batch scan
activity-undo = Undoing a batch scan
activity-export = Export of the queue
activity-sync = Sync
activity-approve = Approval
activity-reject = Rejection
activity-revoke = Revocation
activity-reenroll = Allowing a device to enroll again
activity-accept-gap = Accepting a gap as lost
activity-other = Action
activity-done = done
activity-ready = the scan screen was ready { $ms } ms after the start

## Errors the app shell reports, by code (its own English text follows in brackets where it names a path, an address or a reason)
error-unknown = Something went wrong.
error-not-registered = This tablet has not joined a server yet: use an invite on the Join screen.
error-already-registered = This tablet has already joined a server.
error-bad-invite = This invite is not valid: scan or paste it again, or ask for a new invite.
error-ca-mismatch = This is not the server the invite was made for, or something is in between; nothing was sent. Check the network and ask for a new invite.
error-invite-refused = The server refused the invite: it is unknown, already used or expired. Ask your supervisor for a new one.
error-untrusted-certificate = The server sent a certificate the invite's authority does not vouch for; nothing was stored. Tell the operator and ask for a new invite.
error-bad-label = This is not a valid label; nothing was queued.
error-bad-field = The site or note is not valid; nothing was queued. Shorten or correct it.
error-bad-argument = The app was asked for something it cannot do.
error-no-code = No QR code was found; nothing was queued. Take a closer, sharper photo, or type the line printed under the code.
error-bad-image = The image cannot be read; nothing was queued. Check the file.
error-repeat-scan = This is the label scanned last; nothing was queued.
error-offline = The server cannot be reached (offline). Nothing was lost: every scan stays queued; sync again when there is a network.
error-tls = The secure connection to the server failed. Check the server address; if the server changed, join again with a new invite.
error-refused = The server refused this request. If this tablet was revoked, ask a supervisor for a new invite.
error-not-supervisor = Review is for supervisors: ask a supervisor to review, or join with a supervisor invite.
error-not-found = The server does not know it. Check the serial.
error-server-error = The server failed. Try again later, or tell the operator.
error-protocol = The server's answer was not understood; nothing was lost. Update the app or tell the operator.
error-storage = The queue on this tablet could not be written; no confirmed scan is lost. Check free space, then try again.
error-queue-damaged = The queue on this tablet is damaged; nothing was changed. Keep the data folder and tell the operator.
error-busy = The data folder is in use by another program. Close it and try again.
error-corrupt = Stored data is damaged. Do not delete the data folder; tell the operator.
error-io = A file could not be read or written. Check the path and its permissions.
error-key = This tablet's key cannot be used. Join again with a new invite.
error-config = The configuration file is not valid. Fix it, or delete it to get the defaults back.
error-no-data-dir = No data folder could be found on this system.
error-sync-running = A sync is already running: wait for it to finish.
error-batch-conflict = This label clashes with one already queued in this batch; nothing was queued. Set the device aside and tell your supervisor.
error-undo-refused = This scan cannot be taken back.
error-no-batch = No batch is running: start a batch with its site first.
error-no-camera = No camera was found: import a photo of the label, or type the line printed under the code.
error-camera = The camera cannot be used. Close other programs that use it and try again, or import a photo of the label.
error-camera-is-plugin = On this device the camera is opened by the barcode scanner.
error-shell = The app failed. Restart it.
error-not-in-tauri = This page runs outside the Vouch app: open the Vouch app instead.
error-encode = The app could not send its request. Update the app.
error-decode = The app did not understand an answer. Update the app.
error-ipc = The app could not carry out this request. Restart it.
