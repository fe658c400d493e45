/// Placeholder until Conv2d, MaxPool2d and BatchNorm1d/2d are merged: the
/// conv, bn, mlp-step and cnn workloads live in `WorkloadsPending.swift.txt`.
/// After the merge, replace this file with it:
///
///     mv Benchmarks/StrataBench/WorkloadsPending.swift.txt Benchmarks/StrataBench/WorkloadsPending.swift
///
/// and delete the `exclude:` line of the strata-bench target in Package.swift.
let pendingWorkloads: [Workload] = []
