//! The AWS path of the asynchronous tier against moto: commands through dynamo-es, the stream
//! records read back from moto's DynamoDB Streams and handed to the fan-out handler exactly as
//! the Lambda gets them, SQS FIFO on moto, and the projection handler fed from it.
//!
//! The read models are on moto's DynamoDB too, queried at the end.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sqs::SqsEvent;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_dynamodbstreams::types::{AttributeValue as StreamValue, ShardIteratorType};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use base64::Engine;
use serde_json::{Value, json};
use slsplay_aggregates::FixedClock;
use slsplay_aggregates::virtual_event::upcasters;
use slsplay_aws::fact_index::DynamoFactIndex;
use slsplay_aws::fan_out::fan_out;
use slsplay_aws::projection::project;
use slsplay_aws::rebuild::rebuild_from_index;
use slsplay_aws::sqs::SqsQueues;
use slsplay_commands::CommandContext;
use slsplay_projections::builder::{Builder, ReadModels};
use slsplay_projections::read_models::EventPage;
use slsplay_projections::read_models::TABLES;
use slsplay_projections::schema::Key;
use slsplay_projections::store::dynamo::DynamoReadStore;
use slsplay_projections::store::{ReadStore, ReadTx};
use slsplay_tests::fixtures::{self, ORGANIZER, guest, now};
use slsplay_tests::moto::moto;
use slsplay_tests::stores::{DynamoStore, StoreUnderTest, service};

fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&moto().sdk_config())
}

fn streams() -> aws_sdk_dynamodbstreams::Client {
    aws_sdk_dynamodbstreams::Client::new(&moto().sdk_config())
}

/// A stream attribute value in the JSON the Lambda service sends.
fn lambda_json(value: &StreamValue) -> Value {
    match value {
        StreamValue::S(s) => json!({ "S": s }),
        StreamValue::N(n) => json!({ "N": n }),
        StreamValue::B(b) => json!({ "B": base64::engine::general_purpose::STANDARD.encode(b.as_ref()) }),
        other => panic!("the event table holds no {other:?}"),
    }
}

fn image(item: &HashMap<String, StreamValue>) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), lambda_json(v))).collect())
}

/// Everything moto's stream holds for `table`, as the Lambda's DynamoDB event.
async fn stream_event(table: &str) -> Event {
    let client = streams();
    let listed = client.list_streams().table_name(table).send().await.unwrap();
    let arn = listed.streams()[0].stream_arn().unwrap().to_owned();
    let described = client.describe_stream().stream_arn(&arn).send().await.unwrap();
    let shard = described.stream_description().unwrap().shards()[0]
        .shard_id()
        .unwrap()
        .to_owned();
    let iterator = client
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(shard)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .unwrap();
    let records = client
        .get_records()
        .shard_iterator(iterator.shard_iterator().unwrap())
        .send()
        .await
        .unwrap();
    let records: Vec<Value> = records
        .records()
        .iter()
        .map(|r| {
            let change = r.dynamodb().unwrap();
            json!({
                "eventID": r.event_id(),
                "eventName": r.event_name().unwrap().as_str(),
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "eventSourceARN": arn,
                "dynamodb": {
                    "Keys": image(change.keys().unwrap()),
                    "NewImage": image(change.new_image().unwrap()),
                    "SequenceNumber": change.sequence_number(),
                    "SizeBytes": change.size_bytes(),
                    "StreamViewType": "NEW_IMAGE"
                }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("the Lambda's shape")
}

async fn fifo_queue(name: &str) -> String {
    let created = sqs()
        .create_queue()
        .queue_name(format!("{name}.fifo"))
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap();
    created.queue_url().unwrap().to_owned()
}

async fn index_table(name: &str) {
    let key = |n: &str, t| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(t)
            .build()
            .unwrap()
    };
    let attribute = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .unwrap()
    };
    moto()
        .dynamodb()
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("Bucket"))
        .attribute_definitions(attribute("Key"))
        .key_schema(key("Bucket", KeyType::Hash))
        .key_schema(key("Key", KeyType::Range))
        .send()
        .await
        .unwrap();
}

/// What SQS would hand the projection Lambda, as its event.
async fn sqs_event(url: &str) -> SqsEvent {
    let received = sqs()
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let records: Vec<Value> = received
        .messages()
        .iter()
        .map(|m| {
            let attributes: HashMap<String, String> = m
                .attributes()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect();
            json!({
                "messageId": m.message_id(),
                "receiptHandle": m.receipt_handle(),
                "body": m.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:read_models.fifo",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("the Lambda's shape")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn facts_travel_from_dynamodb_streams_through_sqs_fifo_to_the_read_models() {
    let store = DynamoStore::new().await;
    let commands = service(store.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-aws", fixtures::create("ev-aws", None), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-aws", fixtures::publish(), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-aws", fixtures::invite([guest(0), guest(1)]), &ctx)
        .await
        .unwrap();

    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let url = fifo_queue(&format!("{prefix}-read_models")).await;
    let index = format!("{prefix}FactIndex");
    index_table(&index).await;
    let queues = SqsQueues::new(sqs(), HashMap::from([("read_models".to_owned(), url.clone())]));
    let fact_index = DynamoFactIndex::new(moto().dynamodb(), &index);

    let event = stream_event(&store.tables().events).await;
    assert_eq!(event.records.len(), 3);
    let response = fan_out(&event, &["read_models"], &queues, &fact_index).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    // The stream may deliver a batch twice: FIFO deduplication keeps one message per fact.
    assert!(
        fan_out(&event, &["read_models"], &queues, &fact_index)
            .await
            .batch_item_failures
            .is_empty()
    );

    let read_store = DynamoReadStore::new(moto().dynamodb(), &prefix, TABLES);
    read_store.create_tables().await.unwrap();
    let builder = Builder::new(ReadModels, read_store, store.open(), upcasters());
    let batch = sqs_event(&url).await;
    assert_eq!(batch.records.len(), 3, "one message per fact, duplicates dropped");
    let projected = project(&builder, &batch).await;
    assert!(projected.batch_item_failures.is_empty(), "{projected:?}");
    let page: EventPage = builder
        .store()
        .begin()
        .await
        .unwrap()
        .get(&Key::new("ev-aws"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (page.status.as_str(), page.invited, page.version),
        ("published", 2, 3)
    );

    let keys = moto()
        .dynamodb()
        .query()
        .table_name(&index)
        .key_condition_expression("Bucket = :b")
        .expression_attribute_values(
            ":b",
            aws_sdk_dynamodb::types::AttributeValue::S("2030-05-01T09".into()),
        )
        .send()
        .await
        .unwrap();
    // Past the stream's 24 hours, a rebuild reads the history through the index.
    let fresh = DynamoReadStore::new(moto().dynamodb(), format!("{prefix}rebuilt-"), TABLES);
    fresh.create_tables().await.unwrap();
    let rebuilder = Builder::new(ReadModels, fresh, store.open(), upcasters());
    let applied = rebuild_from_index(
        &fact_index,
        &moto().dynamodb(),
        &store.tables().events,
        &rebuilder,
    )
    .await
    .unwrap();
    assert_eq!(applied, 3);
    let rebuilt: EventPage = rebuilder
        .store()
        .begin()
        .await
        .unwrap()
        .get(&Key::new("ev-aws"))
        .await
        .unwrap()
        .unwrap();
    let live: EventPage = builder
        .store()
        .begin()
        .await
        .unwrap()
        .get(&Key::new("ev-aws"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rebuilt, live);

    let sequences: Vec<String> = keys
        .items()
        .iter()
        .map(|i| i["AggregateIdSequence"].as_n().unwrap().clone())
        .collect();
    assert_eq!(sequences, ["1", "2", "3"], "the index keeps the facts in order");
}

#[tokio::test]
async fn a_record_that_cannot_be_passed_on_is_reported_and_nothing_after_it_is_sent() {
    let store = DynamoStore::new().await;
    let commands = service(store.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-bad", fixtures::create("ev-bad", None), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-bad", fixtures::publish(), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-bad", fixtures::invite([guest(0)]), &ctx)
        .await
        .unwrap();
    let mut event = stream_event(&store.tables().events).await;
    event.records[1].change.new_image.inner_mut().remove("Payload");
    let poisoned = event.records[1].change.sequence_number.clone();

    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let url = fifo_queue(&format!("{prefix}-read_models")).await;
    let index = format!("{prefix}FactIndex");
    index_table(&index).await;
    let queues = SqsQueues::new(sqs(), HashMap::from([("read_models".to_owned(), url.clone())]));
    let response = fan_out(
        &event,
        &["read_models"],
        &queues,
        &DynamoFactIndex::new(moto().dynamodb(), &index),
    )
    .await;
    let reported: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(reported, [poisoned]);
    assert_eq!(
        sqs_event(&url).await.records.len(),
        1,
        "only the record before it went out"
    );
}

fn ses() -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(&moto().sdk_config())
}

/// The outbox table's new items, as its stream's Lambda event.
async fn outbox_event(table: &str) -> Event {
    let items = moto().dynamodb().scan().table_name(table).send().await.unwrap();
    let records: Vec<Value> = items
        .items()
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let image: serde_json::Map<String, Value> =
                item.iter().filter_map(|(k, v)| Some((k.clone(), json!({ "S": v.as_s().ok()? })))).collect();
            json!({
                "eventID": format!("outbox-{i}"),
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": { "NewImage": image, "SequenceNumber": format!("{:021}", i + 1), "SizeBytes": 1, "StreamViewType": "NEW_IMAGE" }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("the Lambda's shape")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_are_sent_through_ses_once_and_a_refused_or_abandoned_one_is_retried() {
    use slsplay_aggregates::virtual_event::InvitationTokens;
    use slsplay_aws::fan_out::decode;
    use slsplay_aws::mail::{DynamoOutbox, SesMailer, send_new_emails};
    use slsplay_projections::email::outbox::{CLAIM_LEASE, OutboxMessage};
    use slsplay_projections::email::{Emails, MailSettings};
    use slsplay_projections::schema::ReadModel;

    let store = DynamoStore::new().await;
    let commands = service(store.open(), &FixedClock::at(now()));
    let ctx = CommandContext::new(ORGANIZER);
    commands
        .execute("ev-ses", fixtures::create("ev-ses", None), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-ses", fixtures::invite([guest(0), guest(1)]), &ctx)
        .await
        .unwrap();
    commands
        .execute("ev-ses", fixtures::publish(), &ctx)
        .await
        .unwrap();

    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let outbox_store = DynamoReadStore::new(moto().dynamodb(), &prefix, &[OutboxMessage::TABLE]);
    outbox_store.create_tables().await.unwrap();
    let sender = format!("events@{prefix}.example.com");
    let settings = MailSettings {
        from: format!("slsplay <{sender}>"),
        public_url: "https://app.example.com".into(),
    };
    let tokens = InvitationTokens::new(&slsplay_tests::fixtures::SECRET).unwrap();
    let emails = Builder::new(
        Emails::new(store.open(), upcasters(), tokens, settings),
        outbox_store,
        store.open(),
        upcasters(),
    );
    for record in &stream_event(&store.tables().events).await.records {
        emails.handle(decode(record).unwrap().unwrap()).await.unwrap();
    }

    let table = format!("{prefix}outbox");
    let outbox = DynamoOutbox::new(moto().dynamodb(), &table);
    let mailer = SesMailer::new(ses(), &sender);
    let event = outbox_event(&table).await;
    assert_eq!(event.records.len(), 2, "two invitations");

    let at = |t: &str| -> chrono::DateTime<chrono::Utc> { t.parse().unwrap() };
    let with = |e: &Event, attribute: &str| {
        e.records
            .iter()
            .filter(|r| r.change.new_image.inner().contains_key(attribute))
            .count()
    };
    // The sender is not verified yet: SES refuses, the email is given back and reported.
    let refused = send_new_emails(&event, &outbox, &mailer, at("2030-05-01T09:00:00Z")).await;
    assert_eq!(refused.batch_item_failures.len(), 1);
    let after_refusal = outbox_event(&table).await;
    assert_eq!(with(&after_refusal, "sent_at"), 0);
    assert_eq!(with(&after_refusal, "claimed_at"), 0, "the claim was given back");

    ses()
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .unwrap();
    // An invocation claimed the first email and died before sending it: the next one finds it
    // held and reports it, so Lambda retries, until the claim lapses; then it is sent.
    let first = |e: &Event| {
        let image = e.records[0].change.new_image.inner();
        match (image.get("recipient"), image.get("cause")) {
            (Some(serde_dynamo::AttributeValue::S(r)), Some(serde_dynamo::AttributeValue::S(c))) => {
                (r.clone(), c.clone())
            }
            _ => panic!("an outbox record without keys"),
        }
    };
    let (recipient, cause) = first(&event);
    let died = at("2030-05-01T08:57:00Z");
    assert_eq!(
        outbox.claim(&recipient, &cause, died).await.unwrap(),
        slsplay_aws::mail::Claim::Taken
    );
    let held = send_new_emails(&event, &outbox, &mailer, died + chrono::Duration::seconds(1)).await;
    assert_eq!(held.batch_item_failures.len(), 1, "{held:?}");
    assert_eq!(with(&outbox_event(&table).await, "sent_at"), 0);
    let sent = send_new_emails(&event, &outbox, &mailer, at("2030-05-01T09:00:01Z")).await;
    assert!(died + CLAIM_LEASE < at("2030-05-01T09:00:01Z"));
    assert!(sent.batch_item_failures.is_empty(), "{sent:?}");
    let sent_at = |e: &Event| {
        e.records
            .iter()
            .filter_map(|r| match r.change.new_image.inner().get("sent_at") {
                Some(serde_dynamo::AttributeValue::S(s)) => Some(s.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sent_at(&outbox_event(&table).await),
        ["2030-05-01T09:00:01+00:00", "2030-05-01T09:00:01+00:00"]
    );
    // The stream delivers the batch again: both are claimed already, nothing is sent twice.
    assert!(
        send_new_emails(&event, &outbox, &mailer, at("2030-05-01T09:00:02Z"))
            .await
            .batch_item_failures
            .is_empty()
    );
    assert_eq!(
        sent_at(&outbox_event(&table).await),
        ["2030-05-01T09:00:01+00:00", "2030-05-01T09:00:01+00:00"]
    );
}

/// A fake Lambda Runtime API that hands out one invocation and keeps the answer.
async fn runtime_api(event: Value) -> (String, tokio::sync::mpsc::UnboundedReceiver<(String, Value)>) {
    use axum::extract::{Path, State};
    use axum::routing::{get, post};
    type Shared = (
        Arc<std::sync::Mutex<Option<Value>>>,
        tokio::sync::mpsc::UnboundedSender<(String, Value)>,
    );
    async fn next(State((pending, _)): State<Shared>) -> axum::response::Response {
        use axum::response::IntoResponse;
        let Some(event) = pending.lock().unwrap().take() else {
            // One invocation only: the next poll waits until the test stops the process.
            std::future::pending::<()>().await;
            unreachable!();
        };
        let deadline = (chrono::Utc::now().timestamp_millis() + 60_000).to_string();
        let headers = [
            ("lambda-runtime-aws-request-id", "req-1".to_owned()),
            ("lambda-runtime-deadline-ms", deadline),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:fan-out".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ];
        (headers, event.to_string()).into_response()
    }
    async fn answer(
        State((_, answers)): State<Shared>,
        Path((id, kind)): Path<(String, String)>,
        body: String,
    ) -> &'static str {
        let _ = answers.send((
            format!("{id}/{kind}"),
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        ));
        "{}"
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let state: Shared = (Arc::new(std::sync::Mutex::new(Some(event))), tx);
    let app = axum::Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (address, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fan_out_lambda_binary_runs_one_invocation_against_moto() {
    let store = DynamoStore::new().await;
    let commands = service(store.open(), &FixedClock::at(now()));
    commands
        .execute(
            "ev-bin",
            fixtures::create("ev-bin", None),
            &CommandContext::new(ORGANIZER),
        )
        .await
        .unwrap();
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let (read_models, emails, search, web_cache) = (
        fifo_queue(&format!("{prefix}-read_models")).await,
        fifo_queue(&format!("{prefix}-emails")).await,
        fifo_queue(&format!("{prefix}-search")).await,
        fifo_queue(&format!("{prefix}-web_cache")).await,
    );
    index_table(&format!("{prefix}FactIndex")).await;
    let event = serde_json::to_value(stream_event(&store.tables().events).await).unwrap();
    let (runtime, mut answers) = runtime_api(event).await;

    let lambda = std::process::Command::new(env!("CARGO_BIN_EXE_fan-out"))
        .env("AWS_LAMBDA_RUNTIME_API", &runtime)
        .env("AWS_LAMBDA_FUNCTION_NAME", "fan-out")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", &moto().endpoint)
        .env("READ_MODELS_QUEUE_URL", &read_models)
        .env("EMAILS_QUEUE_URL", &emails)
        .env("SEARCH_QUEUE_URL", &search)
        .env("WEB_CACHE_QUEUE_URL", &web_cache)
        .env("FACT_INDEX_TABLE", format!("{prefix}FactIndex"))
        .spawn()
        .unwrap();
    let _lambda = KillOnDrop(lambda);
    let (path, response) = tokio::time::timeout(std::time::Duration::from_secs(60), answers.recv())
        .await
        .unwrap()
        .unwrap();

    assert_eq!(path, "req-1/response", "{response}");
    assert_eq!(response, json!({ "batchItemFailures": [] }));
    for url in [&read_models, &emails, &search, &web_cache] {
        assert_eq!(sqs_event(url).await.records.len(), 1, "the fact reached {url}");
    }
}

/// Stops a child process however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_message_that_keeps_failing_moves_to_its_dead_letter_queue() {
    use slsplay_aws::sqs::create_builder_queue;
    let name = format!("t{}-read_models", uuid::Uuid::new_v4().simple());
    let queue = create_builder_queue(&sqs(), &name, 2, 0).await.unwrap();
    sqs()
        .send_message()
        .queue_url(&queue.url)
        .message_body("poison")
        .message_group_id("ev-1")
        .message_deduplication_id("ev-1:1")
        .send()
        .await
        .unwrap();
    // Two deliveries whose Lambda reported the message failed (it stays, visible again at once).
    for _ in 0..2 {
        assert_eq!(sqs_event(&queue.url).await.records.len(), 1);
    }
    assert!(
        sqs_event(&queue.url).await.records.is_empty(),
        "no third delivery"
    );
    let dead = sqs_event(&queue.dead_letter_url).await;
    assert_eq!(dead.records.len(), 1);
    assert_eq!(dead.records[0].body.as_deref(), Some("poison"));
}

#[tokio::test]
async fn an_index_entry_whose_sequence_is_no_whole_number_stops_a_rebuild() {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    use slsplay_aws::fact_index::FactIndexError;
    let table = format!("t{}FactIndex", uuid::Uuid::new_v4().simple());
    index_table(&table).await;
    let put = |item: Vec<(&str, A)>| {
        let request = moto().dynamodb().put_item().table_name(&table);
        item.into_iter()
            .fold(request, |r, (name, value)| r.item(name, value))
            .send()
    };
    put(vec![
        ("Bucket", A::S("#buckets".into())),
        ("Key", A::S("2030-05-01T09".into())),
    ])
    .await
    .unwrap();
    put(vec![
        ("Bucket", A::S("2030-05-01T09".into())),
        (
            "Key",
            A::S("2030-05-01T09:00:00+00:00#virtual_event:ev#0000000001".into()),
        ),
        ("AggregateTypeAndId", A::S("virtual_event:ev".into())),
        ("AggregateIdSequence", A::N("1.5".into())),
    ])
    .await
    .unwrap();
    let index = DynamoFactIndex::new(moto().dynamodb(), &table);
    match index.keys_in_order().await {
        Err(FactIndexError::BadSequence { value, bucket, .. }) => {
            assert_eq!((value.as_str(), bucket.as_str()), ("1.5", "2030-05-01T09"));
        }
        other => panic!("{other:?}"),
    }
}
