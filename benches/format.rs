//! Benchmark of the vault file format: write, keyless check and `--read-data`
//! check of about 1 GiB of mixed data, each against the standard tool on the
//! same bytes in the same run (`zstd -1 -T1` over the input, `sha256sum` over
//! the vault file), with peak memory from `/usr/bin/time -v`.
//!
//! Run: `cargo bench --bench format` (size: `VAULT_BENCH_MIB`, default 1024;
//! work folder: `VAULT_BENCH_DIR`, default a temporary folder).

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "common/timing.rs"]
mod timing;

use timing::{Timing, timed};
use vault_format::{FileKey, KeyMaterial, Vault, VaultWriter, WriterOptions};

const PHASE_ENV: &str = "VAULT_BENCH_PHASE";
const MIB: f64 = 1024.0 * 1024.0;

fn main() {
    if let Ok(phase) = std::env::var(PHASE_ENV) {
        let args: Vec<PathBuf> = std::env::args_os()
            .skip(1)
            .filter(|a| a != "--bench")
            .map(PathBuf::from)
            .collect();
        run_phase(&phase, &args);
        return;
    }
    let mib: u64 = std::env::var("VAULT_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let holder;
    let dir = match std::env::var_os("VAULT_BENCH_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            holder = tempfile::tempdir().expect("temporary folder");
            holder.path().to_owned()
        }
    };
    std::fs::create_dir_all(&dir).expect("bench folder");
    let rows = dir.join("rows.txt");
    let blobs = dir.join("blobs.bin");
    let key_path = dir.join("bench.key");
    let vault = dir.join("bench.vault");
    let _ = std::fs::remove_file(&vault);
    let _ = std::fs::remove_file(&key_path);
    eprintln!(
        "generating {mib} MiB of synthetic input in {}",
        dir.display()
    );
    let rows_bytes = mib * 1024 * 1024 * 6 / 10;
    write_rows(&rows, rows_bytes);
    write_blobs(&blobs, mib * 1024 * 1024 - rows_bytes);
    FileKey::generate()
        .unwrap()
        .write_new_file(&key_path)
        .unwrap();
    let input_bytes =
        (std::fs::metadata(&rows).unwrap().len() + std::fs::metadata(&blobs).unwrap().len()) as f64;

    let zstd = timed(
        Command::new("zstd")
            .args(["-1", "-T1", "-q", "-c"])
            .arg(&rows)
            .arg(&blobs),
    );
    let write = timed_phase("write", &[&rows, &blobs, &vault, &key_path]);
    let vault_bytes = std::fs::metadata(&vault).unwrap().len() as f64;
    let sha = timed(Command::new("sha256sum").arg(&vault));
    let check = timed_phase("check", &[&vault]);
    let deep = timed_phase("check-deep", &[&vault, &key_path]);

    let rate = |bytes: f64, secs: f64| bytes / MIB / secs;
    println!(
        "input {:.0} MiB (60% row-like text, 40% random blobs); vault file {:.0} MiB",
        input_bytes / MIB,
        vault_bytes / MIB
    );
    println!(
        "write:             {:7.1} MiB/s of input   zstd -1 -T1: {:7.1} MiB/s   ratio {:.2} (target >= 0.80)   peak {:.1} MiB",
        rate(input_bytes, write.secs),
        rate(input_bytes, zstd.secs),
        zstd.secs / write.secs,
        write.peak_mib
    );
    println!(
        "check (no key):    {:7.1} MiB/s of file    sha256sum:   {:7.1} MiB/s   ratio {:.2}                   peak {:.1} MiB",
        rate(vault_bytes, check.secs),
        rate(vault_bytes, sha.secs),
        sha.secs / check.secs,
        check.peak_mib
    );
    println!(
        "check --read-data: {:7.1} MiB/s of file    sha256sum:   {:7.1} MiB/s   ratio {:.2} (target >= 0.50)   peak {:.1} MiB",
        rate(vault_bytes, deep.secs),
        rate(vault_bytes, sha.secs),
        sha.secs / deep.secs,
        deep.peak_mib
    );
}

/// Runs one phase of this benchmark in a child process, so its peak memory is its own.
fn timed_phase(phase: &str, args: &[&Path]) -> Timing {
    let exe = std::env::current_exe().expect("own path");
    timed(Command::new(exe).args(args).env(PHASE_ENV, phase))
}

fn run_phase(phase: &str, args: &[PathBuf]) {
    match phase {
        "write" => {
            let key = KeyMaterial::KeyFile(FileKey::read_file(&args[3]).unwrap());
            let options = WriterOptions {
                source: "benchmark".into(),
                ..WriterOptions::default()
            };
            let writer = VaultWriter::create(&args[2], options, &[&key]).unwrap();
            for (name, input) in [("rows", &args[0]), ("blobs", &args[1])] {
                let mut stream = writer
                    .stream(name, serde_json::json!({ "input": name }))
                    .unwrap();
                let mut file = File::open(input).unwrap();
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = file.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    stream.write_bytes(&buf[..n]).unwrap();
                }
                stream.finish().unwrap();
            }
            writer.finish().unwrap();
        }
        "check" => {
            vault_format::check_structure(&args[0]).unwrap();
        }
        "check-deep" => {
            let key = KeyMaterial::KeyFile(FileKey::read_file(&args[1]).unwrap());
            vault_format::check_deep(&args[0], &key).unwrap();
        }
        "read" => {
            let key = KeyMaterial::KeyFile(FileKey::read_file(&args[1]).unwrap());
            let unlocked = Vault::open(&args[0]).unwrap().unlock(&key).unwrap();
            for entry in &unlocked.manifest().streams {
                std::io::copy(
                    &mut unlocked.stream(&entry.name).unwrap(),
                    &mut std::io::sink(),
                )
                .unwrap();
            }
        }
        other => panic!("unknown phase {other}"),
    }
}

/// A fast deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Tab-separated rows like a patient-administration table.
fn write_rows(path: &Path, bytes: u64) {
    const FIRST: &[&str] = &[
        "Maria", "Jan", "Sophie", "Daan", "Emma", "Lucas", "Julia", "Sem", "Anna", "Noah",
        "Fatima", "Mohamed",
    ];
    const LAST: &[&str] = &[
        "Jansen",
        "de Vries",
        "van den Berg",
        "Bakker",
        "Visser",
        "Smit",
        "Meijer",
        "de Boer",
        "Mulder",
        "Yilmaz",
    ];
    const STATUS: &[&str] = &["active", "inactive", "pending", "archived"];
    const WARD: &[&str] = &[
        "cardiology",
        "oncology",
        "neurology",
        "pediatrics",
        "emergency",
        "geriatrics",
    ];
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut written, mut id) = (0u64, 1_000_000u64);
    let mut line = String::with_capacity(256);
    while written < bytes {
        line.clear();
        let (first, last) = (rng.pick(FIRST), rng.pick(LAST));
        let r = rng.next();
        use std::fmt::Write as _;
        let _ = writeln!(
            line,
            "{id}\t{first}\t{last}\t{}-{:02}-{:02}\t{}.{}{}@example.org\t{}\t{}\t{:016x}\t{}",
            1930 + r % 90,
            1 + (r >> 8) % 12,
            1 + (r >> 16) % 28,
            first.to_lowercase(),
            last.replace(' ', "").to_lowercase(),
            (r >> 24) % 1000,
            rng.pick(STATUS),
            rng.pick(WARD),
            rng.next(),
            (r >> 32) % 100_000,
        );
        out.write_all(line.as_bytes()).unwrap();
        written += line.len() as u64;
        id += 1;
    }
    out.flush().unwrap();
}

/// Incompressible bytes, like scanned documents.
fn write_blobs(path: &Path, bytes: u64) {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path).unwrap());
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            word.copy_from_slice(&rng.next().to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
}
