#!/usr/bin/env python3
"""Generates tampered copies of a vault, one per scenario, with the outcome each must give.

    tamper_vault.py VAULT OTHER_VAULT OUTDIR

VAULT and OTHER_VAULT are closed (checkpointed) vaults with the same passphrase; VAULT
holds the profile "dev" with at least two records. Writes OUTDIR/NNNN.db files and
OUTDIR/manifest.tsv with lines "file<TAB>expect<TAB>comment", where expect is one of
success, damaged, wrong-passphrase, integrity-failure, unsupported-version (the vault
vector classes of docs/spec/vault.md). Deterministic: the same inputs give the same set.
"""
import os
import shutil
import sqlite3
import sys

vault, other, outdir = sys.argv[1:4]
os.makedirs(outdir, exist_ok=True)
manifest = []


def variant(expect, comment, sql, params=()):
    name = os.path.join(outdir, f"{len(manifest):04d}.db")
    shutil.copyfile(vault, name)
    os.chmod(name, 0o600)
    db = sqlite3.connect(name)
    db.execute(f"ATTACH DATABASE ? AS other", (other,))
    if sql:
        db.execute(sql, params)
    db.commit()
    db.execute("DETACH DATABASE other")
    db.close()
    manifest.append((os.path.basename(name), expect, comment))


def blob_cases(table, column, where, value, expect, sample=None):
    positions = range(len(value))
    if sample and len(value) > sample:
        step = max(1, len(value) // sample)
        positions = sorted(set(list(range(0, len(value), step)) + list(range(len(value) - 16, len(value)))))
    for i in positions:
        changed = bytearray(value)
        changed[i] ^= 0x01
        variant(expect, f"{table}.{column} byte {i} flipped", f"UPDATE {table} SET {column} = ? WHERE {where}", (bytes(changed),))
    variant(expect, f"{table}.{column} truncated by one byte", f"UPDATE {table} SET {column} = ? WHERE {where}", (value[:-1],))
    variant(expect, f"{table}.{column} extended by one byte", f"UPDATE {table} SET {column} = ? WHERE {where}", (value + b"\x00",))
    variant(expect, f"{table}.{column} emptied", f"UPDATE {table} SET {column} = ? WHERE {where}", (b"",))


src = sqlite3.connect(vault)
header = src.execute("SELECT vault_id, key_generation, data_key_nonce, data_key_wrapped FROM vault_header").fetchone()
slot = src.execute("SELECT slot_id, kdf_opslimit, kdf_memlimit, kdf_salt, nonce, wrapped_root_key FROM key_slots WHERE kind = 'passphrase' ORDER BY slot_id LIMIT 1").fetchone()
records = src.execute("SELECT profile, kind, name, nonce, ciphertext FROM records ORDER BY profile, kind, name").fetchall()
src.close()
assert len(records) >= 2, "the vault needs at least two records"

variant("success", "unmodified copy (control)", None)

# The vault's own header row.
for column, value in zip(["vault_id", "data_key_nonce", "data_key_wrapped"], [header[0], header[2], header[3]]):
    blob_cases("vault_header", column, "singleton = 1", value, "integrity-failure")
for delta in (1, -1):
    variant("integrity-failure", f"vault_header.key_generation {delta:+d}", "UPDATE vault_header SET key_generation = key_generation + ?", (delta,))
for version in (2, 0, 255, 1 << 40):
    variant("unsupported-version", f"vault_header.format_version = {version}", "UPDATE vault_header SET format_version = ?", (version,))
variant("damaged", "vault_header row deleted", "DELETE FROM vault_header")

# The passphrase key slot.
slot_id, ops, mem, salt, nonce, wrapped = slot
where = f"slot_id = {slot_id}"
for column, value in zip(["kdf_salt", "nonce", "wrapped_root_key"], [salt, nonce, wrapped]):
    blob_cases("key_slots", column, where, value, "wrong-passphrase")
for column, value in [("kdf_opslimit", ops + 1), ("kdf_opslimit", ops - 1), ("kdf_opslimit", 17),
                      ("kdf_memlimit", mem * 2), ("kdf_memlimit", mem + 1024), ("kdf_memlimit", (4 << 30) + 1024),
                      ("kdf_memlimit", 1 << 62), ("kind", "passphrasf"), ("kdf_algorithm", "argon2i13"),
                      ("slot_id", slot_id + 10)]:
    variant("wrong-passphrase", f"key_slots.{column} = {value}", f"UPDATE key_slots SET {column} = ? WHERE {where}", (value,))

# Records: every byte of the nonce, a sample of the ciphertext (all of the tag), the
# generation, and every part of the identity.
profile, kind, name, r_nonce, r_cipher = records[0]
rwhere = f"profile = '{profile}' AND kind = '{kind}' AND name = '{name}'"
blob_cases("records", "nonce", rwhere, r_nonce, "integrity-failure")
blob_cases("records", "ciphertext", rwhere, r_cipher, "integrity-failure", sample=64)
for delta in (1, -1):
    variant("integrity-failure", f"records.key_generation {delta:+d}", f"UPDATE records SET key_generation = key_generation + ? WHERE {rwhere}", (delta,))
variant("integrity-failure", "record renamed (ciphertext moved to another name)", f"UPDATE records SET name = name || '-moved' WHERE {rwhere}")
variant("integrity-failure", "record kind changed", f"UPDATE records SET kind = 'service_account' WHERE {rwhere}")
name2 = os.path.join(outdir, f"{len(manifest):04d}.db")
shutil.copyfile(vault, name2); os.chmod(name2, 0o600)
db = sqlite3.connect(name2)
db.execute("INSERT INTO profiles (name) VALUES ('prod-moved')")
db.execute(f"UPDATE records SET profile = 'prod-moved' WHERE {rwhere}")
db.commit(); db.close()
manifest.append((os.path.basename(name2), "integrity-failure", "record moved to another profile"))
p2, k2, n2, nonce2, cipher2 = records[1]
variant("integrity-failure", "ciphertext and nonce of another record copied over this one",
        f"UPDATE records SET nonce = ?, ciphertext = ? WHERE {rwhere}", (nonce2, cipher2))

# Across vaults with the same passphrase.
variant("integrity-failure", "record ciphertext copied from another vault (same passphrase, same identity)",
        f"UPDATE records SET nonce = (SELECT nonce FROM other.records WHERE {rwhere}), "
        f"ciphertext = (SELECT ciphertext FROM other.records WHERE {rwhere}), "
        f"key_generation = (SELECT key_generation FROM other.records WHERE {rwhere}) WHERE {rwhere}")
variant("integrity-failure", "passphrase slot copied from another vault (same passphrase)",
        f"UPDATE key_slots SET kdf_salt = (SELECT kdf_salt FROM other.key_slots WHERE {where}), "
        f"nonce = (SELECT nonce FROM other.key_slots WHERE {where}), "
        f"wrapped_root_key = (SELECT wrapped_root_key FROM other.key_slots WHERE {where}) WHERE {where}")

with open(os.path.join(outdir, "manifest.tsv"), "w") as f:
    for row in manifest:
        f.write("\t".join(row) + "\n")
print(len(manifest))
