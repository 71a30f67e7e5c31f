//! Views, routines, triggers and events of the URL's database.

use sqlx::mysql::MySqlConnection;

use super::{object, query, unqualified};
use crate::compare::Snapshot;
use crate::exit::ToolError;

/// Adds the views, functions, procedures, triggers and events to `snapshot`.
pub(super) async fn read(
    conn: &mut MySqlConnection,
    database: &str,
    snapshot: &mut Snapshot,
) -> Result<(), ToolError> {
    for row in query(
        conn,
        "views",
        "SELECT TABLE_NAME, VIEW_DEFINITION, CHECK_OPTION, SECURITY_TYPE
         FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?",
        database,
        None,
    )
    .await?
    {
        let [name, definition, check, security] = <[Option<String>; 4]>::try_from(row)
            .map_err(|_| ToolError::failed("views: unexpected catalog output"))?;
        snapshot.objects.push(object(
            "view",
            name.unwrap_or_default(),
            None,
            vec![
                ("definition", definition.map(|d| unqualified(&d, database))),
                ("check_option", check),
                ("security", security),
            ],
        ));
    }
    for row in query(
        conn,
        "routines",
        "SELECT LOWER(r.ROUTINE_TYPE), r.ROUTINE_NAME, r.ROUTINE_DEFINITION, r.DTD_IDENTIFIER,
                r.IS_DETERMINISTIC, r.SECURITY_TYPE, r.SQL_DATA_ACCESS,
                (SELECT GROUP_CONCAT(CONCAT_WS(' ', p.PARAMETER_MODE, p.PARAMETER_NAME, p.DTD_IDENTIFIER)
                                     ORDER BY p.ORDINAL_POSITION SEPARATOR ', ')
                 FROM information_schema.PARAMETERS p
                 WHERE p.SPECIFIC_SCHEMA = r.ROUTINE_SCHEMA AND p.SPECIFIC_NAME = r.SPECIFIC_NAME
                   AND p.ROUTINE_TYPE = r.ROUTINE_TYPE AND p.ORDINAL_POSITION > 0)
         FROM information_schema.ROUTINES r WHERE r.ROUTINE_SCHEMA = ?",
        database,
        None,
    )
    .await?
    {
        let [kind, name, body, returns, deterministic, security, access, parameters] =
            <[Option<String>; 8]>::try_from(row)
                .map_err(|_| ToolError::failed("routines: unexpected catalog output"))?;
        snapshot.objects.push(object(
            &kind.unwrap_or_default(),
            name.unwrap_or_default(),
            None,
            vec![
                ("body", body),
                ("parameters", Some(parameters.unwrap_or_default())),
                ("returns", returns),
                ("deterministic", deterministic),
                ("security", security),
                ("data_access", access),
            ],
        ));
    }
    for row in query(
        conn,
        "triggers",
        "SELECT EVENT_OBJECT_TABLE, TRIGGER_NAME, ACTION_TIMING, EVENT_MANIPULATION,
                ACTION_STATEMENT, CAST(ACTION_ORDER AS CHAR)
         FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?",
        database,
        None,
    )
    .await?
    {
        let [table, name, timing, event, body, order] = <[Option<String>; 6]>::try_from(row)
            .map_err(|_| ToolError::failed("triggers: unexpected catalog output"))?;
        let table = table.unwrap_or_default();
        snapshot.objects.push(object(
            "trigger",
            format!("{table}.{}", name.unwrap_or_default()),
            Some(&table),
            vec![
                ("timing", timing),
                ("event", event),
                ("body", body),
                ("order", order),
            ],
        ));
    }
    // STARTS is left out: it defaults to the moment the event was created.
    for row in query(
        conn,
        "events",
        "SELECT EVENT_NAME, EVENT_DEFINITION, EVENT_TYPE, CAST(EXECUTE_AT AS CHAR),
                CONCAT(INTERVAL_VALUE, ' ', INTERVAL_FIELD), CAST(ENDS AS CHAR), STATUS, ON_COMPLETION
         FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?",
        database,
        None,
    )
    .await?
    {
        let [name, body, kind, at, every, ends, status, completion] =
            <[Option<String>; 8]>::try_from(row)
                .map_err(|_| ToolError::failed("events: unexpected catalog output"))?;
        snapshot.objects.push(object(
            "event",
            name.unwrap_or_default(),
            None,
            vec![
                ("body", body),
                ("schedule", kind),
                ("execute_at", at),
                ("every", every),
                ("ends", ends),
                ("status", status),
                ("on_completion", completion),
            ],
        ));
    }
    Ok(())
}
