// Training: a resumable training run of a model on a dataset (truncated BPTT, clipping, optimizer, validation, checkpoints).
package bptt.api;

import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.train.LineChart;
import bptt.train.LossCurve;
import bptt.train.MemoryEstimate;
import bptt.train.MetricsLog;
import bptt.train.Optimizer;
import bptt.train.SyntheticTask;
import bptt.train.TrainSettings;
import bptt.train.Trainer;
import bptt.train.TrainingState;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * One training run: the model, its optimizer state, the data position and the hidden state
 * carried between windows. {@link #save} writes all of it, and {@link #resume} continues from
 * such a file bit for bit. {@link Model#fit} is {@link #start} then {@link #run()}.
 *
 * <p>Each step feeds the next window, takes the mean loss over its targets, back-propagates
 * through the window's T steps, clips the gradients' global norm and updates the weights. A NaN
 * or infinite loss or gradient stops the run with a {@link DivergedException}.
 */
public final class Training implements AutoCloseable {
    private final Model model;
    private final Dataset data;
    private final TrainOptions options;
    private final Trainer trainer;

    /**
     * What a run did.
     *
     * @param firstStep       the step count it started from
     * @param lastStep        the step count it reached
     * @param firstLoss       the loss of its first step (NaN if none)
     * @param lastLoss        the loss of its last step (NaN if none)
     * @param seconds         wall time
     * @param tokensPerSecond window positions trained per second
     * @param validation      the final score on the held-out data, or null
     * @param interrupted     true when the stop hook ended it early
     */
    public record Result(int firstStep, int lastStep, double firstLoss, double lastLoss, double seconds,
                         double tokensPerSecond, Scores validation, boolean interrupted) { }

    /**
     * What a run reports to and asks of its caller.
     *
     * @param progress  where progress and validation lines go (a bar when it is System.out on a
     *                  terminal), or null for none
     * @param log       a file for metrics, one JSON object per step, or null
     * @param appendLog whether to append to the log instead of replacing it
     * @param stop      asked before every step; true ends the run (interrupted) after saving
     * @param save      called every {@link TrainOptions#saveEvery} steps and at the end, or null
     */
    public record Hooks(PrintStream progress, Path log, boolean appendLog, BooleanSupplier stop, Runnable save) {
        /** @return no output, no log, never stopped, no saves */
        public static Hooks quiet() { return new Hooks(null, null, false, () -> false, null); }
    }

    private Training(Model model, Dataset data, TrainOptions options) {
        RnnConfig config = model.rnn().config();
        ModelSpec shape = data.shape();
        Engine.requireShape(config, shape.config().withSizes(config.hidden(), config.layers()).withCell(config.cell()), data);
        if (shape.vocabulary() != null && model.spec().vocabulary() != null
                && !shape.vocabulary().equals(model.spec().vocabulary())) {
            throw new IllegalArgumentException("the model was made for another vocabulary than this text's; train a new"
                    + " model (ModelSpec.text of the data's characters)");
        }
        int steps = options.windowFor(data);
        TrainSettings settings = new TrainSettings(config.hidden(), config.layers(), options.batch(), steps,
                options.steps(), options.learningRate(), Optimizer.parseKind(options.optimizer()), options.clip(),
                options.seed(), heldOutFraction(data), options.saveEvery(), options.sampleEvery(), options.evalEvery(),
                config.cell());
        this.model = model;
        this.data = data;
        this.options = options;
        this.trainer = new Trainer(model.rnn(), Engine.forTrainer(data, config, model.vocabulary(), options.batch(), steps),
                settings, Schedule.parse(options.checkpointEvery()));
    }

    /** The fraction of the data held out, as the run's settings record it. */
    private static double heldOutFraction(Dataset data) {
        return data instanceof TextData text ? text.heldOutFraction()
                : data instanceof Sequences sequences ? sequences.heldOutFraction() : 0;
    }

    /**
     * A run from the model's current weights and a fresh optimizer, at step 0.
     *
     * @param model   the model (not closed by the run)
     * @param data    the training data
     * @param options how to train
     * @return the run; close it when done
     */
    public static Training start(Model model, Dataset data, TrainOptions options) {
        return Failures.call(() -> new Training(model, data, options));
    }

    /**
     * Continues the run {@code saved} holds: its weights, optimizer state, step, data position,
     * hidden state and loss history. The data and the options' batch, window and optimizer must be
     * the run's.
     *
     * @param model   a model of the checkpoint's shape
     * @param data    the run's training data
     * @param options how to go on (steps may be raised)
     * @param saved   a checkpoint of {@link #save}
     * @return the run at the saved step
     */
    public static Training resume(Model model, Dataset data, TrainOptions options, SavedModel saved) {
        return Failures.call(() -> {
            Training training = new Training(model, data, options);
            try {
                TrainingState.resume(training.trainer, saved.checkpoint);
            } catch (RuntimeException e) {
                training.close();
                throw e;
            }
            training.trainer.setLastGoodCheckpoint(saved.file().toString(), training.trainer.step());
            return training;
        });
    }

    /**
     * One optimizer step on the next window.
     *
     * @return the window's mean loss
     * @throws DivergedException when the loss or gradients are not finite
     */
    public double trainStep() { return Failures.call(trainer::trainStep); }

    /** @return {@link #run(Hooks)} with {@link Hooks#quiet()} */
    public Result run() { return run(Hooks.quiet()); }

    /**
     * Trains until {@link TrainOptions#steps} (or until the stop hook says so), validating every
     * {@link TrainOptions#evalEvery} steps and at the end, and calling the save hook every
     * {@link TrainOptions#saveEvery} steps and at the end.
     *
     * @param hooks where to report and when to stop and save
     * @return what the run did
     * @throws DivergedException when the loss or gradients stop being finite
     */
    public Result run(Hooks hooks) {
        return Failures.call(() -> {
            PrintStream out = hooks.progress() != null ? hooks.progress() : new PrintStream(OutputStream.nullOutputStream());
            try (MetricsLog log = new MetricsLog(hooks.log(), hooks.appendLog())) {
                Trainer.Summary s = trainer.run(out, log, hooks.stop(), hooks.save() != null ? hooks.save() : () -> { });
                return new Result(s.firstStep(), s.lastStep(), s.firstLoss(), s.lastLoss(), s.seconds(), s.tokensPerSecond(),
                        Scores.of(s.validation()), s.interrupted());
            }
        });
    }

    /**
     * Scores the model on the data's held-out part (the carried hidden state is kept aside).
     *
     * @return the score, or null when the data holds nothing out
     */
    public Scores validate() { return Failures.call(() -> Scores.of(trainer.validate())); }

    /** @return optimizer steps taken so far (a resumed run counts from its checkpoint) */
    public int step() { return trainer.step(); }

    /** @return passes over the data completed so far */
    public int epoch() { return trainer.epoch(); }

    /** @return T, the steps per window */
    public int window() { return trainer.settings().seqLen(); }

    /** @return k when activations are checkpointed every k steps, 0 when every step is kept */
    public int checkpointEvery() { return trainer.workspace().checkpointEvery(); }

    /** @return the training loss of every step so far, as {step, loss} */
    public List<double[]> history() { return trainer.history(); }

    /** @return the last checkpoint known good (saved by this run, or resumed from), or null */
    public String lastGoodCheckpoint() { return trainer.lastGoodCheckpoint(); }

    /**
     * One line on the data: a text's file and sizes, a task's description and chance accuracy,
     * or the dataset's own description.
     *
     * @return the line
     */
    public String dataDescription() {
        bptt.train.Dataset engine = trainer.data();
        return engine instanceof SyntheticTask task ? String.format(Locale.ROOT, "%s; chance accuracy %.3f",
                task.description(), task.chanceAccuracy()) : data.description();
    }

    /**
     * Saves the whole run (weights with PyTorch's names, optimizer state, data position, hidden
     * state, loss history and settings) atomically, so that {@link #resume} continues it. Refuses
     * a state that is not finite or whose weights could overflow float32: the run has diverged and
     * the previous checkpoint is kept.
     *
     * @param file     the .safetensors file
     * @param settings more settings to record beside the run's own (e.g. where the data came from)
     * @throws DivergedException when the state is not finite
     * @throws BpttException     when the file cannot be written (the message names the checkpoint still intact)
     */
    public void save(Path file, Map<String, String> settings) {
        save(file, settings, "from it with Training.resume: ", "save elsewhere");
    }

    /**
     * {@link #save(Path, Map)}, with the words a failed save uses to say how to go on: a command
     * line names its own flags.
     *
     * @param file       the .safetensors file
     * @param settings   more settings to record beside the run's own
     * @param resumeWith how to continue from the intact checkpoint, followed by its path in the
     *                   message (e.g. "with mytool --resume ")
     * @param elsewhere  how to save somewhere else (e.g. "choose another --out")
     * @throws DivergedException when the state is not finite
     * @throws BpttException     when the file cannot be written
     */
    public void save(Path file, Map<String, String> settings, String resumeWith, String elsewhere) {
        Failures.run(() -> {
            Map<String, String> all = new LinkedHashMap<>();
            all.put("checkpoint_every", options.checkpointEvery());
            all.putAll(settings);
            TrainingState.save(trainer, file, all, resumeWith, elsewhere);
        });
    }

    /**
     * Draws the training loss of every step and the validation losses as an SVG picture.
     *
     * @param file  the .svg file, written atomically
     * @param title the picture's title
     */
    public void writeLossCurve(Path file, String title) {
        LossCurve.write(file, title, model.spec().regression() ? "mean squared error" : "loss (nats)", trainer);
    }

    /**
     * For a model of real values per step trained on a {@link Sequences} series: the model's
     * predictions of the first target column against the truth over the held-out part (else the
     * last 1000 steps trained on), as an SVG picture.
     *
     * @param file  the .svg file, written atomically
     * @param title the picture's title
     * @return false (and nothing written) when the model or the data has no such picture
     */
    public boolean writeForecast(Path file, String title) {
        if (!model.spec().regression() || model.spec().perSequence() || !(data instanceof Sequences all)
                || !all.isSeries()) {
            return false;
        }
        Sequences shown = all.heldOut() instanceof Sequences held ? held : all.tail(1000);
        float[] truth = shown.viewTargets();
        float[][] predicted = model.predict(shown)[0];
        int width = model.spec().outputSize();
        List<LineChart.Point> truthLine = new ArrayList<>();
        List<LineChart.Point> predictedLine = new ArrayList<>();
        for (int t = 0; t < predicted.length; t++) {
            if (!Float.isNaN(truth[t * width])) {
                truthLine.add(new LineChart.Point(t, truth[t * width]));
                predictedLine.add(new LineChart.Point(t, predicted[t][0]));
            }
        }
        LineChart.write(file, "forecast picture", LineChart.svg(title, "step of the " + (shown == all ? "last steps trained on"
                : "held-out part"), "target " + all.targetName(0), List.of(
                new LineChart.Line("truth", "truth", "#333333", false, false, truthLine),
                new LineChart.Line("prediction", "prediction", "#d62728", true, false, predictedLine))));
        return true;
    }

    /**
     * The memory a run of {@code spec} with {@code options} on {@code data} needs (parameters,
     * gradients, optimizer state, activations, a checkpoint's host copies while it saves, a
     * text's token ids) held against what {@code device} offers, before anything is allocated;
     * with a null device, against the limits every backend shares.
     *
     * @param spec    the model
     * @param options how it will train
     * @param data    the data (for the window length)
     * @param device  where it will run, or null
     * @return the estimate: parameters and bytes on the device
     * @throws IllegalArgumentException when it does not fit, naming the largest hidden size,
     *                                  layers, batch or window that would
     */
    public static MemoryNeed requireMemory(ModelSpec spec, TrainOptions options, Dataset data, Device device) {
        Optimizer.Kind kind = Optimizer.parseKind(options.optimizer());
        MemoryEstimate.Target target = target(device);
        Function<MemoryEstimate.Sizes, MemoryEstimate> estimate = estimator(spec, options, data, target);
        MemoryEstimate.Sizes sizes = new MemoryEstimate.Sizes(spec.hidden(), spec.layers(), options.batch(),
                options.windowFor(data));
        MemoryEstimate.requireFits(sizes, estimate, kind, device == null ? "any backend" : device.name(),
                device == null ? Long.MAX_VALUE : device.backend.availableBytes(), target.maxTensorFloats(),
                device == null ? Long.MAX_VALUE : MemoryEstimate.heapAvailable());
        MemoryEstimate e = estimate.apply(sizes);
        return new MemoryNeed(e.parameters(), e.backendBytes(), MemoryEstimate.size(e.backendBytes()));
    }

    /**
     * What a run of {@code spec} with {@code options} on {@code data} would allocate on
     * {@code device}, item by item, without allocating it (and without requiring the data to
     * be long enough for a window: only its shape matters).
     *
     * @param spec    the model
     * @param options how it would train
     * @param data    the data
     * @param device  where it would run, or null for the limits every backend shares
     * @return the plan
     */
    public static MemoryPlan plan(ModelSpec spec, TrainOptions options, Dataset data, Device device) {
        int window = options.windowFor(data);
        return Failures.call(() -> {
            if (data instanceof TaskData task) {
                task.create(options.batch(), window);   // the task's own limits on the window
            }
            return MemoryPlan.of(estimator(spec, options, data, target(device)).apply(new MemoryEstimate.Sizes(
                    spec.hidden(), spec.layers(), options.batch(), window)));
        });
    }

    /**
     * The longest window (T) whose {@link #plan} totals at most {@code budget} bytes with the
     * other settings unchanged.
     *
     * @param spec    the model
     * @param options how it would train
     * @param data    the data
     * @param device  where it would run, or null
     * @param budget  bytes of device tensors, host staging and Java heap together
     * @return that T, or 0 when not even T = 1 fits
     */
    public static int largestWindow(ModelSpec spec, TrainOptions options, Dataset data, Device device, long budget) {
        Function<MemoryEstimate.Sizes, MemoryEstimate> estimate = estimator(spec, options, data,
                target(device));
        return MemoryEstimate.largestSeqLen(t -> estimate.apply(new MemoryEstimate.Sizes(spec.hidden(), spec.layers(),
                options.batch(), t)), budget, longestWindow(options.batch()));
    }

    /**
     * @param batch B
     * @return the longest window a run of that batch takes: B·T rows at most 2^30
     */
    public static int longestWindow(int batch) { return Math.max(1, (Integer.MAX_VALUE / 2) / Math.max(1, batch)); }

    private static MemoryEstimate.Target target(Device device) {
        return device == null ? MemoryEstimate.Target.ANY : MemoryEstimate.Target.of(device.backend);
    }

    /** A run's estimate at other sizes: the model, optimizer and workspace, a checkpoint's host copies, a text's token ids. */
    private static Function<MemoryEstimate.Sizes, MemoryEstimate> estimator(ModelSpec spec,
            TrainOptions options, Dataset data, MemoryEstimate.Target target) {
        RnnConfig config = spec.config();
        Schedule schedule = Schedule.parse(options.checkpointEvery());
        Optimizer.Kind kind = Optimizer.parseKind(options.optimizer());
        long dataTokens = data instanceof TextData text
                ? (long) text.corpus().trainTokens().length + text.corpus().validationTokens().length : 0;
        return z -> {
            MemoryEstimate e = MemoryEstimate.of(config.withSizes(z.hidden(), z.layers()), z.batch(), z.seqLen(), schedule,
                    kind, target).withCheckpoints();
            return dataTokens == 0 ? e : e.withHeap("training data: the corpus's token ids", dataTokens * Integer.BYTES,
                    "int[]");
        };
    }

    /**
     * What a run needs.
     *
     * @param parameters  weights and biases
     * @param deviceBytes bytes of tensors on the device
     * @param size        deviceBytes as text, e.g. "12.5 MiB"
     */
    public record MemoryNeed(long parameters, long deviceBytes, String size) { }

    /** Frees the run's optimizer state and activations (the model stays). */
    @Override
    public void close() { trainer.close(); }
}
