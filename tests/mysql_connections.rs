//! Every MariaDB session vault opens is closed the way the protocol asks (COM_QUIT): the server counts no aborted client and logs no "Aborted connection … reading communication packets" for a capture, a restore, health, links or compare.

mod common;

use common::mysql::{self, Site};
use common::s;

#[test]
fn every_command_closes_its_sessions() {
    let Some(server) = mysql::server("every_command_closes_its_sessions") else {
        return;
    };
    let acceptance = server.database("close_acc");
    let production = server.database("close_prod");
    for db in [&acceptance, &production] {
        db.exec(
            "CREATE TABLE app_user (id int PRIMARY KEY, login varchar(20));
             INSERT INTO app_user VALUES (1, 'a');",
        );
    }
    let site = Site::with_url(&acceptance.url());
    site.configure(&format!(
        "[production]\nurl = \"{}\"\n\n[[preserve]]\ntable = \"app_user\"\n",
        production.url()
    ));
    let aborted = || {
        acceptance.one("SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'ABORTED_CLIENTS'")
    };
    let before = aborted();
    site.capture().expect(0);
    site.restore(&["--steps", "restore,health,links,compare"])
        .expect(0);
    for command in ["health", "links", "compare"] {
        site.vault_with(&[command, "--config", s(&site.config)])
            .expect(0);
    }
    assert_eq!(aborted(), before, "no session ended without COM_QUIT");
}
