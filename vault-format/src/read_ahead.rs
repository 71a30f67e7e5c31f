//! Reading a stream ahead of its consumer: chunks are authenticated and decompressed on a thread of their own.
//!
//! A restore spends its time waiting for the database; decoding the next
//! chunks meanwhile keeps the database busy. The thread reads through its own
//! read-only connection to the same file, with the keys and manifest already
//! checked by the unlock, and hands over at most a few chunks at a time, so
//! memory stays bounded.

use std::io;
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

use crate::error::{Result, VaultError};
use crate::keys::DataKey;
use crate::reader::{UnlockedVault, Vault};

/// Chunks decoded ahead of the reader.
const AHEAD: usize = 4;

/// Reads one stream; see [`UnlockedVault::stream_read_ahead`].
pub struct ReadAhead {
    /// The vault and stream to read, until the first read starts the thread.
    not_started: Option<(UnlockedVault, String)>,
    chunks: Option<Receiver<Result<Option<Vec<u8>>>>>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
    thread: Option<JoinHandle<()>>,
}

impl UnlockedVault {
    /// Like [`UnlockedVault::stream`], but the chunks are decoded on another
    /// thread while the caller consumes the previous ones. The same checks
    /// apply, and an error arrives in the order it happened.
    pub fn stream_read_ahead(&self, name: &str) -> Result<ReadAhead> {
        // Fail now, on this thread, for a stream that does not exist.
        self.stream(name)?;
        Ok(ReadAhead {
            not_started: Some((self.reopen()?, name.to_owned())),
            chunks: None,
            buf: Vec::new(),
            pos: 0,
            done: false,
            thread: None,
        })
    }

    /// The same unlocked vault through a new read-only connection.
    fn reopen(&self) -> Result<UnlockedVault> {
        let vault = Vault::open(self.vault.path())?;
        if vault.header_bytes != self.vault.header_bytes {
            return Err(VaultError::damaged(
                crate::error::Location::Header,
                "the file changed while it was being read",
            ));
        }
        let data_key = DataKey(self.data_key.0.clone());
        Ok(UnlockedVault::from_parts(
            vault,
            &data_key,
            self.manifest().clone(),
            self.opened_slot(),
        ))
    }
}

impl ReadAhead {
    /// Starts the decoding thread: on the first read, so that a reader
    /// made and never read costs no decoding.
    fn start(&mut self) -> io::Result<()> {
        let Some((copy, name)) = self.not_started.take() else {
            return Ok(());
        };
        let (sender, receiver) = mpsc::sync_channel(AHEAD);
        let thread = std::thread::Builder::new()
            .name("vault-read-ahead".into())
            .spawn(move || {
                let mut reader = match copy.stream(&name) {
                    Ok(reader) => reader,
                    Err(error) => {
                        let _ = sender.send(Err(error));
                        return;
                    }
                };
                // Ok(Some) is a chunk, Ok(None) the verified end, Err the failure.
                loop {
                    let next = reader.next_chunk().map(|chunk| chunk.map(<[u8]>::to_vec));
                    let more = matches!(next, Ok(Some(_)));
                    if sender.send(next).is_err() || !more {
                        break;
                    }
                }
            })?;
        self.chunks = Some(receiver);
        self.thread = Some(thread);
        Ok(())
    }
}

impl io::Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.start()?;
        while self.pos == self.buf.len() {
            if self.done {
                return Ok(0);
            }
            let next = self.chunks.as_ref().map(|chunks| chunks.recv());
            match next {
                Some(Ok(Ok(Some(bytes)))) => {
                    self.buf = bytes;
                    self.pos = 0;
                }
                Some(Ok(Ok(None))) => self.done = true,
                Some(Ok(Err(error))) => {
                    // Every later read fails too: never a clean end after an error.
                    self.chunks = None;
                    return Err(io::Error::other(error));
                }
                Some(Err(_)) => {
                    self.chunks = None;
                    return Err(io::Error::other(VaultError::Usage {
                        detail: "the read-ahead thread stopped before the end of the stream".into(),
                    }));
                }
                None => {
                    return Err(io::Error::other(VaultError::Usage {
                        detail: "the stream failed earlier".into(),
                    }));
                }
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.chunks.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
