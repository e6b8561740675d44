//! Writing the `--report` file so that a reader never sees half of one, and without destroying
//! what is at the path.
//!
//! - When the path leads (through symlinks) to something that exists and is not a regular file —
//!   a FIFO a reader waits on, `/dev/stdout`, a character device — the document is written
//!   through it: replacing it would turn a device into a regular file (as root) or leave the
//!   reader waiting. (`/dev/stdout` is a link to `/proc/self/fd/1`, itself a link to something
//!   like `pipe:[…]` that no path names, so the decision is `metadata` on the path as given,
//!   which follows every link, and the path as given is what gets opened.)
//! - Otherwise the path's symlinks are followed to the final file (a dangling link's target is
//!   created): a link stays a link and its target gets the document. The document goes to a
//!   temporary file created exclusively (`O_EXCL`) under a random name in the target's
//!   directory — a link planted at a guessable name cannot redirect the write — with the old
//!   file's permission bits (a new file: 0644 less the umask), is flushed to disk, renamed over
//!   the target (atomic on POSIX), and the directory is flushed so the rename survives a crash.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Symlinks followed before giving up, as the kernel does (`ELOOP`).
const MAX_LINKS: usize = 40;

/// Writes `path` through `write` (buffered): through it when it is not a regular file,
/// atomically otherwise (see the module docs).
pub fn write_file(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(meta) if !meta.is_file() => write_through(path, write),
        _ => replace(&resolve(path)?, write),
    }
}

/// Writes into what is at `path` (a FIFO, a device; a directory fails to open).
fn write_through(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut out = BufWriter::new(OpenOptions::new().write(true).open(path)?);
    write(&mut out)?;
    out.flush()
}

/// The file `path` names once its symlinks are followed; a dangling link gives its target.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let target = std::fs::read_link(&path)?;
                // A relative target is relative to the link's directory; an absolute one
                // replaces the path when joined.
                path = match path.parent() {
                    Some(dir) => dir.join(target),
                    None => target,
                };
            }
            _ => return Ok(path),
        }
    }
    Err(std::io::Error::other(format!(
        "more than {MAX_LINKS} symbolic links to follow"
    )))
}

/// Temp file in `target`'s directory, then rename over `target`.
fn replace(
    target: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let old_permissions = std::fs::metadata(target).ok().map(|m| m.permissions());
    // Exclusive, random name; the mode goes to open(2), so the umask applies to a new file.
    let tmp = tempfile::Builder::new()
        .prefix(".jobwait-")
        .suffix(".tmp")
        .permissions(Permissions::from_mode(0o644))
        .tempfile_in(dir)?;
    if let Some(permissions) = old_permissions {
        tmp.as_file().set_permissions(permissions)?;
    }
    // On any error below, dropping the temporary file removes it.
    let mut out = BufWriter::new(tmp);
    write(&mut out)?;
    let tmp = out.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(target).map_err(|e| e.error)?;
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, FileTypeExt};

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn replaces_the_file_keeps_its_mode_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.json");
        std::fs::write(&target, "old").unwrap();
        std::fs::set_permissions(&target, Permissions::from_mode(0o640)).unwrap();
        write_file(&target, |w| w.write_all(b"{\"new\":true}")).unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "{\"new\":true}");
        assert_eq!(mode(&target), 0o640);
        assert_eq!(names(dir.path()), ["report.json"]);
    }

    #[test]
    fn a_new_file_is_at_most_0644() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("new.json");
        write_file(&target, |w| w.write_all(b"{}")).unwrap();
        assert_eq!(mode(&target) & !0o644, 0, "{:o}", mode(&target));
        assert_eq!(mode(&target) & 0o600, 0o600, "{:o}", mode(&target));
    }

    #[test]
    fn missing_directory_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_file(&dir.path().join("missing/report.json"), |w| {
            w.write_all(b"x")
        })
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn a_directory_at_the_path_is_an_error_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.json");
        std::fs::create_dir(&target).unwrap();
        assert!(write_file(&target, |w| w.write_all(b"x")).is_err());
        assert!(std::fs::metadata(&target).unwrap().is_dir());
        assert_eq!(names(dir.path()), ["report.json"]);
    }

    #[test]
    fn a_fifo_is_written_through_and_stays_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_file(&fifo, |w| w.write_all(b"{\"via\":\"fifo\"}\n")).unwrap();
        // Checked before joining: a reader left on a replaced FIFO would wait forever.
        let meta = std::fs::symlink_metadata(&fifo).unwrap();
        assert!(meta.file_type().is_fifo(), "{meta:?}");
        assert_eq!(reader.join().unwrap(), "{\"via\":\"fifo\"}\n");
        assert_eq!(names(dir.path()), ["pipe"]);
    }

    #[test]
    fn a_symlink_is_written_through_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("target.json"), "old").unwrap();
        // A relative link, through a second link.
        let link = dir.path().join("report.json");
        symlink("real/target.json", &link).unwrap();
        let link2 = dir.path().join("again.json");
        symlink(&link, &link2).unwrap();
        write_file(&link2, |w| w.write_all(b"new")).unwrap();
        for l in [&link, &link2] {
            assert!(std::fs::symlink_metadata(l).unwrap().is_symlink());
        }
        assert_eq!(
            std::fs::read_to_string(real.join("target.json")).unwrap(),
            "new"
        );
        assert_eq!(names(dir.path()), ["again.json", "real", "report.json"]);
        assert_eq!(names(&real), ["target.json"]);
    }

    #[test]
    fn a_dangling_symlink_gets_its_target_created() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("report.json");
        symlink(dir.path().join("created.json"), &link).unwrap();
        write_file(&link, |w| w.write_all(b"made")).unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("created.json")).unwrap(),
            "made"
        );
    }

    #[test]
    fn a_symlink_at_a_guessable_temporary_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        // The temporary name older versions used: `.NAME.PID.tmp`, opened without O_EXCL.
        let planted = dir
            .path()
            .join(format!(".report.json.{}.tmp", std::process::id()));
        symlink(&victim, &planted).unwrap();
        let target = dir.path().join("report.json");
        write_file(&target, |w| w.write_all(b"report")).unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let meta = std::fs::symlink_metadata(&target).unwrap();
        assert!(meta.is_file(), "{meta:?}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "report");
        assert!(std::fs::symlink_metadata(&planted).unwrap().is_symlink());
        assert_eq!(names(dir.path()).len(), 3, "{:?}", names(dir.path()));
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("report.json");
        std::fs::write(&target, "old").unwrap();
        let err = write_file(&target, |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("serializer failed"))
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "serializer failed");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "old");
        assert_eq!(names(dir.path()), ["report.json"]);
    }
}
