import ArgumentParser
import BrokerCore
import BrokerWire
import Foundation

/// `credbroker setup TYPE`: stores a provider app (client id, secret or key, tenant,
/// endpoints, default scopes) in a profile, and for app-only access its grant too. The
/// no-code replacement of the seed's `setup_oauth.py --provider`.
struct SetupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup",
        abstract: "Store a provider app (client id, secret, endpoints) in a profile; then run \"credbroker login\".",
        discussion: """
            On a terminal, what the flags leave out is asked for: the client id, the client \
            secret (not echoed), Microsoft's tenant and the scopes (a numbered menu). Without a \
            terminal everything comes from flags; a secret never comes from the command line: \
            --client-secret-file FILE, or - for standard input.

            App-only access, stored as a grant next to the app: --service-account-file (Google, \
            JWT bearer; --subject for domain-wide delegation), --app-only (Microsoft client \
            credentials, with the secret or --private-key-file) and --account-id (a Zoom \
            server-to-server app).

            --sandbox URL points every endpoint at a running "credbroker sandbox"; the \
            endpoint flags override single endpoints (national clouds, other providers).

            Examples:
              credbroker setup google --profile dev
              credbroker setup google --client-id ID --client-secret-file - \\
                  --scope calendar.readonly < secret.txt
              credbroker setup microsoft --name outlook --tenant contoso.com \\
                  --client-id ID --client-secret-file secret.txt
              credbroker setup google --name google-sa \\
                  --service-account-file key.json --scope calendar.readonly
              credbroker setup google --sandbox http://127.0.0.1:PORT \\
                  --client-id ID --client-secret-file secret.txt
            """)

    @OptionGroup var daemon: SocketOption
    @OptionGroup var profileOption: ProfileOption

    @Argument(help: "The provider type: google, microsoft, zoom or generic.")
    var type: ProviderType

    @Option(name: .long, help: ArgumentHelp("The app's name in the profile (default: the type; e.g. google-work for a second one).", valueName: "app"))
    var name: String?

    @Option(name: .customLong("client-id"), help: ArgumentHelp("The OAuth client id.", valueName: "id"))
    var clientID: String?

    @Option(name: .customLong("client-secret-file"), help: ArgumentHelp("Read the client secret from this file (- for standard input).", valueName: "file"))
    var clientSecretFile: String?

    @Option(name: .long, help: ArgumentHelp("A default scope for logins (alias or full string); repeatable, commas accepted.", valueName: "scope"))
    var scope: [String] = []

    @Option(name: .long, help: ArgumentHelp("Microsoft: the tenant id or domain (default: common).", valueName: "tenant"))
    var tenant: String?

    @Option(name: .customLong("redirect-uri"), help: ArgumentHelp("A fixed redirect URI the app is registered with (default: a loopback one on an ephemeral port).", valueName: "uri"))
    var redirectURI: String?

    @Option(name: .customLong("authorization-url"), help: ArgumentHelp("Override the authorization endpoint.", valueName: "url"))
    var authorizationURL: String?
    @Option(name: .customLong("token-url"), help: ArgumentHelp("Override the token endpoint.", valueName: "url"))
    var tokenURL: String?
    @Option(name: .customLong("device-url"), help: ArgumentHelp("Override the device-authorization endpoint.", valueName: "url"))
    var deviceURL: String?
    @Option(name: .customLong("revocation-url"), help: ArgumentHelp("Override the revocation endpoint.", valueName: "url"))
    var revocationURL: String?
    @Option(name: .customLong("userinfo-url"), help: ArgumentHelp("Override the userinfo endpoint.", valueName: "url"))
    var userinfoURL: String?
    @Option(name: .long, help: ArgumentHelp("Microsoft and generic: the authority (e.g. a national cloud's login host).", valueName: "url"))
    var authority: String?
    @Option(name: .long, help: ArgumentHelp("An API base URL clients should use, NAME=URL (calendar, gmail, people, graph, ...); repeatable.", valueName: "name=url"))
    var api: [String] = []

    @Option(name: .customLong("client-auth"), help: ArgumentHelp("client_secret_post, client_secret_basic, private_key_jwt or none (default: by type).", valueName: "method"))
    var clientAuth: String?

    @Flag(name: .customLong("rotating-refresh-tokens"), help: "Generic: the provider issues a new refresh token on every refresh.")
    var rotatingRefreshTokens = false

    @Option(name: .customLong("private-key-file"), help: ArgumentHelp("A PEM private key for certificate (private_key_jwt) client authentication.", valueName: "file"))
    var privateKeyFile: String?
    @Option(name: .customLong("key-id"), help: ArgumentHelp("The key's id (Microsoft: the certificate's thumbprint).", valueName: "id"))
    var keyID: String?

    @Option(name: .long, help: ArgumentHelp("Point every endpoint at a running credbroker sandbox (its READY URL).", valueName: "url"))
    var sandbox: String?

    @Option(name: .customLong("service-account-file"), help: ArgumentHelp("Google: a service-account JSON key file; stores a JWT-bearer grant.", valueName: "file"))
    var serviceAccountFile: String?
    @Option(name: .long, help: ArgumentHelp("Google service account: the user to act for (domain-wide delegation).", valueName: "email"))
    var subject: String?
    @Flag(name: .customLong("app-only"), help: "Microsoft: store an app-only (client credentials) grant named \"app\".")
    var appOnly = false
    @Option(name: .customLong("account-id"), help: ArgumentHelp("Zoom: the account id of a server-to-server app; stores an account-credentials grant.", valueName: "id"))
    var accountID: String?

    @Flag(name: .long, help: "Replace an app of the same name (its grants stay).")
    var force = false

    /// Microsoft's multi-tenant aliases: fine for user logins, not for client credentials.
    static let sharedTenants = ["common", "organizations", "consumers"]

    static let clientAuthMethods = ["client_secret_post", "client_secret_basic", "private_key_jwt", "none"]

    var appName: String { name ?? type.rawValue }

    /// The app-only flow these flags ask for, if any.
    var appOnlyFlow: String? {
        if serviceAccountFile != nil { return "jwt_bearer" }
        if appOnly { return "client_credentials" }
        if accountID != nil { return "account_credentials" }
        return nil
    }

    func validate() throws {
        try RecordName.check(appName, what: "app name")
        try RecordName.check(profileOption.resolved(), what: "profile")
        func only(_ flag: String, _ set: Bool, _ types: [ProviderType]) throws {
            if set && !types.contains(type) {
                let names = types.map(\.rawValue)
                let list = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " and " + names.last!
                throw ValidationError("\(flag) applies to \(list) apps, not \(type.rawValue)")
            }
        }
        try only("--tenant", tenant != nil, [.microsoft])
        try only("--authority", authority != nil, [.microsoft, .generic])
        try only("--service-account-file", serviceAccountFile != nil, [.google])
        try only("--app-only", appOnly, [.microsoft])
        try only("--account-id", accountID != nil, [.zoom])
        try only("--rotating-refresh-tokens", rotatingRefreshTokens, [.generic])
        try only("--private-key-file", privateKeyFile != nil, [.microsoft, .generic])
        try only("--sandbox", sandbox != nil, [.google, .microsoft, .zoom])
        if subject != nil && serviceAccountFile == nil { throw ValidationError("--subject needs --service-account-file") }
        if keyID != nil && privateKeyFile == nil { throw ValidationError("--key-id needs --private-key-file") }
        if serviceAccountFile != nil {
            for (flag, set) in [("--client-id", clientID != nil), ("--client-secret-file", clientSecretFile != nil), ("--client-auth", clientAuth != nil), ("--redirect-uri", redirectURI != nil)] where set {
                throw ValidationError("\(flag) does not go with --service-account-file (the key file holds the client id and key)")
            }
        }
        if let clientAuth {
            guard Self.clientAuthMethods.contains(clientAuth) else {
                throw ValidationError("--client-auth must be one of \(Self.clientAuthMethods.joined(separator: ", "))")
            }
            if clientAuth == "private_key_jwt" && privateKeyFile == nil { throw ValidationError("--client-auth private_key_jwt needs --private-key-file") }
            if clientAuth != "private_key_jwt" && privateKeyFile != nil { throw ValidationError("--private-key-file goes with --client-auth private_key_jwt") }
            if clientAuth == "none" && clientSecretFile != nil { throw ValidationError("--client-auth none means no secret; drop --client-secret-file") }
            if clientAuth == "none" && appOnlyFlow != nil { throw ValidationError("app-only access needs a client secret or key; --client-auth none has neither") }
        }
        if clientSecretFile == "-" && privateKeyFile == "-" || clientSecretFile == "-" && serviceAccountFile == "-" {
            throw ValidationError("only one file can be read from standard input")
        }
        if let tenant, !Self.isTenant(tenant) {
            throw ValidationError("--tenant \"\(tenant)\" must be a tenant id (GUID), a domain, or common, organizations or consumers")
        }
        if appOnly && sandbox == nil, tenant.map(Self.sharedTenants.contains) ?? !Prompt.isInteractive {
            throw ValidationError("--app-only needs your tenant id or domain in --tenant (client credentials cannot use \"\(tenant ?? "common")\")")
        }
        if let accountID, accountID.isEmpty || accountID.utf8.count > 128 || accountID.contains(where: { $0.isWhitespace || $0 == "/" }) {
            throw ValidationError("--account-id must be Zoom's account id")
        }
        if let subject, !subject.contains("@") || subject.contains(where: { $0.isWhitespace || $0 == "/" }) {
            throw ValidationError("--subject must be the email address of the user to act for")
        }
        for (flag, value) in endpointFlags {
            if let value, !EndpointURL.isAcceptable(value) {
                throw ValidationError("\(flag) \"\(value)\" must be an https:// URL (http:// only on a loopback host)")
            }
        }
        _ = try apiEndpoints()
        if let redirectURI, !EndpointURL.isAcceptable(redirectURI) {
            throw ValidationError("--redirect-uri \"\(redirectURI)\" must be an https:// URL or http:// on a loopback host")
        }
        if let sandbox {
            do { _ = try SandboxEndpoints.base(sandbox) } catch { throw ValidationError(error.message) }
        }
        if type == .generic && (tokenURL == nil || (authorizationURL == nil && deviceURL == nil)) {
            throw ValidationError("a generic app needs --token-url and --authorization-url (or --device-url for device logins)")
        }
        // Without a terminal, every answer must be in the flags.
        if !Prompt.isInteractive {
            if clientID == nil && serviceAccountFile == nil {
                throw ValidationError("missing --client-id (there is no terminal to ask for it)")
            }
            if clientSecretFile == nil && privateKeyFile == nil && clientAuth != "none" && serviceAccountFile == nil {
                let publicHint = (type == .microsoft || type == .generic) && appOnlyFlow == nil ? ", or --client-auth none for a public client" : ""
                throw ValidationError("missing --client-secret-file FILE (- for standard input)\(publicHint); a secret is never taken from the command line")
            }
            if scope.isEmpty && (appOnlyFlow == "jwt_bearer" || appOnlyFlow == "account_credentials") {
                throw ValidationError("name the grant's scopes with --scope (app-only tokens carry the scopes asked for)")
            }
        }
    }

    var endpointFlags: [(String, String?)] {
        [("--authorization-url", authorizationURL), ("--token-url", tokenURL), ("--device-url", deviceURL),
         ("--revocation-url", revocationURL), ("--userinfo-url", userinfoURL), ("--authority", authority)]
    }

    /// `--api NAME=URL` as endpoint keys `api.NAME`.
    func apiEndpoints() throws -> [String: String] {
        var out: [String: String] = [:]
        for entry in api {
            guard let equals = entry.firstIndex(of: "=") else { throw ValidationError("--api \"\(entry)\" must be NAME=URL") }
            let name = String(entry[..<equals]).lowercased()
            let url = String(entry[entry.index(after: equals)...])
            guard !name.isEmpty, name.utf8.count <= 32, name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }) else {
                throw ValidationError("--api \"\(entry)\": the name must be letters, digits, \"_\" or \"-\"")
            }
            guard EndpointURL.isAcceptable(url) else {
                throw ValidationError("--api \"\(entry)\": the URL must be https:// (http:// only on a loopback host)")
            }
            out["api." + name] = url
        }
        return out
    }

    /// The endpoint map stored with the app: the sandbox's, then each flag over it.
    func endpoints(tenant: String?) throws -> [String: String] {
        var map: [String: String] = [:]
        if let sandbox { map = SandboxEndpoints.endpoints(type: type, base: try SandboxEndpoints.base(sandbox), tenant: tenant) }
        let keys = ["authorization", "token", "device", "revocation", "userinfo", "authority"]
        for (key, (_, value)) in zip(keys, endpointFlags) { if let value { map[key] = value } }
        map.merge(try apiEndpoints()) { _, new in new }
        return map
    }

    static func isTenant(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 128 && text.first != "." && text.first != "-"
            && text.unicodeScalars.allSatisfy { ($0.isASCII && $0.properties.isAlphabetic) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }
    }

    func run() throws {
        try harden()
        let profile = profileOption.resolved()
        let interactive = Prompt.isInteractive
        let plan = try makePlan(interactive: interactive)
        try store(plan, profile: profile, interactive: interactive)
        Console.warnIfMemoryUnlocked()
    }

    /// What setup stores: the app and, for app-only access, its grant.
    struct Plan {
        var app: AppRecord
        var grant: (account: String, record: GrantRecord)?
        var secretSource: String
    }

    func makePlan(interactive: Bool) throws -> Plan {
        let tenant: String? = try type == .microsoft ? (self.tenant ?? askTenant(interactive: interactive)) : nil
        let endpoints = try self.endpoints(tenant: tenant)
        if let serviceAccountFile { return try serviceAccountPlan(file: serviceAccountFile, endpoints: endpoints, interactive: interactive) }

        var clientID = self.clientID
        if clientID == nil {
            // validate() made sure there is a terminal.
            Console.info("the client id and secret come from the \(type.consoleHint)")
            clientID = try Prompt.line("Client ID: ")
        }
        guard let clientID, !clientID.isEmpty else { throw CLIError(message: "the client id is empty") }
        guard clientID.utf8.count <= 512, !clientID.contains(where: { $0.isWhitespace || $0.asciiValue.map { $0 < 0x20 } == true }) else {
            throw CLIError(message: "the client id must be one word of at most 512 characters")
        }

        var secret: String?
        var privateKey: String?
        var source: String
        if let privateKeyFile {
            privateKey = try SecretText.fromFile(privateKeyFile, maxBytes: SecretText.maxPrivateKeyBytes, what: "private key")
            guard privateKey!.hasPrefix("-----BEGIN ") && privateKey!.contains("PRIVATE KEY-----") else {
                throw CLIError(message: "\(privateKeyFile == "-" ? "standard input" : "\"\(privateKeyFile)\"") does not hold a PEM private key")
            }
            source = "private key from \(privateKeyFile == "-" ? "standard input" : "\"\(privateKeyFile)\"")" + (keyID.map { ", key id \($0)" } ?? "")
        } else if let clientSecretFile {
            secret = try SecretText.fromFile(clientSecretFile, maxBytes: SecretText.maxClientSecretBytes, what: "client secret")
            source = "client secret from \(clientSecretFile == "-" ? "standard input" : "\"\(clientSecretFile)\"")"
        } else if clientAuth == "none" {
            source = "none (a public client)"
        } else {
            let mayBePublic = (type == .microsoft || type == .generic) && appOnlyFlow == nil
            let typed = try SecretText.fromTerminal(prompt: mayBePublic ? "Client secret (not shown; Enter for a public client): " : "Client secret (not shown): ",
                                                    what: "client secret", allowEmpty: mayBePublic)
            secret = typed.isEmpty ? nil : typed
            source = secret == nil ? "none (a public client)" : "client secret typed on the terminal"
        }
        let auth = clientAuth ?? (privateKey != nil ? "private_key_jwt" : (secret == nil && (type == .microsoft || type == .generic) ? "none" : nil))

        var scopes = ScopeAliases.expandAll(scope)
        if appOnly && scopes.isEmpty {
            scopes = [ScopeAliases.expand("graph.default")]
        } else if scopes.isEmpty && interactive {
            scopes = try Prompt.scopes(presets: type.scopePresets)
        }
        let app = AppRecord(
            type: type.rawValue, clientID: clientID, clientSecret: secret, tenant: tenant, endpoints: endpoints.isEmpty ? nil : endpoints,
            clientAuth: auth, rotatesRefreshTokens: type == .generic ? rotatingRefreshTokens : nil, scopes: scopes.isEmpty ? nil : scopes,
            redirectURI: redirectURI, privateKey: privateKey, keyID: keyID)
        var grant: (String, GrantRecord)?
        if appOnly {
            grant = ("app", GrantRecord(scopes: scopes, flow: "client_credentials"))
        } else if let accountID {
            guard !scopes.isEmpty else { throw CLIError(message: "name the grant's scopes (Zoom server-to-server apps carry the scopes of their app)") }
            grant = (accountID, GrantRecord(scopes: scopes, flow: "account_credentials", accountID: accountID))
        }
        return Plan(app: app, grant: grant, secretSource: source)
    }

    func askTenant(interactive: Bool) throws -> String {
        guard interactive else { return "common" }
        let answer = try Prompt.line("Tenant (directory id or domain; Enter for common): ")
        if answer.isEmpty { return "common" }
        guard Self.isTenant(answer) else { throw CLIError(message: "\"\(answer)\" is not a tenant id or domain") }
        if appOnly && sandbox == nil && Self.sharedTenants.contains(answer) {
            throw CLIError(message: "app-only access needs your tenant id or domain, not \"\(answer)\"")
        }
        return answer
    }

    func serviceAccountPlan(file: String, endpoints: [String: String], interactive: Bool) throws -> Plan {
        let text = try SecretText.fromFile(file, maxBytes: ServiceAccountFile.maxBytes, what: "service-account key")
        let source = file == "-" ? "standard input" : "\"\(file)\""
        let parsed = try ServiceAccountFile.parse(Array(text.utf8), source: source)
        var scopes = ScopeAliases.expandAll(scope)
        if scopes.isEmpty && interactive { scopes = try Prompt.scopes(presets: type.scopePresets) }
        guard !scopes.isEmpty else { throw CLIError(message: "name the service account's scopes (its tokens carry the scopes asked for)") }
        let app = AppRecord(type: type.rawValue, clientID: parsed.clientID, endpoints: endpoints.isEmpty ? nil : endpoints, scopes: scopes)
        let grant = GrantRecord(scopes: scopes, flow: "jwt_bearer", serviceAccount: parsed.key, subject: subject)
        return Plan(app: app, grant: (subject ?? parsed.key.clientEmail, grant),
                    secretSource: "service-account key \(parsed.key.privateKeyID.map { "\($0) " } ?? "")of \(parsed.key.clientEmail) from \(source)")
    }

    func store(_ plan: Plan, profile: String, interactive: Bool) throws {
        let socket = daemon.socket
        let profilePath = "/v1/admin/profiles/\(PathEncoding.segment(profile))"
        let listing = try DaemonClient.call(socket: socket, "GET", "/v1/admin/profiles", as: ProfileList.Listing.self)
        if !listing.profiles.contains(profile) {
            do {
                _ = try DaemonClient.call(socket: socket, "PUT", profilePath, body: [String: String](), as: OKResponse.self)
                Console.info("created profile \"\(profile)\"")
            } catch let error as CLIError where error.wireCode == .badRequest && error.message.contains("exists") {
                // Created meanwhile by someone else: what we wanted.
            }
        }
        if !force {
            let status = try DaemonClient.call(socket: socket, "GET", "/v1/admin/status", as: AdminStatusResponse.self)
            let existing = status.profiles.first { $0.name == profile }?.apps.contains { $0.name == appName } ?? false
            if existing {
                let replace = interactive ? try Prompt.confirm("Provider app \"\(appName)\" exists in profile \"\(profile)\". Replace it (its grants stay)?") : false
                guard replace else {
                    throw CLIError(message: "provider app \"\(appName)\" already exists in profile \"\(profile)\"",
                                   hint: "pass --force to replace it (its grants stay), --name for a second app, or \"credbroker secret rotate \(appName)\" to change only its secret")
                }
            }
        }
        let appPath = profilePath + "/apps/\(PathEncoding.segment(appName))"
        _ = try DaemonClient.call(socket: socket, "PUT", appPath, body: plan.app, as: OKResponse.self)
        Console.info("stored provider app \"\(appName)\" (\(type.rawValue)) in profile \"\(profile)\"")
        for line in Self.summary(plan, profile: profile, sandbox: sandbox) { Console.stderr("  " + line) }
        if let grant = plan.grant {
            let grantPath = profilePath + "/grants/\(PathEncoding.segment(appName))/\(PathEncoding.segment(grant.account))"
            _ = try DaemonClient.call(socket: socket, "PUT", grantPath, body: grant.record, as: OKResponse.self)
            Console.info("stored the app-only grant \"\(grant.account)\" (\(grant.record.flow ?? "")) for \"\(appName)\"")
            let scopeArg = grant.record.scopes.first.map { " --scope \(ScopeAliases.alias(for: $0) ?? $0)" } ?? ""
            let accountArg = grant.account == "app" ? "" : " --account \(grant.account)"
            Console.info("next: credbroker token \(appName) --profile \(profile)\(accountArg)\(scopeArg)")
        } else {
            Console.info("next: credbroker login \(appName) --profile \(profile)")
        }
    }

    /// The lines that say what was stored; never a secret.
    static func summary(_ plan: Plan, profile: String, sandbox: String?) -> [String] {
        let app = plan.app
        var lines = ["client id:     \(app.clientID)", "credential:    \(plan.secretSource)"]
        if let auth = app.clientAuth { lines.append("client auth:   \(auth)") }
        if let tenant = app.tenant { lines.append("tenant:        \(tenant)") }
        let scopes = (app.scopes ?? []).map { ScopeAliases.alias(for: $0) ?? $0 }
        lines.append("scopes:        " + (scopes.isEmpty ? "none (name them at login with --scope)" : scopes.joined(separator: " ")))
        if let uri = app.redirectURI { lines.append("redirect URI:  \(uri)") }
        if let sandbox { lines.append("endpoints:     the sandbox at \(sandbox)") }
        for (key, url) in (app.endpoints ?? [:]).sorted(by: { $0.key < $1.key }) where sandbox == nil || !url.hasPrefix(sandbox!.hasSuffix("/") ? String(sandbox!.dropLast()) : sandbox!) {
            lines.append("endpoint:      \(key) \(url)")
        }
        return lines
    }
}
