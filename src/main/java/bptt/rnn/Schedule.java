// Schedule: how a Workspace trades memory for time (checkpoint interval k, output chunk S).
package bptt.rnn;

/**
 * @param checkpointEvery k: keep the hidden state only every k steps and recompute each
 *                        segment in the backward sweep; 0 keeps every step (full storage);
 *                        {@link #AUTO} picks a multiple of S near √T
 * @param outputChunk     S: steps whose logits and weight-gradient GEMMs run at once (S·B rows);
 *                        0 = automatic, the same in every storage mode (see {@link #plan})
 */
public record Schedule(int checkpointEvery, int outputChunk) {
    /** Logits buffer budget: 4 Mi floats (16 MiB). All T steps' logits are kept when they fit in it. */
    public static final long AUTO_LOGIT_FLOATS = 1L << 22;
    /** checkpointEvery value for "auto": about √T, a multiple of S. */
    public static final int AUTO = -1;

    public Schedule {
        if (checkpointEvery < AUTO) {
            throw new IllegalArgumentException("--checkpoint-every must be auto, 0 or a positive K, got " + checkpointEvery);
        }
        if (outputChunk < 0) {
            throw new IllegalArgumentException("output chunk must be >= 0, got " + outputChunk);
        }
    }

    /** Full storage, automatic output chunk. */
    public static Schedule full() { return new Schedule(0, 0); }

    /** Checkpoint every ≈ √T steps (a multiple of S): activation memory O((T/k + k)·B·H·L). */
    public static Schedule auto() { return new Schedule(AUTO, 0); }

    /** Parses auto | K | 0 as given to --checkpoint-every. */
    public static Schedule parse(String checkpointEvery) {
        if ("auto".equalsIgnoreCase(checkpointEvery.trim())) {
            return auto();
        }
        try {
            int k = Integer.parseInt(checkpointEvery.trim());
            if (k < 0) {
                throw new NumberFormatException();
            }
            return new Schedule(k, 0);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--checkpoint-every must be auto, 0 or a positive K, got '" + checkpointEvery + "'");
        }
    }

    /**
     * What a Workspace of T steps runs.
     *
     * @param resident     every segment's states stay (full storage), none is recomputed
     * @param segmentSteps steps per segment: k when checkpointed; T with full storage, or a
     *                     multiple of S when T steps exceed one tensor of the backend
     * @param chunkSteps   S, steps per output chunk; chunks are the multiples of S, also cut at
     *                     segment boundaries (which only happens for a K that is not a multiple of S)
     * @param logitSteps   steps the logits buffer holds: with full storage T when all fit the
     *                     budget (then the forward pass's dL/dlogits serve the backward pass),
     *                     else S (the backward pass recomputes each chunk's, the same values)
     */
    public record Plan(boolean resident, int segmentSteps, int chunkSteps, int logitSteps) { }

    /**
     * The plan for windows of T steps of B rows with V output classes, where one tensor holds
     * at most {@code maxStateSteps} steps of states and {@code maxLogitSteps} steps of logits.
     * S depends only on T, B, V and those limits, never on the storage mode: S = min(T, round(√T),
     * the logits budget, the tensor limits), or the given outputChunk. Chunks are the multiples of
     * S in every mode, so full storage, checkpointing with k a multiple of S (auto always is) and
     * full storage split across tensors run the same GEMMs on the same rows in the same order:
     * their gradients are bitwise equal on a deterministic backend.
     */
    public Plan plan(int seqLen, int batch, int vocab, int maxStateSteps, int maxLogitSteps) {
        int budgetSteps = (int) Math.max(1, Math.min(seqLen, AUTO_LOGIT_FLOATS / ((long) batch * vocab)));
        int s = outputChunk > 0 ? Math.min(outputChunk, seqLen)
                : Math.min(budgetSteps, (int) Math.max(1, Math.round(Math.sqrt(seqLen))));
        s = Math.max(1, Math.min(s, Math.min(maxStateSteps, maxLogitSteps)));
        if (checkpointEvery == 0) {
            int seg = seqLen <= maxStateSteps ? seqLen : maxStateSteps / s * s;
            return new Plan(true, seg, s, seqLen <= budgetSteps && seqLen <= maxLogitSteps ? seqLen : s);
        }
        int k = checkpointEvery == AUTO
                ? s * (int) Math.max(1, Math.round(Math.sqrt(seqLen) / s))
                : checkpointEvery;
        if (checkpointEvery == AUTO && k > maxStateSteps) {
            k = maxStateSteps / s * s;
        }
        return new Plan(false, Math.min(k, seqLen), s, s);
    }
}
