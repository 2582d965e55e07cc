// PackedWeights: recurrent weight matrices packed once into VectorKernels' strips and reused until the weights change.
package bptt.backend.cpu;

import bptt.tensor.Tensor;

import java.nio.FloatBuffer;

/**
 * A small cache of packed copies of weight tensors, each either as stored (W = w) or transposed
 * (W = wᵀ), in the strip layout of {@link VectorKernels}. The columns of W may be packed in
 * groups (a recurrent cell's gates, H columns each): every group starts a new strip, so strip
 * l of one gate and strip l of another cover the same hidden units. A copy is valid while its tensor's
 * {@link CpuMemory#version} is unchanged: within a forward or backward sweep Waa is read T
 * times and packed once; an optimizer step (which writes the parameter slab) makes the next
 * sweep repack. Packing is split over the team by strips. The least recently used copy makes
 * room for a new one, so every layer's Waa of a stacked model, both ways, stays packed.
 */
final class PackedWeights {
    /** Copies kept: two per layer (forward and backward) for up to four layers. */
    private static final int CAPACITY = 8;
    /** Larger weights are not packed (the caller falls back to BLAS): 64 Mi floats of heap per copy. */
    static final long MAX_FLOATS = 1L << 26;

    /**
     * One packed copy of W (k, n) in groups of {@code group} columns: strips[g·perGroup + l]
     * holds columns [g·group + l·STRIP, … + STRIP) of W, clipped to the group.
     */
    static final class Packed {
        final int k;
        final int n;
        final int group;
        final int perGroup;
        final float[][] strips;
        CpuMemory memory;
        long offset;
        boolean transposed;
        long version;
        long lastUse;

        Packed(int k, int n, int group) {
            this.k = k;
            this.n = n;
            this.group = group;
            this.perGroup = (group + VectorKernels.STRIP - 1) / VectorKernels.STRIP;
            this.strips = new float[n / group * perGroup][k * VectorKernels.STRIP];
        }

        /** The first column of W in strip s. */
        int column(int s) { return s / perGroup * group + s % perGroup * VectorKernels.STRIP; }

        /** The columns of W in strip s: STRIP, or fewer at the end of a group. */
        int width(int s) { return Math.min(VectorKernels.STRIP, group - s % perGroup * VectorKernels.STRIP); }
    }

    private final ThreadTeam team;
    private final Packed[] cache = new Packed[CAPACITY];
    private final float[][] rows;
    private final ThreadTeam.Task packTask = this::packStrips;
    private long clock;
    // The copy being packed and its source, read by the parts.
    private Packed target;
    private Tensor source;

    PackedWeights(ThreadTeam team) {
        this.team = team;
        this.rows = new float[team.size()][0];
    }

    /**
     * W = w (k = w.rows, n = w.cols), or W = wᵀ when {@code transposed}, packed; null when w is
     * too large to pack. w is contiguous.
     */
    Packed get(Tensor w, boolean transposed) { return get(w, transposed, transposed ? w.rows() : w.cols()); }

    /** As {@link #get(Tensor, boolean)}, W's columns packed in groups of {@code group} (a divisor of them). */
    Packed get(Tensor w, boolean transposed, int group) {
        if (w.size() > MAX_FLOATS) {
            return null;
        }
        CpuMemory memory = CpuMemory.of(w);
        int k = transposed ? w.cols() : w.rows();
        int n = transposed ? w.rows() : w.cols();
        Packed p = find(memory, w.offset(), transposed, k, n, group);
        if (p == null) {
            int slot = leastRecentlyUsed();
            Packed old = cache[slot];
            p = old != null && old.k == k && old.n == n && old.group == group ? old : new Packed(k, n, group);
            cache[slot] = p;
            p.memory = memory;
            p.offset = w.offset();
            p.transposed = transposed;
            p.version = memory.version - 1;
        }
        p.lastUse = ++clock;
        if (p.version != memory.version) {
            pack(w, p);
            p.version = memory.version;
        }
        return p;
    }

    /** Drops the copies of weights in {@code memory} (it is being freed). */
    void forget(CpuMemory memory) {
        for (int i = 0; i < CAPACITY; i++) {
            if (cache[i] != null && cache[i].memory == memory) {
                cache[i] = null;
            }
        }
    }

    private Packed find(CpuMemory memory, long offset, boolean transposed, int k, int n, int group) {
        for (Packed p : cache) {
            if (p != null && p.memory == memory && p.offset == offset && p.transposed == transposed && p.k == k && p.n == n
                    && p.group == group) {
                return p;
            }
        }
        return null;
    }

    /** An empty slot, else the one used longest ago. */
    private int leastRecentlyUsed() {
        int best = 0;
        for (int i = 0; i < CAPACITY; i++) {
            if (cache[i] == null) {
                return i;
            }
            if (cache[i].lastUse < cache[best].lastUse) {
                best = i;
            }
        }
        return best;
    }

    private void pack(Tensor w, Packed p) {
        target = p;
        source = w;
        team.run(packTask, p.strips.length, Math.max(1, (1 << 16) / ((long) p.k * VectorKernels.STRIP)));
        target = null;
        source = null;
    }

    /** Packs strips [from, to) of {@link #target} from {@link #source}. */
    private void packStrips(int worker, int from, int to) {
        Packed p = target;
        FloatBuffer src = CpuMemory.buffer(source);
        int off = CpuMemory.offset(source);
        int ld = source.cols();
        int strip = VectorKernels.STRIP;
        for (int s = from; s < to; s++) {
            float[] dst = p.strips[s];
            int col0 = p.column(s);
            int width = p.width(s);
            java.util.Arrays.fill(dst, 0f);
            if (!p.transposed) {          // W[k][col0 + l] = w[k][col0 + l]: one row segment per k
                for (int k = 0; k < p.k; k++) {
                    src.get(off + k * ld + col0, dst, k * strip, width);
                }
            } else {                      // W[k][col0 + l] = w[col0 + l][k]: row col0 + l of w scattered down the strip
                float[] row = row(worker, p.k);
                for (int l = 0; l < width; l++) {
                    src.get(off + (col0 + l) * ld, row, 0, p.k);
                    for (int k = 0; k < p.k; k++) {
                        dst[k * strip + l] = row[k];
                    }
                }
            }
        }
    }

    private float[] row(int worker, int n) {
        if (rows[worker].length < n) {
            rows[worker] = new float[n];
        }
        return rows[worker];
    }
}
