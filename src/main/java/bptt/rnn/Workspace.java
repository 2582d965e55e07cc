// Workspace: forward and backward through time over (B, T) windows, written once against Backend.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.tensor.Tensor;

/**
 * BPTT for a stacked tanh RNN with the cuDNN-style schedule (Appleyard et al. 2016):
 * the input projection of all T steps is one GEMM (or one gather for tokens); each step does
 * only the recurrent GEMM and one fused bias+tanh; the output layer and softmax cross-entropy
 * run once over all T·B rows; after the backward sweep each weight gradient is ONE GEMM over
 * all T·B rows. Rows are time-major: row t·B + b is sequence b at step t.
 *
 * <pre>
 *   pre_t = x_t·Waxᵀ + a_{t-1}·Waaᵀ + ba      a_t = tanh(pre_t)      y_t = a_t·Wyaᵀ + by
 *   da_t  = dy_t·Wya + dpre_{t+1}·Waa         dpre_t = (1 − a_t²) ⊙ da_t
 *   dWaa  = Σ_t dpre_tᵀ·a_{t-1}   dWax = Σ_t dpre_tᵀ·x_t   dWya = Σ_t dy_tᵀ·a_t
 * </pre>
 */
public final class Workspace implements AutoCloseable {
    private final Rnn rnn;
    private final Backend be;
    private final RnnConfig cfg;
    private final int batch;
    private final int seqLen;
    private final int rows;          // T·B
    private final Tensor inputs;     // (T·B, 1) token ids, or (T·B, D) features
    private final Tensor targets;    // (T·B, 1) class ids, -1 = no target
    private final Tensor[] states;   // per layer ((T+1)·B, H): rows [0,B) = h0, rows [(t+1)B, (t+2)B) = a_t
    private final Tensor[] dstates;  // per layer ((T+1)·B, H): dL/da_t, then dL/dpre_t in place; rows [0,B) = dL/dh0
    private final Tensor logits;     // (T·B, V): logits, then dL/dlogits in place
    private final Tensor losses;     // (T·B, 1)
    private final Tensor lossSum;    // (1, 1)
    private int targetCount;

    Workspace(Rnn rnn, int batch, int seqLen) {
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
        this.rows = batch * seqLen;
        int h = cfg.hidden();
        this.inputs = be.alloc(rows, cfg.tokenInput() ? 1 : cfg.inputSize());
        this.targets = be.alloc(rows, 1);
        this.states = new Tensor[cfg.layers()];
        this.dstates = new Tensor[cfg.layers()];
        for (int l = 0; l < cfg.layers(); l++) {
            states[l] = be.alloc(rows + batch, h);
            dstates[l] = be.alloc(rows + batch, h);
        }
        this.logits = be.alloc(rows, cfg.outputSize());
        this.losses = be.alloc(rows, 1);
        this.lossSum = be.alloc(1, 1);
    }

    public int batch() { return batch; }

    public int seqLen() { return seqLen; }

    /** (T·B, 1) token ids or (T·B, D) features; row t·B + b. */
    public Tensor inputs() { return inputs; }

    /** (T·B, 1) target class ids; -1 marks a position without a target. */
    public Tensor targets() { return targets; }

    /** Layer l's initial hidden state h0, (B, H). */
    public Tensor initialState(int layer) { return states[layer].rows(0, batch); }

    /** Layer l's hidden state after the last step, (B, H). */
    public Tensor finalState(int layer) { return states[layer].rows(rows, batch); }

    /** Layer l's outputs a_0 … a_{T-1}, (T·B, H). */
    public Tensor outputs(int layer) { return states[layer].rows(batch, rows); }

    /** Layer l's states a_{-1} … a_{T-2} that feed steps 0 … T-1, (T·B, H). */
    public Tensor statesBefore(int layer) { return states[layer].rows(0, rows); }

    /** After {@link #backward}: dL/dh0 of layer l, (B, H). */
    public Tensor initialStateGrad(int layer) { return dstates[layer].rows(0, batch); }

    /** After {@link #backward}: dL/dpre_t of layer l for all steps, (T·B, H). */
    public Tensor preactivationGrads(int layer) { return dstates[layer].rows(batch, rows); }

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
            be.fill(initialState(l), 0f);
        }
    }

    /** Copies each layer's final state into its h0: truncated BPTT carries the state on. */
    public void carryState() {
        for (int l = 0; l < cfg.layers(); l++) {
            be.copy(finalState(l), initialState(l));
        }
    }

    /** Runs the recurrence of every layer over the T steps, leaving a_t in {@link #outputs}. */
    public void forwardStates() {
        for (int l = 0; l < cfg.layers(); l++) {
            Tensor wax = rnn.param(ParameterLayout.wax(l));  // (H, D_l)
            Tensor waa = rnn.param(ParameterLayout.waa(l));  // (H, H)
            Tensor ba = rnn.param(ParameterLayout.ba(l));    // (1, H)
            Tensor projected = outputs(l);                    // (T·B, H): x_t·Waxᵀ for all t
            if (l == 0 && cfg.tokenInput()) {
                be.gatherColumns(inputs, wax, projected);
            } else {
                be.gemm(false, layerInput(l), true, wax, 1f, 0f, projected);
            }
            Tensor s = states[l];
            for (int t = 0; t < seqLen; t++) {
                Tensor pre = s.rows((t + 1) * batch, batch);   // (B, H), holds x_t·Waxᵀ
                be.gemm(false, s.rows(t * batch, batch), true, waa, 1f, 1f, pre);
                be.biasTanh(pre, ba);
            }
        }
    }

    /** Inputs of layer l for all steps: the features, or the previous layer's outputs. */
    private Tensor layerInput(int l) { return l == 0 ? inputs : outputs(l - 1); }

    /**
     * The full forward pass: recurrence, output layer and mean cross-entropy over the targets.
     * Leaves dL/dlogits ready for {@link #backward}. Returns the mean loss in nats.
     */
    public double forward() {
        if (targetCount == 0) {
            throw new IllegalStateException("no targets set: call setTargets first");
        }
        forwardStates();
        Tensor wya = rnn.param("Wya");                        // (V, H)
        be.gemm(false, outputs(cfg.layers() - 1), true, wya, 1f, 0f, logits);
        float meanScale = 1f / targetCount; // the loss is exactly meanScale·Σ losses, so its gradient is consistent
        be.softmaxCrossEntropy(logits, rnn.param("by"), targets, meanScale, logits, losses);
        be.sumRows(losses, 0f, lossSum);
        return be.downloadDoubles(lossSum)[0] * meanScale;
    }

    /** Logits (without the bias by) of the last forward pass, computed from the top layer; (T·B, V). */
    public Tensor computeLogits() {
        be.gemm(false, outputs(cfg.layers() - 1), true, rnn.param("Wya"), 1f, 0f, logits);
        return logits;
    }

    /** Gradients of the last {@link #forward}'s loss into the Rnn's gradient slab (overwritten) and dL/dh0. */
    public void backward() {
        int top = cfg.layers() - 1;
        Tensor dlogits = logits;                              // (T·B, V)
        be.gemm(true, dlogits, false, outputs(top), 1f, 0f, rnn.grad("Wya"));
        be.sumRows(dlogits, 0f, rnn.grad("by"));
        be.gemm(false, dlogits, false, rnn.param("Wya"), 1f, 0f, dstates[top].rows(batch, rows));
        be.fill(initialStateGrad(top), 0f);
        for (int l = top; l >= 0; l--) {
            Tensor waa = rnn.param(ParameterLayout.waa(l));   // (H, H)
            Tensor s = states[l];
            Tensor ds = dstates[l];
            for (int t = seqLen - 1; t >= 0; t--) {
                Tensor dpre = ds.rows((t + 1) * batch, batch); // (B, H): da_t in, dpre_t out
                be.tanhBackward(s.rows((t + 1) * batch, batch), dpre);
                be.gemm(false, dpre, false, waa, 1f, 1f, ds.rows(t * batch, batch));
            }
            Tensor dpreAll = preactivationGrads(l);          // (T·B, H)
            be.gemm(true, dpreAll, false, statesBefore(l), 1f, 0f, rnn.grad(ParameterLayout.waa(l)));
            be.sumRows(dpreAll, 0f, rnn.grad(ParameterLayout.ba(l)));
            Tensor dwax = rnn.grad(ParameterLayout.wax(l));  // (H, D_l)
            if (l == 0 && cfg.tokenInput()) {
                be.fill(dwax, 0f);
                be.scatterAddColumns(inputs, dpreAll, dwax);
            } else {
                be.gemm(true, dpreAll, false, layerInput(l), 1f, 0f, dwax);
            }
            if (l > 0) {
                be.gemm(false, dpreAll, false, rnn.param(ParameterLayout.wax(l)), 1f, 0f, dstates[l - 1].rows(batch, rows));
                be.fill(initialStateGrad(l - 1), 0f);
            }
        }
    }

    @Override
    public void close() {
        be.free(inputs);
        be.free(targets);
        for (int l = 0; l < cfg.layers(); l++) {
            be.free(states[l]);
            be.free(dstates[l]);
        }
        be.free(logits);
        be.free(losses);
        be.free(lossSum);
    }
}
