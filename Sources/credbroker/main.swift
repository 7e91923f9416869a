import BrokerCLI

CLI.main(arguments: Array(CommandLine.arguments.dropFirst()))
