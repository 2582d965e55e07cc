// Trainer: the truncated-BPTT training loop (data windows, clipping, optimizer, metrics, faults).
package bptt.train;

import bptt.backend.Backend;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.Workspace;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Trains a model on a {@link Dataset}. Each step feeds the next (T·B) window, takes the mean
 * cross-entropy, back-propagates through the T steps, clips the gradients' global norm and
 * updates the parameters; for text the hidden state is carried to the next window and reset at
 * the end of an epoch, for synthetic tasks it is reset every window. The loop state (step, epoch, window, hidden state, optimizer) is what a
 * checkpoint saves, so resuming continues bit for bit.
 */
public final class Trainer implements AutoCloseable {
    private final Backend backend;
    private final Dataset data;
    private final TrainSettings settings;
    private final RnnConfig config;
    private final Rnn rnn;
    private final boolean ownsRnn;
    private final Workspace ws;
    private final Optimizer optimizer;
    private final TrainingStep stepper;
    private final List<double[]> history = new ArrayList<>();     // {step, train loss}
    private final List<double[]> valHistory = new ArrayList<>();  // {step, validation loss}
    /** A loss this many times the uniform baseline ln V is reported as divergence while still finite. */
    static final double HUGE_LOSS_FACTOR = 10;
    private int step;
    private int epoch;
    private int window;
    private String lastGoodCheckpoint;
    private int lastGoodStep;
    private double lastGradNorm;

    /** What a finished (or stopped) run reports. */
    public record Summary(int firstStep, int lastStep, double firstLoss, double lastLoss, double seconds,
                          double tokensPerSecond, Evaluation.Result validation, boolean interrupted) { }

    public Trainer(Backend backend, Corpus corpus, TrainSettings settings) {
        this(backend, new TextDataset(corpus, settings.batch(), settings.seqLen()), settings, Schedule.full());
    }

    public Trainer(Backend backend, Corpus corpus, TrainSettings settings, Schedule schedule) {
        this(backend, new TextDataset(corpus, settings.batch(), settings.seqLen()), settings, schedule);
    }

    /**
     * A trainer of a new model (initialised from the settings' seed, closed with the trainer)
     * whose BPTT keeps activations as the schedule says (--checkpoint-every).
     */
    public Trainer(Backend backend, Dataset data, TrainSettings settings, Schedule schedule) {
        this(new Rnn(backend, data.model(settings.hidden(), settings.layers()).withCell(settings.cell())), true, data,
                settings, schedule);
        rnn.initialize(settings.seed());
    }

    /**
     * A trainer of an existing model, which it leaves open: the data must be for this model
     * ({@link Dataset#model}), and the settings' hidden size, layers and cell its own.
     */
    public Trainer(Rnn rnn, Dataset data, TrainSettings settings, Schedule schedule) {
        this(rnn, false, data, settings, schedule);
    }

    private Trainer(Rnn rnn, boolean ownsRnn, Dataset data, TrainSettings settings, Schedule schedule) {
        RnnConfig model = rnn.config();
        try {
            if (data.batch() != settings.batch() || data.seqLen() != settings.seqLen()) {
                throw new IllegalArgumentException("dataset windows (" + data.batch() + "," + data.seqLen()
                        + ") differ from --batch " + settings.batch() + " --seq-len " + settings.seqLen());
            }
            RnnConfig needed = data.model(model.hidden(), model.layers()).withCell(model.cell());
            if (!needed.equals(model) || settings.hidden() != model.hidden() || settings.layers() != model.layers()
                    || settings.cell() != model.cell()) {
                throw new IllegalArgumentException("the data (" + data.description() + ") needs a model of "
                        + shape(needed) + ", but this model is one of " + shape(model));
            }
            this.backend = rnn.backend();
            this.data = data;
            this.settings = settings;
            this.config = model;
            this.rnn = rnn;
            this.ownsRnn = ownsRnn;
            this.ws = rnn.workspace(settings.batch(), settings.seqLen(), schedule);
        } catch (RuntimeException | Error e) {
            if (ownsRnn) {
                rnn.close();
            }
            throw e;
        }
        this.optimizer = new Optimizer(backend, settings.optimizer(), settings.lr(), (int) rnn.layout().total());
        this.stepper = new TrainingStep(backend, rnn, ws, optimizer, settings.clip());
        ws.resetState();
    }

    /** "dense input of 3, 2 values per step (lstm, 1 × 64)". */
    static String shape(RnnConfig c) {
        return (c.tokenInput() ? "tokens of " + c.inputSize() : "dense input of " + c.inputSize()) + ", "
                + c.outputSize() + switch (c.output()) {
                    case CLASSES -> " classes per step";
                    case SEQUENCE_CLASS -> " classes per sequence";
                    case VALUES -> " values per step";
                    case SEQUENCE_VALUES -> " values per sequence";
                } + " (" + c.cell().option() + ", " + c.layers() + " × " + c.hidden() + ")";
    }

    public Rnn rnn() { return rnn; }

    public Workspace workspace() { return ws; }

    public Optimizer optimizer() { return optimizer; }

    public Dataset data() { return data; }

    public TrainSettings settings() { return settings; }

    public int step() { return step; }

    public int epoch() { return epoch; }

    public int window() { return window; }

    public List<double[]> history() { return history; }

    public List<double[]> validationHistory() { return valHistory; }

    /** Restores the loop position (the caller restores weights, optimizer state and hidden state). */
    public void restorePosition(int step, int epoch, int window) {
        if (window < 0 || window >= data.windowsPerEpoch()) {
            throw new IllegalArgumentException("checkpoint data position window " + window
                    + " does not fit this data and --batch/--seq-len (" + data.windowsPerEpoch() + " windows)");
        }
        this.step = step;
        this.epoch = epoch;
        this.window = window;
        optimizer.setSteps(step);
    }

    /** Records that {@code path} holds this run's state at {@code atStep}, verified finite: what a failure names. */
    public void setLastGoodCheckpoint(String path, int atStep) {
        this.lastGoodCheckpoint = path;
        this.lastGoodStep = atStep;
    }

    /** The last checkpoint known good (saved by this run, or resumed from), or null. */
    public String lastGoodCheckpoint() { return lastGoodCheckpoint; }

    /** The step the last good checkpoint holds. */
    public int lastGoodStep() { return lastGoodStep; }

    /** One optimizer step on the next window; returns the window's mean loss. */
    public double trainStep() {
        if (window == 0 || !data.carriesState()) {
            ws.resetState();
        }
        data.fill(epoch, window, ws.window());
        TrainingStep.Result r = stepper.run();
        double loss = r.loss();
        double norm = r.gradNorm();
        int next = step + 1;
        if (!Double.isFinite(loss)) {
            throw diverged(next, "the loss is " + loss);
        }
        if (!r.applied()) {
            throw diverged(next, "the gradient norm is " + norm);
        }
        step = next;
        window++;
        if (window == data.windowsPerEpoch()) {
            window = 0;
            epoch++;
        } else if (data.carriesState()) {
            ws.carryState();
        }
        history.add(new double[]{step, loss});
        lastGradNorm = norm;
        return loss;
    }

    /**
     * The state carried into the next window, [L, B, H] of h followed, for LSTM, by [L, B, H] of
     * c: what a checkpoint keeps as {@code state.h} and {@code state.c}.
     */
    public float[] carriedState() {
        int n = settings.batch() * config.hidden();
        int layers = config.layers();
        boolean lstm = config.cell().hasCellState();
        float[] state = new float[(lstm ? 2 : 1) * layers * n];
        for (int l = 0; l < layers; l++) {
            System.arraycopy(backend.download(ws.initialState(l)), 0, state, l * n, n);
            if (lstm) {
                System.arraycopy(backend.download(ws.initialCellState(l)), 0, state, (layers + l) * n, n);
            }
        }
        return state;
    }

    /** Restores what {@link #carriedState} returned. */
    public void restoreCarriedState(float[] state) {
        int n = settings.batch() * config.hidden();
        int layers = config.layers();
        for (int l = 0; l < layers; l++) {
            backend.upload(java.util.Arrays.copyOfRange(state, l * n, (l + 1) * n), ws.initialState(l));
            if (config.cell().hasCellState()) {
                backend.upload(java.util.Arrays.copyOfRange(state, (layers + l) * n, (layers + l + 1) * n),
                        ws.initialCellState(l));
            }
        }
    }

    /** Global gradient norm of the last step, before clipping. */
    public double lastGradNorm() { return lastGradNorm; }

    /** The failure of a run that went non-finite at {@code atStep}, naming the checkpoint that is still good. */
    public TrainingDivergedException diverged(int atStep, String what) {
        return new TrainingDivergedException("training diverged at step " + atStep + ": " + what
                + (lastGoodCheckpoint != null ? "; the last good checkpoint " + lastGoodCheckpoint + " (step "
                + lastGoodStep + ") is intact" : "; no checkpoint was saved (use --save-every N to save more often)")
                + ". Try a lower --lr or a --clip such as 5.");
    }

    /** The held-out score, with the training hidden state kept aside; null when there is no held-out data. */
    public Evaluation.Result validate() {
        float[] kept = carriedState();
        Evaluation.Result result = data.validate(ws);
        restoreCarriedState(kept);
        if (result != null) {
            valHistory.add(new double[]{step, result.loss()});
        }
        return result;
    }

    /**
     * Runs until {@code settings.steps()} or until stop is requested; calls {@code checkpoint}
     * every --save-every steps and at the end. A progress bar is drawn only when {@code out} is
     * System.out on a terminal; otherwise a plain line per interval goes to {@code out}.
     */
    public Summary run(PrintStream out, MetricsLog log, BooleanSupplier stopRequested, Runnable checkpoint) {
        int first = step;
        int tokensPerStep = settings.batch() * settings.seqLen();
        double firstLoss = Double.NaN;
        double loss = Double.NaN;
        long started = System.nanoTime();
        boolean interrupted = false;
        Evaluation.Result val = null;
        boolean warnedHugeLoss = false;
        try (Progress progress = new Progress(out, step, settings.steps(), out == System.out && Progress.isTerminal())) {
            while (step < settings.steps()) {
                if (stopRequested.getAsBoolean()) {
                    interrupted = true;
                    break;
                }
                loss = trainStep();
                if (Double.isNaN(firstLoss)) {
                    firstLoss = loss;
                }
                if (!warnedHugeLoss && !config.output().regression() && loss > HUGE_LOSS_FACTOR * Math.log(config.outputSize())) {
                    warnedHugeLoss = true;
                    progress.println(String.format(Locale.ROOT, "warning: loss %.4g at step %d is far above the uniform"
                            + " baseline ln %d = %.4f: training is diverging; try a lower --lr (or --clip 5)",
                            loss, step, config.outputSize(), Math.log(config.outputSize())));
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                double tokensPerSecond = (step - first) * (double) tokensPerStep / seconds;
                progress.update(step, loss, tokensPerSecond);
                Map<String, Object> record = new LinkedHashMap<>();
                record.put("step", step);
                record.put("epoch", epoch);
                record.put("loss", loss);
                if (!config.output().regression()) {
                    record.put("bpc", loss / Math.log(2));
                }
                record.put("grad_norm", lastGradNorm);
                record.put("tokens_per_s", tokensPerSecond);
                record.put("elapsed_s", seconds);
                if (settings.evalEvery() > 0 && step % settings.evalEvery() == 0 && step < settings.steps()) {
                    val = validate();
                    if (val != null) {
                        putValidation(record, val);
                        progress.println("step " + step + ": " + validationLine(val));
                    }
                }
                log.write(record);
                if (settings.sampleEvery() > 0 && step % settings.sampleEvery() == 0 && data.vocabulary() != null) {
                    String text = Sampler.sample(rnn, data.vocabulary(), "", 200, 0.8, settings.seed() + step);
                    progress.println("---- sample at step " + step + " ----\n" + text + "\n----");
                }
                if (settings.saveEvery() > 0 && step % settings.saveEvery() == 0 && step < settings.steps()) {
                    checkpoint.run();
                }
            }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        if (!interrupted) {
            val = validate();
            if (val != null) {
                Map<String, Object> record = new LinkedHashMap<>();
                record.put("step", step);
                putValidation(record, val);
                log.write(record);
            }
        }
        checkpoint.run();
        return new Summary(first, step, firstLoss, loss, seconds, (step - first) * (double) tokensPerStep / seconds,
                val, interrupted);
    }

    /** The validation metrics of a log record: val_loss, and val_bpc or val_mae, and val_accuracy when measured. */
    private static void putValidation(Map<String, Object> record, Evaluation.Result val) {
        record.put("val_loss", val.loss());
        if (val.regression()) {
            record.put("val_mae", val.mae());
        } else {
            record.put("val_bpc", val.bpc());
        }
        if (!Double.isNaN(val.accuracy())) {
            record.put("val_accuracy", val.accuracy());
        }
    }

    /** "validation loss 1.2345 (1.781 bpc), accuracy 0.512", or "validation MSE 0.0123, MAE 0.0871". */
    public static String validationLine(Evaluation.Result val) {
        return val.regression() ? String.format(Locale.ROOT, "validation MSE %.6g, MAE %.6g", val.loss(), val.mae())
                : String.format(Locale.ROOT, "validation loss %.4f (%.3f bpc)%s", val.loss(), val.bpc(),
                Double.isNaN(val.accuracy()) ? "" : String.format(Locale.ROOT, ", accuracy %.3f", val.accuracy()));
    }

    @Override
    public void close() {
        stepper.close();
        optimizer.close();
        ws.close();
        if (ownsRnn) {
            rnn.close();
        }
    }
}
