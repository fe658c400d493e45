// The umbrella module: `import Strata` brings in every layer of the library.
// The layers themselves are separate targets whose dependency graph is the
// one drawn in Docs/Architecture.md; import one alone to depend on less.
@_exported import StrataCore
@_exported import StrataData
@_exported import StrataIO
@_exported import StrataNN
@_exported import StrataTraining
