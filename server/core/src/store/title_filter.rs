//! The session list's title filter, one rule for every backend.
//!
//! A filtered page looks at no more than `TITLE_FILTER_SCAN` of the user's sessions in list
//! order (last activity, newest first), and holds the matches among them: a filter that few
//! titles match costs the same bounded read as one that many match, where reading on until
//! `limit` matches were found would read every session of the user. Its cursor continues from
//! the last session looked at, so a page may hold fewer than `limit` sessions (none at all)
//! and still have a cursor; a client that follows cursors until there is none sees every
//! match once. Like the message type filter of a branch (`service::branch::FILTER_SCAN`).
//!
//! Matching is done here, in Rust, after the backend read the window: SQLite's `lower()` folds
//! ASCII letters only and MongoDB's `$regex` with `i` folds Unicode, so a backend's own
//! comparison would make the two disagree on non-ASCII titles.

use super::cursor::SessionCursor;

/// Sessions a filtered page of the session list looks at, at most (see the module comment).
pub const TITLE_FILTER_SCAN: usize = 500;

/// `text` lowercased a character at a time (`char::to_lowercase`, Unicode's default mapping,
/// without context): a piece of a title folds as it does inside the whole title, which the
/// context-sensitive `str::to_lowercase` (a final `Σ`) would not guarantee.
///
/// Greek final sigma (`ς`) folds to `σ`, as Unicode's case folding does: `ΟΔΟΣ` lowercases
/// to `οδοσ` a character at a time, and must find the title `οδος`.
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
        .collect()
}

/// A title filter: a literal substring, compared case-insensitively (`fold` on both sides).
#[derive(Clone, Debug)]
pub struct TitleFilter {
    folded: String,
}

impl TitleFilter {
    /// The filter for the text a user typed (taken literally: no pattern characters).
    pub fn new(text: &str) -> TitleFilter {
        TitleFilter { folded: fold(text) }
    }

    /// Whether `title` holds the filter's text, ignoring case.
    pub fn matches(&self, title: &str) -> bool {
        fold(title).contains(&self.folded)
    }
}

/// One session of the window a filtered page looks at, as the backends read it.
pub trait Scanned {
    fn title(&self) -> &str;
    /// Where the list continues after this session.
    fn cursor(&self) -> SessionCursor;
}

/// The page of a filtered list from `window`: the user's sessions in list order after the
/// request's cursor, read with up to `TITLE_FILTER_SCAN + 1` rows (the one past the bound only
/// tells that more sessions follow; it is not looked at). Returns the matches among the
/// sessions looked at (at most `limit`, in list order) and the encoded cursor to continue
/// from, `None` when no session follows the last one looked at.
pub fn page_of_matches<T: Scanned>(
    window: Vec<T>,
    filter: &TitleFilter,
    limit: usize,
) -> (Vec<T>, Option<String>) {
    let more_after_window = window.len() > TITLE_FILTER_SCAN;
    let in_window = window.len().min(TITLE_FILTER_SCAN);
    let mut rows = window.into_iter();
    let mut matches = Vec::new();
    let mut last_looked_at = None;
    for (position, session) in rows.by_ref().take(in_window).enumerate() {
        let cursor = session.cursor();
        if filter.matches(session.title()) {
            matches.push(session);
        }
        last_looked_at = Some((position, cursor));
        if matches.len() == limit {
            break;
        }
    }
    let followed = match &last_looked_at {
        Some((position, _)) => position + 1 < in_window || more_after_window,
        None => false,
    };
    let next_cursor = last_looked_at
        .filter(|_| followed)
        .map(|(_, cursor)| cursor.encode());
    (matches, next_cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Row(i64, &'static str);

    impl Scanned for Row {
        fn title(&self) -> &str {
            self.1
        }
        fn cursor(&self) -> SessionCursor {
            SessionCursor {
                activity_ms: self.0,
                id: format!("s{}", self.0),
            }
        }
    }

    fn window(titles: &[&'static str]) -> Vec<Row> {
        titles
            .iter()
            .enumerate()
            .map(|(position, title)| Row(1_000 - position as i64, title))
            .collect()
    }

    fn cursor_at(activity_ms: i64) -> Option<String> {
        Some(
            SessionCursor {
                activity_ms,
                id: format!("s{activity_ms}"),
            }
            .encode(),
        )
    }

    #[test]
    fn folding_is_unicode_and_per_character() {
        let filter = TitleFilter::new("ÜNÏ");
        assert!(filter.matches("Ünïcode tïtle"));
        assert!(TitleFilter::new("σ").matches("ΟΔΟΣ"));
        assert!(
            TitleFilter::new("ΔΡΌΜΟΣ").matches("ο δρόμος"),
            "a final sigma"
        );
        assert!(TitleFilter::new("δρόμος").matches("ΔΡΌΜΟΣ"));
        assert!(TitleFilter::new("a.b").matches("Plan A.B"));
        assert!(!TitleFilter::new(".*").matches("anything"));
        assert!(TitleFilter::new("\0 x").matches("a\0 X"));
    }

    #[test]
    fn a_page_stops_at_the_limit_and_continues_after_its_last_match() {
        let filter = TitleFilter::new("a");
        let (found, next) = page_of_matches(window(&["a1", "b", "a2", "a3"]), &filter, 2);
        let titles: Vec<&str> = found.iter().map(|row| row.1).collect();
        assert_eq!(titles, ["a1", "a2"]);
        assert_eq!(next, cursor_at(998));
        // The limit reached on the last session: nothing follows, no cursor.
        let (found, next) = page_of_matches(window(&["b", "a1", "a2"]), &filter, 2);
        assert_eq!(found.len(), 2);
        assert_eq!(next, None);
    }

    #[test]
    fn a_full_window_without_matches_still_has_a_cursor() {
        let filter = TitleFilter::new("needle");
        let mut titles = vec!["hay"; TITLE_FILTER_SCAN + 1];
        titles[TITLE_FILTER_SCAN] = "needle";
        let (found, next) = page_of_matches(window(&titles), &filter, 50);
        assert!(found.is_empty(), "the row past the bound is not looked at");
        assert_eq!(next, cursor_at(1_000 - (TITLE_FILTER_SCAN as i64 - 1)));
        // Exactly the bound, nothing after it: the list ends there.
        let (found, next) = page_of_matches(window(&titles[..TITLE_FILTER_SCAN]), &filter, 50);
        assert!(found.is_empty());
        assert_eq!(next, None);
    }
}
