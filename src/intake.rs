//! The first phases of a translated call, shared by the live flow
//! (`crate::app`) and shadow mode: who is asking (authenticate), and what
//! they ask for (parse, with the SDK-era body's proof of the secret).

use std::sync::Arc;

use http::HeaderMap;

use crate::config::LockConfig;
use crate::domain::{Command, OrderCmd};
use crate::error::{Failure, Kind};
use crate::gameball::endpoint::Spoken;
use crate::gameball::routes::Row;
use crate::gameball::{HashProof, ParseCtx, Parsed, RequestView, legacy};
use crate::net::headers::text;
use crate::tenant::Tenant;

/// The authenticate phase: the tenant whose `apikey` this is, with the
/// secret checked in constant time. The SDK-era API proves the secret with
/// the body's `hash` instead (checked after the parse), so there the
/// `secretkey` header is optional, but checked when sent.
pub fn authenticate(headers: &HeaderMap, tenant: Option<&Arc<Tenant>>, row: &Row) -> Result<Arc<Tenant>, Failure> {
    let Some(tenant) = tenant else {
        let message = match text(headers, "apikey") {
            None => "The apikey header is required",
            Some(_) => "The apikey is not valid",
        };
        return Err(Failure::client(Kind::Unauthorized, message));
    };
    match text(headers, "secretkey") {
        None if row.secret_optional() => Ok(tenant.clone()),
        None => Err(Failure::client(
            Kind::SecretRequired,
            "The secretkey header is required",
        )),
        Some(s) if tenant.secret_matches(s) => Ok(tenant.clone()),
        Some(_) => Err(Failure::client(Kind::Unauthorized, "The secretkey is not valid")),
    }
}

/// The parse phase: the family's typed command, with the SDK-era body's
/// proof checked against the tenant's secret.
pub fn parse_command(
    spoken: Spoken,
    view: &RequestView<'_>,
    tenant: &Tenant,
    locks: &LockConfig,
    orders_reach_gameball: bool,
) -> Result<Command, Failure> {
    let Parsed { command, proof } = spoken.parse(
        view,
        &ParseCtx {
            decimals: tenant.decimals,
            locks,
        },
    )?;
    if let Some(proof) = proof {
        check_proof(&proof, tenant)?;
    }
    orders_for(command, orders_reach_gameball)
}

/// An order keeps what it passes on to Gameball only when orders reach
/// Gameball (`[passthrough] upstream`, `[migration] forward_orders`). One
/// that carries points and cannot reach Gameball is refused: couponbridge
/// holds no points, and answering zero points would lose them silently.
fn orders_for(command: Command, reach_gameball: bool) -> Result<Command, Failure> {
    match command {
        Command::Order(cmd) if !reach_gameball && cmd.points => Err(Failure::client(
            Kind::InvalidValue,
            "Invalid value: this order holds or redeems Gameball points, which couponbridge does not hold; orders must reach Gameball ([passthrough] upstream, [migration] forward_orders)",
        )),
        Command::Order(cmd) if !reach_gameball => Ok(Command::Order(OrderCmd { pass_on: None, ..cmd })),
        other => Ok(other),
    }
}

fn check_proof(proof: &HashProof, tenant: &Tenant) -> Result<(), Failure> {
    if legacy::hash_matches(proof, tenant.secret()) {
        return Ok(());
    }
    Err(Failure::client(
        Kind::HashInvalid,
        "The hash is not valid for this playerUniqueId and secret key",
    ))
}
