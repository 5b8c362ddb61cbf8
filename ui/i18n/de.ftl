# Die Wörter der Vouch-App, Deutsch. Jede Id steht auch in en.ftl (ein Unit-Test prüft es).

## Rahmen: Kopfzeile und Navigation
app-starting = Startet…
app-cannot-start = Vouch kann nicht starten
nav-scan = Scannen
nav-queue = Warteschlange
nav-review = Prüfen
nav-settings = Einstellungen
nav-label = Ansichten
status-online = Online
status-offline = Offline
status-refused = Abgelehnt
status-checking = Prüfe
status-not-joined = Nicht verbunden
status-check-again = Server: { $status }. Erneut prüfen

## Zeiten
time-just-now = gerade eben

## Scannen
source-camera = von der Kamera gelesen
source-photo = aus dem Foto gelesen
source-typed = eingetippt
scan-saved = Auf diesem Tablet gespeichert
scan-queued = { $serial } steht als Eintrag #{ $sequence } in der Warteschlange. Er wird beim nächsten Abgleich an den Server gesendet.
site-kept = Der Standort „{ $site }“ bleibt für die nächsten Scans, bis Sie ihn ändern.
scan-not-queued = Nicht eingereiht
label-card-title = Etikett prüfen
labels-waiting = { $count ->
    [one] Ein weiteres Etikett aus diesen Fotos wartet danach auf Bestätigung.
   *[other] { $count } weitere Etiketten aus diesen Fotos warten danach auf Bestätigung.
}
label-invalid = Das ist kein gültiges Etikett
label-invalid-hint = Nichts wurde eingereiht. Scannen Sie es erneut oder tippen Sie die Zeile unter dem Code ein.
label-serial = Seriennummer
label-model = Modell
label-key = Geräteschlüssel
label-read-as = Gelesen als
repeat-title = Bereits gescannt
repeat-warning = { $serial } steht bereits in der Warteschlange dieses Tablets (Eintrag #{ $sequence }, { $ago }, Standort „{ $site }“). Bestätigen Sie nur, wenn Sie es erneut erfassen wollen.
site-label = Standort oder Auftrag
site-placeholder = z. B. WO-1001, Werk 3 Dach
note-label = Notiz (optional)
note-placeholder = z. B. links neben der Tür
confirm-queue = Bestätigen und einreihen
confirm-saving = Speichert…
discard = Verwerfen
repeat-refused-title = Dasselbe Etikett wie beim letzten Scan
repeat-refused = Dieses Etikett haben Sie zuletzt gescannt; es wurde nicht versehentlich doppelt eingereiht.
repeat-again = Trotzdem einen zweiten Scan erfassen
camera-title = Kamera
camera-opening = Kamera wird geöffnet…
camera-point = Richten Sie die Kamera auf das Etikett ({ $name })
camera-use = Code im Bild verwenden
camera-stop = Stopp
camera-off = Die Kamera ist aus.
camera-start = Kamera starten
camera-plugin = Die Kamera öffnet sich im Vollbild und schließt sich von selbst, sobald sie einen Code liest.
camera-plugin-start = Mit der Kamera scannen
camera-none = Keine Kamera
camera-unavailable = Kamera nicht verfügbar
camera-retry = Erneut versuchen
camera-waiting = Warte auf das erste Bild…
camera-preview = Kameravorschau
photo-title = Foto importieren
photo-choose = Fotos auswählen…
photo-reading = Liest…
photo-drop-paste = Oder Fotos auf dieses Fenster ziehen oder eines einfügen (Strg+V).
photo-path-label = Oder den Pfad der Datei eintippen
photo-read = Lesen
photo-unreadable = kann nicht als Foto gelesen werden ({ $error })
photo-no-code = kein QR-Code gefunden: Fotografieren Sie näher und schärfer oder tippen Sie die Zeile unter dem Code ein
manual-title = Etikett eintippen
manual-label = Die Zeile unter dem Code
manual-use = Dieses Etikett verwenden
manual-check = Dieses Etikett prüfen

## Warteschlange
queue-waiting = { $count ->
    [one] Ein Eintrag wartet auf den Abgleich, seit { $since } ({ $ago }).
   *[other] { $count } Einträge warten auf den Abgleich, der älteste seit { $since } ({ $ago }).
}
queue-nothing-waiting = Nichts wartet: Jeder Scan ist auf dem Server.
queue-not-synced = Noch nicht abgeglichen.

## Einstellungen
settings-language = Sprache
settings-language-hint = Die App folgt der Systemsprache, bis Sie hier eine wählen.

## Etiketten: warum eines abgelehnt wird, und die Prüfung der getippten Zeile
label-empty = Es wurde nichts gelesen.
label-not-vouch = Das ist kein Vouch-Etikett: Es muss mit VOUCH1 (oder DPP:) beginnen.
label-check-mismatch = Das Prüfzeichen am Ende passt nicht: Ein Zeichen ist vertippt oder das Etikett ist beschädigt.
label-group-check-mismatch = Eine Gruppe des Schlüssels passt nicht zu ihrem Prüfzeichen.
label-wrong-field-count = Teile des Etiketts fehlen oder sind zu viel (wurde es abgeschnitten?).
label-bad-length = Ein Teil des Etiketts hat die falsche Länge.
label-bad-character = Das Etikett enthält ein Zeichen, das dort nicht erlaubt ist.
label-invalid-key = Der Schlüssel auf dem Etikett ist kein gültiger Geräteschlüssel.
label-unknown-version = Diese Etikettversion unterstützt die App nicht.
label-too-long = Das ist zu lang für ein Etikett.
label-only-dots = Die Seriennummer besteht nur aus Punkten; das ist auf keinem Etikett erlaubt.
label-unreadable = Dieses Etikett kann nicht gelesen werden.
manual-reads-correctly = Das Etikett ist korrekt.
manual-type-line = Tippen Sie die Zeile unter dem Code ein, mit einfachen Leerzeichen.
manual-group-bad = Gruppe { $n } („{ $token }“) passt nicht zu ihrem Prüfzeichen: Suchen Sie darin einen Tippfehler.
manual-groups-typed = { $ok } von { $groups } Schlüsselgruppen getippt, bisher alle korrekt.

## Batch scanning
mode-single = Ein Etikett
mode-batch = Serie (Rack, Palette)
batch-title = Serienscan
batch-intro = Den Standort einmal angeben, dann die Kamera am Rack entlangführen: Jedes neue Etikett wird geprüft und einzeln in die Warteschlange gestellt.
batch-start = Serie beginnen
batch-running = Standort: { $site }. Jedes neue Etikett im Bild kommt in die Warteschlange.
batch-count = { $count ->
    [one] Ein Etikett in der Warteschlange
   *[other] { $count } Etiketten in der Warteschlange
}
batch-stopped-title = Serie angehalten
batch-resume = Weiter scannen
batch-undo = Rückgängig
batch-end = Serie beenden
camera-pick = Tippen, um dieses Etikett zu nehmen

review-manifest-none = In keinem Manifest
review-manifest-expected = Erwartet: Manifest { $import }
review-manifest-match = Manifest { $import }: Schlüssel stimmt
review-manifest-differs = Manifest { $import }: Schlüssel weicht ab
review-import-title = Manifest erwarteter Geräte importieren
review-import-help = Eine CSV-Datei mit Kopfzeile oder JSON-Zeilen: serial, model, key oder label, batch, order. Eine fehlerhafte Zeile, und nichts wird importiert; dieselbe Datei noch einmal ändert nichts.
review-import-reason = Warum (wird im Prüfprotokoll vermerkt)
review-import-button = Importieren
review-import-running = Wird importiert…
review-import-no-file = Wählen Sie zuerst eine Manifestdatei.
review-import-unreadable = Diese Datei lässt sich nicht als Text lesen.
review-import-done = Import { $import }: { $added } neu erwartet, { $updated } bereits gescannt und nun gelistet, { $unchanged } unverändert.

## Allgemein
loading = Wird geladen…
refresh = Aktualisieren

## Rollen
role-technician = Techniker
role-supervisor = Supervisor

## Identitätskarte
identity-fingerprint = Schlüssel-Fingerabdruck
identity-server = Server
identity-valid-until = Zertifikat gültig bis
identity-key-id = Schlüssel-Id

## Beitreten
join-title = Dem Server Ihres Teams beitreten
join-intro-before = Bitten Sie Ihren Supervisor um eine Einladung. Sie besteht aus einem QR-Code und einer Textzeile, die beginnt mit{" "}
join-intro-after = . Fügen Sie den Text hier ein; dieses Tablet erzeugt dann seinen eigenen Schlüssel und registriert ihn.
join-invite = Einladung
join-button = Beitreten
join-running = Tritt bei…
join-failed = Beitritt nicht möglich
join-done-title = Sie sind beigetreten
join-done-text = Dieses Tablet hat jetzt einen eigenen, beim Server registrierten Schlüssel. Jeder Ihrer Scans wird damit signiert.
join-continue = Mit dem Scannen beginnen

## Warteschlange: Zähler, Abgleich, Einträge
queue-count-waiting = wartend
queue-count-synced = abgeglichen
queue-count-refused = abgelehnt
queue-offline = Der Server ist nicht erreichbar. Scannen Sie weiter: Jeder Scan bleibt sicher auf diesem Tablet und wird beim nächsten Abgleich gesendet.
sync-now = Jetzt abgleichen
sync-running = Gleicht ab…
sync-progress = { $step }: { $done } von { $total } beantwortet ({ $accepted } angenommen{ $refusals ->
    [0] {""}
   *[other] , { $refusals } abgelehnt
})
sync-retrying-in = . Neuer Versuch in { $seconds } s: { $reason }
sync-failed = Abgleich fehlgeschlagen
sync-failed-offline = Abgleich fehlgeschlagen: offline
last-sync-report = Letzter Abgleich { $ago } ({ $at }): { $sent } gesendet, { $accepted } angenommen, { $held } zurückgehalten, { $refusals } abgelehnt, { $left } offen.
last-sync-failed = Letzter Abgleich { $ago } ({ $at }) fehlgeschlagen: { $error }
last-sync-at = Letzter Abgleich { $ago } ({ $at }).
queue-unreadable = Die Warteschlange kann nicht gelesen werden
queue-loading = Warteschlange wird geladen…
queue-empty-title = Noch nichts in der Warteschlange
queue-empty = Scannen Sie ein Etikett in der Ansicht „Scannen“. Jeder Scan wird zuerst auf diesem Tablet gespeichert und wartet hier, bis er abgeglichen ist.
queue-site = Standort: { $site }
queue-note = Notiz: { $note }
queue-server-code = {" "}(Code des Servers: { $code })
queue-server-said = {" "}(die Worte des Servers, für die diese App keine Übersetzung hat: „{ $message }“; Code: { $code })
record-queued = Wartet auf Abgleich
record-syncing = Wird gesendet
record-held = Zurückgehalten: ein früherer Scan fehlt
record-accepted = Abgeglichen
record-duplicate = Abgeglichen (war schon da)
record-refused = Abgelehnt
sync-step-started = Startet
sync-step-sending = Sendet
sync-step-retrying = Neuer Versuch
sync-step-answered = Server hat geantwortet
sync-step-finished = Fertig
sync-step-other = Arbeitet

## Warum der Server einen Eintrag abgelehnt hat
refusal-other = Der Server hat diesen Scan abgelehnt. Informieren Sie Ihren Supervisor.
refusal-reused = Der Server hat unter dieser Nummer bereits einen anderen Scan. Informieren Sie Ihren Supervisor.
refusal-not-this-key = Der Scan stammt nicht vom registrierten Schlüssel dieses Tablets. Treten Sie mit einer neuen Einladung erneut bei.
refusal-revoked = Die Registrierung dieses Tablets wurde widerrufen. Bitten Sie einen Supervisor um eine neue Einladung.
refusal-malformed = Der Server konnte den Scan nicht lesen. Scannen Sie das Etikett erneut.
refusal-bad-signature = Der Scan wurde nach dem Signieren auf diesem Tablet verändert, daher kann der Server ihm nicht trauen. Scannen Sie das Etikett erneut und informieren Sie Ihren Supervisor.
refusal-held = Ein früherer Scan dieses Tablets hat den Server nie erreicht, daher wartet dieser. Er wird bei jedem Abgleich erneut gesendet; bleibt er zurückgehalten, informieren Sie Ihren Supervisor: Sobald er die Lücke akzeptiert, geht er beim nächsten Abgleich durch.
refusal-chain-broken = Dieser Scan schließt nicht an den letzten an, den der Server von diesem Tablet angenommen hat (hier gingen Scans verloren oder wurden verändert). Informieren Sie Ihren Supervisor.

## Formen eines Etiketts
label-format-qr = QR-Code
label-format-manual = manuelle Eingabe
label-format-dpp = DPP-Code

## Prüfen
review-denied = Prüfen ist Supervisoren vorbehalten
review-filters = Welche Geräte
review-filter-pending = Offen
review-filter-conflicts = Konflikte
review-filter-approved = Freigegeben
review-filter-expected = Erwartet
review-filter-all = Alle
review-filter-pending-empty = Kein Gerät wartet auf Prüfung. Geräte erscheinen hier, sobald die Scans eines Technikers abgeglichen sind.
review-filter-conflicts-empty = Keine Konflikte: Kein Etikett wurde mit zwei Schlüsseln oder zwei Seriennummern gesehen.
review-filter-approved-empty = Kein Gerät ist freigegeben und wartet auf die Registrierung.
review-filter-expected-empty = Kein Gerät ist erwartet und ungescannt: Importieren Sie oben ein Manifest, oder jedes darin gelistete Gerät wurde gescannt (siehe Alle).
review-filter-all-empty = Der Server hat noch kein gescanntes Gerät (die ungescannten Geräte eines Manifests stehen unter Erwartet).
review-choose = Wählen Sie ein Gerät, um zu sehen, wer es wo und wann gescannt hat, und um es freizugeben oder abzulehnen.
review-loading = Frage den Server…
review-no-answer = Der Server hat nicht geantwortet
review-device-line = { $model } · { $scans ->
    [one] ein Scan
   *[other] { $scans } Scans
} · { $ago }
review-scans = Scans ({ $count })
conflict-title = Widersprüchliche Etiketten
conflict-text = Diese Seriennummer wurde mit mehr als einem Schlüssel gelesen, oder dieser Schlüssel unter einer anderen Seriennummer: ein vertauschtes, kopiertes oder gefälschtes Etikett. Eine Freigabe lässt nur den zuerst gesehenen Schlüssel ({ $key }) registrieren. Prüfen Sie das Gerät vor Ort, bevor Sie entscheiden.
decision-reason = Begründung (wird im Prüfprotokoll vermerkt)
decision-reason-example = z. B. Etikett vor Ort geprüft
decision-reenroll-example = z. B. Zertifikat im Lager abgelaufen
decision-approve = Freigeben
decision-reject = Ablehnen
decision-reason-needed = Geben Sie eine Begründung an, um freizugeben oder abzulehnen.
decision-reenroll = Erneut registrieren lassen
decision-revoke = Widerrufen
decision-enrolled-hint = Erneutes Registrieren widerruft sein Zertifikat und lässt den Schlüssel seines Etiketts noch einmal registrieren (ein abgelaufenes Zertifikat, ein zurückgesetztes Gerät). Widerrufen beendet sein Zertifikat endgültig.
decision-failed = Nicht vermerkt
decision-done = Vermerkt.
timeline-title = Verlauf
facts-vouched-key = Verbürgter Schlüssel
facts-other-keys = Andere gesehene Schlüssel
facts-other-keys-count = { $count ->
    [one] ein anderer Schlüssel unter dieser Seriennummer
   *[other] { $count } andere Schlüssel unter dieser Seriennummer
}
facts-same-key-under = Derselbe Schlüssel unter
facts-certificate = Zertifikat
facts-certificate-issued = ausgestellt
facts-certificate-none = noch keines
scan-who = Wer
scan-when = Wann
scan-where = Wo
scan-note = Notiz
scan-key = Schlüssel
scan-other-key = ein anderer Schlüssel
scan-received = Empfangen
actor-you = Sie ({ $name })
actor-staff = Mitarbeiter { $key }…
actor-device = das Gerät
problems-title = Ein Tablet, das dieses Gerät gescannt hat, hat Probleme
problems-text = Scans von ihm fehlen oder es wurde widerrufen: Prüfen Sie seine Scans sorgfältig.
gap-unnamed-tablet = ein Tablet
gap-scan = Scan { $n }
gap-scans = Scans { $first } bis { $last }
gap-lost = Tablet von { $name }: { $lost } hat den Server nie erreicht.
gap-open = Tablet von { $name }: { $lost } hat den Server nie erreicht; seine späteren Scans werden zurückgehalten.
gap-accepted = Als verloren akzeptiert von { $by }; seine zurückgehaltenen Scans gehen beim nächsten Abgleich durch.
gap-accept = Als verloren akzeptieren
gap-reason = Begründung für das Akzeptieren der Lücke (wird im Prüfprotokoll vermerkt)
gap-reason-example = z. B. Tablet aus einer Sicherung wiederhergestellt

## Gerätezustände und Verlaufsereignisse
device-expected = Erwartet: in einem Manifest gelistet, noch nicht gescannt
device-scanned = Wartet auf Prüfung
device-approved = Freigegeben: darf sich registrieren
device-enrolled = Registriert
device-rejected = Abgelehnt
device-conflict = Konflikt: Etikett mit anderem Schlüssel oder anderer Seriennummer gesehen
device-revoked = Widerrufen
event-other = Ereignis
event-scanned = Gescannt
event-corroborated = Erneut gescannt (gleicher Schlüssel)
event-expected = In einem Manifest gelistet
event-manifest-matched = Schlüssel stimmt mit dem Manifest überein
event-not-in-manifest = In keinem Manifest
event-conflict = Konflikt gefunden
event-conflict-flagged = Widersprüchlicher Scan markiert
event-approved = Freigegeben
event-rejected = Abgelehnt
event-revoked = Widerrufen
event-enrolled = Registriert
event-renewed = Zertifikat erneuert
event-duplicate-enrollment = Zweiter Registrierungsversuch abgelehnt
event-reenrollment-allowed = Erneute Registrierung erlaubt

## Einstellungen und Info
settings-identity = Wer dieses Tablet ist
settings-not-joined = Noch nicht beigetreten: Verwenden Sie eine Einladung in der Ansicht „Beitreten“.
about-title = Über Vouch
about-text = Mit Vouch bürgt ein vertrauenswürdiger Techniker vor Ort für ein Gerät, für das im Werk niemand unterschreiben konnte: Ein Scan seines Etiketts bindet den Schlüssel des Geräts an seine Seriennummer, und der Server stellt sein Zertifikat aus, sobald das Gerät beweist, dass es diesen Schlüssel besitzt.
about-version = Version
about-data-folder = Datenordner
about-retention = Abgeglichene Scans aufbewahren
about-retention-forever = für immer
about-retention-days = { $days ->
    [one] einen Tag nach dem Abgleich
   *[other] { $days } Tage nach dem Abgleich
}
about-sync = Abgleich
about-sync-batches = { $batch } Scans pro Übertragung, { $attempts } Versuche
about-camera = Kamera
about-camera-plugin = der Barcode-Scanner der Plattform
about-camera-simulated = aus Bilddateien simuliert (VOUCH_FAKE_CAMERA)
about-camera-app = von der App gelesen (nokhwa)
about-problem = Problem
export-title = Warteschlange sichern
export-label = Jeden Scan signiert in diese Datei schreiben (JSON-Zeilen)
export-button = Exportieren
export-done = { $count ->
    [one] Ein Scan geschrieben.
   *[other] { $count } Scans geschrieben.
}
activity-title = Aktivität
activity-empty = In dieser Sitzung ist noch nichts geschehen.
activity-open = Öffnen des Datenordners
activity-start = Start
activity-register = Beitritt zum Server
activity-scan = Scan
activity-scan-image = Scan aus einem Foto
activity-batch-scan = Serienscan
activity-undo = Rücknahme eines Serienscans
activity-export = Export der Warteschlange
activity-sync = Abgleich
activity-approve = Freigabe
activity-reject = Ablehnung
activity-revoke = Widerruf
activity-reenroll = Erneute Registrierung erlauben
activity-accept-gap = Lücke als verloren akzeptieren
activity-other = Aktion
activity-done = erledigt
activity-ready = die Ansicht „Scannen“ war { $ms } ms nach dem Start bereit

## Fehler der App-Shell, nach Code (ihr englischer Text folgt in Klammern, wo er einen Pfad, eine Adresse oder einen Grund nennt)
error-unknown = Etwas ist schiefgegangen.
error-not-registered = Dieses Tablet ist noch keinem Server beigetreten: Verwenden Sie eine Einladung in der Ansicht „Beitreten“.
error-already-registered = Dieses Tablet ist bereits einem Server beigetreten.
error-bad-invite = Diese Einladung ist ungültig: Scannen oder fügen Sie sie erneut ein, oder bitten Sie um eine neue.
error-ca-mismatch = Das ist nicht der Server, für den die Einladung ausgestellt wurde, oder etwas steht dazwischen; nichts wurde gesendet. Prüfen Sie das Netzwerk und bitten Sie um eine neue Einladung.
error-invite-refused = Der Server hat die Einladung abgelehnt: Sie ist unbekannt, bereits benutzt oder abgelaufen. Bitten Sie Ihren Supervisor um eine neue.
error-untrusted-certificate = Der Server hat ein Zertifikat gesendet, für das die Zertifizierungsstelle der Einladung nicht bürgt; nichts wurde gespeichert. Informieren Sie den Betreiber und bitten Sie um eine neue Einladung.
error-bad-label = Das ist kein gültiges Etikett; nichts wurde eingereiht.
error-bad-field = Standort oder Notiz sind ungültig; nichts wurde eingereiht. Kürzen oder korrigieren Sie die Angabe.
error-bad-argument = Die App wurde um etwas gebeten, das sie nicht kann.
error-no-code = Kein QR-Code gefunden; nichts wurde eingereiht. Fotografieren Sie näher und schärfer oder tippen Sie die Zeile unter dem Code ein.
error-bad-image = Das Bild kann nicht gelesen werden; nichts wurde eingereiht. Prüfen Sie die Datei.
error-repeat-scan = Das ist das zuletzt gescannte Etikett; nichts wurde eingereiht.
error-offline = Der Server ist nicht erreichbar (offline). Nichts ging verloren: Jeder Scan bleibt in der Warteschlange; gleichen Sie erneut ab, sobald ein Netzwerk da ist.
error-tls = Die sichere Verbindung zum Server ist fehlgeschlagen. Prüfen Sie die Serveradresse; wurde der Server gewechselt, treten Sie mit einer neuen Einladung erneut bei.
error-refused = Der Server hat diese Anfrage abgelehnt. Wurde dieses Tablet widerrufen, bitten Sie einen Supervisor um eine neue Einladung.
error-not-supervisor = Prüfen ist Supervisoren vorbehalten: Bitten Sie einen Supervisor um die Prüfung, oder treten Sie mit einer Supervisor-Einladung bei.
error-not-found = Der Server kennt es nicht. Prüfen Sie die Seriennummer.
error-server-error = Der Server hat einen Fehler gemeldet. Versuchen Sie es später erneut oder informieren Sie den Betreiber.
error-protocol = Die Antwort des Servers wurde nicht verstanden; nichts ging verloren. Aktualisieren Sie die App oder informieren Sie den Betreiber.
error-storage = Die Warteschlange auf diesem Tablet konnte nicht geschrieben werden; kein bestätigter Scan ist verloren. Prüfen Sie den freien Speicher und versuchen Sie es erneut.
error-queue-damaged = Die Warteschlange auf diesem Tablet ist beschädigt; nichts wurde verändert. Behalten Sie den Datenordner und informieren Sie den Betreiber.
error-busy = Der Datenordner wird von einem anderen Programm benutzt. Schließen Sie es und versuchen Sie es erneut.
error-corrupt = Gespeicherte Daten sind beschädigt. Löschen Sie den Datenordner nicht; informieren Sie den Betreiber.
error-io = Eine Datei konnte nicht gelesen oder geschrieben werden. Prüfen Sie den Pfad und seine Berechtigungen.
error-key = Der Schlüssel dieses Tablets kann nicht verwendet werden. Treten Sie mit einer neuen Einladung erneut bei.
error-config = Die Konfigurationsdatei ist ungültig. Korrigieren Sie sie oder löschen Sie sie, um die Standardwerte zurückzuerhalten.
error-no-data-dir = Auf diesem System wurde kein Datenordner gefunden.
error-sync-running = Ein Abgleich läuft bereits: Warten Sie, bis er fertig ist.
error-batch-conflict = Dieses Etikett widerspricht einem, das in dieser Serie bereits eingereiht ist; nichts wurde eingereiht. Legen Sie das Gerät beiseite und informieren Sie Ihren Supervisor.
error-undo-refused = Dieser Scan kann nicht zurückgenommen werden.
error-no-batch = Es läuft keine Serie: Beginnen Sie zuerst eine Serie mit ihrem Standort.
error-no-camera = Keine Kamera gefunden: Importieren Sie ein Foto des Etiketts oder tippen Sie die Zeile unter dem Code ein.
error-camera = Die Kamera kann nicht verwendet werden. Schließen Sie andere Programme, die sie benutzen, und versuchen Sie es erneut, oder importieren Sie ein Foto des Etiketts.
error-camera-is-plugin = Auf diesem Gerät öffnet der Barcode-Scanner die Kamera.
error-shell = Die App ist fehlgeschlagen. Starten Sie sie neu.
error-not-in-tauri = Diese Seite läuft außerhalb der Vouch-App: Öffnen Sie stattdessen die Vouch-App.
error-encode = Die App konnte ihre Anfrage nicht senden. Aktualisieren Sie die App.
error-decode = Die App hat eine Antwort nicht verstanden. Aktualisieren Sie die App.
error-ipc = Die App konnte diese Anfrage nicht ausführen. Starten Sie sie neu.
