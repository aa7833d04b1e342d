//! A resource as the single source of truth, with the changes the page made to its latest
//! answer (a page added on scroll, an optimistic rename, a reply that just finished).
//!
//! The changes are a copy of that answer, valid only while it is the latest: when the server
//! answers again, its answer is shown and the copy is forgotten without anyone clearing it.
//! Nothing is written while rendering (views read the resource and the copy), and a reload
//! always shows what the server has.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use leptos::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A resource's source that reads its signals with `try_` (answering `None` once one of them
/// is gone) and then keeps answering what it answered last. Server rendering can run a
/// resource's source once more after it dropped the page's owner, since the resource's own
/// task outlives it; a plain `get` of a disposed signal panicked there ("Tried to access a
/// reactive value that has already been disposed", in the browser tests' server log after
/// `GET /c/{id}`). An unchanged source loads nothing more.
pub fn lasting<S>(
    read: impl Fn() -> Option<S> + Send + Sync + 'static,
) -> impl Fn() -> S + Send + Sync + 'static
where
    S: Clone + Default + Send + Sync + 'static,
{
    let last = std::sync::Mutex::new(None::<S>);
    move || {
        let mut last = last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match read() {
            Some(now) => {
                *last = Some(now.clone());
                now
            }
            None => last.clone().unwrap_or_default(),
        }
    }
}

/// One answer of the server, with the number of the load that fetched it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Loaded<T> {
    load: u64,
    pub value: T,
}

/// A resource and the changes made here to its latest answer. See the module's doc.
pub struct Edited<T: Send + Sync + 'static> {
    /// What the server answered; awaited in a `Suspense` or `Transition` so that the server
    /// renders the page with it.
    pub resource: Resource<Loaded<T>>,
    changed: RwSignal<Option<Loaded<T>>>,
}

impl<T: Send + Sync + 'static> Clone for Edited<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Edited<T> {}

impl<T> Edited<T>
where
    T: Clone + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    /// A resource fetching `fetch(source())` again whenever `source` changes. Create it once,
    /// in a component's body or a store, never inside a `Suspense` (its id must be the same
    /// on the server and in the browser for hydration).
    pub fn new<S, Fut>(
        source: impl Fn() -> S + Send + Sync + 'static,
        fetch: impl Fn(S) -> Fut + Send + Sync + 'static,
    ) -> Self
    where
        S: PartialEq + Clone + Send + Sync + 'static,
        Fut: Future<Output = T> + Send + 'static,
    {
        // The server's loads are number 0 and the browser's count from 1: changes made to the
        // answer the page came with never stick to one the browser loads later.
        let loads = Arc::new(AtomicU64::new(0));
        let resource = Resource::new(source, move |input| {
            let load = if cfg!(feature = "ssr") {
                0
            } else {
                loads.fetch_add(1, Ordering::Relaxed) + 1
            };
            let answer = fetch(input);
            async move {
                Loaded {
                    load,
                    value: answer.await,
                }
            }
        });
        Edited {
            resource,
            changed: RwSignal::new(None),
        }
    }

    /// Reads the latest answer as changed here (`None` before the first answer). Tracked.
    pub fn with<R>(&self, read: impl FnOnce(Option<&T>) -> R) -> R {
        self.changed.with(|changed| {
            self.resource.with(|loaded| match (loaded, changed) {
                (Some(loaded), Some(changed)) if changed.load == loaded.load => {
                    read(Some(&changed.value))
                }
                (Some(loaded), _) => read(Some(&loaded.value)),
                (None, _) => read(None),
            })
        })
    }

    /// Loads again from the server (what was changed here goes with the old answer).
    pub fn refetch(&self) {
        self.resource.refetch();
    }

    /// Changes the latest answer here, for an event or a server's reply (untracked). Does
    /// nothing before the first answer.
    pub fn edit(&self, change: impl FnOnce(&mut T)) {
        let Some(latest) = self.resource.get_untracked() else {
            return;
        };
        self.changed.update(|changed| {
            let mut current = match changed.take() {
                Some(edited) if edited.load == latest.load => edited,
                _ => latest,
            };
            change(&mut current.value);
            *changed = Some(current);
        });
    }
}
