// Schedule: how a Workspace trades memory for time (checkpoint interval k, output chunk S).
package bptt.rnn;

/**
 * @param checkpointEvery k: keep the hidden state only every k steps and recompute each
 *                        segment in the backward sweep; 0 keeps every step (full storage)
 * @param outputChunk     S: steps whose logits are materialised at once (S·B·V floats); the
 *                        weight-gradient GEMMs also run once per chunk of S·B rows. 0 = auto.
 */
public record Schedule(int checkpointEvery, int outputChunk) {
    /** Logits buffer budget for automatic chunking: 4 Mi floats (16 MiB). */
    public static final long AUTO_LOGIT_FLOATS = 1L << 22;

    public Schedule {
        if (checkpointEvery < 0) {
            throw new IllegalArgumentException("--checkpoint-every must be auto, 0 or a positive K, got " + checkpointEvery);
        }
        if (outputChunk < 0) {
            throw new IllegalArgumentException("output chunk must be >= 0, got " + outputChunk);
        }
    }

    /** Full storage, automatic output chunk. */
    public static Schedule full() { return new Schedule(0, 0); }

    /** Checkpoint every ≈ √T steps: activation memory O((T/k + k)·B·H·L). */
    public static Schedule sqrt(int seqLen) {
        return new Schedule(Math.max(1, (int) Math.round(Math.sqrt(seqLen))), 0);
    }

    /** Parses auto | K | 0 as given to --checkpoint-every. */
    public static Schedule parse(String checkpointEvery, int seqLen) {
        if ("auto".equalsIgnoreCase(checkpointEvery)) {
            return sqrt(seqLen);
        }
        try {
            return new Schedule(Integer.parseInt(checkpointEvery.trim()), 0);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--checkpoint-every must be auto, 0 or a positive K, got '" + checkpointEvery + "'");
        }
    }

    /** Steps per segment: k, or T with full storage (or when k ≥ T). */
    public int segmentSteps(int seqLen) {
        return checkpointEvery == 0 ? seqLen : Math.min(checkpointEvery, seqLen);
    }

    /**
     * Steps per output chunk: the given S, or the largest that fits the logits budget. With
     * checkpointing it is a divisor of k, so chunks never straddle segments: chunk boundaries
     * are then the multiples of S in both modes, which keeps the order of every accumulation,
     * and so the bits, the same as full storage with the same S.
     */
    public int chunkSteps(int seqLen, int batch, int vocab) {
        return chunkSteps(seqLen, segmentSteps(seqLen), batch, vocab);
    }

    /** The same for segments of {@code seg} steps (full storage split to fit a backend's tensors). */
    public int chunkSteps(int seqLen, int seg, int batch, int vocab) {
        int limit = outputChunk > 0 ? Math.min(outputChunk, seg)
                : (int) Math.max(1, Math.min(seg, AUTO_LOGIT_FLOATS / ((long) batch * vocab)));
        if (seg == seqLen) {
            return limit;
        }
        for (int s = limit; s > 1; s--) {
            if (seg % s == 0) {
                return s;
            }
        }
        return 1;
    }
}
