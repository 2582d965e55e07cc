// CellSteps: one LSTM or GRU time step, forward or backward, over packed W_hh split across the thread team.
package bptt.backend.cpu;

import bptt.tensor.Tensor;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * The cells' recurrent steps on the machinery of {@link RecurrentSteps}: W_hh packed once per
 * sweep ({@link PackedWeights}), multiplied by {@link VectorKernels}' register-blocked tile,
 * the work split over the team.
 * <pre>
 *   forward:   W = W_hhᵀ (H, G·H) packed with each gate's H columns in strips of their own, so
 *              strip l of every gate covers the same hidden units [l·STRIP, l·STRIP + STRIP).
 *              A part takes a range of l: for each l it multiplies the G gate tiles (B, STRIP)
 *              (LSTM: onto the input projection in gates; GRU: hh from zero) and runs the cell's
 *              pointwise on them at once, while they are hot ({@link CellKernels#lstmForwardRow},
 *              {@link CellKernels#gruForwardRow}, the very formulas of the unfused op).
 *   backward:  the pointwise split by rows over the team ({@link CellKernels}' backward ops on a
 *              range of rows), which also copies dgates (LSTM) or dgatesHh (GRU) (B, G·H) into
 *              one shared array; then dnext (B, H) = (LSTM) or += (GRU) that · W_hh, W = W_hh
 *              (G·H, H) packed, split by strips of dnext's columns.
 * </pre>
 * Each output element is the same sequence of operations whatever the split, so results are
 * bitwise the same for any thread count. Nothing is allocated per step once the scratch arrays
 * have grown to the largest shape seen.
 */
final class CellSteps {
    /** Scratch tiles per worker: the LSTM forward's layout in {@link CellKernels#lstmForwardRow}. */
    private static final int TILES = 15;

    private final ThreadTeam team;
    private final PackedWeights packs;
    private final long grain;
    private final float[][][] tiles;
    /** Each worker's copy of hPrev, (B, H): the forward product's A operand. */
    private final float[][] inputs;
    /** Each worker's backward pointwise, with its own scratch rows. */
    private final CellKernels[] pointwise;
    private final ThreadTeam.Task lstmForwardTask = this::lstmForwardStrips;
    private final ThreadTeam.Task gruForwardTask = this::gruForwardStrips;
    private final ThreadTeam.Task lstmPointwiseTask = this::lstmBackwardRows;
    private final ThreadTeam.Task gruPointwiseTask = this::gruBackwardRows;
    private final ThreadTeam.Task productTask = this::backwardStrips;
    /** The backward product's A operand, (B, G·H), shared by the parts. */
    private float[] dgates = new float[0];
    // The current step, read by the parts.
    private PackedWeights.Packed w;
    private int batch;
    private int hidden;
    private boolean accumulate;
    private Tensor gates;
    private Tensor dgatesHh;
    private Tensor biasIh;
    private Tensor biasHh;
    private Tensor hPrev;
    private Tensor cPrev;
    private Tensor c;
    private Tensor h;
    private Tensor hn;
    private Tensor dh;
    private Tensor dc;
    private Tensor dnext;

    /** Splits steps of at least {@code grain} multiply-adds per part over {@code team}. */
    CellSteps(ThreadTeam team, PackedWeights packs, long grain) {
        this.team = team;
        this.packs = packs;
        this.grain = grain;
        this.tiles = new float[team.size()][TILES][0];
        this.inputs = new float[team.size()][0];
        this.pointwise = new CellKernels[team.size()];
        for (int i = 0; i < pointwise.length; i++) {
            pointwise[i] = new CellKernels();
        }
    }

    /** Backend.lstmStepForward; false (nothing done) when W_hh is too large to pack. */
    boolean lstmForward(Tensor hPrev, Tensor cPrev, Tensor whh, Tensor biasIh, Tensor biasHh, Tensor gates, Tensor c,
                        Tensor h) {
        if (!forward(whh, hPrev, h)) {
            return false;
        }
        this.cPrev = cPrev;
        this.biasIh = biasIh;
        this.biasHh = biasHh;
        this.gates = gates;
        this.c = c;
        team.runParts(lstmForwardTask, w.perGroup, forwardParts());
        end();
        return true;
    }

    /** Backend.gruStepForward (hh, scratch there, is not needed); false when W_hh is too large to pack. */
    boolean gruForward(Tensor hPrev, Tensor whh, Tensor biasIh, Tensor biasHh, Tensor gates, Tensor hn, Tensor h) {
        if (!forward(whh, hPrev, h)) {
            return false;
        }
        this.biasIh = biasIh;
        this.biasHh = biasHh;
        this.gates = gates;
        this.hn = hn;
        team.runParts(gruForwardTask, w.perGroup, forwardParts());
        end();
        return true;
    }

    /** Backend.lstmStepBackward; false (nothing done) when W_hh is too large to pack. */
    boolean lstmBackward(Tensor gates, Tensor cPrev, Tensor c, Tensor whh, Tensor dh, Tensor dc, Tensor dnext) {
        if (!backward(whh, dnext, false)) {
            return false;
        }
        this.gates = gates;
        this.cPrev = cPrev;
        this.c = c;
        this.dh = dh;
        this.dc = dc;
        finishBackward(lstmPointwiseTask);
        return true;
    }

    /** Backend.gruStepBackward; false (nothing done) when W_hh is too large to pack. */
    boolean gruBackward(Tensor gates, Tensor hn, Tensor hPrev, Tensor whh, Tensor dh, Tensor dgatesHh, Tensor dnext) {
        if (!backward(whh, dnext, true)) {
            return false;
        }
        this.gates = gates;
        this.hn = hn;
        this.hPrev = hPrev;
        this.dh = dh;
        this.dgatesHh = dgatesHh;
        finishBackward(gruPointwiseTask);
        return true;
    }

    /** Packs W_hhᵀ by gates; false when it is too large. */
    private boolean forward(Tensor whh, Tensor hPrev, Tensor h) {
        batch = h.rows();
        hidden = h.cols();
        w = packs.get(whh, true, hidden);
        if (w == null) {
            return false;
        }
        this.hPrev = hPrev;
        this.h = h;
        return true;
    }

    private boolean backward(Tensor whh, Tensor dnext, boolean accumulate) {
        batch = dnext.rows();
        hidden = dnext.cols();
        w = packs.get(whh, false);
        if (w == null) {
            return false;
        }
        this.dnext = dnext;
        this.accumulate = accumulate;
        if (dgates.length < batch * w.k) {
            dgates = new float[batch * w.k];
        }
        return true;
    }

    /** The pointwise by rows, then, once every row is done, the product by strips of dnext. */
    private void finishBackward(ThreadTeam.Task pointwiseTask) {
        int parts = team.partsFor((long) batch * w.k * w.n, grain);
        team.runParts(pointwiseTask, batch, Math.min(batch, parts));
        team.runParts(productTask, w.strips.length, Math.min(w.strips.length, parts));
        end();
    }

    private void end() {
        w = null;
        gates = dgatesHh = biasIh = biasHh = hPrev = cPrev = c = h = hn = dh = dc = dnext = null;
    }

    /** Parts of the forward product: at most one per strip of a gate. */
    private int forwardParts() {
        return Math.min(w.perGroup, team.partsFor((long) batch * w.k * w.n, grain));
    }

    /**
     * LSTM forward, hidden strips [from, to): tiles 0-3 = the gates' columns + hPrev·W, then
     * {@link CellKernels#lstmForwardRow} with cPrev in tile 4, c and h into 5 and 6, the biases in 7-14.
     */
    private void lstmForwardStrips(int worker, int from, int to) {
        float[][] s = tiles(worker);
        float[] input = input(worker);
        for (int l = from; l < to; l++) {
            int col0 = l * VectorKernels.STRIP;
            int width = w.width(l);
            for (int q = 0; q < 4; q++) {
                load(gates, q * hidden + col0, width, s[q]);
                RecurrentSteps.multiply(w, batch, input, q * w.perGroup + l, s[q]);
                broadcast(biasIh, q * hidden + col0, width, s[7 + q]);
                broadcast(biasHh, q * hidden + col0, width, s[11 + q]);
            }
            load(cPrev, col0, width, s[4]);
            CellKernels.lstmForwardRow(s, batch * VectorKernels.STRIP);
            for (int q = 0; q < 4; q++) {
                store(s[q], gates, q * hidden + col0, width);
            }
            store(s[5], c, col0, width);
            store(s[6], h, col0, width);
        }
    }

    /**
     * GRU forward, hidden strips [from, to): tiles 0-2 = the gates' columns, 3-5 = hPrev·W, then
     * {@link CellKernels#gruForwardRow} with hPrev in tile 6, h into 7, the biases in 8-13 (hn in 5).
     */
    private void gruForwardStrips(int worker, int from, int to) {
        float[][] s = tiles(worker);
        float[] input = input(worker);
        for (int l = from; l < to; l++) {
            int col0 = l * VectorKernels.STRIP;
            int width = w.width(l);
            for (int q = 0; q < 3; q++) {
                load(gates, q * hidden + col0, width, s[q]);
                Arrays.fill(s[3 + q], 0, batch * VectorKernels.STRIP, 0f);
                RecurrentSteps.multiply(w, batch, input, q * w.perGroup + l, s[3 + q]);
                broadcast(biasIh, q * hidden + col0, width, s[8 + q]);
                broadcast(biasHh, q * hidden + col0, width, s[11 + q]);
            }
            load(hPrev, col0, width, s[6]);
            CellKernels.gruForwardRow(s, batch * VectorKernels.STRIP);
            for (int q = 0; q < 3; q++) {
                store(s[q], gates, q * hidden + col0, width);
            }
            store(s[5], hn, col0, width);
            store(s[7], h, col0, width);
        }
    }

    /** LSTM backward pointwise, rows [from, to), and their dgates copied to {@link #dgates}. */
    private void lstmBackwardRows(int worker, int from, int to) {
        pointwise[worker].lstmBackward(gates, cPrev, c, dh, dnext, dc, from, to);
        copyRows(gates, from, to);
    }

    /** GRU backward pointwise, rows [from, to), and their dgatesHh copied to {@link #dgates}. */
    private void gruBackwardRows(int worker, int from, int to) {
        pointwise[worker].gruBackward(gates, hn, hPrev, dh, dnext, dgatesHh, from, to);
        copyRows(dgatesHh, from, to);
    }

    private void copyRows(Tensor t, int from, int to) {
        FloatBuffer b = CpuMemory.buffer(t);
        for (int r = from; r < to; r++) {
            b.get(CpuMemory.offset(t) + r * t.ld(), dgates, r * w.k, w.k);
        }
    }

    /** Backward, strips [from, to) of dnext's columns: dnext = dgates·W, or += when accumulating. */
    private void backwardStrips(int worker, int from, int to) {
        float[] tile = tiles(worker)[0];
        for (int s = from; s < to; s++) {
            int col0 = w.column(s);
            int width = w.width(s);
            if (accumulate) {
                load(dnext, col0, width, tile);
            } else {
                Arrays.fill(tile, 0, batch * VectorKernels.STRIP, 0f);
            }
            RecurrentSteps.multiply(w, batch, dgates, s, tile);
            store(tile, dnext, col0, width);
        }
    }

    /** tile (B, STRIP) = columns [col0, col0 + width) of t, zero beyond width. */
    private void load(Tensor t, int col0, int width, float[] tile) {
        FloatBuffer b = CpuMemory.buffer(t);
        int base = CpuMemory.offset(t) + col0;
        for (int r = 0; r < batch; r++) {
            int at = r * VectorKernels.STRIP;
            b.get(base + r * t.ld(), tile, at, width);
            Arrays.fill(tile, at + width, at + VectorKernels.STRIP, 0f);
        }
    }

    /** tile (B, STRIP) = columns [col0, col0 + width) of the row vector v in every row, zero beyond width. */
    private void broadcast(Tensor v, int col0, int width, float[] tile) {
        CpuMemory.buffer(v).get(CpuMemory.offset(v) + col0, tile, 0, width);
        Arrays.fill(tile, width, VectorKernels.STRIP, 0f);
        for (int r = 1; r < batch; r++) {
            System.arraycopy(tile, 0, tile, r * VectorKernels.STRIP, VectorKernels.STRIP);
        }
    }

    /** Columns [col0, col0 + width) of t = the tile's first width columns. */
    private void store(float[] tile, Tensor t, int col0, int width) {
        FloatBuffer b = CpuMemory.buffer(t);
        int base = CpuMemory.offset(t) + col0;
        for (int r = 0; r < batch; r++) {
            b.put(base + r * t.ld(), tile, r * VectorKernels.STRIP, width);
        }
    }

    /** The worker's scratch tiles, (B, STRIP) each; its copy of hPrev is taken by {@link #input}. */
    private float[][] tiles(int worker) {
        int n = batch * VectorKernels.STRIP;
        if (tiles[worker][0].length < n) {
            for (int i = 0; i < TILES; i++) {
                tiles[worker][i] = new float[n];
            }
        }
        return tiles[worker];
    }

    /** The worker's copy of hPrev (B, H), read from the tensor now. */
    private float[] input(int worker) {
        if (inputs[worker].length < batch * hidden) {
            inputs[worker] = new float[batch * hidden];
        }
        float[] in = inputs[worker];
        FloatBuffer b = CpuMemory.buffer(hPrev);
        for (int r = 0; r < batch; r++) {
            b.get(CpuMemory.offset(hPrev) + r * hPrev.ld(), in, r * hidden, hidden);
        }
        return in;
    }
}
