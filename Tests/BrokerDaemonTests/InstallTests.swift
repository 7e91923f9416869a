import BrokerSystem
import BrokerTesting
import Foundation
import Testing

/// `make install` / `make uninstall` through scripts/install.sh, run on the binaries this
/// test run built (no release build of its own) into a temporary prefix.
@Suite("make install and make uninstall (scripts/install.sh)", .serialized)
struct InstallTests {
    static let script = BuiltProducts.packageRoot + "/scripts/install.sh"

    static func run(_ arguments: [String]) throws -> ProcessResult {
        try Subprocess.run("/bin/bash", [script] + arguments)
    }

    static func permissions(_ path: String) -> UInt32? {
        ((try? FileSecurity.status(ofPath: path)) ?? nil)?.permissions
    }

    static func text(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// Every file install puts under the prefix, with its mode.
    static let files: [(String, UInt32)] = [
        ("sbin/credbrokerd", 0o755), ("bin/credbroker", 0o755),
        ("lib/systemd/system/credbrokerd.service", 0o644), ("lib/systemd/system/credbrokerd.socket", 0o644),
        ("lib/systemd/system/credbroker-backup.service", 0o644), ("lib/systemd/system/credbroker-backup.timer", 0o644),
        ("lib/systemd/system/credbroker-rotate.service", 0o644), ("lib/systemd/system/credbroker-rotate.timer", 0o644),
        ("lib/systemd/user/credbrokerd.service", 0o644), ("lib/systemd/user/credbrokerd.socket", 0o644),
        ("lib/sysusers.d/credbroker.conf", 0o644), ("lib/tmpfiles.d/credbroker.conf", 0o644),
        ("share/credbroker/credbrokerd-unlock-key.conf", 0o644), ("share/credbroker/install-manifest", 0o644),
        ("share/bash-completion/completions/credbroker", 0o644), ("share/zsh/site-functions/_credbroker", 0o644),
        ("share/fish/vendor_completions.d/credbroker.fish", 0o644),
        ("share/doc/credbroker/README.md", 0o644), ("share/doc/credbroker/operations.md", 0o644),
    ]

    @Test("install puts every file in place with its mode, writes the final paths into the units, keeps existing policies; uninstall removes only what it put")
    func installAndUninstall() throws {
        let dir = try TemporaryDirectory(prefix: "install")
        let prefix = dir.file("prefix"), etc = dir.file("etc"), policies = etc + "/credbroker/policies.d"
        try FileManager.default.createDirectory(atPath: policies, withIntermediateDirectories: true)
        // The administrator's own policy, and a file where an example would go.
        try dir.write("etc/credbroker/policies.d/local.toml", "# the administrator's\n", mode: 0o644)
        try dir.write("etc/credbroker/policies.d/prod.toml.example", "# kept as it is\n", mode: 0o640)
        // Man pages, as docs/man will hold them.
        let man = dir.file("man")
        try FileManager.default.createDirectory(atPath: man, withIntermediateDirectories: false)
        for page in ["credbroker.1", "credbroker-policy.5", "credbrokerd.8"] { try dir.write("man/" + page, ".TH \(page)\n", mode: 0o644) }

        let installed = try Self.run(["install", BuiltProducts.directory, "--prefix", prefix, "--sysconfdir", etc, "--man-dir", man])
        #expect(installed.status == 0, "\(installed.stderr)")
        for (file, mode) in Self.files + [("share/man/man1/credbroker.1", 0o644), ("share/man/man5/credbroker-policy.5", 0o644), ("share/man/man8/credbrokerd.8", 0o644)] {
            #expect(Self.permissions(prefix + "/" + file) == mode, "\(file): \(Self.permissions(prefix + "/" + file).map { FileSecurity.octal($0) } ?? "missing")")
        }
        #expect(Self.permissions(policies) == 0o755)

        // The units name the installed binaries, and systemd accepts them as installed.
        for unit in ["lib/systemd/system/credbrokerd.service", "lib/systemd/system/credbroker-backup.service", "lib/systemd/user/credbrokerd.service",
                     "share/credbroker/credbrokerd-unlock-key.conf"] {
            let text = try #require(Self.text(prefix + "/" + unit))
            #expect(!text.contains("/usr/local/"), "\(unit) still names /usr/local")
        }
        #expect(Self.text(prefix + "/lib/systemd/system/credbrokerd.service")?.contains("ExecStart=\(prefix)/sbin/credbrokerd --system") == true)
        #expect(Self.text(prefix + "/lib/systemd/system/credbroker-backup.service")?.contains("ExecStart=\(prefix)/bin/credbroker vault backup") == true)
        if Subprocess.isAvailable("systemd-analyze") {
            let units = ["credbrokerd.service", "credbrokerd.socket", "credbroker-backup.service", "credbroker-backup.timer", "credbroker-rotate.service", "credbroker-rotate.timer"]
            let verify = try Subprocess.run("systemd-analyze", ["verify", "--man=no"] + units.map { prefix + "/lib/systemd/system/" + $0 })
            #expect(verify.status == 0 && !verify.stderr.contains(prefix), "\(verify.stderr)")
        }
        // The binaries run from where they were installed; the completions come from them.
        #expect(try Subprocess.run(prefix + "/bin/credbroker", ["--version"]).status == 0)
        #expect(try Subprocess.run(prefix + "/sbin/credbrokerd", ["--version"]).status == 0)
        #expect(Self.text(prefix + "/share/bash-completion/completions/credbroker")?.contains("--keep") == true)
        #expect(Self.text(prefix + "/share/zsh/site-functions/_credbroker")?.hasPrefix("#compdef credbroker") == true)
        #expect(Self.text(prefix + "/share/fish/vendor_completions.d/credbroker.fish")?.contains("credbroker") == true)

        // Policies: the examples arrive inert (*.toml.example); nothing existing is replaced.
        #expect(Self.text(policies + "/local.toml") == "# the administrator's\n")
        #expect(Self.text(policies + "/prod.toml.example") == "# kept as it is\n")
        #expect(Self.permissions(policies + "/prod.toml.example") == 0o640)
        #expect(installed.stderr.contains("keeping the existing \(policies)/prod.toml.example"))
        for name in ["dev", "staging"] {
            #expect(Self.text(policies + "/\(name).toml.example") == Self.text(BuiltProducts.packageRoot + "/policies/\(name).toml"))
            #expect(Self.permissions(policies + "/\(name).toml.example") == 0o644)
        }

        // A second install changes nothing that exists, and succeeds.
        let again = try Self.run(["install", BuiltProducts.directory, "--prefix", prefix, "--sysconfdir", etc, "--man-dir", man])
        #expect(again.status == 0, "\(again.stderr)")
        // An example the administrator edits after installing is theirs.
        try dir.write("etc/credbroker/policies.d/staging.toml.example", "# edited\n", mode: 0o644)

        let removed = try Self.run(["uninstall", "--prefix", prefix, "--sysconfdir", etc])
        #expect(removed.status == 0, "\(removed.stderr)")
        for (file, _) in Self.files + [("share/man/man1/credbroker.1", 0), ("share/man/man5/credbroker-policy.5", 0), ("share/man/man8/credbrokerd.8", 0)] {
            #expect(!FileManager.default.fileExists(atPath: prefix + "/" + file), "\(file) left behind")
        }
        #expect(!FileManager.default.fileExists(atPath: prefix + "/share/credbroker"))
        #expect(!FileManager.default.fileExists(atPath: policies + "/dev.toml.example"))
        #expect(Self.text(policies + "/local.toml") == "# the administrator's\n")
        #expect(Self.text(policies + "/prod.toml.example") == "# kept as it is\n")
        #expect(Self.text(policies + "/staging.toml.example") == "# edited\n")
        #expect(removed.stderr.contains("keeping \(policies)/staging.toml.example"))

        let nothing = try Self.run(["uninstall", "--prefix", prefix, "--sysconfdir", etc])
        #expect(nothing.status == 1)
        #expect(nothing.stderr.contains("nothing to uninstall"))
    }

    @Test("with a staging directory every file lands under it while the units name the final paths")
    func destdir() throws {
        let dir = try TemporaryDirectory(prefix: "install")
        let stage = dir.file("stage")
        let installed = try Self.run(["install", BuiltProducts.directory, "--destdir", stage, "--prefix", "/usr", "--man-dir", dir.file("no-man-pages")])
        #expect(installed.status == 0, "\(installed.stderr)")
        for (file, mode) in Self.files {
            #expect(Self.permissions(stage + "/usr/" + file) == mode, "\(file)")
        }
        #expect(Self.text(stage + "/usr/lib/systemd/system/credbrokerd.service")?.contains("ExecStart=/usr/sbin/credbrokerd --system") == true)
        #expect(Self.text(stage + "/usr/lib/systemd/system/credbroker-rotate.service")?.contains("ExecStart=/usr/bin/credbroker vault rotate") == true)
        #expect(Self.text(stage + "/usr/share/credbroker/install-manifest")?.contains(stage) == false)
        #expect(FileManager.default.fileExists(atPath: stage + "/etc/credbroker/policies.d/prod.toml.example"))
        #expect(!FileManager.default.fileExists(atPath: stage + "/usr/share/man"))
        #expect(try Self.run(["uninstall", "--destdir", stage, "--prefix", "/usr"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: stage + "/usr/sbin/credbrokerd"))
        #expect(!FileManager.default.fileExists(atPath: stage + "/etc/credbroker"))
    }

    @Test("install refuses a directory without the binaries, and a relative prefix")
    func refusals() throws {
        let dir = try TemporaryDirectory(prefix: "install")
        let missing = try Self.run(["install", dir.path, "--prefix", dir.file("p")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("credbroker is missing"))
        #expect(!FileManager.default.fileExists(atPath: dir.file("p")))
        #expect(try Self.run(["install", BuiltProducts.directory, "--prefix", "relative"]).status == 64)
        #expect(try Self.run(["frobnicate"]).status == 64)
    }
}
