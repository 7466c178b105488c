//! The OpenAPI 3.1 document of the gateway, served at `/openapi.json`.
//!
//! Built from one table of operations in code, beside the router (see
//! `gateway::router`); a test checks that every routed path is documented
//! and the other way round. Request schemas follow the event contract
//! (DESIGN §2) minus what the gateway sets itself (`type`, `id`, `at`, and
//! the caller's own enterprise).

use serde_json::{json, Value};

fn window() -> Value {
    json!({"type": "object", "required": ["start", "end"], "additionalProperties": false,
        "properties": {"start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"}}})
}

fn place() -> Value {
    json!({"type": "object", "required": ["lat", "lon"], "additionalProperties": false,
        "properties": {"lat": {"type": "number", "minimum": -90, "maximum": 90},
                       "lon": {"type": "number", "minimum": -180, "maximum": 180}}})
}

fn id() -> Value {
    json!({"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$"})
}

fn slug() -> Value {
    json!({"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"})
}

fn schemas() -> Value {
    json!({
        "Shortage": {"type": "object", "additionalProperties": false,
            "required": ["gap_id", "region", "site", "requirements", "certificates", "headcount", "window", "hourly_wage_fen"],
            "properties": {
                "gap_id": id(), "enterprise_id": id(), "region": id(), "site": place(),
                "requirements": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["skill", "min_level"],
                    "properties": {"skill": slug(), "min_level": {"type": "integer", "minimum": 1, "maximum": 5}}}},
                "certificates": {"type": "array", "items": slug()},
                "headcount": {"type": "integer", "minimum": 1, "maximum": 10000},
                "window": window(),
                "hourly_wage_fen": {"type": "integer", "minimum": 0},
                "max_commute_km": {"type": "number", "minimum": 0},
                "industry": slug(),
                "title": {"type": "string", "minLength": 1, "maxLength": 80},
                "description": {"type": "string", "minLength": 1, "maxLength": 2000},
                "hours_per_day": {"type": "integer", "minimum": 1, "maximum": 12}}},
        "Worker": {"type": "object", "additionalProperties": false,
            "required": ["worker_id", "region", "home", "skills", "certificates", "available", "max_commute_km", "min_hourly_wage_fen", "consent"],
            "properties": {
                "worker_id": id(), "region": id(), "home": place(),
                "skills": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                    "required": ["skill", "level"],
                    "properties": {"skill": slug(), "level": {"type": "integer", "minimum": 1, "maximum": 5}}}},
                "certificates": {"type": "array", "items": slug()},
                "available": window(),
                "max_commute_km": {"type": "number", "minimum": 0},
                "min_hourly_wage_fen": {"type": "integer", "minimum": 0},
                "employer_id": id(),
                "consent": {"type": "boolean"},
                "contract_end": {"type": "string", "format": "date"},
                "priority_group": {"enum": ["unemployed", "graduate", "migrant_worker", "hard_to_employ"]},
                "display_name": {"type": "string", "minLength": 1, "maxLength": 40}}},
        "WorkerBatch": {"type": "object", "additionalProperties": false, "required": ["workers"],
            "properties": {"workers": {"type": "array", "minItems": 1, "maxItems": 10000, "items": {"$ref": "#/components/schemas/Worker"}}}},
        "Reason": {"type": "object", "additionalProperties": false, "properties": {"reason": {"type": "string", "maxLength": 500}}},
        "Ending": {"type": "object", "additionalProperties": false, "required": ["outcome"],
            "properties": {"outcome": {"enum": ["completed", "returned", "no_show", "cancelled", "terminated"]},
                           "reason": {"type": "string", "maxLength": 500}}},
        "Signature": {"type": "object", "additionalProperties": false, "required": ["document_sha256"],
            "properties": {"document_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}},
        "Preference": {"type": "object", "additionalProperties": false, "required": ["worker_id", "kind"],
            "properties": {"worker_id": id(), "kind": {"enum": ["favourite", "blocked", "cleared"]}}},
        "Accepted": {"type": "object", "properties": {"event_id": {"type": "string"}, "event_ids": {"type": "array", "items": {"type": "string"}}}},
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
            "required": ["status", "message"],
            "properties": {"status": {"type": "integer"}, "field": {"type": ["string", "null"]}, "message": {"type": "string"}}}}}
    })
}

fn errors(codes: &[&str]) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    for c in codes {
        m.insert((*c).into(), json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
    }
    m
}

struct Op {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<Value>,
    params: &'static [&'static str],
    ok: (&'static str, &'static str),
}

/// Every operation: (method, path, summary, request schema, path params, success).
fn operations() -> Vec<Op> {
    let r = |n: &str| json!({"$ref": format!("#/components/schemas/{n}")});
    vec![
        Op { method: "post", path: "/v1/shortages", summary: "Post a shortage (enterprise)", body: Some(r("Shortage")), params: &[], ok: ("202", "Accepted") },
        Op { method: "get", path: "/v1/shortages", summary: "Your shortages (enterprise), in id order: ?status=open|filled|withdrawn|pending&region=&limit=1..500&cursor= (the previous page's next_cursor)", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/v1/workers", summary: "Your workers (enterprise: employees you lend; agency: flexible workers), in id order: ?status=available|withdrawn|pending&region=&limit=&cursor=", body: None, params: &[], ok: ("200", "") },
        Op { method: "post", path: "/v1/workers/import", summary: "Import a roster (text/csv or XLSX; Chinese or English headers; skills as name:level, lists separated by ;), all or nothing: 422 lists every refused row and column; ?dry_run=true previews (200) and applies nothing", body: None, params: &[], ok: ("202", "Accepted") },
        Op { method: "get", path: "/v1/workers/import/template", summary: "The roster template (CSV, UTF-8 with BOM) with one example row; ?lang=zh|en", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/v1/workers/{worker_id}", summary: "One of your workers: the offer, its status and when it last changed", body: None, params: &["worker_id"], ok: ("200", "") },
        Op { method: "get", path: "/v1/shortages/{gap_id}/why-not", summary: "Why the shortage has the proposals it has: candidates in the region failing each eligibility rule (rules 2-8, at the first rule failed), how many pass, how many are proposed, and the nearest misses grouped by what would change them (no worker ids)", body: None, params: &["gap_id"], ok: ("200", "") },
        Op { method: "get", path: "/v1/workers/{worker_id}/why-not", summary: "Why the worker is proposed where they are: open gaps in the region failing each rule for this worker, and the nearest misses", body: None, params: &["worker_id"], ok: ("200", "") },
        Op { method: "get", path: "/v1/board", summary: "The public board (no sign-in): open positions (no enterprise or gap ids) and available workers counted by region and skill (groups under 3 left out); ?region=&skill=&date=. Also /board (HTML) and /board.rss", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/v1/shortages/{gap_id}", summary: "Read one of your shortages", body: None, params: &["gap_id"], ok: ("200", "") },
        Op { method: "delete", path: "/v1/shortages/{gap_id}", summary: "Withdraw one of your shortages", body: Some(r("Reason")), params: &["gap_id"], ok: ("202", "Accepted") },
        Op { method: "post", path: "/v1/workers", summary: "Offer a worker, or {\"workers\": [...]} up to 10,000 (enterprise lends its employees; agency offers flexible workers)", body: Some(json!({"oneOf": [r("Worker"), r("WorkerBatch")]})), params: &[], ok: ("202", "Accepted") },
        Op { method: "delete", path: "/v1/workers/{worker_id}", summary: "Withdraw one of your workers", body: Some(r("Reason")), params: &["worker_id"], ok: ("202", "Accepted") },
        Op { method: "get", path: "/v1/proposals", summary: "Proposals for your gaps and of your workers, in id order: ?status=&region=&gap_id=&worker_id=&limit=&cursor=", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/v1/proposals/{match_id}", summary: "A proposal and its audit trail (parties; operators with pseudonymous worker ids)", body: None, params: &["match_id"], ok: ("200", "") },
        Op { method: "post", path: "/v1/proposals/{match_id}/{action}", summary: "accept | decline (any party) | sign {\"document_sha256\"} (each required party, once agreed) | start (borrower, once signed) | end {\"outcome\"} | return (worker or lender) | worker-link (the worker's lender or agency: 201 with an expiring link) | timesheet {\"date\", \"minutes\"} (borrower) | confirm {\"date\"} | dispute {\"date\", \"reason\", \"minutes\"?} (worker or lender) | payment {\"to\", \"amount_fen\", \"period\"} (the payer). A step the proposal's state does not allow is 409 with the state and what is allowed; nothing is appended", body: Some(json!({"oneOf": [r("Reason"), r("Ending"), r("Signature")]})), params: &["match_id", "action"], ok: ("202", "Accepted") },
        Op { method: "get", path: "/v1/proposals/{match_id}/{action}", summary: "agreement: the agreement pack as printable HTML (Chinese, English), its SHA-256 in X-Document-SHA256; 409 before the proposal is agreed", body: None, params: &["match_id", "action"], ok: ("200", "") },
        Op { method: "post", path: "/v1/preferences", summary: "Block, favour or clear a worker proposed to you before (enterprise)", body: Some(r("Preference")), params: &[], ok: ("202", "Accepted") },
        Op { method: "get", path: "/v1/w/{token}", summary: "A worker link: the worker's own proposal (no account; the token is the credential)", body: None, params: &["token"], ok: ("200", "") },
        Op { method: "post", path: "/v1/w/{token}/{action}", summary: "A worker link: accept | decline | sign {\"document_sha256\"} | return | confirm {\"date\"} | dispute {\"date\", \"reason\"}, as the worker", body: Some(json!({"oneOf": [r("Reason"), r("Signature")]})), params: &["token", "action"], ok: ("202", "Accepted") },
        Op { method: "get", path: "/v1/w/{token}/{action}", summary: "A worker link: agreement (HTML, hash in X-Document-SHA256)", body: None, params: &["token", "action"], ok: ("200", "") },
        Op { method: "get", path: "/w/{token}", summary: "A worker link: the worker's page (HTML, for a phone)", body: None, params: &["token"], ok: ("200", "") },
        Op { method: "get", path: "/v1/ledger", summary: "The settlement ledger of your assignments (operator: all, pseudonymous workers) per pay period: minutes, owed_fen, paid_by_borrower_fen, paid_to_worker_fen, flags; ?period=YYYY-MM&flag=&party=borrower|lender&format=csv (UTF-8 with BOM)", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/v1/stats", summary: "Market statistics by region with totals (operator); ?region=CODE for one region alone", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/v1/stats/history", summary: "The statistics' history (operator): a sample a minute for the last day (?resolution=minute) or an hour for the last quarter (?resolution=hour), per region (?region=CODE) or in total: positions, open, filled, started, proposed, time to fill, minutes confirmed, owed and paid", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/v1/training-needs", summary: "Training needs by region (operator): the skills at a level and the certificates that the open positions short of proposals ask for, with how many positions and how many available workers only that keeps out; ?region=&format=csv (UTF-8 with BOM)", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/v1/feed", summary: "Live feed, server-sent events: an operator sees every proposal and decision (pseudonymous workers); an enterprise or agency only the events about its own gaps and workers (real ids). A portal session cookie also signs in", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/healthz", summary: "Liveness", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/readyz", summary: "Readiness: false while Kafka or Redis is unreachable", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/metrics", summary: "Prometheus metrics", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/dashboard", summary: "The operator dashboard (HTML)", body: None, params: &[], ok: ("200", "") },
        Op { method: "get", path: "/openapi.json", summary: "This document", body: None, params: &[], ok: ("200", "") },
    ]
}

/// The paths documented (for the test that compares them with the router).
pub fn documented() -> Vec<(&'static str, &'static str)> {
    operations().iter().map(|o| (o.method, o.path)).collect()
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for op in operations() {
        let public = op.path.starts_with("/healthz")
            || op.path.starts_with("/readyz")
            || op.path.starts_with("/metrics")
            || op.path.starts_with("/dashboard")
            || op.path.starts_with("/openapi");
        // A worker link's token is its credential: no bearer.
        let link = op.path.starts_with("/v1/w/") || op.path.starts_with("/w/");
        let mut responses = if public {
            serde_json::Map::new()
        } else {
            errors(&[
                "400", "401", "403", "404", "409", "413", "422", "429", "503",
            ])
        };
        let ok = if op.ok.1.is_empty() {
            json!({"description": "ok"})
        } else {
            json!({"description": "accepted: the event is in the log", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{}", op.ok.1)}}}})
        };
        responses.insert(op.ok.0.into(), ok);
        let mut o = json!({"summary": op.summary, "responses": responses});
        if !public && !link {
            o["security"] = json!([{"bearer": []}]);
        }
        if !op.params.is_empty() {
            o["parameters"] = Value::Array(
                op.params
                    .iter()
                    .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
                    .collect(),
            );
        }
        if let Some(b) = op.body {
            o["requestBody"] = json!({"required": op.method == "post", "content": {"application/json": {"schema": b}}});
        }
        if op.method == "post" || op.method == "delete" {
            let params = o.get("parameters").cloned().unwrap_or(json!([]));
            let mut params = params.as_array().cloned().unwrap_or_default();
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "schema": {"type": "string", "maxLength": 200}}));
            o["parameters"] = Value::Array(params);
        }
        paths
            .entry(op.path.to_owned())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("object")
            .insert(op.method.into(), o);
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Lendwork gateway", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Shared employment (共享用工): shortages, worker offers, proposals, statistics."},
        "paths": paths,
        "components": {"schemas": schemas(),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}
    })
}
