//! Requests per caller on the local platform: a token bucket per signed-in user, or per
//! client address for everyone else (no token, or one that does not verify). On AWS, API
//! Gateway's stage and route throttling stands in.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::problem::Problem;
use crate::auth::Authenticated;

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Sustained requests per second per caller; 0 turns the limit off.
    pub per_second: f64,
    /// How many requests a caller may send at once after being idle.
    pub burst: f64,
}

#[derive(Clone)]
pub struct RateLimiter {
    limit: RateLimit,
    buckets: Arc<Mutex<Buckets>>,
}

#[derive(Default)]
struct Buckets {
    by_caller: HashMap<[u8; 32], Bucket>,
    pruned: Option<Instant>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Past this many callers, the buckets that have refilled (idle callers) are forgotten, at
/// most once a second.
const FORGET_AFTER_BUCKETS: usize = 10_000;

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: Arc::new(Mutex::new(Buckets::default())),
        }
    }

    /// `Ok` to go ahead, or the seconds to wait.
    fn take(&self, caller: [u8; 32], now: Instant) -> Result<(), u64> {
        if self.limit.per_second <= 0.0 {
            return Ok(());
        }
        // A burst below one request would refuse everything forever.
        let burst = self.limit.burst.max(1.0);
        let mut buckets = self.buckets.lock().expect("rate limiter poisoned");
        let due = buckets
            .pruned
            .is_none_or(|at| now.duration_since(at).as_secs() >= 1);
        if buckets.by_caller.len() > FORGET_AFTER_BUCKETS && due {
            let full_after = burst / self.limit.per_second;
            buckets
                .by_caller
                .retain(|_, b| now.duration_since(b.at).as_secs_f64() < full_after);
            buckets.pruned = Some(now);
        }
        let bucket = buckets.by_caller.entry(caller).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.limit.per_second;
        bucket.tokens = (bucket.tokens + refill).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.limit.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

pub async fn limit(State(limiter): State<RateLimiter>, request: Request, next: Next) -> Response {
    let mut caller = Sha256::new();
    let signed_in = request
        .extensions()
        .get::<Authenticated>()
        .and_then(Authenticated::identity);
    match signed_in {
        Some(identity) => caller.update(format!("user:{}", identity.subject)),
        None => {
            let peer = request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_string())
                .unwrap_or_default();
            caller.update(format!("address:{peer}"));
        }
    }
    match limiter.take(caller.finalize().into(), Instant::now()) {
        Ok(()) => next.run(request).await,
        Err(wait) => Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "too many requests from this caller; slow down",
        )
        .with_retry_after(wait)
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_caller_gets_the_burst_then_the_sustained_rate_and_others_are_unaffected() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 2.0,
            burst: 3.0,
        });
        let t0 = Instant::now();
        let (a, b) = ([1; 32], [2; 32]);
        for _ in 0..3 {
            assert_eq!(limiter.take(a, t0), Ok(()));
        }
        assert_eq!(limiter.take(a, t0), Err(1));
        assert_eq!(limiter.take(b, t0), Ok(()));
        let later = t0 + Duration::from_millis(500);
        assert_eq!(limiter.take(a, later), Ok(()));
        assert_eq!(limiter.take(a, later), Err(1));
    }

    #[test]
    fn a_limit_below_one_request_still_lets_one_through_now_and_then() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0.2,
            burst: 0.6,
        });
        let t0 = Instant::now();
        assert_eq!(limiter.take([3; 32], t0), Ok(()));
        assert_eq!(limiter.take([3; 32], t0), Err(5));
        assert_eq!(limiter.take([3; 32], t0 + Duration::from_secs(5)), Ok(()));
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limiter = RateLimiter::new(RateLimit {
            per_second: 0.0,
            burst: 0.0,
        });
        for _ in 0..1000 {
            assert_eq!(limiter.take([0; 32], Instant::now()), Ok(()));
        }
    }
}
