//! The app's memory on Linux (issue 18, point 3: at most 250 MB with the WebKit processes,
//! measured in docs/BENCHMARKS.md, "App"). Elsewhere this does nothing: WebView2, WKWebView and
//! the Android WebView have their own policies.
//!
//! * WebKitGTK composites in software: its accelerated compositing keeps layers and backing
//!   stores that a page of forms and one picture does not need.
//! * Its memory cache keeps no dead resources: every preview picture has its own URL, so a
//!   browser's cache would only collect pictures that are never shown again.
//! * The page leaves off the features it does not use (WebGL, media elements, the back-forward
//!   page cache).
//! * Every process of the app, this one included, gets at most two glibc malloc arenas instead
//!   of up to eight per core, and a fixed threshold above which an allocation is mapped on its
//!   own and given back when freed (glibc otherwise raises it as large blocks are freed, up to
//!   32 MiB, after which camera frames are carved from the heap and its free pages stay).
//!   glibc reads these before `main`, so this process starts itself again with them set
//!   ([`prepare`]: once, at start, with the same arguments and process id).
//! * With compositing off, GTK makes no OpenGL context and WebKit passes pictures in shared
//!   memory (`GDK_GL=disable`, `WEBKIT_DISABLE_DMABUF_RENDERER=1`), and this process opens no
//!   EGL display of its own (`WEBKIT_WEB_RENDER_DEVICE_FILE=/dev/null`): WebKit otherwise
//!   opens one only to find the GPU's render node for the page process, which loads the GL
//!   driver (under Xvfb Mesa's software one and its `libLLVM`, 19 MiB PSS here). Nothing is
//!   drawn on the GPU with compositing and DMA-BUF off; the page process keeps its own EGL
//!   display, which it cannot start without.
//! * JavaScriptCore runs the page without its JIT compilers (`JSC_useJIT=0`): JavaScript in
//!   its interpreter and the wasm UI in its in-place interpreter. The page's work is drawing
//!   forms and one picture a few times a second (the scanner is native code in this process),
//!   which the interpreters keep up with; the compilers' code and data do not pay for it.
//!
//! The variables are in the environment of every process the app starts, as WebKit's are: a
//! browser opened from the app gets them too (they only change how its memory is kept).
//!
//! Measured (docs/BENCHMARKS.md): software compositing saves 100 to 130 MiB of the page
//! process; the JIT off 17 MiB of it (release, 2026-12-02 evening), start-up within the noise;
//! GTK without OpenGL 6 to 8 MiB of `vouch-app` (two sessions); no EGL display in this
//! process, the malloc settings in it too, 31 MiB of the whole (2026-12-03); the
//! other settings together measured within the noise of without them (290 MiB both, release
//! build): they stay because the page needs none of what they turn off. The JIT setting does
//! not depend on the graphics hardware, so it holds on a machine with a GPU as under Xvfb.

use tauri::{Runtime, WebviewWindow};

/// Settings that must be in place before the first WebKit process starts (they are read from
/// the environment): call it first thing in [`crate::run`], while the process has one thread.
/// When this process started without glibc's malloc settings, it starts again with them (an
/// `exec` of its own binary, same arguments, same process), once; if that fails it says why
/// on stderr and exits with status 1.
pub fn prepare() {
    #[cfg(target_os = "linux")]
    linux::prepare();
}

/// Lightens a window's WebView: its web context's cache model and its page settings.
pub fn lighten_webview<R: Runtime>(window: &WebviewWindow<R>) -> tauri::Result<()> {
    #[cfg(target_os = "linux")]
    window.with_webview(|webview| linux::lighten(&webview.inner()))?;
    #[cfg(not(target_os = "linux"))]
    let _ = window;
    Ok(())
}

#[cfg(target_os = "linux")]
mod linux {
    use webkit2gtk::{CacheModel, SettingsExt, WebContextExt, WebViewExt};

    /// Each variable, and the value the app gives it unless the environment already sets it.
    const ENVIRONMENT: [(&str, &str); 2] = [
        // WebKitGTK's accelerated compositing off (`0` keeps it on).
        (COMPOSITING, "1"),
        // JavaScriptCore's JIT compilers off in the page process (`1` turns them back on).
        ("JSC_useJIT", "0"),
    ];

    /// glibc's malloc settings (mallopt(3)), for every process of the app. glibc reads them
    /// once, before `main`: this process has them only if it started with them.
    const MALLOC: [(&str, &str); 3] = [
        // Arenas at most (glibc's default is eight per core).
        ("MALLOC_ARENA_MAX", "2"),
        // Allocations from 128 KiB up mapped on their own and unmapped when freed. Setting it
        // fixes glibc's default, which it would otherwise raise as such blocks are freed.
        ("MALLOC_MMAP_THRESHOLD_", "131072"),
        // Free memory at the top of the heap given back from 128 KiB on (the default's value,
        // which a raised mmap threshold would otherwise double along with it).
        ("MALLOC_TRIM_THRESHOLD_", "131072"),
    ];

    /// The variable that turns WebKitGTK's accelerated compositing off (any value but `0`).
    const COMPOSITING: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

    /// Given only while compositing is off, since composited pages are drawn with OpenGL:
    /// GTK makes no OpenGL context of its own, and WebKit hands the page's pictures over in
    /// shared memory rather than as DMA buffers, which keeps GTK's GL libraries out of this
    /// process (6 to 8 MiB PSS in `vouch-app`, docs/BENCHMARKS.md).
    const WITHOUT_COMPOSITING: [(&str, &str); 3] = [
        ("GDK_GL", "disable"),
        ("WEBKIT_DISABLE_DMABUF_RENDERER", "1"),
        // The render node WebKit names to the page process. Unset, WebKit opens an EGL display
        // in this process to ask the GL driver for it (the driver's libraries stay loaded:
        // 19 MiB PSS under Xvfb); with nothing drawn on the GPU, the page process needs none.
        ("WEBKIT_WEB_RENDER_DEVICE_FILE", "/dev/null"),
    ];

    /// The variables to set, given how the environment answers for each: every default the
    /// environment leaves unset, the OpenGL ones only if compositing ends up off.
    pub(super) fn defaults(
        environment: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> Vec<(&'static str, &'static str)> {
        let compositing_off = match environment(COMPOSITING) {
            Some(value) => value != "0",
            None => true,
        };
        let extra: &[(&'static str, &'static str)] = if compositing_off {
            &WITHOUT_COMPOSITING
        } else {
            &[]
        };
        ENVIRONMENT
            .iter()
            .chain(&MALLOC)
            .chain(extra)
            .filter(|(key, _)| environment(key).is_none())
            .copied()
            .collect()
    }

    /// Set in the environment of the process started again: it never starts again itself,
    /// whatever it finds of the malloc settings (a loader that drops `MALLOC_*` variables, as
    /// glibc's does for a set-user-ID binary, would otherwise restart it for ever).
    const STARTED_AGAIN: &str = "VOUCH_APP_STARTED_AGAIN";

    /// Whether this process must start again for glibc to read the settings about to be set:
    /// it started without one of them, on glibc (whose variables they are), and is not itself
    /// the process started again ([`STARTED_AGAIN`], as `environment` answers).
    pub(super) fn must_start_again(
        set: &[(&str, &str)],
        environment: impl Fn(&str) -> Option<std::ffi::OsString>,
    ) -> bool {
        cfg!(target_env = "gnu")
            && environment(STARTED_AGAIN).is_none()
            && set
                .iter()
                .any(|(key, _)| MALLOC.iter().any(|(m, _)| m == key))
    }

    pub(super) fn prepare() {
        let set = defaults(|key| std::env::var_os(key));
        for (key, value) in &set {
            // Still one thread: nothing reads the environment concurrently.
            std::env::set_var(key, value);
        }
        if must_start_again(&set, |key| std::env::var_os(key)) {
            std::env::set_var(STARTED_AGAIN, "1");
            start_again();
        }
    }

    /// Replaces this process with its own binary, the same arguments and the environment as
    /// set now (the process id, its open standard streams and its parent stay). Returns only
    /// if that failed (the binary deleted or replaced since it started, say), and then ends
    /// the process: a failed `exec` may leave it with signal handling reset (SIGPIPE back to
    /// its default, which a write to a closed socket would then die of), so it does not go on.
    fn start_again() {
        use std::os::unix::process::CommandExt;
        let error = match std::env::current_exe() {
            Ok(binary) => {
                let mut arguments = std::env::args_os();
                let mut command = std::process::Command::new(binary);
                if let Some(name) = arguments.next() {
                    command.arg0(name);
                }
                command.args(arguments).exec()
            }
            Err(e) => e,
        };
        eprintln!(
            "vouch-app: could not start again with glibc's malloc settings ({error}). Start it \
             again; or give MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ \
             values of your own, and it starts without this step"
        );
        std::process::exit(1);
    }

    pub(super) fn lighten(webview: &webkit2gtk::WebView) {
        if let Some(context) = webview.context() {
            // Keeps only the resources the page still uses, none for a later visit.
            context.set_cache_model(CacheModel::DocumentViewer);
        }
        let Some(settings) = WebViewExt::settings(webview) else {
            return;
        };
        // The camera is the shell's and the app never navigates back; Web Audio stays on for
        // the scan beep.
        settings.set_enable_webgl(false);
        settings.set_enable_page_cache(false);
        settings.set_enable_media(false);
        settings.set_enable_media_stream(false);
        settings.set_enable_mediasource(false);
        settings.set_enable_encrypted_media(false);
        settings.set_enable_smooth_scrolling(false);
        settings.set_enable_dns_prefetching(false);
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::linux::{defaults, must_start_again};

    fn nothing(_: &str) -> Option<OsString> {
        None
    }
    use std::collections::HashMap;
    use std::ffi::OsString;

    fn defaults_with(set: &[(&str, &str)]) -> Vec<(&'static str, &'static str)> {
        let environment: HashMap<String, OsString> = set
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        defaults(|key| environment.get(key).cloned())
    }

    #[test]
    fn an_empty_environment_gets_every_default() {
        let set = defaults_with(&[]);
        for key in [
            "WEBKIT_DISABLE_COMPOSITING_MODE",
            "MALLOC_ARENA_MAX",
            "MALLOC_MMAP_THRESHOLD_",
            "MALLOC_TRIM_THRESHOLD_",
            "JSC_useJIT",
            "GDK_GL",
            "WEBKIT_DISABLE_DMABUF_RENDERER",
            "WEBKIT_WEB_RENDER_DEVICE_FILE",
        ] {
            assert!(set.iter().any(|(k, _)| *k == key), "{key} in {set:?}");
        }
        assert!(
            must_start_again(&set, nothing),
            "glibc must read the malloc settings"
        );
    }

    #[test]
    fn a_process_started_again_with_the_malloc_settings_does_not_start_again() {
        // What the first start set is the second start's environment.
        let first = defaults_with(&[]);
        let second = defaults_with(&first);
        assert!(second.is_empty(), "{second:?}");
        assert!(!must_start_again(&second, nothing));
        // One malloc setting of the operator's own: the others still need a new start.
        let set = defaults_with(&[("MALLOC_ARENA_MAX", "4")]);
        assert!(!set.iter().any(|(k, _)| *k == "MALLOC_ARENA_MAX"));
        assert!(must_start_again(&set, nothing));
        // The operator's settings for all three: no new start.
        let set = defaults_with(&[
            ("MALLOC_ARENA_MAX", "4"),
            ("MALLOC_MMAP_THRESHOLD_", "65536"),
            ("MALLOC_TRIM_THRESHOLD_", "65536"),
        ]);
        assert!(!must_start_again(&set, nothing));
    }

    #[test]
    fn the_process_started_again_never_starts_again_even_if_the_settings_were_dropped() {
        // a loader that drops MALLOC_* variables: the second start finds none of them
        let set = defaults_with(&[]);
        let started_again = |key: &str| (key == "VOUCH_APP_STARTED_AGAIN").then(|| "1".into());
        assert!(must_start_again(&set, nothing));
        assert!(!must_start_again(&set, started_again));
    }

    #[test]
    fn the_environment_wins_over_a_default() {
        let set = defaults_with(&[("JSC_useJIT", "1"), ("GDK_GL", "gles")]);
        assert!(!set
            .iter()
            .any(|(k, _)| *k == "JSC_useJIT" || *k == "GDK_GL"));
        assert!(set.contains(&("WEBKIT_DISABLE_DMABUF_RENDERER", "1")));
    }

    #[test]
    fn compositing_kept_on_keeps_opengl() {
        let set = defaults_with(&[("WEBKIT_DISABLE_COMPOSITING_MODE", "0")]);
        assert!(
            !set.iter().any(|(k, _)| *k == "GDK_GL"
                || *k == "WEBKIT_DISABLE_DMABUF_RENDERER"
                || *k == "WEBKIT_WEB_RENDER_DEVICE_FILE"),
            "{set:?}"
        );
        assert!(set.contains(&("JSC_useJIT", "0")));
        // any other value turns compositing off, as WebKitGTK reads it
        let set = defaults_with(&[("WEBKIT_DISABLE_COMPOSITING_MODE", "yes")]);
        assert!(set.contains(&("GDK_GL", "disable")));
    }
}
