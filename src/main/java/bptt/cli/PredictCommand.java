// PredictCommand: `bptt predict` writes a real-valued model's predictions for a CSV or .npy file (or its own data) as CSV, through the public API.
package bptt.cli;

import bptt.api.Device;
import bptt.api.Model;
import bptt.api.ModelSpec;
import bptt.api.SavedModel;
import bptt.api.Sequences;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "predict", mixinStandardHelpOptions = true,
        description = {"Runs a model of --data FILE.csv|.npy or --task series on a file of the same layout (default: its",
                "own data) and prints its predictions as CSV: sequence, step, then one column per predicted value",
                "(classes: the most probable class and its probability)."})
public final class PredictCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", defaultValue = TrainCommand.DEFAULT_SAVE,
            description = "Model checkpoint (.safetensors; default ${DEFAULT-VALUE}, where train saves).")
    Path checkpoint;
    @Option(names = "--data", description = "A CSV or float32 .npy file laid out like the training data (default: the run's own data).")
    Path data;
    @Option(names = "--target-columns", paramLabel = "COLS", description = "The columns the model predicts (default: the checkpoint's); they are not inputs.")
    String targetColumns;
    @Option(names = "--horizon", description = "Steps ahead (default: the checkpoint's).")
    Integer horizon;
    @Option(names = "--classes", description = "Class ids in the target column (default: the checkpoint's).")
    Integer classes;
    @Option(names = "--seed", defaultValue = "1", description = "The generated series' seed (--task series models; default ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--out", description = "Write the CSV to this file instead of standard output.")
    Path outFile;
    @Mixin
    BackendOption backendOption;

    @Override
    public Integer call() {
        if (checkpoint.toString().equals(TrainCommand.DEFAULT_SAVE) && !Files.exists(checkpoint)) {
            throw new UserError("no checkpoint at " + checkpoint + " (where train saves): train one first with"
                    + " scripts/bptt train --data FILE.csv, or pass --checkpoint FILE");
        }
        SavedModel saved = SavedModel.read(checkpoint);
        if (saved.spec().tokenInput()) {
            throw new UserError(checkpoint + " is a model of tokens; predict runs models of real-valued data (use sample"
                    + " for text)");
        }
        Sequences input = EvalDense.data(saved, data, targetColumns, horizon, classes, seed);
        Path target = outFile == null ? null : outFile.toAbsolutePath().normalize();
        if (target != null && (Files.isDirectory(target) || data != null && target.equals(data.toAbsolutePath().normalize()))) {
            throw new UserError("--out " + outFile + (Files.isDirectory(target) ? " is a directory" : " is the --data file")
                    + "; give the predictions a file of their own");
        }
        try (Device device = Device.open(backendOption.backend, backendOption.device);
             Model model = Model.load(device, checkpoint)) {
            float[][][] predicted = model.predict(input);
            String csv = csv(model.spec(), input, predicted);
            if (target == null) {
                System.out.print(csv);
            } else {
                try {
                    Files.writeString(target, csv, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot write --out " + outFile + ": " + e.getMessage(), e);
                }
                PrintStream err = System.err;
                err.println("predictions of " + input.description() + " written to " + outFile);
            }
            return 0;
        }
    }

    /** sequence,step,&lt;target names&gt; for values; sequence,step,class,probability for classes. */
    private static String csv(ModelSpec spec, Sequences input, float[][][] predicted) {
        StringBuilder s = new StringBuilder("sequence,step");
        if (spec.regression()) {
            for (int j = 0; j < spec.outputSize(); j++) {
                s.append(',').append("predicted_").append(input.targetName(j));
            }
        } else {
            s.append(",class,probability");
        }
        s.append('\n');
        for (int n = 0; n < predicted.length; n++) {
            for (int t = 0; t < predicted[n].length; t++) {
                int step = spec.perSequence() ? input.length() - 1 : t;
                s.append(n).append(',').append(step);
                float[] y = predicted[n][t];
                if (spec.regression()) {
                    for (float v : y) {
                        s.append(',').append(String.format(Locale.ROOT, "%.7g", v));
                    }
                } else {
                    int best = 0;
                    for (int k = 1; k < y.length; k++) {
                        best = y[k] > y[best] ? k : best;
                    }
                    s.append(',').append(best).append(',').append(String.format(Locale.ROOT, "%.5f", y[best]));
                }
                s.append('\n');
            }
        }
        return s.toString();
    }
}
