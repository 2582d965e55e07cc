// TrainCommand: `bptt train` trains a character model or a long-range task (DenseTrain: real-valued data), with checkpoints and resume, through bptt.api.
package bptt.cli;

import bptt.api.CellType;
import bptt.api.Dataset;
import bptt.api.Device;
import bptt.api.DivergedException;
import bptt.api.MemoryPlan;
import bptt.api.Model;
import bptt.api.ModelSpec;
import bptt.api.OutputFiles;
import bptt.api.SavedModel;
import bptt.api.Scores;
import bptt.api.TrainOptions;
import bptt.api.Training;
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
        PrintStream out = System.out;
        if (initFrom != null && resume != null) {
            throw new UserError("--init-from and --resume exclude each other: --resume continues a run, --init-from only takes weights");
        }
        SavedModel resumed = resume == null ? null : SavedModel.read(resume);
        if (resumed != null) {
            adoptSavedSettings(resumed.settings());
        }
        SavedModel initial = initFrom == null ? null : SavedModel.read(initFrom);
        if (initial != null) {
            hidden = given("--hidden") ? hidden : initial.spec().hidden();
            layers = given("--layers") ? layers : initial.spec().layers();
        }
        SavedModel source = resumed != null ? resumed : initial;
        if (source != null && !given("--cell")) {
            cell = source.spec().cell().toString();
        }
        if (DenseTrain.handles(task, data)) {
            return new DenseTrain(this, resumed, initial).call();
        }
        TrainOptions options = options();
        CellType cellType = CellType.parse(cell);
        requireSizes();
        if (!"pytorch".equalsIgnoreCase(init) && !"chrono".equalsIgnoreCase(init)) {
            throw new UserError("--init must be pytorch or chrono, got '" + init + "'");
        }
        backendOption.validate();
        if (memory != null && !plan) {
            throw new UserError("--memory is a budget for --plan; add --plan");
        }
        if (plan) {
            Dataset dataset = "text".equalsIgnoreCase(task) ? text() : Dataset.task(task, seed);
            printPlan(task, dataset, dataset.shape().cell(cellType).hidden(hidden).layers(layers), options);
            return 0;
        }
        Dataset dataset = dataset();
        ModelSpec spec = dataset.shape().cell(cellType).hidden(hidden).layers(layers);
        Training.requireMemory(spec, options, dataset, null);
        Path curve = curvePath();
        checkOutputs(spec, curve);
        try (StopSignals stop = new StopSignals();
             Device device = backendOption.open()) {
            cudaGraph.apply(device);
            Training.MemoryNeed need = Training.requireMemory(spec, options, dataset, device);
            try (Model model = Model.create(device, spec, seed)) {
                if ("chrono".equalsIgnoreCase(init)) {
                    model.initializeChrono(seed, seqLen);
                }
                if (initial != null) {
                    model.loadWeights(initial);
                }
                try (Training training = resumed != null ? Training.resume(model, dataset, options, resumed)
                        : Training.start(model, dataset, options)) {
                    if (resumed != null) {
                        out.printf(Locale.ROOT, "resumed %s at step %d (epoch %d)%n", resume, training.step(), training.epoch());
                    } else if (initial != null) {
                        out.println("initialised from the weights of " + initFrom);
                    }
                    int vocab = spec.outputSize();
                    out.println("data: " + training.dataDescription());
                    out.printf(Locale.ROOT, "model: %d layer(s) × %d hidden (%s), %d parameters, %s; backend %s (%s)%n",
                            layers, hidden, cellType, model.parameterCount(), need.size(), device.name(),
                            device.description());
                    out.printf(Locale.ROOT, "training: B=%d T=%d %s lr=%s clip=%s, checkpoint-every %s; uniform baseline ln V = %.4f%n",
                            batch, seqLen, optimizer, lr, clip, training.checkpointEvery() == 0 ? "0 (full storage)"
                                    : Integer.toString(training.checkpointEvery()), Math.log(vocab));
                    stop.arm();
                    Training.Result r = training.run(new Training.Hooks(out, log, resumed != null, stop::requested,
                            () -> saveCheckpoint(training, curve)));
                    report(out, r, vocab);
                    return r.interrupted() ? stop.exitCode() : 0;
                }
            } catch (DivergedException e) {
                System.err.println("error: " + e.getMessage());
                return 1;
            }
        }
    }

    /** The run's options from the flags; a bad --optimizer, --lr, --clip or --checkpoint-every is named by its flag. */
    private TrainOptions options() {
        requireFlags();
        return TrainOptions.defaults().steps(steps).batch(batch).window(seqLen).optimizer(optimizer, lr).clip(clip)
                .seed(seed).checkpointEvery(checkpointEvery).evalEvery(evalEvery).saveEvery(saveEvery)
                .sampleEvery(sampleEvery);
    }

    /** The flags' own limits, checked before the API sees them so that each message names its flag. */
    void requireFlags() {
        if (!"sgd".equalsIgnoreCase(optimizer) && !"adam".equalsIgnoreCase(optimizer) && !"adagrad".equalsIgnoreCase(optimizer)) {
            throw new UserError("unknown optimizer '" + optimizer + "'; choose sgd, adam or adagrad");
        }
        nonNegative("--steps", steps);
        nonNegative("--save-every", saveEvery);
        nonNegative("--sample-every", sampleEvery);
        nonNegative("--eval-every", evalEvery);
        positive("--batch", batch);
        positive("--seq-len", seqLen);
        if (!(lr > 0) || Float.isInfinite(lr)) {
            throw new UserError("--lr must be a positive number, got " + lr);
        }
        if (!(clip >= 0) || Float.isInfinite(clip)) {
            throw new UserError("--clip must be >= 0 (0 turns clipping off), got " + clip);
        }
        if (!(valFraction >= 0 && valFraction < 1)) {
            throw new UserError("--val-fraction must be in [0, 1), got " + valFraction);
        }
    }

    /** --hidden and --layers, which a checkpoint may have set. */
    void requireSizes() {
        positive("--hidden", hidden);
        positive("--layers", layers);
    }

    private static void positive(String flag, int value) {
        if (value <= 0) {
            throw new UserError(flag + " must be a positive integer, got " + value);
        }
    }

    private static void nonNegative(String flag, int value) {
        if (value < 0) {
            throw new UserError(flag + " must be >= 0, got " + value);
        }
    }

    /**
     * --plan: the memory of this run of {@code run} (a task, or the data's name) on the chosen
     * backend, without training (and without requiring the data to be long enough for
     * --seq-len: only its shape matters); with --memory, whether it fits and the largest T that does.
     */
    void printPlan(String run, Dataset dataset, ModelSpec model, TrainOptions options) {
        Long budget = memory == null ? null : PlanReport.parseSize(memory);
        try (Device device = backendOption.open()) {
            MemoryPlan plan = Training.plan(model, options, dataset, device);
            String what = String.format(Locale.ROOT, "train %s %s B=%d T=%,d H=%d V=%d layers=%d (%,d parameters, %s)",
                    run, model.cell(), options.batch(), options.window(), model.hidden(), model.outputSize(),
                    model.layers(), plan.parameters(), optimizer.toLowerCase(Locale.ROOT));
            int largest = budget == null ? -1 : Training.largestWindow(model, options, dataset, device, budget);
            PlanReport.print(System.out, false, device.name(), what, plan, budget, largest,
                    largest > 0 ? Training.plan(model, options.window(largest), dataset, device) : null);
        }
    }

    /** The run's data, checked against --batch and --seq-len (a text long enough, a task's own limits). */
    private Dataset dataset() {
        Dataset dataset;
        if (!"text".equalsIgnoreCase(task)) {
            dataset = Dataset.task(task, seed);  // an unknown task is named first
            if (data != null) {
                throw new UserError("--data is for --task text; the " + task + " task generates its own sequences");
            }
        } else {
            dataset = text();
        }
        dataset.windows(batch, seqLen);
        return dataset;
    }

    /** --data's text, or the built-in corpus, with its --val-fraction tail held out. */
    private Dataset text() {
        return data == null ? Dataset.builtinText(valFraction) : Dataset.text(data, valFraction);
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
    private void checkOutputs(ModelSpec spec, Path curve) {
        Path saveTarget = OutputFiles.requireWritable(save, "--save");
        OutputFiles.requireWritable(curve, "--save's loss curve");
        Path dataFile = "text".equalsIgnoreCase(task) && data != null ? OutputFiles.resolve(data) : null;
        if (log != null) {
            Path target = OutputFiles.requireWritable(log, "--log");
            if (target.equals(saveTarget) || target.equals(dataFile)) {
                throw new UserError("--log " + log + " is also the " + (target.equals(dataFile) ? "--data file" : "--save checkpoint")
                        + "; give the log a file of its own");
            }
        }
        if (saveTarget.equals(dataFile)) {
            throw new UserError("--save " + save + " is the --data file; writing the checkpoint would replace the text:"
                    + " give another --save path");
        }
        requireReplaceable(spec);
    }

    /** --save may replace the checkpoint --resume continues, or one of this same model; anything else needs --force. */
    void requireReplaceable(ModelSpec spec) {
        if (force || !Files.exists(save) || resume != null && OutputFiles.resolve(save).equals(OutputFiles.resolve(resume))) {
            return;
        }
        String clash = SavedModel.differenceFrom(save, spec);
        if (clash != null) {
            throw new UserError("--save " + clash + "; this run would replace it: pass another --save path to keep it,"
                    + " or --force to overwrite it");
        }
    }

    /** {@link #checkOutputs} for a run on a numeric file (or the series): every output writable, none the data. */
    void checkDenseOutputs(Path dataFile, Path curve, Path forecast) {
        Path saveTarget = OutputFiles.requireWritable(save, "--save");
        OutputFiles.requireWritable(curve, "--save's loss curve");
        OutputFiles.requireWritable(forecast, "--save's forecast picture");
        Path source = dataFile == null ? null : OutputFiles.resolve(dataFile);
        if (saveTarget.equals(source)) {
            throw new UserError("--save " + save + " is the --data file; give another --save path");
        }
        if (log != null && OutputFiles.requireWritable(log, "--log").equals(source)) {
            throw new UserError("--log " + log + " is the --data file; give the log a file of its own");
        }
    }

    /** With --resume, every setting not given on the command line comes from the checkpoint. */
    private void adoptSavedSettings(Map<String, String> saved) {
        task = given("--task") || !saved.containsKey("task") ? task : saved.get("task");
        if (!given("--data") && "text".equals(task) && saved.containsKey("data") && !saved.get("data").startsWith("built-in")) {
            data = Path.of(saved.get("data"));
        }
        hidden = given("--hidden") ? hidden : Integer.parseInt(saved.get("hidden"));
        layers = given("--layers") ? layers : Integer.parseInt(saved.get("layers"));
        batch = given("--batch") ? batch : Integer.parseInt(saved.get("batch"));
        seqLen = given("--seq-len") ? seqLen : Integer.parseInt(saved.get("seq_len"));
        steps = given("--steps") ? steps : Integer.parseInt(saved.get("steps"));
        lr = given("--lr") ? lr : Float.parseFloat(saved.get("lr"));
        optimizer = given("--optimizer") ? optimizer : saved.get("optimizer");
        clip = given("--clip") ? clip : Float.parseFloat(saved.get("clip"));
        seed = given("--seed") ? seed : Long.parseLong(saved.get("seed"));
        valFraction = given("--val-fraction") ? valFraction : Double.parseDouble(saved.get("val_fraction"));
        saveEvery = given("--save-every") || !saved.containsKey("save_every") ? saveEvery : Integer.parseInt(saved.get("save_every"));
        evalEvery = given("--eval-every") || !saved.containsKey("eval_every") ? evalEvery : Integer.parseInt(saved.get("eval_every"));
        sampleEvery = given("--sample-every") || !saved.containsKey("sample_every") ? sampleEvery
                : Integer.parseInt(saved.get("sample_every"));
        checkpointEvery = given("--checkpoint-every") || !saved.containsKey(CHECKPOINT_EVERY) ? checkpointEvery
                : saved.get(CHECKPOINT_EVERY);
        log = given("--log") || !saved.containsKey(LOG) ? log : Path.of(saved.get(LOG));
        save = given("--save") ? save : resume;
    }

    boolean given(String option) {
        return spec.commandLine().getParseResult().hasMatchedOption(option);
    }

    /**
     * Saves the run's state unless it is not finite (then the run has diverged and the last good
     * checkpoint stays); a save that fails (a full disk) names the checkpoint that is intact.
     */
    private void saveCheckpoint(Training training, Path curve) {
        Map<String, String> settings = new LinkedHashMap<>();
        if (log != null) {
            settings.put(LOG, log.toAbsolutePath().toString());
        }
        training.save(save, settings, "with scripts/bptt train --resume ", "choose another --save");
        try {
            training.writeLossCurve(curve, "bptt: " + training.dataDescription());
        } catch (java.io.UncheckedIOException e) {
            System.err.println("warning: " + e.getMessage() + "; the checkpoint was saved, training goes on");
        }
    }

    private void report(PrintStream out, Training.Result r, int vocab) {
        if (r.lastStep() > r.firstStep()) {
            out.printf(Locale.ROOT, "done: steps %d..%d in %.1f s (%.0f tokens/s); loss %s -> %s nats (%s bpc), baseline %.4f%n",
                    r.firstStep() + 1, r.lastStep(), r.seconds(), r.tokensPerSecond(), loss(r.firstLoss()),
                    loss(r.lastLoss()), loss(r.lastLoss() / Math.log(2)), Math.log(vocab));
        } else {
            out.printf(Locale.ROOT, "no steps taken (at step %d of %d)%n", r.lastStep(), steps);
        }
        Scores v = r.validation();
        if (v != null) {
            out.printf(Locale.ROOT, "validation: loss %.4f nats, %.3f bits per target over %d targets%n",
                    v.loss(), v.bitsPerTarget(), v.targets());
            if (!Double.isNaN(v.accuracy())) {
                out.printf(Locale.ROOT, "validation accuracy: %.3f%n", v.accuracy());
            }
        }
        out.println((r.interrupted() ? "interrupted; " : "") + "checkpoint: " + save + "  (resume: scripts/bptt train --resume " + save + ")");
    }

    /** A loss with four decimals, or four significant digits when it is huge. */
    private static String loss(double value) {
        return String.format(Locale.ROOT, Math.abs(value) < 1e5 ? "%.4f" : "%.4g", value);
    }
}
