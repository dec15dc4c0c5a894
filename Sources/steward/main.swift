import StewardCLI

// `AsyncParsableCommand.main()` is not selected from a top-level main.swift on Linux, so parse and
// run here the way it would.
await StewardCommand.runFromCommandLine()
