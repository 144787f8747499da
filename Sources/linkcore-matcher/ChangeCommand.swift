import ArgumentParser
import Foundation
import LinkcoreRegistry

extension RegistryCommand {
    /// `linkcore-matcher registry change`: records a move, a new name or a death in the registry.
    /// A running `serve` reports it to the core as a change event (the event only, never the facts).
    struct Change: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a resident's move, new name or death (reported to the core by `serve`).")

        @Option(help: "Registry database file.")
        var db: String
        @Option(help: "Resident code (11 digits).")
        var resident: String
        @Option(help: "The new address (a move, 転居).")
        var moved: String?
        @Option(help: "The new name (改姓).")
        var renamed: String?
        @Option(help: "The new name in kana, with --renamed.")
        var kana: String?
        @Flag(help: "The resident died (死亡).")
        var died = false

        func validate() throws {
            let given = [moved != nil, renamed != nil, died].filter { $0 }.count
            guard given == 1 else { throw ValidationError("give exactly one of --moved, --renamed, --died") }
            guard kana == nil || renamed != nil else { throw ValidationError("--kana goes with --renamed") }
        }

        func run() throws {
            guard FileManager.default.fileExists(atPath: db) else { throw ValidationError("no such file: \(db)") }
            let change: ResidentChange
            if let moved {
                change = .moved(address: moved)
            } else if let renamed {
                change = .renamed(name: renamed, nameKana: kana)
            } else {
                change = .died
            }
            do {
                let recorded = try RegistryStore(path: db).apply(change, to: resident)
                print("recorded change \(recorded.sequence): \(recorded.kind)")
            } catch let error as RegistryError {
                FileHandle.standardError.write(Data("linkcore-matcher: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
