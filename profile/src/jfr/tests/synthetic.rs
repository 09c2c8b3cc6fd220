//! A small JFR writer for hand-made recordings: valid ones in both integer encodings,
//! and malformed ones.

/// Bytes in the chunk's integer encoding.
pub(crate) struct W {
    pub(crate) buf: Vec<u8>,
    pub(crate) compressed: bool,
}

impl W {
    pub(crate) fn new(compressed: bool) -> Self {
        W {
            buf: Vec::new(),
            compressed,
        }
    }

    pub(crate) fn varint(&mut self, mut v: u64) -> &mut Self {
        for _ in 0..8 {
            if v < 0x80 {
                self.buf.push(v as u8);
                return self;
            }
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
        self
    }

    pub(crate) fn int(&mut self, v: u64) -> &mut Self {
        if self.compressed {
            self.varint(v)
        } else {
            self.buf.extend_from_slice(&(v as u32).to_be_bytes());
            self
        }
    }

    pub(crate) fn long(&mut self, v: u64) -> &mut Self {
        if self.compressed {
            self.varint(v)
        } else {
            self.buf.extend_from_slice(&v.to_be_bytes());
            self
        }
    }

    pub(crate) fn byte(&mut self, b: u8) -> &mut Self {
        self.buf.push(b);
        self
    }

    /// A UTF-8 string (encoding 3).
    pub(crate) fn str(&mut self, s: &str) -> &mut Self {
        self.byte(3).int(s.len() as u64);
        self.buf.extend_from_slice(s.as_bytes());
        self
    }

    /// An event (or metadata / pool event): its size, then `body` (type id included).
    pub(crate) fn event(&mut self, body: &[u8]) -> &mut Self {
        let mut size = body.len() + 1;
        loop {
            let mut probe = W::new(self.compressed);
            probe.int(size as u64);
            if probe.buf.len() + body.len() == size {
                self.buf.extend_from_slice(&probe.buf);
                self.buf.extend_from_slice(body);
                return self;
            }
            size = probe.buf.len() + body.len();
        }
    }
}

/// A class of the metadata: id, name, fields (name, class id, constant pool, array).
pub(crate) type ClassDef = (u64, &'static str, Vec<(&'static str, u64, bool, bool)>);

pub(crate) const LONG: u64 = 10;
pub(crate) const INT: u64 = 11;
pub(crate) const BOOLEAN: u64 = 12;
pub(crate) const STRING: u64 = 13;
pub(crate) const SYMBOL: u64 = 20;
pub(crate) const CLASS: u64 = 21;
pub(crate) const METHOD: u64 = 22;
pub(crate) const FRAME: u64 = 23;
pub(crate) const STACK: u64 = 24;
pub(crate) const STATE: u64 = 25;
pub(crate) const FRAME_TYPE: u64 = 26;
pub(crate) const EXECUTION: u64 = 30;
pub(crate) const SETTING: u64 = 31;

/// The classes of a profiling recording.
pub(crate) fn classes() -> Vec<ClassDef> {
    vec![
        (LONG, "long", vec![]),
        (INT, "int", vec![]),
        (BOOLEAN, "boolean", vec![]),
        (STRING, "java.lang.String", vec![]),
        (
            SYMBOL,
            "jdk.types.Symbol",
            vec![("string", STRING, false, false)],
        ),
        (
            CLASS,
            "java.lang.Class",
            vec![("name", SYMBOL, true, false)],
        ),
        (
            METHOD,
            "jdk.types.Method",
            vec![("type", CLASS, true, false), ("name", SYMBOL, true, false)],
        ),
        (
            FRAME,
            "jdk.types.StackFrame",
            vec![
                ("method", METHOD, true, false),
                ("lineNumber", INT, false, false),
                ("type", FRAME_TYPE, true, false),
            ],
        ),
        (
            STACK,
            "jdk.types.StackTrace",
            vec![
                ("truncated", BOOLEAN, false, false),
                ("frames", FRAME, false, true),
            ],
        ),
        (
            STATE,
            "jdk.types.ThreadState",
            vec![("name", STRING, false, false)],
        ),
        (
            FRAME_TYPE,
            "jdk.types.FrameType",
            vec![("description", STRING, false, false)],
        ),
        (
            EXECUTION,
            "jdk.ExecutionSample",
            vec![
                ("startTime", LONG, false, false),
                ("stackTrace", STACK, true, false),
                ("state", STATE, true, false),
                ("contextId", LONG, false, false),
                ("spanId", LONG, false, false),
                ("spanName", LONG, false, false),
            ],
        ),
        (
            SETTING,
            "jdk.ActiveSetting",
            vec![
                ("id", LONG, false, false),
                ("name", STRING, false, false),
                ("value", STRING, false, false),
            ],
        ),
    ]
}

/// The metadata event of `classes` (body only, for [`W::event`]).
pub(crate) fn metadata(classes: &[ClassDef], compressed: bool) -> Vec<u8> {
    let mut strings: Vec<String> = Vec::new();
    let mut s = |x: &str| -> u64 {
        if let Some(i) = strings.iter().position(|y| y == x) {
            return i as u64;
        }
        strings.push(x.to_string());
        (strings.len() - 1) as u64
    };
    let mut tree = W::new(compressed);
    let (root, meta, class, field) = (s("root"), s("metadata"), s("class"), s("field"));
    let (id, name, cls, cp, dim) = (
        s("id"),
        s("name"),
        s("class"),
        s("constantPool"),
        s("dimension"),
    );
    let (t, one) = (s("true"), s("1"));
    tree.int(root).int(0).int(1);
    tree.int(meta).int(0).int(classes.len() as u64);
    for (cid, cname, fields) in classes {
        let (cid, cname) = (s(&cid.to_string()), s(cname));
        tree.int(class).int(2).int(id).int(cid).int(name).int(cname);
        tree.int(fields.len() as u64);
        for (fname, ftype, fcp, farray) in fields {
            let (fname, ftype) = (s(fname), s(&ftype.to_string()));
            let attrs = 2 + u64::from(*fcp) + u64::from(*farray);
            tree.int(field)
                .int(attrs)
                .int(name)
                .int(fname)
                .int(cls)
                .int(ftype);
            if *fcp {
                tree.int(cp).int(t);
            }
            if *farray {
                tree.int(dim).int(one);
            }
            tree.int(0);
        }
    }
    let mut body = W::new(compressed);
    body.long(0)
        .long(0)
        .long(0)
        .long(0)
        .int(strings.len() as u64);
    for x in &strings {
        body.str(x);
    }
    body.buf.extend_from_slice(&tree.buf);
    body.buf
}

/// Knobs of [`recording`].
#[derive(Clone)]
pub(crate) struct Synth {
    pub(crate) compressed: bool,
    /// Symbols given as string pool references (string encoding 2).
    pub(crate) pooled_strings: bool,
    /// `jdk.ActiveSetting` events: (event type id, name, value).
    pub(crate) settings: Vec<(u64, &'static str, &'static str)>,
    /// Execution samples: stack trace id, context id, span id, span name.
    pub(crate) samples: Vec<(u64, u64, u64, u64)>,
}

impl Default for Synth {
    fn default() -> Self {
        Synth {
            compressed: true,
            pooled_strings: false,
            settings: vec![],
            samples: vec![(1, 0, 0, 0), (1, 0, 0, 0), (2, 0, 0, 0), (3, 0, 0, 0)],
        }
    }
}

/// One chunk: classes `Main` and `Lib$$Lambda$7/0x1`, methods `main` (1), `work` (2),
/// `run` (3); stack traces 1 = main:1 > work:7, 2 = main:1 > run:3 (truncated),
/// 3 = main:1 > [method 99, not in the pool] > work:8; thread state 1 = running.
pub(crate) fn recording(o: &Synth) -> Vec<u8> {
    let c = o.compressed;
    let mut w = W::new(c);
    w.buf.resize(68, 0);
    let meta_at = w.buf.len();
    w.event(&metadata(&classes(), c));
    for &(id, name, value) in &o.settings {
        let mut e = W::new(c);
        e.long(SETTING).long(id).str(name).str(value);
        w.event(&e.buf);
    }
    for &(stack, ctx, span, span_name) in &o.samples {
        let mut e = W::new(c);
        e.long(EXECUTION)
            .long(5)
            .long(stack)
            .long(1)
            .long(ctx)
            .long(span)
            .long(span_name);
        w.event(&e.buf);
    }
    let cp_at = w.buf.len();
    let mut p = W::new(c);
    p.long(1).long(0).long(0).long(0).byte(0);
    let mut types = 0;
    let mut pool = W::new(c);
    let text = |pool: &mut W, i: u64, s: &str| {
        if o.pooled_strings {
            pool.byte(2).long(100 + i);
        } else {
            pool.str(s);
        }
    };
    let symbols = ["Main", "main", "work", "run", "Lib$$Lambda$7/0x1"];
    if o.pooled_strings {
        types += 1;
        pool.long(STRING).int(symbols.len() as u64);
        for (i, s) in symbols.iter().enumerate() {
            pool.long(100 + i as u64).str(s);
        }
    }
    types += 1;
    pool.long(SYMBOL).int(symbols.len() as u64);
    for (i, s) in symbols.iter().enumerate() {
        pool.long(i as u64 + 1);
        text(&mut pool, i as u64, s);
    }
    types += 1;
    pool.long(CLASS).int(2).long(1).long(1).long(2).long(5);
    types += 1;
    pool.long(METHOD).int(3);
    pool.long(1)
        .long(1)
        .long(2)
        .long(2)
        .long(1)
        .long(3)
        .long(3)
        .long(2)
        .long(4);
    types += 1;
    pool.long(STATE).int(1).long(1).str("STATE_RUNNABLE");
    types += 1;
    pool.long(FRAME_TYPE)
        .int(2)
        .long(1)
        .str("Interpreted")
        .long(2)
        .str("JIT compiled");
    types += 1;
    pool.long(STACK).int(3);
    // Leaf first.
    pool.long(1).byte(0).int(2);
    pool.long(2).int(7).long(2).long(1).int(1).long(1);
    pool.long(2).byte(1).int(2);
    pool.long(3).int(3).long(1).long(1).int(1).long(1);
    pool.long(3).byte(0).int(3);
    pool.long(2)
        .int(8)
        .long(1)
        .long(99)
        .int(5)
        .long(1)
        .long(1)
        .int(1)
        .long(1);
    p.int(types);
    p.buf.extend_from_slice(&pool.buf);
    w.event(&p.buf);
    let size = w.buf.len() as u64;
    let header = &mut w.buf[..68];
    header[..4].copy_from_slice(b"FLR\0");
    header[4..8].copy_from_slice(&[0, 2, 0, 1]);
    header[8..16].copy_from_slice(&size.to_be_bytes());
    header[16..24].copy_from_slice(&(cp_at as u64).to_be_bytes());
    header[24..32].copy_from_slice(&(meta_at as u64).to_be_bytes());
    header[32..40].copy_from_slice(&1_700_000_000_000_000_000u64.to_be_bytes());
    header[40..48].copy_from_slice(&5_000_000_000u64.to_be_bytes());
    header[56..64].copy_from_slice(&1_000_000_000u64.to_be_bytes());
    header[64..68].copy_from_slice(&u32::from(c).to_be_bytes());
    w.buf
}
