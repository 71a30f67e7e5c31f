//! MariaDB/MySQL's half of `[[hook]]`: a hook in a transaction of its own (a statement that commits by itself, DDL, commits it early: the server's rule); one statement as a prepared statement, a script as a simple query.

use sqlx::AssertSqlSafe;

use super::{Mysql, mysql_error};
use crate::exit::ToolError;
use crate::hooks::HookRunner;

impl HookRunner for Mysql {
    async fn run_hook(&mut self, sql: &str, many: bool) -> Result<u64, ToolError> {
        self.execute("START TRANSACTION").await?;
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
                Err(mysql_error("", error))
            }
        }
    }
}
