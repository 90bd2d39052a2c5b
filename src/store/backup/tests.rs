//! Unit tests for snapshots, verification, staging and restore.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use redb::{
    Database, Key, ReadTransaction, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    TableHandle, Value, WriteTransaction,
};
use sha2::{Digest, Sha256};

use super::tables::{self, TableVisitor, ValueCheck};
use super::*;
use crate::model::*;
use crate::store::tables::{migrate, MESSAGES, META, USERS};
use crate::store::{MemberRecord, Write as _};

/// Fill every table (the messages table with `messages` rows).
fn populate(txn: &WriteTransaction, messages: u64) {
    migrate(txn).unwrap();
    let alice = User { id: Id(1), username: "alice".into(), display_name: None, created_at: 1 };
    let bob = User { id: Id(2), username: "Bob".into(), display_name: Some("Bobby".into()), created_at: 2 };
    txn.put_user(
        &UserRecord { user: alice.clone(), password_hash: "$argon2id$x".into(), admin: false, disabled: false },
        "alice",
    )
    .unwrap();
    txn.put_user(&UserRecord { user: bob, password_hash: "$argon2id$y".into(), admin: false, disabled: false }, "bob")
        .unwrap();
    txn.put_token(&[7u8; 32], &TokenRecord { id: Id(3), user_id: Id(1), created_at: 3, client: Some("web".into()) })
        .unwrap();
    txn.put_guild(&Guild { id: Id(10), name: "Lodge".into(), owner_id: Id(1), created_at: 10 }).unwrap();
    let channel = |id: u64, kind: ChannelKind, guild: Option<Id>, recipients: Vec<Id>| Channel {
        recipients,
        created_at: id,
        ..Channel::new(Id(id), kind, guild, guild.map(|_| "general".to_string()))
    };
    txn.put_channel(&channel(11, ChannelKind::Text, Some(Id(10)), vec![])).unwrap();
    txn.put_channel(&channel(20, ChannelKind::Dm, None, vec![Id(1), Id(2)])).unwrap();
    txn.put_role(&Role { permissions: Permissions(1024), ..Role::everyone(Id(10)) }).unwrap();
    txn.put_member(Id(10), Id(1), &MemberRecord { nick: Some("al".into()), ..MemberRecord::joined(10) }).unwrap();
    txn.put_invite(&Invite {
        code: "abcdef".into(),
        guild_id: Id(10),
        channel_id: Id(11),
        inviter_id: Id(1),
        max_uses: None,
        uses: 0,
        expires_at: None,
        created_at: 12,
    })
    .unwrap();
    txn.put_dm_pair(Id(1), Id(2), Id(20)).unwrap();
    txn.add_user_channel(Id(1), Id(20)).unwrap();
    txn.set_relationship(Id(1), Id(2), Some(crate::model::relationships::RelationshipKind::Friend)).unwrap();
    let settings = crate::model::relationships::PrivacySettings { allow_guild_dms: false, ..Default::default() };
    txn.put_user_settings(Id(1), &settings).unwrap();
    use crate::store::MessageWrite;
    txn.set_reaction(Id(11), Id(1000), "u:👍", Id(1), true).unwrap();
    let v = crate::model::MessageVersion { content: "before".into(), embeds: vec![], created_at: 1, replaced_at: 2 };
    txn.push_version(Id(11), Id(1000), Id(5000), &v).unwrap();
    txn.set_pin(Id(11), Id(1000), Some(3)).unwrap();
    let emoji = crate::model::GuildEmoji {
        id: Id(30),
        guild_id: Id(10),
        name: "party".into(),
        animated: false,
        creator_id: Id(1),
    };
    txn.put_guild_emoji(&emoji).unwrap();
    for i in 0..messages {
        let mut m = Message::new(Id(1000 + i), Id(11), Some(Id(10)), Author::from(&alice), format!("message {i}"));
        m.created_at = 1000 + i;
        txn.put_message(&m).unwrap();
    }
}

/// A populated database file at `dir/hearth.redb`.
fn populated_db(dir: &Path, messages: u64) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join(DB_FILE);
    let db = Database::create(&path).unwrap();
    let txn = db.begin_write().unwrap();
    populate(&txn, messages);
    txn.commit().unwrap();
    path
}

/// SHA-256 over every (key, value) of every table, per table.
fn digest(txn: &ReadTransaction) -> BTreeMap<String, (u64, String)> {
    struct D<'a>(&'a ReadTransaction, BTreeMap<String, (u64, String)>);
    impl TableVisitor for D<'_> {
        fn table<K: Key + 'static, V: Value + 'static>(
            &mut self,
            def: TableDefinition<'_, K, V>,
            _: Option<ValueCheck>,
        ) -> Result<(), BackupError> {
            let t = self.0.open_table(def).unwrap();
            let mut h = Sha256::new();
            let mut n = 0;
            for row in t.iter().unwrap() {
                let (k, v) = row.unwrap();
                let (kv, vv) = (k.value(), v.value());
                let (kb, vb) = (K::as_bytes(&kv), V::as_bytes(&vv));
                h.update((kb.as_ref().len() as u64).to_le_bytes());
                h.update(kb.as_ref());
                h.update((vb.as_ref().len() as u64).to_le_bytes());
                h.update(vb.as_ref());
                n += 1;
            }
            self.1.insert(def.name().to_string(), (n, hex::encode(h.finalize())));
            Ok(())
        }
    }
    let mut d = D(txn, BTreeMap::new());
    tables::visit_all(&mut d).unwrap();
    d.1
}

fn digest_file(path: &Path) -> BTreeMap<String, (u64, String)> {
    let db = redb::ReadOnlyDatabase::open(path).unwrap();
    let txn = db.begin_read().unwrap();
    digest(&txn)
}

/// A finished backup of a populated database at `dir/backup`.
fn backup_of(dir: &Path, messages: u64) -> PathBuf {
    let data = dir.join("data");
    populated_db(&data, messages);
    let dest = dir.join("backup");
    let staging = Staging::create(&dest).unwrap();
    let snap = snapshot_data_dir(&data, &staging.db_path()).unwrap();
    let manifest = Manifest::describe(&staging.db_path(), &snap).unwrap();
    staging.finish(&manifest).unwrap();
    dest
}

fn flip_bytes(path: &Path, from: usize, every: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let mut i = from;
    while i < bytes.len() {
        bytes[i] ^= 0x5A;
        i += every;
    }
    std::fs::write(path, bytes).unwrap();
}

fn rewrite_manifest(dir: &Path, f: impl FnOnce(&mut Manifest)) {
    let path = dir.join(MANIFEST_FILE);
    let mut m = Manifest::load(&path).unwrap();
    f(&mut m);
    std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
}

#[test]
fn the_table_list_covers_every_table_of_the_schema() {
    let listed = tables::names();
    let mut sorted = listed.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), listed.len(), "a table is listed twice in backup/tables.rs");

    // Every `TableDefinition::new("...")` in store/tables.rs...
    let src = include_str!("../tables.rs");
    let mut defined: Vec<String> = src
        .split("TableDefinition::new(\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next().map(str::to_string))
        .collect();
    defined.sort();
    assert!(defined.len() >= 10, "the parser in this test needs updating: found {defined:?}");
    assert_eq!(defined, sorted, "store/tables.rs and the backup's table list (backup/tables.rs) differ");

    // ...and every table a migrated database holds.
    let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).unwrap();
    let txn = db.begin_write().unwrap();
    migrate(&txn).unwrap();
    txn.commit().unwrap();
    let read = db.begin_read().unwrap();
    let mut present: Vec<String> = read.list_tables().unwrap().map(|t| t.name().to_string()).collect();
    present.sort();
    assert_eq!(present, sorted, "a migrated database has tables the backup does not copy (or lacks some)");
    assert_eq!(read.list_multimap_tables().unwrap().count(), 0, "multimap tables are not backed up");
}

#[test]
fn a_snapshot_copies_every_row_of_every_table_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    // More messages than one copy transaction holds.
    let backup = backup_of(dir.path(), 45_000);
    let source = digest_file(&dir.path().join("data").join(DB_FILE));
    let copy = digest_file(&backup.join(DB_FILE));
    assert_eq!(source, copy);
    for (table, (rows, _)) in &source {
        assert!(*rows > 0, "the test data leaves table {table} empty; populate() needs a row there");
    }
    let report = verify_dir(&backup).unwrap();
    let manifest = report.manifest.clone().unwrap();
    assert_eq!(manifest.tables["messages"], 45_000);
    assert_eq!(report.tables, manifest.tables);
    assert_eq!(report.schema_version, crate::store::SCHEMA_VERSION);
    assert_eq!(manifest.hearth_version, env!("CARGO_PKG_VERSION"));
    // Private to the owner, and no staging directory left beside it.
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(backup.join(DB_FILE)).unwrap().permissions().mode() & 0o777, 0o600);
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
    assert!(report.to_string().contains("OK"));
}

#[test]
fn a_snapshot_is_the_state_when_its_read_transaction_began() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated_db(dir.path(), 10);
    let db = Database::open(&path).unwrap();
    let before = db.begin_read().unwrap();
    let txn = db.begin_write().unwrap();
    {
        let mut m = txn.open_table(MESSAGES).unwrap();
        m.insert((11, 99_999), b"later".as_slice()).unwrap();
    }
    txn.commit().unwrap();
    let out = dir.path().join("snap.redb");
    let snap = snapshot_to_file(&before, &out, 5).unwrap();
    assert_eq!(snap.tables["messages"], 10);
    assert_eq!(snap.created_at, 5);
    drop(before);
    let copy = Database::open(&out).unwrap();
    let r = copy.begin_read().unwrap();
    assert!(r.open_table(MESSAGES).unwrap().get((11, 99_999)).unwrap().is_none());
}

#[test]
fn a_snapshot_refuses_unknown_tables_and_other_schema_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated_db(dir.path(), 1);
    let db = Database::open(&path).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(TableDefinition::<u64, u64>::new("surprise")).unwrap().insert(1, 1).unwrap();
    txn.commit().unwrap();
    let out = dir.path().join("a.redb");
    let e = snapshot_to_file(&db.begin_read().unwrap(), &out, 0).unwrap_err();
    assert!(matches!(&e, BackupError::UnknownTable { table, .. } if table == "surprise"), "{e}");
    assert!(e.to_string().contains("surprise"));

    let txn = db.begin_write().unwrap();
    txn.delete_table(TableDefinition::<u64, u64>::new("surprise")).unwrap();
    txn.open_table(META).unwrap().insert("schema_version", 99).unwrap();
    txn.commit().unwrap();
    let out = dir.path().join("b.redb");
    let e = snapshot_to_file(&db.begin_read().unwrap(), &out, 0).unwrap_err();
    assert!(matches!(e, BackupError::Schema { found: 99, .. }), "{e}");
}

#[test]
fn an_offline_snapshot_refuses_a_database_another_handle_has_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated_db(dir.path(), 1);
    let held = Database::open(&path).unwrap();
    let e = snapshot_data_dir(dir.path(), &dir.path().join("x.redb")).unwrap_err();
    assert!(matches!(e, BackupError::InUse { .. }), "{e}");
    assert!(!dir.path().join("x.redb").exists());
    drop(held);
    snapshot_data_dir(dir.path(), &dir.path().join("x.redb")).unwrap();
    let e = snapshot_data_dir(&dir.path().join("nothing"), &dir.path().join("y.redb")).unwrap_err();
    assert!(matches!(e, BackupError::NoDatabase { .. }), "{e}");
}

#[test]
fn verify_detects_changed_bytes_corruption_bad_records_and_count_mismatches() {
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_of(dir.path(), 200);
    let db_file = backup.join(DB_FILE);
    let original = std::fs::read(&db_file).unwrap();
    verify_dir(&backup).unwrap();
    assert_eq!(std::fs::read(&db_file).unwrap(), original, "verify must not change the file");

    // Changed bytes: the manifest's SHA-256 no longer matches.
    flip_bytes(&db_file, 8192, 4096);
    let e = verify_dir(&backup).unwrap_err();
    assert!(matches!(e, BackupError::Checksum { .. }) && e.is_damage(), "{e}");
    assert!(e.to_string().contains(&db_file.display().to_string()));

    // The same damage with a matching manifest: redb's checks catch it.
    let (size, sha) = fsutil::hash_file(&db_file).unwrap();
    rewrite_manifest(&backup, |m| {
        m.database_bytes = size;
        m.database_sha256 = sha;
    });
    let e = verify_dir(&backup).unwrap_err();
    assert!(e.is_damage(), "{e}");
    assert!(matches!(e, BackupError::Damaged { .. }), "{e}");

    // A record that does not decode (a valid database otherwise).
    std::fs::write(&db_file, &original).unwrap();
    {
        let db = Database::open(&db_file).unwrap();
        let txn = db.begin_write().unwrap();
        txn.open_table(USERS).unwrap().insert(1, b"\xc1 not msgpack".as_slice()).unwrap();
        txn.commit().unwrap();
    }
    let (size, sha) = fsutil::hash_file(&db_file).unwrap();
    rewrite_manifest(&backup, |m| {
        m.database_bytes = size;
        m.database_sha256 = sha;
    });
    let e = verify_dir(&backup).unwrap_err();
    assert!(matches!(&e, BackupError::CorruptRecord { table, .. } if table == "users"), "{e}");
    assert!(e.is_damage());

    // Counts that differ from the manifest.
    std::fs::write(&db_file, &original).unwrap();
    let (size, sha) = fsutil::hash_file(&db_file).unwrap();
    rewrite_manifest(&backup, |m| {
        m.database_bytes = size;
        m.database_sha256 = sha;
        m.tables.insert("messages".into(), 201);
    });
    let e = verify_dir(&backup).unwrap_err();
    assert!(matches!(&e, BackupError::CountMismatch { table, expected: 201, found: 200, .. } if table == "messages"));

    // A garbled manifest, and a file that is not a database at all.
    std::fs::write(backup.join(MANIFEST_FILE), "{not json").unwrap();
    assert!(matches!(verify_dir(&backup).unwrap_err(), BackupError::Manifest { .. }));
    std::fs::remove_file(backup.join(MANIFEST_FILE)).unwrap();
    std::fs::write(&db_file, b"hello").unwrap();
    let e = verify_dir(&backup).unwrap_err();
    assert!(matches!(e, BackupError::Damaged { .. }) && e.to_string().contains("not a redb database"), "{e}");

    // Things that are not backups cannot be checked (not damage).
    let e = verify_dir(&dir.path().join("missing")).unwrap_err();
    assert!(matches!(e, BackupError::NotABackup { .. }) && !e.is_damage());
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(!verify_dir(&empty).unwrap_err().is_damage());
}

#[test]
fn verify_checks_a_stopped_data_dir_and_refuses_one_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated_db(dir.path(), 3);
    let report = verify_dir(dir.path()).unwrap();
    assert!(report.manifest.is_none());
    assert_eq!(report.tables["messages"], 3);
    let held = Database::open(&path).unwrap();
    let e = verify_dir(dir.path()).unwrap_err();
    assert!(matches!(e, BackupError::InUse { .. }) && !e.is_damage(), "{e}");
    drop(held);
}

#[test]
fn staging_never_leaves_a_partial_destination() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("b");
    // Dropped unfinished: nothing is left.
    let staging = Staging::create(&dest).unwrap();
    std::fs::write(staging.db_path(), b"partial").unwrap();
    let staged = staging.dir().to_path_buf();
    drop(staging);
    assert!(!staged.exists() && !dest.exists());

    // A staged backup that does not verify is discarded.
    let staging = Staging::create(&dest).unwrap();
    std::fs::write(staging.db_path(), b"garbage").unwrap();
    let (size, sha) = fsutil::hash_file(&staging.db_path()).unwrap();
    let m = Manifest {
        format: MANIFEST_FORMAT,
        hearth_version: "x".into(),
        schema_version: crate::store::SCHEMA_VERSION,
        created_at: 0,
        database_bytes: size,
        database_sha256: sha,
        tables: BTreeMap::new(),
    };
    let staged = staging.dir().to_path_buf();
    let e = staging.finish(&m).unwrap_err();
    assert!(matches!(e, BackupError::NewBackupInvalid(_)), "{e}");
    assert!(!staged.exists() && !dest.exists());

    // An existing non-empty destination is refused; an empty one is used.
    std::fs::create_dir(&dest).unwrap();
    std::fs::write(dest.join("x"), b"x").unwrap();
    assert!(matches!(Staging::create(&dest).unwrap_err(), BackupError::DestinationExists { .. }));
    std::fs::remove_file(dest.join("x")).unwrap();
    let data = dir.path().join("data");
    populated_db(&data, 1);
    let staging = Staging::create(&dest).unwrap();
    let snap = snapshot_data_dir(&data, &staging.db_path()).unwrap();
    let manifest = Manifest::describe(&staging.db_path(), &snap).unwrap();
    staging.finish(&manifest).unwrap();
    verify_dir(&dest).unwrap();
}

#[test]
fn restore_verifies_refuses_non_empty_dirs_and_copies_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let backup = backup_of(dir.path(), 50);

    // Not empty: refused, untouched.
    let busy = dir.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), b"mine").unwrap();
    let e = restore(&backup, &busy).unwrap_err();
    assert!(matches!(e, BackupError::NotEmpty { .. }), "{e}");
    assert!(e.to_string().contains("not empty") && e.to_string().contains("keep.txt"), "{e}");
    assert_eq!(std::fs::read_dir(&busy).unwrap().count(), 1);

    // Restored into a new directory: the same rows, and the server's store opens it.
    let target = dir.path().join("restored");
    restore(&backup, &target).unwrap();
    let names: Vec<String> =
        std::fs::read_dir(&target).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    assert_eq!(names, [DB_FILE]);
    assert_eq!(digest_file(&target.join(DB_FILE)), digest_file(&backup.join(DB_FILE)));
    let store =
        crate::store::Store::open(&target, std::sync::Arc::new(crate::model::ids::IdGenerator::new(0))).unwrap();
    assert!(store.read().unwrap().open_table(MESSAGES).unwrap().len().unwrap() == 50);
    store.shutdown();
    store.wait_closed();

    // A damaged backup is not restored.
    flip_bytes(&backup.join(DB_FILE), 5000, 7000);
    let target = dir.path().join("restored2");
    assert!(restore(&backup, &target).unwrap_err().is_damage());
    assert!(!target.join(DB_FILE).exists());
}

#[test]
fn utc_timestamps() {
    assert_eq!(verify::utc(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(verify::utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
    assert_eq!(verify::utc(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
}

#[test]
fn an_unclean_file_is_noted_in_a_data_dir_and_damage_in_a_backup() {
    let dir = tempfile::tempdir().unwrap();
    let path = populated_db(&dir.path().join("live"), 5);
    // A database still open has its recovery flag set on disk; a copy of the
    // file then looks like one left by a crash.
    let open = Database::open(&path).unwrap();
    let crashed = dir.path().join("crashed");
    std::fs::create_dir(&crashed).unwrap();
    std::fs::copy(&path, crashed.join(DB_FILE)).unwrap();
    drop(open);
    let before = std::fs::read(crashed.join(DB_FILE)).unwrap();
    let report = verify_dir(&crashed).unwrap();
    assert!(report.notes.iter().any(|n| n.contains("not shut down cleanly")), "{report}");
    assert_eq!(report.tables["messages"], 5);
    assert_eq!(std::fs::read(crashed.join(DB_FILE)).unwrap(), before, "verify must not repair the file");

    // The same file presented as a backup (with a matching manifest) is damaged.
    let (database_bytes, database_sha256) = fsutil::hash_file(&crashed.join(DB_FILE)).unwrap();
    let m = Manifest {
        format: MANIFEST_FORMAT,
        hearth_version: "x".into(),
        schema_version: crate::store::SCHEMA_VERSION,
        created_at: 0,
        database_bytes,
        database_sha256,
        tables: report.tables.clone(),
    };
    std::fs::write(crashed.join(MANIFEST_FILE), serde_json::to_vec(&m).unwrap()).unwrap();
    let e = verify_dir(&crashed).unwrap_err();
    assert!(matches!(e, BackupError::Damaged { .. }) && e.to_string().contains("not closed cleanly"), "{e}");

    // An offline backup of it recovers it first, as the server would.
    let out = dir.path().join("out.redb");
    std::fs::remove_file(crashed.join(MANIFEST_FILE)).unwrap();
    let snap = snapshot_data_dir(&crashed, &out).unwrap();
    assert_eq!(snap.tables["messages"], 5);
}
