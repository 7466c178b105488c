//! The one typed configuration of the Lendwork services, layered:
//! built-in defaults → a TOML file → `LENDWORK_*` environment variables →
//! command-line flags (the flags layer is applied by each service's
//! command, as explicit overrides of this struct).
//!
//! Every section refuses unknown fields, so a typo is an error that names
//! the field, not a silently ignored setting. Layers merge as TOML trees
//! before the struct is built, and the result is validated before any
//! working object is made from it.
//!
//! Environment variables: `LENDWORK_<SECTION>__<FIELD>`, double underscore
//! between levels, e.g. `LENDWORK_KAFKA__BROKERS=b1:9092,b2:9092`,
//! `LENDWORK_TOPICS__PARTITIONS=24`. Kafka client settings pass through
//! `LENDWORK_KAFKA__CLIENT__<KEY>` with the key's dots written as single
//! underscores: `LENDWORK_KAFKA__CLIENT__SECURITY_PROTOCOL=SASL_SSL`
//! becomes `security.protocol = "SASL_SSL"`. Values are read as TOML
//! scalars when they parse as one (numbers, booleans), else as strings.
//!
//! ```toml
//! [kafka]
//! brokers = "kafka-0:9092,kafka-1:9092"
//! [kafka.client]
//! "security.protocol" = "SASL_SSL"
//! "sasl.mechanisms" = "SCRAM-SHA-512"
//! [redis]
//! url = "redis://redis:6379/0"
//! [topics]
//! partitions = 24
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use lendwork_engine::EngineConfig;
use serde::{Deserialize, Serialize};
use toml::Value;

/// Everything the services read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The log. Without brokers, the embedded in-memory bus is used.
    pub kafka: KafkaSettings,
    /// Hot state. Without a URL, the embedded in-memory store is used.
    pub redis: RedisSettings,
    /// Topic names and partitioning.
    pub topics: Topics,
    /// The matcher's consumer group.
    pub matcher: MatcherSettings,
    /// Cost weights and proposal time to live.
    pub engine: EngineConfig,
}

/// Kafka settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// `host:port[,host:port…]`; absent: embedded bus.
    pub brokers: Option<String>,
    /// Replication factor of topics the services create.
    pub replication: Option<i32>,
    /// librdkafka settings passed through as they are (SASL, TLS, …).
    pub client: BTreeMap<String, String>,
}

/// Redis settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// `redis://host:port/db`; absent: embedded store.
    pub url: Option<String>,
    /// Prefix of every key Lendwork writes (several deployments can share
    /// one Redis).
    pub prefix: String,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: None,
            prefix: "lendwork".into(),
        }
    }
}

/// Topics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Topics {
    /// Market events, keyed by region.
    pub market: String,
    /// Proposals and lifecycle events out of the matchers, keyed by region.
    pub matches: String,
    /// Partitions of topics created at start-up (the most matchers that
    /// can share the work).
    pub partitions: u32,
}

impl Default for Topics {
    fn default() -> Self {
        Self {
            market: "lendwork.market.v1".into(),
            matches: "lendwork.matches.v1".into(),
            partitions: 12,
        }
    }
}

/// Matcher settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatcherSettings {
    /// Consumer group of the matchers.
    pub group: String,
    /// Most records handled together before their effects are made
    /// durable and their offsets committed. (A matching round follows
    /// every record regardless, so replays reproduce every proposal.)
    pub batch: u32,
    /// How long a batch waits for more records once its first has come
    /// (milliseconds, like Kafka's `linger.ms`): a few milliseconds of
    /// latency buy batches of many records instead of one wake-up, one
    /// store round trip and one commit per record under load. 0 takes
    /// only what is already there.
    pub linger_ms: u32,
    /// Records of a partition between two snapshots of its state in
    /// Redis, from which a matcher taking the partition over rebuilds it
    /// instead of replaying every record since offset 0 (see
    /// `lendwork::matcher`, "Snapshots"): one is taken at the first quiet
    /// moment after this many records, or after twice as many under a
    /// load that leaves none. 0 takes no snapshots. The default, 50,000,
    /// is one to three seconds of replay on the benchmark machine, while a
    /// snapshot of the benchmark's 20,000-worker market costs tens of
    /// milliseconds to take.
    pub snapshot_every: u64,
}

impl Default for MatcherSettings {
    fn default() -> Self {
        Self {
            group: "lendwork-matchers".into(),
            batch: 500,
            linger_ms: 5,
            snapshot_every: 50_000,
        }
    }
}

/// A configuration error, naming the field (as a dotted path) and the
/// layer it came from.
#[derive(Debug, thiserror::Error)]
#[error("{source_name}: {field}: {message}")]
pub struct ConfigError {
    /// Where the bad value came from: a file path, `environment`, or `config`.
    pub source_name: String,
    /// Dotted path of the field.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

fn err(source_name: &str, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError {
        source_name: source_name.into(),
        field: field.into(),
        message: message.into(),
    }
}

/// Deep-merges `over` into `base` (tables merge, other values replace).
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Table(b), Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// The `LENDWORK_*` variables as a TOML tree.
fn env_tree(vars: impl IntoIterator<Item = (String, String)>) -> Result<Value, ConfigError> {
    let mut root = toml::Table::new();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix("LENDWORK_") else {
            continue;
        };
        let parts: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if parts.len() < 2 || parts.iter().any(String::is_empty) {
            // Not a config variable (e.g. LENDWORK_TEST_KAFKA for the tests).
            continue;
        }
        let mut path = parts;
        // kafka.client keys: dots written as underscores.
        if path.len() == 3 && path[0] == "kafka" && path[1] == "client" {
            path[2] = path[2].replace('_', ".");
        }
        let parsed = format!("v = {value}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(|v| !v.is_table() && !v.is_array())
            .unwrap_or(Value::String(value.clone()));
        let mut table = &mut root;
        for seg in &path[..path.len() - 1] {
            let entry = table
                .entry(seg.clone())
                .or_insert_with(|| Value::Table(toml::Table::new()));
            match entry {
                Value::Table(t) => table = t,
                _ => {
                    return Err(err(
                        "environment",
                        name.clone(),
                        "conflicts with another variable",
                    ))
                }
            }
        }
        table.insert(path[path.len() - 1].clone(), parsed);
    }
    Ok(Value::Table(root))
}

fn build(tree: Value, source_name: &str) -> Result<Config, ConfigError> {
    serde_path_to_error::deserialize::<_, Config>(tree).map_err(|e| {
        let path = e.path().to_string();
        // The TOML deserializer appends its own location lines; the path
        // already says where.
        let message = e
            .inner()
            .to_string()
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        err(
            source_name,
            if path == "." {
                "(root)".to_owned()
            } else {
                path
            },
            message,
        )
    })
}

impl Config {
    /// Defaults, then `file` (if any), then the `LENDWORK_*` variables of
    /// `env`; validated.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut tree = Value::try_from(Config::default()).expect("defaults serialize");
        if let Some(p) = file {
            let name = p.display().to_string();
            let text =
                std::fs::read_to_string(p).map_err(|e| err(&name, "(file)", e.to_string()))?;
            let over: toml::Table = text
                .parse()
                .map_err(|e: toml::de::Error| err(&name, "(toml)", e.to_string()))?;
            let over = Value::Table(over);
            // Check the file alone first, so its errors name the file.
            let mut alone = Value::try_from(Config::default()).expect("defaults serialize");
            merge(&mut alone, over.clone());
            build(alone, &name)?;
            merge(&mut tree, over);
        }
        let env = env_tree(env)?;
        merge(&mut tree, env);
        let config = build(tree, "environment")?;
        config.validate()?;
        Ok(config)
    }

    /// Rules beyond types.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let c = "config";
        if self.topics.partitions == 0 || self.topics.partitions > 10_000 {
            return Err(err(
                c,
                "topics.partitions",
                format!("must be 1–10000, got {}", self.topics.partitions),
            ));
        }
        for (field, name) in [
            ("topics.market", &self.topics.market),
            ("topics.matches", &self.topics.matches),
            ("matcher.group", &self.matcher.group),
        ] {
            if name.is_empty()
                || name.len() > 249
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                return Err(err(
                    c,
                    field,
                    format!("{name:?} must be 1–249 characters of A-Z a-z 0-9 . _ -"),
                ));
            }
        }
        if self.topics.market == self.topics.matches {
            return Err(err(c, "topics.matches", "must differ from topics.market"));
        }
        if self.matcher.batch == 0 || self.matcher.batch > 100_000 {
            return Err(err(c, "matcher.batch", "must be 1–100000"));
        }
        if self.matcher.linger_ms > 1_000 {
            return Err(err(c, "matcher.linger_ms", "must be 0–1000"));
        }
        if self.matcher.snapshot_every > 1_000_000_000 {
            return Err(err(
                c,
                "matcher.snapshot_every",
                "must be 0 (no snapshots) to 1000000000",
            ));
        }
        let p = &self.redis.prefix;
        if p.is_empty()
            || p.len() > 100
            || !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
        {
            return Err(err(
                c,
                "redis.prefix",
                format!("{p:?} must be 1–100 characters of A-Z a-z 0-9 . _ - :"),
            ));
        }
        if let Some(r) = self.kafka.replication {
            if r < 1 {
                return Err(err(
                    c,
                    "kafka.replication",
                    format!("must be at least 1, got {r}"),
                ));
            }
        }
        for key in [
            "enable.idempotence",
            "acks",
            "enable.auto.commit",
            "group.id",
        ] {
            if self.kafka.client.contains_key(key) {
                return Err(err(
                    c,
                    format!("kafka.client.{key}"),
                    "is set by Lendwork itself (delivery guarantees depend on it)",
                ));
            }
        }
        if let Some(b) = &self.kafka.brokers {
            if b.trim().is_empty() {
                return Err(err(c, "kafka.brokers", "must not be empty"));
            }
        }
        if let Some(u) = &self.redis.url {
            if !(u.starts_with("redis://")
                || u.starts_with("rediss://")
                || u.starts_with("unix://"))
            {
                return Err(err(
                    c,
                    "redis.url",
                    "must start with redis://, rediss:// or unix://",
                ));
            }
        }
        self.engine.weights.validate().map_err(|m| {
            let (field, message) = m.split_once(": ").unwrap_or(("engine.weights", m.as_str()));
            err(c, format!("engine.{field}"), message)
        })?;
        if self.engine.proposal_ttl_secs < 60 {
            return Err(err(c, "engine.proposal_ttl_secs", "must be at least 60"));
        }
        if self.engine.dedupe_window_secs < 3600 {
            return Err(err(
                c,
                "engine.dedupe_window_secs",
                "must be at least 3600 (an hour): a shorter window would forget ids that clients and brokers still retry",
            ));
        }
        Ok(())
    }
}

/// The matcher's options this configuration gives (no snapshots on the
/// embedded bus: it lives and dies with the process, so nothing ever
/// rebuilds from it and a snapshot would only cost).
pub fn matcher_options(c: &Config) -> lendwork_matcher::MatcherOptions {
    lendwork_matcher::MatcherOptions {
        market_topic: c.topics.market.clone(),
        matches_topic: c.topics.matches.clone(),
        partitions: c.topics.partitions,
        group: c.matcher.group.clone(),
        prefix: c.redis.prefix.clone(),
        engine: c.engine.clone(),
        max_batch: c.matcher.batch as usize,
        linger: std::time::Duration::from_millis(u64::from(c.matcher.linger_ms)),
        snapshot_every: if c.kafka.brokers.is_some() {
            c.matcher.snapshot_every
        } else {
            0
        },
    }
}

/// The gateway's options this configuration gives (the rate limit is the
/// command's flag).
pub fn gateway_options(c: &Config) -> lendwork_gateway::GatewayOptions {
    lendwork_gateway::GatewayOptions {
        market_topic: c.topics.market.clone(),
        matches_topic: c.topics.matches.clone(),
        partitions: c.topics.partitions,
        pay: c.engine.pay.clone(),
        ..lendwork_gateway::GatewayOptions::with_prefix(&c.redis.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn file(text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!(
            "lendwork-config-{}-{}.toml",
            std::process::id(),
            text.len()
        ));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn defaults_are_valid_and_embedded() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c, Config::default());
        assert!(c.kafka.brokers.is_none() && c.redis.url.is_none());
    }

    #[test]
    fn layers_apply_in_order_file_then_environment() {
        let f = file("[kafka]\nbrokers = \"file:9092\"\n[topics]\npartitions = 6\n[kafka.client]\n\"sasl.mechanisms\" = \"PLAIN\"\n");
        let c = Config::load(
            Some(&f),
            env(&[
                ("LENDWORK_TOPICS__PARTITIONS", "24"),
                ("LENDWORK_KAFKA__CLIENT__SECURITY_PROTOCOL", "SASL_SSL"),
                ("LENDWORK_REDIS__URL", "redis://r:6379/0"),
                ("LENDWORK_TEST_KAFKA", "ignored: not a config variable"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.kafka.brokers.as_deref(),
            Some("file:9092"),
            "from the file"
        );
        assert_eq!(
            c.topics.partitions, 24,
            "the environment wins over the file"
        );
        assert_eq!(c.kafka.client["security.protocol"], "SASL_SSL");
        assert_eq!(c.kafka.client["sasl.mechanisms"], "PLAIN");
        assert_eq!(c.redis.url.as_deref(), Some("redis://r:6379/0"));
    }

    #[test]
    fn typos_and_bad_values_name_the_field_and_the_layer() {
        let f = file("[kafka]\nbrokerz = \"x\"\n");
        let e = Config::load(Some(&f), env(&[])).unwrap_err();
        assert_eq!(e.field, "kafka.brokerz", "{e}");
        assert_eq!(e.source_name, f.display().to_string());

        let e = Config::load(None, env(&[("LENDWORK_TOPICS__PARTITIONS", "many")])).unwrap_err();
        assert_eq!(
            (e.source_name.as_str(), e.field.as_str()),
            ("environment", "topics.partitions"),
            "{e}"
        );

        for (var, value, field) in [
            ("LENDWORK_TOPICS__PARTITIONS", "0", "topics.partitions"),
            (
                "LENDWORK_TOPICS__MATCHES",
                "lendwork.market.v1",
                "topics.matches",
            ),
            ("LENDWORK_MATCHER__GROUP", "bad group", "matcher.group"),
            ("LENDWORK_MATCHER__BATCH", "0", "matcher.batch"),
            ("LENDWORK_MATCHER__LINGER_MS", "1001", "matcher.linger_ms"),
            (
                "LENDWORK_MATCHER__SNAPSHOT_EVERY",
                "2000000000",
                "matcher.snapshot_every",
            ),
            (
                "LENDWORK_MATCHER__SNAPSHOT_EVERY",
                "-1",
                "matcher.snapshot_every",
            ),
            (
                "LENDWORK_KAFKA__CLIENT__ENABLE_IDEMPOTENCE",
                "false",
                "kafka.client.enable.idempotence",
            ),
            ("LENDWORK_REDIS__URL", "http://x", "redis.url"),
            (
                "LENDWORK_ENGINE__WEIGHTS__DISTANCE_PER_KM",
                "20000",
                "engine.weights.distance_per_km",
            ),
            (
                "LENDWORK_ENGINE__PROPOSAL_TTL_SECS",
                "5",
                "engine.proposal_ttl_secs",
            ),
            (
                "LENDWORK_ENGINE__DEDUPE_WINDOW_SECS",
                "60",
                "engine.dedupe_window_secs",
            ),
        ] {
            let e = Config::load(None, env(&[(var, value)])).unwrap_err();
            assert_eq!(e.field, field, "{var}={value}: {e}");
        }

        let f = file("not toml [");
        let e = Config::load(Some(&f), env(&[])).unwrap_err();
        assert_eq!(e.field, "(toml)");
    }
}
