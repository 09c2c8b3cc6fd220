//! `flamedb query "SQL" (--server URL | --data DIR) [--format table|csv|json]
//! [--setting KEY=VALUE]...`

use super::query_target::{Target, TargetArgs};
use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use clap::{Args, ValueEnum};
use flamedb_service::query::SqlRequest;
use flamedb_service::query::encode::{Encoder, ResultFormat};
use std::io::Write;
use std::process::ExitCode;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// A JSON array of row objects.
    Json,
}

/// Arguments of `flamedb query`.
#[derive(Debug, Args)]
pub struct QueryCmdArgs {
    /// Read-only SQL over the tables `samples` and `profiles`.
    sql: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutFormat::Table)]
    format: OutFormat,
    /// A query setting such as `flame.max_nodes=2048`; repeat for several.
    #[arg(long = "setting", value_name = "KEY=VALUE")]
    settings: Vec<String>,
    #[command(flatten)]
    target: TargetArgs,
}

/// Runs the query and prints its result on stdout.
pub async fn run(args: QueryCmdArgs) -> Result<ExitCode> {
    let mut settings = vec![];
    for s in &args.settings {
        let Some((k, v)) = s.split_once('=') else {
            bail!("--setting {s:?}: expected KEY=VALUE");
        };
        settings.push((k.trim().to_string(), v.trim().to_string()));
    }
    match args.target.connect()? {
        Target::Remote(remote) => remote_query(&remote, &args, &settings).await?,
        Target::Local(engine) => {
            let req = SqlRequest {
                sql: args.sql.clone(),
                settings,
            };
            let mut results = engine.sql(&args.target.tenant, &req).await?;
            let mut out = Output::new(args.format, &results.schema)?;
            while let Some(batch) = results.next().await {
                out.batch(batch?)?;
            }
            out.finish()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn remote_query(
    remote: &super::remote::Remote,
    args: &QueryCmdArgs,
    settings: &[(String, String)],
) -> Result<()> {
    let format = match args.format {
        OutFormat::Table => "arrow",
        OutFormat::Csv => "csv",
        OutFormat::Json => "json",
    };
    let body = serde_json::json!({
        "sql": args.sql,
        "settings": settings.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
    });
    let mut resp = remote
        .call(
            reqwest::Method::POST,
            "/api/v1/sql",
            &[("format".to_string(), format.to_string())],
            Some(serde_json::to_vec(&body)?),
        )
        .await?;
    if args.format == OutFormat::Table {
        let bytes = resp.bytes().await.context("reading the answer")?;
        let reader = arrow::ipc::reader::StreamReader::try_new(bytes.as_ref(), None)
            .context("reading the Arrow answer")?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        return print_table(&schema, batches);
    }
    let mut stdout = std::io::stdout().lock();
    while let Some(chunk) = resp.chunk().await.context("reading the answer")? {
        stdout.write_all(&chunk)?;
    }
    if args.format == OutFormat::Json {
        writeln!(stdout)?;
    }
    Ok(stdout.flush()?)
}

/// Local results on stdout: CSV and JSON stream, a table is printed at the end.
enum Output {
    Table(arrow::datatypes::SchemaRef, Vec<RecordBatch>),
    Stream(Box<Encoder>, arrow::datatypes::SchemaRef, bool),
}

impl Output {
    fn new(format: OutFormat, schema: &arrow::datatypes::SchemaRef) -> Result<Self> {
        let f = match format {
            OutFormat::Table => return Ok(Output::Table(schema.clone(), vec![])),
            OutFormat::Csv => ResultFormat::Csv,
            OutFormat::Json => ResultFormat::Json,
        };
        f.check(schema).map_err(anyhow::Error::msg)?;
        Ok(Output::Stream(
            Box::new(Encoder::new(f, schema)?),
            schema.clone(),
            f == ResultFormat::Json,
        ))
    }

    fn batch(&mut self, batch: RecordBatch) -> Result<()> {
        match self {
            Output::Table(_, all) => all.push(batch),
            Output::Stream(e, ..) => std::io::stdout().lock().write_all(&e.batch(&batch)?)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<()> {
        match self {
            Output::Table(schema, all) => print_table(&schema, all),
            Output::Stream(mut e, schema, newline) => {
                let mut out = std::io::stdout().lock();
                out.write_all(&e.finish(&schema)?)?;
                if newline {
                    writeln!(out)?;
                }
                Ok(out.flush()?)
            }
        }
    }
}

/// An aligned table (the header even without rows) and the row count.
fn print_table(schema: &arrow::datatypes::SchemaRef, mut batches: Vec<RecordBatch>) -> Result<()> {
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    if batches.is_empty() {
        batches.push(RecordBatch::new_empty(schema.clone()));
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        arrow::util::pretty::pretty_format_batches(&batches)?
    )?;
    writeln!(out, "({rows} row{})", if rows == 1 { "" } else { "s" })?;
    Ok(out.flush()?)
}
