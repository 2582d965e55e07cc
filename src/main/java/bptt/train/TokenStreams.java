// TokenStreams: PyTorch word-language-model batching: B contiguous streams, windows of T steps.
package bptt.train;

import bptt.rnn.Window;

/**
 * The token stream is cut to a multiple of B and split into B contiguous streams: stream b holds
 * tokens [b·N/B, (b+1)·N/B). Window i feeds positions [i·T, i·T+T) of every stream as inputs and
 * the next positions as targets, exactly as {@code batchify} and {@code get_batch} do in PyTorch's
 * word_language_model example. The last window of an epoch may be shorter; its missing steps get
 * target -1 (ignored by the loss), so every window keeps the (T·B) shape.
 */
public final class TokenStreams {
    private final int[] tokens;
    private final int batch;
    private final int streamLength;

    public TokenStreams(int[] tokens, int batch) {
        if (batch <= 0) {
            throw new IllegalArgumentException("--batch must be positive, got " + batch);
        }
        this.tokens = tokens;
        this.batch = batch;
        this.streamLength = tokens.length / batch;
        if (streamLength < 2) {
            throw new IllegalArgumentException(tokens.length + " tokens make streams of " + streamLength
                    + " for --batch " + batch + "; need at least 2 per stream: use a smaller --batch or more data");
        }
    }

    public int batch() { return batch; }

    /** N/B: tokens in each stream. */
    public int streamLength() { return streamLength; }

    /** Windows in one epoch: ceil((N/B − 1) / T). */
    public int windows(int seqLen) {
        return (streamLength - 1 + seqLen - 1) / seqLen;
    }

    private int stepsIn(int window, int seqLen) {
        return Math.min(seqLen, streamLength - 1 - window * seqLen);
    }

    /**
     * Writes window i time-major (row t·B + b) into a window of T·B rows; steps beyond the end
     * of the streams get input 0 and target -1.
     */
    public void fill(int window, int seqLen, Window into) {
        if (window < 0 || window >= windows(seqLen)) {
            throw new IllegalArgumentException("window " + window + " outside [0," + windows(seqLen) + ")");
        }
        int steps = stepsIn(window, seqLen);
        for (int t = 0; t < seqLen; t++) {
            int pos = window * seqLen + t;
            for (int b = 0; b < batch; b++) {
                int row = t * batch + b;
                if (t < steps) {
                    int base = b * streamLength;
                    into.setToken(row, tokens[base + pos]);
                    into.setTarget(row, tokens[base + pos + 1]);
                } else {
                    into.setToken(row, 0);
                    into.setTarget(row, -1);
                }
            }
        }
    }
}
