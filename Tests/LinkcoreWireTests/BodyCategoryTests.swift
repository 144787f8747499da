import Foundation
import NIOCore
import Testing
@testable import LinkcoreWire

/// The body table (BodyKind.swift) against the public contract, Protos/linkcore/v1/envelope.proto.
@Suite struct BodyCategoryTests {
    /// `(field name, field number)` of every body in the `.proto`'s `oneof body`.
    static func protoBodies() throws -> [(name: String, number: Int)] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("Protos/linkcore/v1/envelope.proto"), encoding: .utf8)
        guard let start = text.range(of: "oneof body {") else { throw ParseError() }
        var bodies: [(String, Int)] = []
        for line in text[start.upperBound...].split(separator: "\n") {
            let code = line.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            if code.contains("}") { break }
            // "  Hello hello = 2;" -> type, name, "=", "2;"
            let words = code.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 4, words[2] == "=", let number = Int(words[3].dropLast()) else { continue }
            bodies.append((String(words[1]), number))
        }
        return bodies
    }

    /// The body a peer sends in field `number` (an empty message), as the generated code decodes it.
    static func body(fieldNumber number: Int) throws -> LCEnvelope.OneOf_Body? {
        var bytes: [UInt8] = []
        var tag = UInt64(number) << 3 | 2  // length-delimited
        while tag >= 0x80 { bytes.append(UInt8(tag & 0x7f) | 0x80); tag >>= 7 }
        bytes.append(UInt8(tag))
        bytes.append(0)  // empty message
        return try LCEnvelope(frame: ByteBuffer(bytes: bytes)).body
    }

    @Test func everyBodyOfTheProtoIsInTheTable() throws {
        let bodies = try Self.protoBodies()
        #expect(bodies.count >= 40, "parsed \(bodies.count) bodies: the parser no longer reads envelope.proto")
        var seen: Set<String> = []
        for (name, number) in bodies {
            // nil: the generated code, and so the table, does not know this body (run
            // scripts/generate-protos.sh, then classify it in BodyKind.swift).
            let body = try Self.body(fieldNumber: number)
            let known = try #require(body, "envelope.proto body \(name) = \(number) is missing from the table")
            let camel = name.split(separator: "_").enumerated()
                .map { $0.offset == 0 ? String($0.element) : $0.element.prefix(1).uppercased() + $0.element.dropFirst() }
                .joined()
            var envelope = LCEnvelope()
            envelope.body = known
            #expect(envelope.bodyName == camel, "field \(number) decodes to \(envelope.bodyName), not \(name)")
            seen.insert(envelope.bodyName)
            _ = known.category  // classified (exhaustive switch)
        }
        #expect(seen.count == bodies.count, "two proto fields decode to the same body")
    }

    /// The naming rules of envelope.proto agree with the table: a `*_response` or `*_ack` body is
    /// a reply (a new ack left off would otherwise reach the domain as a request), and each
    /// request the core starts has a reply of its own name.
    @Test func namesAgreeWithTheCategories() throws {
        let bodies = try Self.protoBodies()
        var categories: [String: LCEnvelope.OneOf_Body.Category] = [:]
        for (name, number) in bodies {
            categories[name] = try #require(try Self.body(fieldNumber: number)).category
        }
        for (name, category) in categories where name.hasSuffix("_response") || name.hasSuffix("_ack") {
            #expect(category == .reply, "\(name) is \(category)")
        }
        for (name, category) in categories where category == .coreRequest {
            let answered = categories[name + "_response"] == .reply || categories[name + "_ack"] == .reply
            #expect(answered, "core request \(name) has no reply body")
        }
        #expect(categories["going_away"] == .notice)
        #expect(categories.values.filter { $0 == .notice }.count == 1)
        // Every category is used: the table has no dead rows.
        #expect(Set(categories.values) == Set(LCEnvelope.OneOf_Body.Category.allCases))
    }

    /// The C SDK cannot read this table: its `lc_body_is_request` list must say the same.
    @Test func theCSDKsRequestListAgrees() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let source = try String(contentsOf: root.appendingPathComponent("sdk/c/src/frame.c"), encoding: .utf8)
        let start = try #require(source.range(of: "int lc_body_is_request("))
        let end = try #require(source.range(of: "return 1;", range: start.upperBound..<source.endIndex))
        let cases = source[start.upperBound..<end.lowerBound].components(separatedBy: "LINKCORE__V1__ENVELOPE__BODY_").dropFirst()
        let cRequests = Set(cases.compactMap { $0.split(separator: ":").first.map { $0.lowercased() } })
        var requests: Set<String> = []
        for (name, number) in try Self.protoBodies() {
            if try Self.body(fieldNumber: number)?.kind == .request { requests.insert(name) }
        }
        #expect(cRequests == requests, "only in C: \(cRequests.subtracting(requests)), only here: \(requests.subtracting(cRequests))")
    }

    @Test func derivedViews() {
        #expect(LCEnvelope.OneOf_Body.provide(LCProvideRequest()).isCoreStarted)
        #expect(LCEnvelope.OneOf_Body.provide(LCProvideRequest()).kind == .request)
        #expect(!LCEnvelope.OneOf_Body.mediate(LCMediateRequest()).isCoreStarted)
        #expect(LCEnvelope.OneOf_Body.orgShow(LCOrgShowRequest()).isOperatorRequest)
        #expect(!LCEnvelope.OneOf_Body.orgShow(LCOrgShowRequest()).isAdminSocketOnly)
        #expect(LCEnvelope.OneOf_Body.statusRequest(LCStatusRequest()).isAdminSocketOnly)
        #expect(LCEnvelope.OneOf_Body.changeEventAck(LCChangeEventAck()).kind == .reply)
        #expect(LCEnvelope.OneOf_Body.goingAway(LCGoingAway()).kind == .notice)
    }

    private struct ParseError: Error {}
}
