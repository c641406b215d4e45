//! The `slsplay` binary as a user runs it: `dev` and `history`.

use std::path::Path;

use crate::support::{Dev, slsplay, succeeds};
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::history::{read_json_lines, rebuild};
use slsplay_aggregates::virtual_event::{VirtualEvent, upcasters};
use slsplay_commands::CommandContext;
use slsplay_commands::store::{SqliteEventRepository, SqliteOptions};
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now};
use slsplay_tests::stores::service;

/// Records a created, published event with two invitations in `data_dir`.
async fn seed(data_dir: &Path, event_id: &str) -> VirtualEvent {
    std::fs::create_dir_all(data_dir).unwrap();
    let repo =
        SqliteEventRepository::open(data_dir.join("events.sqlite3"), SqliteOptions::default()).unwrap();
    let commands = service(repo, &FixedClock::at(now()));
    let context = CommandContext::new(ORGANIZER).with_correlation_id("seed-1");
    commands
        .execute(event_id, fixtures::create(event_id, Some(10)), &context)
        .await
        .unwrap();
    commands
        .execute(event_id, fixtures::publish(), &context)
        .await
        .unwrap();
    commands
        .execute(event_id, fixtures::invite([guest(1), guest(2)]), &context)
        .await
        .unwrap();
    commands.load(event_id).await.unwrap().0
}

#[tokio::test]
async fn dev_answers_health_with_the_store_position_and_stops_cleanly_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    seed(&data_dir, "ev-1").await;

    let dev = Dev::start(&data_dir);
    let (status, body) = dev.get("/health");
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["event_store"]["head_position"], 3);
    let exit = dev.interrupt();
    assert!(exit.success(), "exit status {exit}");
    assert!(
        !data_dir.join("events.sqlite3-wal").exists(),
        "the write-ahead log was checkpointed and closed"
    );

    // The same data folder serves again, with everything acknowledged before.
    let dev = Dev::start(&data_dir);
    assert_eq!(dev.get("/health").1["event_store"]["head_position"], 3);
    assert!(dev.interrupt().success());
}

#[tokio::test]
async fn dev_creates_its_data_folder_and_keeps_the_invitation_secret_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("fresh");
    let dev = Dev::start(&data_dir);
    assert!(dev.interrupt().success());
    let secret = std::fs::read_to_string(data_dir.join("invitation-secret")).unwrap();
    assert!(secret.trim().len() >= 43, "a 32-byte key, base64url");
    let dev = Dev::start(&data_dir);
    assert!(dev.interrupt().success());
    assert_eq!(
        std::fs::read_to_string(data_dir.join("invitation-secret")).unwrap(),
        secret
    );
}

#[test]
fn dev_on_a_busy_port_fails_with_a_clear_message() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = slsplay()
        .args(["dev", "--port", &port, "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("listening on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn history_prints_each_fact_with_its_metadata_and_the_resulting_state() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), "ev-h").await;
    let output = succeeds(slsplay().args(["history", "ev-h", "--data-dir"]).arg(dir.path()));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("#1    VirtualEventCreated v3.0.0"), "{text}");
    assert!(
        text.contains(&format!("by {ORGANIZER}  (correlation seed-1)")),
        "{text}"
    );
    assert!(text.contains("#3    GuestsInvited"), "{text}");
    assert!(text.contains("state at version 3:"), "{text}");
    assert!(text.contains("\"lifecycle\": \"published\""), "{text}");
}

#[tokio::test]
async fn history_as_json_lines_replays_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let live = seed(dir.path(), "ev-j").await;
    let output = succeeds(
        slsplay()
            .args(["history", "ev-j", "--jsonl", "--data-dir"])
            .arg(dir.path()),
    );
    let facts = read_json_lines(output.stdout.as_slice()).unwrap();
    assert_eq!(facts.len(), 3);
    let replayed = rebuild::<VirtualEvent>(facts.into_iter().map(Into::into), &upcasters()).unwrap();
    assert_eq!(replayed.state, live);
}

#[tokio::test]
async fn history_of_an_unknown_event_says_so() {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), "ev-1").await;
    let output = slsplay()
        .args(["history", "nope", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("no event `nope`"));
    let missing = slsplay()
        .args(["history", "x", "--data-dir", "/nonexistent/slsplay"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no event store at /nonexistent/slsplay"));
}
