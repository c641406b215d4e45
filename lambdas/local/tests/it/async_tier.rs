//! The local asynchronous tier as a user runs it: `slsplay dev` keeps the read models up to
//! date from facts appended by any process, dead letters can be listed and redriven, and
//! `slsplay projections rebuild` replays everything into fresh read models.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Dev, slsplay, succeeds};
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use slsplay_aggregates::FixedClock;
use slsplay_commands::CommandContext;
use slsplay_commands::store::{SqliteEventRepository, SqliteOptions};
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now};
use slsplay_tests::stores::service;

/// Reads one value from the read model file, as an analyst would.
fn read_model(data_dir: &Path, sql: &str) -> Option<String> {
    let path = data_dir.join("read_models.sqlite3");
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    conn.query_row(sql, [], |r| r.get::<_, String>(0))
        .optional()
        .ok()
        .flatten()
}

fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn events(data_dir: &Path) -> SqliteEventRepository {
    SqliteEventRepository::open(data_dir.join("events.sqlite3"), SqliteOptions::default()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_builds_read_models_from_facts_appended_before_and_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let commands = {
        std::fs::create_dir_all(&data).unwrap();
        service(events(&data), &FixedClock::at(now()))
    };
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-1", fixtures::create("ev-1", Some(5)), &ctx)
        .await
        .unwrap();
    commands.execute("ev-1", fixtures::publish(), &ctx).await.unwrap();

    let dev = Dev::start(&data);
    assert_eq!(dev.get("/health").0, 200);
    let status = || {
        read_model(
            &data,
            "SELECT status || '@' || version FROM event_pages WHERE event_id = 'ev-1'",
        )
    };
    wait_for("the page of ev-1", || status().as_deref() == Some("published@2"));

    commands
        .execute("ev-1", fixtures::invite((0..3).map(guest)), &ctx)
        .await
        .unwrap();
    let invited = || {
        read_model(
            &data,
            "SELECT CAST(invited AS TEXT) FROM event_pages WHERE event_id = 'ev-1'",
        )
    };
    wait_for("three invitations on the page", || {
        invited().as_deref() == Some("3")
    });
    let guests = read_model(
        &data,
        "SELECT CAST(COUNT(*) AS TEXT) FROM guest_list WHERE event_id = 'ev-1'",
    );
    assert_eq!(guests.as_deref(), Some("3"));

    // The three invitations reach the mail catcher, as a list and as .eml files.
    let mail_folder = data.join("mail");
    let eml_files = || {
        let entries = std::fs::read_dir(&mail_folder).map(|d| d.filter_map(Result::ok).collect::<Vec<_>>());
        entries.map_or(0, |e| {
            e.iter()
                .filter(|f| f.path().extension().is_some_and(|x| x == "eml"))
                .count()
        })
    };
    wait_for("three .eml files", || eml_files() == 3);
    let (status, listed) = dev.get("/dev/mail.json");
    assert_eq!(status, 200);
    let listed = listed.as_array().unwrap().clone();
    assert_eq!(listed.len(), 3);
    assert!(
        listed
            .iter()
            .all(|m| m["kind"] == "invitation" && m["sent_at"].is_string()),
        "{listed:?}"
    );
    assert!(listed.iter().any(|m| m["recipient"] == "guest2@example.com"));
    let id = listed[0]["id"].as_str().unwrap();
    let eml = std::fs::read_to_string(mail_folder.join(format!("{id}.eml"))).unwrap();
    assert!(eml.contains("Subject: You're invited: Founders' dinner"), "{eml}");

    // Search, as the organizer and as an invitee, while the platform runs.
    let search = |user: &str, email: &str| {
        let out = succeeds(
            slsplay()
                .args(["search", "founders", "--as", user, "--email", email, "--data-dir"])
                .arg(&data),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    wait_for("the event in the organizer's search", || {
        search(ORGANIZER, "org@example.com").contains("\"ev-1\"")
    });
    wait_for("the event in an invitee's search", || {
        search("someone", "guest1@example.com").contains("\"ev-1\"")
    });
    assert_eq!(search("stranger", "nobody@example.com"), "");

    let rebuild_beside_dev = slsplay()
        .args(["projections", "rebuild", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!rebuild_beside_dev.status.success());
    assert!(String::from_utf8_lossy(&rebuild_beside_dev.stderr).contains("stop `slsplay dev`"));
    assert!(dev.interrupt().success());

    let page_before = read_model(
        &data,
        "SELECT json_array(title, status, invited, attending, version) FROM event_pages",
    );
    let rebuilt = succeeds(
        slsplay()
            .args(["projections", "rebuild", "--data-dir"])
            .arg(&data),
    );
    assert_eq!(
        String::from_utf8_lossy(&rebuilt.stdout).trim(),
        "rebuilt read_models from 3 facts"
    );
    assert!(String::from_utf8_lossy(&rebuilt.stderr).contains("[##############################] 3/3 facts"));
    let page_after = read_model(
        &data,
        "SELECT json_array(title, status, invited, attending, version) FROM event_pages",
    );
    assert_eq!(page_after, page_before);

    let rebuilt = succeeds(
        slsplay()
            .args(["projections", "rebuild", "search", "--data-dir"])
            .arg(&data),
    );
    assert_eq!(
        String::from_utf8_lossy(&rebuilt.stdout).trim(),
        "rebuilt search from 3 facts"
    );
    assert!(
        search(ORGANIZER, "org@example.com").contains("\"ev-1\""),
        "the rebuilt index finds the event"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_fact_ends_in_the_dead_letter_queue_and_can_be_redriven() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let commands = service(events(&data), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-ok", fixtures::create("ev-ok", None), &ctx)
        .await
        .unwrap();
    {
        // A fact no version of the code can read, as a bad deploy might leave behind.
        let conn = Connection::open(data.join("events.sqlite3")).unwrap();
        conn.execute(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
             VALUES ('virtual_event', 'ev-bad', 1, 'Mystery', '9.0.0', '{\"Mystery\":{}}', '{}')",
            [],
        )
        .unwrap();
    }
    commands
        .execute("ev-ok", fixtures::publish(), &ctx)
        .await
        .unwrap();

    let dev = Dev::start(&data);
    let list = || {
        let out = succeeds(slsplay().args(["dlq", "list", "--data-dir"]).arg(&data));
        String::from_utf8(out.stdout).unwrap()
    };
    wait_for("the poison fact in the dead-letter queue", || {
        list().contains("virtual_event:ev-bad:1")
    });
    // Every builder refuses it: each queue has it in its dead letters.
    wait_for("the poison fact in every dead-letter queue", || {
        list().lines().count() == 4
    });
    let dead: Vec<serde_json::Value> = list().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut queues: Vec<&str> = dead.iter().map(|d| d["queue"].as_str().unwrap()).collect();
    queues.sort();
    assert_eq!(queues, ["emails", "read_models", "search", "web_cache"]);
    assert!(
        dead.iter()
            .all(|d| d["last_error"].as_str().unwrap().contains("cannot be decoded")),
        "{dead:?}"
    );
    // The healthy event goes through all the same.
    wait_for("ev-ok published", || {
        read_model(&data, "SELECT status FROM event_pages WHERE event_id = 'ev-ok'").as_deref()
            == Some("published")
    });

    let redrive = slsplay()
        .args(["dlq", "redrive", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&redrive.stdout).trim(),
        "redrove 4 messages"
    );
    wait_for("the redriven message to fail again and come back", || {
        list().contains("virtual_event:ev-bad:1")
    });
    assert!(dev.interrupt().success());
}

/// A minimal SMTP server that accepts everything and keeps what it receives.
fn fake_smtp() -> (u16, std::sync::mpsc::Receiver<(String, String)>) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut out = stream.try_clone().unwrap();
                let mut lines = BufReader::new(stream);
                let (mut rcpt, mut line) = (String::new(), String::new());
                writeln!(out, "220 fake ready\r").unwrap();
                while {
                    line.clear();
                    lines.read_line(&mut line).unwrap_or(0) > 0
                } {
                    let command = line.trim_end().to_ascii_uppercase();
                    if command.starts_with("RCPT TO:") {
                        rcpt = line.trim_end()[8..]
                            .trim_matches(|c| c == '<' || c == '>')
                            .to_owned();
                    }
                    if command == "DATA" {
                        writeln!(out, "354 go ahead\r").unwrap();
                        let mut data = String::new();
                        while {
                            line.clear();
                            lines.read_line(&mut line).unwrap_or(0) > 0
                        } && line != ".\r\n"
                        {
                            data.push_str(&line);
                        }
                        tx.send((rcpt.clone(), data)).unwrap();
                        writeln!(out, "250 queued\r").unwrap();
                    } else if command == "QUIT" {
                        writeln!(out, "221 bye\r").unwrap();
                        return;
                    } else {
                        writeln!(out, "250 ok\r").unwrap();
                    }
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_smtp_relay_configured_every_email_is_also_sent_there() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let commands = service(events(&data), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-smtp", fixtures::create("ev-smtp", None), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-smtp", fixtures::invite([guest(7)]), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-smtp", fixtures::publish(), &ctx)
        .await
        .unwrap();

    let (port, received) = fake_smtp();
    let dev = Dev::start_with(&data, &[("SLSPLAY_SMTP", &format!("127.0.0.1:{port}"))]);
    let (to, message) = received
        .recv_timeout(Duration::from_secs(30))
        .expect("an email over SMTP");
    assert_eq!(to, "guest7@example.com");
    assert!(
        message.contains("Subject: You're invited: Founders' dinner"),
        "{message}"
    );
    assert!(dev.interrupt().success());
}

/// The process died after claiming an email and before writing it: the next run delivers it
/// at once, not after the claim's lease, with the same Message-ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_claimed_by_a_run_that_died_is_delivered_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let commands = service(events(&data), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-1", fixtures::create("ev-1", None), &ctx)
        .await
        .unwrap();
    commands.execute("ev-1", fixtures::publish(), &ctx).await.unwrap();
    commands
        .execute("ev-1", fixtures::invite([guest(0)]), &ctx)
        .await
        .unwrap();

    let eml_files = |folder: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(folder)
            .map(|d| {
                d.filter_map(Result::ok)
                    .map(|f| f.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mail_folder = data.join("mail");
    let dev = Dev::start(&data);
    wait_for("the invitation's .eml file", || {
        eml_files(&mail_folder).len() == 1
    });
    assert!(dev.interrupt().success());
    let file = eml_files(&mail_folder).remove(0);
    let first = std::fs::read_to_string(&file).unwrap();

    // What a kill between the claim and the file leaves: a fresh claim, no file, not sent.
    std::fs::remove_file(&file).unwrap();
    let mail = Connection::open(data.join("mail.sqlite3")).unwrap();
    let claimed = mail
        .execute(
            "UPDATE outbox SET sent_at = NULL, claimed_at = ?1",
            [slsplay_projections::email::outbox::claim_stamp(chrono::Utc::now())],
        )
        .unwrap();
    assert_eq!(claimed, 1);
    drop(mail);

    let dev = Dev::start(&data);
    // Well inside the claim's lease: only the restart can have freed it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while eml_files(&mail_folder).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the claimed email was not delivered again"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        first,
        "the same message, same Message-ID"
    );
    let (_, listed) = dev.get("/dev/mail.json");
    assert!(listed[0]["sent_at"].is_string(), "{listed}");
    assert!(dev.interrupt().success());
}
