//! Paying for a ticket. Accepting a paid event holds a seat; the guest then pays at the payment
//! provider's hosted checkout and comes back with a receipt, which the API confirms with the
//! provider before it sends `Pay`. The provider is a port: the local platform has a
//! development checkout (no money moves); nothing else implements it yet.

use std::future::Future;
use std::pin::Pin;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use slsplay_aggregates::validation::Money;
use slsplay_aggregates::virtual_event::{VirtualEventCommand, VirtualEventError};
use slsplay_projections::read_models::{EventPage, GuestListEntry, PaymentStatus, RsvpStatus};
use utoipa::ToSchema;

use super::ApiState;
use super::body::{EventId, Fields, JsonObject};
use super::invitations::{credential, find, no_invitation, opened, run_for_guest};
use super::problem::{ApiResult, Problem};
use super::views::Accepted;
use crate::auth::MaybeCaller;

pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, PaymentError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
#[error("the payment provider failed: {0}")]
pub struct PaymentError(pub String);

/// One ticket to sell: what the checkout charges, and what its receipt must name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// One per seat hold: checkouts of the same hold (two tabs, a second click) are one order,
    /// which a provider can take as its idempotency key, and `Pay` records it once. The
    /// `payment_reference` of the `TicketPaid` fact.
    pub reference: String,
    pub event_id: String,
    pub invitation_id: String,
    pub amount: Money,
    /// What the checkout page names.
    pub title: String,
    /// The hold's end: the checkout takes no payment after it, as `Pay` would refuse it.
    pub expires_at: DateTime<Utc>,
}

impl Order {
    fn reference(event_id: &str, invitation_id: &str, hold_until: DateTime<Utc>) -> String {
        let hold = format!("{event_id}\0{invitation_id}\0{}", hold_until.to_rfc3339());
        format!("pay_{}", hex::encode(&Sha256::digest(hold.as_bytes())[..16]))
    }
}

pub trait PaymentGateway: Send + Sync {
    /// Where to send the guest to pay for `order`; the provider sends them back to the
    /// event's invitation page with a receipt.
    fn checkout<'a>(&'a self, order: &'a Order) -> Pending<'a, String>;
    /// The order a receipt proves paid, `None` when it proves nothing (forged, or unpaid).
    fn confirm<'a>(&'a self, receipt: &'a str) -> Pending<'a, Option<Order>>;
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutStarted {
    /// The provider's page; the guest returns to the invitation page with `?receipt=`.
    pub checkout_url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentInput {
    /// What the checkout gave back in the `receipt` query parameter.
    pub receipt: String,
}

fn unavailable() -> Problem {
    Problem::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "payments-unavailable",
        "this platform takes no payments yet",
    )
}

/// The held seat a checkout may charge for, refused as `Pay` itself would refuse it: nobody is
/// sent to pay for a hold that has run out.
/// What to charge, and until when the hold lasts.
fn payable(
    page: &EventPage,
    guest: &GuestListEntry,
    now: DateTime<Utc>,
) -> ApiResult<(Money, DateTime<Utc>)> {
    let price = page.ticket_price_minor.and_then(|m| u64::try_from(m).ok());
    let (Some(amount_minor), Some(currency)) = (price, &page.ticket_currency) else {
        return Err(Problem::from_domain(VirtualEventError::NotAPaidEvent));
    };
    if guest.payment == PaymentStatus::Paid {
        return Err(Problem::from_domain(VirtualEventError::AlreadyPaid));
    }
    if guest.rsvp != RsvpStatus::SeatHeld {
        return Err(Problem::from_domain(VirtualEventError::NoSeatHeld));
    }
    // A hold without a readable end is no hold to pay for.
    let until = guest
        .hold_until
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let Some(until) = until.map(|t| t.with_timezone(&Utc)) else {
        return Err(Problem::from_domain(VirtualEventError::NoSeatHeld));
    };
    if now >= until {
        return Err(Problem::from_domain(VirtualEventError::SeatHoldExpired { until }));
    }
    let amount = Money {
        amount_minor,
        currency: currency.clone(),
    };
    Ok((amount, until))
}

#[utoipa::path(post, path = "/api/events/{event_id}/checkout", tag = "invitations", operation_id = "startCheckout",
    params(("event_id" = String, Path),
           ("Invitation-Token" = Option<String>, Header, description = "The secret of the personal link; else sign in")),
    responses((status = 200, description = "Pay there for the held seat", body = CheckoutStarted),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "No seat held, already paid, or a free event", body = Problem, content_type = "application/problem+json"),
              (status = 503, description = "No payment provider", body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub async fn checkout(
    State(state): State<ApiState>,
    caller: Result<MaybeCaller, Problem>,
    EventId(event_id): EventId,
    headers: HeaderMap,
) -> ApiResult<Json<CheckoutStarted>> {
    let (credential, _) = credential(&headers, caller)?;
    let (guest, page) = opened(&state, &event_id, &credential).await?;
    let (amount, until) = payable(&page, &guest, state.clock.now())?;
    let gateway = state.payments.as_ref().ok_or_else(unavailable)?;
    let order = Order {
        reference: Order::reference(&event_id, &guest.invitation_id, until),
        event_id,
        invitation_id: guest.invitation_id,
        amount,
        title: page.title,
        expires_at: until,
    };
    let checkout_url = gateway
        .checkout(&order)
        .await
        .map_err(|e| Problem::unavailable("the payment provider did not answer", &e))?;
    Ok(Json(CheckoutStarted { checkout_url }))
}

#[utoipa::path(post, path = "/api/events/{event_id}/payment", tag = "invitations", operation_id = "pay",
    request_body = PaymentInput,
    params(("event_id" = String, Path),
           ("Invitation-Token" = Option<String>, Header, description = "The secret of the personal link; else sign in")),
    responses((status = 200, description = "Paid: the held seat is the guest's", body = Accepted),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The hold lapsed, or another payment came first", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "The receipt proves no payment of this invitation", body = Problem, content_type = "application/problem+json")),
    security((), ("bearer" = [])))]
pub async fn pay(
    State(state): State<ApiState>,
    caller: Result<MaybeCaller, Problem>,
    EventId(event_id): EventId,
    headers: HeaderMap,
    body: JsonObject,
) -> ApiResult<Json<Accepted>> {
    let (credential, caller) = credential(&headers, caller)?;
    let mut f = Fields::new(body);
    let receipt = f.string("receipt");
    let receipt = f.finish(receipt)?;
    let guest = find(&state, &event_id, &credential)
        .await?
        .ok_or_else(no_invitation)?;
    let gateway = state.payments.as_ref().ok_or_else(unavailable)?;
    let order = gateway
        .confirm(&receipt)
        .await
        .map_err(|e| Problem::unavailable("the payment provider did not answer", &e))?
        .filter(|o| o.event_id == event_id && o.invitation_id == guest.invitation_id)
        .ok_or_else(|| {
            Problem::field(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-receipt",
                "receipt",
                "proves no payment for this invitation",
            )
        })?;
    let command = VirtualEventCommand::Pay {
        credential,
        payment_reference: order.reference,
        amount: order.amount,
    };
    // A receipt sent twice pays once: the aggregate takes its reference again as done.
    run_for_guest(&state, &event_id, caller.as_ref(), command).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(until: &str) -> (EventPage, GuestListEntry) {
        let page = EventPage {
            ticket_price_minor: Some(2500),
            ticket_currency: Some("EUR".into()),
            ..EventPage::default()
        };
        let guest = GuestListEntry {
            rsvp: RsvpStatus::SeatHeld,
            payment: PaymentStatus::Due,
            hold_until: Some(until.into()),
            ..GuestListEntry::default()
        };
        (page, guest)
    }

    fn slug(refused: Problem) -> String {
        serde_json::to_value(refused).unwrap()["type"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn a_checkout_charges_only_a_seat_still_held() {
        let before = "2027-01-01T10:00:00Z".parse().unwrap();
        let (page, guest) = held("2027-01-01T10:15:00Z");
        let (price, until) = payable(&page, &guest, before).unwrap();
        assert_eq!(until.to_rfc3339(), "2027-01-01T10:15:00+00:00");
        assert_eq!((price.amount_minor, price.currency.as_str()), (2500, "EUR"));
        let after = "2027-01-01T10:15:00Z".parse().unwrap();
        let lapsed = payable(&page, &guest, after).unwrap_err();
        assert_eq!(slug(lapsed), "urn:slsplay:problem:seat-hold-expired");

        let paid = GuestListEntry {
            payment: PaymentStatus::Paid,
            ..guest.clone()
        };
        assert_eq!(
            slug(payable(&page, &paid, before).unwrap_err()),
            "urn:slsplay:problem:already-paid"
        );
        let free = EventPage::default();
        assert_eq!(
            slug(payable(&free, &guest, before).unwrap_err()),
            "urn:slsplay:problem:not-a-paid-event"
        );
    }
}
