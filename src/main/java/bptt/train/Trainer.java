// Trainer: the truncated-BPTT training loop (data windows, clipping, optimizer, metrics, faults).
package bptt.train;

import bptt.backend.Backend;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Workspace;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * Trains a character model on a corpus. Each step feeds window i of the B streams, takes the
 * mean cross-entropy, back-propagates through the T steps, clips the gradients' global norm and
 * updates the parameters; the hidden state is carried to the next window and reset at the end
 * of an epoch. The loop state (step, epoch, window, hidden state, optimizer) is what a
 * checkpoint saves, so resuming continues bit for bit.
 */
public final class Trainer implements AutoCloseable {
    private final Backend backend;
    private final Corpus corpus;
    private final TrainSettings settings;
    private final RnnConfig config;
    private final Rnn rnn;
    private final Workspace ws;
    private final TokenStreams streams;
    private final Optimizer optimizer;
    private final float[] inputs;
    private final float[] targets;
    private final List<double[]> history = new ArrayList<>();     // {step, train loss}
    private final List<double[]> valHistory = new ArrayList<>();  // {step, validation loss}
    private int step;
    private int epoch;
    private int window;
    private String lastGoodCheckpoint;
    private double lastGradNorm;

    /** What a finished (or stopped) run reports. */
    public record Summary(int firstStep, int lastStep, double firstLoss, double lastLoss, double seconds,
                          double tokensPerSecond, Evaluation.Result validation, boolean interrupted) { }

    public Trainer(Backend backend, Corpus corpus, TrainSettings settings) {
        this.backend = backend;
        this.corpus = corpus;
        this.settings = settings;
        this.config = RnnConfig.charModel(corpus.vocabulary().size(), settings.hidden(), settings.layers());
        this.streams = new TokenStreams(corpus.trainTokens(), settings.batch());
        if (settings.seqLen() > streams.streamLength() - 1) {
            throw new IllegalArgumentException("--seq-len " + settings.seqLen() + " is longer than the data: "
                    + corpus.trainTokens().length + " training tokens in " + settings.batch() + " streams give "
                    + (streams.streamLength() - 1) + " steps per stream; lower --seq-len or --batch, or use more text");
        }
        this.rnn = new Rnn(backend, config);
        this.ws = rnn.workspace(settings.batch(), settings.seqLen());
        this.optimizer = new Optimizer(backend, settings.optimizer(), settings.lr(), (int) rnn.layout().total());
        this.inputs = new float[settings.batch() * settings.seqLen()];
        this.targets = new float[settings.batch() * settings.seqLen()];
        rnn.initialize(settings.seed());
        ws.resetState();
    }

    public Rnn rnn() { return rnn; }

    public Workspace workspace() { return ws; }

    public Optimizer optimizer() { return optimizer; }

    public Corpus corpus() { return corpus; }

    public TrainSettings settings() { return settings; }

    public int step() { return step; }

    public int epoch() { return epoch; }

    public int window() { return window; }

    public List<double[]> history() { return history; }

    public List<double[]> validationHistory() { return valHistory; }

    /** Restores the loop position (the caller restores weights, optimizer state and hidden state). */
    public void restorePosition(int step, int epoch, int window) {
        if (window < 0 || window >= streams.windows(settings.seqLen())) {
            throw new IllegalArgumentException("checkpoint data position window " + window
                    + " does not fit this data and --batch/--seq-len (" + streams.windows(settings.seqLen()) + " windows)");
        }
        this.step = step;
        this.epoch = epoch;
        this.window = window;
        optimizer.setSteps(step);
    }

    public void setLastGoodCheckpoint(String path) { this.lastGoodCheckpoint = path; }

    /** One optimizer step on the next window; returns the window's mean loss. */
    public double trainStep() {
        if (window == 0) {
            ws.resetState();
        }
        streams.fill(window, settings.seqLen(), inputs, targets);
        ws.setInputs(inputs);
        ws.setTargets(targets);
        double loss = ws.forward();
        int next = step + 1;
        if (!Double.isFinite(loss)) {
            throw diverged(next, "the loss is " + loss);
        }
        ws.backward();
        double norm = Math.sqrt(backend.sumOfSquares(rnn.grads()));
        if (!Double.isFinite(norm)) {
            throw diverged(next, "the gradient norm is " + norm);
        }
        float scale = settings.clip() > 0 && norm > settings.clip() ? (float) (settings.clip() / norm) : 1f;
        optimizer.step(rnn.params(), rnn.grads(), scale);
        step = next;
        window++;
        if (window == streams.windows(settings.seqLen())) {
            window = 0;
            epoch++;
        } else {
            ws.carryState();
        }
        history.add(new double[]{step, loss});
        lastGradNorm = norm;
        return loss;
    }

    /** Global gradient norm of the last step, before clipping. */
    public double lastGradNorm() { return lastGradNorm; }

    private TrainingDivergedException diverged(int atStep, String what) {
        return new TrainingDivergedException("training diverged at step " + atStep + ": " + what
                + (lastGoodCheckpoint != null ? "; the last good checkpoint " + lastGoodCheckpoint + " is intact"
                : "; no checkpoint was saved (use --save and --save-every)")
                + ". Try a lower --lr or a --clip such as 5.");
    }

    /** Validation loss over the held-out tail, with the training hidden state kept aside. */
    public Evaluation.Result validate() {
        if (corpus.validationTokens().length / settings.batch() < 2) {
            return null;
        }
        float[][] kept = new float[config.layers()][];
        for (int l = 0; l < config.layers(); l++) {
            kept[l] = backend.download(ws.initialState(l));
        }
        Evaluation.Result result = Evaluation.evaluate(ws, corpus.validationTokens());
        for (int l = 0; l < config.layers(); l++) {
            backend.upload(kept[l], ws.initialState(l));
        }
        valHistory.add(new double[]{step, result.loss()});
        return result;
    }

    /**
     * Runs until {@code settings.steps()} or until stop is requested; calls {@code checkpoint}
     * every --save-every steps and at the end.
     */
    public Summary run(PrintStream out, MetricsLog log, BooleanSupplier stopRequested, Runnable checkpoint) {
        int first = step;
        int tokensPerStep = settings.batch() * settings.seqLen();
        double firstLoss = Double.NaN;
        double loss = Double.NaN;
        long started = System.nanoTime();
        boolean interrupted = false;
        Evaluation.Result val = null;
        try (Progress progress = new Progress(out, step, settings.steps(), Progress.isTerminal())) {
            while (step < settings.steps()) {
                if (stopRequested.getAsBoolean()) {
                    interrupted = true;
                    break;
                }
                loss = trainStep();
                if (Double.isNaN(firstLoss)) {
                    firstLoss = loss;
                }
                double seconds = (System.nanoTime() - started) / 1e9;
                double tokensPerSecond = (step - first) * (double) tokensPerStep / seconds;
                progress.update(step, loss, tokensPerSecond);
                Map<String, Object> record = new LinkedHashMap<>();
                record.put("step", step);
                record.put("epoch", epoch);
                record.put("loss", loss);
                record.put("bpc", loss / Math.log(2));
                record.put("grad_norm", lastGradNorm);
                record.put("tokens_per_s", tokensPerSecond);
                record.put("elapsed_s", seconds);
                if (settings.evalEvery() > 0 && step % settings.evalEvery() == 0 && step < settings.steps()) {
                    val = validate();
                    if (val != null) {
                        record.put("val_loss", val.loss());
                        record.put("val_bpc", val.bpc());
                        progress.println(String.format(Locale.ROOT, "step %d: validation loss %.4f (%.3f bpc)",
                                step, val.loss(), val.bpc()));
                    }
                }
                log.write(record);
                if (settings.sampleEvery() > 0 && step % settings.sampleEvery() == 0) {
                    String text = Sampler.sample(rnn, corpus.vocabulary(), "", 200, 0.8, settings.seed() + step);
                    progress.println("---- sample at step " + step + " ----\n" + text + "\n----");
                }
                if (settings.saveEvery() > 0 && step % settings.saveEvery() == 0 && step < settings.steps()) {
                    checkpoint.run();
                }
            }
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        if (!interrupted && step > first || settings.steps() == 0) {
            val = validate();
            if (val != null) {
                Map<String, Object> record = new LinkedHashMap<>();
                record.put("step", step);
                record.put("val_loss", val.loss());
                record.put("val_bpc", val.bpc());
                log.write(record);
            }
        }
        checkpoint.run();
        return new Summary(first, step, firstLoss, loss, seconds, (step - first) * (double) tokensPerStep / seconds,
                val, interrupted);
    }

    @Override
    public void close() {
        optimizer.close();
        ws.close();
        rnn.close();
    }
}
