import Foundation
import LinkcoreDomain
import LinkcoreStore
import LinkcoreWire

/// The operator's requests on the admin socket, answered from the core's components. No socket
/// here (`AdminConnectionHandler` frames and authenticates); a test calls `handle` directly.
/// A reload is the process's (it tells systemd RELOADING/READY), so it is passed in.
struct AdminRequestHandler: AdminHandling {
    let core: CoreComponents
    let reload: @Sendable () async -> Result<Void, ReloadFailure>

    func handle(_ request: LCEnvelope) async -> Result<LCEnvelope.OneOf_Body, WireError> {
        switch request.body {
        case .statusRequest?:
            return .success(.status(await core.status()))
        case .reload?:
            var response = LCReloadResponse()
            switch await reload() {
            case .success: response.ok = true
            case let .failure(failure): response.error = failure.message
            }
            return .success(.reloadResponse(response))
        case let .orgAdd(add)?:
            return await core.orgs.add(NewOrganisation(wire: add.org), nowMs: Int64(Date().timeIntervalSince1970 * 1000))
                .wire { .orgResponse(LCOrgResponse().withOrg($0)) }
        case .orgList?:
            return .success(.orgListResponse(.with { $0.orgs = core.orgs.all.map(\.wire) }))
        case let .orgShow(show)?:
            guard let org = core.orgs[show.code] else {
                return .failure(WireError(.orgUnknown, "organisation \(show.code) is not registered"))
            }
            return .success(.orgResponse(LCOrgResponse().withOrg(org)))
        case let .orgSetSuspended(change)?:
            let result = await core.orgs.setSuspended(change.code, change.suspended)
            if case .success = result, change.suspended {
                // Suspension reaches open sessions at once, not only the next Hello.
                let ended = core.registry.endSessions(
                    with: WireError(.orgSuspended, "organisation \(change.code) is suspended"),
                    matching: { $0.orgCode == change.code })
                core.logger.info("organisation suspended", metadata: ["org": "\(change.code)", "sessions_ended": "\(ended)"])
            }
            return result.wire { .orgResponse(LCOrgResponse().withOrg($0)) }
        case let .orgSetLicensed(change)?:
            let result = await core.orgs.setLicensedVerifier(change.code, change.licensed)
            if case .success = result {
                core.logger.info("organisation licence as a verifier changed", metadata: ["org": "\(change.code)", "licensed": "\(change.licensed)"])
            }
            return result.wire { .orgResponse(LCOrgResponse().withOrg($0)) }
        case .auditVerify?:
            return await core.audit.verify(AuditService.Signing(core.live.config)).map { .auditVerifyResponse($0) }
        case let .feesStatement(request)?:
            return await core.fees.statement(orgCode: request.orgCode, period: request.period).wire { .feesStatementResponse($0.wire) }
        case let .keysRotate(rotate)?:
            return await core.orgs.rotateKey(rotate.orgCode).wire { index in .keysRotateResponse(.with { $0.keyIndex = UInt32(index) }) }
        default:
            return .failure(WireError(.unknownMessage, "\(request.bodyName) is not an operator request served by this core"))
        }
    }
}

extension LCOrgResponse {
    func withOrg(_ org: Organisation) -> LCOrgResponse {
        var response = self
        response.org = org.wire
        return response
    }
}
