//! PostgreSQL helpers shared by the core's audit store and the server's PostgreSQL backend
//! (feature `postgres`).

use std::collections::HashMap;

use postgres::{GenericClient, Statement, types::Type};

/// The prepared statements of one connection, by SQL text. A statement sent as text is
/// parsed, analysed and planned by the server on every execution; one prepared once is only
/// bound and run (after its first executions PostgreSQL keeps a generic plan). On the hot
/// paths that was a third of the database's CPU time per request.
///
/// Keep one cache per connection, next to it, and drop it with the connection: prepared
/// statements belong to the session that prepared them.
#[derive(Debug, Default)]
pub struct Statements(HashMap<Box<str>, Statement>);

impl Statements {
    /// `sql` prepared on `c`'s connection (once), with the parameter types the server infers.
    pub fn get(&mut self, c: &mut impl GenericClient, sql: &str) -> Result<Statement, postgres::Error> {
        self.typed(c, sql, &[])
    }

    /// `sql` prepared on `c`'s connection (once), with the first parameters' types given. The
    /// cache is keyed by the SQL text alone: a statement keeps the types of its first preparation.
    pub fn typed(
        &mut self,
        c: &mut impl GenericClient,
        sql: &str,
        types: &[Type],
    ) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = c.prepare_typed(sql, types)?;
        self.0.insert(sql.into(), s.clone());
        Ok(s)
    }
}

/// A connection with its prepared statements (it dereferences to the connection, for
/// statements that are not worth preparing).
pub struct Session {
    /// The connection.
    pub client: postgres::Client,
    /// Its prepared statements.
    pub stmts: Statements,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("prepared", &self.stmts.0.len()).finish_non_exhaustive()
    }
}

impl Session {
    /// A session on `client`.
    pub fn new(client: postgres::Client) -> Self {
        Session { client, stmts: Statements::default() }
    }

    /// Runs `sql` (prepared once, parameter types as in [`Statements::typed`]); at most one row.
    pub fn query_opt_prepared(
        &mut self,
        sql: &str,
        types: &[Type],
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Option<postgres::Row>, postgres::Error> {
        let st = self.stmts.typed(&mut self.client, sql, types)?;
        self.client.query_opt(&st, params)
    }

    /// Runs `sql` (prepared once); the number of rows it changed.
    pub fn execute_prepared(
        &mut self,
        sql: &str,
        types: &[Type],
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let st = self.stmts.typed(&mut self.client, sql, types)?;
        self.client.execute(&st, params)
    }
}

impl std::ops::Deref for Session {
    type Target = postgres::Client;

    fn deref(&self) -> &postgres::Client {
        &self.client
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut postgres::Client {
        &mut self.client
    }
}
