//! `checkpoint::write_atomic` writes what the path means: links are followed and kept, only
//! regular files are replaced, permissions are kept, leftovers of dead savers are removed.
#![cfg(unix)]

use seqrnn::{checkpoint::write_atomic, Error};
use std::os::unix::fs::{symlink, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A fresh folder for one test, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("seqrnn-save-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Folder(dir)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .unwrap()
        .file_type()
        .is_symlink()
}

fn message(r: seqrnn::Result<()>) -> String {
    match r {
        Err(e @ Error::Io { .. }) => e.to_string(),
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn absolute_and_relative_links_are_followed_and_stay_links() {
    let dir = Folder::new("links");
    let real_dir = dir.0.join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let target = real_dir.join("m.safetensors");
    std::fs::write(&target, b"old").unwrap();

    let absolute = dir.0.join("abs.safetensors");
    symlink(&target, &absolute).unwrap();
    write_atomic(&absolute, b"via absolute").unwrap();
    assert!(is_link(&absolute));
    assert_eq!(std::fs::read(&target).unwrap(), b"via absolute");

    // A chain: rel -> abs -> real/m.safetensors, the first relative to its own folder.
    let links = dir.0.join("links");
    std::fs::create_dir(&links).unwrap();
    let relative = links.join("rel.safetensors");
    symlink("../abs.safetensors", &relative).unwrap();
    write_atomic(&relative, b"via relative").unwrap();
    assert!(is_link(&relative) && is_link(&absolute));
    assert_eq!(std::fs::read(&target).unwrap(), b"via relative");
    // The temporary file was made beside the target and is gone.
    assert_eq!(dir.names(), ["abs.safetensors", "links", "real"]);
    let in_real: Vec<_> = std::fs::read_dir(&real_dir).unwrap().collect();
    assert_eq!(in_real.len(), 1);
}

#[test]
fn a_dangling_link_creates_the_file_it_points_to() {
    let dir = Folder::new("dangling");
    std::fs::create_dir(dir.0.join("out")).unwrap();
    let link = dir.0.join("m.safetensors");
    symlink("out/new.safetensors", &link).unwrap();
    write_atomic(&link, b"new").unwrap();
    assert!(is_link(&link));
    assert_eq!(
        std::fs::read(dir.0.join("out/new.safetensors")).unwrap(),
        b"new"
    );
}

#[test]
fn a_link_loop_is_an_error() {
    let dir = Folder::new("loop");
    let (a, b) = (dir.0.join("a"), dir.0.join("b"));
    symlink(&b, &a).unwrap();
    symlink(&a, &b).unwrap();
    assert!(message(write_atomic(&a, b"x")).contains("symbolic links"));
    assert!(is_link(&a) && is_link(&b));
}

#[test]
fn directories_sockets_and_links_to_them_are_refused_before_writing() {
    let dir = Folder::new("special");
    let sub = dir.0.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let msg = message(write_atomic(&sub, b"x"));
    assert!(msg.contains("sub"), "{msg}");
    assert!(
        msg.contains("expected a regular file") && msg.contains("a directory"),
        "{msg}"
    );

    let socket = dir.0.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let msg = message(write_atomic(&socket, b"x"));
    assert!(msg.contains("sock") && msg.contains("a socket"), "{msg}");

    let link = dir.0.join("to-sub");
    symlink(&sub, &link).unwrap();
    let msg = message(write_atomic(&link, b"x"));
    assert!(
        msg.contains("to-sub") && msg.contains("a directory"),
        "{msg}"
    );

    assert!(std::fs::symlink_metadata(&socket)
        .unwrap()
        .file_type()
        .is_socket());
    assert!(sub.is_dir() && std::fs::read_dir(&sub).unwrap().next().is_none());
    assert_eq!(dir.names(), ["sock", "sub", "to-sub"]); // no temporary file either
}

#[test]
fn permission_bits_of_an_existing_file_are_kept() {
    let dir = Folder::new("mode");
    let path = dir.0.join("m.safetensors");
    std::fs::write(&path, b"old").unwrap();
    for mode in [0o600, 0o640, 0o444] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        write_atomic(&path, b"new").unwrap();
        let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(got, mode, "expected mode {mode:o}, got {got:o}");
    }
    // A new file gets what File::create gives (0666 less the umask).
    let fresh = dir.0.join("fresh");
    let reference = dir.0.join("reference");
    write_atomic(&fresh, b"x").unwrap();
    std::fs::File::create(&reference).unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&fresh), mode(&reference));
}

/// A temporary file of `name` as an interrupted save by process `pid` leaves it.
fn leftover(dir: &Path, name: &str, pid: u32) -> PathBuf {
    let p = dir.join(format!(".{name}.{pid}.7.3fa9.tmp"));
    std::fs::write(&p, b"half a checkpoint").unwrap();
    p
}

#[test]
fn temporaries_of_dead_savers_are_removed_those_of_live_ones_kept() {
    if !Path::new("/proc/self").exists() {
        return; // the age rule applies instead; it keeps fresh files, as here
    }
    let dir = Folder::new("stale");
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let mut live = std::process::Command::new("sleep")
        .arg("60")
        .spawn()
        .unwrap();
    let path = dir.0.join("m.safetensors");
    let stale = leftover(&dir.0, "m.safetensors", dead_pid);
    let busy = leftover(&dir.0, "m.safetensors", live.id());
    let mine = leftover(&dir.0, "m.safetensors", std::process::id());
    let other_file = leftover(&dir.0, "other.safetensors", dead_pid);
    let not_ours = dir.0.join(format!(".m.safetensors.{dead_pid}.x.tmp"));
    std::fs::write(&not_ours, b"").unwrap();
    write_atomic(&path, b"new").unwrap();
    let _ = live.kill();
    let _ = live.wait();
    assert!(!stale.exists(), "the dead saver's temporary file was kept");
    assert!(
        busy.exists() && mine.exists(),
        "a live saver's temporary file was removed"
    );
    assert!(other_file.exists() && not_ours.exists());
    assert_eq!(std::fs::read(&path).unwrap(), b"new");
}
