//! The embedded queue keeps SQS FIFO's promises, on a clock the tests move.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use slsplay_aggregates::FixedClock;
use slsplay_projections::queue::{EmbeddedQueues, Outgoing, QueuePolicy};

const Q: &str = "read_models";

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn queues(dir: &tempfile::TempDir) -> (EmbeddedQueues, FixedClock) {
    let clock = FixedClock::at(start());
    let policy = QueuePolicy {
        max_receives: 3,
        visibility_timeout: Duration::from_secs(30),
        first_retry_after: Duration::from_secs(1),
        max_retry_after: Duration::from_secs(60),
    };
    (
        EmbeddedQueues::open(dir.path().join("q.sqlite3"), policy, Arc::new(clock.clone())).unwrap(),
        clock,
    )
}

fn msg(group: &str, n: u32) -> Outgoing {
    Outgoing {
        group_id: group.into(),
        dedup_id: format!("{group}:{n}"),
        body: format!("{group}-{n}"),
    }
}

fn bodies(d: &[slsplay_projections::queue::Delivery]) -> Vec<&str> {
    d.iter().map(|d| d.body.as_str()).collect()
}

#[tokio::test]
async fn one_message_per_group_is_out_at_a_time_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = queues(&dir);
    q.send_and_advance(&[(Q, vec![msg("a", 1), msg("a", 2), msg("b", 1)])], None)
        .await
        .unwrap();
    let first = q.receive(Q, 10).await.unwrap();
    assert_eq!(bodies(&first), ["a-1", "b-1"]);
    assert!(q.receive(Q, 10).await.unwrap().is_empty(), "a-2 waits for a-1");
    q.ack(first[0].receipt).await.unwrap();
    assert_eq!(bodies(&q.receive(Q, 10).await.unwrap()), ["a-2"]);
}

#[tokio::test]
async fn a_second_send_with_the_same_deduplication_id_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let (q, _) = queues(&dir);
    q.send_and_advance(&[(Q, vec![msg("a", 1)])], None).await.unwrap();
    q.send_and_advance(&[(Q, vec![msg("a", 1)])], None).await.unwrap();
    assert_eq!(q.depth(Q).await.unwrap(), 1);
}

#[tokio::test]
async fn a_failed_message_comes_back_after_its_backoff_and_keeps_its_group_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let (q, clock) = queues(&dir);
    q.send_and_advance(&[(Q, vec![msg("a", 1), msg("a", 2)])], None)
        .await
        .unwrap();
    let first = q.receive(Q, 10).await.unwrap();
    q.fail(&first[0], "boom").await.unwrap();
    assert!(
        q.receive(Q, 10).await.unwrap().is_empty(),
        "not before the backoff, and a-2 still waits"
    );
    clock.advance(chrono::Duration::seconds(1));
    let again = q.receive(Q, 10).await.unwrap();
    assert_eq!((bodies(&again), again[0].receives), (vec!["a-1"], 2));
}

#[tokio::test]
async fn a_message_that_keeps_failing_goes_dead_and_frees_its_group() {
    let dir = tempfile::tempdir().unwrap();
    let (q, clock) = queues(&dir);
    q.send_and_advance(&[(Q, vec![msg("a", 1), msg("a", 2)])], None)
        .await
        .unwrap();
    for _ in 0..3 {
        let d = q.receive(Q, 10).await.unwrap();
        assert_eq!(bodies(&d), ["a-1"]);
        q.fail(&d[0], "poison").await.unwrap();
        clock.advance(chrono::Duration::seconds(60));
    }
    let dead = q.dead_letters(Some(Q)).await.unwrap();
    assert_eq!(
        (dead.len(), dead[0].body.as_str(), dead[0].last_error.as_deref()),
        (1, "a-1", Some("poison"))
    );
    assert_eq!(bodies(&q.receive(Q, 10).await.unwrap()), ["a-2"]);
}

#[tokio::test]
async fn redriven_messages_are_delivered_again_with_fresh_retries() {
    let dir = tempfile::tempdir().unwrap();
    let (q, clock) = queues(&dir);
    q.send_and_advance(&[(Q, vec![msg("a", 1)])], None).await.unwrap();
    for _ in 0..3 {
        let d = q.receive(Q, 10).await.unwrap();
        q.fail(&d[0], "down").await.unwrap();
        clock.advance(chrono::Duration::seconds(60));
    }
    assert!(q.receive(Q, 10).await.unwrap().is_empty());
    assert_eq!(q.redrive(Some(Q)).await.unwrap(), 1);
    let back = q.receive(Q, 10).await.unwrap();
    assert_eq!((bodies(&back), back[0].receives), (vec!["a-1"], 1));
    assert!(q.dead_letters(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_delivery_whose_consumer_vanished_is_delivered_again_after_the_visibility_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (q, clock) = queues(&dir);
    q.send_and_advance(&[(Q, vec![msg("a", 1)])], None).await.unwrap();
    assert_eq!(q.receive(Q, 10).await.unwrap().len(), 1);
    clock.advance(chrono::Duration::seconds(29));
    assert!(q.receive(Q, 10).await.unwrap().is_empty());
    clock.advance(chrono::Duration::seconds(1));
    assert_eq!(q.receive(Q, 10).await.unwrap()[0].receives, 2);
}

#[tokio::test]
async fn messages_and_the_cursor_move_together_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (q, _) = queues(&dir);
        q.send_and_advance(
            &[(Q, vec![msg("a", 1)]), ("search", vec![msg("a", 1)])],
            Some(("fanout", 7)),
        )
        .await
        .unwrap();
    }
    let (q, _) = queues(&dir);
    assert_eq!(q.cursor("fanout").await.unwrap(), 7);
    assert_eq!(
        (q.depth(Q).await.unwrap(), q.depth("search").await.unwrap()),
        (1, 1)
    );
}

#[tokio::test]
async fn a_restart_releases_the_deliveries_its_last_run_died_with_but_not_backoffs() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (q, _) = queues(&dir);
        q.send_and_advance(&[(Q, vec![msg("a", 1), msg("a", 2), msg("b", 1)])], None)
            .await
            .unwrap();
        let out = q.receive(Q, 10).await.unwrap();
        assert_eq!(bodies(&out), ["a-1", "b-1"]);
        // b-1 failed and waits for its backoff; a-1 is in hand when the process dies.
        q.fail(&out[1], "boom").await.unwrap();
    }
    let (q, _) = queues(&dir);
    assert!(
        q.receive(Q, 10).await.unwrap().is_empty(),
        "nothing is due before the release"
    );
    assert_eq!(q.release_deliveries_of_earlier_runs().await.unwrap(), 1);
    let again = q.receive(Q, 10).await.unwrap();
    assert_eq!(bodies(&again), ["a-1"]);
    assert_eq!(again[0].receives, 2, "the receive that died counts");
    q.ack(again[0].receipt).await.unwrap();
    assert_eq!(bodies(&q.receive(Q, 10).await.unwrap()), ["a-2"]);
}
