//! URLs with an IPv6 literal (`postgres://user@[::1]:PORT/db`): the restore's whole day runs through them, on a server of the test's own that listens on the IPv6 loopback.

mod common;

use common::cluster::{self, Cluster};
use common::pg::Site;

#[test]
fn an_ipv6_literal_url_reaches_the_server() {
    let test = "an_ipv6_literal_url_reaches_the_server";
    let Some(bin) = cluster::binaries(test) else {
        return;
    };
    if !std::path::Path::new("/proc/net/if_inet6").exists() {
        println!("skipped {test}: this machine has no IPv6");
        return;
    }
    let server = Cluster::new(&bin);
    server.psql("postgres", "CREATE DATABASE camis");
    server.psql(
        "camis",
        "CREATE TABLE app_user (id int PRIMARY KEY, login text);
         INSERT INTO app_user VALUES (1, 'alice'), (2, 'bob');",
    );
    let site = Site::with_url(&server.url_ipv6("camis"));
    site.configure("[[preserve]]\ntable = \"app_user\"\n");
    site.capture().expect(0);
    server.psql("camis", "DELETE FROM app_user");
    let run = site.restore(&["--steps", "restore,health"]).expect(0);
    assert_eq!(
        server.psql("camis", "SELECT count(*) FROM app_user"),
        "2",
        "{run:#?}"
    );
}
