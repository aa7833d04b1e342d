//! Searching every message as the user types: the text typed, the text settled on (a pause
//! in typing), and a resource that searches for the settled text.

use std::time::Duration;

use confab_core::model::SearchHit;
use leptos::prelude::*;

use super::error_text;
use crate::client;
use crate::server_fns::search_messages;

/// How long typing must pause before the server is asked.
const DEBOUNCE: Duration = Duration::from_millis(250);

/// What is searched for: the text, and a message type (empty: all types).
pub type SearchInput = (String, String);

/// The server's answer for one settled input, with that input.
type Answer = Option<(SearchInput, Result<Vec<SearchHit>, String>)>;

/// What the results list shows.
#[derive(Clone, PartialEq)]
pub enum Results {
    Idle,
    Loading,
    Found(Vec<SearchHit>),
    Failed(String),
}

/// The search box's state. Made once, with the shared state (outside the header's
/// `Transition`, whose children are made again when its data arrives).
#[derive(Clone, Copy)]
pub struct SearchStore {
    /// What is in the box and the type chosen beside it, as typed.
    pub typed: RwSignal<SearchInput>,
    /// `typed` once typing has paused: what the resource searches for.
    settled: RwSignal<SearchInput>,
    /// The answer for a settled input, with that input (an answer for older text is never
    /// shown as the answer for the text in the box).
    answer: Resource<Answer>,
}

impl SearchStore {
    pub(super) fn new() -> SearchStore {
        let settled = RwSignal::new(SearchInput::default());
        let answer = Resource::new(
            super::lasting(move || settled.try_get()),
            |(text, kind): SearchInput| async move {
                if text.trim().is_empty() {
                    return None;
                }
                let kind_filter = (!kind.is_empty()).then(|| kind.clone());
                let hits = search_messages(text.clone(), kind_filter)
                    .await
                    .map_err(|error| error_text(&error));
                Some(((text, kind), hits))
            },
        );
        SearchStore {
            typed: RwSignal::new(SearchInput::default()),
            settled,
            answer,
        }
    }

    /// Takes what was typed (or chosen); the server is asked once typing pauses.
    pub fn type_in(&self, input: SearchInput) {
        self.typed.set(input.clone());
        let store = *self;
        client::after(DEBOUNCE, move || {
            // Only the last change of a burst is still what the box holds.
            if store.typed.try_with_untracked(|typed| *typed == input) == Some(true) {
                store.settled.set(input);
            }
        });
    }

    /// Empties the box: the search belongs to the header that shows it (made again when
    /// someone else signs in).
    pub fn clear(&self) {
        let _ = self.typed.try_set(SearchInput::default());
        let _ = self.settled.try_set(SearchInput::default());
    }

    /// The results for what the box holds (tracked).
    pub fn results(&self) -> Results {
        let typed = self.typed.get();
        if typed.0.trim().is_empty() {
            return Results::Idle;
        }
        self.answer.with(|answer| match answer {
            Some(Some((input, hits))) if *input == typed => match hits {
                Ok(hits) => Results::Found(hits.clone()),
                Err(reason) => Results::Failed(reason.clone()),
            },
            _ => Results::Loading,
        })
    }

    /// The conversations of the results shown, each once, in the order of each one's best
    /// hit (as the results list groups them); none while nothing is shown.
    pub fn conversation_ids(&self) -> Vec<String> {
        match untrack(|| self.results()) {
            Results::Found(hits) => {
                let mut ids: Vec<String> = Vec::new();
                for hit in hits {
                    if !ids.contains(&hit.session_id) {
                        ids.push(hit.session_id);
                    }
                }
                ids
            }
            _ => Vec::new(),
        }
    }

    /// Asks again for what the box holds (after an action changed the conversations found).
    pub fn refetch(&self) {
        self.answer.refetch();
    }
}

pub fn use_search() -> SearchStore {
    expect_context::<SearchStore>()
}
