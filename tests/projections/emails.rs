//! Which emails each fact causes, at most once per (recipient, cause).

use serde_json::Value;
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::validation::Money;
use slsplay_aggregates::virtual_event::{
    CreateEvent, InvitationTokens, RsvpAnswer, UpdateDetails, VirtualEventCommand as C,
};
use slsplay_commands::CommandContext;
use slsplay_projections::email::outbox::OutboxMessage;
use slsplay_tests::fixtures::{self, ORGANIZER, SECRET, guest, now, token};
use slsplay_tests::projection::{catch_up, email_builder, outbox};
use slsplay_tests::stores::{SqliteStore, StoreUnderTest, service};

#[tokio::test]
async fn invitations_go_out_on_publishing_and_answers_and_changes_reach_the_right_people() {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let ctx = CommandContext::new(ORGANIZER);
    let ev = "ev-mail";
    let C::CreateEvent(create) = fixtures::create(ev, Some(1)) else {
        unreachable!()
    };
    let create = CreateEvent {
        title: "Wine & <cheese>".into(),
        ..create
    };
    commands.execute(ev, C::CreateEvent(create), &ctx).await.unwrap();
    commands
        .execute(ev, fixtures::invite([guest(0), guest(1)]), &ctx)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let emails = email_builder(&store, dir.path());
    catch_up(&store.open(), &emails).await;
    assert!(
        outbox(&emails, &guest(0)).await.is_empty(),
        "nothing is sent for a draft"
    );

    commands.execute(ev, fixtures::publish(), &ctx).await.unwrap();
    commands
        .execute(ev, fixtures::invite([guest(2)]), &ctx)
        .await
        .unwrap();
    let accept = |i: usize| C::Rsvp {
        credential: token(ev, &guest(i)),
        answer: RsvpAnswer::Accept,
    };
    commands.execute(ev, accept(0), &ctx).await.unwrap();
    commands.execute(ev, accept(1), &ctx).await.unwrap(); // full: waitlisted
    let later = UpdateDetails {
        organizer: ORGANIZER.into(),
        starts_at: Some(now() + chrono::Duration::days(15)),
        ..Default::default()
    };
    commands.execute(ev, C::UpdateDetails(later), &ctx).await.unwrap();
    commands
        .execute(
            ev,
            C::Cancel {
                organizer: ORGANIZER.into(),
                message: "Storm <warning>".into(),
            },
            &ctx,
        )
        .await
        .unwrap();
    catch_up(&store.open(), &emails).await;
    catch_up(&store.open(), &emails).await; // every fact again: nothing new

    let kinds = |messages: &[OutboxMessage]| {
        let mut k: Vec<String> = messages.iter().map(|m| m.kind.clone()).collect();
        k.sort();
        k
    };
    let first = outbox(&emails, &guest(0)).await;
    assert_eq!(
        kinds(&first),
        ["attending", "cancelled", "invitation", "rescheduled"]
    );
    assert_eq!(
        kinds(&outbox(&emails, &guest(1)).await),
        ["cancelled", "invitation", "rescheduled", "waitlisted"]
    );
    assert_eq!(
        kinds(&outbox(&emails, &guest(2)).await),
        ["cancelled", "invitation", "rescheduled"]
    );

    let invitation = first.iter().find(|m| m.kind == "invitation").unwrap();
    assert_eq!(invitation.subject, "You're invited: Wine & <cheese>");
    let eml = &invitation.eml;
    assert!(eml.contains("To: guest0@example.com"), "{eml}");
    assert!(
        eml.contains("Content-Type: text/calendar; charset=utf-8; method=REQUEST"),
        "{eml}"
    );
    assert!(
        eml.contains("Wine &amp; &lt;cheese&gt;"),
        "user text is escaped in HTML: {eml}"
    );
    let ics = decoded_calendar(eml);
    // Instants in UTC (09:00 UTC, 11:00 in Berlin), stamped when the email was decided (the
    // publishing, at the fixture's now), not at the event's start.
    assert!(ics.contains("\r\nDTSTART:20300515T090000Z\r\n"), "{ics}");
    assert!(ics.contains("\r\nDTEND:20300515T110000Z\r\n"), "{ics}");
    assert!(ics.contains("\r\nDTSTAMP:20300501T090000Z\r\n"), "{ics}");
    assert!(!ics.contains("TZID"), "{ics}");
    let share = InvitationTokens::new(&SECRET).unwrap().share_id(ev);
    let link = format!("https://app.test/e/{share}#{ev}.");
    assert!(eml.contains(&link), "the personal link: {eml}");

    let attending = first.iter().find(|m| m.kind == "attending").unwrap();
    assert!(
        attending.eml.contains("https://meet.example.com/founders"),
        "confirmed guests get the meeting link"
    );
    assert!(
        !invitation.eml.contains("https://meet.example.com/founders"),
        "invitees do not"
    );
    let cancelled = first.iter().find(|m| m.kind == "cancelled").unwrap();
    assert!(cancelled.eml.contains("Storm &lt;warning&gt;"));
    assert!(decoded_calendar(&cancelled.eml).contains("METHOD:CANCEL"));
}

/// An hour across a daylight-saving change is an hour in the calendar: 01:30 in New York on
/// the night the clocks go back (its first 01:30, EDT) and on the night they go forward.
#[tokio::test]
async fn calendar_entries_keep_their_length_across_daylight_saving_changes() {
    for (starts_at, ends) in [
        ("2030-11-03T05:30:00Z", ("20301103T053000Z", "20301103T063000Z")),
        ("2031-03-09T06:30:00Z", ("20310309T063000Z", "20310309T073000Z")),
    ] {
        let sent = new_york_emails("ev-dst", starts_at, Vec::new()).await;
        let ics = decoded_calendar(&sent[0].eml);
        assert!(ics.contains(&format!("\r\nDTSTART:{}\r\n", ends.0)), "{ics}");
        assert!(ics.contains(&format!("\r\nDTEND:{}\r\n", ends.1)), "{ics}");
    }
}

/// Every kind of calendar file the emails carry, read by a parser nobody here wrote (Python's
/// icalendar, in the test venv): the instants, who organizes and who attends, and the join link
/// only once confirmed.
#[tokio::test]
async fn every_calendar_file_reads_right_in_a_third_party_parser() {
    let ev = "ev-ics";
    let accept = C::Rsvp {
        credential: token(ev, &guest(0)),
        answer: RsvpAnswer::Accept,
    };
    let later = UpdateDetails {
        organizer: ORGANIZER.into(),
        starts_at: Some("2030-11-10T06:30:00Z".parse().unwrap()),
        ..Default::default()
    };
    let cancel = C::Cancel {
        organizer: ORGANIZER.into(),
        message: "Storm".into(),
    };
    // 01:30 on the night New York's clocks go back.
    let then = vec![accept, C::UpdateDetails(later), cancel];
    let sent = new_york_emails(ev, "2030-11-03T05:30:00Z", then).await;
    let dir = tempfile::tempdir().unwrap();

    let read = |ics: &str| {
        let file = dir.path().join("entry.ics");
        std::fs::write(&file, ics).unwrap();
        let script = "import sys, json, icalendar\n\
            cal = icalendar.Calendar.from_ical(open(sys.argv[1], 'rb').read())\n\
            ev = next(c for c in cal.walk() if c.name == 'VEVENT')\n\
            t = lambda k: ev.decoded(k).astimezone(__import__('datetime').timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')\n\
            att = ev.get('ATTENDEE')\n\
            print(json.dumps({'method': str(cal.get('METHOD')), 'start': t('DTSTART'), 'end': t('DTEND'),\n\
              'stamp': t('DTSTAMP'), 'organizer': str(ev.get('ORGANIZER')), 'attendee': str(att),\n\
              'organizer_name': str(ev.get('ORGANIZER').params.get('CN')),\n\
              'partstat': str(att.params.get('PARTSTAT')), 'location': str(ev.get('LOCATION')),\n\
              'url': str(ev.get('URL')), 'sequence': int(ev.get('SEQUENCE')), 'status': str(ev.get('STATUS'))}))";
        let run = std::process::Command::new(slsplay_tests::moto::python())
            .arg("-c")
            .arg(script)
            .arg(&file)
            .output()
            .expect("the test venv's python (.ci/setup)");
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        serde_json::from_slice::<Value>(&run.stdout).unwrap()
    };
    let of = |kind: &str| {
        let message = sent
            .iter()
            .find(|m| m.kind == kind)
            .unwrap_or_else(|| panic!("no {kind}"));
        read(&decoded_calendar(&message.eml))
    };
    let share = InvitationTokens::new(&SECRET).unwrap().share_id(ev);
    let page = format!("https://app.test/e/{share}");
    let guest_of = format!("mailto:{}", guest(0));

    let invitation = of("invitation");
    assert_eq!(
        (&invitation["method"], &invitation["start"], &invitation["end"]),
        (
            &json("REQUEST"),
            &json("2030-11-03T05:30:00Z"),
            &json("2030-11-03T06:30:00Z")
        ),
        "an hour across the change: {invitation}"
    );
    assert_eq!(invitation["stamp"], "2030-05-01T09:00:00Z", "{invitation}");
    assert_eq!(invitation["organizer"], "mailto:events@slsplay.test");
    assert_eq!(
        invitation["organizer_name"], "Olivia Ortega",
        "the organizer's own name"
    );
    assert_eq!(
        (&invitation["attendee"], &invitation["partstat"]),
        (&json(&guest_of), &json("NEEDS-ACTION"))
    );
    assert_eq!(
        (&invitation["url"], &invitation["location"]),
        (&json(&page), &json("None")),
        "no join link yet"
    );

    let attending = of("attending");
    assert_eq!(attending["partstat"], "ACCEPTED", "{attending}");
    assert_eq!(attending["location"], "https://meet.example.com/founders");

    let moved = of("rescheduled");
    assert_eq!(
        (&moved["start"], &moved["end"]),
        (&json("2030-11-10T06:30:00Z"), &json("2030-11-10T07:30:00Z")),
        "{moved}"
    );
    assert_eq!(
        (&moved["partstat"], &moved["location"]),
        (&json("ACCEPTED"), &json("https://meet.example.com/founders"))
    );
    assert!(
        moved["sequence"].as_i64().unwrap() > 0,
        "an update outranks the first entry: {moved}"
    );

    let cancelled = of("cancelled");
    assert_eq!(
        (&cancelled["method"], &cancelled["status"]),
        (&json("CANCEL"), &json("CANCELLED")),
        "{cancelled}"
    );
    assert_eq!(
        cancelled["location"], "None",
        "no join link for a cancelled event"
    );
    assert!(cancelled["sequence"].as_i64() > moved["sequence"].as_i64());
}

fn json(s: &str) -> Value {
    Value::from(s)
}

/// guest(0)'s emails about an hour-long event starting at `starts_at` in New York: created,
/// guest(0) invited, published, then each command of `then`.
async fn new_york_emails(ev: &str, starts_at: &str, then: Vec<C>) -> Vec<OutboxMessage> {
    let store = SqliteStore::new();
    let clock = FixedClock::at(now());
    let commands = service(store.open(), &clock);
    let ctx = CommandContext::new(ORGANIZER);
    let C::CreateEvent(create) = fixtures::create(ev, None) else {
        unreachable!()
    };
    let create = CreateEvent {
        starts_at: starts_at.parse().unwrap(),
        time_zone: "America/New_York".into(),
        duration_minutes: 60,
        ..create
    };
    let first = [
        C::CreateEvent(create),
        fixtures::invite([guest(0)]),
        fixtures::publish(),
    ];
    for command in first.into_iter().chain(then) {
        commands.execute(ev, command, &ctx).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let emails = email_builder(&store, dir.path());
    catch_up(&store.open(), &emails).await;
    outbox(&emails, &guest(0)).await
}

/// The .ics part of a message, whatever transfer encoding lettre chose for it.
fn decoded_calendar(eml: &str) -> String {
    decoded_part(eml, "text/calendar")
}

/// One part of a message, whatever transfer encoding lettre chose for it.
fn decoded_part(eml: &str, content_type: &str) -> String {
    let part = eml
        .split(&format!("Content-Type: {content_type}"))
        .nth(1)
        .expect("such a part");
    let (headers, body) = part.split_once("\r\n\r\n").expect("part headers");
    let body = body.split("\r\n--").next().unwrap();
    if headers.contains("Content-Transfer-Encoding: base64") {
        use base64::Engine;
        let compact: String = body.split_whitespace().collect();
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(compact).unwrap()).unwrap()
    } else if headers.contains("quoted-printable") {
        body.replace("=\r\n", "").replace("=3D", "=")
    } else {
        body.to_owned()
    }
}

#[tokio::test]
async fn an_email_is_claimed_once_and_a_failed_delivery_gives_it_back() {
    use slsplay_projections::email::outbox::SqliteOutbox;
    let store = SqliteStore::new();
    let commands = service(store.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-c", fixtures::create("ev-c", None), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-c", fixtures::invite([guest(0)]), &ctx)
        .await
        .unwrap();
    commands.execute("ev-c", fixtures::publish(), &ctx).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let emails = email_builder(&store, dir.path());
    catch_up(&store.open(), &emails).await;

    let outbox = SqliteOutbox::open(dir.path().join("mail.sqlite3")).unwrap();
    let at = |t: &str| -> chrono::DateTime<chrono::Utc> { t.parse().unwrap() };
    let waiting = outbox.unsent(10, at("2030-05-01T09:00:00Z")).unwrap();
    assert_eq!(waiting.len(), 1);
    let id = &waiting[0].id;
    assert!(outbox.claim(id, at("2030-05-01T09:00:00Z")).unwrap());
    assert!(
        !outbox.claim(id, at("2030-05-01T09:00:01Z")).unwrap(),
        "a second claim loses"
    );
    assert!(outbox.unsent(10, at("2030-05-01T09:00:01Z")).unwrap().is_empty());
    outbox.release(id).unwrap();
    assert_eq!(outbox.unsent(10, at("2030-05-01T09:00:01Z")).unwrap().len(), 1);
}

#[tokio::test]
async fn a_paid_invitation_names_the_ticket_price_on_its_own_line() {
    let store = SqliteStore::new();
    let commands = service(store.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    let C::CreateEvent(create) = fixtures::create("ev-paid", Some(10)) else {
        unreachable!()
    };
    let create = CreateEvent {
        ticket_price: Some(Money {
            amount_minor: 2500,
            currency: "EUR".into(),
        }),
        ..create
    };
    commands
        .execute("ev-paid", C::CreateEvent(create), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-paid", fixtures::invite([guest(0)]), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-paid", fixtures::publish(), &ctx)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let emails = email_builder(&store, dir.path());
    catch_up(&store.open(), &emails).await;

    let sent = outbox(&emails, &guest(0)).await;
    let html = decoded_part(&sent[0].eml, "text/html");
    assert!(
        html.contains("<br>Ticket: 25.00 EUR (non-refundable)</p>"),
        "{html}"
    );
    let text = decoded_part(&sent[0].eml, "text/plain");
    assert!(text.contains("\nTicket: 25.00 EUR (non-refundable)"), "{text}");
}
