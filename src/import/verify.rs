//! `--verify`: what Voucherify holds, coupon by coupon, against what
//! Gameball says now. Reads only.
//!
//! * A coupon the import makes must be there, as the import would make it
//!   (type, value, dates, active, origin), with as many uses left as
//!   Gameball gives (`redemption.quantity` less what was redeemed), and
//!   published to its customer.
//! * A coupon Gameball would refuse (used up, expired, inactive) must not
//!   be usable in Voucherify: absent, or refused there too.
//! * A coupon the import cannot express is skipped, with its reason.
//!
//! Run it before the wallet routes switch to Voucherify: from then on a
//! coupon used in Voucherify is no longer used in Gameball, and the two
//! differ by design.

use super::apply::{Calls, Target};
use super::mapping::{Difference, Plan, Uses, Why, usable};
use super::report::{Entry, Outcome};
use crate::clock::Millis;

/// Compares one wallet coupon's `plan` with what Voucherify holds.
pub async fn verify(target: &Target<'_>, customer: &str, code: Option<String>, plan: &Plan, now: Millis) -> Entry {
    let mut calls = Calls::new(target);
    let mut entry = match plan {
        Plan::Skip(skip) if skip.why == Why::NotMappable => {
            Entry::new(customer, code, Outcome::Skipped).because(skip.reason.clone())
        }
        Plan::Skip(skip) => {
            let code = code.unwrap_or_default();
            let project = target.project;
            match calls.run(|| project.voucher_definition(&code)).await {
                Err(e) => Entry::new(customer, Some(code), Outcome::Failed).because(e.to_string()),
                Ok(Some(held)) if usable(&held, now) => {
                    let mut e = Entry::new(customer, Some(code), Outcome::Different).because(format!(
                        "Gameball refuses it ({}), Voucherify would accept it",
                        skip.reason
                    ));
                    e.differences.push(Difference {
                        field: "usable",
                        voucherify: "yes".into(),
                        gameball: "no".into(),
                    });
                    e
                }
                Ok(held) => {
                    let there = if held.is_some() {
                        "not usable there either"
                    } else {
                        "not there"
                    };
                    Entry::new(customer, Some(code), Outcome::Skipped)
                        .because(format!("{}; in Voucherify: {there}", skip.reason))
                }
            }
        }
        Plan::Create(def) => {
            let project = target.project;
            let code = Some(def.code.clone());
            match calls.run(|| project.voucher_definition(&def.code)).await {
                Err(e) => Entry::new(customer, code, Outcome::Failed).because(e.to_string()),
                Ok(None) => {
                    Entry::new(customer, code, Outcome::Different).because("Voucherify has no voucher under this code")
                }
                Ok(Some(held)) => {
                    let mut differences = def.differences(&held, Uses::Left);
                    match calls.run(|| project.publications_of(&def.code)).await {
                        Err(e) => Entry::new(customer, code, Outcome::Failed).because(e.to_string()),
                        Ok(listed) => {
                            if !listed.has(&def.code, customer) {
                                differences.push(Difference {
                                    field: "publication",
                                    voucherify: format!("none to {customer}"),
                                    gameball: format!("one to {customer}"),
                                });
                            }
                            let outcome = if differences.is_empty() {
                                Outcome::Verified
                            } else {
                                Outcome::Different
                            };
                            let mut e = Entry::new(customer, code, outcome);
                            e.differences = differences;
                            e
                        }
                    }
                }
            }
        }
    };
    entry.rate_limited = calls.rate_limited;
    entry
}
