//! The external corpus: real export files kept outside the repository (LibreChat's importer
//! test data), imported into a real SQLite store and checked message by message. The folder is
//! named by `CONFAB_IMPORT_CORPUS`.
//!
//! Every test here is ignored unless asked for, so that without the corpus each one says by name
//! that it did not run (`ignored, needs CONFAB_IMPORT_CORPUS`) instead of passing. `.ci/test`
//! points the variable at `../shared/fixtures/import` and runs them:
//!
//! ```sh
//! CONFAB_IMPORT_CORPUS=../shared/fixtures/import cargo test -p confab-core --test it -- --ignored import_corpus::
//! ```

use std::path::PathBuf;

use crate::import_support::*;
use chrono::{DateTime, Utc};
use confab_core::api::ImportReport;
use confab_core::model::{MessageStatus, Role};
use serde_json::{json, Value};

/// The variable naming the corpus folder.
const CORPUS_VARIABLE: &str = "CONFAB_IMPORT_CORPUS";

/// The corpus folder; a test run without it fails, saying why.
fn corpus_dir() -> PathBuf {
    match std::env::var_os(CORPUS_VARIABLE) {
        None => panic!(
            "{CORPUS_VARIABLE} is not set (the folder of real export files, such as ../shared/fixtures/import)"
        ),
        Some(dir) => {
            let dir = PathBuf::from(dir);
            assert!(dir.is_dir(), "{CORPUS_VARIABLE}={} is not a folder", dir.display());
            dir
        }
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = corpus_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

impl Account {
    async fn import_corpus(&self, name: &str) -> ImportReport {
        self.import(&fixture(name)).await
    }
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn chatgpt_export_with_tools_code_and_citations() {
    let account = account().await;
    let report = account.import_corpus("chatgpt-export.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (2, 19));

    let web = account.session("Conversation 1. Web Search").await;
    let messages = account.messages(&web).await;
    // 17 nodes less the empty root and the hidden system prompt.
    assert_eq!(messages.len(), 15);
    assert_eq!(web.message_count, 15);
    assert_eq!(count_roles(&messages, Role::User), 3);
    assert_eq!(count_roles(&messages, Role::Assistant), 7);
    assert_eq!(count_roles(&messages, Role::Tool), 5);
    assert_eq!(count_roles(&messages, Role::System), 0);
    assert_eq!(
        web.created_at,
        at(1704629915.775304).with_nanosecond_millis()
    );
    assert_eq!(
        messages[0].created_at,
        at(1704629915.776371).with_nanosecond_millis()
    );
    assert_eq!(
        messages[0].content,
        "What is the fuel consumption of vw  transporter with 8 people in l/km"
    );
    assert_eq!(
        messages[0].parent_id, None,
        "bridged over the hidden system node"
    );
    // One branch, ending where current_node says.
    assert_eq!(leaves(&messages).len(), 1);
    let path = active_branch(&web, &messages);
    assert_eq!(path.len(), 15);
    assert!(path
        .last()
        .unwrap()
        .content
        .starts_with("The fuel consumption figures for the 2014 Volkswagen Transporter TDI340"));
    // Browser calls are code blocks; results are readable text.
    assert_eq!(
        messages[1].content,
        "```\nsearch(\"Volkswagen Transporter fuel consumption with 8 people l/km\")\n```"
    );
    assert_eq!(messages[1].role, Role::Assistant);
    assert_eq!(messages[2].role, Role::Tool);
    assert!(messages[2]
        .content
        .starts_with("# 【0†Volkswagen Transporter MPG"));
    let quote = &messages[4];
    assert!(
        quote.content.starts_with(
            "[2021 Volkswagen Transporter T6.1 L2H1 2.0 TDI 110HP specs, dimensions](https://www.ultimatespecs.com/"
        ),
        "{}",
        quote.content
    );
    assert!(quote
        .content
        .contains("\n> URL: https://www.ultimatespecs.com/"));
    // Citations become links, as LibreChat shows them.
    let answer = &messages[6];
    assert!(answer.content.ends_with(
        "maintenance of the vehicle ([2021 Volkswagen Transporter T6.1 L2H1 2.0 TDI 110HP specs, dimensions](https://www.ultimatespecs.com/car-specs/Volkswagen/118424/2021-Volkswagen-Transporter-T61-L2H1-20-TDI-110HP.html)) ([Volkswagen Transporter Review - Drive](https://www.drive.com.au/reviews/volkswagen-transporter-review/))."
    ));
    assert!(!messages
        .iter()
        .any(|m| m.role == Role::Assistant && m.content.contains("†source】")));
    // Models on assistant and tool messages, none on the user's.
    for message in &messages {
        match message.role {
            Role::User => assert_eq!(message.model, None),
            _ => assert_eq!(message.model.as_deref(), Some("gpt-4"), "{message:?}"),
        }
        assert_eq!(message.status, MessageStatus::Complete);
    }
    let detail = account
        .services
        .get_session(&account.user, &web.id)
        .await
        .unwrap();
    assert_eq!(detail.models, vec!["gpt-4".to_owned()]);

    let code = account.session("Conversation 2").await;
    let messages = account.messages(&code).await;
    assert_eq!(messages.len(), 4);
    assert_eq!(
        messages.iter().map(|m| m.role).collect::<Vec<_>>(),
        [Role::User, Role::Assistant, Role::User, Role::Assistant]
    );
    assert!(messages[1]
        .content
        .contains("```python\ndef find_intersection(intervals):"));
    assert!(messages[3].content.contains("```csharp\nusing System;"));
    assert_eq!(
        messages[3].model.as_deref(),
        Some("text-davinci-002-render-sha")
    );
    assert_eq!(
        code.active_leaf_id.as_deref(),
        Some(messages[3].id.as_str())
    );

    // The full-text index is current when the import returns.
    assert!(account.search("Transporter").await > 0);
    assert!(account.search("intersection").await > 0);

    assert_reimport_adds_nothing(&account, &fixture("chatgpt-export.json"), &report).await;
}

/// Times are stored to the millisecond.
trait Millis {
    fn with_nanosecond_millis(self) -> Self;
}

impl Millis for DateTime<Utc> {
    fn with_nanosecond_millis(self) -> Self {
        DateTime::from_timestamp_millis(self.timestamp_millis()).unwrap()
    }
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn chatgpt_modern_export_skips_the_corrupted_entry_and_hidden_context() {
    let account = account().await;
    let report = account.import_corpus("chatgpt-modern-export.json").await;
    assert_eq!(
        (report.sessions, report.messages, report.skipped),
        (2, 6, 0)
    );
    assert_eq!(report.errors.len(), 1, "{:?}", report.errors);
    assert_eq!(report.errors[0].title, "Corrupted entry");
    assert!(
        report.errors[0].reason.contains("mapping"),
        "{}",
        report.errors[0].reason
    );

    let deploy = account.session("Deploying the staging cluster").await;
    let messages = account.messages(&deploy).await;
    assert_eq!(messages.len(), 4);
    assert!(
        !messages
            .iter()
            .any(|m| m.content.contains("The user is an SRE")),
        "the hidden user-profile node is not imported"
    );
    assert_eq!(messages[0].content, "How do I roll back the deploy?");
    assert_eq!(messages[0].parent_id, None);
    assert_eq!(messages[0].created_at, at(1756000001.0));
    assert_eq!(deploy.created_at, at(1756000000.123));
    // model_slug where given, else the conversation's default model.
    assert_eq!(messages[1].model.as_deref(), Some("gpt-5-thinking"));
    assert_eq!(messages[3].model.as_deref(), Some("o4-mini"));
    assert_eq!(messages[0].model, None);
    assert_eq!(
        deploy.active_leaf_id.as_deref(),
        Some(messages[3].id.as_str())
    );
    assert_eq!(active_branch(&deploy, &messages).len(), 4);

    let pasta = account.session("Weeknight pasta").await;
    let messages = account.messages(&pasta).await;
    assert_eq!(
        messages
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>(),
        ["Something with anchovies?", "Puttanesca."]
    );
    assert_eq!(messages[1].model.as_deref(), Some("gpt-5"));
    assert_eq!(account.sessions().await.len(), 2);

    let again = account.import_corpus("chatgpt-modern-export.json").await;
    assert_eq!((again.sessions, again.messages, again.skipped), (0, 0, 6));
    assert_eq!(again.errors.len(), 1, "the broken entry is reported again");
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn chatgpt_tree_keeps_every_branch_and_the_current_one() {
    let account = account().await;
    let report = account.import_corpus("chatgpt-tree.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, 11));

    let session = account.session("Assist user with summary").await;
    let messages = account.messages(&session).await;
    assert_eq!(messages.len(), 11);
    let by_content = |text: &str| {
        messages
            .iter()
            .filter(|m| m.content == text)
            .collect::<Vec<_>>()
    };
    // An edited prompt: two user children of the first answer.
    let hello = by_content("Hello! How can I assist you today?")[0];
    let edits: Vec<&str> = messages
        .iter()
        .filter(|m| m.parent_id.as_ref() == Some(&hello.id))
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(edits, ["so cool bro", "hi again"]);
    // A regenerated reply: two answers to the same prompt.
    let joke = by_content("tell me a joke")[0];
    let answers = messages
        .iter()
        .filter(|m| m.parent_id.as_ref() == Some(&joke.id))
        .count();
    assert_eq!(answers, 2);

    let ends = leaves(&messages);
    assert_eq!(ends.len(), 3);
    let lengths: Vec<usize> = ends
        .iter()
        .map(|leaf| branch(&messages, &leaf.id).len())
        .collect();
    assert_eq!(lengths, [6, 6, 6]);

    // current_node names the second answer to the joke.
    let active = active_branch(&session, &messages);
    assert_eq!(
        active
            .iter()
            .map(|m| m.content.as_str())
            .collect::<Vec<_>>()[..5],
        [
            "hi there",
            "Hello! How can I assist you today?",
            "hi again",
            "Hey! Welcome back. What's on your mind?",
            "tell me a joke"
        ]
    );
    assert_eq!(
        active[5].created_at,
        at(1714585060.598792).with_nanosecond_millis()
    );

    // The interrupted story is kept, marked partial.
    let story = messages
        .iter()
        .find(|m| m.content.starts_with("Sure! Here's a short story"))
        .unwrap();
    assert_eq!(story.status, MessageStatus::Partial);
    assert_eq!(branch(&messages, &story.id)[2].content, "so cool bro");
    assert!(messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .all(|m| m.model.as_deref() == Some("text-davinci-002-render-sha")));
    // Ids sort like times, parents before children.
    for message in &messages {
        if let Some(parent) = &message.parent_id {
            assert!(parent < &message.id);
        }
    }
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn chatgpt_excerpt_with_dangling_references() {
    let account = account().await;
    let report = account.import_corpus("chatgpt-citations.json").await;
    assert_no_problems(&report);
    let session = account.session("Citation Convo").await;
    let messages = account.messages(&session).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].role, Role::Tool);
    assert_eq!(
        messages[0].parent_id, None,
        "the missing parent makes a root"
    );
    let answer = &messages[1];
    assert_eq!(answer.parent_id.as_ref(), Some(&messages[0].id));
    assert!(answer.content.contains(
        "hybrid environments ([Signal Sciences - Crunchbase Company Profile & Funding](https://www.crunchbase.com/organization/signal-sciences)) ([Demand More from Your WAF - Signal Sciences now part of Fastly](https://www.signalsciences.com/))."
    ));
    assert!(!answer.content.contains("†source】"));
    // current_node is not in the excerpt: the newest leaf is active.
    assert_eq!(session.active_leaf_id.as_deref(), Some(answer.id.as_str()));
    assert_reimport_adds_nothing(&account, &fixture("chatgpt-citations.json"), &report).await;
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn openwebui_chats_with_reasoning_and_tools() {
    let account = account().await;
    let report = account.import_corpus("openwebui-export.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (3, 6));

    let reasoning = account.session("Chat with reasoning").await;
    let messages = account.messages(&reasoning).await;
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].content, "What is 15 * 17?");
    assert_eq!(messages[0].created_at, at(1700000000.0));
    assert_eq!(reasoning.created_at, at(1700000000.0));
    assert_eq!(
        messages[1].content,
        "**Thought for 3 seconds**\n\n> Let me break this down...\n\n255"
    );
    assert_eq!(messages[1].model.as_deref(), Some("deepseek-r1"));
    assert_eq!(messages[1].parent_id.as_ref(), Some(&messages[0].id));
    assert_eq!(
        reasoning.active_leaf_id.as_deref(),
        Some(messages[1].id.as_str())
    );

    let tool = account.session("Chat with tool call").await;
    let messages = account.messages(&tool).await;
    assert_eq!(
        messages[1].content,
        "**Tool Executed**\n\n> \"Paris: 18C, rain\"\n\nThe weather in Paris is 18C with rain."
    );
    assert!(!messages[1].content.contains("<details"));
    assert_eq!(messages[1].model.as_deref(), Some("gpt-4o"));

    let simple = account.session("Simple linear chat").await;
    let messages = account.messages(&simple).await;
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.role, m.content.as_str(), m.created_at))
            .collect::<Vec<_>>(),
        [
            (Role::User, "Hello", at(1700002000.0)),
            (Role::Assistant, "Hi there!", at(1700002005.0))
        ]
    );
    assert_eq!(messages[1].model.as_deref(), Some("llama3.1:latest"));
    assert_reimport_adds_nothing(&account, &fixture("openwebui-export.json"), &report).await;
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn librechat_export_matches_the_chatgpt_original() {
    let account = account().await;
    let report = account.import_corpus("librechat-export.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, 6));
    let session = account.session("Conversation 1. Web Search").await;
    let messages = account.messages(&session).await;
    assert_eq!(messages.len(), 6);
    assert_eq!(active_branch(&session, &messages).len(), 6);
    assert_eq!(
        messages.iter().map(|m| m.role).collect::<Vec<_>>(),
        [
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant,
            Role::User,
            Role::Assistant
        ]
    );
    assert_eq!(
        messages[0].created_at,
        "2024-04-09T14:32:05.230Z".parse::<DateTime<Utc>>().unwrap()
    );
    // No model on the messages: the conversation's model.
    assert_eq!(messages[1].model.as_deref(), Some("gpt-3.5-turbo"));
    assert_eq!(messages[0].model, None);

    // The same conversation exported by ChatGPT reads the same, citations included.
    let original = super_account_with("chatgpt-export.json").await;
    let chatgpt = original.session("Conversation 1. Web Search").await;
    let chatgpt_answers: Vec<String> = original
        .messages(&chatgpt)
        .await
        .into_iter()
        .filter(|m| m.role == Role::Assistant && !m.content.starts_with("```"))
        .map(|m| m.content)
        .collect();
    let librechat_answers: Vec<String> = messages
        .into_iter()
        .filter(|m| m.role == Role::Assistant)
        .map(|m| m.content)
        .collect();
    assert_eq!(chatgpt_answers, librechat_answers);
    assert_reimport_adds_nothing(&account, &fixture("librechat-export.json"), &report).await;
}

async fn super_account_with(name: &str) -> Account {
    let account = account().await;
    account.import_corpus(name).await;
    account
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn librechat_tree_keeps_its_branches() {
    let account = account().await;
    let report = account.import_corpus("librechat-tree.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (1, 9));
    let session = account
        .session("Troubleshooting Python Virtual Environment Activation Issue")
        .await;
    let messages = account.messages(&session).await;
    assert_eq!(messages.len(), 9);
    let first_answer = messages
        .iter()
        .find(|m| {
            m.content
                .starts_with("It looks like you're trying to activate")
        })
        .unwrap();
    let follow_ups: Vec<&str> = messages
        .iter()
        .filter(|m| m.parent_id.as_ref() == Some(&first_answer.id))
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(follow_ups, ["thanks", "lol"]);
    let thanks = messages.iter().find(|m| m.content == "thanks").unwrap();
    assert_eq!(
        messages
            .iter()
            .filter(|m| m.parent_id.as_ref() == Some(&thanks.id))
            .count(),
        2
    );
    let ends = leaves(&messages);
    assert_eq!(ends.len(), 3);
    let mut lengths: Vec<usize> = ends
        .iter()
        .map(|leaf| branch(&messages, &leaf.id).len())
        .collect();
    lengths.sort();
    assert_eq!(lengths, [4, 4, 6]);
    // Messages without a time take their parent's.
    assert_eq!(thanks.created_at, first_answer.created_at);
    assert!(messages
        .iter()
        .filter(|m| m.role == Role::Assistant)
        .all(|m| m.model.as_deref() == Some("gpt-4-turbo")));
    // LibreChat does not say which branch was open: the newest leaf.
    let active = active_branch(&session, &messages);
    assert_eq!(
        active.last().map(|m| m.id.as_str()),
        Some(messages.last().unwrap().id.as_str())
    );
    assert_eq!(active[2].content, "lol");
    assert_eq!(session.completion_tokens, 504);
    assert_reimport_adds_nothing(&account, &fixture("librechat-tree.json"), &report).await;
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn chatbotui_history() {
    let account = account().await;
    let report = account.import_corpus("chatbotui-export.json").await;
    assert_no_problems(&report);
    assert_eq!((report.sessions, report.messages), (2, 6));
    let hello = account.session("Hello what are you able to do?").await;
    let messages = account.messages(&hello).await;
    assert_eq!(messages.len(), 4);
    assert_eq!(active_branch(&hello, &messages).len(), 4);
    assert_eq!(messages[1].model.as_deref(), Some("gpt-4-1106-preview"));
    let cobol = account.session("Give me the code that inverts ...").await;
    let messages = account.messages(&cobol).await;
    assert_eq!(
        messages.iter().map(|m| m.role).collect::<Vec<_>>(),
        [Role::User, Role::Assistant]
    );
    assert_eq!(messages[1].model.as_deref(), Some("gpt-3.5-turbo"));
    // No times in the file: stable ids all the same.
    assert_reimport_adds_nothing(&account, &fixture("chatbotui-export.json"), &report).await;
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn every_fixture_imports_into_one_account() {
    let account = account().await;
    let mut total = ImportReport::default();
    let mut names: Vec<String> = std::fs::read_dir(corpus_dir())
        .expect("fixtures")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".json"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 8, "{names:?}");
    for name in &names {
        let report = account.import_corpus(name).await;
        total.sessions += report.sessions;
        total.messages += report.messages;
        total.skipped += report.skipped;
        total.errors.extend(report.errors);
    }
    assert_eq!(
        total.errors.len(),
        1,
        "only the corrupted entry: {:?}",
        total.errors
    );
    // chatgpt-citations.json is an excerpt of a conversation in chatgpt-export.json (same
    // conversation id): its messages join that session instead of making another.
    assert_eq!(total.sessions, 2 + 1 + 1 + 2 + 1 + 1 + 1 + 3);
    assert_eq!(total.messages, 6 + 2 + 19 + 6 + 11 + 6 + 9 + 6);
    assert_eq!(account.sessions().await.len(), 12);
}

#[tokio::test]
#[ignore = "needs CONFAB_IMPORT_CORPUS: run with --ignored"]
async fn an_updated_file_adds_only_the_new_messages() {
    let account = account().await;
    let mut tree: Value = serde_json::from_slice(&fixture("chatgpt-tree.json")).unwrap();
    let original = tree.clone();
    // Before the user regenerated the joke: no second answer, and the first one current.
    let conversation = &mut tree[0];
    conversation["mapping"]
        .as_object_mut()
        .unwrap()
        .remove("f63b8e17-aa5c-4ca6-a1bf-d4d285e269b8");
    conversation["current_node"] = json!("d0d2a7df-d2fc-4df9-bf0a-1c5121e227ae");
    let first = account.import(&to_bytes(&tree)).await;
    assert_eq!((first.sessions, first.messages), (1, 10));
    let session = account.session("Assist user with summary").await;
    let before = account.messages(&session).await;
    let leaf = session.active_leaf_id.clone().unwrap();
    assert_eq!(
        before.iter().find(|m| m.id == leaf).unwrap().created_at,
        at(1714585056.580956).with_nanosecond_millis()
    );

    let update = account.import(&to_bytes(&original)).await;
    assert_eq!(
        (update.sessions, update.messages, update.skipped),
        (0, 1, 10)
    );
    let session = account.session("Assist user with summary").await;
    let after = account.messages(&session).await;
    assert_eq!(after.len(), 11);
    assert_eq!(session.message_count, 11);
    // The existing messages kept their ids, and the new one hangs from the same prompt.
    for message in &before {
        assert!(after.iter().any(|m| m.id == message.id));
    }
    let new = after
        .iter()
        .find(|m| !before.iter().any(|b| b.id == m.id))
        .unwrap();
    let joke = after
        .iter()
        .find(|m| m.content == "tell me a joke")
        .unwrap();
    assert_eq!(new.parent_id.as_ref(), Some(&joke.id));
    assert_eq!(
        session.active_leaf_id.as_deref(),
        Some(new.id.as_str()),
        "the current node moved"
    );
}
