//! PostgreSQL's half of `[[hook]]`: a hook in a transaction of its own; one statement through the extended protocol, a script as a simple query.

use sqlx::AssertSqlSafe;

use super::{Postgres, pg_error};
use crate::exit::ToolError;
use crate::hooks::HookRunner;

impl HookRunner for Postgres {
    async fn run_hook(&mut self, sql: &str, many: bool) -> Result<u64, ToolError> {
        self.execute("BEGIN").await?;
        let done = if many {
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut self.conn)
                .await
        } else {
            sqlx::query(AssertSqlSafe(sql.to_owned()))
                .persistent(false)
                .execute(&mut self.conn)
                .await
        };
        match done {
            Ok(done) => {
                self.execute("COMMIT").await?;
                Ok(done.rows_affected())
            }
            Err(error) => {
                let _ = self.execute("ROLLBACK").await;
                Err(pg_error("", error))
            }
        }
    }
}
