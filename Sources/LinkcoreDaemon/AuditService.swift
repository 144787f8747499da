import Foundation
import LinkcoreAudit
import LinkcoreConfig
import LinkcoreStore
import LinkcoreWire
import Logging

/// Signs periodic checkpoints of the access log and verifies the whole log on request.
struct AuditService: Sendable {
    let store: any CoreStore
    let logger: Logger
    static let pageSize = 5_000

    /// Signs the chain's head if it moved past the newest checkpoint. The key and certificate are
    /// read at each call, so a reloaded (renewed) certificate signs from then on.
    func checkpoint(keyPath: String, certificatePath: String) async {
        do {
            let newest = try await store.newestCheckpoint()
            guard let head = try await recomputedHead(after: newest) else { return }
            let certificate = try Array(Data(contentsOf: URL(fileURLWithPath: certificatePath)))
            let signer = CheckpointSigner(privateKeyPath: keyPath, certificatePEM: certificate)
            let checkpoint = try signer.sign(position: head.position, hash: head.hash, atMs: Int64(Date().timeIntervalSince1970 * 1000))
            try await store.addCheckpoint(checkpoint)
            logger.debug("access log checkpoint signed", metadata: ["position": "\(head.position)"])
        } catch {
            logger.error("cannot sign an access log checkpoint", metadata: ["error": "\(error)"])
        }
    }

    /// Re-chains the entries since the newest checkpoint before signing: a checkpoint must never
    /// pin entries that were changed in the file behind the core's back.
    private func recomputedHead(after checkpoint: AuditCheckpoint?) async throws -> ChainedRecord? {
        var previous = checkpoint?.hash ?? AccessChain.genesis
        var after = checkpoint?.position ?? 0
        var head: ChainedRecord?
        while true {
            let page = try await store.accessChain(afterPosition: after, limit: Self.pageSize)
            guard let last = page.last else { return head }
            for entry in page {
                guard entry.position == after + 1,
                      AccessChain.hash(previous: previous, position: entry.position, record: entry.record) == entry.hash else {
                    logger.critical("access log does not chain at position \(after + 1): not signing; run `linkctl audit verify`")
                    return nil
                }
                previous = entry.hash
                after = entry.position
            }
            head = last
        }
    }

    /// The verifier the config pins: the CA bundle, the CRL when configured, and the core's keys
    /// (`[audit] signer_keys`, else the key of the configured server certificate).
    static func verifier(_ config: DaemonConfig) -> CheckpointVerifier {
        var keys = config.audit.signerKeys.compactMap { CheckpointVerifier.parseFingerprint($0) }
        if keys.isEmpty, let pem = try? Data(contentsOf: URL(fileURLWithPath: config.tls.certificate)),
           let own = CheckpointVerifier.keyFingerprint(certificatePEM: Array(pem)) {
            keys = [own]
        }
        return CheckpointVerifier(caBundlePath: config.tls.caBundle, crlPath: config.tls.crl, signerKeys: keys)
    }

    func verify(verifier: CheckpointVerifier) async -> Result<LCAuditVerifyResponse, WireError> {
        do {
            let report = try await ChainVerifier.verify(
                checkpoints: try await store.checkpoints(), verifier: verifier,
                page: { after in try await store.accessChain(afterPosition: after, limit: Self.pageSize) })
            if !report.ok { logger.critical("access log verification FAILED", metadata: ["detail": "\(report.detail)"]) }
            return .success(.with {
                $0.ok = report.ok
                $0.entriesChecked = report.entriesChecked
                $0.checkpointsChecked = report.checkpointsChecked
                $0.firstBadPosition = report.firstBadPosition ?? 0
                $0.problem = report.problem.map { "\($0.rawValue): \(report.detail)" } ?? ""
            })
        } catch {
            return .failure(WireError(.unavailable, "cannot read the access log: \(error)"))
        }
    }
}
