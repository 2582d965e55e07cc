// ModelCheck: a whole forward + backward of bptt.rnn.Workspace, compared output by output with cpu-ref.
package bptt.conformance;

import bptt.backend.Backend;
import bptt.rnn.Cell;
import bptt.rnn.OutputKind;
import bptt.rnn.Rnn;
import bptt.rnn.RnnConfig;
import bptt.rnn.Schedule;
import bptt.rnn.Window;
import bptt.rnn.Workspace;
import bptt.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * One training step's math on a (B, H, V, T) problem with L layers of a cell, token or dense
 * input and an output ({@link OutputKind}: V classes or V values, per step or per sequence):
 * parameters from {@link Rnn#initialize}, random h0 (and c0), inputs and targets (about one in
 * eight target rows has none), every activation and gradient buffer poisoned with NaN first.
 * Compares the loss, every layer's outputs h_t (with full storage) or final state (checkpointed),
 * the LSTM's final cell state, the whole gradient slab and dL/dh0 (and dL/dc0). With
 * {@code checkpointEvery} k > 0 the backward pass recomputes k-step segments, so the backend's
 * checkpointed BPTT is held to the same tolerance.
 */
public record ModelCheck(Cell cell, boolean tokenInput, int layers, int batch, int hidden, int vocab, int seqLen,
                         int checkpointEvery, OutputKind output) implements Check {

    /** A model with a class at every step, checkpointed every k steps (0 = full storage). */
    public ModelCheck(Cell cell, boolean tokenInput, int layers, int batch, int hidden, int vocab, int seqLen,
                      int checkpointEvery) {
        this(cell, tokenInput, layers, batch, hidden, vocab, seqLen, checkpointEvery, OutputKind.CLASSES);
    }

    /** A tanh model, checkpointed every k steps (0 = full storage). */
    public ModelCheck(boolean tokenInput, int layers, int batch, int hidden, int vocab, int seqLen, int checkpointEvery) {
        this(Cell.TANH, tokenInput, layers, batch, hidden, vocab, seqLen, checkpointEvery);
    }

    /** A tanh model, full storage. */
    public ModelCheck(boolean tokenInput, int layers, int batch, int hidden, int vocab, int seqLen) {
        this(Cell.TANH, tokenInput, layers, batch, hidden, vocab, seqLen, 0);
    }

    /** A model of the given cell, full storage. */
    public ModelCheck(Cell cell, boolean tokenInput, int layers, int batch, int hidden, int vocab, int seqLen) {
        this(cell, tokenInput, layers, batch, hidden, vocab, seqLen, 0);
    }

    /** Gradients pass through T steps and T·B-long GEMMs: judged relative to their largest magnitude. */
    private static final Tolerance STATES = Tolerance.scaled(2e-5, 1e-4);
    private static final Tolerance GRADS = Tolerance.scaled(1e-4, 1e-3);

    @Override
    public String name() {
        return "model " + (cell == Cell.TANH ? "" : cell.option() + " ") + (tokenInput ? "token" : "dense") + " L="
                + layers + (checkpointEvery > 0 ? " ckpt" : "") + (output == OutputKind.CLASSES ? "" : " " + output.id());
    }

    @Override
    public String shape() {
        return "B=" + batch + " H=" + hidden + " V=" + vocab + " T=" + seqLen
                + (checkpointEvery > 0 ? " k=" + checkpointEvery : "");
    }

    @Override
    public List<Output> run(Backend be, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        RnnConfig config = new RnnConfig(vocab, tokenInput, hidden, layers, vocab, cell, output);
        boolean lstm = cell.hasCellState();
        int rows = batch * seqLen;
        int targetRows = config.targetRows(batch, seqLen);
        try (Rnn rnn = new Rnn(be, config); Workspace ws = rnn.workspace(batch, seqLen, new Schedule(checkpointEvery, 0))) {
            rnn.initialize(random.nextLong());
            Window window = ws.window();
            for (int i = 0; i < (tokenInput ? rows : rows * vocab); i++) {
                if (tokenInput) {
                    window.setToken(i, random.nextInt(vocab));
                } else {
                    window.setInput(i / vocab, i % vocab, (float) random.nextGaussian());
                }
            }
            int width = config.targetWidth();
            float[] values = new float[width];
            for (int r = 0; r < targetRows; r++) {
                boolean none = r > 0 && random.nextInt(8) == 0;
                if (output.regression()) {
                    for (int j = 0; j < width; j++) {
                        values[j] = none ? Float.NaN : (float) random.nextGaussian();
                    }
                    window.setTargetValues(r, values, 0);
                } else {
                    window.setTarget(r, none ? -1 : random.nextInt(vocab));
                }
            }
            for (int l = 0; l < layers; l++) {
                be.upload(gaussian(random, batch * hidden, 0.5), ws.initialState(l));
                if (lstm) {
                    be.upload(gaussian(random, batch * hidden, 0.5), ws.initialCellState(l));
                    poison(be, ws.finalCellState(l));
                    poison(be, ws.initialCellStateGrad(l));
                }
                if (checkpointEvery == 0) {
                    poison(be, ws.outputs(l));
                    poison(be, ws.preactivationGrads(l));
                }
                poison(be, ws.finalState(l));
                poison(be, ws.initialStateGrad(l));
            }
            poison(be, rnn.grads());
            float loss = (float) ws.forward();
            ws.backward();
            List<Output> outputs = new ArrayList<>();
            outputs.add(new Output("loss", new float[]{loss}, Tolerance.of(0, 1e-5)));
            for (int l = 0; l < layers; l++) {
                outputs.add(checkpointEvery == 0 ? new Output("h" + l, be.download(ws.outputs(l)), STATES)
                        : new Output("hT" + l, be.download(ws.finalState(l)), STATES));
                if (lstm) {
                    outputs.add(new Output("cT" + l, be.download(ws.finalCellState(l)), STATES));
                }
            }
            outputs.add(new Output("grads", be.download(rnn.grads()), GRADS));
            for (int l = 0; l < layers; l++) {
                outputs.add(new Output("dh0_" + l, be.download(ws.initialStateGrad(l)), GRADS));
                if (lstm) {
                    outputs.add(new Output("dc0_" + l, be.download(ws.initialCellStateGrad(l)), GRADS));
                }
            }
            return outputs;
        }
    }

    private static void poison(Backend be, Tensor t) { be.upload(Scratch.nans((int) t.size()), t); }

    private static float[] gaussian(SplittableRandom random, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (scale * random.nextGaussian());
        }
        return v;
    }
}
