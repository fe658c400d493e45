import StrataCore

/// Precise BatchNorm statistics: recompute every BatchNorm layer's running
/// statistics from a set of batches, as the population estimate rather than
/// an exponential average of training-time batches (the "precise BN" of
/// Wu & Johnson 2021, arXiv:2105.07576, and of Detectron's
/// `update_bn_stats`).
///
/// For each BatchNorm / BatchRenorm layer with running statistics in
/// `model`: the running statistics are reset (mean 0, var 1, count 0), the
/// momentum is set to nil (cumulative average: after k batches the running
/// mean is the mean of the k batch means, and running_var the mean of the
/// k unbiased batch variances), and each batch is passed through `model` in
/// train mode without recording gradients. Afterwards every layer's
/// momentum, freeze flag and every module's train/eval flag are restored;
/// num_batches_tracked equals the number of batches. Frozen layers are
/// recomputed too (the call is an explicit request). Other layers run in
/// train mode during the pass (Dropout is active), as in Detectron.
///
/// - Returns: the number of batches used.
@discardableResult
public func recomputeBatchNormStatistics(_ model: any Module, batches: some Sequence<Tensor>) -> Int {
    let modules = model.namedModules().map(\.1)
    let modes = modules.map(\.training)
    let bns = modules.compactMap { $0 as? BatchNormBase }.filter(\.trackRunningStats)
    let saved = bns.map { ($0.momentum, $0.freezeStatistics) }
    for bn in bns {
        bn.resetRunningStats()
        bn.momentum = nil
        bn.freezeStatistics = false
    }
    defer {
        for (bn, s) in zip(bns, saved) { bn.momentum = s.0; bn.freezeStatistics = s.1 }
        for (m, t) in zip(modules, modes) { m.training = t }
    }
    model.train()
    var count = 0
    withNoGrad {
        for batch in batches {
            _ = model(batch)
            count += 1
        }
    }
    return count
}
