//! The timeline written out: offers and shortages spread evenly over the
//! days, due events in time order between them, one JSON line each.

use std::cmp::Reverse;
use std::io::{self, Write};

use lendwork_domain::*;

use crate::Sim;

impl Sim<'_> {
    pub(crate) fn run(
        &mut self,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64),
    ) -> io::Result<()> {
        let total = self.cfg.workers + self.cfg.gaps;
        let span = i64::from(self.cfg.days.max(1)) * 86_400;
        let t0 = self.cfg.start.unix_seconds();
        let (mut w, mut g) = (0u64, 0u64);
        for i in 0..total {
            let t = t0 + (i as i128 * span as i128 / total.max(1) as i128) as i64;
            self.flush_due(t, out)?;
            // Interleave so that gaps are spread evenly among workers.
            let gap_turn = g < self.cfg.gaps
                && (w >= self.cfg.workers || (g + 1) * total <= (i + 1) * self.cfg.gaps);
            let kind = if gap_turn {
                g += 1;
                self.shortage(g, t)
            } else {
                w += 1;
                self.worker(w, t)
            };
            self.emit(t, kind, out)?;
            if i % 65_536 == 0 {
                progress(i);
            }
        }
        self.flush_due(i64::MAX, out)?;
        progress(total);
        Ok(())
    }

    fn emit(&mut self, t: i64, kind: EventKind, out: &mut dyn Write) -> io::Result<()> {
        self.seq += 1;
        let ev = Event {
            id: EventId::new(format!("evt-{:09}", self.seq)).unwrap(),
            at: Timestamp::from_unix_seconds(t).expect("simulated times are in range"),
            kind,
        };
        serde_json::to_writer(&mut *out, &ev)?;
        out.write_all(b"\n")
    }

    fn flush_due(&mut self, now: i64, out: &mut dyn Write) -> io::Result<()> {
        while let Some(Reverse((t, _, _))) = self.queue.peek() {
            if *t > now {
                break;
            }
            let Reverse((t, _, p)) = self.queue.pop().unwrap();
            let kind = self.realise(t, p);
            self.emit(t, kind, out)?;
        }
        Ok(())
    }
}
