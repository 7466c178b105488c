//! The long-running commands and the tools that talk to a deployment, one
//! file each.

pub mod audit;
pub mod data;
pub mod ledger;
pub mod match_round;
pub mod matcher;
pub mod publish;
pub mod serve;
pub mod solve;
pub mod validate;
