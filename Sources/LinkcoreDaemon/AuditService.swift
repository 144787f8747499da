import Foundation
import LinkcoreAudit
import LinkcoreConfig
import LinkcoreStore
import LinkcoreWire
import Logging
import Synchronization

/// Signs periodic checkpoints of the access log and verifies the whole log on request.
///
/// The core never trusts the database file for what it signed before: the last signed head
/// (position and hash) is kept in a witness file outside it (and logged to the journal). A new
/// checkpoint is signed only when the log still extends that head, every checkpoint built on is
/// verified first, and the new one is checked with the same pinned verifier before it is stored.
/// Otherwise the core refuses to sign, and says so: critical log, STATUS line, `linkctl status`.
struct AuditService: Sendable {
    let store: any CoreStore
    let logger: Logger
    let health = AuditHealth()
    static let pageSize = 5_000

    /// What signing needs from the live config, read at each call so a reload applies.
    struct Signing: Sendable {
        var keyPath: String
        var certificatePath: String
        var witnessPath: String
        var verifier: CheckpointVerifier

        init(_ config: DaemonConfig) {
            keyPath = config.tls.privateKey
            certificatePath = config.tls.certificate
            witnessPath = config.auditWitnessPath
            verifier = AuditService.verifier(config)
        }
    }

    /// Why the core will not sign.
    struct Refusal: Error, CustomStringConvertible {
        var description: String
    }

    /// Signs the chain's head if it moved past the last signed head.
    func checkpoint(_ signing: Signing) async {
        do {
            let base = try await signedBase(signing)
            let (head, newestVerified) = try await verifiedExtension(of: base, signing.verifier)
            if head.position > newestVerified.position {
                let certificate = try Array(Data(contentsOf: URL(fileURLWithPath: signing.certificatePath)))
                let signer = CheckpointSigner(privateKeyPath: signing.keyPath, certificatePEM: certificate)
                let checkpoint = try signer.sign(position: head.position, hash: head.hash, atMs: Int64(Date().timeIntervalSince1970 * 1000))
                // A checkpoint that would not verify is worse than none: it would read as tampering.
                if case let .untrustedSigner(why) = signing.verifier.verify(checkpoint) {
                    throw Refusal(description: "the core's own certificate does not pass the checkpoint verifier: \(why)")
                }
                try await store.addCheckpoint(checkpoint)
                try record(AuditWitness(position: head.position, hash: head.hash, atMs: checkpoint.atMs), at: signing.witnessPath)
            } else if newestVerified.position > base.position {
                // Signed before, but the witness was not written (a crash between the two).
                try record(newestVerified, at: signing.witnessPath)
            }
            try await signTreeHead(size: head.position, signing)
            health.succeeded()
        } catch let refusal as Refusal {
            health.refused(refusal.description)
            logger.critical("access log NOT signed: \(refusal.description); run `linkctl audit verify`")
        } catch {
            health.refused("\(error)")
            logger.error("cannot sign an access log checkpoint", metadata: ["error": "\(error)"])
        }
    }

    /// Writes the witness, then logs the head so the journal holds a copy too.
    private func record(_ witness: AuditWitness, at path: String) throws {
        try witness.write(path: path)
        health.signed(witness.position)
        logger.notice("access log checkpoint signed", metadata: [
            "audit_position": "\(witness.position)", "audit_hash": "\(AuditWitness.hex(witness.hash))", "audit_at_ms": "\(witness.atMs)",
        ])
    }

    /// The head the next checkpoint must extend. With a witness: it, provided the log still holds
    /// that entry with that hash and the checkpoint signed there still verifies. Without one
    /// (first start, or an upgrade): the whole log is verified against its checkpoints, and the
    /// newest one becomes the witness.
    private func signedBase(_ signing: Signing) async throws -> AuditWitness {
        let witness: AuditWitness?
        do {
            witness = try AuditWitness.read(path: signing.witnessPath)
        } catch {
            throw Refusal(description: "\(error)")
        }
        guard let witness else {
            // Only a core that has not written one yet (first start, upgrade) starts afresh; a
            // witness that vanished under a running core is not replaced by the file's word.
            if health.snapshot.signedPosition > 0 {
                throw Refusal(description: "the witness \(signing.witnessPath) disappeared while the core was running")
            }
            logger.warning("no access log witness yet: verifying the whole log before signing", metadata: ["witness": "\(signing.witnessPath)"])
            let report = try await ChainVerifier.verify(
                checkpoints: try await store.checkpoints(), verifier: signing.verifier,
                page: { after in try await store.accessChain(afterPosition: after, limit: Self.pageSize) })
            guard report.ok else {
                throw Refusal(description: "the access log fails verification at position \(report.firstBadPosition ?? 0): \(report.detail)")
            }
            guard let newest = try await store.newestCheckpoint() else { return AuditWitness(position: 0, hash: AccessChain.genesis, atMs: 0) }
            let base = AuditWitness(position: newest.position, hash: newest.hash, atMs: newest.atMs)
            try record(base, at: signing.witnessPath)
            return base
        }
        let entry = try await store.accessChain(afterPosition: witness.position - 1, limit: 1).first
        guard let entry, entry.position == witness.position else {
            throw Refusal(description: "the log no longer reaches the last signed head (position \(witness.position)): entries were cut")
        }
        guard entry.hash == witness.hash else {
            throw Refusal(description: "the log no longer extends the last signed head (position \(witness.position)): entries up to it were rewritten")
        }
        let signed = try await store.checkpoints(fromPosition: witness.position).first
        guard let signed, signed.position == witness.position, signed.hash == witness.hash else {
            throw Refusal(description: "the checkpoint signed at position \(witness.position) is missing from the database")
        }
        switch signing.verifier.verify(signed) {
        case .valid: break
        case .badSignature:
            throw Refusal(description: "the checkpoint at the last signed head (position \(witness.position)) has a bad signature")
        case let .untrustedSigner(why):
            // After a change of the core's key, the old key must stay listed in [audit] signer_keys.
            throw Refusal(description: "the checkpoint at the last signed head (position \(witness.position)) no longer verifies: \(why)")
        }
        return witness
    }

    /// Re-chains the entries after `base` (a checkpoint must never pin entries that were changed
    /// in the file behind the core's back) and checks every checkpoint found on the way. Returns
    /// the head and the newest checkpoint that verified (or the base).
    private func verifiedExtension(of base: AuditWitness, _ verifier: CheckpointVerifier) async throws -> (head: AuditWitness, newestVerified: AuditWitness) {
        var pending = try await store.checkpoints(fromPosition: base.position + 1)[...]
        var previous = base.hash
        var after = base.position
        var newest = base
        while true {
            let page = try await store.accessChain(afterPosition: after, limit: Self.pageSize)
            guard !page.isEmpty else { break }
            for entry in page {
                guard entry.position == after + 1,
                      AccessChain.hash(previous: previous, position: entry.position, record: entry.record) == entry.hash else {
                    throw Refusal(description: "the log does not chain at position \(after + 1)")
                }
                previous = entry.hash
                after = entry.position
                while let checkpoint = pending.first, checkpoint.position <= after {
                    pending.removeFirst()
                    guard checkpoint.position == after, checkpoint.hash == previous, verifier.verify(checkpoint) == .valid else {
                        throw Refusal(description: "the checkpoint at position \(checkpoint.position) does not match the log or does not verify")
                    }
                    newest = AuditWitness(position: checkpoint.position, hash: checkpoint.hash, atMs: checkpoint.atMs)
                }
            }
        }
        if let beyond = pending.first {
            throw Refusal(description: "a checkpoint covers position \(beyond.position) but the log ends at \(after)")
        }
        return (AuditWitness(position: after, hash: previous, atMs: 0), newest)
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

    /// `linkctl audit verify`: the whole chain, every checkpoint with the pinned verifier, and
    /// the witness outside the database.
    func verify(_ signing: Signing) async -> Result<LCAuditVerifyResponse, WireError> {
        do {
            let witness: AuditWitness?
            let checkpoints = try await store.checkpoints()
            do {
                witness = try AuditWitness.read(path: signing.witnessPath)
            } catch {
                return .success(failure("\(error)"))
            }
            if witness == nil, let last = checkpoints.last {
                return .success(failure("the log has checkpoints up to position \(last.position) but no witness at \(signing.witnessPath)"))
            }
            let report = try await ChainVerifier.verify(
                checkpoints: checkpoints, verifier: signing.verifier, witness: witness,
                page: { after in try await store.accessChain(afterPosition: after, limit: Self.pageSize) })
            if !report.ok { logger.critical("access log verification FAILED", metadata: ["detail": "\(report.detail)"]) }
            var response = LCAuditVerifyResponse.with {
                $0.ok = report.ok
                $0.entriesChecked = report.entriesChecked
                $0.checkpointsChecked = report.checkpointsChecked
                $0.firstBadPosition = report.firstBadPosition ?? 0
                $0.problem = report.problem.map { "\($0.rawValue): \(report.detail)" } ?? ""
            }
            if report.ok { try await verifyTree(signing, into: &response) }
            return .success(response)
        } catch {
            return .failure(WireError(.unavailable, "cannot read the access log: \(error)"))
        }
    }

    private func failure(_ problem: String) -> LCAuditVerifyResponse {
        logger.critical("access log verification FAILED", metadata: ["detail": "\(problem)"])
        return .with { $0.ok = false; $0.problem = "witness: \(problem)" }
    }
}
