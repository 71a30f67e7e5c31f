//! Live progress on a terminal: a bar per table being captured (bytes, average rate, rows when done), and the restore's status line.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use vault_format::WriteProgress;

/// Draws a vault writer's progress on stderr from a thread of its own, until finished.
pub struct LiveBars {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl LiveBars {
    /// Starts drawing; call only when stderr is a terminal.
    pub fn start(progress: WriteProgress) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("vault-progress".into())
            .spawn(move || draw(&progress, &stopping))
            .ok();
        LiveBars { stop, thread }
    }

    /// Draws the final state and stops.
    pub fn finish(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for LiveBars {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

fn draw(progress: &WriteProgress, stop: &AtomicBool) {
    let bars = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
    let style =
        ProgressStyle::with_template("  {prefix:<32} {spinner} {bytes:>10} {elapsed:>4} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut shown: Vec<(ProgressBar, Instant)> = Vec::new();
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        for (i, stream) in progress.streams().iter().enumerate() {
            if i == shown.len() {
                let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(stream.name.clone());
                shown.push((bar, Instant::now()));
            }
            let (bar, started) = &shown[i];
            if bar.is_finished() {
                continue;
            }
            bar.set_position(stream.bytes);
            let rate = rate_text(stream.bytes, started.elapsed());
            match stream.finished_rows {
                Some(rows) if rate.is_empty() => bar.finish_with_message(format!("{rows} rows")),
                Some(rows) => bar.finish_with_message(format!("{rows} rows, {rate}")),
                None => {
                    bar.set_message(rate);
                    bar.tick();
                }
            }
        }
        if stopping {
            for (bar, _) in shown.iter().filter(|(b, _)| !b.is_finished()) {
                bar.abandon_with_message("stopped");
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// No rate is shown before a table has been read for this long: the first
/// chunks arrive in a burst (rows already buffered by the driver), and a
/// rate over a few milliseconds read "209 GiB/s".
const RATE_AFTER: Duration = Duration::from_secs(1);

/// The table's average rate since its bar appeared, as `12.3 MiB/s`; empty
/// until [`RATE_AFTER`] has passed.
fn rate_text(bytes: u64, elapsed: Duration) -> String {
    if elapsed < RATE_AFTER {
        return String::new();
    }
    let per_second = bytes as f64 / elapsed.as_secs_f64();
    format!("{}/s", crate::units::bytes(per_second as u64))
}

/// A status line on a terminal: each line written replaces the one before
/// (carriage return, erase line), and the last is erased when dropped. The
/// restore's per-table lines show here while it runs; its summary on stdout
/// then prints each of them once.
pub struct StatusLine<W: std::io::Write> {
    inner: W,
    pending: Vec<u8>,
    shown: bool,
}

/// Erase the terminal's current line and return to its start.
const ERASE_LINE: &[u8] = b"\r\x1b[2K";
/// A status line is cut to this many characters, so that it never wraps on
/// a terminal of the usual width (a wrapped line cannot be erased).
const STATUS_WIDTH: usize = 78;

impl<W: std::io::Write> StatusLine<W> {
    pub fn new(inner: W) -> Self {
        StatusLine {
            inner,
            pending: Vec::new(),
            shown: false,
        }
    }

    fn show(&mut self, line: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let cut: String = text.trim_end().chars().take(STATUS_WIDTH).collect();
        self.inner.write_all(ERASE_LINE)?;
        self.inner.write_all(cut.as_bytes())?;
        self.shown = true;
        self.inner.flush()
    }
}

impl<W: std::io::Write> std::io::Write for StatusLine<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.show(&line[..end])?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for StatusLine<W> {
    fn drop(&mut self) {
        if self.shown {
            let _ = self.inner.write_all(ERASE_LINE);
            let _ = self.inner.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn no_rate_before_a_second_then_the_average() {
        assert_eq!(rate_text(200 << 30, Duration::from_millis(5)), "");
        assert_eq!(
            rate_text(30 << 20, Duration::from_secs(3)),
            format!("{}/s", crate::units::bytes(10 << 20))
        );
    }

    #[test]
    fn each_line_replaces_the_last_and_the_last_is_erased() {
        let mut shown = Vec::new();
        {
            let mut status = StatusLine::new(&mut shown);
            write!(status, "  a   1 rows\n  b").unwrap();
            writeln!(status, "   2 rows").unwrap();
        }
        assert_eq!(
            String::from_utf8(shown).unwrap(),
            "\r\x1b[2K  a   1 rows\r\x1b[2K  b   2 rows\r\x1b[2K"
        );
    }
}
