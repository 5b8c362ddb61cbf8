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
time-min-ago = { $n } min ago
time-h-ago = { $n } h ago

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
