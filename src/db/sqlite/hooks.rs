//! SQLite's half of `[[hook]]`: a hook in a transaction of its own (BEGIN IMMEDIATE); the text is checked to be one statement unless the hook says `statements = "many"`.

use sqlx::AssertSqlSafe;

use super::{Sqlite, query_error};
use crate::exit::ToolError;
use crate::hooks::HookRunner;

impl HookRunner for Sqlite {
    async fn run_hook(&mut self, sql: &str, many: bool) -> Result<u64, ToolError> {
        self.execute("BEGIN IMMEDIATE").await?;
        let done = if many {
            sqlx::raw_sql(AssertSqlSafe(sql.to_owned()))
                .execute(&mut self.conn)
                .await
        } else {
            sqlx::query(AssertSqlSafe(sql.to_owned()))
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
                Err(query_error("", error))
            }
        }
    }
}
