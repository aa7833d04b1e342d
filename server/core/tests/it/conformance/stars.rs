//! Starred messages: a star on any message of the user's, kept with its time, and the Starred
//! view across conversations, newest star first, paged, without deleted conversations.

use std::time::Duration;

use chrono::{DateTime, Utc};
use confab_core::api::{MessageListInput, NewMessageInput, PageInput};
use confab_core::model::{Message, StarredMessage, User};
use confab_core::service::{ServiceError, Services};
use confab_core::store::DynStore;

use super::{services, user};

/// Appends `content` as the user's message (to a new session without `session_id`).
pub(super) async fn say(
    services: &Services,
    user: &User,
    session_id: Option<&str>,
    content: &str,
) -> Message {
    services
        .append_message(
            user,
            NewMessageInput {
                session_id: session_id.map(str::to_owned),
                role: "user".into(),
                content: content.into(),
                ..Default::default()
            },
        )
        .await
        .expect("append")
        .message
}

/// Stars `message` and checks what comes back: the message as it was, with a star given
/// between `before` and now (milliseconds, as stored).
async fn star(services: &Services, user: &User, message: &Message) -> Message {
    let before = Utc::now() - chrono::Duration::milliseconds(1);
    let starred = services
        .set_star(user, &message.id, true)
        .await
        .expect("star");
    let at: DateTime<Utc> = starred.starred_at.expect("a starred message has its time");
    assert!(
        at >= before && at <= Utc::now(),
        "{at} is the time it was starred"
    );
    assert_eq!(
        starred,
        Message {
            starred: true,
            starred_at: Some(at),
            ..message.clone()
        }
    );
    // Two stars never share a millisecond here, so the view's order is the stars' order.
    tokio::time::sleep(Duration::from_millis(3)).await;
    starred
}

async fn page(
    services: &Services,
    user: &User,
    limit: Option<i64>,
    cursor: Option<String>,
) -> (Vec<StarredMessage>, Option<String>) {
    let page = services
        .starred_messages(user, PageInput { limit, cursor })
        .await
        .expect("the Starred view");
    (page.items, page.next_cursor)
}

fn item(message: &Message, title: &str) -> StarredMessage {
    StarredMessage {
        message: message.clone(),
        session_id: message.session_id.clone(),
        session_title: title.to_owned(),
    }
}

pub async fn starred_messages(store: DynStore) {
    let services = services(store.clone());
    let ada = user(&services, "ada@example.com").await;
    let bob = user(&services, "bob@example.com").await;

    let soup_question = say(&services, &ada, None, "How do I make zucchini soup?").await;
    let soup = soup_question.session_id.clone();
    let soup_answer = say(&services, &ada, Some(&soup), "Garlic, then zucchini.").await;
    let bread_question = say(&services, &ada, None, "And zucchini bread?").await;
    let bread = bread_question.session_id.clone();
    let bobs = say(&services, &bob, None, "Bob's own question").await;
    for (session, title) in [(&soup, "Soup"), (&bread, "Bread")] {
        services
            .update_session(
                &ada,
                session,
                confab_core::api::SessionPatchInput {
                    title: Some(title.into()),
                    ..Default::default()
                },
            )
            .await
            .expect("rename");
    }

    // Nothing is starred at first.
    assert_eq!((soup_answer.starred, soup_answer.starred_at), (false, None));
    assert_eq!(page(&services, &ada, None, None).await, (vec![], None));

    // A star, and a second star that changes nothing (its first time stays).
    let answer = star(&services, &ada, &soup_answer).await;
    let again = services
        .set_star(&ada, &soup_answer.id, true)
        .await
        .expect("star again");
    assert_eq!(again, answer);
    assert_eq!(
        services.get_message(&ada, &answer.id).await.expect("read"),
        answer
    );
    let listed = services
        .list_messages(
            &ada,
            MessageListInput {
                session_id: soup.clone(),
                ..Default::default()
            },
        )
        .await
        .expect("messages");
    assert_eq!(listed.items, [soup_question.clone(), answer.clone()]);

    let bread_star = star(&services, &ada, &bread_question).await;
    let question = star(&services, &ada, &soup_question).await;

    // Newest star first, across conversations, with each conversation's title; paged.
    let everything = vec![
        item(&question, "Soup"),
        item(&bread_star, "Bread"),
        item(&answer, "Soup"),
    ];
    assert_eq!(
        page(&services, &ada, None, None).await,
        (everything.clone(), None)
    );
    let (first, cursor) = page(&services, &ada, Some(2), None).await;
    assert_eq!(first, everything[..2]);
    let cursor = cursor.expect("a third star follows");
    let (second, end) = page(&services, &ada, Some(2), Some(cursor.clone())).await;
    assert_eq!((second, end), (everything[2..].to_vec(), None));
    let (exact, end) = page(&services, &ada, Some(3), None).await;
    assert_eq!(
        (exact, end),
        (everything.clone(), None),
        "no empty last page"
    );

    // Another user's message is not found, and another user sees none of these stars.
    for starred in [true, false] {
        let result = services.set_star(&bob, &answer.id, starred).await;
        assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
    }
    assert_eq!(page(&services, &bob, None, None).await, (vec![], None));
    let mine = star(&services, &bob, &bobs).await;
    assert_eq!(
        page(&services, &bob, None, None).await,
        (vec![item(&mine, "Bob's own question")], None)
    );
    for unknown in ["0190f000-0000-7000-8000-000000000000", "not an id", ""] {
        let result = services.set_star(&ada, unknown, true).await;
        assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
    }
    let result = services
        .starred_messages(
            &ada,
            PageInput {
                limit: None,
                cursor: Some("bm90IGEgY3Vyc29y".into()),
            },
        )
        .await;
    assert!(
        matches!(
            result,
            Err(ServiceError::Invalid {
                code: "invalid_cursor",
                ..
            })
        ),
        "{result:?}"
    );

    // Unstarring, twice: the second changes nothing either.
    let unstarred = services
        .set_star(&ada, &bread_question.id, false)
        .await
        .expect("unstar");
    assert_eq!(unstarred, bread_question);
    assert_eq!(
        services
            .set_star(&ada, &bread_question.id, false)
            .await
            .expect("unstar again"),
        bread_question
    );
    assert_eq!(
        page(&services, &ada, None, None).await,
        (vec![item(&question, "Soup"), item(&answer, "Soup")], None)
    );
    // A star given again is a new star, the newest.
    let bread_again = star(&services, &ada, &bread_question).await;
    assert!(bread_again.starred_at > question.starred_at);

    // A deleted conversation's stars leave the view (a page may come out short, with the
    // cursor to go on) and its messages cannot be starred; a restore brings them back.
    services.delete_session(&ada, &soup).await.expect("delete");
    assert_eq!(
        page(&services, &ada, None, None).await,
        (vec![item(&bread_again, "Bread")], None)
    );
    let (short, cursor) = page(&services, &ada, Some(2), None).await;
    assert_eq!(short, [item(&bread_again, "Bread")]);
    let (rest, end) = page(&services, &ada, Some(2), cursor).await;
    assert_eq!((rest, end), (vec![], None));
    for starred in [true, false] {
        let result = services.set_star(&ada, &answer.id, starred).await;
        assert!(matches!(result, Err(ServiceError::NotFound)), "{result:?}");
    }
    services
        .restore_session(&ada, &soup)
        .await
        .expect("restore");
    assert_eq!(
        page(&services, &ada, None, None).await,
        (
            vec![
                item(&bread_again, "Bread"),
                item(&question, "Soup"),
                item(&answer, "Soup"),
            ],
            None
        )
    );
}
