// AddingTask: two marked numbers in a sequence of T; predict their sum at the end.
package bptt.train;

import bptt.rnn.Window;

import java.util.SplittableRandom;

/**
 * The adding problem (Hochreiter & Schmidhuber 1997), dense input of D = 2 per step: a value
 * uniform in [0, 1) and a marker that is 1 at exactly two steps, one in each half. Only the last
 * step is scored: the sum of the two marked values, predicted as one of 41 classes (0.00, 0.05,
 * …, 2.00: the sum rounded to the nearest 0.05). Accuracy is the fraction of exact classes;
 * always answering 1.00 is right about 5% of the time.
 */
public final class AddingTask extends SyntheticTask {
    public static final int CLASSES = 41;
    public static final double STEP = 0.05;

    public AddingTask(int batch, int seqLen, long seed) {
        super(batch, seqLen, seed);
        if (seqLen < 2) {
            throw new IllegalArgumentException("the adding task needs --seq-len >= 2, got " + seqLen);
        }
    }

    @Override
    public String description() {
        return "adding problem: sum of two marked values in " + seqLen + " steps, as " + CLASSES + " classes of " + STEP;
    }

    @Override
    public String kind() { return "adding"; }

    @Override
    protected int inputSize() { return 2; }

    @Override
    protected boolean tokenInput() { return false; }

    @Override
    protected int classes() { return CLASSES; }

    @Override
    public double chanceAccuracy() { return STEP; }

    /** The class of a sum: its nearest multiple of 0.05. */
    public static int classOf(double sum) { return (int) Math.round(sum / STEP); }

    @Override
    protected void generate(SplittableRandom random, Window into) {
        int half = seqLen / 2;
        for (int b = 0; b < batch; b++) {
            int first = random.nextInt(Math.max(1, half));
            int second = half + random.nextInt(seqLen - half);
            double sum = 0;
            for (int t = 0; t < seqLen; t++) {
                int row = t * batch + b;
                float value = (float) random.nextDouble();
                boolean marked = t == first || t == second;
                into.setInput(row, 0, value);
                into.setInput(row, 1, marked ? 1f : 0f);
                if (marked) {
                    sum += value;
                }
                into.setTarget(row, -1);
            }
            into.setTarget((seqLen - 1) * batch + b, classOf(sum));
        }
    }
}
