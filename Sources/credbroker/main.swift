import BrokerCLI

await CLI.main(arguments: Array(CommandLine.arguments.dropFirst()))
