import Foundation
import LinkcoreAdapter
import LinkcoreCardVerifier
import LinkcoreWire
import Logging
import NIOCore
import Synchronization

/// The card login and the account (issue 15, items 2 and 5), without HTTP: the pages are in
/// PortalSite+Card.swift.
///
/// - **Account opening** (and resuming, and re-binding a replaced card): the resident signs a
///   link consent with the card's **signature** key and a login challenge with its **user** key,
///   both through `linkcore-card helper`. The portal checks the login (`CardLoginVerifier`:
///   chain, validity, signature, single-use challenge, OCSP/CRL status), asks the card authority,
///   as a licensed verifier, which user certificate was issued with that signature certificate
///   (`linked_certificate`: the two are the same card), then asks the matcher for its link *by
///   certificate* (the consent, as PORTAL) and takes LP from the core (pushed `link_issued`, or
///   `fetch_link`). Binding and account are one durable write.
/// - **Later logins**: the user certificate alone; a serial not bound yet is followed back through
///   the authority's `certificate_history` to the generation bound before (a renewed card).
public final class CardLogin: Sendable {
    public struct Settings: Sendable {
        public var service: String
        public var helperOrigin: String
        public var consentLifetime: TimeInterval
        public var matcher: CoreEndpoint
        public var matcherTimeout: Duration
        public var linkWait: Duration
        public var authority: CoreEndpoint
        public var authorityTimeout: Duration
        public init(service: String, helperOrigin: String, consentLifetime: TimeInterval, matcher: CoreEndpoint, matcherTimeout: Duration,
                    linkWait: Duration, authority: CoreEndpoint, authorityTimeout: Duration) {
            self.service = service; self.helperOrigin = helperOrigin; self.consentLifetime = consentLifetime; self.matcher = matcher
            self.matcherTimeout = matcherTimeout; self.linkWait = linkWait; self.authority = authority; self.authorityTimeout = authorityTimeout
        }
    }

    /// Why a card step was refused. Every one is decided before the portal looks for an account,
    /// so none tells whether an account exists.
    public enum Refusal: Error, Equatable, Sendable {
        /// Not this certificate's signature, not from the card CA, the wrong key, bytes altered.
        case notVerified
        /// The challenge or consent expired, was already used or was never issued here.
        case replayed
        case certificateExpired
        /// Revoked or on hold (OCSP, else the CRL).
        case revoked
        /// The signature certificate and the user certificate are not the same card's.
        case notSameCard
        /// The matcher found no resident (or several) for the signature certificate's facts.
        case matchFailed
        /// A status source, the card authority, the matcher or the core could not answer.
        case unavailable
    }

    public enum LoginOutcome: Equatable, Sendable {
        case loggedIn(lp: String, renewed: Bool)
        /// The holder proved the card: they may be told their account is suspended.
        case suspended
        case noAccount
    }

    public enum OpenOutcome: Equatable, Sendable {
        case opened(lp: String)
        case resumed(lp: String)
        /// Already active: the card was confirmed (a replaced card bound).
        case confirmed(lp: String)
    }

    public let settings: Settings
    let verifier: CardLoginVerifier
    let store: PortalStore
    let core: PortalCore
    let logger: Logger
    let now: @Sendable () -> Date
    /// Consents this portal asked for: nonce hex → expiry, each accepted once (as challenges are).
    private let consents = Mutex<[String: Date]>([:])

    public init(settings: Settings, verifier: CardLoginVerifier, store: PortalStore, core: PortalCore, logger: Logger,
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.settings = settings
        self.verifier = verifier
        self.store = store
        self.core = core
        self.logger = logger
        self.now = now
    }

    var nowMs: Int64 { Int64((now().timeIntervalSince1970 * 1000).rounded()) }

    // MARK: What the pages hand to the card

    public func challenge() -> CardChallenge { verifier.issueChallenge(now: now()) }

    public func consent() -> CardLinkConsent {
        let current = now()
        let consent = CardLinkConsent.fresh(requester: settings.service, lifetime: settings.consentLifetime, now: current)
        consents.withLock { table in
            table = table.filter { $0.value > current }
            table[consent.nonceHex] = consent.expiresAt
        }
        return consent
    }

    // MARK: Later logins

    public func login(challengeHex: String, signatureHex: String, certificatePEM: String) async -> Result<LoginOutcome, Refusal> {
        guard let challenge = Self.bytes(hex: challengeHex), let signature = Self.bytes(hex: signatureHex) else { return .failure(.notVerified) }
        let verified: VerifiedLogin
        do throws(CardLoginError) {
            verified = try await verifier.login(challenge: challenge, signature: signature, certificatePEM: certificatePEM, now: now())
        } catch {
            logger.info("card login refused", metadata: ["reason": "\(error)"])
            return .failure(Self.refusal(error))
        }
        let serial = Self.normal(verified.serialHex)
        do {
            var lp: String?
            var renewed = false
            if let binding = try await store.binding(certSerial: serial) {
                // A superseded certificate's status is revoked (superseded); kept in case a CRL lags.
                guard binding.supersededBy == nil else { return .failure(.revoked) }
                lp = binding.lpLinkCode
            } else {
                switch await earlierBinding(of: serial) {
                case .failure(let refusal): return .failure(refusal)
                case .success(let found?):
                    _ = try await store.bindRenewal(lpLinkCode: found, certSerial: serial, nowMs: nowMs)
                    lp = found
                    renewed = true
                case .success(nil): break
                }
            }
            guard let lp else { return .success(.noAccount) }
            switch try await store.accountState(lpLinkCode: lp) {
            case .active?:
                try await store.logAccountEvent(lpLinkCode: lp, kind: "login", nowMs: nowMs)
                return .success(.loggedIn(lp: lp, renewed: renewed))
            case .suspended?:
                try await store.logAccountEvent(lpLinkCode: lp, kind: "refused_suspended", nowMs: nowMs)
                return .success(.suspended)
            case .closed?, nil:
                return .success(.noAccount)
            }
        } catch {
            logger.error("portal store failure at login", metadata: ["error": "\(error)"])
            return .failure(.unavailable)
        }
    }

    /// A serial the portal has not bound: the card authority's history names the card's earlier
    /// user certificates; the newest one bound to an account that is not closed gives LP.
    func earlierBinding(of serial: String) async -> Result<String?, Refusal> {
        let answer: LCEnvelope.OneOf_Body?
        do {
            answer = try await askAuthority(.certificateHistory(.with { $0.userSerial = serial }))
        } catch let error as WireError where error.code == .notFound {
            return .success(nil)
        } catch {
            logger.warning("card authority: no certificate history", metadata: ["error": "\(error)"])
            return .failure(.unavailable)
        }
        guard case let .certificateHistoryResponse(history)? = answer else { return .failure(.unavailable) }
        do {
            for earlier in history.earlierSerials.reversed() {
                guard let binding = try await store.binding(certSerial: Self.normal(earlier)) else { continue }
                if try await store.accountState(lpLinkCode: binding.lpLinkCode) != .closed { return .success(binding.lpLinkCode) }
            }
            return .success(nil)
        } catch {
            return .failure(.unavailable)
        }
    }

    // MARK: Account opening, resuming, a replaced card

    public struct SignedConsent: Sendable {
        public var consentHex: String
        public var signatureHex: String
        public var certificatePEM: String
        public init(consentHex: String, signatureHex: String, certificatePEM: String) {
            self.consentHex = consentHex; self.signatureHex = signatureHex; self.certificatePEM = certificatePEM
        }
    }

    public func open(consent signed: SignedConsent, challengeHex: String, signatureHex: String, certificatePEM: String) async -> Result<OpenOutcome, Refusal> {
        // 1. The consent is one this portal asked for, unexpired and unused (not spent yet).
        guard let consentBytes = Self.bytes(hex: signed.consentHex), let consentSignature = Self.bytes(hex: signed.signatureHex),
              let consent = try? CardLinkConsent(bytes: consentBytes), consent.requester == settings.service else { return .failure(.notVerified) }
        let current = now()
        guard consents.withLock({ $0[consent.nonceHex].map { $0 > current } ?? false }) else { return .failure(.replayed) }
        // 2. The user certificate: the login's own checks, status included (the challenge is spent).
        guard let challenge = Self.bytes(hex: challengeHex), let signature = Self.bytes(hex: signatureHex) else { return .failure(.notVerified) }
        let verified: VerifiedLogin
        do throws(CardLoginError) {
            verified = try await verifier.login(challenge: challenge, signature: signature, certificatePEM: certificatePEM, now: current)
        } catch {
            logger.info("account opening: user certificate refused", metadata: ["reason": "\(error)"])
            return .failure(Self.refusal(error))
        }
        let userSerial = Self.normal(verified.serialHex)
        // 3. Both certificates are the same card's: the authority's logical link.
        let signatureSerial: String
        do { signatureSerial = Self.normal(try CardCertificateSerial.hex(pem: signed.certificatePEM)) } catch { return .failure(.notVerified) }
        do {
            guard case let .linkedCertificateResponse(linked)? = try await askAuthority(.linkedCertificate(.with { $0.signatureSerial = signatureSerial })) else {
                return .failure(.unavailable)
            }
            guard Self.normal(linked.userSerial) == userSerial else {
                logger.notice("account opening: the two certificates are not one card's")
                return .failure(.notSameCard)
            }
        } catch let error as WireError where error.code == .notFound {
            return .failure(.notSameCard)
        } catch {
            logger.warning("card authority: no logical link", metadata: ["error": "\(error)"])
            return .failure(.unavailable)
        }
        // 4. Spend the consent here, then at the matcher (which records it durably).
        guard consents.withLock({ $0.removeValue(forKey: consent.nonceHex).map { $0 > current } ?? false }) else { return .failure(.replayed) }
        guard let der = Self.der(pem: signed.certificatePEM) else { return .failure(.notVerified) }
        let lp: String
        switch await linkByCertificate(.with {
            $0.signatureCertificate = Data(der)
            $0.consent = Data(consentBytes)
            $0.signature = Data(consentSignature)
        }, nonce: consent.nonceHex) {
        case .success(let code): lp = code
        case .failure(let refusal): return .failure(refusal)
        }
        // 5. Binding and account, one durable write.
        do {
            let (before, binding) = try await store.openOrResume(lpLinkCode: lp, certSerial: userSerial, nowMs: nowMs)
            logger.info("account opened or confirmed", metadata: ["before": "\(before?.rawValue ?? "none")", "generation": "\(binding.generation)"])
            switch before {
            case .suspended?: return .success(.resumed(lp: lp))
            case .active?: return .success(.confirmed(lp: lp))
            case nil, .closed?: return .success(.opened(lp: lp))
            }
        } catch {
            logger.error("portal store failure at account opening", metadata: ["error": "\(error)"])
            return .failure(.unavailable)
        }
    }

    /// The matcher, as PORTAL with the card consent; then LP from the core.
    func linkByCertificate(_ card: LCCardConsent, nonce: String) async -> Result<String, Refusal> {
        let accepted: LCMatchAccepted
        do {
            let matcher = try await settings.matcher.connect()
            defer { Task { await matcher.close() } }
            guard case let .matchAccepted(reply)? = try await matcher.request(.matchRequest(.with {
                $0.card = card
                // The portal's reference to the consent: the consent's own nonce (a prefix).
                $0.consentRef = "portal-card-consent-" + nonce.prefix(16)
            }), timeout: Self.amount(settings.matcherTimeout)) else { return .failure(.unavailable) }
            accepted = reply
        } catch let error as WireError {
            logger.info("matcher refused the account opening", metadata: ["code": "\(error.code)", "message": "\(error.message)"])
            return .failure(Self.refusal(error))
        } catch {
            logger.warning("cannot reach the matcher", metadata: ["error": "\(error)"])
            return .failure(.unavailable)
        }
        let deadline = ContinuousClock.now + settings.linkWait
        while ContinuousClock.now < deadline, !Task.isCancelled {
            if let code = core.links.take(matchingNumber: accepted.matchingNumber) { return .success(code) }
            if case let .fetchLinkResponse(fetched)? = try? await core.session.request(
                .fetchLink(.with { $0.matchingNumber = accepted.matchingNumber }), timeout: .seconds(5)) {
                return .success(fetched.link.linkCode)
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        logger.warning("the core did not issue the portal's link in time")
        return .failure(.unavailable)
    }

    // MARK: The account

    public enum AccountChange: Equatable, Sendable { case done, notActive, unavailable }

    public func suspend(lp: String) async -> AccountChange {
        do { return try await store.suspend(lpLinkCode: lp, nowMs: nowMs) ? .done : .notActive } catch { return .unavailable }
    }

    /// Unlinks LP at the core (`unlink`), then deletes the folder, the bindings and the sessions.
    /// An LP the core no longer knows as linked (INVALID_LINK_CODE) is closed all the same.
    public func close(lp: String) async -> AccountChange {
        do {
            _ = try await core.session.request(.unlink(.with { $0.linkCode = lp }), timeout: .seconds(10))
        } catch let error as WireError where error.code == .invalidLinkCode {
            logger.notice("closing an account whose link the core no longer holds")
        } catch {
            logger.warning("cannot unlink at the core; the account stays open", metadata: ["error": "\(error)"])
            return .unavailable
        }
        do {
            try await store.close(lpLinkCode: lp, nowMs: nowMs)
            return .done
        } catch {
            return .unavailable
        }
    }

    // MARK: Helpers

    func askAuthority(_ body: LCEnvelope.OneOf_Body) async throws -> LCEnvelope.OneOf_Body? {
        let authority = try await settings.authority.connect()
        defer { Task { await authority.close() } }
        return try await authority.request(body, timeout: Self.amount(settings.authorityTimeout))
    }

    static func refusal(_ error: CardLoginError) -> Refusal {
        switch error {
        case .expiredChallenge, .unknownOrReplayedChallenge: .replayed
        case .certificateExpired: .certificateExpired
        case .revoked, .suspended: .revoked
        case .staleStatus, .unsignedOrBadlySignedStatus, .statusForAnotherSerial, .replayedStatus, .statusUnavailable: .unavailable
        default: .notVerified
        }
    }

    static func refusal(_ error: WireError) -> Refusal {
        switch error.code {
        case .cardCertificateRevoked: .revoked
        case .cardCertificateExpired: .certificateExpired
        case .cardConsentExpired, .cardConsentReplayed: .replayed
        case .matchFailed: .matchFailed
        case .cardBadSignature, .cardNotFromCardCa, .cardNotSignatureCertificate, .cardConsentOtherRequester, .invalidArgument: .notVerified
        default: .unavailable
        }
    }

    /// Serials compared as the authority writes them: upper-case hex without leading zeros.
    static func normal(_ serial: String) -> String {
        let upper = serial.uppercased()
        let trimmed = upper.drop { $0 == "0" }
        return trimmed.isEmpty ? "0" : String(trimmed)
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0, digits.count <= 8192 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(byte)
            i += 2
        }
        return out
    }

    static func der(pem: String) -> [UInt8]? {
        guard let start = pem.range(of: "-----BEGIN CERTIFICATE-----"), let end = pem.range(of: "-----END CERTIFICATE-----"),
              start.upperBound <= end.lowerBound else { return nil }
        return Data(base64Encoded: String(pem[start.upperBound..<end.lowerBound].filter { !$0.isWhitespace })).map(Array.init)
    }

    static func amount(_ duration: Duration) -> TimeAmount {
        let c = duration.components
        return .nanoseconds(c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000)
    }
}
