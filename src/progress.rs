//! Live progress bars on a terminal: one per table being captured, with bytes, rate, and rows when done.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

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
    let style = ProgressStyle::with_template(
        "  {prefix:<32} {spinner} {bytes:>10} {binary_bytes_per_sec:>12} {elapsed:>4} {msg}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let mut shown: Vec<ProgressBar> = Vec::new();
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        for (i, stream) in progress.streams().iter().enumerate() {
            if i == shown.len() {
                let bar = bars.add(ProgressBar::new_spinner().with_style(style.clone()));
                bar.set_prefix(stream.name.clone());
                shown.push(bar);
            }
            let bar = &shown[i];
            if bar.is_finished() {
                continue;
            }
            bar.set_position(stream.bytes);
            bar.tick();
            if let Some(rows) = stream.finished_rows {
                bar.finish_with_message(format!("{rows} rows"));
            }
        }
        if stopping {
            for bar in shown.iter().filter(|b| !b.is_finished()) {
                bar.abandon_with_message("stopped");
            }
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
