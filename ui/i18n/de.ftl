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
time-min-ago = vor { $n } Min.
time-h-ago = vor { $n } Std.

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
