//! The export reader on exports written here, in both layouts: the legacy
//! `docker save` one and the OCI image layout (as documented in the OCI
//! image spec: `oci-layout`, `index.json`, `blobs/sha256/<hex>`).

use super::*;
use crate::observation::EntryKind;

/// A layer tar: (path, content) files, folders (paths ending in `/`),
/// whiteouts are just files named `.wh.*`.
fn layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in entries {
        let mut h = tar::Header::new_ustar();
        if path.ends_with('/') {
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            h.set_mode(0o755);
            h.set_cksum();
            b.append_data(&mut h, path, std::io::empty()).expect("dir");
        } else {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(content.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, path, *content).expect("file");
        }
    }
    b.into_inner().expect("tar")
}

fn append(b: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, path, bytes).expect("append");
}

const CONFIG: &str = r#"{"history":[
  {"created_by":"/bin/sh -c #(nop) ADD file:abc in / "},
  {"created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true},
  {"created_by":"/bin/sh -c #(nop) COPY file:def in /secret/token "},
  {"created_by":"/bin/sh -c rm /secret/token"}
]}"#;

fn layers() -> [Vec<u8>; 3] {
    [
        layer(&[
            ("bin/", b""),
            ("bin/sh", b"#!shell"),
            ("etc/passwd", b"root:x:0:0"),
        ]),
        layer(&[("secret/", b""), ("secret/token", b"s3cr3t-value")]),
        layer(&[("secret/", b""), ("secret/.wh.token", b"")]),
    ]
}

/// The legacy layout, written in the order Docker 20.10 writes it: layer
/// folders first (in no particular order), the config, the manifest last.
/// The third layer is a symlink to a copy, as `docker save` does for a
/// layer that appears twice.
fn legacy_export() -> Vec<u8> {
    let [l1, l2, l3] = layers();
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "bbb/layer.tar", &l2);
    append(&mut b, "bbb/json", br#"{"id":"bbb"}"#);
    append(&mut b, "aaa/layer.tar", &l1);
    append(&mut b, "ccc/layer.tar", &l3);
    let mut link = tar::Header::new_ustar();
    link.set_entry_type(tar::EntryType::Symlink);
    link.set_size(0);
    link.set_cksum();
    b.append_link(&mut link, "ddd/layer.tar", "../ccc/layer.tar")
        .expect("link");
    append(&mut b, "1234.json", CONFIG.as_bytes());
    append(
        &mut b,
        "manifest.json",
        br#"[{"Config":"1234.json","RepoTags":["x:y"],"Layers":["aaa/layer.tar","bbb/layer.tar","ddd/layer.tar"]}]"#,
    );
    b.into_inner().expect("tar")
}

fn sha(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The OCI layout with no `manifest.json`: only the index leads to the
/// layers, through an image manifest; one layer gzipped.
fn oci_export() -> Vec<u8> {
    let [l1, l2, l3] = layers();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &l2).expect("gzip");
    let l2 = gz.finish().expect("gzip");
    let config = CONFIG.as_bytes();
    let desc = |media: &str, bytes: &[u8]| {
        format!(
            r#"{{"mediaType":"{media}","digest":"sha256:{}","size":{}}}"#,
            sha(bytes),
            bytes.len()
        )
    };
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[{},{},{}]}}"#,
        desc("application/vnd.oci.image.config.v1+json", config),
        desc("application/vnd.oci.image.layer.v1.tar", &l1),
        desc("application/vnd.oci.image.layer.v1.tar+gzip", &l2),
        desc("application/vnd.oci.image.layer.v1.tar", &l3),
    );
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
        desc(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.as_bytes()
        )
    );
    let mut b = tar::Builder::new(Vec::new());
    for blob in [&l3[..], &l1, manifest.as_bytes(), &l2, config] {
        append(&mut b, &format!("blobs/sha256/{}", sha(blob)), blob);
    }
    append(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    append(&mut b, "index.json", index.as_bytes());
    b.into_inner().expect("tar")
}

fn assert_scanned(contents: &LayerContents) {
    assert_eq!(contents.layers.len(), 3);
    let paths = |i: usize| -> Vec<(&str, EntryKind, u64)> {
        contents.layers[i]
            .entries
            .iter()
            .map(|e| (e.path.as_str(), e.kind, e.size))
            .collect()
    };
    assert_eq!(
        paths(0),
        [
            ("/bin", EntryKind::Dir, 0),
            ("/bin/sh", EntryKind::File, 7),
            ("/etc/passwd", EntryKind::File, 10)
        ]
    );
    assert_eq!(contents.layers[0].size, 17);
    assert_eq!(
        paths(1),
        [
            ("/secret", EntryKind::Dir, 0),
            ("/secret/token", EntryKind::File, 12)
        ]
    );
    assert_eq!(
        paths(2),
        [
            ("/secret", EntryKind::Dir, 0),
            ("/secret/token", EntryKind::Whiteout, 0)
        ]
    );
    let made: Vec<&str> = contents
        .history
        .iter()
        .filter(|h| h.empty_layer != Some(true))
        .map(|h| h.created_by.as_str())
        .collect();
    assert_eq!(made.len(), 3);
    assert_eq!(made[2], "/bin/sh -c rm /secret/token");
}

#[test]
fn the_legacy_layout_is_read_in_the_manifests_order() {
    assert_scanned(&read_export(&legacy_export()[..]).expect("scans"));
}

#[test]
fn the_oci_layout_is_read_through_its_index() {
    assert_scanned(&read_export(&oci_export()[..]).expect("scans"));
}

#[test]
fn an_opaque_folder_and_a_long_path_are_read() {
    let long = format!("{}/f", "d".repeat(300));
    let l = layer(&[("data/.wh..wh..opq", b""), (long.as_str(), b"x")]);
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "l/layer.tar", &l);
    append(
        &mut b,
        "manifest.json",
        br#"[{"Config":"c.json","Layers":["l/layer.tar"]}]"#,
    );
    let contents = read_export(&b.into_inner().expect("tar")[..]).expect("scans");
    let entries = &contents.layers[0].entries;
    assert_eq!(entries[0].path, "/data");
    assert_eq!(entries[0].kind, EntryKind::Opaque);
    assert_eq!(entries[1].path, format!("/{long}"));
    assert!(contents.history.is_empty(), "no config, no history");
}

#[test]
fn a_broken_export_is_an_error_not_a_panic() {
    for bytes in [&b""[..], b"not a tar at all", &[0u8; 1024]] {
        assert!(read_export(bytes).is_err());
    }
    // A manifest naming a layer that is not there.
    let mut b = tar::Builder::new(Vec::new());
    append(
        &mut b,
        "manifest.json",
        br#"[{"Config":"c.json","Layers":["x/layer.tar"]}]"#,
    );
    let err = read_export(&b.into_inner().expect("tar")[..]).expect_err("missing layer");
    assert!(err.to_string().contains("x/layer.tar"), "{err}");
}

#[test]
fn a_config_too_large_to_keep_is_refused_not_ignored() {
    let l = layer(&[("a", b"x")]);
    let mut b = tar::Builder::new(Vec::new());
    append(&mut b, "l/layer.tar", &l);
    let big = format!("{{\"history\":[],\"pad\":\"{}\"}}", "x".repeat(9 << 20));
    append(&mut b, "big.json", big.as_bytes());
    append(
        &mut b,
        "manifest.json",
        br#"[{"Config":"big.json","Layers":["l/layer.tar"]}]"#,
    );
    let err = read_export(&b.into_inner().expect("tar")[..]).expect_err("too large");
    assert!(matches!(err, ScanError::ConfigTooLarge), "{err}");
}

#[test]
fn json_that_spells_ustar_where_a_tar_header_would_is_still_json() {
    let mut config = format!("{{\"history\":[],\"x\":\"{}", "a".repeat(238));
    assert_eq!(config.len(), 257);
    config.push_str("ustar\u{0}00");
    config.push_str(&"b".repeat(300));
    config.push_str("\"}");
    assert!(!looks_like_tar(&config.as_bytes()[..512]));
    let l = layer(&[("a", b"x")]);
    assert!(looks_like_tar(&l[..512]), "a real header is a tar");
}
