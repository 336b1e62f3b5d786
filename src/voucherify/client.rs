//! The Voucherify client: one pooled hyper-util client for every tenant,
//! typed calls, and errors that say where they came from and whether the
//! request may have reached Voucherify (pingora's lesson: the retry decision
//! needs both).
//!
//! Retry policy. A connection that could not be made (nothing was sent) is
//! tried once more, for every call, within the same deadline: one call never
//! takes longer than the tenant's timeout. Nothing else is retried here; a
//! redemption whose answer is lost is reconciled by the caller, who reads
//! the order back before trying again (Voucherify has no idempotency key).

mod coupons;
mod error;
mod lifecycle;
mod op;
mod transport;
mod wallet;

pub use coupons::{CreateOutcome, RedeemOutcome};
pub use error::{ErrorKind, UpstreamError};
pub use lifecycle::Written;
pub use op::Op;
pub use transport::{CallCtx, Project, Upstream, VoucherifyClient, Writes};
pub use wallet::{
    Publication, PublicationCustomer, PublicationList, PublicationRequest, PublishedTo, PublishedVoucher,
    VoucherDefinition,
};
