import LinkcoreConfig
import LinkcorePortal

extension OIDCProvider {
    /// The provider from `[oidc]`, asking the core (as PORTAL) for relying parties' link codes.
    static func make(_ config: PortalConfig.OIDC, store: PortalStore, core: PortalCore) throws -> OIDCProvider {
        let clients = config.clients.map {
            Client(clientID: $0.clientID, secretSHA256: $0.secretSHA256, redirectURIs: $0.redirectURIs, name: $0.name,
                   nameEnglish: $0.nameEnglish, orgCode: $0.orgCode, scopes: $0.scopes)
        }
        return try OIDCProvider(
            settings: .init(issuer: config.issuer, signingKeyPath: config.signingKey, subjectKeyPath: config.subjectKey,
                            codeLifetime: config.codeLifetime, tokenLifetime: config.tokenLifetime, clients: clients),
            store: store,
            linker: { lp, org, clientID in try await core.serviceLink(lp: lp, orgCode: org, clientID: clientID) })
    }
}
