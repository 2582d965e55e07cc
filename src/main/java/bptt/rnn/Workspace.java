// Workspace: forward and backward through time over (B, T) windows, written once against Backend.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.tensor.Tensor;

/**
 * BPTT for a stacked tanh RNN with the cuDNN-style schedule (Appleyard et al. 2016): the input
 * projection of many steps is one GEMM (or one gather for tokens); each step does only the
 * recurrent GEMM and one fused bias+tanh; the output layer and softmax cross-entropy run over
 * chunks of S steps at once; the weight gradients are one GEMM per chunk (S·B rows), i.e. ONE
 * GEMM over all T·B rows when S = T; the input projection of dense inputs and upper layers runs
 * per chunk too, so every GEMM has the same row count in every mode (BLAS kernels may round a
 * row differently depending on how many rows share the call). Rows are time-major: row t·B + b
 * is sequence b at step t.
 *
 * <pre>
 *   pre_t = x_t·Waxᵀ + a_{t-1}·Waaᵀ + ba      a_t = tanh(pre_t)      y_t = a_t·Wyaᵀ + by
 *   da_t  = dy_t·Wya + dnext_t                 dpre_t = (1 − a_t²) ⊙ da_t     dnext_{t-1} = dpre_t·Waa
 *   dWaa  = Σ_t dpre_tᵀ·a_{t-1}   dWax = Σ_t dpre_tᵀ·x_t   dWya = Σ_t dy_tᵀ·a_t
 * </pre>
 *
 * <p>Checkpointed BPTT (Chen et al. 2016; Gruslys et al. 2016): with {@link Schedule} k > 0 the
 * forward pass keeps each layer's state only at the start of every k-step segment; the backward
 * sweep recomputes one segment at a time, so activation memory is O((T/k + k)·B·H·L) instead of
 * O(T·B·H·L). Both modes run the same operations in the same order on the same values (chunks
 * never straddle segments, dnext is carried in its own buffer), so their gradients are bitwise
 * equal on a deterministic backend. Full storage whose T steps exceed one tensor of the backend
 * ({@link Backend#maxTensorFloats}) keeps its states in several resident segments, the same way.
 */
public final class Workspace implements AutoCloseable {
    private final Rnn rnn;
    private final Backend be;
    private final RnnConfig cfg;
    private final int batch;
    private final int seqLen;
    private final boolean resident;  // full storage: every segment's states stay, none is recomputed
    private final int segSteps;      // k; with full storage T, or less when T steps exceed one tensor
    private final int segments;      // ceil(T / k)
    private final int chunkSteps;    // S
    private final Tensor inputs;     // (T·B, 1) token ids, or (T·B, D) features
    private final Tensor targets;    // (T·B, 1) class ids, -1 = no target
    private final Tensor[] h0;       // per layer (B, H): state entering step 0
    private final Tensor[] hT;       // per layer (B, H): state after step T-1
    private final Tensor[] dnext;    // per layer (B, H): dL/da flowing back into the previous step; dL/dh0 at the end
    private final Tensor[] boundaries; // per layer ((segments-1)·B, H): block s-1 = state entering segment s
    private final Tensor[][] states; // [layer][segment, or 0 when recomputed] ((len+1)·B, H): block 0 = state entering the segment, block i+1 = a at its step i
    private final Tensor[] dstates;  // per layer (k·B, H): da, then dpre in place, for the segment's steps
    private final Tensor[][][] stateAt; // [layer][buffer][i] = block i of that states buffer, (B, H): made once, so no step allocates
    private final Tensor[][] dstateAt; // [layer][i] = dstates block i, (B, H)
    private final Tensor logits;     // (S·B, V): logits, then dL/dlogits in place
    private final Tensor losses;     // (S·B, 1)
    private final Tensor lossSum;    // (1, 1)
    private int targetCount;
    private int bufferedSegment = -1;  // checkpointed: the segment whose states are in the one buffer
    private boolean dlogitsKept;       // one segment, one chunk: forward's dlogits serve the backward pass

    Workspace(Rnn rnn, int batch, int seqLen, Schedule schedule) {
        if (batch <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("batch and sequence length must be positive, got B=" + batch + " T=" + seqLen);
        }
        if ((long) batch * seqLen > Integer.MAX_VALUE / 2) {
            throw new IllegalArgumentException("B·T = " + (long) batch * seqLen + " rows is too many for one window");
        }
        this.rnn = rnn;
        this.be = rnn.backend();
        this.cfg = rnn.config();
        this.batch = batch;
        this.seqLen = seqLen;
        int h = cfg.hidden();
        int layers = cfg.layers();
        int maxSteps = (int) Math.min(seqLen, Math.max(1, be.maxTensorFloats() / ((long) batch * h) - 1));
        this.resident = schedule.checkpointEvery() == 0;
        int seg = schedule.segmentSteps(seqLen);
        if (seg > maxSteps) {
            if (!resident) {
                throw new IllegalArgumentException("--checkpoint-every " + seg + ": a segment of " + seg + " steps at B="
                        + batch + ", H=" + h + " exceeds the " + be.maxTensorFloats() + " floats one tensor holds on "
                        + be.name() + "; use --checkpoint-every " + maxSteps + " or less (or auto)");
            }
            int fullChunk = schedule.chunkSteps(seqLen, seqLen, batch, cfg.outputSize());
            seg = maxSteps >= fullChunk ? maxSteps / fullChunk * fullChunk : maxSteps;
        }
        this.segSteps = seg;
        this.segments = (seqLen + segSteps - 1) / segSteps;
        this.chunkSteps = schedule.chunkSteps(seqLen, segSteps, batch, cfg.outputSize());
        this.inputs = be.alloc(seqLen * batch, cfg.tokenInput() ? 1 : cfg.inputSize());
        this.targets = be.alloc(seqLen * batch, 1);
        this.h0 = new Tensor[layers];
        this.hT = new Tensor[layers];
        this.dnext = new Tensor[layers];
        this.boundaries = new Tensor[layers];
        this.states = new Tensor[layers][resident ? segments : 1];
        this.dstates = new Tensor[layers];
        this.stateAt = new Tensor[layers][resident ? segments : 1][];
        this.dstateAt = new Tensor[layers][segSteps];
        for (int l = 0; l < layers; l++) {
            h0[l] = be.alloc(batch, h);
            hT[l] = be.alloc(batch, h);
            dnext[l] = be.alloc(batch, h);
            boundaries[l] = !resident && segments > 1 ? be.alloc((segments - 1) * batch, h) : null;
            for (int b = 0; b < states[l].length; b++) {
                int len = resident ? segmentLength(b) : segSteps;
                states[l][b] = be.alloc((len + 1) * batch, h);
                stateAt[l][b] = new Tensor[len + 1];
                for (int i = 0; i <= len; i++) {
                    stateAt[l][b][i] = states[l][b].rows(i * batch, batch);
                }
            }
            dstates[l] = be.alloc(segSteps * batch, h);
            for (int i = 0; i < segSteps; i++) {
                dstateAt[l][i] = dstates[l].rows(i * batch, batch);
            }
        }
        this.logits = be.alloc(chunkSteps * batch, cfg.outputSize());
        this.losses = be.alloc(chunkSteps * batch, 1);
        this.lossSum = be.alloc(1, 1);
    }

    public int batch() { return batch; }

    public int seqLen() { return seqLen; }

    /** k when segments are recomputed in the backward pass; 0 when every state is kept. */
    public int checkpointEvery() { return resident || segments == 1 ? 0 : segSteps; }

    /** Steps per segment: k when checkpointed, T with full storage (less when T steps exceed one tensor). */
    public int segmentSteps() { return segSteps; }

    /** (T·B, 1) token ids or (T·B, D) features; row t·B + b. */
    public Tensor inputs() { return inputs; }

    /** (T·B, 1) target class ids; -1 marks a position without a target. */
    public Tensor targets() { return targets; }

    /** Layer l's initial hidden state h0, (B, H). */
    public Tensor initialState(int layer) { return h0[layer]; }

    /** Layer l's hidden state after the last step, (B, H). */
    public Tensor finalState(int layer) { return hT[layer]; }

    /** After {@link #backward}: dL/dh0 of layer l, (B, H). */
    public Tensor initialStateGrad(int layer) { return dnext[layer]; }

    /** With full storage, after {@link #backward}: dL/dpre_t of layer l for all steps, (T·B, H). */
    public Tensor preactivationGrads(int layer) {
        requireFullStorage();
        return dstates[layer].rows(0, seqLen * batch);
    }

    /** With full storage, after a forward pass: layer l's outputs a_0 … a_{T-1}, (T·B, H). */
    public Tensor outputs(int layer) {
        requireFullStorage();
        return states[layer][0].rows(batch, seqLen * batch);
    }

    /** With full storage, after a forward pass: layer l's states a_{-1} … a_{T-2} feeding steps 0 … T-1, (T·B, H). */
    public Tensor statesBefore(int layer) {
        requireFullStorage();
        return states[layer][0].rows(0, seqLen * batch);
    }

    private void requireFullStorage() {
        if (segments != 1) {
            throw new IllegalStateException("per-step activations are one tensor only with full storage in one segment");
        }
    }

    public void setInputs(float[] values) { be.upload(values, inputs); }

    /** Uploads targets (T·B values, row t·B + b) and counts those that are not -1. */
    public void setTargets(float[] values) {
        be.upload(values, targets);
        int count = 0;
        for (float v : values) {
            if (v >= 0) {
                count++;
            }
        }
        targetCount = count;
    }

    /** Number of positions with a target in the current window. */
    public int targetCount() { return targetCount; }

    /** Sets every layer's h0 to zero (start of an epoch). */
    public void resetState() {
        for (int l = 0; l < cfg.layers(); l++) {
            be.fill(h0[l], 0f);
        }
    }

    /** Copies each layer's final state into its h0: truncated BPTT carries the state on. */
    public void carryState() {
        for (int l = 0; l < cfg.layers(); l++) {
            be.copy(hT[l], h0[l]);
        }
    }

    private int segmentStart(int s) { return s * segSteps; }

    private int segmentLength(int s) { return Math.min(segSteps, seqLen - s * segSteps); }

    private Tensor enteringState(int layer, int s) {
        if (s == 0) {
            return h0[layer];
        }
        return resident ? stateAt[layer][s - 1][segmentLength(s - 1)] : boundaries[layer].rows((s - 1) * batch, batch);
    }

    /** Which states buffer holds segment s: its own with full storage, the one shared buffer when checkpointed. */
    private int bufferOf(int s) { return resident ? s : 0; }

    /** Layer l's states buffer of segment s, ((len+1)·B, H). */
    private Tensor segmentStates(int l, int s) { return states[l][bufferOf(s)]; }

    /** Runs every layer's recurrence over segment s, leaving its states in {@link #states}. */
    private void runSegment(int s) {
        int start = segmentStart(s);
        int len = segmentLength(s);
        int n = len * batch;
        bufferedSegment = s;
        for (int l = 0; l < cfg.layers(); l++) {
            Tensor wax = rnn.param(ParameterLayout.wax(l));  // (H, D_l)
            Tensor waa = rnn.param(ParameterLayout.waa(l));  // (H, H)
            Tensor ba = rnn.param(ParameterLayout.ba(l));    // (1, H)
            Tensor[] block = stateAt[l][bufferOf(s)];
            be.copy(enteringState(l, s), block[0]);
            if (l == 0 && cfg.tokenInput()) {
                be.gatherColumns(inputs.rows(start * batch, n), wax, segmentStates(l, s).rows(batch, n));
            } else {
                for (int c = 0; c < len; c += chunkSteps) {
                    int cl = Math.min(chunkSteps, len - c);
                    Tensor projected = segmentStates(l, s).rows((c + 1) * batch, cl * batch);  // (cl·B, H): x_t·Waxᵀ
                    be.gemm(false, layerInput(l, start + c, cl), true, wax, 1f, 0f, projected);
                }
            }
            for (int i = 0; i < len; i++) {
                be.tanhStepForward(block[i], waa, ba, block[i + 1]);  // block[i+1] (B, H): x_t·Waxᵀ in, a_t out
            }
        }
    }

    /** Inputs of layer l for `len` steps from `start` (within one segment): the features, or layer l-1's outputs. */
    private Tensor layerInput(int l, int start, int len) {
        int s = start / segSteps;
        return l == 0 ? inputs.rows(start * batch, len * batch)
                : segmentStates(l - 1, s).rows((start - segmentStart(s) + 1) * batch, len * batch);
    }

    /** Keeps the state leaving segment s: the next segment's boundary, or the final state. */
    private void keepLeavingState(int s) {
        for (int l = 0; l < cfg.layers(); l++) {
            Tensor leaving = stateAt[l][bufferOf(s)][segmentLength(s)];
            if (s + 1 == segments) {
                be.copy(leaving, hT[l]);
            } else if (!resident) {
                be.copy(leaving, boundaries[l].rows(s * batch, batch));
            }
        }
    }

    /** Runs the recurrence over all T steps without the output layer (sampling, state warm-up). */
    public void advance() {
        for (int s = 0; s < segments; s++) {
            runSegment(s);
            keepLeavingState(s);
        }
        dlogitsKept = false;
    }

    /**
     * The full forward pass: recurrence, output layer and mean cross-entropy over the targets,
     * chunk by chunk. Returns the mean loss in nats.
     */
    public double forward() {
        if (targetCount == 0) {
            throw new IllegalStateException("no targets set: call setTargets first");
        }
        float meanScale = meanScale();
        be.fill(lossSum, 0f);
        int chunks = 0;
        for (int s = 0; s < segments; s++) {
            runSegment(s);
            for (int c = 0; c < segmentLength(s); c += chunkSteps) {
                Tensor dlogits = outputChunk(s, c, Math.min(chunkSteps, segmentLength(s) - c), meanScale);
                be.sumRows(losses.rows(0, dlogits.rows()), 1f, lossSum);
                chunks++;
            }
            keepLeavingState(s);
        }
        dlogitsKept = chunks == 1;
        return be.downloadDoubles(lossSum)[0] * meanScale;
    }

    /** The loss is exactly meanScale·Σ losses, so its gradient uses the same float factor. */
    private float meanScale() { return 1f / targetCount; }

    /**
     * Logits and softmax cross-entropy for `len` steps from local step c of resident segment s:
     * leaves dL/dlogits (len·B, V) in the logits buffer and the losses in {@link #losses}.
     */
    private Tensor outputChunk(int s, int c, int len, float meanScale) {
        int n = len * batch;
        Tensor top = segmentStates(cfg.layers() - 1, s).rows((c + 1) * batch, n);   // (len·B, H)
        Tensor lg = logits.rows(0, n);                                      // (len·B, V)
        be.gemm(false, top, true, rnn.param("Wya"), 1f, 0f, lg);
        be.softmaxCrossEntropy(lg, rnn.param("by"), targets.rows((segmentStart(s) + c) * batch, n), meanScale,
                lg, losses.rows(0, n));
        return lg;
    }

    /**
     * Runs the recurrence and returns, for every row t·B + b, the class with the largest logit
     * (bias included). Copies each chunk's logits to the host: meant for evaluation, not training.
     */
    public int[] predict() {
        int classes = cfg.outputSize();
        float[] bias = be.download(rnn.param("by"));
        int[] predicted = new int[seqLen * batch];
        for (int s = 0; s < segments; s++) {
            runSegment(s);
            for (int c = 0; c < segmentLength(s); c += chunkSteps) {
                int n = Math.min(chunkSteps, segmentLength(s) - c) * batch;
                Tensor lg = logits.rows(0, n);                                   // (n, V)
                be.gemm(false, segmentStates(cfg.layers() - 1, s).rows((c + 1) * batch, n), true, rnn.param("Wya"), 1f, 0f, lg);
                float[] host = be.download(lg);
                int row0 = (segmentStart(s) + c) * batch;
                for (int r = 0; r < n; r++) {
                    int best = 0;
                    for (int j = 1; j < classes; j++) {
                        if (host[r * classes + j] + bias[j] > host[r * classes + best] + bias[best]) {
                            best = j;
                        }
                    }
                    predicted[row0 + r] = best;
                }
            }
            keepLeavingState(s);
        }
        dlogitsKept = false;
        return predicted;
    }

    /** Logits (without the bias by) after the last step, from the top layer's final state; (B, V). */
    public Tensor lastStepLogits() {
        Tensor lg = logits.rows(0, batch);
        be.gemm(false, hT[cfg.layers() - 1], true, rnn.param("Wya"), 1f, 0f, lg);
        dlogitsKept = false;
        return lg;
    }

    /** Gradients of the last {@link #forward}'s loss into the Rnn's gradient slab (overwritten) and dL/dh0. */
    public void backward() {
        int top = cfg.layers() - 1;
        float meanScale = meanScale();
        be.fill(rnn.grads(), 0f);
        for (int l = 0; l <= top; l++) {
            be.fill(dnext[l], 0f);
        }
        for (int s = segments - 1; s >= 0; s--) {
            if (!resident && bufferedSegment != s) {
                runSegment(s);
            }
            int len = segmentLength(s);
            for (int c = lastChunk(len); c >= 0; c -= chunkSteps) {
                int cl = Math.min(chunkSteps, len - c);
                Tensor dlogits = dlogitsKept ? logits.rows(0, cl * batch) : outputChunk(s, c, cl, meanScale);
                Tensor aTop = segmentStates(top, s).rows((c + 1) * batch, cl * batch);     // (cl·B, H)
                be.gemm(true, dlogits, false, aTop, 1f, 1f, rnn.grad("Wya"));
                be.sumRows(dlogits, 1f, rnn.grad("by"));
                be.gemm(false, dlogits, false, rnn.param("Wya"), 1f, 0f, dstates[top].rows(c * batch, cl * batch));
            }
            for (int l = top; l >= 0; l--) {
                backwardLayer(l, s, len);
            }
        }
        dlogitsKept = false;
    }

    private int lastChunk(int len) { return (len - 1) / chunkSteps * chunkSteps; }

    /** The backward sweep of layer l over resident segment s, then its weight gradients chunk by chunk. */
    private void backwardLayer(int l, int s, int len) {
        Tensor waa = rnn.param(ParameterLayout.waa(l));      // (H, H)
        Tensor st = segmentStates(l, s);
        Tensor[] block = stateAt[l][bufferOf(s)];
        Tensor ds = dstates[l];
        for (int i = len - 1; i >= 0; i--) {
            be.tanhStepBackward(block[i + 1], waa, dstateAt[l][i], dnext[l]);  // (B, H): da_t in, dpre_t out
        }
        int start = segmentStart(s);
        for (int c = lastChunk(len); c >= 0; c -= chunkSteps) {
            int cl = Math.min(chunkSteps, len - c);
            int n = cl * batch;
            Tensor dpre = ds.rows(c * batch, n);              // (cl·B, H)
            be.gemm(true, dpre, false, st.rows(c * batch, n), 1f, 1f, rnn.grad(ParameterLayout.waa(l)));
            be.sumRows(dpre, 1f, rnn.grad(ParameterLayout.ba(l)));
            Tensor dwax = rnn.grad(ParameterLayout.wax(l)); // (H, D_l)
            if (l == 0 && cfg.tokenInput()) {
                be.scatterAddColumns(inputs.rows((start + c) * batch, n), dpre, dwax);
            } else {
                be.gemm(true, dpre, false, layerInput(l, start + c, cl), 1f, 1f, dwax);
            }
            if (l > 0) {
                be.gemm(false, dpre, false, rnn.param(ParameterLayout.wax(l)), 1f, 0f, dstates[l - 1].rows(c * batch, n));
            }
        }
    }

    @Override
    public void close() {
        be.free(inputs);
        be.free(targets);
        for (int l = 0; l < cfg.layers(); l++) {
            be.free(h0[l]);
            be.free(hT[l]);
            be.free(dnext[l]);
            if (boundaries[l] != null) {
                be.free(boundaries[l]);
            }
            for (Tensor buffer : states[l]) {
                be.free(buffer);
            }
            be.free(dstates[l]);
        }
        be.free(logits);
        be.free(losses);
        be.free(lossSum);
    }
}
