import StrataCore
import StrataNN

/// SyncBatchNorm: BatchNorm whose batch statistics are those of the global
/// batch, pooled over every process of a group.
///
/// Design: SyncBatchNorm is a mode of the existing BatchNorm layers, not a
/// new layer type. `convert` sets `statisticsReducer` on every
/// `BatchNorm1d`, `BatchNorm2d` (and Batch Renorm) layer of a model, so the
/// model's objects, state_dict keys, running statistics, `freezeStatistics`
/// and the user's own references to the layers all stay as they were; a
/// checkpoint written with or without it loads into either. (PyTorch
/// replaces each layer by a new `SyncBatchNorm` object instead, which a
/// Swift module tree of stored `let` properties cannot do.)
///
/// Per training forward of each layer: one allreduce of 1 + 2C Doubles
/// (count, shifted sums of x and x^2); per backward: one allreduce of 2C
/// Doubles (sums of dy and dy * xhat). The running statistics are updated
/// from the global statistics with the global count, so they stay identical
/// on every rank. Eval mode and frozen statistics do not communicate. With a
/// world of one the layers are exactly BatchNorm.
public enum SyncBatchNorm {
    /// Makes every BatchNorm layer of `model` synchronise over `group`;
    /// returns how many layers were converted. `exclude` names (as in
    /// `namedModules()`) layers to leave per-process.
    @discardableResult
    public static func convert(_ model: any Module, group: ProcessGroup, exclude: Set<String> = []) -> Int {
        var converted = 0
        for (name, module) in model.namedModules() {
            guard let bn = module as? BatchNormBase, !exclude.contains(name) else { continue }
            bn.statisticsReducer = group
            converted += 1
        }
        return converted
    }

    /// A new `BatchNorm1d` ([N, C] or [N, C, L]) synchronised over `group`.
    public static func batchNorm1d(_ c: Int, group: ProcessGroup, eps: Float = 1e-5, momentum: Float? = 0.1) -> BatchNorm1d {
        synchronized(BatchNorm1d(c, eps: eps, momentum: momentum), group)
    }

    /// A new `BatchNorm2d` ([N, C, H, W]) synchronised over `group`.
    public static func batchNorm2d(_ c: Int, group: ProcessGroup, eps: Float = 1e-5, momentum: Float? = 0.1) -> BatchNorm2d {
        synchronized(BatchNorm2d(c, eps: eps, momentum: momentum), group)
    }

    private static func synchronized<Layer: BatchNormBase>(_ layer: Layer, _ group: ProcessGroup) -> Layer {
        layer.statisticsReducer = group
        return layer
    }

    /// Makes every BatchNorm layer of `model` per-process again; returns how many changed.
    @discardableResult
    public static func revert(_ model: any Module) -> Int {
        var reverted = 0
        for (_, module) in model.namedModules() {
            guard let bn = module as? BatchNormBase, bn.statisticsReducer != nil else { continue }
            bn.statisticsReducer = nil
            reverted += 1
        }
        return reverted
    }

    /// The names of the layers of `model` that synchronise their statistics.
    public static func synchronizedLayers(_ model: any Module) -> [String] {
        model.namedModules().compactMap { name, module in
            (module as? BatchNormBase)?.statisticsReducer != nil ? name : nil
        }
    }
}
