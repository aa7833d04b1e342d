//! Search and archived conversations: found unless asked otherwise, each hit saying whether its
//! conversation is archived; `is:archived` (or `archived=true`) keeps only theirs,
//! `-is:archived` (or `archived=false`) leaves them out, with the other filters, never
//! reaching another user's or a deleted conversation.

use confab_core::api::{SearchInput, SessionPatchInput};
use confab_core::model::{Message, User};
use confab_core::service::{ServiceError, Services};
use confab_core::store::DynStore;

use super::stars::say;
use super::{services, user};

async fn archive(services: &Services, user: &User, session_id: &str, archived: bool) {
    services
        .update_session(
            user,
            session_id,
            SessionPatchInput {
                archived: Some(archived),
                ..Default::default()
            },
        )
        .await
        .expect("archive");
}

/// Each hit of `input` as (message id, archived), in the order found.
async fn hits(services: &Services, user: &User, input: SearchInput) -> Vec<(String, bool)> {
    services
        .search(user, input)
        .await
        .unwrap_or_else(|error| panic!("search: {error:?}"))
        .items
        .into_iter()
        .map(|hit| (hit.message_id, hit.archived))
        .collect()
}

fn q(text: &str) -> SearchInput {
    SearchInput {
        q: text.into(),
        ..Default::default()
    }
}

/// Sorted (id, archived) pairs, for comparing sets of hits.
fn set(mut hits: Vec<(String, bool)>) -> Vec<(String, bool)> {
    hits.sort();
    hits
}

fn expect(items: &[(&Message, bool)]) -> Vec<(String, bool)> {
    set(items
        .iter()
        .map(|(message, archived)| (message.id.clone(), *archived))
        .collect())
}

fn invalid(
    result: Result<confab_core::model::Page<confab_core::model::SearchHit>, ServiceError>,
) -> String {
    match result {
        Err(ServiceError::Invalid { code, message }) => format!("{code}: {message}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

pub async fn search_archived(store: DynStore) {
    let services = services(store);
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;

    let open = say(&services, &ada, None, "lantern open").await;
    let shelved = say(&services, &ada, None, "lantern shelved").await;
    let shelved_too = say(&services, &ada, Some(&shelved.session_id), "lantern again").await;
    let gone = say(&services, &ada, None, "lantern gone").await;
    let bobs = say(&services, &bob, None, "lantern bob").await;
    archive(&services, &ada, &shelved.session_id, true).await;
    archive(&services, &ada, &gone.session_id, true).await;
    archive(&services, &bob, &bobs.session_id, true).await;
    services
        .delete_session(&ada, &gone.session_id)
        .await
        .expect("delete");

    // Without the filter: every live conversation, each hit saying whether it is archived.
    assert_eq!(
        set(hits(&services, &ada, q("lantern")).await),
        expect(&[(&open, false), (&shelved, true), (&shelved_too, true)])
    );
    // Only archived ones, in the query or as the parameter, without case.
    let only = expect(&[(&shelved, true), (&shelved_too, true)]);
    assert_eq!(
        set(hits(&services, &ada, q("lantern is:archived")).await),
        only
    );
    assert_eq!(
        set(hits(&services, &ada, q("IS:Archived lantern")).await),
        only
    );
    let parameter = SearchInput {
        archived: Some(true),
        ..q("lantern")
    };
    assert_eq!(set(hits(&services, &ada, parameter).await), only);
    // None of them.
    let without = expect(&[(&open, false)]);
    assert_eq!(
        set(hits(&services, &ada, q("lantern -is:archived")).await),
        without
    );
    let parameter = SearchInput {
        archived: Some(false),
        ..q("lantern")
    };
    assert_eq!(set(hits(&services, &ada, parameter).await), without);
    // With the other filters: a session, stars, a tag.
    let in_session = SearchInput {
        session_id: Some(shelved.session_id.clone()),
        ..q("lantern -is:archived")
    };
    assert_eq!(hits(&services, &ada, in_session).await, []);
    let in_session = SearchInput {
        session_id: Some(shelved.session_id.clone()),
        ..q("lantern is:archived")
    };
    assert_eq!(set(hits(&services, &ada, in_session).await), only);
    services
        .set_star(&ada, &shelved_too.id, true)
        .await
        .expect("star");
    assert_eq!(
        hits(&services, &ada, q("lantern is:archived is:starred")).await,
        [(shelved_too.id.clone(), true)]
    );
    services
        .tag_session(&ada, &open.session_id, "work")
        .await
        .expect("tag");
    services
        .tag_session(&ada, &shelved.session_id, "work")
        .await
        .expect("tag");
    assert_eq!(
        hits(&services, &ada, q("lantern tag:work -is:archived")).await,
        [(open.id.clone(), false)]
    );
    assert_eq!(
        set(hits(&services, &ada, q("lantern tag:work is:archived")).await),
        only
    );
    // Unarchived, a conversation is found by `-is:archived` and no longer by `is:archived`.
    archive(&services, &ada, &shelved.session_id, false).await;
    assert_eq!(
        set(hits(&services, &ada, q("lantern -is:archived")).await),
        expect(&[(&open, false), (&shelved, false), (&shelved_too, false)])
    );
    assert_eq!(hits(&services, &ada, q("lantern is:archived")).await, []);
    // Bob's archived conversation is his alone.
    assert_eq!(
        hits(&services, &bob, q("lantern is:archived")).await,
        [(bobs.id.clone(), true)]
    );
    assert_eq!(hits(&services, &bob, q("lantern -is:archived")).await, []);

    // Refused: both ways at once, and values `is:` and `-is:` do not take.
    let both = SearchInput {
        archived: Some(true),
        ..q("lantern -is:archived")
    };
    assert_eq!(
        invalid(services.search(&ada, both).await),
        "conflicting_filter: -is: is given twice with different values"
    );
    assert_eq!(
        invalid(services.search(&ada, q("lantern is:unread")).await),
        "invalid_filter: is: takes starred or archived (got \"unread\")"
    );
    assert_eq!(
        invalid(services.search(&ada, q("lantern -is:starred")).await),
        "invalid_filter: -is: takes only archived (got \"starred\")"
    );
}
