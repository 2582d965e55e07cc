// EvalDense: `bptt eval` of a model of real-valued data (MSE and MAE, or accuracy), entirely through the public API.
package bptt.cli;

import bptt.api.Device;
import bptt.api.Model;
import bptt.api.SavedModel;
import bptt.api.Scores;
import bptt.api.Sequences;

import java.nio.file.Path;
import java.util.Locale;

/** Scores a checkpoint of a --data FILE.csv|.npy or --task series run on a file of the same layout (or its own data). */
final class EvalDense {
    private EvalDense() { }

    /** Whether eval should take this path: the checkpoint's run, or the file given, is real-valued data. */
    static boolean handles(SavedModel saved, String task, Path data) {
        String kind = task != null ? task : saved.resumable() ? saved.settings().getOrDefault("task", "text") : "text";
        return DenseData.isDenseTask(kind) || "series".equalsIgnoreCase(kind) || DenseData.isNumericFile(data);
    }

    /** The checkpoint's data layout, applied to {@code file} (or the run's own data), with command-line overrides. */
    static Sequences data(SavedModel saved, Path file, String targetColumns, Integer horizon, Integer classes, long seed) {
        if (!saved.resumable() && file == null) {
            throw new UserError(saved.file() + " records no training run; pass --data FILE.csv|.npy to score");
        }
        DenseData layout = DenseData.fromSettings(saved.resumable() ? saved.settings() : java.util.Map.of(), file,
                targetColumns, horizon, classes);
        return layout.load(seed);
    }

    static int call(Path checkpoint, Sequences data, BackendOption backend, int batch, boolean json) {
        try (Device device = Device.open(backend.backend, backend.device);
             Model model = Model.load(device, checkpoint)) {
            int steps = data.isSeries() ? Math.max(1, Math.min(data.length(), 256)) : data.length();
            Scores s = model.evaluate(data, data.isSeries() ? 1 : Math.min(batch, data.count()), steps);
            if (json) {
                System.out.println(s.regression()
                        ? String.format(Locale.ROOT, "{\"mse\": %.8g, \"mae\": %.8g, \"targets\": %d}", s.meanSquaredError(),
                        s.meanAbsoluteError(), s.targets())
                        : String.format(Locale.ROOT, "{\"loss\": %.8g, \"accuracy\": %.6f, \"targets\": %d}", s.loss(),
                        s.accuracy(), s.targets()));
            } else {
                System.out.printf(Locale.ROOT, "%s on %s: %s (backend %s)%n", checkpoint, data.description(), describe(s),
                        device.name());
            }
            return 0;
        }
    }

    /** "MSE 0.0123, MAE 0.0871 over 400 targets", or "loss 0.4 nats, accuracy 0.870 over 50 targets". */
    static String describe(Scores s) {
        return s.regression()
                ? String.format(Locale.ROOT, "MSE %.6g, MAE %.6g over %d targets", s.meanSquaredError(),
                s.meanAbsoluteError(), s.targets())
                : String.format(Locale.ROOT, "loss %.4f nats, accuracy %.3f over %d targets", s.loss(), s.accuracy(),
                s.targets());
    }
}
