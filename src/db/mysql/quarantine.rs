//! MariaDB/MySQL's quarantine: the quarantined accounts locked (`ALTER USER ... ACCOUNT LOCK`) and their sessions ended; opened by unlocking them.

use sqlx::{AssertSqlSafe, Row};

use super::grants::Account;
use super::{Mysql, mysql_error};
use crate::exit::ToolError;
use crate::quarantine::{Closing, Quarantine};

fn accounts(roles: &[String]) -> Result<Vec<Account>, ToolError> {
    roles
        .iter()
        .map(|text| {
            Account::parse(text).ok_or_else(|| {
                ToolError::usage(format!("quarantine.roles: {text:?} is not an account"))
                    .hint("name accounts as 'user'@'host'")
            })
        })
        .collect()
}

impl Mysql {
    /// Whether the account exists, and whether it is locked.
    async fn lock_state(&mut self, account: &Account) -> Result<Option<bool>, ToolError> {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?")
                .bind(account.user())
                .bind(account.host())
                .fetch_optional(&mut self.conn)
                .await
                .map_err(|e| mysql_error("mysql.user", e))?;
        if exists.is_none() {
            return Ok(None);
        }
        let create = sqlx::raw_sql(AssertSqlSafe(format!("SHOW CREATE USER {}", account.sql())))
            .fetch_one(&mut self.conn)
            .await
            .map_err(|e| mysql_error("", e))?;
        let text: String = create.try_get(0).map_err(|e| mysql_error("", e))?;
        Ok(Some(text.contains("ACCOUNT LOCK")))
    }
}

impl Quarantine for Mysql {
    async fn close_quarantine(&mut self, roles: &[String]) -> Result<Closing, ToolError> {
        let mut closing = Closing::default();
        for account in accounts(roles)? {
            match self.lock_state(&account).await? {
                // A kept account the restore creates is created locked:
                // opening unlocks it.
                None => {
                    closing
                        .closed
                        .push(format!("{account} does not exist: nothing to lock"));
                    closing.reopen.push(account.to_string());
                }
                Some(true) => closing.closed.push(format!("{account} already locked")),
                Some(false) => {
                    sqlx::raw_sql(AssertSqlSafe(format!(
                        "ALTER USER {} ACCOUNT LOCK",
                        account.sql()
                    )))
                    .execute(&mut self.conn)
                    .await
                    .map_err(|e| {
                        mysql_error("", e).hint(
                            "the restoring account needs CREATE USER to lock accounts; or set [quarantine] enabled = false",
                        )
                    })?;
                    closing.closed.push(format!("{account} locked"));
                    closing.reopen.push(account.to_string());
                }
            }
            let sessions: Vec<i64> = sqlx::query_scalar(
                "SELECT CAST(ID AS SIGNED) FROM information_schema.PROCESSLIST
                 WHERE USER = ? AND ID <> CONNECTION_ID()",
            )
            .bind(account.user())
            .fetch_all(&mut self.conn)
            .await
            .map_err(|e| mysql_error("", e))?;
            for id in sessions {
                // A session that ended meanwhile is not an error.
                if sqlx::raw_sql(AssertSqlSafe(format!("KILL CONNECTION {id}")))
                    .execute(&mut self.conn)
                    .await
                    .is_ok()
                {
                    closing.sessions_ended += 1;
                }
            }
        }
        Ok(closing)
    }

    async fn open_quarantine(&mut self, reopen: &[String]) -> Result<Vec<String>, ToolError> {
        let mut opened = Vec::new();
        let reopen = super::roles::opening(reopen, &self.kept_opening);
        for account in accounts(&reopen)? {
            if self.lock_state(&account).await? == Some(true) {
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "ALTER USER {} ACCOUNT UNLOCK",
                    account.sql()
                )))
                .execute(&mut self.conn)
                .await
                .map_err(|e| mysql_error("", e))?;
                opened.push(format!("{account} unlocked"));
            }
        }
        Ok(opened)
    }
}
