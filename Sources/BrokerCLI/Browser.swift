import Foundation

/// Opens URLs in the desktop's browser with `xdg-open`, when there is a desktop.
enum Browser {
    /// Whether a graphical session is there to open a browser in.
    static func isAvailable(environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        let display = (environment["DISPLAY"] ?? "").isEmpty == false || (environment["WAYLAND_DISPLAY"] ?? "").isEmpty == false
        return display && executable("xdg-open", environment: environment) != nil
    }

    /// Starts `xdg-open URL` without a shell (the URL is one argument) and without waiting;
    /// its output is discarded. Returns false when it could not be started. Only URLs that
    /// carry no secret are opened (authorization and verification URLs).
    @discardableResult
    static func open(_ url: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard url.hasPrefix("https://") || url.hasPrefix("http://"), let path = executable("xdg-open", environment: environment) else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [url]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        return true
    }

    static func executable(_ name: String, environment: [String: String]) -> String? {
        for directory in (environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") where directory.hasPrefix("/") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
