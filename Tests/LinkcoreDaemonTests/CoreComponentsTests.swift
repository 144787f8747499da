import Foundation
import LinkcoreConfig
@testable import LinkcoreDaemon
import LinkcoreWire
import Testing

/// The composition root and the operator's requests, without a process or a socket.
@Suite struct CoreComponentsTests {
    @Test func buildsTheCoreFromAConfigWithOneKeyringAndOneResidentHasher() async throws {
        let fixture = try CoreFixture()
        let core = try await fixture.makeCore()
        #expect(core.live.config.core.id == "unit-core")
        #expect(core.orgs.all.isEmpty)
        // The link service and the event service use the components' keyring and hasher, not copies.
        let keyring = ObjectIdentifier(core.keyring)
        for owner in [Mirror(reflecting: core.links), Mirror(reflecting: core.events)] {
            let held = owner.children.first { $0.label == "keyring" }?.value as AnyObject?
            #expect(held.map(ObjectIdentifier.init) == keyring, "\(owner.subjectType) has a keyring of its own")
        }
    }

    @Test func operatorRequestsGetTheirRepliesWithoutASocket() async throws {
        let fixture = try CoreFixture()
        let core = try await fixture.makeCore()
        let admin = AdminRequestHandler(core: core, reload: { core.reload(configPath: fixture.configPath) })

        let added = await admin.handle(Self.request(.orgAdd(.with {
            $0.org = .with { $0.code = "CITY01"; $0.name = "City 01"; $0.role = .agency; $0.sector = .public }
        })))
        guard case let .success(.orgResponse(response)) = added else { Issue.record("orgAdd: \(added)"); return }
        #expect(response.org.code == "CITY01")
        #expect(!response.org.suspended)

        let suspended = await admin.handle(Self.request(.orgSetSuspended(.with { $0.code = "CITY01"; $0.suspended = true })))
        guard case let .success(.orgResponse(after)) = suspended else { Issue.record("orgSetSuspended: \(suspended)"); return }
        #expect(after.org.suspended)
        #expect(core.orgs["CITY01"]?.suspended == true)

        guard case let .success(.orgListResponse(list)) = await admin.handle(Self.request(.orgList(.init()))) else {
            Issue.record("no org list"); return
        }
        #expect(list.orgs.map(\.code) == ["CITY01"])

        let unknown = await admin.handle(Self.request(.orgShow(.with { $0.code = "NOPE01" })))
        guard case let .failure(error) = unknown else { Issue.record("orgShow of an unknown code: \(unknown)"); return }
        #expect(error.code == .orgUnknown)

        guard case let .success(.status(status)) = await admin.handle(Self.request(.statusRequest(.init()))) else {
            Issue.record("no status"); return
        }
        #expect(status.coreID == "unit-core")
        #expect(status.version == Daemon.version)
        #expect(!status.draining)
        #expect(status.lastReloadError.isEmpty)

        let ping = await admin.handle(Self.request(.ping(.init())))
        guard case let .failure(notOperator) = ping else { Issue.record("ping on the admin socket: \(ping)"); return }
        #expect(notOperator.code == .unknownMessage)
    }

    @Test func aReloadRequestSaysWhyABrokenConfigWasRefusedAndKeepsTheRunningOne() async throws {
        let fixture = try CoreFixture()
        let core = try await fixture.makeCore()
        let admin = AdminRequestHandler(core: core, reload: { core.reload(configPath: fixture.configPath) })
        let good = try String(contentsOfFile: fixture.configPath, encoding: .utf8)
        try fixture.write("linkcored.toml", good + "[limits]\nmax_in_flight = \"many\"\n")

        guard case let .success(.reloadResponse(refused)) = await admin.handle(Self.request(.reload(.init()))) else {
            Issue.record("no reload response"); return
        }
        #expect(!refused.ok)
        #expect(refused.error.contains("max_in_flight"), "\(refused.error)")
        #expect(core.live.config.core.id == "unit-core")
        guard case let .success(.status(status)) = await admin.handle(Self.request(.statusRequest(.init()))) else {
            Issue.record("no status"); return
        }
        #expect(status.lastReloadError.contains("max_in_flight"))
        #expect(core.statusLine().contains("last reload FAILED"))

        try fixture.write("linkcored.toml", good.replacingOccurrences(of: "unit-core", with: "unit-core-2"))
        guard case let .success(.reloadResponse(accepted)) = await admin.handle(Self.request(.reload(.init()))) else {
            Issue.record("no reload response"); return
        }
        #expect(accepted.ok, "\(accepted.error)")
        #expect(core.live.config.core.id == "unit-core-2")
        #expect(core.live.lastReload.error == nil)
    }

    static func request(_ body: LCEnvelope.OneOf_Body) -> LCEnvelope {
        var envelope = LCEnvelope()
        envelope.id = 1
        envelope.body = body
        return envelope
    }
}
