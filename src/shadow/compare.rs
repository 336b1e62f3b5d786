//! One comparison: the call through the translated phases with dry
//! effects, both answers redacted, compared, counted, and written when
//! they differ.

use std::sync::Arc;
use std::sync::mpsc::TrySendError;

use serde_json::Value;

use super::effects::Dry;
use super::record::{Answered, Call, Compared, Failed, Line, ShadowRequest, Tally};
use super::{Queued, ShadowResult, Shared, find_reference};
use crate::clock::iso;
use crate::compare::{Mismatch, body_value, compare_answers};
use crate::domain::{Existing, GameballAnswer, Operation};
use crate::error::{Failure, Kind};
use crate::gameball::errors::error;
use crate::gameball::{RenderCtx, RequestView};
use crate::intake::{authenticate, parse_command};
use crate::ops::{self, Cx};

/// What the translated phases answered.
enum Ours {
    Answer(u16, Vec<u8>),
    Unknowable(String),
}

impl Shared {
    pub(super) fn count(&self, route: &'static str, result: ShadowResult) {
        self.metrics.shadow_compared(route, result.name());
        let mut t = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let c = t.routes.entry(route.to_owned()).or_default();
        match result {
            ShadowResult::Match => c.matched += 1,
            ShadowResult::Mismatch => c.mismatch += 1,
            ShadowResult::Error => c.error += 1,
            ShadowResult::Dropped => c.dropped += 1,
        }
        t.changed = true;
    }

    /// The tally line, when the counts changed since the last one.
    pub(super) fn tally_line(&self) -> Option<Vec<u8>> {
        let mut t = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if !std::mem::take(&mut t.changed) {
            return None;
        }
        let line = Line::Tally(Tally {
            at: iso(self.clock.now()),
            run: self.run.clone(),
            routes: t.routes.clone(),
            noise: t.noise.clone(),
        });
        serde_json::to_vec(&line).ok()
    }

    fn write(&self, line: &Line) {
        if let (Some(tx), Ok(bytes)) = (&self.lines, serde_json::to_vec(line)) {
            // A full writer queue loses the line, never the count.
            if let Err(TrySendError::Full(_)) = tx.try_send(bytes) {
                tracing::debug!("shadow writer queue full; a mismatch line was not written");
            }
        }
    }

    pub(super) async fn compare(&self, q: Queued) {
        let op = q.job.matched.op();
        if self.calibrating() {
            self.calibrate(&q).await;
        }
        let deadline = q.job.request_timeout;
        let ours = match tokio::time::timeout(deadline, self.translated(&q)).await {
            Ok(ours) => ours,
            Err(_) => Ours::Unknowable(format!("the translated flow did not finish within {deadline:?}")),
        };
        // Both sides redacted before they are compared, so a difference
        // never shows a secret either.
        let gameball = self.answered(q.gameball.0, &q.gameball.1);
        let result = match ours {
            Ours::Unknowable(error) => {
                self.write(&Line::Error(Failed {
                    call: self.call(&q, gameball),
                    error,
                }));
                ShadowResult::Error
            }
            Ours::Answer(status, body) => {
                let couponbridge = self.answered(status, &body);
                let mut comparer = match op {
                    Operation::CouponCreate => self.create_comparer.clone(),
                    _ => self.comparer.clone(),
                };
                let differences = compare_answers(
                    &mut comparer,
                    &format!("{} {}", q.method, q.job.uri.path()),
                    (gameball.status, &gameball.body),
                    (couponbridge.status, &couponbridge.body),
                );
                let differences = self.without_noise(op.name(), differences);
                if differences.is_empty() {
                    ShadowResult::Match
                } else {
                    let call = self.call(&q, gameball);
                    let differences = differences
                        .into_iter()
                        .map(|d| Mismatch {
                            expected: self.cut(d.expected),
                            got: self.cut(d.got),
                            ..d
                        })
                        .collect();
                    self.write(&Line::Mismatch(Compared {
                        call,
                        couponbridge: self.example(couponbridge),
                        differences,
                    }));
                    ShadowResult::Mismatch
                }
            }
        };
        self.count(op.name(), result);
        self.metrics.shadow_lag(q.answered.elapsed().as_secs_f64());
        // A comparison that could not be made judges nothing.
        if let (Some(tenant), ShadowResult::Match | ShadowResult::Mismatch) = (&q.job.tenant, result) {
            self.rollout
                .compared(&tenant.name, op, result == ShadowResult::Mismatch)
                .await;
        }
    }

    /// What a written line says of the call (the request redacted only
    /// here: a match writes nothing).
    fn call(&self, q: &Queued, gameball: Answered) -> Call {
        Call {
            at: iso(self.clock.now()),
            run: self.run.clone(),
            route: q.job.matched.op().name().to_owned(),
            tenant: q.job.tenant.as_ref().map(|t| t.name.clone()),
            request_id: q.job.request_id.clone(),
            request: self.request(q),
            gameball: self.example(gameball),
        }
    }

    /// The request through the translated phases (authenticate, parse,
    /// apply with dry effects, render), as couponbridge would answer it.
    async fn translated(&self, q: &Queued) -> Ours {
        let job = &q.job;
        let view = RequestView {
            method: q.method.as_str(),
            path: job.uri.path_and_query().map_or("/", |p| p.as_str()),
            params: &job.matched.params,
            query: job.uri.query(),
            headers: &q.headers,
            body: &q.body,
        };
        let refused = |f: Failure| {
            let (status, _, body) = error(job.spoken.dialect(), &f, &job.request_id);
            Ours::Answer(status.as_u16(), body)
        };
        let tenant = match authenticate(&q.headers, job.tenant.as_ref(), job.matched.row) {
            Ok(t) => t,
            Err(f) => return refused(f),
        };
        let reach_gameball = job.gameball.is_some() && tenant.migration.forward_orders;
        let command = match parse_command(job.spoken, &view, &tenant, &job.locks, reach_gameball) {
            Ok(c) => c,
            Err(f) => return refused(f),
        };
        let existing = command.existing().map(describe);
        let gameball_reference = find_reference(&q.gameball_json).map(str::to_owned);
        let cx = Cx {
            tenant: tenant.clone(),
            locks: job.locks.clone(),
            clock: self.clock.clone(),
            request_id: job.request_id.clone(),
            voucherify: self.voucherify.clone(),
            tap: None,
            trace: None,
            gameball: job.gameball.clone(),
            call: job.gameball.as_ref().map(|_| Arc::new(view.call())),
            fx: Arc::new(Dry::new(
                self.store.clone(),
                gameball_reference.as_deref(),
                GameballAnswer {
                    status: q.gameball.0,
                    headers: Vec::new(),
                    body: q.gameball.1.to_vec(),
                },
            )),
        };
        match ops::apply(&cx, command).await {
            Err(f) if f.kind == Kind::Withheld => Ours::Unknowable(f.chain().to_string()),
            // State the shadow never saw (made before shadowing began, or
            // through another replica) that Gameball found: nothing to
            // compare with. Had Gameball refused it too, the refusals are.
            Err(f) if unseen(&f) && (200..300).contains(&q.gameball.0) => match existing {
                Some(what) => Ours::Unknowable(format!(
                    "{what} was not seen by this shadow (made before shadowing began, or through another replica)"
                )),
                None => refused(f),
            },
            Err(f) => refused(f),
            Ok(answer) => match job.spoken.render(
                &answer,
                &RenderCtx {
                    decimals: tenant.decimals,
                    messages: &tenant.messages,
                },
            ) {
                Ok(json) => Ours::Answer(200, json),
                Err(f) => refused(f),
            },
        }
    }

    fn request(&self, q: &Queued) -> ShadowRequest {
        let r = &self.redactor;
        ShadowRequest {
            method: q.method.to_string(),
            path: r.text(q.job.uri.path_and_query().map_or("/", |p| p.as_str())),
            headers: q
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        r.header(k.as_str(), &String::from_utf8_lossy(v.as_bytes())),
                    )
                })
                .collect(),
            body: self.cut(self.body(&q.body)),
        }
    }

    fn answered(&self, status: u16, body: &[u8]) -> Answered {
        Answered {
            status,
            body: self.body(body),
        }
    }

    /// An answer as a written example shows it: a body past
    /// `example_max_bytes` is cut (so are the values of its differences).
    fn example(&self, a: Answered) -> Answered {
        Answered {
            status: a.status,
            body: self.cut(a.body),
        }
    }

    fn cut(&self, body: Value) -> Value {
        let size = serde_json::to_vec(&body).map_or(0, |b| b.len());
        if size <= self.example_max_bytes {
            return body;
        }
        Value::String(format!(
            "<{size} bytes, over [shadow] example_max_bytes ({}): not written>",
            self.example_max_bytes
        ))
    }

    fn body(&self, bytes: &[u8]) -> Value {
        if bytes.is_empty() {
            return Value::Null;
        }
        body_value(self.redactor.body(bytes).as_bytes())
    }
}

/// A failure that says the state the command named is not there.
fn unseen(f: &Failure) -> bool {
    matches!(f.kind, Kind::NotFound | Kind::TransactionNotFound)
}

/// The state a command names, for a message: the reference shortened
/// (enough to find it in logs, not the whole credential-like token).
fn describe(existing: Existing<'_>) -> String {
    let shorten = |s: &str| {
        let head: String = s.chars().take(6).collect();
        if head.len() < s.len() {
            format!("{head}…")
        } else {
            head
        }
    };
    match existing {
        Existing::Lock(r) => format!("lock reference {}", shorten(r)),
        Existing::Transaction(id) => format!("transaction {}", shorten(id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_in_messages_are_shortened() {
        assert_eq!(describe(Existing::Lock("0123456789abcdef")), "lock reference 012345…");
        assert_eq!(describe(Existing::Transaction("abc")), "transaction abc");
    }
}
