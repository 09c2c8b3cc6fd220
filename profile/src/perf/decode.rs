//! The `perf script` state machine and the mapping of its lines into a [`Profile`].

use super::PerfOptions;
use super::parse::{self, EventLine};
use crate::{
    DecodeLimits, Error, FrameKind, Function, Label, LabelSetId, LabelValue, Line, LocationId,
    Mapping, Profile, Result, StackId, StrId,
};
use hashbrown::HashMap;

/// Header keys of `perf script --header` kept as profile comments.
const HEADER_KEYS: [&str; 6] = [
    "captured on",
    "hostname",
    "os release",
    "perf version",
    "arch",
    "cmdline",
];

/// Which events to keep.
enum Filter {
    /// Events named exactly so (a name with modifiers, `cycles:u`).
    Exact(Vec<u8>),
    /// Events whose name without modifiers is this (`cycles` keeps `cycles:u` and
    /// `cycles`); `None` until the first event sets it.
    Base(Option<Vec<u8>>),
}

/// A kept sample before the sample types are known.
struct Pending {
    stack: StackId,
    labels: LabelSetId,
    time: Option<i64>,
    period: Option<u64>,
}

/// Skipped input, reported in the profile's comments.
#[derive(Default)]
struct Skipped {
    count: usize,
    first_line: usize,
}

impl Skipped {
    fn add(&mut self, line: usize) {
        if self.count == 0 {
            self.first_line = line;
        }
        self.count += 1;
    }
}

/// The open event: `None` outside an event.
struct Open {
    keep: bool,
    labels: LabelSetId,
    time: Option<i64>,
    period: Option<u64>,
}

pub(super) struct Decoder<'a> {
    p: Profile,
    limits: DecodeLimits,
    filter: Filter,
    open: Option<Open>,
    /// Frames of the open event, leaf first.
    frames: Vec<LocationId>,
    /// Trimmed frame line -> its location (`None`: malformed line). Keys borrow the input.
    frame_cache: HashMap<&'a [u8], Option<LocationId>>,
    /// dso -> its mapping and frame kind.
    dso_cache: HashMap<&'a [u8], (crate::MappingId, FrameKind)>,
    /// Symbol (offset stripped) -> its function, for plain symbols.
    function_cache: HashMap<&'a [u8], crate::FunctionId>,
    pending: Vec<Pending>,
    keys: [StrId; 3],
    labels: Vec<Label>,
    events_seen: usize,
    other_events: usize,
    bad_event_lines: Skipped,
    bad_frame_lines: Skipped,
    header: Vec<String>,
}

impl<'a> Decoder<'a> {
    pub(super) fn new(options: &PerfOptions) -> Self {
        let mut p = Profile::new();
        let keys = [p.intern("comm"), p.intern("pid"), p.intern("tid")];
        let filter = match &options.event {
            Some(e) if parse::event_base(e.as_bytes()) == e.as_bytes() => {
                Filter::Base(Some(e.clone().into_bytes()))
            }
            Some(e) => Filter::Exact(e.clone().into_bytes()),
            None => Filter::Base(None),
        };
        Decoder {
            p,
            limits: options.limits,
            filter,
            open: None,
            frames: Vec::new(),
            frame_cache: HashMap::new(),
            dso_cache: HashMap::new(),
            function_cache: HashMap::new(),
            pending: Vec::new(),
            keys,
            labels: Vec::with_capacity(3),
            events_seen: 0,
            other_events: 0,
            bad_event_lines: Skipped::default(),
            bad_frame_lines: Skipped::default(),
            header: Vec::new(),
        }
    }

    /// Feeds line `lineno` (1-based), without its line terminator.
    pub(super) fn line(&mut self, lineno: usize, line: &'a [u8]) -> Result<()> {
        if line.first() == Some(&b'#') {
            if self.events_seen == 0 {
                self.header_line(line);
            }
            return Ok(());
        }
        let line = parse::trim_end(line);
        if line.is_empty() {
            return self.close();
        }
        match &self.open {
            Some(open) if open.keep => self.frame(lineno, line),
            Some(_) => Ok(()),
            None => self.event(lineno, line),
        }
    }

    fn header_line(&mut self, line: &[u8]) {
        let text = String::from_utf8_lossy(&line[1..]);
        if let Some((key, value)) = text.split_once(':') {
            let key = key.trim();
            if HEADER_KEYS.contains(&key) && self.header.len() < HEADER_KEYS.len() {
                self.header.push(format!("{key}: {}", value.trim()));
            }
        }
    }

    fn event(&mut self, lineno: usize, line: &'a [u8]) -> Result<()> {
        let Some(ev) = parse::parse_event_line(line) else {
            self.bad_event_lines.add(lineno);
            return Ok(());
        };
        self.events_seen += 1;
        let keep = match &mut self.filter {
            Filter::Exact(name) => ev.event == name.as_slice(),
            Filter::Base(Some(base)) => parse::event_base(ev.event) == base.as_slice(),
            Filter::Base(base @ None) => {
                *base = Some(parse::event_base(ev.event).to_vec());
                true
            }
        };
        if !keep {
            self.other_events += 1;
            // An event line carrying its frame has no frame lines to skip.
            self.open = ev.trailing.is_empty().then_some(Open {
                keep: false,
                labels: LabelSetId::EMPTY,
                time: None,
                period: None,
            });
            return Ok(());
        }
        let labels = self.labels_of(&ev);
        self.open = Some(Open {
            keep: true,
            labels,
            time: ev.time_nanos,
            period: ev.period,
        });
        if !ev.trailing.is_empty() {
            // perf script without call graphs: the event's single frame is on its line.
            self.frame(lineno, ev.trailing)?;
            self.close()?;
        }
        Ok(())
    }

    fn labels_of(&mut self, ev: &EventLine<'_>) -> LabelSetId {
        let [comm, pid, tid] = self.keys;
        self.labels.clear();
        let value = |p: &mut Profile, s: &[u8]| LabelValue::Str(p.strings.intern_lossy(s));
        let v = value(&mut self.p, ev.comm);
        self.labels.push(Label {
            key: comm,
            value: v,
        });
        if let Some(pid_text) = ev.pid {
            let v = value(&mut self.p, pid_text);
            self.labels.push(Label { key: pid, value: v });
        }
        let v = value(&mut self.p, ev.tid);
        self.labels.push(Label { key: tid, value: v });
        self.p.label_sets.intern(&self.labels)
    }

    fn frame(&mut self, lineno: usize, line: &'a [u8]) -> Result<()> {
        let key = parse::trim(line);
        let loc = match self.frame_cache.get(key) {
            Some(&loc) => loc,
            None => {
                let loc = parse::parse_frame_line(key).map(|f| self.intern_frame(&f));
                self.frame_cache.insert(key, loc);
                loc
            }
        };
        match loc {
            Some(loc) => {
                if self.frames.len() >= self.limits.max_stack_depth {
                    return Err(Error::PerfScript {
                        line: lineno,
                        message: format!(
                            "stack depth exceeds the limit of {} frames",
                            self.limits.max_stack_depth
                        ),
                    });
                }
                self.frames.push(loc);
            }
            None => self.bad_frame_lines.add(lineno),
        }
        Ok(())
    }

    /// The location of a frame line (see the module documentation for the mapping).
    fn intern_frame(&mut self, f: &parse::FrameLine<'a>) -> LocationId {
        let (mapping, kind) = self.mapping_of(f.dso);
        let sym = parse::strip_offset(f.sym);
        let plain = !sym.is_empty() && sym != b"[unknown]" && kind != FrameKind::Jit;
        if plain {
            // The common case, cached by symbol so a symbol seen at another address costs
            // one lookup.
            let function = match self.function_cache.get(sym) {
                Some(&f) => f,
                None => {
                    let p = &mut self.p;
                    let name = p.strings.intern_lossy(sym);
                    let function = p.intern_function(Function {
                        name,
                        system_name: name,
                        ..Function::default()
                    });
                    self.function_cache.insert(sym, function);
                    function
                }
            };
            return self
                .p
                .intern_location(Some(mapping), f.ip, &[line_of(function)], kind);
        }
        let p = &mut self.p;
        let dso = p
            .strings
            .get(p.mappings[mapping.index()].filename)
            .to_owned();
        let mut lines: Vec<Line> = Vec::with_capacity(1);
        if sym.is_empty() {
            lines.push(Line::default());
        } else if sym == b"[unknown]" {
            // Named after the dso as inferno does; the empty system name says that perf
            // did not know the symbol.
            let name = if dso == "[unknown]" {
                "[unknown]".to_owned()
            } else {
                format!("[{}]", parse::basename(&dso))
            };
            let name = p.intern(&name);
            let function = p.intern_function(Function {
                name,
                ..Function::default()
            });
            lines.push(line_of(function));
        } else if kind == FrameKind::Jit && memchr::memmem::find(sym, b"->").is_some() {
            // perf-map-agent's inlined frames `caller->callee`: innermost line first.
            let text = String::from_utf8_lossy(sym);
            for part in text.rsplit("->") {
                let name = p.intern(part);
                let function = p.intern_function(Function {
                    name,
                    system_name: name,
                    ..Function::default()
                });
                lines.push(line_of(function));
            }
        } else {
            let name = p.strings.intern_lossy(sym);
            let function = p.intern_function(Function {
                name,
                system_name: name,
                ..Function::default()
            });
            lines.push(line_of(function));
        }
        p.intern_location(Some(mapping), f.ip, &lines, kind)
    }

    /// The mapping and frame kind of a dso, interned once per distinct dso.
    fn mapping_of(&mut self, dso: &'a [u8]) -> (crate::MappingId, FrameKind) {
        if let Some(&hit) = self.dso_cache.get(dso) {
            return hit;
        }
        let p = &mut self.p;
        let dso_id = p.strings.intern_lossy(dso);
        let name = p.strings.get(dso_id);
        let kind = if parse::is_kernel_dso(name) {
            FrameKind::Kernel
        } else if parse::is_jit_dso(name) {
            FrameKind::Jit
        } else {
            FrameKind::Unspecified
        };
        let mapping = p.intern_mapping(Mapping {
            filename: dso_id,
            has_functions: true,
            ..Mapping::default()
        });
        self.dso_cache.insert(dso, (mapping, kind));
        (mapping, kind)
    }

    /// Ends the open event (blank line, end of input, or an event line with its frame).
    pub(super) fn close(&mut self) -> Result<()> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        if !open.keep {
            return Ok(());
        }
        DecodeLimits::check("samples", self.pending.len() + 1, self.limits.max_samples)?;
        let stack = self.p.stacks.intern(self.frames.iter().rev().copied());
        self.frames.clear();
        self.pending.push(Pending {
            stack,
            labels: open.labels,
            time: open.time,
            period: open.period,
        });
        Ok(())
    }

    /// The profile: sample types, samples, metadata and comments.
    pub(super) fn finish(mut self) -> Result<Profile> {
        self.close()?;
        if self.events_seen == 0 && self.bad_event_lines.count > 0 {
            return Err(Error::PerfScript {
                line: self.bad_event_lines.first_line,
                message: "expected an event line (`COMM [PID/]TID [CPU] [TIME:] [PERIOD] EVENT:`)"
                    .into(),
            });
        }
        let mut p = self.p;
        p.add_sample_type("samples", "count");
        let event = match &self.filter {
            Filter::Exact(name) | Filter::Base(Some(name)) => {
                Some(String::from_utf8_lossy(name).into_owned())
            }
            Filter::Base(None) => None,
        };
        let with_period = self.pending.iter().any(|s| s.period.is_some());
        if let Some(event) = &event {
            let unit = match parse::event_base(event.as_bytes()) {
                b"cpu-clock" | b"task-clock" => "nanoseconds",
                _ => "count",
            };
            let vt = crate::ValueType {
                kind: p.intern(event),
                unit: p.intern(unit),
            };
            p.period_type = Some(vt);
            if with_period {
                p.sample_types.push(vt);
                p.default_sample_type = Some(vt.kind);
            }
        }
        let first_period = self.pending.first().and_then(|s| s.period);
        if self.pending.iter().all(|s| s.period == first_period) {
            p.period = first_period.map_or(0, clamp);
        }
        let times = self.pending.iter().filter_map(|s| s.time);
        if let Some((lo, hi)) = times.fold(None, |acc: Option<(i64, i64)>, t| {
            Some(acc.map_or((t, t), |(a, b)| (a.min(t), b.max(t))))
        }) {
            p.duration_nanos = hi.saturating_sub(lo);
        }
        p.samples.reserve(self.pending.len());
        p.values.reserve(self.pending.len() * p.sample_types.len());
        for s in &self.pending {
            let values = [1, s.period.map_or(1, clamp)];
            p.push_sample(s.stack, &values[..p.sample_types.len()], s.labels, s.time);
        }
        let mut comments = self.header;
        let skipped = [
            (
                self.bad_event_lines,
                "lines in event position that are not event lines",
            ),
            (self.bad_frame_lines, "malformed frame lines"),
        ];
        for (s, what) in skipped {
            if s.count > 0 {
                comments.push(format!(
                    "perf script: skipped {} {what} (first at line {})",
                    s.count, s.first_line
                ));
            }
        }
        if self.other_events > 0 {
            comments.push(format!(
                "perf script: skipped {} events other than {}",
                self.other_events,
                event.as_deref().unwrap_or("")
            ));
        }
        for c in comments {
            let id = p.intern(&c);
            p.comments.push(id);
        }
        Ok(p)
    }
}

fn line_of(function: crate::FunctionId) -> Line {
    Line {
        function: Some(function),
        line: 0,
        column: 0,
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
