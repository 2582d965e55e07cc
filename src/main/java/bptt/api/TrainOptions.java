// TrainOptions: how to train (steps, windows, optimizer, clipping, seed, activation checkpointing), as an immutable value.
package bptt.api;

import bptt.rnn.Schedule;
import bptt.train.Optimizer;

/**
 * Training settings, built by chaining from {@link #defaults()}: 300 steps of Adam at learning
 * rate 0.003 on windows of 32 sequences × 64 steps (or the data's own length), gradients clipped
 * to global norm 5, seed 1, every activation kept, validation every 100 steps.
 *
 * <pre>{@code
 * TrainOptions.defaults().steps(500).batch(16).adam(0.01f).clip(1)
 * }</pre>
 *
 * Each step feeds the next window, takes the mean loss over its targets, back-propagates through
 * its T steps, clips and updates (truncated BPTT: data whose windows continue their sequences
 * carry the hidden state on).
 */
public final class TrainOptions {
    static final int DEFAULT_STEPS = 64;

    private final int steps;
    private final int batch;
    private final int windowSteps;
    private final String optimizer;
    private final float learningRate;
    private final float clip;
    private final long seed;
    private final String checkpointEvery;
    private final int evalEvery;
    private final int saveEvery;
    private final int sampleEvery;

    private TrainOptions(int steps, int batch, int windowSteps, String optimizer, float learningRate, float clip,
                         long seed, String checkpointEvery, int evalEvery, int saveEvery, int sampleEvery) {
        if (steps < 0) {
            throw new IllegalArgumentException("steps must be >= 0, got " + steps);
        }
        if (batch <= 0) {
            throw new IllegalArgumentException("the batch must be positive, got " + batch);
        }
        if (windowSteps < 0) {
            throw new IllegalArgumentException("the window length must be positive (or 0 for the data's own), got " + windowSteps);
        }
        Optimizer.parseKind(optimizer);
        if (!(learningRate > 0) || Float.isInfinite(learningRate)) {
            throw new IllegalArgumentException("the learning rate must be a positive number, got " + learningRate);
        }
        if (!(clip >= 0) || Float.isInfinite(clip)) {
            throw new IllegalArgumentException("clip must be >= 0 (0 turns clipping off), got " + clip);
        }
        Schedule.parse(checkpointEvery);
        if (evalEvery < 0 || saveEvery < 0 || sampleEvery < 0) {
            throw new IllegalArgumentException("eval, save and sample intervals must be >= 0");
        }
        this.steps = steps;
        this.batch = batch;
        this.windowSteps = windowSteps;
        this.optimizer = optimizer;
        this.learningRate = learningRate;
        this.clip = clip;
        this.seed = seed;
        this.checkpointEvery = checkpointEvery;
        this.evalEvery = evalEvery;
        this.saveEvery = saveEvery;
        this.sampleEvery = sampleEvery;
    }

    /** @return the defaults described above */
    public static TrainOptions defaults() {
        return new TrainOptions(300, 32, 0, "adam", 0.003f, 5f, 1, "0", 100, 500, 0);
    }

    /**
     * @param count optimizer steps in total (a resumed run continues up to this count)
     * @return these options with that count
     */
    public TrainOptions steps(int count) {
        return new TrainOptions(count, batch, windowSteps, optimizer, learningRate, clip, seed, checkpointEvery,
                evalEvery, saveEvery, sampleEvery);
    }

    /**
     * @param sequences B, sequences (or streams) per window
     * @return these options with that batch
     */
    public TrainOptions batch(int sequences) {
        return new TrainOptions(steps, sequences, windowSteps, optimizer, learningRate, clip, seed, checkpointEvery,
                evalEvery, saveEvery, sampleEvery);
    }

    /**
     * @param length T, steps per window (truncated-BPTT length); 0 takes the data's own
     *               length, or 64 when windows may have any length
     * @return these options with that window length
     */
    public TrainOptions window(int length) {
        return new TrainOptions(steps, batch, length, optimizer, learningRate, clip, seed, checkpointEvery,
                evalEvery, saveEvery, sampleEvery);
    }

    /**
     * @param name sgd, adam (PyTorch's rule and defaults) or adagrad
     * @param rate the learning rate
     * @return these options with that optimizer
     */
    public TrainOptions optimizer(String name, float rate) {
        return new TrainOptions(steps, batch, windowSteps, name, rate, clip, seed, checkpointEvery, evalEvery,
                saveEvery, sampleEvery);
    }

    /**
     * @param rate the learning rate
     * @return these options with Adam at that rate
     */
    public TrainOptions adam(float rate) { return optimizer("adam", rate); }

    /**
     * @param rate the learning rate
     * @return these options with plain SGD at that rate
     */
    public TrainOptions sgd(float rate) { return optimizer("sgd", rate); }

    /**
     * @param maxNorm clip the gradients' global norm to this; 0 turns clipping off
     * @return these options with that clipping
     */
    public TrainOptions clip(float maxNorm) {
        return new TrainOptions(steps, batch, windowSteps, optimizer, learningRate, maxNorm, seed, checkpointEvery,
                evalEvery, saveEvery, sampleEvery);
    }

    /**
     * @param value seeds text sampling during training (the model's initialisation has its own seed)
     * @return these options with that seed
     */
    public TrainOptions seed(long value) {
        return new TrainOptions(steps, batch, windowSteps, optimizer, learningRate, clip, value, checkpointEvery,
                evalEvery, saveEvery, sampleEvery);
    }

    /**
     * Checkpointed BPTT for long windows: keep the hidden states only every k steps and recompute
     * the rest in the backward pass (memory O(T/k + k) instead of O(T), one more forward pass).
     *
     * @param k "auto" (about √T), a positive K, or "0" to keep every step (the default)
     * @return these options with that schedule
     */
    public TrainOptions checkpointEvery(String k) {
        return new TrainOptions(steps, batch, windowSteps, optimizer, learningRate, clip, seed, k, evalEvery,
                saveEvery, sampleEvery);
    }

    /**
     * @param interval steps between validation passes on the data's held-out part; 0 only at the end
     * @return these options with that interval
     */
    public TrainOptions evalEvery(int interval) {
        return new TrainOptions(steps, batch, windowSteps, optimizer, learningRate, clip, seed, checkpointEvery,
                interval, saveEvery, sampleEvery);
    }

    /**
     * @param interval steps between calls of the save hook of {@link Training#run(Training.Hooks)}; 0 only at the end
     * @return these options with that interval
     */
    public TrainOptions saveEvery(int interval) {
        return new TrainOptions(steps, batch, windowSteps, optimizer, learningRate, clip, seed, checkpointEvery,
                evalEvery, interval, sampleEvery);
    }

    /**
     * @param interval steps between text samples printed while a text model trains; 0 never
     * @return these options with that interval
     */
    public TrainOptions sampleEvery(int interval) {
        return new TrainOptions(steps, batch, windowSteps, optimizer, learningRate, clip, seed, checkpointEvery,
                evalEvery, saveEvery, interval);
    }

    /** @return optimizer steps in total */
    public int steps() { return steps; }

    /** @return B */
    public int batch() { return batch; }

    /** @return T as given (0: the data's own, or 64) */
    public int window() { return windowSteps; }

    /** @return sgd, adam or adagrad */
    public String optimizer() { return optimizer; }

    /** @return the learning rate */
    public float learningRate() { return learningRate; }

    /** @return the clipping norm (0: off) */
    public float clip() { return clip; }

    /** @return the seed */
    public long seed() { return seed; }

    /** @return auto, K or 0 */
    public String checkpointEvery() { return checkpointEvery; }

    /** @return steps between validation passes */
    public int evalEvery() { return evalEvery; }

    /** @return steps between saves */
    public int saveEvery() { return saveEvery; }

    /** @return steps between samples */
    public int sampleEvery() { return sampleEvery; }

    /** T for windows of {@code data}: the given length, else the data's own, else 64. */
    int windowFor(Dataset data) {
        return windowSteps > 0 ? windowSteps : data.steps() > 0 ? data.steps() : DEFAULT_STEPS;
    }
}
