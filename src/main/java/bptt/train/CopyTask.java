// CopyTask: remember k symbols across a delay of blanks, then reproduce them after a go marker.
package bptt.train;

import bptt.rnn.Window;

import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The copy-memory task (Hochreiter & Schmidhuber 1997; Arjovsky et al. 2016), one-hot tokens:
 * symbols are ids 0…A-1, blank is A, the go marker is A+1. A sequence of length T holds k
 * random symbols, then T−2k−1 blanks, the go marker, and k blanks during which the targets are
 * the k symbols in order; no other position is scored. Chance accuracy is 1/A.
 */
public final class CopyTask extends SyntheticTask {
    public static final int DEFAULT_LENGTH = 5;
    public static final int SYMBOLS = 8;

    private final int length;

    public CopyTask(int batch, int seqLen, long seed, int length) {
        super(batch, seqLen, seed);
        if (seqLen < 2 * length + 1) {
            throw new IllegalArgumentException("the copy task needs --seq-len >= " + (2 * length + 1)
                    + " (" + length + " symbols, the go marker, " + length + " recall steps), got " + seqLen);
        }
        this.length = length;
    }

    @Override
    public String description() {
        return String.format(Locale.ROOT, "copy task: %d of %d symbols across a delay of %d blanks (T=%d)",
                length, SYMBOLS, seqLen - 2 * length - 1, seqLen);
    }

    @Override
    public String kind() { return "copy"; }

    @Override
    protected int inputSize() { return SYMBOLS + 2; }

    @Override
    protected boolean tokenInput() { return true; }

    @Override
    protected int classes() { return SYMBOLS + 2; }

    @Override
    public double chanceAccuracy() { return 1.0 / SYMBOLS; }

    @Override
    protected void generate(SplittableRandom random, Window into) {
        int blank = SYMBOLS;
        int go = SYMBOLS + 1;
        int recallStart = seqLen - length;
        for (int b = 0; b < batch; b++) {
            int[] symbols = new int[length];
            for (int i = 0; i < length; i++) {
                symbols[i] = random.nextInt(SYMBOLS);
            }
            for (int t = 0; t < seqLen; t++) {
                int row = t * batch + b;
                into.setToken(row, t < length ? symbols[t] : t == recallStart - 1 ? go : blank);
                into.setTarget(row, t >= recallStart ? symbols[t - recallStart] : -1);
            }
        }
    }
}
