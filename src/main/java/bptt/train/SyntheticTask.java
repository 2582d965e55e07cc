// SyntheticTask: long-range benchmarks generated from a seed (copy memory, adding problem).
package bptt.train;

import bptt.rnn.RnnConfig;
import bptt.rnn.Window;
import bptt.rnn.Workspace;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A task draws B independent sequences of length T per window from a random stream seeded by
 * (seed, epoch, window), so any T works and resuming is exact. Targets other than -1 are the
 * scored positions; the hidden state is reset for every window.
 */
public abstract class SyntheticTask implements Dataset {
    /** Windows in one "epoch" of a task; only the position counter uses it. */
    public static final int WINDOWS_PER_EPOCH = 1000;
    /** Held-out windows scored by {@link #validate}, drawn from a seed no training window uses. */
    public static final int VALIDATION_WINDOWS = 4;

    protected final int batch;
    protected final int seqLen;
    protected final long seed;

    protected SyntheticTask(int batch, int seqLen, long seed) {
        if (batch <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("--batch and --seq-len must be positive");
        }
        this.batch = batch;
        this.seqLen = seqLen;
        this.seed = seed;
    }

    /** Builds the named task: copy or adding. */
    public static SyntheticTask create(String name, int batch, int seqLen, long seed) {
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "copy" -> new CopyTask(batch, seqLen, seed, CopyTask.DEFAULT_LENGTH);
            case "adding" -> new AddingTask(batch, seqLen, seed);
            default -> throw new IllegalArgumentException("unknown task '" + name + "'; choose text, copy or adding");
        };
    }

    @Override
    public int batch() { return batch; }

    @Override
    public int seqLen() { return seqLen; }

    @Override
    public int windowsPerEpoch() { return WINDOWS_PER_EPOCH; }

    @Override
    public boolean carriesState() { return false; }

    @Override
    public Vocabulary vocabulary() { return null; }

    @Override
    public void fill(int epoch, int window, Window into) {
        generate(new SplittableRandom(seed * 1_000_003L + (long) epoch * WINDOWS_PER_EPOCH + window), into);
    }

    /** Writes B sequences, time-major; positions without a target get -1. */
    protected abstract void generate(SplittableRandom random, Window into);

    /** The chance-level accuracy of the task's metric. */
    public abstract double chanceAccuracy();

    /** Scores {@link #VALIDATION_WINDOWS} held-out windows: loss and accuracy of the argmax predictions. */
    @Override
    public Evaluation.Result validate(Workspace ws) {
        Window window = ws.window();
        double lossSum = 0;
        long scored = 0;
        long correct = 0;
        SplittableRandom held = new SplittableRandom(~seed);
        for (int w = 0; w < VALIDATION_WINDOWS; w++) {
            generate(held.split(), window);
            ws.resetState();
            correct += ws.correctPredictions();
            scored += window.targetCount();
            ws.resetState();
            lossSum += ws.forward() * ws.targetCount();
        }
        return new Evaluation.Result(lossSum / scored, scored, (double) correct / scored);
    }

    @Override
    public RnnConfig model(int hidden, int layers) {
        return new RnnConfig(inputSize(), tokenInput(), hidden, layers, classes());
    }

    protected abstract int inputSize();

    protected abstract boolean tokenInput();

    protected abstract int classes();
}
