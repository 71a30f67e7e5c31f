//! What a DBA meets at the terminal and in scripts, through the real binary: completions and the man page, a closed pipe, messages for files that are not what they should be, and key material warnings.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::workflow::refreshed_clinic;
use common::{key_file, make_vault, passphrase, s, text_file, vault};

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef vault"),
        ("fish", "complete -c vault"),
    ] {
        let run = vault(["completions", shell], &[]).expect(0);
        assert!(run.stdout.contains(marker), "{shell}: {}", run.stdout);
        for subcommand in ["restore", "capture", "completions"] {
            assert!(
                run.stdout.contains(subcommand),
                "{shell} lacks {subcommand}"
            );
        }
    }
    let run = vault(["completions", "tcsh"], &[]).expect(2);
    assert!(run.stderr.contains("invalid value"), "{}", run.stderr);
}

#[test]
fn the_man_page_prints_or_is_written_per_command() {
    let run = vault(["man"], &[]).expect(0);
    assert!(run.stdout.starts_with(".ie") || run.stdout.contains(".TH vault 1"));
    assert!(run.stdout.contains(".TH vault 1"), "{}", run.stdout);
    assert!(run.stdout.contains("restore"));

    let dir = tempfile::tempdir().unwrap();
    let run = vault(["man", "--dir", s(dir.path())], &[]).expect(0);
    assert!(run.stdout.contains("wrote the manual pages"));
    for page in [
        "vault.1",
        "vault-restore.1",
        "vault-key-add.1",
        "vault-report-verify.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let missing = dir.path().join("nowhere");
    vault(["man", "--dir", s(&missing)], &[]).expect(2);
}

/// Runs `vault ARGS` with its stdout a pipe whose reader has gone.
fn with_closed_stdout(args: &[&str]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vault"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The only reader goes away; the output (larger than a pipe holds)
    // cannot all have been written before.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_closed_pipe_ends_the_run_quietly_with_141() {
    // `vault check` of many files writes a line each: more than the 64 KiB
    // a pipe buffers, so the run meets the closed pipe whenever it closed.
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(150);
    let mut args = vec!["check".to_owned()];
    for i in 0..600 {
        let path = dir.path().join(format!("{long}-{i:03}.vault"));
        std::fs::write(&path, b"").unwrap();
        args.push(s(&path).to_owned());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, stderr) = with_closed_stdout(&args);
    assert_eq!(code, 141, "stderr: {stderr}");
    assert!(stderr.is_empty(), "stderr must stay quiet: {stderr}");

    // inspect --json of a vault with many streams: the same.
    let file = dir.path().join("many.vault");
    many_streams(&file, 1500);
    let (code, stderr) = with_closed_stdout(&["inspect", "--json", s(&file)]);
    assert_eq!(code, 141, "stderr: {stderr}");
    assert!(stderr.is_empty(), "stderr must stay quiet: {stderr}");
}

/// A vault with `streams` small streams (its inspect output is large).
fn many_streams(path: &Path, streams: usize) {
    let (_, key) = key_file(path.parent().unwrap(), "many.key");
    let options = vault_format::WriterOptions {
        source: "sqlite tests/acceptance.db".into(),
        tool_version: "vault tests".into(),
        kdf: common::cheap_kdf(),
        ..vault_format::WriterOptions::default()
    };
    let writer = vault_format::VaultWriter::create(path, options, &[&key]).unwrap();
    for i in 0..streams {
        let mut stream = writer
            .stream(&format!("schema.table_{i:05}"), serde_json::json!({}))
            .unwrap();
        std::io::Write::write_all(&mut stream, b"row").unwrap();
        stream.add_rows(1);
        stream.finish().unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn an_empty_file_is_called_empty_by_inspect_and_check_alike() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.vault");
    std::fs::write(&empty, b"").unwrap();
    let inspect = vault(["inspect", s(&empty)], &[]).expect(3);
    assert!(inspect.error_line().contains("empty file"), "{inspect:#?}");
    assert!(!inspect.stderr.contains("application_id"), "{inspect:#?}");
    let check = vault(["check", s(&empty)], &[]).expect(3);
    assert!(check.stdout.contains("empty file"), "{check:#?}");
}

#[test]
fn a_file_that_is_no_vault_ends_check_as_it_ends_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let text = text_file(dir.path(), "notes.vault", "not a vault at all\n");
    let sqlite = dir.path().join("other.db");
    rusqlite::Connection::open(&sqlite)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    for file in [&text, &sqlite] {
        let inspect = vault(["inspect", s(file)], &[]);
        let check = vault(["check", s(file)], &[]);
        assert_eq!(inspect.code, check.code, "{inspect:#?}\n{check:#?}");
        assert_eq!(check.code, 3, "{check:#?}");
        assert!(check.stdout.contains("not-a-vault"), "{check:#?}");
    }
}

#[test]
fn an_unreadable_vault_says_permission_denied() {
    let runuser = Path::new("/usr/sbin/runuser");
    let is_root = std::env::var("USER").is_ok_and(|u| u == "root")
        || std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
    let dir = tempfile::tempdir().unwrap();
    let (_, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key]);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    if !is_root {
        // Not root: the file is someone else's only if we make it so; run as we are.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
        let run = vault(["inspect", s(&file)], &[]).expect(1);
        assert!(
            run.error_line()
                .to_lowercase()
                .contains("permission denied"),
            "{run:#?}"
        );
        return;
    }
    if !runuser.exists() {
        println!(
            "skipped: the tests run as root, who reads every file, and runuser (to run as nobody) is missing"
        );
        return;
    }
    let binary = env!("CARGO_BIN_EXE_vault");
    let as_nobody = Command::new(runuser)
        .args(["-u", "nobody", "--", binary, "inspect", s(&file)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&as_nobody.stderr);
    if stderr.contains("Permission denied") && !stderr.contains("error:") {
        println!(
            "skipped: nobody cannot run the test binary under {binary} ({stderr}); root reads every file"
        );
        return;
    }
    assert_eq!(as_nobody.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.to_lowercase().contains("permission denied"),
        "{stderr}"
    );
    let check = Command::new(runuser)
        .args(["-u", "nobody", "--", binary, "check", s(&file)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.to_lowercase().contains("permission denied"),
        "{stdout}"
    );
}

#[test]
fn capture_into_a_missing_folder_is_refused_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = key_file(dir.path(), "acc.key");
    // The acceptance database does not exist either: a refusal that came
    // after connecting would talk about it.
    let config = text_file(
        dir.path(),
        "vault.toml",
        &format!(
            "[acceptance]\nurl = \"sqlite:{}/missing.db\"\n\n[[preserve]]\ntable = \"t\"\n",
            s(dir.path())
        ),
    );
    let out = dir.path().join("no/such/folder/acc.vault");
    let run = vault(
        [
            "capture",
            "--config",
            s(&config),
            "--out",
            s(&out),
            "--key-file",
            s(&key),
        ],
        &[],
    )
    .expect(2);
    let error = run.error_line();
    assert!(
        error.contains("does not exist") && error.contains("acc.vault"),
        "{run:#?}"
    );
    assert!(!run.stderr.contains(".partial"), "{run:#?}");
    assert!(!run.stderr.contains("missing.db"), "{run:#?}");
    assert!(run.stderr.contains("no/such/folder"), "{run:#?}");
}

#[test]
fn report_verify_with_another_vault_says_so() {
    let site = refreshed_clinic();
    let report = site.path("report");
    site.restore(&["--report-dir", s(&report)]).expect(0);
    // Another vault under the same key: another vault id.
    let other = site.path("other.vault");
    vault(
        [
            "capture",
            "--config",
            s(&site.config),
            "--out",
            s(&other),
            "--key-file",
            s(&site.key),
        ],
        &[],
    )
    .expect(0);
    let run = vault(
        [
            "report",
            "verify",
            s(&report),
            "--vault",
            s(&other),
            "--key-file",
            s(&site.key),
        ],
        &[],
    )
    .expect(2);
    assert!(
        run.error_line().contains("belongs to another vault"),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("EDITED"), "{run:#?}");
    // The right vault still verifies.
    vault(
        [
            "report",
            "verify",
            s(&report),
            "--vault",
            s(&site.vault),
            "--key-file",
            s(&site.key),
        ],
        &[],
    )
    .expect(0);
}

#[test]
fn key_material_warnings_and_size_limits() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (key_path, key) = key_file(dir.path(), "k");
    let file = dir.path().join("a.vault");
    make_vault(&file, &[&key, &passphrase("short")]);

    // A key file of mode 0600 gets no warning; one others may read does.
    let quiet = vault(
        ["check", "--read-data", "--key-file", s(&key_path), s(&file)],
        &[],
    )
    .expect(0);
    assert!(!quiet.stderr.contains("warning"), "{quiet:#?}");
    std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = vault(
        ["check", "--read-data", "--key-file", s(&key_path), s(&file)],
        &[],
    )
    .expect(0);
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("readable by other users"),
        "{run:#?}"
    );
    assert!(run.stderr.contains("0644"), "{run:#?}");

    // A passphrase shorter than 12 characters works, with a warning that never shows it.
    let run = vault(
        ["check", "--read-data", s(&file)],
        &[("VAULT_PASSPHRASE", "short")],
    )
    .expect(0);
    assert!(run.stderr.contains("fewer than 12 characters"), "{run:#?}");
    assert!(
        !run.stderr.contains("short\n") && !run.stderr.contains("\"short\""),
        "{run:#?}"
    );

    // Files larger than a key or passphrase file can be are refused unread.
    let big = text_file(dir.path(), "big.txt", &"p".repeat(100 * 1024));
    let run = vault(
        [
            "check",
            "--read-data",
            "--passphrase-file",
            s(&big),
            s(&file),
        ],
        &[],
    )
    .expect(2);
    assert!(run.error_line().contains("larger than 64 KiB"), "{run:#?}");
    let run = vault(
        ["check", "--read-data", "--key-file", s(&big), s(&file)],
        &[],
    )
    .expect(2);
    assert!(run.error_line().contains("larger than 64 KiB"), "{run:#?}");
}

#[test]
fn capture_into_a_folder_it_cannot_write_names_the_vault_not_its_partial_file() {
    use std::os::unix::fs::PermissionsExt;
    let runuser = Path::new("/usr/sbin/runuser");
    if !runuser.exists() {
        println!(
            "skipped: the tests run as root, who writes everywhere, and runuser (to run as nobody) is missing"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let open = |path: &Path, mode| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    open(dir.path(), 0o755);
    let folder = dir.path().join("out");
    std::fs::create_dir(&folder).unwrap();
    open(&folder, 0o755);
    let (key, _) = key_file(dir.path(), "acc.key");
    open(&key, 0o644);
    let db = dir.path().join("acc.db");
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1);")
        .unwrap();
    open(&db, 0o644);
    let config = text_file(
        dir.path(),
        "vault.toml",
        &format!(
            "[acceptance]\nurl = \"sqlite:{}\"\n\n[[preserve]]\ntable = \"t\"\n",
            s(&db)
        ),
    );
    open(&config, 0o644);
    let out = folder.join("acc.vault");
    let binary = env!("CARGO_BIN_EXE_vault");
    let run = Command::new(runuser)
        .args([
            "-u",
            "nobody",
            "--",
            binary,
            "capture",
            "--config",
            s(&config),
        ])
        .args(["--out", s(&out), "--key-file", s(&key)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    if !stderr.contains("error:") {
        println!("skipped: nobody cannot run the test binary under {binary} ({stderr})");
        return;
    }
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("error: {}: Permission denied", s(&out))),
        "{stderr}"
    );
    assert!(!stderr.contains(".partial"), "{stderr}");
}
