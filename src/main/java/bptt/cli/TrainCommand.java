// TrainCommand: `bptt train` trains a character-level language model, with checkpoints and resume.
package bptt.cli;

import bptt.backend.Backend;
import bptt.rnn.Cell;
import bptt.rnn.Schedule;
import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import bptt.train.Corpus;
import bptt.train.Dataset;
import bptt.train.SyntheticTask;
import bptt.train.TextDataset;
import bptt.train.LossCurve;
import bptt.train.MetricsLog;
import bptt.train.Optimizer;
import bptt.train.TrainSettings;
import bptt.train.Trainer;
import bptt.train.TrainingDivergedException;
import bptt.train.TrainingState;
import com.google.gson.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Trains a character-level RNN language model (tanh, LSTM or GRU cells) with truncated BPTT,",
                "or a model of a long-range task (--task copy|adding).",
                "Without --data it trains on a built-in corpus that needs no download.",
                "Ctrl-C saves a checkpoint and exits; --resume continues bit for bit."})
public final class TrainCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;
    @Option(names = "--data", description = "UTF-8 text file to learn (default: the built-in corpus, or the resumed run's data).")
    Path data;
    @Option(names = "--task", defaultValue = "text", description = "text (a character model of --data), copy or adding (long-range tasks generated from --seed; default ${DEFAULT-VALUE}).")
    String task;
    @Mixin
    BackendOption backendOption;
    @Option(names = "--cell", defaultValue = "tanh", description = "tanh, lstm or gru: PyTorch's nn.RNN, nn.LSTM or nn.GRU (default ${DEFAULT-VALUE}; with --resume or --init-from, the checkpoint's).")
    String cell;
    @Option(names = "--init", defaultValue = "pytorch", description = "pytorch (uniform ±1/√H) or chrono (LSTM/GRU keep-gate biases for memories up to --seq-len steps, Tallec & Ollivier 2018; default ${DEFAULT-VALUE}).")
    String init;
    @Option(names = "--hidden", defaultValue = "128", description = "Hidden size H (default ${DEFAULT-VALUE}).")
    int hidden;
    @Option(names = "--layers", defaultValue = "1", description = "Stacked RNN layers L (default ${DEFAULT-VALUE}).")
    int layers;
    @Option(names = "--batch", defaultValue = "32", description = "Parallel streams B (default ${DEFAULT-VALUE}).")
    int batch;
    @Option(names = "--seq-len", defaultValue = "64", description = "BPTT window T in steps (default ${DEFAULT-VALUE}).")
    int seqLen;
    @Option(names = "--steps", defaultValue = "300", description = "Total optimizer steps (default ${DEFAULT-VALUE}; 0 = initialise and save only).")
    int steps;
    @Option(names = "--lr", defaultValue = "0.003", description = "Learning rate (default ${DEFAULT-VALUE}).")
    float lr;
    @Option(names = "--optimizer", defaultValue = "adam", description = "sgd, adam or adagrad (default ${DEFAULT-VALUE}).")
    String optimizer;
    @Option(names = "--clip", defaultValue = "5", description = "Clip the gradients' global norm to this; 0 = off (default ${DEFAULT-VALUE}).")
    float clip;
    @Option(names = "--seed", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--val-fraction", defaultValue = "0.1", description = "Tail of the text held out for validation; 0 = none (default ${DEFAULT-VALUE}).")
    double valFraction;
    @Option(names = "--checkpoint-every", defaultValue = "0", paramLabel = "auto|K|0",
            description = "Keep hidden states every K steps and recompute in the backward pass (auto ≈ √T); 0 keeps all (default ${DEFAULT-VALUE}).")
    String checkpointEvery;
    @Option(names = "--init-from", description = "Start from this checkpoint's weights (fresh optimizer and position).")
    Path initFrom;
    @Option(names = "--resume", description = "Continue this checkpoint's run exactly (weights, optimizer, data position, hidden state).")
    Path resume;
    @Option(names = "--save", defaultValue = "runs/model.safetensors", description = "Checkpoint path (default ${DEFAULT-VALUE}); a loss curve .svg is written beside it.")
    Path save;
    @Option(names = "--save-every", defaultValue = "500", description = "Steps between checkpoints; 0 = only at the end (default ${DEFAULT-VALUE}).")
    int saveEvery;
    @Option(names = "--eval-every", defaultValue = "100", description = "Steps between validation passes; 0 = only at the end (default ${DEFAULT-VALUE}).")
    int evalEvery;
    @Option(names = "--sample-every", defaultValue = "0", description = "Steps between printed samples; 0 = never (default ${DEFAULT-VALUE}).")
    int sampleEvery;
    @Option(names = "--log", description = "Write metrics to this file, one JSON object per line (appended to on --resume).")
    Path log;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        if (initFrom != null && resume != null) {
            throw new UserError("--init-from and --resume exclude each other: --resume continues a run, --init-from only takes weights");
        }
        Checkpoint resumed = resume == null ? null : CheckpointIo.load(resume);
        Checkpoint initial = initFrom == null ? null : CheckpointIo.load(initFrom);
        if (resumed != null) {
            adoptSavedSettings(TrainingState.trainSettings(resumed));
        }
        Checkpoint source = resumed != null ? resumed : initial;
        if (source != null && !given("--cell")) {
            cell = source.config().cell().option();
        }
        TrainSettings settings = new TrainSettings(hidden, layers, batch, seqLen, steps, lr,
                Optimizer.parseKind(optimizer), clip, seed, valFraction, saveEvery, sampleEvery, evalEvery,
                Cell.parse(cell));
        Schedule schedule = Schedule.parse(checkpointEvery);
        Dataset dataset = dataset();
        AtomicBoolean stop = new AtomicBoolean();
        Signal.handle(new Signal("INT"), sig -> {
            if (!stop.getAndSet(true)) {
                System.err.println("\ninterrupt: finishing the current step and saving a checkpoint (Ctrl-C again to abort)");
            } else {
                Runtime.getRuntime().halt(130);
            }
        });
        try (Backend backend = backendOption.open();
             Trainer trainer = new Trainer(backend, dataset, settings, schedule);
             MetricsLog metrics = new MetricsLog(log, resumed != null)) {
            if ("chrono".equalsIgnoreCase(init)) {
                trainer.rnn().initializeChrono(seed, seqLen);
            } else if (!"pytorch".equalsIgnoreCase(init)) {
                throw new UserError("--init must be pytorch or chrono, got '" + init + "'");
            }
            if (resumed != null) {
                TrainingState.resume(trainer, resumed);
                out.printf(Locale.ROOT, "resumed %s at step %d (epoch %d)%n", resume, trainer.step(), trainer.epoch());
            } else if (initFrom != null) {
                TrainingState.loadWeights(trainer, initial);
                out.println("initialised from the weights of " + initFrom);
            }
            int vocab = trainer.rnn().config().outputSize();
            if (dataset instanceof TextDataset text) {
                Corpus corpus = text.corpus();
                out.printf(Locale.ROOT, "data: %s, %d training and %d validation characters, vocabulary %d%n",
                        corpus.source(), corpus.trainTokens().length, corpus.validationTokens().length, vocab);
            } else {
                out.printf(Locale.ROOT, "data: %s; chance accuracy %.3f%n", dataset.description(),
                        ((SyntheticTask) dataset).chanceAccuracy());
            }
            out.printf(Locale.ROOT, "model: %s, %d layer(s) × %d hidden, %d parameters; backend %s (%s)%n",
                    settings.cell().option(), layers, hidden, trainer.rnn().layout().total(), backend.name(),
                    backend.deviceDescription());
            out.printf(Locale.ROOT, "training: B=%d T=%d %s lr=%s clip=%s, checkpoint-every %s; uniform baseline ln V = %.4f%n",
                    batch, seqLen, optimizer, lr, clip, trainer.workspace().checkpointEvery() == 0 ? "0 (full storage)"
                            : Integer.toString(trainer.workspace().checkpointEvery()), Math.log(vocab));
            Trainer.Summary s = trainer.run(out, metrics, stop::get, () -> saveCheckpoint(trainer));
            report(out, s, vocab);
            return s.interrupted() ? 130 : 0;
        } catch (TrainingDivergedException e) {
            System.err.println("error: " + e.getMessage());
            return 1;
        }
    }

    private Dataset dataset() {
        if (!"text".equalsIgnoreCase(task)) {
            if (data != null) {
                throw new UserError("--data is for --task text; the " + task + " task generates its own sequences");
            }
            return SyntheticTask.create(task, batch, seqLen, seed);
        }
        Corpus corpus = data == null ? Corpus.builtin(valFraction) : Corpus.load(data, valFraction);
        return new TextDataset(corpus, batch, seqLen);
    }

    /** With --resume, every setting not given on the command line comes from the checkpoint. */
    private void adoptSavedSettings(JsonObject saved) {
        task = given("--task") || !saved.has("task") ? task : saved.get("task").getAsString();
        if (!given("--data") && "text".equals(task) && saved.has("data")
                && !saved.get("data").getAsString().startsWith("built-in")) {
            data = Path.of(saved.get("data").getAsString());
        }
        hidden = given("--hidden") ? hidden : saved.get("hidden").getAsInt();
        layers = given("--layers") ? layers : saved.get("layers").getAsInt();
        batch = given("--batch") ? batch : saved.get("batch").getAsInt();
        seqLen = given("--seq-len") ? seqLen : saved.get("seq_len").getAsInt();
        steps = given("--steps") ? steps : saved.get("steps").getAsInt();
        lr = given("--lr") ? lr : saved.get("lr").getAsFloat();
        optimizer = given("--optimizer") ? optimizer : saved.get("optimizer").getAsString();
        clip = given("--clip") ? clip : saved.get("clip").getAsFloat();
        seed = given("--seed") ? seed : saved.get("seed").getAsLong();
        valFraction = given("--val-fraction") ? valFraction : saved.get("val_fraction").getAsDouble();
        save = given("--save") ? save : resume;
    }

    private boolean given(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    private void saveCheckpoint(Trainer trainer) {
        Path parent = save.toAbsolutePath().getParent();
        try {
            Files.createDirectories(parent);
        } catch (java.io.IOException e) {
            throw new UserError("cannot create the checkpoint directory " + parent + ": " + e.getMessage());
        }
        CheckpointIo.save(save, TrainingState.capture(trainer));
        trainer.setLastGoodCheckpoint(save.toString());
        String name = save.getFileName().toString().replaceFirst("\\.safetensors$", "");
        LossCurve.write(save.resolveSibling(name + ".loss.svg"), "bptt: " + trainer.data().description(),
                points(trainer.history()), points(trainer.validationHistory()));
    }

    private static List<LossCurve.Point> points(List<double[]> history) {
        List<LossCurve.Point> points = new ArrayList<>(history.size());
        for (double[] h : history) {
            points.add(new LossCurve.Point((long) h[0], h[1]));
        }
        return points;
    }

    private void report(PrintStream out, Trainer.Summary s, int vocab) {
        if (s.lastStep() > s.firstStep()) {
            out.printf(Locale.ROOT, "done: steps %d..%d in %.1f s (%.0f tokens/s); loss %.4f -> %.4f nats (%.3f bpc), baseline %.4f%n",
                    s.firstStep() + 1, s.lastStep(), s.seconds(), s.tokensPerSecond(), s.firstLoss(), s.lastLoss(),
                    s.lastLoss() / Math.log(2), Math.log(vocab));
        } else {
            out.printf(Locale.ROOT, "no steps taken (at step %d of %d)%n", s.lastStep(), steps);
        }
        if (s.validation() != null) {
            out.printf(Locale.ROOT, "validation: loss %.4f nats, %.3f bits per target over %d targets%n",
                    s.validation().loss(), s.validation().bpc(), s.validation().tokens());
            if (!Double.isNaN(s.validation().accuracy())) {
                out.printf(Locale.ROOT, "validation accuracy: %.3f%n", s.validation().accuracy());
            }
        }
        out.println((s.interrupted() ? "interrupted; " : "") + "checkpoint: " + save + "  (resume: bptt train --resume " + save + ")");
    }
}
