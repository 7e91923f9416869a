import ArgumentParser
import BrokerCore
import BrokerSystem
import Foundation

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Check policy files and explain decisions (the daemon's own decision code).",
        subcommands: [PolicyCheck.self, PolicyExplain.self])
}

/// The policy directory: the argument, else the user-mode default, else the system one.
enum PolicyDirectory {
    static func resolve(_ given: String?) -> String {
        if let given { return given }
        let env = ProcessInfo.processInfo.environment
        let uid = UserDatabase.effectiveUID
        if uid == 0 || UserDatabase.userName(of: uid) == "credbroker" { return DaemonPaths.system.policies }
        return DaemonPaths.user(environment: env, uid: uid, home: UserDatabase.homeDirectory(of: uid)) { _ in false }.policies
    }

    static func load(_ directory: String) throws -> PolicySet {
        do {
            let files = try TrustedFile.readDirectory(directory)
            return try PolicyParser.parse(files: files)
        } catch let error as FileSecurityError {
            throw CLIError(message: "refusing the policies: \(error.description)")
        } catch let error as PolicyError {
            throw CLIError(message: error.description)
        }
    }
}

struct PolicyCheck: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Parse and check a policy directory, as the daemon would load it.")
    @Argument(help: "The policy directory (default: the daemon's).") var directory: String?

    func run() throws {
        let dir = PolicyDirectory.resolve(directory)
        let set = try PolicyDirectory.load(dir)
        if set.files.isEmpty {
            Console.warning("no *.toml files in \"\(dir)\": every token request would be denied")
        }
        print("\(dir): \(set.rules.count) rules in \(set.files.count) files are valid")
        for rule in set.rules {
            print("  \(rule.id): profiles \(rule.profiles.joined(separator: ",")) providers \(rule.providers.joined(separator: ",")) scopes \(rule.scopes.count)")
        }
    }
}

struct PolicyExplain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain", abstract: "Say whether a caller would get a token, by which rule, or why not.",
        discussion: "Uses the same decision code as the daemon. Groups of --user are looked up unless --group or --gid are given. Exit 0 when allowed, 3 when denied.")
    @Option(name: .long, help: ArgumentHelp("The policy directory (default: the daemon's).", valueName: "dir"))
    var policies: String?
    @Option(name: .long, help: "The caller's user name.") var user: String?
    @Option(name: .long, help: "The caller's uid.") var uid: UInt32?
    @Option(name: .long, help: "A group of the caller (repeatable).") var group: [String] = []
    @Option(name: .long, help: "A gid of the caller (repeatable).") var gid: [UInt32] = []
    @Option(name: .long, help: "The caller's systemd unit.") var unit: String?
    @Option(name: .long, help: "The caller's executable path.") var exe: String?
    @Option(name: .long, help: "The profile.") var profile: String
    @Option(name: .long, help: "The provider app.") var provider: String
    @Option(name: .long, help: "The account.") var account: String?
    @Option(name: .long, help: "A scope (full string or alias); repeatable, commas accepted.") var scope: [String] = []
    @Flag(name: .long, help: "Print JSON.") var json = false

    func validate() throws {
        if user == nil && uid == nil { throw ValidationError("name the caller with --user or --uid") }
        if scope.isEmpty { throw ValidationError("name at least one --scope") }
    }

    func run() throws {
        let set = try PolicyDirectory.load(PolicyDirectory.resolve(policies))
        let caller = try Self.caller(user: user, uid: uid, groups: group, gids: gid, unit: unit, exe: exe)
        let question = TokenQuestion(profile: profile, provider: provider, account: account, scopes: ScopeAliases.expandAll(scope))
        let decision = set.decide(question, for: caller)
        if json {
            struct Out: Codable { var allowed: Bool; var rule: String?; var reason: String }
            FileHandle.standardOutput.write(try JSONEncoder().encode(Out(allowed: decision.allowed, rule: decision.rule, reason: decision.reason)) + Data("\n".utf8))
        } else {
            print(decision.allowed ? "allow: \(decision.reason)" : "deny: \(decision.reason)")
        }
        if !decision.allowed { throw ExitCode(3) }
    }

    static func caller(user: String?, uid: UInt32?, groups: [String], gids: [UInt32], unit: String?, exe: String?) throws -> Caller {
        var resolvedUID = uid
        var name = user
        if let user, resolvedUID == nil {
            guard let u = UserDatabase.uid(ofUser: user) else { throw CLIError(message: "no user \"\(user)\" on this system; give --uid as well") }
            resolvedUID = u
        }
        if name == nil, let uid = resolvedUID { name = UserDatabase.userName(of: uid) }
        var groupIDs = gids
        var groupNames = groups
        for g in groups { if let id = UserDatabase.gid(ofGroup: g) { groupIDs.append(id) } }
        for id in gids { if let n = UserDatabase.groupName(of: id) { groupNames.append(n) } }
        if groups.isEmpty && gids.isEmpty, let name, let uid = resolvedUID {
            // As the daemon does: the uid's primary and supplementary groups.
            let primary = UserDatabase.primaryGroup(of: uid) ?? uid
            groupIDs = UserDatabase.groups(ofUser: name, primaryGroup: primary)
            groupNames = groupIDs.compactMap { UserDatabase.groupName(of: $0) }
        }
        return Caller(uid: resolvedUID ?? 0, gid: groupIDs.first ?? 0, pid: 0, userName: name, groups: groupIDs, groupNames: groupNames, unit: unit, executable: exe)
    }
}
