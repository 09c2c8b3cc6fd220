//! `flamedb serve [--data DIR] [--listen ADDR] [--config FILE]`: the HTTP server.

use super::limits_args::LimitArgs;
use super::query_args::QueryArgs;
use super::server_args::ServerArgs;
use super::storage_args::StorageArgs;
use crate::http::alerts::Alerter;
use crate::http::metrics::Metrics;
use crate::http::{AppState, router};
use anyhow::{Context, Result};
use clap::Args;
use flamedb_service::inspect::Inspector;
use flamedb_storage::{AppendOptions, LabelLimits, Store, StoreConfig};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Arguments of `flamedb serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Settings file: one `flag-name = value` per line (`#` comments, values may be
    /// double-quoted, a repeated name gives several values). Flags and FLAMEDB_*
    /// variables win over the file.
    #[arg(long, env = "FLAMEDB_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub storage: StorageArgs,
    #[command(flatten)]
    pub query: QueryArgs,
}

/// Runs the server until SIGTERM or ctrl-c, then stops accepting, lets in-flight requests
/// finish, flushes every head to blocks and closes the store.
pub async fn run(args: ServeArgs) -> Result<ExitCode> {
    init_tracing();
    let decode = args.limits.limits();
    let http_limits = args.server.limits(decode.max_decompressed_bytes)?;
    let auth = args.server.auth()?;
    let (every, flush_age) = args.server.flush_times()?;
    let config = StoreConfig {
        decode,
        flush_age,
        append: AppendOptions {
            label_limits: LabelLimits {
                max_labels: args.server.http.max_labels_per_series,
                ..LabelLimits::default()
            },
            ..AppendOptions::default()
        },
        ..StoreConfig::default()
    };
    let store = args.storage.open(config).await?;
    let engine = {
        let (objects, root) = store.objects();
        args.query.engine(objects.clone(), root.clone())?
    };
    let listener = tokio::net::TcpListener::bind(&args.server.listen)
        .await
        .with_context(|| format!("listening on {}", args.server.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, data = %args.storage.data.display(), store = %args.storage.store,
        auth = auth.enabled(), "flamedb serving");
    let (maintain_every, compaction) = args.server.maintenance.config()?;
    // Queries flush a tenant's heads first when it has unflushed profiles: what was
    // acknowledged is what a query reads, without waiting for --flush-age-secs.
    engine.read_acknowledged(store.clone());
    let inspect_every = args.server.inspection.interval()?;
    let mut state = AppState::new(store.clone(), http_limits, auth, engine.clone());
    state.compaction = Arc::new(compaction);
    {
        let i = &args.server.inspection;
        let (objects, root) = store.objects();
        state.inspector = Arc::new(Inspector::new(
            engine,
            objects.clone(),
            root.clone(),
            i.inspect_min_pp,
        ));
        state.alerter = Arc::new(Alerter::new(
            i.alert_webhooks.clone(),
            i.alert_max_attempts,
            Duration::from_secs_f64(i.alert_timeout_secs),
        )?);
    }
    state
        .metrics
        .wal_quarantined
        .inc_by(store.quarantined_records());
    let flusher = spawn_flusher(store.clone(), state.metrics.clone(), every);
    let maintainer = maintain_every.map(|every| spawn_maintainer(state.clone(), every));
    let inspector = inspect_every.map(|every| spawn_inspector(state.clone(), every));
    // Installed before the address is printed: a SIGTERM right after it is a clean stop.
    let shutdown = shutdown_signal()?;
    {
        // The line tests and scripts wait for; stdout carries nothing else.
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {addr}")?;
        out.flush()?;
    }
    // The OTLP/gRPC listener serves the same router and stops with the main one.
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let grpc = match &args.server.otlp_grpc_listen {
        None => None,
        Some(a) => {
            let l = tokio::net::TcpListener::bind(a)
                .await
                .with_context(|| format!("--otlp-grpc-listen {a}"))?;
            tracing::info!(addr = %l.local_addr()?, "OTLP/gRPC listening");
            let serve = axum::serve(l, router(state.clone())).with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            });
            Some(tokio::spawn(async move { serve.await }))
        }
    };
    axum::serve(listener, router(state.clone()))
        .with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        })
        .await
        .context("serving HTTP")?;
    if let Some(grpc) = grpc {
        grpc.await
            .context("the OTLP/gRPC listener")?
            .context("serving OTLP/gRPC")?;
    }
    tracing::info!("stopped accepting; flushing");
    flusher.abort();
    let _ = flusher.await;
    for task in [maintainer, inspector].into_iter().flatten() {
        task.abort();
        let _ = task.await;
    }
    let written = store.flush_due(true).await.context("final flush")?;
    state.metrics.blocks_written.inc_by(written.len() as u64);
    tracing::info!(blocks = written.len(), "store closed");
    Ok(ExitCode::SUCCESS)
}

/// Flushes heads due by size or age every `every`, counting flushes and blocks.
fn spawn_flusher(
    store: Store,
    metrics: Arc<Metrics>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match store.flush_due(false).await {
                Ok(blocks) if !blocks.is_empty() => {
                    metrics.flushes.inc();
                    metrics.blocks_written.inc_by(blocks.len() as u64);
                }
                Ok(_) => {}
                Err(e) => {
                    metrics.flush_errors.inc();
                    tracing::warn!(error = %e, "background flush failed; will retry");
                }
            }
        }
    })
}

/// Inspects every tenant every `every` (the first after one interval): each app whose
/// newest version got new data is compared with its previous version and its findings
/// recorded; new ones are alerted in the background. A failure is logged and the next
/// interval tries again.
fn spawn_inspector(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let tenants = match state.store.tenants().await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "listing tenants for inspection failed; will retry");
                    continue;
                }
            };
            for tenant in tenants {
                match state.inspector.inspect(&tenant).await {
                    Ok(r) => {
                        if r.new_findings > 0 || !r.errors.is_empty() {
                            tracing::info!(%tenant, compared = r.compared, new = r.new_findings,
                                verified = r.verified, errors = ?r.errors, "inspection");
                        }
                        state
                            .alerter
                            .spawn_round(state.inspector.clone(), tenant.clone());
                    }
                    Err(e) => {
                        tracing::warn!(%tenant, error = %e.message, "inspection failed; will retry");
                    }
                }
            }
        }
    })
}

/// Runs a maintenance pass over every tenant every `every` (the first after one interval),
/// one at a time with `POST /api/v1/compact` (`state.maintenance`):
/// compaction, shared dictionaries, garbage collection and retention, counted in the
/// metrics; a failed pass is logged and retried at the next interval.
fn spawn_maintainer(state: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let (store, metrics) = (&state.store, &state.metrics);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let tenants = match store.tenants().await {
                Ok(t) => t,
                Err(e) => {
                    metrics.maintenance_errors.inc();
                    tracing::warn!(error = %e, "listing tenants for maintenance failed; will retry");
                    continue;
                }
            };
            for tenant in tenants {
                let _pass = state.maintenance.lock().await;
                let report =
                    metrics.count_maintenance(store.maintain(&tenant, &state.compaction).await);
                match report {
                    Ok(r) if !r.compacted.is_empty() || !r.shared.is_empty() || r.deleted > 0 => {
                        tracing::info!(%tenant, compacted = r.compacted.len(),
                            shared = r.shared.len(), deleted = r.deleted, "maintenance");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(%tenant, error = %e, "maintenance failed; will retry");
                    }
                }
            }
        }
    })
}

/// Resolves on SIGTERM or SIGINT (ctrl-c); the handlers are installed when this returns.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("ctrl-c received"),
        }
    })
}

/// Logs to stderr; the level comes from `FLAMEDB_LOG` (`info` by default, e.g.
/// `FLAMEDB_LOG=debug` or `flamedb_server=debug,info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("FLAMEDB_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
