// linkcore-portal: My Portal (マイポータル), the residents' web application (issue 15). `run` is
// the product: HTTPS pages, its own SQLite file, and a session with the core as PORTAL.
// The logic is in LinkcorePortal; this target reads the configuration and starts the services.
import ArgumentParser

@main
struct Portal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "linkcore-portal",
        abstract: "My Portal: the residents' HTTPS site, connected to the linkcore core as PORTAL.",
        subcommands: [Run.self])
}
