//! A redb storage backend that reads a file but never writes it: writes go
//! to an in-memory overlay. Opening a database for writing (which
//! `check_integrity` needs) changes its header even when nothing else
//! changes, so `verify` opens files through this to leave them untouched.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use parking_lot::Mutex;
use redb::StorageBackend;

const BLOCK: u64 = 4096;

/// Read-only file plus in-memory copy-on-write blocks.
#[derive(Debug)]
pub(crate) struct Overlay {
    file: File,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Current logical length.
    len: u64,
    /// Bytes of the file still visible below the overlay (shrinks on truncation).
    base_len: u64,
    /// Written blocks by block index.
    blocks: BTreeMap<u64, Box<[u8]>>,
}

impl Overlay {
    /// Overlay `file` (opened read-only).
    pub fn new(file: File) -> io::Result<Overlay> {
        let len = file.metadata()?.len();
        Ok(Overlay { file, state: Mutex::new(State { len, base_len: len, blocks: BTreeMap::new() }) })
    }

    fn out_of_range(offset: u64, n: usize, len: u64) -> io::Error {
        io::Error::new(io::ErrorKind::UnexpectedEof, format!("range {offset}+{n} is beyond the end ({len})"))
    }

    /// Read `out.len()` bytes at `offset` as the overlay sees them.
    fn read_locked(&self, st: &State, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let end = offset + out.len() as u64;
        // The file part, then zeros past it.
        let from_file = st.base_len.saturating_sub(offset).min(out.len() as u64) as usize;
        if from_file > 0 {
            self.file.read_exact_at(&mut out[..from_file], offset)?;
        }
        out[from_file..].fill(0);
        // Then every written block that overlaps.
        for (&idx, block) in st.blocks.range(offset / BLOCK..end.div_ceil(BLOCK)) {
            let b_start = idx * BLOCK;
            let lo = b_start.max(offset);
            let hi = (b_start + BLOCK).min(end);
            out[(lo - offset) as usize..(hi - offset) as usize]
                .copy_from_slice(&block[(lo - b_start) as usize..(hi - b_start) as usize]);
        }
        Ok(())
    }
}

impl StorageBackend for Overlay {
    fn len(&self) -> io::Result<u64> {
        Ok(self.state.lock().len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> io::Result<()> {
        let st = self.state.lock();
        if offset.checked_add(out.len() as u64).is_none_or(|end| end > st.len) {
            return Err(Self::out_of_range(offset, out.len(), st.len));
        }
        self.read_locked(&st, offset, out)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = self.state.lock();
        if len < st.len {
            // Forget what lies past the new end, so growing again reads zeros.
            st.base_len = st.base_len.min(len);
            let first_gone = len.div_ceil(BLOCK);
            st.blocks.split_off(&first_gone);
            if !len.is_multiple_of(BLOCK) {
                if let Some(block) = st.blocks.get_mut(&(len / BLOCK)) {
                    block[(len % BLOCK) as usize..].fill(0);
                }
            }
        }
        st.len = len;
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut st = self.state.lock();
        let end = match offset.checked_add(data.len() as u64) {
            Some(end) if end <= st.len => end,
            _ => return Err(Self::out_of_range(offset, data.len(), st.len)),
        };
        let mut idx = offset / BLOCK;
        while idx * BLOCK < end {
            let b_start = idx * BLOCK;
            if !st.blocks.contains_key(&idx) {
                // Copy-on-write: start from what the block holds now (zeros past the end).
                let mut block = vec![0u8; BLOCK as usize].into_boxed_slice();
                let visible = st.len.saturating_sub(b_start).min(BLOCK) as usize;
                self.read_locked(&st, b_start, &mut block[..visible])?;
                st.blocks.insert(idx, block);
            }
            let lo = b_start.max(offset);
            let hi = (b_start + BLOCK).min(end);
            if let Some(block) = st.blocks.get_mut(&idx) {
                block[(lo - b_start) as usize..(hi - b_start) as usize]
                    .copy_from_slice(&data[(lo - offset) as usize..(hi - offset) as usize]);
            }
            idx += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn overlay_of(content: &[u8]) -> (tempfile::NamedTempFile, Overlay) {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        f.flush().unwrap();
        let o = Overlay::new(File::open(f.path()).unwrap()).unwrap();
        (f, o)
    }

    fn read(o: &Overlay, offset: u64, n: usize) -> Vec<u8> {
        let mut v = vec![0xAA; n];
        o.read(offset, &mut v).unwrap();
        v
    }

    #[test]
    fn reads_the_file_and_sees_writes_without_changing_the_file() {
        let content: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let (f, o) = overlay_of(&content);
        assert_eq!(read(&o, 0, 10_000), content);
        // A write across a block boundary.
        o.write(4090, &[1; 20]).unwrap();
        let got = read(&o, 4000, 200);
        assert_eq!(&got[..90], &content[4000..4090]);
        assert_eq!(&got[90..110], &[1; 20]);
        assert_eq!(&got[110..], &content[4110..4200]);
        // Out of range reads and writes fail.
        assert!(o.read(9_990, &mut [0; 11]).is_err());
        assert!(o.write(9_995, &[0; 6]).is_err());
        // Grow: new bytes are zero; shrink then grow: the cut part reads as zeros.
        o.set_len(12_000).unwrap();
        assert_eq!(read(&o, 10_000, 2_000), vec![0; 2_000]);
        o.write(11_000, &[7; 10]).unwrap();
        o.set_len(4_095).unwrap();
        o.set_len(12_000).unwrap();
        let got = read(&o, 4_000, 8_000);
        assert_eq!(&got[..90], &content[4_000..4_090]);
        assert_eq!(&got[90..95], &[1; 5]);
        assert!(got[95..].iter().all(|&b| b == 0));
        // The file itself never changed.
        assert_eq!(std::fs::read(f.path()).unwrap(), content);
    }
}
