//! Sessions: one per query (or per HTTP request) for one tenant, with its tables and
//! functions registered and its memory bounded.

use crate::config::FlameConfig;
use crate::context::FlameContext;
use crate::functions::{self, common::Bound, max_nodes_rewrite::MaxNodesRewrite};
use crate::table::events::ChangeEventsTable;
use crate::table::{FlameTable, collapse::CollapseRule, schema::TableKind};
use datafusion::error::Result;
use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use std::collections::HashMap;
use std::sync::Arc;

/// A session over `tenant`'s data: `samples`, `profiles`, `change_events`, the flame-graph functions,
/// `information_schema` (for `SHOW FUNCTIONS`), `flame.*` settings, and a memory pool of
/// the context's configured size (a query over it fails with "Resources exhausted").
/// No file-backed table factories are installed.
pub fn tenant_session(ctx: &Arc<FlameContext>, tenant: &str) -> Result<SessionContext> {
    let qc = ctx.config();
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_option_extension(FlameConfig::default());
    if qc.target_partitions > 0 {
        config = config.with_target_partitions(qc.target_partitions);
    }
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(qc.memory_limit)))
        .build_arc()?;
    let mut state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_table_factories(HashMap::new())
        .with_physical_optimizer_rule(Arc::new(CollapseRule))
        .build();
    state.register_function_rewrite(Arc::new(MaxNodesRewrite))?;
    let session = SessionContext::new_with_state(state);
    for kind in [TableKind::Samples, TableKind::Profiles] {
        session.register_table(
            kind.name(),
            Arc::new(FlameTable::new(ctx.clone(), tenant, kind)),
        )?;
    }
    session.register_table(
        crate::table::events::CHANGE_EVENTS,
        Arc::new(ChangeEventsTable::new(ctx.clone(), tenant)),
    )?;
    let bound = Bound {
        ctx: ctx.clone(),
        tenant: tenant.to_string(),
    };
    functions::register_all(&session, &bound);
    functions::guard::register(&session, qc.memory_limit / 4);
    session.register_udtf(
        "function_shares",
        Arc::new(crate::regress::sql::FunctionSharesFunc(bound.clone())),
    );
    session.register_udtf(
        "regressions",
        Arc::new(crate::regress::sql::RegressionsFunc(bound)),
    );
    Ok(session)
}

/// SQL options for untrusted callers: no DDL (CREATE [EXTERNAL] TABLE/VIEW, DROP), no DML
/// (INSERT, COPY), no statements (SET, PREPARE...); checked on the whole plan, subqueries
/// included. Settings travel beside the SQL instead, through an allow-list.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}
