//! Old fact versions, rewritten to today's shape when they are read. Stored facts are never
//! changed in place: the store keeps what was written, readers see the current version.

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster};
use serde_json::{Value, json};

use super::events::CREATED_VERSION;

/// Every upcaster of the `virtual_event` aggregate, to give to each reader of its facts.
/// Applied in order, so a 1.0 fact goes through every step to today's version.
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    vec![
        Box::new(SemanticVersionEventUpcaster::new(
            "VirtualEventCreated",
            "2.0.0",
            Box::new(created_v1_to_v2),
        )),
        Box::new(SemanticVersionEventUpcaster::new(
            "VirtualEventCreated",
            CREATED_VERSION,
            Box::new(created_v2_to_v3),
        )),
    ]
}

/// 3.0 records where the organizer's emails go; earlier events did not ask, so they have no
/// address (their organizer sees the guest list in the app, and gets no digest email).
fn created_v2_to_v3(mut payload: Value) -> Value {
    if let Some(created) = payload.get_mut("Created").and_then(Value::as_object_mut) {
        created.entry("organizer_contact").or_insert(Value::Null);
    }
    payload
}

/// 1.0 priced tickets as `price_cents`, always in US dollars; 2.0 has `ticket_price` with any
/// ISO 4217 currency.
fn created_v1_to_v2(mut payload: Value) -> Value {
    if let Some(created) = payload.get_mut("Created").and_then(Value::as_object_mut) {
        let price = created.remove("price_cents").filter(|p| !p.is_null());
        let ticket_price = price.map_or(
            Value::Null,
            |cents| json!({ "amount_minor": cents, "currency": "USD" }),
        );
        created.entry("ticket_price").or_insert(ticket_price);
    }
    payload
}

#[cfg(test)]
mod tests {
    use cqrs_es::EventEnvelope;
    use cqrs_es::persist::SerializedEvent;
    use serde_json::json;

    use super::*;
    use crate::history::upcast;
    use crate::validation::Money;
    use crate::virtual_event::{VirtualEvent, VirtualEventFact};

    fn created_v1(price_cents: Value) -> SerializedEvent {
        let payload = json!({ "Created": {
            "event_id": "ev1", "organizer": "org", "title": "Launch", "description": "",
            "starts_at": "2030-01-01T18:00:00Z", "time_zone": "Europe/Paris",
            "duration_minutes": 60, "capacity": null, "price_cents": price_cents,
            "meeting_url": "https://meet.example.com/x", "at": "2029-12-01T00:00:00Z"
        }});
        SerializedEvent::new(
            "ev1".into(),
            1,
            "virtual_event".into(),
            "VirtualEventCreated".into(),
            "1.0".into(),
            payload,
            json!({}),
        )
    }

    fn decode(event: SerializedEvent) -> VirtualEventFact {
        let upcast = upcast(event, &upcasters());
        assert_eq!(upcast.event_version, CREATED_VERSION);
        EventEnvelope::<VirtualEvent>::try_from(upcast).unwrap().payload
    }

    #[test]
    fn a_v1_price_in_cents_becomes_a_usd_ticket_price() {
        let VirtualEventFact::Created(created) = decode(created_v1(json!(1500))) else {
            panic!("not Created")
        };
        assert_eq!(
            created.ticket_price,
            Some(Money {
                amount_minor: 1500,
                currency: "USD".into()
            })
        );
    }

    #[test]
    fn a_free_v1_event_stays_free() {
        let VirtualEventFact::Created(created) = decode(created_v1(Value::Null)) else {
            panic!("not Created")
        };
        assert_eq!(created.ticket_price, None);
    }

    #[test]
    fn a_v2_event_has_no_organizer_contact() {
        let mut event = created_v1(Value::Null);
        event.event_version = "2.0.0".into();
        let created = event.payload["Created"].as_object_mut().unwrap();
        created.remove("price_cents");
        created.insert(
            "ticket_price".into(),
            json!({ "amount_minor": 900, "currency": "EUR" }),
        );
        let VirtualEventFact::Created(created) = decode(event) else {
            panic!("not Created")
        };
        assert_eq!(created.organizer_contact, None);
        assert_eq!(created.ticket_price.unwrap().amount_minor, 900);
    }

    #[test]
    fn current_versions_are_left_alone() {
        let mut event = created_v1(Value::Null);
        event.event_version = CREATED_VERSION.into();
        assert_eq!(upcast(event.clone(), &upcasters()), event);
    }
}
