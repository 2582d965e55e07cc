// Workspace: forward and backward through time over (B, T) windows, written once against Backend for every cell.
package bptt.rnn;

import bptt.backend.Backend;
import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * BPTT for a stacked RNN of any {@link Cell} with the cuDNN-style schedule (Appleyard et al.
 * 2016): the input projection of many steps is one GEMM (or one gather for tokens); each step
 * does only the recurrent GEMM and one fused pointwise kernel, forward and backward (the cell's
 * step ops); the output layer and softmax cross-entropy run over chunks of S steps at once; the
 * weight gradients are one GEMM per chunk of S·B rows. The input projection of dense inputs and
 * upper layers runs per chunk too, so every GEMM has the same row count in every mode (BLAS
 * kernels may round a row differently depending on how many rows share the call). Rows are
 * time-major: row t·B + b is sequence b at step t.
 *
 * <pre>
 *   gates_t = x_t·W_ihᵀ + h_{t-1}·W_hhᵀ (+ biases, in the cell)   h_t (, c_t) = cell(gates_t, h_{t-1} (, c_{t-1}))
 *   y_t = h_t·Wyaᵀ + by          dh_t = dy_t·Wya + dnext_t       dgates_t, dnext_{t-1} = cell backward
 *   dW_hh = Σ_t dgates_tᵀ·h_{t-1}   dW_ih = Σ_t dgates_tᵀ·x_t   dWya = Σ_t dy_tᵀ·h_t
 * </pre>
 *
 * <p>Per layer and step the cell keeps (B, G·H) gates (for tanh the pre-activation becomes a_t
 * in place), h, c for LSTM and hn for GRU; the backward pass writes the gate gradients over the
 * gates in place (tanh: over dh).
 *
 * <p>Checkpointed BPTT (Chen et al. 2016; Gruslys et al. 2016): with k > 0 the forward pass
 * keeps each layer's state (h, and c) only at the start of every k-step segment; the backward
 * sweep recomputes one segment at a time, so activation memory is O((T/k + k)·B·G·H·L) instead of
 * O(T·B·G·H·L). The output chunk S does not depend on the storage mode ({@link Schedule#plan}),
 * so with k a multiple of S (auto always is) both modes run the same operations in the same
 * order on the same values, and their gradients are bitwise equal on a deterministic backend.
 * Full storage whose T steps exceed one tensor of the backend ({@link Backend#maxTensorFloats})
 * keeps its states in several resident segments of a multiple of S steps, again without a bit
 * of difference.
 *
 * <p>The output ({@link OutputKind}) is classes with softmax cross-entropy or real values with mean
 * squared error, at every step or, per sequence, at the window's last step only: then the output
 * layer runs on B rows once, and dL/dh of the top layer is zero at every other step.
 */
public final class Workspace implements AutoCloseable {
    private final Rnn rnn;
    private final Backend be;
    private final RnnConfig cfg;
    private final Cell cell;
    private final int batch;
    private final int seqLen;
    private final boolean resident;  // full storage: every segment's states stay, none is recomputed
    private final int segSteps;      // k; with full storage T, or less when T steps exceed one tensor
    private final int segments;      // ceil(T / k)
    private final int chunkSteps;    // S
    private final int[][] chunkStarts; // [segment]: local starts of its chunks, then its length
    private final boolean keepAllLogits; // the logits buffer holds every step: forward's dlogits serve backward
    private final OutputKind output;
    private final int targetRows;    // T·B, or B for a per-sequence output
    private final Window window;     // the whole window on the host: T·B ids or feature rows, and the target rows
    private final Tensor inputs;     // (k·B, 1) token ids, or (k·B, D) features, of the segment in loadedInputs
    private final Tensor targets;    // (k·B, 1) class ids (−1 = no target) or (k·B, D_out) values, of the segment in loadedTargets; (B, ·) per sequence
    private final Tensor mask;       // regression: (k·B or B, 1), 1 where the row has a target, else 0; null for classes
    private final Tensor[] h0;       // per layer (B, H): state entering step 0
    private final Tensor[] hT;       // per layer (B, H): state after step T-1
    private final Tensor[] c0;       // per layer (B, H), LSTM: cell state entering step 0
    private final Tensor[] cT;       // per layer (B, H), LSTM: cell state after step T-1
    private final Tensor[] dnext;    // per layer (B, H): dL/dh flowing back into the previous step; dL/dh0 at the end
    private final Tensor[] dc;       // per layer (B, H), LSTM: dL/dc flowing back; dL/dc0 at the end
    private final Tensor[] hh;       // per layer (B, 3H), GRU: h_{t-1}·W_hhᵀ of the current step
    private final Tensor[] boundaries;  // per layer ((segments-1)·B, H): block s-1 = h entering segment s
    private final Tensor[] cBoundaries; // the same for c (LSTM)
    private final Tensor[][] states;  // [layer][segment, or 0 when recomputed] ((len+1)·B, H): block 0 = h entering the segment, block i+1 = h at its step i
    private final Tensor[][] cStates; // the same for c (LSTM)
    private final Tensor[][] gates;   // [layer][buffer] (len·B, G·H): gates per step (tanh: a view of states' blocks 1..len)
    private final Tensor[][] hns;     // [layer][buffer] (len·B, H), GRU: hn = h·W_hnᵀ + b_hn per step
    private final Tensor[] dh;        // per layer (k·B, H): dL/dh from above for the segment's steps (tanh: then dpre in place)
    private final Tensor[] dgatesHh;  // per layer (k·B, 3H), GRU: the recurrent side's gate gradients
    private final Cell.Step[][][] steps; // [layer][buffer][i]: the views of local step i, made once, so no step allocates
    private final Cell.Weights[] weights; // per layer
    private final Tensor logits;     // (T·B or S·B, V): logits, then dL/dlogits in place
    private final Tensor losses;     // (same rows, 1)
    private final Tensor lossSum;    // (1, 1)
    private int loadedInputs = -1;     // the segment whose inputs are on the device, or -1
    private int loadedTargets = -1;    // the segment whose targets are on the device, or -1
    private int bufferedSegment = -1;  // checkpointed: the segment whose states are in the one buffer
    private boolean forwarded;         // forward ran since the last backward: gates hold activations, dlogits kept

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
        this.cell = cfg.cell();
        this.batch = batch;
        this.seqLen = seqLen;
        int h = cfg.hidden();
        int gh = cfg.gateWidth();
        int layers = cfg.layers();
        long maxFloats = be.maxTensorFloats();
        int maxStateSteps = maxStateSteps(cfg, batch, seqLen, maxFloats);
        requireFits(maxStateSteps, maxLogitSteps(cfg, batch, seqLen, maxFloats), maxFloats);
        Schedule.Plan plan = plan(cfg, batch, seqLen, schedule, maxFloats);
        if (plan.segmentSteps() > maxStateSteps) {
            throw new IllegalArgumentException("--checkpoint-every " + plan.segmentSteps() + ": a segment of "
                    + plan.segmentSteps() + " steps at B=" + batch + ", H=" + h + " (" + cell.option() + ") exceeds the "
                    + maxFloats + " floats one tensor holds on " + be.name() + "; use --checkpoint-every " + maxStateSteps
                    + " or less (or auto)");
        }
        this.resident = plan.resident();
        this.segSteps = plan.segmentSteps();
        this.segments = (seqLen + segSteps - 1) / segSteps;
        this.chunkSteps = plan.chunkSteps();
        this.output = cfg.output();
        this.keepAllLogits = plan.logitSteps() == seqLen;
        this.chunkStarts = new int[segments][];
        for (int s = 0; s < segments; s++) {
            chunkStarts[s] = chunkStartsOf(s);
        }
        this.targetRows = cfg.targetRows(batch, seqLen);
        this.window = new Window(be, cfg, batch, seqLen, segSteps * batch);
        this.inputs = be.alloc(segSteps * batch, cfg.tokenInput() ? 1 : cfg.inputSize());
        int deviceTargetRows = output.perSequence() ? batch : segSteps * batch;
        this.targets = be.alloc(deviceTargetRows, cfg.targetWidth());
        this.mask = output.regression() ? be.alloc(deviceTargetRows, 1) : null;
        int buffers = resident ? segments : 1;
        boolean lstm = cell.hasCellState();
        boolean gru = cell.keepsRecurrentGate();
        this.h0 = new Tensor[layers];
        this.hT = new Tensor[layers];
        this.c0 = new Tensor[layers];
        this.cT = new Tensor[layers];
        this.dnext = new Tensor[layers];
        this.dc = new Tensor[layers];
        this.hh = new Tensor[layers];
        this.boundaries = new Tensor[layers];
        this.cBoundaries = new Tensor[layers];
        this.states = new Tensor[layers][buffers];
        this.cStates = new Tensor[layers][buffers];
        this.gates = new Tensor[layers][buffers];
        this.hns = new Tensor[layers][buffers];
        this.dh = new Tensor[layers];
        this.dgatesHh = new Tensor[layers];
        this.steps = new Cell.Step[layers][buffers][];
        this.weights = new Cell.Weights[layers];
        boolean splitBoundaries = !resident && segments > 1;
        for (int l = 0; l < layers; l++) {
            h0[l] = be.alloc(batch, h);
            hT[l] = be.alloc(batch, h);
            dnext[l] = be.alloc(batch, h);
            boundaries[l] = splitBoundaries ? be.alloc((segments - 1) * batch, h) : null;
            if (lstm) {
                c0[l] = be.alloc(batch, h);
                cT[l] = be.alloc(batch, h);
                dc[l] = be.alloc(batch, h);
                cBoundaries[l] = splitBoundaries ? be.alloc((segments - 1) * batch, h) : null;
            }
            hh[l] = gru ? be.alloc(batch, gh) : null;
            dh[l] = be.alloc(segSteps * batch, h);
            dgatesHh[l] = cell.separateRecurrentGradient() ? be.alloc(segSteps * batch, gh) : null;
            for (int b = 0; b < buffers; b++) {
                int len = resident ? segmentLength(b) : segSteps;
                states[l][b] = be.alloc((len + 1) * batch, h);
                cStates[l][b] = lstm ? be.alloc((len + 1) * batch, h) : null;
                gates[l][b] = cell == Cell.TANH ? states[l][b].rows(batch, len * batch) : be.alloc(len * batch, gh);
                hns[l][b] = gru ? be.alloc(len * batch, h) : null;
                steps[l][b] = stepViews(l, b, len);
            }
            weights[l] = new Cell.Weights(rnn.param(ParameterLayout.wax(l)), rnn.param(ParameterLayout.waa(l)),
                    rnn.param(ParameterLayout.ba(l)), cell.twoBiases() ? rnn.param(ParameterLayout.bh(l)) : null);
        }
        int logitRows = output.perSequence() ? batch : plan.logitSteps() * batch;
        this.logits = be.alloc(logitRows, cfg.outputSize());
        this.losses = be.alloc(logitRows, 1);
        this.lossSum = be.alloc(1, 1);
    }

    /**
     * What a workspace of (batch, seqLen) windows of {@code cfg} runs under {@code schedule} on a
     * backend whose tensors hold {@code maxTensorFloats}: the one place that decides segments
     * and chunks, for the workspace and for memory estimates. Never throws for sizes that do not
     * fit (the workspace itself refuses them); there it plans with one step.
     */
    public static Schedule.Plan plan(RnnConfig cfg, int batch, int seqLen, Schedule schedule, long maxTensorFloats) {
        return schedule.plan(seqLen, batch, cfg.outputSize(), Math.max(1, maxStateSteps(cfg, batch, seqLen, maxTensorFloats)),
                Math.max(1, maxLogitSteps(cfg, batch, seqLen, maxTensorFloats)));
    }

    /** Steps of a segment one tensor holds: ((k+1)·B, H) states, (k·B, G·H) gates and (k·B, D) inputs. */
    private static int maxStateSteps(RnnConfig cfg, int batch, int seqLen, long maxFloats) {
        long bh = (long) batch * cfg.hidden();
        long bgh = (long) batch * cfg.gateWidth();
        long bd = (long) batch * (cfg.tokenInput() ? 1 : cfg.inputSize());
        return (int) Math.max(0, Math.min(Math.min(seqLen, maxFloats / bd), Math.min(maxFloats / bh - 1, maxFloats / bgh)));
    }

    /** Steps of logits one tensor holds: (S·B, V). */
    private static int maxLogitSteps(RnnConfig cfg, int batch, int seqLen, long maxFloats) {
        return (int) Math.min(seqLen, maxFloats / ((long) batch * cfg.outputSize()));
    }

    /** Fails, saying what to change, when not even one step's states or logits fit one tensor of the backend. */
    private void requireFits(int maxStateSteps, int maxLogitSteps, long maxFloats) {
        if (maxStateSteps < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "one step's %s gates at B=%d, H=%d (%,d floats) exceed the %,d floats one tensor holds on %s;"
                            + " use a smaller --batch or --hidden", cell.option(), batch, cfg.hidden(),
                    (long) batch * cfg.gateWidth(), maxFloats, be.name()));
        }
        if (maxLogitSteps < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "one step's logits at B=%d, V=%d (%,d floats) exceed the %,d floats one tensor holds on %s;"
                            + " use a smaller --batch", batch, cfg.outputSize(), (long) batch * cfg.outputSize(),
                    maxFloats, be.name()));
        }
    }

    /** Layer l's step views in buffer b of len steps. */
    private Cell.Step[] stepViews(int l, int b, int len) {
        Cell.Step[] list = new Cell.Step[len];
        for (int i = 0; i < len; i++) {
            Tensor hPrev = states[l][b].rows(i * batch, batch);                       // (B, H)
            Tensor hNow = states[l][b].rows((i + 1) * batch, batch);                  // (B, H)
            Tensor g = gates[l][b].rows(i * batch, batch);                            // (B, G·H)
            Tensor dhi = dh[l].rows(i * batch, batch);                                // (B, H)
            Tensor dgh = dgatesHh[l] != null ? dgatesHh[l].rows(i * batch, batch) : cell == Cell.TANH ? dhi : g;
            list[i] = new Cell.Step(hPrev, hNow,
                    cStates[l][b] != null ? cStates[l][b].rows(i * batch, batch) : null,
                    cStates[l][b] != null ? cStates[l][b].rows((i + 1) * batch, batch) : null,
                    g, hns[l][b] != null ? hns[l][b].rows(i * batch, batch) : null, hh[l],
                    dhi, dgh, dnext[l], dc[l]);
        }
        return list;
    }

    /** Local starts of segment s's chunks (the multiples of S, cut at the segment's ends), then its length. */
    private int[] chunkStartsOf(int s) {
        int start = segmentStart(s);
        int len = segmentLength(s);
        List<Integer> list = new ArrayList<>();
        for (int c = 0; c < len; c = Math.min(len, ((start + c) / chunkSteps + 1) * chunkSteps - start)) {
            list.add(c);
        }
        list.add(len);
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    public int batch() { return batch; }

    public int seqLen() { return seqLen; }

    /** k when segments are recomputed in the backward pass; 0 when every state is kept. */
    public int checkpointEvery() { return resident || segments == 1 ? 0 : segSteps; }

    /** Steps per segment: k when checkpointed, T with full storage (less when T steps exceed one tensor). */
    public int segmentSteps() { return segSteps; }

    /** S: steps per output chunk and per weight-gradient GEMM. */
    public int chunkSteps() { return chunkSteps; }

    /**
     * The window on the host: token ids or features, and targets, of all T·B rows. Fill it before
     * a forward pass; the passes upload it one segment at a time.
     */
    public Window window() { return window; }

    /**
     * The device copy of one segment's inputs, (k·B, 1) token ids or (k·B, D) features, rows
     * local to the segment (with one segment: the whole window, (T·B, ·), after a forward pass).
     */
    public Tensor inputs() { return inputs; }

    /**
     * The device copy of one segment's targets, (k·B, 1) class ids (−1 marks a position without a
     * target) or (k·B, D_out) values; per sequence, (B, 1 or D_out) of the whole window.
     */
    public Tensor targets() { return targets; }

    /** Layer l's initial hidden state h0, (B, H). */
    public Tensor initialState(int layer) { return h0[layer]; }

    /** Layer l's hidden state after the last step, (B, H). */
    public Tensor finalState(int layer) { return hT[layer]; }

    /** After {@link #backward}: dL/dh0 of layer l, (B, H). */
    public Tensor initialStateGrad(int layer) { return dnext[layer]; }

    /** LSTM: layer l's initial cell state c0, (B, H). */
    public Tensor initialCellState(int layer) { return lstmOnly(c0)[layer]; }

    /** LSTM: layer l's cell state after the last step, (B, H). */
    public Tensor finalCellState(int layer) { return lstmOnly(cT)[layer]; }

    /** LSTM, after {@link #backward}: dL/dc0 of layer l, (B, H). */
    public Tensor initialCellStateGrad(int layer) { return lstmOnly(dc)[layer]; }

    private Tensor[] lstmOnly(Tensor[] perLayer) {
        if (!cell.hasCellState()) {
            throw new IllegalStateException("a " + cell.option() + " cell carries no cell state c");
        }
        return perLayer;
    }

    /**
     * With full storage, after {@link #backward}: dL/d(gate pre-activations) of layer l for all
     * steps, the input side's, (T·B, G·H).
     */
    public Tensor preactivationGrads(int layer) {
        requireFullStorage();
        return cell == Cell.TANH ? dh[layer].rows(0, seqLen * batch) : gates[layer][0];
    }

    /** The same for the recurrent side (differs from the input side's for GRU only). */
    public Tensor recurrentPreactivationGrads(int layer) {
        return dgatesHh[layer] != null ? dgatesHh[layer].rows(0, seqLen * batch) : preactivationGrads(layer);
    }

    /** With full storage, after a forward pass: layer l's outputs h_0 … h_{T-1}, (T·B, H). */
    public Tensor outputs(int layer) {
        requireFullStorage();
        return states[layer][0].rows(batch, seqLen * batch);
    }

    /** With full storage, after a forward pass: layer l's states h_{-1} … h_{T-2} feeding steps 0 … T-1, (T·B, H). */
    public Tensor statesBefore(int layer) {
        requireFullStorage();
        return states[layer][0].rows(0, seqLen * batch);
    }

    private void requireFullStorage() {
        if (segments != 1) {
            throw new IllegalStateException("per-step activations are one tensor only with full storage in one segment");
        }
    }

    /** Number of target rows (positions, or sequences) with a target in the current window. */
    public int targetCount() { return window.targetCount(); }

    /** Puts segment s's inputs on the device unless they are there. */
    private void loadInputs(int s) {
        if (loadedInputs != s) {
            window.uploadInputs(segmentStart(s) * batch, inputs.rows(0, segmentLength(s) * batch));
            loadedInputs = s;
        }
    }

    /** Puts segment s's targets on the device unless they are there; per sequence, the window's B rows whatever s. */
    private void loadTargets(int s) {
        int key = output.perSequence() ? 0 : s;
        if (loadedTargets != key) {
            int first = output.perSequence() ? 0 : segmentStart(s) * batch;
            int n = output.perSequence() ? batch : segmentLength(s) * batch;
            window.uploadTargets(first, targets.rows(0, n), mask == null ? null : mask.rows(0, n));
            loadedTargets = key;
        }
    }

    /** A pass starts from the window as the host holds it now: every segment is uploaded again. */
    private void reloadWindow() {
        loadedInputs = -1;
        loadedTargets = -1;
    }

    /** Sets every layer's h0 (and c0) to zero (start of an epoch). */
    public void resetState() {
        for (int l = 0; l < cfg.layers(); l++) {
            be.fill(h0[l], 0f);
            if (c0[l] != null) {
                be.fill(c0[l], 0f);
            }
        }
    }

    /** Copies each layer's final state (h, and c) into its initial state: truncated BPTT carries the state on. */
    public void carryState() {
        for (int l = 0; l < cfg.layers(); l++) {
            be.copy(hT[l], h0[l]);
            if (c0[l] != null) {
                be.copy(cT[l], c0[l]);
            }
        }
    }

    private int segmentStart(int s) { return s * segSteps; }

    private int segmentLength(int s) { return Math.min(segSteps, seqLen - s * segSteps); }

    /** Which states buffer holds segment s: its own with full storage, the one shared buffer when checkpointed. */
    private int bufferOf(int s) { return resident ? s : 0; }

    /** The state (h or, with {@code cellState}, c) entering segment s of layer l, (B, H). */
    private Tensor entering(int l, int s, boolean cellState) {
        if (s == 0) {
            return cellState ? c0[l] : h0[l];
        }
        if (resident) {
            Tensor[] buffer = cellState ? cStates[l] : states[l];
            return buffer[s - 1].rows(segmentLength(s - 1) * batch, batch);
        }
        return (cellState ? cBoundaries[l] : boundaries[l]).rows((s - 1) * batch, batch);
    }

    /** Runs every layer's recurrence over segment s, leaving its states in the segment's buffers. */
    private void runSegment(int s) {
        int start = segmentStart(s);
        int len = segmentLength(s);
        int buf = bufferOf(s);
        bufferedSegment = s;
        loadInputs(s);
        for (int l = 0; l < cfg.layers(); l++) {
            Cell.Weights w = weights[l];
            be.copy(entering(l, s, false), states[l][buf].rows(0, batch));
            if (cell.hasCellState()) {
                be.copy(entering(l, s, true), cStates[l][buf].rows(0, batch));
            }
            if (l == 0 && cfg.tokenInput()) {
                be.gatherColumns(inputs.rows(0, len * batch), w.wih(), gates[l][buf].rows(0, len * batch));
            } else {
                int[] cs = chunkStarts[s];
                for (int j = 0; j + 1 < cs.length; j++) {
                    int cl = cs[j + 1] - cs[j];
                    Tensor projected = gates[l][buf].rows(cs[j] * batch, cl * batch);  // (cl·B, G·H): x_t·W_ihᵀ
                    be.gemm(false, layerInput(l, start + cs[j], cl), true, w.wih(), 1f, 0f, projected);
                }
            }
            Cell.Step[] st = steps[l][buf];
            for (int i = 0; i < len; i++) {
                cell.forward(be, w, st[i]);
            }
        }
    }

    /**
     * Inputs of layer l for `len` steps from `start` (within one segment, whose inputs are loaded):
     * the features, or layer l-1's outputs.
     */
    private Tensor layerInput(int l, int start, int len) {
        int s = start / segSteps;
        int local = start - segmentStart(s);
        return l == 0 ? inputs.rows(local * batch, len * batch)
                : states[l - 1][bufferOf(s)].rows((local + 1) * batch, len * batch);
    }

    /** Keeps the state leaving segment s: the next segment's boundary, or the final state. */
    private void keepLeavingState(int s) {
        int last = segmentLength(s) * batch;
        for (int l = 0; l < cfg.layers(); l++) {
            keep(states[l][bufferOf(s)].rows(last, batch), s, hT[l], boundaries[l]);
            if (cell.hasCellState()) {
                keep(cStates[l][bufferOf(s)].rows(last, batch), s, cT[l], cBoundaries[l]);
            }
        }
    }

    private void keep(Tensor leaving, int s, Tensor fin, Tensor bounds) {
        if (s + 1 == segments) {
            be.copy(leaving, fin);
        } else if (!resident) {
            be.copy(leaving, bounds.rows(s * batch, batch));
        }
    }

    /** Runs the recurrence over all T steps without the output layer (sampling, state warm-up). */
    public void advance() {
        reloadWindow();
        for (int s = 0; s < segments; s++) {
            runSegment(s);
            keepLeavingState(s);
        }
        forwarded = false;
    }

    /**
     * The full forward pass: recurrence, output layer and mean cross-entropy over the targets,
     * chunk by chunk. Returns the mean loss in nats.
     */
    public double forward() {
        queueForward();
        return loss();
    }

    /**
     * The forward pass of {@link #forward} without reading anything back: the loss stays on the
     * device as {@link #lossSum}, so a whole training step can be queued (and recorded as a graph).
     */
    public void queueForward() {
        if (window.targetCount() == 0) {
            throw new IllegalStateException("no targets set: fill window() first");
        }
        reloadWindow();
        float meanScale = meanScale();
        be.fill(lossSum, 0f);
        for (int s = 0; s < segments; s++) {
            runSegment(s);
            if (output.perSequence()) {
                if (s == segments - 1) {
                    loss(lastState(), 0, s, 0, meanScale);
                    be.sumRows(losses, 1f, lossSum);
                }
            } else {
                int[] cs = chunkStarts[s];
                for (int j = 0; j + 1 < cs.length; j++) {
                    int rows = (cs[j + 1] - cs[j]) * batch;
                    outputChunk(s, cs[j], cs[j + 1] - cs[j], meanScale);
                    be.sumRows(losses.rows(logitRow(s, cs[j]), rows), 1f, lossSum);
                }
            }
            keepLeavingState(s);
        }
        forwarded = true;
    }

    /** (1, 1): the sum of the last forward pass's losses; the mean loss is it times {@link #lossScale}. */
    public Tensor lossSum() { return lossSum; }

    /** 1 / (targets in the window): from the loss sum to the mean loss, and the gradients' scale. */
    public float lossScale() { return meanScale(); }

    /** The mean loss in nats of the last forward pass, read from the device. */
    public double loss() { return be.downloadDoubles(lossSum)[0] * meanScale(); }

    /** The loss is exactly meanScale·Σ losses, so its gradient uses the same float factor. */
    private float meanScale() { return 1f / window.targetCount(); }

    /** First row of the logits buffer for local step c of segment s: its own rows when all are kept, else row 0. */
    private int logitRow(int s, int c) { return keepAllLogits ? (segmentStart(s) + c) * batch : 0; }

    /**
     * Logits and softmax cross-entropy for `len` steps from local step c of resident segment s:
     * leaves dL/dlogits (len·B, V) in the logits buffer and the losses in {@link #losses}.
     */
    private Tensor outputChunk(int s, int c, int len, float meanScale) {
        Tensor top = states[cfg.layers() - 1][bufferOf(s)].rows((c + 1) * batch, len * batch);   // (len·B, H)
        return loss(top, logitRow(s, c), s, c * batch, meanScale);
    }

    /**
     * The output layer on the top layer's states (n, H) into the logits buffer's n rows from
     * logitRow, then the loss against the n target rows from targetRow of segment s's targets on the
     * device: leaves dL/d(output) (n, V or D_out) in place of the outputs, which it returns, and
     * the row losses beside them.
     */
    private Tensor loss(Tensor top, int logitRow, int s, int targetRow, float meanScale) {
        int n = top.rows();
        Tensor lg = logits.rows(logitRow, n);              // (n, V or D_out)
        Tensor rowLosses = losses.rows(logitRow, n);       // (n, 1)
        be.gemm(false, top, true, rnn.param("Wya"), 1f, 0f, lg);
        loadTargets(s);
        if (output.regression()) {
            be.meanSquaredError(lg, rnn.param("by"), targets.rows(targetRow, n), mask.rows(targetRow, n), meanScale,
                    lg, rowLosses);
        } else {
            be.softmaxCrossEntropy(lg, rnn.param("by"), targets.rows(targetRow, n), meanScale, lg, rowLosses);
        }
        return lg;
    }

    /** The top layer's state after the window's last step, (B, H), while the last segment is in its buffer. */
    private Tensor lastState() {
        int last = segments - 1;
        return states[cfg.layers() - 1][bufferOf(last)].rows(segmentLength(last) * batch, batch);
    }

    /** Receives the outputs y = h·Wyaᵀ + by of n target rows from row0, (n, V or D_out) row-major in {@code y}. */
    @FunctionalInterface
    private interface OutputSink {
        void accept(int row0, int n, float[] y);
    }

    /**
     * Runs the recurrence and hands the output layer's values, bias included, chunk by chunk to
     * the sink (per sequence: the last step's B rows once). Downloads them to the host: meant for
     * evaluation and prediction, not training.
     */
    private void outputs(OutputSink sink) {
        float[] bias = be.download(rnn.param("by"));
        Tensor wya = rnn.param("Wya");
        reloadWindow();
        for (int s = 0; s < segments; s++) {
            runSegment(s);
            int[] cs = output.perSequence() ? new int[0] : chunkStarts[s];
            for (int j = 0; j + 1 < cs.length; j++) {
                int n = (cs[j + 1] - cs[j]) * batch;
                Tensor lg = logits.rows(0, n);                                   // (n, V or D_out)
                be.gemm(false, states[cfg.layers() - 1][bufferOf(s)].rows((cs[j] + 1) * batch, n), true, wya, 1f, 0f, lg);
                sink.accept((segmentStart(s) + cs[j]) * batch, n, withBias(be.download(lg), bias));
            }
            if (output.perSequence() && s == segments - 1) {
                Tensor lg = logits.rows(0, batch);                               // (B, V or D_out)
                be.gemm(false, lastState(), true, wya, 1f, 0f, lg);
                sink.accept(0, batch, withBias(be.download(lg), bias));
            }
            keepLeavingState(s);
        }
        forwarded = false;
    }

    private static float[] withBias(float[] y, float[] bias) {
        for (int i = 0; i < y.length; i++) {
            y[i] += bias[i % bias.length];
        }
        return y;
    }

    /** The class with the largest output in row r of y (n, classes); the first of equal ones. */
    private static int argmax(float[] y, int r, int classes) {
        int best = 0;
        for (int k = 1; k < classes; k++) {
            if (y[r * classes + k] > y[r * classes + best]) {
                best = k;
            }
        }
        return best;
    }

    /**
     * Runs the recurrence and returns, for every target row (row t·B + b, or b per sequence), the
     * class with the largest logit (bias included). Meant for evaluation, not training.
     */
    public int[] predict() {
        requireClasses();
        int classes = cfg.outputSize();
        int[] predicted = new int[targetRows];
        outputs((row0, n, y) -> {
            for (int r = 0; r < n; r++) {
                predicted[row0 + r] = argmax(y, r, classes);
            }
        });
        return predicted;
    }

    /**
     * Runs the recurrence and counts the target rows of the window whose target (not −1) is the
     * class with the largest logit (bias included; the first of equal ones). Meant for evaluation.
     */
    public long correctPredictions() { return correctPredictions((row, predicted) -> window.target(row) == predicted); }

    /** Whether the argmax class {@code predicted} at target row {@code row} (which has a target) counts as right. */
    public interface Judge {
        boolean correct(int row, int predicted);
    }

    /** As {@link #correctPredictions()}, with {@code judge} deciding which argmax predictions count. */
    public long correctPredictions(Judge judge) {
        requireClasses();
        int classes = cfg.outputSize();
        long[] correct = {0};
        outputs((row0, n, y) -> {
            for (int r = 0; r < n; r++) {
                correct[0] += window.target(row0 + r) >= 0 && judge.correct(row0 + r, argmax(y, r, classes)) ? 1 : 0;
            }
        });
        return correct[0];
    }

    private void requireClasses() {
        if (output.regression()) {
            throw new IllegalStateException("a regression output predicts values: use predictValues");
        }
    }

    /**
     * Runs the recurrence and returns the output layer's values, bias included, for every target
     * row: (T·B or B, V or D_out) row-major. Meant for evaluation and prediction, not training.
     */
    public float[] predictValues() {
        int width = cfg.outputSize();
        float[] values = new float[Math.multiplyExact(targetRows, width)];
        outputs((row0, n, y) -> System.arraycopy(y, 0, values, row0 * width, n * width));
        return values;
    }

    /** Logits (without the bias by) after the last step, from the top layer's final state; (B, V). */
    public Tensor lastStepLogits() {
        Tensor lg = logits.rows(0, batch);
        be.gemm(false, hT[cfg.layers() - 1], true, rnn.param("Wya"), 1f, 0f, lg);
        forwarded = false;
        return lg;
    }

    /**
     * Gradients of the last {@link #forward}'s loss into the Rnn's gradient slab (overwritten),
     * dL/dh0 (and dL/dc0). Needs a forward pass since the last backward: the gates it kept are
     * overwritten with their gradients.
     */
    public void backward() {
        if (!forwarded) {
            throw new IllegalStateException("backward needs a forward pass first (and one per backward pass)");
        }
        int top = cfg.layers() - 1;
        float meanScale = meanScale();
        be.fill(rnn.grads(), 0f);
        for (int l = 0; l <= top; l++) {
            be.fill(dnext[l], 0f);
            if (dc[l] != null) {
                be.fill(dc[l], 0f);
            }
        }
        for (int s = segments - 1; s >= 0; s--) {
            if (!resident && bufferedSegment != s) {
                runSegment(s);
            }
            if (output.perSequence()) {
                int len = segmentLength(s);
                be.fill(dh[top].rows(0, len * batch), 0f);
                if (s == segments - 1) {
                    outputGradients(logits, lastState(), dh[top].rows((len - 1) * batch, batch));
                }
            } else {
                int[] cs = chunkStarts[s];
                for (int j = cs.length - 2; j >= 0; j--) {
                    int c = cs[j];
                    int cl = cs[j + 1] - c;
                    Tensor dlogits = keepAllLogits ? logits.rows(logitRow(s, c), cl * batch) : outputChunk(s, c, cl, meanScale);
                    outputGradients(dlogits, states[top][bufferOf(s)].rows((c + 1) * batch, cl * batch),
                            dh[top].rows(c * batch, cl * batch));
                }
            }
            for (int l = top; l >= 0; l--) {
                backwardLayer(l, s);
            }
        }
        forwarded = false;
    }

    /** dWya += dyᵀ·h, dby += Σ_rows dy and dh = dy·Wya for dy (n, V or D_out) and top states h, dh (n, H). */
    private void outputGradients(Tensor dy, Tensor h, Tensor dhTop) {
        be.gemm(true, dy, false, h, 1f, 1f, rnn.grad("Wya"));
        be.sumRows(dy, 1f, rnn.grad("by"));
        be.gemm(false, dy, false, rnn.param("Wya"), 1f, 0f, dhTop);
    }

    /** The backward sweep of layer l over resident segment s, then its weight gradients chunk by chunk. */
    private void backwardLayer(int l, int s) {
        int buf = bufferOf(s);
        Cell.Weights w = weights[l];
        Cell.Step[] st = steps[l][buf];
        for (int i = segmentLength(s) - 1; i >= 0; i--) {
            cell.backward(be, w, st[i]);
        }
        int start = segmentStart(s);
        Tensor dg = cell == Cell.TANH ? dh[l] : gates[l][buf];     // (len·B, G·H): the input side's gate gradients
        Tensor dgh = dgatesHh[l] != null ? dgatesHh[l] : dg;        // the recurrent side's
        int[] cs = chunkStarts[s];
        for (int j = cs.length - 2; j >= 0; j--) {
            int c = cs[j];
            int cl = cs[j + 1] - c;
            int n = cl * batch;
            Tensor dgc = dg.rows(c * batch, n);                // (cl·B, G·H)
            Tensor dghc = dgh.rows(c * batch, n);              // (cl·B, G·H)
            be.gemm(true, dghc, false, states[l][buf].rows(c * batch, n), 1f, 1f, rnn.grad(ParameterLayout.waa(l)));
            be.sumRows(dgc, 1f, rnn.grad(ParameterLayout.ba(l)));
            if (cell.twoBiases()) {
                be.sumRows(dghc, 1f, rnn.grad(ParameterLayout.bh(l)));
            }
            Tensor dwih = rnn.grad(ParameterLayout.wax(l));    // (G·H, D_l)
            if (l == 0 && cfg.tokenInput()) {
                loadInputs(s);
                be.scatterAddColumns(inputs.rows(c * batch, n), dgc, dwih);
            } else {
                if (l == 0) {
                    loadInputs(s);
                }
                be.gemm(true, dgc, false, layerInput(l, start + c, cl), 1f, 1f, dwih);
            }
            if (l > 0) {
                be.gemm(false, dgc, false, w.wih(), 1f, 0f, dh[l - 1].rows(c * batch, n));
            }
        }
    }

    @Override
    public void close() {
        window.close();
        be.free(inputs);
        be.free(targets);
        if (mask != null) {
            be.free(mask);
        }
        for (int l = 0; l < cfg.layers(); l++) {
            freeAll(h0[l], hT[l], c0[l], cT[l], dnext[l], dc[l], hh[l], boundaries[l], cBoundaries[l], dh[l],
                    dgatesHh[l]);
            for (int b = 0; b < states[l].length; b++) {
                freeAll(states[l][b], cStates[l][b], hns[l][b], cell == Cell.TANH ? null : gates[l][b]);
            }
        }
        be.free(logits);
        be.free(losses);
        be.free(lossSum);
    }

    private void freeAll(Tensor... roots) {
        for (Tensor t : roots) {
            if (t != null) {
                be.free(t);
            }
        }
    }
}
