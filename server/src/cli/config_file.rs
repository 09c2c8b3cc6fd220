//! `flamedb serve --config FILE`: settings from a file, below flags and FLAMEDB_* variables.
//!
//! The file has one `flag-name = value` per line (the long flag without `--`, `_` or `-`),
//! `#` comments and optionally double-quoted values. Each entry whose flag was not given
//! on the command line or in the environment is appended to the command line, which is
//! then parsed again, so the file is checked exactly like flags are.

use super::Cli;
use anyhow::{Context, Result, bail};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use std::ffi::OsString;
use std::path::Path;

/// Parses the command line, applying `serve --config FILE` when given.
pub fn parse(args: Vec<OsString>) -> Result<Cli> {
    let matches = Cli::command().get_matches_from(args.clone());
    let config = match matches.subcommand() {
        Some(("serve", sub)) => sub.get_one::<std::path::PathBuf>("config").cloned(),
        _ => None,
    };
    let Some(path) = config else {
        return Ok(Cli::from_arg_matches(&matches)?);
    };
    let Some(("serve", sub)) = matches.subcommand() else {
        unreachable!("config is only read for serve")
    };
    let mut full = args;
    full.extend(extra_args(&path, sub)?);
    let matches = Cli::command().get_matches_from(full);
    Ok(Cli::from_arg_matches(&matches)?)
}

/// The `--flag=value` arguments for the file's entries not already set.
fn extra_args(path: &Path, given: &clap::ArgMatches) -> Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading --config {}", path.display()))?;
    let cmd = Cli::command();
    let serve = cmd
        .find_subcommand("serve")
        .context("the serve command is missing")?;
    let mut out = Vec::new();
    for (line_no, (key, value)) in entries(&text)
        .with_context(|| format!("--config {}", path.display()))?
        .into_iter()
        .enumerate()
    {
        let key = key.replace('_', "-");
        let Some(arg) = serve
            .get_arguments()
            .find(|a| a.get_long() == Some(key.as_str()))
        else {
            bail!(
                "--config {}: entry {}: unknown setting {key:?}",
                path.display(),
                line_no + 1
            );
        };
        if key == "config" {
            bail!(
                "--config {}: a config file cannot name another",
                path.display()
            );
        }
        let explicit = matches!(
            given.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if explicit {
            continue;
        }
        if arg.get_action().takes_values() {
            out.push(OsString::from(format!("--{key}={value}")));
        } else if value == "true" {
            out.push(OsString::from(format!("--{key}")));
        } else if value != "false" {
            bail!("--config {}: {key} is true or false", path.display());
        }
    }
    Ok(out)
}

/// `key = value` pairs of the file.
fn entries(text: &str) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            bail!("line {}: expected `name = value`", i + 1);
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        out.push((k.trim().to_string(), v.to_string()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_values_apply_below_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flamedb.conf");
        std::fs::write(
            &path,
            "# settings\nlisten = \"127.0.0.1:9999\"\nmax_body_bytes = 1000\nauth-token = a\nauth-token = b\ns3-allow-http = true\n",
        )
        .unwrap();
        let args = |extra: &[&str]| {
            let mut v: Vec<OsString> = ["flamedb", "serve", "--config"]
                .iter()
                .map(OsString::from)
                .collect();
            v.push(path.clone().into());
            v.extend(extra.iter().map(OsString::from));
            v
        };
        let cli = parse(args(&["--max-body-bytes", "5"])).unwrap();
        let super::super::Command::Serve(s) = cli.command else {
            panic!("serve")
        };
        assert_eq!(s.server.listen, "127.0.0.1:9999");
        assert_eq!(s.server.http.max_body_bytes, 5, "the flag wins");
        assert_eq!(s.server.auth_tokens, vec!["a", "b"]);
        assert!(s.storage.s3_allow_http);
        std::fs::write(&path, "colour = red\n").unwrap();
        let e = parse(args(&[])).err().unwrap();
        assert!(e.to_string().contains("unknown setting"), "{e}");
    }
}
