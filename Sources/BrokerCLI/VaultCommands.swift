import ArgumentParser
import BrokerCrypto
import BrokerSystem
import BrokerVault
import Foundation

struct VaultCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault",
        abstract: "Create and inspect the encrypted vault.",
        subcommands: [VaultInit.self, VaultStatusCommand.self, VaultUnlock.self, VaultLock.self, VaultRotate.self, VaultPasswd.self, VaultBackup.self, VaultRestore.self, VaultSlots.self, VaultAddSlot.self, VaultRemoveSlot.self])
}

struct VaultInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Create a new vault with a passphrase slot and a recovery key.",
        discussion: """
            Asks for the passphrase twice on the terminal (no echo), or reads it from \
            --passphrase-file (use - for standard input). Prints the recovery key once, on \
            standard output: store it offline. When credbrokerd runs (and no --vault is given) \
            the daemon creates its vault; otherwise this works on the file directly.
            """)

    @OptionGroup var daemon: SocketOption

    @Option(name: .long, help: ArgumentHelp("The vault file.", valueName: "path"))
    var vault: String?

    @Option(name: .long, help: ArgumentHelp("Argon2id strength: interactive, moderate or sensitive.", valueName: "strength"))
    var kdf: String = "moderate"

    @Option(name: .long, help: ArgumentHelp("Read the passphrase from this file (- for standard input).", valueName: "file"))
    var passphraseFile: String?

    @Flag(name: .long, help: "Accept KDF parameters below the interactive floor (tests only).")
    var allowWeakKDF = false

    static let minimumPassphraseBytes = 8

    func run() throws {
        try harden()
        if vault == nil && DaemonClient.isRunning(flag: daemon.socket) {
            guard PasswordKDF.Strength.named(kdf) != nil else {
                throw ValidationError("unknown --kdf \"\(kdf)\"; use interactive, moderate or sensitive")
            }
            let secret = try readNewPassphrase()
            guard secret.count >= Self.minimumPassphraseBytes else {
                throw CLIError(message: "the passphrase is shorter than \(Self.minimumPassphraseBytes) characters")
            }
            var bytes = secret.unsafeCopyToArray()
            try DaemonInit.run(socket: daemon.socket, kdf: kdf, allowWeakKDF: allowWeakKDF, passphrase: &bytes)
            return
        }
        let path = vault ?? Paths.defaultVault()
        guard let strength = PasswordKDF.Strength.named(kdf) else {
            throw ValidationError("unknown --kdf \"\(kdf)\"; use interactive, moderate or sensitive")
        }
        let passphrase = try readNewPassphrase()
        guard passphrase.count >= Self.minimumPassphraseBytes else {
            throw CLIError(message: "the passphrase is shorter than \(Self.minimumPassphraseBytes) characters")
        }
        let created: CreatedVault
        do { created = try Vault.create(at: path, passphrase: passphrase, strength: strength, allowWeakKDF: allowWeakKDF) } catch {
            // The weak-KDF message already names --allow-weak-kdf; others stand alone.
            throw CLIError(message: error.message)
        }
        Console.info("created vault \"\(created.vault.path)\" (format version 1, KDF argon2id13 \(strength.name))")
        Console.warning("the recovery key below is shown only this once: store it offline; it unlocks the vault without the passphrase")
        var text = created.recoveryKey.unsafeCopyToArray()
        text.append(0x0A)
        FileHandle.standardOutput.write(Data(text))
        wipe(&text)
        Console.warnIfMemoryUnlocked()
    }

    private func readNewPassphrase() throws -> SecretBytes {
        if let file = passphraseFile {
            do { return try SecretFile.readPassphrase(path: file) } catch { throw CLIError(message: error.description) }
        }
        guard Terminal.isAvailable else {
            throw CLIError(message: "no terminal to read the passphrase from", hint: "pass --passphrase-file FILE, or - to read standard input")
        }
        let first = try Terminal.readSecret(prompt: "Passphrase for the new vault: ")
        let second = try Terminal.readSecret(prompt: "Repeat the passphrase: ")
        guard first.constantTimeEquals(second) else { throw CLIError(message: "the passphrases do not match") }
        return first
    }
}

struct VaultStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the vault's format, key slots, profiles and record counts (no secrets).")

    @Option(name: .long, help: ArgumentHelp("The vault file.", valueName: "path"))
    var vault: String?

    @Flag(name: .long, help: "Print JSON on standard output.")
    var json = false

    func run() throws {
        try harden()
        let path = vault ?? Paths.defaultVault()
        let status: VaultStatus
        do { status = try Vault.open(at: path).status() } catch {
            throw CLIError(message: error.message, hint: error.code == .notFound ? "run \"credbroker vault init\" first" : nil)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(status) + Data("\n".utf8))
            return
        }
        print(Self.render(status))
    }

    static func render(_ status: VaultStatus) -> String {
        func size(_ bytes: UInt64) -> String { bytes >= 1 << 20 ? "\(bytes >> 20) MiB" : "\(bytes >> 10) KiB" }
        var lines = [
            "vault:          \(status.path)",
            "format version: \(status.formatVersion)",
            "vault id:       \(status.vaultID)",
            "state:          \(status.locked ? "locked (read without unlocking; metadata is authenticated at unlock)" : "unlocked")",
            "key generation: \(status.keyGeneration)",
            "key slots:",
        ]
        for slot in status.slots {
            lines.append("  \(slot.id)  \(slot.kind)  \(slot.kdf) opslimit \(slot.opslimit) memlimit \(size(slot.memlimitBytes))")
        }
        lines.append(status.profiles.isEmpty ? "profiles:       none" : "profiles:")
        for profile in status.profiles {
            let counts = profile.records.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
            lines.append("  \(profile.name)  \(counts.isEmpty ? "no records" : counts.joined(separator: ", "))")
        }
        lines.append("file size:      \(status.fileBytes) bytes")
        return lines.joined(separator: "\n")
    }
}

/// Hardening before any secret is read (ssh-agent's order).
func harden() throws {
    do { try ProcessHardening.apply() } catch {
        throw CLIError(message: "cannot harden the process: \(error)")
    }
}
