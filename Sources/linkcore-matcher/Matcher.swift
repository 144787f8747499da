import ArgumentParser

/// `linkcore-matcher`: the matching authority (J-LIS, 住基ネット side) of linkcore.
@main
struct MatcherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linkcore-matcher",
        abstract: "The matching authority: resident registry, four-facts matching, matching numbers.",
        subcommands: [
            RegistryCommand.self,
            ServeCommand.self,
        ]
    )
}
