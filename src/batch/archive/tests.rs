//! Unpacking archives made by the tests, good and hostile.

use std::io::Write;

use super::*;

fn tar_gz(entries: &[(&str, &[u8])], links: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut b = tar::Builder::new(gz);
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // Written raw, so names the tar crate would refuse to write can be tested.
        h.as_gnu_mut().expect("gnu").name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *data).expect("append");
    }
    for (name, target) in links {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, name, target).expect("link");
    }
    b.into_inner().expect("tar").finish().expect("gz")
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, options).expect("start");
        w.write_all(data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

fn unpacked(name: &str, bytes: &[u8], limits: Limits) -> (tempfile::TempDir, Result<(), String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join(name);
    std::fs::write(&archive, bytes).expect("write archive");
    let into = dir.path().join("out");
    std::fs::create_dir(&into).expect("mkdir");
    let result = unpack(&archive, &into, limits);
    (dir, result)
}

#[test]
fn a_good_archive_unpacks_with_its_links_inside() {
    let bytes = tar_gz(
        &[("Dockerfile", b"FROM x\n"), ("app/run.sh", b"echo\n")],
        &[("run", "app/run.sh")],
    );
    let (dir, result) = unpacked("alice.tar.gz", &bytes, Limits::default());
    result.expect("unpacks");
    let out = dir.path().join("out");
    assert_eq!(
        std::fs::read(out.join("Dockerfile")).expect("file"),
        b"FROM x\n"
    );
    assert_eq!(
        std::fs::read(out.join("run")).expect("through the link"),
        b"echo\n"
    );

    let (dir, result) = unpacked(
        "bob.zip",
        &zip_of(&[("sub/a.txt", b"a")]),
        Limits::default(),
    );
    result.expect("unpacks");
    assert!(dir.path().join("out/sub/a.txt").is_file());
}

#[test]
fn names_and_links_that_lead_out_are_refused() {
    for (name, bytes) in [
        ("slip.tar.gz", tar_gz(&[("../evil", b"x")], &[])),
        ("abs.tar.gz", tar_gz(&[("/tmp/evil", b"x")], &[])),
        ("link.tar.gz", tar_gz(&[], &[("leak", "../../etc/passwd")])),
        ("abslink.tar.gz", tar_gz(&[], &[("leak", "/etc/passwd")])),
        ("slip.zip", zip_of(&[("../../evil.txt", b"x")])),
    ] {
        let (dir, result) = unpacked(name, &bytes, Limits::default());
        let err = result.expect_err(name);
        assert!(
            err.contains("out of its folder") || err.contains("outside its folder"),
            "{name}: {err}"
        );
        assert!(!dir.path().join("evil").exists() && !dir.path().join("evil.txt").exists());
    }
}

#[test]
fn bombs_are_refused_by_what_is_written_not_by_headers() {
    let zeros = vec![0u8; 30_000_000];
    let (_, result) = unpacked("bomb.zip", &zip_of(&[("zeros", &zeros)]), Limits::default());
    let err = result.expect_err("a bomb");
    assert!(err.contains("decompression bomb"), "{err}");

    let many: Vec<(String, Vec<u8>)> = (0..30).map(|i| (format!("f{i}"), vec![b'x'])).collect();
    let refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let limits = Limits {
        files: 10,
        ..Limits::default()
    };
    let (_, result) = unpacked("many.tar.gz", &tar_gz(&refs, &[]), limits);
    assert!(result.expect_err("too many").contains("more than 10 files"));

    let limits = Limits {
        bytes: 1000,
        ..Limits::default()
    };
    let (_, result) = unpacked("big.tar.gz", &tar_gz(&[("big", &[7u8; 5000])], &[]), limits);
    assert!(
        result
            .expect_err("too big")
            .contains("unpacks to more than")
    );
}

#[test]
fn a_damaged_archive_says_so() {
    let (_, result) = unpacked("broken.zip", b"PK\x03\x04 not really", Limits::default());
    assert!(result.is_err());
    let (_, result) = unpacked("broken.tar.gz", b"\x1f\x8b garbage", Limits::default());
    assert!(result.is_err());
}
