// EvalCommand: `bptt eval` prints a checkpoint's mean loss and bits per character over a whole file.
package bptt.cli;

import bptt.api.Dataset;
import bptt.api.Device;
import bptt.api.Model;
import bptt.api.SavedModel;
import bptt.api.Scores;
import bptt.api.TrainOptions;
import bptt.api.Training;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Scores a checkpoint: mean cross-entropy and bits per character over a whole text file.",
                "For a model of --data FILE.csv|.npy or --task series: MSE and MAE (or accuracy) on a file of that layout.",
                "For a model trained with --task copy|adding: its loss and accuracy on held-out sequences."})
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", defaultValue = TrainCommand.DEFAULT_SAVE,
            description = "Model checkpoint (.safetensors; default ${DEFAULT-VALUE}, where train saves).")
    Path checkpoint;
    @Option(names = "--data", description = "UTF-8 text file to score (text models).")
    Path data;
    @Option(names = "--task", description = "text, copy or adding (default: the task the checkpoint was trained on).")
    String task;
    @Option(names = "--seed", defaultValue = "1", description = "Seed of the held-out task sequences (default ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--batch", defaultValue = "16", description = "Parallel streams (default ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--seq-len", defaultValue = "128", description = "Window length (default ${DEFAULT-VALUE}).")
    int seqLen;
    @Mixin
    BackendOption backendOption;
    @Option(names = "--json", description = "Print one JSON object: loss, bpc, tokens (real values: mse, mae, targets).")
    boolean json;
    @Option(names = "--target-columns", paramLabel = "COLS", description = "Real-valued models: the columns of --data to predict"
            + " (default: the checkpoint's).")
    String targetColumns;
    @Option(names = "--horizon", description = "Real-valued models: steps ahead (default: the checkpoint's).")
    Integer horizon;
    @Option(names = "--classes", description = "Real-valued input with class ids in the target column (default: the checkpoint's).")
    Integer classes;

    @Override
    public Integer call() {
        if (batch <= 0 || seqLen <= 0) {
            throw new UserError("--batch and --seq-len must be positive");
        }
        SavedModel saved = readCheckpoint(checkpoint);
        if (EvalDense.handles(saved, task, data)) {
            return EvalDense.call(checkpoint, EvalDense.data(saved, data, targetColumns, horizon, classes, seed),
                    backendOption, batch, json);
        }
        String kind = task != null ? task : saved.resumable() ? saved.settings().getOrDefault("task", "text") : "text";
        if (!"text".equals(kind)) {
            return evalTask(saved, kind);
        }
        if (data == null) {
            throw new UserError("--data FILE is required to score a text model");
        }
        if (saved.spec().vocabulary() == null) {
            throw new UserError("checkpoint " + checkpoint + " has no vocabulary, so it cannot score text");
        }
        Dataset text = Dataset.text(data, 0);
        try (Device device = Device.open(backendOption.backend, backendOption.device)) {
            requireFits(saved, text, batch, device);
            try (Model model = saved.open(device)) {
                Scores r = model.evaluate(text, batch, seqLen);
                if (json) {
                    System.out.printf(Locale.ROOT, "{\"loss\": %.6f, \"bpc\": %.6f, \"tokens\": %d}%n", r.loss(),
                            r.bitsPerTarget(), r.targets());
                } else {
                    System.out.printf(Locale.ROOT, "%s on %s: loss %.4f nats, %.4f bpc over %d characters (backend %s)%n",
                            checkpoint, data, r.loss(), r.bitsPerTarget(), r.targets(), device.name());
                }
                return 0;
            }
        }
    }

    /** Reads a checkpoint; the default path, when absent, gets a message that says how to make one. */
    static SavedModel readCheckpoint(Path checkpoint) {
        if (checkpoint.toString().equals(TrainCommand.DEFAULT_SAVE) && !Files.exists(checkpoint)) {
            throw new UserError("no checkpoint at " + checkpoint + " (where train saves): train one first with"
                    + " scripts/bptt train, or pass --checkpoint FILE");
        }
        return SavedModel.read(checkpoint);
    }

    /** The model's weights, gradients and (B, T) workspace must fit the device, checked before allocating. */
    private void requireFits(SavedModel saved, Dataset data, int streams, Device device) {
        Training.requireMemory(saved.spec(), TrainOptions.defaults().batch(streams).window(seqLen).sgd(1f), data, device);
    }

    private int evalTask(SavedModel saved, String kind) {
        if (data != null) {
            throw new UserError("--data is for text models; the " + kind + " task generates its own sequences");
        }
        Dataset generated = Dataset.task(kind, seed);
        if (!generated.shape().hidden(saved.spec().hidden()).layers(saved.spec().layers()).cell(saved.spec().cell())
                .equals(saved.spec())) {
            throw new UserError("checkpoint " + checkpoint + " is not a model for the " + kind + " task");
        }
        try (Device device = Device.open(backendOption.backend, backendOption.device)) {
            requireFits(saved, generated, batch, device);
            try (Model model = saved.open(device)) {
                Scores r = model.evaluate(generated, batch, seqLen);
                if (json) {
                    System.out.printf(Locale.ROOT, "{\"loss\": %.6f, \"bpc\": %.6f, \"tokens\": %d, \"accuracy\": %.6f}%n",
                            r.loss(), r.bitsPerTarget(), r.targets(), r.accuracy());
                } else {
                    System.out.printf(Locale.ROOT, "%s on %s: loss %.4f nats, accuracy %.4f over %d targets (backend %s)%n",
                            checkpoint, generated.description(), r.loss(), r.accuracy(), r.targets(), device.name());
                }
                return 0;
            }
        }
    }
}
