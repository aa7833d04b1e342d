//! Messages are Markdown, rendered to HTML the same way on the server and in the browser.
//!
//! Nothing a message (or a model) writes may run: raw HTML is shown as text, links keep only
//! safe schemes, images become links (no request leaves for a URL a model chose), and code
//! blocks are escaped by the small highlighter below.

use std::borrow::Cow;

use pulldown_cmark::{html, CodeBlockKind, CowStr, Event, Options, Parser, Tag, TagEnd};

pub fn render(markdown: &str) -> String {
    // An HTML parser drops a NUL without a trace; CommonMark (2.3, insecure characters) shows
    // U+FFFD in its place, so the reader sees that something is there. The stored text keeps
    // its NUL: only its picture changes.
    let markdown: Cow<str> = if markdown.contains('\0') {
        Cow::Owned(markdown.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(markdown)
    };
    let markdown = markdown.as_ref();
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut events: Vec<Event> = Vec::new();
    let mut code: Option<(String, String)> = None;
    for event in Parser::new_ext(markdown, options) {
        if let Some((language, text)) = code.as_mut() {
            match event {
                Event::Text(part) => text.push_str(&part),
                Event::End(TagEnd::CodeBlock) => {
                    let block = code_block(language, text);
                    events.push(Event::Html(CowStr::from(block)));
                    code = None;
                }
                _ => {}
            }
            continue;
        }
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let language = match kind {
                    CodeBlockKind::Fenced(info) => {
                        info.split_whitespace().next().unwrap_or("").to_owned()
                    }
                    CodeBlockKind::Indented => String::new(),
                };
                code = Some((language, String::new()));
            }
            Event::Html(raw) | Event::InlineHtml(raw) => events.push(Event::Text(raw)),
            Event::Start(Tag::HtmlBlock) => events.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => events.push(Event::End(TagEnd::Paragraph)),
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            })
            | Event::Start(Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            }) => events.push(Event::Start(Tag::Link {
                link_type,
                dest_url: safe_url(dest_url),
                title,
                id,
            })),
            Event::End(TagEnd::Image) => events.push(Event::End(TagEnd::Link)),
            other => events.push(other),
        }
    }
    // An unterminated fence at the end of a streaming reply.
    if let Some((language, text)) = code {
        events.push(Event::Html(CowStr::from(code_block(&language, &text))));
    }
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events.into_iter());
    without_style_attributes(out)
}

/// The alignment pulldown-cmark writes on a table cell, and the class that replaces it.
const ALIGNMENTS: [(&str, &str); 3] = [
    (" style=\"text-align: left\">", " class=\"align-left\">"),
    (" style=\"text-align: center\">", " class=\"align-center\">"),
    (" style=\"text-align: right\">", " class=\"align-right\">"),
];

/// Table cells aligned by class instead of a `style` attribute, which the page's
/// Content-Security-Policy refuses. Only pulldown-cmark can write these exact attributes: a
/// message's own quotes and angle brackets reach the HTML escaped.
fn without_style_attributes(html: String) -> String {
    if !html.contains(" style=\"text-align: ") {
        return html;
    }
    ALIGNMENTS
        .iter()
        .fold(html, |html, (style, class)| html.replace(style, class))
}

/// Keeps http(s), mailto and relative links; anything else (javascript:, data:, ...) points
/// nowhere.
fn safe_url(url: CowStr) -> CowStr {
    let lower = url.trim().to_ascii_lowercase();
    let scheme_end = lower.find(':');
    let path_start = lower.find(['/', '?', '#']);
    let has_scheme = match (scheme_end, path_start) {
        (Some(colon), Some(path)) => colon < path,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let allowed = !has_scheme
        || lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:");
    if allowed {
        url
    } else {
        CowStr::from("#")
    }
}

pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // HTML cannot carry a NUL (see `render`).
            '\0' => out.push('\u{FFFD}'),
            other => out.push(other),
        }
    }
    out
}

fn code_block(language: &str, text: &str) -> String {
    let label = if language.is_empty() {
        "code"
    } else {
        language
    };
    format!(
        "<div class=\"code-block\"><div class=\"code-head\"><span>{}</span>\
         <button type=\"button\" class=\"copy-code\" aria-label=\"Copy code\">Copy</button></div>\
         <pre><code>{}</code></pre></div>",
        escape(label),
        highlight(language, text)
    )
}

const KEYWORDS: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "case",
    "catch",
    "chan",
    "class",
    "const",
    "continue",
    "def",
    "default",
    "defer",
    "do",
    "elif",
    "else",
    "enum",
    "except",
    "export",
    "extends",
    "false",
    "finally",
    "fn",
    "for",
    "from",
    "func",
    "function",
    "go",
    "if",
    "impl",
    "import",
    "in",
    "interface",
    "is",
    "lambda",
    "let",
    "loop",
    "match",
    "mod",
    "mut",
    "new",
    "nil",
    "None",
    "not",
    "null",
    "or",
    "and",
    "package",
    "pass",
    "private",
    "protected",
    "pub",
    "public",
    "raise",
    "return",
    "select",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "switch",
    "this",
    "throw",
    "trait",
    "True",
    "False",
    "true",
    "try",
    "type",
    "typeof",
    "undefined",
    "use",
    "var",
    "void",
    "where",
    "while",
    "with",
    "yield",
    "int",
    "char",
    "bool",
    "string",
    "float",
    "double",
    "long",
    "unsigned",
    "include",
    "define",
    "then",
    "fi",
    "echo",
    "local",
    "Some",
    "Ok",
    "Err",
    "unsafe",
    "ref",
    "dyn",
    "crate",
];

/// A small highlighter: comments, strings, numbers, keywords and calls. It escapes every
/// character it emits, so its output is safe HTML whatever the code contains.
pub fn highlight(language: &str, code: &str) -> String {
    let hash_comments = matches!(
        language.to_ascii_lowercase().as_str(),
        "py" | "python"
            | "sh"
            | "bash"
            | "shell"
            | "zsh"
            | "ruby"
            | "rb"
            | "yaml"
            | "yml"
            | "toml"
            | "r"
            | "perl"
            | "dockerfile"
            | "makefile"
            | "ini"
            | "conf"
    );
    let characters: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len() * 2);
    let mut index = 0;
    let span = |out: &mut String, class: &str, text: &[char]| {
        let text: String = text.iter().collect();
        out.push_str("<span class=\"hl-");
        out.push_str(class);
        out.push_str("\">");
        out.push_str(&escape(&text));
        out.push_str("</span>");
    };
    while index < characters.len() {
        let current = characters[index];
        let next = characters.get(index + 1).copied();
        let line_end = |from: usize| {
            characters[from..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(characters.len(), |offset| from + offset)
        };
        if (current == '/' && next == Some('/')) || (current == '#' && hash_comments) {
            let end = line_end(index);
            span(&mut out, "c", &characters[index..end]);
            index = end;
        } else if current == '/' && next == Some('*') {
            let mut end = index + 2;
            while end < characters.len()
                && !(characters[end] == '*' && characters.get(end + 1) == Some(&'/'))
            {
                end += 1;
            }
            let end = (end + 2).min(characters.len());
            span(&mut out, "c", &characters[index..end]);
            index = end;
        } else if matches!(current, '"' | '\'' | '`') {
            let mut end = index + 1;
            let mut closed = false;
            while end < characters.len() {
                let character = characters[end];
                if character == '\\' {
                    end += 2;
                    continue;
                }
                if character == '\n' && current != '`' {
                    break;
                }
                end += 1;
                if character == current {
                    closed = true;
                    break;
                }
            }
            let end = end.min(characters.len());
            if closed {
                span(&mut out, "s", &characters[index..end]);
                index = end;
            } else {
                // A lone quote (a Rust lifetime, an apostrophe): plain text.
                out.push_str(&escape(&current.to_string()));
                index += 1;
            }
        } else if current.is_ascii_digit() {
            let mut end = index + 1;
            while end < characters.len()
                && (characters[end].is_ascii_alphanumeric()
                    || characters[end] == '.'
                    || characters[end] == '_')
            {
                end += 1;
            }
            span(&mut out, "n", &characters[index..end]);
            index = end;
        } else if current.is_alphabetic() || current == '_' {
            let mut end = index + 1;
            while end < characters.len()
                && (characters[end].is_alphanumeric() || characters[end] == '_')
            {
                end += 1;
            }
            let word: String = characters[index..end].iter().collect();
            if KEYWORDS.contains(&word.as_str()) {
                span(&mut out, "k", &characters[index..end]);
            } else if characters.get(end) == Some(&'(') {
                span(&mut out, "f", &characters[index..end]);
            } else {
                out.push_str(&escape(&word));
            }
            index = end;
        } else {
            out.push_str(&escape(&current.to_string()));
            index += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_are_aligned_by_class_not_by_style() {
        let html = render("| a | b | c | d |\n|:--|:-:|--:|---|\n| 1 | 2 | 3 | 4 |\n");
        assert_eq!(
            html,
            "<table><thead><tr><th class=\"align-left\">a</th><th class=\"align-center\">b</th>\
             <th class=\"align-right\">c</th><th>d</th></tr></thead><tbody>\n\
             <tr><td class=\"align-left\">1</td><td class=\"align-center\">2</td>\
             <td class=\"align-right\">3</td><td>4</td></tr>\n</tbody></table>\n"
        );
        let quoted = render("a \" style=\"text-align: left\"> b");
        assert!(!quoted.contains("class="), "{quoted}");
    }

    #[test]
    fn raw_html_is_text() {
        let html = render("hi <script>alert(1)</script> <img src=x onerror=alert(1)>");
        assert!(!html.contains("<script"));
        assert!(!html.contains("<img"));
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn unsafe_links_point_nowhere() {
        let html = render("[x](javascript:alert(1)) [y](https://example.com) ![i](data:x)");
        assert!(!html.contains("javascript:"));
        assert!(!html.contains("data:"));
        assert!(html.contains("https://example.com"));
    }

    /// Joined emoji (two zero-width joiners), right-to-left text between U+200F marks, Arabic,
    /// combining accents, a 4-byte emoji.
    const EXACT: &str = "family \u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} \u{200F}שלום עולם\u{200F} مرحبا e\u{301}le\u{300}ve \u{1F980}";

    #[test]
    fn every_character_of_the_text_is_kept() {
        assert_eq!(render(EXACT), format!("<p>{EXACT}</p>\n"));
        assert_eq!(
            render(&format!("```\n{EXACT}\n```")),
            format!(
                "<div class=\"code-block\"><div class=\"code-head\"><span>code</span>\
                 <button type=\"button\" class=\"copy-code\" aria-label=\"Copy code\">Copy</button></div>\
                 <pre><code>{EXACT}\n</code></pre></div>"
            )
        );
        assert_eq!(escape(EXACT), EXACT);
    }

    #[test]
    fn a_nul_is_shown_as_the_replacement_character() {
        // An HTML parser would drop it without a trace.
        assert_eq!(render("a\u{0}b"), "<p>a\u{FFFD}b</p>\n");
        assert_eq!(render("`a\u{0}b`"), "<p><code>a\u{FFFD}b</code></p>\n");
        assert_eq!(highlight("", "x\u{0}\u{1F980}"), "x\u{FFFD}\u{1F980}");
        assert!(render("```\nx\u{0}y\n```").contains("<pre><code>x\u{FFFD}y\n</code></pre>"));
    }

    #[test]
    fn code_is_escaped_and_highlighted() {
        let html = render("```rust\nlet x = \"<b>\"; // hi\n```");
        assert!(html.contains("hl-k"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(!html.contains("<b>"));
    }
}
