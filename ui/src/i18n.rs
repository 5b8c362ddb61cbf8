//! The UI's words in one message catalogue (Fluent): `ui/i18n/en.ftl` and `ui/i18n/de.ftl`,
//! built into the wasm. The language is the one chosen in Settings (kept in the WebView's
//! storage), else the system's (`navigator.language`), else English. Pages call [`t`] and
//! [`tf`]; a message missing from the catalogue shows its id, and a unit test keeps the two
//! languages' ids equal and every id the code uses present.

use std::cell::RefCell;

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// Where the chosen language is kept in the WebView's storage.
pub const STORAGE_KEY: &str = "vouch.lang";

/// A language of the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// German.
    De,
}

impl Lang {
    /// Every language, in the order Settings offers them.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// Its BCP 47 tag (also what dates are formatted with).
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// Its name in itself, for the switch in Settings.
    pub fn name(self) -> &'static str {
        match self {
            Lang::En => "English",
            Lang::De => "Deutsch",
        }
    }

    /// The language of a tag (`de`, `de-AT`, `en-GB`), if the catalogue has it.
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.split(['-', '_']).next()?.to_ascii_lowercase();
        Lang::ALL.into_iter().find(|l| l.tag() == primary)
    }

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("../i18n/en.ftl"),
            Lang::De => include_str!("../i18n/de.ftl"),
        }
    }
}

/// The catalogue of one language.
fn bundle(lang: Lang) -> FluentBundle<FluentResource> {
    let id: LanguageIdentifier = lang.tag().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new(vec![id]);
    // No Unicode isolation marks around arguments: the texts are read by people and by the
    // end-to-end tests, and no argument mixes writing directions.
    bundle.set_use_isolating(false);
    // The catalogue is built in; a syntax error would be caught by the unit tests, and the
    // entries that parse are still used.
    let resource = FluentResource::try_new(lang.source().to_string()).unwrap_or_else(|(r, _)| r);
    let _ = bundle.add_resource(resource);
    bundle
}

thread_local! {
    // The wasm UI runs on one thread; the bundle is built once per language switch.
    static CURRENT: RefCell<(Lang, FluentBundle<FluentResource>)> =
        RefCell::new((Lang::En, bundle(Lang::En)));
}

/// Uses `lang` from now on (the pages re-render through [`crate::LangHandle`]).
pub fn set(lang: Lang) {
    CURRENT.with(|c| *c.borrow_mut() = (lang, bundle(lang)));
}

/// The language in use.
pub fn current() -> Lang {
    CURRENT.with(|c| c.borrow().0)
}

/// The language to start with: the one chosen in Settings, else the system's, else English.
pub fn initial(stored: Option<&str>, system: Option<&str>) -> Lang {
    stored
        .and_then(Lang::from_tag)
        .or_else(|| system.and_then(Lang::from_tag))
        .unwrap_or(Lang::En)
}

/// The message `id` in the current language.
pub fn t(id: &str) -> String {
    tf(id, &[])
}

/// The message `id` with its arguments (`{ $name }` in the catalogue).
pub fn tf(id: &str, args: &[(&str, FluentValue<'_>)]) -> String {
    CURRENT.with(|c| format_in(&c.borrow().1, id, args))
}

fn format_in(
    bundle: &FluentBundle<FluentResource>,
    id: &str,
    args: &[(&str, FluentValue<'_>)],
) -> String {
    let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
        return id.to_string();
    };
    let mut fluent_args = FluentArgs::new();
    for (name, value) in args {
        fluent_args.set(*name, value.clone());
    }
    let mut errors = Vec::new();
    bundle
        .format_pattern(pattern, Some(&fluent_args), &mut errors)
        .into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::collections::BTreeSet;

    use fluent_syntax::ast::Entry;

    use super::*;

    fn ids(lang: Lang) -> BTreeSet<String> {
        let resource = fluent_syntax::parser::parse(lang.source())
            .unwrap_or_else(|(_, errors)| panic!("{lang:?}: {errors:?}"));
        resource
            .body
            .iter()
            .filter_map(|e| match e {
                Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Every `t("id")` and `tf("id"` in the UI's sources.
    fn ids_used() -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        let mut stack = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src"
        ))];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("i18n.rs")
                {
                    let text = std::fs::read_to_string(&path).unwrap();
                    for call in ["t(\"", "tf(\""] {
                        for (at, _) in text.match_indices(call) {
                            // `t(` itself, not the end of another name (`emit(`).
                            let before = text[..at].chars().next_back();
                            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                                continue;
                            }
                            let rest = &text[at + call.len()..];
                            let end = rest.find('"').unwrap();
                            used.insert(rest[..end].to_string());
                        }
                    }
                }
            }
        }
        used
    }

    #[test]
    fn every_message_is_in_both_languages_and_every_id_used_exists() {
        let en = ids(Lang::En);
        let de = ids(Lang::De);
        assert_eq!(
            en.symmetric_difference(&de).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "ids in one catalogue only"
        );
        let used = ids_used();
        assert!(used.len() > 20, "{used:?}");
        let missing: Vec<_> = used.difference(&en).collect();
        assert!(
            missing.is_empty(),
            "ids used but not in the catalogue: {missing:?}"
        );
    }

    #[test]
    fn messages_format_with_their_arguments_in_each_language() {
        let en = bundle(Lang::En);
        let de = bundle(Lang::De);
        let args = [
            ("serial", FluentValue::from("SN-1")),
            ("sequence", FluentValue::from(2)),
        ];
        let text = format_in(&en, "scan-queued", &args);
        assert!(text.contains("SN-1") && text.contains("#2"), "{text}");
        let text = format_in(&de, "scan-queued", &args);
        assert!(text.contains("SN-1") && text.contains("#2"), "{text}");
        assert_eq!(format_in(&de, "nav-scan", &[]), "Scannen");
        assert_eq!(format_in(&en, "no-such-id", &[]), "no-such-id");
    }

    #[test]
    fn the_language_comes_from_the_setting_then_the_system() {
        assert_eq!(initial(Some("de"), Some("en-US")), Lang::De);
        assert_eq!(initial(None, Some("de-AT")), Lang::De);
        assert_eq!(initial(Some("xx"), Some("fr-FR")), Lang::En);
        assert_eq!(initial(None, None), Lang::En);
    }
}
