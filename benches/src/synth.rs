//! Seeded synthetic profiles in text formats, for decode benchmarks.

use flamedb_profile::testing::Rng;
use std::fmt::Write;

/// A synthetic application: function names and a pool of stacks (indexes into `names`,
/// root first).
#[derive(Debug, Clone)]
pub struct SynthApp {
    /// Function names, Go-style package paths.
    pub names: Vec<String>,
    /// Distinct stacks, root first.
    pub stacks: Vec<Vec<usize>>,
}

impl SynthApp {
    /// `functions` names and `stacks` distinct stacks of depth 10..60 from seed `seed`.
    pub fn new(seed: u64, functions: usize, stacks: usize) -> Self {
        let mut rng = Rng::new(seed);
        let pkgs = [
            "index",
            "query",
            "http",
            "runtime",
            "encoding/json",
            "sync",
            "net",
        ];
        let names: Vec<String> = (0..functions)
            .map(|i| {
                let pkg = pkgs[rng.below(pkgs.len())];
                format!(
                    "github.com/acme/search-api/internal/{pkg}.(*Shard{}).Func{i}",
                    i % 97
                )
            })
            .collect();
        // Each function calls a handful of others: a random graph walked from 4 roots.
        let callees: Vec<Vec<usize>> = (0..functions)
            .map(|_| (0..4).map(|_| rng.below(functions)).collect())
            .collect();
        let stacks = (0..stacks)
            .map(|_| {
                let depth = 10 + rng.below(51);
                let mut f = rng.below(4);
                let mut stack = Vec::with_capacity(depth);
                for _ in 0..depth {
                    stack.push(f);
                    f = callees[f][rng.below(4)];
                }
                stack
            })
            .collect();
        SynthApp { names, stacks }
    }

    /// A stack index drawn with Zipf-like skew (s ~ 1.2).
    pub fn pick(&self, rng: &mut Rng) -> usize {
        let n = self.stacks.len() as f64;
        let x = rng.unit();
        ((n.powf(x) - 1.0).max(0.0) as usize).min(self.stacks.len() - 1)
    }

    /// Folded text with `lines` lines (stacks may repeat, as in concatenated profiles).
    pub fn folded(&self, seed: u64, lines: usize) -> String {
        let mut rng = Rng::new(seed);
        let mut out = String::new();
        for _ in 0..lines {
            let s = &self.stacks[self.pick(&mut rng)];
            for (i, &f) in s.iter().enumerate() {
                if i > 0 {
                    out.push(';');
                }
                out.push_str(&self.names[f]);
            }
            let _ = writeln!(out, " {}", 1 + rng.below(1000));
        }
        out
    }

    /// `perf script` text with `events` cpu-clock events of one process, with timestamps,
    /// periods and hexadecimal addresses, as `perf record -g` + `perf script` print them.
    pub fn perf_script(&self, seed: u64, events: usize) -> String {
        let mut rng = Rng::new(seed);
        let mut out = String::new();
        let mut t_us: u64 = 1_234_567_000;
        for _ in 0..events {
            t_us += 1 + rng.below(2000) as u64;
            let tid = 4000 + rng.below(8);
            let _ = writeln!(
                out,
                "search-api {tid} [{:03}] {}.{:06}:   10101010 cpu-clock:pppH: ",
                rng.below(2),
                t_us / 1_000_000,
                t_us % 1_000_000
            );
            let s = &self.stacks[self.pick(&mut rng)];
            for &f in s.iter().rev() {
                // As perf prints it: the offset is the address minus the function's start,
                // so a call site (a return address) prints the same line every time.
                let offset = rng.below(0x30);
                let _ = writeln!(
                    out,
                    "\t    {:x} {}+0x{:x} (/usr/local/bin/search-api)",
                    0x40_0000 + f * 0x40 + offset,
                    self.names[f],
                    offset
                );
            }
            out.push('\n');
        }
        out
    }
}
