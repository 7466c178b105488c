//! DIMACS minimum-cost flow format: problems (`p min`, `n`, `a` lines) and
//! solutions (`s`, `f` lines).
//!
//! The reader is strict, because a solver that guesses at malformed input
//! answers a different question: every error carries the 1-based line
//! number. Comment (`c`) and blank lines are skipped. Node ids are 1-based
//! on the wire and 0-based in [`Network`].

use std::fmt;
use std::io::{self, BufRead, Write};

use crate::network::{Arc, Network, Solution};

/// Largest node count accepted (the supplies alone take 1 GiB there).
pub const MAX_NODES: u32 = 1 << 27;

/// A DIMACS read error at a line.
#[derive(Debug, thiserror::Error)]
pub enum DimacsError {
    /// Malformed content.
    #[error("{line}: {message}")]
    Syntax {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        message: String,
    },
    /// The input could not be read.
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

fn err(line: u64, message: impl fmt::Display) -> DimacsError {
    DimacsError::Syntax {
        line,
        message: message.to_string(),
    }
}

fn num<T: std::str::FromStr>(tok: Option<&str>, line: u64, what: &str) -> Result<T, DimacsError> {
    let tok = tok.ok_or_else(|| err(line, format!("missing {what}")))?;
    tok.parse()
        .map_err(|_| err(line, format!("{what} {tok:?} is not a valid integer")))
}

/// Reads a `p min` problem.
pub fn read(input: impl BufRead) -> Result<Network, DimacsError> {
    let mut net: Option<Network> = None;
    let mut declared_arcs = 0usize;
    let mut line_no = 0u64;
    for line in input.lines() {
        line_no += 1;
        let line = line.map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => err(line_no, "not UTF-8"),
            _ => DimacsError::Io(e),
        })?;
        let mut toks = line.split_ascii_whitespace();
        let Some(kind) = toks.next() else { continue };
        match kind {
            "c" => continue,
            "p" => {
                if net.is_some() {
                    return Err(err(line_no, "a second problem line"));
                }
                match toks.next() {
                    Some("min") => {}
                    Some(other) => {
                        return Err(err(
                            line_no,
                            format!("problem type {other:?}; only \"min\" is supported"),
                        ))
                    }
                    None => return Err(err(line_no, "missing problem type")),
                }
                let n: u32 = num(toks.next(), line_no, "node count")?;
                let m: usize = num(toks.next(), line_no, "arc count")?;
                if n > MAX_NODES {
                    return Err(err(
                        line_no,
                        format!("{n} nodes; at most {MAX_NODES} are supported"),
                    ));
                }
                let mut nw = Network::with_nodes(n as usize);
                // Trust the header only so far: a lying header must not make
                // us allocate gigabytes before the first arc is read.
                nw.arcs.reserve_exact(m.min(1 << 24));
                net = Some(nw);
                declared_arcs = m;
            }
            "n" | "a" => {
                let nw = net.as_mut().ok_or_else(|| {
                    err(line_no, format!("`{kind}` line before the problem line"))
                })?;
                let n = nw.node_count() as u64;
                let node = |tok: Option<&str>, what: &str| -> Result<u32, DimacsError> {
                    let v: u64 = num(tok, line_no, what)?;
                    if v == 0 || v > n {
                        return Err(err(line_no, format!("{what} {v} is outside 1..={n}")));
                    }
                    Ok((v - 1) as u32)
                };
                if kind == "n" {
                    let v = node(toks.next(), "node id")?;
                    let b: i64 = num(toks.next(), line_no, "supply")?;
                    nw.supply[v as usize] = nw.supply[v as usize]
                        .checked_add(b)
                        .ok_or_else(|| err(line_no, "supply overflows"))?;
                } else {
                    let from = node(toks.next(), "tail node")?;
                    let to = node(toks.next(), "head node")?;
                    let low: i64 = num(toks.next(), line_no, "lower bound")?;
                    let cap: i64 = num(toks.next(), line_no, "capacity")?;
                    let cost: i64 = num(toks.next(), line_no, "cost")?;
                    if low < 0 {
                        return Err(err(line_no, format!("lower bound {low} is negative")));
                    }
                    if cap < low {
                        return Err(err(
                            line_no,
                            format!("capacity {cap} is below the lower bound {low}"),
                        ));
                    }
                    if cost.unsigned_abs() > 1 << 40 || cap > 1 << 50 {
                        return Err(err(
                            line_no,
                            "cost beyond ±2^40 or capacity beyond 2^50 is not supported",
                        ));
                    }
                    if nw.arcs.len() == declared_arcs {
                        return Err(err(
                            line_no,
                            format!("more arcs than the {declared_arcs} declared"),
                        ));
                    }
                    nw.arcs.push(Arc {
                        from,
                        to,
                        low,
                        cap,
                        cost,
                    });
                }
                if toks.next().is_some() {
                    return Err(err(line_no, "unexpected extra field"));
                }
            }
            other => return Err(err(line_no, format!("unknown line type {other:?}"))),
        }
    }
    let net = net.ok_or_else(|| err(line_no.max(1), "no problem line (`p min NODES ARCS`)"))?;
    if net.arcs.len() != declared_arcs {
        return Err(err(
            line_no,
            format!("{} arcs found, {declared_arcs} declared", net.arcs.len()),
        ));
    }
    if net.supply.iter().any(|s| s.unsigned_abs() > 1 << 50) {
        return Err(err(line_no, "a supply beyond ±2^50 is not supported"));
    }
    Ok(net)
}

/// Writes a problem in DIMACS form.
pub fn write(net: &Network, mut out: impl Write) -> io::Result<()> {
    writeln!(out, "p min {} {}", net.node_count(), net.arcs.len())?;
    for (v, &b) in net.supply.iter().enumerate() {
        if b != 0 {
            writeln!(out, "n {} {b}", v + 1)?;
        }
    }
    for a in &net.arcs {
        writeln!(
            out,
            "a {} {} {} {} {}",
            a.from + 1,
            a.to + 1,
            a.low,
            a.cap,
            a.cost
        )?;
    }
    Ok(())
}

/// Writes a solution: `s COST`, then `f SRC DST FLOW` for each arc with flow.
pub fn write_solution(net: &Network, sol: &Solution, mut out: impl Write) -> io::Result<()> {
    match sol {
        Solution::Infeasible => writeln!(out, "s infeasible"),
        Solution::Optimal { cost, flow } => {
            writeln!(out, "s {cost}")?;
            for (a, &f) in net.arcs.iter().zip(flow) {
                if f != 0 {
                    writeln!(out, "f {} {} {f}", a.from + 1, a.to + 1)?;
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(s: &str) -> Result<Network, DimacsError> {
        read(s.as_bytes())
    }

    #[test]
    fn reads_a_small_problem() {
        let net =
            read_str("c hi\np min 3 2\nn 1 5\nn 3 -5\n\na 1 2 0 10 3\na 2 3 1 5 -1\n").unwrap();
        assert_eq!(net.supply, vec![5, 0, -5]);
        assert_eq!(
            net.arcs[1],
            Arc {
                from: 1,
                to: 2,
                low: 1,
                cap: 5,
                cost: -1
            }
        );
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("a 1 2 0 1 1\n", "1: `a` line before"),
            ("p min 2 1\na 1 3 0 1 1\n", "2: head node 3 is outside"),
            ("p min 2 1\na 1 2 0 x 1\n", "2: capacity \"x\""),
            ("p min 2 1\na 1 2 5 1 1\n", "2: capacity 1 is below"),
            ("p min 2 2\na 1 2 0 1 1\n", "2: 1 arcs found, 2 declared"),
            ("p min 2 0\na 1 2 0 1 1\n", "2: more arcs than"),
            ("p max 2 0\n", "1: problem type \"max\""),
            ("p min 2 0\nq\n", "2: unknown line type"),
            ("p min 2 0\nn 1 1 1\n", "2: unexpected extra field"),
            ("", "1: no problem line"),
            ("p min 2 0\np min 2 0\n", "2: a second problem line"),
            ("p min 4294967295 0\n", "1: 4294967295 nodes; at most"),
        ];
        for (input, want) in cases {
            let got = read_str(input).unwrap_err().to_string();
            assert!(
                got.starts_with(want),
                "{input:?}: got {got:?}, want {want:?}"
            );
        }
    }

    #[test]
    fn write_then_read_is_identity() {
        let mut net = Network::with_nodes(4);
        net.supply = vec![3, 0, 0, -3];
        net.add_arc(0, 1, 2, 4);
        net.add_arc(1, 3, 5, -2);
        net.arcs.push(Arc {
            from: 0,
            to: 3,
            low: 1,
            cap: 3,
            cost: 9,
        });
        let mut buf = Vec::new();
        write(&net, &mut buf).unwrap();
        assert_eq!(read(&buf[..]).unwrap(), net);
    }
}
