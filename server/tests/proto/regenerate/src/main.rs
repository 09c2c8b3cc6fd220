//! Regenerates flamedb's `server/tests/common/pyroscope_api.rs`: prost message and enum
//! types for Grafana Pyroscope's `querier.v1`, `types.v1` and `google.v1` protos, compiled
//! with protox (a pure-Rust protobuf compiler) so no `protoc` is needed. Services are not
//! generated (no service generator is configured).
//!
//! Usage: `cargo run --release -- <pyroscope-checkout> <commit> <out-file>` (README.md)
//! where `<pyroscope-checkout>` is a checkout of https://github.com/grafana/pyroscope at
//! `<commit>` (the protos are read from its `api/` directory). See README.md.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The protos whose types are generated, relative to pyroscope's `api/` directory, with
/// the proto package of each. The first one imports the other two.
const FILES: [(&str, &str); 3] = [
    ("querier/v1/querier.proto", "querier.v1"),
    ("types/v1/types.proto", "types.v1"),
    ("google/v1/profile.proto", "google.v1"),
];

/// The generator's pinned crate versions, written into the header. Keep in step with
/// Cargo.toml.
const GENERATOR: &str = "prost-build 0.14.6 + protox 0.10.0 (prost-types 0.14.6)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [checkout, commit, out] = args.as_slice() else {
        eprintln!("usage: pyroscope-api-protogen <pyroscope-checkout> <commit> <out-file>");
        return ExitCode::from(2);
    };
    match run(Path::new(checkout), commit, Path::new(out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(checkout: &Path, commit: &str, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let api = checkout.join("api");
    // Stand-in for buf's gnostic dependency (see stub/.../annotations.proto).
    let stub = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("stub");

    let mut compiler = protox::Compiler::new([&api, &stub])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(FILES.map(|(path, _)| path))?;
    let mut fds = compiler.file_descriptor_set();
    // Drop gnostic and google/protobuf/descriptor.proto: only pyroscope's own packages are
    // generated. No kept message has a field of a dropped type (custom options only).
    fds.file.retain(|f| {
        FILES
            .iter()
            .any(|(path, _)| f.name.as_deref() == Some(*path))
    });

    let tmp = std::env::temp_dir().join(format!("pyroscope-api-protogen-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    prost_build::Config::new()
        .out_dir(&tmp)
        .disable_comments(["."])
        .compile_fds(fds)?;

    let mut s = header(commit);
    // Packages nest as `<a>::<b>`, so `super::super::types::v1::X` in `querier::v1`
    // resolves to this file's `types::v1::X`.
    for (_, package) in FILES {
        let (outer, inner) = package.split_once('.').ok_or("package without a dot")?;
        let code = std::fs::read_to_string(tmp.join(format!("{package}.rs")))?;
        writeln!(s)?;
        writeln!(
            s,
            "#[allow(missing_docs, dead_code, unreachable_pub, clippy::all, clippy::pedantic)]"
        )?;
        writeln!(s, "pub mod {outer} {{")?;
        writeln!(s, "    pub mod {inner} {{")?;
        for line in code.lines() {
            if line.is_empty() {
                writeln!(s)?;
            } else {
                writeln!(s, "        {line}")?;
            }
        }
        writeln!(s, "    }}")?;
        writeln!(s, "}}")?;
    }
    std::fs::remove_dir_all(&tmp)?;
    std::fs::write(out, s)?;
    // Leave it as `cargo fmt` would, so flamedb's formatting check passes.
    let status = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(out)
        .status()?;
    if !status.success() {
        return Err(format!("rustfmt failed: {status}").into());
    }
    Ok(())
}

fn header(commit: &str) -> String {
    let paths: String = FILES
        .iter()
        .map(|(p, _)| format!("//   api/{p}\n"))
        .collect();
    format!(
        "// @generated: do not edit; regenerate with server/tests/proto/regenerate (README.md).
//
// Prost types (messages and enums only, no services) for Grafana Pyroscope's query API.
// Upstream: https://github.com/grafana/pyroscope at commit {commit}
// Protos:
{paths}//
// Licence of those protos: Apache License 2.0 (pyroscope's api/LICENSE, \"Copyright
// 2020-2023 Grafana Labs\"; api/google/v1/profile.proto is \"Copyright 2016 Google Inc.\",
// also Apache-2.0). The rest of the pyroscope repository is AGPL-3.0; nothing from it is
// used here.
//
// Generator: {GENERATOR}, no protoc.
// The protos' import of buf's gnostic OpenAPI annotations is replaced by a stub declaring
// only the two custom options they use (prost ignores custom options).
// Regenerate (from flamedb's repository root, with a pyroscope checkout at that commit):
//   cargo run --release --manifest-path server/tests/proto/regenerate/Cargo.toml \\
//     --target-dir /tmp/pyroscope-api-protogen -- \\
//     <pyroscope-checkout> <commit> server/tests/common/pyroscope_api.rs
// Needs only the `prost` crate (0.14); no prost-types.
"
    )
}
