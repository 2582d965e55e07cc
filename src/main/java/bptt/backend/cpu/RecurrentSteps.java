// RecurrentSteps: one tanh time step, forward or backward, as one fused pass over packed Waa (the cpu backend's recurrence).
package bptt.backend.cpu;

import bptt.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * The recurrent step with Waa packed once per sweep ({@link PackedWeights}) and multiplied by
 * {@link VectorKernels}' register-blocked tile, so no step repacks Waa or streams it through a
 * BLAS packing routine:
 * <pre>
 *   forward:   pre (B,H) = tanh(pre + hPrev·Waaᵀ + bias)   W = Waaᵀ packed; bias+tanh on each tile while it is hot
 *   backward:  da (B,H)  = (1 − a²) ⊙ (da + dnext)          one elementwise pass, split like the product
 *              dnext (B,H) = da·Waa                         W = Waa packed
 * </pre>
 * Columns are split over the team in strips when the step has at least {@code grain}
 * multiply-adds per part; a small step (B=1, H=256: 65K) runs on the calling thread alone,
 * with no hand-off at all. Every part copies what it reads (hPrev forward) itself, so nothing
 * runs serially on the caller while the team waits. Each output element is the same fma
 * sequence whatever the split, so results are bitwise the same for any thread count.
 */
final class RecurrentSteps {
    /**
     * Blocking of the product, for L1 (48 KiB here): a k-block of one strip (KC × STRIP floats,
     * 16 KiB) stays in L1 while it multiplies a block of MC rows of the tile (MC × STRIP, 16 KiB).
     */
    private static final int KC = 64;
    private static final int MC = 64;
    /** Elements per chunk of the backward elementwise pass. */
    private static final int CHUNK = 2048;

    private final ThreadTeam team;
    private final PackedWeights packs;
    private final long grain;
    private final float[][] tiles;
    private final float[][] biasSlices;
    private final float[][][] chunks;
    /** Each worker's copy of hPrev, (B, H): the forward product's A operand. */
    private final float[][] inputs;
    private final ThreadTeam.Task forwardTask = this::forwardStrips;
    private final ThreadTeam.Task backwardTask = this::backwardStrips;
    private final ThreadTeam.Task dpreTask = this::dpreElements;
    /** dpre of the current backward step, (B, H): the backward product's A operand, shared by the parts. */
    private float[] dpre = new float[0];
    // The current step, read by the parts.
    private PackedWeights.Packed w;
    private int batch;
    private int hidden;
    private FloatBuffer out;      // the strips pass writes here: pre forward, dnext backward
    private int outOff;
    private FloatBuffer bias;     // forward
    private int biasOff;
    private FloatBuffer act;      // hPrev forward; a, with da and dnext, for the dpre pass backward
    private int actOff;
    private FloatBuffer grad;
    private int gradOff;
    private FloatBuffer next;
    private int nextOff;

    /** Splits steps of at least {@code grain} multiply-adds per part over {@code team}. */
    RecurrentSteps(ThreadTeam team, PackedWeights packs, long grain) {
        this.team = team;
        this.packs = packs;
        this.grain = grain;
        this.tiles = new float[team.size()][0];
        this.biasSlices = new float[team.size()][VectorKernels.STRIP];
        this.chunks = new float[team.size()][3][CHUNK];
        this.inputs = new float[team.size()][0];
    }

    /** pre = tanh(pre + hPrev·Waaᵀ + bias); false (nothing done) when Waa is too large to pack. */
    boolean forward(Tensor hPrev, Tensor waa, Tensor bias, Tensor pre) {
        if (!begin(packs.get(waa, true), hPrev, pre)) {
            return false;
        }
        this.bias = CpuMemory.buffer(bias);
        this.biasOff = CpuMemory.offset(bias);
        team.runParts(forwardTask, w.strips.length, stripParts());
        end();
        return true;
    }

    /** da = (1 − a²)·(da + dnext), then dnext = da·Waa; false (nothing done) when Waa is too large to pack. */
    boolean backward(Tensor a, Tensor waa, Tensor da, Tensor dnext) {
        if (!begin(packs.get(waa, false), a, dnext)) {
            return false;
        }
        grad = CpuMemory.buffer(da);
        gradOff = CpuMemory.offset(da);
        next = out;
        nextOff = outOff;
        if (dpre.length < batch * hidden) {
            dpre = new float[batch * hidden];
        }
        int parts = stripParts();
        team.runParts(dpreTask, batch * hidden, parts);
        // Only now, when every part has read dnext, may the product overwrite it.
        team.runParts(backwardTask, w.strips.length, parts);
        end();
        return true;
    }

    /** Sets up a step that reads {@code input} and writes {@code target}; false when Waa was not packed. */
    private boolean begin(PackedWeights.Packed packed, Tensor input, Tensor target) {
        if (packed == null) {
            return false;
        }
        w = packed;
        batch = target.rows();
        hidden = target.cols();
        out = CpuMemory.buffer(target);
        outOff = CpuMemory.offset(target);
        act = CpuMemory.buffer(input);
        actOff = CpuMemory.offset(input);
        return true;
    }

    private void end() {
        w = null;
        out = bias = act = grad = next = null;
    }

    /** Parts for the step's B·H·H multiply-adds, at most one per strip. */
    private int stripParts() {
        return Math.min(w.strips.length, team.partsFor((long) batch * w.k * w.n, grain));
    }

    /** Forward, strips [from, to): tile = out columns; tile += hPrev·W; tile = tanh(tile + bias); back to out. */
    private void forwardStrips(int worker, int from, int to) {
        float[] tile = tile(worker);
        float[] slice = biasSlices[worker];
        float[] input = input(worker);
        act.get(actOff, input, 0, batch * hidden);
        for (int s = from; s < to; s++) {
            int col0 = s * VectorKernels.STRIP;
            int width = Math.min(VectorKernels.STRIP, w.n - col0);
            for (int r = 0; r < batch; r++) {
                int t = r * VectorKernels.STRIP;
                out.get(outOff + r * hidden + col0, tile, t, width);
                java.util.Arrays.fill(tile, t + width, t + VectorKernels.STRIP, 0f);
            }
            bias.get(biasOff + col0, slice, 0, width);
            java.util.Arrays.fill(slice, width, VectorKernels.STRIP, 0f);
            multiply(input, s, tile);
            VectorKernels.biasTanh(tile, batch, slice);
            store(tile, col0, width);
        }
    }

    /** Backward, strips [from, to): out columns = dpre·W. */
    private void backwardStrips(int worker, int from, int to) {
        float[] tile = tile(worker);
        for (int s = from; s < to; s++) {
            int col0 = s * VectorKernels.STRIP;
            java.util.Arrays.fill(tile, 0, batch * VectorKernels.STRIP, 0f);
            multiply(dpre, s, tile);
            store(tile, col0, Math.min(VectorKernels.STRIP, w.n - col0));
        }
    }

    private void multiply(float[] a, int s, float[] tile) { multiply(w, batch, a, s, tile); }

    /** tile (batch, STRIP) += a (batch, k) · strip s of W, by blocks of MC rows and KC k. */
    static void multiply(PackedWeights.Packed w, int batch, float[] a, int s, float[] tile) {
        for (int r0 = 0; r0 < batch; r0 += MC) {
            int rows = Math.min(MC, batch - r0);
            for (int k0 = 0; k0 < w.k; k0 += KC) {
                VectorKernels.multiplyAdd(a, r0 * w.k, w.k, rows, w.strips[s], k0, Math.min(w.k, k0 + KC),
                        tile, r0 * VectorKernels.STRIP);
            }
        }
    }

    private void store(float[] tile, int col0, int width) {
        for (int r = 0; r < batch; r++) {
            out.put(outOff + r * hidden + col0, tile, r * VectorKernels.STRIP, width);
        }
    }

    /** Elements [from, to): da = (1 − a²)·(da + dnext), written to da and to {@link #dpre}. */
    private void dpreElements(int worker, int from, int to) {
        float[] av = chunks[worker][0];
        float[] dav = chunks[worker][1];
        float[] nv = chunks[worker][2];
        for (int i = from; i < to; i += CHUNK) {
            int n = Math.min(CHUNK, to - i);
            act.get(actOff + i, av, 0, n);
            grad.get(gradOff + i, dav, 0, n);
            next.get(nextOff + i, nv, 0, n);
            Loops.tanhStepBackward(av, dav, nv, n);
            grad.put(gradOff + i, dav, 0, n);
            System.arraycopy(dav, 0, dpre, i, n);
        }
    }

    private float[] input(int worker) {
        if (inputs[worker].length < batch * hidden) {
            inputs[worker] = new float[batch * hidden];
        }
        return inputs[worker];
    }

    private float[] tile(int worker) {
        int n = batch * VectorKernels.STRIP;
        if (tiles[worker].length < n) {
            tiles[worker] = new float[n];
        }
        return tiles[worker];
    }
}
