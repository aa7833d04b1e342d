//! Issue 16's sidebar target: with 200 folders (20 at the top level, each holding 9) and most
//! conversations filed in them, the sidebar's first page, as the page asks for it: the
//! folders (with their counts) and the first page of the top level's conversations.

use std::time::Duration;

use serde_json::{json, Value};

use crate::{check, measure_within, sampled, Row};

/// Folders at the top level, and folders in each of them: 20 + 20 × 9 = 200.
const TOP_FOLDERS: usize = 20;
const SUBFOLDERS: usize = 9;
/// Of every three conversations, two are filed in a folder.
const FILED_OF_THREE: usize = 2;

/// Makes the folders, files two thirds of the user's conversations in them (spread evenly,
/// one bulk move per folder), checks the counts, then measures the sidebar's first page.
pub async fn sidebar_row(
    api: &reqwest::Client,
    base: &str,
    samples: usize,
    budget: Option<Duration>,
) -> Result<Row, String> {
    let mut folder_ids = Vec::new();
    for top in 0..TOP_FOLDERS {
        let parent = create(api, base, &format!("Project {top}"), None).await?;
        for sub in 0..SUBFOLDERS {
            folder_ids.push(create(api, base, &format!("Part {sub}"), Some(&parent)).await?);
        }
        folder_ids.push(parent);
    }
    let sessions = session_ids(api, base, None).await?;
    let filed: Vec<&String> = sessions
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 3 < FILED_OF_THREE)
        .map(|(_, id)| id)
        .collect();
    let per_folder = filed.len().div_ceil(folder_ids.len()).max(1);
    for (chunk, folder) in filed.chunks(per_folder).zip(&folder_ids) {
        let answer = check(
            api.post(format!("{base}/api/chat/sessions/bulk"))
                .json(&json!({ "ids": chunk, "action": "move", "folderId": folder }))
                .send()
                .await,
        )
        .await?;
        let applied = answer["applied"].as_array().map_or(0, Vec::len);
        if applied != chunk.len() {
            return Err(format!("bulk move: {applied} of {} applied", chunk.len()));
        }
    }
    // The counts are the filed conversations (none of them archived at this point).
    let listed = check(api.get(format!("{base}/api/chat/folders")).send().await).await?;
    let counted: i64 = listed["folders"].as_array().map_or(0, |folders| {
        folders
            .iter()
            .filter_map(|f| f["sessionCount"].as_i64())
            .sum()
    });
    if counted != filed.len() as i64 {
        return Err(format!(
            "folder counts add up to {counted}, {} were filed",
            filed.len()
        ));
    }
    let folders = folder_ids.len();
    let (p50, p99, taken) = measure_within(samples, budget, |_| {
        let api = api.clone();
        let base = base.to_owned();
        async move {
            let listed = check(api.get(format!("{base}/api/chat/folders")).send().await).await?;
            let count = listed["folders"].as_array().map_or(0, Vec::len);
            if count != folders {
                return Err(format!("{count} folders listed of {folders}"));
            }
            let page = check(
                api.get(format!("{base}/api/chat/sessions"))
                    .query(&[("folder", "top")])
                    .send()
                    .await,
            )
            .await?;
            let items = page["sessions"].as_array().cloned().unwrap_or_default();
            if items.is_empty() || items.iter().any(|s| !s["folderId"].is_null()) {
                return Err(format!(
                    "the top level's first page holds a filed conversation or none ({} items)",
                    items.len()
                ));
            }
            Ok(())
        }
    })
    .await?;
    Ok(Row {
        what: sampled(
            format!(
                "sidebar's first page: {folders} folders and the top level's sessions ({} sessions, {} filed)",
                sessions.len(),
                filed.len()
            ),
            taken,
            samples,
        ),
        p50,
        p99,
        target: "p99 ≤ 5 ms".into(),
    })
}

async fn create(
    api: &reqwest::Client,
    base: &str,
    name: &str,
    parent: Option<&str>,
) -> Result<String, String> {
    let folder: Value = check(
        api.post(format!("{base}/api/chat/folders"))
            .json(&json!({ "name": name, "parentId": parent }))
            .send()
            .await,
    )
    .await?;
    folder["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("no folder id in {folder}"))
}

/// The ids of the live conversations not archived, the newest first: all of them, or the
/// first `at_most`.
pub async fn session_ids(
    api: &reqwest::Client,
    base: &str,
    at_most: Option<usize>,
) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = api
            .get(format!("{base}/api/chat/sessions"))
            .query(&[("limit", "100")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor.as_str())]);
        }
        let page = check(request.send().await).await?;
        let sessions = page["sessions"].as_array().cloned().unwrap_or_default();
        ids.extend(
            sessions
                .iter()
                .filter_map(|s| s["id"].as_str().map(str::to_owned)),
        );
        cursor = page["nextCursor"].as_str().map(str::to_owned);
        let enough = at_most.is_some_and(|at_most| ids.len() >= at_most);
        if enough || cursor.is_none() || sessions.is_empty() {
            return Ok(ids);
        }
    }
}
