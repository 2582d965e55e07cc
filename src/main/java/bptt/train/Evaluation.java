// Evaluation: mean cross-entropy of a model over a whole token sequence, and bits per character.
package bptt.train;

import bptt.rnn.Window;
import bptt.rnn.Workspace;

/** Loss over all targets of a token sequence, batched like training, state carried across windows. */
public final class Evaluation {
    private Evaluation() { }

    /**
     * Mean loss (nats, or the mean squared error of a regression output), the number of targets it
     * averages, the argmax accuracy (NaN if not measured) and, for a regression output, the mean
     * absolute error (NaN otherwise).
     */
    public record Result(double loss, long tokens, double accuracy, double mae) {
        public Result(double loss, long tokens, double accuracy) {
            this(loss, tokens, accuracy, Double.NaN);
        }

        public Result(double loss, long tokens) {
            this(loss, tokens, Double.NaN);
        }

        public double bpc() { return loss / Math.log(2); }

        /** True for a regression output's score: loss is the MSE, and {@link #mae} is measured. */
        public boolean regression() { return !Double.isNaN(mae); }
    }

    /**
     * Scores every character after the first: the N − 1 targets of N tokens, split into
     * min(B, N − 1) contiguous streams of nearly equal length that share their boundary token
     * (stream s predicts positions (start_s, end_s], start_s = s·(N−1)/B, so each target is
     * scored exactly once). Each stream starts from a zero state, which is carried across its
     * windows; steps past a stream's end have no target. Resets the workspace's hidden state
     * first; leaves it holding the final state. {@code ws.batch()} must not exceed N − 1.
     */
    public static Result evaluate(Workspace ws, int[] tokens) {
        int streams = ws.batch();
        long scored = tokens.length - 1L;
        if (scored < streams) {
            throw new IllegalArgumentException(tokens.length + " tokens give " + scored + " targets, fewer than the "
                    + streams + " streams asked for");
        }
        int[] start = new int[streams + 1];
        for (int s = 0; s <= streams; s++) {
            start[s] = (int) (s * scored / streams);
        }
        int longest = 0;
        for (int s = 0; s < streams; s++) {
            longest = Math.max(longest, start[s + 1] - start[s]);
        }
        int seqLen = ws.seqLen();
        Window window = ws.window();
        double sum = 0;
        long count = 0;
        ws.resetState();
        for (int w = 0; w * (long) seqLen < longest; w++) {
            for (int t = 0; t < seqLen; t++) {
                int pos = w * seqLen + t;
                for (int s = 0; s < streams; s++) {
                    int row = t * streams + s;  // time-major
                    boolean inside = pos < start[s + 1] - start[s];
                    window.setToken(row, inside ? tokens[start[s] + pos] : 0);
                    window.setTarget(row, inside ? tokens[start[s] + pos + 1] : -1);
                }
            }
            double loss = ws.forward();
            sum += loss * ws.targetCount();
            count += ws.targetCount();
            ws.carryState();
        }
        return new Result(sum / count, count);
    }
}
