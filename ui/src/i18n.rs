//! The UI's words in one message catalogue (Fluent): `ui/i18n/en.ftl` and `ui/i18n/de.ftl`,
//! built into the wasm. The language is the one chosen in Settings (kept in the WebView's
//! storage), else the system's (`navigator.language`), else English. Pages call [`t`] and
//! [`tf`]; a message missing from the catalogue shows its id. Unit tests keep the two
//! languages' ids equal, every id the code uses present and every id used, and fail on a
//! sentence written in a page's `html!` markup instead of the catalogue.

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

    /// The UI's sources (but this file), with their paths.
    fn sources() -> Vec<(std::path::PathBuf, String)> {
        let mut found = Vec::new();
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
                    found.push((path, text));
                }
            }
        }
        found
    }

    /// Every string literal of `text`, with the byte offset of its opening quote (escapes
    /// kept as written; comments and character literals skipped).
    fn literals(text: &str) -> Vec<(usize, String)> {
        let bytes = text.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                }
                b'\'' if bytes.get(i + 2) == Some(&b'\'') || bytes.get(i + 1) == Some(&b'\\') => {
                    // A character literal ('"', '\n'); lifetimes have no closing quote there.
                    i = text[i + 1..].find('\'').map_or(bytes.len(), |n| i + n + 2);
                }
                b'"' => {
                    let start = i;
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    out.push((start, text[start + 1..i.min(text.len())].to_string()));
                    i += 1;
                }
                _ => i += 1,
            }
        }
        out
    }

    /// Every `t("id")` and `tf("id"` in the UI's sources.
    fn ids_used() -> BTreeSet<String> {
        let mut used = BTreeSet::new();
        for (_, text) in sources() {
            for (at, literal) in literals(&text) {
                let before = text[..at].trim_end();
                for call in ["t(", "tf("] {
                    // `t(` itself, not the end of another name (`emit(`).
                    let Some(head) = before.strip_suffix(call) else {
                        continue;
                    };
                    if !head.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
                        used.insert(literal.clone());
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
        assert!(used.len() > 100, "{used:?}");
        let missing: Vec<_> = used.difference(&en).collect();
        assert!(
            missing.is_empty(),
            "ids used but not in the catalogue: {missing:?}"
        );
        // Ids picked by a `match` and passed on are mentioned as literals, not as `t("id")`.
        let mentioned: BTreeSet<String> = sources()
            .iter()
            .flat_map(|(_, text)| literals(text).into_iter().map(|(_, l)| l))
            .collect();
        let unused: Vec<_> = en.difference(&mentioned).collect();
        assert!(unused.is_empty(), "ids no code uses: {unused:?}");
    }

    /// Literals in `html!` that are not words: names, codes, example inputs of fixed form.
    const NOT_WORDS: &[&str] = &[
        "Vouch",
        "VOUCH-INVITE:",
        "VOUCH-INVITE:1:…",
        "VOUCH1 MODEL SERIAL ABCDx EFGHy …",
        "/home/me/Pictures/label.jpg",
        "/home/me/vouch-queue.jsonl",
    ];

    /// Attributes whose value people read; every other attribute's value is a name for the
    /// code (`class`, `id`, `type`, ...).
    const READ_ATTRIBUTES: &[&str] = &["title", "placeholder", "aria-label", "alt", "label"];

    /// Which bytes of `text` are inside a string literal.
    fn literal_mask(text: &str) -> Vec<bool> {
        let mut mask = vec![false; text.len()];
        for (at, literal) in literals(text) {
            let end = (at + literal.len() + 2).min(text.len());
            mask[at..end].iter_mut().for_each(|b| *b = true);
        }
        mask
    }

    /// The spans of the `html! { ... }` blocks of `text`.
    fn html_blocks(text: &str, quoted: &[bool]) -> Vec<std::ops::Range<usize>> {
        let mut blocks = Vec::new();
        for (at, _) in text.match_indices("html! {") {
            let start = at + "html! ".len();
            let mut depth = 0usize;
            for (i, c) in text.char_indices().skip_while(|(i, _)| *i < start) {
                match c {
                    _ if quoted[i] => {}
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            blocks.push(start..i);
                            break;
                        }
                    }
                    _ => {}
                }
            }
        }
        blocks
    }

    /// Where the markup-level `{ ... }` expression holding `at` opens, if `at` is in one.
    fn expression_start(
        text: &str,
        quoted: &[bool],
        block: &std::ops::Range<usize>,
        at: usize,
    ) -> Option<usize> {
        let mut depth = 0usize;
        let mut start = None;
        for (i, c) in text[block.start..at].char_indices() {
            match c {
                _ if quoted[block.start + i] => {}
                '{' => {
                    depth += 1;
                    if depth == 2 {
                        start = Some(block.start + i);
                    }
                }
                '}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 1 {
                        start = None;
                    }
                }
                _ => {}
            }
        }
        start
    }

    /// The attribute whose value starts at the end of `before`, if any.
    fn attribute_name(before: &str) -> Option<&str> {
        let mut head = before.trim_end();
        for opening in ["format!(", "{"] {
            head = head.strip_suffix(opening).unwrap_or(head).trim_end();
        }
        let head = head.strip_suffix('=')?;
        let from = head
            .rfind(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .map_or(0, |i| i + 1);
        Some(&head[from..])
    }

    /// The variable the end of `code` is being bound to (`let class = match ...`), named like
    /// the attribute it is for.
    fn bound_to(code: &str) -> Option<&str> {
        let at = code.rfind("let ")?;
        let rest = &code[at + "let ".len()..];
        if rest.contains(';') {
            return None;
        }
        let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_'))?;
        Some(&rest[..end])
    }

    /// Whether the end of `code` is inside the arguments of one of `calls`.
    fn inside_call(code: &str, calls: &[&str]) -> bool {
        calls.iter().any(|call| {
            code.match_indices(call).any(|(at, _)| {
                let own_name = !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
                let rest = &code[at + call.len()..];
                own_name && rest.matches('(').count() >= rest.matches(')').count()
            })
        })
    }

    /// Whether a literal is an element's or a message's name (`mode-batch`), not words.
    fn is_name(literal: &str) -> bool {
        literal.contains('-')
            && literal.split('-').all(|part| {
                !part.is_empty()
                    && part
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
    }

    /// Whether a literal holds a word: letters once the `{}` placeholders are taken out.
    fn has_words(literal: &str) -> bool {
        let mut depth = 0;
        let mut letters = 0;
        for c in literal.chars() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                c if depth == 0 && c.is_alphabetic() => letters += 1,
                _ => {}
            }
        }
        letters >= 2
    }

    /// The sentences still written in the pages' markup instead of the catalogue.
    fn literal_sentences(text: &str) -> Vec<String> {
        let quoted = literal_mask(text);
        let blocks = html_blocks(text, &quoted);
        let mut found = Vec::new();
        for (at, literal) in literals(text) {
            let Some(block) = blocks
                .iter()
                .filter(|b| b.contains(&at))
                .min_by_key(|b| b.len())
            else {
                continue;
            };
            let expression = expression_start(text, &quoted, block, at);
            // `name="..."`, `name={"..."}`, `name={format!("...")}`, or anywhere in
            // `name={ ... }` (a `match` choosing a class).
            let code = &text[expression.unwrap_or(block.start)..at];
            let attribute = attribute_name(&text[..at])
                .or_else(|| bound_to(code))
                .or_else(|| expression.and_then(|start| attribute_name(&text[..start])));
            // Class names, catalogue ids and their argument names are for the code.
            let read = attribute.is_none_or(|name| READ_ATTRIBUTES.contains(&name))
                && !inside_call(code, &["classes!(", "t(", "tf("]);
            if read
                && has_words(&literal)
                && !is_name(&literal)
                && !NOT_WORDS.contains(&literal.as_str())
            {
                found.push(literal);
            }
        }
        found
    }

    #[test]
    fn no_page_shows_a_sentence_that_is_not_in_the_catalogue() {
        let mut found = Vec::new();
        for (path, text) in sources() {
            for literal in literal_sentences(&text) {
                found.push(format!("{}: {literal:?}", path.display()));
            }
        }
        assert!(found.is_empty(), "write these in ui/i18n/*.ftl: {found:#?}");
    }

    #[test]
    fn the_sentence_check_finds_text_nodes_and_read_attributes_only() {
        let page = r#"fn f() -> Html { html! {
            <div class="card big" id={format!("row-{n}")} title="Some title">
                <Icon name="sync" />{ "Loose words" }{ t("nav-scan") }{ "Vouch" }{ " · " }
                <input placeholder={"Type here"} type="text" />
                { if x { "Yes" } else { format!("{n} left") } }
                <span class={classes!("badge", "state")}>{ "—" }</span>
                { button("mode-batch", "Batch") }
                <p title={t("nav-scan")}>{ tf("nav-scan", &[("count", n.into())]) }</p>
                { for xs.map(|x| { let class = match x { A => "group ok", _ => "group" };
                                   html! { <b class={class}>{ "Bold words" }</b> } }) }
            </div>
        } }"#;
        assert_eq!(
            literal_sentences(page),
            [
                "Some title",
                "Loose words",
                "Type here",
                "Yes",
                "{n} left",
                "Batch",
                "Bold words"
            ]
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
        let progress = |refused: usize| {
            [
                ("step", FluentValue::from("Sendet")),
                ("done", 3.into()),
                ("total", 4.into()),
                ("accepted", 2.into()),
                ("refusals", refused.into()),
            ]
        };
        assert_eq!(
            format_in(&de, "sync-progress", &progress(0)),
            "Sendet: 3 von 4 beantwortet (2 angenommen)"
        );
        assert_eq!(
            format_in(&de, "sync-progress", &progress(1)),
            "Sendet: 3 von 4 beantwortet (2 angenommen, 1 abgelehnt)"
        );
        let one = [("count", FluentValue::from(1))];
        assert_eq!(format_in(&de, "export-done", &one), "Ein Scan geschrieben.");
        assert_eq!(format_in(&en, "export-done", &one), "One scan written.");
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
