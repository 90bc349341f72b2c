//! Small state files of the data directory (login users, committed consumer offsets, the
//! KalamDB face's namespaces) replaced whole and durably: the new content goes to a file
//! beside the old, is synced, renamed over it, and the directory is synced, so a crash
//! leaves the old content or the new, never half of either.

use std::io::Write;
use std::path::Path;

/// Who may read the file: everyone the directory lets in, or its owner only (secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Default,
    OwnerOnly,
}

/// Replaces `file`'s content with `bytes` as described above.
pub fn replace(file: &Path, bytes: &[u8], access: Access) -> std::io::Result<()> {
    let dir = file.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp_name = file.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = file.with_file_name(tmp_name);
    {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        if access == Access::OwnerOnly {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        let mut out = options.open(&tmp)?;
        out.write_all(bytes)?;
        out.sync_all()?;
    }
    std::fs::rename(&tmp, file)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_whole_file_and_leaves_no_temporary_one() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("sub").join("state.json");
        replace(&file, b"first, longer content", Access::Default).expect("write");
        replace(&file, b"second", Access::OwnerOnly).expect("replace");
        assert_eq!(std::fs::read(&file).expect("read"), b"second");
        let names: Vec<_> = std::fs::read_dir(file.parent().expect("dir"))
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).expect("meta").permissions().mode();
            assert_eq!(mode & 0o077, 0, "{mode:o}");
        }
    }
}
