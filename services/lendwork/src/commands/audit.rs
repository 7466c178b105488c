//! `lendwork audit`: a running deployment checked against a replay of its
//! market topic.

use std::process::ExitCode;
use std::time::Duration;

use crate::flags::ServerFlags;

/// `lendwork audit`: replays the market topic and checks the matches topic
/// and the read models against it; prints the report as JSON; exit 3 when
/// anything was lost, differs, or someone is double-booked.
pub fn run_audit(flags: &ServerFlags, idle: Duration) -> anyhow::Result<ExitCode> {
    let c = flags.load()?;
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let bus = crate::connect::bus(&c)?;
        let store = crate::connect::store(&c).await?;
        let nonce = std::process::id();
        let market = lendwork_matcher::audit::drain(
            bus.as_ref(),
            &c.topics.market,
            &format!("lendwork-audit-m-{nonce}"),
            idle * 10,
            idle,
        )
        .await?;
        let matches = lendwork_matcher::audit::drain(
            bus.as_ref(),
            &c.topics.matches,
            &format!("lendwork-audit-x-{nonce}"),
            idle * 10,
            idle,
        )
        .await?;
        let report = lendwork_matcher::audit::audit(
            &market,
            &matches,
            store.as_ref(),
            &c.redis.prefix,
            &c.engine,
        )
        .await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(if report.clean() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(3)
        })
    })
}
