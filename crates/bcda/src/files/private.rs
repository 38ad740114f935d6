//! Owner-only files and directories.
//!
//! Everything under the data directory is beneficiary data (the database,
//! export files, their archives and temporary files) or a secret (the key
//! file, sandbox credentials), so it is created readable and writable by
//! the server's user alone: directories 0700, files 0600. The modes are
//! given at creation, so the process umask cannot widen them; an existing
//! directory or database file with wider modes (made by hand, or by an
//! older version) is narrowed at start with a warning.

use std::fs::File;
use std::io;
use std::path::Path;

/// The mode of every directory the server creates.
pub const DIR_MODE: u32 = 0o700;
/// The mode of every file the server creates.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` and any missing parents as owner-only directories.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir)
}

/// Creates (or truncates) `path` as an owner-only file, for writing.
pub fn create_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(FILE_MODE);
    }
    options.open(path)
}

/// Makes an existing file owner-only (one another library created with
/// the umask's modes, such as a file the directory store completed).
pub fn restrict_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(FILE_MODE))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes sure the data directory exists and only its owner can enter it.
/// Returns the mode it had when that was wider (and has been narrowed),
/// so the caller can report it.
pub fn secure_dir(dir: &Path) -> io::Result<Option<u32>> {
    create_dir_all(dir)?;
    narrow(dir, DIR_MODE)
}

/// Prepares the SQLite database file `path` (and its `-wal` and `-shm`
/// companions, which SQLite creates with the database file's mode): an
/// empty owner-only file if it does not exist yet, owner-only modes if it
/// does. Returns the widest mode that had to be narrowed, if any.
pub fn prepare_sqlite_file(path: &Path) -> io::Result<Option<u32>> {
    if let Some(dir) = path.parent() {
        create_dir_all(dir)?;
    }
    if !path.exists() {
        // An empty file is a valid, empty SQLite database.
        create_file(path)?;
    }
    let mut widened = narrow(path, FILE_MODE)?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        if Path::new(&companion).exists() {
            widened = widened.or(narrow(Path::new(&companion), FILE_MODE)?);
        }
    }
    Ok(widened)
}

/// Sets `path`'s permission bits to `mode` if it grants anything to group
/// or others; returns the old bits in that case.
fn narrow(path: &Path, mode: u32) -> io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
        if current & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
            return Ok(Some(current));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(None)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
    }

    #[test]
    fn created_owner_only_and_wide_modes_narrowed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("a/b");
        create_dir_all(&dir).expect("mkdir");
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&dir), 0o700);
        let file = dir.join("f");
        create_file(&file).expect("create");
        assert_eq!(mode(&file), 0o600);

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        assert_eq!(secure_dir(&dir).expect("secure"), Some(0o755));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(secure_dir(&dir).expect("secure"), None);

        let db = dir.join("bcda.db");
        assert_eq!(prepare_sqlite_file(&db).expect("db"), None);
        assert_eq!(mode(&db), 0o600);
        let wal = dir.join("bcda.db-wal");
        std::fs::write(&wal, b"").expect("wal");
        std::fs::set_permissions(&wal, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        assert_eq!(prepare_sqlite_file(&db).expect("db"), Some(0o644));
        assert_eq!(mode(&wal), 0o600);
    }
}
