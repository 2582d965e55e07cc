// DenseTrain: `bptt train` on real-valued data (--data FILE.csv|FILE.npy, --task series), entirely through the public API.
package bptt.cli;

import bptt.api.CellType;
import bptt.api.DivergedException;
import bptt.api.Device;
import bptt.api.Model;
import bptt.api.ModelSpec;
import bptt.api.SavedModel;
import bptt.api.Scores;
import bptt.api.Sequences;
import bptt.api.TrainOptions;
import bptt.api.Training;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Trains a model of dense inputs on a CSV or .npy file (regression, or classes from a label
 * column) or on the generated Mackey-Glass series: the model, the run, validation, checkpoints
 * and the pictures (loss curve, and for a forecast the prediction against the truth) all come
 * from {@code bptt.api}.
 */
final class DenseTrain {
    private final TrainCommand c;
    private final SavedModel resumed;
    private final SavedModel initial;

    /**
     * @param command the flags, with a resumed run's settings already adopted
     * @param resumed the checkpoint --resume continues, or null
     * @param initial the checkpoint --init-from takes the weights of, or null
     */
    DenseTrain(TrainCommand command, SavedModel resumed, SavedModel initial) {
        this.c = command;
        this.resumed = resumed;
        this.initial = initial;
    }

    /** Whether this run is one of these: --task series (or a resumed run on a numeric file), or --data a .csv or .npy file. */
    static boolean handles(String task, Path data) {
        return "series".equalsIgnoreCase(task) || DenseData.DENSE.equals(task) || DenseData.isNumericFile(data);
    }

    int call() {
        PrintStream out = System.out;
        if (!"series".equalsIgnoreCase(c.task) && !"text".equalsIgnoreCase(c.task) && !DenseData.DENSE.equals(c.task)) {
            throw new UserError("--data FILE.csv|.npy is for regression or --classes; the " + c.task
                    + " task generates its own sequences");
        }
        if (!"pytorch".equalsIgnoreCase(c.init) && !"chrono".equalsIgnoreCase(c.init)) {
            throw new UserError("--init must be pytorch or chrono, got '" + c.init + "'");
        }
        c.requireFlags();
        c.requireSizes();
        if ("series".equalsIgnoreCase(c.task) && c.data != null) {
            throw new UserError("--data is for --task text (or a .csv/.npy file); the series task generates its own values");
        }
        DenseData layout = layout();
        Sequences data = layout.load(c.seed).holdOut(c.valFraction);
        ModelSpec spec = data.shape().cell(CellType.parse(c.cell)).hidden(c.hidden).layers(c.layers);
        int window = windowLength(data);
        TrainOptions options = TrainOptions.defaults().steps(c.steps).batch(c.batch).window(window)
                .optimizer(c.optimizer, c.lr).clip(c.clip).seed(c.seed).checkpointEvery(c.checkpointEvery)
                .evalEvery(c.evalEvery).saveEvery(c.saveEvery);
        if (c.memory != null && !c.plan) {
            throw new UserError("--memory is a budget for --plan; add --plan");
        }
        if (c.plan) {
            c.printPlan(layout.file() == null ? "series" : layout.file().getFileName().toString(), data, spec, options);
            return 0;
        }
        Training.requireMemory(spec, options, data, null);
        Path curve = c.curvePath();
        Path forecast = c.save.resolveSibling(curve.getFileName().toString().replaceFirst("\\.loss\\.svg$", ".forecast.svg"));
        c.checkDenseOutputs(layout.file(), curve, forecast);
        c.requireReplaceable(spec);
        Map<String, String> settings = new LinkedHashMap<>();
        layout.record(settings);
        if (c.log != null) {
            settings.put("log", c.log.toAbsolutePath().toString());
        }
        String title = "bptt: " + data.description();
        try (StopSignals stop = new StopSignals();
             Device device = c.backendOption.open()) {
            c.cudaGraph.apply(device);
            Training.MemoryNeed need = Training.requireMemory(spec, options, data, device);
            try (Model model = Model.create(device, spec, c.seed)) {
                if ("chrono".equalsIgnoreCase(c.init)) {
                    model.initializeChrono(c.seed, window);
                }
                if (initial != null) {
                    model.loadWeights(initial);
                }
                try (Training training = resumed != null ? Training.resume(model, data, options, resumed)
                        : Training.start(model, data, options)) {
                    if (resumed != null) {
                        out.printf(Locale.ROOT, "resumed %s at step %d (epoch %d)%n", c.resume, training.step(),
                                training.epoch());
                    } else if (initial != null) {
                        out.println("initialised from the weights of " + c.initFrom);
                    }
                    out.println("data: " + training.dataDescription());
                    out.printf(Locale.ROOT, "model: %s, %d parameters, %s; backend %s (%s)%n", spec, need.parameters(),
                            need.size(), device.name(), device.description());
                    out.printf(Locale.ROOT, "training: B=%d T=%d %s lr=%s clip=%s, checkpoint-every %s%n", c.batch,
                            training.window(), c.optimizer, c.lr, c.clip, training.checkpointEvery() == 0
                                    ? "0 (full storage)" : Integer.toString(training.checkpointEvery()));
                    stop.arm();
                    Training.Result r = training.run(new Training.Hooks(out, c.log, resumed != null, stop::requested, () -> {
                        training.save(c.save, settings, "with scripts/bptt train --resume ", "choose another --save");
                        writePictures(training, curve, forecast, title);
                    }));
                    report(out, r, spec.regression());
                    return r.interrupted() ? stop.exitCode() : 0;
                }
            } catch (DivergedException e) {
                System.err.println("error: " + e.getMessage());
                return 1;
            }
        }
    }

    /**
     * The file (or series), target columns, horizon and classes: from the flags, or for --resume
     * from the checkpoint, where a flag given again wins (e.g. --data, when the file has moved).
     */
    private DenseData layout() {
        Path file = "series".equalsIgnoreCase(c.task) ? null : c.data;
        if (resumed == null) {
            return new DenseData(file, c.targetColumns, c.horizon, c.classes);
        }
        return DenseData.fromSettings(resumed.settings(), file, c.targetColumns, c.given("--horizon") ? c.horizon : null,
                c.given("--classes") ? c.classes : null);
    }

    /** T: --seq-len for a series; sequences of one length are windows of their own length. */
    private int windowLength(Sequences data) {
        if (!data.isSeries() && c.given("--seq-len") && c.seqLen != data.length()) {
            throw new UserError("--seq-len " + c.seqLen + " differs from the " + data.length() + " steps of each sequence"
                    + " in " + c.data + "; a window holds whole sequences, so leave --seq-len out");
        }
        return data.isSeries() ? c.seqLen : data.length();
    }

    private static void writePictures(Training training, Path curve, Path forecast, String title) {
        try {
            training.writeLossCurve(curve, title);
            training.writeForecast(forecast, title + ": prediction against truth");
        } catch (java.io.UncheckedIOException e) {
            System.err.println("warning: " + e.getMessage() + "; the checkpoint was saved, training goes on");
        }
    }

    private void report(PrintStream out, Training.Result r, boolean regression) {
        String unit = regression ? "MSE" : "nats";
        if (r.lastStep() > r.firstStep()) {
            out.printf(Locale.ROOT, "done: steps %d..%d in %.1f s (%.0f steps of data/s); loss %.6g -> %.6g %s%n",
                    r.firstStep() + 1, r.lastStep(), r.seconds(), r.tokensPerSecond(), r.firstLoss(), r.lastLoss(), unit);
        } else {
            out.printf(Locale.ROOT, "no steps taken (at step %d of %d)%n", r.lastStep(), c.steps);
        }
        Scores v = r.validation();
        if (v != null) {
            out.println("validation: " + EvalDense.describe(v));
        }
        out.println((r.interrupted() ? "interrupted; " : "") + "checkpoint: " + c.save + "  (resume: scripts/bptt train"
                + " --resume " + c.save + "; scores: scripts/bptt eval"
                + " --checkpoint " + c.save + "; predictions: scripts/bptt predict --checkpoint " + c.save + ")");
    }
}
