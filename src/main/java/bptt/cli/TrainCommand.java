// TrainCommand: `bptt train` trains a character-level language model, with checkpoints and resume.
package bptt.cli;

import bptt.backend.Backend;
import bptt.rnn.Cell;
import bptt.rnn.Schedule;
import bptt.rnn.RnnConfig;
import bptt.train.Checkpoint;
import bptt.train.CheckpointIo;
import bptt.train.Corpus;
import bptt.train.Dataset;
import bptt.train.SyntheticTask;
import bptt.train.TextDataset;
import bptt.train.LossCurve;
import bptt.train.MemoryEstimate;
import bptt.train.MetricsLog;
import bptt.train.OutputFile;
import bptt.train.Progress;
import bptt.train.Optimizer;
import bptt.train.TrainSettings;
import bptt.train.Trainer;
import bptt.train.TrainingDivergedException;
import bptt.train.TrainingState;
import bptt.train.Vocabulary;
import com.google.gson.JsonObject;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.function.Function;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Trains a character-level RNN language model (tanh, LSTM or GRU cells) with truncated BPTT,",
                "or a model of a long-range task (--task copy|adding).",
                "Without --data it trains on a built-in corpus that needs no download.",
                "Ctrl-C saves a checkpoint and exits; --resume continues bit for bit."})
public final class TrainCommand implements Callable<Integer> {
    /** Where train saves, and eval and sample read, when no path is given. */
    static final String DEFAULT_SAVE = "runs/model.safetensors";
    private static final String CHECKPOINT_EVERY = "checkpoint_every";
    private static final String LOG = "log";
    @Spec
    CommandSpec spec;
    @Option(names = "--data", description = "UTF-8 text file to learn (default: the built-in corpus, or the resumed run's data);"
            + " or a numeric FILE.csv (one row per step) or float32 FILE.npy, (T, D) or (N, T, D), to predict --target-columns.")
    Path data;
    @Option(names = "--task", defaultValue = "text", description = "text (a character model of --data), copy or adding (long-range tasks generated from --seed),"
            + " or series (forecast the generated Mackey-Glass series; default ${DEFAULT-VALUE}).")
    String task;
    @Option(names = "--target-columns", paramLabel = "COLS", description = "With --data FILE.csv|.npy: the columns to predict, names or"
            + " 0-based indices, comma-separated (default: the last column).")
    String targetColumns;
    @Option(names = "--horizon", defaultValue = "1", description = "With --data FILE.csv|.npy: predict the target columns this many"
            + " steps ahead; 0 = from the other columns of the same step (default ${DEFAULT-VALUE}).")
    int horizon;
    @Option(names = "--classes", defaultValue = "0", description = "With --data FILE.csv|.npy: the target column holds class ids in"
            + " [0, K): classes per step of a (T, D) series, one per sequence (its last step) of (N, T, D); 0 = real values (default ${DEFAULT-VALUE}).")
    int classes;
    @Mixin
    BackendOption backendOption;
    @Mixin
    CudaGraphOption cudaGraph;
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
    @Option(names = "--init-from", description = "Start from this checkpoint's weights (fresh optimizer and position); --hidden and --layers default to its own.")
    Path initFrom;
    @Option(names = "--resume", description = "Continue this checkpoint's run exactly (weights, optimizer, data position, hidden state).")
    Path resume;
    @Option(names = "--save", defaultValue = DEFAULT_SAVE, description = "Checkpoint path (default ${DEFAULT-VALUE}); a loss curve .svg is written beside it.")
    Path save;
    @Option(names = "--force", description = "Overwrite --save even when it holds another model or vocabulary, or is not a checkpoint.")
    boolean force;
    @Option(names = "--save-every", defaultValue = "500", description = "Steps between checkpoints; 0 = only at the end (default ${DEFAULT-VALUE}).")
    int saveEvery;
    @Option(names = "--eval-every", defaultValue = "100", description = "Steps between validation passes; 0 = only at the end (default ${DEFAULT-VALUE}).")
    int evalEvery;
    @Option(names = "--sample-every", defaultValue = "0", description = "Steps between printed samples; 0 = never (default ${DEFAULT-VALUE}).")
    int sampleEvery;
    @Option(names = "--plan", description = "Print the memory this run would allocate, tensor by tensor (backend,"
            + " host staging, Java heap), and exit without training.")
    boolean plan;
    @Option(names = "--memory", paramLabel = "SIZE", description = "With --plan: a budget (e.g. 1GiB); prints whether"
            + " the run fits and the largest --seq-len that does.")
    String memory;
    @Option(names = "--log", description = "Write metrics to this file, one JSON object per line (appended to on --resume).")
    Path log;

    @Override
    public Integer call() {
        if (DenseTrain.handles(task, data)) {
            return new DenseTrain(this).call();
        }
        PrintStream out = System.out;
        if (initFrom != null && resume != null) {
            throw new UserError("--init-from and --resume exclude each other: --resume continues a run, --init-from only takes weights");
        }
        Checkpoint resumed = resume == null ? null : CheckpointIo.load(resume);
        if (resumed != null) {
            adoptSavedSettings(TrainingState.trainSettings(resumed));
            if (DenseData.isDenseTask(task)) {
                throw new UserError(resume + " is a run on real-valued data (" + task + "), which --resume does not continue"
                        + " yet: train a new run with more --steps");
            }
        }
        Checkpoint initial = initFrom == null ? null : CheckpointIo.load(initFrom);
        if (initial != null) {
            hidden = given("--hidden") ? hidden : initial.config().hidden();
            layers = given("--layers") ? layers : initial.config().layers();
        }
        Checkpoint source = resumed != null ? resumed : initial;
        if (source != null && !given("--cell")) {
            cell = source.config().cell().option();
        }
        TrainSettings settings = new TrainSettings(hidden, layers, batch, seqLen, steps, lr,
                Optimizer.parseKind(optimizer), clip, seed, valFraction, saveEvery, sampleEvery, evalEvery,
                Cell.parse(cell));
        if (!"pytorch".equalsIgnoreCase(init) && !"chrono".equalsIgnoreCase(init)) {
            throw new UserError("--init must be pytorch or chrono, got '" + init + "'");
        }
        Schedule schedule = Schedule.parse(checkpointEvery);
        backendOption.validate();
        if (memory != null && !plan) {
            throw new UserError("--memory is a budget for --plan; add --plan");
        }
        if (plan) {
            printPlan(schedule, settings.optimizer(), memory == null ? null : PlanReport.parseSize(memory));
            return 0;
        }
        Dataset dataset = dataset();
        RnnConfig config = model(dataset, hidden, layers);
        requireMemory(dataset, schedule, settings.optimizer(), "any backend", Long.MAX_VALUE, MemoryEstimate.Target.ANY,
                Long.MAX_VALUE);
        Path curve = curvePath();
        checkOutputs(dataset, curve);
        try (StopSignals stop = new StopSignals();
             Backend backend = backendOption.open()) {
            cudaGraph.apply(backend);
            MemoryEstimate estimate = requireMemory(dataset, schedule, settings.optimizer(), backend.name(),
                    backend.availableBytes(), MemoryEstimate.Target.of(backend), MemoryEstimate.heapAvailable());
            try (Trainer trainer = new Trainer(backend, dataset, settings, schedule);
                 MetricsLog metrics = new MetricsLog(log, resumed != null)) {
                if ("chrono".equalsIgnoreCase(init)) {
                    trainer.rnn().initializeChrono(seed, seqLen);
                }
                if (resumed != null) {
                    TrainingState.resume(trainer, resumed);
                    trainer.setLastGoodCheckpoint(resume.toString(), trainer.step());
                    out.printf(Locale.ROOT, "resumed %s at step %d (epoch %d)%n", resume, trainer.step(), trainer.epoch());
                } else if (initial != null) {
                    TrainingState.loadWeights(trainer, initial);
                    out.println("initialised from the weights of " + initFrom);
                }
                int vocab = config.outputSize();
                if (dataset instanceof TextDataset text) {
                    Corpus corpus = text.corpus();
                    out.printf(Locale.ROOT, "data: %s, %d training and %d validation characters, vocabulary %d%s%n",
                            corpus.source(), corpus.trainTokens().length, corpus.validationTokens().length, vocab,
                            corpus.windowsLineEndings() ? " (the text has Windows line endings: '\\r' is one of its"
                                    + " characters; convert it with dos2unix to drop it)" : "");
                } else {
                    out.printf(Locale.ROOT, "data: %s; chance accuracy %.3f%n", dataset.description(),
                            ((SyntheticTask) dataset).chanceAccuracy());
                }
                out.printf(Locale.ROOT, "model: %d layer(s) × %d hidden (%s), %d parameters, %s; backend %s (%s)%n",
                        layers, hidden, config.cell().option(), trainer.rnn().layout().total(),
                        MemoryEstimate.size(estimate.backendBytes()), backend.name(), backend.deviceDescription());
                out.printf(Locale.ROOT, "training: B=%d T=%d %s lr=%s clip=%s, checkpoint-every %s; uniform baseline ln V = %.4f%n",
                        batch, seqLen, optimizer, lr, clip, trainer.workspace().checkpointEvery() == 0 ? "0 (full storage)"
                                : Integer.toString(trainer.workspace().checkpointEvery()), Math.log(vocab));
                stop.arm();
                Trainer.Summary s = trainer.run(out, metrics, stop::requested, () -> saveCheckpoint(trainer, curve));
                report(out, s, vocab);
                return s.interrupted() ? stop.exitCode() : 0;
            } catch (TrainingDivergedException e) {
                System.err.println("error: " + e.getMessage());
                return 1;
            }
        }
    }

    /**
     * This run's memory estimate, held against what a backend offers before anything is
     * allocated (first against any backend's limits, before one is even opened).
     */
    private MemoryEstimate requireMemory(Dataset dataset, Schedule schedule, Optimizer.Kind kind, String backend,
                                         long available, MemoryEstimate.Target target, long heap) {
        long dataTokens = dataset instanceof TextDataset text
                ? (long) text.corpus().trainTokens().length + text.corpus().validationTokens().length : 0;
        Function<MemoryEstimate.Sizes, MemoryEstimate> estimate = z -> estimate(model(dataset, z.hidden(), z.layers()),
                z, schedule, kind, target, dataTokens);
        MemoryEstimate.Sizes sizes = new MemoryEstimate.Sizes(hidden, layers, batch, seqLen);
        MemoryEstimate.requireFits(sizes, estimate, kind, backend, available, target.maxTensorFloats(), heap);
        return estimate.apply(sizes);
    }

    /** A training run's plan: the model, optimizer and workspace, a checkpoint's host copies and the corpus's token ids. */
    private static MemoryEstimate estimate(RnnConfig config, MemoryEstimate.Sizes z, Schedule schedule, Optimizer.Kind kind,
                                           MemoryEstimate.Target target, long dataTokens) {
        MemoryEstimate e = MemoryEstimate.of(config, z.batch(), z.seqLen(), schedule, kind, target).withCheckpoints();
        return dataTokens == 0 ? e : e.withHeap("training data: the corpus's token ids", dataTokens * Integer.BYTES, "int[]");
    }

    /**
     * --plan: the memory of this run on the chosen backend, without training (and without
     * requiring the data to be long enough for --seq-len: only its vocabulary matters).
     */
    private void printPlan(Schedule schedule, Optimizer.Kind kind, Long budget) {
        SyntheticTask generator = "text".equalsIgnoreCase(task) ? null : SyntheticTask.create(task, batch, seqLen, seed);
        Corpus corpus = generator != null ? null : data == null ? Corpus.builtin(valFraction) : Corpus.load(data, valFraction);
        long dataTokens = corpus == null ? 0 : (long) corpus.trainTokens().length + corpus.validationTokens().length;
        RnnConfig config = (generator != null ? generator.model(hidden, layers)
                : RnnConfig.charModel(corpus.vocabulary().size(), hidden, layers)).withCell(Cell.parse(cell));
        try (Backend backend = backendOption.open()) {
            MemoryEstimate.Target target = MemoryEstimate.Target.of(backend);
            MemoryEstimate e = estimate(config, new MemoryEstimate.Sizes(hidden, layers, batch, seqLen), schedule, kind,
                    target, dataTokens);
            String what = String.format(Locale.ROOT, "train %s %s B=%d T=%,d H=%d V=%d layers=%d (%,d parameters, %s)",
                    task, config.cell().option(), batch, seqLen, hidden, config.outputSize(), layers, e.parameters(),
                    kind.name().toLowerCase(Locale.ROOT));
            PlanReport.print(System.out, false, backend.name(), what, e, budget, t -> estimate(config,
                    new MemoryEstimate.Sizes(hidden, layers, batch, t), schedule, kind, target, dataTokens),
                    PlanReport.maxSeqLen(batch));
        }
    }

    /** The model this run trains on {@code dataset}: its input and output sizes, with --cell. */
    private RnnConfig model(Dataset dataset, int hiddenSize, int layerCount) {
        return dataset.model(hiddenSize, layerCount).withCell(Cell.parse(cell));
    }

    private Dataset dataset() {
        if (!"text".equalsIgnoreCase(task)) {
            SyntheticTask generator = SyntheticTask.create(task, batch, seqLen, seed);  // an unknown task is named first
            if (data != null) {
                throw new UserError("--data is for --task text; the " + task + " task generates its own sequences");
            }
            return generator;
        }
        Corpus corpus = data == null ? Corpus.builtin(valFraction) : Corpus.load(data, valFraction);
        return new TextDataset(corpus, batch, seqLen);
    }

    /** The loss curve's path: --save with .safetensors replaced by .loss.svg. */
    Path curvePath() {
        if (save.toString().isEmpty()) {
            throw new UserError("--save is empty; give a file path such as " + DEFAULT_SAVE);
        }
        Path name = save.getFileName();
        return save.resolveSibling((name == null ? "model" : name.toString().replaceFirst("\\.safetensors$", "")) + ".loss.svg");
    }

    /**
     * Before any work: every file this run writes can be written, none is a device, FIFO, socket
     * or directory, none is the data, and --save does not replace a checkpoint of another model
     * or a file that is not a checkpoint unless --force says so.
     */
    private void checkOutputs(Dataset dataset, Path curve) {
        Path saveTarget = OutputFile.requireWritable(save, "--save");
        OutputFile.requireWritable(curve, "--save's loss curve");
        Path dataFile = resolved(dataset instanceof TextDataset text ? text.corpus().file() : null);
        if (log != null) {
            Path target = OutputFile.requireWritable(log, "--log");
            if (target.equals(saveTarget) || target.equals(dataFile)) {
                throw new UserError("--log " + log + " is also the " + (target.equals(dataFile) ? "--data file" : "--save checkpoint")
                        + "; give the log a file of its own");
            }
        }
        if (saveTarget.equals(dataFile)) {
            throw new UserError("--save " + save + " is the --data file; writing the checkpoint would replace the text:"
                    + " give another --save path");
        }
        if (!force && Files.exists(saveTarget) && (resume == null || !saveTarget.equals(resolved(resume)))) {
            Vocabulary vocabulary = dataset.vocabulary();
            String clash = CheckpointIo.differenceFrom(save, model(dataset, hidden, layers),
                    vocabulary == null ? null : vocabulary.codePoints());
            if (clash != null) {
                throw new UserError(clash + "; this run would replace it: pass another --save path to keep it,"
                        + " or --force to overwrite it");
            }
        }
    }

    /** {@link #checkOutputs} for a run on a numeric file (or the series): every output writable, none the data. */
    void checkDenseOutputs(Path dataFile, Path curve, Path forecast) {
        Path saveTarget = OutputFile.requireWritable(save, "--save");
        OutputFile.requireWritable(curve, "--save's loss curve");
        OutputFile.requireWritable(forecast, "--save's forecast picture");
        Path source = resolved(dataFile);
        if (saveTarget.equals(source)) {
            throw new UserError("--save " + save + " is the --data file; give another --save path");
        }
        if (log != null && OutputFile.requireWritable(log, "--log").equals(source)) {
            throw new UserError("--log " + log + " is the --data file; give the log a file of its own");
        }
    }

    private static Path resolved(Path path) {
        if (path == null) {
            return null;
        }
        try {
            return OutputFile.resolve(path);
        } catch (java.io.IOException e) {
            return path.toAbsolutePath();
        }
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
        saveEvery = given("--save-every") || !saved.has("save_every") ? saveEvery : saved.get("save_every").getAsInt();
        evalEvery = given("--eval-every") || !saved.has("eval_every") ? evalEvery : saved.get("eval_every").getAsInt();
        sampleEvery = given("--sample-every") || !saved.has("sample_every") ? sampleEvery : saved.get("sample_every").getAsInt();
        checkpointEvery = given("--checkpoint-every") || !saved.has(CHECKPOINT_EVERY) ? checkpointEvery
                : saved.get(CHECKPOINT_EVERY).getAsString();
        log = given("--log") || !saved.has(LOG) ? log : Path.of(saved.get(LOG).getAsString());
        save = given("--save") ? save : resume;
    }

    boolean given(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /**
     * Saves the run's state unless it is not finite (then the run has diverged and the last good
     * checkpoint stays); a save that fails (a full disk) names the checkpoint that is intact.
     */
    private void saveCheckpoint(Trainer trainer, Path curve) {
        Map<String, String> options = new LinkedHashMap<>();
        options.put(CHECKPOINT_EVERY, checkpointEvery);
        if (log != null) {
            options.put(LOG, log.toAbsolutePath().toString());
        }
        TrainingState.save(trainer, save, options, "with scripts/bptt train --resume ", "choose another --save");
        try {
            LossCurve.write(curve, "bptt: " + trainer.data().description(), "loss (nats)", trainer);
        } catch (java.io.UncheckedIOException e) {
            System.err.println("warning: " + e.getMessage() + "; the checkpoint was saved, training goes on");
        }
    }

    private void report(PrintStream out, Trainer.Summary s, int vocab) {
        if (s.lastStep() > s.firstStep()) {
            out.printf(Locale.ROOT, "done: steps %d..%d in %.1f s (%.0f tokens/s); loss %s -> %s nats (%s bpc), baseline %.4f%n",
                    s.firstStep() + 1, s.lastStep(), s.seconds(), s.tokensPerSecond(), Progress.formatLoss(s.firstLoss()),
                    Progress.formatLoss(s.lastLoss()), Progress.formatLoss(s.lastLoss() / Math.log(2)), Math.log(vocab));
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
        out.println((s.interrupted() ? "interrupted; " : "") + "checkpoint: " + save + "  (resume: scripts/bptt train --resume " + save + ")");
    }
}
