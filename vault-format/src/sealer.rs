//! The sealing workers: compress, encrypt, checksum and insert chunks on every core, in any order.
//!
//! A stream writer hashes its plaintext in order and hands each full chunk to
//! this pool. Chunks are keyed by (stream, chunk index), so the order of the
//! inserts does not matter. The queue is bounded, so memory stays at a few
//! chunks per worker whatever the size of the data.

use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use rusqlite::{Connection, params};

use crate::crypto::{self, FLAG_LAST, FLAG_ZSTD, VaultKeys};
use crate::error::{Location, Result, VaultError};

/// What every chunk of one vault is sealed with.
pub(crate) struct SealContext {
    pub(crate) keys: VaultKeys,
    pub(crate) vault_id: [u8; 16],
    pub(crate) chunk_size: usize,
    pub(crate) compression_level: i32,
    /// The header's version, repeated in the manifest.
    pub(crate) format_version: u16,
}

/// One chunk on its way to the file.
struct Job {
    progress: Arc<StreamProgress>,
    stream_index: u32,
    chunk_index: u64,
    last: bool,
    plain: Vec<u8>,
}

/// How far the sealing of one stream has got.
pub(crate) struct StreamProgress {
    name: String,
    state: Mutex<ProgressState>,
    settled: Condvar,
}

#[derive(Default)]
struct ProgressState {
    outstanding: u64,
    stored_len: u64,
    failure: Option<VaultError>,
}

impl StreamProgress {
    pub(crate) fn new(name: &str) -> Arc<Self> {
        Arc::new(StreamProgress {
            name: name.to_owned(),
            state: Mutex::default(),
            settled: Condvar::new(),
        })
    }

    /// The first failure of a chunk of this stream, if any.
    pub(crate) fn take_failure(&self) -> Option<VaultError> {
        lock_state(&self.state).failure.take()
    }

    /// Waits until every chunk handed over is in the file; returns the stored length.
    pub(crate) fn wait_settled(&self) -> Result<u64> {
        let mut state = lock_state(&self.state);
        while state.outstanding > 0 {
            state = self.settled.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        match state.failure.take() {
            Some(error) => Err(error),
            None => Ok(state.stored_len),
        }
    }
}

fn lock_state(state: &Mutex<ProgressState>) -> MutexGuard<'_, ProgressState> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// The pool of sealing workers of one vault writer.
pub(crate) struct Sealer {
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    spare: Arc<Mutex<Vec<Vec<u8>>>>,
    chunk_size: usize,
}

impl Sealer {
    pub(crate) fn start(context: Arc<SealContext>, conn: Arc<Mutex<Connection>>) -> Result<Self> {
        let workers_wanted = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .clamp(2, 8);
        let (sender, receiver) = mpsc::sync_channel::<Job>(workers_wanted);
        let receiver = Arc::new(Mutex::new(receiver));
        let spare = Arc::new(Mutex::new(Vec::new()));
        let mut workers = Vec::with_capacity(workers_wanted);
        for n in 0..workers_wanted {
            let (context, conn, receiver, spare) = (
                Arc::clone(&context),
                Arc::clone(&conn),
                Arc::clone(&receiver),
                Arc::clone(&spare),
            );
            let worker = std::thread::Builder::new()
                .name(format!("vault-seal-{n}"))
                .spawn(move || work(&context, &conn, &receiver, &spare))
                .map_err(|e| VaultError::io("<sealing thread>", e))?;
            workers.push(worker);
        }
        let chunk_size = context.chunk_size;
        Ok(Sealer {
            jobs: Some(sender),
            workers,
            spare,
            chunk_size,
        })
    }

    /// An empty buffer of chunk capacity, reused when one is free.
    pub(crate) fn buffer(&self) -> Vec<u8> {
        let reused = self.spare.lock().ok().and_then(|mut spare| spare.pop());
        reused.unwrap_or_else(|| Vec::with_capacity(self.chunk_size))
    }

    /// Queues a chunk; blocks while the queue is full.
    pub(crate) fn submit(
        &self,
        progress: &Arc<StreamProgress>,
        stream_index: u32,
        chunk_index: u64,
        last: bool,
        plain: Vec<u8>,
    ) -> Result<()> {
        lock_state(&progress.state).outstanding += 1;
        let job = Job {
            progress: Arc::clone(progress),
            stream_index,
            chunk_index,
            last,
            plain,
        };
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        if !matches!(sent, Some(Ok(()))) {
            lock_state(&progress.state).outstanding -= 1;
            return Err(VaultError::Usage {
                detail: "the sealing workers have stopped".into(),
            });
        }
        Ok(())
    }

    /// Stops the workers once the queue is drained.
    pub(crate) fn stop(&mut self) {
        self.jobs.take();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for Sealer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn work(
    context: &SealContext,
    conn: &Mutex<Connection>,
    receiver: &Mutex<Receiver<Job>>,
    spare: &Mutex<Vec<Vec<u8>>>,
) {
    let mut compressor = zstd::bulk::Compressor::new(context.compression_level).ok();
    let mut compressed = Vec::with_capacity(zstd::zstd_safe::compress_bound(context.chunk_size));
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(mut job) = job else { return };
        let outcome = seal(context, conn, compressor.as_mut(), &mut compressed, &job);
        {
            let mut state = lock_state(&job.progress.state);
            state.outstanding -= 1;
            match outcome {
                Ok(stored) => state.stored_len += stored,
                Err(error) => {
                    state.failure.get_or_insert(error);
                }
            }
        }
        job.progress.settled.notify_all();
        job.plain.clear();
        if let Ok(mut spare) = spare.lock() {
            spare.push(std::mem::take(&mut job.plain));
        }
    }
}

/// Bytes in each of the three samples that [`worth_compressing`] tries.
const PROBE_LEN: usize = 16 * 1024;

/// Whether a chunk may shrink: false when samples from its start, middle and
/// end all fail to shrink by 3% (encrypted or already compressed bytes, such
/// as document blobs), which spares compressing the whole chunk only to
/// store it as it is (SPEC.md section 6.2). Small chunks are always tried.
fn worth_compressing(
    compressor: &mut zstd::bulk::Compressor<'static>,
    plain: &[u8],
    scratch: &mut Vec<u8>,
) -> bool {
    if plain.len() < 8 * PROBE_LEN {
        return true;
    }
    let middle = plain.len() / 2 - PROBE_LEN / 2;
    [0, middle, plain.len() - PROBE_LEN]
        .into_iter()
        .any(|start| {
            scratch.clear();
            match compressor.compress_to_buffer(&plain[start..start + PROBE_LEN], scratch) {
                Ok(len) => len < PROBE_LEN * 97 / 100,
                Err(_) => true,
            }
        })
}

/// Compress-then-encrypt one chunk (SPEC.md section 6) and insert it. Returns the stored length.
fn seal(
    context: &SealContext,
    conn: &Mutex<Connection>,
    compressor: Option<&mut zstd::bulk::Compressor<'static>>,
    compressed: &mut Vec<u8>,
    job: &Job,
) -> Result<u64> {
    let location = || Location::Chunk {
        stream: job.progress.name.clone(),
        chunk: job.chunk_index,
    };
    let compressor =
        compressor.ok_or_else(|| VaultError::damaged(location(), "zstd could not start"))?;
    let plain = &job.plain;
    let plain_len = u32::try_from(plain.len()).expect("chunks are at most 16 MiB");
    let compress = worth_compressing(compressor, plain, compressed);
    compressed.clear();
    if compress {
        compressor
            .compress_to_buffer(plain, compressed)
            .map_err(|e| VaultError::damaged(location(), format!("zstd failed: {e}")))?;
    }
    // Stored as it is when it would not shrink, as the samples said or the
    // whole frame shows.
    let (mut flags, stored) = if compress && compressed.len() < plain.len() {
        (FLAG_ZSTD, compressed.as_slice())
    } else {
        (0, plain.as_slice())
    };
    if job.last {
        flags |= FLAG_LAST;
    }
    let nonce = crypto::chunk_nonce(job.stream_index, job.chunk_index);
    let ad = crypto::chunk_ad(
        &context.vault_id,
        job.stream_index,
        job.chunk_index,
        flags,
        plain_len,
    );
    let ciphertext = crypto::seal(&context.keys.payload, &nonce, stored, &ad);
    let checksum = crypto::sha256(&ciphertext);
    let conn = conn.lock().map_err(|_| VaultError::Usage {
        detail: "a sealing worker panicked".into(),
    })?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO chunk (stream_index, chunk_index, flags, plain_len, ciphertext, checksum)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    insert.execute(params![
        job.stream_index,
        job.chunk_index as i64,
        flags,
        plain_len,
        ciphertext,
        checksum
    ])?;
    Ok(ciphertext.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random(len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        getrandom::fill(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn only_chunks_whose_samples_all_resist_compression_skip_it() {
        let mut compressor = zstd::bulk::Compressor::new(3).unwrap();
        let mut scratch = Vec::with_capacity(zstd::zstd_safe::compress_bound(1 << 20));
        let text: Vec<u8> = (0..1 << 20).map(|i| b"row,text;"[i % 9]).collect();
        assert!(worth_compressing(&mut compressor, &text, &mut scratch));
        assert!(!worth_compressing(
            &mut compressor,
            &random(1 << 20),
            &mut scratch
        ));
        // Random bytes with rows of text at the end still get compressed.
        let mut mixed = random(1 << 20);
        mixed[(1 << 20) - 3 * PROBE_LEN..].copy_from_slice(&text[..3 * PROBE_LEN]);
        assert!(worth_compressing(&mut compressor, &mixed, &mut scratch));
        // A small chunk is always tried whole.
        assert!(worth_compressing(
            &mut compressor,
            &random(PROBE_LEN),
            &mut scratch
        ));
    }
}
