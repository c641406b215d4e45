//! A development payment provider, part of the local platform only: a checkout page that takes
//! no card and moves no money, standing in for a real provider's hosted checkout as the
//! development sign-in stands in for Google. Never deployed.
//!
//! It keeps nothing: the checkout's address carries the order, signed, and paying turns it
//! into a receipt, signed under another purpose, so a restart loses no checkout and no payment.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use slsplay_aggregates::Clock;
use slsplay_api::blobs::hmac;
use slsplay_api::payments::{Order, PaymentGateway, Pending};
use slsplay_projections::email::compose::html_escape;

pub struct DevPayments {
    key: Vec<u8>,
    /// Past an order's `expires_at` (its seat hold's end) the checkout takes no payment.
    clock: Arc<dyn Clock>,
    /// Where the guest's browser reaches this platform.
    public_url: String,
}

/// What a signature says of the order it signs.
#[derive(Clone, Copy)]
enum Purpose {
    Checkout,
    Paid,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Self::Checkout => b"checkout\0",
            Self::Paid => b"paid\0",
        }
    }
}

impl DevPayments {
    /// `key`: this provider's own, derived from the platform's secret.
    pub fn new(key: &[u8], public_url: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            key: key.to_vec(),
            clock,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    fn sign(&self, purpose: Purpose, order: &Order) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(order).expect("an order serializes"));
        let mac = hmac(&self.key, &[purpose.label(), body.as_bytes()].concat());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(mac))
    }

    fn open(&self, purpose: Purpose, signed: &str) -> Option<Order> {
        let (body, mac) = signed.split_once('.')?;
        let given = URL_SAFE_NO_PAD.decode(mac).ok()?;
        let expected = hmac(&self.key, &[purpose.label(), body.as_bytes()].concat());
        // Equal lengths, compared without an early exit.
        let same = given.len() == expected.len()
            && given.iter().zip(&expected).fold(0, |d, (a, b)| d | (a ^ b)) == 0;
        if !same {
            return None;
        }
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
    }

    fn invitation_page(&self, order: &Order) -> String {
        format!("{}/events/{}/invitation", self.public_url, order.event_id)
    }
}

impl PaymentGateway for DevPayments {
    fn checkout<'a>(&'a self, order: &'a Order) -> Pending<'a, String> {
        Box::pin(async move {
            Ok(format!(
                "{}/dev/pay/{}",
                self.public_url,
                self.sign(Purpose::Checkout, order)
            ))
        })
    }

    fn confirm<'a>(&'a self, receipt: &'a str) -> Pending<'a, Option<Order>> {
        Box::pin(async move { Ok(self.open(Purpose::Paid, receipt)) })
    }
}

pub fn routes<S: Clone + Send + Sync + 'static>(provider: Arc<DevPayments>) -> Router<S> {
    Router::new()
        .route("/{checkout}", get(checkout_page).post(pay))
        .with_state(provider)
}

/// The seat hold ended while the guest was here: nothing is taken.
fn expired(p: &DevPayments, order: &Order) -> Response {
    (
        StatusCode::GONE,
        Html(format!(
            "<!doctype html><html lang=en><meta charset=utf-8><title>Checkout expired</title>\
             <p>This checkout has expired: the seat was held until {}. Nothing was charged.</p>\
             <p><a href=\"{}\">Back to your invitation</a></p></html>",
            order.expires_at.format("%H:%M UTC"),
            html_escape(&p.invitation_page(order)),
        )),
    )
        .into_response()
}

fn unknown() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><meta charset=utf-8><title>No such checkout</title><p>This checkout does not exist.</p>"),
    )
        .into_response()
}

async fn checkout_page(State(p): State<Arc<DevPayments>>, Path(checkout): Path<String>) -> Response {
    let Some(order) = p.open(Purpose::Checkout, &checkout) else {
        return unknown();
    };
    if p.clock.now() >= order.expires_at {
        return expired(&p, &order);
    }
    let amount = html_escape(&order.amount.shown());
    Html(format!(
        "<!doctype html><html lang=en><head><meta charset=utf-8>\
         <meta name=viewport content=\"width=device-width, initial-scale=1\">\
         <title>Pay (development)</title>\
         <style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:28rem}}\
         .dev{{background:#fff3cd;border:1px solid #e0c36c;padding:.5rem}}\
         button{{font-size:1rem;padding:.5rem 1rem}}</style></head><body>\
         <p class=dev><strong>Development checkout.</strong> This page stands in for a payment \
         provider on the local platform only: no card is asked for and no money moves.</p>\
         <h1>{title}</h1><p>One ticket, not refundable: <strong>{amount}</strong></p>\
         <form method=post><button type=submit>Pay {amount}</button></form>\
         <p><a href=\"{back}\">Back without paying</a></p></body></html>",
        title = html_escape(&order.title),
        back = html_escape(&p.invitation_page(&order)),
    ))
    .into_response()
}

/// Paid: back to the invitation page with the receipt, which the page sends to the API.
async fn pay(State(p): State<Arc<DevPayments>>, Path(checkout): Path<String>) -> Response {
    let Some(order) = p.open(Purpose::Checkout, &checkout) else {
        return unknown();
    };
    if p.clock.now() >= order.expires_at {
        return expired(&p, &order);
    }
    let receipt = p.sign(Purpose::Paid, &order);
    Redirect::to(&format!("{}?receipt={receipt}", p.invitation_page(&order))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use slsplay_aggregates::validation::Money;

    fn order() -> Order {
        Order {
            reference: "pay_1".into(),
            event_id: "ev-1".into(),
            invitation_id: "inv_1".into(),
            amount: Money {
                amount_minor: 2500,
                currency: "EUR".into(),
            },
            title: "Gala".into(),
            expires_at: "2027-01-01T10:15:00Z".parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn only_a_paid_checkout_is_a_receipt_and_nothing_else_is() {
        let clock = || Arc::new(slsplay_aggregates::SystemClock) as Arc<dyn Clock>;
        let provider = DevPayments::new(
            b"a platform secret of enough bytes",
            "http://127.0.0.1:3000/",
            clock(),
        );
        let url = provider.checkout(&order()).await.unwrap();
        let checkout = url.strip_prefix("http://127.0.0.1:3000/dev/pay/").unwrap();
        // The checkout's own address proves no payment.
        assert_eq!(provider.confirm(checkout).await.unwrap(), None);
        let receipt = provider.sign(Purpose::Paid, &order());
        assert_eq!(provider.confirm(&receipt).await.unwrap(), Some(order()));
        let (body, mac) = receipt.split_once('.').unwrap();
        let mut tampered = order();
        tampered.amount.amount_minor = 1;
        let forged_body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&tampered).unwrap());
        assert_eq!(
            provider.confirm(&format!("{forged_body}.{mac}")).await.unwrap(),
            None
        );
        assert_eq!(provider.confirm(body).await.unwrap(), None);
        let other = DevPayments::new(
            b"another platform's secret bytes!",
            "http://127.0.0.1:3000",
            clock(),
        );
        assert_eq!(other.confirm(&receipt).await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_checkout_takes_no_payment_once_its_hold_has_ended() {
        let clock = slsplay_aggregates::FixedClock::at("2027-01-01T10:14:59Z".parse().unwrap());
        let provider = Arc::new(DevPayments::new(
            b"a platform secret of enough bytes",
            "http://x",
            Arc::new(clock.clone()),
        ));
        let checkout = provider.sign(Purpose::Checkout, &order());
        let page = checkout_page(State(provider.clone()), Path(checkout.clone())).await;
        assert_eq!(page.status(), StatusCode::OK);
        clock.set("2027-01-01T10:15:00Z".parse().unwrap());
        let page = checkout_page(State(provider.clone()), Path(checkout.clone())).await;
        assert_eq!(page.status(), StatusCode::GONE);
        let paid = pay(State(provider), Path(checkout)).await;
        assert_eq!(paid.status(), StatusCode::GONE, "no receipt after the hold");
    }
}
