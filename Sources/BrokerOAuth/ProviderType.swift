/// The built-in provider types (DESIGN.md, "Providers"). A `generic` app stores its whole
/// definition (endpoints, client authentication, rotation) in its vault record.
public enum ProviderType: String, Sendable, CaseIterable {
    case google, microsoft, zoom, generic
}
