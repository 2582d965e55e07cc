// EvalCommand: `bptt eval` prints a checkpoint's mean loss and bits per character over a whole file.
package bptt.cli;

import bptt.backend.Backend;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.Workspace;
import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import bptt.train.Corpus;
import bptt.train.Evaluation;
import bptt.train.MemoryEstimate;
import bptt.train.SyntheticTask;
import bptt.train.TrainingState;
import bptt.train.Vocabulary;
import com.google.gson.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import bptt.api.SavedModel;
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
        if (checkpoint.toString().equals(TrainCommand.DEFAULT_SAVE) && !Files.exists(checkpoint)) {
            loadCheckpoint(checkpoint);
        }
        SavedModel saved = SavedModel.read(checkpoint);
        if (EvalDense.handles(saved, task, data)) {
            return EvalDense.call(checkpoint, EvalDense.data(saved, data, targetColumns, horizon, classes, seed),
                    backendOption, batch, json);
        }
        Checkpoint ckpt = loadCheckpoint(checkpoint);
        String kind = task != null ? task : savedTask(ckpt);
        if (!"text".equals(kind)) {
            return evalTask(ckpt, kind);
        }
        if (data == null) {
            throw new UserError("--data FILE is required to score a text model");
        }
        if (ckpt.vocab() == null) {
            throw new UserError("checkpoint " + checkpoint + " has no vocabulary, so it cannot score text");
        }
        int[] tokens = Vocabulary.ofCodePoints(ckpt.vocab()).encode(Corpus.readText(data));
        if (tokens.length < 2) {
            throw new UserError("data file " + data + " has 1 character; scoring needs at least 2, since each character"
                    + " is predicted from the one before it");
        }
        int usable = Math.min(batch, tokens.length - 1);
        try (Backend backend = backendOption.open()) {
            requireFits(ckpt, usable, seqLen, backend);
            return scoreText(ckpt, tokens, usable, backend);
        }
    }

    private int scoreText(Checkpoint ckpt, int[] tokens, int usable, Backend backend) {
        try (Rnn rnn = ckpt.model(backend); Workspace ws = rnn.workspace(usable, seqLen)) {
            Evaluation.Result r = Evaluation.evaluate(ws, tokens);
            if (json) {
                System.out.printf(Locale.ROOT, "{\"loss\": %.6f, \"bpc\": %.6f, \"tokens\": %d}%n", r.loss(), r.bpc(), r.tokens());
            } else {
                System.out.printf(Locale.ROOT, "%s on %s: loss %.4f nats, %.4f bpc over %d characters (backend %s)%n",
                        checkpoint, data, r.loss(), r.bpc(), r.tokens(), backend.name());
            }
            return 0;
        }
    }

    /** Loads a checkpoint; the default path, when absent, gets a message that says how to make one. */
    static Checkpoint loadCheckpoint(Path checkpoint) {
        if (checkpoint.toString().equals(TrainCommand.DEFAULT_SAVE) && !Files.exists(checkpoint)) {
            throw new UserError("no checkpoint at " + checkpoint + " (where train saves): train one first with"
                    + " scripts/bptt train, or pass --checkpoint FILE");
        }
        return CheckpointIo.load(checkpoint);
    }

    /** The model's weights, gradients and (B, T) workspace must fit the backend, checked before allocating. */
    private static void requireFits(Checkpoint ckpt, int batch, int seqLen, Backend backend) {
        RnnConfig c = ckpt.config();
        long maxTensor = backend.maxTensorFloats();
        MemoryEstimate.requireFits(new MemoryEstimate.Sizes(c.hidden(), c.layers(), batch, seqLen),
                z -> MemoryEstimate.of(new RnnConfig(c.inputSize(), c.tokenInput(), z.hidden(), z.layers(), c.outputSize(),
                        c.cell()), z.batch(), z.seqLen(), Schedule.full(), null, MemoryEstimate.Target.of(backend)),
                null, backend.name(), backend.availableBytes(), maxTensor, MemoryEstimate.heapAvailable());
    }

    /** The task a checkpoint was trained on; files without training metadata are text models. */
    private static String savedTask(Checkpoint ckpt) {
        if (!ckpt.metadata().containsKey("train")) {
            return "text";
        }
        JsonObject saved = TrainingState.trainSettings(ckpt);
        return saved.has("task") ? saved.get("task").getAsString() : "text";
    }

    private int evalTask(Checkpoint ckpt, String kind) {
        if (data != null) {
            throw new UserError("--data is for text models; the " + kind + " task generates its own sequences");
        }
        SyntheticTask generator = SyntheticTask.create(kind, batch, seqLen, seed);
        if (!generator.model(ckpt.config().hidden(), ckpt.config().layers()).withCell(ckpt.config().cell())
                .equals(ckpt.config())) {
            throw new UserError("checkpoint " + checkpoint + " is not a model for the " + kind + " task");
        }
        try (Backend backend = backendOption.open()) {
            requireFits(ckpt, batch, seqLen, backend);
            return scoreTask(ckpt, generator, backend);
        }
    }

    private int scoreTask(Checkpoint ckpt, SyntheticTask generator, Backend backend) {
        try (Rnn rnn = ckpt.model(backend); Workspace ws = rnn.workspace(batch, seqLen)) {
            Evaluation.Result r = generator.validate(ws);
            if (json) {
                System.out.printf(Locale.ROOT, "{\"loss\": %.6f, \"bpc\": %.6f, \"tokens\": %d, \"accuracy\": %.6f}%n",
                        r.loss(), r.bpc(), r.tokens(), r.accuracy());
            } else {
                System.out.printf(Locale.ROOT, "%s on %s: loss %.4f nats, accuracy %.4f over %d targets (chance %.3f; backend %s)%n",
                        checkpoint, generator.description(), r.loss(), r.accuracy(), r.tokens(),
                        generator.chanceAccuracy(), backend.name());
            }
            return 0;
        }
    }
}
