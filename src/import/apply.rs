//! Voucherify's side of the import: one coupon's voucher made (or found)
//! and published to its customer, with no state of the import's own: the
//! voucher is the record.
//!
//! * Create under the code (`POST /v1/vouchers/{code}`). Voucherify
//!   refuses a code it holds (409): the voucher is read back and compared
//!   with the definition the import would have created; the same is
//!   "already there", anything else a conflict, reported and never
//!   overwritten.
//! * Then publish it to the customer, unless a publication to them is
//!   listed already (`GET /v1/publications?voucher=`). A voucher just
//!   created has none, so it is published without asking. The publication
//!   carries its own `source_id` too (`gameball-import:{customer}:{code}`),
//!   which Voucherify answers again with the first publication.
//! * So a run killed anywhere is finished by the next one: a voucher
//!   created but not published is "already there" and gets published; one
//!   whose creation's answer was lost is found by the 409.
//! * A dry run has no [`Writes`] at all: it reads what is there and says
//!   what it would do.
//! * A `429` is waited out and the same call sent again ([`Pacer`]); any
//!   other failure fails the coupon, with its reason.

use serde_json::{Value, json};

use super::mapping::{Definition, Difference, SOURCE, Uses};
use super::pace::Pacer;
use super::report::{Entry, Outcome, Publication};
use crate::voucherify::ErrorObject;
use crate::voucherify::client::{
    CreateOutcome, Project, PublicationCustomer, PublicationRequest, UpstreamError, Writes, Written,
};

/// The tenant's Voucherify project as the import uses it.
pub struct Target<'a> {
    pub project: Project<'a>,
    /// `None` in a dry run and in `--verify`: no write can be made.
    pub writes: Option<Writes<'a>>,
    pub pacer: &'a Pacer,
}

/// The calls for one coupon, counting the `429`s they waited out.
pub struct Calls<'a> {
    pub target: &'a Target<'a>,
    pub rate_limited: u32,
}

impl<'a> Calls<'a> {
    pub fn new(target: &'a Target<'a>) -> Calls<'a> {
        Calls {
            target,
            rate_limited: 0,
        }
    }

    pub async fn run<T, F, Fut>(&mut self, call: F) -> Result<T, UpstreamError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, UpstreamError>>,
    {
        let (result, waits) = self.target.pacer.patiently(call).await;
        self.rate_limited += waits;
        result
    }
}

/// What became of the voucher, before its publication.
enum Held {
    /// Created now (in a dry run: none there, so it would be).
    Created,
    AlreadyThere,
    Conflict(Vec<Difference>),
}

/// Makes (or, dry, plans) `def`'s voucher and its publication.
pub async fn import(target: &Target<'_>, def: &Definition) -> Entry {
    let body = def.body();
    let mut calls = Calls::new(target);
    let settled = settle(&mut calls, def, &body).await;
    let mut entry = Entry::new(&def.customer, Some(def.code.clone()), Outcome::Failed);
    entry.voucher = Some(body);
    entry.rate_limited = calls.rate_limited;
    match settled {
        Ok((Held::Conflict(differences), _)) => {
            entry.outcome = Outcome::Conflict;
            entry.differences = differences;
            entry.reason = Some("Voucherify holds another voucher under this code; it was left as it is".into());
        }
        Ok((held, publication)) => {
            entry.outcome = match held {
                Held::Created => Outcome::Created,
                _ => Outcome::AlreadyThere,
            };
            entry.publication = publication;
        }
        Err(reason) => entry.reason = Some(reason),
    }
    entry
}

async fn settle(calls: &mut Calls<'_>, def: &Definition, body: &Value) -> Result<(Held, Option<Publication>), String> {
    let target = calls.target;
    let held = match target.writes {
        Some(writes) => match calls.run(|| writes.create_voucher_with_code(&def.code, body)).await {
            Ok(CreateOutcome::Created(_)) => Held::Created,
            Ok(CreateOutcome::Refused(409, _)) => compare(calls, def, false).await?,
            Ok(CreateOutcome::Refused(status, e)) => return Err(refused("the voucher", status, &e)),
            Err(e) => return Err(e.to_string()),
        },
        None => compare(calls, def, true).await?,
    };
    let publication = match (&held, target.writes) {
        (Held::Conflict(_), _) => None,
        // Just made: nobody holds it yet.
        (Held::Created, Some(writes)) => Some(publish(calls, writes, def).await?),
        (Held::Created, None) => Some(Publication::WouldPublish),
        (Held::AlreadyThere, writes) => {
            let listed = calls
                .run(|| target.project.publications_of(&def.code))
                .await
                .map_err(|e| e.to_string())?;
            match writes {
                _ if listed.has(&def.code, &def.customer) => Some(Publication::AlreadyPublished),
                Some(writes) => Some(publish(calls, writes, def).await?),
                None => Some(Publication::WouldPublish),
            }
        }
    };
    Ok((held, publication))
}

/// Reads the voucher under `def`'s code and compares it with `def`. In a
/// dry run, none there means it would be created; in an import, Voucherify
/// has just said the code is taken.
async fn compare(calls: &mut Calls<'_>, def: &Definition, dry: bool) -> Result<Held, String> {
    let project = calls.target.project;
    match calls.run(|| project.voucher_definition(&def.code)).await {
        Ok(None) if dry => Ok(Held::Created),
        Ok(None) => Err("Voucherify refused the code as taken, yet has no voucher under it".into()),
        Ok(Some(held)) => {
            let differences = def.differences(&held, Uses::Quantity);
            Ok(if differences.is_empty() {
                Held::AlreadyThere
            } else {
                Held::Conflict(differences)
            })
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn publish(calls: &mut Calls<'_>, writes: Writes<'_>, def: &Definition) -> Result<Publication, String> {
    let source_id = publication_id(def);
    let req = PublicationRequest {
        customer: PublicationCustomer {
            source_id: &def.customer,
        },
        voucher: &def.code,
        source_id: &source_id,
        metadata: Some(json!({"source": SOURCE})),
    };
    let unpublished = "the voucher is in Voucherify but not published to its customer (the next run publishes it)";
    match calls.run(|| writes.publish(&req)).await {
        Ok(Written::Done(_)) => Ok(Publication::Published),
        Ok(Written::Refused(status, e)) => Err(format!("{}; {unpublished}", refused("its publication", status, &e))),
        Err(e) => Err(format!("{e}; {unpublished}")),
    }
}

/// The publication's own id: one per customer and code.
pub fn publication_id(def: &Definition) -> String {
    format!("{SOURCE}:{}:{}", def.customer, def.code)
}

fn refused(what: &str, status: u16, e: &ErrorObject) -> String {
    let mut out = format!("Voucherify refused {what} ({status}");
    if let Some(key) = &e.key {
        out.push(' ');
        out.push_str(key);
    }
    out.push(')');
    if let Some(m) = e.details.as_ref().or(e.message.as_ref()) {
        out.push_str(": ");
        out.push_str(m);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_name_the_key_and_what_voucherify_said() {
        let e: ErrorObject = serde_json::from_value(
            json!({"code": 400, "key": "invalid_payload", "message": "Invalid payload", "details": "Property .discount is invalid"}),
        )
        .unwrap();
        assert_eq!(
            refused("the voucher", 400, &e),
            "Voucherify refused the voucher (400 invalid_payload): Property .discount is invalid"
        );
        assert_eq!(
            refused("its publication", 404, &ErrorObject::default()),
            "Voucherify refused its publication (404)"
        );
    }
}
