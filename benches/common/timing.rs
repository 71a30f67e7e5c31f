//! What every benchmark shares: run a command under `/usr/bin/time -v` for its wall time and peak memory.

use std::process::{Command, Stdio};
use std::time::Instant;

/// Wall time and peak resident memory of one run.
pub struct Timing {
    pub secs: f64,
    pub peak_mib: f64,
}

/// Runs a command to completion with its output discarded, under `/usr/bin/time -v`.
pub fn timed(command: &mut Command) -> Timing {
    let mut wrapped = Command::new("/usr/bin/time");
    wrapped
        .arg("-v")
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => wrapped.env(key, value),
            None => wrapped.env_remove(key),
        };
    }
    let start = Instant::now();
    let output = wrapped
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run /usr/bin/time");
    let secs = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{:?} failed:\n{stderr}",
        command.get_program()
    );
    let peak_kib: f64 = stderr
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .expect("peak memory in /usr/bin/time -v output");
    Timing {
        secs,
        peak_mib: peak_kib / 1024.0,
    }
}

/// Prints one result line: vault's time against the reference tool's, the
/// ratio with its target, and both peaks (`tool` names the reference in
/// full, `short` in the peak's parentheses).
#[allow(dead_code)] // the format benchmark prints its own lines
pub fn print_against(
    step: &str,
    vault: &Timing,
    tool: &str,
    short: &str,
    reference: &Timing,
    target: f64,
) {
    println!(
        "{:<9} vault {:6.2} s   {tool} {:6.2} s   ratio {:.2} (target <= {target:.2})   peak {:.0} MiB ({short} {:.0} MiB)",
        format!("{step}:"),
        vault.secs,
        reference.secs,
        vault.secs / reference.secs,
        vault.peak_mib,
        reference.peak_mib
    );
}
