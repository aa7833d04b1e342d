//! Markdown for content that other apps keep as structure (code, quotes, links, HTML
//! `<details>` blocks), so that it reads well in Confab and stays searchable.

use crate::model::MAX_STORED_CONTENT_BYTES as MAX_CONTENT_BYTES;

/// A fenced code block, with a fence longer than any run of backticks inside the code.
pub(super) fn fence(language: &str, code: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in code.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let ticks = "`".repeat((longest + 1).max(3));
    let language = language.trim();
    let language =
        if language.eq_ignore_ascii_case("unknown") || language.contains(char::is_whitespace) {
            ""
        } else {
            language
        };
    format!(
        "{ticks}{language}\n{}\n{ticks}",
        code.trim_end_matches(['\n', '\r'])
    )
}

/// Every line behind `> `.
pub(super) fn quote(text: &str) -> String {
    text.trim_matches('\n')
        .lines()
        .map(|line| {
            if line.trim().is_empty() {
                ">".to_owned()
            } else {
                format!("> {line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `[title](url)`, escaped so that neither part breaks the link.
pub(super) fn link(title: &str, url: &str) -> String {
    let title: String = title
        .trim()
        .chars()
        .flat_map(|c| match c {
            '[' | ']' | '\\' => vec!['\\', c],
            '\n' | '\r' => vec![' '],
            _ => vec![c],
        })
        .collect();
    let url = url
        .trim()
        .replace(' ', "%20")
        .replace('(', "%28")
        .replace(')', "%29");
    if title.is_empty() {
        format!("<{url}>")
    } else {
        format!("[{title}]({url})")
    }
}

/// The text of HTML that Open WebUI escaped inside its blocks.
pub(super) fn unescape_html(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('&') {
        out.push_str(before);
        // An entity ends within 12 bytes of its `&`. Searched byte by byte: cutting the text at
        // a byte count could fall inside a character.
        let entity_end = after.bytes().take(11).position(|byte| byte == b';');
        let decoded = entity_end.and_then(|end| {
            let name = after.get(..end)?;
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            Some((c?, after.get(end + 1..)?))
        });
        match decoded {
            Some((c, remainder)) => {
                out.push(c);
                rest = remainder;
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Open WebUI keeps reasoning and tool calls in the message as
/// `<details type="…"><summary>…</summary>body</details>`. Confab shows no raw HTML, so each
/// block becomes its summary in bold and its body as a quote.
pub(super) fn details_to_markdown(content: &str) -> String {
    if !content.contains("<details") {
        return content.to_owned();
    }
    let mut out = String::with_capacity(content.len());
    let mut rest = content;
    while let Some((before, tag)) = rest.split_once("<details") {
        let Some((_, opened)) = tag.split_once('>') else {
            break;
        };
        let Some((inner, after)) = opened.split_once("</details>") else {
            break;
        };
        out.push_str(before);
        let (summary, body) = match inner
            .split_once("<summary>")
            .and_then(|(_, from_summary)| from_summary.split_once("</summary>"))
        {
            Some((summary, body)) => (summary.trim(), body),
            None => ("", inner),
        };
        let mut block = String::new();
        if !summary.is_empty() {
            block.push_str(&format!("**{}**", unescape_html(summary)));
        }
        let body = unescape_html(body.trim());
        if !body.is_empty() {
            if !block.is_empty() {
                block.push_str("\n\n");
            }
            // Open WebUI already quotes reasoning (`&gt; `); quote the rest.
            if body
                .lines()
                .all(|line| line.trim().is_empty() || line.starts_with('>'))
            {
                block.push_str(&body);
            } else {
                block.push_str(&quote(&body));
            }
        }
        if !block.is_empty() {
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
            }
            out.push_str(&block);
            out.push_str("\n\n");
        }
        rest = after;
    }
    out.push_str(rest.trim_start_matches('\n'));
    out.trim().to_owned()
}

/// Content cut to what a message may hold, at a character boundary, with a note saying so.
/// Returns whether it was cut.
pub(super) fn limit_content(text: String) -> (String, bool) {
    if text.len() <= MAX_CONTENT_BYTES {
        return (text, false);
    }
    const NOTE: &str = "\n\n[… shortened on import: the message was too long]";
    let mut end = MAX_CONTENT_BYTES - NOTE.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut cut = text;
    cut.truncate(end);
    cut.push_str(NOTE);
    (cut, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_the_code() {
        assert_eq!(fence("python", "print(1)\n"), "```python\nprint(1)\n```");
        assert_eq!(fence("unknown", "x"), "```\nx\n```");
        assert_eq!(fence("", "a ``` b"), "````\na ``` b\n````");
    }

    #[test]
    fn quotes_and_links() {
        assert_eq!(quote("a\n\nb"), "> a\n>\n> b");
        assert_eq!(
            link("A [b]", "https://x.y/a b"),
            "[A \\[b\\]](https://x.y/a%20b)"
        );
        assert_eq!(link("", "https://x.y"), "<https://x.y>");
    }

    #[test]
    fn html_entities() {
        assert_eq!(
            unescape_html("&gt; a &amp;&amp; b &#39;c&#x27; &bogus; &"),
            "> a && b 'c' &bogus; &"
        );
        // A multi-byte character across byte 12 after the '&' is text, not a panic.
        assert_eq!(
            unescape_html("&aaaaaaaaaaé; &#233;&#x1F980; \u{0}"),
            "&aaaaaaaaaaé; é\u{1F980} \u{0}"
        );
    }

    #[test]
    fn details_blocks_become_markdown() {
        let content = "<details type=\"reasoning\" done=\"true\" duration=\"3\"><summary>Thought for 3 seconds</summary>&gt; Let me break this down...</details>255";
        assert_eq!(
            details_to_markdown(content),
            "**Thought for 3 seconds**\n\n> Let me break this down...\n\n255"
        );
        let tool = "<details type=\"tool_calls\"><summary>Tool Executed</summary>\"Paris: 18C, rain\"</details>The weather is wet.";
        assert_eq!(
            details_to_markdown(tool),
            "**Tool Executed**\n\n> \"Paris: 18C, rain\"\n\nThe weather is wet."
        );
        assert_eq!(
            details_to_markdown("<details>unclosed"),
            "<details>unclosed"
        );
    }

    #[test]
    fn long_content_is_cut_at_a_boundary() {
        let (short, cut) = limit_content("é".repeat(10));
        assert!(!cut);
        assert_eq!(short, "é".repeat(10));
        let (long, cut) = limit_content("é".repeat(MAX_CONTENT_BYTES));
        assert!(cut);
        assert!(long.len() <= MAX_CONTENT_BYTES);
        assert!(long.ends_with("too long]"));
    }
}
