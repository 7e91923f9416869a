#!/usr/bin/env python3
"""An independent reader of credbroker vault files, written from docs/spec/vault.md only.

It uses Python's sqlite3 and PyNaCl (libsodium), nothing from the Swift code, to unlock a
vault with a passphrase and print one record's plaintext payload on stdout.

    read_vault.py VAULT PASSPHRASE_FILE PROFILE KIND NAME
"""
import sqlite3
import struct
import sys

import nacl.bindings
import nacl.exceptions
import nacl.pwhash

FORMAT_VERSION = 1


def lp(data: bytes) -> bytes:
    """2-byte big-endian length, then the bytes (spec: "lp(x)")."""
    return struct.pack(">H", len(data)) + data


def slot_ad(slot_id, kind, algorithm, ops, mem, salt):
    return (b"credbroker-vault/v1/key-slot" + struct.pack(">I", FORMAT_VERSION)
            + struct.pack(">Q", slot_id) + lp(kind.encode()) + lp(algorithm.encode())
            + struct.pack(">Q", ops) + struct.pack(">Q", mem) + lp(salt))


def data_key_ad(vault_id, generation):
    return (b"credbroker-vault/v1/data-key" + struct.pack(">I", FORMAT_VERSION)
            + vault_id + struct.pack(">Q", generation))


def record_ad(vault_id, profile, kind, name, generation):
    return (b"credbroker-vault/v1/record" + struct.pack(">I", FORMAT_VERSION) + vault_id
            + lp(profile.encode()) + lp(kind.encode()) + lp(name.encode())
            + struct.pack(">Q", generation))


def decrypt(ciphertext, ad, nonce, key):
    return nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, ad, nonce, key)


def main():
    vault, passfile, profile, kind, name = sys.argv[1:6]
    passphrase = open(passfile, "rb").read()
    if passphrase.endswith(b"\n"):
        passphrase = passphrase[:-1]
    if passphrase.endswith(b"\r"):
        passphrase = passphrase[:-1]
    db = sqlite3.connect(f"file:{vault}?mode=ro", uri=True)
    (app_id,) = db.execute("PRAGMA application_id").fetchone()
    assert app_id == 0x43424B56, "not a credbroker vault"
    version, vault_id, generation, dk_nonce, dk_wrapped = db.execute(
        "SELECT format_version, vault_id, key_generation, data_key_nonce, data_key_wrapped "
        "FROM vault_header WHERE singleton = 1").fetchone()
    if version != FORMAT_VERSION:
        sys.exit(f"unsupported vault format version {version}")

    root_key = None
    for slot_id, algorithm, ops, mem, salt, nonce, wrapped in db.execute(
            "SELECT slot_id, kdf_algorithm, kdf_opslimit, kdf_memlimit, kdf_salt, nonce, "
            "wrapped_root_key FROM key_slots WHERE kind = 'passphrase' ORDER BY slot_id"):
        assert algorithm == "argon2id13"
        slot_key = nacl.pwhash.argon2id.kdf(32, passphrase, salt, opslimit=ops, memlimit=mem)
        try:
            root_key = decrypt(wrapped, slot_ad(slot_id, "passphrase", algorithm, ops, mem, salt),
                               nonce, slot_key)
            break
        except nacl.exceptions.CryptoError:
            continue
    if root_key is None:
        sys.exit("wrong passphrase or damaged key slot")

    data_key = decrypt(dk_wrapped, data_key_ad(vault_id, generation), dk_nonce, root_key)
    row = db.execute("SELECT key_generation, nonce, ciphertext FROM records "
                     "WHERE profile = ? AND kind = ? AND name = ?", (profile, kind, name)).fetchone()
    if row is None:
        sys.exit("no such record")
    record_generation, nonce, ciphertext = row
    plaintext = decrypt(ciphertext, record_ad(vault_id, profile, kind, name, record_generation),
                        nonce, data_key)
    sys.stdout.write(plaintext.decode())


if __name__ == "__main__":
    main()
