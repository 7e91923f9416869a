import ArgumentParser
import BrokerCore
import BrokerCrypto
import BrokerSystem
import BrokerWire
import Foundation

struct VaultUnlock: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unlock",
        abstract: "Unlock the daemon's vault with the passphrase, a key file or the recovery key.",
        discussion: "The passphrase is read from the terminal without echo, or from --passphrase-file (- for standard input); never from the command line or the environment.")

    @OptionGroup var daemon: SocketOption
    @Option(name: .long, help: ArgumentHelp("Read the passphrase from this file (- for standard input).", valueName: "file"))
    var passphraseFile: String?
    @Option(name: .long, help: ArgumentHelp("Unlock with this key file (0600, yours).", valueName: "file"))
    var keyFile: String?
    @Flag(name: .long, help: "Unlock with the recovery key (read like a passphrase).")
    var recovery = false

    func validate() throws {
        // --recovery reads the recovery key like a passphrase (--passphrase-file works with
        // it); a key file is a third way and goes with neither.
        if keyFile != nil && (recovery || passphraseFile != nil) {
            throw ValidationError("--key-file excludes --recovery and --passphrase-file: name one way to unlock")
        }
    }

    func run() throws {
        try harden()
        let method: String
        var secret: [UInt8]
        if let keyFile {
            method = "keyfile"
            do { secret = try SecretFile.readKeyFile(path: keyFile).unsafeCopyToArray() } catch { throw CLIError(message: error.description) }
        } else {
            method = recovery ? "recovery" : "passphrase"
            secret = try SecretInput.read(file: passphraseFile, prompt: recovery ? "Recovery key: " : "Vault passphrase: ")
        }
        let client = try DaemonClient.connect(flag: daemon.socket)
        let body = UnlockRequest(method: method, secret: SecretInput.base64(&secret))
        let ok = try client.call("POST", "/v1/admin/unlock", body: body, as: OKResponse.self)
        Console.info(ok.message)
    }
}

/// A command that POSTs to an admin route with no body and prints the message.
protocol SimpleAdminCommand: ParsableCommand {
    var daemon: SocketOption { get }
    static var route: String { get }
}

extension SimpleAdminCommand {
    func run() throws {
        let client = try DaemonClient.connect(flag: daemon.socket)
        let ok = try client.call("POST", Self.route, body: [String: String](), as: OKResponse.self)
        Console.info(ok.message)
    }
}

struct VaultLock: SimpleAdminCommand {
    static let configuration = CommandConfiguration(commandName: "lock", abstract: "Lock the daemon's vault: its keys are wiped from memory.")
    static let route = "/v1/admin/lock"
    @OptionGroup var daemon: SocketOption
}

struct VaultRotate: SimpleAdminCommand {
    static let configuration = CommandConfiguration(commandName: "rotate", abstract: "Re-encrypt every record under a new data key (one transaction).")
    static let route = "/v1/admin/rotate"
    @OptionGroup var daemon: SocketOption
}

struct VaultPasswd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "passwd", abstract: "Change the vault passphrase (the KDF parameters are upgraded too).")
    @OptionGroup var daemon: SocketOption
    @Option(name: .long, help: ArgumentHelp("Read the current passphrase from this file.", valueName: "file"))
    var currentFile: String?
    @Option(name: .long, help: ArgumentHelp("Read the new passphrase from this file.", valueName: "file"))
    var newFile: String?
    @Option(name: .long, help: ArgumentHelp("Argon2id strength for the new slot: interactive, moderate or sensitive.", valueName: "strength"))
    var kdf = "moderate"

    func run() throws {
        try harden()
        var current = try SecretInput.read(file: currentFile, prompt: "Current passphrase: ")
        var new = try SecretInput.read(file: newFile, prompt: "New passphrase: ", confirm: "Repeat the new passphrase: ")
        let client = try DaemonClient.connect(flag: daemon.socket)
        let ok = try client.call("POST", "/v1/admin/passwd", body: PasswdRequest(current: SecretInput.base64(&current), new: SecretInput.base64(&new), kdf: kdf), as: OKResponse.self)
        Console.info(ok.message)
    }
}

struct VaultBackup: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Write an encrypted copy of the vault (the daemon writes the file itself).",
        discussion: """
            The backup is as encrypted as the vault and opens with the same passphrase, key file \
            or recovery key. In system mode the file must lie under the daemon's state directory \
            (/var/lib/credbroker; the shipped units use /var/lib/credbroker/backups).

            With --dir DIR instead of FILE the backup is named after the current UTC time, \
            vault-YYYYMMDDTHHMMSS.mmmZ.db, and its path is printed on standard output. With \
            --keep N as well, the oldest backups in DIR are then deleted until N remain, the new \
            one included. Only files named exactly in that form are ever deleted; anything else \
            in DIR is left alone. Listing and deleting are done by this command, so it must be \
            able to write DIR (in system mode: root, as credbroker-backup.service runs it).
            """)
    @OptionGroup var daemon: SocketOption
    @Argument(help: "Where to write the backup.") var file: String?
    @Flag(name: .long, help: "Replace an existing FILE.") var force = false
    @Option(name: .long, help: ArgumentHelp("Write a timestamped backup into this existing directory instead of FILE.", valueName: "dir"))
    var dir: String?
    @Option(name: .long, help: ArgumentHelp("With --dir: delete the oldest backups in the directory until this many remain.", valueName: "n"))
    var keep: Int?

    func validate() throws {
        if (file == nil) == (dir == nil) { throw ValidationError("give either FILE or --dir DIR") }
        if dir != nil && force { throw ValidationError("--force applies to FILE; a --dir backup never replaces a file") }
        if keep != nil && dir == nil { throw ValidationError("--keep needs --dir") }
        if let keep, keep < 1 { throw ValidationError("--keep must be at least 1") }
    }

    func run() throws {
        if let dir { return try backupIntoDirectory(FileSecurity.absolute(dir)) }
        let client = try DaemonClient.connect(flag: daemon.socket)
        let ok = try client.call("POST", "/v1/admin/backup", body: PathRequest(path: FileSecurity.absolute(file!), force: force), as: OKResponse.self)
        Console.info(ok.message)
    }

    private func backupIntoDirectory(_ directory: String) throws {
        let info: FileStatus?
        do { info = try FileSecurity.status(ofPath: directory) } catch {
            throw CLIError(message: "cannot inspect the backup directory \"\(directory)\": \(error.reason)")
        }
        guard let info, info.isDirectory else {
            throw CLIError(message: info == nil ? "the backup directory \"\(directory)\" does not exist" : "\"\(directory)\" is not a directory",
                           hint: "create it with \"mkdir -m 0700 \(directory)\" as the daemon's user (in system mode credbrokerd.service creates /var/lib/credbroker/backups)")
        }
        // Another backup asked for within the same millisecond (or a name already there):
        // take the next millisecond rather than replace anything.
        var date = Date()
        var name = BackupDirectory.name(for: date)
        while (try? FileSecurity.status(ofPath: directory + "/" + name)) ?? nil != nil {
            date += 0.001
            name = BackupDirectory.name(for: date)
        }
        let path = directory + "/" + name
        let client = try DaemonClient.connect(flag: daemon.socket)
        let ok = try client.call("POST", "/v1/admin/backup", body: PathRequest(path: path, force: false), as: OKResponse.self)
        Console.info(ok.message)
        FileHandle.standardOutput.write(Data((path + "\n").utf8))
        guard let keep else { return }

        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw CLIError(message: "backed up to \"\(path)\", but cannot list \"\(directory)\" to remove old backups: \(error.localizedDescription)")
        }
        // Only regular files: a directory or a symbolic link that happens to carry a
        // backup's name is not one of ours.
        let backups = names.filter { name in
            BackupDirectory.isBackupName(name) && ((try? FileSecurity.status(ofPath: directory + "/" + name)) ?? nil)?.isRegularFile == true
        }
        for old in BackupDirectory.toDelete(names: backups, newest: name, keep: keep) {
            do { try FileSecurity.remove(directory + "/" + old) } catch {
                throw CLIError(message: "cannot remove the old backup \"\(directory)/\(old)\": \(error.reason)")
            }
            Console.info("removed the old backup \"\(directory)/\(old)\"")
        }
    }
}

struct VaultRestore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore", abstract: "Replace the vault with a backup, after checking that the backup opens and every record decrypts.")
    @OptionGroup var daemon: SocketOption
    @Argument(help: "The backup file.") var file: String
    @Flag(name: .long, help: "Replace the current vault (required when one exists).") var force = false
    @Option(name: .long, help: ArgumentHelp("Read the backup's passphrase from this file.", valueName: "file"))
    var passphraseFile: String?

    func run() throws {
        try harden()
        var secret = try SecretInput.read(file: passphraseFile, prompt: "Passphrase of the backup: ")
        let client = try DaemonClient.connect(flag: daemon.socket)
        let body = PathRequest(path: FileSecurity.absolute(file), force: force, passphrase: SecretInput.base64(&secret))
        let ok = try client.call("POST", "/v1/admin/restore", body: body, as: OKResponse.self)
        Console.info(ok.message)
    }
}

/// `vault init` through the daemon.
enum DaemonInit {
    static func run(socket: String?, kdf: String, allowWeakKDF: Bool, passphrase: inout [UInt8]) throws {
        let client = try DaemonClient.connect(flag: socket)
        let body = InitRequest(passphrase: SecretInput.base64(&passphrase), kdf: kdf, allowWeakKDF: allowWeakKDF)
        let created = try client.call("POST", "/v1/admin/init", body: body, as: InitResponse.self)
        Console.info("credbrokerd created vault \"\(created.vault)\" (KDF argon2id13 \(kdf)); it is unlocked")
        Console.warning("the recovery key below is shown only this once: store it offline; it unlocks the vault without the passphrase")
        FileHandle.standardOutput.write(Data((created.recoveryKey + "\n").utf8))
    }
}

struct VaultSlots: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "slots", abstract: "List the vault's key slots (no secrets).")
    @OptionGroup var daemon: SocketOption
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() throws {
        let client = try DaemonClient.connect(flag: daemon.socket)
        let listing = try client.call("GET", "/v1/admin/slots", as: SlotsResponse.self)
        if json {
            FileHandle.standardOutput.write(try JSONEncoder().encode(listing) + Data("\n".utf8))
            return
        }
        for slot in listing.slots {
            print("\(slot.id)  \(slot.kind)  \(slot.kdf) opslimit \(slot.opslimit) memlimit \(slot.memlimitBytes >> 20) MiB")
        }
    }
}

struct VaultAddSlot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-slot", abstract: "Add a key slot: a second passphrase, a key file for unattended unlock, or a new recovery key.",
        discussion: """
            --key-file PATH makes the daemon write a new 32-byte key file (0600, never replacing a \
            file) that `credbrokerd --unlock-key-file PATH` can unlock with, and prints the \
            systemd-creds commands that seal it for unattended unlock. --recovery prints a \
            new recovery key once on standard output. --passphrase reads the new passphrase from \
            the terminal or --passphrase-file.
            """)
    @OptionGroup var daemon: SocketOption
    @Option(name: .long, help: ArgumentHelp("Where the daemon writes the new key file.", valueName: "path"))
    var keyFile: String?
    @Flag(name: .long, help: "Add a recovery-key slot.") var recovery = false
    @Flag(name: .long, help: "Add a passphrase slot.") var passphrase = false
    @Option(name: .long, help: ArgumentHelp("Read the new passphrase from this file (- for standard input).", valueName: "file"))
    var passphraseFile: String?

    func validate() throws {
        let chosen = [keyFile != nil, recovery, passphrase].filter { $0 }.count
        if chosen != 1 { throw ValidationError("choose exactly one of --key-file PATH, --recovery, --passphrase") }
    }

    func run() throws {
        try harden()
        var request = AddSlotRequest(kind: "recovery")
        if let keyFile {
            request = AddSlotRequest(kind: "keyfile", path: FileSecurity.absolute(keyFile))
        } else if passphrase {
            var secret = try SecretInput.read(file: passphraseFile, prompt: "New passphrase: ", confirm: "Repeat the new passphrase: ")
            request = AddSlotRequest(kind: "passphrase", passphrase: SecretInput.base64(&secret))
        }
        let client = try DaemonClient.connect(flag: daemon.socket)
        let added = try client.call("POST", "/v1/admin/add-slot", body: request, as: AddSlotResponse.self)
        Console.info("added \(added.kind) key slot \(added.id)")
        if let path = request.path, added.kind == "keyfile" {
            print(Self.sealingSteps(keyFile: path))
        }
        if let key = added.recoveryKey {
            Console.warning("the recovery key below is shown only this once: store it offline")
            FileHandle.standardOutput.write(Data((key + "\n").utf8))
        }
    }
}

extension VaultAddSlot {
    /// Where docs/operations.md and systemd/credbrokerd-unlock-key.conf expect the sealed key.
    static let sealedKeyPath = "/etc/credstore.encrypted/credbroker-vault-key"

    /// The commands that seal a new key file with systemd-creds (TPM2 and/or the host key)
    /// for the unlock drop-in, and remove the plain copy. Printed, never run: sealing writes
    /// the host key, and only the operator knows whether this machine should hold it.
    static func sealingSteps(keyFile: String) -> String {
        let file = ShellWord.quoted(keyFile)
        return """
            To unlock at boot under systemd, seal the key and remove the plain copy:
              sudo install -d -m 0700 /etc/credstore.encrypted
              sudo systemd-creds encrypt --name=vault-key \(file) \(sealedKeyPath)
              sudo shred -u \(file)
            then install systemd/credbrokerd-unlock-key.conf as
            /etc/systemd/system/credbrokerd.service.d/unlock-key.conf and restart credbrokerd
            (docs/operations.md, "Unlock after reboot").
            """
    }
}

struct VaultRemoveSlot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove-slot", abstract: "Remove a key slot (never the last one).")
    @OptionGroup var daemon: SocketOption
    @Argument(help: "The slot id (see: credbroker vault slots).") var id: Int64

    func run() throws {
        let client = try DaemonClient.connect(flag: daemon.socket)
        let ok = try client.call("POST", "/v1/admin/remove-slot", body: RemoveSlotRequest(id: id), as: OKResponse.self)
        Console.info(ok.message)
    }
}
