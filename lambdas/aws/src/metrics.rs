//! CloudWatch metrics in the embedded metric format (EMF): one JSON line on the function's log
//! stream per measurement, which CloudWatch turns into metrics under the `slsplay` namespace,
//! so the stack can alarm on them without a PutMetricData call in the hot path. Queue depth,
//! the oldest message's age and dead letters need no code: SQS publishes them per queue
//! (`ApproximateNumberOfMessagesVisible`, `ApproximateAgeOfOldestMessage`, and the same on
//! each dead-letter queue).

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use slsplay_jobs::Report;

pub const NAMESPACE: &str = "slsplay";

/// One EMF record: `dimension` names the series, each metric is (name, unit, value).
pub fn record(dimension: (&str, &str), metrics: &[(&str, &str, f64)], now: DateTime<Utc>) -> String {
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit }))
        .collect();
    let mut line = Map::new();
    line.insert(
        "_aws".into(),
        json!({
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[dimension.0]],
                "Metrics": definitions,
            }],
        }),
    );
    line.insert(dimension.0.into(), json!(dimension.1));
    for (name, _, value) in metrics {
        line.insert((*name).into(), json!(value));
    }
    Value::Object(line).to_string()
}

/// When a fact was recorded, from a queue message's body (a `RecordedFact`).
fn recorded_at(body: &str) -> Option<DateTime<Utc>> {
    let fact: Value = serde_json::from_str(body).ok()?;
    let at = fact.get("metadata")?.get("recorded_at")?.as_str()?;
    DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A projection Lambda's batch: `ProjectionLag` (how long ago the oldest fact in it was
/// recorded, when the builder took it up), `Facts` and `FailedFacts`.
pub fn projection(builder: &str, batch: &SqsEvent, failed: usize, now: DateTime<Utc>) -> String {
    let oldest = batch
        .records
        .iter()
        .filter_map(|m| recorded_at(m.body.as_deref()?))
        .min();
    let lag = oldest.map_or(0.0, |t| (now - t).num_milliseconds().max(0) as f64);
    record(
        ("Builder", builder),
        &[
            ("ProjectionLag", "Milliseconds", lag),
            ("Facts", "Count", batch.records.len() as f64),
            ("FailedFacts", "Count", failed as f64),
        ],
        now,
    )
}

/// A scheduler run: `Due`, `Done`, `AlreadyDone` and `Failed` items of the job.
pub fn job(report: &Report, now: DateTime<Utc>) -> String {
    record(
        ("Job", report.job),
        &[
            ("Due", "Count", report.due as f64),
            ("Done", "Count", report.done as f64),
            ("AlreadyDone", "Count", report.already_done as f64),
            ("Failed", "Count", report.failed.len() as f64),
        ],
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_batch_reports_the_age_of_its_oldest_fact_in_the_embedded_metric_format() {
        let body = |recorded: &str| {
            json!({ "aggregate_type": "virtual_event", "aggregate_id": "e", "sequence": 1,
                "event_type": "x", "event_version": "1.0", "payload": {},
                "metadata": { "recorded_at": recorded } })
            .to_string()
        };
        let batch: SqsEvent = serde_json::from_value(json!({ "Records": [
            { "messageId": "1", "body": body("2030-05-01T09:00:00.250Z"), "attributes": {}, "messageAttributes": {} },
            { "messageId": "2", "body": body("2030-05-01T09:00:00.900Z"), "attributes": {}, "messageAttributes": {} },
        ]}))
        .unwrap();
        let line: Value =
            serde_json::from_str(&projection("emails", &batch, 1, at("2030-05-01T09:00:01Z"))).unwrap();
        assert_eq!(line["Builder"], "emails");
        assert_eq!(line["ProjectionLag"], 750.0);
        assert_eq!(
            (line["Facts"].clone(), line["FailedFacts"].clone()),
            (json!(2.0), json!(1.0))
        );
        let definition = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(definition["Namespace"], "slsplay");
        assert_eq!(definition["Dimensions"], json!([["Builder"]]));
        assert_eq!(
            definition["Metrics"][0],
            json!({ "Name": "ProjectionLag", "Unit": "Milliseconds" })
        );
        assert_eq!(
            line["_aws"]["Timestamp"],
            at("2030-05-01T09:00:01Z").timestamp_millis()
        );
    }

    #[test]
    fn a_job_run_reports_its_counts() {
        let report = Report {
            job: "digest",
            due: 3,
            done: 2,
            already_done: 1,
            ..Report::default()
        };
        let line: Value = serde_json::from_str(&job(&report, at("2030-05-01T09:00:00Z"))).unwrap();
        assert_eq!(
            (
                line["Job"].clone(),
                line["Due"].clone(),
                line["Done"].clone(),
                line["Failed"].clone()
            ),
            (json!("digest"), json!(3.0), json!(2.0), json!(0.0))
        );
    }
}
