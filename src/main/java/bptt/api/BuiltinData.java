// BuiltinData: a Dataset the engine generates itself (text, long-range tasks): its windows come from the engine's own dataset.
package bptt.api;

import bptt.backend.ref.CpuRefBackend;
import bptt.rnn.RnnConfig;

/**
 * The engine's datasets ({@link bptt.train.TextDataset}, {@link bptt.train.SyntheticTask}) are
 * built for one window shape; this keeps the one last asked for and fills windows from it, so
 * that training through the API runs exactly what the engine runs (batching, validation).
 */
abstract class BuiltinData implements Dataset {
    private bptt.train.Dataset cached;

    /** The engine's dataset of (batch, steps) windows. */
    final synchronized bptt.train.Dataset engine(int batch, int steps) {
        if (cached == null || cached.batch() != batch || cached.seqLen() != steps) {
            cached = create(batch, steps);
        }
        return cached;
    }

    abstract bptt.train.Dataset create(int batch, int steps);

    @Override
    public int windows(int batch, int steps) { return Failures.call(() -> engine(batch, steps).windowsPerEpoch()); }

    @Override
    public void fill(int epoch, int window, Window out) {
        Failures.run(() -> {
            bptt.train.Dataset engine = engine(out.batch(), out.steps());
            RnnConfig config = engine.model(1, 1);
            try (CpuRefBackend host = CpuRefBackend.float32();
                 bptt.rnn.Window filled = bptt.rnn.Window.standalone(host, config, out.batch(), out.steps())) {
                engine.fill(epoch, window, filled);
                Engine.read(config, filled, out.inputArray(), out.targetArray());
            }
        });
    }
}
