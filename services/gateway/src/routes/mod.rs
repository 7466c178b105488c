//! The API's routes, one file per kind of user.

pub mod history;
pub mod ledger;
pub mod links;
pub mod listing;
pub mod operator;
pub mod proposals;
pub mod shortages;
pub mod why_not;
pub mod workers;
