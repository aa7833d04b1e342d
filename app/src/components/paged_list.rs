//! A list the service answers a page at a time (`next_cursor`), shown as one table that grows
//! by a page with "Show more" until every row is there.
//!
//! The resource is the only source of the rows. "Show more" asks for the page after the last
//! row shown and appends it, unless the list was loaded again meanwhile (then the answer would
//! repeat or skip rows, and is dropped). A change made on the page loads the list again from
//! its first page, as many pages as were shown: the rows an administrator had in view stay in
//! view, each with its state after the change, and none twice.

use crate::error::AppError;
use std::future::Future;

use leptos::prelude::*;
use serde::{de::DeserializeOwned, Deserialize, Serialize};

use confab_core::api::{AuditEntry, AuditPage, UserPage, UserSummary};

use crate::state::error_text;

/// Rows in the service's order, and the cursor of the page after them (`None`: that is all).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rows<T> {
    pub rows: Vec<T>,
    pub next_cursor: Option<String>,
}

impl From<UserPage> for Rows<UserSummary> {
    fn from(page: UserPage) -> Self {
        Rows {
            rows: page.users,
            next_cursor: page.next_cursor,
        }
    }
}

impl From<AuditPage> for Rows<AuditEntry> {
    fn from(page: AuditPage) -> Self {
        Rows {
            rows: page.entries,
            next_cursor: page.next_cursor,
        }
    }
}

/// The first `pages` pages, one after the other (fewer when the list ends before).
async fn first_pages<T, F, Fut>(fetch: F, pages: usize) -> Result<Rows<T>, AppError>
where
    F: Fn(Option<String>) -> Fut,
    Fut: Future<Output = Result<Rows<T>, AppError>>,
{
    let mut shown = fetch(None).await?;
    for _ in 1..pages {
        let Some(cursor) = shown.next_cursor.take() else {
            break;
        };
        let page = fetch(Some(cursor)).await?;
        shown.rows.extend(page.rows);
        shown.next_cursor = page.next_cursor;
    }
    Ok(shown)
}

/// Appends `page`, which was asked for after `cursor`, if the rows shown still end there.
fn append<T>(shown: &mut Rows<T>, cursor: &str, page: Rows<T>) -> bool {
    if shown.next_cursor.as_deref() != Some(cursor) {
        return false;
    }
    shown.rows.extend(page.rows);
    shown.next_cursor = page.next_cursor;
    true
}

pub type Listing<T> = Resource<Result<Rows<T>, AppError>>;

/// The rows shown of a paged list, and its "Show more".
pub struct PagedList<T: Send + Sync + 'static> {
    rows: Listing<T>,
    more: Action<String, Result<(), AppError>>,
}

impl<T: Send + Sync + 'static> Clone for PagedList<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for PagedList<T> {}

impl<T> PagedList<T>
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// Loads the list with `fetch` (a page after a cursor, the first page after none), and
    /// again from the start whenever `changes` changes.
    pub fn new<F, Fut>(changes: impl Fn() -> usize + Send + Sync + 'static, fetch: F) -> Self
    where
        F: Fn(Option<String>) -> Fut + Copy + Send + Sync + 'static,
        Fut: Future<Output = Result<Rows<T>, AppError>> + Send + 'static,
    {
        // How many pages are in view: loading again loads that many.
        let pages = StoredValue::new(1_usize);
        let rows: Listing<T> =
            Resource::new(changes, move |_| first_pages(fetch, pages.get_value()));
        let more = Action::new(move |cursor: &String| {
            let cursor = cursor.clone();
            async move {
                let page = fetch(Some(cursor.clone())).await?;
                rows.update(|shown| {
                    if let Some(Ok(shown)) = shown {
                        if append(shown, &cursor, page) {
                            pages.update_value(|pages| *pages += 1);
                        }
                    }
                });
                Ok(())
            }
        });
        PagedList { rows, more }
    }

    /// The answer: the rows shown, or why none could be loaded.
    pub fn get(&self) -> Option<Result<Rows<T>, AppError>> {
        self.rows.get()
    }

    fn shown(&self) -> usize {
        self.rows.with(|shown| {
            shown.as_ref().map_or(0, |shown| {
                shown.as_ref().map_or(0, |shown| shown.rows.len())
            })
        })
    }

    fn next_cursor(&self) -> Option<String> {
        self.rows.with(|shown| {
            shown
                .as_ref()
                .and_then(|shown| shown.as_ref().ok()?.next_cursor.clone())
        })
    }

    /// "Show more" under the table, while there is more, with how many rows are shown; a
    /// failure's sentence beside it (the rows shown stay, and the button tries again). `what`
    /// names the rows: "50 accounts shown", and the button's accessible name "Show more
    /// accounts".
    pub fn show_more(&self, what: &'static str) -> impl IntoView {
        let list = *self;
        let pending = move || list.more.pending().get();
        let error = move || match list.more.value().get() {
            Some(Err(error)) => Some(error_text(&error)),
            _ => None,
        };
        view! {
            <div class="show-more" hidden=move || list.next_cursor().is_none()>
                <span class="muted small">{move || format!("{} {what} shown", list.shown())}</span>
                <button type="button" aria-label=format!("Show more {what}") disabled=pending
                    on:click=move |_| {
                        if let Some(cursor) = list.next_cursor() {
                            list.more.dispatch(cursor);
                        }
                    }>
                    {move || if pending() { "Loading…" } else { "Show more" }}
                </button>
                <p class="form-error" role="alert">{error}</p>
            </div>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A list of `total` numbers served `size` at a time, the cursor being the last one given.
    fn served(
        total: u32,
        size: usize,
        asked: &Mutex<Vec<Option<String>>>,
    ) -> impl Fn(Option<String>) -> std::future::Ready<Result<Rows<u32>, AppError>> + '_ {
        move |cursor: Option<String>| {
            asked.lock().unwrap().push(cursor.clone());
            let after = cursor.map_or(0, |cursor| cursor.parse::<u32>().unwrap());
            let rows: Vec<u32> = (after + 1..=total).take(size).collect();
            let next_cursor = (rows.last().copied().unwrap_or(total) < total)
                .then(|| rows.last().unwrap().to_string());
            std::future::ready(Ok(Rows { rows, next_cursor }))
        }
    }

    /// Runs a future that is ready at once, as the test's pages are.
    fn block_on<F: Future>(future: F) -> F::Output {
        use std::pin::pin;
        use std::task::{Context, Poll, Waker};
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("the test's pages are ready at once"),
        }
    }

    #[test]
    fn loading_again_loads_as_many_pages_as_were_shown_and_stops_at_the_end() {
        let asked = Mutex::new(Vec::new());
        let shown = block_on(first_pages(served(120, 50, &asked), 2)).unwrap();
        assert_eq!(shown.rows, (1..=100).collect::<Vec<_>>());
        assert_eq!(shown.next_cursor.as_deref(), Some("100"));
        assert_eq!(*asked.lock().unwrap(), [None, Some("50".to_owned())]);

        let asked = Mutex::new(Vec::new());
        let shown = block_on(first_pages(served(120, 50, &asked), 5)).unwrap();
        assert_eq!(shown.rows, (1..=120).collect::<Vec<_>>());
        assert_eq!(shown.next_cursor, None);
        assert_eq!(asked.lock().unwrap().len(), 3);
    }

    #[test]
    fn a_page_is_appended_only_where_it_was_asked_for() {
        let asked = Mutex::new(Vec::new());
        let fetch = served(120, 50, &asked);
        let mut shown = block_on(fetch(None)).unwrap();
        let second = block_on(fetch(Some("50".into()))).unwrap();
        assert!(append(&mut shown, "50", second.clone()));
        assert_eq!(shown.rows, (1..=100).collect::<Vec<_>>());
        // The same answer arriving twice, or after the list was loaded again: dropped.
        assert!(!append(&mut shown, "50", second));
        assert_eq!(shown.rows.len(), 100);
        let third = block_on(fetch(Some("100".into()))).unwrap();
        assert!(append(&mut shown, "100", third));
        assert_eq!(shown.rows, (1..=120).collect::<Vec<_>>());
        assert_eq!(shown.next_cursor, None);
    }
}
